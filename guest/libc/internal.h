/* Declarations shared inside the C library; not installed for programs. */
#ifndef AURORA_LIBC_INTERNAL_H
#define AURORA_LIBC_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* The raw write trap (sysio.c). Unlike write_syscall it does not flush
 * stdout first, so stdio can use it to flush. */
long __sys_write(int fd, const void *buf, size_t n);

/* A stream. buf holds pending output (wlen bytes) or unread input
 * (buf[rpos..rlen)), never both; unbuffered streams use the one-byte
 * small[] so that reading still works. */
struct __FILE {
	int fd;
	unsigned flags;
	unsigned char *buf;
	size_t size;
	size_t wlen;
	size_t rpos, rlen;
	int unget; /* byte pushed back by ungetc, or EOF */
	struct __FILE *next;
	unsigned char small[1];
};

enum {
	F_READ = 1,      /* opened for reading */
	F_WRITE = 2,     /* opened for writing */
	F_EOF = 4,       /* end of file seen; sticky until clearerr */
	F_ERR = 8,       /* an I/O error happened */
	F_LBF = 16,      /* line buffered */
	F_NBF = 32,      /* unbuffered */
	F_ALLOC = 64,    /* the FILE (and its buffer) came from malloc */
	F_USERBUF = 128, /* buf was given by setvbuf and is not ours */
};

/* Everything the printf engine produces goes to an __out: into buf until
 * cap, then to flush (a stream) or nowhere (snprintf past its size). */
struct __out {
	char *buf;
	size_t len, cap;
	size_t total;                      /* bytes produced, written or not */
	void (*flush)(struct __out *o);   /* empties buf; NULL: drop overflow */
	void *ctx;
	int track_newline, newline;        /* for line-buffered streams */
};

void __out_put(struct __out *o, const char *p, size_t n);
void __vformat(struct __out *o, const char *fmt, va_list ap);

int __fflush_write(FILE *f);
void __stdio_flush(void);
void __stdio_exit(void);
void __stdio_link(FILE *f);
void __stdio_unlink(FILE *f);

extern char *__progname;

#endif
