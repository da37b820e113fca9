/* aggfn.c - aggregate functions: specs, states, results, partial states */
#include "aggfn.h"
#include "base64.h"
#include "err.h"
#include "num.h"
#include "sketch.h"
#include "strmap.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- states ---- */

/*
 * A sum kept exact: the integers in an int64 (their fast path), the other
 * numbers as Shewchuk's non-overlapping partials (as Python's math.fsum),
 * whose exact sum is the sum of the values. Partials merge exactly, so
 * --merge gives the single run's sum, and the result is the correctly
 * rounded sum of all the values, whatever their order.
 */
struct st_num {
	int64_t i;  /* sum of the integers */
	uint64_t n; /* values */
	double *p;  /* partials, increasing magnitude; NULL before a double */
	uint32_t np, cap;
	int has_double; /* 2: the doubles' sum overflowed a double */
};

struct st_val {
	struct fx_buf raw; /* the value as written; len 0 = none yet */
	int64_t t;
};

/* A set of 64-bit hashes, open addressing, 0 = empty (hash 0 is stored as 1).
 */
struct st_set {
	uint64_t *slot;
	uint32_t n;
	uint32_t cap;
};

static size_t state_size(enum agg_kind k)
{
	switch (k) {
	case AGG_COUNT:
	case AGG_COUNT_FIELD:
		return sizeof(uint64_t);
	case AGG_SUM:
	case AGG_AVG:
		return sizeof(struct st_num);
	case AGG_MIN:
	case AGG_MAX:
	case AGG_FIRST:
	case AGG_LAST:
		return sizeof(struct st_val);
	case AGG_DISTINCT:
		return sizeof(struct st_set);
	case AGG_APPROX_DISTINCT:
		return sizeof(struct hll);
	case AGG_QUANTILE:
		return sizeof(struct dds);
	case AGG_TOPK:
		return sizeof(struct strmap);
	}
	return 0;
}

static void set_insert(struct st_set *s, uint64_t h)
{
	uint32_t mask, i;

	if (!h)
		h = 1;
	if ((s->n + 1) * 4 > s->cap * 3) {
		struct st_set bigger = {NULL, 0, s->cap ? s->cap * 2 : 8};
		uint32_t j;

		bigger.slot = calloc(bigger.cap, sizeof(uint64_t));
		if (!bigger.slot)
			fx_oom();
		for (j = 0; j < s->cap; j++)
			if (s->slot[j])
				set_insert(&bigger, s->slot[j]);
		free(s->slot);
		*s = bigger;
	}
	mask = s->cap - 1;
	for (i = (uint32_t)h & mask; s->slot[i]; i = (i + 1) & mask)
		if (s->slot[i] == h)
			return;
	s->slot[i] = h;
	s->n++;
}

/* ---- parsing specs ---- */

static const struct {
	const char *name;
	enum agg_kind kind;
	double q;
} kinds[] = {
    {"count", AGG_COUNT, 0},
    {"sum", AGG_SUM, 0},
    {"min", AGG_MIN, 0},
    {"max", AGG_MAX, 0},
    {"avg", AGG_AVG, 0},
    {"first", AGG_FIRST, 0},
    {"last", AGG_LAST, 0},
    {"distinct", AGG_DISTINCT, 0},
    {"approx_distinct", AGG_APPROX_DISTINCT, 0},
    {"quantile", AGG_QUANTILE, -1},
    {"topk", AGG_TOPK, 0},
};

/*
 * pNN, a whole percentile from p1 to p99 written without a leading zero:
 * NN, or 0 if fn is not one. (p99.9 is quantile:F:0.999: a dot would make
 * the column name a nested path.)
 */
static int percentile(const char *fn)
{
	if (fn[0] != 'p' || fn[1] < '1' || fn[1] > '9')
		return 0;
	if (!fn[2])
		return fn[1] - '0';
	if (fn[2] < '0' || fn[2] > '9' || fn[3])
		return 0;
	return (fn[1] - '0') * 10 + (fn[2] - '0');
}

static char *default_name(const char *fn, const char *field, const char *param)
{
	char *name, *p;

	if (!field)
		return fx_strdup(fn);
	if (strcmp(fn, "quantile") == 0) {
		if (asprintf(&name, "q%s_%s", param, field) < 0)
			fx_oom();
	} else if (strcmp(fn, "topk") == 0) {
		if (asprintf(&name, "top%s_%s", param, field) < 0)
			fx_oom();
	} else if (asprintf(&name, "%s_%s", fn, field) < 0) {
		fx_oom();
	}
	for (p = name; *p; p++)
		if (*p == '.')
			*p = '_';
	return name;
}

