/* hive.c - Hive-style partition values; the contract is in hive.h */
#include "hive.h"
#include "json.h"

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
		if (json_wtf8_surrogate(s + i, n - i))
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

int hive_decode_json(struct fx_buf *out, const char *s, size_t n)
{
	struct fx_buf v = FX_BUF_INIT;
	int rc;

	if (hive_is_null(s, n)) {
		fx_buf_adds(out, "null");
		return 0;
	}
	if (!json_utf8_valid(s, n))
		return -1;
	hive_decode(&v, s, n);
	rc = json_add_wtf8_string(out, v.p ? v.p : "", v.len);
	fx_buf_free(&v);
	return rc;
}

int hive_is_null(const char *s, size_t n)
{
	return n == strlen(HIVE_NULL) && !memcmp(s, HIVE_NULL, n);
}
