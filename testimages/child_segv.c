/* CPU faults in children. Without a handler a fault kills the child, its
 * parent sees 128 + the signal from waitpid and goes on, and aurora-vm
 * prints nothing (its one-line message is for process 1 only, so this
 * test has no stderr). With a handler the handler runs: it can end the
 * child with exit_syscall, or fix the cause and return, which executes the
 * faulting instruction again. A second fault inside the handler kills. */
#include <aurora.h>
#include <stdio.h>

#define SPARE ((volatile int *)0x60000000) /* in the mmap region, unmapped */

static volatile int calls;

static void null_store(void) { *(volatile int *)0 = 1; }
static void divide(void)
{
	volatile unsigned zero = 0;
	unsigned z = zero;
	__asm__ volatile("mov $1, %%eax; xor %%edx, %%edx; divl %0" : : "r"(z) : "eax", "edx", "cc");
}
static void illegal(void) { __asm__ volatile("ud2"); }
static void breakpoint(void) { __asm__ volatile("int3"); }

static void exit42(int sig) { exit_syscall(sig == SIGSEGV ? 42 : 50 + sig); }
static void fault_again(int sig) { null_store(); }
static void map_it(int sig)
{
	calls++;
	if (mmap_syscall((void *)SPARE, PAGE_SIZE, 0, 0) != (void *)SPARE)
		exit_syscall(60);
}

/* Runs body in a child, with handler for sig unless handler is SIG_DFL,
 * and returns the child's wait status. */
static int in_child(void (*body)(void), int sig, sighandler_t handler)
{
	int pid = fork_syscall();
	if (pid == 0) {
		if (handler != SIG_DFL)
			signal_syscall(sig, handler);
		body();
		exit_syscall(0);
	}
	int st = -1;
	waitpid_syscall(pid, &st);
	return st;
}

static void store_to_spare(void)
{
	*SPARE = 7;
	exit_syscall(*SPARE + 10 * calls);
}

int main(void)
{
	printf("NULL store, no handler: status %d\n", in_child(null_store, SIGSEGV, SIG_DFL));
	printf("division by zero, no handler: status %d\n", in_child(divide, SIGFPE, SIG_DFL));
	printf("ud2, no handler: status %d\n", in_child(illegal, SIGILL, SIG_DFL));
	printf("int3, no handler: status %d\n", in_child(breakpoint, SIGTRAP, SIG_DFL));
	printf("NULL store, SIGSEGV handler exits 42: status %d\n", in_child(null_store, SIGSEGV, exit42));
	printf("division by zero, SIGFPE handler exits 50+8: status %d\n", in_child(divide, SIGFPE, exit42));
	printf("ud2, SIGILL handler exits 50+4: status %d\n", in_child(illegal, SIGILL, exit42));
	printf("NULL store, SIGSEGV ignored: status %d\n", in_child(null_store, SIGSEGV, SIG_IGN));
	printf("NULL store, the handler faults too: status %d\n", in_child(null_store, SIGSEGV, fault_again));
	printf("store to an unmapped page, the handler maps it and returns: status %d (7 stored, 1 call)\n",
	       in_child(store_to_spare, SIGSEGV, map_it));
	printf("process 1 goes on: ok\n");
	return 0;
}
