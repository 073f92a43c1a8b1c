/*
 * qsort: a stable merge sort, like glibc's, so that programs sorting
 * records with equal keys print them in the same order as on Linux. The
 * merge buffer lives on the stack for small arrays and comes from malloc
 * otherwise; if malloc fails, an in-place heapsort (not stable) is used.
 * The comparison function only ever sees pointers into the array.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int (*cmp_fn)(const void *, const void *);

static void swap(char *a, char *b, size_t size)
{
	while (size >= 8) {
		uint64_t x, y;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		memcpy(a, &y, 8);
		memcpy(b, &x, 8);
		a += 8;
		b += 8;
		size -= 8;
	}
	while (size-- > 0) {
		char t = *a;
		*a++ = *b;
		*b++ = t;
	}
}

static void msort(char *b, size_t n, size_t s, cmp_fn cmp, char *tmp)
{
	if (n <= 6) {
		/* Insertion by adjacent swaps keeps elements inside the array. */
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && cmp(b + (j - 1) * s, b + j * s) > 0; j--)
				swap(b + (j - 1) * s, b + j * s, s);
		return;
	}
	size_t n1 = n / 2, n2 = n - n1;
	char *b1 = b, *b2 = b + n1 * s;
	msort(b1, n1, s, cmp, tmp);
	msort(b2, n2, s, cmp, tmp);
	if (cmp(b2 - s, b2) <= 0)
		return; /* already in order */
	char *out = tmp;
	while (n1 > 0 && n2 > 0) {
		if (cmp(b1, b2) <= 0) {
			memcpy(out, b1, s);
			b1 += s;
			n1--;
		} else {
			memcpy(out, b2, s);
			b2 += s;
			n2--;
		}
		out += s;
	}
	/* What is left of the second half is already in place. */
	memcpy(out, b1, n1 * s);
	memcpy(b, tmp, (n - n2) * s);
}

static void sift(char *b, size_t root, size_t n, size_t s, cmp_fn cmp)
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && cmp(b + child * s, b + (child + 1) * s) < 0)
			child++;
		if (cmp(b + root * s, b + child * s) >= 0)
			return;
		swap(b + root * s, b + child * s, s);
		root = child;
	}
}

static void heapsort(char *b, size_t n, size_t s, cmp_fn cmp)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(b, i, n, s, cmp);
	for (size_t end = n; end-- > 1;) {
		swap(b, b + end * s, s);
		sift(b, 0, end, s, cmp);
	}
}

void qsort(void *base, size_t n, size_t size, cmp_fn cmp)
{
	if (n < 2 || size == 0)
		return;
	if (n > SIZE_MAX / size) {
		heapsort(base, n, size, cmp);
		return;
	}
	char stackbuf[1024];
	size_t total = n * size;
	char *tmp = total <= sizeof stackbuf ? stackbuf : malloc(total);
	if (!tmp) {
		heapsort(base, n, size, cmp);
		return;
	}
	msort(base, n, size, cmp, tmp);
	if (tmp != stackbuf)
		free(tmp);
}
