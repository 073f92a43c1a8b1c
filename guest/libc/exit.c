/* exit, atexit, abort and assertion failures. */
#include <aurora.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* C requires room for at least 32 handlers. */
#define ATEXIT_MAX 64

static void (*handlers[ATEXIT_MAX])(void);
static int nhandlers;

typedef void (*fini_fn)(void);
extern fini_fn __fini_array_start[] __attribute__((weak, visibility("hidden")));
extern fini_fn __fini_array_end[] __attribute__((weak, visibility("hidden")));

int atexit(void (*fn)(void))
{
	if (nhandlers == ATEXIT_MAX)
		return -1;
	handlers[nhandlers++] = fn;
	return 0;
}

void exit(int status)
{
	/* A handler may register another; it runs next. */
	while (nhandlers > 0)
		handlers[--nhandlers]();
	for (fini_fn *f = __fini_array_end; f > __fini_array_start;)
		(*--f)();
	__stdio_exit();
	exit_syscall(status);
}

/* Aurora has no SIGABRT semantics of its own: the kill is for a kernel
 * that implements signal 6; otherwise the exit status says what
 * happened (128 + 6, as a shell would report an abort). */
void abort(void)
{
	kill_syscall(getpid_syscall(), 6);
	exit_syscall(134);
}

void __assert_fail(const char *expr, const char *file, int line, const char *func)
{
	fprintf(stderr, "%s%s%s:%d: %s%sAssertion `%s' failed.\n", __progname, *__progname ? ": " : "", file,
		line, func ? func : "", func ? ": " : "", expr);
	abort();
}
