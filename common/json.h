/*
 * json.h - the record scanner: validates a JSON text and extracts the fields
 * a program asks for, in one pass, without copying or allocating.
 *
 * A record is one JSON object (RFC 8259: UTF-8, no trailing commas, no
 * comments, strict numbers; whitespace around it allowed). json_scan()
 * touches each byte once: strings are skipped 16 bytes at a time, and the
 * fields named by a struct json_paths are located on the way. A value found
 * is a view (struct json_value) into the caller's bytes: it is valid as long
 * as those bytes are.
 *
 * Field paths: "a" is a top-level key, "a.b.c" addresses nested objects; a
 * dot inside a key is written "\.". A path through a value that is not an
 * object is missing. If a key occurs twice in one object the last one wins
 * (as in jq and JavaScript).
 *
 * Lone UTF-16 surrogates in \u escapes are accepted (they are valid JSON
 * grammar); invalid UTF-8 bytes, raw control characters and NUL are not.
 * Numbers are checked for JSON syntax only: 1e400 and 2^70 are valid JSON
 * and pass through untouched; num.h says what arithmetic does with them.
 */
#ifndef FX_JSON_H
#define FX_JSON_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_MISSING = 0,
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_OBJECT,
	JSON_ARRAY,
};

/* "missing", "null", "boolean", "number", "string", "object", "array" */
const char *json_type_name(enum json_type t);

struct json_value {
	enum json_type type;
	/*
	 * The value's bytes: a string with its quotes, an object or array
	 * with its brackets, a number or literal as written.
	 */
	const char *p;
	size_t len;
	int escaped; /* a string holding a backslash escape */
};

#define JSON_MAX_PATHS      64
#define JSON_MAX_PATH_DEPTH 16

struct json_path {
	char *name;                     /* as given, "a.b\.c" */
	size_t nseg;                    /* segments */
	char *seg[JSON_MAX_PATH_DEPTH]; /* unescaped segments */
	size_t seglen[JSON_MAX_PATH_DEPTH];
};

/* A compiled set of field paths. Owns its strings. */
struct json_paths {
	size_t n;
	struct json_path v[JSON_MAX_PATHS];
	unsigned max_depth;
	/*
	 * The paths whose segment d is len bytes long (len & 63): a key is
	 * compared only with the paths of its length.
	 */
	uint64_t len_mask[JSON_MAX_PATH_DEPTH][64];
};

/*
 * Compiles names into ps. Returns 0, or -1 with a message in err (static
 * text) for an empty name or segment, too many paths or too deep a path.
 */
int json_paths_init(struct json_paths *ps, char *const *names, size_t n,
                    const char **err);
/* Adds one path; returns its index or -1 (err set). */
int json_paths_add(struct json_paths *ps, const char *name, const char **err);
/*
 * The index of the path named name, added if it is not there yet: a
 * field that several options read is one path, found once a record.
 */
int json_paths_find_or_add(struct json_paths *ps, const char *name,
                           const char **err);
void json_paths_free(struct json_paths *ps);

/*
 * Scanner state reused from record to record (its depth stack grows to the
 * deepest record seen, then never allocates again). Zero-initialise it; free
 * with json_scanner_free().
 *
 * Two scanners behind json_scan(): on a CPU with AVX2, PCLMULQDQ and BMI2,
 * a record with no field to extract is first given to the vector path
 * (jsonsimd.h), which takes every such record it can prove valid; the
 * portable scanner takes the others and every record elsewhere, and alone
 * says why a text is invalid. Both give the same results. simd: 0 decides
 * at the first scan (the CPU, and FX_SIMD=off in the environment forces
 * the portable scanner), 1 uses the vector path if the CPU has it, -1
 * never.
 */
struct json_scanner {
	unsigned char *stack;
	size_t cap;
	int simd;
};

void json_scanner_free(struct json_scanner *sc);

/* What json_scan() learned about the record besides validity. */
enum {
	JSON_SCAN_CONTROL = 1, /* an object whose first key is "_fx" */
	JSON_SCAN_HAS_FX = 2,  /* a top-level key starts with "_fx" */
};

struct json_error {
	size_t offset;      /* byte offset of the problem */
	const char *reason; /* static text: "unterminated string" */
};

/* Flags for json_scan(). */
enum {
	JSON_ANY_VALUE = 1, /* accept any JSON text, not only an object */
};

/* json_scan()'s failures (< 0), *err filled for both. */
enum {
	JSON_SCAN_INVALID = -1,    /* not valid JSON */
	JSON_SCAN_NOT_OBJECT = -2, /* valid JSON, not an object */
};

/*
 * Validates the n bytes at p and, if ps is not NULL, stores in vals[i] the
 * value of path i (type JSON_MISSING if absent). Returns a combination of
 * JSON_SCAN_* flags (>= 0), or JSON_SCAN_INVALID with *err filled. A text
 * that is valid JSON but not an object fails (without JSON_ANY_VALUE) with
 * JSON_SCAN_NOT_OBJECT and the reason "not a JSON object".
 */
