/* End of file across fork and dup2: a pipe's reader sees end of file only
 * when every descriptor of the write end, in every process, is closed.
 *
 * Three children inherit the write end; one also dup2s it to fd 10 and
 * closes the original, one holds it open until its parent tells it to go
 * (through a second pipe), and all write a line. The parent closes its own
 * write end, reads until end of file, and checks that it saw all three
 * lines and that end of file came only after the last child let go. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

static char got[4096];

int main(void)
{
	int p[2], go[2];
	pipe_syscall(p);
	pipe_syscall(go);
	int pids[3];
	for (int i = 0; i < 3; i++) {
		pids[i] = fork_syscall();
		if (pids[i] != 0)
			continue;
		close_syscall(p[0]);
		close_syscall(go[1]);
		int w = p[1];
		if (i == 1) {
			dup2_syscall(p[1], 10);
			close_syscall(p[1]);
			w = 10;
		}
		char line[32];
		int n = snprintf(line, sizeof line, "line from child %d\n", i);
		write_syscall(w, line, n);
		if (i == 2) {
			/* Waits for its parent's word (end of file on go), still
			 * holding the write end. */
			char c;
			read_syscall(go[0], &c, 1);
			write_syscall(w, "late line from child 2\n", 23);
		}
		exit_syscall(0);
	}
	close_syscall(p[1]);
	close_syscall(go[0]);

	/* Read the three lines: the pipe cannot be at end of file yet,
	 * child 2 holds a write end. */
	long have = 0, r;
	while (have < 3 * 18 && (r = read_syscall(p[0], got + have, sizeof got - 1 - have)) > 0)
		have += r;
	int seen = 0;
	for (int i = 0; i < 3; i++) {
		char line[32];
		snprintf(line, sizeof line, "line from child %d\n", i);
		if (strstr(got, line))
			seen++;
	}
	printf("%d of 3 lines arrived, %ld bytes\n", seen, have);

	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	printf("with child 2 holding a write end, poll says %d ready\n", poll_syscall(&pf, 1, 100));

	close_syscall(go[1]); /* child 2 sees end of file on go and finishes */
	have = 0;
	memset(got, 0, sizeof got);
	while ((r = read_syscall(p[0], got + have, sizeof got - 1 - have)) > 0)
		have += r;
	printf("then: \"%.*s\" and end of file (read returned %ld)\n", (int)strcspn(got, "\n"), got, r);

	for (int i = 0; i < 3; i++) {
		int st = -1;
		waitpid_syscall(pids[i], &st);
		printf("child %d: status %d\n", i, st);
	}
	return 0;
}
