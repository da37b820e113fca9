/*
 * test_sketch.c - HyperLogLog and DDSketch: accuracy, merge determinism,
 * serialisation round trips and rejection of anything else.
 *
 * "test_sketch bench" also prints the error curve of the HLL estimator
 * from 1 to 10^7 and the update speeds (build it with -O2 and no
 * sanitizers for numbers that mean something).
 */
#include "sketch.h"
#include "unit.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

static uint64_t rng_state;

/* splitmix64: a fixed, portable stream so that every run tests the same */
static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* uniform in (0, 1) */
static double rng_unit(void)
{
	return ((double)(rng() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(void)
{
	return sqrt(-2 * log(rng_unit())) * cos(2 * M_PI * rng_unit());
}

static uint64_t hash_of(uint64_t i, uint64_t seed)
{
	return XXH3_64bits_withSeed(&i, sizeof(i), seed);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- HLL ---- */

static char *hll_json(const struct hll *h)
{
	struct fx_buf b = FX_BUF_INIT;

	hll_to_json(h, &b);
	fx_buf_addc(&b, 0);
	return b.p;
}

static double hll_relerr(uint64_t n, uint64_t seed)
{
	struct hll h = {0};
	uint64_t i, c;

	for (i = 0; i < n; i++)
		hll_add(&h, hash_of(i, seed));
	c = hll_count(&h);
	hll_free(&h);
	return ((double)c - (double)n) / (double)n;
}

static void test_hll_accuracy(void)
{
	static const uint64_t ns[] = {1,    10,   100,   500,    512,    513,
	                              1000, 5000, 10000, 100000, 1000000};
	size_t k;

	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		double e = hll_relerr(ns[k], 42);

		if (ns[k] <= HLL_SPARSE_MAX)
			CHECK_MSG(e == 0, "n=%llu: exact mode off by %g",
			          (unsigned long long)ns[k], e);
		else
			CHECK_MSG(fabs(e) <= 0.025, "n=%llu: error %.4f",
			          (unsigned long long)ns[k], e);
	}
}

/* RMS relative error over independent hash seeds at cardinality n. */
static double hll_rms(uint64_t n, int seeds, double *bias)
{
	double sum2 = 0, sum = 0;
	int s;

	for (s = 0; s < seeds; s++) {
		double e = hll_relerr(n, 1000 + (uint64_t)s);

		sum2 += e * e;
		sum += e;
	}
	if (bias)
		*bias = sum / seeds;
	return sqrt(sum2 / seeds);
}

static void test_hll_standard_error(void)
{
	double bias, rms = hll_rms(100000, 50, &bias);

	printf("hll: n=100000, 50 seeds: rms relative error %.3f%%, "
	       "bias %+.3f%%\n",
	       rms * 100, bias * 100);
	CHECK_MSG(rms <= 0.012, "rms %.4f", rms);
}

static void test_hll_duplicates(void)
{
	struct hll a = {0}, b = {0};
	char *ja, *jb;
	uint64_t i;
	int r;

	for (i = 0; i < 300; i++)
		hll_add(&a, hash_of(i, 7));
	for (r = 0; r < 5; r++)
		for (i = 300; i-- > 0;)
			hll_add(&b, hash_of(i, 7));
	CHECK(hll_count(&a) == 300 && hll_count(&b) == 300);
	ja = hll_json(&a);
	jb = hll_json(&b);
	CHECK_STR(ja, jb);
	free(ja);
	free(jb);

	for (i = 300; i < 50000; i++)
		hll_add(&a, hash_of(i, 7));
	for (r = 0; r < 3; r++)
		for (i = 0; i < 50000; i++)
			hll_add(&b, hash_of(i, 7));
	CHECK(b.reg && hll_count(&a) == hll_count(&b));
	ja = hll_json(&a);
	jb = hll_json(&b);
	CHECK_STR(ja, jb);
	free(ja);
	free(jb);
	hll_free(&a);
	hll_free(&b);
}

/*
 * Splits hashes 0..n-1 into 4 shards by rule, merges them in two orders
 * and compares the bytes with one sketch of everything.
 */
static void hll_shards(uint64_t n, int rule)
{
	struct hll one = {0}, sh[4] = {{0}}, m1 = {0}, m2 = {0};
	char *j1, *j2, *j3;
	uint64_t i;
	int k;

	rng_state = 99;
	for (i = 0; i < n; i++) {
		uint64_t x = hash_of(i, 3);

		hll_add(&one, x);
		switch (rule) {
		case 0:
			k = (int)(i % 4);
			break;
		case 1:
			k = (int)(i * 4 / n);
			break;
		case 2:
			k = (int)(rng() % 4);
			break;
		default: /* lopsided: one big shard, three tiny ones */
			k = i % 1000 == 0 ? 1 + (int)(i / 1000 % 3) : 0;
			break;
		}
		hll_add(&sh[k], x);
		if (i % 7 == 0) /* some values in two shards */
			hll_add(&sh[(k + 1) % 4], x);
	}
	/* ((0 + 1) + (2 + 3)) and (3 + 2 + 1 + 0) */
	hll_merge(&m1, &sh[0]);
	hll_merge(&m1, &sh[1]);
	hll_merge(&sh[2], &sh[3]);
	hll_merge(&m1, &sh[2]);
	for (k = 3; k >= 0; k--)
		hll_merge(&m2, &sh[k]);
	hll_merge(&m2, &m2);
	j1 = hll_json(&one);
	j2 = hll_json(&m1);
	j3 = hll_json(&m2);
	CHECK_MSG(strcmp(j1, j2) == 0, "n=%llu rule %d: merged differs",
	          (unsigned long long)n, rule);
	CHECK_MSG(strcmp(j1, j3) == 0, "n=%llu rule %d: reverse differs",
	          (unsigned long long)n, rule);
	CHECK(hll_count(&one) == hll_count(&m1));
	free(j1);
	free(j2);
	free(j3);
	hll_free(&one);
	hll_free(&m1);
	hll_free(&m2);
	for (k = 0; k < 4; k++)
		hll_free(&sh[k]);
}

static void test_hll_merge(void)
{
	static const uint64_t ns[] = {0, 3, 400, 512, 513, 1500, 100000};
	size_t k;
	int rule;

	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++)
		for (rule = 0; rule < 4; rule++)
			hll_shards(ns[k], rule);
}

static void hll_round_trip(uint64_t n)
{
	struct hll a = {0}, b = {0};
	char *ja, *jb;
	uint64_t i;

	for (i = 0; i < n; i++)
		hll_add(&a, hash_of(i, 11));
	ja = hll_json(&a);
	CHECK_MSG(hll_from_json(&b, ja, strlen(ja)) == 0, "n=%llu",
	          (unsigned long long)n);
	jb = hll_json(&b);
	CHECK_STR(ja, jb);
	CHECK(hll_count(&a) == hll_count(&b));
	/* the parsed sketch keeps working */
	hll_add(&a, 12345);
	hll_add(&b, 12345);
	free(jb);
	jb = hll_json(&b);
	free(ja);
	ja = hll_json(&a);
	CHECK_STR(ja, jb);
	free(ja);
	free(jb);
	hll_free(&a);
	hll_free(&b);
}

static void test_hll_round_trip(void)
{
	struct hll h = {0};
	const char *lit;
	char *j;

	j = hll_json(&h);
	CHECK_STR(j, "{\"set\":\"\"}");
	free(j);
	hll_add(&h, 0x0807060504030201ull);
	j = hll_json(&h);
	CHECK_STR(j, "{\"set\":\"AQIDBAUGBwg=\"}");
	free(j);
	hll_free(&h);
	hll_round_trip(0);
	hll_round_trip(1);
	hll_round_trip(2);
	hll_round_trip(512);
	hll_round_trip(513);
	hll_round_trip(100000);
	lit = " { \"set\" : \"AQIDBAUGBwg=\" }\n";
	CHECK(hll_from_json(&h, lit, strlen(lit)) == 0);
	CHECK(hll_count(&h) == 1 && h.set[0] == 0x0807060504030201ull);
	hll_free(&h);
}

/* Every prefix of a good serialisation, and every one-byte change of
 * it, is rejected or parsed without a leak or an overrun. */
static void reject_prefixes(const char *good,
                            int (*parse)(const char *, size_t))
{
	size_t n = strlen(good), i;
	char *copy;

	for (i = 0; i < n; i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, good, i);
		CHECK_MSG(parse(copy, i) == -1, "prefix %zu accepted", i);
		free(copy);
	}
	copy = malloc(n);
	for (i = 0; i < n; i++) {
		char c = good[i];

		memcpy(copy, good, n);
		copy[i] = (char)(c ^ 0x01);
		(void)parse(copy, n);
		copy[i] = '!';
		CHECK_MSG(parse(copy, n) == -1, "'!' at %zu accepted", i);
	}
	free(copy);
}

static int hll_parse(const char *p, size_t n)
{
	struct hll h;
	int rc = hll_from_json(&h, p, n);

	if (rc == 0)
		hll_free(&h);
	return rc;
}

static int hll_parse_s(const char *s)
{
	return hll_parse(s, strlen(s));
}

static void test_hll_garbage(void)
{
	static const char *bad[] = {
	    "",
	    "null",
	    "{}",
	    "[]",
	    "{\"set\":\"\"} x",
	    "{\"set\":\"\",\"set\":\"\"}",
	    "{\"sex\":\"\"}",
	    "{\"set\":1}",
	    "{\"set\":\"AQIDBAUGBw==\"}",             /* 7 bytes */
	    "{\"set\":\"AQIDBAUGBwh=\"}",             /* unused bits set */
	    "{\"set\":\"AQIDBAUGBwg\"}",              /* unpadded */
	    "{\"set\":\"AQIDBAUGBw\\u0067=\"}",       /* escapes */
	    "{\"set\":\"AQIDBAUGBwgAAAAAAAAAAA==\"}", /* unsorted */
	    "{\"set\":\"AQIDBAUGBwgBAgMEBQYHCA==\"}", /* duplicate */
	    "{\"hll\":\"\"}",
	    "{\"hll\":\"AAAA\"}",
	    "{\"set\":\"AQID BAUGBwg=\"}",
	    "{\"set\":\"AQIDBAUGBwg=\"",
	    "{'set':'AQIDBAUGBwg='}",
	};
	struct fx_buf b = FX_BUF_INIT;
	struct hll h = {0};
	char *good;
	size_t k;
	uint64_t i;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		CHECK_MSG(hll_parse_s(bad[k]) == -1, "accepted %s", bad[k]);
	CHECK(hll_parse_s("{\"set\":\"AAAAAAAAAAABAgMEBQYHCA==\"}") == 0);

	/* a register above 51 cannot come from a 64-bit hash */
	for (i = 0; i < 2000; i++)
		hll_add(&h, hash_of(i, 5));
	h.reg[100] = 52;
	hll_to_json(&h, &b);
	CHECK(hll_parse(b.p, b.len) == -1);
	h.reg[100] = 51;
	fx_buf_reset(&b);
	hll_to_json(&h, &b);
	CHECK(hll_parse(b.p, b.len) == 0);
	fx_buf_free(&b);
	hll_free(&h);

	for (i = 0; i < 3; i++)
		hll_add(&h, hash_of(i, 5));
	good = hll_json(&h);
	reject_prefixes(good, hll_parse);
	free(good);
	hll_free(&h);
}

/* ---- DDSketch ---- */

static char *dds_json(const struct dds *d)
{
	struct fx_buf b = FX_BUF_INIT;

	dds_to_json(d, &b);
	fx_buf_addc(&b, 0);
	return b.p;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

enum dist { UNIFORM, LOGNORMAL, PARETO, MIXED, WIDE, NDIST };

static const char *dist_name[] = {"uniform ints", "lognormal", "pareto",
                                  "neg/zero/pos", "1e-9..1e18"};

static double draw(enum dist d)
{
	switch (d) {
	case UNIFORM:
		return (double)(1 + rng() % 1000000);
	case LOGNORMAL:
		return exp(1 + 2 * rng_normal());
	case PARETO: /* tail index 1.1: no variance, barely a mean */
		return 10 / pow(rng_unit(), 1 / 1.1);
	case MIXED:
		switch (rng() % 4) {
		case 0:
			return 0;
		case 1:
			return -exp(3 * rng_normal());
		case 2:
			return -(double)(rng() % 100);
		default:
			return 5 * rng_normal();
		}
	default:
		return exp(log(1e-9) + rng_unit() * (log(1e18) - log(1e-9)));
	}
}

#define DDS_N 1000000

static void dds_dist(enum dist dist)
{
	static const double qs[] = {0.5, 0.9, 0.95, 0.99, 0.999, 0.01, 0.1};
	struct dds one = {0}, sh[4], m = {0};
	double *v = malloc(DDS_N * sizeof(*v)), got, want, worst = 0;
	char *j1, *j2;
	size_t i, k;

	memset(sh, 0, sizeof(sh));
	rng_state = 1234 + (uint64_t)dist;
	for (i = 0; i < DDS_N; i++) {
		v[i] = draw(dist);
		dds_add(&one, v[i]);
		dds_add(&sh[rng() % 4], v[i]);
	}
	qsort(v, DDS_N, sizeof(*v), cmp_double);
	for (k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		want = v[(size_t)floor(qs[k] * (DDS_N - 1))];
		CHECK(dds_quantile(&one, qs[k], &got) == 0);
		if (want != 0 && fabs(got - want) / fabs(want) > worst)
			worst = fabs(got - want) / fabs(want);
		CHECK_MSG(fabs(got - want) <= (0.01 + 1e-12) * fabs(want),
		          "%s p%g: %.17g for %.17g (%.4f%%)", dist_name[dist],
		          qs[k] * 100, got, want,
		          100 * fabs(got - want) / fabs(want));
	}
	printf("dds: %s: worst relative error %.4f%%\n", dist_name[dist],
	       worst * 100);
	CHECK(dds_quantile(&one, 0, &got) == 0 && got == v[0]);
	CHECK(dds_quantile(&one, 1, &got) == 0 && got == v[DDS_N - 1]);

	/* shards merged in two orders give the bytes of one run */
	j1 = dds_json(&one);
	for (k = 0; k < 4; k++)
		dds_merge(&m, &sh[k]);
	j2 = dds_json(&m);
	CHECK_MSG(strcmp(j1, j2) == 0, "%s: merge differs", dist_name[dist]);
	free(j2);
	dds_free(&m);
	dds_merge(&sh[3], &sh[2]);
	dds_merge(&sh[1], &sh[0]);
	dds_merge(&sh[3], &sh[1]);
	j2 = dds_json(&sh[3]);
	CHECK_MSG(strcmp(j1, j2) == 0, "%s: merge differs", dist_name[dist]);
	free(j2);

	CHECK(dds_from_json(&m, j1, strlen(j1)) == 0);
	j2 = dds_json(&m);
	CHECK_STR(j1, j2);
	free(j2);
	dds_free(&m);
	free(j1);
	dds_free(&one);
	for (k = 0; k < 4; k++)
		dds_free(&sh[k]);
	free(v);
}

static void test_dds_distributions(void)
{
	int d;

	for (d = 0; d < NDIST; d++)
		dds_dist((enum dist)d);
}

/* The bin of v is (gamma^(i-1), gamma^i]: check against the bin values. */
static void test_dds_bins(void)
{
	const double g = 1.01 / 0.99;
	struct dds d = {0};
	double got;
	int i;

	for (i = -1000; i <= 1000; i += 7) {
		double x = pow(g, i) * 1.001;

		dds_free(&d);
		dds_add(&d, x);
		dds_add(&d, x * 1e9); /* so that the clamp does not help */
		dds_add(&d, x * 1e-9);
		CHECK(dds_quantile(&d, 0.5, &got) == 0);
		CHECK_MSG(fabs(got - x) <= 0.01 * x, "%.17g for %.17g", got, x);
	}
	dds_free(&d);
	CHECK(dds_quantile(&d, 0.5, &got) == -1);
	dds_add(&d, NAN);
	dds_add(&d, INFINITY);
	dds_add(&d, -INFINITY);
	CHECK(d.count == 0);
	dds_add(&d, -0.0);
	CHECK(dds_quantile(&d, 0.5, &got) == 0 && got == 0 && !signbit(got));
	dds_add(&d, 5e-324);
	dds_add(&d, 1.7e308);
	dds_add(&d, -1.7e308);
	CHECK(dds_quantile(&d, 0, &got) == 0 && got == -1.7e308);
	CHECK(dds_quantile(&d, 1, &got) == 0 && got == 1.7e308);
	CHECK(dds_quantile(&d, 0.5, &got) == 0 && got == 0);
	/* 5e-324 is folded: 1.7e308 is more than 4096 bins above it */
	CHECK(dds_quantile(&d, 0.75, &got) == 0 && got > 1e200);
	CHECK(d.pos.n <= 4096);
	CHECK(dds_quantile(&d, 1.5, &got) == -1);
	CHECK(dds_quantile(&d, NAN, &got) == -1);
	dds_free(&d);
}

/*
 * Past DDS_MAX_BINS the lowest bins fold, yet the state still depends on
 * the values only; the high quantiles keep their accuracy.
 */
static void test_dds_collapse(void)
{
	struct dds one = {0}, sh[3], m = {0}, desc = {0};
	double *v = malloc(200000 * sizeof(*v)), got, want;
	char *j1, *j2;
	size_t i;
	int k;

	memset(sh, 0, sizeof(sh));
	rng_state = 77;
	for (i = 0; i < 200000; i++) {
		v[i] = exp((rng_unit() - 0.5) * 2 * 690);
		dds_add(&one, v[i]);
		dds_add(&sh[i < 1000 ? 0 : rng() % 3], v[i]);
	}
	CHECK(one.pos.n <= 4096);
	qsort(v, 200000, sizeof(*v), cmp_double);
	for (i = 199999; i > 0; i--)
		dds_add(&desc, v[i]);
	dds_add(&desc, v[0]);
	want = v[(size_t)floor(0.99 * 199999)];
	CHECK(dds_quantile(&one, 0.99, &got) == 0);
	CHECK_MSG(fabs(got - want) <= 0.01 * want, "%g for %g", got, want);
	j1 = dds_json(&one);
	for (k = 2; k >= 0; k--)
		dds_merge(&m, &sh[k]);
	j2 = dds_json(&m);
	CHECK(strcmp(j1, j2) == 0);
	free(j2);
	j2 = dds_json(&desc);
	CHECK(strcmp(j1, j2) == 0);
	free(j2);
	dds_free(&m);
	CHECK(dds_from_json(&m, j1, strlen(j1)) == 0);
	j2 = dds_json(&m);
	CHECK_STR(j1, j2);
	free(j2);
	free(j1);
	dds_free(&m);
	dds_free(&one);
	dds_free(&desc);
	for (k = 0; k < 3; k++)
		dds_free(&sh[k]);
	free(v);
}

static void test_dds_json(void)
{
	struct dds d = {0}, e;
	const char *lit;
	char *j;

	j = dds_json(&d);
	CHECK_STR(j, "{\"n\":0,\"min\":null,\"max\":null,\"zero\":0,"
	             "\"pos\":[],\"neg\":[]}");
	CHECK(dds_from_json(&e, j, strlen(j)) == 0 && e.count == 0);
	dds_free(&e);
	free(j);
	dds_add(&d, 1);
	dds_add(&d, 1.5);
	dds_add(&d, 0);
	dds_add(&d, -2.25);
	j = dds_json(&d);
	CHECK_STR(j, "{\"n\":4,\"min\":-2.25,\"max\":1.5,\"zero\":1,"
	             "\"pos\":[0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1],"
	             "\"neg\":[41,1]}");
	CHECK(dds_from_json(&e, j, strlen(j)) == 0);
	free(j);
	/* the parsed sketch takes more values and merges */
	dds_add(&e, 1e6);
	dds_merge(&e, &d);
	CHECK(e.count == 9 && e.max == 1e6);
	dds_free(&e);
	dds_free(&d);
	lit = "\n{ \"neg\" : [ ] , \"pos\":[-3,2], \"zero\":0,\"max\":0.941,"
	      "\"min\":0.94,\"n\":2 }\t";
	CHECK(dds_from_json(&e, lit, strlen(lit)) == 0 && e.pos.offset == -3);
	dds_free(&e);
}

static int dds_parse(const char *p, size_t n)
{
	struct dds d;
	int rc = dds_from_json(&d, p, n);

	if (rc == 0)
		dds_free(&d);
	return rc;
}

static int dds_parse_s(const char *s)
{
	return dds_parse(s, strlen(s));
}

static void test_dds_garbage(void)
{
	static const char *bad[] = {
	    "",
	    "{}",
	    "null",
	    /* counts that do not add up */
	    "{\"n\":3,\"min\":1,\"max\":1,\"zero\":0,\"pos\":[0,2],"
	    "\"neg\":[]}",
	    /* zero bins at the ends */
	    "{\"n\":2,\"min\":1,\"max\":1,\"zero\":0,\"pos\":[0,2,0],"
	    "\"neg\":[]}",
	    "{\"n\":2,\"min\":1,\"max\":1,\"zero\":0,\"pos\":[0,0,2],"
	    "\"neg\":[]}",
	    /* a missing, a repeated and an unknown key */
	    "{\"n\":0,\"min\":null,\"max\":null,\"zero\":0,\"pos\":[]}",
	    "{\"n\":0,\"min\":null,\"max\":null,\"zero\":0,\"pos\":[],"
	    "\"neg\":[],\"neg\":[]}",
	    "{\"n\":0,\"min\":null,\"max\":null,\"zero\":0,\"pos\":[],"
	    "\"neg\":[],\"x\":1}",
	    /* min/max null when not empty, or numbers when empty */
	    "{\"n\":1,\"min\":null,\"max\":null,\"zero\":1,\"pos\":[],"
	    "\"neg\":[]}",
	    "{\"n\":0,\"min\":0,\"max\":0,\"zero\":0,\"pos\":[],"
	    "\"neg\":[]}",
	    "{\"n\":1,\"min\":1,\"max\":0,\"zero\":1,\"pos\":[],"
	    "\"neg\":[]}",
	    /* numbers that are not what we write */
	    "{\"n\":1.0,\"min\":0,\"max\":0,\"zero\":1,\"pos\":[],"
	    "\"neg\":[]}",
	    "{\"n\":-1,\"min\":0,\"max\":0,\"zero\":1,\"pos\":[],"
	    "\"neg\":[]}",
	    "{\"n\":01,\"min\":0,\"max\":0,\"zero\":1,\"pos\":[],"
	    "\"neg\":[]}",
	    "{\"n\":18446744073709551616,\"min\":0,\"max\":0,\"zero\":1,"
	    "\"pos\":[],\"neg\":[]}",
	    "{\"n\":1,\"min\":1e999,\"max\":0,\"zero\":1,\"pos\":[],"
	    "\"neg\":[]}",
	    "{\"n\":1,\"min\":\"0\",\"max\":0,\"zero\":1,\"pos\":[],"
	    "\"neg\":[]}",
	    "{\"n\":1,\"min\":1,\"max\":1,\"zero\":0,\"pos\":[1e1,1],"
	    "\"neg\":[]}",
	    "{\"n\":1,\"min\":1,\"max\":1,\"zero\":0,\"pos\":[99999,1],"
	    "\"neg\":[]}",
	    "{\"n\":1,\"min\":1,\"max\":1,\"zero\":0,\"pos\":[0,1,],"
	    "\"neg\":[]}",
	    /* counts that overflow when added */
	    "{\"n\":0,\"min\":1,\"max\":1,\"zero\":0,"
	    "\"pos\":[0,18446744073709551615,1],\"neg\":[]}",
	    "{\"n\":0,\"min\":null,\"max\":null,\"zero\":0,\"pos\":[],"
	    "\"neg\":[]} {}",
	};
	struct dds d = {0};
	char *good;
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		CHECK_MSG(dds_parse_s(bad[k]) == -1, "accepted %s", bad[k]);
	dds_add(&d, 3);
	dds_add(&d, 3.5);
	dds_add(&d, -7);
	dds_add(&d, 0);
	good = dds_json(&d);
	CHECK(dds_parse_s(good) == 0);
	reject_prefixes(good, dds_parse);
	free(good);
	dds_free(&d);
}

/* ---- measurements ---- */

static void bench_hll_curve(void)
{
	static const uint64_t ns[] = {
	    513,    700,    1000,    2000,    5000,    10000,
	    20000,  30000,  40000,   50000,   70000,   100000,
	    200000, 500000, 1000000, 2000000, 5000000, 10000000};
	size_t k;

	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		int seeds = ns[k] >= 1000000 ? 50 : 100;
		double bias, rms = hll_rms(ns[k], seeds, &bias);

		printf("hll: n=%-9llu %3d seeds: rms %.3f%% bias %+.3f%%\n",
		       (unsigned long long)ns[k], seeds, rms * 100, bias * 100);
	}
}

static void bench_speed(void)
{
	enum { N = 10000000 };
	uint64_t *hs = malloc(N * sizeof(*hs)), i;
	double *vs = malloc(N * sizeof(*vs)), t, q = 0;
	struct hll h = {0};
	struct dds d = {0};

	for (i = 0; i < N; i++)
		hs[i] = hash_of(i, 1);
	for (i = 0; i < 600; i++)
		hll_add(&h, hs[i]);
	t = now();
	for (i = 0; i < N; i++)
		hll_add(&h, hs[i]);
	t = now() - t;
	printf("speed: hll_add dense: %.2f ns/op\n", t / N * 1e9);
	hll_free(&h);
	t = now();
	for (i = 0; i < N; i++) {
		hll_add(&h, hs[i % 512]);
		if (i % 100000 == 99999)
			hll_free(&h);
	}
	t = now() - t;
	printf("speed: hll_add exact mode (~300 entries): %.2f ns/op\n",
	       t / N * 1e9);
	hll_free(&h);
	for (i = 0; i < 1000; i++)
		hll_add(&h, hs[i]);
	t = now();
	for (i = 0; i < 1000; i++)
		q += (double)hll_count(&h);
	t = now() - t;
	printf("speed: hll_count dense: %.2f us/op\n", t / 1000 * 1e6);
	hll_free(&h);

	rng_state = 5;
	for (i = 0; i < N; i++)
		vs[i] = draw(LOGNORMAL);
	dds_add(&d, 1e-30);
	dds_add(&d, 1e30);
	t = now();
	for (i = 0; i < N; i++)
		dds_add(&d, vs[i]);
	t = now() - t;
	printf("speed: dds_add lognormal: %.2f ns/op\n", t / N * 1e9);
	dds_free(&d);
	for (i = 0; i < N; i++)
		vs[i] = (double)(1 + i % 1000000);
	t = now();
	for (i = 0; i < N; i++)
		dds_add(&d, vs[i]);
	t = now() - t;
	printf("speed: dds_add ascending ints: %.2f ns/op\n", t / N * 1e9);
	t = now();
	for (i = 0; i < 1000; i++) {
		dds_quantile(&d, 0.99, &q);
	}
	t = now() - t;
	printf("speed: dds_quantile: %.2f us/op\n", t / 1000 * 1e6);
	dds_free(&d);
	free(hs);
	free(vs);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "bench") == 0) {
		bench_hll_curve();
		bench_speed();
		return 0;
	}
	RUN(test_hll_accuracy);
	RUN(test_hll_standard_error);
	RUN(test_hll_duplicates);
	RUN(test_hll_merge);
	RUN(test_hll_round_trip);
	RUN(test_hll_garbage);
	RUN(test_dds_bins);
	RUN(test_dds_distributions);
	RUN(test_dds_collapse);
	RUN(test_dds_json);
	RUN(test_dds_garbage);
	return unit_done("test_sketch");
}
