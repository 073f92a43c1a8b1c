/* fork + exit + waitpid, N times (default 50): the benchmark for creating
 * and reaping a process. Child i exits with i & 0x7F and the parent checks
 * the status. `make bench` also builds this file natively against a
 * POSIX shim (internal/benchtable/native/aurora.h). */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 50;
	long wrong = 0;
	for (long i = 0; i < n; i++) {
		int pid = fork_syscall();
		if (pid == 0)
			exit_syscall((int)(i & 0x7F));
		int st = -1;
		if (pid < 0 || waitpid_syscall(pid, &st) != pid || st != (i & 0x7F))
			wrong++;
	}
	printf("%ld fork+exit+waitpid round trips, %ld wrong\n", n, wrong);
	return wrong != 0;
}
