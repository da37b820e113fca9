/* keysort.c - sorting groups by key: radix sort on a prefix, then merges */
#include "keysort.h"
#include "json.h"
#include "num.h"

#include <string.h>

int group_key_compare(const char *a, uint32_t alen, const char *b,
                      uint32_t blen, size_t nby)
{
	const char *ae = a + alen, *be = b + blen;
	size_t i;

	for (i = 0; i < nby && a < ae && b < be; i++) {
		uint32_t la = group_key_field_len(a),
		         lb = group_key_field_len(b);
		struct json_value va = {json_type_of(a + 4, la), a + 4, la, 0};
		struct json_value vb = {json_type_of(b + 4, lb), b + 4, lb, 0};
		int c;

		/* equal bytes are equal values: skip parsing numbers */
		if (la == lb && memcmp(a + 4, b + 4, la) == 0) {
			a += 4 + la;
			b += 4 + lb;
			continue;
		}
		c = json_value_compare(&va, &vb);
		if (c)
			return c;
		a += 4 + la;
		b += 4 + lb;
	}
	return 0;
}

static uint64_t order_double(double d)
{
	uint64_t u;

	memcpy(&u, &d, 8);
	/* IEEE order: flip all bits of negatives, the sign bit of the rest */
	return (u >> 63) ? ~u : u | (1ULL << 63);
}

static uint64_t field_prefix(const char *v, uint32_t n, int *exact)
{
	struct fx_num num;
	uint64_t p = 0;
	size_t i;

	*exact = 0;
	switch (json_type_of(v, n)) {
	case JSON_MISSING:
		return 0;
	case JSON_NULL:
		*exact = 1;
		return 0;
	case JSON_FALSE:
		*exact = 1;
		return 1ULL << 61;
	case JSON_TRUE:
		*exact = 1;
		return 2ULL << 61;
	case JSON_NUMBER:
		/*
		 * Integers below 2^49 are exact doubles whose low 3 bits are
		 * zero; "-0" is the one spelling of an integer that is not
		 * the only one.
		 */
		if (fx_num_parse(v, n, &num) == FX_NUM_INT &&
		    num.i > -(1LL << 49) && num.i < (1LL << 49) &&
		    !(num.i == 0 && v[0] == '-'))
			*exact = 1;
		/* -0.0 is 0 to json_value_compare: the same prefix */
		return 3ULL << 61 | order_double(num.d == 0 ? 0.0 : num.d) >> 3;
	case JSON_STRING:
		for (i = 1; i < 8; i++)
			p = p << 8 | (i < n - 1 ? (unsigned char)v[i] : 0);
		*exact = n <= 9; /* no NUL in JSON text: padding sorts first */
		return 4ULL << 61 | p;
	case JSON_ARRAY:
		return 5ULL << 61;
	case JSON_OBJECT:
		return 6ULL << 61;
	}
	return 7ULL << 61;
}

static void sort_item_init(struct keysort_item *it, const struct agg_group *g,
                           size_t nby)
{
	const char *k = g->key;
	uint32_t n;
	int exact2;

	it->g = g;
	it->p1 = it->p2 = 0;
	it->exact1 = 0;
	if (!nby)
		return;
	n = group_key_field_len(k);
	it->p1 = field_prefix(k + 4, n, &it->exact1);
	if (nby > 1 && it->exact1)
		it->p2 = field_prefix(k + 8 + n, group_key_field_len(k + 4 + n),
		                      &exact2);
}

static inline int sort_item_before(const struct keysort_item *x,
                                   const struct keysort_item *y, size_t nby)
{
	if (x->p1 != y->p1)
		return x->p1 < y->p1;
	if (x->exact1 && y->exact1 && x->p2 != y->p2)
		return x->p2 < y->p2;
	return group_key_compare(x->g->key, x->g->keylen, y->g->key,
	                         y->g->keylen, nby) < 0;
}

/*
 * A merge sort with the comparison inlined: runs of 8 by insertion, then
 * merges between a and tmp. Returns the buffer that holds the result.
 */
static struct keysort_item *merge_sort_items(struct keysort_item *a,
                                             struct keysort_item *tmp, size_t n,
                                             size_t nby)
{
	size_t i, j, width;

	for (i = 0; i < n; i += 8) {
		size_t end = i + 8 < n ? i + 8 : n;

		for (j = i + 1; j < end; j++) {
			struct keysort_item x = a[j];
			size_t k = j;

			while (k > i && sort_item_before(&x, &a[k - 1], nby)) {
				a[k] = a[k - 1];
				k--;
			}
			a[k] = x;
		}
	}
	for (width = 8; width < n; width *= 2) {
		struct keysort_item *swap;

		for (i = 0; i < n; i += 2 * width) {
			size_t l = i, m = i + width < n ? i + width : n;
			size_t r = m,
			       end = i + 2 * width < n ? i + 2 * width : n;
			size_t o = i;

			while (l < m && r < end)
				tmp[o++] = sort_item_before(&a[r], &a[l], nby)
				               ? a[r++]
				               : a[l++];
			while (l < m)
				tmp[o++] = a[l++];
			while (r < end)
				tmp[o++] = a[r++];
		}
		swap = a;
		a = tmp;
		tmp = swap;
	}
	return a;
}

/*
 * Sorts n items (tmp holds n more): a radix sort on p1, a byte a pass,
 * skipping the bytes every item shares (the type, most of an exponent),
 * then the merge sort within each run of equal p1. Comparisons mispredict
 * half the time; counting does not. Returns the buffer with the result.
 */
static struct keysort_item *sort_items(struct keysort_item *a,
                                       struct keysort_item *tmp, size_t n,
                                       size_t nby)
{
	uint32_t count[8][256];
	size_t i, j;
	int b;

	if (n < 64)
		return merge_sort_items(a, tmp, n, nby);
	memset(count, 0, sizeof(count));
	for (i = 0; i < n; i++)
		for (b = 0; b < 8; b++)
			count[b][a[i].p1 >> (8 * b) & 255]++;
	for (b = 0; b < 8; b++) {
		uint32_t *c = count[b], sum = 0, x;
		struct keysort_item *swap;
		int d;

		if (c[a[0].p1 >> (8 * b) & 255] == n)
			continue;
		for (d = 0; d < 256; d++) {
			x = c[d];
			c[d] = sum;
			sum += x;
		}
		for (i = 0; i < n; i++)
			tmp[c[a[i].p1 >> (8 * b) & 255]++] = a[i];
		swap = a;
		a = tmp;
		tmp = swap;
	}
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && a[j].p1 == a[i].p1;)
			j++;
		if (j - i > 1 &&
		    merge_sort_items(a + i, tmp + i, j - i, nby) != a + i)
			memcpy(a + i, tmp + i, (j - i) * sizeof(*a));
	}
	return a;
}

struct keysort_item *keysort_groups(struct keysort_item *buf,
                                    struct agg_group *const *g, size_t n,
                                    size_t nby)
{
	size_t i;

	for (i = 0; i < n; i++)
		sort_item_init(&buf[i], g[i], nby);
	return sort_items(buf, buf + n, n, nby);
}
