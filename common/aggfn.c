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

/* ---- shared helpers ---- */

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
 * in a buffer of this module (of this thread) until the next call.
 */
/* per thread: fx-agg -j runs engines in several (aggpar.h) */
static _Thread_local struct fx_buf canon_text, canon_out;

void agg_thread_end(void)
{
	fx_buf_free(&canon_text);
	fx_buf_free(&canon_out);
}

static const struct json_value *canonical(const struct json_value *v,
                                          struct json_value *tmp)
{
	struct fx_buf *text = &canon_text, *out = &canon_out;

	if (v->type != JSON_STRING || !memchr(v->p, '\\', v->len))
		return v;
	*tmp = *v;
	tmp->escaped = 1;
	fx_buf_reset(text);
	fx_buf_reset(out);
	json_string_unescape(tmp, text);
	fx_buf_add_json_string(out, text->p, text->len);
	tmp->p = out->p;
	tmp->len = out->len;
	tmp->escaped = memchr(out->p, '\\', out->len) != NULL;
	return tmp;
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
	size_t n = fx_num_format_int(v, b); /* before b is read */

	fx_buf_add(out, b, n);
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

/* The integer member key, or dflt where there is none. */
static int member_int_or(const struct json_value *obj, const char *key,
                         int64_t dflt, int64_t *out)
{
	if (member(obj, key).type == JSON_MISSING) {
		*out = dflt;
		return 0;
	}
	return member_int(obj, key, out);
}

/* ---- count, count:F: a uint64_t ---- */

static void count_update(const struct agg_spec *a, void *s,
                         const struct json_value *v, const struct fx_num *num,
                         int64_t t)
{
	++*(uint64_t *)s;
}

/*
 * No overflow check, in any order: a uint64_t count passes 2^64 after
 * 1.8e19 records, 584 years at a billion records a second.
 */
static void count_merge(const struct agg_spec *a, void *d, const void *s,
                        enum agg_order order)
{
	*(uint64_t *)d += *(const uint64_t *)s;
}

static void count_result(const struct agg_spec *a, const void *s,
                         struct fx_buf *out)
{
	add_u64(out, *(const uint64_t *)s);
}

static int count_read(const struct agg_spec *a, void *s,
                      const struct json_value *v)
{
	struct fx_num num;

	if (fx_num_parse(v->p, v->len, &num) != FX_NUM_INT || num.i < 0)
		return -1;
	*(uint64_t *)s = (uint64_t)num.i;
	return 0;
}

/* ---- sum:F, avg:F: an exact sum ---- */

/*
 * A sum kept exact: the integers in an int64 (their fast path), the other
 * numbers as Shewchuk's non-overlapping partials (as Python's math.fsum),
 * whose exact sum is the sum of the values. Partials merge exactly, so
 * --merge gives the single run's sum, and the result is the correctly
 * rounded sum of all the values, whatever their order.
 *
 * Values from 2^960 up have partials of their own, scaled by 2^-128
 * (exact: they stay far from both ends of a double's range): with them
 * among the others, 1e308 + 1e308 - 1e308 overflowed part way to null
 * while 1e308 - 1e308 + 1e308 was 1e308. Neither set of partials can
 * overflow now (each value of one is below 2^960, or 2^896 scaled, and
 * there are fewer than 2^63 of them); the two meet only in num_total().
 */
#define NUM_BIG_FROM  0x1p960
#define NUM_BIG_SCALE 0x1p-128
#define NUM_BIG_BACK  0x1p128
struct st_num {
	int64_t i;  /* sum of the integers */
	uint64_t n; /* values */
	double *p;  /* partials, increasing magnitude; NULL before a double */
	double *b;  /* the big values' partials, scaled; NULL before one */
	/* non-overlapping doubles, so at most about 2098 / 53 of them (more
	 * only as a snapshot says, up to ST_NUM_MAX_PARTIALS) */
	uint16_t np, cap, nb, bcap;
	uint8_t has_double; /* 2: the doubles' sum overflowed a double */
	/*
	 * The least and greatest running sum of the integers in input order,
	 * the empty sum 0 included (lo <= min(0, i), hi >= max(0, i); a zeroed
	 * state has them right): one run refuses the integer that takes the
	 * running sum past an int64, whatever comes after, so a merge after
	 * a sum of s must see s + lo and s + hi fit (agg_order).
	 */
	int64_t lo, hi;
};

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

/* Partials a snapshot may hold as written (st_num's np and cap fit). */
#define ST_NUM_MAX_PARTIALS 4096

/* Adds y, a big value already scaled by NUM_BIG_SCALE, to s->b. */
static void num_add_big(struct st_num *s, double y)
{
	uint32_t nb = s->nb;

	if (s->has_double == 2)
		return;
	s->has_double = 1;
	FX_GROW(s->b, nb + 1, s->bcap, 4);
	(void)partials_add(s->b, &nb, y); /* below 2^959: finite */
	s->nb = (uint16_t)nb;
}

static void num_add_double(struct st_num *s, double x)
{
	uint32_t np = s->np;

	if (s->has_double == 2)
		return;
	if (fabs(x) >= NUM_BIG_FROM && isfinite(x)) {
		num_add_big(s, x * NUM_BIG_SCALE);
		return;
	}
	s->has_double = 1;
	FX_GROW(s->p, np + 1, s->cap, 4);
	if (partials_add(s->p, &np, x)) {
		/* past a double: the result is written as null */
		s->p[0] = s->p[np - 1];
		np = 1;
		s->has_double = 2;
	}
	s->np = (uint16_t)np;
}

/*
 * The correctly rounded value of the exact sum (integers and partials), as
 * math.fsum rounds it: half-even on the exact value, not on a rounded one.
 */
static double num_total(const struct st_num *s)
{
	size_t room = (size_t)s->np + s->nb + 2;
	double buf[64], *p = room <= 64 ? buf : fx_malloc(room * 8);
	/* the int64 in two exact halves: a multiple of 2^32, and the rest */
	int64_t lo32 = (int64_t)((uint64_t)s->i & 0xffffffffu);
	double hi = 0, lo = 0, x, y;
	uint32_t n = s->np, j;

	if (s->has_double == 2) {
		hi = s->p[0] > 0 ? INFINITY : -INFINITY;
		goto out;
	}
	if (n)
		memcpy(p, s->p, n * sizeof(*p));
	/*
	 * The big values' sum, scaled back: past a double if its greatest
	 * partial is (the others cannot bring it back), else exact.
	 */
	for (j = 0; j < s->nb; j++) {
		y = s->b[j] * NUM_BIG_BACK;
		if (!isfinite(y) || partials_add(p, &n, y)) {
			hi = isfinite(y) ? p[n - 1] : y;
			goto out;
		}
	}
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

static int num_can_add(const struct agg_spec *a, const void *s,
                       const struct json_value *v, const struct fx_num *num,
                       struct agg_error *e)
{
	const struct st_num *sn = s;
	int64_t r;

	if (num->kind == FX_NUM_INT && fx_num_add_int(sn->i, num->i, &r)) {
		describe(e, a, "sum overflows int64 with", v);
		return -1;
	}
	return 0;
}

static void num_update(const struct agg_spec *a, void *s,
                       const struct json_value *v, const struct fx_num *num,
                       int64_t t)
{
	struct st_num *sn = s;

	if (num->kind == FX_NUM_INT) {
		sn->i += num->i;
		if (sn->i > sn->hi)
			sn->hi = sn->i;
		else if (sn->i < sn->lo)
			sn->lo = sn->i;
	} else {
		num_add_double(sn, num->d);
	}
	sn->n++;
}

/* a + b, or the int64 bound it passes */
static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return a < 0 ? INT64_MIN : INT64_MAX;
	return r;
}

/* Whether base + lo and base + hi fit an int64 (lo <= 0 <= hi). */
static int fits_from(int64_t base, int64_t lo, int64_t hi)
{
	int64_t r;

	return !__builtin_add_overflow(base, lo, &r) &&
	       !__builtin_add_overflow(base, hi, &r);
}

static int num_can_merge(const struct agg_spec *a, const void *d, const void *s,
                         enum agg_order order, struct agg_error *e)
{
	const struct st_num *dn = d, *sn = s;
	int64_t r;
	int ok;

