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

/*
 * Files (aurora-vm). One file system is shared by every process of a run:
 *
 * - "/" is an in-memory file system (tmpfs) with /tmp and /dev. Its file
 *   data is bounded (aurora-vm run --tmpfs-size, default half of
 *   --memory), counted in 4 KiB pages actually stored: a hole left by
 *   seeking past the end and writing costs nothing and reads as zeros.
 *   A write past the bound writes what fits, then fails with ENOSPC.
 * - /dev/null, /dev/zero, /dev/urandom (the host's cryptographic random
 *   numbers) and /dev/tty (the console: reads take the run's standard
 *   input, writes go to its standard output).
 * - aurora-vm run -v HOSTDIR:/GUEST/PATH[:ro] mounts a host directory at
 *   /GUEST/PATH (made in the tmpfs if missing). Its files live on the host.
 *   Nothing inside it reaches outside it: ".." at its root stays there, and
 *   a symbolic link leading out of it fails with EACCES. Only regular files
 *   and directories open (EACCES for host FIFOs and devices). With :ro,
 *   opening for writing, O_CREAT, O_TRUNC, mkdir and unlink fail with
 *   EROFS (what does not exist, or is a directory, fails as elsewhere:
 *   ENOENT, EEXIST, EISDIR).
 *
 * Paths: a relative path resolves from "/", since Aurora has no working
 * directory. "." and repeated slashes are skipped and ".." goes up (staying
 * at "/"). A path of 4096 bytes or more (Linux's PATH_MAX, the NUL
 * included), or with a component over 255 bytes, is ENAMETOOLONG; a component that is not a
 * directory is ENOTDIR; a missing one ENOENT; a bad pointer EFAULT.
 *
 * open_syscall(path, flags): the lowest free fd (EMFILE when all MAX_FDS
 * are in use). Flags are Linux's: one of O_RDONLY, O_WRONLY, O_RDWR (both
 * bits: EINVAL), plus O_CREAT (a missing regular file is made), O_EXCL
 * (with O_CREAT: EEXIST when the path exists), O_TRUNC, O_APPEND (every
 * write goes to the end). A directory opens read-only, for getdents;
 * opening one for writing is EISDIR. One open file description holds one
 * offset, which descriptors made from it by fork and dup2 share. Reading
 * or writing against the access mode is EBADF.
 *
 * lseek_syscall(fd, off, whence): SEEK_SET, SEEK_CUR, SEEK_END; EINVAL for
 * a negative result; ESPIPE on the console (/dev/tty too), sockets and
 * pipes. /dev/null, /dev/zero and /dev/urandom accept any seek and stay at
 * 0. On a directory the offset counts entries
 * (the d_off of a record), and lseek(fd, 0, SEEK_SET) rewinds it.
 *
 * stat_syscall(path, st) and fstat_syscall(fd, st) fill struct stat
 * (below): fstat works on every fd (the console is S_IFCHR, a socket
 * S_IFSOCK, a pipe S_IFIFO, with size 0). st_ino is unique in the run.
 *
 * getdents_syscall(fd, buf, n): fills buf with struct aurora_dirent records
 * for the directory open on fd, "." and ".." first, then by name; returns
 * the bytes filled, 0 at the end, -1 EINVAL if n is too small for one
 * record. Records are d_reclen bytes long (a multiple of 8); d_off is the
 * offset of the next one. The listing is read afresh whenever reading
 * starts at offset 0.
 *
 * mkdir_syscall(path): EEXIST when the path exists. unlink_syscall(path):
 * removes a name; a file open elsewhere stays readable and writable until
 * its last descriptor closes. A directory cannot be unlinked (EISDIR), and
 * there is no rmdir.
 */

/* open flags (Linux values). */
#define O_RDONLY  0
#define O_WRONLY  1
#define O_RDWR    2
#define O_ACCMODE 3
#define O_CREAT   0x40
#define O_EXCL    0x80
#define O_TRUNC   0x200
#define O_APPEND  0x400

/* lseek whence. */
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2

/* A directory entry as getdents_syscall returns it: Linux's
 * linux_dirent64 layout. */
