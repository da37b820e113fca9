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
	uint32_t tag = (uint32_t)(h >> 32);

	for (;; i = (i + 1) & mask) {
		uint32_t s = m->slots[i];
		const struct strmap_entry *e;

		if (!s)
			return i;
		if (m->tags[i] != tag)
			continue;
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
	size_t i, k;

	free(m->slots);
	free(m->tags);
	m->nslots = m->nslots ? m->nslots * 2 : 16;
	m->slots = fx_calloc(m->nslots, sizeof(*m->slots));
	m->tags = fx_malloc(m->nslots * sizeof(*m->tags));
	for (i = 0; i < m->n; i++) {
		uint64_t h = m->entries[i].hash;

		/* keys are distinct: the first empty slot from home */
		for (k = (size_t)h & (m->nslots - 1); m->slots[k];
		     k = (k + 1) & (m->nslots - 1))
			;
		m->slots[k] = (uint32_t)(i + 1);
		m->tags[k] = (uint32_t)(h >> 32);
	}
}

struct strmap_entry *strmap_entry_for(struct strmap *m, const char *key,
                                      size_t len)
{
	size_t slot;
	uint64_t h = XXH3_64bits(key, len);
	struct strmap_entry *e;

	if ((m->n + 1) * 4 > m->nslots * 3)
		rehash(m);
	slot = find(m, key, len, h);
	if (m->slots[slot])
		return &m->entries[m->slots[slot] - 1];
	FX_GROW(m->entries, m->n + 1, m->cap, 16);
	e = &m->entries[m->n];
	e->key = fx_strndup(key, len);
	e->len = len;
	e->value = NULL;
	e->hash = h;
	m->slots[slot] = (uint32_t)++m->n;
	m->tags[slot] = (uint32_t)(h >> 32);
	return e;
}

struct strmap_entry *strmap_put(struct strmap *m, const char *key, size_t len,
                                void *value)
{
	struct strmap_entry *e = strmap_entry_for(m, key, len);

	e->value = value;
	return e;
}

void strmap_free(struct strmap *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->entries[i].key);
	free(m->entries);
	free(m->slots);
	free(m->tags);
	memset(m, 0, sizeof(*m));
}
