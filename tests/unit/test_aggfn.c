/*
 * test_aggfn.c - exact sums (Shewchuk partials, as math.fsum), their
 * partial states and merges; first/last ties; one spelling of a string.
 * Expected values are math.fsum's, worked out by hand in the comments.
 * Every kind in the table of aggregates: complete, named in the message for
 * an unknown one, and merging (directly or through partial states) gives
 * the single run's result.
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
	CHECK(agg_set_merge(&set, m1, sa, AGG_ANY, &e) == 0);
	CHECK(agg_set_merge(&set, m1, sb, AGG_ANY, &e) == 0);
	CHECK(agg_set_merge(&set, m2, sb, AGG_ANY, &e) == 0);
	CHECK(agg_set_merge(&set, m2, sa, AGG_ANY, &e) == 0);
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

/* A state of the JSON numbers vals, by the spec set up (sum:v or avg:v). */
static void *sum_state(const char *const *vals, size_t n)
{
	void *st = state_new();

	add(st, vals, n, 0);
	return st;
}

/* The --partial state of st, after its ,"name": */
static char *partial_of(const void *st)
{
	static char text[256];
	struct fx_buf b = FX_BUF_INIT;

	agg_set_write_partials(&set, st, &b);
	fx_buf_addc(&b, 0);
	snprintf(text, sizeof(text), "%s", strchr(b.p, ':') + 1);
	fx_buf_free(&b);
	return text;
}

/* json read as a partial state (set up with merge): 0, or -1 */
static int read_partial(void *st, const char *json)
{
	struct json_value v[JSON_MAX_PATHS];
	struct agg_error e;

	memset(v, 0, sizeof(v));
	v[0].p = json;
	v[0].len = strlen(json);
	v[0].type = json_type_of(v[0].p, v[0].len);
	return agg_set_read_partials(&set, st, v, &e);
}

/*
 * One run refuses the integer that takes its running sum past an int64,
 * even if later ones would bring it back: a merge in input order refuses
 * it too, by the running sums' least and greatest, kept in the state and
 * in its partial. Worked out by hand: MAX = 9223372036854775807.
 */
static void test_sum_running_bounds(void)
{
	/* MAX - 1, then +5 -10: one run refuses the 5 (MAX + 4) */
	const char *big[] = {"9223372036854775806"}, *back[] = {"5", "-10"};
	/* MIN + 1, then -5 +10: one run refuses the -5 */
	const char *low[] = {"-9223372036854775807"}, *up[] = {"-5", "10"};
	/* MAX - 10, then two shards of +8 -8 */
	const char *near[] = {"9223372036854775797"}, *bump[] = {"8", "-8"};
	const char *specs[] = {"sum:v", "avg:v"};
	struct agg_error e;
	void *a, *b, *m;
	size_t k;

	for (k = 0; k < 2; k++) {
		setup(specs[k], 0);
		a = sum_state(big, 1);
		b = sum_state(back, 2);
		/* a's values, then b's: refused, and m unchanged */
		m = sum_state(big, 1);
		CHECK(agg_set_merge(&set, m, b, AGG_AFTER, &e) == -1);
		CHECK(strstr(e.reason, "part way") != NULL);
		CHECK_STR(partial_of(m),
		          "{\"i\":9223372036854775806,\"d\":[],\"n\":1}");
		state_del(m);
		/* held the other way round: the same */
		m = sum_state(back, 2);
		CHECK(agg_set_merge(&set, m, a, AGG_BEFORE, &e) == -1);
		state_del(m);
		/* b's values, then a's: one run takes them all */
		m = sum_state(back, 2);
		CHECK(agg_set_merge(&set, m, a, AGG_AFTER, &e) == 0);
		CHECK_STR(result(m),
		          k ? "3.0744573456182584e+18" : "9223372036854775801");
		state_del(m);
		m = sum_state(big, 1);
		CHECK(agg_set_merge(&set, m, b, AGG_BEFORE, &e) == 0);
		CHECK_STR(result(m),
		          k ? "3.0744573456182584e+18" : "9223372036854775801");
		state_del(m);
		/* no order: only the total (as one run's sessions) */
		m = sum_state(big, 1);
		CHECK(agg_set_merge(&set, m, b, AGG_ANY, &e) == 0);
		state_del(m);
		state_del(a);
		state_del(b);
		/* below: MIN + 1 then -5 */
		a = sum_state(low, 1);
		b = sum_state(up, 2);
		CHECK(agg_set_merge(&set, a, b, AGG_AFTER, &e) == -1);
		CHECK(agg_set_merge(&set, b, a, AGG_AFTER, &e) == 0);
		CHECK_STR(partial_of(b),
		          "{\"i\":-9223372036854775802,\"d\":[],\"n\":3,"
		          "\"hi\":5}");
		state_del(a);
		state_del(b);
		/* two shards of +8 -8 after MAX - 10: in order, each fits;
		 * interleaved, +8 +8 would not */
		a = sum_state(near, 1);
		b = sum_state(bump, 2);
		m = sum_state(near, 1);
		CHECK(agg_set_merge(&set, m, b, AGG_AFTER, &e) == 0);
		CHECK(agg_set_merge(&set, m, b, AGG_AFTER, &e) == 0);
		state_del(m);
		CHECK(agg_set_merge(&set, a, b, AGG_INTERLEAVED, &e) == 0);
		CHECK(agg_set_merge(&set, a, b, AGG_INTERLEAVED, &e) == -1);
		state_del(a);
		state_del(b);
		teardown();
	}
}

