/*
 * json.c - the record scanner.
 *
 * One loop over the bytes with an explicit stack (no recursion: a record
 * nested 100,000 deep costs 100 KB of stack bytes, not a crash). Strings,
 * which are most of a record's bytes, are skipped 16 bytes at a time with
 * SSE2 when at least 16 bytes remain; the tail is scanned byte by byte, so
 * the scanner never reads past p + n.
 *
 * Field extraction rides along: for each open object at depth d the scanner
 * knows which paths still match the keys that led there (a bit mask), so a
 * key is compared only against the paths that can still match, and subtrees
 * no path goes into cost nothing extra.
 */
#include "json.h"
#include "err.h"
#include "jsonsimd.h"
#include "num.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

const char *json_type_name(enum json_type t)
{
	static const char *const names[] = {
	    "missing", "null",   "boolean", "boolean",
	    "number",  "string", "object",  "array",
	};

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t]
	                                                      : "unknown";
}

/* ---- paths ---- */

void json_paths_free(struct json_paths *ps)
{
	size_t i, j;

	for (i = 0; i < ps->n; i++) {
		free(ps->v[i].name);
		for (j = 0; j < ps->v[i].nseg; j++)
			free(ps->v[i].seg[j]);
	}
	memset(ps, 0, sizeof(*ps));
}

int json_paths_add(struct json_paths *ps, const char *name, const char **err)
{
	struct json_path *pa;
	const char *s = name;
	char *seg;
	size_t len;

	if (ps->n >= JSON_MAX_PATHS) {
		*err = "too many fields (at most 64)";
		return -1;
	}
	pa = &ps->v[ps->n];
	memset(pa, 0, sizeof(*pa));
	seg = fx_malloc(strlen(name) + 1);
	for (;;) {
		len = 0;
		/* "\." is a dot inside a key, "\\" a backslash */
		while (*s && *s != '.') {
			if (*s == '\\' && (s[1] == '.' || s[1] == '\\'))
				s++;
			seg[len++] = *s++;
		}
		if (len == 0 || pa->nseg == JSON_MAX_PATH_DEPTH) {
			*err = len == 0 ? "empty field name"
			                : "field path too deep (at most 16)";
			free(seg);
			while (pa->nseg)
				free(pa->seg[--pa->nseg]);
			return -1;
		}
		pa->seg[pa->nseg] = fx_strndup(seg, len);
		pa->seglen[pa->nseg++] = len;
		if (!*s)
			break;
		s++;
	}
	free(seg);
	pa->name = fx_strdup(name);
	for (len = 0; len < pa->nseg; len++)
		ps->len_mask[len][pa->seglen[len] & 63] |= 1ULL << ps->n;
	if (pa->nseg > ps->max_depth)
		ps->max_depth = (unsigned)pa->nseg;
	return (int)ps->n++;
}

size_t json_one_line(char *p, size_t n)
{
	static const char breaks[] = "\n\r";
	char *end = p + n, *q;
	size_t k = 0, i;

	for (i = 0; i < 2; i++)
		for (q = p; (q = memchr(q, breaks[i], (size_t)(end - q)));) {
			*q++ = ' ';
			k++;
		}
	return k;
}

int json_paths_find_or_add(struct json_paths *ps, const char *name,
                           const char **err)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i].name, name) == 0)
			return (int)i;
	return json_paths_add(ps, name, err);
}

int json_paths_init(struct json_paths *ps, char *const *names, size_t n,
                    const char **err)
{
	size_t i;

	memset(ps, 0, sizeof(*ps));
	for (i = 0; i < n; i++) {
		if (json_paths_add(ps, names[i], err) < 0) {
			json_paths_free(ps);
			return -1;
		}
	}
	return 0;
}

void json_scanner_free(struct json_scanner *sc)
{
	free(sc->stack);
	memset(sc, 0, sizeof(*sc));
}

/* ---- UTF-8 ---- */

