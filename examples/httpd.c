/* A small HTTP/1.0 server: answers every GET with a fixed page naming the
 * path asked for, forking a child per connection, and reaps children as
 * they end. Port from argv[1] (default 8080).
 *
 *	aurora-vm run -p 8080:8080 examples/build/httpd.elf
 *	curl http://127.0.0.1:8080/hello          # on the host */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void serve(int fd)
{
	char req[2048];
	int got = 0;
	while (got < (int)sizeof req - 1) {
		long n = recv_syscall(fd, req + got, sizeof req - 1 - got);
		if (n <= 0)
			break;
		got += n;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[got] = 0;
	char path[256] = "/";
	if (strncmp(req, "GET ", 4) == 0) {
		int i = 0;
		for (char *p = req + 4; *p && *p != ' ' && *p != '\r' && i < (int)sizeof path - 1; p++)
			path[i++] = *p;
		path[i] = 0;
	}
	char body[512];
	int len = snprintf(body, sizeof body, "Hello from Aurora! You asked for %s\n", path);
	char head[256];
	int hlen = snprintf(head, sizeof head,
			    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", len);
	send_syscall(fd, head, hlen);
	send_syscall(fd, body, len);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 8080;
	signal_syscall(SIGCHLD, SIG_IGN); /* children leave no zombies */
	int l = socket_syscall(AF_INET, SOCK_STREAM, 0);
	if (bind_syscall(l, port) < 0 || listen_syscall(l) < 0) {
		printf("cannot listen on port %d\n", port);
		return 1;
	}
	printf("listening on port %d\n", port);
	for (;;) {
		int c = accept_syscall(l);
		if (c < 0)
			continue;
		if (fork_syscall() == 0) {
			close_syscall(l);
			serve(c);
			close_syscall(c);
			exit_syscall(0);
		}
		close_syscall(c);
	}
}
