/* errno: why the last call failed. Aurora's syscalls return -1 (or -2 when
 * the syscall filter blocks them); the kernel also writes the reason into
 * errno, which the C library registers at start-up (set_errno_addr_syscall),
 * and the C library's own functions set it too. Values are Linux's. */
#ifndef _ERRNO_H
#define _ERRNO_H

extern int errno;

#define EPERM     1
#define ENOENT    2
#define ESRCH     3
#define EINTR     4
#define EIO       5
#define E2BIG     7
#define ENOEXEC   8
#define EBADF     9
#define ECHILD    10
#define EAGAIN    11
#define EWOULDBLOCK EAGAIN
#define ENOMEM    12
#define EACCES    13
#define EFAULT    14
#define EBUSY     16
#define EEXIST    17
#define ENOTDIR   20
#define EISDIR    21
#define EINVAL    22
#define EMFILE    24
#define EFBIG     27
#define ENOSPC    28
#define ESPIPE    29
#define EROFS     30
#define EPIPE     32
#define EDOM      33
#define ERANGE    34
#define ENAMETOOLONG 36
#define ENOSYS    38
#define ENOTEMPTY 39
#define ELOOP     40
#define EOVERFLOW 75
#define EILSEQ    84
#define ENOTSOCK      88
#define EDESTADDRREQ  89
#define EMSGSIZE      90
#define EOPNOTSUPP    95
#define EADDRINUSE    98
#define EADDRNOTAVAIL 99
#define ENETUNREACH   101
#define ECONNABORTED  103
#define ECONNRESET    104
#define EISCONN       106
#define ENOTCONN      107
#define ETIMEDOUT     110
#define ECONNREFUSED  111
#define EHOSTUNREACH  113
#define EALREADY      114
#define EINPROGRESS   115

#endif
