/* Many TCP connections at once, each echoing a stream whose every byte is
 * checked.
 *
 *	net_stress [CONNS [BYTES [PER_PROC]]]	(defaults 8, 65536, 4)
 *
 * Process 1 listens on port 7200 (clients connect to 127.0.0.1) and forks
 * a server process, which accepts CONNS connections and forks a child per
 * connection that echoes until EOF, then reaps its children and exits with
 * the number that failed.
 * The clients are processes of their own, each driving PER_PROC
 * connections (at most 28) through non-blocking sockets and poll: it
 * sends BYTES bytes on each, shuts the sending side down, and checks every
 * byte that comes back against the pattern (a function of the connection
 * number and the offset), until EOF. PER_PROC 0 gives each connection a
 * client process of its own with blocking calls instead: send a chunk,
 * receive it back, repeat. A client exits with the number of its
 * connections that failed and says why on stderr.
 *
 * The golden test runs it with the defaults; golden/net_stress_test.go
 * (and the kernel's leak test) with 200 connections of 1 MiB each. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define PORT  7200
#define CHUNK 65536
#define MAX_PER_PROC 28

static long conns, bytes, per_proc;

static uint64_t word(long conn, uint64_t index)
{
	uint64_t x = ((uint64_t)conn << 40) ^ (index * 0x9E3779B97F4A7C15ull);
	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 32;
	return x;
}

/* The stream of connection conn: n bytes from offset off into buf. */
static void pattern(long conn, uint64_t off, unsigned char *buf, long n)
{
	uint64_t w = word(conn, off >> 3);
	for (long i = 0; i < n; i++, off++) {
		if ((off & 7) == 0)
			w = word(conn, off >> 3);
		buf[i] = (unsigned char)(w >> ((off & 7) * 8));
	}
}

/* The offset of the first byte of buf that differs from the stream, or -1. */
static long mismatch(long conn, uint64_t off, const unsigned char *buf, long n)
{
	uint64_t w = word(conn, off >> 3);
	for (long i = 0; i < n; i++, off++) {
		if ((off & 7) == 0)
			w = word(conn, off >> 3);
		if (buf[i] != (unsigned char)(w >> ((off & 7) * 8)))
			return (long)off;
	}
	return -1;
}

static unsigned char out[CHUNK], in[CHUNK];

static void echo(int fd)
{
	long n;
	while ((n = recv_syscall(fd, in, sizeof in)) > 0)
		for (long done = 0; done < n;) {
			long r = send_syscall(fd, in + done, n - done);
			if (r <= 0) {
				fprintf(stderr, "server: send: %ld errno %d\n", r, errno);
				exit_syscall(1);
			}
			done += r;
		}
	if (n < 0)
		fprintf(stderr, "server: recv: errno %d\n", errno);
	close_syscall(fd);
	exit_syscall(n == 0 ? 0 : 1);
}

static void server(int listen_fd)
{
	long started = 0;
	for (long i = 0; i < conns; i++) {
		int fd = accept_syscall(listen_fd);
		if (fd < 0) {
			fprintf(stderr, "server: accept %ld: errno %d\n", i, errno);
			break;
		}
		int pid = fork_syscall();
		if (pid == 0) {
			close_syscall(listen_fd);
			echo(fd);
		}
		if (pid < 0)
			fprintf(stderr, "server: fork %ld failed\n", i);
		else
			started++;
		close_syscall(fd);
	}
	long failed = conns - started;
	for (long i = 0; i < started; i++) {
		int st = -1;
		if (waitpid_syscall(-1, &st) < 0 || st != 0)
			failed++;
	}
	exit_syscall(failed > 255 ? 255 : (int)failed);
}

static int dial(long conn)
{
	int fd = socket_syscall(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect_syscall(fd, IP(127, 0, 0, 1), PORT) < 0) {
		fprintf(stderr, "connection %ld: socket/connect: errno %d\n", conn, errno);
		return -1;
	}
	return fd;
}

/* One connection, blocking, in lock step. */
static void client_blocking(long conn)
{
	int fd = dial(conn);
	if (fd < 0)
		exit_syscall(1);
	const long step = 16384;
	for (long off = 0; off < bytes; off += step) {
		long n = bytes - off < step ? bytes - off : step;
		pattern(conn, off, out, n);
		for (long done = 0; done < n;) {
			long r = send_syscall(fd, out + done, n - done);
			if (r <= 0) {
				fprintf(stderr, "connection %ld: send at %ld: errno %d\n", conn, off + done, errno);
				exit_syscall(1);
			}
			done += r;
		}
		for (long done = 0; done < n;) {
			long r = recv_syscall(fd, in, n - done);
			long bad = r > 0 ? mismatch(conn, off + done, in, r) : 0;
			if (r <= 0 || bad >= 0) {
				fprintf(stderr, "connection %ld: recv at %ld: %ld, errno %d, mismatch at %ld\n", conn,
					off + done, r, errno, bad);
				exit_syscall(1);
			}
			done += r;
		}
	}
	shutdown_syscall(fd, SHUT_WR);
	long r = recv_syscall(fd, in, sizeof in);
	if (r != 0) {
		fprintf(stderr, "connection %ld: recv after the echo: %ld, want EOF\n", conn, r);
		exit_syscall(1);
	}
	exit_syscall(close_syscall(fd) == 0 ? 0 : 1);
}

struct conn {
	long id;
	int fd;
	long sent, rcvd;
	int done, failed;
};

