/*
 * jsonsimd.c - the record scanner's vector path (see jsonsimd.h).
 *
 * The AVX2 functions carry __attribute__((target(...))): the rest of the
 * program is built for the baseline x86-64, and json_simd_cpu() asks the
 * CPU (__builtin_cpu_supports) before any of them runs.
 */
#include "jsonsimd.h"
#include "json.h"
#include "num.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FX_HAVE_SIMD 1
#include <immintrin.h>
#endif

#ifndef FX_HAVE_SIMD

int json_simd_cpu(void)
{
	return 0;
}

int json_simd_usable(void)
{
	return 0;
}

int json_simd_validate(const char *p, size_t n)
{
	return JSON_SIMD_UNSURE;
}

size_t json_simd_lines(const char *p, size_t n, size_t max_len, uint64_t *lines)
{
	*lines = 0;
	return 0;
}

int json_simd_flat_key(const char *p, size_t n, const char *name, size_t len,
                       const char **colon)
{
	*colon = NULL;
	return -1;
}

#else

#define SIMD __attribute__((target("avx2,pclmul,bmi,bmi2,popcnt")))

int json_simd_cpu(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") &&
	       __builtin_cpu_supports("pclmul") &&
	       __builtin_cpu_supports("bmi") &&
	       __builtin_cpu_supports("bmi2") &&
	       __builtin_cpu_supports("popcnt");
}

int json_simd_usable(void)
{
	const char *e = getenv("FX_SIMD");

	return !(e && strcmp(e, "off") == 0) && json_simd_cpu();
}

/* ---- the blocks ---- */

struct stage1 {
	uint64_t prev_in_string; /* all ones inside a string */
	uint64_t prev_escaped;   /* 1: the next block's first byte is escaped */
	uint64_t prev_scalar;    /* 1: the last byte was part of a scalar */
	uint64_t high;           /* bytes >= 0x80 were seen */
};

/*
 * The bytes a backslash escapes. A backslash that is itself escaped starts
 * nothing; escapes are rare, so a loop over them is cheap and plain.
 */
static inline uint64_t escaped_bytes(uint64_t bs, uint64_t *prev)
{
	uint64_t esc = 0;

	if (*prev) {
		esc = 1;
		bs &= ~1ULL;
	}
	*prev = 0;
	while (bs) {
		unsigned i = (unsigned)__builtin_ctzll(bs);

		if (i == 63) {
			*prev = 1;
			break;
		}
		esc |= 1ULL << (i + 1);
		bs &= ~(3ULL << i);
	}
	return esc;
}

SIMD static inline __attribute__((always_inline)) uint64_t bits64(__m256i lo,
                                                                  __m256i hi)
{
	return (uint32_t)_mm256_movemask_epi8(lo) |
	       (uint64_t)(uint32_t)_mm256_movemask_epi8(hi) << 32;
}

/*
 * The bytes eq64() looks for, 32 of each in memory: gcc 12 builds
 * _mm256_set1_epi8(c) in registers anew in every block (a mov, a movd
 * and a broadcast each, as it also does for a const array it can see);
 * from memory, the compare takes them as its operand.
 */
#define SPLAT(c)                                                               \
	{                                                                      \
		c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, \
		    c, c, c, c, c, c, c, c, c, c, c                            \
	}
static const unsigned char splat[][32] __attribute__((aligned(32))) = {
    SPLAT('\\'), SPLAT('"'),  SPLAT(':'),     SPLAT(','),
    SPLAT('{'),  SPLAT('}'),  SPLAT('_'),     SPLAT('0'),
    SPLAT('\n'), SPLAT(0x1f), SPLAT('0' - 1), SPLAT('9' + 1)};
enum {
	S_BS,
	S_QUOTE,
	S_COLON,
	S_COMMA,
	S_LBRACE,
	S_RBRACE,
	S_UNDER,
	S_ZERO,
	S_NL,
	S_CTL,
	S_ZERO1,
	S_NINE1
};

