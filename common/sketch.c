/*
 * sketch.c - HyperLogLog and DDSketch, see sketch.h.
 *
 * Both sketches keep a state that is a function of the multiset of inputs
 * alone (not of their order or of how they were split and merged), and
 * serialise that state canonically, so partial aggregates merged in any
 * order give the same bytes.
 *
 * A zeroed struct is an empty sketch of either kind.
 */
#include "sketch.h"
#include "base64.h"

#include "err.h"
#include "num.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a strict little JSON reader for our own two object shapes ---- */

struct rd {
	const char *p, *end;
};

static void rd_ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
	                         *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

/* Skips whitespace and one expected character. Returns 0 or -1. */
static int rd_char(struct rd *r, char c)
{
	rd_ws(r);
	if (r->p == r->end || *r->p != c)
		return -1;
	r->p++;
	return 0;
}

static int rd_peek(struct rd *r, char c)
{
	rd_ws(r);
	return r->p < r->end && *r->p == c;
}

/*
 * A string without escapes (our keys and base64 never need them): sets
 * *s and *n to its contents. Returns 0 or -1.
 */
static int rd_string(struct rd *r, const char **s, size_t *n)
{
	const char *q;

	if (rd_char(r, '"'))
		return -1;
	for (q = r->p; q < r->end && *q != '"'; q++)
		if (*q == '\\' || (unsigned char)*q < 0x20)
			return -1;
	if (q == r->end)
		return -1;
	*s = r->p;
	*n = (size_t)(q - r->p);
	r->p = q + 1;
	return 0;
}

/* The bytes of a JSON number token (validated later by the caller). */
static int rd_token(struct rd *r, const char **s, size_t *n)
{
	rd_ws(r);
	*s = r->p;
	while (r->p < r->end && *r->p && strchr("-+.eE0123456789", *r->p))
		r->p++;
	*n = (size_t)(r->p - *s);
	return *n ? 0 : -1;
}

static int rd_int64(struct rd *r, int64_t *v)
{
	struct fx_num num;
	const char *s;
	size_t n;

	if (rd_token(r, &s, &n) || fx_num_parse(s, n, &num) != FX_NUM_INT)
		return -1;
	*v = num.i;
	return 0;
}

