/* An echo server for many clients at once: it forks WORKERS processes
 * (default 40) that share the listening socket, and each serves up to 28
 * connections with poll, echoing everything until the client closes.
 *
 *	aurora-vm run -p 7000:7000 examples/build/echod.elf [PORT [WORKERS]]
 */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_CONNS 28 /* 32 fds: stdio, the listener, and room to spare */

static void worker(int l)
{
	struct pollfd fds[1 + MAX_CONNS];
	int n = 0;
	static char buf[65536];
	for (;;) {
		fds[0] = (struct pollfd){.fd = n < MAX_CONNS ? l : -1, .events = POLLIN};
		if (poll_syscall(fds, 1 + n, -1) < 0)
			continue;
		for (int i = 1; i <= n; i++) {
			if (!fds[i].revents)
				continue;
			long got = recv_syscall(fds[i].fd, buf, sizeof buf);
			long sent = 0;
			while (got > 0 && sent < got) {
				long w = send_syscall(fds[i].fd, buf + sent, got - sent);
				if (w <= 0)
					break;
				sent += w;
			}
			if (got <= 0 || sent < got) {
				close_syscall(fds[i].fd);
				fds[i--] = fds[n--];
			}
		}
		if (fds[0].revents & POLLIN) {
			int c = accept_syscall(l);
			if (c >= 0)
				fds[++n] = (struct pollfd){.fd = c, .events = POLLIN};
		}
	}
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 7000;
	int workers = argc > 2 ? atoi(argv[2]) : 40;
	int l = socket_syscall(AF_INET, SOCK_STREAM, 0);
	if (bind_syscall(l, port) < 0 || listen_syscall(l) < 0) {
		printf("cannot listen on port %d\n", port);
		return 1;
	}
	setnonblock_syscall(l, 1); /* workers race for each connection */
	for (int i = 0; i < workers; i++)
		if (fork_syscall() == 0)
			worker(l);
	printf("listening on port %d with %d workers\n", port, workers);
	for (;;)
		waitpid_syscall(-1, 0);
}
