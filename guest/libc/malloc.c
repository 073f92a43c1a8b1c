/* malloc over brk. Blocks carry a 16-byte header so payloads stay 16-byte
 * aligned. Freed blocks go on a free list; adjacent free blocks are merged
 * when no listed block fits, before the heap grows. Blocks of 256 KiB and
 * more get their own mmap mapping and go back with munmap. */
#include <aurora.h>
#include <stdlib.h>
#include <string.h>

struct block {
	size_t size;  /* whole block including this header */
	size_t flags; /* USED, MAPPED */
};

struct freeblock {
	struct block h;
	struct freeblock *next;
};

enum { USED = 1, MAPPED = 2 };
#define HDR sizeof(struct block)
#define MIN_BLOCK sizeof(struct freeblock)
#define MMAP_THRESHOLD (256 * 1024)
#define GROW_MIN (64 * 1024)

static char *heap_start, *heap_end;
static struct freeblock *free_list;

static size_t round_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

static struct block *grow(size_t need)
{
	if (!heap_start)
		heap_start = heap_end = (char *)brk_syscall(0);
	size_t inc = round_up(need > GROW_MIN ? need : GROW_MIN, PAGE_SIZE);
	char *want = heap_end + inc;
	if ((char *)brk_syscall((unsigned long)want) != want)
		return 0;
	struct block *b = (struct block *)heap_end;
	b->size = inc;
	b->flags = 0;
	heap_end = want;
	return b;
}

/* coalesce rebuilds the free list, merging neighbours. */
static void coalesce(void)
{
	free_list = 0;
	struct freeblock **tail = &free_list;
	char *p = heap_start;
	while (p < heap_end) {
		struct block *b = (struct block *)p;
		if (!(b->flags & USED)) {
			char *q = p + b->size;
			while (q < heap_end && !(((struct block *)q)->flags & USED)) {
				b->size += ((struct block *)q)->size;
				q = p + b->size;
			}
			struct freeblock *f = (struct freeblock *)b;
			f->next = 0;
			*tail = f;
			tail = &f->next;
		}
		p += b->size;
	}
}

static void *take(struct block *b, size_t size)
{
	if (b->size >= size + MIN_BLOCK) {
		struct freeblock *rest = (struct freeblock *)((char *)b + size);
		rest->h.size = b->size - size;
		rest->h.flags = 0;
		rest->next = free_list;
		free_list = rest;
		b->size = size;
	}
	b->flags = USED;
	return (char *)b + HDR;
}

static void *find(size_t size)
{
	for (struct freeblock **pp = &free_list; *pp; pp = &(*pp)->next) {
		struct freeblock *f = *pp;
		if (f->h.size >= size) {
			*pp = f->next;
			return take(&f->h, size);
		}
	}
	return 0;
}

void *malloc(size_t n)
{
	if (n > ((size_t)1 << 46))
		return 0;
	size_t size = round_up(n + HDR, 16);
	if (size < MIN_BLOCK)
		size = MIN_BLOCK;
	if (size >= MMAP_THRESHOLD) {
		size = round_up(size, PAGE_SIZE);
		struct block *b = mmap_syscall(0, size, 0, 0);
		if (b == (void *)-1)
			return 0;
		b->size = size;
		b->flags = USED | MAPPED;
		return (char *)b + HDR;
	}
	void *p = find(size);
	if (p)
		return p;
	coalesce();
	if ((p = find(size)))
		return p;
	struct block *b = grow(size);
	if (!b)
		return 0;
	/* Merge the new space with a free block that ends the heap. */
	((struct freeblock *)b)->next = free_list;
	free_list = (struct freeblock *)b;
	coalesce();
	return find(size);
}

void free(void *p)
{
	if (!p)
		return;
	struct block *b = (struct block *)((char *)p - HDR);
	if (b->flags & MAPPED) {
		munmap_syscall(b, b->size);
		return;
	}
	b->flags = 0;
	struct freeblock *f = (struct freeblock *)b;
	f->next = free_list;
	free_list = f;
}

void *calloc(size_t n, size_t size)
{
	if (size && n > (size_t)-1 / size)
		return 0;
	void *p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n == 0) {
		free(p);
		return 0;
	}
	struct block *b = (struct block *)((char *)p - HDR);
	size_t have = b->size - HDR;
	if (n <= have)
		return p;
	void *q = malloc(n);
	if (q) {
		memcpy(q, p, have);
		free(p);
	}
	return q;
}
