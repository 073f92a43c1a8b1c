/* fork of a process with 48 MiB of memory filled with a pattern: about
 * half in brk heap blocks, half in one large malloc block (a mapping of
 * its own). Four children are forked one after the other. Before each
 * fork the parent stamps a new generation number into word 1 of every
 * 4 KiB chunk; the child checks word 0 and the generation of every chunk,
 * rewrites 1% of the chunks completely (chunk % 100 == k for child k,
 * so the next child would see the previous child's writes in its sample)
 * and exits with a bitmask of failed checks. After reaping each child the
 * parent checks every word of its own memory. */
#include <aurora.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 4096
#define WORDS (CHUNK / 8)
#define BLOCK_CHUNKS 60 /* 240 KiB blocks: under malloc's mmap threshold */
#define BLOCKS 100
#define TOTAL_CHUNKS 12288 /* 48 MiB */
#define BIG_CHUNKS (TOTAL_CHUNKS - BLOCKS * BLOCK_CHUNKS)
#define CHILDREN 4

static uint64_t *chunk[TOTAL_CHUNKS];

static uint64_t pattern(long c, int w) { return ((uint64_t)c << 32 | (uint64_t)w) * 0x9E3779B97F4A7C15ull; }

/* Word 1 of each chunk holds the generation instead of the pattern. */
static uint64_t expected(long c, int w, int gen) { return w == 1 ? (uint64_t)gen << 40 | (uint64_t)c : pattern(c, w); }

static void stamp(int gen)
{
	for (long c = 0; c < TOTAL_CHUNKS; c++)
		chunk[c][1] = expected(c, 1, gen);
}

static long bad_words(int gen)
{
	long bad = 0;
	for (long c = 0; c < TOTAL_CHUNKS; c++)
		for (int w = 0; w < WORDS; w++)
			bad += chunk[c][w] != expected(c, w, gen);
	return bad;
}

static void child(int k, int gen)
{
	int bad = 0;
	for (long c = 0; c < TOTAL_CHUNKS; c++) {
		if (chunk[c][0] != pattern(c, 0))
			bad |= 1;
		if (chunk[c][1] != expected(c, 1, gen))
			bad |= 2;
	}
	long touched = 0;
	for (long c = k; c < TOTAL_CHUNKS; c += 100) {
		memset(chunk[c], 0xA5, CHUNK);
		touched++;
	}
	for (long c = k; c < TOTAL_CHUNKS; c += 100)
		if (chunk[c][WORDS - 1] != 0xA5A5A5A5A5A5A5A5ull)
			bad |= 4;
	if (touched != (TOTAL_CHUNKS - k + 99) / 100)
		bad |= 8;
	exit_syscall(bad);
}

int main(void)
{
	for (int b = 0; b < BLOCKS; b++) {
		uint64_t *p = malloc(BLOCK_CHUNKS * CHUNK);
		if (!p) {
			printf("malloc of block %d failed\n", b);
			return 1;
		}
		for (int i = 0; i < BLOCK_CHUNKS; i++)
			chunk[b * BLOCK_CHUNKS + i] = p + (long)i * WORDS;
	}
	uint64_t *big = malloc((size_t)BIG_CHUNKS * CHUNK);
	if (!big) {
		printf("malloc of the large block failed\n");
		return 1;
	}
	for (int i = 0; i < BIG_CHUNKS; i++)
		chunk[BLOCKS * BLOCK_CHUNKS + i] = big + (long)i * WORDS;
	for (long c = 0; c < TOTAL_CHUNKS; c++)
		for (int w = 0; w < WORDS; w++)
			chunk[c][w] = pattern(c, w);
	printf("%d MiB filled: %d heap blocks of %d KiB and one block of %d KiB\n", TOTAL_CHUNKS * CHUNK >> 20,
	       BLOCKS, BLOCK_CHUNKS * CHUNK >> 10, BIG_CHUNKS * CHUNK >> 10);

	for (int k = 0; k < CHILDREN; k++) {
		int gen = k + 1;
		stamp(gen);
		int pid = fork_syscall();
		if (pid < 0) {
			printf("fork %d failed\n", k);
			return 1;
		}
		if (pid == 0)
			child(k, gen);
		int st = -1;
		int got = waitpid_syscall(pid, &st);
		long bad = bad_words(gen);
		printf("child %d: reaped %s, status %d (%s), parent's memory: %ld words changed\n", k,
		       got == pid ? "ok" : "FAILED", st, st == 0 ? "its checks passed" : "FAILED", bad);
	}
	return 0;
}
