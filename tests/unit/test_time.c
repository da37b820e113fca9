/* test_time.c - ISO-8601 and epoch parsing, formatting, durations */
#include "fxtime.h"
#include "json.h"
#include "unit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int iso(const char *s, int64_t *ms)
{
	return fx_time_parse_iso(s, strlen(s), ms);
}

static int64_t iso_ok(const char *s)
{
	int64_t ms = INT64_MIN;

	if (iso(s, &ms) != 0)
		fprintf(stderr, "not parsed: %s\n", s);
	return ms;
}

/*
 * Expected values computed when the test was written with GNU date:
 *   date -u -d "$t" +%s%3N
 * (for 1969-12-31T23:59:59.999Z date prints "-1999", i.e. -1 s and 999 ms:
 * the instant is -1 ms).
 */
static void test_iso_known_instants(void)
{
	CHECK(iso_ok("2026-11-23T10:00:00.123Z") == 1795428000123LL);
	CHECK(iso_ok("2026-11-23T10:00:00+02:00") == 1795420800000LL);
	CHECK(iso_ok("1969-12-31T23:59:59.999Z") == -1);
	CHECK(iso_ok("1900-03-01T00:00:00Z") == -2203891200000LL);
	CHECK(iso_ok("2000-02-29T12:34:56Z") == 951827696000LL);
	CHECK(iso_ok("0001-01-01T00:00:00Z") == -62135596800000LL);
	CHECK(iso_ok("9999-12-31T23:59:59.999Z") == 253402300799999LL);
	CHECK(iso_ok("1970-01-01T00:00:00Z") == 0);
	CHECK(iso_ok("2024-02-29T23:59:59.5-05:30") == 1709270999500LL);
	CHECK(iso_ok("1600-02-29T00:00:00Z") == -11670998400000LL);
}

static void test_iso_forms(void)
{
	int64_t t = 1795428000123LL; /* 2026-11-23T10:00:00.123Z */

	CHECK(iso_ok("2026-11-23 10:00:00.123") == t);
	CHECK(iso_ok("2026-11-23t10:00:00.123z") == t);
	CHECK(iso_ok("2026-11-23T10:00:00.123+00:00") == t);
	CHECK(iso_ok("2026-11-23T12:00:00.123+0200") == t);
	CHECK(iso_ok("2026-11-23T12:00:00.123+02") == t);
	CHECK(iso_ok("2026-11-23T08:30:00.123-01:30") == t);
	/* fractions of any length, truncated to the millisecond */
	CHECK(iso_ok("2026-11-23T10:00:00.1239999999999Z") == t);
	CHECK(iso_ok("2026-11-23T10:00:00.12Z") == t - 3);
	CHECK(iso_ok("2026-11-23T10:00:00.1Z") == t - 23);
	CHECK(iso_ok("2026-11-23T10:00:00,123Z") == t);
	/* before 1970 truncation is still toward negative infinity */
	CHECK(iso_ok("1969-12-31T23:59:59.9999Z") == -1);
	CHECK(iso_ok("1969-12-31T23:59:59.0001Z") == -1000);
	/* date only is midnight UTC; minutes without seconds */
	CHECK(iso_ok("2026-11-23") == 1795392000000LL);
	CHECK(iso_ok("2026-11-23T10:00") == t - 123);
	/* a leap second is the first second of the next minute */
	CHECK(iso_ok("2016-12-31T23:59:60Z") == 1483228800000LL);
}

/*
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" is read from fixed places: it must give what
 * the general parse gives for the same text with a lower-case 'z' (which
 * only that parse takes). 200,000 of them, fields in and just out of
 * range, leap days and seconds, and one byte in four replaced by another.
 */
