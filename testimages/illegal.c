/* An invalid instruction kills the program with SIGILL (132). */
#include <stdio.h>

int main(void)
{
	printf("about to execute ud2\n");
	__asm__ volatile("ud2");
	return 0;
}
