/* The echo server from Aurora's network documentation, as written there:
 * it listens on port 9999 and forks a child per client, which echoes one
 * message back. Only main and the includes are added.
 *
 *	aurora-vm run -p 9999:9999 examples/build/echo.elf
 *	echo hello | nc -q1 127.0.0.1 9999        # on the host */
#include <aurora.h>

int main(void)
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