static int parse_one(struct agg_spec *a, const char *spec, char *err,
                     size_t err_len)
{
	char *copy = fx_strdup(spec), *eq = strchr(copy, '='), *body = copy;
	char *fn, *field = NULL, *param = NULL, *end;
	size_t i;
	int rc = -1, pct;

	memset(a, 0, sizeof(*a));
	a->path = -1;
	if (eq) {
		*eq = 0;
		body = eq + 1;
		if (!*copy) {
			snprintf(err, err_len, "'%s': empty column name", spec);
			goto out;
		}
	}
	fn = body;
	if ((field = strchr(fn, ':'))) {
		*field++ = 0;
		if ((param = strchr(field, ':')))
			*param++ = 0;
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(fn, kinds[i].name) == 0)
			break;
	if (i < sizeof(kinds) / sizeof(kinds[0])) {
		a->kind = kinds[i].kind;
		a->q = kinds[i].q;
	} else if ((pct = percentile(fn)) > 0) {
		a->kind = AGG_QUANTILE;
		a->q = pct / 100.0;
	} else {
		snprintf(
		    err, err_len,
		    "'%s': unknown aggregate '%s' (count, sum, min, max, avg, first, last, distinct, approx_distinct, p1 to p99, quantile, topk)",
		    spec, fn);
		goto out;
	}
	if (a->kind == AGG_COUNT && field)
		a->kind = AGG_COUNT_FIELD;
	if (a->kind != AGG_COUNT && (!field || !*field)) {
		snprintf(err, err_len, "'%s': %s needs a field (%s:FIELD)",
		         spec, fn, fn);
		goto out;
	}
	if ((a->kind == AGG_TOPK || a->q < 0) != (param != NULL)) {
		snprintf(err, err_len, "'%s': %s", spec,
		         a->kind == AGG_TOPK ? "expected topk:FIELD:N"
		         : a->q < 0          ? "expected quantile:FIELD:Q"
		                             : "too many ':' parts");
		goto out;
	}
	if (a->kind == AGG_TOPK) {
		a->k = strtoll(param, &end, 10);
		if (*end || a->k < 1 || a->k > 100000) {
			snprintf(err, err_len, "'%s': N must be 1 to 100000",
			         spec);
			goto out;
		}
	} else if (a->q < 0) {
		a->q = strtod(param, &end);
		if (*end || !(a->q >= 0 && a->q <= 1)) {
			snprintf(err, err_len, "'%s': Q must be from 0 to 1",
			         spec);
			goto out;
		}
	}
	a->field = field ? fx_strdup(field) : NULL;
	a->name = eq ? fx_strdup(copy) : default_name(fn, field, param);
	rc = 0;
out:
	free(copy);
	return rc;
}

int agg_set_parse(struct agg_set *set, char *const *specs, size_t n, int merge,
                  struct json_paths *paths, char *err, size_t err_len)
{
	size_t i, j, off = 0;
	const char *perr;

	memset(set, 0, sizeof(*set));
	set->v = fx_malloc((n ? n : 1) * sizeof(*set->v));
	for (i = 0; i < n; i++) {
		struct agg_spec *a = &set->v[i];
		const char *path;

		if (parse_one(a, specs[i], err, err_len)) {
			set->n = i;
			return -1;
		}
		set->n = i + 1;
		for (j = 0; j < i; j++) {
			if (strcmp(set->v[j].name, a->name) == 0) {
				snprintf(
				    err, err_len,
				    "two aggregates named '%s' (name one with NAME=%s)",
				    a->name, specs[i]);
				return -1;
			}
		}
		a->off = off;
		off += (state_size(a->kind) + 7) & ~(size_t)7;
		path = merge ? a->name : a->field;
		if (path && (merge || a->kind != AGG_COUNT)) {
			/* a field read by several functions is one path */
			for (j = 0; j < paths->n; j++)
				if (strcmp(paths->v[j].name, path) == 0)
					break;
			a->path = j < paths->n
			              ? (int)j
			              : json_paths_add(paths, path, &perr);
			if (a->path < 0) {
				snprintf(err, err_len, "'%s': %s", specs[i],
				         perr);
				return -1;
			}
		}
	}
	set->state_size = off;
	return 0;
}

void agg_set_free(struct agg_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		free(set->v[i].name);
		free(set->v[i].field);
	}
	free(set->v);
	memset(set, 0, sizeof(*set));
}

