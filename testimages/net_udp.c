/* UDP over 127.0.0.1.
 *
 * 1. 10,000 datagrams from one process to another, every one accounted
 *    for. The sender sends windows of 100 datagrams and waits for the
 *    receiver's acknowledgement before the next window, so the receiver's
 *    buffer never overflows. Each datagram carries its sequence number,
 *    its length (8 to 507 bytes) and a payload derived from the sequence
 *    number. The first 50 windows go by sendto from a socket bound to an
 *    ephemeral port, the last 50 by send on a socket connected to the
 *    receiver (connect sets the default peer and binds a port). The
 *    receiver checks every datagram's length, payload and source (address
 *    and port from recvfrom), counts duplicates, and sends each
 *    acknowledgement with sendto to the address and port recvfrom
 *    reported. Both sides give up after 5 s without a datagram
 *    (SO_RCVTIMEO), so a lost datagram fails the test instead of hanging
 *    it. The sender reports when it has its last acknowledgement, then
 *    tells the receiver it is done; the receiver reports then.
 * 2. Datagram semantics in one process: a datagram is received whole or
 *    truncated to the buffer (the rest is dropped), zero-length datagrams,
 *    poll, non-blocking recv, send without a destination (EDESTADDRREQ), a
 *    datagram too large for UDP (EMSGSIZE), recvfrom with NULL address. */
#include <aurora.h>
#include "netcheck.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TOTAL  10000
#define WINDOW 100
#define DONE 0xFFFFFFFFu

static int dgram_len(uint32_t seq) { return 8 + seq % 500; }

static unsigned char payload(uint32_t seq, int i) { return (unsigned char)(seq * 31 + i * 7 + (seq >> 8)); }

static void build(unsigned char *buf, uint32_t seq)
{
	uint32_t len = dgram_len(seq);
	memcpy(buf, &seq, 4);
	memcpy(buf + 4, &len, 4);
	for (uint32_t i = 8; i < len; i++)
		buf[i] = payload(seq, i);
}

static int intact(const unsigned char *buf, long n, uint32_t seq)
{
	uint32_t len;
	memcpy(&len, buf + 4, 4);
	if (n != dgram_len(seq) || len != n)
		return 0;
	for (long i = 8; i < n; i++)
		if (buf[i] != payload(seq, i))
			return 0;
	return 1;
}

static void receiver(int fd, uint16_t s1port, uint16_t s2port)
{
	static unsigned char seen[TOTAL];
	static int in_window[TOTAL / WINDOW];
	unsigned char buf[2048];
	long received = 0, dups = 0, corrupt = 0, wrong_source = 0, by_sendto = 0, by_send = 0, acks = 0;
	const char *ended = "the sender said it was done";
	settimeout_syscall(fd, SO_RCVTIMEO, 5000);
	for (;;) {
		uint32_t addr = 0, seq;
		uint16_t port = 0;
		long n = recvfrom_syscall(fd, buf, sizeof buf, &addr, &port);
		if (n < 0) {
			ended = errno == EAGAIN ? "TIMED OUT" : "RECV FAILED";
			break;
		}
		if (n < 8) {
			corrupt++;
			continue;
		}
		memcpy(&seq, buf, 4);
		if (seq == DONE)
			break;
		if (seq >= TOTAL || !intact(buf, n, seq)) {
			corrupt++;
			continue;
		}
		uint16_t want_port = seq / WINDOW < TOTAL / WINDOW / 2 ? s1port : s2port;
		if (addr != LOCALHOST || port != want_port)
			wrong_source++;
		if (seen[seq]++) {
			dups++;
			continue;
		}
		received++;
		if (port == s1port)
			by_sendto++;
		else if (port == s2port)
			by_send++;
		uint32_t w = seq / WINDOW;
		if (++in_window[w] == WINDOW) {
			uint32_t ack[2] = {w, WINDOW};
			if (sendto_syscall(fd, ack, sizeof ack, addr, port) == sizeof ack)
				acks++;
		}
	}
	printf("receiver: %ld of %d datagrams received, %ld duplicates, %ld corrupt, %ld from a wrong source\n",
	       received, TOTAL, dups, corrupt, wrong_source);
	printf("receiver: %ld sent by sendto, %ld by send on the connected socket; %ld acknowledgements sent\n",
	       by_sendto, by_send, acks);
	printf("receiver: stopped because %s\n", ended);
	exit_syscall(received == TOTAL && !dups && !corrupt && !wrong_source ? 0 : 1);
}

static void sender(int s1, int s2, uint16_t rport)
{
	unsigned char buf[2048];
	long sent = 0, acked = 0, bad_acks = 0, failed_sends = 0;
	settimeout_syscall(s1, SO_RCVTIMEO, 5000);
	settimeout_syscall(s2, SO_RCVTIMEO, 5000);
	for (uint32_t w = 0; w < TOTAL / WINDOW; w++) {
		int connected = w >= TOTAL / WINDOW / 2;
		int fd = connected ? s2 : s1;
		for (uint32_t seq = w * WINDOW; seq < (w + 1) * WINDOW; seq++) {
			build(buf, seq);
			long n = connected ? send_syscall(fd, buf, dgram_len(seq))
					   : sendto_syscall(fd, buf, dgram_len(seq), LOCALHOST, rport);
			if (n == dgram_len(seq))
				sent++;
			else
				failed_sends++;
		}
		uint32_t ack[2] = {0, 0}, addr = 0;
		uint16_t port = 0;
		long n = recvfrom_syscall(fd, ack, sizeof ack, &addr, &port);
		if (n < 0) {
			printf("sender: no acknowledgement for window %u: %s\n", w, res(n));
			break;
		}
		if (n == sizeof ack && ack[0] == w && ack[1] == WINDOW && addr == LOCALHOST && port == rport)
			acked++;
		else
			bad_acks++;
	}
	printf("sender: %ld datagrams sent (%ld failed), %ld windows acknowledged by 127.0.0.1 at the receiver's port, %ld bad acknowledgements\n",
	       sent, failed_sends, acked, bad_acks);
	uint32_t done[2] = {DONE, 8};
	sendto_syscall(s1, done, sizeof done, LOCALHOST, rport);
	exit_syscall(sent == TOTAL && acked == TOTAL / WINDOW && !bad_acks ? 0 : 1);
}

