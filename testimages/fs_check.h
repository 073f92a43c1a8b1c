/* Helpers for the file system test images: print a call's result with the
 * errno's name, so golden output shows exactly how each call failed. */
#ifndef FS_CHECK_H
#define FS_CHECK_H

#include <aurora.h>
#include <errno.h>
#include <stdio.h>

static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EEXIST: return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case EMFILE: return "EMFILE";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ELOOP: return "ELOOP";
	}
	static char buf[16];
	snprintf(buf, sizeof buf, "errno %d", e);
	return buf;
}

/* CHECK prints "what = result" and, when the result is negative, the errno. */
#define CHECK(what, call)                                                      \
	do {                                                                   \
		errno = 0;                                                     \
		long r_ = (long)(call);                                        \
		if (r_ < 0)                                                    \
			printf("%s = %ld %s\n", what, r_, errname(errno));     \
		else                                                           \
			printf("%s = %ld\n", what, r_);                        \
	} while (0)

__attribute__((unused)) static const char *typename(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFCHR: return "chr";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFLNK: return "lnk";
	}
	return "?";
}

/* list prints a directory's entries as getdents returns them. */
__attribute__((unused)) static void list(const char *path)
{
	int fd = open_syscall(path, O_RDONLY);
	if (fd < 0) {
		printf("list %s: %s\n", path, errname(errno));
		return;
	}
	printf("%s:", path);
	char buf[512] __attribute__((aligned(8)));
	long n;
	while ((n = getdents_syscall(fd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < n;) {
			struct aurora_dirent *d = (struct aurora_dirent *)(buf + off);
			const char *t = d->d_type == DT_DIR ? "/" : d->d_type == DT_CHR ? "@" : d->d_type == DT_LNK ? "~" : "";
			printf(" %s%s", d->d_name, t);
			off += d->d_reclen;
		}
	}
	if (n < 0)
		printf(" (getdents: %s)", errname(errno));
	printf("\n");
	close_syscall(fd);
}

#endif
