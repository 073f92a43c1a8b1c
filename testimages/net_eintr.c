/* Signals reaching a process blocked in a socket call. A child blocks in
 * recv, accept, poll (no timeout) or send (into a full buffer) with a
 * SIGUSR1 handler installed; its parent sends SIGUSR1 every 20 ms until
 * the child reports back, so that one signal surely finds the call
 * blocked. The call returns -1 with errno EINTR, the handler has run, and
 * the socket still works afterwards: the child ignores SIGUSR1 from then
 * on, sends "interrupted" over its connection and waits for the parent's
 * answer. (The send case reports by exiting instead, its connection being
 * full.) A child blocked in recv is ended by SIGTERM or SIGKILL at their
 * default action, and its peer then sees EOF. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOCALHOST IP(127, 0, 0, 1)
#define PORT  7700
#define PORT2 7701

static const char *ename(int e)
{
	switch (e) {
	case EINTR: return "EINTR";
	case EAGAIN: return "EAGAIN";
	}
	static char other[24];
	snprintf(other, sizeof other, "errno %d", e);
	return other;
}

static volatile int usr1, chld;
static void on_usr1(int sig) { usr1++; }
static void on_chld(int sig) { chld++; }

static int l, l2;

/* waitpid, again when the SIGCHLD handler cut it short. */
static int reap(int pid)
{
	int st = -1;
	for (int i = 0; i < 100; i++)
		if (waitpid_syscall(pid, &st) == pid || errno != EINTR)
			break;
	return st;
}
static char chunk[65536];

/* The blocking calls, each on the child's end s of a connection. */
static long blocked_recv(int s)
{
	char buf[16];
	return recv_syscall(s, buf, sizeof buf);
}

static long blocked_accept(int s) { return accept_syscall(l2); }

static long blocked_poll(int s)
{
	struct pollfd p = {.fd = s, .events = POLLIN};
	return poll_syscall(&p, 1, -1);
}

static long blocked_send(int s)
{
	/* Full means three rounds 50 ms apart added nothing: the stack may
	 * still grow its buffers for a while on a loaded machine. */
	setnonblock_syscall(s, 1);
	for (int round = 0, idle = 0; round < 200 && idle < 3; round++) {
		long added = 0, r;
		while ((r = send_syscall(s, chunk, sizeof chunk)) > 0)
			added += r;
		idle = added == 0 ? idle + 1 : 0;
		sleep_syscall(50);
	}
	setnonblock_syscall(s, 0);
	return send_syscall(s, chunk, sizeof chunk);
}

static void interrupted(const char *name, long (*call)(int), int report)
{
	int c = socket_syscall(AF_INET, SOCK_STREAM, 0);
	connect_syscall(c, LOCALHOST, PORT);
	int s = accept_syscall(l);
	usr1 = chld = 0;
	int pid = fork_syscall();
	if (pid == 0) {
		close_syscall(c);
		long r = call(s);
		int e = errno;
		signal_syscall(SIGUSR1, SIG_IGN);
		printf("%s: returned %ld %s, handler ran: %s\n", name, r, r < 0 ? ename(e) : "", usr1 ? "yes" : "no");
		if (!report)
			exit_syscall(0);
		send_syscall(s, "interrupted", 11);
		char buf[16];
		long n = recv_syscall(s, buf, sizeof buf);
		printf("%s: the connection still works: received %ld \"%.*s\"\n", name, n, (int)(n > 0 ? n : 0), buf);
		exit_syscall(0);
	}
	close_syscall(s);
	int heard = 0;
	for (int i = 0; i < 500 && !chld && !heard; i++) {
		kill_syscall(pid, SIGUSR1);
		struct pollfd p = {.fd = c, .events = POLLIN};
		if (report)
			heard = poll_syscall(&p, 1, 20) == 1;
		else
			sleep_syscall(20);
	}
	if (heard) {
		char buf[16];
		recv_syscall(c, buf, 11);
		send_syscall(c, "answer", 6);
	}
	printf("%s: child status %d\n", name, reap(pid));
	close_syscall(c);
}

static void killed(int sig)
{
	int c = socket_syscall(AF_INET, SOCK_STREAM, 0);
	connect_syscall(c, LOCALHOST, PORT);
	int s = accept_syscall(l);
	int pid = fork_syscall();
	if (pid == 0) {
		close_syscall(c);
		char buf[16];
		recv_syscall(s, buf, sizeof buf);
		exit_syscall(1);
	}
	close_syscall(s);
	sleep_syscall(50);
	kill_syscall(pid, sig);
	int st = -1;
	waitpid_syscall(pid, &st);
	char buf[16];
	long n = recv_syscall(c, buf, sizeof buf);
	printf("recv killed by signal %d: child status %d, the peer's recv then returns %ld\n", sig, st, n);
	close_syscall(c);
}

int main(void)
{
	l = socket_syscall(AF_INET, SOCK_STREAM, 0);
	bind_syscall(l, PORT);
	listen_syscall(l);
	l2 = socket_syscall(AF_INET, SOCK_STREAM, 0);
	bind_syscall(l2, PORT2);
	listen_syscall(l2);
	signal_syscall(SIGUSR1, on_usr1);
	signal_syscall(SIGCHLD, on_chld);
	interrupted("recv", blocked_recv, 1);
	interrupted("accept", blocked_accept, 1);
	interrupted("poll", blocked_poll, 1);
	interrupted("send", blocked_send, 0);
	signal_syscall(SIGCHLD, SIG_DFL);
	killed(SIGTERM);
	killed(SIGKILL);
	return 0;
}
