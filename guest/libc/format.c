/*
 * The printf engine behind every printf-family function, and the string
 * variants (snprintf and friends).
 *
 * Floating point is converted exactly: the double's binary value is
 * expanded into all of its decimal digits with a small bignum (at most 767
 * digits), then rounded half-to-even at the requested digit. That is what
 * glibc prints, so %.0f of 2.5 is "2" and %.2f of 2.675 is "2.67" (the
 * double is 2.67499999...). long double arguments are converted to double
 * first.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

void __out_put(struct __out *o, const char *p, size_t n)
{
	o->total += n;
	if (o->track_newline && !o->newline && memchr(p, '\n', n))
		o->newline = 1;
	while (n > 0) {
		if (o->len == o->cap && o->flush)
			o->flush(o);
		size_t k = o->cap - o->len;
		if (k == 0)
			return; /* a full snprintf buffer: the rest is only counted */
		if (k > n)
			k = n;
		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		n -= k;
	}
}

static void fill(struct __out *o, char c, size_t n)
{
	char chunk[64];
	memset(chunk, c, n < sizeof chunk ? n : sizeof chunk);
	while (n > 0) {
		size_t k = n < sizeof chunk ? n : sizeof chunk;
		__out_put(o, chunk, k);
		n -= k;
	}
}

struct spec {
	unsigned char left, plus, space, alt, zero;
	int width;
	int prec; /* -1: none given */
};

/* field writes prefix, zeros and body padded to the field width: with
 * spaces in front, zeros after the prefix, or spaces behind. */
static void field(struct __out *o, const struct spec *sp, const char *pre, size_t plen, size_t zeros,
		  const char *body, size_t blen)
{
	size_t len = plen + zeros + blen;
	size_t pad = (size_t)sp->width > len ? (size_t)sp->width - len : 0;
	if (!sp->left && !sp->zero)
		fill(o, ' ', pad);
	__out_put(o, pre, plen);
	if (!sp->left && sp->zero)
		fill(o, '0', pad);
	fill(o, '0', zeros);
	__out_put(o, body, blen);
	if (sp->left)
		fill(o, ' ', pad);
}

