/*
 * watermark.h - the event-time watermark of one input that may interleave
 * several Kafka partitions (fx-consume --meta), as fx(7) defines it: the
 * lowest, over the partitions that still count, of the highest event time
 * seen in each, minus the lateness. It never goes back.
 *
 * A partition is named "TOPIC/P" from a record's _fx_topic and
 * _fx_partition; records without them are one partition (""), so a file
 * has one. A partition counts from its first record, or from the control
 * record {"_fx":"assigned","partitions":["T/0",...]} that lists it (then
 * it holds the watermark back before its first record, which is what
 * keeps a partition read late from being late); it stops counting at
 * {"_fx":"eof","partition":"T/P"} (it has nothing more now), when a later
 * "assigned" leaves it out, or after idle_timeout ms of wall-clock silence
 * (0: never), and counts again at its next record. A watermark control
 * record moves the watermark to its time at once.
 *
 * fx-agg keeps one for its input, the interval join one per input. The
 * watermark owns its partition table.
 */
#ifndef FX_WATERMARK_H
#define FX_WATERMARK_H

#include "buf.h"
#include "json.h"
#include "strmap.h"

#include <stdint.h>

struct wm_part {
	int64_t max_t; /* INT64_MIN before the first record */
	double last_seen;
	int active; /* counts toward the watermark */
};

struct watermark {
	int64_t lateness;     /* ms */
	int64_t idle_timeout; /* ms, 0: never */
	int64_t value;        /* INT64_MIN until every partition has a time */
	struct strmap index;  /* "topic/partition" -> index + 1 */
	struct wm_part *parts;
	size_t n, cap;
	struct fx_buf scratch;
};

void watermark_init(struct watermark *w, int64_t lateness,
                    int64_t idle_timeout);
void watermark_free(struct watermark *w);

/*
 * The partition name of a record from its _fx_topic and _fx_partition
 * values into out (reset first): "TOPIC/P", or "" when either is missing.
 */
void watermark_partition_name(const struct json_value *topic,
                              const struct json_value *partition,
                              struct fx_buf *out);

/*
 * A record of partition name (len bytes) at event time t. Returns the
 * watermark after it.
 */
int64_t watermark_record(struct watermark *w, const char *name, size_t len,
                         int64_t t);

/*
 * As watermark_record(), for a caller that has a record at every step and
 * wants the step cheap: the watermark is recomputed only when t is the
 * highest time of its partition yet. Otherwise it is returned as it was:
 * what changed since (a partition gone idle, an "assigned" that left one
 * out) shows at the next new highest time, an "eof", or watermark_now().
 * fx-agg's rule. Returns the watermark.
 */
int64_t watermark_advance(struct watermark *w, const char *name, size_t len,
                          int64_t t);

/*
 * A control record {"_fx":KIND,...}: "assigned" (partitions: its
 * "partitions" array), "eof" (partition: its "partition" string),
 * "watermark" (have_ts, ts: its time, parsed by the caller). Returns 1 if
 * the record was one of those three (acted on), 0 for any other kind.
 */
int watermark_control(struct watermark *w, const struct json_value *kind,
                      const struct json_value *partitions,
                      const struct json_value *partition, int have_ts,
                      int64_t ts);

/*
 * The partition name's entry, created (counting, no time yet) if it is
 * new: for a caller that restores a saved watermark (fx-agg --state).
 */
struct wm_part *watermark_part(struct watermark *w, const char *name,
                               size_t len);

/* The name of partition i (0 <= i < w->n, in order of creation). */
const char *watermark_part_name(const struct watermark *w, size_t i,
                                size_t *len);

/*
 * Recomputes the watermark now (a partition may have gone idle since the
 * last record). Returns it.
 */
int64_t watermark_now(struct watermark *w);

#endif
