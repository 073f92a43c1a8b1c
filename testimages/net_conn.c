/* A TCP connection's life over 127.0.0.1:
 *   - bind to port 0 picks a free port, which getsockname tells;
 *   - getsockname and getpeername on both ends and on the listener;
 *   - data both ways, with write/read on a socket fd as send/recv, and a
 *     short send into a large buffer received in full;
 *   - data sent just before a close still arrives, then EOF: recv returns
 *     0, and again 0;
 *   - shutdown(SHUT_WR): the peer gets EOF while the other direction still
 *     works; a send after it fails with EPIPE (SIGPIPE ignored);
 *     shutdown(SHUT_RD): recv returns 0 at once;
 *   - an fd survives fork and dup2: the connection stays open until the
 *     last fd referring to it is closed, in whichever process. */
#include <aurora.h>
#include "netcheck.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>


static const char *ip(uint32_t a)
{
	static char buf[4][20];
	static int next;
	char *b = buf[next++ % 4];
	snprintf(b, sizeof buf[0], "%u.%u.%u.%u", a & 0xFF, (a >> 8) & 0xFF, (a >> 16) & 0xFF, a >> 24);
	return b;
}

static int tcp(void) { return socket_syscall(AF_INET, SOCK_STREAM, 0); }

static uint16_t lport;

/* Connects a new client to the listener l; *server gets the accepted end. */
static int pair(int l, int *server)
{
	int c = tcp();
	if (connect_syscall(c, LOCALHOST, lport) < 0)
		printf("connect: %s\n", res(-1));
	*server = accept_syscall(l);
	return c;
}

/* Receives exactly n bytes (fewer at EOF or error). */
static long recv_n(int fd, char *buf, long n)
{
	long got = 0, r;
	while (got < n && (r = recv_syscall(fd, buf + got, n - got)) > 0)
		got += r;
	return got;
}

static void show(const char *what, int fd, long n)
{
	char buf[256];
	long got = recv_n(fd, buf, n);
	printf("%s: \"%.*s\"\n", what, (int)got, buf);
}

