/*
 * Streams: the console streams stdin, stdout and stderr, and files opened
 * with fopen (fopen.c).
 *
 * Every write to an fd other than stdout's first flushes stdout, just as
 * every NAME_syscall wrapper does (through __stdio_flush), so output appears
 * in the order the program produced it whichever way it was written.
 */
#include <aurora.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

static unsigned char stdin_buf[BUFSIZ], stdout_buf[BUFSIZ];

/* The console streams start the list of open streams (fflush(NULL), exit). */
static FILE f_stdin = {.fd = 0, .flags = F_READ, .buf = stdin_buf, .size = BUFSIZ, .unget = EOF};
static FILE f_stderr = {
	.fd = 2, .flags = F_WRITE | F_NBF, .buf = f_stderr.small, .size = 1, .unget = EOF, .next = &f_stdin};
static FILE f_stdout = {
	.fd = 1, .flags = F_WRITE | F_LBF, .buf = stdout_buf, .size = BUFSIZ, .unget = EOF, .next = &f_stderr};

FILE *stdin = &f_stdin;
FILE *stdout = &f_stdout;
FILE *stderr = &f_stderr;

static FILE *streams = &f_stdout;

void __stdio_link(FILE *f)
{
	f->next = streams;
	streams = f;
}

void __stdio_unlink(FILE *f)
{
	for (FILE **pp = &streams; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			return;
		}
	}
}

