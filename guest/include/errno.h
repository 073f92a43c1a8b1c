/* errno for the C library's own errors. Aurora's syscalls report failure
 * only as -1 (or -2 when filtered) and never set errno. Values are Linux's. */
#ifndef _ERRNO_H
#define _ERRNO_H

extern int errno;

#define EPERM     1
#define ENOENT    2
#define EIO       5
#define EBADF     9
#define ENOMEM    12
#define EACCES    13
#define EFAULT    14
#define EEXIST    17
#define EINVAL    22
#define ENOSPC    28
#define ESPIPE    29
#define EPIPE     32
#define EDOM      33
#define ERANGE    34
#define ENOSYS    38
#define EOVERFLOW 75
#define EILSEQ    84

#endif
