/* poll over sockets.
 *   - A listening socket is readable when a connection is pending: poll
 *     with timeout 0 returns 0 before, a timeout of 100 ms returns 0 once
 *     the time has passed, and 1 with POLLIN once a client has connected.
 *   - A connected socket with nothing to read is writable only; with data
 *     it is readable too; at the peer's close it is readable (recv gives
 *     EOF).
 *   - A closed fd gets POLLNVAL; a negative fd is skipped.
 *   - One process serving several clients at once with poll: the server
 *     (a forked process) polls its listener and every connection, accepts,
 *     answers each line it receives and closes at EOF. Five client
 *     processes connect together, each sends two lines, one after the
 *     answer to the other, and checks the answers; each exits 0 when they
 *     were right. The server asks for no events on a connection (events
 *     0) until all five have come, so that it serves all five at once. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOCALHOST IP(127, 0, 0, 1)
#define PORT 7500
#define CLIENTS 5

static int tcp(void) { return socket_syscall(AF_INET, SOCK_STREAM, 0); }

static const char *events(short ev)
{
	static char buf[4][64];
	static int next;
	char *b = buf[next++ % 4];
	b[0] = 0;
	static const struct {
		short bit;
		const char *name;
	} names[] = {{POLLIN, "POLLIN"}, {POLLPRI, "POLLPRI"}, {POLLOUT, "POLLOUT"},
		     {POLLERR, "POLLERR"}, {POLLHUP, "POLLHUP"}, {POLLNVAL, "POLLNVAL"}};
	for (int i = 0; i < 6; i++)
		if (ev & names[i].bit) {
			if (b[0])
				strcat(b, "|");
			strcat(b, names[i].name);
		}
	return b[0] ? b : "0";
}

/* A server that multiplexes: answers "hello, NAME" to "NAME\n" lines and
 * closes each connection at EOF; exits once CLIENTS connections have come
 * and gone, with the number of lines it answered. */
static void server(int l)
{
	struct pollfd p[1 + CLIENTS];
	char pending[1 + CLIENTS][64];
	int len[1 + CLIENTS];
	int n = 1, accepted = 0, closed = 0, lines = 0, most = 0;
	p[0] = (struct pollfd){.fd = l, .events = POLLIN};
	while (closed < CLIENTS) {
		if (poll_syscall(p, n, 10000) <= 0)
			exit_syscall(200);
		for (int i = n - 1; i >= 1; i--) {
			if (!p[i].revents)
				continue;
			long r = recv_syscall(p[i].fd, pending[i] + len[i], sizeof pending[i] - len[i]);
			if (r > 0) {
				len[i] += r;
				char *nl;
				while ((nl = memchr(pending[i], '\n', len[i])) != NULL) {
					char reply[80];
					int k = (int)(nl - pending[i]);
					int m = snprintf(reply, sizeof reply, "hello, %.*s\n", k, pending[i]);
					send_syscall(p[i].fd, reply, m);
					lines++;
					len[i] -= k + 1;
					memmove(pending[i], nl + 1, len[i]);
				}
				continue;
			}
			close_syscall(p[i].fd);
			closed++;
			p[i] = p[n - 1];
			len[i] = len[n - 1];
			memcpy(pending[i], pending[n - 1], sizeof pending[i]);
			n--;
		}
		if (p[0].revents & POLLIN) {
			int fd = accept_syscall(l);
			if (fd >= 0 && accepted < CLIENTS) {
				/* Connections are only read once all have come. */
				p[n] = (struct pollfd){.fd = fd, .events = 0};
				len[n++] = 0;
				if (++accepted == CLIENTS)
					for (int i = 1; i < n; i++)
						p[i].events = POLLIN;
				if (n - 1 > most)
					most = n - 1;
			}
		}
	}
	exit_syscall(lines + (most == CLIENTS ? 100 : 0));
}

static int expect(int fd, const char *want)
{
	char buf[64];
	long got = 0, r, n = (long)strlen(want);
	while (got < n && (r = recv_syscall(fd, buf + got, n - got)) > 0)
		got += r;
	return got == n && memcmp(buf, want, n) == 0;
}