/* The bounds in a partial state where they are not min(0, i), max(0, i). */
static void test_sum_bounds_partial(void)
{
	const char *back[] = {"5", "-10"}, *dip[] = {"-10", "15"};
	struct agg_error e;
	void *st, *m;

	setup("sum:v", 0);
	st = sum_state(back, 2);
	CHECK_STR(partial_of(st), "{\"i\":-5,\"d\":[],\"n\":2,\"hi\":5}");
	state_del(st);
	st = sum_state(dip, 2);
	CHECK_STR(partial_of(st), "{\"i\":5,\"d\":[],\"n\":2,\"lo\":-10}");
	state_del(st);
	/* a merge in order keeps them exact: 5 -10 then -10 15 */
	st = sum_state(back, 2);
	m = sum_state(dip, 2);
	CHECK(agg_set_merge(&set, st, m, AGG_AFTER, &e) == 0);
	CHECK_STR(partial_of(st),
	          "{\"i\":0,\"d\":[],\"n\":4,\"lo\":-15,\"hi\":5}");
	state_del(st);
	state_del(m);
	teardown();

	setup("sum:v", 1);
	st = state_new();
	CHECK(read_partial(st, "{\"i\":-5,\"d\":[],\"n\":2,\"hi\":5}") == 0);
	/* read back, it refuses what one run would: after MAX - 1 */
	m = state_new();
	CHECK(read_partial(m, "{\"i\":9223372036854775806,\"d\":[],\"n\":1}") ==
	      0);
	CHECK(agg_set_merge(&set, m, st, AGG_AFTER, &e) == -1);
	state_del(m);
	state_del(st);
	/* without them, a partial's bounds are its total's */
	st = state_new();
	CHECK(read_partial(st, "{\"i\":-5,\"d\":[],\"n\":2}") == 0);
	m = state_new();
	CHECK(read_partial(m, "{\"i\":9223372036854775806,\"d\":[],\"n\":1}") ==
	      0);
	CHECK(agg_set_merge(&set, m, st, AGG_AFTER, &e) == 0);
	CHECK_STR(result(m), "9223372036854775801");
	state_del(m);
	state_del(st);
	/* bounds that do not hold the total, or not integers: refused */
	st = state_new();
	CHECK(read_partial(st, "{\"i\":5,\"d\":[],\"n\":2,\"lo\":1}") == -1);
	state_del(st);
	st = state_new();
	CHECK(read_partial(st, "{\"i\":5,\"d\":[],\"n\":2,\"hi\":4}") == -1);
	state_del(st);
	st = state_new();
	CHECK(read_partial(st, "{\"i\":-5,\"d\":[],\"n\":2,\"lo\":-6.5}") ==
	      -1);
	state_del(st);
	st = state_new();
	CHECK(read_partial(st, "{\"i\":5,\"d\":[],\"n\":2,\"hi\":\"9\"}") ==
	      -1);
	state_del(st);
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

/* agg_spec_parse(): the column fx-agg writes and the field it reads, as
 * agg_set_parse() names them (fx-run --check's one rule) */
static void test_spec_parse_names(void)
{
	static const char *const cases[][3] = {
	    {"count", "count", NULL},
	    {"count:a.b", "count_a_b", "a.b"},
	    {"sum:a.b", "sum_a_b", "a.b"},
	    {"p50:a.b", "p50_a_b", "a.b"},
	    {"quantile:v:0.50", "q0_5_v", "v"},
	    {"quantile:a.b:1e-1", "q0_1_a_b", "a.b"},
	    {"topk:v:03", "top3_v", "v"},
	    {"x.y=sum:v", "x.y", "v"},
	};
	struct agg_spec a;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_MSG(agg_spec_parse(&a, cases[i][0], err, sizeof(err)) ==
		              0,
		          "%s: %s", cases[i][0], err);
		CHECK_STR(a.name, cases[i][1]);
		if (cases[i][2])
			CHECK(a.field && !strcmp(a.field, cases[i][2]));
		else
			CHECK(a.field == NULL);
		CHECK(a.path == -1);
		agg_spec_free(&a);
		CHECK(a.name == NULL && a.field == NULL);
	}
	CHECK(agg_spec_parse(&a, "quantile:v", err, sizeof(err)) == -1);
	CHECK_STR(err, "'quantile:v': expected quantile:FIELD:Q");
	CHECK(a.name == NULL && a.field == NULL);
}

