/* TCP over 127.0.0.1 inside one machine, for `make bench`: a server
 * process and a client process.
 *
 *	net_bench rr SIZE COUNT    COUNT round trips of SIZE bytes (echoed)
 *	net_bench bulk BUF BYTES   BYTES from the server, sent 64 KiB at a time,
 *	                           received through a BUF-byte buffer
 *	net_bench                  each of them, small, as the golden test runs it
 *
 * Process 1 listens on a port bind(0) chooses and forks the server, then
 * connects as the client; every byte is checked. The benchmark table runs
 * it with COUNT or BYTES and with 0 and takes the difference, so start-up
 * cancels out. `make bench` also builds this file natively against a POSIX
 * shim (internal/benchtable/native/aurora.h). */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEND_CHUNK 65536
#define PERIOD     65521 /* the bulk stream repeats with this period (a prime) */

/* The bulk stream: byte i is pat[i % PERIOD], and pat holds enough beyond
 * PERIOD that any stretch of up to 64 KiB starting at i % PERIOD is one
 * run of memory, so that both sides check with memcmp. */
static unsigned char pat[PERIOD + SEND_CHUNK];

static void make_pattern(void)
{
	for (long i = 0; i < (long)sizeof pat; i++) {
		long k = i % PERIOD;
		pat[i] = (unsigned char)(k ^ (k >> 8) ^ (k * 7 >> 3));
	}
}

static int send_all(int fd, const void *buf, long n)
{
	for (long done = 0; done < n;) {
		long r = send_syscall(fd, (const char *)buf + done, n - done);
		if (r <= 0)
			return -1;
		done += r;
	}
	return 0;
}

/* Receives exactly n bytes; fewer only at EOF or on an error. */
static long recv_all(int fd, void *buf, long n)
{
	long done = 0, r;
	while (done < n && (r = recv_syscall(fd, (char *)buf + done, n - done)) > 0)
		done += r;
	return done;
}

static void serve(int l, int rr, long size, long count)
{
	int fd = accept_syscall(l);
	close_syscall(l);
	if (fd < 0)
		exit_syscall(1);
	if (rr) {
		char *buf = malloc(size > 0 ? size : 1);
		while (recv_all(fd, buf, size) == size && size > 0)
			if (send_all(fd, buf, size) < 0)
				exit_syscall(2);
	} else {
		for (long off = 0; off < count; off += SEND_CHUNK) {
			long n = count - off < SEND_CHUNK ? count - off : SEND_CHUNK;
			if (send_all(fd, pat + off % PERIOD, n) < 0)
				exit_syscall(2);
		}
	}
	close_syscall(fd);
	exit_syscall(0);
}

/* Runs one measurement; returns 0 when every byte was right. */
static int run(int rr, long size, long count)
{
	int l = socket_syscall(AF_INET, SOCK_STREAM, 0);
	uint32_t addr;
	uint16_t port = 0;
	if (l < 0 || bind_syscall(l, 0) < 0 || listen_syscall(l) < 0 || getsockname_syscall(l, &addr, &port) < 0) {
		printf("cannot listen\n");
		return 1;
	}
	int pid = fork_syscall();
	if (pid == 0)
		serve(l, rr, size, count);
	close_syscall(l);
	int fd = socket_syscall(AF_INET, SOCK_STREAM, 0);
	if (connect_syscall(fd, IP(127, 0, 0, 1), port) < 0) {
		printf("cannot connect\n");
		return 1;
	}
	long wrong = 0, got = 0;
	char *out = malloc(size > 0 ? size : 1), *in = malloc(size > 0 ? size : 1);
	if (rr) {
		for (long i = 0; i < count; i++) {
			for (long j = 0; j < size; j++)
				out[j] = (char)(i + j);
			if (send_all(fd, out, size) < 0 || recv_all(fd, in, size) != size || memcmp(in, out, size) != 0)
				wrong++;
		}
		shutdown_syscall(fd, SHUT_WR);
		printf("rr: %ld round trips of %ld bytes, %ld wrong\n", count, size, wrong);
	} else {
		long r;
		while ((r = recv_syscall(fd, in, size)) > 0) {
			/* in pieces of at most 64 KiB, the stretch pat holds */
			for (long j = 0; j < r; j += SEND_CHUNK) {
				long n = r - j < SEND_CHUNK ? r - j : SEND_CHUNK;
				wrong += memcmp(in + j, pat + (got + j) % PERIOD, n) != 0;
			}
			got += r;
		}
		printf("bulk: %ld of %ld bytes through a %ld-byte recv buffer, %ld recvs wrong\n", got, count, size, wrong);
		wrong += got != count;
	}
	close_syscall(fd);
	free(out);
	free(in);
	int st = -1;
	waitpid_syscall(pid, &st);
	if (st != 0)
		printf("server status %d\n", st);
	return wrong != 0 || st != 0;
}

int main(int argc, char **argv)
{
	make_pattern();
	if (argc == 4 && (!strcmp(argv[1], "rr") || !strcmp(argv[1], "bulk"))) {
		long size = atol(argv[2]), count = atol(argv[3]);
		if (size < 1 || count < 0) {
			printf("SIZE must be positive, COUNT not negative\n");
			return 2;
		}
		return run(argv[1][0] == 'r', size, count);
	}
	if (argc != 1) {
		printf("usage: net_bench [rr SIZE COUNT | bulk BUF BYTES]\n");
		return 2;
	}
	int bad = run(1, 64, 100);
	bad |= run(0, 256, 65536);
	bad |= run(0, 4096, 1 << 20);
	bad |= run(0, 65536, 4 << 20);
	return bad;
}
