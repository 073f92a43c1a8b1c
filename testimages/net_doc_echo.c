/* The echo server of Aurora's network page ("Example - Simple Echo
 * Server"), as the page prints it, runs in a forked process on port 9999.
 * Client processes, one after another, go through the page's client
 * lifecycle, socket() -> connect() -> send()/recv() -> close(), with the
 * page's send example and its recv loop, both as printed; process_data is
 * the user's function the loop calls, here printing what came back.
 *
 * The server forks a child per client that echoes one recv of up to 256
 * bytes and closes, so each client receives its message and then EOF
 * (recv returns 0). The server itself loops for ever: when the clients
 * are done, process 1 returns from main, which ends the run and kills it.
 * The server creates its own socket, so a client may find nothing
 * listening yet: it retries a refused connect with a fresh socket. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

static void process_data(const char *buf, int n)
{
	printf("process_data: %d bytes: \"%.*s\"\n", n, n, buf);
}

/* The page's echo server, unchanged. */
static void echo_server(void)
{
int listen_fd = socket_syscall(AF_INET, SOCK_STREAM, 0);
bind_syscall(listen_fd, 9999);
listen_syscall(listen_fd);

while (1) {
    int client_fd = accept_syscall(listen_fd);
    if (client_fd >= 0) {
        // Handle client in child process
        int pid = fork_syscall();
        if (pid == 0) {
            close_syscall(listen_fd);
            
            char buf[256];
            int n = recv_syscall(client_fd, buf, sizeof(buf));
            if (n > 0) {
                send_syscall(client_fd, buf, n);  // Echo back
            }
            close_syscall(client_fd);
            exit_syscall(0);
        } else {
            close_syscall(client_fd);  // Parent closes client fd
        }
    }
}
}

/* The page's send example, unchanged. */
static void send_example(int sockfd)
{
const char *message = "Hello, server!";
int sent = send_syscall(sockfd, message, strlen(message));
if (sent > 0) {
    printf("Sent %d bytes\n", sent);
}
}

/* The page's recv loop, unchanged. */
static void recv_example(int sockfd)
{
char buffer[1024];
while (1) {
    int n = recv_syscall(sockfd, buffer, sizeof(buffer));
    if (n > 0) {
        // Process n bytes of data
        process_data(buffer, n);
    } else if (n == 0) {
        // Connection closed
        break;
    } else {
        // Error
        break;
    }
}
}

/* socket() and connect() to 127.0.0.1:9999, retried for up to 10 s while
 * the server is not listening yet. */
static int connect_to_server(void)
{
	for (int try = 0; try < 1000; try++) {
		int sockfd = socket_syscall(AF_INET, SOCK_STREAM, 0);
		if (sockfd < 0)
			return -1;
		if (connect_syscall(sockfd, IP(127, 0, 0, 1), 9999) == 0)
			return sockfd;
		close_syscall(sockfd);
		sleep_syscall(10);
	}
	return -1;
}

static void client(int i)
{
	int sockfd = connect_to_server();
	if (sockfd < 0) {
		printf("client %d: could not connect\n", i);
		exit_syscall(1);
	}
	printf("client %d: connected\n", i);
	send_example(sockfd);
	recv_example(sockfd);
	printf("client %d: connection closed by the server\n", i);
	exit_syscall(close_syscall(sockfd) == 0 ? 0 : 2);
}

int main(void)
{
	int server = fork_syscall();
	if (server == 0) {
		echo_server();
		exit_syscall(3); /* not reached: the server loops for ever */
	}
	for (int i = 1; i <= 3; i++) {
		int pid = fork_syscall();
		if (pid == 0)
			client(i);
		int st = -1;
		waitpid_syscall(pid, &st);
		printf("client %d: exit status %d\n", i, st);
	}
	int alive = kill_syscall(server, 0) == 0;
	printf("the echo server is still running: %s\n", alive ? "yes" : "no");
	return 0;
}
