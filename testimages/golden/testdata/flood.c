/* Writes 64 KiB blocks to stdout for ever: with nobody reading, the host
 * write blocks in a full pipe while --timeout ends the run. */
#include <aurora.h>

static char block[65536];

int main(void)
{
	for (unsigned i = 0; i < sizeof block; i++)
		block[i] = 'x';
	for (;;)
		write_syscall(1, block, sizeof block);
}
