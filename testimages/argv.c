/* Arguments arrive in the System V layout: argc, argv, envp. */
#include <stdio.h>

int main(int argc, char **argv, char **envp)
{
	printf("argc=%d\n", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=\"%s\"\n", i, argv[i]);
	printf("argv[argc]=%s\n", argv[argc] == 0 ? "NULL" : "not NULL");
	int n = 0;
	while (envp[n])
		n++;
	printf("envp is %s\n", n >= 0 ? "terminated" : "broken");
	return argc;
}
