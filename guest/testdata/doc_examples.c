/* The C examples from Aurora's page on network syscalls, each wrapped in a
 * function; the bodies are as the page prints them. Compiled by
 * TestDocExamplesCompile; the socket calls only run once sockets exist. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

#define IP(a,b,c,d) ((a) | ((b)<<8) | ((c)<<16) | ((d)<<24))

void process_data(const char *buf, int n);

void socket_example(void)
{
int sockfd = socket_syscall(AF_INET, SOCK_STREAM, 0);
if (sockfd >= 0) {
    // Use socket for TCP operations
}
}

void bind_example(void)
{
int sockfd = socket_syscall(AF_INET, SOCK_STREAM, 0);
bind_syscall(sockfd, 8080);  // Bind to port 8080
}

void connect_example(void)
{
int sockfd = socket_syscall(AF_INET, SOCK_STREAM, 0);
uint32_t server_ip = IP(93, 184, 216, 34);  // example.com
int ret = connect_syscall(sockfd, server_ip, 80);
if (ret == 0) {
    // Connected successfully
    const char *request = "GET / HTTP/1.0\r\n\r\n";
    send_syscall(sockfd, request, strlen(request));
}
}

void listen_example(void)
{
int sockfd = socket_syscall(AF_INET, SOCK_STREAM, 0);
bind_syscall(sockfd, 8080);
listen_syscall(sockfd);  // Start listening on port 8080
}

void echo_server_example(void)
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

void send_example(int sockfd)
{
const char *message = "Hello, server!";
int sent = send_syscall(sockfd, message, strlen(message));
if (sent > 0) {
    printf("Sent %d bytes\n", sent);
}
}

void recv_example(int sockfd)
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

void http_get(const char *host_ip_str, uint16_t port, const char *path) {
    // Create socket
    int sockfd = socket_syscall(AF_INET, SOCK_STREAM, 0);
    if (sockfd < 0) {
        printf("socket() failed\n");
        return;
    }
    
    // Connect to server
    uint32_t server_ip = IP(93, 184, 216, 34);  // example.com
    if (connect_syscall(sockfd, server_ip, port) < 0) {
        printf("connect() failed\n");
        close_syscall(sockfd);
        return;
    }
    
    // Send HTTP request
    char request[512];
    snprintf(request, sizeof(request),
             "GET %s HTTP/1.0\r\n"
             "Host: example.com\r\n"
             "\r\n", path);
    send_syscall(sockfd, request, strlen(request));
    
    // Receive response
    char buffer[4096];
    int total = 0;
    while (1) {
        int n = recv_syscall(sockfd, buffer + total, sizeof(buffer) - total);
        if (n <= 0) break;
        total += n;
    }
    
    // Print response
    buffer[total] = '\0';
    printf("Response (%d bytes):\n%s\n", total, buffer);
    
    // Clean up
    close_syscall(sockfd);
}

void process_data(const char *buf, int n) { (void)buf; (void)n; }

int main(void) { return 0; }
