/* test_num.c - JSON number parsing, formatting and checked arithmetic */
#include "num.h"
#include "unit.h"

#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static enum fx_num_kind kind(const char *s, struct fx_num *v)
{
	return fx_num_parse(s, strlen(s), v);
}

static void test_parse_kinds(void)
{
	struct fx_num v;

	CHECK(kind("0", &v) == FX_NUM_INT && v.i == 0);
	CHECK(kind("-0", &v) == FX_NUM_INT && v.i == 0);
	CHECK(kind("42", &v) == FX_NUM_INT && v.i == 42 && v.d == 42.0);
	CHECK(kind("-17", &v) == FX_NUM_INT && v.i == -17);
	CHECK(kind("9223372036854775807", &v) == FX_NUM_INT &&
	      v.i == INT64_MAX);
	CHECK(kind("-9223372036854775808", &v) == FX_NUM_INT &&
	      v.i == INT64_MIN);
	CHECK(kind("9223372036854775808", &v) == FX_NUM_BIGINT &&
	      v.d == 9223372036854775808.0);
	CHECK(kind("-9223372036854775809", &v) == FX_NUM_BIGINT);
	CHECK(kind("123456789012345678901234567890", &v) == FX_NUM_BIGINT &&
	      v.d == 1.2345678901234568e29);
	CHECK(kind("1.5", &v) == FX_NUM_DOUBLE && v.d == 1.5);
	CHECK(kind("-0.0", &v) == FX_NUM_DOUBLE && v.d == 0 && signbit(v.d));
	CHECK(kind("1e3", &v) == FX_NUM_DOUBLE && v.d == 1000);
	CHECK(kind("1E+3", &v) == FX_NUM_DOUBLE && v.d == 1000);
	CHECK(kind("25e-1", &v) == FX_NUM_DOUBLE && v.d == 2.5);
	CHECK(kind("1e308", &v) == FX_NUM_DOUBLE && v.d == 1e308);
	CHECK(kind("1e-400", &v) == FX_NUM_DOUBLE && v.d == 0);
	CHECK(kind("1e400", &v) == FX_NUM_OVERFLOW);
	CHECK(kind("-1e400", &v) == FX_NUM_OVERFLOW);
	CHECK(kind("1.8e308", &v) == FX_NUM_OVERFLOW);
	CHECK(kind("1e999999999999999999999", &v) == FX_NUM_OVERFLOW);
}

static void test_parse_invalid(void)
{
	static const char *const bad[] = {
	    "",          "-",  "+1",  "01",   "-01",  "1.",
	    ".5",        "1e", "1e+", "0x10", "NaN",  "Infinity",
	    "-Infinity", " 1", "1 ",  "1,0",  "1..2", "1e1.5",
	    "--1",       "1-", "١",   "0.e1", "00",
	};
	struct fx_num v;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_MSG(kind(bad[i], &v) == FX_NUM_INVALID, "\"%s\"", bad[i]);
		CHECK_MSG(!fx_num_is_json_number(bad[i], strlen(bad[i])),
		          "\"%s\"", bad[i]);
	}
	/* n bytes only: the digit after the end is not part of it */
	CHECK(fx_num_parse("12x", 2, &v) == FX_NUM_INT && v.i == 12);
	CHECK(fx_num_parse("1.5e3", 3, &v) == FX_NUM_DOUBLE && v.d == 1.5);
}

static int isnum(const char *s)
{
	return fx_num_is_json_number(s, strlen(s));
}

