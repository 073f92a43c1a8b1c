/* Pipes within one process: bytes in order, end of file, the wrong end,
 * bad pointers, a full descriptor table, EPIPE with SIGPIPE ignored, the
 * 64 KiB capacity, what fstat and poll say about each end. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *ename(int e)
{
	switch (e) {
	case EBADF: return "EBADF";
	case EFAULT: return "EFAULT";
	case EMFILE: return "EMFILE";
	case EPIPE: return "EPIPE";
	}
	static char other[24];
	snprintf(other, sizeof other, "errno %d", e);
	return other;
}

/* show prints a call's result, and errno when it failed. */
static void show(const char *what, long r)
{
	if (r < 0)
		printf("%s: %ld %s\n", what, r, ename(errno));
	else
		printf("%s: %ld\n", what, r);
}

static int revents(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	poll_syscall(&p, 1, 0);
	return p.revents;
}

int main(void)
{
	int fds[2] = {-1, -1};
	show("pipe", pipe_syscall(fds));
	printf("read end %d, write end %d\n", fds[0], fds[1]);
	struct stat st[2];
	for (int i = 0; i < 2; i++)
		if (fstat_syscall(fds[i], &st[i]) != 0)
			st[i].st_mode = 0;
	printf("fstat: %s %o, %s %o\n", S_ISFIFO(st[0].st_mode) ? "fifo" : "not a fifo", st[0].st_mode & 0777,
	       S_ISFIFO(st[1].st_mode) ? "fifo" : "not a fifo", st[1].st_mode & 0777);

	show("write 5 bytes", write_syscall(fds[1], "hello", 5));
	show("write 7 bytes", write_syscall(fds[1], ", world", 7));
	char buf[64];
	memset(buf, 0, sizeof buf);
	show("read up to 64", read_syscall(fds[0], buf, sizeof buf));
	printf("read \"%s\"\n", buf);
	show("write 0 bytes", write_syscall(fds[1], "", 0));
	show("read 0 bytes", read_syscall(fds[0], buf, 0));

	/* The wrong end, and a pointer the kernel cannot use. */
	show("read from the write end", read_syscall(fds[1], buf, 1));
	show("write to the read end", write_syscall(fds[0], "x", 1));
	show("write from a bad pointer", write_syscall(fds[1], (void *)16, 1));
	write_syscall(fds[1], "abc", 3);
	show("read into a bad pointer", read_syscall(fds[0], (void *)16, 3));
	show("the bytes are still there", read_syscall(fds[0], buf, 3));

	/* poll: readable when there are bytes or no writer; writable while
	 * 4096 bytes fit. */
	printf("poll empty pipe: read end %#x, write end %#x\n", revents(fds[0], POLLIN), revents(fds[1], POLLOUT));
	write_syscall(fds[1], "z", 1);
	printf("poll with a byte: read end %#x\n", revents(fds[0], POLLIN));

	/* Capacity: 65536 bytes fit; the pipe is then not writable. */
	static char big[65536];
	show("write 65535 more bytes", write_syscall(fds[1], big, sizeof big - 1));
	printf("poll full pipe: write end %#x\n", revents(fds[1], POLLOUT));
	long total = 0, r;
	while (total < 65536 && (r = read_syscall(fds[0], big, sizeof big)) > 0)
		total += r;
	printf("read back %ld bytes\n", total);

	/* End of file once the only write end is closed. */
	write_syscall(fds[1], "tail", 4);
	show("close the write end", close_syscall(fds[1]));
	printf("poll, no writer: read end %#x\n", revents(fds[0], POLLIN));
	show("read the last bytes", read_syscall(fds[0], buf, sizeof buf));
	show("read at end of file", read_syscall(fds[0], buf, sizeof buf));
	show("read again", read_syscall(fds[0], buf, sizeof buf));
	show("close the read end", close_syscall(fds[0]));
	show("close it twice", close_syscall(fds[0]));

	/* No reader: with SIGPIPE ignored, write fails with EPIPE. */
	signal_syscall(SIGPIPE, SIG_IGN);
	pipe_syscall(fds);
	close_syscall(fds[0]);
	printf("poll, no reader: write end %#x\n", revents(fds[1], POLLOUT));
	show("write with no reader", write_syscall(fds[1], "x", 1));
	show("write 0 bytes with no reader", write_syscall(fds[1], "x", 0));
	close_syscall(fds[1]);

	/* Bad pointers: nothing is installed. */
	show("pipe(NULL)", pipe_syscall(NULL));
	show("pipe(read-only text)", pipe_syscall((int *)main));
	show("pipe(unmapped)", pipe_syscall((int *)0x7f000000));
	pipe_syscall(fds);
	printf("the next pipe still gets %d and %d\n", fds[0], fds[1]);
	close_syscall(fds[0]);
	close_syscall(fds[1]);

	/* A full table: 0-2 are the console, so 14 pipes take 3..30 and
	 * leave one descriptor, too few for a pipe. */
	int made = 0, last[2];
	while (pipe_syscall(last) == 0)
		made++;
	printf("pipes until the table is full: %d, then %s\n", made, ename(errno));
	close_syscall(3);
	show("with two free descriptors", pipe_syscall(fds));
	printf("the new pipe got %d and %d: the failed calls left 31 free\n", fds[0], fds[1]);
	return 0;
}
