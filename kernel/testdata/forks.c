/* A little of everything processes do, for the kernel's leak test: a tree
 * of forks writing copy-on-write memory, a child killed while spinning, one
 * killed by a fault, a signal handler, and waitpid for all. Exits 0 when
 * every check passed. */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>

static volatile int caught;
static void on_usr1(int sig) { caught = sig; }

static int tree(int depth, char *heap)
{
	if (depth == 0)
		return 0;
	int bad = 0;
	for (int i = 0; i < 2; i++) {
		int pid = fork_syscall();
		if (pid == 0) {
			heap[depth * 100 + i] = 'c';
			exit_syscall(tree(depth - 1, heap));
		}
		if (pid < 0)
			return 1;
	}
	int st;
	for (int i = 0; i < 2; i++) {
		int r = waitpid_syscall(-1, &st);
		if (r < 0 || st != 0) {
			printf("pid %d depth %d: waitpid gave %d, status %d\n", getpid_syscall(), depth, r, st);
			bad = 1;
		}
	}
	if (heap[depth * 100] != 'p') {
		printf("pid %d depth %d: heap reads %c after the children wrote theirs\n", getpid_syscall(), depth, heap[depth * 100]);
		bad = 1;
	}
	return bad;
}

int main(void)
{
	char *heap = malloc(4096);
	for (int i = 0; i < 4096; i++)
		heap[i] = 'p';
	int bad = tree(3, heap);

	int spinner = fork_syscall();
	if (spinner == 0)
		for (;;)
			;
	int faulter = fork_syscall();
	if (faulter == 0)
		*(volatile int *)0 = 1;
	kill_syscall(spinner, SIGKILL);
	int st;
	if (waitpid_syscall(spinner, &st) != spinner || st != 137)
		bad |= 2;
	if (waitpid_syscall(faulter, &st) != faulter || st != 139)
		bad |= 4;

	signal_syscall(SIGUSR1, on_usr1);
	kill_syscall(getpid_syscall(), SIGUSR1);
	if (caught != SIGUSR1)
		bad |= 8;
	return bad;
}
