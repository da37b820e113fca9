/* fxtime.c - event time and durations */
#include "fxtime.h"
#include "json.h"
#include "num.h"

#include <stdio.h>
#include <string.h>

#define MS_PER_DAY 86400000LL

/*
 * Howard Hinnant's days_from_civil: proleptic Gregorian, no tables, no
 * timegm() (which depends on the process time zone and is slow).
 */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30,
	                                      31, 31, 30, 31, 30, 31};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

/* Reads exactly k digits at s[*i]; -1 if they are not all digits. */
static int digits(const char *s, size_t n, size_t *i, int k)
{
	int v = 0;

	if (n - *i < (size_t)k)
		return -1;
	while (k--) {
		unsigned c = (unsigned char)s[*i] - '0';

		if (c > 9)
			return -1;
		v = v * 10 + (int)c;
		(*i)++;
	}
	return v;
}

static int expect(const char *s, size_t n, size_t *i, char c)
{
	if (*i >= n || s[*i] != c)
		return -1;
	(*i)++;
	return 0;
}

/* Fraction digits after '.', truncated to milliseconds (floor, as >= 0). */
static int parse_fraction(const char *s, size_t n, size_t *i, int *frac)
{
	size_t start = *i;
	int k = 0, v = 0;

	while (*i < n && (unsigned)(s[*i] - '0') <= 9) {
		if (k < 3) {
			v = v * 10 + (s[*i] - '0');
			k++;
		}
		(*i)++;
	}
	if (*i == start)
		return -1;
	while (k++ < 3)
		v *= 10;
	*frac = v;
	return 0;
}

/* "Z", "+hh:mm", "-hh:mm", "+hhmm", "+hh", or nothing (UTC). */
static int parse_offset(const char *s, size_t n, size_t *i, int64_t *off_ms)
{
	int sign, hh, mm = 0;

	*off_ms = 0;
	if (*i == n)
		return 0;
	if (s[*i] == 'Z' || s[*i] == 'z') {
		(*i)++;
		return 0;
	}
	if (s[*i] != '+' && s[*i] != '-')
		return -1;
	sign = s[(*i)++] == '-' ? -1 : 1;
	hh = digits(s, n, i, 2);
	if (hh < 0 || hh > 23)
		return -1;
	if (*i < n) {
		if (s[*i] == ':')
			(*i)++;
		mm = digits(s, n, i, 2);
		if (mm < 0 || mm > 59)
			return -1;
	}
	*off_ms = sign * ((int64_t)hh * 3600000 + (int64_t)mm * 60000);
	return 0;
}

/* "HH:MM", "HH:MM:SS", "HH:MM:SS.fff…"; *ms is the time of day. */
static int parse_clock(const char *s, size_t n, size_t *i, int64_t *ms)
{
	int hh, mi, ss = 0, frac = 0;

	hh = digits(s, n, i, 2);
	if (hh < 0 || hh > 23 || expect(s, n, i, ':') < 0)
		return -1;
	mi = digits(s, n, i, 2);
	if (mi < 0 || mi > 59)
		return -1;
	if (*i < n && s[*i] == ':') {
		(*i)++;
		ss = digits(s, n, i, 2);
		/* 60: a leap second, counted as the first second of the next
		 * minute */
		if (ss < 0 || ss > 60)
			return -1;
		if (*i < n && (s[*i] == '.' || s[*i] == ',')) {
			(*i)++;
			if (parse_fraction(s, n, i, &frac) < 0)
				return -1;
		}
	}
	*ms = ((int64_t)hh * 3600 + mi * 60 + ss) * 1000 + frac;
	return 0;
}

/*
 * "YYYY-MM-DDTHH:MM:SS.mmmZ", the form machines write (JavaScript's
 * toISOString, Java's Instant): the checks and the value of the parse
 * below, from fixed places, without its calls. 1 if s is one and valid
 * (*ms set), 0 if the parse below must decide.
 */