SIMD static inline __attribute__((always_inline)) uint64_t
eq64(__m256i lo, __m256i hi, const unsigned char (*sp)[32], int which)
{
	const __m256i v = _mm256_load_si256((const void *)sp[which]);

	return bits64(_mm256_cmpeq_epi8(lo, v), _mm256_cmpeq_epi8(hi, v));
}

static const unsigned char hexdigit[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1,
    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['A'] = 1, ['B'] = 1,
    ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1};

/*
 * Checks the escapes whose escaped byte is at the positions in m: the bit
 * of the first bad one, or 0.
 */
static uint64_t bad_escape(const unsigned char *p, size_t n, size_t base,
                           uint64_t m)
{
	while (m) {
		size_t i = base + (size_t)__builtin_ctzll(m);
		uint64_t bit = m & -m;

		m &= m - 1;
		if (i >= n)
			return bit;
		switch (p[i]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			break;
		case 'u':
			if (n - i < 5 || !hexdigit[p[i + 1]] ||
			    !hexdigit[p[i + 2]] || !hexdigit[p[i + 3]] ||
			    !hexdigit[p[i + 4]])
				return bit;
			break;
		default:
			return bit;
		}
	}
	return 0;
}

/*
 * The 64 bytes of a block, whose classes (a bit per byte) are computed
 * where the grammar uses them (cls_*()): computed all at once, they
 * outnumber the registers and gcc spills them. shift drops the low bytes
 * of a tail block loaded to end at the record's end.
 */
struct classes {
	__m256i lo, hi;
	const unsigned char (*sp)[32];
	unsigned shift;
};

SIMD static inline __attribute__((always_inline)) void
classify(const unsigned char *b, struct classes *c, unsigned shift)
{
	const unsigned char(*sp)[32] = splat;

	/* hidden from the optimiser, so that it loads splat (see there) */
	__asm__("" : "+r"(sp));
	c->lo = _mm256_loadu_si256((const void *)b);
	c->hi = _mm256_loadu_si256((const void *)(b + 32));
	c->sp = sp;
	c->shift = shift;
}

/* the bytes equal to splat[which] */
SIMD static inline __attribute__((always_inline)) uint64_t
cls_eq(const struct classes *c, int which)
{
	return eq64(c->lo, c->hi, c->sp, which) >> c->shift;
}

SIMD static inline __attribute__((always_inline)) uint64_t
cls_digit(const struct classes *c)
{
	const __m256i zero1 = _mm256_load_si256((const void *)c->sp[S_ZERO1]);
	const __m256i nine1 = _mm256_load_si256((const void *)c->sp[S_NINE1]);

	return bits64(_mm256_and_si256(_mm256_cmpgt_epi8(c->lo, zero1),
	                               _mm256_cmpgt_epi8(nine1, c->lo)),
	              _mm256_and_si256(_mm256_cmpgt_epi8(c->hi, zero1),
	                               _mm256_cmpgt_epi8(nine1, c->hi))) >>
	       c->shift;
}

/* ' ' \t \n \r; the bytes of a tail's shift count as whitespace */
SIMD static inline __attribute__((always_inline)) uint64_t
cls_ws(const struct classes *c)
{
	/* ' ' \t \n \r by their low nibble; no other byte finds itself */
	const __m256i ws_table = _mm256_setr_epi8(
	    ' ', 100, 100, 100, 17, 100, 113, 2, 100, '\t', '\n', 112, 100,
	    '\r', 100, 100, ' ', 100, 100, 100, 17, 100, 113, 2, 100, '\t',
	    '\n', 112, 100, '\r', 100, 100);
	uint64_t ws = bits64(
	    _mm256_cmpeq_epi8(_mm256_shuffle_epi8(ws_table, c->lo), c->lo),
	    _mm256_cmpeq_epi8(_mm256_shuffle_epi8(ws_table, c->hi), c->hi));

	return c->shift ? ws >> c->shift | ~0ULL << (64 - c->shift) : ws;
}