/* ---- every kind in the table ---- */

static void test_table_complete(void)
{
	size_t k;

	for (k = 0; k < AGG_NKINDS; k++) {
		const struct agg_op *op = &agg_ops[k];

		CHECK_MSG(op->name && op->kind == (enum agg_kind)k && op->size,
		          "agg_ops[%zu] has no entry", k);
		if (!op->name)
			continue;
		CHECK_MSG(op->update && op->merge && op->result &&
		              op->partial && op->read,
		          "%s: an operation is missing", op->name);
		CHECK_MSG(!op->param || (op->usage && op->rule && op->prefix),
		          "%s: a parameter without usage, rule or prefix",
		          op->name);
		CHECK_MSG(!op->alias || op->aliases, "%s: alias unnamed",
		          op->name);
	}
}

static void test_unknown_names_every_kind(void)
{
	char err[512];
	char *specs[] = {"nosuch:v"};
	struct agg_set s;
	struct json_paths p;
	size_t k;

	memset(&p, 0, sizeof(p));
	CHECK(agg_set_parse(&s, specs, 1, 0, &p, err, sizeof(err)) == -1);
	for (k = 0; k < AGG_NKINDS; k++)
		CHECK_MSG(agg_ops[k].name && strstr(err, agg_ops[k].name),
		          "'%s' not in: %s", agg_ops[k].name, err);
	agg_set_free(&s);
	json_paths_free(&p);
}

struct tval {
	const char *json; /* NULL: missing */
	int64_t t;
};

/* Ties of time and of value, both spellings of a string, every type. */
static const struct tval tvals[] = {
    {"3", 5},
    {"1.5", 2},
    {"\"b\"", 5},
    {NULL, 3},
    {"null", 1},
    {"\"\\u0078\"", 7},
    {"\"x\"", 7},
    {"-2", 7},
    {"1e16", 1},
    {"{\"o\":[1,2]}", 4},
    {"[1,\"a\"]", 5},
    {"true", 9},
    {"1.0", 9},
    {"1", 9},
    {"0.1", 0},
    {"1e-16", 4},
    {"\"\\u00e9\\/\"", 2},
    {"false", 6},
    {"-0.5", 6},
    {"9007199254740993", 3},
    {"\"b\"", 0},
    {"1e300", 8},
    {"1e200", 3},
    {"1e-300", 5},
    {"1e100", 2},
    {"1e-200", 1},
};

