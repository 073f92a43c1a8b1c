/* Signals reaching a process blocked in a syscall. A handled signal runs
 * its handler and the call returns -1: sleep, waitpid (which reaps
 * nothing then), and a console read (the golden test keeps stdin open:
 * signal_interrupt.stdin-open). An ignored signal, by SIG_IGN or by
 * default, does not cut a sleep short. The signals come from another
 * process, repeated every 20 ms until the blocked call has returned, so
 * that one of them surely finds the call blocked. */
#include <aurora.h>
#include <stdio.h>

static volatile int count[NSIG];
static void note(int sig) { count[sig]++; }

static int reap(int pid)
{
	int st = -1;
	return waitpid_syscall(pid, &st) == pid ? st : -1;
}

/* Forks a child that sends sig to its parent every 20 ms, up to 10 s. */
static int nagging_child(int sig)
{
	int pid = fork_syscall();
	if (pid == 0) {
		int parent = getppid_syscall();
		for (int i = 0; i < 500; i++) {
			sleep_syscall(20);
			kill_syscall(parent, sig);
		}
		exit_syscall(1);
	}
	return pid;
}

int main(void)
{
	/* Sleep, then waitpid on the nagging child itself. */
	signal_syscall(SIGUSR1, note);
	int pid = nagging_child(SIGUSR1);
	uint64_t t0 = uptime_syscall();
	int r = sleep_syscall(10000);
	uint64_t slept = uptime_syscall() - t0;
	printf("sleep(10 s) with SIGUSR1 handled: returned %d, %s, handler ran: %s\n", r,
	       slept < 5000 ? "early" : "LATE", count[SIGUSR1] > 0 ? "yes" : "no");
	int st = 12345;
	r = waitpid_syscall(pid, &st);
	printf("waitpid on the nagging child: returned %d, status untouched: %s\n", r, st == 12345 ? "yes" : "no");
	signal_syscall(SIGUSR1, SIG_IGN);
	kill_syscall(pid, SIGKILL);
	printf("the child was not reaped by the interrupted waitpid: status %d\n", reap(pid));

	/* Ignored signals: the sleep runs its full length and returns 0. */
	int ignored[] = {SIGUSR1, SIGCHLD, SIGURG, SIGWINCH};
	const char *how[] = {"SIG_IGN", "default", "default", "default"};
	for (int i = 0; i < 4; i++) {
		pid = nagging_child(ignored[i]);
		t0 = uptime_syscall();
		r = sleep_syscall(150);
		slept = uptime_syscall() - t0;
		kill_syscall(pid, SIGKILL);
		printf("sleep(150 ms) with signal %d ignored (%s): returned %d, full length: %s, child status %d\n",
		       ignored[i], how[i], r, slept >= 150 ? "yes" : "no", reap(pid));
	}

	/* A child blocked reading the console, nagged by its parent until
	 * the SIGCHLD handler says it has ended. The count starts once the
	 * handler is in place, in case a SIGCHLD from an earlier child was
	 * still pending. */
	signal_syscall(SIGCHLD, note);
	count[SIGCHLD] = 0;
	pid = fork_syscall();
	if (pid == 0) {
		count[SIGUSR1] = 0;
		signal_syscall(SIGUSR1, note);
		char c;
		long n = read_syscall(0, &c, 1);
		exit_syscall(n == -1 && count[SIGUSR1] > 0 ? 0 : 1);
	}
	for (int i = 0; i < 500 && !count[SIGCHLD]; i++) {
		kill_syscall(pid, SIGUSR1);
		sleep_syscall(20);
	}
	signal_syscall(SIGCHLD, SIG_DFL);
	printf("console read with SIGUSR1 handled: returned -1 and the handler ran: %s\n",
	       reap(pid) == 0 ? "yes" : "FAILED");

	/* The same read with SIGTERM at its default action: the child ends. */
	pid = fork_syscall();
	if (pid == 0) {
		char c;
		read_syscall(0, &c, 1);
		exit_syscall(1);
	}
	sleep_syscall(50);
	kill_syscall(pid, SIGTERM);
	printf("console read with SIGTERM at default: child status %d\n", reap(pid));
	return 0;
}