static void test_is_json_number(void)
{
	CHECK(isnum("0"));
	CHECK(isnum("-12"));
	CHECK(isnum("3.14"));
	CHECK(isnum("6.02e23"));
	CHECK(isnum("9223372036854775807"));
	CHECK(isnum("-9223372036854775808"));
	CHECK(isnum("1e-400"));
	CHECK(isnum("1e307"));
	/* the grammar only: past int64 and past double are numbers too */
	CHECK(isnum("9223372036854775808"));
	CHECK(isnum("-9223372036854775809"));
	CHECK(isnum("12345678901234567890"));
	CHECK(isnum("12345678901234567890123"));
	CHECK(isnum("1e400"));
	CHECK(isnum("-1e400"));
	CHECK(isnum("1.5E+99999999999"));
	CHECK(isnum("1797693134862315799999"
	            "0000000000000000000000000000000000000000000000000000000"
	            "0000000000000000000000000000000000000000000000000000000"
	            "0000000000000000000000000000000000000000000000000000000"
	            "0000000000000000000000000000000000000000000000000000000"
	            "0000000000000000000000000000000000000000000000000000000"
	            "00000000000000000000000000000000000000000000000"));
	CHECK(!isnum("007"));
	CHECK(!isnum("-"));
	CHECK(!isnum("1e"));
	CHECK(!isnum("1e+"));
	CHECK(!isnum(".5"));
	CHECK(!isnum("-01"));
	CHECK(!isnum("1.5.5"));
	CHECK(!isnum("12345678901234567890x"));
	CHECK(!isnum("+1"));
	CHECK(!isnum("1."));
	CHECK(!isnum(""));
}

/* The shortcuts agree with the definition: fx_num_parse reads a number. */
static void test_is_json_number_random(void)
{
	static const char alphabet[] = "0123456789-+.eEx ";
	uint64_t x = 88172645463325252ULL;
	char buf[32];
	struct fx_num v;
	int i, fails = 0;

	for (i = 0; i < 200000 && fails < 5; i++) {
		size_t n, k;
		enum fx_num_kind want;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (size_t)(x % 24);
		for (k = 0; k < n; k++)
			/* digits four times as often: long digit runs happen */
			buf[k] = (x >> (k + 5)) & 3
			             ? alphabet[(x >> (2 * k + 8)) % 10]
			             : alphabet[(x >> (2 * k + 8)) % 17];
		buf[n] = 0;
		want = fx_num_parse(buf, n, &v);
		if (fx_num_is_json_number(buf, n) != (want != FX_NUM_INVALID)) {
			CHECK_MSG(0, "fx_num_is_json_number(\"%s\")", buf);
			fails++;
		}
	}
}

/* Numbers too long for the stack copy take the digit-rewriting path. */
static void test_long_numbers(void)
{
	static char s[3000];
	struct fx_num v;
	size_t i;

	/* 0.1 followed by 2000 zeros and a 1: just above 0.1 */
	memcpy(s, "0.1", 3);
	for (i = 3; i < 2003; i++)
		s[i] = '0';
	s[2003] = '1';
	CHECK(fx_num_parse(s, 2004, &v) == FX_NUM_DOUBLE && v.d == 0.1);
	/* 2000 leading zeros in the fraction, then 5: 5e-2001 underflows */
	memcpy(s, "0.", 2);
	for (i = 2; i < 2002; i++)
		s[i] = '0';
	s[2002] = '5';
	CHECK(fx_num_parse(s, 2003, &v) == FX_NUM_DOUBLE && v.d == 0);
	/* a 1200-digit integer overflows a double */
	s[0] = '1';
	for (i = 1; i < 1200; i++)
		s[i] = '0';
	CHECK(fx_num_parse(s, 1200, &v) == FX_NUM_OVERFLOW);
	/* 1 then 299 zeros then 900 fraction digits: 1e299, exactly */
	s[300] = '.';
	for (i = 301; i < 1201; i++)
		s[i] = '0';
	CHECK(fx_num_parse(s, 1201, &v) == FX_NUM_DOUBLE && v.d == 1e299);
	/*
	 * The halfway case: 2^53 + 1 lies exactly between two doubles and
	 * rounds to even (2^53); any nonzero digit far beyond decides upward.
	 */
	memcpy(s, "9007199254740993.", 17);
	for (i = 17; i < 1500; i++)
		s[i] = '0';
	CHECK(fx_num_parse(s, 1500, &v) == FX_NUM_DOUBLE &&
	      v.d == 9007199254740992.0);
	s[1499] = '1';
	CHECK(fx_num_parse(s, 1500, &v) == FX_NUM_DOUBLE &&
	      v.d == 9007199254740994.0);
}

static const char *fmt_d(double d)
{
	static char buf[32];

	fx_num_format_double(d, buf);
	return buf;
}