void agg_set_state_free(const struct agg_set *set, void *state)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		void *s = (char *)state + set->v[i].off;

		switch (set->v[i].kind) {
		case AGG_MIN:
		case AGG_MAX:
		case AGG_FIRST:
		case AGG_LAST:
			fx_buf_free(&((struct st_val *)s)->raw);
			break;
		case AGG_SUM:
		case AGG_AVG:
			free(((struct st_num *)s)->p);
			break;
		case AGG_DISTINCT:
			free(((struct st_set *)s)->slot);
			break;
		case AGG_APPROX_DISTINCT:
			hll_free(s);
			break;
		case AGG_QUANTILE:
			dds_free(s);
			break;
		case AGG_TOPK:
			strmap_free(s);
			break;
		default:
			break;
		}
	}
}

/* ---- updating ---- */

static int is_value(const struct json_value *v)
{
	return v->type != JSON_MISSING && v->type != JSON_NULL;
}

static void describe(struct agg_error *e, const struct agg_spec *a,
                     const char *what, const struct json_value *v)
{
	int shown = v->len > 64 ? 64 : (int)v->len;

	e->field = a->field;
	snprintf(e->reason, sizeof(e->reason), "%s: %.*s%s", what, shown, v->p,
	         v->len > 64 ? "..." : "");
}

int agg_set_check(const struct agg_set *set, const struct json_value *vals,
                  struct fx_num *nums, struct agg_error *e)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];
		const struct json_value *v;
		struct fx_num num;

		if (a->kind != AGG_SUM && a->kind != AGG_AVG &&
		    a->kind != AGG_QUANTILE)
			continue;
		v = &vals[a->path];
		if (!is_value(v))
			continue;
		if (v->type != JSON_NUMBER) {
			describe(e, a, "not a number", v);
			return -1;
		}
		switch (fx_num_parse(v->p, v->len, &num)) {
		case FX_NUM_INT:
		case FX_NUM_DOUBLE:
			nums[a->path] = num;
			break;
		case FX_NUM_BIGINT:
			describe(e, a, "integer out of range", v);
			return -1;
		default:
			describe(e, a, "number out of range", v);
			return -1;
		}
	}
	return 0;
}

/*
 * The hash of a value as distinct sees it: strings by their unescaped
 * contents (both spellings of one string are one value), in another seed
 * than the other values so that "1" and 1 differ.
 */
static uint64_t value_hash(const struct json_value *v)
{
	struct fx_buf b = FX_BUF_INIT;
	uint64_t h;

	if (v->type != JSON_STRING)
		return XXH3_64bits(v->p, v->len);
	if (!v->escaped)
		return XXH3_64bits_withSeed(v->p + 1, v->len - 2, 1);
	json_string_unescape(v, &b);
	h = XXH3_64bits_withSeed(b.p, b.len, 1);
	fx_buf_free(&b);
	return h;
}

/*
 * One spelling per string, as group keys have: a string with escapes is
 * unescaped and written back with only the escapes JSON requires, so that
 * "x" and "\u0078" are one value to topk, min, max, first and last (and
 * come out as "x"). Other values are returned as they are. The result lives
 * in a buffer of this module until the next call.
 */
static const struct json_value *canonical(const struct json_value *v,
                                          struct json_value *tmp)
{
	static struct fx_buf text, out;

	if (v->type != JSON_STRING || !memchr(v->p, '\\', v->len))
		return v;
	*tmp = *v;
	tmp->escaped = 1;
	fx_buf_reset(&text);
	fx_buf_reset(&out);
	json_string_unescape(tmp, &text);
	fx_buf_add_json_string(&out, text.p, text.len);
	tmp->p = out.p;
	tmp->len = out.len;
	tmp->escaped = memchr(out.p, '\\', out.len) != NULL;
	return tmp;
}

static void keep_value(struct st_val *s, const struct json_value *v, int64_t t)
{
	fx_buf_reset(&s->raw);
	fx_buf_add(&s->raw, v->p, v->len);
	s->t = t;
}

static int kept_compare(const struct st_val *s, const struct json_value *v)
{
	struct json_value k = {json_type_of(s->raw.p, s->raw.len), s->raw.p,
	                       s->raw.len, 0};

	return json_value_compare(v, &k);
}

static void topk_add(struct strmap *m, const char *p, size_t n, uint64_t c)
{
	struct strmap_entry *e;
	uintptr_t old = (uintptr_t)strmap_get(m, p, n);

	e = strmap_put(m, p, n, (void *)(old + (uintptr_t)c));
	(void)e;
}

static int sum_overflows(const struct st_num *s, const struct json_value *v,
                         const struct fx_num *num, const struct agg_spec *a,
                         struct agg_error *e)
{
	int64_t r;

	if (num->kind == FX_NUM_INT && fx_num_add_int(s->i, num->i, &r)) {
		describe(e, a, "sum overflows int64 with", v);
		return 1;
	}
	return 0;
}

