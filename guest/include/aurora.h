/*
 * aurora.h: the Aurora OS system interface for C programs.
 *
 * Declares a NAME_syscall wrapper for every Aurora syscall (generated from
 * aurora-vm's syscall table into <aurora/syscalls.h>), the constants and
 * types Aurora's documentation uses, and struct stat.
 *
 * Errors: -1 generic, -2 when the process's syscall filter blocks the call.
 */
#ifndef AURORA_H
#define AURORA_H

#include <stddef.h>
#include <stdint.h>

typedef long ssize_t;
typedef long off_t;
typedef int pid_t;
typedef void (*sighandler_t)(int);

/* Socket domains and types. Aurora ignores the domain; SOCK_DGRAM gives UDP. */
#define AF_INET     2
#define SOCK_STREAM 1
#define SOCK_DGRAM  2

/* Builds an IPv4 address in network byte order on little-endian x86.
 * Spelt token for token as Aurora's documentation defines it in its
 * examples, so that programs repeating the definition compile without a
 * redefinition warning. */
#define IP(a,b,c,d) ((a) | ((b)<<8) | ((c)<<16) | ((d)<<24))

/* Socket extensions (aurora-vm, syscalls 64 and up; Aurora's own programs
 * never need them). Addresses are network-order words as IP() builds them,
 * ports host order. See the README's network section.
 *
 * sendto_syscall / recvfrom_syscall: UDP with an explicit address
 * (recvfrom's addr and port may be NULL). getpeername_syscall /
 * getsockname_syscall: the two ends of a socket. shutdown_syscall(fd, how):
 * SHUT_RD, SHUT_WR or SHUT_RDWR. setnonblock_syscall(fd, on): a call that
 * would block fails with EAGAIN (connect: EINPROGRESS; poll for POLLOUT).
 * settimeout_syscall(fd, which, ms): SO_RCVTIMEO bounds recv and accept,
 * SO_SNDTIMEO send and connect; 0 means none; expiry fails with EAGAIN
 * (connect: ETIMEDOUT). poll_syscall(fds, n, timeout_ms): Linux's poll over
 * socket, pipe and console fds; timeout -1 waits for ever. lasterror_syscall:
 * the errno of the caller's last failed call (the libc's errno holds it
 * too). */
#define SHUT_RD   0
#define SHUT_WR   1
#define SHUT_RDWR 2
#define SO_RCVTIMEO 0
#define SO_SNDTIMEO 1

struct pollfd {
	int fd;
	short events;
	short revents;
};
#define POLLIN   0x001
#define POLLPRI  0x002
#define POLLOUT  0x004
#define POLLERR  0x008
#define POLLHUP  0x010
#define POLLNVAL 0x020

/* open flags (Linux values). */
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR   2
#define O_CREAT  0x40
#define O_TRUNC  0x200
#define O_APPEND 0x400

/* lseek whence. */
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2

/*
 * Signals, with Linux's numbers. Default actions are Linux's without job
 * control: SIGCHLD, SIGCONT, SIGURG and SIGWINCH are ignored, and so are
 * SIGSTOP, SIGTSTP, SIGTTIN and SIGTTOU (they stop nothing); every other
 * signal terminates the process, whose wait status is then 128 + the
 * signal (137 for SIGKILL, 139 for SIGSEGV, 143 for SIGTERM). SIGKILL
 * cannot be caught or ignored.
 */
#define SIGHUP    1
#define SIGINT    2
#define SIGQUIT   3
#define SIGILL    4
#define SIGTRAP   5
#define SIGABRT   6
#define SIGBUS    7
#define SIGFPE    8
#define SIGKILL   9
#define SIGUSR1   10
#define SIGSEGV   11
#define SIGUSR2   12
#define SIGPIPE   13
#define SIGALRM   14
#define SIGTERM   15
#define SIGCHLD   17
#define SIGCONT   18
#define SIGSTOP   19
#define SIGTSTP   20
#define SIGTTIN   21
#define SIGTTOU   22
#define SIGURG    23
#define SIGWINCH  28
#define NSIG      32 /* signals are 1..31 */
#define SIG_DFL ((sighandler_t)0)
#define SIG_IGN ((sighandler_t)1)
#define SIG_ERR ((sighandler_t)-1) /* what signal_syscall returns on error */

