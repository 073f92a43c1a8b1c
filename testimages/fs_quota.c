/* The tmpfs quota (--tmpfs-size 64K in fs_quota.flags): a write that does
 * not fit writes what fits, the next fails with ENOSPC, and space comes
 * back when a file's last name and descriptor are gone. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

#include "fs_check.h"

static char block[40 * 1024];

int main(void)
{
	memset(block, 'q', sizeof block);
	int a = open_syscall("/tmp/a", O_RDWR | O_CREAT);
	CHECK("write 40K to a", write_syscall(a, block, sizeof block));
	int b = open_syscall("/tmp/b", O_RDWR | O_CREAT);
	CHECK("write 40K to b (24K fit)", write_syscall(b, block, sizeof block));
	CHECK("write 1 more byte to b", write_syscall(b, "x", 1));
	CHECK("create c (empty files are free)", open_syscall("/tmp/c", O_RDWR | O_CREAT));
	CHECK("mkdir (directories are free)", mkdir_syscall("/tmp/d"));
	CHECK("rewrite a's first page in place", (lseek_syscall(a, 0, SEEK_SET), write_syscall(a, "new", 3)));

	/* a is unlinked but still open: its pages stay taken. */
	CHECK("unlink a", unlink_syscall("/tmp/a"));
	CHECK("write to b with a open", write_syscall(b, "x", 1));
	struct stat st;
	fstat_syscall(a, &st);
	printf("a: nlink %u size %ld\n", st.st_nlink, (long)st.st_size);
	char buf[4];
	lseek_syscall(a, 0, SEEK_SET);
	CHECK("read unlinked a", read_syscall(a, buf, 3));
	printf("a starts with %.3s\n", buf);
	CHECK("close a", close_syscall(a));
	CHECK("write 16K to b after a's last close", write_syscall(b, block, 16 * 1024));

	/* A hole is free; only the page written costs. */
	CHECK("truncate b", close_syscall(open_syscall("/tmp/b", O_WRONLY | O_TRUNC)));
	int h = open_syscall("/tmp/hole", O_RDWR | O_CREAT);
	CHECK("seek to 1 GiB", lseek_syscall(h, 1L << 30, SEEK_SET));
	CHECK("write there", write_syscall(h, "end", 3));
	fstat_syscall(h, &st);
	printf("hole size %ld\n", (long)st.st_size);
	CHECK("write 60K more to b", write_syscall(b, block, 30 * 1024) + write_syscall(b, block, 30 * 1024));
	CHECK("and then", write_syscall(b, "x", 1));

	/* stdio: fwrite falls short and the stream's error flag is set. */
	close_syscall(b);
	unlink_syscall("/tmp/b");
	FILE *f = fopen("/tmp/s", "w");
	size_t total = 0;
	for (int i = 0; i < 100; i++)
		total += fwrite(block, 1, 1000, f);
	printf("fwrite accepted %zu of 100000 bytes, ferror %d\n", total, ferror(f) != 0);
	int r = fclose(f);
	printf("fclose = %d (%s)\n", r, r ? errname(errno) : "ok");
	return 0;
}