/*
 * Adds x to the partials p[0..*np) (Shewchuk's msum, as math.fsum): p has
 * room for *np + 1. Returns -1 if the sum overflows a double.
 */
static int partials_add(double *p, uint32_t *np, double x)
{
	uint32_t i = 0, j;

	for (j = 0; j < *np; j++) {
		double y = p[j], hi, lo;

		if (fabs(x) < fabs(y)) {
			double t = x;

			x = y;
			y = t;
		}
		hi = x + y;
		lo = y - (hi - x);
		if (lo != 0.0)
			p[i++] = lo;
		x = hi;
	}
	p[i++] = x;
	*np = i;
	return isfinite(x) ? 0 : -1;
}

static void num_add_double(struct st_num *s, double x)
{
	if (s->has_double == 2)
		return;
	s->has_double = 1;
	if (s->np + 1 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4;
		s->p = fx_realloc(s->p, s->cap * sizeof(*s->p));
	}
	if (partials_add(s->p, &s->np, x)) {
		/* past a double: the result is written as null */
		s->p[0] = s->p[s->np - 1];
		s->np = 1;
		s->has_double = 2;
	}
}

static void num_add(struct st_num *s, const struct fx_num *num)
{
	if (num->kind == FX_NUM_INT)
		s->i += num->i;
	else
		num_add_double(s, num->d);
	s->n++;
}

/*
 * The correctly rounded value of the exact sum (integers and partials), as
 * math.fsum rounds it: half-even on the exact value, not on a rounded one.
 */
static double num_total(const struct st_num *s)
{
	double buf[64], *p = s->np + 2 <= 64 ? buf : fx_malloc((s->np + 2) * 8);
	/* the int64 in two exact halves: a multiple of 2^32, and the rest */
	int64_t lo32 = (int64_t)((uint64_t)s->i & 0xffffffffu);
	double hi = 0, lo = 0, x, y;
	uint32_t n = s->np;

	if (s->has_double == 2)
		return s->p[0] > 0 ? INFINITY : -INFINITY;
	if (n)
		memcpy(p, s->p, n * sizeof(*p));
	if (partials_add(p, &n, (double)(s->i - lo32)) ||
	    partials_add(p, &n, (double)lo32)) {
		hi = p[n - 1];
		goto out;
	}
	if (n) {
		hi = p[--n];
		while (n > 0) {
			x = hi;
			y = p[--n];
			hi = x + y;
			lo = y - (hi - x);
			if (lo != 0.0)
				break;
		}
		/* the rest decides a tie of rounding hi + lo */
		if (n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) ||
		              (lo > 0.0 && p[n - 1] > 0.0))) {
			y = lo * 2.0;
			x = hi + y;
			if (y == x - hi)
				hi = x;
		}
	}
out:
	if (p != buf)
		free(p);
	return hi;
}

int agg_set_update(const struct agg_set *set, void *state,
                   const struct json_value *vals, const struct fx_num *nums,
                   int64_t t, struct agg_error *e)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];

		if ((a->kind == AGG_SUM || a->kind == AGG_AVG) &&
		    is_value(&vals[a->path]) &&
		    sum_overflows((struct st_num *)((char *)state + a->off),
		                  &vals[a->path], &nums[a->path], a, e))
			return -1;
	}
	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];
		void *s = (char *)state + a->off;
		const struct json_value *v =
		    a->path >= 0 ? &vals[a->path] : NULL;
		struct st_val *sv = s;
		struct json_value one;

		if (a->kind == AGG_COUNT) {
			++*(uint64_t *)s;
			continue;
		}
		if (!is_value(v))
			continue;
		if (a->kind == AGG_MIN || a->kind == AGG_MAX ||
		    a->kind == AGG_FIRST || a->kind == AGG_LAST ||
		    a->kind == AGG_TOPK)
			v = canonical(v, &one);
		switch (a->kind) {
		case AGG_COUNT_FIELD:
			++*(uint64_t *)s;
			break;
		case AGG_SUM:
		case AGG_AVG:
			num_add(s, &nums[a->path]);
			break;
		case AGG_MIN:
			if (!sv->raw.len || kept_compare(sv, v) < 0)
				keep_value(sv, v, t);
			break;
		case AGG_MAX:
			if (!sv->raw.len || kept_compare(sv, v) > 0)
				keep_value(sv, v, t);
			break;
		case AGG_FIRST:
			if (!sv->raw.len || t < sv->t ||
			    (t == sv->t && kept_compare(sv, v) < 0))
				keep_value(sv, v, t);
			break;
		case AGG_LAST:
			if (!sv->raw.len || t > sv->t ||
			    (t == sv->t && kept_compare(sv, v) > 0))
				keep_value(sv, v, t);
			break;
		case AGG_DISTINCT:
			set_insert(s, value_hash(v));
			break;
		case AGG_APPROX_DISTINCT:
			hll_add(s, value_hash(v));
			break;
		case AGG_QUANTILE:
			dds_add(s, nums[a->path].kind == FX_NUM_INT
			               ? (double)nums[a->path].i
			               : nums[a->path].d);
			break;
		case AGG_TOPK:
			topk_add(s, v->p, v->len, 1);
			break;
		case AGG_COUNT:
			break;
		}
	}
	return 0;
}

