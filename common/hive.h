/*
 * hive.h - Hive-style partition values in directory names (dt=2026-11-23,
 * os=__HIVE_DEFAULT_PARTITION__): the one escaping that fx-sink writes,
 * fx-partition plans and fx-consume reads back. A leaf module: it depends
 * on buf only.
 *
 * Encoding: bytes that are not safe in a path component ('/', '=', '%',
 * control bytes, a leading '.', '\\', ':', '*', '?', '"', '<', '>', '|',
 * '#', '{', '[') become %XX (upper-case hex); a null or empty value is
 * HIVE_NULL, as in Hive, and reads back as null. Decoding turns %XX back
 * into the byte and leaves any other byte, a lone '%' included, as it is.
 */
#ifndef FX_HIVE_H
#define FX_HIVE_H

#include "buf.h"

#include <stddef.h>

#define HIVE_NULL "__HIVE_DEFAULT_PARTITION__"

/* Appends the value s (n bytes; n 0 for null) escaped, to out. */
void hive_encode(struct fx_buf *out, const char *s, size_t n);

/* Appends the directory-name value s (n bytes) unescaped, to out. */
void hive_decode(struct fx_buf *out, const char *s, size_t n);

/* True if s (n bytes) is HIVE_NULL: the value is null. */
int hive_is_null(const char *s, size_t n);

#endif
