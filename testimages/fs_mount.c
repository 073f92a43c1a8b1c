/* A host directory mounted read-only (fs_mount.flags: -v
 * testdata/fsroot:/mnt:ro): it reads like any directory, refuses every
 * change with EROFS, and ".." at its root stays inside it. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

#include "fs_check.h"

static void cat(const char *path)
{
	char buf[256];
	int fd = open_syscall(path, O_RDONLY);
	if (fd < 0) {
		printf("cat %s: %s\n", path, errname(errno));
		return;
	}
	long n = read_syscall(fd, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	printf("%s: %s", path, buf);
	close_syscall(fd);
}

int main(void)
{
	struct stat st;
	list("/");
	list("/mnt");
	list("/mnt/sub");
	cat("/mnt/hello.txt");
	cat("mnt/sub/./nested.txt");
	CHECK("stat /mnt/hello.txt", stat_syscall("/mnt/hello.txt", &st));
	printf("  %s size %ld\n", typename(st.st_mode), (long)st.st_size);
	CHECK("stat /mnt/sub", stat_syscall("/mnt/sub", &st));
	printf("  %s\n", typename(st.st_mode));
	CHECK("stat /mnt", stat_syscall("/mnt", &st));
	printf("  %s\n", typename(st.st_mode));

	/* ".." at the mount's root stays in the mount. */
	cat("/mnt/../hello.txt");
	cat("/mnt/sub/../../../hello.txt");
	list("/mnt/sub/../..");

	/* Reading at an offset; fstat on the open file. */
	int fd = open_syscall("/mnt/sub/nested.txt", O_RDONLY);
	CHECK("lseek 14", lseek_syscall(fd, 14, SEEK_SET));
	char buf[32] = {0};
	CHECK("read", read_syscall(fd, buf, sizeof buf - 1));
	printf("  %s", buf);
	CHECK("fstat", fstat_syscall(fd, &st));
	printf("  %s size %ld\n", typename(st.st_mode), (long)st.st_size);
	CHECK("write to an O_RDONLY host file", write_syscall(fd, "x", 1));
	close_syscall(fd);

	/* Every change is refused. */
	CHECK("open O_WRONLY", open_syscall("/mnt/hello.txt", O_WRONLY));
	CHECK("open O_RDWR", open_syscall("/mnt/hello.txt", O_RDWR));
	CHECK("open O_TRUNC", open_syscall("/mnt/hello.txt", O_RDONLY | O_TRUNC));
	CHECK("create", open_syscall("/mnt/new.txt", O_WRONLY | O_CREAT));
	CHECK("mkdir", mkdir_syscall("/mnt/newdir"));
	CHECK("mkdir existing", mkdir_syscall("/mnt/sub"));
	CHECK("unlink", unlink_syscall("/mnt/hello.txt"));
	CHECK("unlink missing", unlink_syscall("/mnt/none"));
	CHECK("unlink the mount point", unlink_syscall("/mnt"));
	CHECK("open a directory for writing", open_syscall("/mnt/sub", O_WRONLY));
	CHECK("open missing", open_syscall("/mnt/none", O_RDONLY));
	CHECK("open file/x", open_syscall("/mnt/hello.txt/x", O_RDONLY));
	CHECK("stat file/", stat_syscall("/mnt/hello.txt/", &st));

	/* stdio reads it too. */
	FILE *f = fopen("/mnt/sub/nested.txt", "r");
	char line[64];
	while (fgets(line, sizeof line, f))
		printf("fgets: %s", line);
	fclose(f);
	f = fopen("/mnt/hello.txt", "a");
	printf("fopen for append: %s\n", f ? "opened" : errname(errno));

	/* The tmpfs beside it is writable as ever. */
	CHECK("create /tmp/x", close_syscall(open_syscall("/tmp/x", O_WRONLY | O_CREAT)));
	return 0;
}
