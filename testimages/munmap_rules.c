/* munmap as on Linux: addr must be page-aligned and len non-zero; len is
 * rounded up to a page; unmapping a range with nothing mapped succeeds; a
 * cut in the middle of a mapping leaves both ends usable and the hole
 * faulting; one call can span several mappings and the gaps between them;
 * later mmap calls reuse the holes. Faults are checked in children, which
 * die with SIGSEGV (status 139). */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static char *volatile probe;
static void load(void) { exit_syscall(*probe); }

/* Reads a page, unmaps it and reads it again, which must fault although
 * the page was just in use (and, after fork, its frame lives on in the
 * parent). */
static void read_unmap_read(void)
{
	volatile char *p = probe;
	int first = *p;
	munmap_syscall(probe, PAGE_SIZE);
	exit_syscall(*p + first);
}

/* The wait status of a child that reads *addr and exits with it. */
static int read_in_child(char *addr)
{
	probe = addr;
	int pid = fork_syscall();
	if (pid == 0)
		load();
	int st = -1;
	waitpid_syscall(pid, &st);
	return st;
}

#define TRY(what, call)                                                       \
	do {                                                                  \
		errno = 0;                                                    \
		long r_ = (long)(call);                                       \
		printf("%s: %ld%s\n", what, r_, errno == EINVAL ? " (EINVAL)" : ""); \
	} while (0)

int main(void)
{
	char *m = mmap_syscall(0, 8 * PAGE_SIZE, 0, 0);
	for (int i = 0; i < 8; i++)
		m[i * PAGE_SIZE] = 'a' + i;

	TRY("unaligned address", munmap_syscall(m + 1, PAGE_SIZE));
	TRY("zero length", munmap_syscall(m, 0));
	TRY("range beyond user space", munmap_syscall((void *)0x7FFFFF000UL, PAGE_SIZE));
	TRY("wrapping range", munmap_syscall(m, -PAGE_SIZE));
	TRY("unmapped range in the mmap region", munmap_syscall((void *)0x70000000, 16 * PAGE_SIZE));
	TRY("unmapped range below the heap", munmap_syscall((void *)0x8000000, PAGE_SIZE));
	TRY("address 0", munmap_syscall(0, PAGE_SIZE));

	/* One byte of length takes its whole page: the middle of m. */
	TRY("one byte in page 2", munmap_syscall(m + 2 * PAGE_SIZE, 1));
	printf("page 2 reads in a child: status %d\n", read_in_child(m + 2 * PAGE_SIZE));
	printf("pages 1 and 3 read in children: status %d %d\n", read_in_child(m + PAGE_SIZE),
	       read_in_child(m + 3 * PAGE_SIZE));
	printf("pages 0, 1, 3, 7 here: %c %c %c %c\n", m[0], m[PAGE_SIZE], m[3 * PAGE_SIZE],
	       m[7 * PAGE_SIZE]);

	/* fork copies up to 64 pages the parent has written and shares the
	 * rest copy-on-write: the last of 128 written pages is shared. */
	char *many = mmap_syscall(0, 128 * PAGE_SIZE, 0, 0);
	for (int i = 0; i < 128; i++)
		many[i * PAGE_SIZE] = 'M';
	probe = many + 127 * PAGE_SIZE;
	int pid = fork_syscall();
	if (pid == 0)
		read_unmap_read();
	int st = -1;
	waitpid_syscall(pid, &st);
	printf("read, unmap, read again in a child: status %d; the parent still reads %c\n", st,
	       many[127 * PAGE_SIZE]);
	munmap_syscall(many, 128 * PAGE_SIZE);

	/* A second mapping right after m; one call over the end of m, a gap
	 * and the start of the second. */
	char *n = mmap_syscall(m + 8 * PAGE_SIZE, 4 * PAGE_SIZE, 0, 0);
	printf("second mapping adjacent: %s\n", n == m + 8 * PAGE_SIZE ? "yes" : "no");
	for (int i = 0; i < 4; i++)
		n[i * PAGE_SIZE] = 'A' + i;
	TRY("pages 1-3 again (page 2 already gone)", munmap_syscall(m + PAGE_SIZE, 3 * PAGE_SIZE));
	TRY("pages 6-9, across both", munmap_syscall(m + 6 * PAGE_SIZE, 4 * PAGE_SIZE));
	printf("what is left: page 0 %c, page 4 %c, page 5 %c, page 10 %c, page 11 %c\n", m[0],
	       m[4 * PAGE_SIZE], m[5 * PAGE_SIZE], m[10 * PAGE_SIZE], m[11 * PAGE_SIZE]);
	printf("pages 1, 7, 8, 9 in children: status %d %d %d %d\n", read_in_child(m + PAGE_SIZE),
	       read_in_child(m + 7 * PAGE_SIZE), read_in_child(m + 8 * PAGE_SIZE),
	       read_in_child(m + 9 * PAGE_SIZE));

	/* The holes are reused, lowest first, and read as zeros. */
	char *h1 = mmap_syscall(0, 3 * PAGE_SIZE, 0, 0);
	char *h2 = mmap_syscall(0, 4 * PAGE_SIZE, 0, 0);
	char *h3 = mmap_syscall(0, 4 * PAGE_SIZE, 0, 0);
	printf("3 pages go to the hole at page 1: %s, zeroed: %s\n", h1 == m + PAGE_SIZE ? "yes" : "no",
	       h1[0] == 0 && h1[PAGE_SIZE] == 0 ? "yes" : "no");
	printf("4 pages go to the hole at page 6: %s\n", h2 == m + 6 * PAGE_SIZE ? "yes" : "no");
	printf("4 more go past the second mapping: %s\n", h3 == m + 12 * PAGE_SIZE ? "yes" : "no");

	/* munmap of everything: later mmaps start from the region's start. */
	TRY("the whole mmap region", munmap_syscall((void *)MMAP_START, MMAP_END - MMAP_START));
	printf("page 0 in a child: status %d\n", read_in_child(m));
	char *fresh = mmap_syscall(0, PAGE_SIZE, 0, 0);
	printf("next mmap at the region's start: %s\n", fresh == (char *)MMAP_START ? "yes" : "no");

	/* The heap can go too; the break stays. */
	char *heap = (char *)((brk_syscall(0) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1UL));
	brk_syscall((unsigned long)heap + 2 * PAGE_SIZE);
	heap[PAGE_SIZE] = 'h';
	TRY("a heap page", munmap_syscall(heap, PAGE_SIZE));
	printf("heap page 0 in a child: status %d, page 1 here: %c, break kept: %s\n", read_in_child(heap),
	       heap[PAGE_SIZE], brk_syscall(0) == (unsigned long)heap + 2 * PAGE_SIZE ? "yes" : "no");
	return 0;
}