static int parse_canonical(const char *s, int64_t *ms)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* three words, byte k at bits 8k: "YYYY-MM-" "DDTHH:MM" ":SS.mmmZ" */
	static const uint64_t sep[3] = {0xFF0000FF00000000ULL,
	                                0x0000FF0000FF0000ULL,
	                                0xFF000000FF0000FFULL};
	static const uint64_t want[3] = {
	    (uint64_t)'-' << 56 | (uint64_t)'-' << 32,
	    (uint64_t)':' << 40 | (uint64_t)'T' << 16,
	    (uint64_t)'Z' << 56 | (uint64_t)'.' << 24 | (uint64_t)':'};
	uint64_t w[3], x[3], bad = 0;
	unsigned y, mo, d, hh, mi, ss, frac;
	int k;

	for (k = 0; k < 3; k++) {
		memcpy(&w[k], s + 8 * k, 8);
		bad |= (w[k] & sep[k]) ^ want[k];
		/* the separators checked, as '0' among the digits */
		bad |= fx_nondigits8((w[k] & ~sep[k]) |
		                     (0x3030303030303030ULL & sep[k]));
		/* digits become 0..9, the separators 0 */
		x[k] = (w[k] ^ 0x3030303030303030ULL) & ~sep[k];
	}
	if (bad)
		return 0;
#define DIGIT_AT(k, i) ((unsigned)(x[k] >> (8 * (i))) & 0xFF)
	y = DIGIT_AT(0, 0) * 1000 + DIGIT_AT(0, 1) * 100 + DIGIT_AT(0, 2) * 10 +
	    DIGIT_AT(0, 3);
	mo = DIGIT_AT(0, 5) * 10 + DIGIT_AT(0, 6);
	d = DIGIT_AT(1, 0) * 10 + DIGIT_AT(1, 1);
	hh = DIGIT_AT(1, 3) * 10 + DIGIT_AT(1, 4);
	mi = DIGIT_AT(1, 6) * 10 + DIGIT_AT(1, 7);
	ss = DIGIT_AT(2, 1) * 10 + DIGIT_AT(2, 2);
	frac = DIGIT_AT(2, 4) * 100 + DIGIT_AT(2, 5) * 10 + DIGIT_AT(2, 6);
#undef DIGIT_AT
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || hh > 23 ||
	    mi > 59 || ss > 60)
		return 0;
	*ms = days_from_civil(y, mo, d) * MS_PER_DAY +
	      ((int64_t)hh * 3600 + mi * 60 + ss) * 1000 + frac;
	return 1;
#else
	(void)s;
	(void)ms;
	return 0;
#endif
}

/*
 * The year: "YYYY", or, past 0000-9999, ISO 8601 expanded as
 * fx_time_format_iso writes it: a sign and at least four digits, zero
 * padded to four only ("+10000", "-0001"). Nine digits at most: an int64
 * of milliseconds ends in the year 292278994.
 */
static int parse_year(const char *s, size_t n, size_t *i, int64_t *y)
{
	size_t start;
	int64_t v = 0;
	int neg;

	if (*i >= n || (s[*i] != '+' && s[*i] != '-')) {
		int v4 = digits(s, n, i, 4);

		*y = v4;
		return v4 < 0 ? -1 : 0;
	}
	neg = s[(*i)++] == '-';
	for (start = *i; *i < n && (unsigned)(s[*i] - '0') <= 9; (*i)++) {
		if (*i - start == 9)
			return -1;
		v = v * 10 + (s[*i] - '0');
	}
	if (*i - start < 4 || (*i - start > 4 && s[start] == '0'))
		return -1;
	/* 0000-9999 are written without a sign, and only so */
	if (neg ? v == 0 : v <= 9999)
		return -1;
	*y = neg ? -v : v;
	return 0;
}