	if (fx_num_add_int(dn->i, sn->i, &r)) {
		e->field = a->name;
		snprintf(e->reason, sizeof(e->reason), "sum overflows int64");
		return -1;
	}
	switch (order) {
	case AGG_AFTER:
		ok = fits_from(dn->i, sn->lo, sn->hi);
		break;
	case AGG_BEFORE:
		ok = fits_from(sn->i, dn->lo, dn->hi);
		break;
	case AGG_INTERLEAVED:
		ok = !__builtin_add_overflow(dn->lo, sn->lo, &r) &&
		     !__builtin_add_overflow(dn->hi, sn->hi, &r);
		break;
	default:
		ok = 1;
		break;
	}
	if (!ok) {
		e->field = a->name;
		/* INTERLEAVED: only -j's pieces, which say nothing */
		snprintf(e->reason, sizeof(e->reason), "%s",
		         order == AGG_INTERLEAVED
		             ? "sum may overflow int64 in some order"
		             : "sum overflows int64 part way: the running "
		               "sum of the values in input order passes it");
		return -1;
	}
	return 0;
}

/* The running sums' bounds of first's values followed by then's. */
static void bounds_in_order(const struct st_num *first,
                            const struct st_num *then, int64_t *lo, int64_t *hi)
{
	int64_t l = add_sat(first->i, then->lo),
	        h = add_sat(first->i, then->hi);

	*lo = l < first->lo ? l : first->lo;
	*hi = h > first->hi ? h : first->hi;
}

static void num_merge(const struct agg_spec *a, void *d, const void *s,
                      enum agg_order order)
{
	struct st_num *dn = d;
	const struct st_num *sn = s;
	int64_t lo, hi;
	uint32_t j;

	switch (order) {
	case AGG_AFTER: /* dn's values, then sn's */
		bounds_in_order(dn, sn, &lo, &hi);
		break;
	case AGG_BEFORE: /* sn's values, then dn's */
		bounds_in_order(sn, dn, &lo, &hi);
		break;
	default: /* bounds of every interleaving */
		lo = add_sat(dn->lo, sn->lo);
		hi = add_sat(dn->hi, sn->hi);
		break;
	}
	dn->lo = lo;
	dn->hi = hi;
	dn->i += sn->i;
	dn->n += sn->n;
	if (sn->has_double == 2)
		num_add_double(dn, sn->p[0]);
	for (j = 0; j < sn->np && sn->has_double != 2; j++)
		num_add_double(dn, sn->p[j]);
	for (j = 0; j < sn->nb && dn->has_double != 2; j++)
		num_add_big(dn, sn->b[j]);
	if (sn->has_double && !dn->has_double)
		dn->has_double = 1;
}

static void sum_result(const struct agg_spec *a, const void *s,
                       struct fx_buf *out)
{
	const struct st_num *sn = s;

	if (!sn->n)
		fx_buf_adds(out, "null");
	else if (sn->has_double)
		add_double(out, num_total(sn));
	else
		add_i64(out, sn->i);
}

static void avg_result(const struct agg_spec *a, const void *s,
                       struct fx_buf *out)
{
	const struct st_num *sn = s;