/*
 * The process calls as implemented.
 *
 * fork_syscall(): the parent gets the child's pid, the child 0; both go on
 * after the call. -1 when the process table is full (aurora-vm run
 * --max-procs N, default 256, counts every process including zombies and
 * process 1) or guest memory runs out. Memory is copied on write: the child
 * sees a snapshot of heap, stack, bss, data and mmap'ed memory, and later
 * writes by either side are invisible to the other. File descriptors are
 * shared open descriptions. Signal handlers and the syscall filter are
 * inherited; pending signals are not.
 *
 * exit_syscall(code): the process becomes a zombie holding code & 0xFF, its
 * parent gets SIGCHLD and is woken from waitpid, and its children are
 * re-parented to process 1 (their getppid then returns 1). When process 1
 * ends, the run ends with its status and every other process is killed.
 *
 * waitpid_syscall(pid, status): pid > 0 waits for that child, pid <= 0 for
 * any child (there are no process groups). Blocks until a matching child
 * has ended, reaps it, stores its wait status in *status when status is not
 * NULL, and returns its pid. The wait status is the exit code (0-255), or
 * 128 + the signal that killed the child, as a shell shows it (not Linux's
 * encoded status). -1 at once when no child matches, when status is a bad
 * pointer (the child is not reaped), or when a handled signal interrupts
 * the wait.
 *
 * kill_syscall(pid, sig): sends sig (1..31) to process pid (> 0); 0 on
 * success. sig 0 only checks that pid exists. -1 for no such process, for
 * pid <= 0 and for sig outside 0..31. An unreaped zombie exists, and a
 * signal sent to it has no effect. A signal a process sends itself is
 * delivered before kill_syscall returns, as on Linux.
 *
 * signal_syscall(sig, handler): installs SIG_DFL, SIG_IGN or a function and
 * returns the previous one; SIG_ERR for SIGKILL, SIGSTOP and sig outside
 * 1..31. As with signal() in BSD and in glibc on Linux, the handler stays
 * installed after it runs, and while it runs the same signal is held
 * pending rather than nested (other signals may interrupt it). It runs as
 * handler(sig) on the process's stack, below a 128-byte red zone; when it
 * returns, every register of the interrupted code is restored:
 * general-purpose registers, flags, the x87 and SSE state (XMM0-15, MXCSR).
 * sigreturn_syscall() is for the kernel's return trampoline only: any
 * other call kills the process with SIGSEGV.
 *
 * A signal reaches a process blocked in a syscall (console read, sleep,
 * waitpid...) or running in user code. If it is handled, the handler runs
 * and the interrupted call returns -1 (sleep_syscall returns -1 when a
 * handled signal cuts it short, 0 otherwise); if its action is to
 * terminate, the process ends at once; an ignored signal changes nothing.
 *
 * CPU faults raise SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGTRAP. If the
 * program has a handler for that signal and is not already inside it, the
 * handler runs, and returning from it executes the faulting instruction
 * again, as on Linux (a handler usually ends with exit_syscall); otherwise
 * the process dies with that signal. aurora-vm prints a one-line message
 * for a fault that kills process 1 only.
 *
 * setfilter_syscall(bitmap): bit n (bitmap[n / 8] & (1 << (n % 8))) set
 * blocks syscall n, which then returns AURORA_FILTERED (-2) without
 * running. Each call replaces the whole filter; blocking SETFILTER itself
 * locks it. EXIT and SIGRETURN are never blocked. The filter is inherited
 * by fork and kept across execve. Returns 0, or -1 for a bad pointer.
 *
 * On the host, SIGINT (Ctrl-C) and SIGTERM sent to aurora-vm are delivered
 * to process 1 as SIGINT and SIGTERM.
 */

/* File type bits of st_mode (POSIX values). */
#define S_IFMT   0170000
#define S_IFSOCK 0140000
#define S_IFREG  0100000
#define S_IFDIR  0040000
#define S_IFCHR  0020000
#define S_IFIFO  0010000
#define S_ISREG(m)  (((m) & S_IFMT) == S_IFREG)
#define S_ISDIR(m)  (((m) & S_IFMT) == S_IFDIR)
#define S_ISCHR(m)  (((m) & S_IFMT) == S_IFCHR)
#define S_ISFIFO(m) (((m) & S_IFMT) == S_IFIFO)
#define S_ISSOCK(m) (((m) & S_IFMT) == S_IFSOCK)

struct stat {
	uint64_t st_ino;
	uint32_t st_mode;
	uint32_t st_nlink;
	int64_t st_size;
};

/* Memory layout. */
#define PAGE_SIZE  4096
#define HEAP_START 0x10000000UL
#define MMAP_START 0x40000000UL
#define MMAP_END   0x7FFF0000UL
#define STACK_TOP  0x7FFFFF000UL

/* Limits. */
#define MAX_FDS     32
#define MSG_MAX     256
#define MSG_QUEUE   32

/* Errors returned by syscalls. */
#define AURORA_ERR      (-1)
#define AURORA_FILTERED (-2)

#include <aurora/syscalls.h>

#endif
