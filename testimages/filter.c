/* The per-process syscall filter: a blocked call returns -2 without
 * running; each setfilter replaces the whole filter; fork passes it on;
 * EXIT and SIGRETURN are never blocked; a filter that blocks SETFILTER
 * cannot be changed again. Children report through their exit codes. */
#include <aurora.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint8_t bits[32];

/* Sets the filter to block exactly the calls listed (ending with -1). */
static int block(int n, ...)
{
	va_list ap;
	memset(bits, 0, sizeof bits);
	va_start(ap, n);
	for (; n >= 0; n = va_arg(ap, int))
		bits[n / 8] |= 1 << (n % 8);
	va_end(ap);
	return setfilter_syscall(bits);
}

static int reap(int pid)
{
	int st = -1;
	waitpid_syscall(pid, &st);
	return st;
}

static volatile int handled;
static void on_usr1(int sig) { handled++; }

int main(void)
{
	printf("setfilter(NULL): %d, setfilter(unmapped): %d\n", setfilter_syscall(0),
	       setfilter_syscall((const uint8_t *)0x30000000));

	int r = block(SYS_GETPID, -1);
	printf("block GETPID: setfilter %d, getpid %d, getppid %d, uptime works: %s\n", r, getpid_syscall(),
	       getppid_syscall(), uptime_syscall() != (uint64_t)-2 ? "yes" : "no");

	/* The child inherits the filter. */
	int pid = fork_syscall();
	if (pid == 0)
		exit_syscall(getpid_syscall() == -2 ? 20 : 21);
	printf("child's getpid under the inherited filter: %s\n", reap(pid) == 20 ? "-2" : "FAILED");

	r = block(SYS_GETPPID, -1);
	printf("replace with a filter blocking GETPPID: setfilter %d, getpid %d, getppid %d\n", r, getpid_syscall(),
	       getppid_syscall());

	/* WRITE blocked: nothing is written; printing resumes once unblocked. */
	r = block(SYS_WRITE, -1);
	long w = write_syscall(1, "must not appear\n", 16);
	int cleared = block(-1);
	printf("block WRITE: setfilter %d, write %ld; clear the filter: %d\n", r, w, cleared);

	/* A child blocks every call: exit still works. */
	pid = fork_syscall();
	if (pid == 0) {
		memset(bits, 0xFF, sizeof bits);
		setfilter_syscall(bits);
		if (fork_syscall() != -2 || getpid_syscall() != -2)
			exit_syscall(1);
		exit_syscall(9);
	}
	printf("a child blocking all 256 calls: fork and getpid -2, exit works: status %d\n", reap(pid));

	/* SIGRETURN blocked: the handler still returns. */
	pid = fork_syscall();
	if (pid == 0) {
		signal_syscall(SIGUSR1, on_usr1);
		block(SYS_SIGRETURN, SYS_SIGNAL, -1);
		int k = kill_syscall(getpid_syscall(), SIGUSR1);
		int s = signal_syscall(SIGUSR1, SIG_DFL) == (sighandler_t)-2;
		exit_syscall(k == 0 && handled == 1 && s ? 10 : 11);
	}
	printf("a child blocking SIGRETURN and SIGNAL: handler ran and returned: %s\n", reap(pid) == 10 ? "yes" : "FAILED");

	/* Blocking SETFILTER locks the filter. */
	pid = fork_syscall();
	if (pid == 0) {
		int bad = 0;
		if (block(SYS_SETFILTER, SYS_GETPID, -1) != 0)
			bad |= 1;
		if (block(-1) != -2)
			bad |= 2;
		if (getpid_syscall() != -2)
			bad |= 4;
		exit_syscall(30 + bad);
	}
	printf("a child blocking SETFILTER: set 0, a second setfilter -2, still locked: %s\n",
	       reap(pid) == 30 ? "yes" : "FAILED");

	printf("process 1 unfiltered again: getpid %d, getppid %d\n", getpid_syscall(), getppid_syscall());
	return 0;
}