/*
 * days * MS_PER_DAY + x, or -1 if that is past int64. The product alone
 * may be past it when the sum is not (INT64_MIN's day starts before
 * INT64_MIN): x is first split into whole days and a remainder that
 * takes the product toward zero.
 */
static int day_ms(int64_t days, int64_t x, int64_t *ms)
{
	int64_t q = x / MS_PER_DAY, r = x % MS_PER_DAY, p;

	if (r < 0) {
		r += MS_PER_DAY;
		q--;
	}
	days += q;
	if (days < 0) {
		days++;
		r -= MS_PER_DAY;
	}
	if (__builtin_mul_overflow(days, MS_PER_DAY, &p) ||
	    __builtin_add_overflow(p, r, ms))
		return -1;
	return 0;
}

int fx_time_parse_iso(const char *s, size_t n, int64_t *ms)
{
	size_t i = 0;
	int mo, d;
	int64_t y, tod = 0, off = 0;

	if (n == 24 && parse_canonical(s, ms))
		return 0;
	if (parse_year(s, n, &i, &y) < 0 || expect(s, n, &i, '-') < 0)
		return -1;
	mo = digits(s, n, &i, 2);
	if (mo < 1 || mo > 12 || expect(s, n, &i, '-') < 0)
		return -1;
	d = digits(s, n, &i, 2);
	if (d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo))
		return -1;
	if (i < n) {
		if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
			return -1;
		i++;
		if (parse_clock(s, n, &i, &tod) < 0 ||
		    parse_offset(s, n, &i, &off) < 0 || i != n)
			return -1;
	}
	return day_ms(days_from_civil(y, (unsigned)mo, (unsigned)d), tod - off,
	              ms);
}

/*
 * floor(D * 10^shift) for the decimal digit string D (sign applied by the
 * caller through neg), exactly, with overflow checks.
 */
static int scale_digits(const char *dg, size_t nd, int64_t shift, int neg,
                        int dropped, int64_t *out)
{
	int64_t keep = (int64_t)nd + shift, v = 0, k;
	size_t j;

	for (j = 0; j < nd; j++) {
		int c = dg[j] - '0';

		if ((int64_t)j < keep) {
			if (__builtin_mul_overflow(v, 10, &v) ||
			    __builtin_add_overflow(v, neg ? -c : c, &v))
				return -1;
		} else if (c) {
			dropped = 1;
		}
	}
	for (k = 0; k < shift; k++)
		if (__builtin_mul_overflow(v, 10, &v))
			return -1;
	/* truncation went toward zero; floor needs one more step down */
	if (neg && dropped && __builtin_sub_overflow(v, 1, &v))
		return -1;
	*out = v;
	return 0;
}

