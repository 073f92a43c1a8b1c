/*
 * malloc over the brk heap, after dlmalloc's design in miniature.
 *
 * Every chunk starts with a 16-byte header: the size of the previous chunk
 * (meaningful only while that chunk is free) and this chunk's size, whose
 * low bits hold flags. Payloads are therefore 16-byte aligned. A freed
 * chunk is merged at once with free neighbours, so no two free chunks are
 * ever adjacent, and is filed in a bin by size: exact-size bins below 1 KiB,
 * four bins per power of two above, with a bitmap of the non-empty ones.
 *
 * The free space at the end of the heap, the top chunk, is in no bin: it
 * is carved for requests no bin satisfies, grown with brk, and given back
 * with brk when more than TRIM_THRESHOLD of it is free. Requests of
 * MMAP_THRESHOLD or more get a mapping of their own, unmapped on free.
 *
 * The program may move the break itself. The heap notices when the break
 * is not where it left it, closes the old region with a fence chunk and
 * starts a new one where the break now is.
 */
#include <aurora.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct chunk {
	size_t prev_size;
	size_t head;
	struct chunk *fd, *bk; /* free chunks only */
} chunk;

enum {
	INUSE = 1,   /* this chunk is allocated */
	PINUSE = 2,  /* the previous chunk is allocated (prev_size unused) */
	MMAPPED = 4, /* own mapping; prev_size is the offset into it */
	FLAGS = 7,
};

#define HDR ((size_t)16)
#define MIN_CHUNK ((size_t)32)
#define MMAP_THRESHOLD ((size_t)256 << 10)
/* Every brk is a trap out of the VM, tens of microseconds where exits are
 * slow, so the heap grows by at least 1 MiB (untouched memory costs the
 * host nothing) and gives memory back only in big pieces. */
#define GROW_MIN ((size_t)1 << 20)
/* The break is moved to 2 MiB boundaries where memory allows, so that the
 * kernel maps the heap with large pages. */
#define LARGE_PAGE ((size_t)2 << 20)
#define TRIM_THRESHOLD ((size_t)4 << 20)
#define TRIM_KEEP ((size_t)1 << 20)
#define MAX_REQUEST (((size_t)1 << 47) - 4096)

#define NSMALL 64 /* bins 2..63 hold exact sizes 32..1008 */
#define NBINS 256

static chunk *bins[NBINS];
static uint64_t binmap[NBINS / 64];
static chunk *top;
static size_t top_size;
static char *region_start; /* start of the current brk region */

static size_t csize(const chunk *c) { return c->head & ~(size_t)FLAGS; }
static chunk *at(void *p, size_t off) { return (chunk *)((char *)p + off); }
static void *mem(chunk *c) { return (char *)c + HDR; }
static chunk *chunk_of(void *p) { return (chunk *)((char *)p - HDR); }

static size_t align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

static int bin_index(size_t size)
{
	if (size < NSMALL * 16)
		return (int)(size >> 4);
	int b = 63 - __builtin_clzl(size);
	return NSMALL + (b - 10) * 4 + (int)((size >> (b - 2)) & 3);
}

static void bin_insert(chunk *c)
{
	int i = bin_index(csize(c));
	c->bk = 0;
	c->fd = bins[i];
	if (c->fd)
		c->fd->bk = c;
	bins[i] = c;
	binmap[i >> 6] |= 1ULL << (i & 63);
}

static void bin_remove(chunk *c)
{
	int i = bin_index(csize(c));
	if (c->bk)
		c->bk->fd = c->fd;
	else
		bins[i] = c->fd;
	if (c->fd)
		c->fd->bk = c->bk;
	if (!bins[i])
		binmap[i >> 6] &= ~(1ULL << (i & 63));
}

/* mark_used flags c (of the given size) allocated, telling its successor. */
static void mark_used(chunk *c, size_t size)
{
	c->head = size | INUSE | (c->head & PINUSE);
	at(c, size)->head |= PINUSE;
}

/* make_free turns c into a free chunk of size bytes whose predecessor is
 * in use, telling its successor, and files it. */
static void make_free(chunk *c, size_t size)
{
	c->head = size | PINUSE;
	chunk *next = at(c, size);
	next->prev_size = size;
	next->head &= ~(size_t)PINUSE;
	bin_insert(c);
}

/* split gives back the tail of the allocated chunk c beyond size bytes
 * when it is big enough to be a chunk of its own. */
static void split(chunk *c, size_t size)
{
	size_t have = csize(c);
	if (have - size < MIN_CHUNK)
		return;
	c->head = size | (c->head & (PINUSE | INUSE));
	chunk *rest = at(c, size);
	rest->head = (have - size) | INUSE | PINUSE;
	free(mem(rest));
}

static size_t request_size(size_t n)
{
	if (n > MAX_REQUEST)
		return 0;
	size_t size = align_up(n + HDR, 16);
	return size < MIN_CHUNK ? MIN_CHUNK : size;
}

