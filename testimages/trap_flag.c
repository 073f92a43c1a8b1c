/* A program that sets the trap flag gets a single-step trap after the
 * next instruction: SIGTRAP (133), on every engine. */
#include <stdio.h>

int main(void)
{
	printf("setting the trap flag\n");
	fflush(stdout);
	__asm__ volatile("pushfq\n\torq $0x100, (%%rsp)\n\tpopfq\n\tnop\n\tnop" ::: "memory", "cc");
	printf("not reached\n");
	return 0;
}
