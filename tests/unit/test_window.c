/*
 * test_window.c - event-time windows (window.h): parsing the spec, which
 * windows a time belongs to for tumble, hop and cumulate (exact
 * boundaries, negative times, before 1970), session's gap, and a
 * brute-force check of every window a time is in.
 */
#include "unit.h"
#include "window.h"

#include <stdint.h>
#include <string.h>

#define SEC 1000LL
#define MIN (60 * SEC)

static struct window_spec spec(const char *s)
{
	struct window_spec w;
	char err[256];

	if (window_spec_parse(&w, s, err, sizeof(err))) {
		fprintf(stderr, "window spec '%s': %s\n", s, err);
		memset(&w, 0, sizeof(w));
	}
	return w;
}

/* The windows of t, "[start,end)" in ms, joined by spaces, into out. */
static const char *windows_of(const char *s, int64_t t)
{
	static char out[1024];
	struct window_spec w = spec(s);
	struct window win[64];
	size_t n, i, len = 0;

	if (window_max_per_record(&w) > 64)
		return "too many";
	n = window_assign(&w, t, win);
	out[0] = 0;
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(
		    out + len, sizeof(out) - len, "%s[%lld,%lld)", i ? " " : "",
		    (long long)win[i].start, (long long)win[i].end);
	return out;
}

static void test_parse(void)
{
	struct window_spec w;

	w = spec("tumble:1m");
	CHECK(w.kind == WINDOW_TUMBLE && w.size == MIN);
	w = spec("hop:5m/1m");
	CHECK(w.kind == WINDOW_HOP && w.size == 5 * MIN && w.slide == MIN);
	/* cumulate:STEP/MAX: size is the max, slide the step */
	w = spec("cumulate:1m/10m");
	CHECK(w.kind == WINDOW_CUMULATE && w.size == 10 * MIN &&
	      w.slide == MIN);
	w = spec("session:30s");
	CHECK(w.kind == WINDOW_SESSION && w.size == 30 * SEC);
	w = spec("tumble:250ms");
	CHECK(w.kind == WINDOW_TUMBLE && w.size == 250);
	w = spec("hop:1d/1h");
	CHECK(w.size == 24 * 60 * MIN && w.slide == 60 * MIN);
}

static void test_parse_errors(void)
{
	static const char *bad[] = {
	    "",           "tumble",   "tumble:",    "tumble:1",   "tumble:1x",
	    "tumble:-1m", "tumble:0", "tumbl:1m",   "tumbles:1m", "hop:5m",
	    "hop:5m/",    "hop:/1m",  "hop:5m/0",   "hop:0/1m",   "cumulate:1m",
	    "session:0",  "session:", "sliding:1m", ":1m"};
	struct window_spec w;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = 0;
		CHECK_MSG(window_spec_parse(&w, bad[i], err, sizeof(err)) == -1,
		          "'%s' accepted", bad[i]);
		CHECK_MSG(strstr(err, bad[i]) != NULL,
		          "'%s': message does not name it: %s", bad[i], err);
	}
	CHECK(window_spec_parse(&w, "hop:5m/2m", err, sizeof(err)) == -1);
	CHECK_STR(err,
	          "'hop:5m/2m': SIZE (5m) must be a multiple of SLIDE (2m)");
	CHECK(window_spec_parse(&w, "cumulate:3m/10m", err, sizeof(err)) == -1);
	CHECK_STR(
	    err,
	    "'cumulate:3m/10m': MAX (10m) must be a multiple of STEP (3m)");
	CHECK(window_spec_parse(&w, "tumble:0", err, sizeof(err)) == -1);
	CHECK_STR(err, "'tumble:0': the size must be positive");
	CHECK(window_spec_parse(&w, "hop:10s/0s", err, sizeof(err)) == -1);
	CHECK_STR(err, "'hop:10s/0s': the slide must be positive");
	CHECK(window_spec_parse(&w, "cumulate:0s/1m", err, sizeof(err)) == -1);
	CHECK_STR(err, "'cumulate:0s/1m': the step must be positive");
	/* a table of the windows a record is in: 86,400 fit, 86 million not */
	CHECK(window_spec_parse(&w, "hop:1d/1s", err, sizeof(err)) == 0);
	CHECK(window_max_per_record(&w) == 86400);
	CHECK(window_spec_parse(&w, "hop:100s/1ms", err, sizeof(err)) == 0);
	CHECK(window_spec_parse(&w, "hop:1d/1ms", err, sizeof(err)) == -1);
	CHECK_STR(err,
	          "'hop:1d/1ms': 86400000 windows a record, at most 100000");
	CHECK(window_spec_parse(&w, "cumulate:1ms/100001ms", err,
	                        sizeof(err)) == -1);
	CHECK_STR(
	    err,
	    "'cumulate:1ms/100001ms': 100001 windows a record, at most 100000");
}