	if (!sn->n)
		fx_buf_adds(out, "null");
	else
		add_double(out,
		           (sn->has_double ? num_total(sn) : (double)sn->i) /
		               (double)sn->n);
}

/* {"i":INT,"d":[partials],"n":N} and "f":true if a double was seen, or
 * "f":"inf"/"-inf" past a double, "b":[partials] if a big value was (as
 * scaled): each double reads back to itself; "lo"
 * and "hi", the least and greatest running integer sum, where they are not
 * min(0, i) and max(0, i), what a partial without them reads as */
static void num_partial(const struct agg_spec *a, const void *s,
                        struct fx_buf *out)
{
	const struct st_num *sn = s;
	uint32_t i;

	fx_buf_adds(out, "{\"i\":");
	add_i64(out, sn->i);
	fx_buf_adds(out, ",\"d\":[");
	for (i = 0; i < sn->np; i++) {
		if (i)
			fx_buf_addc(out, ',');
		add_double(out, sn->p[i]);
	}
	fx_buf_addc(out, ']');
	if (sn->nb) { /* the big values' partials, as they are kept */
		fx_buf_adds(out, ",\"b\":[");
		for (i = 0; i < sn->nb; i++) {
			if (i)
				fx_buf_addc(out, ',');
			add_double(out, sn->b[i]);
		}
		fx_buf_addc(out, ']');
	}
	fx_buf_adds(out, ",\"n\":");
	add_u64(out, sn->n);
	if (sn->lo < (sn->i < 0 ? sn->i : 0)) {
		fx_buf_adds(out, ",\"lo\":");
		add_i64(out, sn->lo);
	}
	if (sn->hi > (sn->i > 0 ? sn->i : 0)) {
		fx_buf_adds(out, ",\"hi\":");
		add_i64(out, sn->hi);
	}
	if (sn->has_double == 2) /* past a double: its sign */
		fx_buf_adds(out, sn->p[0] > 0 ? ",\"f\":\"inf\"}"
		                              : ",\"f\":\"-inf\"}");
	else
		fx_buf_adds(out, sn->has_double ? ",\"f\":true}" : "}");
}

/*
 * A sum's partials, [p1,p2,...], added back exactly; or with as_written (a
 * snapshot of this run's own state) kept as they are, so that a restored
 * state writes the same --partial row as the saved one would have.
 */
static int read_partials(struct st_num *s, const struct json_value *arr,
                         int as_written, int big)
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
		if (big && fabs(num.d) >= 0x1p959)
			return -1; /* not one 2^63 scaled values can make */
		if (as_written) {
			double **v = big ? &s->b : &s->p;
			uint16_t *k = big ? &s->nb : &s->np,
			         *cap = big ? &s->bcap : &s->cap;

			if (*k >= ST_NUM_MAX_PARTIALS)
				return -1;
			s->has_double = 1;
			FX_GROW(*v, *k + 1, *cap, 4);
			(*v)[(*k)++] = num.d;
		} else if (big) {
			num_add_big(s, num.d);
		} else {
			num_add_double(s, num.d);
		}
		p = q;
	}
	return 0;
}

static int num_read_as(void *s, const struct json_value *v, int as_written)
{
	struct st_num *sn = s;
	struct json_value d = member(v, "d"), b = member(v, "b"), f;
	int64_t n, lo, hi;

	if (member_int(v, "i", &sn->i) || member_int(v, "n", &n) || n < 0 ||
	    d.type != JSON_ARRAY)
		return -1;
	sn->n = (uint64_t)n;
	/* the running sums' bounds: min(0, i) and max(0, i) unless said */
	lo = sn->i < 0 ? sn->i : 0;
	hi = sn->i > 0 ? sn->i : 0;
	if (member_int_or(v, "lo", lo, &sn->lo) || sn->lo > lo ||
	    member_int_or(v, "hi", hi, &sn->hi) || sn->hi < hi)
		return -1;
	f = member(v, "f");
	if (f.type == JSON_STRING) { /* the sum overflowed */
		num_add_double(sn, json_string_equals(&f, "inf", 3)
		                       ? INFINITY
		                       : -INFINITY);
		return 0;
	}
	if (read_partials(sn, &d, as_written, 0) ||
	    (b.type == JSON_ARRAY && read_partials(sn, &b, as_written, 1)) ||
	    (b.type != JSON_ARRAY && b.type != JSON_MISSING))
		return -1;
	if (f.type == JSON_TRUE)
		sn->has_double = 1;
	return 0;
}

static int num_read(const struct agg_spec *a, void *s,
                    const struct json_value *v)
{
	return num_read_as(s, v, 0);
}

/* The integer at *p, up to the byte stop; 0 and *p past stop, or -1. */
static int int_until(const char **p, const char *end, char stop, int64_t *out)
{
	const char *q = memchr(*p, stop, (size_t)(end - *p));
	struct fx_num num;

	if (!q || fx_num_parse(*p, (size_t)(q - *p), &num) != FX_NUM_INT)
		return -1;
	*out = num.i;
	*p = q + 1;
	return 0;
}

static int num_restore(const struct agg_spec *a, void *s,
                       const struct json_value *v)
{
	struct st_num *sn = s;
	const char *p = v->p, *end = v->p + v->len;
	int64_t i, n;

	/* an integer sum as num_partial writes it, {"i":I,"d":[],"n":N},
	 * read without a JSON scan: a snapshot of a million groups loads
	 * in half the time; anything else goes the general way */
	if (v->len > 5 && !memcmp(p, "{\"i\":", 5)) {
		p += 5;
		if (!int_until(&p, end, ',', &i) && end - p > 11 &&
		    !memcmp(p, "\"d\":[],\"n\":", 11)) {
			p += 11;
			if (!int_until(&p, end, '}', &n) && p == end &&
			    n >= 0) {
				sn->i = i;
				sn->n = (uint64_t)n;
				sn->lo = i < 0 ? i : 0;
				sn->hi = i > 0 ? i : 0;
				return 0;
			}
		}
	}
	return num_read_as(s, v, 1);
}

static void num_free(void *s)
{
	free(((struct st_num *)s)->p);
	free(((struct st_num *)s)->b);
}

/* ---- min:F, max:F, first:F, last:F: one value kept ---- */

