/* Blocking message queues.
 *
 *   - A child sends 40 messages to its parent, which sleeps before
 *     receiving any: the first 32 fill the queue, the 33rd blocks until
 *     the parent drains it; all 40 arrive in order.
 *   - A sender blocked on a full queue is woken with ESRCH when the
 *     queue's process ends.
 *   - A handled signal cuts a blocked msgsnd and a blocked msgrcv short
 *     (-1 EINTR); SIGKILL ends a blocked receiver (status 137). The
 *     signals repeat every 20 ms until the child has ended, so that one
 *     surely finds the call blocked. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static volatile int handled, ended;
static void on_usr1(int sig) { handled++; }
static void on_chld(int sig) { ended++; }

static int reap(int pid)
{
	int st = -1;
	waitpid_syscall(pid, &st);
	return st;
}

/* Fills pid's queue with 32 messages. */
static void fill(int pid)
{
	for (int i = 0; i < MSG_QUEUE; i++)
		msgsnd_syscall(pid, &i, sizeof i);
}

static void full_queue(void)
{
	int parent = getpid_syscall();
	int child = fork_syscall();
	if (child == 0) {
		uint64_t returned = 0;
		for (int i = 0; i < 40; i++) {
			if (msgsnd_syscall(parent, &i, sizeof i) != 0)
				exit_syscall(1);
			if (i == MSG_QUEUE)
				returned = uptime_syscall();
		}
		/* When the 33rd send returned, as a 41st message. */
		msgsnd_syscall(parent, &returned, sizeof returned);
		exit_syscall(0);
	}
	sleep_syscall(300);
	uint64_t drained = uptime_syscall();
	int wrong = 0;
	for (int i = 0; i < 40; i++) {
		int v = -1;
		if (msgrcv_syscall(&v, sizeof v) != sizeof v || v != i)
			wrong++;
	}
	uint64_t returned = 0;
	msgrcv_syscall(&returned, sizeof returned);
	printf("40 messages through a queue of %d, %d out of order, sender status %d\n", MSG_QUEUE, wrong, reap(child));
	printf("the 33rd send returned only once the receiver began draining: %s\n",
	       returned >= drained ? "yes" : "no");
}

static void target_ends(void)
{
	int target = fork_syscall();
	if (target == 0) {
		sleep_syscall(200); /* never receives */
		exit_syscall(0);
	}
	int sender = fork_syscall();
	if (sender == 0) {
		fill(target);
		int r = msgsnd_syscall(target, "x", 1);
		exit_syscall(r == -1 && errno == ESRCH ? 0 : 1);
	}
	printf("target status %d\n", reap(target));
	printf("a sender blocked on the full queue of a process that ends gets ESRCH: %s\n",
	       reap(sender) == 0 ? "yes" : "no");
}

/* Runs body in a child, nagging it with sig until it ends; returns its
 * status. */
static int nag(void (*body)(void), int sig)
{
	static int started;
	started++;
	int pid = fork_syscall();
	if (pid == 0)
		body();
	for (int i = 0; i < 500 && ended < started; i++) {
		sleep_syscall(20);
		kill_syscall(pid, sig);
	}
	return reap(pid);
}

static void blocked_send(void)
{
	int me = getpid_syscall();
	fill(me);
	int r = msgsnd_syscall(me, "x", 1);
	printf("  msgsnd to a full queue returned %d%s, handler ran: %s\n", r, r < 0 && errno == EINTR ? " EINTR" : "",
	       handled ? "yes" : "no");
	exit_syscall(0);
}

static void blocked_receive(void)
{
	char buf[MSG_MAX];
	int r = msgrcv_syscall(buf, sizeof buf);
	printf("  msgrcv of an empty queue returned %d%s, handler ran: %s\n", r,
	       r < 0 && errno == EINTR ? " EINTR" : "", handled ? "yes" : "no");
	exit_syscall(0);
}

int main(void)
{
	full_queue();
	target_ends();
	signal_syscall(SIGCHLD, on_chld);
	signal_syscall(SIGUSR1, on_usr1); /* inherited by the children */
	printf("SIGUSR1 handled:\n");
	printf("  status %d\n", nag(blocked_send, SIGUSR1));
	printf("  status %d\n", nag(blocked_receive, SIGUSR1));
	printf("SIGKILL, receiver blocked:\n");
	printf("  status %d\n", nag(blocked_receive, SIGKILL));
	return 0;
}