void agg_set_prefetch(const struct agg_set *set, const void *state,
                      const struct json_value *vals)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];
		const struct st_set *ss;
		uint64_t h;

		if (a->kind != AGG_DISTINCT || !is_value(&vals[a->path]))
			continue;
		ss = (const void *)((const char *)state + a->off);
		if (!ss->cap)
			continue;
		h = value_hash(&vals[a->path]);
		__builtin_prefetch(&ss->slot[(h ? h : 1) & (ss->cap - 1)]);
	}
}

int agg_set_merge(const struct agg_set *set, void *dst, const void *src,
                  struct agg_error *e)
{
	size_t i, j;

	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];
		const struct st_num *sn =
		    (const void *)((const char *)src + a->off);
		const struct st_num *dn =
		    (const void *)((const char *)dst + a->off);
		int64_t r;

		if ((a->kind == AGG_SUM || a->kind == AGG_AVG) &&
		    fx_num_add_int(dn->i, sn->i, &r)) {
			e->field = a->name;
			snprintf(e->reason, sizeof(e->reason),
			         "sum overflows int64");
			return -1;
		}
	}
	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];
		void *d = (char *)dst + a->off;
		const void *s = (const char *)src + a->off;
		struct st_val *dv = d;
		const struct st_val *sv = s;
		struct json_value v;

		switch (a->kind) {
		case AGG_COUNT:
		case AGG_COUNT_FIELD:
			*(uint64_t *)d += *(const uint64_t *)s;
			break;
		case AGG_SUM:
		case AGG_AVG: {
			struct st_num *dn = d;
			const struct st_num *sn = s;

			dn->i += sn->i;
			dn->n += sn->n;
			if (sn->has_double == 2)
				num_add_double(dn, sn->p[0]);
			for (j = 0; j < sn->np && sn->has_double != 2; j++)
				num_add_double(dn, sn->p[j]);
			if (sn->has_double && !dn->has_double)
				dn->has_double = 1;
			break;
		}
		case AGG_MIN:
		case AGG_MAX:
		case AGG_FIRST:
		case AGG_LAST:
			if (!sv->raw.len)
				break;
			v.type = json_type_of(sv->raw.p, sv->raw.len);
			v.p = sv->raw.p;
			v.len = sv->raw.len;
			if (!dv->raw.len ||
			    (a->kind == AGG_MIN && kept_compare(dv, &v) < 0) ||
			    (a->kind == AGG_MAX && kept_compare(dv, &v) > 0) ||
			    (a->kind == AGG_FIRST &&
			     (sv->t < dv->t ||
			      (sv->t == dv->t && kept_compare(dv, &v) < 0))) ||
			    (a->kind == AGG_LAST &&
			     (sv->t > dv->t ||
			      (sv->t == dv->t && kept_compare(dv, &v) > 0))))
				keep_value(dv, &v, sv->t);
			break;
		case AGG_DISTINCT: {
			const struct st_set *ss = s;

			for (j = 0; j < ss->cap; j++)
				if (ss->slot[j])
					set_insert(d, ss->slot[j]);
			break;
		}
		case AGG_APPROX_DISTINCT:
			hll_merge(d, s);
			break;
		case AGG_QUANTILE:
			dds_merge(d, s);
			break;
		case AGG_TOPK: {
			const struct strmap *sm = s;

			for (j = 0; j < sm->n; j++)
				topk_add(d, sm->entries[j].key,
				         sm->entries[j].len,
				         (uintptr_t)sm->entries[j].value);
			break;
		}
		}
	}
	return 0;
}

/* ---- writing ---- */

static void add_name(struct fx_buf *out, const struct agg_spec *a)
{
	fx_buf_addc(out, ',');
	fx_buf_add_json_string(out, a->name, strlen(a->name));
	fx_buf_addc(out, ':');
}