int json_scan(struct json_scanner *sc, const struct json_paths *ps,
              const char *p, size_t n, struct json_value *vals,
              struct json_error *err, int flags);

/*
 * Whole NDJSON lines at once, for a program that passes records through
 * untouched: the n bytes at p are lines, each ending with '\n'. Returns
 * the length of the longest prefix of them (a line end, possibly 0) whose
 * every line is, without its '\n', a record json_scan() without paths
 * returns 0 for (an object with no "_fx" key), at most max_len bytes long
 * and not ending in '\r'; *lines is their count. A blank line, a bad
 * line, or any line the vector path is not sure of ends the prefix: give
 * it to json_scan(). Always 0 without the vector path (see struct
 * json_scanner).
 */
size_t json_scan_lines(struct json_scanner *sc, const char *p, size_t n,
                       size_t max_len, uint64_t *lines);

/*
 * Turns the line breaks ('\n', '\r') of the n bytes at p, a text
 * json_scan() took, into spaces: there they can only be whitespace between
 * tokens (a raw one in a string is invalid JSON), so the text stays valid
 * and means the same, on one line, as the record stream wants. A Kafka
 * message may hold pretty-printed JSON ({"a":\n  1}). Returns the count
 * of bytes turned.
 */
size_t json_one_line(char *p, size_t n);

/*
 * Iterates the top-level members of a record already validated by
 * json_scan(): start with *pos = 0; each call returns 1 and fills key (the
 * key string with its quotes), member (from the key's opening quote to the
 * end of the value) and val, or 0 after the last member.
 */
struct json_member {
	struct json_value key;
	struct json_value val;
	const char *p; /* the whole member: "key": value */
	size_t len;
};
int json_object_next(const char *p, size_t n, size_t *pos,
                     struct json_member *m);

/*
 * The value of the top-level member named name (len bytes, unescaped) of
 * a record already validated: 1 with *out set, or 0 with out->type
 * JSON_MISSING. The same value json_scan() gives for a one-segment path
 * (a repeated key: the last one), found by a walk that checks nothing: for
 * records the vector path validated whole (json_scan_lines()).
 */
int json_object_get(const char *p, size_t n, const char *name, size_t len,
                    struct json_value *out);

/*
 * Appends to out the record p (validated) without its top-level members
 * whose key starts with "_fx" (the toolkit's reserved fields), keeping the
 * other members' bytes and order.
 */
void json_object_drop_fx(const char *p, size_t n, struct fx_buf *out);

/*
 * Appends the unescaped contents of a string value (without quotes) to out.
 * A \u escape of a lone surrogate becomes U+FFFD.
 */
void json_string_unescape(const struct json_value *v, struct fx_buf *out);

/*
 * As json_string_unescape, but a lone surrogate becomes its three WTF-8
 * bytes (ED A0 80 for \ud800), not U+FFFD: bytes that are no UTF-8, for
 * a caller that must keep "\ud800" apart from "\ufffd" (hive.h).
 */
void json_string_unescape_wtf8(const struct json_value *v, struct fx_buf *out);

/*
 * True if s (n bytes) starts with the three WTF-8 bytes of a surrogate
 * (U+D800-DFFF: ED A0..BF 80..BF), which valid UTF-8 never holds.
 */
int json_wtf8_surrogate(const char *s, size_t n);

/*
 * Appends s (n bytes, WTF-8) to out as a JSON string, the inverse of
 * json_string_unescape_wtf8: as fx_buf_add_json_string, except that a lone
 * surrogate's three bytes are written \udXXX. Returns 0, or -1 (out
 * unchanged) if s is not UTF-8 apart from such lone surrogates (a high then
 * a low surrogate is a pair, not UTF-8: "\ud800\udc00" reads as U+10000).
 */
int json_add_wtf8_string(struct fx_buf *out, const char *s, size_t n);

/*
 * Compares a string value's unescaped contents with s (n bytes) without
 * allocating. Returns 1 if equal.
 */
int json_string_equals(const struct json_value *v, const char *s, size_t n);

/*
 * A total order on JSON values, for sorting group keys and for min/max:
 * null < false < true < numbers < strings < arrays < objects; numbers by
 * their exact decimal value (past int64 and past a double's precision
 * too; a tie between different spellings, 1 and 1.0, by their bytes), strings
 * by the bytes between their quotes as written (escapes not decoded; "a" < "a
 * b"), arrays and objects by their bytes. JSON_MISSING sorts with null. Returns
 * <0, 0 or >0.
 */
int json_value_compare(const struct json_value *a, const struct json_value *b);

/* The type of a valid JSON value from its first byte. */
enum json_type json_type_of(const char *p, size_t n);

/*
 * Checks that n bytes are valid UTF-8 (no overlongs, no surrogates, at most
 * U+10FFFF). Returns 1 if they are.
 */
int json_utf8_valid(const char *p, size_t n);

#endif