/* from_bins finds the smallest-binned free chunk of at least size bytes. */
static chunk *from_bins(size_t size)
{
	int i = bin_index(size);
	if (i >= NSMALL) {
		/* Large bins span a range of sizes: best fit within this one. */
		chunk *best = 0;
		for (chunk *c = bins[i]; c; c = c->fd) {
			if (csize(c) >= size && (!best || csize(c) < csize(best))) {
				best = c;
				if (csize(c) == size)
					break;
			}
		}
		if (best)
			return best;
	} else if (bins[i]) {
		return bins[i];
	}
	/* Every chunk in a later bin is big enough. */
	for (int w = (i + 1) >> 6; w < NBINS / 64; w++) {
		uint64_t bits = binmap[w];
		if (w == (i + 1) >> 6)
			bits &= ~0ULL << ((i + 1) & 63);
		if (bits)
			return bins[w * 64 + __builtin_ctzll(bits)];
	}
	return 0;
}

static void *map_chunk(size_t size)
{
	size_t len = align_up(size, PAGE_SIZE);
	if (len < size)
		return 0;
	void *p = mmap_syscall(0, len, 0, 0);
	if (p == (void *)-1 || !p)
		return 0;
	chunk *c = p;
	c->prev_size = 0;
	c->head = len | MMAPPED | INUSE;
	return mem(c);
}

/* move_break raises the break from cur by at least inc bytes, to the next
 * large-page boundary when memory allows, and returns the new break, or 0. */
static char *move_break(char *cur, size_t inc)
{
	char *want = cur + inc;
	if (want < cur)
		return 0;
	char *large = (char *)align_up((size_t)want, LARGE_PAGE);
	if (large > want && (char *)brk_syscall((unsigned long)large) == large)
		return large;
	return (char *)brk_syscall((unsigned long)want) == want ? want : 0;
}

/* grow makes the top chunk at least size + MIN_CHUNK bytes. */
static int grow(size_t size)
{
	char *cur = (char *)brk_syscall(0);
	size_t need = size + MIN_CHUNK;
	if (top && cur == (char *)top + top_size) {
		size_t inc = need - top_size;
		inc = align_up(inc > GROW_MIN ? inc : GROW_MIN, PAGE_SIZE);
		char *want = move_break(cur, inc);
		if (!want)
			return 0;
		inc = (size_t)(want - cur);
		top_size += inc;
		top->head = top_size | (top->head & PINUSE);
		return 1;
	}
	/* First use, or someone else moved the break: start a new region. */
	char *base = (char *)align_up((size_t)cur, 16);
	size_t inc = align_up((size_t)(base - cur) + need + GROW_MIN, PAGE_SIZE);
	char *want = cur ? move_break(cur, inc) : 0;
	if (!want)
		return 0;
	if (top) {
		/* Close the old region: its end becomes an allocated fence, the
		 * rest of its top chunk an ordinary free chunk. */
		size_t rest = top_size - HDR;
		chunk *fence = at(top, rest);
		if (rest >= MIN_CHUNK) {
			fence->head = HDR | INUSE;
			make_free(top, rest);
		} else {
			fence = top;
			fence->head = top_size | INUSE | (top->head & PINUSE);
		}
	}
	region_start = base;
	top = (chunk *)base;
	top_size = (size_t)(want - base);
	top->head = top_size | PINUSE;
	return 1;
}

/* trim hands the free end of the heap back to the kernel. */
static void trim(void)
{
	char *end = (char *)top + top_size;
	if ((char *)brk_syscall(0) != end)
		return;
	char *keep = (char *)align_up((size_t)top + TRIM_KEEP, PAGE_SIZE);
	if (keep >= end)
		return;
	char *now = (char *)brk_syscall((unsigned long)keep);
	if (now < keep || now >= end)
		return;
	top_size = (size_t)(now - (char *)top);
	top->head = top_size | (top->head & PINUSE);
}

/* alloc is malloc; the library calls it so that gcc, which knows what
 * malloc returns, does not object to the header in front of the block. */
static void *alloc(size_t n)
{
	size_t size = request_size(n);
	if (!size) {
		errno = ENOMEM;
		return 0;
	}
	if (size >= MMAP_THRESHOLD) {
		void *p = map_chunk(size);
		if (p)
			return p;
	}
	chunk *c = from_bins(size);
	if (c) {
		bin_remove(c);
		mark_used(c, csize(c));
		split(c, size);
		return mem(c);
	}
	if (!top || top_size < size + MIN_CHUNK) {
		if (!grow(size)) {
			void *p = map_chunk(size);
			if (!p)
				errno = ENOMEM;
			return p;
		}
	}
	c = top;
	top = at(c, size);
	top_size -= size;
	top->head = top_size | PINUSE;
	c->head = size | INUSE | (c->head & PINUSE);
	return mem(c);
}

void *malloc(size_t n)
{
	return alloc(n);
}

static void bad_free(void)
{
	static const char msg[] = "free(): invalid pointer\n";
	write_syscall(2, msg, sizeof msg - 1);
	abort();
}

