/* Non-blocking sockets and timeouts.
 *   - setnonblock: accept with nothing pending, recv with nothing to read
 *     and send into a full buffer give -1 EAGAIN; connect gives -1
 *     EINPROGRESS, then poll reports POLLOUT once it is connected; the
 *     next connect returns 0 (the outcome of the one in progress, as on
 *     Linux), and a connect after that says EISCONN; back in blocking
 *     mode, calls block again.
 *   - settimeout: SO_RCVTIMEO bounds recv and accept, SO_SNDTIMEO bounds a
 *     send into a full buffer; on expiry the call returns -1 EAGAIN, not
 *     before the time has passed (only that is printed, not how long it
 *     took). */
#include <aurora.h>
#include "netcheck.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PORT 7400

static int tcp(void) { return socket_syscall(AF_INET, SOCK_STREAM, 0); }

static char chunk[65536];

/* Fills fd's send buffer (and the peer's receive buffer, since the peer
 * does not read) in non-blocking mode: sends until EAGAIN, and again after
 * a pause, until a round adds nothing. Returns the last send's result. */
static long fill(int fd, long *total)
{
	long r = 0;
	*total = 0;
	setnonblock_syscall(fd, 1);
	for (int round = 0; round < 100; round++) {
		long added = 0;
		while ((r = send_syscall(fd, chunk, sizeof chunk)) > 0)
			added += r;
		*total += added;
		if (added == 0 && round > 0)
			break;
		sleep_syscall(50);
	}
	return r;
}

int main(void)
{
	int l = tcp();
	bind_syscall(l, PORT);
	listen_syscall(l);
	char buf[64];

	/* accept and connect. */
	printf("setnonblock(l, 1): %s\n", res(setnonblock_syscall(l, 1)));
	printf("accept with nothing pending: %s\n", res(accept_syscall(l)));
	int c = tcp();
	setnonblock_syscall(c, 1);
	printf("non-blocking connect: %s\n", res(connect_syscall(c, LOCALHOST, PORT)));
	struct pollfd p = {.fd = c, .events = POLLOUT};
	int r = poll_syscall(&p, 1, 5000);
	printf("poll for POLLOUT: %d, POLLOUT %s, POLLERR %s\n", r, p.revents & POLLOUT ? "set" : "clear",
	       p.revents & POLLERR ? "set" : "clear");
	uint32_t addr = 0;
	uint16_t port = 0;
	r = getpeername_syscall(c, &addr, &port);
	printf("getpeername: %s, the listener: %s\n", res(r), addr == LOCALHOST && port == PORT ? "yes" : "no");
	printf("connect again: %s (it reports the completed connect, as on Linux)\n",
	       res(connect_syscall(c, LOCALHOST, PORT)));
	printf("and once more: %s\n", res(connect_syscall(c, LOCALHOST, PORT)));
	p = (struct pollfd){.fd = l, .events = POLLIN};
	poll_syscall(&p, 1, 5000);
	int s = accept_syscall(l);
	printf("accept with a connection pending: %s\n", s >= 0 ? "a new fd" : res(s));

	/* recv. */
	printf("recv with nothing to read: %s\n", res(recv_syscall(c, buf, sizeof buf)));
	send_syscall(s, "data", 4);
	p = (struct pollfd){.fd = c, .events = POLLIN};
	poll_syscall(&p, 1, 5000);
	long n = recv_syscall(c, buf, sizeof buf);
	printf("recv once data is there: %ld \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);

	/* send into a full buffer. */
	long total;
	r = fill(c, &total);
	printf("send until the buffer is full: sent some: %s, then %s\n", total > 0 ? "yes" : "no", res(r));

	/* Timeouts, in blocking mode. */
	setnonblock_syscall(c, 0);
	setnonblock_syscall(s, 0);
	setnonblock_syscall(l, 0);
	printf("settimeout(c, SO_SNDTIMEO, 200): %s\n", res(settimeout_syscall(c, SO_SNDTIMEO, 200)));
	uint64_t t0 = uptime_syscall();
	long sr = send_syscall(c, chunk, sizeof chunk);
	uint64_t took = uptime_syscall() - t0;
	printf("blocking send into the full buffer: %s, not before the timeout: %s\n", res(sr),
	       took >= 150 ? "yes" : "no");
	close_syscall(c); /* discards what s never read */
	close_syscall(s);

	c = tcp();
	connect_syscall(c, LOCALHOST, PORT);
	s = accept_syscall(l);
	printf("settimeout(s, SO_RCVTIMEO, 200): %s\n", res(settimeout_syscall(s, SO_RCVTIMEO, 200)));
	t0 = uptime_syscall();
	n = recv_syscall(s, buf, sizeof buf);
	took = uptime_syscall() - t0;
	printf("recv with nothing to read: %s, not before the timeout: %s\n", res(n), took >= 150 ? "yes" : "no");
	send_syscall(c, "late", 4);
	n = recv_syscall(s, buf, sizeof buf);
	printf("recv once data is there: %ld \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
	printf("settimeout(s, SO_RCVTIMEO, 0) (none): %s\n", res(settimeout_syscall(s, SO_RCVTIMEO, 0)));
	int pid = fork_syscall();
	if (pid == 0) {
		sleep_syscall(300);
		send_syscall(c, "after 300 ms", 12);
		exit_syscall(0);
	}
	n = recv_syscall(s, buf, sizeof buf);
	printf("recv without a timeout waits for data: %ld \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
	int st = -1;
	waitpid_syscall(pid, &st);

	printf("settimeout(l, SO_RCVTIMEO, 100): %s\n", res(settimeout_syscall(l, SO_RCVTIMEO, 100)));
	t0 = uptime_syscall();
	r = accept_syscall(l);
	took = uptime_syscall() - t0;
	printf("accept with nothing pending: %s, not before the timeout: %s\n", res(r), took >= 75 ? "yes" : "no");
	printf("settimeout with a bad which (7): %ld\n", (long)settimeout_syscall(l, 7, 100));
	close_syscall(c);
	close_syscall(s);
	close_syscall(l);
	return 0;
}