static const char xdigits[2][16] = {
	{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'},
	{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'},
};

/* fmt_int prints v in base 8, 10 or 16. sign is '-', '+', ' ' or 0. */
static void fmt_int(struct __out *o, struct spec sp, uint64_t v, char sign, int base, int upper)
{
	char buf[24];
	char *end = buf + sizeof buf, *p = end;
	if (base == 10) {
		for (; v; v /= 10)
			*--p = (char)('0' + v % 10);
	} else {
		int shift = base == 16 ? 4 : 3;
		for (; v; v >>= shift)
			*--p = xdigits[upper][v & (base - 1)];
	}
	size_t n = (size_t)(end - p);

	char pre[3];
	size_t plen = 0;
	if (sign)
		pre[plen++] = sign;
	if (sp.alt && base == 16 && n > 0) {
		pre[plen++] = '0';
		pre[plen++] = upper ? 'X' : 'x';
	}
	size_t prec = 1;
	if (sp.prec >= 0) {
		prec = (size_t)sp.prec;
		sp.zero = 0;
	}
	/* %#o: the first digit printed must be 0. */
	if (sp.alt && base == 8 && (n == 0 || *p != '0') && prec <= n)
		prec = n + 1;
	field(o, &sp, pre, plen, prec > n ? prec - n : 0, p, n);
}

/* put_digits writes digits from..from+count-1 of d[0..n), which are '0'
 * outside that range. */
static void put_digits(struct __out *o, const char *d, int n, int from, int count)
{
	if (count <= 0)
		return;
	if (from < 0) {
		int z = -from < count ? -from : count;
		fill(o, '0', (size_t)z);
		from += z;
		count -= z;
	}
	if (count > 0 && from < n) {
		int k = n - from < count ? n - from : count;
		__out_put(o, d + from, (size_t)k);
		from += k;
		count -= k;
	}
	if (count > 0)
		fill(o, '0', (size_t)count);
}

/* Room for the decimal expansion of any double: 2^1024 has 309 digits and
 * the smallest subnormal 767 significant ones. */
enum { LIMBS = 90, DIGITS = LIMBS * 9 + 2 };

static int mul_small(uint32_t *a, int n, uint32_t f)
{
	uint64_t carry = 0;
	for (int i = 0; i < n; i++) {
		uint64_t t = (uint64_t)a[i] * f + carry;
		a[i] = (uint32_t)(t % 1000000000);
		carry = t / 1000000000;
	}
	while (carry) {
		a[n++] = (uint32_t)(carry % 1000000000);
		carry /= 1000000000;
	}
	return n;
}

/* decimal writes the exact decimal digits of the finite v >= 0 to buf+1
 * (buf[0] is left for a rounding carry) and returns where they start. *n is
 * the digit count and *e the power of ten of the first digit. */
static char *decimal(double v, char *buf, int *n, int *e)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	int be = (int)(bits >> 52 & 0x7ff);
	uint64_t m = bits & ((1ULL << 52) - 1);
	char *d = buf + 1;
	if (be == 0 && m == 0) {
		d[0] = '0';
		*n = 1;
		*e = 0;
		return d;
	}
	if (be == 0)
		be = 1;
	else
		m |= 1ULL << 52;
	int e2 = be - 1075; /* v = m * 2^e2 */
	while (!(m & 1) && e2 < 0) {
		m >>= 1;
		e2++;
	}

	uint32_t a[LIMBS];
	int nl = 0;
	for (; m; m /= 1000000000)
		a[nl++] = (uint32_t)(m % 1000000000);
	int k = 0; /* v = a * 10^-k */
	if (e2 > 0) {
		for (; e2 >= 29; e2 -= 29)
			nl = mul_small(a, nl, 1u << 29);
		nl = mul_small(a, nl, 1u << e2);
	} else if (e2 < 0) {
		k = -e2; /* m / 2^k = m * 5^k / 10^k */
		int r = k;
		for (; r >= 13; r -= 13)
			nl = mul_small(a, nl, 1220703125u); /* 5^13 */
		uint32_t f = 1;
		while (r-- > 0)
			f *= 5;
		nl = mul_small(a, nl, f);
	}

	char *p = d;
	char tmp[9];
	int t = 0;
	for (uint32_t top = a[nl - 1]; top; top /= 10)
		tmp[t++] = (char)('0' + top % 10);
	while (t > 0)
		*p++ = tmp[--t];
	for (int i = nl - 2; i >= 0; i--) {
		uint32_t x = a[i];
		for (int j = 8; j >= 0; j--) {
			p[j] = (char)('0' + x % 10);
			x /= 10;
		}
		p += 9;
	}
	*n = (int)(p - d);
	*e = *n - 1 - k;
	return d;
}

/* rounds_up reports whether keeping the first keep digits of d[0..n)
 * rounds the magnitude up (half to even). 0 <= keep < n. */
static int rounds_up(const char *d, int n, int keep)
{
	if (d[keep] != '5')
		return d[keep] > '5';
	for (int i = keep + 1; i < n; i++)
		if (d[i] != '0')
			return 1;
	return keep > 0 && ((d[keep - 1] - '0') & 1);
}

/* round_digits keeps the first keep digits, rounding half to even, and
 * returns the new start: one place earlier when 9s carry into a new
 * leading digit (d[-1] must be writable). */
static char *round_digits(char *d, int *n, int *e, long keep_digits)
{
	if (keep_digits >= *n)
		return d;
	if (keep_digits < 0) {
		*n = 0; /* below half a unit of the last place kept */
		return d;
	}
	int keep = (int)keep_digits;
	int up = rounds_up(d, *n, keep);
	*n = keep;
	if (!up)
		return d;
	int i = keep - 1;
	while (i >= 0 && d[i] == '9')
		d[i--] = '0';
	if (i >= 0) {
		d[i]++;
		return d;
	}
	d[-1] = '1';
	(*n)++;
	(*e)++;
	return d - 1;
}

/* trim_zeros returns how many of the count fraction digits starting at
 * digit first are left once trailing zeros are dropped (%g without #). */
static int trim_zeros(const char *d, int n, int first, int count)
{
	while (count > 0) {
		long i = (long)first + count - 1;
		if (i >= 0 && i < n && d[i] != '0')
			break;
		count--;
	}
	return count;
}

static void fmt_float(struct __out *o, struct spec sp, double v, char conv)
{
	int upper = conv == 'F' || conv == 'E' || conv == 'G' || conv == 'A';
	char sign = __builtin_signbit(v) ? '-' : sp.plus ? '+' : sp.space ? ' ' : 0;
	size_t slen = sign != 0;
	if (sign == '-')
		v = -v;
	if (__builtin_isnan(v) || __builtin_isinf(v)) {
		const char *s = __builtin_isnan(v) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
		sp.zero = 0;
		field(o, &sp, &sign, slen, 0, s, 3);
		return;
	}
	int prec = sp.prec < 0 ? 6 : sp.prec;
	char buf[DIGITS];
	int n, e;
	char *d = decimal(v, buf, &n, &e);
	int style = conv | 0x20; /* 'f' or 'e' once %g has chosen */
	if (style == 'g') {
		int p = sp.prec < 0 ? 6 : sp.prec == 0 ? 1 : sp.prec;
		int x = e; /* the exponent %e would print with p digits */
		if (p < n && rounds_up(d, n, p)) {
			int i = 0;
			while (i < p && d[i] == '9')
				i++;
			if (i == p)
				x++;
		}
		if (v == 0)
			x = 0;
		if (p > x && x >= -4) {
			style = 'f';
			prec = p - 1 - x;
		} else {
			style = 'e';
			prec = p - 1;
		}
	}
	int frac = prec, ilen;
	if (style == 'f') {
		if (v != 0)
			d = round_digits(d, &n, &e, (long)e + 1 + prec);
		ilen = e >= 0 ? e + 1 : 1;
		if ((conv | 0x20) == 'g' && !sp.alt)
			frac = trim_zeros(d, n, e + 1, prec);
	} else {
		d = round_digits(d, &n, &e, (long)prec + 1);
		if (v == 0)
			e = 0;
		ilen = 1;
		if ((conv | 0x20) == 'g' && !sp.alt)
			frac = trim_zeros(d, n, 1, prec);
	}

	char ebuf[8];
	size_t elen = 0;
	if (style == 'e') {
		int ae = e < 0 ? -e : e;
		ebuf[elen++] = upper ? 'E' : 'e';
		ebuf[elen++] = e < 0 ? '-' : '+';
		if (ae >= 100)
			ebuf[elen++] = (char)('0' + ae / 100);
		ebuf[elen++] = (char)('0' + ae / 10 % 10);
		ebuf[elen++] = (char)('0' + ae % 10);
	}
	int dot = frac > 0 || sp.alt;
	size_t len = slen + (size_t)ilen + (size_t)dot + (size_t)frac + elen;
	size_t pad = (size_t)sp.width > len ? (size_t)sp.width - len : 0;
	if (!sp.left && !sp.zero)
		fill(o, ' ', pad);
	__out_put(o, &sign, slen);
	if (!sp.left && sp.zero)
		fill(o, '0', pad);
	if (style == 'f') {
		if (e >= 0)
			put_digits(o, d, n, 0, e + 1);
		else
			fill(o, '0', 1);
		if (dot)
			__out_put(o, ".", 1);
		put_digits(o, d, n, e + 1, frac);
	} else {
		put_digits(o, d, n, 0, 1);
		if (dot)
			__out_put(o, ".", 1);
		put_digits(o, d, n, 1, frac);
		__out_put(o, ebuf, elen);
	}
	if (sp.left)
		fill(o, ' ', pad);
}

/* %a: hexadecimal floating point, as glibc prints doubles (0x1.8p+0; a
 * rounding carry may give a leading 2). */
static void fmt_hexfloat(struct __out *o, struct spec sp, double v, int upper)
{
	char sign = __builtin_signbit(v) ? '-' : sp.plus ? '+' : sp.space ? ' ' : 0;
	if (__builtin_isnan(v) || __builtin_isinf(v)) {
		const char *s = __builtin_isnan(v) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
		sp.zero = 0;
		field(o, &sp, &sign, sign != 0, 0, s, 3);
		return;
	}
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	int be = (int)(bits >> 52 & 0x7ff);
	uint64_t m = bits & ((1ULL << 52) - 1);
	int lead = be != 0, exp = be == 0 ? (m ? -1022 : 0) : be - 1023;
	int digits = 13;
	if (sp.prec < 0) {
		while (digits > 0 && !(m & 0xf)) {
			m >>= 4;
			digits--;
		}
	} else if (sp.prec < 13) {
		int shift = 4 * (13 - sp.prec);
		uint64_t rem = m & ((1ULL << shift) - 1), half = 1ULL << (shift - 1);
		m >>= shift;
		/* Half to even; with no fraction digits the leading digit decides. */
		int odd = sp.prec > 0 ? (int)(m & 1) : lead & 1;
		if (rem > half || (rem == half && odd))
			m++;
		digits = sp.prec;
		if (m >> (4 * digits)) {
			lead++;
			m &= (1ULL << (4 * digits)) - 1;
		}
	}
	char body[40];
	size_t bl = 0;
	body[bl++] = (char)('0' + lead);
	if (digits > 0 || sp.alt || sp.prec > 0)
		body[bl++] = '.';
	for (int i = digits - 1; i >= 0; i--)
		body[bl++] = xdigits[upper][m >> (4 * i) & 0xf];
	size_t zeros = sp.prec > digits ? (size_t)(sp.prec - digits) : 0;
	char ebuf[8];
	size_t el = 0;
	int ae = exp < 0 ? -exp : exp;
	ebuf[el++] = upper ? 'P' : 'p';
	ebuf[el++] = exp < 0 ? '-' : '+';
	char tmp[6];
	int t = 0;
	do
		tmp[t++] = (char)('0' + ae % 10);
	while ((ae /= 10) > 0);
	while (t > 0)
		ebuf[el++] = tmp[--t];

	char pre[3];
	size_t plen = 0;
	if (sign)
		pre[plen++] = sign;
	pre[plen++] = '0';
	pre[plen++] = upper ? 'X' : 'x';
	size_t len = plen + bl + zeros + el;
	size_t pad = (size_t)sp.width > len ? (size_t)sp.width - len : 0;
	if (!sp.left && !sp.zero)
		fill(o, ' ', pad);
	__out_put(o, pre, plen);
	if (!sp.left && sp.zero)
		fill(o, '0', pad);
	__out_put(o, body, bl);
	fill(o, '0', zeros);
	__out_put(o, ebuf, el);
	if (sp.left)
		fill(o, ' ', pad);
}

/* %ls and %lc: the C locale has no multibyte characters; anything outside
 * ASCII prints as '?'. */
static void fmt_wide(struct __out *o, struct spec sp, const int *ws, int wc)
{
	size_t n = 0;
	if (ws) {
		while ((sp.prec < 0 || n < (size_t)sp.prec) && ws[n])
			n++;
	} else {
		n = 1;
	}
	sp.zero = 0;
	size_t pad = (size_t)sp.width > n ? (size_t)sp.width - n : 0;
	if (!sp.left)
		fill(o, ' ', pad);
	for (size_t i = 0; i < n; i++) {
		int c = ws ? ws[i] : wc;
		char ch = c >= 0 && c < 0x80 ? (char)c : '?';
		__out_put(o, &ch, 1);
	}
	if (sp.left)
		fill(o, ' ', pad);
}

enum { L_NONE, L_HH, L_H, L_L, L_LL, L_LD };

void __vformat(struct __out *o, const char *fmt, va_list ap)
{
	const char *p = fmt;
	for (;;) {
		const char *q = p;
		while (*q && *q != '%')
			q++;
		if (q > p)
			__out_put(o, p, (size_t)(q - p));
		if (!*q)
			return;
		const char *start = q;
		p = q + 1;

		struct spec sp = {.prec = -1};
		for (;; p++) {
			switch (*p) {
			case '-':
				sp.left = 1;
				continue;
			case '+':
				sp.plus = 1;
				continue;
			case ' ':
				sp.space = 1;
				continue;
			case '#':
				sp.alt = 1;
				continue;
			case '0':
				sp.zero = 1;
				continue;
			case '\'': /* grouping: none in the C locale */
			case 'I':
				continue;
			}
			break;
		}
		if (*p == '*') {
			int w = va_arg(ap, int);
			p++;
			if (w < 0) {
				sp.left = 1;
				w = w == INT_MIN ? INT_MAX : -w;
			}
			sp.width = w;
		} else {
			for (; *p >= '0' && *p <= '9'; p++)
				if (sp.width <= (INT_MAX - 9) / 10)
					sp.width = sp.width * 10 + (*p - '0');
		}
		if (*p == '.') {
			p++;
			if (*p == '*') {
				int pr = va_arg(ap, int);
				p++;
				sp.prec = pr < 0 ? -1 : pr;
			} else {
				sp.prec = 0;
				for (; *p >= '0' && *p <= '9'; p++)
					if (sp.prec <= (INT_MAX - 9) / 10)
						sp.prec = sp.prec * 10 + (*p - '0');
			}
		}
		if (sp.left)
			sp.zero = 0;
		if (sp.plus)
			sp.space = 0;

		int len = L_NONE;
		switch (*p) {
		case 'h':
			len = *++p == 'h' ? (p++, L_HH) : L_H;
			break;
		case 'l':
			len = *++p == 'l' ? (p++, L_LL) : L_L;
			break;
		case 'q':
		case 'j':
		case 'z':
		case 'Z':
		case 't':
			p++;
			len = L_LL; /* all 64-bit on x86-64 */
			break;
		case 'L':
			p++;
			len = L_LD;
			break;
		}

		char conv = *p;
		if (!conv)
			return; /* a lone '%' ends the format */
		p++;
		switch (conv) {
		case 'd':
		case 'i': {
			int64_t v;
			if (len >= L_L)
				v = va_arg(ap, long long);
			else if (len == L_H)
				v = (short)va_arg(ap, int);
			else if (len == L_HH)
				v = (signed char)va_arg(ap, int);
			else
				v = va_arg(ap, int);
			uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
			fmt_int(o, sp, mag, v < 0 ? '-' : sp.plus ? '+' : sp.space ? ' ' : 0, 10, 0);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			uint64_t v;
			if (len >= L_L)
				v = va_arg(ap, unsigned long long);
			else if (len == L_H)
				v = (unsigned short)va_arg(ap, unsigned);
			else if (len == L_HH)
				v = (unsigned char)va_arg(ap, unsigned);
			else
				v = va_arg(ap, unsigned);
			fmt_int(o, sp, v, 0, conv == 'u' ? 10 : conv == 'o' ? 8 : 16, conv == 'X');
			break;
		}
		case 'p': {
			void *v = va_arg(ap, void *);
			if (v) {
				sp.alt = 1;
				fmt_int(o, sp, (uintptr_t)v, sp.plus ? '+' : sp.space ? ' ' : 0, 16, 0);
			} else {
				sp.zero = 0;
				field(o, &sp, "", 0, 0, "(nil)", 5);
			}
			break;
		}
		case 'c':
			if (len == L_L) {
				fmt_wide(o, sp, 0, (int)va_arg(ap, unsigned));
			} else {
				char c = (char)va_arg(ap, int);
				sp.zero = 0;
				field(o, &sp, "", 0, 0, &c, 1);
			}
			break;
		case 's': {
			if (len == L_L) {
				const int *ws = va_arg(ap, const int *);
				if (ws) {
					fmt_wide(o, sp, ws, 0);
					break;
				}
			}
			const char *s = len == L_L ? 0 : va_arg(ap, const char *);
			if (!s) /* glibc prints all of "(null)" or nothing */
				s = sp.prec < 0 || sp.prec >= 6 ? "(null)" : "";
			size_t n = sp.prec >= 0 ? strnlen(s, (size_t)sp.prec) : strlen(s);
			sp.zero = 0;
			field(o, &sp, "", 0, 0, s, n);
			break;
		}
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G':
		case 'a':
		case 'A': {
			double v = len == L_LD ? (double)va_arg(ap, long double) : va_arg(ap, double);
			if ((conv | 0x20) == 'a')
				fmt_hexfloat(o, sp, v, conv == 'A');
			else
				fmt_float(o, sp, v, conv);
			break;
		}
		case 'n': {
			void *ptr = va_arg(ap, void *);
			switch (len) {
			case L_HH:
				*(signed char *)ptr = (signed char)o->total;
				break;
			case L_H:
				*(short *)ptr = (short)o->total;
				break;
			case L_L:
			case L_LL:
				*(long long *)ptr = (long long)o->total;
				break;
			default:
				*(int *)ptr = (int)o->total;
			}
			break;
		}
		case '%':
			__out_put(o, "%", 1);
			break;
		default: /* unknown: print the directive as written */
			__out_put(o, start, (size_t)(p - start));
		}
	}
}

static int result(const struct __out *o)
{
	return o->total > INT_MAX ? -1 : (int)o->total;
}

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
	char dummy[1];
	struct __out o = {.buf = size ? buf : dummy, .cap = size ? size - 1 : 0};
	__vformat(&o, fmt, ap);
	if (size)
		buf[o.len] = 0;
	return result(&o);
}

int vsprintf(char *restrict buf, const char *restrict fmt, va_list ap)
{
	struct __out o = {.buf = buf, .cap = INT_MAX};
	__vformat(&o, fmt, ap);
	buf[o.len] = 0;
	return result(&o);
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return r;
}

int sprintf(char *restrict buf, const char *restrict fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsprintf(buf, fmt, ap);
	va_end(ap);
	return r;
}