static void client(int i)
{
	static const char *names[CLIENTS] = {"ada", "brian", "claude", "dennis", "edsger"};
	char line[32], want[48];
	int fd = tcp();
	if (connect_syscall(fd, LOCALHOST, PORT) < 0)
		exit_syscall(1);
	snprintf(line, sizeof line, "%s\n", names[i]);
	snprintf(want, sizeof want, "hello, %s\n", names[i]);
	send_syscall(fd, line, strlen(line));
	if (!expect(fd, want))
		exit_syscall(2);
	snprintf(line, sizeof line, "%s again\n", names[i]);
	snprintf(want, sizeof want, "hello, %s again\n", names[i]);
	send_syscall(fd, line, strlen(line));
	if (!expect(fd, want))
		exit_syscall(3);
	close_syscall(fd);
	exit_syscall(0);
}

int main(void)
{
	int l = tcp();
	bind_syscall(l, PORT);
	listen_syscall(l);
	struct pollfd p[3];

	p[0] = (struct pollfd){.fd = l, .events = POLLIN};
	printf("listener, nothing pending, timeout 0: %d\n", poll_syscall(p, 1, 0));
	uint64_t t0 = uptime_syscall();
	int r = poll_syscall(p, 1, 100);
	printf("listener, nothing pending, timeout 100 ms: %d, not before the timeout: %s\n", r,
	       uptime_syscall() - t0 >= 90 ? "yes" : "no");
	int c = tcp();
	connect_syscall(c, LOCALHOST, PORT);
	r = poll_syscall(p, 1, -1);
	printf("listener, a client connected: %d, revents %s\n", r, events(p[0].revents));
	int s = accept_syscall(l);
	p[0].revents = 0;
	printf("listener after the accept, timeout 0: %d\n", poll_syscall(p, 1, 0));

	p[0] = (struct pollfd){.fd = s, .events = POLLIN | POLLOUT};
	p[1] = (struct pollfd){.fd = c, .events = POLLIN | POLLOUT};
	r = poll_syscall(p, 2, 0);
	printf("both ends, nothing sent: %d, revents %s and %s\n", r, events(p[0].revents), events(p[1].revents));
	send_syscall(c, "x", 1);
	p[0].events = POLLIN;
	r = poll_syscall(p, 1, 5000);
	printf("server end, POLLIN asked, after the client sent: %d, revents %s\n", r, events(p[0].revents));
	char buf[16];
	recv_syscall(s, buf, sizeof buf);
	r = poll_syscall(p, 1, 0);
	printf("server end, once read: %d\n", r);

	p[0] = (struct pollfd){.fd = 20, .events = POLLIN};
	p[1] = (struct pollfd){.fd = -1, .events = POLLIN};
	p[2] = (struct pollfd){.fd = s, .events = POLLIN};
	r = poll_syscall(p, 3, 0);
	printf("closed fd 20, fd -1, idle server end: %d, revents %s, %s, %s\n", r, events(p[0].revents),
	       events(p[1].revents), events(p[2].revents));

	close_syscall(c);
	p[0] = (struct pollfd){.fd = s, .events = POLLIN};
	r = poll_syscall(p, 1, 5000);
	printf("server end after the client closed: %d, POLLIN %s; recv %ld\n", r, p[0].revents & POLLIN ? "set" : "clear",
	       (long)recv_syscall(s, buf, sizeof buf));
	close_syscall(s);

	/* One process, several clients. */
	int server_pid = fork_syscall();
	if (server_pid == 0)
		server(l);
	close_syscall(l);
	int pids[CLIENTS];
	for (int i = 0; i < CLIENTS; i++)
		if ((pids[i] = fork_syscall()) == 0)
			client(i);
	for (int i = 0; i < CLIENTS; i++) {
		int st = -1;
		waitpid_syscall(pids[i], &st);
		printf("client %d: status %d\n", i, st);
	}
	int st = -1;
	waitpid_syscall(server_pid, &st);
	printf("server: answered %d lines, had all %d connections at once: %s\n", st % 100, CLIENTS,
	       st >= 100 && st < 200 ? "yes" : "no");
	return 0;
}
