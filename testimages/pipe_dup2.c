/* A shell's pipeline, by hand: dup2 puts a pipe's ends on a child's
 * standard output and standard input.
 *
 * Child 1's stdout is the write end: it prints with printf, a line, a
 * formatted number and, last, text without a newline, which the C
 * library flushes when the process exits. Child 2's stdin is the read
 * end: it reads child 1's output with fgets and prints each line with a
 * prefix to a second pipe, which the parent reads until end of file and
 * shows. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	int a[2], b[2];
	pipe_syscall(a);
	pipe_syscall(b);

	int producer = fork_syscall();
	if (producer == 0) {
		dup2_syscall(a[1], 1);
		close_syscall(a[0]);
		close_syscall(a[1]);
		close_syscall(b[0]);
		close_syscall(b[1]);
		printf("hello through a pipe\n");
		printf("%d squared is %d\n", 12, 12 * 12);
		printf("no newline at the end");
		exit_syscall(0);
	}

	int filter = fork_syscall();
	if (filter == 0) {
		dup2_syscall(a[0], 0);
		dup2_syscall(b[1], 1);
		close_syscall(a[0]);
		close_syscall(a[1]);
		close_syscall(b[0]);
		close_syscall(b[1]);
		char line[128];
		int n = 0;
		while (fgets(line, sizeof line, stdin))
			printf("filter %d: %s%s", ++n, line, strchr(line, '\n') ? "" : "\n");
		printf("filter: end of input after %d lines\n", n);
		return 0;
	}

	close_syscall(a[0]);
	close_syscall(a[1]);
	close_syscall(b[1]);
	static char out[4096];
	long have = 0, r;
	while ((r = read_syscall(b[0], out + have, sizeof out - 1 - have)) > 0)
		have += r;
	printf("the parent read %ld bytes:\n%s", have, out);
	int st1 = -1, st2 = -1;
	waitpid_syscall(producer, &st1);
	waitpid_syscall(filter, &st2);
	printf("statuses %d %d\n", st1, st2);
	return 0;
}
