/* Many shm cycles in a small machine (--memory 64M) must not run out of
 * memory: attachments take no memory of their own, and a segment's memory
 * goes back when its creator has exited and nothing is attached.
 *
 * 1. A 16 MiB segment attached and detached 1000 times, its data kept.
 * 2. 300 children, one after another, each creating a 8 MiB segment,
 *    attaching it, filling a page, forking a grandchild that shares it, and
 *    exiting: 2.4 GB in all, in 64 MiB, so every segment must be freed. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

#define BIG (16 << 20)

int main(void)
{
	int id = shmget_syscall(BIG);
	char *first = shmat_syscall(id);
	if (first == (void *)-1) {
		printf("shmat failed\n");
		return 1;
	}
	first[BIG - 1] = 'k';
	shmdt_syscall(first);
	int bad = 0;
	for (int i = 0; i < 1000; i++) {
		char *p = shmat_syscall(id);
		if (p != first || p[BIG - 1] != 'k') {
			bad++;
			break;
		}
		p[i * PAGE_SIZE] = (char)i;
		if (shmdt_syscall(p) != 0)
			bad++;
	}
	printf("1000 attach/detach cycles of 16 MiB: %s\n", bad ? "failed" : "ok");

	int failed = 0;
	for (int i = 0; i < 300 && !failed; i++) {
		int pid = fork_syscall();
		if (pid == 0) {
			int sid = shmget_syscall(8 << 20);
			char *p = shmat_syscall(sid);
			if (sid < 0 || p == (void *)-1)
				exit_syscall(1);
			memset(p, i, PAGE_SIZE);
			int g = fork_syscall();
			if (g == 0)
				exit_syscall(p[100] == (char)i ? 0 : 2);
			int st = -1;
			waitpid_syscall(g, &st);
			exit_syscall(st);
		}
		int st = -1;
		waitpid_syscall(pid, &st);
		if (st != 0) {
			printf("child %d: status %d\n", i, st);
			failed = 1;
		}
	}
	printf("300 children with 8 MiB segments each: %s\n", failed ? "failed" : "ok");
	return 0;
}
