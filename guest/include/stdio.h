/*
 * Streams over Aurora file descriptors.
 *
 * stdout is line buffered: output is written when a call prints a newline,
 * when the buffer fills, on fflush, on exit, and before every Aurora syscall
 * wrapper (so printf output and write_syscall output never reorder). stderr
 * is unbuffered; each printf to it is a single write. stdin is read in
 * blocks; reading first flushes stdout so prompts appear.
 */
#ifndef _STDIO_H
#define _STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)
#define BUFSIZ 4096
#define FOPEN_MAX 32
#define FILENAME_MAX 256

#define _IOFBF 0
#define _IOLBF 1
#define _IONBF 2

#ifndef SEEK_SET
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2
#endif

typedef struct __FILE FILE;
typedef long fpos_t;

extern FILE *stdin, *stdout, *stderr;
#define stdin stdin
#define stdout stdout
#define stderr stderr

int printf(const char *__restrict fmt, ...) __attribute__((format(printf, 1, 2)));
int fprintf(FILE *__restrict f, const char *__restrict fmt, ...) __attribute__((format(printf, 2, 3)));
int dprintf(int fd, const char *__restrict fmt, ...) __attribute__((format(printf, 2, 3)));
int sprintf(char *__restrict buf, const char *__restrict fmt, ...) __attribute__((format(printf, 2, 3)));
int snprintf(char *__restrict buf, size_t size, const char *__restrict fmt, ...)
	__attribute__((format(printf, 3, 4)));
int vprintf(const char *__restrict fmt, va_list ap) __attribute__((format(printf, 1, 0)));
int vfprintf(FILE *__restrict f, const char *__restrict fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int vdprintf(int fd, const char *__restrict fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int vsprintf(char *__restrict buf, const char *__restrict fmt, va_list ap) __attribute__((format(printf, 2, 0)));
int vsnprintf(char *__restrict buf, size_t size, const char *__restrict fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

int puts(const char *s);
int putchar(int c);
int fputs(const char *__restrict s, FILE *__restrict f);
int fputc(int c, FILE *f);
int putc(int c, FILE *f);
size_t fwrite(const void *__restrict p, size_t size, size_t n, FILE *__restrict f);
int fflush(FILE *f);

int getchar(void);
int getc(FILE *f);
int fgetc(FILE *f);
int ungetc(int c, FILE *f);
char *fgets(char *__restrict s, int size, FILE *__restrict f);
size_t fread(void *__restrict p, size_t size, size_t n, FILE *__restrict f);

FILE *fopen(const char *__restrict path, const char *__restrict mode);
FILE *fdopen(int fd, const char *mode);
int fclose(FILE *f);
int fileno(FILE *f);
int feof(FILE *f);
int ferror(FILE *f);
void clearerr(FILE *f);
int fseek(FILE *f, long off, int whence);
long ftell(FILE *f);
void rewind(FILE *f);
int setvbuf(FILE *__restrict f, char *__restrict buf, int mode, size_t size);
void setbuf(FILE *__restrict f, char *__restrict buf);
int remove(const char *path);
void perror(const char *s);

#endif
