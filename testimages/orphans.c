/* Orphans are re-parented to process 1. A child forks one grandchild that
 * exits at once (a zombie the child never reaps) and three that outlive
 * the child, then exits. Each long-lived grandchild waits until getppid()
 * returns 1 (the child has exited), the first one prints it, and all exit
 * with a code saying what they saw. Process 1 reaps everything with
 * waitpid(-1): its own child and the four re-parented grandchildren. While
 * it waits only the first grandchild prints, so the output has one order. */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>

#define LONG_LIVED 3

/* Waits (at most about 10 s) for the parent to be process 1. */
static int reparented(void)
{
	for (int i = 0; i < 1000 && getppid_syscall() != 1; i++)
		sleep_syscall(10);
	return getppid_syscall() == 1;
}

static void grandchild(int k)
{
	sleep_syscall(30);
	int ok = reparented();
	if (k == 0)
		printf("grandchild: getppid() = %d\n", getppid_syscall());
	exit_syscall(ok ? 30 + k : 99);
}

static void child(void)
{
	printf("child: forking %d grandchildren, then exiting\n", LONG_LIVED + 1);
	if (fork_syscall() == 0)
		exit_syscall(33); /* left as a zombie for process 1 */
	for (int k = 0; k < LONG_LIVED; k++)
		if (fork_syscall() == 0)
			grandchild(k);
	sleep_syscall(10); /* most likely the zombie has exited by now */
	exit_syscall(5);
}

static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int main(void)
{
	int pid = fork_syscall();
	if (pid == 0)
		child();
	int status[16], n = 0, st, got, child_seen = 0;
	while (n < 16 && (got = waitpid_syscall(-1, &st)) > 0) {
		child_seen += got == pid;
		status[n++] = st;
	}
	qsort(status, n, sizeof status[0], cmp);
	printf("process 1 reaped %d processes (its child %s), statuses:", n, child_seen == 1 ? "among them" : "MISSING");
	for (int i = 0; i < n; i++)
		printf(" %d", status[i]);
	printf("\nwaitpid(-1) afterwards: %d\n", waitpid_syscall(-1, &st));
	printf("getppid of process 1: %d\n", getppid_syscall());
	return 0;
}
