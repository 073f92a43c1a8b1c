/* Many small heap blocks: allocate, fill, check, free every other one and
 * allocate again into the holes. The optional argument sets how many
 * blocks (each up to 2 KiB); `make bench` runs it with 100000, ~100 MB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t size_of(long i) { return (size_t)(i * 7919 % 2000) + 1; }

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	unsigned char **blocks = malloc(n * sizeof *blocks);
	if (!blocks) {
		printf("no memory for %ld pointers\n", n);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		blocks[i] = malloc(size_of(i));
		if (!blocks[i]) {
			printf("malloc failed at block %ld\n", i);
			return 1;
		}
		memset(blocks[i], (int)(i & 0xff), size_of(i));
	}
	long bad = 0;
	for (long i = 0; i < n; i++)
		if (blocks[i][size_of(i) - 1] != (i & 0xff))
			bad++;
	for (long i = 0; i < n; i += 2)
		free(blocks[i]);
	unsigned long sum = 0;
	for (long i = 0; i < n; i += 2) {
		blocks[i] = malloc(size_of(i + 1));
		memset(blocks[i], 1, size_of(i + 1));
	}
	for (long i = 0; i < n; i++) {
		size_t len = i % 2 == 0 ? size_of(i + 1) : size_of(i); /* even ones were allocated again */
		sum += blocks[i][0] + blocks[i][len / 2];
	}
	for (long i = 0; i < n; i++)
		free(blocks[i]);
	free(blocks);
	printf("%ld blocks, %ld bad, checksum %lu\n", n, bad, sum);
	return 0;
}
