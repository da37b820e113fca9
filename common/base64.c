/* base64.c - base64, standard alphabet, padded */
#include "base64.h"

#include <stdint.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(struct fx_buf *out, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t i, olen = (n + 2) / 3 * 4;
	char *o;

	if (!n)
		return;
	fx_buf_grow(out, olen);
	o = out->p + out->len;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v =
		    (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[v >> 12 & 63];
		*o++ = b64_alphabet[v >> 6 & 63];
		*o++ = b64_alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[v >> 12 & 63];
		*o++ = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	out->len += olen;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long base64_decode(const char *s, size_t n, uint8_t *out)
{
	size_t i, len = 0, pad = 0;

	if (n % 4)
		return -1;
	if (n && s[n - 1] == '=')
		pad = n >= 2 && s[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n; i += 4) {
		int a = b64_value(s[i]), b = b64_value(s[i + 1]);
		int c = b64_value(s[i + 2]), d = b64_value(s[i + 3]);
		int last = i + 4 == n;

		if (a < 0 || b < 0)
			return -1;
		if (last && pad == 2) {
			if (b & 15)
				return -1;
			out[len++] = (uint8_t)(a << 2 | b >> 4);
		} else if (last && pad == 1) {
			if (c < 0 || c & 3)
				return -1;
			out[len++] = (uint8_t)(a << 2 | b >> 4);
			out[len++] = (uint8_t)((b & 15) << 4 | c >> 2);
		} else {
			if (c < 0 || d < 0)
				return -1;
			out[len++] = (uint8_t)(a << 2 | b >> 4);
			out[len++] = (uint8_t)((b & 15) << 4 | c >> 2);
			out[len++] = (uint8_t)((c & 3) << 6 | d);
		}
	}
	return (long)len;
}
