/* Calls getpid N times (default 1000): the benchmark for one trapped
 * syscall through the whole kernel path. */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	long sum = 0;
	for (long i = 0; i < n; i++)
		sum += getpid_syscall();
	printf("%ld getpid calls, sum %ld\n", n, sum);
	return 0;
}
