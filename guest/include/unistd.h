/*
 * A few POSIX names over Aurora's syscalls, for programs that use them.
 * Each is a thin inline wrapper around the NAME_syscall of <aurora.h> and
 * keeps Aurora's results: -1 on error (-2 when the syscall filter blocks
 * the call), with errno left untouched.
 */
#ifndef _UNISTD_H
#define _UNISTD_H

#include <aurora.h>

#define STDIN_FILENO  0
#define STDOUT_FILENO 1
#define STDERR_FILENO 2

static __inline__ ssize_t read(int fd, void *buf, size_t n) { return read_syscall(fd, buf, n); }
static __inline__ ssize_t write(int fd, const void *buf, size_t n) { return write_syscall(fd, buf, n); }
static __inline__ int close(int fd) { return close_syscall(fd); }
static __inline__ off_t lseek(int fd, off_t off, int whence) { return lseek_syscall(fd, off, whence); }
static __inline__ int dup2(int oldfd, int newfd) { return dup2_syscall(oldfd, newfd); }
static __inline__ int pipe(int fds[2]) { return pipe_syscall(fds); }
static __inline__ int unlink(const char *path) { return unlink_syscall(path); }
static __inline__ pid_t fork(void) { return fork_syscall(); }
static __inline__ pid_t getpid(void) { return getpid_syscall(); }
static __inline__ pid_t getppid(void) { return getppid_syscall(); }
static __inline__ int execve(const char *path, char *const argv[], char *const envp[])
{
	return execve_syscall(path, argv, envp);
}
static __inline__ unsigned sleep(unsigned seconds)
{
	sleep_syscall((uint64_t)seconds * 1000);
	return 0;
}
static __inline__ int usleep(unsigned long usec)
{
	return sleep_syscall((usec + 999) / 1000);
}
/* Ends the process at once, without flushing stdio or running atexit. */
__attribute__((noreturn)) void _Exit(int status);
__attribute__((noreturn)) static __inline__ void _exit(int status) { _Exit(status); }

#endif
