/*
 * test_keysort.c - the radix+merge sort of groups by key (keysort.h)
 * against qsort with group_key_compare on random keys: strings of 0 to 40
 * bytes with shared prefixes (around the 7 bytes a prefix holds), escapes
 * and bytes above 0x7f, numbers (integers around 2^49, -0, doubles equal
 * to integers), literals, duplicates; 0 to 3 fields; n from 0 to 100,000.
 */
#include "grouptable.h"
#include "keysort.h"
#include "unit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

/* splitmix64: a fixed, portable stream so that every run tests the same */
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t pick(size_t n)
{
	return (size_t)(rng() % n);
}

/* A JSON string of 0 to 40 bytes (escapes count as their bytes). */
static size_t gen_string(char *o)
{
	static const char *prefixes[] = {
	    "",        "a",        "ab",       "user_", "user_1",  "abcdef",
	    "abcdefg", "abcdefgh", "abcdefgi", "\\\"x", "\xc3\xa9"};
	static const char *pieces[] = {"a",       "b",        "z",    "0",
	                               "~",       " ",        "\\n",  "\\\\",
	                               "\\u00e9", "\xc3\xa9", "\x7f", "_"};
	size_t max = pick(41), n = 0;
	const char *pre = prefixes[pick(sizeof(prefixes) / sizeof(*prefixes))];

	o[n++] = '"';
	if (strlen(pre) <= max) {
		memcpy(o + n, pre, strlen(pre));
		n += strlen(pre);
	}
	while (n - 1 < max) {
		const char *p = pieces[pick(sizeof(pieces) / sizeof(*pieces))];
		size_t l = strlen(p);

		if (n - 1 + l > max)
			break;
		memcpy(o + n, p, l);
		n += l;
	}
	o[n++] = '"';
	return n;
}

/* A JSON number: small and large integers, -0, doubles (some integral). */
static size_t gen_number(char *o)
{
	static const char *fixed[] = {
	    "0",      "-0",  "1",   "1.0",  "-1",     "0.0",
	    "-0.0",   "1e0", "2.5", "-2.5", "1e300",  "-1e300",
	    "1e-300", "0.1", "1E2", "100",  "99.999", "-100.5"};
	int64_t i;

	switch (pick(5)) {
	case 0:
		return (size_t)sprintf(
		    o, "%s", fixed[pick(sizeof(fixed) / sizeof(*fixed))]);
	case 1:
		return (size_t)sprintf(o, "%d", (int)pick(201) - 100);
	case 2: /* around 2^49 to 2^52: the prefix drops low bits there */
		i = ((int64_t)1 << (49 + pick(4))) + (int64_t)pick(17) - 8;
		return (size_t)sprintf(o, "%s%lld", pick(2) ? "-" : "",
		                       (long long)i);
	case 3: /* up to 2^52: integers that are exact doubles */
		i = (int64_t)(rng() >> 12);
		return (size_t)sprintf(o, "%s%lld", pick(2) ? "-" : "",
		                       (long long)i);
	default:
		return (size_t)sprintf(
		    o, "%.*g", (int)pick(17) + 1,
		    ((double)(int64_t)(rng() >> 11) - (double)(1LL << 52)) /
		        (double)(1 + pick(1000)));
	}
}

static size_t gen_value(char *o)
{
	static const char *lits[] = {"null",  "true", "false",
	                             "[1,2]", "{}",   "[]"};

	switch (pick(8)) {
	case 0:
		return (size_t)sprintf(
		    o, "%s", lits[pick(sizeof(lits) / sizeof(*lits))]);
	case 1:
	case 2:
	case 3:
		return gen_number(o);
	default:
		return gen_string(o);
	}
}

/* A group with a random key of nby fields (grouptable.h's format). */
static struct agg_group *gen_group(size_t nby, int mode)
{
	char key[3 * (4 + 64)];
	size_t len = 0, i;
	struct agg_group *g;

	for (i = 0; i < nby; i++) {
		uint32_t n;

		/* mode 1: numbers only; mode 2: strings only */
		n = (uint32_t)(mode == 1   ? gen_number(key + len + 4)
		               : mode == 2 ? gen_string(key + len + 4)
		                           : gen_value(key + len + 4));
		memcpy(key + len, &n, 4);
		len += 4 + n;
	}
	g = calloc(1, sizeof(*g) + len + 1);
	if (!g)
		abort();
	g->keylen = (uint32_t)len;
	memcpy(g->key, key, len);
	return g;
}

/* A key as its values: a,b,c */
static void print_key(const struct agg_group *g)
{
	const char *k = g->key, *end = g->key + g->keylen;

	while (k < end) {
		uint32_t n = group_key_field_len(k);

		fprintf(stderr, "%s%.*s", k == g->key ? "" : ",", (int)n,
		        k + 4);
		k += 4 + n;
	}
}

static size_t cmp_nby;

static int cmp_groups(const void *a, const void *b)
{
	const struct agg_group *x = *(struct agg_group *const *)a;
	const struct agg_group *y = *(struct agg_group *const *)b;

	return group_key_compare(x->key, x->keylen, y->key, y->keylen, cmp_nby);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a;
	uintptr_t y = (uintptr_t) * (void *const *)b;

	return x < y ? -1 : x > y;
}

/*
 * Sorts n random groups (dups: from a pool of n / dups + 1 keys) both ways
 * and checks that keysort gives a permutation in qsort's order. Returns 1
 * if it did.
 */
