/* strmap.c - string-keyed hash map */
#include "strmap.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static size_t find(const struct strmap *m, const char *key, size_t len,
                   uint64_t h)
{
	size_t mask = m->nslots - 1, i = (size_t)h & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t s = m->slots[i];
		const struct strmap_entry *e;

		if (!s)
			return i;
		e = &m->entries[s - 1];
		if (e->len == len && memcmp(e->key, key, len) == 0)
			return i;
	}
}

void *strmap_get(const struct strmap *m, const char *key, size_t len)
{
	uint32_t s;

	if (!m->nslots)
		return NULL;
	s = m->slots[find(m, key, len, XXH3_64bits(key, len))];
	return s ? m->entries[s - 1].value : NULL;
}

static void rehash(struct strmap *m)
{
	size_t i;

	free(m->slots);
	m->nslots = m->nslots ? m->nslots * 2 : 16;
	m->slots = fx_calloc(m->nslots, sizeof(*m->slots));
	for (i = 0; i < m->n; i++) {
		const struct strmap_entry *e = &m->entries[i];

		m->slots[find(m, e->key, e->len, XXH3_64bits(e->key, e->len))] =
		    (uint32_t)(i + 1);
	}
}

struct strmap_entry *strmap_put(struct strmap *m, const char *key, size_t len,
                                void *value)
{
	size_t slot;
	struct strmap_entry *e;

	if ((m->n + 1) * 4 > m->nslots * 3)
		rehash(m);
	slot = find(m, key, len, XXH3_64bits(key, len));
	if (m->slots[slot]) {
		e = &m->entries[m->slots[slot] - 1];
		e->value = value;
		return e;
	}
	FX_GROW(m->entries, m->n + 1, m->cap, 16);
	e = &m->entries[m->n];
	e->key = fx_strndup(key, len);
	e->len = len;
	e->value = value;
	m->slots[slot] = (uint32_t)++m->n;
	return e;
}

void strmap_free(struct strmap *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->entries[i].key);
	free(m->entries);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