static void add_u64(struct fx_buf *out, uint64_t v)
{
	char b[24];
	size_t n = sizeof(b);

	do {
		b[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	fx_buf_add(out, b + n, sizeof(b) - n);
}

static void add_i64(struct fx_buf *out, int64_t v)
{
	char b[24];

	fx_buf_add(out, b, fx_num_format_int(v, b));
}

static void add_double(struct fx_buf *out, double d)
{
	char b[40];
	size_t n = fx_num_format_double(d, b);

	if (n)
		fx_buf_add(out, b, n);
	else
		fx_buf_adds(out, "null");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct topk_item {
	const char *p;
	size_t len;
	uint64_t count;
};

static int cmp_topk(const void *a, const void *b)
{
	const struct topk_item *x = a, *y = b;
	struct json_value vx = {json_type_of(x->p, x->len), x->p, x->len, 0};
	struct json_value vy = {json_type_of(y->p, y->len), y->p, y->len, 0};

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return json_value_compare(&vx, &vy);
}

/* Entries sorted by count, then value; caller frees. */
static struct topk_item *topk_sorted(const struct strmap *m)
{
	struct topk_item *items = fx_malloc((m->n + 1) * sizeof(*items));
	size_t i;

	for (i = 0; i < m->n; i++) {
		items[i].p = m->entries[i].key;
		items[i].len = m->entries[i].len;
		items[i].count = (uintptr_t)m->entries[i].value;
	}
	qsort(items, m->n, sizeof(*items), cmp_topk);
	return items;
}

static void write_result(const struct agg_spec *a, const void *s,
                         struct fx_buf *out)
{
	const struct st_num *sn = s;
	const struct st_val *sv = s;
	double v;
	size_t i;

	switch (a->kind) {
	case AGG_COUNT:
	case AGG_COUNT_FIELD:
		add_u64(out, *(const uint64_t *)s);
		break;
	case AGG_SUM:
		if (!sn->n)
			fx_buf_adds(out, "null");
		else if (sn->has_double)
			add_double(out, num_total(sn));
		else
			add_i64(out, sn->i);
		break;
	case AGG_AVG:
		if (!sn->n)
			fx_buf_adds(out, "null");
		else
			add_double(out, (sn->has_double ? num_total(sn)
			                                : (double)sn->i) /
			                    (double)sn->n);
		break;
	case AGG_MIN:
	case AGG_MAX:
	case AGG_FIRST:
	case AGG_LAST:
		if (sv->raw.len)
			fx_buf_add(out, sv->raw.p, sv->raw.len);
		else
			fx_buf_adds(out, "null");
		break;
	case AGG_DISTINCT:
		add_u64(out, ((const struct st_set *)s)->n);
		break;
	case AGG_APPROX_DISTINCT:
		add_u64(out, hll_count(s));
		break;
	case AGG_QUANTILE:
		if (dds_quantile(s, a->q, &v) == 0)
			add_double(out, v);
		else
			fx_buf_adds(out, "null");
		break;
	case AGG_TOPK: {
		const struct strmap *m = s;
		struct topk_item *items = topk_sorted(m);

		fx_buf_addc(out, '[');
		for (i = 0; i < m->n && i < (size_t)a->k; i++) {
			if (i)
				fx_buf_addc(out, ',');
			fx_buf_adds(out, "{\"value\":");
			fx_buf_add(out, items[i].p, items[i].len);
			fx_buf_adds(out, ",\"count\":");
			add_u64(out, items[i].count);
			fx_buf_addc(out, '}');
		}
		fx_buf_addc(out, ']');
		free(items);
		break;
	}
	}
}

void agg_set_write_results(const struct agg_set *set, const void *state,
                           struct fx_buf *out)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		add_name(out, &set->v[i]);
		write_result(&set->v[i], (const char *)state + set->v[i].off,
		             out);
	}
}

static void write_partial(const struct agg_spec *a, const void *s,
                          struct fx_buf *out)
{
	const struct st_num *sn = s;
	const struct st_val *sv = s;
	size_t i;

	switch (a->kind) {
	case AGG_SUM:
	case AGG_AVG:
		/* the partials exactly: each double reads back to itself */
		fx_buf_adds(out, "{\"i\":");
		add_i64(out, sn->i);
		fx_buf_adds(out, ",\"d\":[");
		for (i = 0; i < sn->np; i++) {
			if (i)
				fx_buf_addc(out, ',');
			add_double(out, sn->p[i]);
		}
		fx_buf_adds(out, "],\"n\":");
		add_u64(out, sn->n);
		if (sn->has_double == 2) /* past a double: its sign */
			fx_buf_adds(out, sn->p[0] > 0 ? ",\"f\":\"inf\"}"
			                              : ",\"f\":\"-inf\"}");
		else
			fx_buf_adds(out, sn->has_double ? ",\"f\":true}" : "}");
		break;
	case AGG_FIRST:
	case AGG_LAST:
		if (!sv->raw.len) {
			fx_buf_adds(out, "null");
			break;
		}
		fx_buf_adds(out, "{\"t\":");
		add_i64(out, sv->t);
		fx_buf_adds(out, ",\"v\":");
		fx_buf_add(out, sv->raw.p, sv->raw.len);
		fx_buf_addc(out, '}');
		break;
	case AGG_DISTINCT: {
		const struct st_set *ss = s;
		uint64_t *h = fx_malloc((ss->n + 1) * sizeof(*h));
		size_t n = 0;
		unsigned char *bytes;

		for (i = 0; i < ss->cap; i++)
			if (ss->slot[i])
				h[n++] = ss->slot[i];
		qsort(h, n, sizeof(*h), cmp_u64);
		bytes = fx_malloc(n * 8 + 1);
		for (i = 0; i < n * 8; i++)
			bytes[i] = (unsigned char)(h[i / 8] >> (8 * (i % 8)));
		fx_buf_adds(out, "{\"h\":\"");
		base64_encode(out, bytes, n * 8);
		fx_buf_adds(out, "\"}");
		free(bytes);
		free(h);
		break;
	}
	case AGG_APPROX_DISTINCT:
		hll_to_json(s, out);
		break;
	case AGG_QUANTILE:
		dds_to_json(s, out);
		break;
	case AGG_TOPK: {
		const struct strmap *m = s;
		struct topk_item *items = topk_sorted(m);

		/*
		 * {"<value as JSON text>":count,...}: the text is a JSON
		 * string, so the value's bytes come back exactly (1.0 stays
		 * 1.0), which a reprint of the parsed value would not keep.
		 */
		fx_buf_addc(out, '{');
		for (i = 0; i < m->n; i++) {
			if (i)
				fx_buf_addc(out, ',');
			fx_buf_add_json_string(out, items[i].p, items[i].len);
			fx_buf_addc(out, ':');
			add_u64(out, items[i].count);
		}
		fx_buf_addc(out, '}');
		free(items);
		break;
	}
	default:
		write_result(a, s, out);
	}
}

void agg_set_write_partials(const struct agg_set *set, const void *state,
                            struct fx_buf *out)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		add_name(out, &set->v[i]);
		write_partial(&set->v[i], (const char *)state + set->v[i].off,
		              out);
	}
}

