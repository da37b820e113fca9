/*
 * test_aggfn.c - exact sums (Shewchuk partials, as math.fsum), their
 * partial states and merges; first/last ties; one spelling of a string.
 * Expected values are math.fsum's, worked out by hand in the comments.
 */
#include "aggfn.h"
#include "buf.h"
#include "json.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static struct agg_set set;
static struct json_paths paths;

static void setup(const char *spec, int merge)
{
	char err[256];
	char *specs[] = {(char *)spec};

	memset(&paths, 0, sizeof(paths));
	if (agg_set_parse(&set, specs, 1, merge, &paths, err, sizeof(err)))
		fprintf(stderr, "agg_set_parse: %s\n", err);
}

static void teardown(void)
{
	agg_set_free(&set);
	json_paths_free(&paths);
}

/* Adds the JSON values (as written) to state, at event time t. */
static void add(void *state, const char *const *vals, size_t n, int64_t t)
{
	struct json_value v[JSON_MAX_PATHS];
	struct fx_num nums[JSON_MAX_PATHS];
	struct agg_error e;
	size_t i;

	for (i = 0; i < n; i++) {
		memset(v, 0, sizeof(v));
		v[0].p = vals[i];
		v[0].len = strlen(vals[i]);
		v[0].type = json_type_of(v[0].p, v[0].len);
		v[0].escaped = memchr(v[0].p, '\\', v[0].len) != NULL;
		CHECK(agg_set_check(&set, v, nums, &e) == 0);
		CHECK(agg_set_update(&set, state, v, nums, t, &e) == 0);
	}
}

/* The result column of state, without the ,"name": before it. */
static char *result(const void *state)
{
	static char text[256];
	struct fx_buf b = FX_BUF_INIT;
	char *colon;

	agg_set_write_results(&set, state, &b);
	fx_buf_addc(&b, 0);
	colon = strchr(b.p, ':');
	snprintf(text, sizeof(text), "%s", colon ? colon + 1 : "");
	fx_buf_free(&b);
	return text;
}

static void *state_new(void)
{
	return calloc(1, agg_set_state_size(&set) + 1);
}

static void state_del(void *s)
{
	agg_set_state_free(&set, s);
	free(s);
}

static void sum_of(const char *const *vals, size_t n, const char *want)
{
	void *s = state_new();

	add(s, vals, n, 0);
	CHECK_STR(result(s), want);
	state_del(s);
}

static void test_exact_sums(void)
{
	/* fsum([1e100, 1.0, -1e100]) == 1.0; a running double says 0 */
	const char *cancel[] = {"1e100", "1.0", "-1e100"};
	/* fsum([0.1] * 10) == 1.0; a running double 0.9999999999999999 */
	const char *tenths[] = {"0.1", "0.1", "0.1", "0.1", "0.1",
	                        "0.1", "0.1", "0.1", "0.1", "0.1"};
	/* fsum([1e16, 1.0, 1e-16]) == 10000000000000002.0: 1e16 + 1 is a
	 * tie that rounds down to even unless the 1e-16 is seen */
	const char *tie[] = {"1e16", "1.0", "1e-16"};
	/* integers exactly: 2^53 + 1 + 0.5 = 9007199254740993.5, nearest
	 * double 9007199254740994 (a double int sum would give ...992) */
	const char *mixed[] = {"9007199254740992", "1", "0.5"};
	const char *ints[] = {"9007199254740993", "1"};

	setup("sum:v", 0);
	sum_of(cancel, 3, "1");
	sum_of(tenths, 10, "1");
	sum_of(tie, 3, "10000000000000002");
	sum_of(mixed, 3, "9007199254740994");
	sum_of(ints, 2, "9007199254740994");
	teardown();
	setup("avg:v", 0);
	sum_of(tenths, 10, "0.1");
	sum_of(cancel, 3, "0.3333333333333333");
	teardown();
}

/* Partial states written and read back, merged in both orders. */
static void test_partials_merge(void)
{
	/* a shard's rounded sum would lose the tie: 1e16 + 1.0 is 1e16 */
	const char *a[] = {"1e16", "1.0"}, *b[] = {"1e-16"};
	void *sa, *sb, *m1, *m2;
	struct fx_buf pa = FX_BUF_INIT, pb = FX_BUF_INIT;
	struct json_value v[JSON_MAX_PATHS];
	struct agg_error e;

	setup("sum:v", 0);
	sa = state_new();
	sb = state_new();
	add(sa, a, 2, 0);
	add(sb, b, 1, 0);
	agg_set_write_partials(&set, sa, &pa);
	agg_set_write_partials(&set, sb, &pb);
	state_del(sa);
	state_del(sb);
	teardown();

	setup("sum:v", 1);
	m1 = state_new();
	m2 = state_new();
	sa = state_new();
	sb = state_new();
	memset(v, 0, sizeof(v));
	v[0].type = JSON_OBJECT;
	v[0].p = strchr(pa.p, '{');
	v[0].len = pa.len - (size_t)(v[0].p - pa.p);
	CHECK(agg_set_read_partials(&set, sa, v, &e) == 0);
	v[0].p = strchr(pb.p, '{');
	v[0].len = pb.len - (size_t)(v[0].p - pb.p);
	CHECK(agg_set_read_partials(&set, sb, v, &e) == 0);
	CHECK(agg_set_merge(&set, m1, sa, &e) == 0);
	CHECK(agg_set_merge(&set, m1, sb, &e) == 0);
	CHECK(agg_set_merge(&set, m2, sb, &e) == 0);
	CHECK(agg_set_merge(&set, m2, sa, &e) == 0);
	/* fsum([1e16, 1.0, 1e-16]) == 10000000000000002.0 */
	CHECK_STR(result(m1), "10000000000000002");
	CHECK_STR(result(m2), "10000000000000002");
	state_del(m1);
	state_del(m2);
	state_del(sa);
	state_del(sb);
	fx_buf_free(&pa);
	fx_buf_free(&pb);
	teardown();
}

static void test_first_last_ties(void)
{
	const char *v1[] = {"\"b\"", "\"a\"", "\"c\""};
	const char *v2[] = {"\"c\"", "\"b\"", "\"a\""};
	void *s;

	setup("first:v", 0);
	s = state_new();
	add(s, v1, 3, 5);
	CHECK_STR(result(s), "\"a\"");
	state_del(s);
	s = state_new();
	add(s, v2, 3, 5);
	CHECK_STR(result(s), "\"a\"");
	state_del(s);
	teardown();
	setup("last:v", 0);
	s = state_new();
	add(s, v1, 3, 5);
	CHECK_STR(result(s), "\"c\"");
	state_del(s);
	teardown();
}

static void test_one_spelling(void)
{
	const char *v[] = {"\"\\u0078\"", "\"x\"", "\"\\u00e9\\/\""};
	void *s;

	setup("topk:v:2", 0);
	s = state_new();
	add(s, v, 3, 0);
	CHECK_STR(
	    result(s),
	    "[{\"value\":\"x\",\"count\":2},{\"value\":\"é/\",\"count\":1}]");
	state_del(s);
	teardown();
	setup("min:v", 0);
	s = state_new();
	add(s, v, 1, 0);
	CHECK_STR(result(s), "\"x\"");
	state_del(s);
	teardown();
}

int main(void)
{
	RUN(test_exact_sums);
	RUN(test_partials_merge);
	RUN(test_first_last_ties);
	RUN(test_one_spelling);
	return unit_done("test_aggfn");
}
