/* Small <stdlib.h> functions: arithmetic, rand, getenv. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int abs(int x) { return x < 0 ? -x : x; }
long labs(long x) { return x < 0 ? -x : x; }
long long llabs(long long x) { return x < 0 ? -x : x; }
intmax_t imaxabs(intmax_t x) { return x < 0 ? -x : x; }

div_t div(int num, int den) { return (div_t){num / den, num % den}; }
ldiv_t ldiv(long num, long den) { return (ldiv_t){num / den, num % den}; }
lldiv_t lldiv(long long num, long long den) { return (lldiv_t){num / den, num % den}; }
imaxdiv_t imaxdiv(intmax_t num, intmax_t den) { return (imaxdiv_t){num / den, num % den}; }

/*
 * rand() is glibc's default generator (an additive lagged Fibonacci
 * generator over 31 words seeded by a Lehmer sequence), so a program that
 * calls srand(n) prints the same numbers here as on Linux.
 */
enum { DEG = 31, SEP = 3 };
static int32_t state[DEG];
static int front, rear;
static int seeded;

static int32_t next(void)
{
	uint32_t v = (uint32_t)state[front] + (uint32_t)state[rear];
	state[front] = (int32_t)v;
	front = front + 1 == DEG ? 0 : front + 1;
	rear = rear + 1 == DEG ? 0 : rear + 1;
	return (int32_t)(v >> 1);
}

void srand(unsigned seed)
{
	if (seed == 0)
		seed = 1;
	int32_t word = (int32_t)seed;
	state[0] = word;
	for (int i = 1; i < DEG; i++) {
		/* state[i] = 16807 * state[i-1] % 2147483647 without overflow,
		 * with glibc's exact arithmetic (including its int32 wrap). */
		long hi = word / 127773, lo = word % 127773;
		word = (int32_t)(16807 * lo - 2836 * hi);
		if (word < 0)
			word += 2147483647;
		state[i] = word;
	}
	front = SEP;
	rear = 0;
	seeded = 1;
	for (int i = 0; i < 10 * DEG; i++)
		next();
}

int rand(void)
{
	if (!seeded)
		srand(1);
	return next();
}

void *bsearch(const void *key, const void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	const char *lo = base;
	while (n > 0) {
		const char *mid = lo + (n / 2) * size;
		int c = cmp(key, mid);
		if (c == 0)
			return (void *)mid;
		if (c > 0) {
			lo = mid + size;
			n -= n / 2 + 1;
		} else {
			n /= 2;
		}
	}
	return 0;
}

extern char **environ;

char *getenv(const char *name)
{
	size_t n = strlen(name);
	if (!environ || n == 0 || strchr(name, '='))
		return 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return 0;
}
