/*
 * buf.h - a growable byte buffer.
 *
 * A struct fx_buf owns its bytes. Every call that may grow it may move
 * b->p: pointers into the old bytes are invalid after it. Out of memory
 * exits (fx_oom). Appending to a buffer that has grown to its working size
 * does not allocate, so a buffer reused per record costs nothing in steady
 * state.
 */
#ifndef FX_BUF_H
#define FX_BUF_H

#include <stddef.h>
#include <string.h>

struct fx_buf {
	char *p;
	size_t len;
	size_t cap;
};

#define FX_BUF_INIT                                                            \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/* Makes room for n more bytes (may move b->p). */
void fx_buf_grow(struct fx_buf *b, size_t n);
void fx_buf_free(struct fx_buf *b);

static inline void fx_buf_reset(struct fx_buf *b)
{
	b->len = 0;
}

static inline void fx_buf_add(struct fx_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len < n)
		fx_buf_grow(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline void fx_buf_addc(struct fx_buf *b, char c)
{
	if (b->cap == b->len)
		fx_buf_grow(b, 1);
	b->p[b->len++] = c;
}

static inline void fx_buf_adds(struct fx_buf *b, const char *s)
{
	fx_buf_add(b, s, strlen(s));
}

/*
 * Copies n bytes from s to d, as memcpy: the short ones (at most 32, the
 * names and values of records) with two loads and two stores that
 * overlap, inline, where a call to memcpy costs more than the copy. Reads
 * and writes no byte outside either range.
 */
static inline void fx_copy_short(char *d, const char *s, size_t n)
{
	char a[16], b[16];

	if (n > 32) {
		memcpy(d, s, n);
	} else if (n >= 16) {
		memcpy(a, s, 16);
		memcpy(b, s + n - 16, 16);
		memcpy(d, a, 16);
		memcpy(d + n - 16, b, 16);
	} else if (n >= 8) {
		memcpy(a, s, 8);
		memcpy(b, s + n - 8, 8);
		memcpy(d, a, 8);
		memcpy(d + n - 8, b, 8);
	} else if (n >= 4) {
		memcpy(a, s, 4);
		memcpy(b, s + n - 4, 4);
		memcpy(d, a, 4);
		memcpy(d + n - 4, b, 4);
	} else if (n) {
		a[0] = s[0];
		a[1] = s[n / 2];
		a[2] = s[n - 1];
		d[0] = a[0];
		d[n / 2] = a[1];
		d[n - 1] = a[2];
	}
}

/*
 * memcmp(a, b, n) == 0, the short ones (at most 16 bytes: field names)
 * inline with loads that overlap, as fx_copy_short().
 */
static inline int fx_equal_short(const void *a, const void *b, size_t n)
{
	const char *x = a, *y = b;
	unsigned long long p, q, r, t;
	unsigned int p4, q4, r4, t4;

	if (n > 16)
		return memcmp(a, b, n) == 0;
	if (n >= 8) {
		memcpy(&p, x, 8);
		memcpy(&q, y, 8);
		memcpy(&r, x + n - 8, 8);
		memcpy(&t, y + n - 8, 8);
		return ((p ^ q) | (r ^ t)) == 0;
	}
	if (n >= 4) {
		memcpy(&p4, x, 4);
		memcpy(&q4, y, 4);
		memcpy(&r4, x + n - 4, 4);
		memcpy(&t4, y + n - 4, 4);
		return ((p4 ^ q4) | (r4 ^ t4)) == 0;
	}
	return !n ||
	       (x[0] == y[0] && x[n / 2] == y[n / 2] && x[n - 1] == y[n - 1]);
}

/*
 * Appends s (n bytes) as a JSON string with quotes, escaping '"', '\\' and
 * control characters. s must be valid UTF-8 (checked by the caller).
 */
void fx_buf_add_json_string(struct fx_buf *b, const char *s, size_t n);

/* As fx_buf_add_json_string, without the quotes: a piece of a string. */
void fx_buf_add_json_chars(struct fx_buf *b, const char *s, size_t n);

#endif
