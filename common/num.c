/* num.c - JSON numbers that keep integers exact */
#include "num.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the JSON grammar scan found. */
struct shape {
	size_t int_start, int_end; /* integer digits, after any '-' */
	size_t frac_start, frac_end;
	int neg, has_frac, has_exp;
	int64_t exp; /* clamped to +-1e9 */
};

static int is_digit(char c)
{
	return (unsigned)(c - '0') <= 9;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and nothing else */
static int scan(const char *s, size_t n, struct shape *sh)
{
	size_t i = 0;

	memset(sh, 0, sizeof(*sh));
	if (i < n && s[i] == '-')
		sh->neg = 1, i++;
	sh->int_start = i;
	if (i < n && s[i] == '0')
		i++;
	else
		while (i < n && is_digit(s[i]))
			i++;
	sh->int_end = i;
	if (i == sh->int_start)
		return -1;
	if (i < n && s[i] == '.') {
		sh->has_frac = 1;
		sh->frac_start = ++i;
		while (i < n && is_digit(s[i]))
			i++;
		sh->frac_end = i;
		if (i == sh->frac_start)
			return -1;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		int eneg = 0;
		size_t start;

		sh->has_exp = 1;
		if (++i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		for (start = i; i < n && is_digit(s[i]); i++)
			if (sh->exp < 1000000000)
				sh->exp = sh->exp * 10 + (s[i] - '0');
		if (i == start)
			return -1;
		if (eneg)
			sh->exp = -sh->exp;
	}
	return i == n ? 0 : -1;
}

/* Integer digits into int64; -1 if outside int64. */
static int to_int64(const char *s, const struct shape *sh, int64_t *out)
{
	uint64_t v = 0, lim = sh->neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
	size_t i;

	for (i = sh->int_start; i < sh->int_end; i++) {
		uint64_t c = (uint64_t)(s[i] - '0');

		if (v > (lim - c) / 10)
			return -1;
		v = v * 10 + c;
	}
	/* negate in unsigned: -(2^63) has no positive int64 */
	*out = sh->neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/*
 * Significant digits kept when a number is too long to copy: past 768 only
 * whether anything nonzero follows can change the rounding of a double.
 */
#define MAX_SIG 780

struct digits {
	char *p;
	size_t nd;
	int64_t dexp; /* value = 0.p * 10^dexp */
	int sticky;
};

static void add_digits(struct digits *g, const char *s, size_t from, size_t to,
                       int in_int)
{
	size_t i;

	for (i = from; i < to; i++) {
		if (g->nd == 0 && s[i] == '0') {
			if (!in_int)
				g->dexp--;
			continue;
		}
		if (in_int)
			g->dexp++;
		if (g->nd < MAX_SIG)
			g->p[g->nd++] = s[i];
		else
			g->sticky |= s[i] != '0';
	}
}

/*
 * strtod on bytes that are not NUL-terminated, without allocating: short
 * numbers are copied as they are; long ones are rewritten as
 * "[-]0.DDDDe<exp>" with at most MAX_SIG significant digits and a final
 * '1' when nonzero digits were dropped, so that strtod still rounds right.
 */
static double to_double(const char *s, size_t n, const struct shape *sh)
{
	char buf[MAX_SIG + 64], *p = buf;
	struct digits g = {0};

	if (n < sizeof(buf)) {
		memcpy(buf, s, n);
		buf[n] = 0;
		return strtod(buf, NULL);
	}
	if (sh->neg)
		*p++ = '-';
	*p++ = '0';
	*p++ = '.';
	g.p = p;
	add_digits(&g, s, sh->int_start, sh->int_end, 1);
	if (sh->has_frac)
		add_digits(&g, s, sh->frac_start, sh->frac_end, 0);
	if (!g.nd)
		return sh->neg ? -0.0 : 0.0;
	if (g.sticky)
		g.p[g.nd++] = '1';
	p += g.nd;
	snprintf(p, sizeof(buf) - (size_t)(p - buf), "e%lld",
	         (long long)(g.dexp + sh->exp));
	return strtod(buf, NULL);
}

enum fx_num_kind fx_num_parse(const char *s, size_t n, struct fx_num *out)
{
	struct shape sh;

	memset(out, 0, sizeof(*out));
	if (scan(s, n, &sh) < 0)
		return out->kind = FX_NUM_INVALID;
	if (!sh.has_frac && !sh.has_exp && to_int64(s, &sh, &out->i) == 0) {
		out->d = (double)out->i;
		return out->kind = FX_NUM_INT;
	}
	out->d = to_double(s, n, &sh);
	if (isinf(out->d))
		return out->kind = FX_NUM_OVERFLOW;
	if (!sh.has_frac && !sh.has_exp)
		return out->kind = FX_NUM_BIGINT;
	return out->kind = FX_NUM_DOUBLE;
}

int fx_num_is_json_number(const char *s, size_t n)
{
	struct shape sh;
	size_t i = n && s[0] == '-', j;

	/*
	 * CSV fields are mostly words, dates and integers: settle those from
	 * the integer digits alone. After them only '.', 'e' or 'E' may
	 * follow in a number; a leading 0 stands alone.
	 */
	for (j = i; j < n && is_digit(s[j]); j++)
		;
	if (j == i || (s[i] == '0' && j > i + 1))
		return 0;
	if (j == n)
		return 1;
	if (s[j] != '.' && s[j] != 'e' && s[j] != 'E')
		return 0;
	return scan(s, n, &sh) == 0;
}

/*
 * A JSON number as 0.D x 10^exp: D its significant digits, found in the
 * integer part and then the fraction (the '.' skipped), without leading or
 * trailing zeros. A zero has no digits.
 */
struct decimal {
	int neg;
	const char *int_p, *frac_p; /* the digits of each part */
	size_t int_n, frac_n;
	size_t skip; /* leading zeros of the digits, int part then fraction */
	size_t ndig; /* significant digits */
	int64_t exp; /* saturated far beyond any length of digits */
};

static char decimal_digit(const struct decimal *d, size_t k)
{
	k += d->skip;
	return k < d->int_n ? d->int_p[k] : d->frac_p[k - d->int_n];
}

static void decimal_read(const char *s, size_t n, struct decimal *d)
{
	const char *end = s + n;
	int64_t e = 0;
	int eneg = 0;
	size_t total;

	memset(d, 0, sizeof(*d));
	if (s < end && *s == '-') {
		d->neg = 1;
		s++;
	}
	d->int_p = s;
	while (s < end && is_digit(*s))
		s++;
	d->int_n = (size_t)(s - d->int_p);
	d->frac_p = s;
	if (s < end && *s == '.') {
		d->frac_p = ++s;
		while (s < end && is_digit(*s))
			s++;
		d->frac_n = (size_t)(s - d->frac_p);
	}
	if (s < end && (*s == 'e' || *s == 'E')) {
		s++;
		if (s < end && (*s == '+' || *s == '-'))
			eneg = *s++ == '-';
		for (; s < end; s++)
			if (e < (INT64_C(1) << 58))
				e = e * 10 + (*s - '0');
	}
	total = d->int_n + d->frac_n;
	while (d->skip < total && decimal_digit(d, 0) == '0')
		d->skip++;
	d->ndig = total - d->skip;
	while (d->ndig && decimal_digit(d, d->ndig - 1) == '0')
		d->ndig--;
	/* the first significant digit's place: 0.D x 10^exp */
	d->exp = (int64_t)d->int_n - (int64_t)d->skip + (eneg ? -e : e);
}

int fx_num_compare_exact(const char *a, size_t an, const char *b, size_t bn)
{
	struct decimal x, y;
	size_t k;
	int c = 0;

	decimal_read(a, an, &x);
	decimal_read(b, bn, &y);
	/* zero, of either sign, between the negatives and the positives */
	if (!x.ndig || !y.ndig) {
		int sx = !x.ndig ? 0 : x.neg ? -1 : 1;
		int sy = !y.ndig ? 0 : y.neg ? -1 : 1;

		return (sx > sy) - (sx < sy);
	}
	if (x.neg != y.neg)
		return x.neg ? -1 : 1;
	if (x.exp != y.exp) {
		c = x.exp < y.exp ? -1 : 1;
	} else {
		for (k = 0; !c && k < x.ndig && k < y.ndig; k++)
			c = decimal_digit(&x, k) - decimal_digit(&y, k);
		/* no trailing zeros: the longer one has more after them */
		if (!c)
			c = (x.ndig > y.ndig) - (x.ndig < y.ndig);
		c = (c > 0) - (c < 0);
	}
	return x.neg ? -c : c;
}

size_t fx_num_format_int(int64_t i, char *buf)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t v = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
	size_t len;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (i < 0)
		*--p = '-';
	len = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(buf, p, len);
	buf[len] = 0;
	return len;
}

/*
 * %.{prec}g of x (1e-4 <= x < 1e15, prec 15..17) without printf: the
 * digits come from exact 128-bit arithmetic, x * 10^k = mant * 5^k *
 * 2^(e2+k), rounded half to even as printf does. Returns the length; 0 if
 * those digits do not read back to x (more are needed); -1 for a case this
 * does not decide (a tie, a power of two): the caller's slow path does.
 */
static long format_fast(double x, int prec, char *buf)
{
	static const uint64_t pow10[] = {1ULL,
	                                 10ULL,
	                                 100ULL,
	                                 1000ULL,
	                                 10000ULL,
	                                 100000ULL,
	                                 1000000ULL,
	                                 10000000ULL,
	                                 100000000ULL,
	                                 1000000000ULL,
	                                 10000000000ULL,
	                                 100000000000ULL,
	                                 1000000000000ULL,
	                                 10000000000000ULL,
	                                 100000000000000ULL,
	                                 1000000000000000ULL,
	                                 10000000000000000ULL,
	                                 100000000000000000ULL,
	                                 1000000000000000000ULL};
	int e2, e10 = (int)floor(log10(x)), tries, k, s;
	uint64_t mant = (uint64_t)ldexp(frexp(x, &e2), 53), m = 0;
	unsigned __int128 five = 1, prod, q, rem, half, dist;
	char digits[20], *o = buf;
	int i, n, point;

	e2 -= 53; /* x = mant * 2^e2 exactly */
	if (mant == 1ULL << 52)
		return -1; /* the interval below is narrower */
	for (tries = 0; tries < 3; tries++) {
		k = prec - 1 - e10;
		if (k < 0 || k > 27)
			return -1;
		for (five = 1, i = 0; i < k; i++)
			five *= 5;
		prod = (unsigned __int128)mant * five;
		s = -(e2 + k);
		if (s <= 0 || s >= 120)
			return -1;
		q = prod >> s;
		rem = prod - (q << s);
		half = (unsigned __int128)1 << (s - 1);
		if (rem == half)
			return -1; /* a tie: printf decides, not us */
		if (rem > half)
			q++;
		if (q >= pow10[prec]) {
			e10++;
			continue;
		}
		if (q < pow10[prec - 1]) {
			e10--;
			continue;
		}
		m = (uint64_t)q;
		/* reads back iff |m * 2^s - mant * 5^k| < 5^k / 2 */
		q <<= s;
		dist = q > prod ? q - prod : prod - q;
		if (2 * dist >= five)
			return 0;
		break;
	}
	if (tries == 3)
		return -1;
	for (i = prec - 1; i >= 0; i--) {
		digits[i] = (char)('0' + m % 10);
		m /= 10;
	}
	n = prec;
	point = e10 + 1; /* digits before the decimal point */
	while (n > point && n > 1 && digits[n - 1] == '0')
		n--;
	if (point <= 0) {
		*o++ = '0';
		*o++ = '.';
		for (i = point; i < 0; i++)
			*o++ = '0';
		memcpy(o, digits, (size_t)n);
		o += n;
	} else {
		memcpy(o, digits, (size_t)(n < point ? n : point));
		o += n < point ? n : point;
		for (i = n; i < point; i++)
			*o++ = '0';
		if (n > point) {
			*o++ = '.';
			memcpy(o, digits + point, (size_t)(n - point));
			o += n - point;
		}
	}
	*o = 0;
	return (long)(o - buf);
}

size_t fx_num_format_double(double d, char *buf)
{
	int prec, len = 0;

	if (!isfinite(d))
		return 0;
	if (d == trunc(d) && fabs(d) < 9007199254740992.0) {
		if (d == 0 && signbit(d)) {
			memcpy(buf, "-0", 3);
			return 2;
		}
		return fx_num_format_int((int64_t)d, buf);
	}
	/* 17 digits always round-trip; fewer are tried for a shorter form */
	if (fabs(d) >= 1e-4 && fabs(d) < 1e15) {
		for (prec = 15; prec <= 17; prec++) {
			long n = format_fast(fabs(d), prec, buf + (d < 0));

			if (n > 0) {
				if (d < 0)
					buf[0] = '-';
				return (size_t)n + (d < 0);
			}
			if (n < 0)
				break; /* the slow path below decides */
		}
	}
	for (prec = 15; prec <= 17; prec++) {
		len = snprintf(buf, 32, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return (size_t)len;
}

int fx_num_add_int(int64_t a, int64_t b, int64_t *out)
{
	return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

int fx_num_mul_int(int64_t a, int64_t b, int64_t *out)
{
	return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}
