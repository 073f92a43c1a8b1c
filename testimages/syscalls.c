/* Every syscall this kernel serves, with good and bad arguments. A bad
 * pointer makes the call fail with -1; it never harms the machine. */
#include <aurora.h>
#include <aurora/syscall_arch.h>
#include <stdio.h>
#include <string.h>

static long int80_getpid(void)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(SYS_GETPID) : "memory");
	return ret;
}

int main(void)
{
	printf("getpid %d getppid %d\n", getpid_syscall(), getppid_syscall());
	printf("getpid through int $0x80: %ld\n", int80_getpid());

	printf("write returns %ld\n", write_syscall(1, "direct write\n", 13));
	printf("write to bad fd: %ld\n", write_syscall(7, "x", 1));
	printf("write to fd -1: %ld\n", write_syscall(-1, "x", 1));
	printf("write from NULL: %ld\n", write_syscall(1, 0, 4));
	printf("write from kernel space: %ld\n", write_syscall(1, (void *)0xFFFFFF0000000000UL, 4));
	printf("write from unmapped: %ld\n", write_syscall(1, (void *)0x30000000, 4));
	printf("write wrapping around: %ld\n", write_syscall(1, "x", (size_t)-1));
	printf("write of zero bytes: %ld\n", write_syscall(1, 0, 0));

	char buf[64];
	memset(buf, 0, sizeof buf);
	long n = read_syscall(0, buf, sizeof buf - 1);
	printf("read %ld bytes: %s", n, buf);
	printf("read into NULL: %ld\n", read_syscall(0, 0, 10));
	printf("read into read-only text: %ld\n", read_syscall(0, (void *)main, 10));
	printf("read from stdout: %ld\n", read_syscall(1, buf, 1) <= 0 ? -1L : 1L);
	n = read_syscall(0, buf, sizeof buf);
	printf("read at end of input: %ld\n", n);

	printf("yield %d\n", yield_syscall());
	uint64_t t0 = uptime_syscall();
	printf("sleep %d\n", sleep_syscall(30));
	uint64_t t1 = uptime_syscall();
	printf("slept at least 30 ms: %s\n", t1 - t0 >= 30 ? "yes" : "no");

	printf("mmap with a bad hint: %p\n", mmap_syscall((void *)0x1234, 4096, 0, 0));
	printf("munmap in the upper half: %d\n", munmap_syscall((void *)0xffff800000000000UL, 4096));

	printf("not yet implemented (open): %d\n", open_syscall("/tmp/x", O_RDONLY));
	printf("unknown number 200: %ld\n", __aurora_syscall0(200));
	printf("unknown number 2^40: %ld\n", __aurora_syscall0(1L << 40));

	/* No newline: exit_syscall must still push this out. */
	printf("leaving through exit_syscall");
	exit_syscall(3);
}