SIMD static inline __attribute__((always_inline)) uint64_t
cls_ctrl(const struct classes *c)
{
	const __m256i ctl = _mm256_load_si256((const void *)c->sp[S_CTL]);

	return bits64(_mm256_cmpeq_epi8(_mm256_max_epu8(c->lo, ctl), ctl),
	              _mm256_cmpeq_epi8(_mm256_max_epu8(c->hi, ctl), ctl)) >>
	       c->shift;
}

/* not 0 if a byte >= 0x80 is among them (a tail's shifted bytes too) */
SIMD static inline __attribute__((always_inline)) uint64_t
cls_high(const struct classes *c)
{
	return (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(c->lo, c->hi));
}

/*
 * Takes the classes of the 64 bytes at record offset base: stores their
 * unescaped quotes in *qbits, counts colons and commas outside strings,
 * and appends to out the positions of the opening quotes, of the brackets
 * outside strings and of the first byte of every number or literal.
 * Returns the new end of out.
 */
/* ---- numbers and literals ---- */

#define DIGIT(c)       ((unsigned)(c) - '0' < 10)

/* Bytes that may follow a number or a literal. */
static const unsigned char delim[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [','] = 1,
    [':'] = 1, ['{'] = 1,  ['}'] = 1,  ['"'] = 1};

/*
 * The number of ASCII digits at p + i, 8 bytes at a time while 8 remain (a
 * bit per byte that is not a digit; carries only run upward, so the lowest
 * flagged byte is exact).
 */
static inline size_t digits(const unsigned char *p, size_t n, size_t i)
{
	size_t j = i;

	while (n - j >= 8) {
		uint64_t v, m;

		memcpy(&v, p + j, 8);
		m = fx_nondigits8(v);
		if (m)
			return j - i + (size_t)(__builtin_ctzll(m) >> 3);
		j += 8;
	}
	while (j < n && DIGIT(p[j]))
		j++;
	return j - i;
}

