/* test_upsert.c - a changelog folded by key: kinds, key bytes, the fold */
#include "upsert.h"
#include "strlist.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Scans rec for paths; returns json_scan()'s flags. */
static int scan(const struct json_paths *ps, const char *rec,
                struct json_value *vals)
{
	struct json_scanner sc = {0};
	struct json_error err;
	int r = json_scan(&sc, ps, rec, strlen(rec), vals, &err, 0);

	json_scanner_free(&sc);
	return r;
}

static void init(struct upsert *u, struct json_paths *ps, const char *keys)
{
	struct fx_strlist l = {0};
	char *s = strdup(keys), *tok, *save = NULL;
	char err[256];

	for (tok = strtok_r(s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		fx_strlist_push(&l, tok);
	memset(ps, 0, sizeof(*ps));
	CHECK(upsert_init(u, &l, ps, err, sizeof(err)) == 0);
	fx_strlist_free(&l);
	free(s);
}

/* Reads rec: returns its op, or -1 for a bad record (field in *field). */
static int read_rec(struct upsert *u, const struct json_paths *ps,
                    const char *rec, const char **field)
{
	struct json_value vals[JSON_MAX_PATHS];
	enum upsert_op op;
	const char *why;

	CHECK(scan(ps, rec, vals) >= 0);
	if (upsert_read(u, vals, &op, field, &why))
		return -1;
	return (int)op;
}

static void test_kinds_and_keys(void)
{
	struct json_paths ps;
	struct upsert u;
	const char *field = NULL;
	char key[256];

	init(&u, &ps, "w,a.b,k");
	CHECK(read_rec(&u, &ps, "{\"w\":1,\"a\":{\"b\":null},\"k\":\"x\"}",
	               &field) == UPSERT_INSERT);
	snprintf(key, sizeof(key), "%.*s", (int)u.key.len, u.key.p);
	CHECK_STR(key, "[1,null,\"x\"]");
	/* values as they appear: escapes and nested spaces kept */
	CHECK(read_rec(&u, &ps,
	               "{\"_fx_op\":\"-U\",\"k\":\"\\u0078\",\"w\":[1, 2],"
	               "\"a\":{\"b\":2.50}}",
	               &field) == UPSERT_UPDATE_BEFORE);
	snprintf(key, sizeof(key), "%.*s", (int)u.key.len, u.key.p);
	CHECK_STR(key, "[[1, 2],2.50,\"\\u0078\"]");
	CHECK(read_rec(&u, &ps,
	               "{\"_fx_op\":\"+U\",\"w\":1,\"a\":{\"b\":1},\"k\":1}",
	               &field) == UPSERT_UPDATE_AFTER);
	CHECK(read_rec(&u, &ps,
	               "{\"_fx_op\":\"-D\",\"w\":1,\"a\":{\"b\":1},\"k\":1}",
	               &field) == UPSERT_DELETE);
	CHECK(read_rec(&u, &ps,
	               "{\"_fx_op\":\"+I\",\"w\":1,\"a\":{\"b\":1},\"k\":1}",
	               &field) == UPSERT_INSERT);
	CHECK(read_rec(&u, &ps, "{\"_fx_op\":\"+D\",\"w\":1,\"a\":1,\"k\":1}",
	               &field) == -1);
	CHECK(field && !strcmp(field, "_fx_op"));
	CHECK(read_rec(&u, &ps, "{\"_fx_op\":1,\"w\":1,\"a\":1,\"k\":1}",
	               &field) == -1);
	CHECK(read_rec(&u, &ps, "{\"w\":1,\"a\":{\"c\":1},\"k\":1}", &field) ==
	      -1);
	CHECK(field && !strcmp(field, "a.b"));
	upsert_free(&u);
	json_paths_free(&ps);
}

static void test_init_errors(void)
{
	struct fx_strlist l = {0};
	struct json_paths ps = {0};
	struct upsert u;
	char err[256];

	CHECK(upsert_init(&u, &l, &ps, err, sizeof(err)) == -1);
	fx_strlist_push(&l, "k");
	fx_strlist_push(&l, "k");
	CHECK(upsert_init(&u, &l, &ps, err, sizeof(err)) == -1);
	CHECK_STR(err, "'k' twice");
	fx_strlist_free(&l);
	json_paths_free(&ps);
}

/*
 * The fold against a model: a list of (key, value) where an insert of a
 * new key appends, of a present key replaces in place, a delete removes.
 */
#define NKEYS 23

static void test_fold_model(void)
{
	struct json_paths ps;
	struct upsert u;
	int model_key[NKEYS], model_val[NKEYS], nmodel = 0;
	int step, i, bad = 0;
	unsigned seed = 12345;

	init(&u, &ps, "k");
	for (step = 0; step < 20000; step++) {
		static const char *const ops[] = {"+I", "-U", "+U", "-D"};
		char rec[128];
		const char *field;
		int k, op, at = -1;

		seed = seed * 1103515245u + 12345u;
		k = (int)((seed >> 8) % NKEYS);
		op = (int)((seed >> 20) % 4);
		snprintf(rec, sizeof(rec),
		         "{\"_fx_op\":\"%s\",\"k\":%d,\"v\":%d}", ops[op], k,
		         step);
		CHECK(read_rec(&u, &ps, rec, &field) == op);
		upsert_apply(&u, (enum upsert_op)op, rec, strlen(rec));
		for (i = 0; i < nmodel; i++)
			if (model_key[i] == k)
				at = i;
		if (op == UPSERT_DELETE && at >= 0) {
			memmove(model_key + at, model_key + at + 1,
			        (size_t)(nmodel - at - 1) * sizeof(int));
			memmove(model_val + at, model_val + at + 1,
			        (size_t)(nmodel - at - 1) * sizeof(int));
			nmodel--;
		} else if (op == UPSERT_INSERT || op == UPSERT_UPDATE_AFTER) {
			if (at < 0) {
				at = nmodel++;
				model_key[at] = k;
			}
			model_val[at] = step;
		}
		if (step % 97 == 0 || step == 19999) {
			const char *p;
			size_t n, it = 0;
			int j = 0;

			while (upsert_next(&u, &it, &p, &n)) {
				char want[128];

				if (j >= nmodel) {
					bad++;
					break;
				}
				snprintf(
				    want, sizeof(want),
				    "{\"_fx_op\":\"%s\",\"k\":%d,\"v\":%d}", "",
				    model_key[j], model_val[j]);
				/* the op is + I or U: compare around it */
				bad += n != 14 + strlen(want + 12) ||
				       memcmp(p + 14, want + 12, n - 14) != 0;
				j++;
			}
			bad += j != nmodel;
		}
	}
	CHECK_MSG(bad == 0, "%d differences from the model", bad);
	/* deleted rows were dropped now and then, not kept for ever */
	CHECK(u.nrows < 200);
	upsert_free(&u);
	json_paths_free(&ps);
}

int main(void)
{
	RUN(test_kinds_and_keys);
	RUN(test_init_errors);
	RUN(test_fold_model);
	return unit_done("test_upsert");
}
