/*
 * aggpar.h - fx-agg -j N: one aggregation on several cores, with the bytes
 * one thread writes.
 *
 * When every input is a regular file (not stdin, a pipe or gzip data), the
 * inputs, end to end, are cut at line boundaries into N pieces of about
 * the same size; a thread runs an engine over each piece (agg.h's
 * agg_piece: windows held open, nothing written), and the pieces are
 * merged, in file order, with the merge of --partial/--merge (aggfn.h: the
 * same in any order, first and last by event time or, without --time, by
 * arrival numbers that keep the pieces' order). The merged state is then
 * written as one run would write it at the end of its input.
 *
 * Why the rows are one run's. Without --window every record counts. With
 * windows, a record counts unless it is late, and a fixed window or a
 * session that closes in one run never gets a record after, so that the
 * rows are those of every window, each with every record on time, in the
 * order one run writes them: by window end, start, then key. What a piece
 * cannot know is the watermark its records would meet in one run: its own
 * (a piece begins with none), raised by the pieces before it. So each
 * piece notes, for the records it took as on time, the lowest first window
 * end by the watermark it met (agg_piece_on_time()), and after the threads
 * the watermark of the pieces before each piece is checked against it: if
 * one of them would have been late in one run, the pieces are dropped and
 * the input is read again by agg_run() alone. Records late in a piece are
 * late in one run too (the watermark only rises).
 *
 * Windows close in a piece by its own watermark, so that a piece holds
 * about what one run holds. The first piece writes the rows of those it
 * closes into a memfd of its own; a later piece those no piece before it
 * can have (agg.c's piece_writes(), piece_writes_sessions()), the rest
 * held for the merge. After the merge the first piece's rows go out, then
 * for each later piece the merged windows that end before its first row's
 * window, then its rows, then every window left: one run's order.
 * Sessions are written ahead by a later piece only once none that could
 * merge with an earlier piece's is open (a long one would end after the
 * rows written before it): keys always back within the gap hold them all.
 *
 * Bad records: the pieces count them (--on-error skip) or keep their
 * dead-letter lines, which are appended in file order with the lines' own
 * numbers (--on-error dlq=FILE). Under --on-error fail a bad record, like
 * everything the pieces cannot reproduce, sends the input to agg_run()
 * alone, which stops at it with its message and its rows. Counters
 * (--stats) and lineage are the sum of the pieces'.
 *
 * One thread (agg_run()) reads: stdin and pipes, gzip data, a file that
 * starts with a byte order mark (filecut.h), fewer than
 * 64 KiB per piece, --partial and --merge, --state (or $FX_STATE),
 * --late update and dlq=FILE, and, found in a piece, control records,
 * records with _fx_topic and _fx_partition (a watermark over several
 * partitions), an integer sum that overflows; and, found in the merge, one
 * that one thread would have found overflowing part way through a later
 * piece (aggfn.h's agg_order: for sessions, in any order).
 */
#ifndef FX_AGGPAR_H
#define FX_AGGPAR_H

#include "agg.h"
#include "fx.h"

#include <stdint.h>

/*
 * agg_run() with jobs threads (0: fx_cores()) where the inputs allow
 * it, else agg_run() itself. Returns the exit status.
 */
int aggpar_run(struct fx_ctx *ctx, const struct agg_opts *o, char **inputs,
               size_t n, int64_t jobs);

#endif
