/* buf.c - a growable byte buffer */
#include "buf.h"
#include "err.h"

#include <stdlib.h>

void fx_buf_grow(struct fx_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;

	if (n > SIZE_MAX / 2 - b->len)
		fx_oom();
	while (cap - b->len < n)
		cap *= 2;
	b->p = fx_realloc(b->p, cap);
	b->cap = cap;
}

void fx_buf_free(struct fx_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void fx_buf_add_json_chars(struct fx_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	/* worst case every byte becomes \u00XX */
	if (b->cap - b->len < 6 * n)
		fx_buf_grow(b, 6 * n);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char *o;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		memcpy(b->p + b->len, s + run, i - run);
		b->len += i - run;
		run = i + 1;
		o = b->p + b->len;
		*o++ = '\\';
		switch (c) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
		b->len = (size_t)(o - b->p);
	}
	memcpy(b->p + b->len, s + run, n - run);
	b->len += n - run;
}

void fx_buf_add_json_string(struct fx_buf *b, const char *s, size_t n)
{
	fx_buf_addc(b, '"');
	fx_buf_add_json_chars(b, s, n);
	fx_buf_addc(b, '"');
}