/*
 * Length of the valid UTF-8 sequence at s (s < end, *s >= 0x80), or 0 if it
 * is not one (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
 */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end)
{
	unsigned c = s[0];
	size_t left = (size_t)(end - s);

	if (c >= 0xc2 && c <= 0xdf) {
		return left >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	} else if (c >= 0xe0 && c <= 0xef) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80;
		unsigned hi = c == 0xed ? 0x9f : 0xbf;

		return left >= 3 && s[1] >= lo && s[1] <= hi &&
		               (s[2] & 0xc0) == 0x80
		           ? 3
		           : 0;
	} else if (c >= 0xf0 && c <= 0xf4) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80;
		unsigned hi = c == 0xf4 ? 0x8f : 0xbf;

		return left >= 4 && s[1] >= lo && s[1] <= hi &&
		               (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
		           ? 4
		           : 0;
	}
	return 0;
}

int json_utf8_valid(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p, *end = s + n;

	while (s < end) {
#if defined(__SSE2__)
		while (end - s >= 16 &&
		       !_mm_movemask_epi8(_mm_loadu_si128((const void *)s)))
			s += 16;
		if (s == end)
			break;
#endif
		if (*s < 0x80) {
			s++;
		} else {
			size_t k = utf8_seq(s, end);

			if (!k)
				return 0;
			s += k;
		}
	}
	return 1;
}

/* ---- the scanner ---- */

