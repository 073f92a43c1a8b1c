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

/* Signals. */
#define SIGKILL 9
#define SIGSEGV 11
#define SIGPIPE 13
#define SIGCHLD 17
#define SIG_DFL ((sighandler_t)0)
#define SIG_IGN ((sighandler_t)1)

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
