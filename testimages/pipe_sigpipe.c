/* Writing to a pipe nobody can read. Each case runs in a child of its own:
 *   - SIGPIPE at its default action: the writer is killed, status 141;
 *   - SIGPIPE handled: the handler runs and write returns -1 EPIPE;
 *   - SIGPIPE ignored: write returns -1 EPIPE;
 *   - a writer blocked on a full pipe when the last reader closes it is
 *     woken and killed by SIGPIPE.
 * In the last case the child closes its copy of the read end first, so
 * that the parent's is the last. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>

static volatile int handled;
static void on_sigpipe(int sig) { handled = sig; }

static int p[2];

static void write_no_reader(sighandler_t action)
{
	if (action != SIG_DFL)
		signal_syscall(SIGPIPE, action);
	long r = write_syscall(p[1], "x", 1);
	printf("  write returned %ld%s, handler ran: %s\n", r, r < 0 && errno == EPIPE ? " EPIPE" : "",
	       handled == SIGPIPE ? "yes" : "no");
	exit_syscall(0);
}

/* Runs body(action) in a child holding only the write end of a fresh pipe
 * (the parent closed the read end before forking); returns its status. */
static int run(void (*body)(sighandler_t), sighandler_t action)
{
	pipe_syscall(p);
	close_syscall(p[0]);
	int pid = fork_syscall();
	if (pid == 0)
		body(action);
	close_syscall(p[1]);
	int st = -1;
	waitpid_syscall(pid, &st);
	return st;
}

int main(void)
{
	printf("SIGPIPE at default:\n");
	printf("  status %d\n", run(write_no_reader, SIG_DFL));
	printf("SIGPIPE handled:\n");
	printf("  status %d\n", run(write_no_reader, on_sigpipe));
	printf("SIGPIPE ignored:\n");
	printf("  status %d\n", run(write_no_reader, SIG_IGN));

	/* The blocked writer: it fills the pipe, tells its parent through a
	 * second pipe, and blocks on one byte more. */
	int ready[2];
	pipe_syscall(ready);
	pipe_syscall(p);
	int pid = fork_syscall();
	if (pid == 0) {
		close_syscall(p[0]);
		static char full[65536];
		long r = write_syscall(p[1], full, sizeof full);
		write_syscall(ready[1], "!", 1);
		r = write_syscall(p[1], "x", 1);
		printf("  still alive after the reader closed: write returned %ld\n", r);
		exit_syscall(0);
	}
	close_syscall(p[1]);
	char c;
	read_syscall(ready[0], &c, 1);
	sleep_syscall(50); /* let the child block in its write */
	close_syscall(p[0]);
	int st = -1;
	waitpid_syscall(pid, &st);
	printf("writer blocked on a full pipe when the reader closed: status %d\n", st);
	return 0;
}
