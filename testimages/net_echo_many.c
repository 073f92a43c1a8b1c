/* Twenty clients at once, each in its own process, against an echo server
 * that forks a process per connection (as the echo server of Aurora's
 * network page does) and echoes until the client closes. Every client
 * sends five messages of different lengths and contents (up to 3 KB) and
 * checks each echo byte for byte before sending the next; its exit status
 * says which message went wrong. The server process accepts twenty
 * connections, reaps its twenty children and exits with the number that
 * failed. Process 1 reports the clients in order, then the server. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

#define CLIENTS  20
#define MESSAGES 5
#define PORT     7100

static int msg_len(int client, int m) { return 1 + (client * 37 + m * 1011) % 3000; }

static void fill(char *buf, int client, int m)
{
	int n = snprintf(buf, 32, "[client %d message %d]", client, m);
	for (int i = n; i < msg_len(client, m); i++)
		buf[i] = (char)('a' + (client * 7 + m * 3 + i) % 26);
}

static int send_all(int fd, const char *buf, long n)
{
	for (long done = 0; done < n;) {
		long r = send_syscall(fd, buf + done, n - done);
		if (r <= 0)
			return -1;
		done += r;
	}
	return 0;
}

static int recv_all(int fd, char *buf, long n)
{
	for (long done = 0; done < n;) {
		long r = recv_syscall(fd, buf + done, n - done);
		if (r <= 0)
			return -1;
		done += r;
	}
	return 0;
}

/* A server child: echo until EOF. */
static void echo(int fd)
{
	char buf[4096];
	long n;
	while ((n = recv_syscall(fd, buf, sizeof buf)) > 0)
		if (send_all(fd, buf, n) < 0)
			exit_syscall(2);
	close_syscall(fd);
	exit_syscall(n == 0 ? 0 : 1);
}

static void server(int listen_fd)
{
	for (int i = 0; i < CLIENTS; i++) {
		int fd = accept_syscall(listen_fd);
		if (fd < 0)
			exit_syscall(100 + i);
		int pid = fork_syscall();
		if (pid == 0) {
			close_syscall(listen_fd);
			echo(fd);
		}
		close_syscall(fd);
	}
	int failed = 0;
	for (int i = 0; i < CLIENTS; i++) {
		int st = -1;
		if (waitpid_syscall(-1, &st) < 0 || st != 0)
			failed++;
	}
	exit_syscall(failed);
}

static void client(int c)
{
	int fd = socket_syscall(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect_syscall(fd, IP(127, 0, 0, 1), PORT) < 0)
		exit_syscall(99);
	static char out[3100], in[3100];
	for (int m = 0; m < MESSAGES; m++) {
		int n = msg_len(c, m);
		fill(out, c, m);
		memset(in, 0, sizeof in);
		if (send_all(fd, out, n) < 0 || recv_all(fd, in, n) < 0 || memcmp(in, out, n) != 0)
			exit_syscall(10 + m);
	}
	exit_syscall(close_syscall(fd) == 0 ? 0 : 98);
}

int main(void)
{
	int listen_fd = socket_syscall(AF_INET, SOCK_STREAM, 0);
	if (bind_syscall(listen_fd, PORT) < 0 || listen_syscall(listen_fd) < 0) {
		printf("cannot listen on port %d\n", PORT);
		return 1;
	}
	int server_pid = fork_syscall();
	if (server_pid == 0)
		server(listen_fd);
	close_syscall(listen_fd);

	int pids[CLIENTS];
	for (int c = 0; c < CLIENTS; c++) {
		pids[c] = fork_syscall();
		if (pids[c] == 0)
			client(c);
	}
	int intact = 0;
	long bytes = 0;
	for (int c = 0; c < CLIENTS; c++) {
		int st = -1;
		waitpid_syscall(pids[c], &st);
		long sent = 0;
		for (int m = 0; m < MESSAGES; m++)
			sent += msg_len(c, m);
		printf("client %2d: %d messages, %4ld bytes: %s (status %d)\n", c, MESSAGES, sent,
		       st == 0 ? "echoed intact" : "FAILED", st);
		intact += st == 0;
		bytes += st == 0 ? sent : 0;
	}
	int st = -1;
	waitpid_syscall(server_pid, &st);
	printf("server: %d connections served, each by its own process until EOF: failures %d\n", CLIENTS, st);
	printf("%d of %d clients intact, %ld bytes echoed\n", intact, CLIENTS, bytes);
	return intact == CLIENTS && st == 0 ? 0 : 1;
}
