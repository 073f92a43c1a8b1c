/* kill_syscall on children: one asleep, one spinning in user code, one
 * blocked reading fd 0 (the golden test keeps stdin open: kill_children.stdin-open),
 * each ended by a signal whose default action terminates it; the wait
 * status is 128 + the signal. Then kill(pid, 0) on a live child, on a
 * zombie and after reaping, a signal sent to a zombie (no effect), and the
 * arguments kill must refuse. */
#include <aurora.h>
#include <stdio.h>

static volatile int chld;

static void on_chld(int sig) { chld++; }

static void spin(void)
{
	for (volatile unsigned long i = 0;; i++)
		;
}

static void sleeper(void)
{
	sleep_syscall(60000);
	exit_syscall(1);
}

static void reader(void)
{
	char c;
	read_syscall(0, &c, 1);
	exit_syscall(2);
}

static void killed(const char *what, void (*body)(void), int sig)
{
	int pid = fork_syscall();
	if (pid == 0)
		body();
	sleep_syscall(50); /* most likely the child is blocked or spinning by now */
	int alive = kill_syscall(pid, 0);
	int sent = kill_syscall(pid, sig);
	int st = -1;
	int got = waitpid_syscall(pid, &st);
	printf("%s child: kill(pid, 0) %d, kill(pid, %d) %d, waitpid %s, status %d\n", what, alive, sig, sent,
	       got == pid ? "ok" : "FAILED", st);
}

int main(void)
{
	killed("sleeping", sleeper, SIGKILL);
	killed("spinning", spin, SIGTERM);
	killed("reading", reader, SIGKILL);
	killed("sleeping", sleeper, SIGHUP);
	killed("spinning", spin, SIGUSR1);
	killed("reading", reader, SIGINT);

	/* A zombie: the SIGCHLD handler tells process 1 the child has ended.
	 * (chld is cleared after the handler is installed in case a SIGCHLD
	 * from an earlier child was still pending.) */
	signal_syscall(SIGCHLD, on_chld);
	chld = 0;
	int pid = fork_syscall();
	if (pid == 0)
		exit_syscall(7);
	for (int i = 0; i < 500 && !chld; i++)
		sleep_syscall(20);
	signal_syscall(SIGCHLD, SIG_DFL);
	printf("zombie: SIGCHLD seen %s, kill(pid, 0) %d, kill(pid, SIGKILL) %d\n", chld ? "yes" : "no",
	       kill_syscall(pid, 0), kill_syscall(pid, SIGKILL));
	int st = -1;
	waitpid_syscall(pid, &st);
	printf("zombie reaped: status %d (the SIGKILL had no effect)\n", st);
	printf("after reaping: kill(pid, 0) %d, kill(pid, SIGTERM) %d\n", kill_syscall(pid, 0), kill_syscall(pid, SIGTERM));

	printf("kill(0, SIGTERM) %d, kill(-1, SIGTERM) %d, kill(99999, 0) %d\n", kill_syscall(0, SIGTERM),
	       kill_syscall(-1, SIGTERM), kill_syscall(99999, 0));
	printf("kill(self, 32) %d, kill(self, -1) %d, kill(self, 0) %d\n", kill_syscall(getpid_syscall(), 32),
	       kill_syscall(getpid_syscall(), -1), kill_syscall(getpid_syscall(), 0));
	return 0;
}