struct aurora_dirent {
	uint64_t d_ino;
	int64_t d_off;       /* offset of the next record, for lseek */
	uint16_t d_reclen;   /* bytes in this record, a multiple of 8 */
	uint8_t d_type;      /* DT_* below */
	char d_name[];       /* NUL-terminated */
};
#define DT_UNKNOWN 0
#define DT_FIFO    1
#define DT_CHR     2
#define DT_DIR     4
#define DT_BLK     6
#define DT_REG     8
#define DT_LNK     10
#define DT_SOCK    12

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
 * execve_syscall(path, argv, envp): replaces the process's program with the
 * static Aurora ELF at path in the file system (mounted host directories
 * included). argv and envp are NULL-terminated arrays (NULL means empty;
 * an empty argv gives the program its path as argv[0]); the new program
 * finds them on its stack as main's arguments. Kept: the pid, the parent
 * and children, every open descriptor (with its offset), the syscall
 * filter, pending signals and the message queue. Reset: the memory (heap,
 * mmap regions and shared memory attachments go with the old image) and
 * caught signals, which go back to SIG_DFL since their handlers are gone;
 * ignored ones stay ignored, as on Linux. On success nothing returns to the
 * old program. On failure the caller goes on with -1: ENOENT (no such
 * file), EACCES (a directory or not a regular file), ENOEXEC (not a
 * static x86-64 Aurora ELF: the loader's checks apply), E2BIG (more than
 * 4096 pointers or 128 KiB of strings), EFAULT, ENOMEM.
 *
 * On the host, SIGINT (Ctrl-C) and SIGTERM sent to aurora-vm are delivered
 * to process 1 as SIGINT and SIGTERM.
 */

/* File type bits of st_mode (POSIX values). */
#define S_IFMT   0170000
#define S_IFSOCK 0140000
#define S_IFLNK  0120000
#define S_IFREG  0100000
#define S_IFDIR  0040000
#define S_IFCHR  0020000
#define S_IFIFO  0010000
#define S_ISREG(m)  (((m) & S_IFMT) == S_IFREG)
#define S_ISDIR(m)  (((m) & S_IFMT) == S_IFDIR)
#define S_ISCHR(m)  (((m) & S_IFMT) == S_IFCHR)
#define S_ISFIFO(m) (((m) & S_IFMT) == S_IFIFO)
#define S_ISSOCK(m) (((m) & S_IFMT) == S_IFSOCK)
#define S_ISLNK(m)  (((m) & S_IFMT) == S_IFLNK)

/* What stat_syscall and fstat_syscall fill: st_mode holds the type bits
 * and the permissions, st_nlink the links (0 for a file unlinked while
 * open), st_size the bytes in a regular file (0 for directories and
 * devices). */
struct stat {
	uint64_t st_ino;
	uint32_t st_mode;
	uint32_t st_nlink;
	int64_t st_size;
};

/*
 * Memory calls as implemented.
 *
 * brk_syscall(addr): moves the program break within [HEAP_START,
 * MMAP_START) and returns the break in force afterwards; 0, an address
 * outside that range, or one memory cannot back only returns the current
 * break. The heap is mapped up to the page holding the break.
 *
 * mmap_syscall(addr, len, prot, flags): maps len bytes, rounded up to a
 * page, of zeroed memory (readable, writable and executable: prot and flags
 * are ignored, as in Aurora) in [MMAP_START, MMAP_END). addr 0 takes the
 * lowest free range that fits (2 MiB-aligned for requests of 2 MiB and up,
 * when one is free), so holes left by munmap are reused; a non-zero addr
 * must be page-aligned and free, else -1. -1 also for len 0 and when
 * nothing fits. The result is (void *)-1 on error.
 *
 * munmap_syscall(addr, len), with Linux's rules: addr must be page-aligned
 * and len non-zero (-1, EINVAL), len is rounded up to a page, and the range
 * must lie below STACK_TOP (-1, EINVAL beyond). Every mapped page in the
 * range goes, whatever mapped it (mmap, the heap, the stack, the image, a
 * shared memory attachment); pages not mapped are skipped, so a range with
 * nothing in it returns 0. A range that cuts a mapping leaves its pieces on
 * both sides, and one call can span several mappings. Touching an
 * unmapped page raises SIGSEGV. Unmapping heap pages does not move the
 * break.
 *
 * Shared memory (Aurora: "shmget(size) returns an id; segments are
 * page-rounded"; the rest follows Linux's IPC_PRIVATE segments):
 *
 * shmget_syscall(size): creates a new segment of size bytes, rounded up to
 * a page, zero-filled, and returns its id, a small positive int. Every call
 * creates a new segment (there are no keys); ids are not reused while the
 * machine runs. -1 with EINVAL for size 0 or larger than the mmap region,
 * ENOSPC when SHM_MAX_SEGMENTS segments exist, ENOMEM when guest memory is
 * short.
 *
 * shmat_syscall(id): attaches the segment, readable and writable, at the
 * lowest free range of the mmap region that fits it (as mmap with addr 0)
 * and returns the address; (void *)-1 with EINVAL for an id that names no
 * segment, ENOMEM when the region is full. Any process may attach any id,
 * as often as it likes: each attachment is another view of the same memory.
 * A store through any attachment, in any process, is seen by every other
 * at once (no syscall needed in between).
 *
 * shmdt_syscall(addr): detaches the attachment that shmat returned addr
 * for; 0, or -1 with EINVAL when no attachment starts at addr. Touching
 * the range afterwards raises SIGSEGV; other attachments are unaffected.
 *
 * fork: the child inherits every attachment, still shared (not
 * copy-on-write), at the same addresses. Exit and execve detach all of a
 * process's attachments. munmap over part of an attachment detaches just
 * those pages; shmdt at the attachment's address then detaches the rest.
 *
 * Lifetime: a segment lives while the process that created it lives or
 * while anything is attached to it, whichever lasts longer; its data
 * survives the creator detaching, or exiting, while another process is
 * attached. When both are over, its memory is freed and its id stops
 * working (shmat returns -1).
 */
