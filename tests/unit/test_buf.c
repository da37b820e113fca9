/* test_buf.c - the growable buffer and the short copy */
#include "buf.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/*
 * fx_copy_short() of every length up to 80 between buffers of exactly that
 * length (the sanitizer build reports a byte read or written outside), and
 * into the middle of a larger one whose other bytes must stay.
 */
static void test_copy_short(void)
{
	size_t n, i;

	for (n = 0; n <= 80; n++) {
		char *s = malloc(n ? n : 1), *d = malloc(n ? n : 1);
		char big[128];

		for (i = 0; i < n; i++)
			s[i] = (char)('a' + (i * 7 + n) % 26);
		memset(d, '#', n);
		fx_copy_short(d, s, n);
		CHECK_MSG(memcmp(d, s, n) == 0, "length %zu", n);
		memset(big, '#', sizeof(big));
		fx_copy_short(big + 20, s, n);
		CHECK_MSG(memcmp(big + 20, s, n) == 0, "length %zu", n);
		for (i = 0; i < sizeof(big); i++)
			if (i < 20 || i >= 20 + n)
				CHECK_MSG(big[i] == '#', "length %zu: byte %zu",
				          n, i);
		free(s);
		free(d);
	}
}

/*
 * fx_equal_short() as memcmp() == 0: equal bytes of every length to 40,
 * then one byte changed at every position; buffers of exactly n bytes.
 */
static void test_equal_short(void)
{
	size_t n, i;

	for (n = 0; n <= 40; n++) {
		char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);

		for (i = 0; i < n; i++)
			a[i] = b[i] = (char)('A' + (i * 5 + n) % 26);
		CHECK_MSG(fx_equal_short(a, b, n), "length %zu", n);
		for (i = 0; i < n; i++) {
			b[i] ^= 0x20;
			CHECK_MSG(!fx_equal_short(a, b, n),
			          "length %zu, byte %zu", n, i);
			b[i] ^= 0x20;
		}
		free(a);
		free(b);
	}
}

static void test_add(void)
{
	struct fx_buf b = FX_BUF_INIT;
	size_t i;

	for (i = 0; i < 1000; i++)
		fx_buf_add(&b, "abc", 3);
	fx_buf_addc(&b, '!');
	CHECK(b.len == 3001 && b.cap >= b.len);
	CHECK(memcmp(b.p + 2997, "abc!", 4) == 0);
	fx_buf_reset(&b);
	CHECK(b.len == 0);
	fx_buf_free(&b);
}

int main(void)
{
	RUN(test_copy_short);
	RUN(test_equal_short);
	RUN(test_add);
	return unit_done("test_buf");
}
