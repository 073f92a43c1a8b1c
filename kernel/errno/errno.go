// Package errno defines the error codes the kernel reports for failed
// system calls: Linux's numbers, which Aurora programs read through the
// libc's errno (a failing syscall still returns -1, as Aurora's ABI says).
package errno

import "errors"

// Errno is an error code. It implements error.
type Errno int

// Error codes (Linux's values).
const (
	EPERM         Errno = 1
	ENOENT        Errno = 2
	ESRCH         Errno = 3
	EINTR         Errno = 4
	EIO           Errno = 5
	E2BIG         Errno = 7
	ENOEXEC       Errno = 8
	EBADF         Errno = 9
	ECHILD        Errno = 10
	EAGAIN        Errno = 11
	ENOMEM        Errno = 12
	EACCES        Errno = 13
	EFAULT        Errno = 14
	EBUSY         Errno = 16
	EEXIST        Errno = 17
	ENOTDIR       Errno = 20
	EISDIR        Errno = 21
	EINVAL        Errno = 22
	EMFILE        Errno = 24
	EFBIG         Errno = 27
	ENOSPC        Errno = 28
	ESPIPE        Errno = 29
	EPIPE         Errno = 32
	EROFS         Errno = 30
	ENAMETOOLONG  Errno = 36
	ENOSYS        Errno = 38
	ENOTEMPTY     Errno = 39
	ELOOP         Errno = 40
	ENOTSOCK      Errno = 88
	EDESTADDRREQ  Errno = 89
	EMSGSIZE      Errno = 90
	EOPNOTSUPP    Errno = 95
	EADDRINUSE    Errno = 98
	EADDRNOTAVAIL Errno = 99
	ENETUNREACH   Errno = 101
	ECONNABORTED  Errno = 103
	ECONNRESET    Errno = 104
	EISCONN       Errno = 106
	ENOTCONN      Errno = 107
	ETIMEDOUT     Errno = 110
	ECONNREFUSED  Errno = 111
	EHOSTUNREACH  Errno = 113
	EALREADY      Errno = 114
	EINPROGRESS   Errno = 115
)

var names = map[Errno]string{
	EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO", E2BIG: "E2BIG", ENOEXEC: "ENOEXEC",
	EFBIG: "EFBIG", EROFS: "EROFS", ENAMETOOLONG: "ENAMETOOLONG", ELOOP: "ELOOP",
	EBADF: "EBADF", ECHILD: "ECHILD", EAGAIN: "EAGAIN", ENOMEM: "ENOMEM",
	EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST",
	ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", EMFILE: "EMFILE",
	ENOSPC: "ENOSPC", ESPIPE: "ESPIPE", EPIPE: "EPIPE", ENOSYS: "ENOSYS",
	ENOTEMPTY: "ENOTEMPTY", ENOTSOCK: "ENOTSOCK", EDESTADDRREQ: "EDESTADDRREQ",
	EMSGSIZE: "EMSGSIZE", EOPNOTSUPP: "EOPNOTSUPP", EADDRINUSE: "EADDRINUSE",
	EADDRNOTAVAIL: "EADDRNOTAVAIL", ENETUNREACH: "ENETUNREACH",
	ECONNABORTED: "ECONNABORTED", ECONNRESET: "ECONNRESET", EISCONN: "EISCONN",
	ENOTCONN: "ENOTCONN", ETIMEDOUT: "ETIMEDOUT", ECONNREFUSED: "ECONNREFUSED",
	EHOSTUNREACH: "EHOSTUNREACH", EALREADY: "EALREADY", EINPROGRESS: "EINPROGRESS",
}

// Error is the code's name, such as "ECONNREFUSED".
func (e Errno) Error() string {
	if n, ok := names[e]; ok {
		return n
	}
	return "errno " + itoa(int(e))
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// Of returns the code an error stands for: the Errno in its chain, or
// EINVAL for errors that carry none (a malformed request, most often).
func Of(err error) Errno {
	var e Errno
	if errors.As(err, &e) {
		return e
	}
	return EINVAL
}