static void test_iso_canonical_as_general(void)
{
	unsigned seed = 29;
	int k, bad = 0, valid = 0;

	for (k = 0; k < 200000; k++) {
		char s[32], g[32];
		int64_t a = 0, b = 0;
		int ra, rb;

		seed = seed * 1103515245u + 12345u;
		snprintf(s, sizeof(s), "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
		         (seed >> 8) % 10000, (seed >> 3) % 14,
		         (seed * 7 >> 5) % 33, (seed * 13 >> 7) % 25,
		         (seed * 17 >> 9) % 61, (seed * 19 >> 11) % 62,
		         (seed * 23 >> 13) % 1000);
		if (k % 4 == 0) {
			seed = seed * 1103515245u + 12345u;
			s[(seed >> 8) % 23] = (char)(1 + (seed >> 16) % 255);
		}
		memcpy(g, s, 25);
		g[23] = 'z';
		ra = fx_time_parse_iso(s, 24, &a);
		rb = fx_time_parse_iso(g, 24, &b);
		valid += ra == 0;
		if (ra != rb || (ra == 0 && a != b)) {
			if (bad++ < 5)
				fprintf(stderr,
				        "%.24s: %d %lld, general %d %lld\n", s,
				        ra, (long long)a, rb, (long long)b);
		}
	}
	CHECK(bad == 0);
	CHECK(valid > 50000); /* the fast path was taken */
}

static void test_iso_rejects(void)
{
	static const char *const bad[] = {
	    "",
	    "2026",
	    "2026-11",
	    "2026-11-23T",
	    "2026-11-23T10",
	    "2026-11-23T10:00:00.",
	    "2026-11-23T10:00:00Zjunk",
	    "2026-11-23T10:00:00+2:00",
	    "2026-11-23T10:00:00+02:",
	    "2026-11-23T10:00:00+24:00",
	    "2026-13-01",
	    "2026-00-01",
	    "2026-02-29",
	    "1900-02-29",
	    "2026-04-31",
	    "2026-11-23T24:00:00Z",
	    "2026-11-23T10:60:00Z",
	    "2026-11-23T10:00:61Z",
	    "2026-11-23X10:00:00Z",
	    " 2026-11-23",
	    "yesterday",
	    "1795428000",
	    "+2026-11-23",
	    "2026-1-23",
	    /* expanded years: only as fx writes them, within int64 ms */
	    "+9999-12-31",
	    "+09999-12-31",
	    "+010000-01-01",
	    "-0000-01-01",
	    "-00001-01-01",
	    "+100-01-01",
	    "-1-01-01",
	    "+-10000-01-01",
	    "+10000",
	    "+10000-",
	    "+10100-02-29",
	    "+1000000000-01-01",
	    "+292278995-01-01",
	    "+292278994-08-17T07:12:55.808Z",
	    "-292275055-05-16T16:47:04.191Z",
	    "-292275056-01-01",
	};
	size_t i;
	int64_t ms;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(iso(bad[i], &ms) == -1, "\"%s\"", bad[i]);
	/* a length that cuts a valid string short is respected */
	CHECK(fx_time_parse_iso("2026-11-23T10:00:00Z", 10, &ms) == 0);
	CHECK(ms == 1795392000000LL);
}

static int epoch(const char *s, enum fx_time_unit u, int64_t *ms)
{
	return fx_time_parse_epoch(s, strlen(s), u, ms);
}

