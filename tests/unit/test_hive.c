/* test_hive.c - Hive-style partition values in directory names */
#include "buf.h"
#include "hive.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>

/* out's bytes equal want (NUL-free). */
static int same(const struct fx_buf *out, const char *want)
{
	return out->len == strlen(want) && !memcmp(out->p, want, out->len);
}

static void test_encode(void)
{
	struct fx_buf b = FX_BUF_INIT;

#define ENC(in, n, want)                                                       \
	do {                                                                   \
		fx_buf_reset(&b);                                              \
		hive_encode(&b, in, n);                                        \
		CHECK_MSG(same(&b, want), "%.*s", (int)b.len, b.p);            \
	} while (0)
	ENC("ios", 3, "ios");
	ENC("", 0, HIVE_NULL);
	ENC("a/b=c%d", 7, "a%2Fb%3Dc%25d");
	ENC(".hidden", 7, "%2Ehidden");
	ENC("a.b", 3, "a.b");
	ENC("x\ny\x7f", 4, "x%0Ay%7F");
	ENC("\\:*?\"<>|#{[", 11, "%5C%3A%2A%3F%22%3C%3E%7C%23%7B%5B");
	ENC("_x }]", 5, "_x }]");
	ENC("\0", 1, "%00");
#undef ENC
	fx_buf_free(&b);
}

static void test_decode(void)
{
	struct fx_buf b = FX_BUF_INIT;
	const char *vals[] = {"a/b=c%d", ".x", "x\ny", "plain", "%", "é"};
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct fx_buf e = FX_BUF_INIT;

		hive_encode(&e, vals[i], strlen(vals[i]));
		fx_buf_reset(&b);
		hive_decode(&b, e.p, e.len);
		CHECK_MSG(same(&b, vals[i]), "round trip of %s", vals[i]);
		fx_buf_free(&e);
	}
	fx_buf_reset(&b);
	hive_decode(&b, "%2f%2F%zz%4", 11);
	CHECK(same(&b, "//%zz%4"));
	fx_buf_reset(&b);
	hive_decode(&b, "%41", 3);
	CHECK(same(&b, "A"));
	fx_buf_free(&b);

	CHECK(hive_is_null(HIVE_NULL, strlen(HIVE_NULL)));
	CHECK(!hive_is_null(HIVE_NULL, strlen(HIVE_NULL) - 1));
	CHECK(!hive_is_null("x", 1));
}

/* hive_decode_json(dir) is want, or -1 if want is NULL. */
static int json_is(const char *dir, const char *want)
{
	struct fx_buf b = FX_BUF_INIT;
	int rc, ok;

	fx_buf_adds(&b, "x");
	rc = hive_decode_json(&b, dir, strlen(dir));
	ok = want ? rc == 0 && b.len == 1 + strlen(want) &&
	                !memcmp(b.p + 1, want, b.len - 1)
	          : rc == -1 && b.len == 1;
	if (!ok)
		fprintf(stderr, "%s: %d %.*s\n", dir, rc, (int)b.len, b.p);
	fx_buf_free(&b);
	return ok;
}

/*
 * A lone surrogate ("\ud800", WTF-8 ED A0 80) and U+FFFD (EF BF BD), which
 * JSON decoding once made of it, are two directories, and each reads back
 * as the JSON string it was written from.
 */
