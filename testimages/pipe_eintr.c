/* Signals reaching a process blocked on a pipe. A handled signal makes a
 * blocked read, or a write that has written nothing, return -1 EINTR; a
 * large write cut short after some bytes went in returns their count; a
 * kill ends a blocked reader at once (status 137). The signals come from
 * the parent, repeated every 20 ms until the child has finished, so that
 * one of them surely finds the call blocked. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>

static volatile int handled, ended;
static void on_usr1(int sig) { handled++; }
static void on_chld(int sig) { ended++; }

static int p[2];
static char big[200000];

static void show(const char *what, long r)
{
	printf("  %s returned %ld%s, handler ran: %s\n", what, r, r < 0 && errno == EINTR ? " EINTR" : "",
	       handled ? "yes" : "no");
}

static void blocked_read(void)
{
	char c;
	show("read of an empty pipe", read_syscall(p[0], &c, 1));
	exit_syscall(0);
}

static void blocked_write(void)
{
	write_syscall(p[1], big, 65536); /* fills the pipe */
	show("write to a full pipe", write_syscall(p[1], "x", 1));
	exit_syscall(0);
}

static void partial_write(void)
{
	show("write of 200000 bytes to an empty pipe", write_syscall(p[1], big, sizeof big));
	exit_syscall(0);
}

/* Runs body in a child with a fresh pipe, nagging it with sig until it
 * ends (SIGCHLD counts the children that have ended); returns its
 * status. */
static int run(void (*body)(void), int sig)
{
	static int started;
	started++;
	pipe_syscall(p);
	int pid = fork_syscall();
	if (pid == 0)
		body();
	for (int i = 0; i < 500 && ended < started; i++) {
		sleep_syscall(20); /* cut short by SIGCHLD when the child ends */
		kill_syscall(pid, sig);
	}
	int st = -1;
	waitpid_syscall(pid, &st);
	close_syscall(p[0]);
	close_syscall(p[1]);
	return st;
}

int main(void)
{
	signal_syscall(SIGCHLD, on_chld);
	signal_syscall(SIGUSR1, on_usr1); /* inherited: in place before any signal comes */
	printf("SIGUSR1 handled:\n");
	printf("  status %d\n", run(blocked_read, SIGUSR1));
	printf("  status %d\n", run(blocked_write, SIGUSR1));
	printf("  status %d\n", run(partial_write, SIGUSR1));
	printf("SIGKILL, reader blocked:\n");
	printf("  status %d\n", run(blocked_read, SIGKILL));
	return 0;
}