struct st_val {
	struct fx_buf raw; /* the value as written; len 0 = none yet */
	int64_t t;
};

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

/* Whether v at time t replaces the kept value of s (which has one). */
typedef int val_wins(const struct st_val *s, const struct json_value *v,
                     int64_t t);

static int min_wins(const struct st_val *s, const struct json_value *v,
                    int64_t t)
{
	return kept_compare(s, v) < 0;
}

static int max_wins(const struct st_val *s, const struct json_value *v,
                    int64_t t)
{
	return kept_compare(s, v) > 0;
}

/* by event time; ties by value, never by arrival */
static int first_wins(const struct st_val *s, const struct json_value *v,
                      int64_t t)
{
	return t < s->t || (t == s->t && kept_compare(s, v) < 0);
}

static int last_wins(const struct st_val *s, const struct json_value *v,
                     int64_t t)
{
	return t > s->t || (t == s->t && kept_compare(s, v) > 0);
}

static inline void val_offer(struct st_val *s, const struct json_value *v,
                             int64_t t, val_wins *wins)
{
	if (!s->raw.len || wins(s, v, t))
		keep_value(s, v, t);
}

/* Offers what src keeps to dst. */
static inline void val_merge(struct st_val *d, const struct st_val *s,
                             val_wins *wins)
{
	struct json_value v;

	if (!s->raw.len)
		return;
	v.type = json_type_of(s->raw.p, s->raw.len);
	v.p = s->raw.p;
	v.len = s->raw.len;
	v.escaped = memchr(v.p, '\\', v.len) != NULL;
	val_offer(d, &v, s->t, wins);
}

static void min_update(const struct agg_spec *a, void *s,
                       const struct json_value *v, const struct fx_num *num,
                       int64_t t)
{
	struct json_value one;

	val_offer(s, canonical(v, &one), t, min_wins);
}

static void max_update(const struct agg_spec *a, void *s,
                       const struct json_value *v, const struct fx_num *num,
                       int64_t t)
{
	struct json_value one;

	val_offer(s, canonical(v, &one), t, max_wins);
}

static void first_update(const struct agg_spec *a, void *s,
                         const struct json_value *v, const struct fx_num *num,
                         int64_t t)
{
	struct json_value one;

	val_offer(s, canonical(v, &one), t, first_wins);
}

static void last_update(const struct agg_spec *a, void *s,
                        const struct json_value *v, const struct fx_num *num,
                        int64_t t)
{
	struct json_value one;

	val_offer(s, canonical(v, &one), t, last_wins);
}

static void min_merge(const struct agg_spec *a, void *d, const void *s,
                      enum agg_order order)
{
	val_merge(d, s, min_wins);
}

static void max_merge(const struct agg_spec *a, void *d, const void *s,
                      enum agg_order order)
{
	val_merge(d, s, max_wins);
}

static void first_merge(const struct agg_spec *a, void *d, const void *s,
                        enum agg_order order)
{
	val_merge(d, s, first_wins);
}

static void last_merge(const struct agg_spec *a, void *d, const void *s,
                       enum agg_order order)
{
	val_merge(d, s, last_wins);
}

/* The value, or null: also min's and max's partial state. */
static void val_result(const struct agg_spec *a, const void *s,
                       struct fx_buf *out)
{
	const struct st_val *sv = s;

	if (sv->raw.len)
		fx_buf_add(out, sv->raw.p, sv->raw.len);
	else
		fx_buf_adds(out, "null");
}

static int val_read(const struct agg_spec *a, void *s,
                    const struct json_value *v)
{
	struct json_value one;

	keep_value(s, canonical(v, &one), 0);
	return 0;
}

/* first's and last's partial state: {"t":TIME,"v":VALUE}, or null */
static void timed_partial(const struct agg_spec *a, const void *s,
                          struct fx_buf *out)
{
	const struct st_val *sv = s;

	if (!sv->raw.len) {
		fx_buf_adds(out, "null");
		return;
	}
	fx_buf_adds(out, "{\"t\":");
	add_i64(out, sv->t);
	fx_buf_adds(out, ",\"v\":");
	fx_buf_add(out, sv->raw.p, sv->raw.len);
	fx_buf_addc(out, '}');
}

static int timed_read(const struct agg_spec *a, void *s,
                      const struct json_value *v)
{
	struct st_val *sv = s;
	struct json_value val = member(v, "v"), one;

	if (member_int(v, "t", &sv->t) || val.type == JSON_MISSING)
		return -1;
	keep_value(sv, canonical(&val, &one), sv->t);
	return 0;
}

static void val_free(void *s)
{
	fx_buf_free(&((struct st_val *)s)->raw);
}

/* ---- distinct:F: a set of 64-bit hashes ---- */

/* Open addressing, 0 = empty (hash 0 is stored as 1). */
struct st_set {
	uint64_t *slot;
	uint32_t n;
	uint32_t cap;
};

