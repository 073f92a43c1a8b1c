/* Heap and mappings: malloc over brk, realloc, calloc, big blocks, mmap and
 * munmap with the addresses Aurora documents. */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	unsigned long start = brk_syscall(0);
	printf("initial break %#lx\n", start);
	unsigned long grown = brk_syscall(start + 3 * PAGE_SIZE + 5);
	printf("grown break %#lx\n", grown - start);
	memset((void *)start, 0x5a, 3 * PAGE_SIZE + 5);
	printf("outside the heap region: %#lx\n", brk_syscall(0x1000));
	printf("shrunk break %#lx\n", brk_syscall(start + PAGE_SIZE) - start);

	long sum = 0;
	char *blocks[100];
	for (int i = 0; i < 100; i++) {
		blocks[i] = malloc(i * 37 + 1);
		memset(blocks[i], i, i * 37 + 1);
	}
	for (int i = 0; i < 100; i += 2)
		free(blocks[i]);
	for (int i = 1; i < 100; i += 2)
		sum += blocks[i][i * 37];
	printf("malloc sum %ld\n", sum);

	int *v = calloc(1000, sizeof(int));
	int zero = 1;
	for (int i = 0; i < 1000; i++)
		zero &= v[i] == 0;
	printf("calloc zeroed: %s\n", zero ? "yes" : "no");
	for (int i = 0; i < 1000; i++)
		v[i] = i;
	v = realloc(v, 100000 * sizeof(int));
	printf("realloc kept: %d %d\n", v[0], v[999]);
	free(v);

	char *big = malloc(8 << 20);
	big[0] = 1;
	big[(8 << 20) - 1] = 2;
	printf("8 MiB block ends: %d %d\n", big[0], big[(8 << 20) - 1]);
	free(big);

	char *m = mmap_syscall(0, 10000, 0, 0);
	printf("mmap in region: %s, page aligned: %s\n",
	       (unsigned long)m >= MMAP_START && (unsigned long)m < MMAP_END ? "yes" : "no",
	       ((unsigned long)m & (PAGE_SIZE - 1)) == 0 ? "yes" : "no");
	m[0] = 'a';
	m[10000 - 1] = 'z';
	printf("mmap bytes: %c %c, rest zero: %s\n", m[0], m[9999], m[5000] == 0 ? "yes" : "no");
	char *fixed = mmap_syscall((void *)0x50000000, PAGE_SIZE, 0, 0);
	printf("fixed mmap at %p\n", fixed);
	printf("overlapping fixed mmap: %p\n", mmap_syscall((void *)0x50000000, PAGE_SIZE, 0, 0));
	printf("munmap: %d\n", munmap_syscall(m, 10000));
	printf("munmap unaligned: %d\n", munmap_syscall(fixed + 1, PAGE_SIZE));
	printf("munmap zero length: %d\n", munmap_syscall(fixed, 0));
	char *again = mmap_syscall(0, PAGE_SIZE, 0, 0);
	printf("freed range reused: %s, zeroed: %s\n", again == m ? "yes" : "no", again[0] == 0 ? "yes" : "no");
	printf("huge mmap: %p\n", mmap_syscall(0, 1UL << 40, 0, 0));
	return 0;
}