static void test_format_int(void)
{
	char buf[21];

	CHECK(fx_num_format_int(0, buf) == 1);
	CHECK_STR(buf, "0");
	fx_num_format_int(-42, buf);
	CHECK_STR(buf, "-42");
	CHECK(fx_num_format_int(INT64_MAX, buf) == 19);
	CHECK_STR(buf, "9223372036854775807");
	CHECK(fx_num_format_int(INT64_MIN, buf) == 20);
	CHECK_STR(buf, "-9223372036854775808");
}

static void test_format_double(void)
{
	char buf[32];

	CHECK_STR(fmt_d(0.1), "0.1");
	CHECK_STR(fmt_d(1.5), "1.5");
	CHECK_STR(fmt_d(-2.25), "-2.25");
	CHECK_STR(fmt_d(1e6), "1000000");
	CHECK_STR(fmt_d(1000000.0), "1000000");
	CHECK_STR(fmt_d(-3.0), "-3");
	CHECK_STR(fmt_d(0.0), "0");
	CHECK_STR(fmt_d(-0.0), "-0");
	CHECK_STR(fmt_d(9007199254740991.0), "9007199254740991");
	/* 2^53 and beyond: integral but no longer exact integers */
	CHECK_STR(fmt_d(9007199254740992.0), "9007199254740992");
	CHECK_STR(fmt_d(1e300), "1e+300");
	CHECK_STR(fmt_d(0.1 + 0.2), "0.30000000000000004");
	CHECK_STR(fmt_d(1.0 / 3), "0.3333333333333333");
	CHECK_STR(fmt_d(5e-324), "4.94065645841247e-324");
	/* 15 digits would round up past DBL_MAX */
	CHECK_STR(fmt_d(1.7976931348623157e308), "1.7976931348623157e+308");
	CHECK(fx_num_format_double(INFINITY, buf) == 0);
	CHECK(fx_num_format_double(-INFINITY, buf) == 0);
	CHECK(fx_num_format_double(NAN, buf) == 0);
}

static double random_double(uint64_t *state)
{
	uint64_t x = *state;
	double d;

	/* xorshift64: any bit pattern, so every exponent and subnormals */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	memcpy(&d, &x, sizeof(d));
	return d;
}

/* Shortest form reads back exactly, and is what JSON allows. */
static void test_format_roundtrip_random(void)
{
	uint64_t state = 0x9e3779b97f4a7c15ULL;
	char buf[32];
	int i, bad = 0, tested = 0;

	for (i = 0; i < 1000000; i++) {
		double d = random_double(&state), back;
		struct fx_num v;
		size_t len;

		if (i % 4 == 0)
			d = (double)(int64_t)(state >> 20) / 1000.0;
		if (!isfinite(d))
			continue;
		tested++;
		len = fx_num_format_double(d, buf);
		back = strtod(buf, NULL);
		if (len == 0 || len != strlen(buf) || back != d ||
		    signbit(back) != signbit(d) ||
		    fx_num_parse(buf, len, &v) == FX_NUM_INVALID) {
			if (bad++ < 5)
				fprintf(stderr, "%.17g -> %s\n", d, buf);
		}
	}
	CHECK(bad == 0);
	CHECK(tested > 900000);
}

static void test_checked_arith(void)
{
	int64_t r = 0;

	CHECK(fx_num_add_int(2, 3, &r) == 0 && r == 5);
	CHECK(fx_num_add_int(INT64_MAX, 0, &r) == 0 && r == INT64_MAX);
	CHECK(fx_num_add_int(INT64_MAX, 1, &r) == -1);
	CHECK(fx_num_add_int(INT64_MIN, -1, &r) == -1);
	CHECK(fx_num_add_int(INT64_MIN, INT64_MAX, &r) == 0 && r == -1);
	CHECK(fx_num_mul_int(-4, 5, &r) == 0 && r == -20);
	CHECK(fx_num_mul_int(INT64_MAX, 2, &r) == -1);
	CHECK(fx_num_mul_int(INT64_MIN, -1, &r) == -1);
	CHECK(fx_num_mul_int(3037000499LL, 3037000499LL, &r) == 0 &&
	      r == 9223372030926249001LL);
	CHECK(fx_num_mul_int(3037000500LL, 3037000500LL, &r) == -1);
}