int fx_time_parse_epoch(const char *s, size_t n, enum fx_time_unit unit,
                        int64_t *ms)
{
	char dg[40]; /* more significant digits than int64 ms can hold */
	size_t i = 0, nd = 0;
	int neg = 0, any = 0, sticky = 0;
	int64_t shift = unit == FX_TIME_MS ? 0 : 3, ex = 0;

	if (i < n && s[i] == '-')
		neg = 1, i++;
	if (i < n && s[i] == '0' && i + 1 < n &&
	    (unsigned)(s[i + 1] - '0') <= 9)
		return -1; /* leading zero, not JSON */
	for (; i < n && (unsigned)(s[i] - '0') <= 9; i++, any = 1) {
		if (nd == 0 && s[i] == '0')
			continue;
		if (nd == sizeof(dg))
			return -1;
		dg[nd++] = s[i];
	}
	if (!any)
		return -1;
	if (i < n && s[i] == '.') {
		size_t start = ++i;

		for (; i < n && (unsigned)(s[i] - '0') <= 9; i++) {
			if (nd == sizeof(dg)) {
				/* far below a millisecond: only nonzero matters
				 */
				sticky |= s[i] != '0';
				continue;
			}
			if (nd || s[i] != '0')
				dg[nd++] = s[i];
			shift--;
		}
		if (i == start)
			return -1;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		int eneg = 0;
		size_t start;

		if (++i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		for (start = i; i < n && (unsigned)(s[i] - '0') <= 9; i++)
			if (ex < 100000)
				ex = ex * 10 + (s[i] - '0');
		if (i == start)
			return -1;
		shift += eneg ? -ex : ex;
	}
	if (i != n)
		return -1;
	if (nd == 0) {
		*ms = neg && sticky ? -1 : 0;
		return 0;
	}
	if (shift > 100000)
		return -1;
	if (shift < -100000) {
		*ms = neg ? -1 : 0;
		return 0;
	}
	return scale_digits(dg, nd, shift, neg, sticky, ms);
}

static char *put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

size_t fx_time_format_iso(int64_t ms, char *buf)
{
	int64_t days = ms / MS_PER_DAY, rem, y;
	unsigned m, d, sec;
	char *p = buf;

	rem = ms % MS_PER_DAY;
	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (y >= 0 && y <= 9999) {
		p = put2(p, (unsigned)(y / 100));
		p = put2(p, (unsigned)(y % 100));
	} else {
		/* ISO 8601 expanded year: sign and at least four digits */
		p += sprintf(p, "%+05lld", (long long)y);
	}
	*p++ = '-';
	p = put2(p, m);
	*p++ = '-';
	p = put2(p, d);
	*p++ = 'T';
	sec = (unsigned)(rem / 1000);
	p = put2(p, sec / 3600);
	*p++ = ':';
	p = put2(p, sec / 60 % 60);
	*p++ = ':';
	p = put2(p, sec % 60);
	*p++ = '.';
	*p++ = (char)('0' + rem % 1000 / 100);
	p = put2(p, (unsigned)(rem % 100));
	*p++ = 'Z';
	*p = 0;
	return (size_t)(p - buf);
}

static const struct {
	const char *name;
	int64_t ms;
} units[] = {
    {"d", MS_PER_DAY}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

int fx_duration_parse(const char *s, int64_t *ms)
{
	int64_t v = 0;
	size_t i = 0, k;

	for (; (unsigned)(s[i] - '0') <= 9; i++)
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, s[i] - '0', &v))
			return -1;
	if (i == 0)
		return -1;
	if (s[i] == 0) {
		/* a bare number has no unit; only zero means the same in all */
		if (v != 0)
			return -1;
		*ms = 0;
		return 0;
	}
	for (k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
		if (strcmp(s + i, units[k].name) != 0)
			continue;
		if (__builtin_mul_overflow(v, units[k].ms, ms))
			return -1;
		return 0;
	}
	return -1;
}

size_t fx_duration_format(int64_t ms, char *buf, size_t n)
{
	size_t k;
	int r;

	if (ms == 0) {
		r = snprintf(buf, n, "0");
		return (size_t)r;
	}
	for (k = 0; k < sizeof(units) / sizeof(units[0]) - 1; k++)
		if (ms % units[k].ms == 0)
			break;
	r = snprintf(buf, n, "%lld%s", (long long)(ms / units[k].ms),
	             units[k].name);
	return r < 0 ? 0 : (size_t)r;
}

int fx_time_unit_parse(const char *s, enum fx_time_unit *unit)
{
	if (!s)
		*unit = FX_TIME_AUTO;
	else if (!strcmp(s, "s"))
		*unit = FX_TIME_S;
	else if (!strcmp(s, "ms"))
		*unit = FX_TIME_MS;
	else
		return -1;
	return 0;
}

int fx_time_of_value(const struct json_value *v, enum fx_time_unit unit,
                     int64_t *ms)
{
	if (v->type == JSON_STRING)
		return fx_time_parse_iso(v->p + 1, v->len - 2, ms);
	if (v->type == JSON_NUMBER)
		return fx_time_parse_epoch(v->p, v->len, unit, ms);
	return -1;
}
