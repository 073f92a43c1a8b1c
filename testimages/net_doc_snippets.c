/* The socket, bind and listen examples of Aurora's network page, as the
 * page prints them, each run in a process of its own (fds 0-2 open, so the
 * example's socket is fd 3), followed by checks of what it did:
 *   - socket: the example's socket holds fd 3, the next socket gets fd 4;
 *   - bind: fd 3 holds port 8080, and another socket cannot bind it (the
 *     page says Aurora has no conflict detection; aurora-vm refuses a bound
 *     port with EADDRINUSE, as Linux does);
 *   - listen: fd 3 listens on 8080: a connect to 127.0.0.1:8080 completes
 *     and accept on fd 3 returns it.
 * Each process ends with exit, which closes its sockets and frees the port
 * for the next one. */
#include <aurora.h>
#include "netcheck.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The page's socket example, unchanged. */
static void socket_example(void)
{
int sockfd = socket_syscall(AF_INET, SOCK_STREAM, 0);
if (sockfd >= 0) {
    // Use socket for TCP operations
}
}

/* The page's bind example, unchanged. */
static void bind_example(void)
{
int sockfd = socket_syscall(AF_INET, SOCK_STREAM, 0);
bind_syscall(sockfd, 8080);  // Bind to port 8080
}

/* The page's listen example, unchanged. */
static void listen_example(void)
{
int sockfd = socket_syscall(AF_INET, SOCK_STREAM, 0);
bind_syscall(sockfd, 8080);
listen_syscall(sockfd);  // Start listening on port 8080
}

static void after_socket(void)
{
	printf("socket example: the next socket gets fd %d\n", socket_syscall(AF_INET, SOCK_STREAM, 0));
}

static void after_bind(void)
{
	uint32_t addr = 1;
	uint16_t port = 0;
	int r = getsockname_syscall(3, &addr, &port);
	printf("bind example: getsockname(3) %d: %u.%u.%u.%u:%u\n", r, addr & 0xFF, (addr >> 8) & 0xFF,
	       (addr >> 16) & 0xFF, addr >> 24, port);
	int fd = socket_syscall(AF_INET, SOCK_STREAM, 0);
	r = bind_syscall(fd, 8080);
	printf("bind example: another socket (fd %d) binding 8080: %s\n", fd, res(r));
}

static void after_listen(void)
{
	int fd = socket_syscall(AF_INET, SOCK_STREAM, 0);
	int r = connect_syscall(fd, IP(127, 0, 0, 1), 8080);
	printf("listen example: connect (fd %d) to 127.0.0.1:8080: %s\n", fd, res(r));
	int conn = accept_syscall(3);
	printf("listen example: accept on fd 3: fd %d\n", conn);
	const char msg[] = "through the example's listener";
	send_syscall(fd, msg, sizeof msg - 1);
	char buf[64];
	long got = 0, n;
	while (got < (long)sizeof msg - 1 && (n = recv_syscall(conn, buf + got, sizeof buf - 1 - got)) > 0)
		got += n;
	printf("listen example: accepted connection received \"%.*s\"\n", (int)got, buf);
}

static void run(const char *name, void (*example)(void), void (*check)(void))
{
	int pid = fork_syscall();
	if (pid == 0) {
		example();
		check();
		exit_syscall(0);
	}
	int st = -1;
	waitpid_syscall(pid, &st);
	printf("%s example: process exit status %d\n", name, st);
}

int main(void)
{
	run("socket", socket_example, after_socket);
	run("bind", bind_example, after_bind);
	run("listen", listen_example, after_listen);
	return 0;
}
