/* CPU-bound work: count primes with the sieve of Eratosthenes, several
 * rounds. The optional argument sets the limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	long limit = argc > 1 ? atol(argv[1]) : 2000000;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	char *composite = malloc(limit + 1);
	long count = 0;
	for (int r = 0; r < rounds; r++) {
		memset(composite, 0, limit + 1);
		count = 0;
		for (long i = 2; i <= limit; i++) {
			if (composite[i])
				continue;
			count++;
			for (long j = i * i; j <= limit; j += i)
				composite[j] = 1;
		}
	}
	printf("%ld primes up to %ld\n", count, limit);
	return 0;
}
