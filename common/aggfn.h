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
 * p95_F, q0_999_F, top3_F (dots in F and Q become '_').
 *
 * Values: null and missing values are ignored by every function but count
 * (as in SQL). sum, avg and the quantiles take numbers only (anything else
 * is a bad record: 'field "x": not a number: "abc"'); an integer sum stays
 * an exact int64 and overflowing it is a bad record (the record that takes
 * the running sum past an int64, in input order: see agg_order); a sum with any
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
 *
 * Each kind of aggregate is one entry of a table of operations (struct
 * agg_op, below; the table is agg_ops[] in aggfn.c): adding an aggregate is
 * an agg_kind, its entry and the entry's functions, nothing else.
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
	AGG_NKINDS /* the number of kinds, not a kind */
};

struct agg_op;

struct agg_spec {
	enum agg_kind kind;
	char *name;  /* output column */
	char *field; /* input path, NULL for count */
	int path;    /* index of field in the caller's json_paths, or -1 */
	double q;    /* quantile */
	int64_t k;   /* topk */
	size_t off;  /* offset of this function's state in the block */
	const struct agg_op *op; /* &agg_ops[kind] */
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

/*
 * Parses one spec (NAME=SPEC or SPEC) into *a as agg_set_parse() does each:
 * a->name is the column fx-agg writes (NAME, or the default name), a->field
 * the field it reads (NULL for count); a->path is -1. The one rule for a
 * column's name, for callers that must know it without running fx-agg
 * (fx-run --check). Returns 0, then agg_spec_free() it, or -1 with a
 * message in err (err_len bytes) and nothing to free.
 */
int agg_spec_parse(struct agg_spec *a, const char *spec, char *err,
                   size_t err_len);
void agg_spec_free(struct agg_spec *a);

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
 * Where a merge's src stands to dst in one run's input order. It matters to
 * an integer sum only (sum, avg): one run refuses the record that takes its
 * running sum past an int64, even if later ones would bring it back, so a
 * sum keeps, beside its total, the least and greatest of its running sums
 * (the empty sum 0 included), and a merge checks what one run over the
 * inputs in that order would have met. Every other result is the same in
 * any order.
 *
 * AGG_ANY: no order, the totals must fit (one run merging two sessions).
 * AGG_AFTER: src's values came after all of dst's (the next --merge row,
 * the next -j piece): every running sum of dst's values then src's must fit.
 * AGG_BEFORE: src's came before dst's.
 * AGG_INTERLEAVED: in any interleaving (-j's sessions, whose records one run
 * may have split between sessions otherwise): dst's and src's running sums
 * added, least to least and greatest to greatest, must fit. It may refuse
 * what one run takes, never the reverse.
 *
 * The merged least and greatest are exact for AFTER and BEFORE, and for
 * ANY and INTERLEAVED the sums of the two (saturated at the int64 range):
 * bounds of every running sum of any interleaving.
 */
enum agg_order {
	AGG_ANY,
	AGG_AFTER,
	AGG_BEFORE,
	AGG_INTERLEAVED,
};

/*
 * Merges src into dst, whose values stand as order says (the result is the
 * same in any order, but for an integer sum's running bounds). Returns 0,
 * or -1 with *e filled on integer sum overflow; dst is then unchanged.
 */
int agg_set_merge(const struct agg_set *set, void *dst, const void *src,
                  enum agg_order order, struct agg_error *e);

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

/*
 * Frees what updates kept for the calling thread (a scratch buffer): a
 * thread that updated states calls it before it ends.
 */
void agg_thread_end(void);

/* ---- the table of aggregates ---- */

/*
 * agg_op.flags. NO_FIELD: reads no field, updated for every record (count).
 * NUMBER: takes numbers only, which agg_set_check() parses. NULL_PARTIAL: a
 * null partial state reads as an empty state.
 */
enum {
	AGG_OP_NO_FIELD = 1,
	AGG_OP_NUMBER = 2,
	AGG_OP_NULL_PARTIAL = 4,
};

/*
 * One kind of aggregate, as SQLite's FuncDef: its spelling in a spec and
 * what it does to its state (the op->size bytes at spec->off of a group's
 * block, zeroed when empty). s is the state, a the spec. Optional members
 * are NULL when the kind does not need them.
 */
struct agg_op {
	/* in a spec; count is two kinds (count:F takes a field) */
	const char *name;
	enum agg_kind kind;
	unsigned flags; /* AGG_OP_* */
	size_t size;    /* bytes of state */
	/* optional: another spelling of this kind (p95 for quantile): 1 and
	 * the spec's parameter set, or 0 */
	int (*alias)(struct agg_spec *a, const char *fn);
	const char *aliases; /* with alias, for messages: "p1 to p99" */
	/* optional: parses the parameter after FIELD: into a, 0 or -1 */
	int (*param)(struct agg_spec *a, const char *text);
	const char *usage;  /* with param: "topk:FIELD:N" */
	const char *rule;   /* with param: why it was refused */
	const char *prefix; /* with param: default column PREFIX PARAM _FIELD */
	/* with prefix: writes PARAM as that name spells it, from its value,
	 * so that every spelling of one value gives one name */
	void (*param_name)(const struct agg_spec *a, struct fx_buf *out);
	/* optional: refuses v (-1, *e filled) before any state changes */
	int (*can_add)(const struct agg_spec *a, const void *s,
	               const struct json_value *v, const struct fx_num *num,
	               struct agg_error *e);
	/* adds v (never null or missing unless AGG_OP_NO_FIELD, then v is
	 * NULL), parsed into *num if AGG_OP_NUMBER, at event time t */
	void (*update)(const struct agg_spec *a, void *s,
	               const struct json_value *v, const struct fx_num *num,
	               int64_t t);
	/* optional: hints the memory update(v) will touch */
	void (*prefetch)(const void *s, const struct json_value *v);
	/* optional: refuses to merge src into dst (-1, *e filled) */
	int (*can_merge)(const struct agg_spec *a, const void *dst,
	                 const void *src, enum agg_order order,
	                 struct agg_error *e);
	void (*merge)(const struct agg_spec *a, void *dst, const void *src,
	              enum agg_order order);
	void (*result)(const struct agg_spec *a, const void *s,
	               struct fx_buf *out);
	void (*partial)(const struct agg_spec *a, const void *s,
	                struct fx_buf *out);
	/* reads what partial wrote (never null: see AGG_OP_NULL_PARTIAL)
	 * into a zeroed state: 0, or -1 if v is not one */
	int (*read)(const struct agg_spec *a, void *s,
	            const struct json_value *v);
	/* optional: as read, for a snapshot of this run's own state (fx-agg
	 * --state): the state comes back exactly as it was, where read
	 * rebuilds an equal one (a sum's partials) */
	int (*restore)(const struct agg_spec *a, void *s,
	               const struct json_value *v);
	/* optional: frees what s holds (not s) */
	void (*free)(void *s);
};

/* Indexed by kind. */
extern const struct agg_op agg_ops[AGG_NKINDS];

#endif
