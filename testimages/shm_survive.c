/* A segment's lifetime: it lives while its creator lives or anything is
 * attached, and goes when both are over.
 *
 * Process 1 forks C, which creates a segment, attaches it, writes into it
 * and forks G (which inherits the attachment). C detaches, so only G is
 * attached, and exits with the id as its status: the creator is gone. The
 * segment survives: process 1 attaches the id and reads C's data, and G's
 * stores reach it. Once G and process 1 have detached, the id is dead. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

static inline unsigned long long rdtsc(void)
{
	unsigned lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (unsigned long long)hi << 32 | lo;
}

static int wait_for(volatile int *w, int want)
{
	unsigned long long start = rdtsc();
	while (*w != want)
		if (rdtsc() - start > 60000000000ULL)
			return 0;
	return 1;
}

struct shared {
	volatile int go, answered;
	char text[64];
};

int main(void)
{
	int c = fork_syscall();
	if (c == 0) {
		int id = shmget_syscall(sizeof(struct shared));
		struct shared *s = shmat_syscall(id);
		strcpy(s->text, "from the creator");
		if (fork_syscall() == 0) {
			/* G: waits for process 1, then answers and detaches. */
			if (!wait_for(&s->go, 1))
				exit_syscall(1);
			strcpy(s->text, "from the grandchild");
			s->answered = 1;
			exit_syscall(shmdt_syscall(s) == 0 ? 0 : 2);
		}
		shmdt_syscall(s);
		exit_syscall(id);
	}
	int id = -1;
	waitpid_syscall(c, &id);
	printf("creator exited, its segment id is positive: %s\n", id > 0 ? "yes" : "no");
	struct shared *s = shmat_syscall(id);
	if (s == (void *)-1) {
		printf("the segment went with its creator while still attached\n");
		return 1;
	}
	printf("attached by id after the creator's exit: %s\n", s->text);
	s->go = 1;
	int ok = wait_for(&s->answered, 1);
	printf("the grandchild answered: %s, %s\n", ok ? "yes" : "no", s->text);
	int st = -1;
	int g = waitpid_syscall(-1, &st); /* G was re-parented to process 1 */
	printf("grandchild reaped: %s, status %d\n", g > 0 ? "yes" : "no", st);
	printf("still readable with one attachment left: %s\n", s->text);
	printf("last shmdt: %d\n", shmdt_syscall(s));
	printf("shmat of the destroyed segment: %ld\n", (long)shmat_syscall(id));
	return 0;
}
