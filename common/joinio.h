/*
 * joinio.h - what the lookup join (join.c) and the interval join (ijoin.c)
 * share: the flush before a read that may block, and the split of --on
 * (control records go out through record_writer_put_control(), writer.h,
 * which fx-partition uses too). Both engines depend on this module,
 * it on neither of them. A joined record is written with recedit_put()
 * (recedit.h).
 */
#ifndef FX_JOINIO_H
#define FX_JOINIO_H

#include "opt.h"

#include <stddef.h>

struct record_stream;
struct record_writer;

/*
 * Before a read of rs that may block (no whole line buffered, nothing
 * ready on its descriptor), writes out what out holds, so that a live
 * stream's output does not wait for the next megabyte.
 */
void join_flush_if_idle(struct record_stream *rs, struct record_writer *out);

/* True if the next read of rs may block (what join_flush_if_idle tests). */
int join_input_idle(struct record_stream *rs);

/* Splits --on into the left names and the other side's names (owned). */
void join_split_on(const struct fx_strlist *on, struct fx_strlist *left,
                   struct fx_strlist *other);

#endif
