/* The file calls on the in-memory file system: create, write, read, seek,
 * stat, directories, devices. */
#include <aurora.h>
#include <string.h>

#include "fs_check.h"

static void show_stat(const char *what, struct stat *st)
{
	printf("%s: %s nlink %u size %ld\n", what, typename(st->st_mode), st->st_nlink, (long)st->st_size);
}

int main(void)
{
	struct stat st;
	char buf[64];

	list("/");
	list("/dev");
	CHECK("stat /", stat_syscall("/", &st));
	show_stat("/", &st);
	CHECK("stat /tmp", stat_syscall("/tmp", &st));
	printf("/tmp mode %o\n", st.st_mode);

	/* Create, write, read back. */
	int fd = open_syscall("/tmp/a.txt", O_RDWR | O_CREAT);
	CHECK("open /tmp/a.txt O_RDWR|O_CREAT", fd);
	CHECK("write", write_syscall(fd, "hello, file\n", 12));
	CHECK("lseek cur", lseek_syscall(fd, 0, SEEK_CUR));
	CHECK("read at end", read_syscall(fd, buf, sizeof buf));
	CHECK("lseek set 7", lseek_syscall(fd, 7, SEEK_SET));
	memset(buf, 0, sizeof buf);
	CHECK("read", read_syscall(fd, buf, sizeof buf));
	printf("read back: %s", buf);
	CHECK("fstat", fstat_syscall(fd, &st));
	show_stat("a.txt", &st);
	uint64_t ino = st.st_ino;
	CHECK("stat path", stat_syscall("/tmp/a.txt", &st));
	printf("same inode through path: %s\n", st.st_ino == ino ? "yes" : "no");
	CHECK("close", close_syscall(fd));

	/* O_APPEND writes at the end whatever the offset. */
	fd = open_syscall("/tmp/a.txt", O_WRONLY | O_APPEND);
	CHECK("open O_APPEND", fd);
	CHECK("lseek set 0", lseek_syscall(fd, 0, SEEK_SET));
	CHECK("append", write_syscall(fd, "more\n", 5));
	CHECK("offset after append", lseek_syscall(fd, 0, SEEK_CUR));
	close_syscall(fd);

	/* O_RDONLY: the whole file. */
	fd = open_syscall("/tmp/a.txt", O_RDONLY);
	memset(buf, 0, sizeof buf);
	CHECK("read all", read_syscall(fd, buf, sizeof buf));
	printf("%s", buf);
	CHECK("lseek end", lseek_syscall(fd, 0, SEEK_END));
	CHECK("lseek end -5", lseek_syscall(fd, -5, SEEK_END));
	close_syscall(fd);

	/* O_TRUNC empties it. */
	fd = open_syscall("/tmp/a.txt", O_WRONLY | O_TRUNC);
	CHECK("open O_TRUNC", fd);
	fstat_syscall(fd, &st);
	show_stat("after O_TRUNC", &st);
	close_syscall(fd);

	/* A hole: seek past the end, write, the gap reads as zeros. */
	fd = open_syscall("/tmp/hole", O_RDWR | O_CREAT);
	CHECK("lseek 1000000", lseek_syscall(fd, 1000000, SEEK_SET));
	CHECK("write past the end", write_syscall(fd, "X", 1));
	fstat_syscall(fd, &st);
	show_stat("hole", &st);
	lseek_syscall(fd, 999998, SEEK_SET);
	memset(buf, 'q', sizeof buf);
	CHECK("read across the hole's end", read_syscall(fd, buf, sizeof buf));
	printf("bytes: %d %d %c\n", buf[0], buf[1], buf[2]);
	lseek_syscall(fd, 4090, SEEK_SET);
	CHECK("read inside the hole", read_syscall(fd, buf, 10));
	int zeros = 1;
	for (int i = 0; i < 10; i++)
		zeros &= buf[i] == 0;
	printf("all zeros: %s\n", zeros ? "yes" : "no");
	close_syscall(fd);

	/* Directories. */
	CHECK("mkdir /tmp/d", mkdir_syscall("/tmp/d"));
	CHECK("mkdir /tmp/d/e", mkdir_syscall("/tmp/d/e"));
	CHECK("create /tmp/d/f", close_syscall(open_syscall("/tmp/d/f", O_WRONLY | O_CREAT)));
	CHECK("stat /tmp/d", stat_syscall("/tmp/d", &st));
	show_stat("/tmp/d", &st);
	list("/tmp/d");
	list("/tmp/d/e/../../d/./e/");
	list("tmp");
	CHECK("stat /../../tmp/d/f (.. at / stays at /)", stat_syscall("/../../tmp/d/f", &st));
	CHECK("unlink /tmp/d/f", unlink_syscall("/tmp/d/f"));
	list("/tmp/d");

	/* Devices. */
	fd = open_syscall("/dev/null", O_RDWR);
	CHECK("write /dev/null", write_syscall(fd, "gone", 4));
	CHECK("read /dev/null", read_syscall(fd, buf, sizeof buf));
	fstat_syscall(fd, &st);
	show_stat("/dev/null", &st);
	ino = st.st_ino;
	stat_syscall("/dev/null", &st);
	printf("same inode through path: %s\n", st.st_ino == ino ? "yes" : "no");
	close_syscall(fd);
	fd = open_syscall("/dev/zero", O_RDONLY);
	memset(buf, 7, sizeof buf);
	CHECK("read /dev/zero", read_syscall(fd, buf, sizeof buf));
	printf("zeroed: %s\n", buf[0] == 0 && buf[63] == 0 ? "yes" : "no");
	CHECK("write /dev/zero opened O_RDONLY", write_syscall(fd, "x", 1));
	close_syscall(fd);
	fd = open_syscall("/dev/urandom", O_RDONLY);
	uint64_t r1 = 0, r2 = 0;
	read_syscall(fd, &r1, 8);
	read_syscall(fd, &r2, 8);
	printf("urandom differs: %s\n", r1 != r2 ? "yes" : "no");
	close_syscall(fd);
	fd = open_syscall("/dev/tty", O_WRONLY);
	CHECK("write /dev/tty", write_syscall(fd, "to the console\n", 15));
	fstat_syscall(fd, &st);
	show_stat("/dev/tty", &st);
	CHECK("lseek /dev/tty", lseek_syscall(fd, 0, SEEK_SET));
	close_syscall(fd);

	/* fstat on the console. */
	CHECK("fstat 1", fstat_syscall(1, &st));
	show_stat("stdout", &st);
	CHECK("lseek 0", lseek_syscall(0, 0, SEEK_CUR));
	return 0;
}
