/*
 * Memory allocation, conversions, sorting, pseudo-random numbers and
 * program exit.
 *
 * malloc takes memory from the brk heap (and gives large blocks their own
 * mmap mapping); blocks are 16-byte aligned. rand() produces the same
 * sequence as glibc's for the same seed. qsort is a stable merge sort.
 */
#ifndef _STDLIB_H
#define _STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1
#define RAND_MAX 2147483647
#define MB_CUR_MAX 1

typedef struct {
	int quot, rem;
} div_t;
typedef struct {
	long quot, rem;
} ldiv_t;
typedef struct {
	long long quot, rem;
} lldiv_t;

void *malloc(size_t n) __attribute__((malloc, alloc_size(1)));
void free(void *p);
void *calloc(size_t n, size_t size) __attribute__((malloc, alloc_size(1, 2)));
void *realloc(void *p, size_t n) __attribute__((alloc_size(2)));
void *aligned_alloc(size_t align, size_t n) __attribute__((malloc, alloc_size(2)));
int posix_memalign(void **out, size_t align, size_t n);

int atoi(const char *s);
long atol(const char *s);
long long atoll(const char *s);
long strtol(const char *__restrict s, char **__restrict end, int base);
unsigned long strtoul(const char *__restrict s, char **__restrict end, int base);
long long strtoll(const char *__restrict s, char **__restrict end, int base);
unsigned long long strtoull(const char *__restrict s, char **__restrict end, int base);

int abs(int x);
long labs(long x);
long long llabs(long long x);
div_t div(int num, int den);
ldiv_t ldiv(long num, long den);
lldiv_t lldiv(long long num, long long den);

void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
void *bsearch(const void *key, const void *base, size_t n, size_t size,
	      int (*cmp)(const void *, const void *));
int rand(void);
void srand(unsigned seed);

char *getenv(const char *name);

__attribute__((noreturn)) void exit(int status);
__attribute__((noreturn)) void _Exit(int status);
__attribute__((noreturn)) void abort(void);
int atexit(void (*fn)(void));

#endif
