/* shm errors and detaching: bad sizes, ids and addresses fail with -1 and
 * EINVAL; a detached segment faults (SIGSEGV, status 139) while another
 * attachment still reads it; munmap of part of an attachment detaches
 * those pages only, and shmdt at the attachment's address takes the rest. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>

static char *volatile probe;

static void touch(void) { probe[1] = 1; }

/* Attaches the segment, stores into it (so the CPU holds a translation
 * of the page), detaches it and stores again: the second store must fault
 * even though other attachments keep the page. */
static int seg_id;
static void reuse_after_detach(void)
{
	volatile char *p = shmat_syscall(seg_id);
	p[5] = 5;
	shmdt_syscall((void *)p);
	p[5] = 6;
}

/* The same with munmap of the page instead of shmdt. */
static void reuse_after_munmap(void)
{
	volatile char *p = shmat_syscall(seg_id);
	p[5] = 5;
	munmap_syscall((void *)p, PAGE_SIZE);
	p[5] = 6;
}

/* Runs fn in a child and returns its wait status. */
static int in_child(void (*fn)(void))
{
	int pid = fork_syscall();
	if (pid == 0) {
		fn();
		exit_syscall(0);
	}
	int st = -1;
	waitpid_syscall(pid, &st);
	return st;
}

#define TRY(what, call)                                                       \
	do {                                                                  \
		errno = 0;                                                    \
		long r_ = (long)(call);                                       \
		printf("%s: %ld, errno %s\n", what, r_,                       \
		       errno == EINVAL ? "EINVAL" : errno == 0 ? "0" : "other"); \
	} while (0)

int main(void)
{
	TRY("shmget(0)", shmget_syscall(0));
	TRY("shmget(1 TiB)", shmget_syscall(1UL << 40));
	TRY("shmat(12345)", shmat_syscall(12345));
	TRY("shmat(-1)", shmat_syscall(-1));
	TRY("shmat(0)", shmat_syscall(0));

	int id = shmget_syscall(3 * PAGE_SIZE);
	seg_id = id;
	char *a = shmat_syscall(id);
	char *m = mmap_syscall(0, PAGE_SIZE, 0, 0);
	TRY("shmdt(attachment + 1)", shmdt_syscall(a + 1));
	TRY("shmdt(second page of the attachment)", shmdt_syscall(a + PAGE_SIZE));
	TRY("shmdt(an mmap page)", shmdt_syscall(m));
	TRY("shmdt(NULL)", shmdt_syscall(0));

	a[0] = 'x';
	a[2 * PAGE_SIZE] = 'z';
	char *b = shmat_syscall(id);
	TRY("shmdt(first attachment)", shmdt_syscall(a));
	TRY("shmdt(first attachment) again", shmdt_syscall(a));
	printf("second attachment still reads: %c %c\n", b[0], b[2 * PAGE_SIZE]);
	probe = a;
	printf("store to the detached address: status %d\n", in_child(touch));
	printf("attach, store, detach, store again in one process: status %d\n", in_child(reuse_after_detach));
	printf("attach, store, munmap, store again in one process: status %d\n", in_child(reuse_after_munmap));
	probe = b;
	int st = in_child(touch);
	printf("store to the attached one: status %d, seen by the parent: %s\n", st,
	       b[1] == 1 ? "yes" : "no");
	b[PAGE_SIZE] = 'm';

	/* munmap of the middle page detaches it alone. */
	TRY("munmap(middle page of an attachment)", munmap_syscall(b + PAGE_SIZE, PAGE_SIZE));
	probe = b + PAGE_SIZE;
	printf("store to the unmapped middle: status %d\n", in_child(touch));
	printf("the pages around it: %c %c\n", b[0], b[2 * PAGE_SIZE]);
	char *c = shmat_syscall(id);
	printf("a new attachment sees the middle page: %c\n", c[PAGE_SIZE]);
	TRY("shmdt(what is left of the cut attachment)", shmdt_syscall(b));
	probe = b + 2 * PAGE_SIZE;
	printf("store to its last page: status %d\n", in_child(touch));
	TRY("shmdt(the new one)", shmdt_syscall(c));

	/* The hole the attachments left is reused. */
	char *again = shmat_syscall(id);
	printf("reattached at the first attachment's address: %s, data kept: %c\n",
	       again == a ? "yes" : "no", again[0]);
	return 0;
}
