/*
 * strmap.h - a hash map from byte strings to pointers (open addressing,
 * XXH3). The map owns copies of its keys; values are the caller's.
 * Iteration order is insertion order, so output built from a map is
 * deterministic.
 */
#ifndef FX_STRMAP_H
#define FX_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_entry {
	char *key;
	size_t len;
	void *value;
	uint64_t hash; /* of the key: a rehash does not read the keys */
};

struct strmap {
	struct strmap_entry *entries; /* in insertion order */
	size_t n, cap;
	uint32_t *slots; /* index + 1 into entries, 0 = empty */
	/*
	 * Beside each slot, the high half of its key's hash: a probe passes
	 * a slot of another key without reading its entry (a miss in a map
	 * of millions of keys was a cache miss and a memcmp a slot).
	 */
	uint32_t *tags;
	size_t nslots;
};

/* Returns the value for key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key, size_t len);

/* Sets key to value (replacing any old value); returns the entry. */
struct strmap_entry *strmap_put(struct strmap *m, const char *key, size_t len,
                                void *value);

/*
 * The entry of key, added with a NULL value if it is not there: one
 * lookup for a read-modify-write (a count per key). Valid until the next
 * call that adds a key.
 */
struct strmap_entry *strmap_entry_for(struct strmap *m, const char *key,
                                      size_t len);

/* Frees the map and its keys, not the values. */
void strmap_free(struct strmap *m);

#endif