/* A count: a non-negative JSON integer that fits uint64. */
static int rd_uint64(struct rd *r, uint64_t *v)
{
	const char *s;
	size_t i, n;
	uint64_t x = 0;

	if (rd_token(r, &s, &n) || (s[0] == '0' && n > 1))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

static int rd_double(struct rd *r, double *v)
{
	struct fx_num num;
	const char *s;
	size_t n;

	if (rd_token(r, &s, &n))
		return -1;
	switch (fx_num_parse(s, n, &num)) {
	case FX_NUM_INT:
	case FX_NUM_DOUBLE:
	case FX_NUM_BIGINT:
		*v = num.d;
		return 0;
	default:
		return -1;
	}
}

static int rd_null(struct rd *r)
{
	rd_ws(r);
	if (r->end - r->p < 4 || memcmp(r->p, "null", 4) != 0)
		return -1;
	r->p += 4;
	return 0;
}

static int rd_done(struct rd *r)
{
	rd_ws(r);
	return r->p == r->end ? 0 : -1;
}

static void add_uint(struct fx_buf *out, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	fx_buf_add(out, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void add_int(struct fx_buf *out, int64_t v)
{
	char tmp[24];

	fx_buf_add(out, tmp, fx_num_format_int(v, tmp));
}

static void add_double(struct fx_buf *out, double v)
{
	char tmp[32];

	fx_buf_add(out, tmp, fx_num_format_double(v, tmp));
}

/* ---- HyperLogLog ---- */

#define HLL_Q    (64 - HLL_P) /* hash bits left for the rank */
#define HLL_RMAX (HLL_Q + 1)  /* rank of a hash whose low 50 bits are 0 */

static void hll_reg_add(uint8_t *reg, uint64_t hash)
{
	uint32_t idx = (uint32_t)(hash >> HLL_Q);
	uint64_t w = hash << HLL_P;
	uint8_t rank = w ? (uint8_t)(__builtin_clzll(w) + 1) : HLL_RMAX;

	if (reg[idx] < rank)
		reg[idx] = rank;
}

/* Exact mode is over: the registers of the set are what direct inserts
 * of its hashes would have made, so the state depends on the set only. */
static void hll_densify(struct hll *h)
{
	uint32_t i;

	h->reg = fx_calloc(HLL_M, 1);
	for (i = 0; i < h->nset; i++)
		hll_reg_add(h->reg, h->set[i]);
	free(h->set);
	h->set = NULL;
	h->nset = h->setcap = 0;
}

/*
 * The set is kept sorted (a sorted set is also an unsorted one): a lookup
 * is a branchless binary search, 9 steps at most, instead of a scan of up
 * to HLL_SPARSE_MAX hashes; inserts move at most 4 KiB and happen once per
 * distinct hash. Returns the index of the first hash >= hash.
 */
static uint32_t hll_set_find(const struct hll *h, uint64_t hash)
{
	const uint64_t *base = h->set;
	uint32_t n = h->nset, half;

	if (n == 0)
		return 0;
	while (n > 1) {
		half = n / 2;
		base = base[half] < hash ? base + half : base;
		n -= half;
	}
	return (uint32_t)(base - h->set) + (*base < hash);
}

static void hll_set_add(struct hll *h, uint64_t hash)
{
	uint32_t at = hll_set_find(h, hash);

	if (at < h->nset && h->set[at] == hash)
		return;
	if (h->nset == HLL_SPARSE_MAX) {
		hll_densify(h);
		hll_reg_add(h->reg, hash);
		return;
	}
	if (h->nset == h->setcap) {
		h->setcap = h->setcap ? h->setcap * 2 : 8;
		if (h->setcap > HLL_SPARSE_MAX)
			h->setcap = HLL_SPARSE_MAX;
		h->set = fx_realloc(h->set, h->setcap * sizeof(*h->set));
	}
	memmove(h->set + at + 1, h->set + at, (h->nset - at) * sizeof(*h->set));
	h->set[at] = hash;
	h->nset++;
}

void hll_add(struct hll *h, uint64_t hash)
{
	if (h->reg)
		hll_reg_add(h->reg, hash);
	else
		hll_set_add(h, hash);
}

void hll_merge(struct hll *dst, const struct hll *src)
{
	uint32_t i;

	if (dst == src)
		return;
	if (!src->reg) {
		for (i = 0; i < src->nset; i++)
			hll_add(dst, src->set[i]);
		return;
	}
	if (!dst->reg)
		hll_densify(dst);
	for (i = 0; i < HLL_M; i++)
		if (dst->reg[i] < src->reg[i])
			dst->reg[i] = src->reg[i];
}

/*
 * Ertl, "New cardinality estimation algorithms for HyperLogLog sketches"
 * (2017), algorithm 6: unbiased from 0 to far past 2^32 without the
 * empirical bias tables or the switch to linear counting of classic HLL.
 */
static double hll_sigma(double x)
{
	double y = 1, z = x, prev;

	if (x == 1)
		return INFINITY;
	do {
		x *= x;
		prev = z;
		z += x * y;
		y += y;
	} while (z != prev);
	return z;
}

static double hll_tau(double x)
{
	double y = 1, z = 1 - x, prev;

	if (x == 0 || x == 1)
		return 0;
	do {
		x = sqrt(x);
		prev = z;
		y *= 0.5;
		z -= (1 - x) * (1 - x) * y;
	} while (z != prev);
	return z / 3;
}

static double hll_estimate(const uint8_t *reg)
{
	uint32_t c[HLL_RMAX + 1] = {0}, part[4][HLL_RMAX + 1] = {{0}}, i;
	double m = HLL_M, z;
	int k;

	/* four histograms: consecutive increments of one counter stall */
	for (i = 0; i < HLL_M; i += 4) {
		part[0][reg[i]]++;
		part[1][reg[i + 1]]++;
		part[2][reg[i + 2]]++;
		part[3][reg[i + 3]]++;
	}
	for (k = 0; k <= HLL_RMAX; k++)
		c[k] = part[0][k] + part[1][k] + part[2][k] + part[3][k];
	z = m * hll_tau(1 - c[HLL_RMAX] / m);
	for (k = HLL_Q; k >= 1; k--)
		z = 0.5 * (z + c[k]);
	z += m * hll_sigma(c[0] / m);
	return m * m / (2 * M_LN2) / z;
}

uint64_t hll_count(const struct hll *h)
{
	if (!h->reg)
		return h->nset;
	return (uint64_t)llround(hll_estimate(h->reg));
}

void hll_to_json(const struct hll *h, struct fx_buf *out)
{
	uint8_t bytes[HLL_SPARSE_MAX * 8];
	uint32_t i;
	int b;

	if (h->reg) {
		fx_buf_adds(out, "{\"hll\":\"");
		base64_encode(out, h->reg, HLL_M);
		fx_buf_adds(out, "\"}");
		return;
	}
	/* sorted (as kept), little-endian: the bytes depend on the set only */
	for (i = 0; i < h->nset; i++)
		for (b = 0; b < 8; b++)
			bytes[i * 8 + b] = (uint8_t)(h->set[i] >> (8 * b));
	fx_buf_adds(out, "{\"set\":\"");
	base64_encode(out, bytes, h->nset * 8);
	fx_buf_adds(out, "\"}");
}

static int hll_parse_set(struct hll *h, const uint8_t *bytes, long len)
{
	uint32_t n = (uint32_t)(len / 8), i;
	int b;

	if (len % 8 || n > HLL_SPARSE_MAX)
		return -1;
	h->set = n ? fx_malloc(n * sizeof(*h->set)) : NULL;
	h->nset = h->setcap = n;
	for (i = 0; i < n; i++) {
		uint64_t v = 0;

		for (b = 0; b < 8; b++)
			v |= (uint64_t)bytes[i * 8 + b] << (8 * b);
		/* strictly ascending: sorted and distinct, as written */
		if (i && v <= h->set[i - 1])
			return -1;
		h->set[i] = v;
	}
	return 0;
}

static int hll_parse_reg(struct hll *h, const uint8_t *bytes, long len)
{
	uint32_t i;

	if (len != HLL_M)
		return -1;
	for (i = 0; i < HLL_M; i++)
		if (bytes[i] > HLL_RMAX)
			return -1;
	h->reg = fx_malloc(HLL_M);
	memcpy(h->reg, bytes, HLL_M);
	return 0;
}

int hll_from_json(struct hll *h, const char *p, size_t n)
{
	struct rd r = {p, p + n};
	const char *key, *val;
	size_t klen, vlen;
	uint8_t *bytes;
	long len;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (rd_char(&r, '{') || rd_string(&r, &key, &klen) ||
	    rd_char(&r, ':') || rd_string(&r, &val, &vlen) ||
	    rd_char(&r, '}') || rd_done(&r))
		return -1;
	if (klen != 3 || vlen > (HLL_M + 2) / 3 * 4)
		return -1;
	bytes = fx_malloc(vlen / 4 * 3 + 1);
	len = base64_decode(val, vlen, bytes);
	if (len >= 0 && memcmp(key, "set", 3) == 0)
		rc = hll_parse_set(h, bytes, len);
	else if (len >= 0 && memcmp(key, "hll", 3) == 0)
		rc = hll_parse_reg(h, bytes, len);
	free(bytes);
	if (rc)
		hll_free(h);
	return rc;
}

void hll_free(struct hll *h)
{
	free(h->set);
	free(h->reg);
	memset(h, 0, sizeof(*h));
}

/* ---- DDSketch ---- */

#define DDS_ALPHA 0.01
/*
 * Bins per store. With gamma = 1.0202 the values 1e-9..1e18 need 3108
 * bins, so real data never reaches this. Past it the lowest bins (values
 * nearest zero) are folded into the lowest kept one: a value of index i
 * lands in max(i, top - DDS_MAX_BINS + 1) where top is the highest index
 * seen, which is still a function of the multiset of values alone, so
 * merging stays exact. Quantiles in the folded range lose their accuracy
 * (they read high); the upper ones keep it.
 */
#define DDS_MAX_BINS 4096

#define DDS_GAMMA ((1 + DDS_ALPHA) / (1 - DDS_ALPHA))

/*
 * The bin index, ceil(log(v) / log(gamma)) for finite v > 0 (gcc folds the
 * constant). glibc's log is table-driven and fast: a frexp + atanh series
 * with an exact fallback near bin edges measured 50% slower per add.
 */
static int32_t dds_index(double v)
{
	return (int32_t)ceil(log(v) / log(DDS_GAMMA));
}

/* Within alpha of every value of bin i, (gamma^(i-1), gamma^i]. */
static double dds_bin_value(int32_t i)
{
	return pow(DDS_GAMMA, i) * (2 / (DDS_GAMMA + 1));
}

static int32_t store_top(const struct dds_store *s)
{
	return s->offset + (int32_t)s->n - 1;
}

static void store_reserve(struct dds_store *s, uint32_t n)
{
	if (n <= s->cap)
		return;
	s->cap = s->cap * 2 > n ? s->cap * 2 : n;
	if (s->cap < 16)
		s->cap = 16;
	s->counts = fx_realloc(s->counts, s->cap * sizeof(*s->counts));
}

/*
 * The window [offset, offset + n) ends at the highest index seen (its top
 * bin is nonzero) and may have zero bins at its bottom, never below the
 * floor top - DDS_MAX_BINS + 1. Growing up to hi folds the bins that fall
 * under the new floor into it.
 */
static void store_grow_up(struct dds_store *s, int32_t hi)
{
	int32_t floor = hi - DDS_MAX_BINS + 1;
	uint32_t drop, i, n;
	uint64_t folded = 0;

	if (s->offset < floor) {
		drop = (uint32_t)(floor - s->offset);
		if (drop > s->n)
			drop = s->n;
		for (i = 0; i < drop; i++)
			folded += s->counts[i];
		memmove(s->counts, s->counts + drop,
		        (s->n - drop) * sizeof(*s->counts));
		s->n -= drop;
		if (s->n == 0)
			s->counts[s->n++] = 0;
		s->offset = floor;
		s->counts[0] += folded;
	}
	n = (uint32_t)(hi - s->offset + 1);
	store_reserve(s, n);
	memset(s->counts + s->n, 0, (n - s->n) * sizeof(*s->counts));
	s->n = n;
}

/*
 * Makes room for index i < offset, or clamps i to the floor; returns the
 * index to count. Growing down moves the counts, so it leaves as many
 * bins again of room below: a descending input moves them O(log) times.
 */
static int32_t store_grow_down(struct dds_store *s, int32_t i)
{
	int32_t floor = store_top(s) - DDS_MAX_BINS + 1, lo;
	uint32_t shift;

	if (i < floor)
		i = floor;
	if (i >= s->offset)
		return i;
	lo = i - (int32_t)s->n;
	if (lo < floor)
		lo = floor;
	shift = (uint32_t)(s->offset - lo);
	store_reserve(s, s->n + shift);
	memmove(s->counts + shift, s->counts, s->n * sizeof(*s->counts));
	memset(s->counts, 0, shift * sizeof(*s->counts));
	s->offset = lo;
	s->n += shift;
	return i;
}

static void store_add(struct dds_store *s, int32_t i, uint64_t c)
{
	if (s->n && i >= s->offset && i <= store_top(s)) {
		s->counts[i - s->offset] += c;
		return;
	}
	if (s->n == 0) {
		store_reserve(s, 1);
		s->offset = i;
		s->n = 1;
		s->counts[0] = 0;
	} else if (i > store_top(s)) {
		store_grow_up(s, i);
	} else {
		i = store_grow_down(s, i);
	}
	s->counts[i - s->offset] += c;
}

void dds_add(struct dds *d, double v)
{
	if (!isfinite(v))
		return;
	if (v == 0)
		v = 0; /* -0 is 0: min and max must not depend on its sign */
	if (d->count == 0 || v < d->min)
		d->min = v;
	if (d->count == 0 || v > d->max)
		d->max = v;
	d->count++;
	if (v > 0)
		store_add(&d->pos, dds_index(v), 1);
	else if (v < 0)
		store_add(&d->neg, dds_index(-v), 1);
	else
		d->zero++;
}

static void store_merge(struct dds_store *dst, const struct dds_store *src)
{
	uint32_t i;

	/* the top bin first: then the window is final and no bin moves */
	for (i = src->n; i-- > 0;)
		if (src->counts[i])
			store_add(dst, src->offset + (int32_t)i,
			          src->counts[i]);
}

void dds_merge(struct dds *dst, const struct dds *src)
{
	struct dds copy;

	if (src->count == 0)
		return;
	if (dst == src) {
		/* merging with oneself doubles every count */
		memset(&copy, 0, sizeof(copy));
		dds_merge(&copy, src);
		dds_merge(dst, &copy);
		dds_free(&copy);
		return;
	}
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (dst->count == 0 || src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->zero += src->zero;
	store_merge(&dst->pos, &src->pos);
	store_merge(&dst->neg, &src->neg);
}

int dds_quantile(const struct dds *d, double q, double *v)
{
	uint64_t rank, seen = 0;
	uint32_t i;
	double x = 0;

	if (d->count == 0 || !(q >= 0 && q <= 1))
		return -1;
	rank = (uint64_t)floor(q * (double)(d->count - 1));
	if (rank >= d->count - 1 || rank == 0) {
		/* the extremes are known exactly */
		*v = rank ? d->max : d->min;
		return 0;
	}
	/* most negative first: the neg store's highest index */
	for (i = d->neg.n; i-- > 0;) {
		seen += d->neg.counts[i];
		if (rank < seen) {
			x = -dds_bin_value(d->neg.offset + (int32_t)i);
			goto clamp;
		}
	}
	seen += d->zero;
	if (rank < seen)
		goto clamp;
	for (i = 0; i < d->pos.n; i++) {
		seen += d->pos.counts[i];
		if (rank < seen) {
			x = dds_bin_value(d->pos.offset + (int32_t)i);
			break;
		}
	}
clamp:
	*v = x < d->min ? d->min : x > d->max ? d->max : x;
	return 0;
}

/* [OFFSET,c0,…] over the nonzero range only: canonical whatever slack
 * the store keeps; [] when empty. */
static void store_to_json(const struct dds_store *s, struct fx_buf *out)
{
	uint32_t lo = 0, hi = s->n, i;

	while (lo < hi && !s->counts[lo])
		lo++;
	while (hi > lo && !s->counts[hi - 1])
		hi--;
	fx_buf_addc(out, '[');
	if (lo < hi) {
		add_int(out, s->offset + (int64_t)lo);
		for (i = lo; i < hi; i++) {
			fx_buf_addc(out, ',');
			add_uint(out, s->counts[i]);
		}
	}
	fx_buf_addc(out, ']');
}

void dds_to_json(const struct dds *d, struct fx_buf *out)
{
	fx_buf_adds(out, "{\"n\":");
	add_uint(out, d->count);
	/* an empty sketch has no min or max */
	fx_buf_adds(out, ",\"min\":");
	if (d->count)
		add_double(out, d->min);
	else
		fx_buf_adds(out, "null");
	fx_buf_adds(out, ",\"max\":");
	if (d->count)
		add_double(out, d->max);
	else
		fx_buf_adds(out, "null");
	fx_buf_adds(out, ",\"zero\":");
	add_uint(out, d->zero);
	fx_buf_adds(out, ",\"pos\":");
	store_to_json(&d->pos, out);
	fx_buf_adds(out, ",\"neg\":");
	store_to_json(&d->neg, out);
	fx_buf_addc(out, '}');
}

/* Adds c to *sum; -1 on overflow. */
static int add_count(uint64_t *sum, uint64_t c)
{
	return __builtin_add_overflow(*sum, c, sum) ? -1 : 0;
}

/*
 * [OFFSET,c0,…,ck] as written: c0 and ck nonzero, at most DDS_MAX_BINS
 * bins, every index within int32 and every bin a possible index.
 */
static int store_from_json(struct rd *r, struct dds_store *s, uint64_t *sum)
{
	int64_t off;
	uint64_t c;

	if (rd_char(r, '['))
		return -1;
	if (rd_peek(r, ']'))
		return rd_char(r, ']');
	if (rd_int64(r, &off) || off < -40000 || off > 40000)
		return -1;
	s->offset = (int32_t)off;
	while (!rd_peek(r, ']')) {
		if (rd_char(r, ',') || rd_uint64(r, &c) || s->n == DDS_MAX_BINS)
			return -1;
		if (s->n == 0 && c == 0)
			return -1;
		store_reserve(s, s->n + 1);
		s->counts[s->n++] = c;
		if (add_count(sum, c))
			return -1;
	}
	if (s->n == 0 || s->counts[s->n - 1] == 0)
		return -1;
	return rd_char(r, ']');
}

enum { K_N = 1, K_MIN = 2, K_MAX = 4, K_ZERO = 8, K_POS = 16, K_NEG = 32 };

static int dds_member(struct rd *r, struct dds *d, unsigned *seen,
                      uint64_t *sum, int *null_minmax)
{
	const char *k;
	size_t n;
	unsigned bit;
	int rc, isnull;

	if (rd_string(r, &k, &n) || rd_char(r, ':'))
		return -1;
#define KEY(s) (n == sizeof(s) - 1 && memcmp(k, s, n) == 0)
	bit = KEY("n")      ? K_N
	      : KEY("min")  ? K_MIN
	      : KEY("max")  ? K_MAX
	      : KEY("zero") ? K_ZERO
	      : KEY("pos")  ? K_POS
	      : KEY("neg")  ? K_NEG
	                    : 0;
#undef KEY
	if (!bit || (*seen & bit))
		return -1;
	*seen |= bit;
	switch (bit) {
	case K_N:
		return rd_uint64(r, &d->count);
	case K_ZERO:
		rc = rd_uint64(r, &d->zero);
		return rc ? rc : add_count(sum, d->zero);
	case K_POS:
		return store_from_json(r, &d->pos, sum);
	case K_NEG:
		return store_from_json(r, &d->neg, sum);
	default:
		isnull = rd_peek(r, 'n');
		*null_minmax += isnull;
		if (isnull)
			return rd_null(r);
		return rd_double(r, bit == K_MIN ? &d->min : &d->max);
	}
}

int dds_from_json(struct dds *d, const char *p, size_t n)
{
	struct rd r = {p, p + n};
	unsigned seen = 0;
	uint64_t sum = 0;
	int nulls = 0;

	memset(d, 0, sizeof(*d));
	if (rd_char(&r, '{'))
		goto bad;
	do {
		if (dds_member(&r, d, &seen, &sum, &nulls))
			goto bad;
	} while (!rd_char(&r, ','));
	if (rd_char(&r, '}') || rd_done(&r) || seen != 63)
		goto bad;
	/* the counts must add up, and min/max be null exactly when empty */
	if (sum != d->count || nulls != (d->count ? 0 : 2))
		goto bad;
	if (d->count && !(d->min <= d->max))
		goto bad;
	if (d->count == 0)
		d->min = d->max = 0;
	return 0;
bad:
	dds_free(d);
	return -1;
}

void dds_free(struct dds *d)
{
	free(d->pos.counts);
	free(d->neg.counts);
	memset(d, 0, sizeof(*d));
}
