/* Signal handlers: what signal_syscall returns, delivery to oneself before
 * kill returns, handlers that stay installed, the same signal held while
 * its handler runs but another one nesting, SIG_IGN, default actions,
 * inheritance by fork, signals from a child and a SIGCHLD handler.
 * signal_interrupt covers blocking calls cut short by a signal. */
#include <aurora.h>
#include <stdio.h>

static volatile int count[NSIG];
static void note(int sig) { count[sig]++; }
static void other(int sig) {}

static char events[16];
static volatile int nevents;
static void event(char c) { events[nevents++] = c; }
static void nest_usr2(int sig) { event('X'); }
static void nest_usr1(int sig)
{
	static int first = 1;
	event('[');
	if (first) {
		first = 0;
		kill_syscall(getpid_syscall(), SIGUSR1); /* held until this handler returns */
		event('b');
		kill_syscall(getpid_syscall(), SIGUSR2); /* runs at once, nested */
	}
	event(']');
}

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "ok" : "FAILED"); }

static int reap(int pid)
{
	int st = -1;
	return waitpid_syscall(pid, &st) == pid ? st : -1;
}

int main(void)
{
	int self = getpid_syscall();
	check("signal(SIGUSR1, note) returns SIG_DFL", signal_syscall(SIGUSR1, note) == SIG_DFL);
	check("signal(SIGUSR1, other) returns note", signal_syscall(SIGUSR1, other) == note);
	check("signal(SIGUSR1, SIG_IGN) returns other", signal_syscall(SIGUSR1, SIG_IGN) == other);
	check("signal(SIGUSR1, SIG_DFL) returns SIG_IGN", signal_syscall(SIGUSR1, SIG_DFL) == SIG_IGN);
	check("signal(SIGKILL) and signal(SIGSTOP) return SIG_ERR",
	      signal_syscall(SIGKILL, note) == SIG_ERR && signal_syscall(SIGKILL, SIG_IGN) == SIG_ERR &&
		      signal_syscall(SIGSTOP, note) == SIG_ERR);
	check("signal(0), signal(32), signal(-1) return SIG_ERR", signal_syscall(0, note) == SIG_ERR &&
		      signal_syscall(32, note) == SIG_ERR && signal_syscall(-1, note) == SIG_ERR);

	int sigs[] = {SIGINT, SIGTERM, SIGUSR1};
	for (int i = 0; i < 3; i++) {
		signal_syscall(sigs[i], note);
		int r = kill_syscall(self, sigs[i]);
		printf("kill(self, %d) returned %d, handler ran before it returned: %s\n", sigs[i], r,
		       count[sigs[i]] == 1 ? "yes" : "no");
	}
	kill_syscall(self, SIGUSR1);
	check("the handler stays installed: a second SIGUSR1 ran it again", count[SIGUSR1] == 2);

	signal_syscall(SIGUSR1, nest_usr1);
	signal_syscall(SIGUSR2, nest_usr2);
	kill_syscall(self, SIGUSR1);
	printf("SIGUSR1 handler sending SIGUSR1 then SIGUSR2 to itself: events %.*s\n", nevents, events);

	signal_syscall(SIGTERM, SIG_IGN);
	check("SIGTERM under SIG_IGN: kill returns 0, no effect", kill_syscall(self, SIGTERM) == 0 && count[SIGTERM] == 1);
	int ignored[] = {SIGCHLD, SIGCONT, SIGURG, SIGWINCH, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU};
	int fine = 1;
	for (int i = 0; i < 8; i++)
		fine &= kill_syscall(self, ignored[i]) == 0;
	check("SIGCHLD SIGCONT SIGURG SIGWINCH SIGSTOP SIGTSTP SIGTTIN SIGTTOU by default: no effect", fine);

	int deadly[] = {SIGHUP, SIGQUIT, SIGABRT, SIGUSR2, SIGPIPE, SIGALRM, SIGKILL};
	printf("a child sending itself 1 3 6 12 13 14 9 with the default action ends with:");
	signal_syscall(SIGUSR2, SIG_DFL);
	for (int i = 0; i < 7; i++) {
		int pid = fork_syscall();
		if (pid == 0) {
			signal_syscall(SIGKILL, SIG_IGN); /* refused */
			kill_syscall(getpid_syscall(), deadly[i]);
			exit_syscall(0);
		}
		printf(" %d", reap(pid));
	}
	printf("\n");

	/* Inherited: the SIGUSR1 handler (counting) and SIGTERM's SIG_IGN. */
	signal_syscall(SIGUSR1, note);
	int pid = fork_syscall();
	if (pid == 0) {
		kill_syscall(getpid_syscall(), SIGTERM);
		kill_syscall(getpid_syscall(), SIGUSR1);
		exit_syscall(count[SIGUSR1]);
	}
	check("fork inherits handlers and SIG_IGN (child's SIGUSR1 count 3)", reap(pid) == 3);

	signal_syscall(SIGUSR2, note);
	pid = fork_syscall();
	if (pid == 0)
		exit_syscall(kill_syscall(getppid_syscall(), SIGUSR2) == 0 ? 0 : 1);
	for (int i = 0; i < 500 && !count[SIGUSR2]; i++)
		sleep_syscall(20);
	int st = reap(pid);
	check("SIGUSR2 from a child ran the parent's handler", count[SIGUSR2] == 1 && st == 0);

	/* Three children end one after the other; the handler counts them.
	 * The count starts once the handler is in place, in case a SIGCHLD of
	 * an earlier child was still pending. */
	signal_syscall(SIGCHLD, note);
	count[SIGCHLD] = 0;
	int chld_pids[3];
	for (int k = 0; k < 3; k++) {
		if ((chld_pids[k] = fork_syscall()) == 0)
			exit_syscall(k);
		for (int i = 0; i < 500 && count[SIGCHLD] <= k; i++)
			sleep_syscall(20);
	}
	int sum = 0;
	for (int k = 0; k < 3; k++)
		sum += reap(chld_pids[k]) == k;
	signal_syscall(SIGCHLD, SIG_DFL);
	printf("SIGCHLD handler ran %d times for 3 children, all reaped: %s\n", count[SIGCHLD], sum == 3 ? "yes" : "no");
	return 0;
}