void free(void *p)
{
	if (!p)
		return;
	chunk *c = chunk_of(p);
	size_t size = csize(c);
	if (c->head & MMAPPED) {
		munmap_syscall((char *)c - c->prev_size, size + c->prev_size);
		return;
	}
	if (!(c->head & INUSE) || size < MIN_CHUNK || ((uintptr_t)p & 15))
		bad_free();
	chunk *next = at(c, size);
	if (!(c->head & PINUSE)) {
		chunk *prev = (chunk *)((char *)c - c->prev_size);
		bin_remove(prev);
		size += csize(prev);
		c = prev;
	}
	if (next == top) {
		top = c;
		top_size += size;
		top->head = top_size | PINUSE;
		if (top_size > TRIM_THRESHOLD)
			trim();
		return;
	}
	if (!(next->head & INUSE)) {
		bin_remove(next);
		size += csize(next);
	}
	make_free(c, size);
}

void *calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return 0;
	}
	void *p = alloc(n * size);
	/* Fresh mappings are already zero. */
	if (p && !(chunk_of(p)->head & MMAPPED))
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return alloc(n);
	if (n == 0) {
		free(p);
		return 0;
	}
	size_t size = request_size(n);
	if (!size) {
		errno = ENOMEM;
		return 0;
	}
	chunk *c = chunk_of(p);
	size_t have = csize(c);
	if (c->head & MMAPPED) {
		/* Keep the mapping unless it is much larger than needed. */
		if (have >= size && have - size < MMAP_THRESHOLD)
			return p;
	} else {
		if (have >= size) {
			split(c, size);
			return p;
		}
		chunk *next = at(c, have);
		if (next == top && size < MMAP_THRESHOLD && have + top_size < size + MIN_CHUNK)
			grow(size - have);
		if (next == top && have + top_size >= size + MIN_CHUNK) {
			size_t total = have + top_size;
			c->head = size | INUSE | (c->head & PINUSE);
			top = at(c, size);
			top_size = total - size;
			top->head = top_size | PINUSE;
			return p;
		}
		if (next != top && !(next->head & INUSE) && have + csize(next) >= size) {
			bin_remove(next);
			mark_used(c, have + csize(next));
			split(c, size);
			return p;
		}
	}
	void *q = alloc(n);
	if (!q)
		return 0;
	size_t keep = have - HDR;
	memcpy(q, p, keep < n ? keep : n);
	free(p);
	return q;
}

void *aligned_alloc(size_t align, size_t n)
{
	if (align & (align - 1)) {
		errno = EINVAL;
		return 0;
	}
	if (align <= 16)
		return alloc(n);
	size_t size = request_size(n);
	if (!size || align > MAX_REQUEST || size + align + MIN_CHUNK < size) {
		errno = ENOMEM;
		return 0;
	}
	char *p = alloc(size + align + MIN_CHUNK);
	if (!p)
		return 0;
	if (!((uintptr_t)p & (align - 1)))
		return p;
	/* Leave at least a minimal chunk in front, to be freed. */
	char *a = (char *)align_up((uintptr_t)p + MIN_CHUNK, align);
	chunk *c = chunk_of(p), *ac = chunk_of(a);
	size_t lead = (size_t)(a - p), have = csize(c);
	if (c->head & MMAPPED) {
		ac->prev_size = c->prev_size + lead;
		ac->head = (have - lead) | MMAPPED | INUSE;
		return a;
	}
	ac->head = (have - lead) | INUSE | PINUSE;
	c->head = lead | INUSE | (c->head & PINUSE);
	free(p);
	split(ac, size);
	return a;
}

int posix_memalign(void **out, size_t align, size_t n)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = aligned_alloc(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/*
 * __malloc_check walks the current heap region and the bins and returns 0
 * when every invariant holds, or a negative code naming the first broken
 * one. For tests.
 */
int __malloc_check(void)
{
	if (!top)
		return 0;
	size_t nfree = 0;
	int prev_used = 1;
	size_t prev_size = 0;
	chunk *c = (chunk *)region_start;
	while (c != top) {
		size_t size = csize(c);
		if ((char *)c > (char *)top || size < MIN_CHUNK || (size & 15))
			return -1;
		if (!!(c->head & PINUSE) != prev_used)
			return -2;
		if (!prev_used && c->prev_size != prev_size)
			return -3;
		int used = (c->head & INUSE) != 0;
		if (!used) {
			if (!prev_used)
				return -4; /* two free chunks in a row */
			nfree++;
		}
		prev_used = used;
		prev_size = size;
		c = at(c, size);
	}
	if (!prev_used || !(top->head & PINUSE) || csize(top) != top_size || top_size < MIN_CHUNK)
		return -5;
	size_t binned = 0;
	for (int i = 0; i < NBINS; i++) {
		if (!!bins[i] != !!(binmap[i >> 6] & (1ULL << (i & 63))))
			return -6;
		for (chunk *f = bins[i]; f; f = f->fd) {
			if (bin_index(csize(f)) != i || (f->head & INUSE) || (f->fd && f->fd->bk != f))
				return -7;
			if ((char *)f >= region_start && (char *)f < (char *)top)
				binned++;
		}
	}
	return binned == nfree ? 0 : -8;
}
