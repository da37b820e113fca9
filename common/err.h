/*
 * err.h - messages and bad records, one shape everywhere:
 *
 *   fx-agg: stdin:12: field "event_time": not a timestamp: "yesterday"
 *
 * program, where, what. Lowercase, no final period, the subject quoted.
 * All of these write to stderr and never fail.
 */
#ifndef FX_ERR_H
#define FX_ERR_H

#include "fx.h"

#include <stdarg.h>

#if defined(__GNUC__)
#define FX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define FX_NORETURN     __attribute__((noreturn))
#else
#define FX_PRINTF(a, b)
#define FX_NORETURN
#endif

/* "prog: message" */
void fx_warn(const struct fx_ctx *ctx, const char *fmt, ...) FX_PRINTF(2, 3);
void fx_vwarn(const struct fx_ctx *ctx, const char *fmt, va_list ap)
    FX_PRINTF(2, 0);

/* "prog: message", then exit(status). */
FX_NORETURN void fx_die(const struct fx_ctx *ctx, int status, const char *fmt,
                        ...) FX_PRINTF(3, 4);

/*
 * Out of memory is not a recoverable condition for a filter: "prog: out of
 * memory", then _exit(FX_EXIT_IO) without flushing anything.
 */
FX_NORETURN void fx_oom(void);
void *fx_malloc(size_t n);
void *fx_realloc(void *p, size_t n);

/*
 * n zeroed elements of size bytes, every byte written. calloc() leaves a
 * fresh mapping unwritten (the kernel's pages are zero already); a page
 * of it read first (a hash table's probe, a counter's +=) is mapped to the
 * shared zero page, and the write after that copies it and flushes the
 * TLB of every CPU the process's threads run on, an interrupt each: with
 * fx-agg -j's threads a sixth of the run on this 2-core VM
 * (smp_call_function_many_cond under do_wp_page). Written here, each page
 * is faulted in once, for writing.
 */
void *fx_calloc(size_t n, size_t size);
char *fx_strdup(const char *s);
char *fx_strndup(const char *s, size_t n);

/*
 * The one grow-by-doubling rule (git's ALLOC_GROW): makes array p, of cap
 * elements, hold at least need elements, doubling from first. cap is an
 * lvalue of any unsigned type; p may move. Exits (fx_oom) on overflow.
 */
#define FX_GROW(p, need, cap, first)                                           \
	do {                                                                   \
		if ((size_t)(need) > (size_t)(cap)) {                          \
			size_t fx_grow_cap_ = fx_grow_size(                    \
			    (cap), (need), (first), sizeof(*(p)));             \
			(p) = fx_realloc((p), fx_grow_cap_ * sizeof(*(p)));    \
			(cap) = fx_grow_cap_;                                  \
		}                                                              \
	} while (0)

/* The new capacity for FX_GROW: cap (or first) doubled until it holds need. */
size_t fx_grow_size(size_t cap, size_t need, size_t first, size_t elem);

/*
 * Where a bad record was found: "stdin:12", "plays.csv:3",
 * "ods_play/2@1234" (topic/partition@offset).
 */
struct fx_where {
	const char *source; /* input name */
	uint64_t line;      /* 1-based line, 0 if not line-addressed */
	int64_t partition;  /* Kafka partition or -1 */
	int64_t offset;     /* Kafka offset or -1 */
};

#define FX_WHERE_LINE(src, ln) ((struct fx_where){(src), (ln), -1, -1})

/* Formats where into buf as "src:line" or "topic/partition@offset". */
const char *fx_where_format(const struct fx_where *w, char *buf, size_t n);

/*
 * A bad record: reports it according to --on-error.
 *   fail: prints the message and returns FX_EXIT_DATA; the caller stops.
 *   skip: counts it, prints nothing, returns 0; the caller drops it.
 *   dlq:  appends {"_fx_error":"…","source":"…","raw":"…"} to the DLQ file
 *         and returns 0; if the DLQ cannot be written returns FX_EXIT_IO.
 * field may be NULL. raw is the record's bytes, all of them: the DLQ line
 * holds every byte (not necessarily UTF-8: a DLQ line then carries
 * "raw_base64" instead of "raw", so that the bytes still round-trip).
 */
int fx_bad_record(struct fx_ctx *ctx, const struct fx_where *where,
                  const char *field, const char *raw, size_t rawlen,
                  const char *fmt, ...) FX_PRINTF(6, 7);

/*
 * The same for a record that was cut: raw holds its first rawlen bytes of
 * full_len. The DLQ line keeps those bytes (ending on a whole character if
 * they are text) and adds "raw_truncated":true,"raw_length":full_len, so
 * that a cut record is never taken for a whole one.
 */
int fx_bad_record_cut(struct fx_ctx *ctx, const struct fx_where *where,
                      const char *field, const char *raw, size_t rawlen,
                      uint64_t full_len, const char *fmt, ...) FX_PRINTF(7, 8);

/*
 * Opens (appends to, creating) the --on-error dlq= file if there is one and
 * it is not open yet. Returns 0, or FX_EXIT_IO after the message
 * "prog: PATH: cannot open dead-letter file: reason".
 */
int fx_dlq_open(struct fx_ctx *ctx);

#endif