static const unsigned char is_ws[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

static const unsigned char is_hex[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1,
    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1};

#define DIGIT(c) ((unsigned)(c) - '0' < 10)

/*
 * The number of ASCII digits at s, looking at up to 8 bytes at once when 8
 * remain (a bit per byte that is not a digit; carries only run upward, so
 * the lowest flagged byte is exact).
 */
static inline size_t count_digits(const unsigned char *s,
                                  const unsigned char *end)
{
	const unsigned char *p = s;

	while (end - p >= 8) {
		uint64_t v, t, m;

		memcpy(&v, p, 8);
		t = v ^ 0x3030303030303030ULL;
		m = ((t + 0x7676767676767676ULL) | t) & 0x8080808080808080ULL;
		if (m)
			return (size_t)(p - s) +
			       (size_t)(__builtin_ctzll(m) >> 3);
		p += 8;
	}
	while (p < end && DIGIT(*p))
		p++;
	return (size_t)(p - s);
}

struct scan {
	const unsigned char *base;
	const unsigned char *end;
	const char *reason;
	const unsigned char *at;
};

static const unsigned char *fail(struct scan *st, const unsigned char *at,
                                 const char *reason)
{
	st->at = at;
	st->reason = *reason ? reason : "unexpected end of input";
	return NULL;
}

/*
 * s is just past an opening quote. Returns the closing quote, or NULL.
 * *escaped is set if a backslash escape was seen.
 */
static inline __attribute__((always_inline)) const unsigned char *
scan_string(struct scan *st, const unsigned char *s, int *escaped)
{
	const unsigned char *end = st->end;

	for (;;) {
#if defined(__SSE2__)
		const __m128i quote = _mm_set1_epi8('"');
		const __m128i bslash = _mm_set1_epi8('\\');
		const __m128i ctl = _mm_set1_epi8(0x1f);

		while (end - s >= 16) {
			__m128i v = _mm_loadu_si128((const void *)s);
			__m128i m = _mm_or_si128(
			    _mm_or_si128(_mm_cmpeq_epi8(v, quote),
			                 _mm_cmpeq_epi8(v, bslash)),
			    _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
			unsigned bits = (unsigned)_mm_movemask_epi8(m) |
			                (unsigned)_mm_movemask_epi8(v);

			if (bits) {
				s += __builtin_ctz(bits);
				goto special;
			}
			s += 16;
		}
#endif
		while (s < end && *s >= 0x20 && *s != '"' && *s != '\\' &&
		       *s < 0x80)
			s++;
		if (s >= end)
			return fail(st, s, "unterminated string");

#if defined(__SSE2__)
	special:
#endif
		if (*s == '"')
			return s;
		if (*s == '\\') {
			*escaped = 1;
			if (end - s < 2)
				return fail(st, end, "");
			switch (s[1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				s += 2;
				break;
			case 'u':
				if (end - s < 6)
					return fail(st, end, "");
				if (!is_hex[s[2]] || !is_hex[s[3]] ||
				    !is_hex[s[4]] || !is_hex[s[5]])
					return fail(st, s, "bad \\u escape");
				s += 6;
				break;
			default:
				return fail(st, s, "bad escape in string");
			}
		} else if (*s < 0x20) {
			return fail(st, s, "control character in string");
		} else {
			size_t k = utf8_seq(s, end);

			if (!k)
				return fail(st, s, "invalid UTF-8");
			s += k;
		}
	}
}

/* s at a '-' or digit. Returns the first byte after the number, or NULL. */
static inline __attribute__((always_inline)) const unsigned char *
scan_number(struct scan *st, const unsigned char *s)
{
	const unsigned char *end = st->end;

	if (*s == '-')
		s++;
	if (s >= end)
		return fail(st, s, "");
	if (*s == '0') {
		s++;
	} else if (DIGIT(*s)) {
		s += count_digits(s, end);
	} else {
		return fail(st, s, "bad number");
	}
	if (s < end && *s == '.') {
		if (++s >= end || !DIGIT(*s))
			return fail(st, s, "bad number");
		s += count_digits(s, end);
	}
	if (s < end && (*s == 'e' || *s == 'E')) {
		if (++s < end && (*s == '+' || *s == '-'))
			s++;
		if (s >= end || !DIGIT(*s))
			return fail(st, s, "bad number");
		while (++s < end && DIGIT(*s))
			;
	}
	return s;
}

static int key_matches(const struct json_path *pa, size_t d,
                       const unsigned char *k, size_t klen, int escaped)
{
	struct json_value v;

	if (!escaped)
		return klen == pa->seglen[d] &&
		       fx_equal_short(k, pa->seg[d], klen);
	v.type = JSON_STRING;
	v.p = (const char *)k - 1;
	v.len = klen + 2;
	v.escaped = 1;
	return json_string_equals(&v, pa->seg[d], pa->seglen[d]);
}

/* Per-depth state for extraction, kept for depths paths can reach. */
struct level {
	uint64_t keys;   /* paths whose next segment is a key here */
	uint64_t target; /* paths whose value is this container */
	const unsigned char *start;
};

#define MAX_LEVELS (JSON_MAX_PATH_DEPTH + 2)

static void set_vals(struct json_value *vals, uint64_t m, enum json_type t,
                     const unsigned char *p, size_t len, int escaped)
{
	while (m) {
		int i = __builtin_ctzll(m);

		m &= m - 1;
		vals[i].type = t;
		vals[i].p = (const char *)p;
		vals[i].len = len;
		vals[i].escaped = escaped;
	}
}

static int grow_stack(struct json_scanner *sc, size_t depth)
{
	size_t cap = sc->cap ? sc->cap : 64;

	while (cap <= depth)
		cap *= 2;
	sc->stack = fx_realloc(sc->stack, cap);
	sc->cap = cap;
	return 0;
}

/* Decides sc->simd on first use: 2 the vector path, -1 the portable one. */
static int scanner_simd(struct json_scanner *sc)
{
	if (sc->simd == 0 || sc->simd == 1)
		sc->simd = (sc->simd ? json_simd_cpu() : json_simd_usable())
		               ? 2 /* decided: the vector path */
		               : -1;
	return sc->simd == 2;
}

size_t json_scan_lines(struct json_scanner *sc, const char *p, size_t n,
                       size_t max_len, uint64_t *lines)
{
	*lines = 0;
	if (!n || !scanner_simd(sc))
		return 0;
	return json_simd_lines(p, n, max_len, lines);
}

int json_scan(struct json_scanner *sc, const struct json_paths *ps,
              const char *p, size_t n, struct json_value *vals,
              struct json_error *err, int flags)
{
	struct scan st = {(const unsigned char *)p,
	                  (const unsigned char *)p + n, NULL, NULL};
	const unsigned char *s = st.base, *end = st.end;
	struct level lv[MAX_LEVELS];
	uint64_t pending = 0; /* paths whose value is the next value */
	uint64_t descend = 0; /* paths going into the next value */
	size_t depth = 0, i;
	int result = 0, top_object, first_key = 1, escaped;
	int failed = JSON_SCAN_INVALID; /* what the error path returns */
	const unsigned char *q;

	if (scanner_simd(sc) && (!ps || !ps->n) &&
	    json_simd_validate(p, n) == 0)
		return 0;
	if (ps) {
		for (i = 0; i < ps->n; i++)
			vals[i].type = JSON_MISSING;
	}
	while (s < end && is_ws[*s])
		s++;
	if (s >= end) {
		fail(&st, s, "");
		st.reason = n ? "only whitespace" : "empty input";
		goto error;
	}
	top_object = *s == '{';
	if (ps && ps->n && top_object)
		descend = ps->n == 64 ? ~0ULL : (1ULL << ps->n) - 1;

value:
	switch (*s) {
	case '{':
	case '[':
		if (depth + 1 >= sc->cap)
			grow_stack(sc, depth + 1);
		sc->stack[++depth] = *s;
		if (depth < MAX_LEVELS) {
			lv[depth].keys = *s == '{' ? descend : 0;
			lv[depth].target = pending;
			lv[depth].start = s;
		}
		pending = descend = 0;
		s++;
		while (s < end && is_ws[*s])
			s++;
		if (s >= end)
			goto bad_end;
		if (sc->stack[depth] == '{') {
			if (*s == '}')
				goto close;
			goto key;
		}
		if (*s == ']')
			goto close;
		goto value;
	case '"':
		escaped = 0;
		q = scan_string(&st, s + 1, &escaped);
		if (!q)
			goto error;
		if (pending)
			set_vals(vals, pending, JSON_STRING, s,
			         (size_t)(q - s + 1), escaped);
		s = q + 1;
		break;
	case 't':
		if (end - s < 4 || memcmp(s, "true", 4) != 0)
			goto bad_literal;
		if (pending)
			set_vals(vals, pending, JSON_TRUE, s, 4, 0);
		s += 4;
		break;
	case 'f':
		if (end - s < 5 || memcmp(s, "false", 5) != 0)
			goto bad_literal;
		if (pending)
			set_vals(vals, pending, JSON_FALSE, s, 5, 0);
		s += 5;
		break;
	case 'n':
		if (end - s < 4 || memcmp(s, "null", 4) != 0)
			goto bad_literal;
		if (pending)
			set_vals(vals, pending, JSON_NULL, s, 4, 0);
		s += 4;
		break;
	default:
		if (*s != '-' && !DIGIT(*s)) {
			fail(&st, s, "unexpected character");
			goto error;
		}
		q = scan_number(&st, s);
		if (!q)
			goto error;
		if (pending)
			set_vals(vals, pending, JSON_NUMBER, s, (size_t)(q - s),
			         0);
		s = q;
		break;
	}
	pending = descend = 0;

after_value:
	/* compact JSON: a comma or a closing bracket comes right away */
	if (s < end && *s == ',' && depth) {
		s++;
		if (sc->stack[depth] == '{') {
			if (s < end && *s == '"')
				goto key;
		} else if (s < end && !is_ws[*s]) {
			goto value;
		}
		while (s < end && is_ws[*s])
			s++;
		if (s >= end)
			goto bad_end;
		if (sc->stack[depth] == '{')
			goto key;
		goto value;
	}
	while (s < end && is_ws[*s])
		s++;
	if (depth == 0) {
		if (s < end) {
			fail(&st, s, "unexpected data after the value");
			goto error;
		}
		if (!top_object && !(flags & JSON_ANY_VALUE)) {
			fail(&st, st.base, "not a JSON object");
			failed = JSON_SCAN_NOT_OBJECT;
			goto error;
		}
		return result;
	}
	if (s >= end)
		goto bad_end;
	if (*s == ',') {
		s++;
		while (s < end && is_ws[*s])
			s++;
		if (s >= end)
			goto bad_end;
		if (sc->stack[depth] == '{')
			goto key;
		goto value;
	}
	if (*s != (sc->stack[depth] == '{' ? '}' : ']')) {
		fail(&st, s,
		     sc->stack[depth] == '{' ? "expected ',' or '}' in object"
		                             : "expected ',' or ']' in array");
		goto error;
	}
close:
	if (depth < MAX_LEVELS && lv[depth].target)
		set_vals(vals, lv[depth].target,
		         sc->stack[depth] == '{' ? JSON_OBJECT : JSON_ARRAY,
		         lv[depth].start, (size_t)(s + 1 - lv[depth].start), 0);
	depth--;
	s++;
	goto after_value;

key:
	if (*s != '"') {
		fail(&st, s, "expected a string key");
		goto error;
	}
	escaped = 0;
	q = scan_string(&st, s + 1, &escaped);
	if (!q)
		goto error;
	if (depth == 1) {
		size_t klen = (size_t)(q - s - 1);

		/* not memcmp: a call for every key, not inlined */
		if (klen >= 3 && s[1] == '_' && s[2] == 'f' && s[3] == 'x') {
			result |= JSON_SCAN_HAS_FX;
			if (first_key && klen == 3)
				result |= JSON_SCAN_CONTROL;
		}
		first_key = 0;
	}
	if (depth < MAX_LEVELS && lv[depth].keys) {
		/* an escaped key may unescape to any length: try every path */
		uint64_t m =
		    lv[depth].keys &
		    (escaped
		         ? ~0ULL
		         : ps->len_mask[depth - 1][(size_t)(q - s - 1) & 63]);

		while (m) {
			int k = __builtin_ctzll(m);
			const struct json_path *pa = &ps->v[k];

			m &= m - 1;
			if (!key_matches(pa, depth - 1, s + 1,
			                 (size_t)(q - s - 1), escaped))
				continue;
			/* a repeated key: the last one wins */
			vals[k].type = JSON_MISSING;
			if (pa->nseg == depth)
				pending |= 1ULL << k;
			else
				descend |= 1ULL << k;
		}
	}
	s = q + 1;
	if (s < end && *s == ':' && s + 1 < end && !is_ws[s[1]]) {
		s++;
		goto value; /* compact JSON */
	}
	while (s < end && is_ws[*s])
		s++;
	if (s >= end)
		goto bad_end;
	if (*s != ':') {
		fail(&st, s, "expected ':' after key");
		goto error;
	}
	s++;
	while (s < end && is_ws[*s])
		s++;
	if (s >= end)
		goto bad_end;
	goto value;

bad_literal:
	fail(&st, s, "unexpected character");
	goto error;
bad_end:
	fail(&st, end, "");
error:
	if (err) {
		err->offset = (size_t)(st.at - st.base);
		err->reason = st.reason;
	}
	return failed;
}

/* ---- reading validated records ---- */

/* Bytes that end a number or literal inside a valid text. */
static const unsigned char ends_scalar[256] = {
    [','] = 1,  [']'] = 1,  ['}'] = 1,  [' '] = 1,
    ['\t'] = 1, ['\r'] = 1, ['\n'] = 1, ['"'] = 1};

/* Past a valid string's closing quote; s at its opening quote. */
static const char *skip_string(const char *s, const char *end)
{
	const char *q;

	for (s++;; s = q + 1) {
		size_t bs = 0;

		q = memchr(s, '"', (size_t)(end - s));
		if (!q)
			return end;
		/* escaped if an odd run of backslashes is before it */
		while (q - bs > s && q[-1 - (ptrdiff_t)bs] == '\\')
			bs++;
		if (!(bs & 1))
			return q + 1;
	}
}

/* End of the valid value at s (no checks beyond bounds). */
static const char *skip_value(const char *s, const char *end)
{
	size_t depth = 0;

	do {
		switch (*s) {
		case '"':
			s = skip_string(s, end);
			break;
		case '{':
		case '[':
			depth++;
			s++;
			break;
		case '}':
		case ']':
			depth--;
			s++;
			break;
		default:
			while (s < end && !ends_scalar[(unsigned char)*s])
				s++;
		}
		while (depth && s < end &&
		       (is_ws[(unsigned char)*s] || *s == ',' || *s == ':'))
			s++;
	} while (depth && s < end);
	return s;
}

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && is_ws[(unsigned char)*s])
		s++;
	return s;
}

int json_object_next(const char *p, size_t n, size_t *pos,
                     struct json_member *m)
{
	const char *end = p + n, *s = p + *pos, *k;

	if (*pos == 0) {
		s = skip_ws(s, end);
		if (s >= end || *s != '{')
			return 0;
		s++;
	}
	s = skip_ws(s, end);
	if (s < end && *s == ',')
		s = skip_ws(s + 1, end);
	if (s >= end || *s != '"')
		return 0;
	k = s;
	m->key.type = JSON_STRING;
	m->key.p = s;
	m->key.escaped = 0;
	for (s++; *s != '"'; s++) {
		if (*s == '\\') {
			m->key.escaped = 1;
			s++;
		}
	}
	m->key.len = (size_t)(s + 1 - k);
	s = skip_ws(s + 1, end) + 1; /* the ':' */
	s = skip_ws(s, end);
	m->val.p = s;
	m->val.escaped = 0;
	switch (*s) {
	case '{':
		m->val.type = JSON_OBJECT;
		break;
	case '[':
		m->val.type = JSON_ARRAY;
		break;
	case '"':
		m->val.type = JSON_STRING;
		break;
	case 't':
		m->val.type = JSON_TRUE;
		break;
	case 'f':
		m->val.type = JSON_FALSE;
		break;
	case 'n':
		m->val.type = JSON_NULL;
		break;
	default:
		m->val.type = JSON_NUMBER;
	}
	s = skip_value(s, end);
	m->val.len = (size_t)(s - m->val.p);
	if (m->val.type == JSON_STRING)
		m->val.escaped = memchr(m->val.p, '\\', m->val.len) != NULL;
	m->p = k;
	m->len = (size_t)(s - k);
	*pos = (size_t)(s - p);
	return 1;
}

/* A needle's longest name for json_simd_flat_key(), with its quotes. */
#define FLAT_NAME_MAX 64

/* The vector path's search (jsonsimd.h), decided once: 1 or 0. */
static int flat_simd(void)
{
	static _Atomic int use = -1;
	int u = use;

	if (u < 0)
		use = u = json_simd_usable();
	return u;
}

/* The value after the ':' at colon, in a flat record ending at end. */
static int flat_value(const char *colon, const char *end,
                      struct json_value *out)
{
	const char *s = skip_ws(colon + 1, end);

	out->p = s;
	out->escaped = 0;
	if (*s == '"') {
		s = (const char *)memchr(s + 1, '"', (size_t)(end - s - 1)) + 1;
		out->type = JSON_STRING;
	} else {
		out->type = *s == 't'   ? JSON_TRUE
		            : *s == 'f' ? JSON_FALSE
		            : *s == 'n' ? JSON_NULL
		                        : JSON_NUMBER;
		while (s < end && !ends_scalar[(unsigned char)*s])
			s++;
	}
	out->len = (size_t)(s - out->p);
	return 1;
}

/*
 * json_object_get() for a record with no backslash and no nested value,
 * by the vector path (json_simd_flat_key): every quote then opens or
 * closes a string, so "NAME" followed by ':' is a top-level key wherever
 * it is found. -1: not such a record or name, or no vector path (the
 * walk decides).
 */
static int flat_object_get(const char *p, size_t n, const char *name,
                           size_t len, struct json_value *out)
{
	const char *end = p + n, *key;

	/*
	 * After a closing quote comes a blank or one of ,:}] only: a name
	 * that starts otherwise is found at opening quotes alone. A quote in
	 * the name could match across strings ("x":1,"y" in {"x":1,"y":2}).
	 * (A backslash or control character in it is escaped in a record,
	 * which is then not flat: not found here, which is right.)
	 */
	if (!flat_simd() || len + 2 > FLAT_NAME_MAX || len == 0 ||
	    ends_scalar[(unsigned char)name[0]] || name[0] == ':' ||
	    memchr(name, '"', len))
		return -1;
	/* past the record's '{': no other may follow */
	p = skip_ws(p, end) + 1;
	if (json_simd_flat_key(p, (size_t)(end - p), name, len, &key))
		return -1;
	/* the last one found wins, as in json_scan() */
	return key ? flat_value(key, end, out) : 0;
}

int json_object_get(const char *p, size_t n, const char *name, size_t len,
                    struct json_value *out)
{
	struct json_member m;
	size_t pos = 0;
	int r;

	out->type = JSON_MISSING;
	if ((r = flat_object_get(p, n, name, len, out)) >= 0)
		return r;
	/* every member: a repeated key's last value wins, as in json_scan() */
	while (json_object_next(p, n, &pos, &m))
		if (m.key.escaped ? json_string_equals(&m.key, name, len)
		                  : m.key.len == len + 2 &&
		                        memcmp(m.key.p + 1, name, len) == 0)
			*out = m.val;
	return out->type != JSON_MISSING;
}

void json_object_drop_fx(const char *p, size_t n, struct fx_buf *out)
{
	struct json_member m;
	size_t pos = 0;
	int first = 1;

	fx_buf_addc(out, '{');
	while (json_object_next(p, n, &pos, &m)) {
		if (m.key.len >= 5 && memcmp(m.key.p + 1, "_fx", 3) == 0)
			continue;
		if (!first)
			fx_buf_addc(out, ',');
		fx_buf_add(out, m.p, m.len);
		first = 0;
	}
	fx_buf_addc(out, '}');
}

/* ---- comparing values ---- */

enum json_type json_type_of(const char *p, size_t n)
{
	if (!n)
		return JSON_MISSING;
	switch (*p) {
	case '{':
		return JSON_OBJECT;
	case '[':
		return JSON_ARRAY;
	case '"':
		return JSON_STRING;
	case 't':
		return JSON_TRUE;
	case 'f':
		return JSON_FALSE;
	case 'n':
		return JSON_NULL;
	default:
		return JSON_NUMBER;
	}
}

static int type_rank(enum json_type t)
{
	switch (t) {
	case JSON_MISSING:
	case JSON_NULL:
		return 0;
	case JSON_FALSE:
		return 1;
	case JSON_TRUE:
		return 2;
	case JSON_NUMBER:
		return 3;
	case JSON_STRING:
		return 4;
	case JSON_ARRAY:
		return 5;
	case JSON_OBJECT:
		return 6;
	}
	return 7;
}

static int bytes_compare(const struct json_value *a, const struct json_value *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->p, b->p, n);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int number_compare(const struct json_value *a,
                          const struct json_value *b)
{
	struct fx_num x, y;

	int c;

	fx_num_parse(a->p, a->len, &x);
	fx_num_parse(b->p, b->len, &y);
	if (x.kind == FX_NUM_INT && y.kind == FX_NUM_INT) {
		if (x.i != y.i)
			return x.i < y.i ? -1 : 1;
		return bytes_compare(a, b);
	}
	/* rounding keeps order: only equal doubles need the decimals */
	if (x.d != y.d)
		return x.d < y.d ? -1 : 1;
	if (a->len == b->len && memcmp(a->p, b->p, a->len) == 0)
		return 0;
	c = fx_num_compare_exact(a->p, a->len, b->p, b->len);
	return c ? c : bytes_compare(a, b);
}

int json_value_compare(const struct json_value *a, const struct json_value *b)
{
	int ra = type_rank(a->type), rb = type_rank(b->type);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (ra == 0)
		return 0;
	if (a->type == JSON_NUMBER)
		return number_compare(a, b);
	if (a->type == JSON_STRING && a->len >= 2 && b->len >= 2) {
		/* without the quotes, or "a b" would sort before "a" */
		struct json_value x = {JSON_STRING, a->p + 1, a->len - 2, 0};
		struct json_value y = {JSON_STRING, b->p + 1, b->len - 2, 0};

		return bytes_compare(&x, &y);
	}
	return bytes_compare(a, b);
}

/* ---- strings ---- */

static unsigned hex4(const char *s)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned c = (unsigned char)s[i];

		v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

static size_t utf8_put(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decodes the escape at s (s[0] == '\\') into o. Returns the number of
 * input bytes used; *olen gets the output length.
 */
static size_t decode_escape(const char *s, const char *end, char *o,
                            size_t *olen, int wtf8)
{
	unsigned cp;

	switch (s[1]) {
	case 'b':
		*o = '\b';
		break;
	case 'f':
		*o = '\f';
		break;
	case 'n':
		*o = '\n';
		break;
	case 'r':
		*o = '\r';
		break;
	case 't':
		*o = '\t';
		break;
	case 'u':
		cp = hex4(s + 2);
		if (cp >= 0xd800 && cp <= 0xdbff && end - s >= 12 &&
		    s[6] == '\\' && s[7] == 'u') {
			unsigned lo = hex4(s + 8);

			if (lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
				*olen = utf8_put(cp, o);
				return 12;
			}
		}
		if (cp >= 0xd800 && cp <= 0xdfff && !wtf8)
			cp = 0xfffd;
		*olen = utf8_put(cp, o);
		return 6;
	default:
		*o = s[1];
	}
	*olen = 1;
	return 2;
}

static void unescape(const struct json_value *v, struct fx_buf *out, int wtf8)
{
	const char *s = v->p + 1, *end = v->p + v->len - 1;

	if (!v->escaped) {
		fx_buf_add(out, s, (size_t)(end - s));
		return;
	}
	while (s < end) {
		const char *b = memchr(s, '\\', (size_t)(end - s));
		char tmp[4];
		size_t tl;

		if (!b) {
			fx_buf_add(out, s, (size_t)(end - s));
			break;
		}
		fx_buf_add(out, s, (size_t)(b - s));
		s = b + decode_escape(b, end, tmp, &tl, wtf8);
		fx_buf_add(out, tmp, tl);
	}
}

void json_string_unescape(const struct json_value *v, struct fx_buf *out)
{
	unescape(v, out, 0);
}

void json_string_unescape_wtf8(const struct json_value *v, struct fx_buf *out)
{
	unescape(v, out, 1);
}

int json_wtf8_surrogate(const char *s, size_t n)
{
	return n >= 3 && (unsigned char)s[0] == 0xed &&
	       ((unsigned char)s[1] & 0xe0) == 0xa0 &&
	       ((unsigned char)s[2] & 0xc0) == 0x80;
}

int json_add_wtf8_string(struct fx_buf *out, const char *s, size_t n)
{
	size_t len = out->len, i, run = 0;
	int prev_high = 0;

	fx_buf_addc(out, '"');
	for (i = 0; i <= n; i++) {
		unsigned cp;
		char u[8];

		if (i < n && !json_wtf8_surrogate(s + i, n - i))
			continue;
		/* the UTF-8 before it, escaped as JSON, without quotes */
		if (i > run) {
			if (!json_utf8_valid(s + run, i - run))
				goto bad;
			fx_buf_add_json_chars(out, s + run, i - run);
		}
		if (i == n)
			break;
		cp = 0xd000 | ((unsigned char)s[i + 1] & 0x3f) << 6 |
		     ((unsigned char)s[i + 2] & 0x3f);
		if (prev_high && run == i && cp >= 0xdc00)
			goto bad;
		prev_high = cp < 0xdc00;
		snprintf(u, sizeof(u), "\\u%04x", cp);
		fx_buf_add(out, u, 6);
		i += 2;
		run = i + 1;
	}
	fx_buf_addc(out, '"');
	return 0;
bad:
	out->len = len;
	return -1;
}

int json_string_equals(const struct json_value *v, const char *str, size_t n)
{
	const char *s = v->p + 1, *end = v->p + v->len - 1;
	size_t i = 0;

	if (!v->escaped)
		return (size_t)(end - s) == n && memcmp(s, str, n) == 0;
	while (s < end) {
		if (*s == '\\') {
			char tmp[4];
			size_t tl;

			s += decode_escape(s, end, tmp, &tl, 0);
			if (n - i < tl || memcmp(str + i, tmp, tl) != 0)
				return 0;
			i += tl;
		} else {
			if (i >= n || str[i] != *s)
				return 0;
			i++;
			s++;
		}
	}
	return i == n;
}
