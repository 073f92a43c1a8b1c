/* String literals live in a read-only segment: writing one is a
 * protection fault, not silent corruption. */
#include <stdio.h>

int main(void)
{
	char *s = (char *)"constant";
	printf("%s\n", s);
	s[0] = 'C';
	printf("not reached\n");
	return 0;
}
