/* A store through a null pointer kills the program with SIGSEGV (139);
 * output printed before it is not lost. */
#include <stdio.h>

int main(void)
{
	printf("before the crash\n");
	volatile int *p = 0;
	*p = 1;
	printf("not reached\n");
	return 0;
}