static void set_insert(struct st_set *s, uint64_t h)
{
	uint32_t mask, i;

	if (!h)
		h = 1;
	if ((s->n + 1) * 4 > s->cap * 3) {
		struct st_set bigger = {NULL, 0, s->cap ? s->cap * 2 : 8};
		uint32_t j;

		bigger.slot = fx_calloc(bigger.cap, sizeof(uint64_t));
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

static void distinct_update(const struct agg_spec *a, void *s,
                            const struct json_value *v,
                            const struct fx_num *num, int64_t t)
{
	set_insert(s, value_hash(v));
}

static void distinct_prefetch(const void *s, const struct json_value *v)
{
	const struct st_set *ss = s;
	uint64_t h;

	if (!ss->cap)
		return;
	h = value_hash(v);
	__builtin_prefetch(&ss->slot[(h ? h : 1) & (ss->cap - 1)]);
}

/* Makes room for n hashes in all, so that adding them does not grow s. */
static void set_reserve(struct st_set *s, uint64_t n)
{
	struct st_set bigger = {NULL, 0, s->cap ? s->cap : 8};
	uint32_t j;

	while ((n + 1) * 4 > (uint64_t)bigger.cap * 3)
		bigger.cap *= 2;
	if (bigger.cap == s->cap)
		return;
	bigger.slot = fx_calloc(bigger.cap, sizeof(uint64_t));
	for (j = 0; j < s->cap; j++)
		if (s->slot[j])
			set_insert(&bigger, s->slot[j]);
	free(s->slot);
	*s = bigger;
}

/*
 * Adding a set's hashes in its slot order to a table that grows on the way
 * makes long runs of linear probing (the hashes come in the order of their
 * home slots): the table is made big enough first, and it starts as a copy
 * of the larger set.
 */
static void distinct_merge(const struct agg_spec *a, void *d, const void *s,
                           enum agg_order order)
{
	struct st_set *ds = d, add = *(const struct st_set *)s;
	uint32_t j;

	if (add.cap > ds->cap) {
		struct st_set copy = {fx_calloc(add.cap, sizeof(uint64_t)),
		                      add.n, add.cap};

		memcpy(copy.slot, add.slot, add.cap * sizeof(uint64_t));
		add = *ds;
		*ds = copy;
	}
	set_reserve(ds, (uint64_t)ds->n + add.n);
	for (j = 0; j < add.cap; j++)
		if (add.slot[j])
			set_insert(ds, add.slot[j]);
	if (add.slot != ((const struct st_set *)s)->slot)
		free(add.slot); /* d's own, replaced by the copy */
}

static void distinct_result(const struct agg_spec *a, const void *s,
                            struct fx_buf *out)
{
	add_u64(out, ((const struct st_set *)s)->n);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* {"h":"BASE64"}: the hashes sorted, little-endian */
static void distinct_partial(const struct agg_spec *a, const void *s,
                             struct fx_buf *out)
{
	const struct st_set *ss = s;
	uint64_t *h = fx_malloc((ss->n + 1) * sizeof(*h));
	size_t i, n = 0;
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
}

static int distinct_read(const struct agg_spec *a, void *s,
                         const struct json_value *v)
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

static void distinct_free(void *s)
{
	free(((struct st_set *)s)->slot);
}

/* ---- approx_distinct:F: a HyperLogLog (sketch.h) ---- */

static void hll_update(const struct agg_spec *a, void *s,
                       const struct json_value *v, const struct fx_num *num,
                       int64_t t)
{
	hll_add(s, value_hash(v));
}

static void hll_merge_op(const struct agg_spec *a, void *d, const void *s,
                         enum agg_order order)
{
	hll_merge(d, s);
}

static void hll_result(const struct agg_spec *a, const void *s,
                       struct fx_buf *out)
{
	add_u64(out, hll_count(s));
}

static void hll_partial(const struct agg_spec *a, const void *s,
                        struct fx_buf *out)
{
	hll_to_json(s, out);
}

static int hll_read(const struct agg_spec *a, void *s,
                    const struct json_value *v)
{
	return hll_from_json(s, v->p, v->len);
}

static void hll_free_op(void *s)
{
	hll_free(s);
}

/* ---- quantile:F:Q and pNN:F: a DDSketch (sketch.h) ---- */

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

static int quantile_alias(struct agg_spec *a, const char *fn)
{
	int pct = percentile(fn);

	if (pct <= 0)
		return 0;
	a->q = pct / 100.0;
	return 1;
}

static int quantile_param(struct agg_spec *a, const char *text)
{
	char *end;

	a->q = strtod(text, &end);
	return *end || !(a->q >= 0 && a->q <= 1) ? -1 : 0;
}

/*
 * Q in plain decimal, the fewest digits that read back as Q: 0.1, .1,
 * 0.10 and 1e-1 are one quantile and one column, q0_1_F; 0 and -0 are
 * q0_F, 1 and 1.0 q1_F. Never an exponent (Q is at most 1), so that the
 * name has no 'e' or '-' that another spelling would not have.
 */
static void quantile_name(const struct agg_spec *a, struct fx_buf *out)
{
	char b[40], *e;
	int prec, exp;
	size_t i;

	if (a->q <= 0 || a->q >= 1) {
		fx_buf_addc(out, a->q >= 1 ? '1' : '0');
		return;
	}
	for (prec = 0; prec < 17; prec++) {
		snprintf(b, sizeof(b), "%.*e", prec, a->q);
		if (strtod(b, NULL) == a->q)
			break;
	}
	/* b is D.DDDDe-XX: the digits, then how far below 1 the first is */
	e = strchr(b, 'e');
	exp = atoi(e + 1);
	while (e > b + 1 && e[-1] == '0')
		e--;
	fx_buf_adds(out, "0.");
	for (i = 1; i < (size_t)-exp; i++)
		fx_buf_addc(out, '0');
	fx_buf_addc(out, b[0]);
	if (e > b + 2)
		fx_buf_add(out, b + 2, (size_t)(e - b - 2));
}

static void dds_update(const struct agg_spec *a, void *s,
                       const struct json_value *v, const struct fx_num *num,
                       int64_t t)
{
	dds_add(s, num->kind == FX_NUM_INT ? (double)num->i : num->d);
}

static void dds_merge_op(const struct agg_spec *a, void *d, const void *s,
                         enum agg_order order)
{
	dds_merge(d, s);
}

static void dds_result(const struct agg_spec *a, const void *s,
                       struct fx_buf *out)
{
	double v;

	if (dds_quantile(s, a->q, &v) == 0)
		add_double(out, v);
	else
		fx_buf_adds(out, "null");
}

static void dds_partial(const struct agg_spec *a, const void *s,
                        struct fx_buf *out)
{
	dds_to_json(s, out);
}

static int dds_read(const struct agg_spec *a, void *s,
                    const struct json_value *v)
{
	return dds_from_json(s, v->p, v->len);
}

static void dds_free_op(void *s)
{
	dds_free(s);
}

/* ---- topk:F:N: a count per value (strmap of canonical JSON text) ---- */

static int topk_param(struct agg_spec *a, const char *text)
{
	char *end;

	a->k = strtoll(text, &end, 10);
	return *end || a->k < 1 || a->k > 100000 ? -1 : 0;
}

/* N in decimal: topk:F:03 and topk:F:3 are one column, top3_F */
static void topk_name(const struct agg_spec *a, struct fx_buf *out)
{
	add_i64(out, a->k);
}

static void topk_add(struct strmap *m, const char *p, size_t n, uint64_t c)
{
	struct strmap_entry *e = strmap_entry_for(m, p, n);

	e->value = (void *)((uintptr_t)e->value + (uintptr_t)c);
}

static void topk_update(const struct agg_spec *a, void *s,
                        const struct json_value *v, const struct fx_num *num,
                        int64_t t)
{
	struct json_value one;

	v = canonical(v, &one);
	topk_add(s, v->p, v->len, 1);
}

static void topk_merge(const struct agg_spec *a, void *d, const void *s,
                       enum agg_order order)
{
	const struct strmap *sm = s;
	size_t j;

	for (j = 0; j < sm->n; j++)
		topk_add(d, sm->entries[j].key, sm->entries[j].len,
		         (uintptr_t)sm->entries[j].value);
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

	int c;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	c = json_value_compare(&vx, &vy);
	if (c)
		return c;
	/* equal values written apart (1 and 1.0): by their bytes, so that
	 * the order does not depend on the order they came in */
	c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
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

/* Moves the heap's item i down to its place: the worst item at 0. */
static void topk_sift_down(struct topk_item *h, size_t n, size_t i)
{
	for (;;) {
		size_t w = i, l = 2 * i + 1, r = l + 1;
		struct topk_item t;

		if (l < n && cmp_topk(&h[l], &h[w]) > 0)
			w = l;
		if (r < n && cmp_topk(&h[r], &h[w]) > 0)
			w = r;
		if (w == i)
			return;
		t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

/*
 * The first k entries of topk_sorted()'s order, in that order, in *n:
 * a heap of the k best so far, so that millions of distinct values cost
 * a comparison each with the worst kept, not a sort of them all.
 */
static struct topk_item *topk_best(const struct strmap *m, size_t k, size_t *n)
{
	size_t keep = k < m->n ? k : m->n, i, j;
	struct topk_item *h = fx_malloc((keep + 1) * sizeof(*h));

	for (i = 0, j = 0; i < m->n && keep; i++) {
		struct topk_item it = {m->entries[i].key, m->entries[i].len,
		                       (uintptr_t)m->entries[i].value};

		if (j < keep) {
			h[j++] = it;
			if (j == keep)
				for (size_t p = keep / 2 + 1; p-- > 0;)
					topk_sift_down(h, keep, p);
		} else if (cmp_topk(&it, &h[0]) < 0) {
			h[0] = it;
			topk_sift_down(h, keep, 0);
		}
	}
	qsort(h, keep, sizeof(*h), cmp_topk);
	*n = keep;
	return h;
}

/* [{"value":V,"count":C},...], the first k */
static void topk_result(const struct agg_spec *a, const void *s,
                        struct fx_buf *out)
{
	const struct strmap *m = s;
	size_t i, n;
	struct topk_item *items = topk_best(m, (size_t)a->k, &n);

	fx_buf_addc(out, '[');
	for (i = 0; i < n; i++) {
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
}

/*
 * {"<value as JSON text>":count,...}: the text is a JSON string, so the
 * value's bytes come back exactly (1.0 stays 1.0), which a reprint of the
 * parsed value would not keep.
 */
static void topk_partial(const struct agg_spec *a, const void *s,
                         struct fx_buf *out)
{
	const struct strmap *m = s;
	struct topk_item *items = topk_sorted(m);
	size_t i;

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
}

static int topk_read(const struct agg_spec *a, void *s,
                     const struct json_value *v)
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
		topk_add(s, c->p, c->len, (uint64_t)num.i);
	}
	fx_buf_free(&text);
	return rc;
}

static void topk_free(void *s)
{
	strmap_free(s);
}

/* ---- the table ---- */

const struct agg_op agg_ops[AGG_NKINDS] = {
    [AGG_COUNT] = {.name = "count",
                   .kind = AGG_COUNT,
                   .flags = AGG_OP_NO_FIELD,
                   .size = sizeof(uint64_t),
                   .update = count_update,
                   .merge = count_merge,
                   .result = count_result,
                   .partial = count_result,
                   .read = count_read},
    [AGG_COUNT_FIELD] = {.name = "count",
                         .kind = AGG_COUNT_FIELD,
                         .size = sizeof(uint64_t),
                         .update = count_update,
                         .merge = count_merge,
                         .result = count_result,
                         .partial = count_result,
                         .read = count_read},
    [AGG_SUM] = {.name = "sum",
                 .kind = AGG_SUM,
                 .flags = AGG_OP_NUMBER,
                 .size = sizeof(struct st_num),
                 .can_add = num_can_add,
                 .update = num_update,
                 .can_merge = num_can_merge,
                 .merge = num_merge,
                 .result = sum_result,
                 .partial = num_partial,
                 .read = num_read,
                 .restore = num_restore,
                 .free = num_free},
    [AGG_MIN] = {.name = "min",
                 .kind = AGG_MIN,
                 .flags = AGG_OP_NULL_PARTIAL,
                 .size = sizeof(struct st_val),
                 .update = min_update,
                 .merge = min_merge,
                 .result = val_result,
                 .partial = val_result,
                 .read = val_read,
                 .free = val_free},
    [AGG_MAX] = {.name = "max",
                 .kind = AGG_MAX,
                 .flags = AGG_OP_NULL_PARTIAL,
                 .size = sizeof(struct st_val),
                 .update = max_update,
                 .merge = max_merge,
                 .result = val_result,
                 .partial = val_result,
                 .read = val_read,
                 .free = val_free},
    [AGG_AVG] = {.name = "avg",
                 .kind = AGG_AVG,
                 .flags = AGG_OP_NUMBER,
                 .size = sizeof(struct st_num),
                 .can_add = num_can_add,
                 .update = num_update,
                 .can_merge = num_can_merge,
                 .merge = num_merge,
                 .result = avg_result,
                 .partial = num_partial,
                 .read = num_read,
                 .restore = num_restore,
                 .free = num_free},
    [AGG_FIRST] = {.name = "first",
                   .kind = AGG_FIRST,
                   .flags = AGG_OP_NULL_PARTIAL,
                   .size = sizeof(struct st_val),
                   .update = first_update,
                   .merge = first_merge,
                   .result = val_result,
                   .partial = timed_partial,
                   .read = timed_read,
                   .free = val_free},
    [AGG_LAST] = {.name = "last",
                  .kind = AGG_LAST,
                  .flags = AGG_OP_NULL_PARTIAL,
                  .size = sizeof(struct st_val),
                  .update = last_update,
                  .merge = last_merge,
                  .result = val_result,
                  .partial = timed_partial,
                  .read = timed_read,
                  .free = val_free},
    [AGG_DISTINCT] = {.name = "distinct",
                      .kind = AGG_DISTINCT,
                      .size = sizeof(struct st_set),
                      .update = distinct_update,
                      .prefetch = distinct_prefetch,
                      .merge = distinct_merge,
                      .result = distinct_result,
                      .partial = distinct_partial,
                      .read = distinct_read,
                      .free = distinct_free},
    [AGG_APPROX_DISTINCT] = {.name = "approx_distinct",
                             .kind = AGG_APPROX_DISTINCT,
                             .flags = AGG_OP_NULL_PARTIAL,
                             .size = sizeof(struct hll),
                             .update = hll_update,
                             .merge = hll_merge_op,
                             .result = hll_result,
                             .partial = hll_partial,
                             .read = hll_read,
                             .free = hll_free_op},
    [AGG_QUANTILE] = {.name = "quantile",
                      .kind = AGG_QUANTILE,
                      .flags = AGG_OP_NUMBER | AGG_OP_NULL_PARTIAL,
                      .size = sizeof(struct dds),
                      .alias = quantile_alias,
                      .aliases = "p1 to p99",
                      .param = quantile_param,
                      .usage = "quantile:FIELD:Q",
                      .rule = "Q must be from 0 to 1",
                      .prefix = "q",
                      .param_name = quantile_name,
                      .update = dds_update,
                      .merge = dds_merge_op,
                      .result = dds_result,
                      .partial = dds_partial,
                      .read = dds_read,
                      .free = dds_free_op},
    [AGG_TOPK] = {.name = "topk",
                  .kind = AGG_TOPK,
                  .flags = AGG_OP_NULL_PARTIAL,
                  .size = sizeof(struct strmap),
                  .param = topk_param,
                  .usage = "topk:FIELD:N",
                  .rule = "N must be 1 to 100000",
                  .prefix = "top",
                  .param_name = topk_name,
                  .update = topk_update,
                  .merge = topk_merge,
                  .result = topk_result,
                  .partial = topk_partial,
                  .read = topk_read,
                  .free = topk_free},
};

/* ---- parsing specs ---- */

/*
 * The kind named fn: the one that takes a field if field is given and one
 * that takes none if not (count, count:F), else any of that name; failing
 * a name, a kind that fn is another spelling of (*aliased set). NULL if
 * none.
 */
static const struct agg_op *find_op(struct agg_spec *a, const char *fn,
                                    const char *field, int *aliased)
{
	const struct agg_op *any = NULL;
	size_t i;

	*aliased = 0;
	for (i = 0; i < AGG_NKINDS; i++) {
		const struct agg_op *op = &agg_ops[i];

		if (strcmp(fn, op->name) != 0)
			continue;
		if (!(op->flags & AGG_OP_NO_FIELD) == (field != NULL))
			return op;
		if (!any)
			any = op;
	}
	if (any)
		return any;
	for (i = 0; i < AGG_NKINDS; i++)
		if (agg_ops[i].alias && agg_ops[i].alias(a, fn)) {
			*aliased = 1;
			return &agg_ops[i];
		}
	return NULL;
}

/* "count, sum, ..., p1 to p99, quantile, topk": the names in the table */
static void known_names(struct fx_buf *b)
{
	size_t i, j;

	for (i = 0; i < AGG_NKINDS; i++) {
		for (j = 0; j < i; j++)
			if (!strcmp(agg_ops[j].name, agg_ops[i].name))
				break;
		if (j < i)
			continue;
		if (i)
			fx_buf_adds(b, ", ");
		if (agg_ops[i].aliases) {
			fx_buf_adds(b, agg_ops[i].aliases);
			fx_buf_adds(b, ", ");
		}
		fx_buf_adds(b, agg_ops[i].name);
	}
	fx_buf_addc(b, 0);
}

/*
 * fn, fn_FIELD, or with a parameter PREFIX PARAM _FIELD, PARAM spelled
 * from its value (op->param_name), not as given; dots become '_'.
 */
static char *default_name(const struct agg_spec *a, const char *fn,
                          const char *field, const char *param)
{
	const struct agg_op *op = a->op;
	struct fx_buf b = FX_BUF_INIT;
	size_t i;

	if (!field)
		return fx_strdup(fn);
	if (param && op->prefix) {
		fx_buf_adds(&b, op->prefix);
		op->param_name(a, &b);
	} else {
		fx_buf_adds(&b, fn);
	}
	fx_buf_addc(&b, '_');
	fx_buf_adds(&b, field);
	fx_buf_addc(&b, 0);
	for (i = 0; i < b.len; i++)
		if (b.p[i] == '.')
			b.p[i] = '_';
	return b.p;
}

static int parse_one(struct agg_spec *a, const char *spec, char *err,
                     size_t err_len)
{
	char *copy = fx_strdup(spec), *eq = strchr(copy, '='), *body = copy;
	char *fn, *field = NULL, *param = NULL;
	const struct agg_op *op;
	int rc = -1, aliased, wants_param;

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
	if (!(op = find_op(a, fn, field, &aliased))) {
		struct fx_buf names = FX_BUF_INIT;

		known_names(&names);
		snprintf(err, err_len, "'%s': unknown aggregate '%s' (%s)",
		         spec, fn, names.p);
		fx_buf_free(&names);
		goto out;
	}
	a->kind = op->kind;
	a->op = op;
	if (!(op->flags & AGG_OP_NO_FIELD) && (!field || !*field)) {
		snprintf(err, err_len, "'%s': %s needs a field (%s:FIELD)",
		         spec, fn, fn);
		goto out;
	}
	wants_param = op->param && !aliased;
	if (wants_param != (param != NULL)) {
		if (wants_param)
			snprintf(err, err_len, "'%s': expected %s", spec,
			         op->usage);
		else
			snprintf(err, err_len, "'%s': too many ':' parts",
			         spec);
		goto out;
	}
	if (wants_param && op->param(a, param)) {
		snprintf(err, err_len, "'%s': %s", spec, op->rule);
		goto out;
	}
	a->field = field ? fx_strdup(field) : NULL;
	a->name = eq ? fx_strdup(copy) : default_name(a, fn, field, param);
	rc = 0;
out:
	free(copy);
	return rc;
}

int agg_spec_parse(struct agg_spec *a, const char *spec, char *err,
                   size_t err_len)
{
	if (parse_one(a, spec, err, err_len)) {
		agg_spec_free(a);
		return -1;
	}
	return 0;
}

void agg_spec_free(struct agg_spec *a)
{
	free(a->name);
	free(a->field);
	a->name = a->field = NULL;
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
				/* the function, without the NAME= it has */
				const char *eq = strchr(specs[i], '=');

				snprintf(
				    err, err_len,
				    "two aggregates named '%s' (name one with NAME=%s)",
				    a->name, eq ? eq + 1 : specs[i]);
				return -1;
			}
		}
		a->off = off;
		off += (a->op->size + 7) & ~(size_t)7;
		path = merge ? a->name : a->field;
		if (path && (merge || !(a->op->flags & AGG_OP_NO_FIELD))) {
			/* a field read by several functions is one path */
			a->path = json_paths_find_or_add(paths, path, &perr);
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

	for (i = 0; i < set->n; i++)
		agg_spec_free(&set->v[i]);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

/* ---- a group's states: every function of the set in turn ---- */

void agg_set_state_free(const struct agg_set *set, void *state)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->v[i].op->free)
			set->v[i].op->free((char *)state + set->v[i].off);
}

int agg_set_check(const struct agg_set *set, const struct json_value *vals,
                  struct fx_num *nums, struct agg_error *e)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];
		const struct json_value *v;
		struct fx_num num;

		if (!(a->op->flags & AGG_OP_NUMBER))
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

int agg_set_update(const struct agg_set *set, void *state,
                   const struct json_value *vals, const struct fx_num *nums,
                   int64_t t, struct agg_error *e)
{
	size_t i;

	/* every refusal before any change */
	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];

		if (a->op->can_add && is_value(&vals[a->path]) &&
		    a->op->can_add(a, (char *)state + a->off, &vals[a->path],
		                   &nums[a->path], e))
			return -1;
	}
	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];

		if (a->op->flags & AGG_OP_NO_FIELD)
			a->op->update(a, (char *)state + a->off, NULL, NULL, t);
		else if (is_value(&vals[a->path]))
			a->op->update(a, (char *)state + a->off, &vals[a->path],
			              &nums[a->path], t);
	}
	return 0;
}

