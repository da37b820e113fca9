/*
 * sketch.h - mergeable approximate summaries for fx-agg.
 *
 * hll: HyperLogLog distinct counting with 2^14 registers (standard error
 * 1.04/sqrt(16384) = 0.81%). Small sets are kept exact (the 64-bit hashes
 * themselves, up to HLL_SPARSE_MAX) and turn into registers when they grow
 * past it; since registers are a function of the set of hashes, a sketch
 * built from the same values gives the same state whatever the order or
 * the split into merged parts.
 *
 * dds: DDSketch quantiles with relative accuracy 1%: every quantile it
 * returns is within 1% of a value of the right rank (bins of
 * gamma = 1.01/0.99 on the log scale; positive and negative values and
 * zero kept apart). Merging adds bin counts, so merged state equals the
 * state of one run over all the values.
 *
 * Both serialise to a JSON value (for fx-agg --partial) and back; the
 * serialisation is deterministic. Each sketch owns its memory; free with
 * the _free function. Updates do not allocate unless the sketch grows.
 */
#ifndef FX_SKETCH_H
#define FX_SKETCH_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

#define HLL_P          14
#define HLL_M          (1u << HLL_P)
#define HLL_SPARSE_MAX 512

struct hll {
	uint64_t *set; /* exact mode: distinct hashes, unsorted */
	uint32_t nset;
	uint32_t setcap;
	uint8_t *reg; /* dense mode: HLL_M registers, NULL before */
};

void hll_add(struct hll *h, uint64_t hash);
void hll_merge(struct hll *dst, const struct hll *src);
/* The estimate; exact (the set's size) while in exact mode. */
uint64_t hll_count(const struct hll *h);
/* {"set":"BASE64"} or {"hll":"BASE64"} (little-endian hashes, sorted). */
void hll_to_json(const struct hll *h, struct fx_buf *out);
/* Parses what hll_to_json wrote. Returns 0, or -1 if it is not one. */
int hll_from_json(struct hll *h, const char *p, size_t n);
void hll_free(struct hll *h);

struct dds_store {
	int32_t offset; /* bin index of counts[0] */
	uint32_t n;     /* bins in use */
	uint32_t cap;
	uint64_t *counts;
};

struct dds {
	struct dds_store pos, neg;
	uint64_t zero;
	uint64_t count;
	double min, max;
};

void dds_add(struct dds *d, double v);
void dds_merge(struct dds *dst, const struct dds *src);
/*
 * The q-quantile (0 <= q <= 1): the value of rank floor(q * (count - 1))
 * among the sorted values, within 1% relative error; clamped to [min, max]
 * so that p0 and p100 are exact. Returns 0 and sets *v, or -1 if empty.
 */
int dds_quantile(const struct dds *d, double q, double *v);
/* {"n":N,"min":…,"max":…,"zero":Z,"pos":[OFFSET,c0,c1,…],"neg":[…]} */
void dds_to_json(const struct dds *d, struct fx_buf *out);
int dds_from_json(struct dds *d, const char *p, size_t n);
void dds_free(struct dds *d);

#endif