static void test_epoch(void)
{
	int64_t ms = 0;

	CHECK(epoch("1795428000", FX_TIME_AUTO, &ms) == 0 &&
	      ms == 1795428000000LL);
	CHECK(epoch("1795428000", FX_TIME_S, &ms) == 0 &&
	      ms == 1795428000000LL);
	CHECK(epoch("1795428000123", FX_TIME_MS, &ms) == 0 &&
	      ms == 1795428000123LL);
	/* exact decimal arithmetic: 0.123 s is 123 ms, not 122.99999 */
	CHECK(epoch("1795428000.123", FX_TIME_S, &ms) == 0 &&
	      ms == 1795428000123LL);
	CHECK(epoch("1795428000.1239", FX_TIME_S, &ms) == 0 &&
	      ms == 1795428000123LL);
	CHECK(epoch("1.795428000123e9", FX_TIME_S, &ms) == 0 &&
	      ms == 1795428000123LL);
	CHECK(epoch("1795428000123.9", FX_TIME_MS, &ms) == 0 &&
	      ms == 1795428000123LL);
	CHECK(epoch("17954280001230e-1", FX_TIME_MS, &ms) == 0 &&
	      ms == 1795428000123LL);
	/* floor for negative times */
	CHECK(epoch("-0.0005", FX_TIME_S, &ms) == 0 && ms == -1);
	CHECK(epoch("-1.5", FX_TIME_MS, &ms) == 0 && ms == -2);
	CHECK(epoch("-1", FX_TIME_S, &ms) == 0 && ms == -1000);
	CHECK(epoch("0", FX_TIME_S, &ms) == 0 && ms == 0);
	CHECK(epoch("-0", FX_TIME_S, &ms) == 0 && ms == 0);
	CHECK(epoch("0.000000000000000000000000000000000000000000000001",
	            FX_TIME_S, &ms) == 0 &&
	      ms == 0);
	CHECK(epoch("1e-100000000", FX_TIME_S, &ms) == 0 && ms == 0);
	CHECK(epoch("9223372036854775807", FX_TIME_MS, &ms) == 0 &&
	      ms == INT64_MAX);
	CHECK(epoch("-9223372036854775808", FX_TIME_MS, &ms) == 0 &&
	      ms == INT64_MIN);
	CHECK(epoch("9223372036854775808", FX_TIME_MS, &ms) == -1);
	CHECK(epoch("9223372036854776", FX_TIME_S, &ms) == -1);
	CHECK(epoch("1e400", FX_TIME_S, &ms) == -1);
	CHECK(epoch("", FX_TIME_S, &ms) == -1);
	CHECK(epoch("-", FX_TIME_S, &ms) == -1);
	CHECK(epoch("01", FX_TIME_S, &ms) == -1);
	CHECK(epoch("1.", FX_TIME_S, &ms) == -1);
	CHECK(epoch(".5", FX_TIME_S, &ms) == -1);
	CHECK(epoch("1e", FX_TIME_S, &ms) == -1);
	CHECK(epoch("+1", FX_TIME_S, &ms) == -1);
	CHECK(epoch("1s", FX_TIME_S, &ms) == -1);
	CHECK(epoch("2026-11-23", FX_TIME_S, &ms) == -1);
}

static const char *fmt(int64_t ms)
{
	static char buf[FX_TIME_ISO_LEN + 1];

	fx_time_format_iso(ms, buf);
	return buf;
}

static void test_format(void)
{
	char buf[FX_TIME_ISO_LEN + 1];

	CHECK(fx_time_format_iso(1795428000123LL, buf) == 24);
	CHECK_STR(buf, "2026-11-23T10:00:00.123Z");
	CHECK_STR(fmt(0), "1970-01-01T00:00:00.000Z");
	CHECK_STR(fmt(-1), "1969-12-31T23:59:59.999Z");
	CHECK_STR(fmt(-1000), "1969-12-31T23:59:59.000Z");
	CHECK_STR(fmt(-86400000), "1969-12-31T00:00:00.000Z");
	CHECK_STR(fmt(-86400001), "1969-12-30T23:59:59.999Z");
	CHECK_STR(fmt(951827696000LL), "2000-02-29T12:34:56.000Z");
	CHECK_STR(fmt(-62135596800000LL), "0001-01-01T00:00:00.000Z");
	CHECK_STR(fmt(253402300799999LL), "9999-12-31T23:59:59.999Z");
	CHECK_STR(fmt(253402300800000LL), "+10000-01-01T00:00:00.000Z");
	CHECK_STR(fmt(-62135596800001LL), "0000-12-31T23:59:59.999Z");
	/* the extremes do not overflow or crash */
	CHECK(fx_time_format_iso(INT64_MAX, buf) < FX_TIME_ISO_LEN);
	CHECK(fx_time_format_iso(INT64_MIN, buf) < FX_TIME_ISO_LEN);
}

