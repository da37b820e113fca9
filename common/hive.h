/*
 * hive.h - Hive-style partition values in directory names (dt=2026-11-23,
 * os=__HIVE_DEFAULT_PARTITION__): the one escaping that fx-sink writes,
 * fx-partition plans and fx-consume reads back. It depends on buf and json.
 *
 * Encoding: bytes that are not safe in a path component ('/', '=', '%',
 * control bytes, a leading '.', '\\', ':', '*', '?', '"', '<', '>', '|',
 * '#', '{', '[') become %XX (upper-case hex); a null or empty value is
 * HIVE_NULL, as in Hive, and reads back as null. Decoding turns %XX back
 * into the byte and leaves any other byte, a lone '%' included, as it is.
 *
 * A value is UTF-8, except that a JSON string may hold a lone surrogate
 * ("\ud800"), which no UTF-8 spells. Such a value is taken in WTF-8 (the
 * surrogate as its three bytes, ED A0 80 for U+D800; json_string_unescape
 * makes it U+FFFD instead), and those three bytes are written %XX
 * (os=%ED%A0%80), so that "\ud800" and "\ufffd" (os=\xEF\xBF\xBD as it is)
 * never share a directory; hive_decode_json reads them back as "\ud800".
 * Valid UTF-8 holds no such bytes: no other name changes.
 */
#ifndef FX_HIVE_H
#define FX_HIVE_H

#include "buf.h"

#include <stddef.h>

#define HIVE_NULL "__HIVE_DEFAULT_PARTITION__"

/* Appends the value s (n bytes, WTF-8; n 0 for null) escaped, to out. */
void hive_encode(struct fx_buf *out, const char *s, size_t n);

/* Appends the directory-name value s (n bytes) unescaped, to out. */
void hive_decode(struct fx_buf *out, const char *s, size_t n);

/*
 * Appends the directory-name value s (n bytes) as the JSON value it was
 * written from: null for HIVE_NULL, else a string, %XX-decoded, a lone
 * surrogate's three bytes written \udXXX. Returns 0, or -1 (out unchanged)
 * if s is not UTF-8, or the decoded bytes are not apart from such lone
 * surrogates (a surrogate pair, which hive_encode never writes, is not one).
 */
int hive_decode_json(struct fx_buf *out, const char *s, size_t n);

/* True if s (n bytes) is HIVE_NULL: the value is null. */
int hive_is_null(const char *s, size_t n);

#endif
