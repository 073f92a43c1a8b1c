/* Raw traps for stdio and _Exit. Unlike the NAME_syscall wrappers they do
 * not flush stdout first: stdio uses __sys_write to do the flushing, and
 * _Exit must not flush at all. */
#include <aurora.h>
#include <aurora/syscall_arch.h>

#include "internal.h"

long __sys_write(int fd, const void *buf, size_t n)
{
	return __aurora_syscall3(SYS_WRITE, fd, (long)buf, (long)n);
}

void _Exit(int status)
{
	__aurora_syscall1(SYS_EXIT, status);
	/* Only a syscall filter blocking EXIT gets here: die by SIGILL. */
	__builtin_trap();
}