/*
 * Years past 0000-9999 are written ISO 8601 expanded ("+10000-…") and read
 * back: fx-agg --merge reads the window_end it wrote for the last day of
 * 9999.
 */
static void test_expanded_years(void)
{
	static const int64_t at[] = {
	    253402300800000LL,     /* +10000-01-01 */
	    253402300799999LL + 1, /* the first ms past 9999 */
	    -62167219200001LL,     /* -0001-12-31T23:59:59.999Z */
	    -62167219200000LL,     /* 0000-01-01, unsigned */
	    INT64_MAX,
	    INT64_MIN,
	    INT64_MAX - 86400000LL,
	    INT64_MIN + 86400000LL,
	    9000000000000000000LL,
	    -9000000000000000000LL,
	};
	char buf[FX_TIME_ISO_LEN + 1];
	int64_t ms = 0;
	size_t i, n;

	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		n = fx_time_format_iso(at[i], buf);
		CHECK_MSG(fx_time_parse_iso(buf, n, &ms) == 0 && ms == at[i],
		          "%lld -> %s -> %lld", (long long)at[i], buf,
		          (long long)ms);
	}
	CHECK(iso_ok("+10000-01-01T00:00:00.000Z") == 253402300800000LL);
	CHECK(iso_ok("+10000-01-01") == 253402300800000LL);
	CHECK(iso_ok("+10000-01-01T02:00:00+02:00") == 253402300800000LL);
	CHECK(iso_ok("-0001-12-31T23:59:59.999Z") == -62167219200001LL);
	/* -10000 is a leap year (divisible by 400), as 2000 is */
	CHECK(iso_ok("-10000-03-01") - iso_ok("-10000-02-29") == 86400000LL);
	CHECK(iso_ok("+292278994-08-17T07:12:55.807Z") == INT64_MAX);
	CHECK(iso_ok("-292275055-05-16T16:47:04.192Z") == INT64_MIN);
	/* an offset may bring an instant just past the range back in */
	CHECK(iso_ok("+292278994-08-17T08:12:55.807+01:00") == INT64_MAX);
	CHECK(iso("+292278994-08-17T07:12:55.807-00:01", &ms) == -1);
	CHECK(iso("-292275055-05-16T16:47:04.192+00:01", &ms) == -1);
}

/* Every millisecond format must parse back to itself, across eras. */
static void test_format_parse_roundtrip(void)
{
	char buf[FX_TIME_ISO_LEN + 1];
	unsigned seed = 12345;
	int64_t lo = -62135596800000LL, hi = 253402300799999LL, ms, back;
	int i, bad = 0;

	for (i = 0; i < 200000; i++) {
		seed = seed * 1103515245u + 12345u;
		ms = lo + (int64_t)(((uint64_t)seed << 32 | (seed >> 3)) %
		                    (uint64_t)(hi - lo));
		if (i < 1000)
			ms = (int64_t)i * 86399999 - 500 * 86400000LL;
		fx_time_format_iso(ms, buf);
		if (iso(buf, &back) != 0 || back != ms) {
			if (bad++ < 5)
				fprintf(stderr, "%lld -> %s\n", (long long)ms,
				        buf);
		}
	}
	CHECK(bad == 0);
}

static int dur(const char *s, int64_t *ms)
{
	return fx_duration_parse(s, ms);
}

