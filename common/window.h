/*
 * window.h - event-time windows: which windows a record at time t belongs
 * to. Times are epoch milliseconds, UTC; windows are aligned to the epoch
 * (as Flink's are with offset 0) and half-open: [start, end).
 *
 *   tumble:SIZE        one window of SIZE
 *   hop:SIZE/SLIDE     SIZE/SLIDE windows (SIZE a multiple of SLIDE)
 *   cumulate:STEP/MAX  windows starting at the MAX-aligned start, ending at
 *                      each STEP up to MAX (as Flink's CUMULATE: running
 *                      totals within a day with cumulate:1h/1d)
 *   session:GAP        per group, records closer than GAP form one window
 *                      [first, last + GAP) (assigned by fx-agg itself)
 */
#ifndef FX_WINDOW_H
#define FX_WINDOW_H

#include <stddef.h>
#include <stdint.h>

enum window_kind {
	WINDOW_NONE = 0,
	WINDOW_TUMBLE,
	WINDOW_HOP,
	WINDOW_CUMULATE,
	WINDOW_SESSION,
};

struct window_spec {
	enum window_kind kind;
	int64_t size;  /* tumble, hop: size; cumulate: max; session: gap */
	int64_t slide; /* hop: slide; cumulate: step */
};

struct window {
	int64_t start, end;
};

/*
 * The most windows a hop or cumulate spec may give one record (SIZE over
 * SLIDE): hop:1d/1s's 86,400 fit; hop:1d/1ms would ask for a table of
 * 86 million windows before the first record.
 */
#define WINDOW_MAX_PER_RECORD 100000

/* Parses "tumble:1m" etc. Returns 0, or -1 with a message in err. */
int window_spec_parse(struct window_spec *w, const char *s, char *err,
                      size_t err_len);

/* The most windows one record can belong to under w. */
size_t window_max_per_record(const struct window_spec *w);

/*
 * Fills out[] with the windows containing t, in order of end then start.
 * Returns their number (0 for session and none).
 */
size_t window_assign(const struct window_spec *w, int64_t t,
                     struct window *out);

/* Floor division that rounds toward negative infinity. */
static inline int64_t window_floor(int64_t t, int64_t size)
{
	int64_t q = t / size;

	return (t % size != 0 && (t < 0) != (size < 0)) ? q - 1 : q;
}

#endif
