/* test_hive.c - Hive-style partition values in directory names */
#include "buf.h"
#include "hive.h"
#include "unit.h"

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

int main(void)
{
	RUN(test_encode);
	RUN(test_decode);
	return unit_done("test_hive");
}
