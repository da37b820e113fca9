/*
 * aggfn.h - the aggregate functions of fx-agg: parsing "--agg" specs, and
 * for each group the state each function keeps, updated per record, merged
 * across shards, written as a result or as a mergeable partial state.
 *
 * Specs: count, count:F (non-null values), sum:F, min:F, max:F, avg:F,
 * first:F, last:F (by event time; ties by value: first takes the
 * least, last the greatest, in json.h's order, so that a stream and a
 * batch, whose arrival orders differ, agree), distinct:F,
 * approx_distinct:F (HyperLogLog, 0.81% standard error), p50:F p90:F
 * p95:F p99:F and quantile:F:Q (DDSketch, 1% relative error), topk:F:N;
 * NAME=SPEC names the output column. Default names: count, count_F, sum_F,
 * min_F, max_F, avg_F, first_F, last_F, distinct_F, approx_distinct_F,
 * p95_F, q0.999_F, top3_F (dots in F become '_').
 *
 * Values: null and missing values are ignored by every function but count
 * (as in SQL). sum, avg and the quantiles take numbers only (anything else
 * is a bad record: 'field "x": not a number: "abc"'); an integer sum stays
 * an exact int64 and overflowing it is a bad record; a sum with any
 * fraction is the exact sum (integers plus Shewchuk partials of the other
 * values, merged exactly) rounded once to a double, as math.fsum: the same
 * in any order and through --partial/--merge. min and max take any JSON
 * values in json.h's order (numbers by value). A string has one spelling
 * for every function: escapes decoded, written back with only those JSON
 * requires ("x" and "\u0078" are one value to topk, min, max, first and
 * last, as to distinct). distinct counts distinct JSON values (strings by
 * their unescaped contents, numbers as written), by 64-bit hash: exact up to a
 * hash collision (probability about n^2 / 2^65, under 1e-7 for a million
 * values).
 *
 * A group's states live in one block of agg_set_state_size() bytes that the
 * caller allocates (typically from an arena); functions that need more
 * (distinct sets, sketches, kept values) allocate on their own, released by
 * agg_set_state_free(). Updating does not allocate once the group's
 * structures have grown to their size.
 */
#ifndef FX_AGGFN_H
#define FX_AGGFN_H

#include "buf.h"
#include "json.h"
#include "num.h"

#include <stddef.h>
#include <stdint.h>

enum agg_kind {
	AGG_COUNT,
	AGG_COUNT_FIELD,
	AGG_SUM,
	AGG_MIN,
	AGG_MAX,
	AGG_AVG,
	AGG_FIRST,
	AGG_LAST,
	AGG_DISTINCT,
	AGG_APPROX_DISTINCT,
	AGG_QUANTILE,
	AGG_TOPK,
};

struct agg_spec {
	enum agg_kind kind;
	char *name;  /* output column */
	char *field; /* input path, NULL for count */
	int path;    /* index of field in the caller's json_paths, or -1 */
	double q;    /* quantile */
	int64_t k;   /* topk */
	size_t off;  /* offset of this function's state in the block */
};

struct agg_set {
	struct agg_spec *v;
	size_t n;
	size_t state_size;
};

/*
 * Parses specs (one per element) into set and adds to paths what each
 * function reads: its input field, or with merge its own output column
 * (fx-agg --merge reads partial rows). Returns 0, or -1 with a message in
 * err (err_len bytes).
 */
int agg_set_parse(struct agg_set *set, char *const *specs, size_t n, int merge,
                  struct json_paths *paths, char *err, size_t err_len);
void agg_set_free(struct agg_set *set);

/* Bytes of state per group. */
static inline size_t agg_set_state_size(const struct agg_set *set)
{
	return set->state_size;
}

/* Frees what a state block holds (not the block). A zeroed block is empty. */
void agg_set_state_free(const struct agg_set *set, void *state);

/* What was wrong with a value: the field and the reason. */
struct agg_error {
	const char *field;
	char reason[256];
};

/*
 * Checks a record's values (vals indexed by spec->path) before any update:
 * numbers where numbers are needed, parsed once into nums[path] for
 * agg_set_update(). Returns 0, or -1 with *e filled.
 */
int agg_set_check(const struct agg_set *set, const struct json_value *vals,
                  struct fx_num *nums, struct agg_error *e);

/*
 * Adds one checked record with event time t (first/last; ties by value,
 * never by input order). Returns 0, or -1 with *e filled if an integer sum
 * would overflow; the state is then unchanged.
 */
int agg_set_update(const struct agg_set *set, void *state,
                   const struct json_value *vals, const struct fx_num *nums,
                   int64_t t, struct agg_error *e);

/*
 * Hints the memory that agg_set_update() of this record into state will
 * touch (the slot of a distinct set), so a caller that knows its next
 * records can have it fetched before it is needed. No effect on results.
 */
void agg_set_prefetch(const struct agg_set *set, const void *state,
                      const struct json_value *vals);

/*
 * Merges src into dst, in either order: the result is the same. Returns 0, or
 * -1 with *e filled on integer sum overflow.
 */
int agg_set_merge(const struct agg_set *set, void *dst, const void *src,
                  struct agg_error *e);

/* Appends ,"name":result for every function to out. */
void agg_set_write_results(const struct agg_set *set, const void *state,
                           struct fx_buf *out);

/* Appends ,"name":state for every function to out (fx-agg --partial). */
void agg_set_write_partials(const struct agg_set *set, const void *state,
                            struct fx_buf *out);

/*
 * Reads a partial row's states (vals indexed by spec->path, as parsed with
 * merge) into a zeroed block. Returns 0, or -1 with *e filled.
 */
int agg_set_read_partials(const struct agg_set *set, void *state,
                          const struct json_value *vals, struct agg_error *e);

#endif
