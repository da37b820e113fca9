/*
 * grouptable.h - fx-agg's groups of one window: a hash table from a group
 * key to its group, the group's key and aggregate state in one block.
 *
 * A group key is, for each --by field in order, a 4-byte length (host
 * order) and then that field's value as canonical JSON: a missing field is
 * null, a string with escapes is unescaped and quoted again, so that one
 * value has one spelling. Without --by the key is empty (len 0, and the
 * pointer may be NULL). Two records are in one group when their keys are
 * equal bytes; keysort.h orders keys.
 *
 * Each group lives in one block of the table's arena: the struct agg_group
 * header, then its key (padded to 16 bytes), then state_size bytes of
 * zeroed state, so that finding a group and updating it touch the same
 * cache lines. The table is open addressing with linear probing, at most
 * half full; a slot holds the hash beside the group pointer, so that a
 * probe that misses reads no group.
 *
 * The table owns its groups and their states: they stay where they are
 * until group_table_free(), which frees them all (the states through
 * agg_set_state_free()). g[0..n) lists the groups in order of creation.
 * A zeroed struct group_table is an empty table.
 */
#ifndef FX_GROUPTABLE_H
#define FX_GROUPTABLE_H

#include "aggfn.h"
#include "arena.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct agg_session; /* fx-agg's session windows (agg.c); never touched here */

struct agg_group {
	uint64_t hash;
	uint32_t keylen;
	void *state; /* state_size bytes after the key; NULL if state_size 0 */
	struct agg_session *sessions; /* the caller's; NULL when created */
	char key[];                   /* keylen bytes, see above */
};

struct group_slot {
	uint64_t hash;
	struct agg_group *g; /* NULL: empty */
};

struct group_table {
	struct arena arena;
	struct agg_group **g; /* in order of creation */
	size_t n, cap;
	struct group_slot *slot;
	size_t nslots; /* 0 or a power of two */
};

/*
 * The group of key (len bytes, hash its XXH3_64bits), created with a
 * zeroed state block of state_size bytes if it is new.
 */
struct agg_group *group_table_get(struct group_table *t, const char *key,
                                  uint32_t len, uint64_t hash,
                                  size_t state_size);

/*
 * Makes an empty table ready for n groups without growing: a table for a
 * window that will likely hold as many groups as the last one did.
 */
void group_table_reserve(struct group_table *t, size_t n);

/* Frees the groups, their states (agg_set_state_free) and the table. */
void group_table_free(struct group_table *t, const struct agg_set *aggs);

/*
 * The slot where a lookup of hash starts (for prefetching); t must have
 * slots (nslots > 0).
 */
static inline const struct group_slot *
group_table_slot(const struct group_table *t, uint64_t hash)
{
	return &t->slot[(size_t)hash & (t->nslots - 1)];
}

/* The length of the key field at p (then its value is at p + 4). */
static inline uint32_t group_key_field_len(const char *p)
{
	uint32_t n;

	memcpy(&n, p, 4);
	return n;
}

#endif