static int check_sort(size_t n, size_t nby, size_t dups, int mode,
                      uint64_t seed)
{
	struct agg_group **g = malloc((n + 1) * sizeof(*g));
	struct agg_group **ref = malloc((n + 1) * sizeof(*ref));
	struct agg_group **got = malloc((n + 1) * sizeof(*got));
	struct keysort_item *buf = malloc((2 * n + 1) * sizeof(*buf));
	const struct keysort_item *out;
	size_t i, pool = dups ? n / dups + 1 : n, bad = 0;

	rng_state = seed;
	for (i = 0; i < n; i++) {
		if (i < pool) {
			g[i] = gen_group(nby, mode);
		} else {
			/* the same key again, in a group of its own */
			const struct agg_group *o = g[pick(pool)];

			g[i] = calloc(1, sizeof(*o) + o->keylen + 1);
			g[i]->keylen = o->keylen;
			memcpy(g[i]->key, o->key, o->keylen);
		}
	}
	/* shuffle, so that the duplicates are not at the end */
	for (i = n; i > 1; i--) {
		size_t j = pick(i);
		struct agg_group *t = g[i - 1];

		g[i - 1] = g[j];
		g[j] = t;
	}
	memcpy(ref, g, n * sizeof(*g));
	cmp_nby = nby;
	qsort(ref, n, sizeof(*ref), cmp_groups);
	out = keysort_groups(buf, g, n, nby);
	CHECK(n == 0 || out == buf || out == buf + n);
	for (i = 0; i < n; i++) {
		got[i] = (struct agg_group *)out[i].g;
		if (group_key_compare(got[i]->key, got[i]->keylen, ref[i]->key,
		                      ref[i]->keylen, nby) != 0) {
			if (!bad++) {
				fprintf(
				    stderr,
				    "keysort: n %zu, %zu fields: item %zu: ", n,
				    nby, i);
				print_key(got[i]);
				fprintf(stderr, " where qsort has ");
				print_key(ref[i]);
				fputc('\n', stderr);
			}
		}
	}
	/* every group once: the same pointers */
	qsort(got, n, sizeof(*got), cmp_ptr);
	memcpy(ref, g, n * sizeof(*g));
	qsort(ref, n, sizeof(*ref), cmp_ptr);
	for (i = 0; i < n; i++)
		if (got[i] != ref[i])
			bad++;
	for (i = 0; i < n; i++)
		free(g[i]);
	free(g);
	free(ref);
	free(got);
	free(buf);
	return bad == 0;
}

static const size_t sizes[] = {0, 1, 2, 3, 8, 9, 63, 64, 65, 1000, 100000};

/* one field of any type, with and without duplicates */
static void test_one_field(void)
{
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		CHECK_MSG(check_sort(sizes[i], 1, 0, 0, 1 + i), "n %zu",
		          sizes[i]);
		CHECK_MSG(check_sort(sizes[i], 1, 4, 0, 100 + i),
		          "n %zu, duplicates", sizes[i]);
	}
}

/* two and three fields: the second's prefix, then the full comparison */
static void test_more_fields(void)
{
	size_t i, nby;

	for (nby = 2; nby <= 3; nby++)
		for (i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
			CHECK_MSG(check_sort(sizes[i], nby, 0, 0, 200 + i),
			          "n %zu nby %zu", sizes[i], nby);
			CHECK_MSG(check_sort(sizes[i], nby, 3, 0, 300 + i),
			          "n %zu nby %zu, duplicates", sizes[i], nby);
		}
}

/* strings only (shared prefixes of 7 and 8 bytes), numbers only */
static void test_one_type(void)
{
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
		CHECK_MSG(check_sort(sizes[i], 1, 0, 2, 400 + i),
		          "n %zu strings", sizes[i]);
		CHECK_MSG(check_sort(sizes[i], 2, 2, 2, 500 + i),
		          "n %zu strings, 2 fields, duplicates", sizes[i]);
		CHECK_MSG(check_sort(sizes[i], 1, 0, 1, 600 + i),
		          "n %zu numbers", sizes[i]);
		CHECK_MSG(check_sort(sizes[i], 2, 2, 1, 700 + i),
		          "n %zu numbers, 2 fields, duplicates", sizes[i]);
	}
}

/* no --by: every key empty */
static void test_no_fields(void)
{
	CHECK(check_sort(0, 0, 0, 0, 800));
	CHECK(check_sort(1, 0, 0, 0, 801));
	CHECK(check_sort(100, 0, 0, 0, 802));
}

/* the order itself: by type, numbers by value, strings by bytes */
static void test_compare(void)
{
	static const char *order[] = {
	    "null",         "false", "true",         "-1e300", "-3",
	    "-0",           "0",     "0.0",          "1",      "1.0",
	    "1.5",          "2",     "10",           "1e300",  "\"\"",
	    "\"A\"",        "\"a\"", "\"a b\"",      "\"ab\"", "\"abcdefg\"",
	    "\"abcdefgh\"", "\"b\"", "\"\xc3\xa9\"", "[1]",    "{}"};
	char a[64], b[64];
	size_t i, j, n = sizeof(order) / sizeof(*order);

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			uint32_t la = (uint32_t)strlen(order[i]);
			uint32_t lb = (uint32_t)strlen(order[j]);
			int c;

			memcpy(a, &la, 4);
			memcpy(a + 4, order[i], la);
			memcpy(b, &lb, 4);
			memcpy(b + 4, order[j], lb);
			c = group_key_compare(a, 4 + la, b, 4 + lb, 1);
			CHECK_MSG((c < 0) == (i < j) && (c == 0) == (i == j),
			          "%s vs %s: %d", order[i], order[j], c);
		}
}

int main(void)
{
	RUN(test_compare);
	RUN(test_no_fields);
	RUN(test_one_field);
	RUN(test_more_fields);
	RUN(test_one_type);
	return unit_done("test_keysort");
}
