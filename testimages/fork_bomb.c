/* The process limit: process 1 forks children (which only sleep) until
 * fork returns -1, kills them all with SIGKILL, reaps them, and forks once
 * more to show the slots came back. With aurora-vm's default --max-procs
 * of 256 (process 1 counts) that is 255 children; fork_bomb_limit runs
 * this program with --max-procs 8. */
#include <aurora.h>
#include <stdio.h>

#define MAX 4096 /* more than any limit tested */

static int pids[MAX];

int main(void)
{
	int n = 0, pid = 0;
	while (n < MAX && (pid = fork_syscall()) > 0)
		pids[n++] = pid;
	if (pid == 0) {
		sleep_syscall(60000);
		exit_syscall(1);
	}
	printf("fork succeeded %d times, then returned %d\n", n, pid);
	int extra = fork_syscall();
	if (extra == 0)
		exit_syscall(2);
	printf("one more fork while full: %d\n", extra);

	int sent = 0;
	for (int i = 0; i < n; i++)
		sent += kill_syscall(pids[i], SIGKILL) == 0;
	int reaped = 0, by_sigkill = 0, st;
	while (waitpid_syscall(-1, &st) > 0) {
		reaped++;
		by_sigkill += st == 128 + SIGKILL;
	}
	printf("SIGKILL sent to %d, reaped %d, %d of them killed by SIGKILL\n", sent, reaped, by_sigkill);

	pid = fork_syscall();
	if (pid == 0)
		exit_syscall(3);
	st = -1;
	waitpid_syscall(pid, &st);
	printf("fork after reaping: %s, child status %d\n", pid > 0 ? "ok" : "FAILED", st);
	return 0;
}
