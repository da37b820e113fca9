/*
 * test_jsonsimd.c - the record scanner's vector path (common/jsonsimd.h)
 * against the portable one (json.c), on generated records and on their
 * mutations.
 *
 * The contract: for every text, json_simd_validate() either says "not
 * sure" or "valid", and then the portable scanner says valid (0, no
 * flags); and json_scan() gives the same result, flags, error and values
 * (type, position, length, escaped bit) with the vector path and without.
 * The oracle for validity is the portable scanner, itself tested against
 * JSONTestSuite, cJSON and a reference validator in test_json.c (which
 * `make unit` runs in both modes). The other half: the vector path must
 * not shirk: every valid record of the shapes it claims (objects without
 * arrays or "_" keys) must be taken by it, or it would pass this test by
 * always saying "not sure".
 *
 * Every text is scanned from an exactly-sized malloc'd copy, so ASan
 * reports a read past its end.
 */
#include "json.h"
#include "jsonsimd.h"
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static int plain; /* generate only what the vector path claims */

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

struct text {
	char *p;
	size_t len, cap;
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = 0;
}

static void puts_(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

/* Whitespace: mostly none (machine NDJSON), sometimes some. */
static void ws(struct text *t)
{
	static const char *const w[] = {"",  "",   "",   "",      "",
	                                " ", "  ", "\t", "\r\n ", " \n"};

	puts_(t, w[rnd(10)]);
}

static void gen_string(struct text *t, int key)
{
	static const char *const keys[] = {
	    "a",     "b",  "os",  "user_id", "_fx",
	    "_fx_x", "_a", "a.b", "x",       "long_key_name_here"};
	static const char *const parts[] = {
	    "abc",
	    "hello world",
	    "\\\"",
	    "\\\\",
	    "\\/",
	    "\\n",
	    "\\t",
	    "\\u00e9",
	    "\\ud83d\\ude00",
	    "\\uD800",
	    "\xc3\xa9",
	    "\xe4\xb8\xad",
	    "\xf0\x9f\x98\x80",
	    "{}[],:",
	    "0123456789",
	    "\\\\\\\\\\\"",
	    "_",
	    "                                                              "};
	int k;

	puts_(t, "\"");
	if (key && (plain || rnd(3))) {
		const char *name;

		do
			name = keys[rnd(10)];
		while (plain && *name == '_');
		puts_(t, name);
	} else {
		for (k = (int)rnd(5); k > 0; k--)
			puts_(t, parts[rnd(18)]);
	}
	puts_(t, "\"");
}

static void gen_number(struct text *t)
{
	static const char *const nums[] = {
	    "0",      "1",   "-1",           "123456", "-0",
	    "0.5",    "1e5", "1E-5",         "2.5e+3", "98765432109876543210",
	    "-12.75", "7",   "1234567890123"};

	puts_(t, nums[rnd(13)]);
}

static void gen_value(struct text *t, int depth);

static void gen_object(struct text *t, int depth)
{
	int k, n = (int)rnd(depth > 3 ? 2 : 7);

	puts_(t, "{");
	ws(t);
	for (k = 0; k < n; k++) {
		if (k) {
			puts_(t, ",");
			ws(t);
		}
		gen_string(t, 1);
		ws(t);
		puts_(t, ":");
		ws(t);
		gen_value(t, depth + 1);
		ws(t);
	}
	puts_(t, "}");
}

static void gen_value(struct text *t, int depth)
{
	int k, n;

	switch (rnd(depth > 4 ? 4 : plain ? 8 : 9)) {
	case 0:
	case 1:
		gen_string(t, 0);
		break;
	case 2:
	case 3:
		gen_number(t);
		break;
	case 4:
		puts_(t, rnd(3) == 0 ? "true" : rnd(2) ? "false" : "null");
		break;
	case 5:
	case 6:
	case 7:
		gen_object(t, depth);
		break;
	default:
		puts_(t, "[");
		ws(t);
		n = (int)rnd(4);
		for (k = 0; k < n; k++) {
			if (k) {
				puts_(t, ",");
				ws(t);
			}
			gen_value(t, depth + 1);
			ws(t);
		}
		puts_(t, "]");
	}
}

static struct json_paths paths;

/*
 * json_scan() by a scanner with the vector path and by one without, with
 * the test's paths if withp: the same result, flags and values.
 */
static void compare_scan(const char *b, size_t n, int flags, int withp)
{
	struct json_scanner vs = {.simd = 1}, ss = {.simd = -1};
	struct json_value vv[JSON_MAX_PATHS], sv[JSON_MAX_PATHS];
	struct json_error e1 = {0, NULL}, e2 = {0, NULL};
	const struct json_paths *ps = withp ? &paths : NULL;
	int rv, rs;
	size_t i;

	rv = json_scan(&vs, ps, b, n, vv, &e1, flags);
	rs = json_scan(&ss, ps, b, n, sv, &e2, flags);
	CHECK_MSG(rv == rs, "%d, %d: %.*s", rv, rs, (int)n, b);
	if (rv < 0 && rs < 0)
		CHECK(e1.offset == e2.offset &&
		      strcmp(e1.reason, e2.reason) == 0);
	for (i = 0; ps && rs >= 0 && rv == rs && i < ps->n; i++) {
		CHECK_MSG(vv[i].type == sv[i].type &&
		              (vv[i].type == JSON_MISSING ||
		               (vv[i].p == sv[i].p && vv[i].len == sv[i].len &&
		                (vv[i].type != JSON_STRING ||
		                 vv[i].escaped == sv[i].escaped))),
		          "path %s: %.*s", ps->v[i].name, (int)n, b);
	}
	json_scanner_free(&vs);
	json_scanner_free(&ss);
}

/*
 * Both scanners on an exact copy of p[0..n): if the vector path says
 * valid, the portable scanner must say valid with no flags; and json_scan()
 * must answer the same with the vector path and without, with paths and
 * without. Returns the vector path's answer.
 */
static int compare(const char *p, size_t n, int flags)
{
	struct json_scanner ss = {.simd = -1};
	struct json_error e;
	char *b = malloc(n ? n : 1);
	int rv, rs;

	memcpy(b, p, n);
	rv = json_simd_validate(b, n);
	rs = json_scan(&ss, NULL, b, n, NULL, &e, flags);
	if (rv != JSON_SIMD_UNSURE)
		CHECK_MSG(rv == 0 && rs == 0, "vector %d, portable %d: %.*s",
		          rv, rs, (int)n, p);
	compare_scan(b, n, flags, 0);
	compare_scan(b, n, flags, 1);
	json_scanner_free(&ss);
	free(b);
	return rv;
}

static void test_generated(void)
{
	struct text t = {0};
	int i, taken = 0;

	for (i = 0; i < 20000; i++) {
		plain = i % 2;
		t.len = 0;
		ws(&t);
		gen_object(&t, 0);
		ws(&t);
		if (compare(t.p, t.len, 0) == 0 && plain)
			taken++;
		compare(t.p, t.len, JSON_ANY_VALUE);
	}
	plain = 0;
	/* every plain valid record is the vector path's */
	CHECK_MSG(taken == 10000, "%d of 10000", taken);
	free(t.p);
}

/* Bytes that change the grammar, strings, escapes, numbers, UTF-8. */
static const char interesting[] = "\"\\{}[],: \t\n\r0123-+.eEtfnu_x\x01\x1f"
                                  "\x7f\x80\xbf\xc3\xe4\xed\xf0\xf5\xff";

static void mutate(struct text *t)
{
	size_t at = t->len ? rnd((uint32_t)t->len) : 0;
	char c = interesting[rnd(sizeof(interesting) - 1)];

	switch (rnd(4)) {
	case 0: /* replace */
		if (t->len)
			t->p[at] = c;
		break;
	case 1: /* insert */
		put(t, " ", 1);
		memmove(t->p + at + 1, t->p + at, t->len - at - 1);
		t->p[at] = c;
		break;
	case 2: /* delete */
		if (t->len) {
			memmove(t->p + at, t->p + at + 1, t->len - at - 1);
			t->len--;
		}
		break;
	default: /* cut */
		t->len = at;
	}
}

static void test_mutated(void)
{
	struct text t = {0};
	int i, k, rejected = 0;

	for (i = 0; i < 40000; i++) {
		t.len = 0;
		gen_object(&t, 0);
		for (k = (int)rnd(3) + 1; k > 0; k--)
			mutate(&t);
		if (compare(t.p, t.len, rnd(2) ? JSON_ANY_VALUE : 0) ==
		    JSON_SIMD_UNSURE)
			rejected++;
	}
	CHECK(rejected > 0);
	free(t.p);
}

/*
 * Hand-made edges: 64-byte block boundaries under strings, escapes and
 * numbers, and texts every rule of the vector path must refuse.
 */
static void test_edges(void)
{
	static const char *const bad[] = {"{\"a\":1,}",
	                                  "{,\"a\":1}",
	                                  "{\"a\" 1}",
	                                  "{\"a\":1 \"b\":2}",
	                                  "{\"a\"::1}",
	                                  "{\"a\":1,,\"b\":2}",
	                                  "{\"a\":01}",
	                                  "{\"a\":-}",
	                                  "{\"a\":1.}",
	                                  "{\"a\":1e}",
	                                  "{\"a\":tru}",
	                                  "{\"a\":truex}",
	                                  "{\"a\":1}x",
	                                  "{\"a\":1}{}",
	                                  "{\"a\":1},",
	                                  "{\"a\":1},\"b\":2",
	                                  "{\"a\":{}",
	                                  "{\"a\":1}}",
	                                  "{\"a\":\"\\x\"}",
	                                  "{\"a\":\"\\u12\"}",
	                                  "{\"a\":\"\x01\"}",
	                                  "{\"a\":\"\xc3\"}",
	                                  "{\"a\":\"\xed\xa0\x80\"}",
	                                  "{\"a\" : 1 ,}",
	                                  "{\"a\":1\x0c}",
	                                  "{\"a\":1\x1a\"b\":2}",
	                                  "{\"a\":\"b\":1}",
	                                  "{\"a\":{\"b\"}}",
	                                  "{1:2}",
	                                  "{\"a\":[1,]}",
	                                  "{\"a\":[1 2]}",
	                                  "{\"a\":}",
	                                  "\"a\"",
	                                  "{\"a\":\"x}",
	                                  "{\"a\":\"x\\\"}",
	                                  "{} {}",
	                                  "{\"a\":1 2}",
	                                  "{\"a\":0 1}",
	                                  "{\"a\":\"x\"1}"};
	static const char *const good[] = {
	    "{}",
	    " {} ",
	    "{\"a\":1}",
	    "{ \"a\" : 1 , \"b\" : [ 1 , 2 ] }",
	    "{\"a\":\"\\\\\"}",
	    "{\"a\":\"\\\\\\\"\"}",
	    "{\"a\":-0.5e+7}",
	    "{\"a\":{\"b\":{\"c\":null}},\"d\":true,\"e\":false}",
	    "{\"_fx\":\"watermark\"}",
	    "{\"a\":1,\"_fx_t\":2}"};
	char buf[512];
	size_t i, pad;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_MSG(compare(bad[i], strlen(bad[i]), 0) ==
		              JSON_SIMD_UNSURE,
		          "%s", bad[i]);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		compare(good[i], strlen(good[i]), 0);
	/* every alignment of a string end, an escape and a number against
	 * the 64-byte blocks */
	for (pad = 0; pad < 140; pad++) {
		static const char *const tails[] = {
		    "\",\"b\":12345}",
		    "\\\"\",\"b\":1}",
		    "\\\\\",\"b\":0}",
		    "\",\"b\":01}",
		    "\",\"b\":10.25}",
		    "\\u00e9\"}",
		    "\xc3\xa9\",\"b\":[true,null]}",
		    "\\\\\\\"x\"}"};
		size_t k;

		for (k = 0; k < sizeof(tails) / sizeof(tails[0]); k++) {
			int n = snprintf(buf, sizeof(buf), "{\"a\":\"%*s%s",
			                 (int)pad, "", tails[k]);

			compare(buf, (size_t)n, 0);
			n = snprintf(buf, sizeof(buf), "{\"a\":%*s0%s",
			             (int)pad, "", "1}");
			compare(buf, (size_t)n, 0);
		}
	}
}

/*
 * json_simd_lines() on a buffer of lines against the lines one by one:
 * the prefix it takes is exactly the lines before the first one that
 * json_simd_validate() does not take (the portable scanner then says
 * valid for each, checked by compare()), that ends in '\r' or that is
 * longer than max_len; and it is all of them when there is none.
 */
static void compare_lines(const char *p, size_t n, size_t max_len)
{
	char *b = malloc(n ? n : 1);
	size_t at = 0, want = 0, got;
	uint64_t lines = 0, want_lines = 0;
	int stop = 0;

	memcpy(b, p, n);
	while (at < n) {
		const char *nl = memchr(b + at, '\n', n - at);
		size_t len = (size_t)(nl - (b + at));

		if (!stop) {
			if (len <= max_len &&
			    !(len && b[at + len - 1] == '\r') &&
			    compare(b + at, len, 0) == 0) {
				want = at + len + 1;
				want_lines++;
			} else {
				stop = 1;
			}
		}
		at += len + 1;
	}
	got = json_simd_lines(b, n, max_len, &lines);
	CHECK_MSG(got == want && lines == want_lines,
	          "took %zu bytes, %llu lines; the lines one by one: %zu, "
	          "%llu: %.*s",
	          got, (unsigned long long)lines, want,
	          (unsigned long long)want_lines, (int)n, b);
	free(b);
}

/* A record for a line: '\n' in its whitespace becomes ' '. */
static void gen_line(struct text *t)
{
	size_t from = t->len, i;

	ws(t);
	gen_object(t, 0);
	ws(t);
	for (i = from; i < t->len; i++)
		if (t->p[i] == '\n')
			t->p[i] = ' ';
}

/*
 * Buffers of plain records with one bad or unsure line (mutated, blank,
 * "\r\n", an array, a "_" key, too long) at every position, or none.
 */
static void test_lines(void)
{
	struct text t = {0};
	int i, k, nlines, bad_at, taken_all = 0;

	for (i = 0; i < 6000; i++) {
		size_t max_len = rnd(4) ? (size_t)-1 : 40 + rnd(200);

		t.len = 0;
		nlines = 1 + (int)rnd(12);
		bad_at = (int)rnd((uint32_t)nlines + 1); /* nlines: none */
		for (k = 0; k < nlines; k++) {
			plain = 1;
			if (k != bad_at) {
				gen_line(&t);
			} else {
				size_t from = t.len;

				switch (rnd(6)) {
				case 0:
					break; /* a blank line */
				case 1:
					puts_(&t, rnd(2) ? " \t" : "\r");
					break;
				case 2:
					gen_line(&t);
					puts_(&t, "\r");
					break;
				case 3:
					plain = 0;
					gen_line(&t);
					break;
				default: {
					struct text m = {0};
					int j;

					gen_line(&m);
					for (j = (int)rnd(3) + 1; j > 0; j--)
						mutate(&m);
					put(&t, m.p ? m.p : "", m.len);
					free(m.p);
				}
				}
				(void)from;
			}
			puts_(&t, "\n");
		}
		plain = 0;
		compare_lines(t.p, t.len, max_len);
		if (bad_at == nlines && max_len == (size_t)-1)
			taken_all++;
	}
	CHECK(taken_all > 0);
	/* every alignment of a line end against the 64-byte blocks */
	for (k = 0; k < 200; k++) {
		char buf[1024];
		int n = snprintf(buf, sizeof(buf),
		                 "{\"a\":\"%*s\"}\n{\"b\":1}\n{\"c\":-2.5}\n"
		                 "{\"d\":{\"e\":[]}}\n{\"f\":2}\n",
		                 k, "");

		compare_lines(buf, (size_t)n, (size_t)-1);
		n = snprintf(buf, sizeof(buf),
		             "{\"a\":%*s1}\n{\"b\":1}%*s\n\n{\"c\":0}\n", k, "",
		             k % 70, "");
		compare_lines(buf, (size_t)n, (size_t)-1);
		n = snprintf(buf, sizeof(buf),
		             "{\"a\":\"\xc3\xa9%*s\"}\n{\"b\":\"\xc3\"}\n", k,
		             "");
		compare_lines(buf, (size_t)n, (size_t)-1);
		n = snprintf(buf, sizeof(buf), "{\"a\":%*s1}\n{}\n{\"b\":1}\n",
		             k, "");
		compare_lines(buf, (size_t)n, 30);
		/* bytes after a record's last '}' on its line */
		n = snprintf(buf, sizeof(buf),
		             "{\"a\":\"%*s\"}\n{\"b\":1},\"c\":1\n{\"d\":1}\n",
		             k, "");
		compare_lines(buf, (size_t)n, (size_t)-1);
		n = snprintf(buf, sizeof(buf),
		             "{\"a\":\"%*s\"}\n{\"b\":1}{\"c\":1}\n{\"d\":1}\n",
		             k, "");
		compare_lines(buf, (size_t)n, (size_t)-1);
	}
	free(t.p);
}

/* The vector path takes the plain record of the benchmark. */
static void test_takes_plain(void)
{
	static const char rec[] =
	    "{\"event_time\":\"2026-11-23T00:00:02.109Z\",\"user_id\":520437,"
	    "\"song_id\":114822,\"artist_id\":17487,\"os\":\"web\","
	    "\"province\":\"hunan\",\"action\":\"play\",\"duration_ms\":78454,"
	    "\"dt\":\"2026-11-23\"}";

	CHECK(json_simd_validate(rec, strlen(rec)) == 0);
	CHECK(json_simd_validate(rec, strlen(rec) - 1) == JSON_SIMD_UNSURE);
}

int main(void)
{
	char *names[] = {"a",       "b",   "os",
	                 "user_id", "a.b", "x.a",
	                 "a\\.b",   "_fx", "long_key_name_here",
	                 "b.os"};
	const char *err;

	if (!json_simd_cpu()) {
		printf("unit: test_jsonsimd: no AVX2 here, nothing to test\n");
		return 0;
	}
	if (json_paths_init(&paths, names, 10, &err) < 0)
		return 1;
	RUN(test_takes_plain);
	RUN(test_edges);
	RUN(test_generated);
	RUN(test_mutated);
	RUN(test_lines);
	json_paths_free(&paths);
	return unit_done("test_jsonsimd");
}
