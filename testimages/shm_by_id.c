/* Two processes attach the same segment by id after fork: the parent
 * creates it but never attaches; its children each attach the id and see
 * each other's stores at once. One process attaching an id twice gets two
 * views of the same memory. */
#include <aurora.h>
#include <stdio.h>
#include <string.h>

static inline unsigned long long rdtsc(void)
{
	unsigned lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (unsigned long long)hi << 32 | lo;
}

static int wait_for(volatile int *w, int want)
{
	unsigned long long start = rdtsc();
	while (*w != want)
		if (rdtsc() - start > 60000000000ULL)
			return 0;
	return 1;
}

/* writer stores a message and raises a flag; reader waits for the flag,
 * checks the message and answers. */
static int child(int id, int writer)
{
	volatile int *flag = shmat_syscall(id);
	if (flag == (void *)-1)
		return 20;
	char *msg = (char *)flag + 64;
	if (writer) {
		strcpy(msg, "written by the first child");
		flag[0] = 1;
		return wait_for(&flag[1], 1) ? 0 : 21;
	}
	if (!wait_for(&flag[0], 1))
		return 22;
	if (strcmp(msg, "written by the first child") != 0)
		return 23;
	flag[1] = 1;
	return 0;
}

int main(void)
{
	int id = shmget_syscall(PAGE_SIZE);
	int pids[2];
	for (int i = 0; i < 2; i++) {
		pids[i] = fork_syscall();
		if (pids[i] == 0)
			exit_syscall(child(id, i == 0));
	}
	for (int i = 0; i < 2; i++) {
		int st = -1;
		waitpid_syscall(pids[i], &st);
		printf("%s child: status %d\n", i == 0 ? "writing" : "reading", st);
	}

	/* The segment kept the children's stores after they detached (the
	 * creator is alive). */
	char *a = shmat_syscall(id);
	char *b = shmat_syscall(id);
	printf("two attachments at different addresses: %s\n", a != b && a != (void *)-1 && b != (void *)-1 ? "yes" : "no");
	printf("message still there: %s\n", a + 64);
	strcpy(a + 200, "alias");
	printf("store through one, read through the other: %s\n", b + 200);
	printf("shmdt both: %d %d\n", shmdt_syscall(a), shmdt_syscall(b));

	int second = shmget_syscall(1);
	printf("a new segment gets a new id: %s\n", second > 0 && second != id ? "yes" : "no");
	return 0;
}
