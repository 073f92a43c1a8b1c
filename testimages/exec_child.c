/* The program exec_*.c images execve into. Run on its own it says so and
 * exits; through execve its first argument picks what it checks. */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int caught;

int main(int argc, char **argv, char **envp)
{
	if (argc < 2) {
		printf("exec_child: run me through execve\n");
		return 0;
	}
	const char *mode = argv[1];
	if (strcmp(mode, "args") == 0) {
		printf("child: pid %d ppid %d argc %d\n", getpid_syscall(), getppid_syscall(), argc);
		for (int i = 0; i < argc; i++)
			printf("child: argv[%d]=%s\n", i, argv[i]);
		for (int i = 0; envp[i]; i++)
			printf("child: envp[%d]=%s\n", i, envp[i]);
		/* The break starts afresh, and the heap works. */
		char *p = malloc(100000);
		memset(p, 7, 100000);
		printf("child: heap ok %d\n", p[99999]);
		return 42;
	}
	if (strcmp(mode, "fds") == 0) {
		/* fd 3 was opened by the program before execve. */
		char buf[64];
		int n = read_syscall(3, buf, sizeof buf - 1);
		buf[n > 0 ? n : 0] = 0;
		printf("child: fd 3 reads %d bytes: %s", n, buf);
		return 0;
	}
	if (strcmp(mode, "signals") == 0) {
		/* SIGTERM was ignored before execve and stays ignored; SIGUSR1 had
		 * a handler, which is gone: its default action ends the process. */
		printf("child: getppid through the filter: %ld\n", (long)getppid_syscall());
		kill_syscall(getpid_syscall(), SIGTERM);
		printf("child: survived SIGTERM\n");
		fflush(stdout);
		kill_syscall(getpid_syscall(), SIGUSR1);
		printf("child: survived SIGUSR1 (wrong)\n");
		return 1;
	}
	if (strcmp(mode, "upper") == 0) {
		/* A filter in a pipeline: stdin to stdout in capitals. */
		char buf[256];
		int n;
		while ((n = read_syscall(0, buf, sizeof buf)) > 0) {
			for (int i = 0; i < n; i++)
				if (buf[i] >= 'a' && buf[i] <= 'z')
					buf[i] -= 32;
			write_syscall(1, buf, n);
		}
		return n < 0;
	}
	printf("exec_child: unknown mode %s\n", mode);
	return 2;
}