int main(void)
{
	/* An ephemeral port and the names of both ends. */
	int l = tcp();
	uint32_t addr = 1, peer = 0, a2 = 0;
	uint16_t port = 0, pport = 0, p2 = 0;
	printf("bind(l, 0): %s\n", res(bind_syscall(l, 0)));
	getsockname_syscall(l, &addr, &lport);
	printf("listener: %s, port chosen: %s\n", ip(addr), lport ? "yes" : "no");
	printf("listen: %s\n", res(listen_syscall(l)));
	int s, c = pair(l, &s);
	printf("connected: %s, accepted: %s\n", c >= 0 ? "yes" : "no", s >= 0 ? "yes" : "no");
	getsockname_syscall(c, &addr, &port);
	getpeername_syscall(c, &peer, &pport);
	printf("client: local %s, port ephemeral and not the listener's: %s; peer %s, the listener's port: %s\n",
	       ip(addr), port && port != lport ? "yes" : "no", ip(peer), pport == lport ? "yes" : "no");
	getsockname_syscall(s, &a2, &p2);
	printf("server end: local %s, the listener's port: %s\n", ip(a2), p2 == lport ? "yes" : "no");
	getpeername_syscall(s, &a2, &p2);
	printf("server end: peer %s, the client's port: %s\n", ip(a2), p2 == port ? "yes" : "no");

	/* Data both ways; read/write on socket fds. */
	printf("send: %s\n", res(send_syscall(c, "hello", 5)));
	show("server receives", s, 5);
	printf("write on the server end: %s\n", res(write_syscall(s, "hi there", 8)));
	char buf[256];
	long n = read_syscall(c, buf, sizeof buf);
	printf("read on the client: %ld \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
	setnonblock_syscall(c, 1);
	printf("nothing more to read: non-blocking recv %s\n", res(recv_syscall(c, buf, sizeof buf)));
	setnonblock_syscall(c, 0);

	/* Data sent right before close arrives, then EOF, and EOF again. */
	send_syscall(c, "one ", 4);
	send_syscall(c, "two ", 4);
	send_syscall(c, "three", 5);
	close_syscall(c);
	show("sent just before close", s, 13);
	printf("then recv: %s\n", res(recv_syscall(s, buf, sizeof buf)));
	printf("and again: %s\n", res(recv_syscall(s, buf, sizeof buf)));
	close_syscall(s);

	/* shutdown(SHUT_WR): half close. */
	signal_syscall(SIGPIPE, SIG_IGN);
	c = pair(l, &s);
	send_syscall(c, "request", 7);
	printf("shutdown(c, SHUT_WR): %s\n", res(shutdown_syscall(c, SHUT_WR)));
	show("server receives", s, 64);
	printf("server then sees EOF: recv %s\n", res(recv_syscall(s, buf, sizeof buf)));
	printf("server sends after the client's EOF: %s\n", res(send_syscall(s, "response", 8)));
	show("client still receives", c, 8);
	printf("client send after SHUT_WR: %s\n", res(send_syscall(c, "more", 4)));
	close_syscall(s);
	printf("client recv after the server closes: %s\n", res(recv_syscall(c, buf, sizeof buf)));
	close_syscall(c);

	/* shutdown(SHUT_RD). */
	c = pair(l, &s);
	printf("shutdown(c, SHUT_RD): %s\n", res(shutdown_syscall(c, SHUT_RD)));
	printf("client recv after SHUT_RD: %s\n", res(recv_syscall(c, buf, sizeof buf)));
	printf("client can still send: %s\n", res(send_syscall(c, "still", 5)));
	show("server receives", s, 5);
	printf("shutdown(c, SHUT_RDWR): %s\n", res(shutdown_syscall(c, SHUT_RDWR)));
	printf("server sees EOF: recv %s\n", res(recv_syscall(s, buf, sizeof buf)));
	close_syscall(c);
	close_syscall(s);
	printf("shutdown on an unconnected socket: %s\n", res(shutdown_syscall(c = tcp(), SHUT_WR)));
	close_syscall(c);

	/* fork: the child holds the server end after the parent closes its
	 * copy. The connection stays open until the child closes it. */
	c = pair(l, &s);
	int pid = fork_syscall();
	if (pid == 0) {
		close_syscall(c);
		close_syscall(l);
		long got = recv_n(s, buf, 4);
		printf("child receives on the inherited fd: \"%.*s\"\n", (int)got, buf);
		send_syscall(s, "pong from the child", 19);
		close_syscall(s);
		exit_syscall(0);
	}
	close_syscall(s);
	setnonblock_syscall(c, 1);
	printf("parent closed its copy; the client is not at EOF: recv %s\n", res(recv_syscall(c, buf, sizeof buf)));
	setnonblock_syscall(c, 0);
	send_syscall(c, "ping", 4);
	show("client receives", c, 19);
	printf("after the child's close, EOF: recv %s\n", res(recv_syscall(c, buf, sizeof buf)));
	int st = -1;
	waitpid_syscall(pid, &st);
	printf("child status %d\n", st);
	close_syscall(c);

	/* dup2: the connection lives on in the copy. */
	c = pair(l, &s);
	printf("dup2(c, 20): %s\n", res(dup2_syscall(c, 20)));
	close_syscall(c);
	printf("send on fd 20 after closing the original: %s\n", res(send_syscall(20, "via dup", 7)));
	show("server receives", s, 7);
	setnonblock_syscall(s, 1);
	printf("not at EOF: recv %s\n", res(recv_syscall(s, buf, sizeof buf)));
	setnonblock_syscall(s, 0);
	close_syscall(20);
	printf("after closing fd 20 too, EOF: recv %s\n", res(recv_syscall(s, buf, sizeof buf)));
	close_syscall(s);

	/* A send larger than one segment, received in full. */
	static char big[200000], back[200000];
	for (int i = 0; i < (int)sizeof big; i++)
		big[i] = (char)(i * 7 + i / 1000);
	c = pair(l, &s);
	pid = fork_syscall();
	if (pid == 0) {
		long sent = 0;
		while (sent < (long)sizeof big) {
			long r = send_syscall(c, big + sent, sizeof big - sent);
			if (r <= 0)
				exit_syscall(1);
			sent += r;
		}
		exit_syscall(0);
	}
	close_syscall(c);
	n = recv_n(s, back, sizeof back);
	printf("200000 bytes sent by a child: received %ld, intact: %s\n", n, memcmp(big, back, sizeof big) ? "no" : "yes");
	waitpid_syscall(pid, &st);
	printf("sending child status %d; then EOF: recv %s\n", st, res(recv_syscall(s, buf, sizeof buf)));
	return 0;
}
