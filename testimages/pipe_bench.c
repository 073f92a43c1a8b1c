/* A pipe between two processes, for the golden test and `make bench`.
 *
 *	pipe_bench bulk CHUNK BYTES  a child writes BYTES into a pipe CHUNK
 *	                             bytes at a time; the parent reads them
 *	                             through a CHUNK-byte buffer
 *	pipe_bench rr COUNT          COUNT round trips of one byte between
 *	                             parent and child over two pipes
 *	pipe_bench                   100 MB in 64 KiB writes, then 1000 round
 *	                             trips, as the golden test runs it
 *
 * Every byte of the bulk stream is checked against the pattern it was
 * made from. Without arguments both sides also sum what they wrote or read
 * into a checksum, which the writer sends back over a second pipe (the
 * benchmark leaves it out: it would cost more than the pipe). The
 * benchmark table runs it
 * with BYTES or COUNT and with 0 and takes the difference, so start-up
 * cancels out. `make bench` also builds this file natively against a POSIX
 * shim (internal/benchtable/native/). */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHUNK (1 << 20)
#define PERIOD    65521 /* the stream repeats with this period (a prime) */

/* Byte i of the stream is pat[i % PERIOD]; pat holds enough beyond PERIOD
 * that any stretch of up to MAX_CHUNK bytes from i % PERIOD is one run of
 * memory. */
static unsigned char pat[PERIOD + MAX_CHUNK];

static void make_pattern(void)
{
	for (long i = 0; i < (long)sizeof pat; i++) {
		long k = i % PERIOD;
		pat[i] = (unsigned char)(k ^ (k >> 8) ^ (k * 7 >> 3));
	}
}

/* checksum adds up n bytes, each weighted by its position modulo 251, so
 * that bytes swapped in place change it too. */
static uint64_t checksum(uint64_t sum, const unsigned char *b, long n, long pos)
{
	for (long i = 0; i < n; i++)
		sum += (uint64_t)b[i] * (uint64_t)((pos + i) % 251 + 1);
	return sum;
}

static int write_all(int fd, const void *buf, long n)
{
	for (long done = 0; done < n;) {
		long r = write_syscall(fd, (const char *)buf + done, n - done);
		if (r <= 0)
			return -1;
		done += r;
	}
	return 0;
}

static long read_full(int fd, void *buf, long n)
{
	long done = 0, r;
	while (done < n && (r = read_syscall(fd, (char *)buf + done, n - done)) > 0)
		done += r;
	return done;
}

static int bulk(long chunk, long bytes, int sums)
{
	int data[2], sum[2];
	if (pipe_syscall(data) < 0 || pipe_syscall(sum) < 0) {
		printf("pipe failed\n");
		return 1;
	}
	int pid = fork_syscall();
	if (pid == 0) {
		close_syscall(data[0]);
		close_syscall(sum[0]);
		uint64_t s = 0;
		for (long off = 0; off < bytes; off += chunk) {
			long n = bytes - off < chunk ? bytes - off : chunk;
			const unsigned char *p = pat + off % PERIOD;
			if (sums)
				s = checksum(s, p, n, off);
			if (write_all(data[1], p, n) < 0)
				exit_syscall(2);
		}
		close_syscall(data[1]);
		exit_syscall(write_all(sum[1], &s, sizeof s) < 0 ? 3 : 0);
	}
	close_syscall(data[1]);
	close_syscall(sum[1]);
	unsigned char *in = malloc(chunk);
	long got = 0, wrong = 0, r;
	uint64_t s = 0;
	while ((r = read_syscall(data[0], in, chunk)) > 0) {
		if (got + r > bytes || memcmp(in, pat + got % PERIOD, r) != 0)
			wrong++;
		if (sums)
			s = checksum(s, in, r, got);
		got += r;
	}
	uint64_t theirs = 0;
	long n = read_full(sum[0], &theirs, sizeof theirs);
	int st = -1;
	waitpid_syscall(pid, &st);
	printf("bulk: %ld of %ld bytes in %ld-byte writes, %ld reads wrong", got, bytes, chunk, wrong);
	if (sums)
		printf(", checksum %#llx, %s", (unsigned long long)s,
		       n == sizeof theirs && theirs == s ? "the writer's matches" : "the writer's DIFFERS");
	printf("\n");
	close_syscall(data[0]);
	close_syscall(sum[0]);
	free(in);
	return wrong != 0 || got != bytes || n != sizeof theirs || theirs != s || st != 0;
}

static int rr(long count)
{
	int there[2], back[2];
	if (pipe_syscall(there) < 0 || pipe_syscall(back) < 0) {
		printf("pipe failed\n");
		return 1;
	}
	int pid = fork_syscall();
	if (pid == 0) {
		close_syscall(there[1]);
		close_syscall(back[0]);
		unsigned char c;
		while (read_syscall(there[0], &c, 1) == 1) {
			c++;
			if (write_syscall(back[1], &c, 1) != 1)
				exit_syscall(2);
		}
		exit_syscall(0);
	}
	close_syscall(there[0]);
	close_syscall(back[1]);
	long wrong = 0;
	for (long i = 0; i < count; i++) {
		unsigned char c = (unsigned char)i, reply = 0;
		if (write_syscall(there[1], &c, 1) != 1 || read_syscall(back[0], &reply, 1) != 1 ||
		    reply != (unsigned char)(c + 1))
			wrong++;
	}
	close_syscall(there[1]);
	int st = -1;
	waitpid_syscall(pid, &st);
	close_syscall(back[0]);
	printf("rr: %ld round trips of 1 byte, %ld wrong, echo process status %d\n", count, wrong, st);
	return wrong != 0 || st != 0;
}

int main(int argc, char **argv)
{
	make_pattern();
	if (argc == 4 && !strcmp(argv[1], "bulk")) {
		long chunk = atol(argv[2]), bytes = atol(argv[3]);
		if (chunk < 1 || chunk > MAX_CHUNK || bytes < 0) {
			printf("CHUNK must be 1..%d, BYTES not negative\n", MAX_CHUNK);
			return 2;
		}
		return bulk(chunk, bytes, 0);
	}
	if (argc == 3 && !strcmp(argv[1], "rr"))
		return rr(atol(argv[2]));
	if (argc != 1) {
		printf("usage: pipe_bench [bulk CHUNK BYTES | rr COUNT]\n");
		return 2;
	}
	int bad = bulk(65536, 100000000, 1);
	bad |= bulk(4093, 1000000, 1); /* writes that straddle the ring's end */
	bad |= rr(1000);
	return bad;
}
