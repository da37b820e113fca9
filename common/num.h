/*
 * num.h - JSON numbers that keep integers exact.
 *
 * An integer (JSON number without fraction or exponent) is an int64 when it
 * fits; past int64 it is an error for arithmetic, never a silent double.
 * Numbers are written as JSON: integers in decimal, never "1e+06"; doubles
 * in the shortest form that reads back to the same value ("%.17g" trimmed),
 * with ".0" never added to an integral double, and non-finite values
 * rejected. Nothing here allocates.
 */
#ifndef FX_NUM_H
#define FX_NUM_H

#include <stddef.h>
#include <stdint.h>

enum fx_num_kind {
	FX_NUM_INT,      /* fits int64 */
	FX_NUM_DOUBLE,   /* has a fraction or exponent, finite as a double */
	FX_NUM_BIGINT,   /* an integer outside int64 */
	FX_NUM_OVERFLOW, /* magnitude outside double (1e400) */
	FX_NUM_INVALID,  /* not a JSON number */
};

struct fx_num {
	enum fx_num_kind kind;
	int64_t i;
	double d; /* also set for FX_NUM_INT and FX_NUM_BIGINT (approximate) */
};

/*
 * Parses exactly n bytes as a JSON number. "-0" is FX_NUM_INT 0; "-0.0" a
 * DOUBLE -0.0. Doubles that underflow (1e-400) are FX_NUM_DOUBLE 0. An
 * integer too large even for a double is FX_NUM_OVERFLOW, not BIGINT.
 * Numbers of any length are read correctly rounded, without allocating.
 */
enum fx_num_kind fx_num_parse(const char *s, size_t n, struct fx_num *out);

/*
 * Whether exactly n bytes are a JSON number: the grammar only, so that a
 * CSV field reads as a number the way a person reading the CSV would
 * ("007", "+1", "1.", " 1", "0x10", "NaN" are not, and stay strings that
 * round-trip byte for byte). Returns 1 if fx may write the bytes unchanged
 * as a JSON number, 0 otherwise. The magnitude does not matter: 1e400 and
 * an integer past int64 (12345678901234567890) are numbers, whose bytes fx
 * passes through untouched, as it does in NDJSON (fx_num_parse tells
 * what arithmetic can make of them). Nothing is converted.
 */
int fx_num_is_json_number(const char *s, size_t n);

/*
 * Compares two JSON numbers (an bytes at a, bn at b, both valid) by their
 * exact decimal values: -9223372036854775809 < -9223372036854775808, and
 * 1e20 < 99999999999999999999.9, which doubles cannot tell apart. 1, 1.0
 * and 1e0 are equal, as are 0 and -0. Returns <0, 0 or >0. Without
 * allocating; for the ties of a comparison of doubles.
 */
int fx_num_compare_exact(const char *a, size_t an, const char *b, size_t bn);

/* Writes i in decimal into buf (at least 21 bytes). Returns the length. */
size_t fx_num_format_int(int64_t i, char *buf);

/*
 * Writes d as the shortest decimal that reads back to d into buf (at least
 * 32 bytes): the first of %.15g, %.16g, %.17g that strtod gives back as d
 * ("0.1", "0.30000000000000004", "1e+300"). Integral values below 2^53 in
 * magnitude are written as integers ("1000000", not "1e+06"); -0.0 is
 * "-0". Returns the length, or 0 if d is not finite.
 */
size_t fx_num_format_double(double d, char *buf);

/* a + b, a * b with overflow check: return 0, or -1 on int64 overflow. */
int fx_num_add_int(int64_t a, int64_t b, int64_t *out);
int fx_num_mul_int(int64_t a, int64_t b, int64_t *out);

/*
 * The bytes of x (8 of text, loaded little- or big-endian alike) that are
 * not ASCII digits, as their high bits: 0 when all eight are digits.
 * Carries run upward, so the lowest flagged byte is exact, and bytes
 * above it may be flagged too.
 */
static inline uint64_t fx_nondigits8(uint64_t x)
{
	uint64_t t = x ^ 0x3030303030303030ULL;

	return ((t + 0x7676767676767676ULL) | t) & 0x8080808080808080ULL;
}

#endif
