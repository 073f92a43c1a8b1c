/* waitpid: collecting children in whatever order they end with
 * waitpid(-1) and waitpid(0), and the calls that must fail at once: no
 * children, a pid that is not a child, a bad status pointer (which leaves
 * the child to be reaped later), a child already reaped. */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>

#define N 6

static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int main(void)
{
	/* Child i exits with codes[i] after (N - i) * 15 ms, so the last
	 * forked tends to end first; the order is not relied on. */
	static const int codes[N] = {3, 250, 0, 42, 7, 128};
	int pids[N], seen[N] = {0};
	printf("waitpid(-1) with no children: %d\n", waitpid_syscall(-1, 0));
	for (int i = 0; i < N; i++) {
		pids[i] = fork_syscall();
		if (pids[i] == 0) {
			sleep_syscall((N - i) * 15);
			exit_syscall(codes[i]);
		}
	}
	int status[N], unknown = 0;
	for (int n = 0; n < N; n++) {
		status[n] = -1;
		int pid = waitpid_syscall(n % 2 ? 0 : -1, &status[n]);
		int found = 0;
		for (int i = 0; i < N; i++)
			if (pids[i] == pid && !seen[i] && status[n] == codes[i])
				seen[i] = found = 1;
		unknown += !found;
	}
	qsort(status, N, sizeof status[0], cmp);
	printf("statuses collected with waitpid(-1) and waitpid(0):");
	for (int n = 0; n < N; n++)
		printf(" %d", status[n]);
	printf("\neach matched the pid that exited with it: %s\n", unknown ? "FAILED" : "yes");
	printf("waitpid(-1) after reaping them all: %d\n", waitpid_syscall(-1, &status[0]));

	/* Not children: process 1 itself, a pid nobody has, and (seen from a
	 * child) its parent. */
	printf("waitpid(own pid): %d\n", waitpid_syscall(getpid_syscall(), 0));
	printf("waitpid(99999): %d\n", waitpid_syscall(99999, 0));
	int pid = fork_syscall();
	if (pid == 0)
		exit_syscall(waitpid_syscall(getppid_syscall(), 0) == -1 ? 11 : 12);
	int st = -1;
	waitpid_syscall(pid, &st);
	printf("a child's waitpid(its parent): %s\n", st == 11 ? "-1" : "FAILED");

	/* A NULL status is allowed. */
	pid = fork_syscall();
	if (pid == 0)
		exit_syscall(5);
	printf("waitpid(pid, NULL) returned the pid: %s\n", waitpid_syscall(pid, 0) == pid ? "yes" : "no");
	printf("waitpid(pid) of that reaped child: %d\n", waitpid_syscall(pid, &st));

	/* A bad status pointer fails and leaves the child unreaped. */
	pid = fork_syscall();
	if (pid == 0) {
		sleep_syscall(20);
		exit_syscall(77);
	}
	printf("waitpid with status pointing to unmapped memory: %d\n", waitpid_syscall(pid, (int *)0x30000000));
	printf("waitpid with status pointing into read-only text: %d\n", waitpid_syscall(pid, (int *)main));
	st = -1;
	int got = waitpid_syscall(pid, &st);
	printf("then waitpid(pid, &st): %s, status %d\n", got == pid ? "reaped" : "FAILED", st);
	return 0;
}
