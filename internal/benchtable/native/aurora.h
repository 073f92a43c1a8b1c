/*
 * The Aurora calls the fork and socket benchmarks use, over POSIX, so
 * that testimages/fork_loop.c, testimages/fork_heap.c and
 * testimages/net_bench.c build natively, unchanged, for the reference side
 * of `make bench`:
 *
 *	gcc -O2 -static -I internal/benchtable/native testimages/fork_loop.c
 *
 * Each call keeps Aurora's meaning: stdout is flushed first, waitpid's
 * status is the exit code or 128 + the signal, and pid <= 0 means any
 * child. Sockets are IPv4: bind takes a port in host order and binds
 * 0.0.0.0 (with SO_REUSEADDR, since Aurora lets a port held only by
 * connections in TIME_WAIT be bound again); addresses are 32-bit words in
 * network order, as IP() builds them; SOCK_DGRAM gives UDP, anything else
 * TCP.
 */
#ifndef AURORA_NATIVE_SHIM_H
#define AURORA_NATIVE_SHIM_H

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define IP(a,b,c,d) ((a) | ((b)<<8) | ((c)<<16) | ((d)<<24))

static inline int fork_syscall(void)
{
	fflush(stdout);
	return fork();
}

__attribute__((noreturn)) static inline void exit_syscall(int status)
{
	fflush(stdout);
	_exit(status & 0xFF);
}

static inline int waitpid_syscall(int pid, int *status)
{
	int st;
	fflush(stdout);
	pid = waitpid(pid > 0 ? pid : -1, &st, 0);
	if (pid > 0 && status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return pid;
}

static inline int socket_syscall(int domain, int type, int protocol)
{
	(void)domain;
	(void)protocol;
	fflush(stdout);
	return type == SOCK_DGRAM ? socket(AF_INET, SOCK_DGRAM, 0) : socket(AF_INET, SOCK_STREAM, 0);
}

static inline int bind_syscall(int fd, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = INADDR_ANY};
	int on = 1;
	fflush(stdout);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	return bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? -1 : 0;
}

static inline int listen_syscall(int fd)
{
	fflush(stdout);
	return listen(fd, 1024) < 0 ? -1 : 0;
}

static inline int accept_syscall(int fd)
{
	fflush(stdout);
	return accept(fd, NULL, NULL);
}

static inline int connect_syscall(int fd, uint32_t addr, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = addr};
	fflush(stdout);
	return connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? -1 : 0;
}

static inline long send_syscall(int fd, const void *buf, size_t n)
{
	fflush(stdout);
	return send(fd, buf, n, 0);
}

static inline long recv_syscall(int fd, void *buf, size_t n)
{
	fflush(stdout);
	return recv(fd, buf, n, 0);
}

static inline int close_syscall(int fd)
{
	fflush(stdout);
	return close(fd);
}

static inline int shutdown_syscall(int fd, int how)
{
	fflush(stdout);
	return shutdown(fd, how) < 0 ? -1 : 0;
}

static inline int sockname(int (*get)(int, struct sockaddr *, socklen_t *), int fd, uint32_t *addr, uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	memset(&sa, 0, sizeof sa);
	if (get(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	if (addr)
		*addr = sa.sin_addr.s_addr;
	if (port)
		*port = ntohs(sa.sin_port);
	return 0;
}

static inline int getsockname_syscall(int fd, uint32_t *addr, uint16_t *port)
{
	fflush(stdout);
	return sockname(getsockname, fd, addr, port);
}

static inline int getpeername_syscall(int fd, uint32_t *addr, uint16_t *port)
{
	fflush(stdout);
	return sockname(getpeername, fd, addr, port);
}

#endif