/* The end of the number at p + i, or 0 if it is not one. */
static inline size_t number_end(const unsigned char *p, size_t n, size_t i)
{
	if (p[i] == '-')
		i++;
	if (i >= n)
		return 0;
	if (p[i] == '0') {
		i++;
	} else if (DIGIT(p[i])) {
		i += digits(p, n, i);
	} else {
		return 0;
	}
	if (i < n && p[i] == '.') {
		if (++i >= n || !DIGIT(p[i]))
			return 0;
		i += digits(p, n, i);
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		if (++i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if (i >= n || !DIGIT(p[i]))
			return 0;
		while (++i < n && DIGIT(p[i]))
			;
	}
	return i;
}

/* ---- the grammar, over the bits ---- */

/*
 * No index of positions and no walk over it: every check is on the bits of
 * the 64-byte blocks. For each kind of token (an opening brace, a
 * comma, a colon, a key's closing quote, the end of a value, a number or
 * literal) next_of() gives the first byte after it that is not whitespace
 * outside a string (an add carries each token's bit along the whitespace
 * run after it); the grammar is a set of rules on what may come there. The
 * braces' depth is counted, and numbers and literals are checked one by
 * one. Records with an array, or a key starting with "_" (the _fx flags),
 * are left to the portable scanner.
 */
struct bits {
	struct stage1 s;
	uint64_t c_start; /* no byte but whitespace yet */
	uint64_t c_lbrace, c_comma, c_colon, c_key, c_value;
	uint64_t c_keystr; /* a key string runs on into the next block */
	uint64_t c_keyopen;
	uint64_t c_zero;       /* a number "0" ends the block before */
	uint64_t c_scalar_run; /* a number or literal runs on into this one */
	size_t last_start;     /* where the last one began */
	uint64_t bad;          /* not sure: bad, or not for this path */
	size_t depth;
	int closed; /* the top-level object ended */
	/* whole lines only (validate_lines): */
	size_t line_start; /* where the current line began */
	size_t max_len;    /* the longest line taken */
};

SIMD static inline __attribute__((always_inline)) uint64_t
next_of(uint64_t x, uint64_t skip, uint64_t *carry)
{
	unsigned long long r;
	unsigned char co = _addcarry_u64(0, skip, x << 1 | *carry, &r);

	*carry = x >> 63 | co;
	return r & ~skip;
}

/* next_of() with nothing to skip: the next byte. */
static inline __attribute__((always_inline)) uint64_t next_byte(uint64_t x,
                                                                uint64_t *carry)
{
	uint64_t r = x << 1 | *carry;

	*carry = x >> 63;
	return r;
}

static const unsigned char blank[256] = {[' '] = 1, ['\t'] = 1, ['\r'] = 1};

/* 1 if the first byte from p + i on that is not ' ', '\t' or '\r' is c */
static inline __attribute__((always_inline)) int
blanks_then(const unsigned char *p, size_t n, size_t i, unsigned char c)
{
	if (i < n && p[i] == c) /* the usual: no blanks */
		return 1;
	while (i < n && blank[p[i]])
		i++;
	return i < n && p[i] == c;
}

/* The number or literal at p + i: 1 if it is one and ends its run. */
static inline int scalar_ok(const unsigned char *p, size_t n, size_t i)
{
	size_t end;

	switch (p[i]) {
	case 't':
		if (n - i < 4 || memcmp(p + i, "true", 4) != 0)
			return 0;
		end = i + 4;
		break;
	case 'f':
		if (n - i < 5 || memcmp(p + i, "false", 5) != 0)
			return 0;
		end = i + 5;
		break;
	case 'n':
		if (n - i < 4 || memcmp(p + i, "null", 4) != 0)
			return 0;
		end = i + 4;
		break;
	default:
		end = number_end(p, n, i);
		if (!end)
			return 0;
	}
	return end == n || delim[p[end]];
}

/* The rules on the tokens of a block, after its strings (bits_block). */
SIMD static inline __attribute__((always_inline)) void
grammar(struct bits *b, const struct classes *c, const unsigned char *p,
        size_t n, size_t base, int lines, uint64_t in_str, uint64_t quote,
        uint64_t nl_all, uint64_t skip, int compact)
{
	struct stage1 *st = &b->s;
	uint64_t lb, rb, colon, comma;
	uint64_t qopen, qclose, keyopen, kclose, scalar, starts, r, m;
	uint64_t n_lb, n_comma, n_colon, n_key, n_value, starts_all, digit;
	uint64_t zero, nl = nl_all & ~in_str;
	uint64_t bad = 0; /* b->bad, kept in a register */

	lb = cls_eq(c, S_LBRACE) & ~in_str;
	rb = cls_eq(c, S_RBRACE) & ~in_str;
	colon = cls_eq(c, S_COLON) & ~in_str;
	comma = cls_eq(c, S_COMMA) & ~in_str;
	qopen = quote & in_str;
	qclose = quote & ~in_str;
	/*
	 * '[' and ']' are no tokens here: as bytes of a number or literal
	 * they make it bad (delim[] has neither), so an array is refused.
	 */
	scalar = ~(in_str | skip | nl | lb | rb | colon | comma | quote);
	starts = scalar & ~(scalar << 1 | st->prev_scalar);
	st->prev_scalar = scalar >> 63;

/* compact (a constant): skip is 0, the next byte is the next token's */
#define NEXT(x, carry) (compact ? next_byte(x, carry) : next_of(x, skip, carry))
	n_lb = NEXT(lb, &b->c_lbrace);
	n_comma = NEXT(comma, &b->c_comma);
	n_colon = NEXT(colon, &b->c_colon);
	/* a string after '{' or ',' is a key; its run of in_str carries to
	 * its closing quote */
	keyopen = qopen & (n_lb | n_comma);
	b->c_keystr = __builtin_add_overflow(in_str, keyopen | b->c_keystr, &r);
	kclose = r & qclose;
	/* a key starting with "_": json.c says which are the _fx flags */
	bad |= cls_eq(c, S_UNDER) & (keyopen << 1 | b->c_keyopen);
	b->c_keyopen = keyopen >> 63;
	n_key = NEXT(kclose, &b->c_key);
	/*
	 * After a value: a string's closing quote, a '}', or a number or
	 * literal (carried along its bytes too). A number right after a
	 * value is carried over as well, but the rule on starts below
	 * refuses it.
	 */
	n_value = next_of((qclose & ~kclose) | rb | starts, skip | scalar,
	                  &b->c_value);

	bad |= n_lb & ~(qopen | rb);
	bad |= n_comma & ~qopen;
	bad |= n_colon & ~(qopen | lb | starts);
	bad |= n_key & ~colon;
	bad |= n_value & ~(comma | rb | nl);
	bad |= starts & ~n_colon;
	/*
	 * The record starts with '{' and ends with its '}'. With whole
	 * lines, every line does (a blank line is left to the portable
	 * path), and at each '\n' the depth is 0; every bad bit is at or
	 * before the '\n' of the line it is about, so the lines ending
	 * before the lowest one are good.
	 */
	if (!lines) {
		bad |= NEXT(0, &b->c_start) & ~lb;
		if (b->closed)
			bad |= ~skip;
	}
	m = lb | rb | nl;
	while (m) {
		size_t i = (size_t)__builtin_ctzll(m);
		uint64_t bit = m & -m;

		m &= m - 1;
		if (lb & bit) {
			if (!lines && b->closed)
				bad = 1;
			b->depth++;
		} else if (rb & bit) {
			if (b->depth == 0) {
				bad |= bit;
			} else if (--b->depth == 0) {
				if (lines) {
					/* after its last '}', only its '\n' */
					if (!blanks_then(p, n, base + i + 1,
					                 '\n'))
						bad |= bit;
				} else {
					b->closed = 1;
					bad |= ~skip & (~1ULL << i);
				}
			}
		} else {
			/*
			 * A line's end: its record closed, the line not
			 * too long, and not "\r\n" (the reader drops the
			 * '\r': the bytes out would not be the bytes in);
			 * and it began with a '{' (read here, once a line,
			 * rather than carried through every block).
			 */
			size_t at = base + i, ls = b->line_start;

			if (b->depth || at - ls > b->max_len ||
			    (at > 0 && p[at - 1] == '\r') ||
			    !blanks_then(p, n, ls, '{'))
				bad |= bit;
			b->line_start = at + 1;
		}
	}
	/*
	 * Numbers that are runs of digits need no look: one with a leading
	 * zero ("01") is the only bad one. Others (signs, fractions,
	 * exponents, literals) are read one by one.
	 */
	starts_all = starts;
	digit = cls_digit(c);
	if (scalar & ~digit) {
		while (starts) {
			size_t i = base + (size_t)__builtin_ctzll(starts);
			uint64_t bit = starts & -starts;

			starts &= starts - 1;
			if (i >= n || !scalar_ok(p, n, i))
				bad |= bit;
		}
		/* and the run that began in the block before */
		if (scalar & 1 && b->c_scalar_run &&
		    !scalar_ok(p, n, b->last_start))
			bad |= 1;
	}
	/* "0" then a digit, in every block (the digit may be in the next) */
	zero = starts_all & cls_eq(c, S_ZERO);
	bad |= (zero << 1 | b->c_zero) & scalar & digit;
	b->c_zero = zero >> 63;
	if (starts_all)
		b->last_start = base + 63 - (size_t)__builtin_clzll(starts_all);
	b->c_scalar_run = scalar >> 63;
	b->bad |= bad;
#undef NEXT
}

/*
 * The grammar of a block with whitespace between its tokens, out of line:
 * inlined beside the compact one, its values crowd the registers of the
 * loop that machine-made NDJSON takes (gcc 12 computes both before the
 * branch and spills them).
 */
SIMD static __attribute__((noinline)) void
grammar_spaced(struct bits *b, const struct classes *c, const unsigned char *p,
               size_t n, size_t base, int lines, uint64_t in_str,
               uint64_t quote, uint64_t nl, uint64_t skip)
{
	grammar(b, c, p, n, base, lines, in_str, quote, nl, skip, 0);
}

SIMD static inline __attribute__((always_inline)) uint64_t
bits_block(struct bits *b, const struct classes *c, const unsigned char *p,
           size_t n, size_t base, int lines)
{
	struct stage1 *st = &b->s;
	uint64_t quote = cls_eq(c, S_QUOTE), bs = cls_eq(c, S_BS), esc, in_str,
	         skip, ws, nl;
	__m128i cl;

	if (bs | st->prev_escaped) {
		esc = escaped_bytes(bs, &st->prev_escaped);
		quote &= ~esc;
	} else {
		esc = 0;
	}
	cl = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)quote),
	                          _mm_set1_epi8((char)0xff), 0);
	in_str = (uint64_t)_mm_cvtsi128_si64(cl) ^ st->prev_in_string;
	st->prev_in_string = (uint64_t)((int64_t)in_str >> 63);
	if (!lines) /* validate_lines() keeps its own */
		st->high |= cls_high(c);
	ws = cls_ws(c);
	b->bad |= cls_ctrl(c) & (in_str | ~ws);
	if (esc & in_str)
		b->bad |= bad_escape(p, n, base, esc & in_str);

	/* with whole lines, a '\n' ends a record: it is no whitespace */
	nl = lines ? cls_eq(c, S_NL) : 0;
	skip = ws & ~in_str & ~nl;
	/*
	 * No whitespace between the tokens (machine-made NDJSON): the
	 * grammar's next_of() are shifts (see next_of), no adds.
	 */
	if (skip) {
		/* a copy, so that the block's own stays in registers */
		struct classes spaced = *c;

		grammar_spaced(b, &spaced, p, n, base, lines, in_str, quote, nl,
		               skip);
	} else {
		grammar(b, c, p, n, base, lines, in_str, quote, nl, 0, 1);
	}
	return nl;
}

