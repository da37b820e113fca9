/*
 * join.h - fx-join's engines: the lookup join against a dimension (dim.h)
 * and the interval join of two streams.
 *
 * Lookup join: each input record's key (--on, several fields with commas,
 * LEFT=DIM when the names differ) is looked up in the dimension; a match
 * writes the record's own bytes with the row's members inserted before its
 * closing brace (the record is never re-serialised, so its _fx* members
 * and number spellings pass through). An unmatched record is dropped
 * (--inner), or written as it is (--left), or with every dimension field
 * null (--left-nulls). A record whose key is null or missing matches
 * nothing; an object or array key is a bad record. An output name that the
 * record already has is a usage error (exit 2), found on the first record
 * that has it. Control records are written in order (a checkpoint after
 * flushing what came before it).
 *
 * --reload: at most every --reload-interval, between records, the file is
 * stat()ed; a new inode (a rename into place) is loaded at once, a change
 * in place once the file has been left alone for a second, and a file that
 * does not end in a newline is not used. The new table is built apart and
 * replaces the old one only when complete and the file did not change
 * while it was read; a file that fails keeps the old table, with one
 * warning per version of the file.
 *
 * --dim kafka:TOPIC: see dimkafka.h.
 *
 * -j N (jobs): a regular file of more than a piece (4 MiB; not stdin, a
 * pipe, gzip data), with a file dimension and no --reload, is joined in
 * pieces cut at line boundaries (filecut.h), taken in order by N threads
 * (this one among them) that share the table and only read it. A piece's
 * output goes to its thread's buffer and out through the one writer when
 * every piece before it is out, so that the bytes are one thread's and a
 * thread holds at most one piece's output: memory does not grow with the
 * input. Why pieces in turn and not N equal parts merged at the end: the
 * output is written as it is made (a 10 GB input is not held), and a piece
 * that stops (below) costs the others at most the pieces in flight. A
 * piece stops at what it cannot do byte for byte as one thread, silently
 * (a bad record under any --on-error, a control record, a field clash, an
 * I/O error): the pieces before it go out, and this thread reads the file
 * on from that piece's first byte with its line number (counted), with one
 * thread's messages, dead letters and status; the next file is cut again.
 * The threads' counters and record counts (lineage) are those of the
 * pieces written.
 *
 * The lookup join keeps no state of its own across a restart: checkpoint
 * and restore records pass through in their place among the records (a
 * dimension is loaded again at start: a file as it is then, a kafka:
 * topic read again from its beginning), and --state is a usage error.
 *
 * Interval join (--right): see the comment in ijoin.c and fx-join(1);
 * with --state DIR it aligns the checkpoint barriers of its two inputs
 * and snapshots its state in DIR/fx-join (DIR/NAME with --stage NAME).
 */
#ifndef FX_JOIN_H
#define FX_JOIN_H

#include "fx.h"
#include "fxtime.h"
#include "kafka.h"
#include "opt.h"

#include <stdint.h>

struct join_opts {
	const char *dim;          /* FILE or kafka:TOPIC */
	struct fx_strlist on;     /* FIELD or FIELD=OTHERFIELD */
	struct fx_strlist fields; /* dimension (or right) fields to add */
	const char *prefix;
	int inner;
	int left;
	int left_nulls;
	int dim_last_wins;
	int reload;
	int64_t reload_interval; /* ms; -1: not given (join_run: 100) */
	int64_t jobs;            /* -j: threads (0: the cores available) */
	int jobs_given;          /* -j was given */

	const char *right; /* the interval join's second input */
	const char *time_field;
	const char *right_time;
	const char *time_unit;
	enum fx_time_unit unit; /* time_unit, checked by join_run */
	int64_t within;         /* ms; -1: not given */
	int64_t lateness;       /* ms */
	int64_t idle_timeout; /* ms, 0: never; -1: not given (join_run: 10s) */
	const char *right_prefix;
	const char *state; /* --state DIR: checkpoints (interval join) */
	const char *stage; /* --stage NAME: DIR/NAME (default fx-join) */

	/* -b -X -F --timeout, for a kafka: dimension only (the interval
	 * join reads no topic); timeout_ms -1: not given (join_run: 10s) */
	struct kafka_conf kafka;
};

/*
 * Checks the option combinations (usage errors exit 2: an option of one
 * kind of join given to the other, at its default value too), sets the
 * defaults of those not given, runs the join over inputs (stdin if none)
 * to stdout. Returns an exit status.
 */
int join_run(struct fx_ctx *ctx, struct join_opts *o, char **inputs, size_t n);

/* The interval join (ijoin.c), called by join_run. */
int ijoin_run(struct fx_ctx *ctx, const struct join_opts *o, char **inputs,
              size_t n);

#endif
