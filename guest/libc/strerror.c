/* Messages for the errno values the C library sets (glibc's wording). */
#include <errno.h>
#include <string.h>

static const struct {
	int err;
	const char *msg;
} messages[] = {
	{0, "Success"},
	{EPERM, "Operation not permitted"},
	{ENOENT, "No such file or directory"},
	{ESRCH, "No such process"},
	{EINTR, "Interrupted system call"},
	{EIO, "Input/output error"},
	{E2BIG, "Argument list too long"},
	{ENOEXEC, "Exec format error"},
	{EBADF, "Bad file descriptor"},
	{ECHILD, "No child processes"},
	{EAGAIN, "Resource temporarily unavailable"},
	{ENOMEM, "Cannot allocate memory"},
	{EACCES, "Permission denied"},
	{EFAULT, "Bad address"},
	{EBUSY, "Device or resource busy"},
	{EEXIST, "File exists"},
	{ENOTDIR, "Not a directory"},
	{EISDIR, "Is a directory"},
	{EINVAL, "Invalid argument"},
	{EMFILE, "Too many open files"},
	{EFBIG, "File too large"},
	{ENOSPC, "No space left on device"},
	{ESPIPE, "Illegal seek"},
	{EROFS, "Read-only file system"},
	{EPIPE, "Broken pipe"},
	{EDOM, "Numerical argument out of domain"},
	{ERANGE, "Numerical result out of range"},
	{ENAMETOOLONG, "File name too long"},
	{ENOSYS, "Function not implemented"},
	{ENOTEMPTY, "Directory not empty"},
	{ELOOP, "Too many levels of symbolic links"},
	{EOVERFLOW, "Value too large for defined data type"},
	{EILSEQ, "Invalid or incomplete multibyte or wide character"},
	{ENOTSOCK, "Socket operation on non-socket"},
	{EDESTADDRREQ, "Destination address required"},
	{EMSGSIZE, "Message too long"},
	{EOPNOTSUPP, "Operation not supported"},
	{EADDRINUSE, "Address already in use"},
	{EADDRNOTAVAIL, "Cannot assign requested address"},
	{ENETUNREACH, "Network is unreachable"},
	{ECONNABORTED, "Software caused connection abort"},
	{ECONNRESET, "Connection reset by peer"},
	{EISCONN, "Transport endpoint is already connected"},
	{ENOTCONN, "Transport endpoint is not connected"},
	{ETIMEDOUT, "Connection timed out"},
	{ECONNREFUSED, "Connection refused"},
	{EHOSTUNREACH, "No route to host"},
	{EALREADY, "Operation already in progress"},
	{EINPROGRESS, "Operation now in progress"},
};

char *strerror(int err)
{
	for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++)
		if (messages[i].err == err)
			return (char *)messages[i].msg;
	static char unknown[32] = "Unknown error ";
	char *p = unknown + 14, tmp[12];
	unsigned u = err < 0 ? -(unsigned)err : (unsigned)err;
	int n = 0;
	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (err < 0)
		*p++ = '-';
	while (n > 0)
		*p++ = tmp[--n];
	*p = 0;
	return unknown;
}
