/*
 * agg.h - fx-agg's engine: group-by over event-time windows with
 * watermarks, identical output on streams and batches.
 *
 * Watermark: for each input partition (the _fx_topic and _fx_partition
 * that fx-consume --meta adds; records without them are one partition) the
 * highest event time seen; the watermark is the lowest of those over the
 * partitions that are not idle, minus --lateness, and never goes back.
 * Partitions named by an {"_fx":"assigned"} control record count from the
 * start, before their first record; an {"_fx":"eof"} record or
 * --idle-timeout of wall-clock silence takes a partition out until its next
 * record. {"_fx":"watermark","ts":…} raises the watermark to ts and is
 * forwarded; other control records are forwarded in order ("checkpoint"
 * after flushing the rows before it).
 *
 * A window [start, end) closes when the watermark reaches end; its rows are
 * written then, sorted by window end, window start, then group key
 * (json_value_compare field by field). At end of input every open window
 * closes in the same order. A record is late when a window it belongs to
 * has closed, i.e. the first of its windows to end (sessions: when it is
 * older than the watermark), and then late as a whole: --late drop counts
 * it, dlq=FILE also appends the record itself to FILE, neither counts it in
 * any window; update counts it in all of its windows, keeps closed windows
 * for --retain and writes a corrected row for each closed one (creating
 * it if it had no row). Sessions under update: a late record's session
 * [t, t + gap) merges with every session of its key it overlaps, closed
 * (within --retain) or open; the result is open if it ends after the
 * watermark (its row comes when it closes), else closed and written now;
 * this needs --emit changes, to take back the rows of merged sessions.
 *
 * --emit changes (a changelog, Flink's RowKind names) puts "_fx_op" first
 * in every row: "+I" for a window and key's first row; with --late update
 * a corrected row is "-U" (the row written before, again) then "+U" (the
 * new one), and a closed session that a late record merges into another
 * is "-D" (its last row again), the merged session then "+I" (or "-U" and
 * "+U" when it keeps the bounds of one that had a row). Closed sessions
 * are kept for --retain as closed windows are. Every row the changelog
 * retracts is the last one written for it, which is what its window's
 * state gives: snapshots hold nothing more.
 *
 * Without --window, one row per group at end of input, sorted by key.
 * --partial writes mergeable states instead of results; --merge reads such
 * rows (from shards run with the same options) and writes what one run over
 * all the shards' input would have written.
 *
 * With a state directory (--state DIR or $FX_STATE; snapshots in
 * DIR/fx-agg, or DIR/NAME with --stage NAME), the checkpoint records of
 * share/doc/checkpoints.md are acted on. {"_fx":"restore","id":K} must be
 * the first record of the input (else exit 1): K = 0 removes every
 * snapshot, K > 0 loads snapshot K as the engine's whole state (exit 3,
 * naming the file, if it is missing, corrupt or made with other options);
 * it is forwarded. At {"_fx":"checkpoint","id":K} (after closing every
 * window if it is "final", as at end of input) the whole state is written
 * as snapshot K, snapshots older than DIR/committed.json's id are removed,
 * and the barrier is forwarded after the rows before it. Running up to a
 * barrier K, then a new run fed restore K and the records after the
 * barrier, writes the bytes one run over all of it writes.
 */
#ifndef FX_AGG_H
#define FX_AGG_H

#include "fx.h"
#include "opt.h"

struct agg_opts {
	struct fx_strlist by;   /* NAME=FIELD or FIELD */
	struct fx_strlist aggs; /* specs, see aggfn.h */
	const char *time_field;
	const char *time_unit; /* "s" or "ms" for epoch numbers */
	const char *window;
	int64_t lateness;
	const char *late; /* drop, dlq=FILE, update */
	int64_t idle_timeout;
	int64_t retain;
	int partial;
	int merge;
	const char *state; /* --state DIR, else $FX_STATE; NULL: none */
	const char *stage; /* --stage NAME: DIR/NAME (default fx-agg) */
	const char *emit;  /* --emit rows (default) or changes */
};

/* Reads inputs (stdin if none), writes rows to stdout. Returns exit status. */
int agg_run(struct fx_ctx *ctx, const struct agg_opts *o, char **inputs,
            size_t n);

/*
 * A piece: an engine over part of the input, for aggpar.h, which runs one
 * per thread and merges them. It reads like agg_run() but writes nothing
 * to stdout: its windows and sessions close by its own watermark (which
 * judges lateness, as the whole run's would if the input began with the
 * piece) into rows written ahead to a memfd of its own when no piece
 * before it can have them (always for the first piece), else held for
 * the merge; and it notes what agg_piece_on_time() needs.
 * Arrival numbers (the time of first and last without --time) start after
 * seq_base; first says it is the first piece of the input. A piece uses
 * ctx for its messages and counters (rows written ahead count as records
 * out there), so a thread's piece has a ctx of its own.
 */
struct agg_piece;

struct agg_piece *agg_piece_new(struct fx_ctx *ctx, const struct agg_opts *o,
                                uint64_t seq_base, int first);

/*
 * Reads the len bytes from start of the regular file path, whole lines, the
 * first of them line first_line. Returns an exit status, as agg_run().
 */
int agg_piece_read(struct agg_piece *p, const char *path, int64_t start,
                   int64_t len, uint64_t first_line);

/*
 * 1 if the piece's state is the whole run's for its records, given that
 * they were on time: 0 after a control record (it stops reading there), a
 * record of a named partition (_fx_topic, _fx_partition), or an aggregate
 * that refused a record for what came before it (an integer sum's
 * overflow).
 */
int agg_piece_mergeable(const struct agg_piece *p);

/* Its watermark at its end (INT64_MIN: it had no time). */
int64_t agg_piece_watermark(const struct agg_piece *p);

/*
 * 1 if every record it counted as on time would also be on time had the
 * watermark been wm (the pieces' before it) when the piece began.
 */
int agg_piece_on_time(const struct agg_piece *p, int64_t wm);

/*
 * Merges src's groups into dst's (the --partial/--merge merge), src the
 * piece after the ones dst has absorbed; dst takes src's rows written
 * ahead. src is left to agg_piece_free(). Returns 0, or -1 if an
 * aggregate refused.
 */
int agg_piece_absorb(struct agg_piece *dst, struct agg_piece *src);

/*
 * Writes p's rows to stdout under ctx, in one run's order: the rows
 * written ahead by each piece it absorbed, each after the windows that
 * end before them, then every window left, as agg_run() closes them at
 * the end of input. Frees p. Returns the exit status.
 */
int agg_piece_emit(struct agg_piece *p, struct fx_ctx *ctx);

void agg_piece_free(struct agg_piece *p);

#endif