static void test_max_per_record(void)
{
	struct window_spec none;

	memset(&none, 0, sizeof(none));
	CHECK(window_max_per_record(&none) == 0);
	CHECK(window_max_per_record(
	          &(struct window_spec){WINDOW_TUMBLE, MIN, 0}) == 1);
	CHECK(window_max_per_record(
	          &(struct window_spec){WINDOW_HOP, 5 * MIN, MIN}) == 5);
	CHECK(window_max_per_record(
	          &(struct window_spec){WINDOW_CUMULATE, 10 * MIN, MIN}) == 10);
	CHECK(window_max_per_record(
	          &(struct window_spec){WINDOW_SESSION, 30 * SEC, 0}) == 0);
}

/* rounding toward negative infinity, also for negative times */
static void test_floor(void)
{
	CHECK(window_floor(0, 10) == 0);
	CHECK(window_floor(9, 10) == 0);
	CHECK(window_floor(10, 10) == 1);
	CHECK(window_floor(-1, 10) == -1);
	CHECK(window_floor(-10, 10) == -1);
	CHECK(window_floor(-11, 10) == -2);
	CHECK(window_floor(INT64_MIN + 5, 10) == INT64_MIN / 10 - 1);
}

/* half-open: a time on a boundary is in the window that starts there */
static void test_tumble(void)
{
	CHECK_STR(windows_of("tumble:1m", 0), "[0,60000)");
	CHECK_STR(windows_of("tumble:1m", 1), "[0,60000)");
	CHECK_STR(windows_of("tumble:1m", 59999), "[0,60000)");
	CHECK_STR(windows_of("tumble:1m", 60000), "[60000,120000)");
	/* before 1970 */
	CHECK_STR(windows_of("tumble:1m", -1), "[-60000,0)");
	CHECK_STR(windows_of("tumble:1m", -59999), "[-60000,0)");
	CHECK_STR(windows_of("tumble:1m", -60000), "[-60000,0)");
	CHECK_STR(windows_of("tumble:1m", -60001), "[-120000,-60000)");
	/* 2026-11-23T10:00:00.000Z, a boundary of every size up to 1h */
	CHECK_STR(windows_of("tumble:1h", 1795428000000),
	          "[1795428000000,1795431600000)");
	CHECK_STR(windows_of("tumble:1h", 1795427999999),
	          "[1795424400000,1795428000000)");
	/* a day is aligned to UTC midnight */
	CHECK_STR(windows_of("tumble:1d", 1795428000000),
	          "[1795392000000,1795478400000)");
}

/* SIZE/SLIDE windows, by end (and start) ascending */
static void test_hop(void)
{
	CHECK_STR(windows_of("hop:3m/1m", 0),
	          "[-120000,60000) [-60000,120000) [0,180000)");
	CHECK_STR(windows_of("hop:3m/1m", 59999),
	          "[-120000,60000) [-60000,120000) [0,180000)");
	CHECK_STR(windows_of("hop:3m/1m", 60000),
	          "[-60000,120000) [0,180000) [60000,240000)");
	CHECK_STR(windows_of("hop:3m/1m", -1),
	          "[-180000,0) [-120000,60000) [-60000,120000)");
	CHECK_STR(windows_of("hop:3m/1m", -60000),
	          "[-180000,0) [-120000,60000) [-60000,120000)");
	CHECK_STR(windows_of("hop:3m/1m", -60001),
	          "[-240000,-60000) [-180000,0) [-120000,60000)");
	/* SIZE = SLIDE: a tumble */
	CHECK_STR(windows_of("hop:1m/1m", 60000), "[60000,120000)");
	CHECK_STR(windows_of("hop:1m/1m", -1), "[-60000,0)");
}

