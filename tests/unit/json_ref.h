/*
 * json_ref.h - a slow, obviously correct reference validator for JSON
 * texts (RFC 8259), the oracle for the scanner's tests (test_json.c) and
 * fuzz target (tests/fuzz/fuzz_json.c).
 *
 * It follows the grammar of RFC 8259 section 2-7 literally, by recursive
 * descent, plus the reading of common/json.h:
 *   - raw bytes must be valid UTF-8 (no overlongs, no surrogates, at most
 *     U+10FFFF); outside strings only the ASCII grammar is valid anyway;
 *   - raw control characters (< 0x20, NUL included) in strings are invalid;
 *   - \u escapes of lone UTF-16 surrogates are valid (noted in ref_info);
 *   - numbers are checked for syntax only (1e400 is valid);
 *   - whitespace is exactly space, tab, LF, CR (a UTF-8 BOM is not).
 * It recurses once per nesting level, so it gives up (returns -1) past
 * REF_MAX_DEPTH levels rather than overflow the stack.
 */
#ifndef JSON_REF_H
#define JSON_REF_H

#include <stddef.h>
#include <string.h>

#define REF_MAX_DEPTH 5000

struct ref_info {
	int top;            /* first byte of the top-level value */
	int lone_surrogate; /* a \u escape of an unpaired surrogate */
	int nul_escape;     /* a \u0000 escape */
	size_t max_depth;   /* deepest nesting of objects and arrays */
	size_t max_num_len; /* longest number, in bytes */
	size_t err;         /* offset of the first error */
	int too_deep;       /* gave up: deeper than REF_MAX_DEPTH */
};

struct ref_parser {
	const unsigned char *s;
	size_t n, i, depth;
	struct ref_info *info;
};

/*
 * Length (1-4) of the valid UTF-8 sequence at s (n bytes available), or 0:
 * decodes the code point and checks it is the shortest form, not a
 * surrogate and at most U+10FFFF.
 */
static size_t ref_utf8_len(const unsigned char *s, size_t n)
{
	unsigned long cp, min;
	size_t len, k;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0) {
		len = 2;
		cp = s[0] & 0x1F;
		min = 0x80;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3;
		cp = s[0] & 0x0F;
		min = 0x800;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (k = 1; k < len; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

static int ref_utf8_valid(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, l;

	while (i < n) {
		l = ref_utf8_len(s + i, n - i);
		if (l == 0)
			return 0;
		i += l;
	}
	return 1;
}

static int ref_fail(struct ref_parser *r)
{
	if (r->info)
		r->info->err = r->i;
	return 0;
}

static void ref_ws(struct ref_parser *r)
{
	while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
	                       r->s[r->i] == '\n' || r->s[r->i] == '\r'))
		r->i++;
}

