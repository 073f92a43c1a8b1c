/* Catches the first SIGINT, then lets the second one kill it: what a
 * program sees of Ctrl-C pressed twice on the host. */
#include <aurora.h>
#include <stdio.h>

static volatile int caught;
static void on_int(int sig) { caught = sig; }

int main(void)
{
	signal_syscall(SIGINT, on_int);
	printf("ready\n");
	while (!caught)
		;
	printf("caught %d\n", caught);
	signal_syscall(SIGINT, SIG_DFL);
	printf("ready again\n");
	for (;;)
		;
}
