/*
 * reader.h - NDJSON records from a byte source, one line each.
 *
 * A record is a view of one input line. Its bytes belong to the reader and
 * stay valid until the next record_reader_next(); copy them to keep them.
 * Lines of any length up to max_record bytes are returned whole (the
 * buffer grows to the longest line seen); "\r\n" is accepted and the "\r"
 * removed; a last line without "\n" is a record. Blank lines (only
 * whitespace) are not records and are passed over, as jq and Miller do.
 * At least 64 readable bytes follow every returned record, so scanners may
 * read ahead in blocks.
 */
#ifndef FX_READER_H
#define FX_READER_H

#include "input.h"

#include <stdint.h>

#define RECORD_READER_PAD 64

struct record {
	const char *p;
	size_t len;    /* without the line end */
	uint64_t line; /* 1-based line number in the input */
};

struct record_reader {
	struct fx_input *in;
	size_t max_record;
	char *buf;
	size_t cap;
	size_t start; /* first unread byte */
	size_t end;   /* end of valid bytes */
	int eof;
	int skipping;      /* inside an over-long line */
	uint64_t long_len; /* the last over-long line's length, when known */
	uint64_t line;
	uint64_t bytes; /* bytes consumed */
};

enum {
	RECORD_OK = 1,
	RECORD_EOF = 0,
	RECORD_IO_ERROR = -1, /* reported by the input */
	RECORD_TOO_LONG = -2, /* rec holds the first max_record bytes */
};

/* The reader borrows in. */
void record_reader_init(struct record_reader *r, struct fx_input *in,
                        size_t max_record);

/*
 * 1: *rec is the next record; 0: end of input; RECORD_IO_ERROR: read error,
 * already reported; RECORD_TOO_LONG: the line is longer than max_record:
 * rec holds its first max_record bytes and rec->line its number, the rest of
 * the line is skipped, and the next call goes on after it.
 */
int record_reader_next(struct record_reader *r, struct record *rec);

/*
 * After RECORD_TOO_LONG: skips the rest of the over-long line now instead
 * of at the next call, and returns the whole line's length in bytes
 * (without its line end, as rec->len would count it), or -1 after a read
 * error (reported). The record's bytes are invalid after this call: copy
 * what is needed of them first.
 */
int64_t record_reader_skip_long(struct record_reader *r);

/*
 * Whole lines at once, for a caller that validates them together
 * (record_stream_next_run): sets *p to the unread bytes and returns how
 * many of them are complete lines, up to and with the last '\n' buffered;
 * 0 if none (record_reader_next() reads more) or inside an over-long line.
 * The bytes stay valid until the next call of any record_reader_*().
 */
size_t record_reader_lines(struct record_reader *r, const char **p);

/*
 * Takes the first len bytes record_reader_lines() gave, n lines, as read:
 * the next record starts after them.
 */
void record_reader_take(struct record_reader *r, size_t len, uint64_t n);

void record_reader_free(struct record_reader *r);

#endif