/* write_all writes n bytes to fd, retrying short writes. */
static int write_all(FILE *f, const unsigned char *p, size_t n)
{
	if (f != &f_stdout)
		__stdio_flush();
	while (n > 0) {
		long w = __sys_write(f->fd, p, n);
		if (w <= 0) {
			f->flags |= F_ERR;
			return EOF;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int __fflush_write(FILE *f)
{
	size_t n = f->wlen;
	f->wlen = 0;
	return n ? write_all(f, f->buf, n) : 0;
}

/* Called by every syscall wrapper: must stay cheap when nothing is pending. */
void __stdio_flush(void)
{
	if (f_stdout.wlen)
		__fflush_write(&f_stdout);
}

void __stdio_exit(void)
{
	for (FILE *f = streams; f; f = f->next)
		if (f->wlen)
			__fflush_write(f);
}

/* drop_input forgets buffered input before a write or seek, moving the
 * file offset back over what was read ahead. */
static void drop_input(FILE *f)
{
	long unread = (long)(f->rlen - f->rpos) + (f->unget != EOF);
	f->rpos = f->rlen = 0;
	f->unget = EOF;
	if (unread && (f->flags & F_WRITE))
		lseek_syscall(f->fd, -unread, SEEK_CUR);
}

/* to_write prepares f for output; nonzero if it cannot be written. */
static int to_write(FILE *f)
{
	if (!(f->flags & F_WRITE)) {
		f->flags |= F_ERR;
		return -1;
	}
	if (f->rlen || f->unget != EOF)
		drop_input(f);
	return 0;
}

/* put_bytes is the one output path of the stream functions. */
static int put_bytes(FILE *f, const void *p, size_t n)
{
	if (to_write(f))
		return EOF;
	if (f->flags & F_NBF)
		return write_all(f, p, n);
	if (n > f->size - f->wlen) {
		if (__fflush_write(f))
			return EOF;
		if (n >= f->size)
			return write_all(f, p, n);
	}
	memcpy(f->buf + f->wlen, p, n);
	f->wlen += n;
	if ((f->flags & F_LBF) && memchr(p, '\n', n))
		return __fflush_write(f);
	return 0;
}

int fflush(FILE *f)
{
	if (!f) {
		int r = 0;
		for (FILE *g = streams; g; g = g->next)
			if (g->wlen && __fflush_write(g))
				r = EOF;
		return r;
	}
	if (f->wlen)
		return __fflush_write(f);
	if ((f->flags & (F_READ | F_WRITE)) == (F_READ | F_WRITE) && (f->rlen || f->unget != EOF))
		drop_input(f);
	return 0;
}

/* Buffered streams are formatted straight into their buffer. */
static void flush_stream(struct __out *o)
{
	FILE *f = o->ctx;
	f->wlen = o->len;
	__fflush_write(f);
	o->len = 0;
}

static void flush_direct(struct __out *o)
{
	write_all(o->ctx, (const unsigned char *)o->buf, o->len);
	o->len = 0;
}

int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
	if (to_write(f))
		return -1;
	unsigned olderr = f->flags & F_ERR;
	f->flags &= ~F_ERR;
	struct __out o = {.ctx = f};
	char local[1024];
	if (f->flags & F_NBF) {
		/* One write per call, as far as 1 KiB goes. */
		o.buf = local;
		o.cap = sizeof local;
		o.flush = flush_direct;
		__vformat(&o, fmt, ap);
		flush_direct(&o);
	} else {
		o.buf = (char *)f->buf;
		o.len = f->wlen;
		o.cap = f->size;
		o.flush = flush_stream;
		o.track_newline = (f->flags & F_LBF) != 0;
		__vformat(&o, fmt, ap);
		f->wlen = o.len;
		if (o.newline)
			__fflush_write(f);
	}
	int err = f->flags & F_ERR;
	f->flags |= olderr;
	if (err)
		return -1;
	return o.total > INT_MAX ? -1 : (int)o.total;
}

int vprintf(const char *restrict fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

int printf(const char *restrict fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfprintf(stdout, fmt, ap);
	va_end(ap);
	return r;
}

int fprintf(FILE *restrict f, const char *restrict fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}

int vdprintf(int fd, const char *restrict fmt, va_list ap)
{
	FILE tmp = {.fd = fd, .flags = F_WRITE | F_NBF, .unget = EOF};
	tmp.buf = tmp.small;
	tmp.size = 1;
	return vfprintf(&tmp, fmt, ap);
}

int dprintf(int fd, const char *restrict fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vdprintf(fd, fmt, ap);
	va_end(ap);
	return r;
}

int fputc(int c, FILE *f)
{
	unsigned char ch = (unsigned char)c;
	if (!(f->flags & F_NBF) && f->wlen < f->size && !f->rlen && f->unget == EOF && (f->flags & F_WRITE)) {
		f->buf[f->wlen++] = ch;
		if (ch == '\n' && (f->flags & F_LBF) && __fflush_write(f))
			return EOF;
		return ch;
	}
	return put_bytes(f, &ch, 1) ? EOF : ch;
}

int putc(int c, FILE *f)
{
	return fputc(c, f);
}

int putchar(int c)
{
	return fputc(c, stdout);
}

int fputs(const char *restrict s, FILE *restrict f)
{
	return put_bytes(f, s, strlen(s)) ? EOF : 0;
}

int puts(const char *s)
{
	FILE *f = stdout;
	size_t n = strlen(s);
	if (to_write(f))
		return EOF;
	/* Keep the line and its newline in one write where they fit. */
	if (!(f->flags & F_NBF) && n < f->size - f->wlen) {
		memcpy(f->buf + f->wlen, s, n);
		f->wlen += n;
		f->buf[f->wlen++] = '\n';
		if ((f->flags & F_LBF) && __fflush_write(f))
			return EOF;
		return 0;
	}
	if (put_bytes(f, s, n) || put_bytes(f, "\n", 1))
		return EOF;
	return 0;
}

size_t fwrite(const void *restrict p, size_t size, size_t n, FILE *restrict f)
{
	if (size == 0 || n == 0)
		return 0;
	if (n > SIZE_MAX / size)
		return 0;
	return put_bytes(f, p, size * n) ? 0 : n;
}

/* fill reads more input into f's buffer; EOF at end of file or error. */
static int fill(FILE *f)
{
	if (!(f->flags & F_READ)) {
		f->flags |= F_ERR;
		return EOF;
	}
	if (f->flags & F_EOF)
		return EOF;
	if (f->wlen && __fflush_write(f))
		return EOF;
	/* read_syscall flushes stdout first, so a prompt printed without a
	 * newline shows before the program waits for input. */
	long n = read_syscall(f->fd, f->buf, f->size);
	f->rpos = f->rlen = 0;
	if (n <= 0) {
		f->flags |= n == 0 ? F_EOF : F_ERR;
		return EOF;
	}
	f->rlen = (size_t)n;
	return 0;
}

int fgetc(FILE *f)
{
	if (f->unget != EOF) {
		int c = f->unget;
		f->unget = EOF;
		return c;
	}
	if (f->rpos == f->rlen && fill(f))
		return EOF;
	return f->buf[f->rpos++];
}

int getc(FILE *f)
{
	return fgetc(f);
}

int getchar(void)
{
	return fgetc(stdin);
}

int ungetc(int c, FILE *f)
{
	if (c == EOF)
		return EOF;
	if (f->rpos > 0 && f->unget == EOF)
		f->buf[--f->rpos] = (unsigned char)c;
	else if (f->unget == EOF)
		f->unget = (unsigned char)c;
	else
		return EOF;
	f->flags &= ~F_EOF;
	return (unsigned char)c;
}

char *fgets(char *restrict s, int size, FILE *restrict f)
{
	if (size <= 0)
		return 0;
	char *p = s;
	size_t left = (size_t)size - 1;
	unsigned err = f->flags & F_ERR;
	f->flags &= ~F_ERR;
	if (left && f->unget != EOF) {
		*p++ = (char)f->unget;
		f->unget = EOF;
		left--;
		if (p[-1] == '\n')
			left = 0;
	}
	while (left > 0) {
		if (f->rpos == f->rlen && fill(f))
			break;
		size_t k = f->rlen - f->rpos;
		if (k > left)
			k = left;
		unsigned char *src = f->buf + f->rpos;
		unsigned char *nl = memchr(src, '\n', k);
		if (nl)
			k = (size_t)(nl - src) + 1;
		memcpy(p, src, k);
		p += k;
		f->rpos += k;
		left -= k;
		if (nl)
			break;
	}
	int failed = (f->flags & F_ERR) != 0;
	f->flags |= err;
	if ((p == s && size > 1) || failed)
		return 0;
	*p = 0;
	return s;
}

size_t fread(void *restrict dst, size_t size, size_t n, FILE *restrict f)
{
	if (size == 0 || n == 0 || n > SIZE_MAX / size)
		return 0;
	unsigned char *p = dst;
	size_t want = size * n, got = 0;
	if (f->unget != EOF) {
		p[got++] = (unsigned char)f->unget;
		f->unget = EOF;
	}
	while (got < want) {
		size_t k = f->rlen - f->rpos;
		if (k > 0) {
			if (k > want - got)
				k = want - got;
			memcpy(p + got, f->buf + f->rpos, k);
			f->rpos += k;
			got += k;
			continue;
		}
		if (want - got >= f->size && (f->flags & F_READ) && !(f->flags & F_EOF)) {
			/* Large reads go straight to the caller's memory. */
			if (f->wlen && __fflush_write(f))
				break;
			long r = read_syscall(f->fd, p + got, want - got);
			if (r <= 0) {
				f->flags |= r == 0 ? F_EOF : F_ERR;
				break;
			}
			got += (size_t)r;
			continue;
		}
		if (fill(f))
			break;
	}
	return got / size;
}

int fileno(FILE *f)
{
	return f->fd;
}

int feof(FILE *f)
{
	return (f->flags & F_EOF) != 0;
}

int ferror(FILE *f)
{
	return (f->flags & F_ERR) != 0;
}

void clearerr(FILE *f)
{
	f->flags &= ~(F_EOF | F_ERR);
}
