/* printf and friends over the console. One formatting engine (format)
 * writes through a sink; strings and FILE streams are two kinds of sink. */
#include <aurora.h>
#include <aurora/syscall_arch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct FILE {
	int fd;
	int line_buffered;
	size_t len;
	char buf[BUFSIZ];
	/* input side */
	size_t rpos, rlen;
	char rbuf[BUFSIZ];
};

static FILE file_stdin = {.fd = 0};
static FILE file_stdout = {.fd = 1, .line_buffered = 1};
static FILE file_stderr = {.fd = 2};
FILE *stdin = &file_stdin, *stdout = &file_stdout, *stderr = &file_stderr;

/* raw_write writes everything, retrying short writes; uses the raw trap so
 * the wrappers' own flush hook cannot recurse. */
static int raw_write(int fd, const char *p, size_t n)
{
	while (n > 0) {
		long w = __aurora_syscall3(SYS_WRITE, fd, (long)p, (long)n);
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

int fflush(FILE *f)
{
	if (!f)
		f = stdout;
	if (f->len == 0)
		return 0;
	size_t n = f->len;
	f->len = 0;
	return raw_write(f->fd, f->buf, n) < 0 ? EOF : 0;
}

void __stdio_flush(void)
{
	if (file_stdout.len)
		fflush(&file_stdout);
}

static void file_put(FILE *f, const char *p, size_t n)
{
	if (f == stderr || n >= BUFSIZ) {
		fflush(f);
		raw_write(f->fd, p, n);
		return;
	}
	if (f->len + n > BUFSIZ)
		fflush(f);
	memcpy(f->buf + f->len, p, n);
	f->len += n;
	if (f->line_buffered && memchr(p, '\n', n))
		fflush(f);
}

/* A sink receives formatted output. */
struct sink {
	FILE *file;
	char *buf;
	size_t cap, len;
};

static void emit(struct sink *s, const char *p, size_t n)
{
	if (s->file) {
		file_put(s->file, p, n);
	} else if (s->len < s->cap) {
		size_t room = s->cap - s->len;
		memcpy(s->buf + s->len, p, n < room ? n : room);
	}
	s->len += n;
}

static void pad(struct sink *s, char c, int n)
{
	char chunk[32];
	memset(chunk, c, sizeof chunk);
	while (n > 0) {
		int k = n < 32 ? n : 32;
		emit(s, chunk, k);
		n -= k;
	}
}

struct spec {
	int left, plus, space, alt, zero;
	int width, prec; /* prec < 0: none */
};

/* field writes prefix (sign, 0x) and body with width and zero padding. */
static void field(struct sink *s, const struct spec *sp, const char *prefix, const char *body, size_t blen, int zeros)
{
	size_t plen = strlen(prefix);
	int total = (int)(plen + blen) + zeros;
	int fill = sp->width > total ? sp->width - total : 0;
	if (!sp->left && !sp->zero)
		pad(s, ' ', fill);
	emit(s, prefix, plen);
	if (!sp->left && sp->zero)
		pad(s, '0', fill);
	pad(s, '0', zeros);
	emit(s, body, blen);
	if (sp->left)
		pad(s, ' ', fill);
}

static void format_int(struct sink *s, struct spec sp, unsigned long long v, int neg, int base, int upper, char conv)
{
	char digits[32];
	int n = 0;
	const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	while (v) {
		digits[sizeof digits - 1 - n++] = set[v % base];
		v /= base;
	}
	const char *prefix = neg ? "-" : sp.plus ? "+" : sp.space ? " " : "";
	if (sp.alt && base == 16 && n > 0)
		prefix = upper ? "0X" : "0x";
	int zeros = 0;
	if (sp.prec >= 0) {
		sp.zero = 0;
		if (sp.prec > n)
			zeros = sp.prec - n;
	} else if (n == 0) {
		zeros = 1;
	}
	if (sp.alt && base == 8 && zeros == 0)
		zeros = 1;
	(void)conv;
	field(s, &sp, prefix, digits + sizeof digits - n, n, zeros);
}

static const double pow10tab[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
				  1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17};

/* fixed renders |v| with prec fraction digits into out; returns length. */
static int fixed(char *out, double v, int prec)
{
	if (prec > 17)
		prec = 17;
	int n = 0;
	double ip = __builtin_floor(v);
	double frac = v - ip;
	double scaled = frac * pow10tab[prec];
	double r = __builtin_floor(scaled);
	double diff = scaled - r;
	if (diff > 0.5 || (diff == 0.5 && ((unsigned long long)r & 1)))
		r += 1;
	if (r >= pow10tab[prec]) {
		r -= pow10tab[prec];
		ip += 1;
	}
	char tmp[400];
	int t = 0;
	if (ip < 1.8e19) {
		unsigned long long u = (unsigned long long)ip;
		do {
			tmp[t++] = '0' + u % 10;
			u /= 10;
		} while (u);
	} else {
		while (ip >= 1 && t < 350) {
			double q = __builtin_floor(ip / 10);
			int d = (int)(ip - q * 10);
			tmp[t++] = '0' + (d < 0 ? 0 : d > 9 ? 9 : d);
			ip = q;
		}
	}
	while (t)
		out[n++] = tmp[--t];
	if (prec > 0) {
		out[n++] = '.';
		unsigned long long f = (unsigned long long)r;
		for (int i = prec - 1; i >= 0; i--) {
			out[n + i] = '0' + f % 10;
			f /= 10;
		}
		n += prec;
	}
	return n;
}

/* decimal exponent of v > 0, with v / 10^e in [1, 10). */
static int exponent(double v)
{
	int e = 0;
	while (v >= 10) {
		v /= 10;
		e++;
	}
	while (v < 1) {
		v *= 10;
		e--;
	}
	return e;
}

static double scale10(double v, int e)
{
	while (e > 0) {
		v /= 10;
		e--;
	}
	while (e < 0) {
		v *= 10;
		e++;
	}
	return v;
}

static int expo(char *out, double v, int prec, int upper)
{
	int e = v == 0 ? 0 : exponent(v);
	double m = scale10(v, e);
	char tmp[64];
	int n = fixed(tmp, m, prec);
	if (tmp[0] == '1' && tmp[1] == '0') { /* rounded up to 10.0 */
		e++;
		n = fixed(tmp, scale10(v, e), prec);
	}
	memcpy(out, tmp, n);
	out[n++] = upper ? 'E' : 'e';
	out[n++] = e < 0 ? '-' : '+';
	int ae = e < 0 ? -e : e;
	if (ae >= 100)
		out[n++] = '0' + ae / 100;
	out[n++] = '0' + ae / 10 % 10;
	out[n++] = '0' + ae % 10;
	return n;
}

static int strip_zeros(char *out, int n)
{
	char *dot = memchr(out, '.', n);
	if (!dot)
		return n;
	char *end = out + n;
	char *e = memchr(out, 'e', n);
	if (!e)
		e = memchr(out, 'E', n);
	char *stop = e ? e : end;
	char *p = stop;
	while (p > dot + 1 && p[-1] == '0')
		p--;
	if (p == dot + 1)
		p = dot;
	memmove(p, stop, end - stop);
	return (int)(p - out + (end - stop));
}

static void format_float(struct sink *s, struct spec sp, double v, char conv)
{
	int upper = conv == 'F' || conv == 'E' || conv == 'G';
	int neg = __builtin_signbit(v);
	if (neg)
		v = -v;
	const char *prefix = neg ? "-" : sp.plus ? "+" : sp.space ? " " : "";
	char out[420];
	int n;
	if (__builtin_isnan(v) || __builtin_isinf(v)) {
		sp.zero = 0;
		field(s, &sp, prefix, __builtin_isnan(v) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"), 3, 0);
		return;
	}
	int prec = sp.prec < 0 ? 6 : sp.prec;
	switch (conv | 0x20) {
	case 'f':
		n = fixed(out, v, prec);
		break;
	case 'e':
		n = expo(out, v, prec, upper);
		break;
	default: { /* g */
		int p = prec == 0 ? 1 : prec;
		char tmp[80];
		tmp[expo(tmp, v, p - 1, upper)] = 0;
		/* C chooses the style by the exponent %e prints, after rounding. */
		char *ep = strchr(tmp, upper ? 'E' : 'e');
		int x = 0;
		for (char *d = ep + 2; *d >= '0' && *d <= '9'; d++)
			x = x * 10 + (*d - '0');
		if (ep[1] == '-')
			x = -x;
		if (p > x && x >= -4)
			n = fixed(out, v, p - 1 - x);
		else
			n = expo(out, v, p - 1, upper);
		if (!sp.alt)
			n = strip_zeros(out, n);
	}
	}
	if (sp.alt && !memchr(out, '.', n) && prec == 0) {
		/* keep the point for %#.0f */
		out[n++] = '.';
	}
	field(s, &sp, prefix, out, n, 0);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			const char *q = p;
			while (q[1] && q[1] != '%')
				q++;
			emit(s, p, q - p + 1);
			p = q;
			continue;
		}
		struct spec sp = {.prec = -1};
		for (;; p++) {
			char c = p[1];
			if (c == '-')
				sp.left = 1;
			else if (c == '+')
				sp.plus = 1;
			else if (c == ' ')
				sp.space = 1;
			else if (c == '#')
				sp.alt = 1;
			else if (c == '0')
				sp.zero = 1;
			else
				break;
		}
		p++;
		if (*p == '*') {
			sp.width = va_arg(ap, int);
			if (sp.width < 0) {
				sp.left = 1;
				sp.width = -sp.width;
			}
			p++;
		} else {
			while (*p >= '0' && *p <= '9')
				sp.width = sp.width * 10 + (*p++ - '0');
		}
		if (*p == '.') {
			p++;
			sp.prec = 0;
			if (*p == '*') {
				sp.prec = va_arg(ap, int);
				p++;
			} else {
				while (*p >= '0' && *p <= '9')
					sp.prec = sp.prec * 10 + (*p++ - '0');
			}
		}
		if (sp.left)
			sp.zero = 0;
		int len = 0; /* 1 h, 2 hh, 3 l, 4 ll, 5 z/j/t, 6 L */
		for (;; p++) {
			if (*p == 'h')
				len = len == 1 ? 2 : 1;
			else if (*p == 'l')
				len = len == 3 ? 4 : 3;
			else if (*p == 'z' || *p == 'j' || *p == 't')
				len = 5;
			else if (*p == 'L')
				len = 6;
			else
				break;
		}
		char conv = *p;
		switch (conv) {
		case 'd':
		case 'i': {
			long long v;
			if (len >= 3)
				v = len == 3 ? va_arg(ap, long) : va_arg(ap, long long);
			else
				v = va_arg(ap, int);
			if (len == 1)
				v = (short)v;
			else if (len == 2)
				v = (signed char)v;
			format_int(s, sp, v < 0 ? -(unsigned long long)v : (unsigned long long)v, v < 0, 10, 0, conv);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			unsigned long long v;
			if (len >= 3)
				v = len == 3 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned long long);
			else
				v = va_arg(ap, unsigned int);
			if (len == 1)
				v = (unsigned short)v;
			else if (len == 2)
				v = (unsigned char)v;
			sp.plus = sp.space = 0;
			format_int(s, sp, v, 0, conv == 'u' ? 10 : conv == 'o' ? 8 : 16, conv == 'X', conv);
			break;
		}
		case 'p': {
			void *v = va_arg(ap, void *);
			if (!v) {
				sp.zero = 0;
				sp.prec = -1;
				field(s, &sp, "", "(nil)", 5, 0);
			} else {
				sp.alt = 1;
				format_int(s, sp, (uintptr_t)v, 0, 16, 0, 'x');
			}
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);
			sp.zero = 0;
			field(s, &sp, "", &c, 1, 0);
			break;
		}
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			size_t n = sp.prec >= 0 ? strnlen(str, sp.prec) : strlen(str);
			sp.zero = 0;
			field(s, &sp, "", str, n, 0);
			break;
		}
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G':
			format_float(s, sp, len == 6 ? (double)va_arg(ap, long double) : va_arg(ap, double), conv);
			break;
		case '%':
			emit(s, "%", 1);
			break;
		case 0:
			return;
		default:
			emit(s, p - 1, 2);
		}
	}
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = {.buf = buf, .cap = size ? size - 1 : 0};
	format(&s, fmt, ap);
	if (size)
		buf[s.len < s.cap ? s.len : s.cap] = 0;
	return (int)s.len;
}

