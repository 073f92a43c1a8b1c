/* Socket calls that must fail, and how: the result and errno (which the
 * kernel sets on every failing call; lasterror_syscall reads the same).
 *   - bind on a port another socket holds: -1 EADDRINUSE, until it closes;
 *   - a port held only by a connection in TIME_WAIT can be bound again;
 *   - listen on an unbound socket, accept on one that does not listen: -1;
 *   - connect where nothing listens (or the port is only bound): -1
 *     ECONNREFUSED, promptly;
 *   - connect on a connected socket: EISCONN; recv and getpeername on an
 *     unconnected one: ENOTCONN;
 *   - socket calls on the console (ENOTSOCK) and on a closed fd (EBADF);
 *   - sockets beyond the 32-entry fd table: EMFILE. */
#include <aurora.h>
#include "netcheck.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int tcp(void) { return socket_syscall(AF_INET, SOCK_STREAM, 0); }

static int listener(uint16_t port)
{
	int fd = tcp();
	if (bind_syscall(fd, port) < 0 || listen_syscall(fd) < 0)
		printf("cannot listen on %u: %s\n", port, res(-1));
	return fd;
}

int main(void)
{
	/* Port conflicts. */
	int a = tcp(), b = tcp();
	printf("bind(a, 7300): %s\n", res(bind_syscall(a, 7300)));
	long r = bind_syscall(b, 7300);
	int saved = errno;
	printf("bind(b, 7300) while a holds it: %s\n", res(r));
	printf("lasterror_syscall agrees with errno: %s\n", lasterror_syscall() == saved ? "yes" : "no");
	listen_syscall(a);
	printf("bind(b, 7300) while a listens on it: %s\n", res(bind_syscall(b, 7300)));
	close_syscall(a);
	printf("bind(b, 7300) once a is closed: %s\n", res(bind_syscall(b, 7300)));
	close_syscall(b);

	/* TIME_WAIT: the server side closes first, so its end of the
	 * connection waits in TIME_WAIT on port 7301 after the client
	 * closes too; then the listener closes. */
	int l = listener(7301), c = tcp();
	connect_syscall(c, IP(127, 0, 0, 1), 7301);
	int s = accept_syscall(l);
	close_syscall(s);
	char ch;
	printf("client sees the server's close: recv %s\n", res(recv_syscall(c, &ch, 1)));
	close_syscall(c);
	close_syscall(l);
	sleep_syscall(50);
	l = tcp();
	printf("bind(7301) with only a TIME_WAIT connection on it: %s\n", res(bind_syscall(l, 7301)));
	printf("listen: %s\n", res(listen_syscall(l)));
	c = tcp();
	printf("a new connection to 7301: %s\n", res(connect_syscall(c, IP(127, 0, 0, 1), 7301)));
	s = accept_syscall(l);
	printf("accepted: %s\n", s >= 0 ? "yes" : "no");
	close_syscall(s);
	close_syscall(c);
	close_syscall(l);

	/* listen and accept without the setup they need. */
	a = tcp();
	printf("listen on an unbound socket: %ld\n", (long)listen_syscall(a));
	printf("accept on a socket that does not listen: %ld\n", (long)accept_syscall(a));

	/* Refused connections. */
	uint64_t t0 = uptime_syscall();
	r = connect_syscall(a, IP(127, 0, 0, 1), 7302);
	printf("connect to 127.0.0.1:7302 where nothing listens: %s, promptly: %s\n", res(r),
	       uptime_syscall() - t0 < 5000 ? "yes" : "no");
	close_syscall(a);
	b = tcp();
	bind_syscall(b, 7303);
	a = tcp();
	printf("connect to a port bound but not listening: %s\n", res(connect_syscall(a, IP(127, 0, 0, 1), 7303)));
	close_syscall(a);
	close_syscall(b);

	/* Connected and unconnected sockets. */
	l = listener(7304);
	c = tcp();
	connect_syscall(c, IP(127, 0, 0, 1), 7304);
	printf("connect on a connected socket: %s\n", res(connect_syscall(c, IP(127, 0, 0, 1), 7304)));
	a = tcp();
	uint32_t addr;
	uint16_t port;
	printf("recv on an unconnected socket: %s\n", res(recv_syscall(a, &ch, 1)));
	printf("getpeername on an unconnected socket: %s\n", res(getpeername_syscall(a, &addr, &port)));
	printf("getpeername on a listening socket: %s\n", res(getpeername_syscall(l, &addr, &port)));
	close_syscall(a);
	close_syscall(c);
	close_syscall(l);

	/* Not a socket, not an fd. */
	printf("bind on the console (fd 1): %s\n", res(bind_syscall(1, 7305)));
	printf("connect on the console (fd 1): %s\n", res(connect_syscall(1, IP(127, 0, 0, 1), 7305)));
	printf("bind on a closed fd (20): %s\n", res(bind_syscall(20, 7305)));
	printf("recv on a closed fd (20): %s\n", res(recv_syscall(20, &ch, 1)));

	/* The fd table fills up. */
	int n = 0, fd, last = -1;
	while ((fd = tcp()) >= 0) {
		n++;
		last = fd;
	}
	printf("sockets until the table is full: %d (fds 3..%d), then %s\n", n, last, res(fd));
	for (fd = 3; fd <= last; fd++)
		close_syscall(fd);
	printf("after closing them, socket gets fd %d\n", tcp());
	return 0;
}