static struct json_value jv(const char *json)
{
	struct json_value v = {JSON_MISSING, "", 0, 0};

	if (json) {
		v.p = json;
		v.len = strlen(json);
		v.type = json_type_of(v.p, v.len);
		v.escaped = memchr(v.p, '\\', v.len) != NULL;
	}
	return v;
}

/*
 * Parses a spec of kind op into *s (field v; with a parameter, the first of
 * a few that the kind takes). Returns 0, or -1 if none parses to that kind.
 */
static int spec_of(const struct agg_op *op, int merge, struct agg_set *s,
                   struct json_paths *p)
{
	static const char *const params[] = {"0.5", "2"};
	char spec[64], err[256];
	char *specs[] = {spec};
	size_t i;

	for (i = 0; i < (op->param ? 2 : 1); i++) {
		if (op->flags & AGG_OP_NO_FIELD)
			snprintf(spec, sizeof(spec), "%s", op->name);
		else if (op->param)
			snprintf(spec, sizeof(spec), "%s:v:%s", op->name,
			         params[i]);
		else
			snprintf(spec, sizeof(spec), "%s:v", op->name);
		memset(p, 0, sizeof(*p));
		if (agg_set_parse(s, specs, 1, merge, p, err, sizeof(err)) ==
		        0 &&
		    s->v[0].kind == op->kind && s->v[0].op == op)
			return 0;
		agg_set_free(s);
		json_paths_free(p);
	}
	return -1;
}

static void update_range(const struct agg_set *s, void *state,
                         const struct tval *v, size_t from, size_t to)
{
	struct json_value vals[JSON_MAX_PATHS];
	struct fx_num nums[JSON_MAX_PATHS];
	struct agg_error e;
	size_t i;

	for (i = from; i < to; i++) {
		memset(vals, 0, sizeof(vals));
		vals[0] = jv(v[i].json);
		CHECK(agg_set_check(s, vals, nums, &e) == 0);
		CHECK(agg_set_update(s, state, vals, nums, v[i].t, &e) == 0);
	}
}

/* The row's columns as text; caller frees. */
static char *results_of(const struct agg_set *s, const void *state)
{
	struct fx_buf b = FX_BUF_INIT;
	char *text;

	agg_set_write_results(s, state, &b);
	fx_buf_addc(&b, 0);
	text = strdup(b.p);
	fx_buf_free(&b);
	return text;
}

/* state written as a partial state by s and read back by ms (--merge). */
static void *through_partial(const struct agg_set *s, const struct agg_set *ms,
                             const void *state)
{
	struct fx_buf b = FX_BUF_INIT;
	struct json_value vals[JSON_MAX_PATHS];
	struct agg_error e;
	void *back = calloc(1, agg_set_state_size(ms) + 1);
	char *colon;

	agg_set_write_partials(s, state, &b);
	fx_buf_addc(&b, 0);
	colon = strchr(b.p, ':'); /* ,"name":STATE (no ':' in names here) */
	memset(vals, 0, sizeof(vals));
	vals[0] = jv(colon + 1);
	CHECK_MSG(agg_set_read_partials(ms, back, vals, &e) == 0, "%s: %s", b.p,
	          e.reason);
	fx_buf_free(&b);
	return back;
}

static void state_free(const struct agg_set *s, void *state)
{
	agg_set_state_free(s, state);
	free(state);
}

/* A state of records [from, to) of v; free with state_free(). */
static void *run(const struct agg_set *s, const struct tval *v, size_t from,
                 size_t to)
{
	void *state = calloc(1, agg_set_state_size(s) + 1);

	update_range(s, state, v, from, to);
	return state;
}

/*
 * Records [a0, a1) and [b0, b1) of v in one run, and in two shards, one
 * merged into the other (either way round, and either through its partial
 * state): the same row.
 */