static void test_duration(void)
{
	int64_t ms = -1;
	char buf[32];

	CHECK(dur("250ms", &ms) == 0 && ms == 250);
	CHECK(dur("5s", &ms) == 0 && ms == 5000);
	CHECK(dur("1m", &ms) == 0 && ms == 60000);
	CHECK(dur("2h", &ms) == 0 && ms == 7200000);
	CHECK(dur("1d", &ms) == 0 && ms == 86400000);
	CHECK(dur("0", &ms) == 0 && ms == 0);
	CHECK(dur("0s", &ms) == 0 && ms == 0);
	CHECK(dur("9223372036854775807ms", &ms) == 0 && ms == INT64_MAX);
	CHECK(dur("5", &ms) == -1);
	CHECK(dur("5x", &ms) == -1);
	CHECK(dur("-1s", &ms) == -1);
	CHECK(dur("", &ms) == -1);
	CHECK(dur("s", &ms) == -1);
	CHECK(dur("1.5s", &ms) == -1);
	CHECK(dur("5 s", &ms) == -1);
	CHECK(dur("5S", &ms) == -1);
	CHECK(dur("5sec", &ms) == -1);
	CHECK(dur("106751991167301d", &ms) == -1);
	CHECK(dur("9223372036854775808ms", &ms) == -1);
	CHECK(dur("99999999999999999999999s", &ms) == -1);

	CHECK(fx_duration_format(90000, buf, sizeof(buf)) == 3);
	CHECK_STR(buf, "90s");
	fx_duration_format(60000, buf, sizeof(buf));
	CHECK_STR(buf, "1m");
	fx_duration_format(86400000, buf, sizeof(buf));
	CHECK_STR(buf, "1d");
	fx_duration_format(250, buf, sizeof(buf));
	CHECK_STR(buf, "250ms");
	fx_duration_format(7200000, buf, sizeof(buf));
	CHECK_STR(buf, "2h");
	fx_duration_format(0, buf, sizeof(buf));
	CHECK_STR(buf, "0");
	fx_duration_format(1500, buf, sizeof(buf));
	CHECK_STR(buf, "1500ms");
	CHECK(dur(buf, &ms) == 0 && ms == 1500);
}

/* --time-unit, and the time of a JSON value (one rule for every engine) */
static void test_unit_and_value(void)
{
	enum fx_time_unit u = FX_TIME_MS;
	struct json_value v;
	int64_t ms = 0;

	CHECK(fx_time_unit_parse(NULL, &u) == 0 && u == FX_TIME_AUTO);
	CHECK(fx_time_unit_parse("s", &u) == 0 && u == FX_TIME_S);
	CHECK(fx_time_unit_parse("ms", &u) == 0 && u == FX_TIME_MS);
	CHECK(fx_time_unit_parse("sec", &u) == -1);
	CHECK(fx_time_unit_parse("", &u) == -1);
	CHECK(fx_time_unit_parse("m", &u) == -1);

	memset(&v, 0, sizeof(v));
	v.type = JSON_NUMBER;
	v.p = "1795428000";
	v.len = strlen(v.p);
	CHECK(fx_time_of_value(&v, FX_TIME_AUTO, &ms) == 0 &&
	      ms == 1795428000000);
	CHECK(fx_time_of_value(&v, FX_TIME_S, &ms) == 0 && ms == 1795428000000);
	CHECK(fx_time_of_value(&v, FX_TIME_MS, &ms) == 0 && ms == 1795428000);
	v.type = JSON_STRING;
	v.p = "\"1970-01-01T00:00:01.5Z\"";
	v.len = strlen(v.p);
	CHECK(fx_time_of_value(&v, FX_TIME_MS, &ms) == 0 && ms == 1500);
	v.p = "\"1970-01-01T00:00:01\\u005a\"";
	v.len = strlen(v.p);
	v.escaped = 1;
	CHECK(fx_time_of_value(&v, FX_TIME_MS, &ms) == -1);
	v.type = JSON_NULL;
	v.p = "null";
	v.len = 4;
	CHECK(fx_time_of_value(&v, FX_TIME_MS, &ms) == -1);
	v.type = JSON_MISSING;
	CHECK(fx_time_of_value(&v, FX_TIME_MS, &ms) == -1);
}

int main(void)
{
	RUN(test_iso_known_instants);
	RUN(test_iso_forms);
	RUN(test_iso_rejects);
	RUN(test_iso_canonical_as_general);
	RUN(test_epoch);
	RUN(test_format);
	RUN(test_format_parse_roundtrip);
	RUN(test_expanded_years);
	RUN(test_duration);
	RUN(test_unit_and_value);
	return unit_done("test_time");
}
