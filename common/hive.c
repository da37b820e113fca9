/* hive.c - Hive-style partition values; the contract is in hive.h */
#include "hive.h"
#include "json.h"

#include <stdio.h>
#include <string.h>

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The three WTF-8 bytes of a surrogate (U+D800-DFFF) start s (n bytes). */
static int is_surrogate(const char *s, size_t n)
{
	return n >= 3 && (unsigned char)s[0] == 0xed &&
	       ((unsigned char)s[1] & 0xe0) == 0xa0 &&
	       ((unsigned char)s[2] & 0xc0) == 0x80;
}

void hive_decode(struct fx_buf *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n &&
		    (hi = hex_value(s[i + 1])) >= 0 &&
		    (lo = hex_value(s[i + 2])) >= 0) {
			fx_buf_addc(out, (char)(hi << 4 | lo));
			i += 2;
		} else {
			fx_buf_addc(out, s[i]);
		}
	}
}

void hive_encode(struct fx_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int esc = 0;

	if (n == 0) {
		fx_buf_adds(out, HIVE_NULL);
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* a lone surrogate, WTF-8: ED A0..BF, and its last byte */
		if (is_surrogate(s + i, n - i))
			esc = 3;
		if (esc || c < 0x20 || c == 0x7f ||
		    strchr("/=%\\:*?\"<>|#{[", c) || (i == 0 && c == '.')) {
			esc -= esc > 0;
			fx_buf_addc(out, '%');
			fx_buf_addc(out, hex[c >> 4]);
			fx_buf_addc(out, hex[c & 15]);
		} else {
			fx_buf_addc(out, (char)c);
		}
	}
}

/* Appends bytes s (n, UTF-8 with no surrogate) as JSON string contents. */
static void add_json_chars(struct fx_buf *out, const char *s, size_t n)
{
	size_t len = out->len;

	fx_buf_add_json_string(out, s, n);
	/* without its quotes */
	memmove(out->p + len, out->p + len + 1, out->len - len - 2);
	out->len -= 2;
}

int hive_decode_json(struct fx_buf *out, const char *s, size_t n)
{
	struct fx_buf v = FX_BUF_INIT;
	size_t len = out->len, i, run = 0;
	int prev_high = 0, rc = 0;

	if (hive_is_null(s, n)) {
		fx_buf_adds(out, "null");
		return 0;
	}
	if (!json_utf8_valid(s, n))
		return -1;
	hive_decode(&v, s, n);
	fx_buf_addc(out, '"');
	for (i = 0; i <= v.len && !rc; i++) {
		unsigned cp;
		char u[8];

		if (i < v.len && !is_surrogate(v.p + i, v.len - i))
			continue;
		if (i > run && !json_utf8_valid(v.p + run, i - run)) {
			rc = -1;
			break;
		}
		if (i > run)
			add_json_chars(out, v.p + run, i - run);
		if (i == v.len)
			break;
		cp = 0xd000 | ((unsigned char)v.p[i + 1] & 0x3f) << 6 |
		     ((unsigned char)v.p[i + 2] & 0x3f);
		/* a high then a low surrogate is a pair: not UTF-8, and
		 * "\ud800\udc00" would read back as U+10000 */
		if (prev_high && run == i && cp >= 0xdc00)
			rc = -1;
		prev_high = cp < 0xdc00;
		snprintf(u, sizeof(u), "\\u%04x", cp);
		fx_buf_add(out, u, 6);
		i += 2;
		run = i + 1;
	}
	fx_buf_free(&v);
	if (rc) {
		out->len = len;
		return -1;
	}
	fx_buf_addc(out, '"');
	return 0;
}

int hive_is_null(const char *s, size_t n)
{
	return n == strlen(HIVE_NULL) && !memcmp(s, HIVE_NULL, n);
}
