/*
 * test_json_lines.c - whole buffers of lines through the record stream:
 * record_stream_next_run() (json_scan_lines(), the vector path) against
 * record_stream_next() with the portable scanner alone.
 *
 * Files of good, bad, blank, "\r\n", array, control and too-long lines,
 * with a bad line at every position: both ways must give the same bytes
 * out (a run's lines as they are, a single record with its "\n"), the
 * same messages (file:line, byte offset) under --on-error fail, the same
 * records under skip, and the same counts.
 */
#include "jsonsimd.h"
#include "stream.h"
#include "unit.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static const char *const good[] = {
    "{\"event_time\":\"2026-11-23T00:00:02.109Z\",\"user_id\":520437,"
    "\"song_id\":114822,\"artist_id\":17487,\"os\":\"web\",\"province\":"
    "\"hunan\",\"action\":\"play\",\"duration_ms\":78454,\"dt\":"
    "\"2026-11-23\"}",
    "{}",
    " {\"b\":1} ",
    "{\"c\":{\"d\":-1.5e3,\"e\":true,\"f\":null}}",
    "{\"a\":\"\xc3\xa9 \\u00e9 \\\" \\\\\"}",
    "{\"a\":[1,2]}",
    "{\"_fx\":\"watermark\",\"t\":1}",
    "{\"a\":1,\"_fx_dest\":\"x\"}",
    "{\"a\":1}\r",
    "",
    " \t",
    "{\"s\":\"                                                            "
    "                                                       \"}",
};

static const char *const bad[] = {
    "{\"a\":1",
    "[1]",
    "{\"a\":01}",
    "{\"a\":\"\x01\"}",
    "{\"a\":\"\xc3\"}",
    "{\"a\":\"x\\q\"}",
    "{\"a\":1}x",
    "{\"a\":tru}",
    "1",
    "{\"a\":\"x",
    "{\"a\":1}}",
    "{\"a\":{\"b\":1}",
};

/* Too long for the tests' --max-record (200). */
static const char long_line[] =
    "{\"long\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    "xxxxxxxxxxxxxxxxxxxxxxxxx\"}";

struct out {
	char *p;
	size_t len, cap;
};

static void out_add(struct out *o, const char *p, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->p = realloc(o->p, o->cap);
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
	o->p[o->len] = 0;
}

struct result {
	struct out bytes; /* records out */
	struct out err;   /* stderr */
	int rc;
	uint64_t records_in, bad_records, bytes_in, runs;
};

/*
 * Reads path to its end (or its first error) one way: runs with the
 * vector path, or records one by one with the portable scanner.
 */
static void read_all(const char *path, int runs, enum fx_on_error on_error,
                     struct result *res)
{
	struct fx_ctx ctx;
	struct record_stream rs;
	struct record rec;
	struct record_run run;
	char errpath[] = "/tmp/test_json_lines_errXXXXXX";
	int errfd = mkstemp(errpath), saved = dup(2), r, flags;
	char buf[4096];
	ssize_t k;

	memset(res, 0, sizeof(*res));
	fx_init(&ctx, "test");
	ctx.max_record = 200;
	ctx.on_error = on_error;
	fflush(stderr);
	dup2(errfd, 2);
	CHECK(record_stream_open(&rs, &ctx, path, 0, NULL) == 0);
	if (!runs)
		rs.scanner.simd = -1;
	for (;;) {
		if (runs)
			r = record_stream_next_run(&rs, &run, &rec, NULL,
			                           &flags);
		else
			r = record_stream_next(&rs, &rec, NULL, &flags);
		if (r <= 0)
			break;
		if (runs && run.n) {
			out_add(&res->bytes, run.p, run.len);
			res->runs++;
		} else {
			out_add(&res->bytes, rec.p, rec.len);
			out_add(&res->bytes, "\n", 1);
		}
	}
	res->rc = r;
	record_stream_close(&rs);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(errfd, 0, SEEK_SET);
	while ((k = read(errfd, buf, sizeof(buf))) > 0)
		out_add(&res->err, buf, (size_t)k);
	close(errfd);
	unlink(errpath);
	res->records_in = ctx.st.records_in;
	res->bad_records = ctx.st.bad_records;
	res->bytes_in = ctx.st.bytes_in;
}

static void result_free(struct result *r)
{
	free(r->bytes.p);
	free(r->err.p);
}

static uint64_t total_runs;

/* Both ways on the file's bytes: the same results. */
static void compare_file(const char *text, size_t n)
{
	char path[] = "/tmp/test_json_linesXXXXXX";
	int fd = mkstemp(path), mode;

	CHECK(fd >= 0 && write(fd, text, n) == (ssize_t)n);
	close(fd);
	for (mode = 0; mode < 2; mode++) {
		enum fx_on_error oe =
		    mode ? FX_ON_ERROR_SKIP : FX_ON_ERROR_FAIL;
		struct result a, b;

		read_all(path, 1, oe, &a);
		read_all(path, 0, oe, &b);
		CHECK_MSG(a.bytes.len == b.bytes.len &&
		              (!a.bytes.len ||
		               memcmp(a.bytes.p, b.bytes.p, a.bytes.len) == 0),
		          "out:\n%s\nwant:\n%s\nin:\n%.*s", a.bytes.p,
		          b.bytes.p, (int)n, text);
		CHECK_MSG(a.err.len == b.err.len &&
		              (!a.err.len || strcmp(a.err.p, b.err.p) == 0),
		          "messages: %s, want: %s", a.err.p, b.err.p);
		CHECK(a.rc == b.rc);
		CHECK(a.records_in == b.records_in);
		CHECK(a.bad_records == b.bad_records);
		CHECK(a.bytes_in == b.bytes_in);
		total_runs += a.runs;
		result_free(&a);
		result_free(&b);
	}
	unlink(path);
}

static void test_bad_at_every_position(void)
{
	struct out t = {0};
	int i, k;

	for (i = 0; i < 3000; i++) {
		int nlines = 1 + (int)rnd(30);
		int bad_at = (int)rnd((uint32_t)nlines + 1);

		t.len = 0;
		for (k = 0; k < nlines; k++) {
			const char *l;

			if (k == bad_at)
				l = rnd(8)
				        ? bad[rnd(sizeof(bad) / sizeof(*bad))]
				        : long_line;
			else if (rnd(4))
				l = good[0];
			else
				l = good[rnd(sizeof(good) / sizeof(*good))];
			out_add(&t, l, strlen(l));
			/* the last line, sometimes without its "\n" */
			if (k < nlines - 1 || rnd(4))
				out_add(&t, "\n", 1);
		}
		compare_file(t.p, t.len);
	}
	free(t.p);
	/* the runs were taken: not everything went one by one */
	CHECK(total_runs > 1000);
}

/* Many lines: runs across the reader's refills, bad lines among them. */
static void test_large(void)
{
	struct out t = {0};
	int k;

	for (k = 0; k < 40000; k++) {
		const char *l = k % 9973 == 5 ? bad[k % 12] : good[k % 12];

		out_add(&t, l, strlen(l));
		out_add(&t, "\n", 1);
	}
	compare_file(t.p, t.len);
	free(t.p);
}

int main(void)
{
	if (!json_simd_usable()) {
		printf("unit: test_json_lines: no vector path here, nothing to "
		       "test\n");
		return 0;
	}
	RUN(test_bad_at_every_position);
	RUN(test_large);
	return unit_done("test_json_lines");
}
