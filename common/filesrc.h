/*
 * filesrc.h - records from files and directories: fx-consume's batch
 * source.
 *
 * Operands are files, directories and "-" (stdin). A directory is walked
 * recursively in byte order of names (strcmp, not the locale), taking the
 * files whose names end in a known extension (.ndjson .jsonl .json .csv,
 * each optionally .gz). Names starting with '.' are passed over (hidden
 * files, fx-sink's temporaries .NAME.tmp-PID), and so are files starting
 * with '_' (_SUCCESS markers); a directory starting with '_' is walked, as
 * a partition value may start with '_' (a "plays/{os}" template writes
 * plays/_x/ and plays/__HIVE_DEFAULT_PARTITION__/). Only regular files are read
 * from a walk: a FIFO, socket or device with a record file's name is skipped
 * with a warning, never opened (it could block the walk for ever). A directory
 * operand with no record file in it reads as empty, with a warning ("DIR:
 * no record files (...)"); the status stays 0.
 *
 * A file named on the command line is read whatever its name and kind (a
 * FIFO too); its format comes from its extension, or --format, and is
 * NDJSON when neither says.
 *
 * With partition_fields, every path component "k=v" below a directory
 * operand becomes a string field k (value %XX-decoded, see hive.h;
 * __HIVE_DEFAULT_PARTITION__ is null) appended to each record from that
 * directory, unless the record already has a top-level member (a CSV
 * column) named k. A k or v that is not UTF-8 (v spelled or decoded), or
 * a k twice in one path, is a usage error (FX_EXIT_USAGE) before any record
 * below that operand is read: no name is changed to fit the stream.
 */
#ifndef FX_FILESRC_H
#define FX_FILESRC_H

#include "buf.h"
#include "fx.h"
#include "writer.h"

enum file_format {
	FORMAT_AUTO = 0,
	FORMAT_NDJSON,
	FORMAT_CSV,
};

struct file_source_opts {
	enum file_format format;
	int gz;          /* with --format: input is gzip */
	int csv_strings; /* CSV fields stay strings */
	int partition_fields;
	/*
	 * If set, partition fields of a directory operand below root come
	 * from its path below root, not below the operand (fx-consume
	 * --table reads ROOT/ods_play/dt=D/os=ios and adds dt and os).
	 */
	const char *root;
	/*
	 * --checkpoint (share/doc/checkpoints.md, fx-consume(1)): on when
	 * ckpt_records or ckpt_ms is set (one of them), state then naming the
	 * job's state directory. The run resumes at the file positions of
	 * state/committed.json, writes {"_fx":"restore","id":K} first, a
	 * barrier after every ckpt_records records or ckpt_ms milliseconds,
	 * and a final one at the end. A position is ["file:PATH",0,OFFSET]:
	 * PATH as given or walked, OFFSET the byte offset of the next line to
	 * read (in the decompressed data for gzip). NDJSON files only: the
	 * caller refuses stdin; a CSV file is a usage error here.
	 */
	const char *state;
	int64_t ckpt_records;
	int64_t ckpt_ms;
};

/* "ndjson", "jsonl", "json", "csv" (optionally "+gz"). Returns 0 or -1. */
int file_format_parse(const char *s, enum file_format *f, int *gz);

/* Reads every operand in order, writes records to out. Returns exit status. */
int file_source_run(struct fx_ctx *ctx, const struct file_source_opts *o,
                    char **operands, size_t n, struct record_writer *out);

#endif
