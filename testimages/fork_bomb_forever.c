/* A real fork bomb: every process forks forever. The process table's
 * limit (--max-procs, default 256) keeps it bounded, and --timeout 5s
 * (fork_bomb_forever.flags) ends the run: exit status 124, one line on
 * stderr, and every process killed. */
#include <aurora.h>

int main(void)
{
	for (;;)
		fork_syscall();
}
