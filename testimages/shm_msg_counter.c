/* Two processes increment a counter in shared memory under a lock built
 * from message queues: process 1 holds the lock's token and grants it to
 * one ACQUIRE at a time. Each increment reads the counter, yields, and
 * writes it back, so without the lock updates would be lost. */
#include <aurora.h>
#include <stdio.h>

enum { ACQUIRE = 1, RELEASE, GRANT };
#define WORKERS 2
#define ROUNDS  500

struct msg {
	int op, pid;
};

static void send(int to, int op)
{
	struct msg m = {op, getpid_syscall()};
	if (msgsnd_syscall(to, &m, sizeof m) != 0)
		exit_syscall(3);
}

static void worker(volatile long *counter)
{
	for (int i = 0; i < ROUNDS; i++) {
		struct msg m;
		send(1, ACQUIRE);
		if (msgrcv_syscall(&m, sizeof m) != sizeof m || m.op != GRANT)
			exit_syscall(4);
		long v = *counter;
		yield_syscall();
		*counter = v + 1;
		send(1, RELEASE);
	}
	exit_syscall(0);
}

int main(void)
{
	int id = shmget_syscall(4096);
	volatile long *counter = (volatile long *)shmat_syscall(id);
	if (id < 0 || (long)counter == -1) {
		printf("shm failed\n");
		return 1;
	}
	for (int w = 0; w < WORKERS; w++)
		if (fork_syscall() == 0)
			worker(counter);
	/* The lock server: a queue of waiters, one holder at a time. */
	int waiting[WORKERS], nwait = 0, holder = 0, releases = 0;
	while (releases < WORKERS * ROUNDS) {
		struct msg m;
		if (msgrcv_syscall(&m, sizeof m) != sizeof m)
			return 2;
		if (m.op == ACQUIRE)
			waiting[nwait++] = m.pid;
		else if (m.op == RELEASE && m.pid == holder) {
			holder = 0;
			releases++;
		} else
			return 5;
		if (holder == 0 && nwait > 0) {
			holder = waiting[0];
			for (int i = 1; i < nwait; i++)
				waiting[i - 1] = waiting[i];
			nwait--;
			send(holder, GRANT);
		}
	}
	int status, failed = 0;
	for (int w = 0; w < WORKERS; w++) {
		waitpid_syscall(-1, &status);
		failed |= status;
	}
	printf("workers ended %s\n", failed ? "with a failure" : "cleanly");
	printf("counter = %ld (want %d)\n", *counter, WORKERS * ROUNDS);
	return 0;
}