void agg_set_prefetch(const struct agg_set *set, const void *state,
                      const struct json_value *vals)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];

		if (a->op->prefetch && is_value(&vals[a->path]))
			a->op->prefetch((const char *)state + a->off,
			                &vals[a->path]);
	}
}

int agg_set_merge(const struct agg_set *set, void *dst, const void *src,
                  enum agg_order order, struct agg_error *e)
{
	size_t i;

	/* every refusal before any change */
	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];

		if (a->op->can_merge &&
		    a->op->can_merge(a, (const char *)dst + a->off,
		                     (const char *)src + a->off, order, e))
			return -1;
	}
	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];

		a->op->merge(a, (char *)dst + a->off,
		             (const char *)src + a->off, order);
	}
	return 0;
}

static void add_name(struct fx_buf *out, const struct agg_spec *a)
{
	fx_buf_addc(out, ',');
	fx_buf_add_json_string(out, a->name, strlen(a->name));
	fx_buf_addc(out, ':');
}

void agg_set_write_results(const struct agg_set *set, const void *state,
                           struct fx_buf *out)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];

		add_name(out, a);
		a->op->result(a, (const char *)state + a->off, out);
	}
}

void agg_set_write_partials(const struct agg_set *set, const void *state,
                            struct fx_buf *out)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];

		add_name(out, a);
		a->op->partial(a, (const char *)state + a->off, out);
	}
}

int agg_set_read_partials(const struct agg_set *set, void *state,
                          const struct json_value *vals, struct agg_error *e)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		const struct agg_spec *a = &set->v[i];
		const struct json_value *v = &vals[a->path];
		int rc;

		if (!is_value(v))
			rc = a->op->flags & AGG_OP_NULL_PARTIAL ? 0 : -1;
		else
			rc = a->op->read(a, (char *)state + a->off, v);
		if (rc) {
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