int vsprintf(char *buf, const char *fmt, va_list ap) { return vsnprintf(buf, (size_t)-1 >> 1, fmt, ap); }

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
	struct sink s = {.file = f};
	format(&s, fmt, ap);
	return (int)s.len;
}

int vprintf(const char *fmt, va_list ap) { return vfprintf(stdout, fmt, ap); }

#define VARIADIC(call)            \
	va_list ap;               \
	va_start(ap, fmt);        \
	int r = call;             \
	va_end(ap);               \
	return r;

int printf(const char *fmt, ...) { VARIADIC(vfprintf(stdout, fmt, ap)) }
int fprintf(FILE *f, const char *fmt, ...) { VARIADIC(vfprintf(f, fmt, ap)) }
int sprintf(char *buf, const char *fmt, ...) { VARIADIC(vsprintf(buf, fmt, ap)) }
int snprintf(char *buf, size_t size, const char *fmt, ...) { VARIADIC(vsnprintf(buf, size, fmt, ap)) }

int fputs(const char *str, FILE *f)
{
	file_put(f, str, strlen(str));
	return 0;
}

int puts(const char *str)
{
	fputs(str, stdout);
	file_put(stdout, "\n", 1);
	return 0;
}

int fputc(int c, FILE *f)
{
	char ch = (char)c;
	file_put(f, &ch, 1);
	return (unsigned char)c;
}

int putc(int c, FILE *f) { return fputc(c, f); }
int putchar(int c) { return fputc(c, stdout); }

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	file_put(f, p, size * n);
	return n;
}

int fgetc(FILE *f)
{
	if (f->rpos == f->rlen) {
		__stdio_flush();
		long n = __aurora_syscall3(SYS_READ, f->fd, (long)f->rbuf, sizeof f->rbuf);
		if (n <= 0)
			return EOF;
		f->rpos = 0;
		f->rlen = n;
	}
	return (unsigned char)f->rbuf[f->rpos++];
}

int getc(FILE *f) { return fgetc(f); }
int getchar(void) { return fgetc(stdin); }

char *fgets(char *str, int size, FILE *f)
{
	int i = 0;
	while (i < size - 1) {
		int c = fgetc(f);
		if (c == EOF)
			break;
		str[i++] = (char)c;
		if (c == '\n')
			break;
	}
	if (i == 0)
		return 0;
	str[i] = 0;
	return str;
}
