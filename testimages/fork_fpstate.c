/* fork keeps the floating-point control words, which the C ABI preserves
 * across calls: MXCSR (SSE rounding and masks) and the x87 control word. */
#include <aurora.h>
#include <stdio.h>

static void controls(unsigned *mxcsr, unsigned short *fcw)
{
	__asm__ volatile("stmxcsr %0" : "=m"(*mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(*fcw));
}

int main(void)
{
	unsigned mxcsr = 0x7F80;     /* round toward zero, all exceptions masked */
	unsigned short fcw = 0x0F7F; /* x87 round toward zero, extended precision */
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
	__asm__ volatile("fldcw %0" : : "m"(fcw));
	int pid = fork_syscall();
	controls(&mxcsr, &fcw);
	if (pid == 0) {
		printf("child:  mxcsr %#x, x87 control %#x\n", mxcsr, fcw);
		exit_syscall(0);
	}
	waitpid_syscall(pid, 0);
	printf("parent: mxcsr %#x, x87 control %#x\n", mxcsr, fcw);
	return 0;
}
