/*
 * The Aurora calls the fork benchmarks use, over POSIX, so that
 * testimages/fork_loop.c and testimages/fork_heap.c build natively,
 * unchanged, for the reference side of `make bench`:
 *
 *	gcc -O2 -static -I internal/benchtable/native testimages/fork_loop.c
 *
 * Each call keeps Aurora's meaning: stdout is flushed first, waitpid's
 * status is the exit code or 128 + the signal, and pid <= 0 means any
 * child.
 */
#ifndef AURORA_NATIVE_SHIM_H
#define AURORA_NATIVE_SHIM_H

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static inline int fork_syscall(void)
{
	fflush(stdout);
	return fork();
}

__attribute__((noreturn)) static inline void exit_syscall(int status)
{
	fflush(stdout);
	_exit(status & 0xFF);
}

static inline int waitpid_syscall(int pid, int *status)
{
	int st;
	fflush(stdout);
	pid = waitpid(pid > 0 ? pid : -1, &st, 0);
	if (pid > 0 && status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return pid;
}

#endif
