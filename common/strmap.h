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
};

struct strmap {
	struct strmap_entry *entries; /* in insertion order */
	size_t n, cap;
	uint32_t *slots; /* index + 1 into entries, 0 = empty */
	size_t nslots;
};

/* Returns the value for key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key, size_t len);

/* Sets key to value (replacing any old value); returns the entry. */
struct strmap_entry *strmap_put(struct strmap *m, const char *key, size_t len,
                                void *value);

/* Frees the map and its keys, not the values. */
void strmap_free(struct strmap *m);

#endif
