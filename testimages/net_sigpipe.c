/* Sending on a connection the peer has reset.
 *
 * The reset: the client sends 100 bytes the server end never reads; once
 * they have arrived (poll says so), the server end is closed with them
 * unread, which makes it send a reset (RST) instead of an orderly FIN.
 * The client then sends 1 KiB every 10 ms, at most 500 times:
 *   - with SIGPIPE at its default action, the process is killed: status
 *     128 + 13 = 141;
 *   - with SIGPIPE ignored, send returns -1 with errno EPIPE (a failure
 *     reporting the reset itself, ECONNRESET, may come first, as on Linux);
 *   - with SIGPIPE handled, the same, and the handler has run.
 * And recv on a reset connection returns -1 ECONNRESET. Each case runs in
 * a process of its own. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOCALHOST IP(127, 0, 0, 1)
#define PORT 7600

static const char *ename(int e)
{
	switch (e) {
	case EPIPE: return "EPIPE";
	case ECONNRESET: return "ECONNRESET";
	}
	static char other[24];
	snprintf(other, sizeof other, "errno %d", e);
	return other;
}

static int l;

/* A client fd whose peer has reset the connection. */
static int reset_connection(void)
{
	int c = socket_syscall(AF_INET, SOCK_STREAM, 0);
	connect_syscall(c, LOCALHOST, PORT);
	int s = accept_syscall(l);
	static char unread[100];
	send_syscall(c, unread, sizeof unread);
	struct pollfd p = {.fd = s, .events = POLLIN};
	poll_syscall(&p, 1, 5000);
	close_syscall(s);
	return c;
}

/* Sends until a send fails with something other than ECONNRESET; returns
 * that send's result (errno tells why). */
static long send_until_epipe(int c)
{
	static char kib[1024];
	long r = 0;
	for (int i = 0; i < 500; i++) {
		r = send_syscall(c, kib, sizeof kib);
		if (r < 0 && errno != ECONNRESET)
			break;
		sleep_syscall(10);
	}
	return r;
}

static volatile int handled;
static void on_sigpipe(int sig) { handled++; }

static void default_action(void)
{
	int c = reset_connection();
	send_until_epipe(c);
	printf("SIGPIPE at default: still alive after 500 sends\n");
	exit_syscall(0);
}

static void ignored(void)
{
	signal_syscall(SIGPIPE, SIG_IGN);
	int c = reset_connection();
	long r = send_until_epipe(c);
	printf("SIGPIPE ignored: send returned %ld %s\n", r, r < 0 ? ename(errno) : "");
	exit_syscall(0);
}

static void handled_case(void)
{
	signal_syscall(SIGPIPE, on_sigpipe);
	int c = reset_connection();
	long r = send_until_epipe(c);
	printf("SIGPIPE handled: send returned %ld %s, handler ran: %s\n", r, r < 0 ? ename(errno) : "",
	       handled ? "yes" : "no");
	exit_syscall(0);
}

static void recv_case(void)
{
	int c = reset_connection();
	char buf[16];
	long r = recv_syscall(c, buf, sizeof buf);
	printf("recv on a reset connection: %ld %s\n", r, r < 0 ? ename(errno) : "");
	exit_syscall(0);
}

static void run(const char *name, void (*body)(void))
{
	int pid = fork_syscall();
	if (pid == 0)
		body();
	int st = -1;
	waitpid_syscall(pid, &st);
	printf("%s: status %d\n", name, st);
}

int main(void)
{
	l = socket_syscall(AF_INET, SOCK_STREAM, 0);
	bind_syscall(l, PORT);
	listen_syscall(l);
	run("SIGPIPE at default", default_action);
	run("SIGPIPE ignored", ignored);
	run("SIGPIPE handled", handled_case);
	run("recv", recv_case);
	return 0;
}
