/* The HTTP client from Aurora's network documentation, as written there
 * (hard-wired to 93.184.216.34:80). Only main and the includes are added.
 * Run it with the address mapped to a server on the host:
 *
 *	python3 -m http.server 8000 &
 *	aurora-vm run --map 93.184.216.34:80=127.0.0.1:8000 examples/build/http_get.elf
 */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

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

int main(int argc, char **argv)
{
	http_get("93.184.216.34", 80, argc > 1 ? argv[1] : "/");
	return 0;
}
