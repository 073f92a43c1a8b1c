/* Program start-up, called by crt0 before main. */
#include <aurora.h>
#include <errno.h>
#include <stddef.h>

#include "internal.h"

char **environ;
char *__progname = "";

typedef void (*init_fn)(int, char **, char **);

/* Defined by the linker script. */
extern init_fn __preinit_array_start[] __attribute__((weak, visibility("hidden")));
extern init_fn __preinit_array_end[] __attribute__((weak, visibility("hidden")));
extern init_fn __init_array_start[] __attribute__((weak, visibility("hidden")));
extern init_fn __init_array_end[] __attribute__((weak, visibility("hidden")));

void __libc_init(int argc, char **argv, char **envp)
{
	environ = envp;
	set_errno_addr_syscall(&errno);
	if (argc > 0 && argv[0]) {
		__progname = argv[0];
		for (char *p = argv[0]; *p; p++)
			if (*p == '/' && p[1])
				__progname = p + 1;
	}
	for (init_fn *f = __preinit_array_start; f < __preinit_array_end; f++)
		(*f)(argc, argv, envp);
	for (init_fn *f = __init_array_start; f < __init_array_end; f++)
		(*f)(argc, argv, envp);
}
