/* The file calls' failures: each gives -1 and the errno Linux would. */
#include <aurora.h>
#include <string.h>

#include "fs_check.h"

static char longpath[5000];

int main(void)
{
	struct stat st;
	char buf[256] __attribute__((aligned(8)));

	/* Bad and closed descriptors. */
	CHECK("fstat(-1)", fstat_syscall(-1, &st));
	CHECK("fstat(32)", fstat_syscall(32, &st));
	CHECK("lseek(9) never opened", lseek_syscall(9, 0, SEEK_SET));
	CHECK("getdents(40)", getdents_syscall(40, buf, sizeof buf));
	int fd = open_syscall("/tmp/f", O_RDWR | O_CREAT);
	CHECK("close", close_syscall(fd));
	CHECK("read closed", read_syscall(fd, buf, 1));
	CHECK("write closed", write_syscall(fd, "x", 1));
	CHECK("fstat closed", fstat_syscall(fd, &st));
	CHECK("close closed", close_syscall(fd));

	/* Missing paths. */
	CHECK("open missing", open_syscall("/tmp/nothing", O_RDONLY));
	CHECK("open in a missing directory", open_syscall("/nowhere/f", O_RDWR | O_CREAT));
	CHECK("stat missing", stat_syscall("/tmp/nothing", &st));
	CHECK("unlink missing", unlink_syscall("/tmp/nothing"));
	CHECK("mkdir in missing", mkdir_syscall("/nowhere/d"));
	CHECK("open empty path", open_syscall("", O_RDONLY));

	/* O_EXCL. */
	CHECK("O_CREAT|O_EXCL existing", open_syscall("/tmp/f", O_RDWR | O_CREAT | O_EXCL));
	CHECK("O_CREAT|O_EXCL on a directory", open_syscall("/tmp", O_RDONLY | O_CREAT | O_EXCL));
	fd = open_syscall("/tmp/g", O_WRONLY | O_CREAT | O_EXCL);
	CHECK("O_CREAT|O_EXCL new", fd);
	close_syscall(fd);

	/* A file where a directory is expected, and the other way round. */
	CHECK("open file/x", open_syscall("/tmp/f/x", O_RDONLY));
	CHECK("stat file/", stat_syscall("/tmp/f/", &st));
	CHECK("mkdir file/d", mkdir_syscall("/tmp/f/d"));
	CHECK("getdents on a file", getdents_syscall(fd = open_syscall("/tmp/f", O_RDONLY), buf, sizeof buf));
	close_syscall(fd);
	CHECK("open a directory O_WRONLY", open_syscall("/tmp", O_WRONLY));
	CHECK("open a directory O_RDWR", open_syscall("/tmp", O_RDWR));
	CHECK("O_CREAT on a directory", open_syscall("/tmp", O_RDONLY | O_CREAT));
	CHECK("unlink a directory", unlink_syscall("/tmp"));
	CHECK("unlink /", unlink_syscall("/"));
	CHECK("mkdir existing", mkdir_syscall("/tmp"));
	CHECK("mkdir over a file", mkdir_syscall("/tmp/f"));
	fd = open_syscall("/tmp", O_RDONLY);
	CHECK("read a directory", read_syscall(fd, buf, sizeof buf));
	CHECK("write a directory", write_syscall(fd, "x", 1));
	CHECK("getdents into 8 bytes", getdents_syscall(fd, buf, 8));
	CHECK("lseek a directory SEEK_END", lseek_syscall(fd, 0, SEEK_END));
	close_syscall(fd);

	/* Bad pointers. */
	CHECK("open NULL", open_syscall(0, O_RDONLY));
	CHECK("open kernel address", open_syscall((const char *)0xFFFFFF0000000000UL, O_RDONLY));
	CHECK("stat into NULL", stat_syscall("/tmp/f", 0));
	CHECK("stat into the text", stat_syscall("/tmp/f", (struct stat *)main));
	CHECK("fstat into NULL", fstat_syscall(1, 0));
	CHECK("mkdir NULL", mkdir_syscall(0));
	CHECK("unlink unmapped", unlink_syscall((const char *)0x30000000));
	fd = open_syscall("/tmp", O_RDONLY);
	CHECK("getdents into NULL", getdents_syscall(fd, 0, 100));
	CHECK("getdents into the text", getdents_syscall(fd, (void *)main, 100));
	close_syscall(fd);
	fd = open_syscall("/tmp/f", O_RDONLY);
	CHECK("read into NULL", read_syscall(fd, 0, 10));
	close_syscall(fd);

	/* Names too long: a path of 4096 bytes or more, a name over 255. */
	memset(longpath, 'a', sizeof longpath - 1);
	for (int i = 0; i < (int)sizeof longpath - 1; i += 200)
		longpath[i] = '/';
	CHECK("open a 4999-byte path", open_syscall(longpath, O_RDONLY));
	longpath[4096] = 0;
	CHECK("open a 4096-byte path", open_syscall(longpath, O_RDONLY));
	longpath[4095] = 0;
	CHECK("open a 4095-byte path", open_syscall(longpath, O_RDONLY));
	memset(longpath, 'b', 300);
	longpath[0] = '/';
	longpath[256] = 0;
	CHECK("open a 255-byte name", open_syscall(longpath, O_RDONLY));
	longpath[256] = 'b';
	longpath[300] = 0;
	CHECK("open a 299-byte name", open_syscall(longpath, O_RDONLY));
	CHECK("mkdir a 299-byte name", mkdir_syscall(longpath));

	/* Flags, modes and offsets. */
	CHECK("open O_RDONLY|O_WRONLY|O_RDWR", open_syscall("/tmp/f", 3));
	fd = open_syscall("/tmp/f", O_RDONLY);
	CHECK("write O_RDONLY", write_syscall(fd, "x", 1));
	CHECK("lseek bad whence", lseek_syscall(fd, 0, 7));
	CHECK("lseek to -1", lseek_syscall(fd, -1, SEEK_SET));
	CHECK("lseek cur -1", lseek_syscall(fd, -1, SEEK_CUR));
	CHECK("lseek end -1 of empty", lseek_syscall(fd, -1, SEEK_END));
	CHECK("offset unchanged", lseek_syscall(fd, 0, SEEK_CUR));
	close_syscall(fd);
	fd = open_syscall("/tmp/f", O_WRONLY);
	CHECK("read O_WRONLY", read_syscall(fd, buf, 1));
	close_syscall(fd);
	CHECK("lseek the console", lseek_syscall(1, 0, SEEK_CUR));

	/* A full descriptor table. */
	int n = 0, last = -1;
	for (;;) {
		int f = open_syscall("/dev/zero", O_RDONLY);
		if (f < 0) {
			printf("open failed after %d more: %s\n", n, errname(errno));
			break;
		}
		n++;
		last = f;
	}
	printf("last fd %d\n", last);
	CHECK("O_CREAT with a full table", open_syscall("/tmp/h", O_RDWR | O_CREAT));
	close_syscall(last);
	CHECK("stat /tmp/h (not made)", stat_syscall("/tmp/h", &st));
	CHECK("reopen takes the freed fd", open_syscall("/tmp/f", O_RDONLY));
	return 0;
}
