/* grouptable.c - fx-agg's hash table of groups */
#include "grouptable.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

/* Makes nslots slots (a power of two) and puts every group back. */
static void rehash(struct group_table *t, size_t nslots)
{
	size_t i;

	free(t->slot);
	t->nslots = nslots;
	t->slot = fx_calloc(t->nslots, sizeof(*t->slot));
	for (i = 0; i < t->n; i++) {
		size_t j = (size_t)t->g[i]->hash & (t->nslots - 1);

		while (t->slot[j].g)
			j = (j + 1) & (t->nslots - 1);
		t->slot[j].hash = t->g[i]->hash;
		t->slot[j].g = t->g[i];
	}
}

struct agg_group *group_table_get(struct group_table *t, const char *key,
                                  uint32_t len, uint64_t hash,
                                  size_t state_size)
{
	size_t j, klen = (len + 15) & ~(size_t)15;
	struct agg_group *g;

	if ((t->n + 1) * 2 > t->nslots)
		rehash(t, t->nslots ? t->nslots * 2 : 64);
	for (j = (size_t)hash & (t->nslots - 1); (g = t->slot[j].g);
	     j = (j + 1) & (t->nslots - 1)) {
		if (t->slot[j].hash == hash && g->keylen == len &&
		    (len == 0 || memcmp(g->key, key, len) == 0))
			return g;
	}
	FX_GROW(t->g, t->n + 1, t->cap, 64);
	g = arena_alloc(&t->arena, sizeof(*g) + klen + state_size);
	g->hash = hash;
	g->keylen = len;
	if (len) /* no --by: an empty key, maybe NULL */
		memcpy(g->key, key, len);
	g->state = state_size ? g->key + klen : NULL;
	g->sessions = NULL;
	t->g[t->n++] = g;
	t->slot[j].hash = hash;
	t->slot[j].g = g;
	return g;
}

void group_table_reserve(struct group_table *t, size_t n)
{
	size_t nslots = 64;

	while (nslots < n * 2)
		nslots *= 2;
	rehash(t, nslots);
	FX_GROW(t->g, n, t->cap, n);
}

void group_table_free(struct group_table *t, const struct agg_set *aggs)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->g[i]->state)
			agg_set_state_free(aggs, t->g[i]->state);
	free(t->g);
	free(t->slot);
	arena_free(&t->arena);
	memset(t, 0, sizeof(*t));
}
