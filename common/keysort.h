/*
 * keysort.h - groups in the order fx-agg writes them: by key, field by
 * field, each field as json_value_compare orders values (null, false,
 * true, numbers by value, strings by their bytes, arrays, objects).
 * Keys are in grouptable.h's format.
 *
 * keysort_groups() is a faster way to the order group_key_compare()
 * defines. Each group gets a 64-bit prefix of its first field that orders
 * as the field does (the type's rank in the top 3 bits; below it a
 * number's double, or a string's first 7 bytes), so that most comparisons
 * are integer compares that do not read the group. A prefix is "exact"
 * when equal prefixes mean equal values (strings of up to 7 bytes,
 * integers below 2^49, null, true, false); only then does the second
 * field's prefix decide, and ties fall back to group_key_compare(). The
 * prefixes are sorted by a radix sort, a byte a pass, skipping the bytes
 * that all of them share; each run of equal prefixes then by a merge sort
 * (insertion sort for runs of 8). Comparisons mispredict half the time;
 * counting does not.
 */
#ifndef FX_KEYSORT_H
#define FX_KEYSORT_H

#include "grouptable.h"

#include <stddef.h>
#include <stdint.h>

struct keysort_item {
	uint64_t p1, p2; /* the prefixes of the first and second field */
	const struct agg_group *g;
	int exact1; /* p1 equal means the first fields are equal */
};

/*
 * Compares two keys of nby fields: <0, 0 or >0. Equal keys compare 0, and
 * so may keys that are different bytes (1 and 1.0: the same number).
 */
int group_key_compare(const char *a, uint32_t alen, const char *b,
                      uint32_t blen, size_t nby);

/*
 * Sorts the n groups g[0..n) by their keys of nby fields. buf has room for
 * 2 * n items (the caller's: it is reused from window to window). Returns
 * the sorted items, n of them, in buf or at buf + n. Not stable: groups
 * with keys that compare equal come in either order.
 */
struct keysort_item *keysort_groups(struct keysort_item *buf,
                                    struct agg_group *const *g, size_t n,
                                    size_t nby);

#endif