/* ---- reading partial states ---- */

/* The member key of a valid object value, or JSON_MISSING. */
static struct json_value member(const struct json_value *obj, const char *key)
{
	struct json_value none = {JSON_MISSING, NULL, 0, 0};
	struct json_member m;
	size_t pos = 0;

	if (obj->type != JSON_OBJECT)
		return none;
	while (json_object_next(obj->p, obj->len, &pos, &m))
		if (json_string_equals(&m.key, key, strlen(key)))
			none = m.val;
	return none;
}

static int member_int(const struct json_value *obj, const char *key,
                      int64_t *out)
{
	struct json_value v = member(obj, key);
	struct fx_num num;

	if (v.type != JSON_NUMBER ||
	    fx_num_parse(v.p, v.len, &num) != FX_NUM_INT)
		return -1;
	*out = num.i;
	return 0;
}

static int read_distinct(struct st_set *s, const struct json_value *v)
{
	struct json_value h = member(v, "h");
	struct fx_buf text = FX_BUF_INIT, bytes = FX_BUF_INIT;
	size_t i;
	long n;
	int rc = -1;

	if (h.type != JSON_STRING)
		return -1;
	json_string_unescape(&h, &text);
	fx_buf_grow(&bytes, text.len / 4 * 3 + 1);
	n = base64_decode(text.p, text.len, (uint8_t *)bytes.p);
	if (n >= 0 && n % 8 == 0) {
		for (i = 0; i < (size_t)n; i += 8) {
			uint64_t x = 0;
			int k;

			for (k = 7; k >= 0; k--)
				x = x << 8 |
				    (unsigned char)bytes.p[i + (size_t)k];
			set_insert(s, x);
		}
		rc = 0;
	}
	fx_buf_free(&text);
	fx_buf_free(&bytes);
	return rc;
}

