/*
 * recedit.h - members inserted into a record before its closing brace.
 *
 * A record here is the bytes of one valid JSON object, as a reader gives
 * them: whitespace may surround the object, and its closing brace is the
 * last '}' of the bytes. The record is never re-serialised: its bytes are
 * copied as they are and the new members go in just before the closing
 * brace, after any whitespace there ({"x":1 } with "a":1 gives
 * {"x":1 ,"a":1}). An object without members ({} or { }) takes the
 * members without a separating comma: {"a":1}, { "a":1}.
 *
 * Members are JSON text. Those given to recedit_append() and recedit_put()
 * each start with a comma (",\"a\":1,\"b\":2"), the shape in which a
 * dimension row or a partition's members are kept; mlen 0 means none.
 * Nothing here checks that the members are valid or their names new.
 */
#ifndef FX_RECEDIT_H
#define FX_RECEDIT_H

#include "buf.h"

#include <stddef.h>

struct record_writer;

/* The offset of the record's closing brace (0 if it has none). */
size_t recedit_brace(const char *p, size_t n);

/* True if the object whose closing brace is at p[brace] has no members. */
int recedit_empty(const char *p, size_t brace);

/*
 * Appends to b the record p (n bytes) up to its closing brace, and a comma
 * unless the object is empty. The caller then appends its members, the
 * first without a comma, and the closing brace (p + the returned offset,
 * or just "}"). Returns the offset of the closing brace. b must not hold p.
 */
size_t recedit_begin(struct fx_buf *b, const char *p, size_t n);

/* Appends to b the record p with the members m inserted. */
void recedit_append(struct fx_buf *b, const char *p, size_t n, const char *m,
                    size_t mlen);

/*
 * Writes the record p with the members m inserted, and a newline, to out
 * (no copy of the record is made). Returns 0, or -1 (the writer's sticky
 * error: record_writer_status()).
 */
int recedit_put(struct record_writer *out, const char *p, size_t n,
                const char *m, size_t mlen);

#endif
