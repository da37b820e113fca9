/*
 * csvio.h - CSV in (libcsv, RFC 4180 with a header row) and out.
 *
 * Reading: a struct csvio_reader is fed bytes in chunks of any size
 * (csvio_reader_feed) and calls row_fn once per data row with that row as one
 * JSON object: the header row gives the field names; a field that is a JSON
 * number (fx_num_is_json_number) becomes a number unless strings_only
 * (--csv-strings); every other field is a string, so CSV -> NDJSON -> CSV
 * gives back every field byte for byte. An empty field is "" (a string).
 * "\r\n" and "\n" both end rows; quoted fields may hold commas, quotes and
 * newlines. A row with more or fewer fields than the header is a bad record
 * (fx_bad_record, "expected 4 fields, got 3"); so is a field that is not
 * valid UTF-8. The JSON passed to row_fn is valid until row_fn returns.
 *
 * Choices, in detail:
 *   - Quoting is strict RFC 4180 (libcsv CSV_STRICT | CSV_STRICT_FINI): a
 *     '"' inside an unquoted field or text after a closing quote is a bad
 *     record "malformed quoting" covering the row up to the end of the line
 *     the error is on; reading goes on at the next line. A quote never
 *     closed is "unterminated quoted field" and runs to the end of input
 *     (or to --max-record). Lenient parsers guess here, and a guess
 *     silently changes data.
 *   - Spaces and tabs are data, never trimmed. A quoted field is the same
 *     value as an unquoted one: "12" is the number 12.
 *   - Numbers: by the JSON grammar alone (fx_num_is_json_number), so
 *     integers past int64 and 1e400 are numbers too, written byte for byte
 *     as fx passes such numbers through in NDJSON.
 *   - Blank lines (empty or a lone "\r") are not rows. A bare CR ends a
 *     row, as in libcsv, but lines are counted by '\n' only.
 *   - A UTF-8 BOM at the very start of the input is dropped.
 *   - Empty input, or a header alone, gives no rows.
 *   - A bad header (a duplicate name, invalid UTF-8, broken quoting, longer
 *     than --max-record) is one bad record on its line, e.g.
 *     duplicate field name "a"; every row after it is dropped, as no name
 *     can be trusted (under --on-error skip or dlq a warning says so).
 *   - A row longer than ctx->max_record bytes (line end included) is a bad
 *     record "row longer than --max-record", and is never buffered whole.
 *   - csvio_reader_rows() counts data rows read, bad ones included.
 *
 * Writing: csvio_write_field appends one field, quoted when it holds a comma,
 * quote, CR, LF or leading/trailing space, quotes doubled. An empty field is
 * written as nothing; csvio_end_row ends a row, and writes a row of one
 * empty field as "" (as Python's csv module does), since a blank line reads
 * back as no row.
 */
#ifndef FX_CSVIO_H
#define FX_CSVIO_H

#include "buf.h"
#include "fx.h"

#include <stdint.h>

struct csvio_reader;

/*
 * Called per data row. json/len is the row as a JSON object, without a
 * trailing newline. line is the physical line the row starts on (1-based,
 * the header being line 1). Return 0 to go on, non-zero (an exit status) to
 * stop: csvio_reader_feed then returns it.
 */
typedef int (*csvio_row_fn)(void *arg, const char *json, size_t len,
                            uint64_t line);

/*
 * source names the input in messages ("plays.csv", "stdin"). extra, if not
 * NULL, is appended inside every object before its closing brace: a string
 * of pre-rendered members such as ,"dt":"2026-11-23" (used for partition
 * fields). Returns a reader; free with csvio_reader_free().
 */
struct csvio_reader *csvio_reader_new(struct fx_ctx *ctx, const char *source,
                                      int strings_only, const char *extra,
                                      csvio_row_fn row_fn, void *arg);

/*
 * Feeds n bytes. At end of input, call once with eof=1 (n may be 0) to
 * finish the last row. Returns 0, or the non-zero status from row_fn or
 * from a bad record under --on-error fail (FX_EXIT_DATA).
 */
int csvio_reader_feed(struct csvio_reader *r, const char *p, size_t n, int eof);

/*
 * Reads the input to its end (or a stop signal) in 1 MiB chunks and feeds
 * them to r, counting the bytes in ctx's --stats. Returns 0, FX_EXIT_IO on
 * a read error (reported), or what csvio_reader_feed returned.
 */
struct fx_input;
int csvio_reader_feed_input(struct csvio_reader *r, struct fx_input *in);

/* Number of data rows read so far, bad ones included. */
uint64_t csvio_reader_rows(const struct csvio_reader *r);

/*
 * The header's columns as a JSON object, every value null
 * ({"a":null,"b":null}), appended to b: what a file with a header and no
 * rows still says (fx-join's dimension checks its columns so). Returns 0,
 * or -1 if no good header was read.
 */
int csvio_reader_header_record(const struct csvio_reader *r, struct fx_buf *b);

void csvio_reader_free(struct csvio_reader *r);

/* Appends one field to b, quoted if needed (see above). */
void csvio_write_field(struct fx_buf *b, const char *s, size_t n);

/*
 * Ends the row of nfields fields that starts at b->p + start with '\n',
 * after "" when the row is one empty field (it would be a blank line).
 */
void csvio_end_row(struct fx_buf *b, size_t start, size_t nfields);

#endif
