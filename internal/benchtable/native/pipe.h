/*
 * The pipe calls testimages/pipe_bench.c uses, over POSIX, added to the
 * shim aurora.h beside this file. The benchmark table forces it in with
 * -include, so the program builds natively unchanged:
 *
 *	gcc -O2 -static -I internal/benchtable/native \
 *	    -include internal/benchtable/native/pipe.h testimages/pipe_bench.c
 *
 * As in the shim, every call flushes stdout first, as Aurora's wrappers
 * do.
 */
#ifndef AURORA_NATIVE_PIPE_H
#define AURORA_NATIVE_PIPE_H

#include <aurora.h>
#include <stdio.h>
#include <unistd.h>

static inline int pipe_syscall(int *fds)
{
	fflush(stdout);
	return pipe(fds) < 0 ? -1 : 0;
}

static inline long read_syscall(int fd, void *buf, size_t n)
{
	fflush(stdout);
	return read(fd, buf, n);
}

static inline long write_syscall(int fd, const void *buf, size_t n)
{
	fflush(stdout);
	return write(fd, buf, n);
}

#endif
