/* Streams over files: fopen, fclose, seeking and buffering control. */
#include <aurora.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* mode_flags turns an fopen mode into open flags and stream flags. */
static int mode_flags(const char *mode, int *oflags, unsigned *sflags)
{
	int plus = strchr(mode, '+') != 0;
	switch (*mode) {
	case 'r':
		*oflags = plus ? O_RDWR : O_RDONLY;
		break;
	case 'w':
		*oflags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
		break;
	case 'a':
		*oflags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	*sflags = plus ? F_READ | F_WRITE : *mode == 'r' ? F_READ : F_WRITE;
	return 0;
}

static FILE *new_stream(int fd, unsigned flags)
{
	FILE *f = malloc(sizeof *f + BUFSIZ);
	if (!f) {
		errno = ENOMEM;
		return 0;
	}
	memset(f, 0, sizeof *f);
	f->fd = fd;
	f->flags = flags | F_ALLOC;
	f->buf = (unsigned char *)(f + 1);
	f->size = BUFSIZ;
	f->unget = EOF;
	__stdio_link(f);
	return f;
}

FILE *fopen(const char *restrict path, const char *restrict mode)
{
	int oflags;
	unsigned sflags;
	if (mode_flags(mode, &oflags, &sflags))
		return 0;
	int fd = open_syscall(path, oflags);
	if (fd < 0)
		return 0; /* errno says why: the kernel set it */
	FILE *f = new_stream(fd, sflags);
	if (!f)
		close_syscall(fd);
	return f;
}

FILE *fdopen(int fd, const char *mode)
{
	int oflags;
	unsigned sflags;
	if (mode_flags(mode, &oflags, &sflags))
		return 0;
	return new_stream(fd, sflags);
}

int fclose(FILE *f)
{
	int r = fflush(f);
	if (close_syscall(f->fd) < 0)
		r = EOF;
	if (f->flags & F_ALLOC) {
		__stdio_unlink(f);
		free(f);
	} else {
		/* A console stream: keep the object, it can no longer be used. */
		f->flags &= ~(F_READ | F_WRITE);
		f->rpos = f->rlen = 0;
	}
	return r;
}

int fseek(FILE *f, long off, int whence)
{
	if (f->wlen && __fflush_write(f))
		return -1;
	if (whence == SEEK_CUR)
		off -= (long)(f->rlen - f->rpos) + (f->unget != EOF);
	f->rpos = f->rlen = 0;
	f->unget = EOF;
	if (lseek_syscall(f->fd, off, whence) < 0)
		return -1; /* errno set by the kernel: EINVAL, ESPIPE... */
	f->flags &= ~F_EOF;
	return 0;
}

long ftell(FILE *f)
{
	long pos = lseek_syscall(f->fd, 0, SEEK_CUR);
	if (pos < 0)
		return -1; /* errno set by the kernel */
	return pos + (long)f->wlen - (long)(f->rlen - f->rpos) - (f->unget != EOF);
}

void rewind(FILE *f)
{
	fseek(f, 0, SEEK_SET);
	f->flags &= ~F_ERR;
}

int setvbuf(FILE *restrict f, char *restrict buf, int mode, size_t size)
{
	if (f->wlen && __fflush_write(f))
		return -1;
	f->flags &= ~(F_LBF | F_NBF);
	if (mode == _IONBF) {
		f->buf = f->small;
		f->size = 1;
		f->flags |= F_NBF;
		return 0;
	}
	if (mode != _IOLBF && mode != _IOFBF)
		return -1;
	if (mode == _IOLBF)
		f->flags |= F_LBF;
	if (buf && size > 0) {
		f->buf = (unsigned char *)buf;
		f->size = size;
		f->flags |= F_USERBUF;
	} else if (f->size <= 1) {
		/* Coming back from unbuffered without a buffer: make one. */
		unsigned char *b = malloc(BUFSIZ);
		if (!b)
			return -1;
		f->buf = b;
		f->size = BUFSIZ;
	}
	return 0;
}

void setbuf(FILE *restrict f, char *restrict buf)
{
	setvbuf(f, buf, buf ? _IOFBF : _IONBF, BUFSIZ);
}

int remove(const char *path)
{
	return unlink_syscall(path) < 0 ? -1 : 0;
}

void perror(const char *s)
{
	if (s && *s)
		fprintf(stderr, "%s: %s\n", s, strerror(errno));
	else
		fprintf(stderr, "%s\n", strerror(errno));
}
