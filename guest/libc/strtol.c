/* String to integer conversions, with glibc's treatment of prefixes,
 * signs and overflow (saturation and ERANGE). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>

/* parse reads an optionally signed integer. It returns the magnitude
 * (ULLONG_MAX with *overflow set when it does not fit in 64 bits). */
static unsigned long long parse(const char *s, char **end, int base, int *neg, int *overflow)
{
	const unsigned char *p = (const unsigned char *)s;
	*neg = *overflow = 0;
	if (base < 0 || base == 1 || base > 36) {
		errno = EINVAL;
		if (end)
			*end = (char *)s;
		return 0;
	}
	while (isspace(*p))
		p++;
	if (*p == '-' || *p == '+')
		*neg = *p++ == '-';
	if ((base == 0 || base == 16) && p[0] == '0' && (p[1] | 32) == 'x' && isxdigit(p[2])) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = *p == '0' ? 8 : 10;
	}
	unsigned long long v = 0;
	const unsigned char *digits = p;
	for (;; p++) {
		unsigned d;
		if (isdigit(*p))
			d = *p - '0';
		else if (isalpha(*p))
			d = (*p | 32) - 'a' + 10;
		else
			break;
		if (d >= (unsigned)base)
			break;
		if (v > (ULLONG_MAX - d) / (unsigned)base)
			*overflow = 1;
		else
			v = v * (unsigned)base + d;
	}
	if (end)
		*end = (char *)(p == digits ? (const unsigned char *)s : p);
	return *overflow ? ULLONG_MAX : v;
}

unsigned long long strtoull(const char *restrict s, char **restrict end, int base)
{
	int neg, overflow;
	unsigned long long v = parse(s, end, base, &neg, &overflow);
	if (overflow) {
		errno = ERANGE;
		return ULLONG_MAX;
	}
	return neg ? -v : v;
}

long long strtoll(const char *restrict s, char **restrict end, int base)
{
	int neg, overflow;
	unsigned long long v = parse(s, end, base, &neg, &overflow);
	if (neg) {
		if (overflow || v > (unsigned long long)LLONG_MAX + 1) {
			errno = ERANGE;
			return LLONG_MIN;
		}
		return (long long)-v;
	}
	if (overflow || v > LLONG_MAX) {
		errno = ERANGE;
		return LLONG_MAX;
	}
	return (long long)v;
}

/* long is 64 bits, like long long. */
unsigned long strtoul(const char *restrict s, char **restrict end, int base)
{
	return strtoull(s, end, base);
}

long strtol(const char *restrict s, char **restrict end, int base)
{
	return strtoll(s, end, base);
}

intmax_t strtoimax(const char *restrict s, char **restrict end, int base)
{
	return strtoll(s, end, base);
}

uintmax_t strtoumax(const char *restrict s, char **restrict end, int base)
{
	return strtoull(s, end, base);
}

int atoi(const char *s)
{
	return (int)strtol(s, 0, 10);
}

long atol(const char *s)
{
	return strtol(s, 0, 10);
}

long long atoll(const char *s)
{
	return strtoll(s, 0, 10);
}
