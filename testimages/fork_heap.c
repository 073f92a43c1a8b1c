/* fork of a process with a large heap whose child writes part of it: the
 * parent fills MIB MiB (default 16) with a pattern, then FORKS times
 * (default 3) forks a child that writes one word in PERCENT % (default
 * 100) of its 4 KiB pages and exits, and reaps it. At the end the parent
 * checks its memory still holds the pattern.
 *
 *	fork_heap [FORKS [PERCENT [MIB]]]
 *
 * `make bench` runs it with 64 MiB and 1% and 100%, and also builds this
 * file natively against a POSIX shim (internal/benchtable/native/aurora.h). */
#include <aurora.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define PAGE_WORDS (4096 / 8)

int main(int argc, char **argv)
{
	long forks = argc > 1 ? atol(argv[1]) : 3;
	long percent = argc > 2 ? atol(argv[2]) : 100;
	long mib = argc > 3 ? atol(argv[3]) : 16;
	long words = mib << 17, pages = words / PAGE_WORDS;
	uint64_t *heap = malloc(words * 8);
	if (!heap) {
		printf("cannot allocate %ld MiB\n", mib);
		return 1;
	}
	for (long i = 0; i < words; i++)
		heap[i] = i * 0x9E3779B97F4A7C15ull;

	long failed = 0;
	for (long f = 0; f < forks; f++) {
		int pid = fork_syscall();
		if (pid == 0) {
			for (long p = 0; p < pages; p++)
				if (p % 100 < percent)
					heap[p * PAGE_WORDS + f % PAGE_WORDS] = ~0ull;
			exit_syscall(0);
		}
		int st = -1;
		if (pid < 0 || waitpid_syscall(pid, &st) != pid || st != 0)
			failed++;
	}
	long changed = 0;
	for (long i = 0; i < words; i++)
		changed += heap[i] != i * 0x9E3779B97F4A7C15ull;
	printf("%ld MiB heap, %ld forks, each child wrote %ld%% of the pages: %ld failed, %ld words changed in the parent\n",
	       mib, forks, percent, failed, changed);
	return failed || changed;
}