static int ref_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads "uXXXX" at s[i] (the 'u'); returns the code unit or -1. */
static long ref_u4(struct ref_parser *r, size_t i)
{
	long v = 0;
	int k, h;

	if (i + 5 > r->n || r->s[i] != 'u')
		return -1;
	for (k = 1; k <= 4; k++) {
		h = ref_hexval(r->s[i + k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* At the opening quote. */
static int ref_string(struct ref_parser *r)
{
	long u, u2;
	size_t l;

	r->i++;
	for (;;) {
		if (r->i >= r->n)
			return ref_fail(r);
		if (r->s[r->i] == '"') {
			r->i++;
			return 1;
		}
		if (r->s[r->i] < 0x20)
			return ref_fail(r);
		if (r->s[r->i] != '\\') {
			l = ref_utf8_len(r->s + r->i, r->n - r->i);
			if (l == 0)
				return ref_fail(r);
			r->i += l;
			continue;
		}
		r->i++; /* the backslash */
		if (r->i >= r->n)
			return ref_fail(r);
		if (strchr("\"\\/bfnrt", r->s[r->i]) && r->s[r->i]) {
			r->i++;
			continue;
		}
		u = ref_u4(r, r->i);
		if (u < 0)
			return ref_fail(r);
		r->i += 5;
		if (u == 0 && r->info)
			r->info->nul_escape = 1;
		if (u >= 0xD800 && u <= 0xDBFF) {
			/* a high surrogate: paired if \uDC00-\uDFFF follows */
			u2 = -1;
			if (r->i + 1 < r->n && r->s[r->i] == '\\')
				u2 = ref_u4(r, r->i + 1);
			if (u2 >= 0xDC00 && u2 <= 0xDFFF)
				r->i += 6;
			else if (r->info)
				r->info->lone_surrogate = 1;
		} else if (u >= 0xDC00 && u <= 0xDFFF && r->info) {
			r->info->lone_surrogate = 1;
		}
	}
}

static int ref_digits(struct ref_parser *r)
{
	size_t start = r->i;

	while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
		r->i++;
	return r->i > start;
}

static int ref_number(struct ref_parser *r)
{
	size_t start = r->i;

	if (r->i < r->n && r->s[r->i] == '-')
		r->i++;
	if (r->i < r->n && r->s[r->i] == '0')
		r->i++;
	else if (r->i < r->n && r->s[r->i] >= '1' && r->s[r->i] <= '9')
		ref_digits(r);
	else
		return ref_fail(r);
	if (r->i < r->n && r->s[r->i] == '.') {
		r->i++;
		if (!ref_digits(r))
			return ref_fail(r);
	}
	if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
		r->i++;
		if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-'))
			r->i++;
		if (!ref_digits(r))
			return ref_fail(r);
	}
	if (r->info && r->i - start > r->info->max_num_len)
		r->info->max_num_len = r->i - start;
	return 1;
}

static int ref_literal(struct ref_parser *r, const char *lit)
{
	size_t k;

	for (k = 0; lit[k]; k++) {
		if (r->i >= r->n || r->s[r->i] != (unsigned char)lit[k])
			return ref_fail(r);
		r->i++;
	}
	return 1;
}

static int ref_value(struct ref_parser *r);

/* At '{' or '['. */
static int ref_container(struct ref_parser *r)
{
	int obj = r->s[r->i] == '{', v;
	unsigned char close = obj ? '}' : ']';

	if (++r->depth > REF_MAX_DEPTH) {
		if (r->info)
			r->info->too_deep = 1;
		return -1;
	}
	if (r->info && r->depth > r->info->max_depth)
		r->info->max_depth = r->depth;
	r->i++;
	ref_ws(r);
	if (r->i < r->n && r->s[r->i] == close) {
		r->i++;
		r->depth--;
		return 1;
	}
	for (;;) {
		if (obj) {
			if (r->i >= r->n || r->s[r->i] != '"')
				return ref_fail(r);
			if (!ref_string(r))
				return 0;
			ref_ws(r);
			if (r->i >= r->n || r->s[r->i] != ':')
				return ref_fail(r);
			r->i++;
			ref_ws(r);
		}
		v = ref_value(r);
		if (v <= 0)
			return v;
		ref_ws(r);
		if (r->i >= r->n)
			return ref_fail(r);
		if (r->s[r->i] == close) {
			r->i++;
			r->depth--;
			return 1;
		}
		if (r->s[r->i] != ',')
			return ref_fail(r);
		r->i++;
		ref_ws(r);
	}
}

/* At the first byte of a value (whitespace skipped). */
static int ref_value(struct ref_parser *r)
{
	if (r->i >= r->n)
		return ref_fail(r);
	switch (r->s[r->i]) {
	case '{':
	case '[':
		return ref_container(r);
	case '"':
		return ref_string(r);
	case 't':
		return ref_literal(r, "true");
	case 'f':
		return ref_literal(r, "false");
	case 'n':
		return ref_literal(r, "null");
	default:
		return ref_number(r);
	}
}

/*
 * Validates a whole JSON text: 1 if valid, 0 if not (info->err the offset
 * of the first error), -1 if nested too deep to judge. info may be NULL.
 */
static int ref_json_valid(const char *p, size_t n, struct ref_info *info)
{
	struct ref_parser r = {(const unsigned char *)p, n, 0, 0, info};
	int v;

	if (info)
		memset(info, 0, sizeof *info);
	ref_ws(&r);
	if (info)
		info->top = r.i < n ? r.s[r.i] : -1;
	v = ref_value(&r);
	if (v <= 0)
		return v;
	ref_ws(&r);
	if (r.i != n)
		return ref_fail(&r);
	return 1;
}

#endif
