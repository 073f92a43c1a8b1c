/* A 10 MB file written in small pieces (1000-byte writes, then 100-byte
 * fwrites through stdio) reads back identical. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

#define SIZE (10 * 1024 * 1024)

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static void fill(unsigned char *p, size_t n, long pos)
{
	for (size_t i = 0; i < n; i++) {
		long x = pos + (long)i;
		p[i] = (unsigned char)(x ^ (x >> 8) ^ (x >> 16));
	}
}

static uint64_t read_back(const char *path, long *total)
{
	static unsigned char buf[4096 + 17];
	int fd = open_syscall(path, O_RDONLY);
	uint64_t h = 0xcbf29ce484222325ULL;
	long n;
	*total = 0;
	while ((n = read_syscall(fd, buf, sizeof buf)) > 0) {
		h = fnv(h, buf, (size_t)n);
		*total += n;
	}
	close_syscall(fd);
	return h;
}

int main(void)
{
	static unsigned char chunk[1000];
	uint64_t h = 0xcbf29ce484222325ULL;
	int fd = open_syscall("/tmp/big", O_WRONLY | O_CREAT | O_TRUNC);
	long pos = 0;
	while (pos < SIZE) {
		size_t n = SIZE - pos < (long)sizeof chunk ? (size_t)(SIZE - pos) : sizeof chunk;
		fill(chunk, n, pos);
		if (write_syscall(fd, chunk, n) != (long)n) {
			printf("short write at %ld\n", pos);
			return 1;
		}
		h = fnv(h, chunk, n);
		pos += (long)n;
	}
	close_syscall(fd);
	long total;
	uint64_t back = read_back("/tmp/big", &total);
	printf("write_syscall: %ld bytes, checksum %016llx, read back %ld bytes, %s\n", pos,
	       (unsigned long long)h, total, back == h ? "identical" : "DIFFERENT");

	/* Spot checks at page boundaries. */
	fd = open_syscall("/tmp/big", O_RDONLY);
	long spots[] = {0, 4095, 4096, 1000 * 1000 - 1, SIZE - 3};
	for (int i = 0; i < 5; i++) {
		unsigned char got[3], want[3];
		lseek_syscall(fd, spots[i], SEEK_SET);
		long n = read_syscall(fd, got, 3);
		fill(want, 3, spots[i]);
		printf("at %ld: %ld bytes %s\n", spots[i], n, memcmp(got, want, (size_t)n) ? "wrong" : "right");
	}
	close_syscall(fd);

	FILE *f = fopen("/tmp/big2", "w");
	for (pos = 0; pos < SIZE; pos += 100) {
		size_t n = SIZE - pos < 100 ? (size_t)(SIZE - pos) : 100;
		fill(chunk, n, pos);
		fwrite(chunk, 1, n, f);
	}
	pos = SIZE;
	fclose(f);
	back = read_back("/tmp/big2", &total);
	printf("fwrite: %ld bytes, read back %ld bytes, %s\n", pos, total, back == h ? "identical" : "DIFFERENT");
	struct stat st;
	stat_syscall("/tmp/big2", &st);
	printf("stat size %ld\n", (long)st.st_size);
	return 0;
}
