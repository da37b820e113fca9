/* upsert.c - a changelog folded to the latest row per key; see upsert.h */
#include "upsert.h"
#include "err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int upsert_init(struct upsert *u, const struct fx_strlist *keys,
                struct json_paths *paths, char *err, size_t errlen)
{
	const char *perr;
	size_t i, j;
	int k;

	memset(u, 0, sizeof(*u));
	if (!keys->n) {
		snprintf(err, errlen, "no key field");
		return -1;
	}
	u->op_path = json_paths_add(paths, "_fx_op", &perr);
	if (u->op_path < 0) {
		snprintf(err, errlen, "%s", perr);
		return -1;
	}
	for (i = 0; i < keys->n; i++) {
		for (j = 0; j < i; j++)
			if (!strcmp(keys->v[j], keys->v[i])) {
				snprintf(err, errlen, "'%s' twice", keys->v[i]);
				return -1;
			}
		k = json_paths_add(paths, keys->v[i], &perr);
		if (k < 0) {
			snprintf(err, errlen, "'%s': %s", keys->v[i], perr);
			return -1;
		}
		u->key_path[i] = k;
		u->key_name[i] = paths->v[k].name; /* the paths outlive u */
	}
	u->nkeys = keys->n;
	return 0;
}

int upsert_read(struct upsert *u, const struct json_value *vals,
                enum upsert_op *op, const char **field, const char **why)
{
	const struct json_value *v = &vals[u->op_path];
	size_t i;

	if (v->type == JSON_MISSING)
		*op = UPSERT_INSERT;
	else if (json_string_equals(v, "+I", 2))
		*op = UPSERT_INSERT;
	else if (json_string_equals(v, "-U", 2))
		*op = UPSERT_UPDATE_BEFORE;
	else if (json_string_equals(v, "+U", 2))
		*op = UPSERT_UPDATE_AFTER;
	else if (json_string_equals(v, "-D", 2))
		*op = UPSERT_DELETE;
	else {
		*field = "_fx_op";
		*why = "not +I, -U, +U or -D";
		return -1;
	}
	fx_buf_reset(&u->key);
	fx_buf_addc(&u->key, '[');
	for (i = 0; i < u->nkeys; i++) {
		v = &vals[u->key_path[i]];
		if (v->type == JSON_MISSING) {
			*field = u->key_name[i];
			*why = "missing: an upsert key field";
			return -1;
		}
		if (i)
			fx_buf_addc(&u->key, ',');
		fx_buf_add(&u->key, v->p, v->len);
	}
	fx_buf_addc(&u->key, ']');
	return 0;
}

/* Drops the deleted rows once they are as many as the live ones. */
static void compact(struct upsert *u)
{
	size_t i, n = 0;

	if (u->ndead < 64 || u->ndead < u->nrows / 2)
		return;
	for (i = 0; i < u->nrows; i++) {
		if (!u->rows[i].row) {
			free(u->rows[i].key);
			continue;
		}
		u->rows[n] = u->rows[i];
		strmap_put(&u->map, u->rows[n].key, u->rows[n].keylen,
		           (void *)(uintptr_t)(n + 1));
		n++;
	}
	u->nrows = n;
	u->ndead = 0;
}

void upsert_apply(struct upsert *u, enum upsert_op op, const char *p, size_t n)
{
	uintptr_t at = (uintptr_t)strmap_get(&u->map, u->key.p, u->key.len);
	struct upsert_row *r = at ? &u->rows[at - 1] : NULL;

	switch (op) {
	case UPSERT_UPDATE_BEFORE:
		return;
	case UPSERT_DELETE:
		if (!r)
			return;
		free(r->row);
		r->row = NULL;
		strmap_put(&u->map, u->key.p, u->key.len, NULL);
		u->ndead++;
		compact(u);
		return;
	case UPSERT_INSERT:
	case UPSERT_UPDATE_AFTER:
		break;
	}
	if (!r) {
		FX_GROW(u->rows, u->nrows + 1, u->caprows, 64);
		r = &u->rows[u->nrows++];
		r->key = fx_malloc(u->key.len + 1);
		memcpy(r->key, u->key.p, u->key.len);
		r->keylen = u->key.len;
		r->row = NULL;
		strmap_put(&u->map, u->key.p, u->key.len,
		           (void *)(uintptr_t)u->nrows);
	}
	free(r->row);
	r->row = fx_malloc(n + 1);
	memcpy(r->row, p, n);
	r->rowlen = n;
}

int upsert_next(const struct upsert *u, size_t *i, const char **p, size_t *n)
{
	while (*i < u->nrows && !u->rows[*i].row)
		(*i)++;
	if (*i >= u->nrows)
		return 0;
	*p = u->rows[*i].row;
	*n = u->rows[*i].rowlen;
	(*i)++;
	return 1;
}

void upsert_free(struct upsert *u)
{
	size_t i;

	for (i = 0; i < u->nrows; i++) {
		free(u->rows[i].key);
		free(u->rows[i].row);
	}
	free(u->rows);
	strmap_free(&u->map);
	fx_buf_free(&u->key);
}