/* Connections first..first+n-1, non-blocking, driven by poll. */
static void client_poll(long first, long n)
{
	struct conn c[MAX_PER_PROC];
	struct pollfd p[MAX_PER_PROC];
	int idx[MAX_PER_PROC];
	long open = 0, failed = 0;
	for (long i = 0; i < n; i++) {
		c[i] = (struct conn){.id = first + i};
		c[i].fd = dial(c[i].id);
		if (c[i].fd < 0 || setnonblock_syscall(c[i].fd, 1) < 0 ||
		    (bytes == 0 && shutdown_syscall(c[i].fd, SHUT_WR) < 0)) {
			c[i].done = c[i].failed = 1;
			continue;
		}
		open++;
	}
	while (open > 0) {
		int np = 0;
		for (long i = 0; i < n; i++) {
			if (c[i].done)
				continue;
			p[np] = (struct pollfd){.fd = c[i].fd, .events = POLLIN | (c[i].sent < bytes ? POLLOUT : 0)};
			idx[np++] = (int)i;
		}
		int r = poll_syscall(p, np, 20000);
		if (r <= 0) {
			fprintf(stderr, "client: poll over %d connections: %d errno %d\n", np, r, errno);
			break;
		}
		for (int j = 0; j < np; j++) {
			struct conn *k = &c[idx[j]];
			short ev = p[j].revents;
			if (!ev)
				continue;
			if ((ev & POLLOUT) && k->sent < bytes) {
				long m = bytes - k->sent < CHUNK ? bytes - k->sent : CHUNK;
				pattern(k->id, k->sent, out, m);
				long s = send_syscall(k->fd, out, m);
				if (s > 0) {
					k->sent += s;
					if (k->sent == bytes && shutdown_syscall(k->fd, SHUT_WR) < 0) {
						fprintf(stderr, "connection %ld: shutdown: errno %d\n", k->id, errno);
						k->failed = 1;
					}
				} else if (s == 0 || errno != EAGAIN) {
					fprintf(stderr, "connection %ld: send at %ld: %ld errno %d\n", k->id, k->sent, s, errno);
					k->failed = k->done = 1;
				}
			}
			if (!k->done && (ev & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) {
				long m = recv_syscall(k->fd, in, sizeof in);
				if (m > 0) {
					long bad = mismatch(k->id, k->rcvd, in, m);
					if (bad >= 0 || k->rcvd + m > k->sent) {
						fprintf(stderr, "connection %ld: %ld bytes at %ld: mismatch at %ld (sent %ld)\n",
							k->id, m, k->rcvd, bad, k->sent);
						k->failed = k->done = 1;
					}
					k->rcvd += m;
				} else if (m == 0) {
					k->done = 1;
					if (k->rcvd != bytes) {
						fprintf(stderr, "connection %ld: EOF after %ld of %ld bytes\n", k->id, k->rcvd,
							bytes);
						k->failed = 1;
					}
				} else if (errno != EAGAIN) {
					fprintf(stderr, "connection %ld: recv at %ld: errno %d\n", k->id, k->rcvd, errno);
					k->failed = k->done = 1;
				}
			}
			if (k->done) {
				close_syscall(k->fd);
				open--;
			}
		}
	}
	for (long i = 0; i < n; i++)
		failed += c[i].failed || !c[i].done;
	exit_syscall((int)failed);
}

int main(int argc, char **argv)
{
	conns = argc > 1 ? atol(argv[1]) : 8;
	bytes = argc > 2 ? atol(argv[2]) : 65536;
	per_proc = argc > 3 ? atol(argv[3]) : 4;
	if (conns < 1 || bytes < 0 || per_proc < 0 || per_proc > MAX_PER_PROC) {
		fprintf(stderr, "usage: net_stress [CONNS [BYTES [PER_PROC (0-%d)]]]\n", MAX_PER_PROC);
		return 2;
	}
	if (per_proc)
		printf("%ld connections x %ld bytes, up to %ld per client process (poll)\n", conns, bytes, per_proc);
	else
		printf("%ld connections x %ld bytes, one per client process (blocking)\n", conns, bytes);

	int listen_fd = socket_syscall(AF_INET, SOCK_STREAM, 0);
	if (bind_syscall(listen_fd, PORT) < 0 || listen_syscall(listen_fd) < 0) {
		printf("cannot listen on port %d: errno %d\n", PORT, errno);
		return 1;
	}
	int server_pid = fork_syscall();
	if (server_pid == 0)
		server(listen_fd);
	close_syscall(listen_fd);

	long group = per_proc ? per_proc : 1, failed = 0;
	long nprocs = (conns + group - 1) / group;
	int *pids = malloc(nprocs * sizeof *pids);
	for (long g = 0; g < nprocs; g++) {
		long first = g * group, n = conns - first < group ? conns - first : group;
		pids[g] = fork_syscall();
		if (pids[g] == 0) {
			if (per_proc)
				client_poll(first, n);
			client_blocking(first);
		}
		if (pids[g] < 0) {
			fprintf(stderr, "fork of the client for connections %ld..%ld failed\n", first, first + n - 1);
			failed += n;
		}
	}
	for (long g = 0; g < nprocs; g++) {
		int st = -1;
		if (pids[g] > 0 && (waitpid_syscall(pids[g], &st) != pids[g] || st != 0)) {
			long n = conns - g * group < group ? conns - g * group : group;
			failed += st < 0 || st > n ? n : st;
		}
	}
	int st = -1;
	if (failed > 0)
		kill_syscall(server_pid, SIGKILL); /* it may wait for connections never made */
	waitpid_syscall(server_pid, &st);
	long intact = conns - failed < 0 ? 0 : conns - failed;
	printf("clients: %ld of %ld connections intact, %ld bytes echoed and checked\n", intact, conns, intact * bytes);
	printf("server: %ld connections echoed until EOF, failures %d\n", conns, st);
	return intact == conns && st == 0 ? 0 : 1;
}
