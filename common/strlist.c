/* strlist.c - a growable list of owned strings */
#include "strlist.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

void fx_strlist_push(struct fx_strlist *l, const char *s)
{
	FX_GROW(l->v, l->n + 2, l->cap, 8); /* + the NULL that ends it */
	l->v[l->n++] = fx_strdup(s);
	l->v[l->n] = NULL;
}

void fx_strlist_free(struct fx_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}
