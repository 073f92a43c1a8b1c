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
	{EIO, "Input/output error"},
	{EBADF, "Bad file descriptor"},
	{ENOMEM, "Cannot allocate memory"},
	{EACCES, "Permission denied"},
	{EFAULT, "Bad address"},
	{EEXIST, "File exists"},
	{EINVAL, "Invalid argument"},
	{ENOSPC, "No space left on device"},
	{ESPIPE, "Illegal seek"},
	{EPIPE, "Broken pipe"},
	{EDOM, "Numerical argument out of domain"},
	{ERANGE, "Numerical result out of range"},
	{ENOSYS, "Function not implemented"},
	{EOVERFLOW, "Value too large for defined data type"},
	{EILSEQ, "Invalid or incomplete multibyte or wide character"},
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
