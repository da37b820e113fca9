/*
 * stream.h - validated records from one input: the loop every program that
 * reads NDJSON runs.
 *
 * record_stream_next() reads the next line, validates it with the record
 * scanner, extracts the stream's paths into vals, and deals with bad records
 * (invalid JSON, not an object, too long) by the --on-error policy, so the
 * caller only ever sees valid records. The record's bytes belong to the
 * reader (see reader.h); vals point into them.
 */
#ifndef FX_STREAM_H
#define FX_STREAM_H

#include "json.h"
#include "reader.h"

struct record_stream {
	struct fx_ctx *ctx;
	struct fx_input in;
	struct record_reader reader;
	struct json_scanner scanner;
	const struct json_paths *paths; /* may be NULL */
	int open;
	struct lineage_ds *dataset; /* the input file's lineage, or NULL */
	uint64_t records;           /* read, added to dataset at close */
	/* record_stream_next_run(): records to take one by one before the
	 * next try at a run, and the next such count after a failed try */
	unsigned run_skip, run_backoff;
};

/*
 * Opens path ("-" is stdin, gz for gzip) with paths to extract (borrowed,
 * may be NULL). Returns 0 or FX_EXIT_IO (reported).
 */
int record_stream_open(struct record_stream *rs, struct fx_ctx *ctx,
                       const char *path, int gz,
                       const struct json_paths *paths);

/*
 * record_stream_open() for a piece of a regular file's plain data, read
 * by one thread (fx-agg -j, fx-join -j): from byte start (a line start,
 * line first_line; 0: the file's start, as record_stream_open()), len
 * bytes (whole lines; < 0: to the end). It reads no byte past them.
 */
int record_stream_open_at(struct record_stream *rs, struct fx_ctx *ctx,
                          const char *path, int gz,
                          const struct json_paths *paths, int64_t start,
                          int64_t len, uint64_t first_line);

/*
 * 1: *rec is a valid record, vals[] its fields, *scan_flags the
 * JSON_SCAN_* flags; 0: end of input; < 0: -(exit status): a bad record
 * under --on-error fail (FX_EXIT_DATA) or an I/O error (FX_EXIT_IO), both
 * already reported.
 */
int record_stream_next(struct record_stream *rs, struct record *rec,
                       struct json_value *vals, int *scan_flags);

/* Records that go out as they came in, many at a time. */
struct record_run {
	const char *p; /* n lines, each with its '\n', as read */
	size_t len;
	uint64_t n;    /* 0: the record is in *rec instead */
	uint64_t line; /* the first one's line number */
};

/*
 * record_stream_next() for a program that passes records through
 * untouched: returns the same, but where it can, 1 with run->n > 0
 * records at once: run->p, run->len are their lines with their '\n's, byte
 * for byte as read, each a valid record with no "_fx" key (scan flags 0),
 * counted as records read. The stream's paths are not looked up in them:
 * a caller that has paths finds its fields in a run's lines itself
 * (json_object_get()). With run->n == 0, *rec, vals and *scan_flags hold
 * one record as record_stream_next() gives it (any record the vector path
 * is not sure of, or that is not byte for byte its line: "\r\n", a last
 * line without '\n'). Without the vector path (json.h), always one record.
 * The bytes stay valid until the next call.
 */
int record_stream_next_run(struct record_stream *rs, struct record_run *run,
                           struct record *rec, struct json_value *vals,
                           int *scan_flags);

/* Where the last record came from, for messages. */
struct fx_where record_stream_where(const struct record_stream *rs,
                                    const struct record *rec);

void record_stream_close(struct record_stream *rs);

#endif
