/* The smallest program: one line on stdout. */
#include <stdio.h>

int main(void)
{
	printf("Hello from Aurora!\n");
	return 0;
}
