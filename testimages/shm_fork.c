/* Shared memory across fork: parent and child map the same frames, so a
 * store by one is seen by the other at once, with no syscall in between.
 *
 * The parent attaches a segment and forks. The two play ping-pong on a
 * counter in the segment: each waits, spinning on the volatile word, for
 * the other's move and answers with the next number. Spins are bounded by
 * the time-stamp counter, so a store that never arrives fails instead of
 * hanging. The child then fills a page and exits; the parent finds the
 * child's data after it is gone, and private memory stays copy-on-write. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

#define ROUNDS 200
#define SEG (3 * PAGE_SIZE)

struct shared {
	volatile long turn; /* the last move: odd from the parent, even from the child */
	volatile long seen_by_child;
	char data[PAGE_SIZE];
};

static long private_word = 5;

static inline unsigned long long rdtsc(void)
{
	unsigned lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (unsigned long long)hi << 32 | lo;
}

/* Spins until *w == want, for at most about 20 s at a few GHz. */
static int wait_for(volatile long *w, long want)
{
	unsigned long long start = rdtsc();
	while (*w != want)
		if (rdtsc() - start > 60000000000ULL)
			return 0;
	return 1;
}

int main(void)
{
	int id = shmget_syscall(SEG);
	struct shared *s = shmat_syscall(id);
	if (id <= 0 || s == (void *)-1) {
		printf("shmget/shmat failed: %d %p\n", id, (void *)s);
		return 1;
	}
	printf("segment id positive: yes, attached in the mmap region: %s, zeroed: %s\n",
	       (unsigned long)s >= MMAP_START && (unsigned long)s + SEG <= MMAP_END ? "yes" : "no",
	       s->turn == 0 && s->data[100] == 0 ? "yes" : "no");

	int pid = fork_syscall();
	if (pid == 0) {
		for (long i = 1; i < 2 * ROUNDS; i += 2) {
			if (!wait_for(&s->turn, i))
				exit_syscall(10);
			s->turn = i + 1;
		}
		s->seen_by_child = private_word; /* the child's view of private memory */
		private_word = 99;               /* copy-on-write: the parent keeps 5 */
		memset(s->data, 'c', sizeof s->data);
		((char *)s)[SEG - 1] = 'e'; /* the segment's last byte */
		exit_syscall(0);
	}

	int ok = 1;
	for (long i = 1; i < 2 * ROUNDS && ok; i += 2) {
		s->turn = i;
		ok = wait_for(&s->turn, i + 1);
	}
	printf("ping-pong through the segment, %d rounds: %s\n", ROUNDS, ok ? "ok" : "timed out");
	int st = -1;
	waitpid_syscall(pid, &st);
	printf("child status %d\n", st);
	int filled = 1;
	for (int i = 0; i < PAGE_SIZE; i++)
		filled &= s->data[i] == 'c';
	printf("child's stores seen after it exited: %s, last byte %c\n", filled ? "yes" : "no",
	       ((char *)s)[SEG - 1]);
	printf("private memory stays private: child saw %ld, parent has %ld\n", s->seen_by_child,
	       private_word);
	printf("shmdt: %d\n", shmdt_syscall(s));
	return 0;
}