/* 0 if the record is a valid object, JSON_SIMD_UNSURE if not sure. */
SIMD static int validate(const unsigned char *p, size_t n)
{
	struct bits b;
	struct classes c;
	size_t i = 0, rest;

	memset(&b, 0, sizeof(b));
	b.c_start = 1;
	for (; n - i >= 64; i += 64) {
		classify(p + i, &c, 0);
		bits_block(&b, &c, p, n, i, 0);
	}
	rest = n - i;
	if (rest) {
		if (n >= 64) {
			unsigned shift = (unsigned)(64 - rest);

			classify(p + n - 64, &c, shift);
		} else {
			unsigned char tail[64];

			memset(tail, ' ', sizeof(tail));
			memcpy(tail, p, n);
			classify(tail, &c, 0);
		}
		bits_block(&b, &c, p, n, i, 0);
	}
	if (b.bad || b.s.prev_in_string || b.s.prev_escaped || b.c_lbrace ||
	    b.c_comma || b.c_colon || b.c_key || !b.closed)
		return JSON_SIMD_UNSURE;
	if (b.s.high && !json_utf8_valid((const char *)p, n))
		return JSON_SIMD_UNSURE;
	return 0;
}

int json_simd_validate(const char *p, size_t n)
{
	return validate((const unsigned char *)p, n);
}

