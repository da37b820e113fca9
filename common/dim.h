/*
 * dim.h - fx-join's dimension table: rows by key, each row's output
 * members rendered once at load time, so that joining a record costs one
 * hash probe and one memcpy.
 *
 * Keys match by value, compared as text (join_key_add): a string by its
 * characters (escapes decoded), true and false by name, a number by a
 * canonical spelling: an integer as its decimal digits ("-0" is "0"), any
 * other number as the shortest decimal that reads back as the same double,
 * integral values below 2^53 without a fraction (42.0 and 4.2e1 are "42").
 * A string whose whole text is a JSON number that fits an int64 or a
 * double is canonicalised the same way, so the CSV text "42" matches the
 * number 42 and "42.0" matches 42, while "042", " 42" and "+42" stay
 * text. null and a missing field have no key: they match nothing. An
 * object or an array cannot be a key. A key of several fields is the
 * fields' texts, each with its length.
 *
 * Rows: a struct dim_table owns its rows (in its blocks, or malloc'd one by
 * one when they are replaced by Kafka updates) and its slot array. Both
 * are asked to be on huge pages: lookups go all over a large table, and
 * with 4 KiB pages most of them would miss the TLB. A row
 * holds its key bytes and its members, ,"name":value for each output field
 * the row has, in the order of the field list (struct dim_spec), names with
 * the --prefix. Values are the dimension's JSON bytes, untouched.
 *
 * The field list is fixed by --fields, or else taken from the dimension on
 * the first load (CSV: the header's columns; NDJSON and Kafka: every top
 * level name in first-seen order), leaving out the key fields and _fx*
 * members. Later loads (--reload, Kafka updates) keep that list: a new
 * column is ignored. A field a row lacks is null in its members when the
 * list is --fields (the columns asked for, as a table has them), else
 * absent from them.
 */
#ifndef FX_DIM_H
#define FX_DIM_H

#include "buf.h"
#include "fx.h"
#include "json.h"
#include "opt.h"

#include <stdint.h>

enum {
	JOIN_KEY_OK = 0,
	JOIN_KEY_NULL = 1, /* null or missing: matches nothing */
	JOIN_KEY_BAD = -1, /* an object or an array */
};

/*
 * Appends the canonical text of v to key as 4 bytes of length then the
 * text. scratch is working space. Returns a JOIN_KEY_* value.
 */
int join_key_add(struct fx_buf *key, const struct json_value *v,
                 struct fx_buf *scratch);

/* The text of a key built by join_key_add, "42" or "42,pop", for messages. */
void join_key_describe(const char *key, size_t n, struct fx_buf *out);

struct dim_row {
	uint32_t klen;
	uint32_t mlen;
	uint64_t line : 63; /* where it was loaded from (0: Kafka) */
	uint64_t heap : 1;  /* malloc'd, not in the blocks */
	char b[];           /* klen key bytes, then mlen member bytes */
};

static inline const char *dim_row_members(const struct dim_row *r)
{
	return r->b + r->klen;
}

struct dim_slot {
	uint64_t hash;
	struct dim_row *row; /* NULL: empty */
};

struct dim_block;

struct dim_table {
	struct dim_slot *slots;
	size_t nslots; /* a power of two, or 0 */
	size_t n;
	struct dim_block *blocks; /* rows loaded from a file */
};

/* The row for key (n bytes, as join_key_add builds it), or NULL. */
const struct dim_row *dim_get(const struct dim_table *t, const char *key,
                              size_t n);

/*
 * The same in steps, for callers that look up many keys in a row and hide
 * the memory latency: dim_hash, then dim_prefetch (the slot), later
 * dim_prefetch_row (the row the slot points to, once the slot is in cache),
 * then dim_get_hash. Prefetching is only a hint: the table may change
 * between the steps.
 */
uint64_t dim_hash(const char *key, size_t n);
const struct dim_row *dim_get_hash(const struct dim_table *t, const char *key,
                                   size_t n, uint64_t h);

static inline void dim_prefetch(const struct dim_table *t, uint64_t h)
{
	if (t->nslots)
		__builtin_prefetch(&t->slots[h & (t->nslots - 1)]);
}

static inline void dim_prefetch_row(const struct dim_table *t, uint64_t h)
{
	if (t->nslots) {
		const struct dim_row *r = t->slots[h & (t->nslots - 1)].row;

		if (r)
			__builtin_prefetch(r);
	}
}

/* Deletes the row for key, if any (a Kafka tombstone). */
void dim_del(struct dim_table *t, const char *key, size_t n);

void dim_table_free(struct dim_table *t);

/* What the dimension is and how its rows are rendered. Owned by the caller. */
struct dim_spec {
	const char *source; /* for messages: the path, or "kafka:TOPIC" */
	char **keys;        /* the dimension's key fields (borrowed) */
	size_t nkeys;
	struct fx_strlist fields; /* output fields, dimension names (owned) */
	int fields_fixed;         /* --fields, or a first load happened */
	int fields_given;         /* --fields: a row without one has it null */
	const char *prefix;       /* for output names, "" if none */
	int last_wins;            /* --dim-last-wins */
	int loaded;               /* a first load happened */
};

/* Frees what dim_spec owns. */
void dim_spec_free(struct dim_spec *s);

/*
 * The members ,"name":null for every output field (--left-nulls), and the
 * output name of field i (prefix + name). Both valid until the field list
 * changes (which it stops doing after the first load).
 */
void dim_spec_nulls(const struct dim_spec *s, struct fx_buf *out);
char *dim_spec_out_name(const struct dim_spec *s, size_t i);

/*
 * Loads a dimension file into t (which must be empty): CSV when the name
 * ends in .csv or .csv.gz, NDJSON otherwise (.gz decompressed). A bad row,
 * a duplicate key (without last_wins) or a row without a key is reported
 * with the file's name and line and the load fails. Returns 0, or an exit
 * status: FX_EXIT_DATA for a bad row, FX_EXIT_USAGE for a CSV without a key
 * column, FX_EXIT_IO if the file cannot be read; t then holds what was
 * loaded so far (free it). The first load fixes the field list.
 */
int dim_load_file(struct fx_ctx *ctx, struct dim_spec *s, const char *path,
                  struct dim_table *t);

/*
 * One loader shared by the file formats and Kafka: renders a row from a
 * validated JSON object and puts it into a table.
 */
struct dim_loader;

struct dim_loader *dim_loader_new(struct fx_ctx *ctx, struct dim_spec *s,
                                  struct dim_table *t);
void dim_loader_free(struct dim_loader *ld);

/*
 * Puts the object p (n bytes, valid JSON) under key (built by
 * join_key_add), replacing any row there (Kafka: the latest value wins).
 */
void dim_loader_put(struct dim_loader *ld, const char *key, size_t klen,
                    const char *p, size_t n);

#endif