/* printf's answer: the shortest of %.15g, %.16g, %.17g that reads back */
static size_t format_by_printf(double d, char *buf)
{
	int prec, len = 0;

	if (d == trunc(d) && fabs(d) < 9007199254740992.0 && d != 0)
		return fx_num_format_int((int64_t)d, buf);
	for (prec = 15; prec <= 17; prec++) {
		len = snprintf(buf, 40, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return (size_t)len;
}

/*
 * fx_num_format_double's fast path (exact 128-bit digits) must write what
 * printf writes, byte for byte, on averages, thirds, random bit patterns
 * and scaled integers.
 */
static void test_format_double_matches_printf(void)
{
	uint64_t s = 88172645463325252ULL;
	long i, bad = 0;

	for (i = 0; i < 400000; i++) {
		char a[40], b[40];
		size_t la, lb;
		double d;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		switch (i % 4) {
		case 0:
			d = (double)(s % 100000000) /
			    (double)(1 + (s >> 40) % 1000);
			break;
		case 1:
			memcpy(&d, &s, 8);
			break;
		case 2:
			d = ldexp((double)(s >> 11), -(int)(s % 80));
			break;
		default:
			d = (double)(s % 1000000) / 3.0;
		}
		if (!isfinite(d) || d == 0)
			continue;
		if (i & 1)
			d = -d;
		la = fx_num_format_double(d, a);
		lb = format_by_printf(d, b);
		a[la] = b[lb] = 0;
		if (la != lb || strcmp(a, b) != 0) {
			if (bad++ < 5)
				fprintf(stderr, "%.17g: %s, printf %s\n", d, a,
				        b);
		}
	}
	CHECK(bad == 0);
}

/* In increasing order; a rank shared by equal values. */
static void test_compare_exact(void)
{
	static const struct {
		const char *s;
		int rank;
	} v[] = {
	    {"-1e400", 0},
	    {"-1e20", 1},
	    {"-100000000000000000000", 1},
	    {"-99999999999999999999.9", 2},
	    {"-9223372036854775809", 3},
	    {"-9223372036854775808", 4},
	    {"-9223372036854775807.5", 5},
	    {"-1.5", 6},
	    {"-1", 7},
	    {"-1.0", 7},
	    {"-0.1E1", 7},
	    {"-1e-320", 8},
	    {"0", 9},
	    {"-0", 9},
	    {"0.000", 9},
	    {"-0e5", 9},
	    {"0E-99999999999999999999999", 9},
	    {"1e-99999999999999999999999", 10},
	    {"1e-320", 11},
	    {"0.000000000000000000000000000000001", 12},
	    {"1E-33", 12},
	    {"0.1", 13},
	    {"0.10000000000000000001", 14},
	    {"1", 15},
	    {"1.000", 15},
	    {"10e-1", 15},
	    {"9007199254740992", 16},
	    {"9007199254740992.5", 17},
	    {"9007199254740993", 18},
	    {"9223372036854775807", 19},
	    {"9223372036854775808", 20},
	    {"99999999999999999999.9", 21},
	    {"1e20", 22},
	    {"100000000000000000000.0", 22},
	    {"1e400", 23},
	    {"10e400", 24},
	    {"1e+99999999999999999999999", 25},
	};
	size_t n = sizeof(v) / sizeof(v[0]), i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			int c = fx_num_compare_exact(v[i].s, strlen(v[i].s),
			                             v[j].s, strlen(v[j].s));
			int want =
			    (v[i].rank > v[j].rank) - (v[i].rank < v[j].rank);

			if ((c > 0) - (c < 0) != want) {
				fprintf(stderr, "  %s vs %s: %d, want %d\n",
				        v[i].s, v[j].s, c, want);
				CHECK(0);
			}
		}
}

int main(void)
{
	RUN(test_parse_kinds);
	RUN(test_parse_invalid);
	RUN(test_is_json_number);
	RUN(test_is_json_number_random);
	RUN(test_long_numbers);
	RUN(test_format_int);
	RUN(test_format_double);
	RUN(test_format_roundtrip_random);
	RUN(test_format_double_matches_printf);
	RUN(test_checked_arith);
	RUN(test_compare_exact);
	return unit_done("test_num");
}
