/* Message queues: a ping-pong between two processes, then every error
 * case.
 *
 * The parent sends "ping N" to its child, which answers "pong N" to its
 * parent (getppid), 100 times; messages arrive whole and in order. Then:
 * a message to a pid that does not exist, or to a zombie, fails with
 * ESRCH; one over 256 bytes with EINVAL; one from a bad pointer with
 * EFAULT; a message longer than the receiver's buffer fails with E2BIG and
 * stays queued; an empty message is a message of length 0; a bad receive
 * buffer fails with EFAULT and leaves the message queued. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *ename(int e)
{
	switch (e) {
	case ESRCH: return "ESRCH";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case E2BIG: return "E2BIG";
	}
	static char other[24];
	snprintf(other, sizeof other, "errno %d", e);
	return other;
}

static void show(const char *what, long r)
{
	if (r < 0)
		printf("%s: %ld %s\n", what, r, ename(errno));
	else
		printf("%s: %ld\n", what, r);
}

int main(void)
{
	int child = fork_syscall();
	if (child == 0) {
		int parent = getppid_syscall();
		char msg[MSG_MAX];
		for (;;) {
			int n = msgrcv_syscall(msg, sizeof msg);
			if (n == 4 && !memcmp(msg, "quit", 4))
				exit_syscall(0);
			if (n < 6 || memcmp(msg, "ping ", 5) != 0)
				exit_syscall(1);
			int k = atoi(msg + 5);
			char reply[32];
			int m = snprintf(reply, sizeof reply, "pong %d", k);
			msgsnd_syscall(parent, reply, m + 1);
		}
	}
	int wrong = 0;
	for (int i = 0; i < 100; i++) {
		char msg[32], want[32], got[MSG_MAX];
		int n = snprintf(msg, sizeof msg, "ping %d", i);
		snprintf(want, sizeof want, "pong %d", i);
		if (msgsnd_syscall(child, msg, n + 1) != 0)
			wrong++;
		int m = msgrcv_syscall(got, sizeof got);
		if (m != (int)strlen(want) + 1 || strcmp(got, want) != 0)
			wrong++;
	}
	printf("100 ping-pongs, %d wrong\n", wrong);
	msgsnd_syscall(child, "quit", 4);
	int st = -1;
	waitpid_syscall(child, &st);
	printf("the child ended with status %d\n", st);

	/* Errors on send. */
	static char big[MSG_MAX + 1];
	show("msgsnd to pid 9999", msgsnd_syscall(9999, "x", 1));
	show("msgsnd to pid 0", msgsnd_syscall(0, "x", 1));
	show("msgsnd to pid -1", msgsnd_syscall(-1, "x", 1));
	int zombie = fork_syscall();
	if (zombie == 0)
		exit_syscall(0);
	sleep_syscall(50); /* it ends, unreaped */
	show("msgsnd to a zombie", msgsnd_syscall(zombie, "x", 1));
	waitpid_syscall(zombie, NULL);
	show("msgsnd to it once reaped", msgsnd_syscall(zombie, "x", 1));
	int me = getpid_syscall();
	show("msgsnd of 257 bytes", msgsnd_syscall(me, big, MSG_MAX + 1));
	show("msgsnd from a bad pointer", msgsnd_syscall(me, (void *)16, 8));

	/* Sizes and receive errors, on the process's own queue. */
	show("msgsnd of 256 bytes to myself", msgsnd_syscall(me, big, MSG_MAX));
	show("msgsnd of 0 bytes", msgsnd_syscall(me, NULL, 0));
	show("msgsnd of \"0123456789\"", msgsnd_syscall(me, "0123456789", 10));
	char buf[MSG_MAX];
	show("msgrcv into 100 bytes", msgrcv_syscall(buf, 100));
	show("msgrcv into a bad pointer", msgrcv_syscall((void *)16, sizeof buf));
	show("msgrcv into 256 bytes", msgrcv_syscall(buf, sizeof buf));
	show("msgrcv of the empty message", msgrcv_syscall(buf, sizeof buf));
	memset(buf, 0, sizeof buf);
	show("msgrcv into 9 bytes", msgrcv_syscall(buf, 9));
	show("msgrcv into 10 bytes", msgrcv_syscall(buf, 10));
	printf("got \"%s\"\n", buf);
	return 0;
}