/* topk's state is {"<value as JSON text>":count,...}; see write_partial. */
static int read_topk(struct strmap *m, const struct json_value *v)
{
	struct fx_buf text = FX_BUF_INIT;
	struct json_member mb;
	size_t pos = 0;
	int rc = 0;

	if (v->type != JSON_OBJECT)
		return -1;
	while (!rc && json_object_next(v->p, v->len, &pos, &mb)) {
		struct json_value val, one;
		const struct json_value *c;
		struct fx_num num;
		cJSON *check;

		fx_buf_reset(&text);
		json_string_unescape(&mb.key, &text);
		/* the text must be one JSON value, or rows would be torn */
		check = cJSON_ParseWithLength(text.p, text.len);
		if (!check || text.len == 0 ||
		    fx_num_parse(mb.val.p, mb.val.len, &num) != FX_NUM_INT ||
		    num.i < 0) {
			cJSON_Delete(check);
			rc = -1;
			break;
		}
		cJSON_Delete(check);
		val.type = json_type_of(text.p, text.len);
		val.p = text.p;
		val.len = text.len;
		val.escaped = 0;
		c = canonical(&val, &one);
		topk_add(m, c->p, c->len, (uint64_t)num.i);
	}
	fx_buf_free(&text);
	return rc;
}

/* A sum's partials, [p1,p2,...], added back exactly. */
static int read_partials(struct st_num *s, const struct json_value *arr)
{
	const char *p = arr->p + 1, *end = arr->p + arr->len - 1;

	while (p < end) {
		const char *q;
		struct fx_num num;

		while (p < end && (*p == ' ' || *p == ',' || *p == '\n' ||
		                   *p == '\t' || *p == '\r'))
			p++;
		if (p >= end)
			break;
		for (q = p; q < end && *q != ',' && *q != ' ' && *q != ']';)
			q++;
		switch (fx_num_parse(p, (size_t)(q - p), &num)) {
		case FX_NUM_INT:
		case FX_NUM_DOUBLE:
		case FX_NUM_BIGINT:
			break;
		default:
			return -1;
		}
		if (num.kind == FX_NUM_INT)
			num.d = (double)num.i;
		if (!isfinite(num.d))
			return -1;
		num_add_double(s, num.d);
		p = q;
	}
	return 0;
}

static int read_partial(const struct agg_spec *a, void *s,
                        const struct json_value *v)
{
	struct st_num *sn = s;
	struct st_val *sv = s;
	struct json_value d, f, val, one;
	struct fx_num num;
	int64_t n;

	if (!is_value(v))
		return a->kind == AGG_COUNT || a->kind == AGG_COUNT_FIELD ||
		               a->kind == AGG_DISTINCT || a->kind == AGG_SUM ||
		               a->kind == AGG_AVG
		           ? -1
		           : 0;
	switch (a->kind) {
	case AGG_COUNT:
	case AGG_COUNT_FIELD:
		if (fx_num_parse(v->p, v->len, &num) != FX_NUM_INT || num.i < 0)
			return -1;
		*(uint64_t *)s = (uint64_t)num.i;
		return 0;
	case AGG_MIN:
	case AGG_MAX:
		keep_value(s, canonical(v, &one), 0);
		return 0;
	case AGG_SUM:
	case AGG_AVG:
		d = member(v, "d");
		if (member_int(v, "i", &sn->i) || member_int(v, "n", &n) ||
		    n < 0 || d.type != JSON_ARRAY)
			return -1;
		sn->n = (uint64_t)n;
		f = member(v, "f");
		if (f.type == JSON_STRING) { /* the sum overflowed */
			num_add_double(sn, json_string_equals(&f, "inf", 3)
			                       ? INFINITY
			                       : -INFINITY);
			return 0;
		}
		if (read_partials(sn, &d))
			return -1;
		if (f.type == JSON_TRUE)
			sn->has_double = 1;
		return 0;
	case AGG_FIRST:
	case AGG_LAST:
		val = member(v, "v");
		if (member_int(v, "t", &sv->t) || val.type == JSON_MISSING)
			return -1;
		keep_value(sv, canonical(&val, &one), sv->t);
		return 0;
	case AGG_DISTINCT:
		return read_distinct(s, v);
	case AGG_APPROX_DISTINCT:
		return hll_from_json(s, v->p, v->len);
	case AGG_QUANTILE:
		return dds_from_json(s, v->p, v->len);
	case AGG_TOPK:
		return read_topk(s, v);
	}
	return -1;
}

int agg_set_read_partials(const struct agg_set *set, void *state,
                          const struct json_value *vals, struct agg_error *e)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];

		if (read_partial(a, (char *)state + a->off, &vals[a->path])) {
			e->field = a->name;
			snprintf(
			    e->reason, sizeof(e->reason),
			    "not a partial state of %s (was it made by fx-agg --partial with the same --agg?)",
			    a->name);
			return -1;
		}
	}
	return 0;
}
