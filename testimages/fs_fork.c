/* One open file description, one offset: descriptors made by dup2 and by
 * fork share it; separate opens do not. The file system is shared by
 * every process. */
#include <aurora.h>
#include <string.h>

#include "fs_check.h"

static void dump(const char *path)
{
	char buf[256];
	int fd = open_syscall(path, O_RDONLY);
	long n = read_syscall(fd, buf, sizeof buf - 1);
	close_syscall(fd);
	buf[n < 0 ? 0 : n] = 0;
	printf("%s holds:\n%s", path, buf);
}

int main(void)
{
	int fd = open_syscall("/tmp/shared", O_RDWR | O_CREAT | O_TRUNC);
	CHECK("dup2 to 10", dup2_syscall(fd, 10));
	write_syscall(fd, "parent 1\n", 9);
	printf("offset through fd 10: %ld\n", lseek_syscall(10, 0, SEEK_CUR));

	/* Open in the parent; the child unlinks it. */
	int doomed = open_syscall("/tmp/doomed", O_RDWR | O_CREAT);
	write_syscall(doomed, "still here\n", 11);

	int pid = fork_syscall();
	if (pid == 0) {
		write_syscall(10, "child 1\n", 8);
		write_syscall(fd, "child 2\n", 8);
		int mine = open_syscall("/tmp/from-child", O_WRONLY | O_CREAT);
		write_syscall(mine, "made by the child\n", 18);
		unlink_syscall("/tmp/doomed");
		exit_syscall(0);
	}
	int st;
	waitpid_syscall(pid, &st);
	printf("child exited %d\n", st);
	printf("offset after the child's writes: %ld\n", lseek_syscall(fd, 0, SEEK_CUR));
	write_syscall(10, "parent 2\n", 9);
	dump("/tmp/shared");
	dump("/tmp/from-child");

	struct stat s;
	CHECK("stat /tmp/doomed", stat_syscall("/tmp/doomed", &s));
	fstat_syscall(doomed, &s);
	printf("doomed: nlink %u size %ld\n", s.st_nlink, (long)s.st_size);
	char buf[32] = {0};
	lseek_syscall(doomed, 0, SEEK_SET);
	read_syscall(doomed, buf, sizeof buf - 1);
	printf("doomed reads: %s", buf);

	/* The child moves the shared offset; the parent's own open does not move. */
	int other = open_syscall("/tmp/shared", O_RDONLY);
	pid = fork_syscall();
	if (pid == 0) {
		lseek_syscall(fd, 7, SEEK_SET);
		lseek_syscall(other, 3, SEEK_SET);
		exit_syscall(0);
	}
	waitpid_syscall(pid, 0);
	printf("shared offset after the child's lseek: %ld\n", lseek_syscall(fd, 0, SEEK_CUR));
	printf("through fd 10: %ld\n", lseek_syscall(10, 0, SEEK_CUR));
	printf("a separate open's offset: %ld (the child's copy of it is shared too)\n", lseek_syscall(other, 0, SEEK_CUR));
	int third = open_syscall("/tmp/shared", O_RDONLY);
	printf("a new open's offset: %ld\n", lseek_syscall(third, 0, SEEK_CUR));

	/* Closing one descriptor leaves the description open for the other. */
	close_syscall(fd);
	memset(buf, 0, sizeof buf);
	lseek_syscall(10, 0, SEEK_SET);
	CHECK("read through fd 10 after closing fd", read_syscall(10, buf, 8));
	printf("%s\n", buf);
	return 0;
}
