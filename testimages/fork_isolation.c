/* fork copies memory: after fork, writes by the child are invisible to the
 * parent and writes by the parent are invisible to the child, in every
 * kind of memory: initialised data, bss, the stack, small malloc blocks
 * (brk heap), a large malloc block and an mmap'ed region.
 *
 * 1. The child checks it sees the values from before fork, overwrites
 *    them, and exits with a bitmask of the regions that were wrong; after
 *    reaping it the parent checks its own values are unchanged.
 * 2. Process 1 forks a middle process M, which fills the regions and forks
 *    C. M then overwrites everything and exits. C waits until getppid()
 *    says it was re-parented to process 1, which proves M's writes are done,
 *    and checks it still sees M's values from before the fork. */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>

#define NREG 6
#define SMALL 3000
#define LARGE (1 << 20) /* above malloc's threshold: a mapping of its own */
#define MAPPED (3 * PAGE_SIZE)

static unsigned char data_area[SMALL] = {1, 2, 3}; /* .data */
static unsigned char bss_area[SMALL];              /* .bss */
static const char *names[NREG] = {"data", "bss", "stack", "heap", "large malloc", "mmap"};
static unsigned char *area[NREG];
static size_t len[NREG] = {SMALL, SMALL, SMALL, SMALL, LARGE, MAPPED};

static unsigned char byte(int seed, size_t i) { return (unsigned char)(seed * 31 + i * 7 + (i >> 8)); }

static void fill(int r, int seed)
{
	for (size_t i = 0; i < len[r]; i++)
		area[r][i] = byte(seed, i);
}

static int holds(int r, int seed)
{
	for (size_t i = 0; i < len[r]; i++)
		if (area[r][i] != byte(seed, i))
			return 0;
	return 1;
}

/* A bitmask of the regions that do not hold seed's pattern. */
static int wrong(int seed)
{
	int bad = 0;
	for (int r = 0; r < NREG; r++)
		if (!holds(r, seed))
			bad |= 1 << r;
	return bad;
}

static void fill_all(int seed)
{
	for (int r = 0; r < NREG; r++)
		fill(r, seed);
}

static void report(const char *what, int bad)
{
	for (int r = 0; r < NREG; r++)
		printf("  %-12s %s: %s\n", names[r], what, bad & (1 << r) ? "FAILED" : "ok");
}

static int reap(int pid)
{
	int st = -1;
	if (waitpid_syscall(pid, &st) != pid)
		printf("waitpid(%d) failed\n", pid);
	return st;
}

int main(void)
{
	unsigned char stack_area[SMALL];
	area[0] = data_area;
	area[1] = bss_area;
	area[2] = stack_area;
	area[3] = malloc(SMALL);
	area[4] = malloc(LARGE);
	area[5] = mmap_syscall(0, MAPPED, 0, 0);
	if (!area[3] || !area[4] || area[5] == (void *)-1) {
		printf("cannot allocate\n");
		return 1;
	}

	printf("1. the child writes, the parent must not see it\n");
	fill_all(1);
	int pid = fork_syscall();
	if (pid == 0) {
		int bad = wrong(1); /* the snapshot */
		fill_all(2);
		exit_syscall(bad | wrong(2));
	}
	int st = reap(pid);
	report("child saw the values from before fork", st);
	report("parent's values unchanged", wrong(1));

	printf("2. the parent writes after fork, the child must not see it\n");
	pid = fork_syscall();
	if (pid == 0) {
		/* M */
		fill_all(3);
		int c = fork_syscall();
		if (c == 0) {
			/* C: wait until M has exited (at most about 10 s). */
			for (int i = 0; i < 1000 && getppid_syscall() != 1; i++)
				sleep_syscall(10);
			if (getppid_syscall() != 1)
				exit_syscall(0x80);
			int bad = wrong(3);
			fill_all(4);
			exit_syscall(bad | wrong(4));
		}
		fill_all(5);
		exit_syscall(c < 0 ? 0x80 : wrong(5));
	}
	st = reap(pid);
	report("middle process kept its own writes", st);
	int st2 = -1;
	int c = waitpid_syscall(-1, &st2);
	printf("  re-parented grandchild reaped by process 1: %s\n", c > 0 && c != pid ? "yes" : "no");
	if (st2 & 0x80)
		printf("  grandchild never saw getppid() == 1\n");
	report("grandchild saw the values from before fork", st2);
	printf("3. process 1's own values are still there: %s\n", wrong(1) ? "FAILED" : "ok");
	return 0;
}
