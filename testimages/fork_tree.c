/* A tree of processes three levels deep: process 1 forks three children
 * and each child forks two grandchildren. Checks fork's return values,
 * getpid and getppid across the tree, and that every exit status reaches
 * the parent, through waitpid(pid) and waitpid(-1). Children and
 * grandchildren report through their exit codes; only process 1 prints, so
 * the output does not depend on scheduling. */
#include <aurora.h>
#include <stdio.h>

#define CHILDREN 3
#define GRANDCHILDREN 2

/* Exit codes: distinct across the tree, none of them a failure bitmask. */
static int grandchild_code(int c, int g) { return 10 * (c + 1) + g + 1; } /* 11 12 21 22 31 32 */
static int child_code(int c) { return 200 + c; }

static void grandchild(int c, int g, int parent)
{
	int bad = 0;
	if (getppid_syscall() != parent)
		bad |= 1;
	if (getpid_syscall() == parent || getpid_syscall() <= 1)
		bad |= 2;
	exit_syscall(bad ? 100 + bad : grandchild_code(c, g));
}

/* A child forks its grandchildren and reaps them, the first by pid, the
 * second with waitpid(-1). It exits with child_code(c), or with a bitmask
 * of the checks that failed. */
static void child(int c, int root)
{
	int bad = 0, me = getpid_syscall(), st = -1;
	int pids[GRANDCHILDREN];
	if (getppid_syscall() != root || me == root)
		bad |= 1;
	for (int g = 0; g < GRANDCHILDREN; g++) {
		pids[g] = fork_syscall();
		if (pids[g] == 0)
			grandchild(c, g, me);
		if (pids[g] < 0 || pids[g] == me)
			bad |= 2;
	}
	if (waitpid_syscall(pids[0], &st) != pids[0])
		bad |= 4;
	if (st != grandchild_code(c, 0))
		bad |= 8;
	st = -1;
	if (waitpid_syscall(-1, &st) != pids[1])
		bad |= 16;
	if (st != grandchild_code(c, 1))
		bad |= 32;
	if (waitpid_syscall(-1, &st) != -1)
		bad |= 64;
	exit_syscall(bad ? bad : child_code(c));
}

int main(void)
{
	int root = getpid_syscall();
	printf("root: getpid %d, getppid %d\n", root, getppid_syscall());

	int pids[CHILDREN];
	for (int c = 0; c < CHILDREN; c++) {
		pids[c] = fork_syscall();
		if (pids[c] == 0)
			child(c, root);
	}
	int distinct = 1;
	for (int c = 0; c < CHILDREN; c++) {
		distinct &= pids[c] > 1;
		for (int d = 0; d < c; d++)
			distinct &= pids[c] != pids[d];
	}
	printf("fork returned %d distinct child pids > 1: %s\n", CHILDREN, distinct ? "yes" : "no");
	printf("getpid after fork unchanged: %s\n", getpid_syscall() == root ? "yes" : "no");

	/* The first child by pid, the others in whatever order they end. */
	int st = -1, got = waitpid_syscall(pids[0], &st);
	printf("waitpid(child 0) returned its pid: %s\n", got == pids[0] ? "yes" : "no");
	int status[CHILDREN] = {st, -1, -1};
	for (int n = 1; n < CHILDREN; n++) {
		st = -1;
		got = waitpid_syscall(-1, &st);
		int which = -1;
		for (int c = 1; c < CHILDREN; c++)
			if (got == pids[c])
				which = c;
		if (which < 0 || status[which] != -1) {
			printf("waitpid(-1) returned %d: not a child still running\n", got);
			continue;
		}
		status[which] = st;
	}
	for (int c = 0; c < CHILDREN; c++) {
		if (status[c] == child_code(c))
			printf("child %d: status %d ok (its grandchildren ended with %d and %d)\n", c,
			       status[c], grandchild_code(c, 0), grandchild_code(c, 1));
		else
			printf("child %d: status %d FAILED (bitmask of failed checks)\n", c, status[c]);
	}
	printf("waitpid(-1) with no children left: %d\n", waitpid_syscall(-1, &st));
	printf("waitpid(pid) of a reaped child: %d\n", waitpid_syscall(pids[1], &st));
	return 0;
}
