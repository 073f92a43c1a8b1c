/* The HTTP client of Aurora's network page ("Complete Example - HTTP
 * Client") and its connect example, as the page prints them. Both are
 * hard-wired to 93.184.216.34:80 (example.com). The VM has no network
 * device yet, so that address is unreachable: connect must fail promptly
 * (-1 at once, not after the 30 s connect timeout), and http_get takes
 * its failure path and prints "connect() failed". When a network device
 * maps that address to a server on the host, this image's expected output
 * changes to the server's response. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

/* The page's connect example, unchanged. */
static void connect_example(void)
{
#define IP(a,b,c,d) ((a) | ((b)<<8) | ((c)<<16) | ((d)<<24))

int sockfd = socket_syscall(AF_INET, SOCK_STREAM, 0);
uint32_t server_ip = IP(93, 184, 216, 34);  // example.com
int ret = connect_syscall(sockfd, server_ip, 80);
if (ret == 0) {
    // Connected successfully
    const char *request = "GET / HTTP/1.0\r\n\r\n";
    send_syscall(sockfd, request, strlen(request));
}
}

/* The page's HTTP client, unchanged. */
#define IP(a,b,c,d) ((a) | ((b)<<8) | ((c)<<16) | ((d)<<24))

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

int main(void)
{
	uint64_t t0 = uptime_syscall();
	connect_example();
	printf("connect example returned %s\n", uptime_syscall() - t0 < 5000 ? "promptly" : "LATE");
	t0 = uptime_syscall();
	http_get("93.184.216.34", 80, "/");
	printf("http_get returned %s\n", uptime_syscall() - t0 < 5000 ? "promptly" : "LATE");
	return 0;
}