#define SHM_MAX_SEGMENTS 256

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

/*
 * Pipes.
 *
 * pipe_syscall(fds): makes a pipe and stores its read end in fds[0] and
 * its write end in fds[1], the two lowest free descriptors. 0, or -1 with
 * EFAULT (fds is not writable) or EMFILE (fewer than two descriptors
 * free); a failed call installs nothing. The ends are shared by fork and
 * dup2 like any descriptor; fstat reports S_IFIFO.
 *
 * A pipe holds PIPE_CAPACITY (64 KiB) bytes. read_syscall returns what is
 * there, up to n bytes, and blocks while the pipe is empty; it returns 0
 * (end of file) once the pipe is empty and every descriptor of the write
 * end, in every process, is closed. write_syscall blocks while the pipe
 * is full and returns only when all n bytes are in (write_syscall moves
 * at most 1 MiB per call). A write of at most PIPE_BUF (4096) bytes is
 * atomic: its bytes are never interleaved with another writer's; longer
 * writes may be. A write when no read end is left raises SIGPIPE, which
 * kills the writer (status 141) unless handled or ignored; then write
 * returns -1 with EPIPE. A signal that is handled cuts a blocked read or
 * write short: -1 with EINTR if nothing was transferred, otherwise the
 * count so far. Reading the write end or writing the read end: -1 EBADF.
 * Writing 0 bytes returns 0. poll_syscall: POLLIN on the read end when
 * there are bytes or no writer (with POLLHUP), POLLOUT on the write end
 * while PIPE_BUF bytes fit, POLLERR there when no reader is left.
 *
 * Message queues.
 *
 * Every process has a queue of MSG_QUEUE (32) messages of at most MSG_MAX
 * (256) bytes, made when first used and freed when the process ends.
 *
 * msgsnd_syscall(pid, data, len): appends a copy of the len bytes at data
 * to process pid's queue; 0 on success. It blocks while that queue is
 * full. -1 with EINVAL when len > MSG_MAX, EFAULT for a bad pointer, ESRCH
 * when pid names no running process (a zombie has no queue) or when the
 * process ends while the sender waits, EINTR when a handled signal cuts
 * the wait short. len 0 sends an empty message, as on Linux. A process may
 * send to itself.
 *
 * msgrcv_syscall(buf, max): takes the oldest message off the caller's own
 * queue, copies it to buf and returns its length; messages are never cut
 * or merged. It blocks while the queue is empty (-1 EINTR when a handled
 * signal comes first). A message longer than max is not taken: -1 with
 * E2BIG, and it stays first in the queue (Linux's msgrcv without
 * MSG_NOERROR); nor is one whose copy to buf faults (-1 EFAULT).
 */
#define PIPE_BUF      4096
#define PIPE_CAPACITY 65536

/* Errors returned by syscalls. */
#define AURORA_ERR      (-1)
#define AURORA_FILTERED (-2)

#include <aurora/syscalls.h>

#endif
