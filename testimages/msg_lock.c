/* A lock built from message queues. Process 1 is the lock server: it
 * holds the token, gives it (a GRANT message) to one ACQUIRE request at a
 * time, queues the others, and takes it back with RELEASE. Four worker
 * processes each enter the critical section 25 times; inside it a worker
 * writes a record to a shared pipe in three separate writes, yielding in
 * between. With the lock held no other worker's write can come between
 * them, so the log the server reads at the end must hold every record in
 * one piece. */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ACQUIRE = 1, RELEASE, GRANT, DONE };

struct msg {
	int op;
	int pid;
};

#define WORKERS 4
#define ROUNDS  25

static void send(int to, int op)
{
	struct msg m = {op, getpid_syscall()};
	if (msgsnd_syscall(to, &m, sizeof m) != 0)
		exit_syscall(3);
}

static void lock(int server)
{
	send(server, ACQUIRE);
	struct msg m;
	if (msgrcv_syscall(&m, sizeof m) != sizeof m || m.op != GRANT)
		exit_syscall(4);
}

static void unlock(int server) { send(server, RELEASE); }

static void worker(int server, int id, int log)
{
	for (int r = 0; r < ROUNDS; r++) {
		lock(server);
		for (int part = 0; part < 3; part++) {
			char line[32];
			int n = snprintf(line, sizeof line, "w%d r%d p%d\n", id, r, part);
			write_syscall(log, line, n);
			yield_syscall();
		}
		unlock(server);
	}
	send(server, DONE);
	exit_syscall(0);
}

static char logbuf[16384];

int main(void)
{
	int log[2];
	pipe_syscall(log);
	int server = getpid_syscall();
	int pids[WORKERS];
	for (int i = 0; i < WORKERS; i++) {
		pids[i] = fork_syscall();
		if (pids[i] == 0)
			worker(server, i, log[1]);
	}
	close_syscall(log[1]);

	/* Serve until every worker is done. */
	int holder = 0, waiting[WORKERS], nwaiting = 0, done = 0, errors = 0, grants = 0;
	while (done < WORKERS) {
		struct msg m;
		if (msgrcv_syscall(&m, sizeof m) != sizeof m) {
			errors++;
			break;
		}
		switch (m.op) {
		case ACQUIRE:
			if (holder == 0) {
				holder = m.pid;
				grants++;
				send(holder, GRANT);
			} else if (nwaiting < WORKERS) {
				waiting[nwaiting++] = m.pid;
			} else {
				errors++;
			}
			break;
		case RELEASE:
			if (m.pid != holder)
				errors++;
			holder = 0;
			if (nwaiting > 0) {
				holder = waiting[0];
				memmove(waiting, waiting + 1, --nwaiting * sizeof waiting[0]);
				grants++;
				send(holder, GRANT);
			}
			break;
		case DONE:
			done++;
			break;
		default:
			errors++;
		}
	}
	int bad = 0;
	for (int i = 0; i < WORKERS; i++) {
		int st = -1;
		waitpid_syscall(pids[i], &st);
		bad += st != 0;
	}

	/* Check the log: records of three consecutive parts. */
	long have = 0, r;
	while ((r = read_syscall(log[0], logbuf + have, sizeof logbuf - 1 - have)) > 0)
		have += r;
	int records = 0, torn = 0;
	char *line = logbuf;
	while (*line) {
		int id = -1, round = -1;
		for (int part = 0; part < 3; part++) {
			char *end = strchr(line, '\n');
			if (!end) {
				torn++;
				break;
			}
			*end = 0;
			int i = atoi(line + 1), rr = atoi(strchr(line, 'r') + 1), p = atoi(strchr(line, 'p') + 1);
			if (part == 0) {
				id = i;
				round = rr;
			}
			if (i != id || rr != round || p != part)
				torn++;
			line = end + 1;
		}
		records++;
	}
	printf("%d workers x %d critical sections: %d grants, %d records in the log, %d torn, "
	       "%d protocol errors, %d workers failed\n",
	       WORKERS, ROUNDS, grants, records, torn, errors, bad);
	return torn || errors || bad;
}