/*
 * The lines that end at the bits of good (block at p + base) and start at
 * *done, one by one while they are valid UTF-8; *done moves past them.
 * Returns their count.
 */
static uint64_t utf8_lines(const unsigned char *p, size_t base, uint64_t good,
                           size_t *done)
{
	uint64_t k = 0;

	while (good) {
		size_t end = base + (size_t)__builtin_ctzll(good) + 1;

		good &= good - 1;
		if (!json_utf8_valid((const char *)p + *done, end - *done))
			break;
		*done = end;
		k++;
	}
	return k;
}

/*
 * json_simd_lines(): the lines of p, n (ending with '\n') are validated
 * as one text, a block after the other; the '\n' bits of the blocks give
 * the line ends and their count. Stops after the first block with a bad
 * bit, keeping the lines that end before it. UTF-8 is checked once a
 * block with bytes >= 0x80 has been followed by a line end, from the
 * first line not yet checked to that end.
 */
SIMD static size_t validate_lines(const unsigned char *p, size_t n,
                                  size_t max_len, uint64_t *nlines)
{
	struct bits b;
	struct classes c;
	size_t i, done = 0, utf8_done = 0;
	uint64_t lines = 0, high = 0;

	memset(&b, 0, sizeof(b));
	b.max_len = max_len;
	for (i = 0; i < n; i += 64) {
		uint64_t good;

		if (n - i >= 64) {
			classify(p + i, &c, 0);
		} else {
			unsigned char tail[64];

			memset(tail, ' ', sizeof(tail));
			memcpy(tail, p + i, n - i);
			classify(tail, &c, 0);
		}
		good = bits_block(&b, &c, p, n, i, 1);
		if (b.bad)
			good &= (b.bad & -b.bad) - 1;
		high |= cls_high(&c);
		if (good) {
			unsigned k = 64 - (unsigned)__builtin_clzll(good);
			size_t end = i + k;

			if (high) {
				if (!json_utf8_valid((const char *)p +
				                         utf8_done,
				                     end - utf8_done)) {
					/* the good lines before the bad one */
					lines += utf8_lines(p, i, good, &done);
					break;
				}
				/* the next line may have some too */
				high = k < 64 ? cls_high(&c) : 0;
			}
			utf8_done = done = end;
			lines += (uint64_t)__builtin_popcountll(good);
		}
		if (b.bad)
			break;
	}
	*nlines = lines;
	return done;
}