/* windows from the MAX-aligned start to each STEP up to MAX */
static void test_cumulate(void)
{
	CHECK_STR(windows_of("cumulate:1m/3m", 0),
	          "[0,60000) [0,120000) [0,180000)");
	CHECK_STR(windows_of("cumulate:1m/3m", 59999),
	          "[0,60000) [0,120000) [0,180000)");
	CHECK_STR(windows_of("cumulate:1m/3m", 60000), "[0,120000) [0,180000)");
	CHECK_STR(windows_of("cumulate:1m/3m", 179999), "[0,180000)");
	CHECK_STR(windows_of("cumulate:1m/3m", 180000),
	          "[180000,240000) [180000,300000) [180000,360000)");
	CHECK_STR(windows_of("cumulate:1m/3m", -1), "[-180000,0)");
	CHECK_STR(windows_of("cumulate:1m/3m", -60000), "[-180000,0)");
	CHECK_STR(windows_of("cumulate:1m/3m", -60001),
	          "[-180000,-60000) [-180000,0)");
	CHECK_STR(windows_of("cumulate:1m/3m", -180000),
	          "[-180000,-120000) [-180000,-60000) [-180000,0)");
	/* STEP = MAX: a tumble */
	CHECK_STR(windows_of("cumulate:1m/1m", -1), "[-60000,0)");
}

/* sessions are per group: fx-agg assigns them, window_assign none */
static void test_session(void)
{
	struct window_spec w = spec("session:30s");
	struct window win[1];

	CHECK(w.size == 30 * SEC && w.slide == 0);
	CHECK(window_assign(&w, 0, win) == 0);
	CHECK(window_assign(&w, -1, win) == 0);
	memset(&w, 0, sizeof(w));
	CHECK(window_assign(&w, 0, win) == 0);
}

/* every window of the grid that holds t, and nothing else, in order */
static void check_brute(const char *s, int64_t t)
{
	struct window_spec w = spec(s);
	struct window win[64], want[64];
	size_t n = window_assign(&w, t, win), m = 0, i;
	int64_t step = w.slide, start, end;

	if (w.kind == WINDOW_HOP) {
		for (start = window_floor(t, step) * step - w.size; start <= t;
		     start += step)
			if (start <= t && t < start + w.size) {
				want[m].start = start;
				want[m++].end = start + w.size;
			}
	} else { /* cumulate */
		start = window_floor(t, w.size) * w.size;
		for (end = start + step; end <= start + w.size; end += step)
			if (t < end) {
				want[m].start = start;
				want[m++].end = end;
			}
	}
	CHECK_MSG(n == m && n <= window_max_per_record(&w),
	          "%s at %lld: %zu windows, want %zu", s, (long long)t, n, m);
	for (i = 0; i < n && i < m; i++)
		CHECK_MSG(
		    win[i].start == want[i].start && win[i].end == want[i].end,
		    "%s at %lld: window %zu is [%lld,%lld)", s, (long long)t, i,
		    (long long)win[i].start, (long long)win[i].end);
}

static void test_brute_force(void)
{
	static const char *specs[] = {"hop:10s/1s",     "hop:6s/2s",
	                              "hop:1m/15s",     "cumulate:1s/10s",
	                              "cumulate:2s/6s", "cumulate:15s/1m"};
	size_t i;
	int64_t t;

	for (i = 0; i < sizeof(specs) / sizeof(*specs); i++)
		for (t = -125 * SEC; t <= 125 * SEC; t += 250) {
			check_brute(specs[i], t);
			check_brute(specs[i], t - 1);
		}
}

int main(void)
{
	RUN(test_parse);
	RUN(test_parse_errors);
	RUN(test_max_per_record);
	RUN(test_floor);
	RUN(test_tumble);
	RUN(test_hop);
	RUN(test_cumulate);
	RUN(test_session);
	RUN(test_brute_force);
	return unit_done("test_window");
}