static void test_lone_surrogate(void)
{
	struct fx_buf a = FX_BUF_INIT, b = FX_BUF_INIT;

	hive_encode(&a, "\xed\xa0\x80", 3);
	hive_encode(&b, "\xef\xbf\xbd", 3);
	CHECK_MSG(same(&a, "%ED%A0%80"), "%.*s", (int)a.len, a.p);
	CHECK(same(&b, "\xef\xbf\xbd"));
	fx_buf_reset(&a);
	hive_encode(&a, "a\xed\xbf\xbf/\xed\xa0\x80\xed\xa0\x80", 11);
	CHECK_MSG(same(&a, "a%ED%BF%BF%2F%ED%A0%80%ED%A0%80"), "%.*s",
	          (int)a.len, a.p);
	/* an ED that is no surrogate's, and a cut one, are not escaped */
	fx_buf_reset(&a);
	hive_encode(&a, "\xed\x9f\xbf\xed\xa0", 5);
	CHECK(same(&a, "\xed\x9f\xbf\xed\xa0"));

	CHECK(json_is("%ED%A0%80", "\"\\ud800\""));
	CHECK(json_is("\xef\xbf\xbd", "\"\xef\xbf\xbd\""));
	CHECK(json_is("a%ED%BF%BF%2F%ED%A0%80%ED%A0%80",
	              "\"a\\udfff/\\ud800\\ud800\""));
	CHECK(json_is("%ed%b0%80x%ED%A0%80", "\"\\udc00x\\ud800\""));
	CHECK(json_is("q%22%5C%0A", "\"q\\\"\\\\\\n\""));
	CHECK(json_is(HIVE_NULL, "null"));
	CHECK(json_is("", "\"\""));
	/* a pair is U+10000, written as its four bytes, not so */
	CHECK(json_is("%ED%A0%80%ED%B0%80", NULL));
	CHECK(json_is("%F0%90%80%80", "\"\xf0\x90\x80\x80\""));
	CHECK(json_is("%FF", NULL));
	CHECK(json_is("%ED%A0", NULL));
	CHECK(json_is("%C3", NULL));
	/* the name itself must be UTF-8 */
	CHECK(json_is("\xed\xa0\x80", NULL));
	CHECK(json_is("\xff", NULL));
	fx_buf_free(&a);
	fx_buf_free(&b);
}

/* Every value of a few code points, surrogates among them, reads back. */
static void test_json_round_trip(void)
{
	static const char *const cps[] = {"a",
	                                  "%",
	                                  "/",
	                                  "\xc3\xa9",
	                                  "\xef\xbf\xbd",
	                                  "\xed\xa0\x80",
	                                  "\xed\xbf\xbf",
	                                  "\xf0\x9f\x98\x80"};
	static const char *const js[] = {"a",
	                                 "%",
	                                 "/",
	                                 "\xc3\xa9",
	                                 "\xef\xbf\xbd",
	                                 "\\ud800",
	                                 "\\udfff",
	                                 "\xf0\x9f\x98\x80"};
	size_t k = sizeof(cps) / sizeof(cps[0]), i, j, l;

	for (i = 0; i < k; i++)
		for (j = 0; j < k; j++)
			for (l = 0; l < k; l++) {
				struct fx_buf v = FX_BUF_INIT, d = FX_BUF_INIT,
				              w = FX_BUF_INIT;
				int pair =
				    (i == 5 && j == 6) || (j == 5 && l == 6);

				fx_buf_adds(&v, cps[i]);
				fx_buf_adds(&v, cps[j]);
				fx_buf_adds(&v, cps[l]);
				fx_buf_addc(&w, '"');
				fx_buf_adds(&w, js[i]);
				fx_buf_adds(&w, js[j]);
				fx_buf_adds(&w, js[l]);
				fx_buf_addc(&w, '"');
				fx_buf_addc(&w, 0);
				hive_encode(&d, v.p, v.len);
				fx_buf_addc(&d, 0);
				/* a high then a low surrogate is a pair, which
				 * JSON decoding makes U+10000: never written */
				if (!pair)
					CHECK_MSG(json_is(d.p, w.p), "%s", w.p);
				fx_buf_free(&v);
				fx_buf_free(&d);
				fx_buf_free(&w);
			}
}

int main(void)
{
	RUN(test_encode);
	RUN(test_decode);
	RUN(test_lone_surrogate);
	RUN(test_json_round_trip);
	return unit_done("test_hive");
}