size_t json_simd_lines(const char *p, size_t n, size_t max_len, uint64_t *lines)
{
	return validate_lines((const unsigned char *)p, n, max_len, lines);
}

/* ---- a key in a flat record (json_object_get) ---- */

SIMD int json_simd_flat_key(const char *p, size_t n, const char *name,
                            size_t len, const char **colon)
{
	/* the last bytes, padded: read up to 64 + 32 + (len + 2) - 1 on */
	char tail[32 + 32 + 32 + 64];
	const char *end = p + n, *s, *k;
	size_t nlen = len + 2, at;
	/* chunks read in place: those before the last 31 + nlen bytes */
	size_t direct = n + 1 > 31 + nlen ? n + 1 - (31 + nlen) : 0;
	const __m256i quote = _mm256_set1_epi8('"'),
	              first = _mm256_set1_epi8(name[0]),
	              bs = _mm256_set1_epi8('\\'), lsq = _mm256_set1_epi8('['),
	              lbr = _mm256_set1_epi8('{');
	int padded = 0;

	*colon = NULL;
	for (at = 0, s = p; at < n; at += 32, s += 32) {
		__m256i v;
		uint32_t cand;

		if (at >= direct && !padded) {
			memset(tail, 0, sizeof(tail));
			memcpy(tail, s, n - at);
			s = tail;
			padded = 1;
		}
		v = _mm256_loadu_si256((const void *)s);
		if (_mm256_movemask_epi8(_mm256_or_si256(
		        _mm256_or_si256(_mm256_cmpeq_epi8(v, bs),
		                        _mm256_cmpeq_epi8(v, lsq)),
		        _mm256_cmpeq_epi8(v, lbr))))
			return -1;
		cand = (uint32_t)_mm256_movemask_epi8(_mm256_and_si256(
		    _mm256_and_si256(
		        _mm256_cmpeq_epi8(v, quote),
		        _mm256_cmpeq_epi8(
		            _mm256_loadu_si256((const void *)(s + 1)), first)),
		    _mm256_cmpeq_epi8(
		        _mm256_loadu_si256((const void *)(s + nlen - 1)),
		        quote)));
		for (; cand; cand &= cand - 1) {
			k = p + at + __builtin_ctz(cand);
			if (k + nlen > end || memcmp(k + 1, name, len) != 0)
				continue;
			for (k += nlen; k < end && (blank[(unsigned char)*k] ||
			                            *k == '\n');
			     k++)
				;
			if (k < end && *k == ':') /* else a string value */
				*colon = k;
		}
	}
	return 0;
}

#endif