static void check_merge(const struct agg_set *s, const struct agg_set *ms,
                        const struct tval *v, size_t a0, size_t a1, size_t b0,
                        size_t b1)
{
	static const char *const how[] = {
	    "second merged into first", "first merged into second",
	    "second's partial state merged into first",
	    "second merged into first's partial state"};
	void *one = run(s, v, a0, a1), *a = run(s, v, a0, a1);
	void *b = run(s, v, b0, b1), *into[4];
	char *want, *got;
	struct agg_error e;
	int i;

	update_range(s, one, v, b0, b1);
	want = results_of(s, one);
	/* in order (a's values, then b's) and in none */
	into[0] = run(s, v, a0, a1);
	CHECK(agg_set_merge(s, into[0], b, AGG_AFTER, &e) == 0);
	into[1] = run(s, v, b0, b1);
	CHECK(agg_set_merge(s, into[1], a, AGG_BEFORE, &e) == 0);
	into[2] = run(s, v, a0, a1);
	into[3] = through_partial(s, ms, b);
	CHECK(agg_set_merge(s, into[2], into[3], AGG_ANY, &e) == 0);
	state_free(s, into[3]);
	into[3] = through_partial(s, ms, a);
	CHECK(agg_set_merge(s, into[3], b, AGG_INTERLEAVED, &e) == 0);
	for (i = 0; i < 4; i++) {
		got = results_of(s, into[i]);
		CHECK_MSG(strcmp(got, want) == 0,
		          "[%zu,%zu) + [%zu,%zu), %s: %s, one run: %s", a0, a1,
		          b0, b1, how[i], got, want);
		free(got);
		state_free(s, into[i]);
	}
	free(want);
	state_free(s, one);
	state_free(s, a);
	state_free(s, b);
}

/*
 * Every split of v into halves; and shards that overlap (a record in both
 * counts twice, as in one run that reads it twice), which a merge that
 * garbled the other side's state (distinct's hashes) would get wrong.
 */
static void merge_equals_single_run(const struct agg_set *s,
                                    const struct agg_set *ms,
                                    const struct tval *v, size_t n)
{
	size_t m;

	for (m = 0; m <= n; m++) {
		check_merge(s, ms, v, 0, m, m, n);
		check_merge(s, ms, v, 0, m, 0, n);
	}
}

static void test_merge_equals_single_run(void)
{
	struct tval nums[sizeof(tvals) / sizeof(tvals[0])];
	size_t k, i, nn = 0, n = sizeof(tvals) / sizeof(tvals[0]);

	/* numbers, null and missing: what a kind of numbers takes */
	for (i = 0; i < n; i++) {
		struct json_value v = jv(tvals[i].json);

		if (v.type == JSON_NUMBER || v.type == JSON_NULL ||
		    v.type == JSON_MISSING)
			nums[nn++] = tvals[i];
	}
	for (k = 0; k < AGG_NKINDS; k++) {
		const struct agg_op *op = &agg_ops[k];
		struct agg_set s, ms;
		struct json_paths p, mp;

		if (!op->name)
			continue; /* test_table_complete says so */
		if (spec_of(op, 0, &s, &p)) {
			CHECK_MSG(0, "%s: no spec parses to kind %zu", op->name,
			          k);
			continue;
		}
		CHECK(spec_of(op, 1, &ms, &mp) == 0);
		if (op->flags & AGG_OP_NUMBER)
			merge_equals_single_run(&s, &ms, nums, nn);
		else
			merge_equals_single_run(&s, &ms, tvals, n);
		agg_set_free(&s);
		json_paths_free(&p);
		agg_set_free(&ms);
		json_paths_free(&mp);
	}
}

int main(void)
{
	RUN(test_exact_sums);
	RUN(test_partials_merge);
	RUN(test_sum_running_bounds);
	RUN(test_sum_bounds_partial);
	RUN(test_first_last_ties);
	RUN(test_one_spelling);
	RUN(test_spec_parse_names);
	RUN(test_table_complete);
	RUN(test_unknown_names_every_kind);
	RUN(test_merge_equals_single_run);
	return unit_done("test_aggfn");
}