static void semantics(void)
{
	int a = socket_syscall(AF_INET, SOCK_DGRAM, 0), b = socket_syscall(AF_INET, SOCK_DGRAM, 0);
	uint32_t addr = 0;
	uint16_t aport = 0, bport = 0, port = 0;
	bind_syscall(a, 0);
	bind_syscall(b, 0);
	getsockname_syscall(a, &addr, &aport);
	getsockname_syscall(b, &addr, &bport);
	settimeout_syscall(b, SO_RCVTIMEO, 5000);
	char buf[128];

	struct pollfd p = {.fd = b, .events = POLLIN};
	printf("poll with nothing queued: %s\n", res(poll_syscall(&p, 1, 0)));
	sendto_syscall(a, "0123456789", 10, LOCALHOST, bport);
	sendto_syscall(a, "next", 4, LOCALHOST, bport);
	p.revents = 0;
	int r = poll_syscall(&p, 1, 5000);
	printf("poll with datagrams queued: %d, POLLIN %s\n", r, p.revents & POLLIN ? "set" : "clear");
	long n = recv_syscall(b, buf, 4);
	printf("recv of a 10-byte datagram into 4 bytes: %ld \"%.*s\"\n", n, (int)(n > 0 ? n : 0), buf);
	n = recvfrom_syscall(b, buf, sizeof buf, NULL, NULL);
	printf("the rest is dropped; recvfrom with NULL address gets the next one: %ld \"%.*s\"\n", n,
	       (int)(n > 0 ? n : 0), buf);

	printf("sendto of a zero-length datagram: %s\n", res(sendto_syscall(a, "", 0, LOCALHOST, bport)));
	addr = 0;
	n = recvfrom_syscall(b, buf, sizeof buf, &addr, &port);
	printf("recvfrom gets it: %ld, from 127.0.0.1 at the sender's port: %s\n", n,
	       addr == LOCALHOST && port == aport ? "yes" : "no");

	setnonblock_syscall(b, 1);
	printf("non-blocking recv with nothing queued: %s\n", res(recv_syscall(b, buf, sizeof buf)));

	int c = socket_syscall(AF_INET, SOCK_DGRAM, 0);
	printf("send on an unconnected UDP socket: %s\n", res(send_syscall(c, "x", 1)));
	static char big[70000];
	printf("sendto of 70000 bytes: %s\n", res(sendto_syscall(a, big, sizeof big, LOCALHOST, bport)));
	close_syscall(a);
	close_syscall(b);
	close_syscall(c);
}

int main(void)
{
	int r = socket_syscall(AF_INET, SOCK_DGRAM, 0);
	int s1 = socket_syscall(AF_INET, SOCK_DGRAM, 0);
	int s2 = socket_syscall(AF_INET, SOCK_DGRAM, 0);
	uint32_t raddr = 1, s1addr = 1, s2addr = 1;
	uint16_t rport = 0, s1port = 0, s2port = 0;
	int ok = bind_syscall(r, 0) == 0 && bind_syscall(s1, 0) == 0;
	printf("sockets %d %d %d; receiver and sender 1 bound to port 0: %s\n", r, s1, s2, ok ? "yes" : "FAILED");
	getsockname_syscall(r, &raddr, &rport);
	getsockname_syscall(s1, &s1addr, &s1port);
	printf("receiver: getsockname 0.0.0.0: %s, ephemeral port: %s\n", raddr == 0 ? "yes" : "no",
	       rport ? "yes" : "no");
	printf("sender 1: getsockname 0.0.0.0: %s, ephemeral port: %s, differs: %s\n", s1addr == 0 ? "yes" : "no",
	       s1port ? "yes" : "no", s1port != rport ? "yes" : "no");
	printf("sender 2: connect to the receiver: %s\n", res(connect_syscall(s2, LOCALHOST, rport)));
	uint32_t paddr = 0;
	uint16_t pport = 0;
	getsockname_syscall(s2, &s2addr, &s2port);
	getpeername_syscall(s2, &paddr, &pport);
	printf("sender 2: bound by connect to 127.0.0.1: %s, port: %s; peer is the receiver: %s\n",
	       s2addr == LOCALHOST ? "yes" : "no", s2port && s2port != rport && s2port != s1port ? "yes" : "no",
	       paddr == LOCALHOST && pport == rport ? "yes" : "no");

	int rpid = fork_syscall();
	if (rpid == 0) {
		close_syscall(s1);
		close_syscall(s2);
		receiver(r, s1port, s2port);
	}
	int spid = fork_syscall();
	if (spid == 0) {
		close_syscall(r);
		sender(s1, s2, rport);
	}
	close_syscall(r);
	close_syscall(s1);
	close_syscall(s2);
	int sst = -1, rst = -1;
	waitpid_syscall(spid, &sst);
	waitpid_syscall(rpid, &rst);
	printf("sender status %d, receiver status %d\n", sst, rst);

	semantics();
	return 0;
}
