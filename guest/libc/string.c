/*
 * <string.h> and <strings.h>.
 *
 * Bulk copies and fills use the x86 string instructions, which are fast on
 * every CPU KVM runs on. strlen and the memcmp/memchr scans go a word at a
 * time; word reads are aligned, so they never cross into an unmapped page.
 * This file is built with -fno-tree-loop-distribute-patterns so that gcc
 * cannot turn these loops back into calls to themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* Nonzero when some byte of w is zero. */
#define HASZERO(w) (((w) - ONES) & ~(w) & HIGHS)

typedef uint64_t __attribute__((may_alias)) word;

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	void *d = dst;
	size_t q = n >> 3;
	__asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(q) : : "memory");
	n &= 7;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d == s || n == 0)
		return dst;
	/* Forward copies are safe whenever the destination starts first. */
	if (d < s || d >= s + n)
		return memcpy(dst, src, n);
	while (n >= 8) {
		n -= 8;
		uint64_t w;
		__builtin_memcpy(&w, s + n, 8);
		__builtin_memcpy(d + n, &w, 8);
	}
	while (n-- > 0)
		d[n] = s[n];
	return dst;
}

void *memset(void *s, int c, size_t n)
{
	void *d = s;
	uint64_t w = (unsigned char)c * ONES;
	size_t q = n >> 3;
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(w) : "memory");
	n &= 7;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(w) : "memory");
	return s;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;
	while (n >= 8) {
		uint64_t x, y;
		__builtin_memcpy(&x, p, 8);
		__builtin_memcpy(&y, q, 8);
		if (x != y)
			break;
		p += 8;
		q += 8;
		n -= 8;
	}
	for (; n > 0; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;
	unsigned char ch = (unsigned char)c;
	for (; n > 0 && ((uintptr_t)p & 7); n--, p++)
		if (*p == ch)
			return (void *)p;
	uint64_t pat = ch * ONES;
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w = *(const word *)p ^ pat;
		if (HASZERO(w))
			break;
	}
	for (; n > 0; n--, p++)
		if (*p == ch)
			return (void *)p;
	return 0;
}

void *memrchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;
	while (n-- > 0)
		if (p[n] == (unsigned char)c)
			return (void *)(p + n);
	return 0;
}

size_t strlen(const char *s)
{
	const char *p = s;
	for (; (uintptr_t)p & 7; p++)
		if (!*p)
			return (size_t)(p - s);
	const word *w = (const word *)p;
	while (!HASZERO(*w))
		w++;
	for (p = (const char *)w; *p; p++)
		;
	return (size_t)(p - s);
}

size_t strnlen(const char *s, size_t max)
{
	const char *z = memchr(s, 0, max);
	return z ? (size_t)(z - s) : max;
}

int strcmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
	while (*p && *p == *q) {
		p++;
		q++;
	}
	return *p - *q;
}

int strncmp(const char *a, const char *b, size_t n)
{
	const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
	for (; n > 0; n--, p++, q++)
		if (*p != *q || !*p)
			return *p - *q;
	return 0;
}

int strcoll(const char *a, const char *b)
{
	return strcmp(a, b);
}

char *strcpy(char *restrict dst, const char *restrict src)
{
	memcpy(dst, src, strlen(src) + 1);
	return dst;
}

char *stpcpy(char *restrict dst, const char *restrict src)
{
	size_t n = strlen(src);
	memcpy(dst, src, n + 1);
	return dst + n;
}

char *strncpy(char *restrict dst, const char *restrict src, size_t n)
{
	size_t k = strnlen(src, n);
	memcpy(dst, src, k);
	memset(dst + k, 0, n - k);
	return dst;
}

char *strcat(char *restrict dst, const char *restrict src)
{
	strcpy(dst + strlen(dst), src);
	return dst;
}

char *strncat(char *restrict dst, const char *restrict src, size_t n)
{
	char *d = dst + strlen(dst);
	size_t k = strnlen(src, n);
	memcpy(d, src, k);
	d[k] = 0;
	return dst;
}

char *strchr(const char *s, int c)
{
	char ch = (char)c;
	for (;; s++) {
		if (*s == ch)
			return (char *)s;
		if (!*s)
			return 0;
	}
}

char *strrchr(const char *s, int c)
{
	char ch = (char)c;
	const char *last = 0;
	for (;; s++) {
		if (*s == ch)
			last = s;
		if (!*s)
			return (char *)last;
	}
}

char *strstr(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0)
		return (char *)hay;
	for (; (hay = strchr(hay, *needle)); hay++)
		if (strncmp(hay, needle, n) == 0)
			return (char *)hay;
	return 0;
}

char *strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	return d ? memcpy(d, s, n) : 0;
}

char *strndup(const char *s, size_t n)
{
	size_t k = strnlen(s, n);
	char *d = malloc(k + 1);
	if (!d)
		return 0;
	memcpy(d, s, k);
	d[k] = 0;
	return d;
}

/* A 256-bit set of bytes for the span functions. */
struct byteset {
	uint64_t bits[4];
};

static void makeset(struct byteset *set, const char *chars)
{
	set->bits[0] = set->bits[1] = set->bits[2] = set->bits[3] = 0;
	for (const unsigned char *p = (const unsigned char *)chars; *p; p++)
		set->bits[*p >> 6] |= 1ULL << (*p & 63);
}

static int inset(const struct byteset *set, unsigned char c)
{
	return (set->bits[c >> 6] >> (c & 63)) & 1;
}

size_t strspn(const char *s, const char *accept)
{
	struct byteset set;
	makeset(&set, accept);
	const unsigned char *p = (const unsigned char *)s;
	while (*p && inset(&set, *p))
		p++;
	return (size_t)((const char *)p - s);
}

size_t strcspn(const char *s, const char *reject)
{
	struct byteset set;
	makeset(&set, reject);
	const unsigned char *p = (const unsigned char *)s;
	while (*p && !inset(&set, *p))
		p++;
	return (size_t)((const char *)p - s);
}

char *strpbrk(const char *s, const char *accept)
{
	s += strcspn(s, accept);
	return *s ? (char *)s : 0;
}

char *strtok_r(char *restrict s, const char *restrict delim, char **restrict save)
{
	if (!s)
		s = *save;
	if (!s)
		return 0;
	s += strspn(s, delim);
	if (!*s) {
		*save = 0;
		return 0;
	}
	char *end = s + strcspn(s, delim);
	if (*end)
		*end++ = 0;
	else
		end = 0;
	*save = end;
	return s;
}

char *strtok(char *restrict s, const char *restrict delim)
{
	static char *save;
	return strtok_r(s, delim, &save);
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int strcasecmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
	while (*p && lower(*p) == lower(*q)) {
		p++;
		q++;
	}
	return lower(*p) - lower(*q);
}

int strncasecmp(const char *a, const char *b, size_t n)
{
	const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
	for (; n > 0; n--, p++, q++)
		if (lower(*p) != lower(*q) || !*p)
			return lower(*p) - lower(*q);
	return 0;
}
