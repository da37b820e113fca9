/* agg.c - fx-agg's engine: groups, windows, watermarks, emission */
#include "agg.h"
#include "aggfn.h"
#include "arena.h"
#include "err.h"
#include "fxtime.h"
#include "stream.h"
#include "strmap.h"
#include "window.h"
#include "writer.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- groups ---- */

struct session;
struct sort_item;

/*
 * A group lives in one arena block: this header, then its key, then its
 * state, so that finding a group and updating it touch the same cache
 * lines.
 */
struct grp {
	uint64_t hash;
	uint32_t keylen;
	void *state;
	struct session *sessions; /* session windows only */
	char key[]; /* per by-field: 4-byte length, then the value */
};

/* A slot holds the group itself: one memory access less per lookup. */
struct slot {
	uint64_t hash;
	struct grp *g; /* NULL = empty */
};

struct group_table {
	struct arena arena;
	struct grp **g; /* in order of creation */
	size_t n, cap;
	struct slot *slot;
	size_t nslots;
};

struct win {
	int64_t start, end;
	struct group_table t;
};

struct session {
	int64_t start, end; /* end = last event time + gap */
	uint64_t id;
	void *state;
	struct session *next;
};

struct heap_item {
	int64_t end, start;
	struct grp *group;
	uint64_t id;
};

struct part {
	int64_t max_t; /* INT64_MIN before the first record */
	double last_seen;
	int active; /* counts toward the watermark */
};

/*
 * Records are taken in batches so that the group of each can be looked up
 * before it is needed: a pass that prefetches the hash slots, one that
 * prefetches the groups, then the records in order. With 100,000 groups two
 * cache misses per record were half of fx-agg's time.
 */
#define AGG_BATCH 16

struct batch_entry {
	size_t off, len; /* the record's copy in batch.bytes */
	uint64_t line;
	int64_t t; /* its event time, if have_t */
	int have_t;
	struct group_table *table; /* where its group probably is */
	const char *key; /* its group key (in batch.keys) and key_hash */
	size_t key_off, key_len;
	uint64_t hash;
	struct grp *g; /* the group, if it was found */
	struct json_value vals[JSON_MAX_PATHS];
};

struct batch {
	struct fx_buf bytes;
	struct fx_buf keys; /* the entries' group keys */
	struct batch_entry e[AGG_BATCH];
	size_t n;
};

struct engine {
	struct fx_ctx *ctx;
	const struct agg_opts *o;
	struct window_spec ws;
	struct agg_set aggs;
	struct json_paths paths;
	size_t nby;
	int *by_path;
	char **by_name;
	int time_path, topic_path, part_path, ctl_path, ts_path, list_path;
	int eof_path;
	int ws_path, we_path; /* --merge: window bounds of partial rows */
	enum fx_time_unit unit;

	/* fixed windows, sorted by end then start; closed ones kept by update
	 */
	struct win **wins;
	size_t nwins, capwins;
	struct win **kept;
	size_t nkept, capkept;
	struct win *global;    /* without --window */
	size_t typical_groups; /* in the last window closed */
	int prefetch_states;   /* an aggregate with a set to prefetch */

	/* session windows */
	struct group_table sg;
	struct heap_item *heap;
	size_t nheap, capheap;
	uint64_t next_session_id;

	/* watermark */
	int64_t wm;
	int64_t next_close;
	struct strmap part_index; /* "topic/partition" -> index + 1 */
	struct part *parts;
	size_t nparts, capparts;

	/* output and scratch */
	struct fx_buf bounds; /* the formatted bounds of the last window */
	int64_t bounds_start, bounds_end;
	struct fx_buf by_json; /* ,"name": of each group field */
	size_t *by_json_off;
	/* what batch_prefetch worked out for the record on_record is given */
	const struct batch_entry *pre;
	struct record_writer out;
	struct fx_buf row, key, scratch;
	uint64_t key_hash;      /* of key */
	struct sort_item *sort; /* emit_window's, twice the largest window */
	size_t capsort;
	struct window *assigned;
	struct fx_num nums[JSON_MAX_PATHS]; /* numbers of the record */
	void *tmp_state;
	FILE *late_file;
	int late_mode; /* 0 drop, 1 dlq, 2 update */
	const char *late_path;
	uint64_t seq; /* arrival order, the time without --time */
};

static uint32_t key_field_len(const char *p)
{
	uint32_t n;

	memcpy(&n, p, 4);
	return n;
}

static int key_compare(const char *a, uint32_t alen, const char *b,
                       uint32_t blen, size_t nby)
{
	const char *ae = a + alen, *be = b + blen;
	size_t i;

	for (i = 0; i < nby && a < ae && b < be; i++) {
		uint32_t la = key_field_len(a), lb = key_field_len(b);
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

static void table_rehash(struct group_table *t)
{
	size_t i;

	free(t->slot);
	t->nslots = t->nslots ? t->nslots * 2 : 64;
	t->slot = calloc(t->nslots, sizeof(*t->slot));
	if (!t->slot)
		fx_oom();
	for (i = 0; i < t->n; i++) {
		size_t j = (size_t)t->g[i]->hash & (t->nslots - 1);

		while (t->slot[j].g)
			j = (j + 1) & (t->nslots - 1);
		t->slot[j].hash = t->g[i]->hash;
		t->slot[j].g = t->g[i];
	}
}

/* The group of key (creating it with a zeroed state block of size). */
static struct grp *table_get(struct group_table *t, const char *key,
                             uint32_t len, uint64_t hash, size_t state_size)
{
	size_t j, klen = (len + 15) & ~(size_t)15;
	struct grp *g;

	if ((t->n + 1) * 2 > t->nslots)
		table_rehash(t);
	for (j = (size_t)hash & (t->nslots - 1); (g = t->slot[j].g);
	     j = (j + 1) & (t->nslots - 1)) {
		if (t->slot[j].hash == hash && g->keylen == len &&
		    (len == 0 || memcmp(g->key, key, len) == 0))
			return g;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->g = fx_realloc(t->g, t->cap * sizeof(*t->g));
	}
	g = arena_alloc(&t->arena, sizeof(*g) + klen + state_size);
	g->hash = hash;
	g->keylen = len;
	if (len) /* no --by: an empty key, maybe NULL */
		memcpy(g->key, key, len);
	g->state = state_size ? g->key + klen : NULL;
	g->sessions = NULL;
	t->g[t->n++] = g;
	t->slot[j].hash = hash;
	t->slot[j].g = g;
	return g;
}

static void table_free(struct group_table *t, const struct agg_set *aggs)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->g[i]->state)
			agg_set_state_free(aggs, t->g[i]->state);
	free(t->g);
	free(t->slot);
	arena_free(&t->arena);
	memset(t, 0, sizeof(*t));
}

/* ---- output ---- */

static void add_time(struct fx_buf *b, const char *name, int64_t ms)
{
	char iso[FX_TIME_ISO_LEN + 1];
	size_t n = fx_time_format_iso(ms, iso);

	fx_buf_adds(b, name);
	fx_buf_addc(b, '"');
	fx_buf_add(b, iso, n);
	fx_buf_addc(b, '"');
}

/* Writes one row: window bounds (if any), group fields, aggregates. */
static int write_row(struct engine *e, const struct win *w, int64_t start,
                     int64_t end, const struct grp *g, const void *state)
{
	const char *k = g->key;
	size_t i;

	fx_buf_reset(&e->row);
	fx_buf_addc(&e->row, '{');
	if (e->ws.kind != WINDOW_NONE) {
		/* a window's rows share their bounds: format them once */
		if (start != e->bounds_start || end != e->bounds_end ||
		    !e->bounds.len) {
			fx_buf_reset(&e->bounds);
			add_time(&e->bounds, "\"window_start\":", start);
			add_time(&e->bounds, ",\"window_end\":", end);
			e->bounds_start = start;
			e->bounds_end = end;
		}
		fx_buf_add(&e->row, e->bounds.p, e->bounds.len);
	}
	for (i = 0; i < e->nby; i++) {
		uint32_t n = key_field_len(k);
		const char *name = e->by_json.p + e->by_json_off[i];
		size_t nlen = e->by_json_off[i + 1] - e->by_json_off[i];

		/* the first member has no comma before it */
		if (e->row.len == 1)
			fx_buf_add(&e->row, name + 1, nlen - 1);
		else
			fx_buf_add(&e->row, name, nlen);
		fx_buf_add(&e->row, k + 4, n);
		k += 4 + n;
	}
	i = e->row.len;
	if (e->o->partial)
		agg_set_write_partials(&e->aggs, state, &e->row);
	else
		agg_set_write_results(&e->aggs, state, &e->row);
	if (i == 1 && e->row.len > 1) /* no bounds, no groups: no comma */
		memmove(e->row.p + 1, e->row.p + 2, --e->row.len - 1);
	fx_buf_addc(&e->row, '}');
	e->ctx->st.records_out++;
	record_writer_put(&e->out, e->row.p, e->row.len);
	return record_writer_status(&e->out); /* | head: not FX_EXIT_IO */
}

/*
 * Sorting by key: each group gets a 64-bit prefix of its first two fields
 * that orders as the field does (type rank in the top 3 bits; a number's
 * double, or a string's first 7 bytes, below), so that most comparisons
 * are integer compares without touching the group. A prefix is "exact"
 * when equal prefixes mean equal values (short strings, small integers,
 * literals); only then does the second field's prefix decide, and ties
 * fall back to the full comparison.
 */
struct sort_item {
	uint64_t p1, p2;
	const struct grp *g;
	int exact1;
};

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
		return 3ULL << 61 | order_double(num.d) >> 3;
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

static void sort_item_init(struct sort_item *it, const struct grp *g,
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
	n = key_field_len(k);
	it->p1 = field_prefix(k + 4, n, &it->exact1);
	if (nby > 1 && it->exact1)
		it->p2 =
		    field_prefix(k + 8 + n, key_field_len(k + 4 + n), &exact2);
}

static inline int sort_item_before(const struct sort_item *x,
                                   const struct sort_item *y, size_t nby)
{
	if (x->p1 != y->p1)
		return x->p1 < y->p1;
	if (x->exact1 && y->exact1 && x->p2 != y->p2)
		return x->p2 < y->p2;
	return key_compare(x->g->key, x->g->keylen, y->g->key, y->g->keylen,
	                   nby) < 0;
}

/*
 * A merge sort with the comparison inlined: runs of 8 by insertion, then
 * merges between a and tmp. Returns the buffer that holds the result.
 */
static struct sort_item *merge_sort_items(struct sort_item *a,
                                          struct sort_item *tmp, size_t n,
                                          size_t nby)
{
	size_t i, j, width;

	for (i = 0; i < n; i += 8) {
		size_t end = i + 8 < n ? i + 8 : n;

		for (j = i + 1; j < end; j++) {
			struct sort_item x = a[j];
			size_t k = j;

			while (k > i && sort_item_before(&x, &a[k - 1], nby)) {
				a[k] = a[k - 1];
				k--;
			}
			a[k] = x;
		}
	}
	for (width = 8; width < n; width *= 2) {
		struct sort_item *swap;

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
static struct sort_item *sort_items(struct sort_item *a, struct sort_item *tmp,
                                    size_t n, size_t nby)
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
		struct sort_item *swap;
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

/* Writes every group of a window, sorted by key. */
static int emit_window(struct engine *e, const struct win *w)
{
	struct sort_item *order;
	size_t i, n = w->t.n;
	int rc = 0;

	if (e->capsort < 2 * n) {
		e->capsort = 2 * n;
		free(e->sort);
		e->sort = fx_malloc(e->capsort * sizeof(*e->sort));
	}
	for (i = 0; i < n; i++)
		sort_item_init(&e->sort[i], w->t.g[i], e->nby);
	order = sort_items(e->sort, e->sort + n, n, e->nby);
	for (i = 0; i < n && !rc; i++) {
		if (i + 8 < n)
			__builtin_prefetch(order[i + 8].g);
		rc = write_row(e, w, w->start, w->end, order[i].g,
		               order[i].g->state);
	}
	return rc;
}

static void win_free(struct engine *e, struct win *w)
{
	table_free(&w->t, &e->aggs);
	free(w);
}

/* ---- fixed windows ---- */

static int win_before(const struct win *w, int64_t start, int64_t end)
{
	return w->end < end || (w->end == end && w->start < start);
}

/* The open window [start, end), created in order if new. */
static struct win *win_get(struct engine *e, int64_t start, int64_t end)
{
	size_t i = e->nwins;
	struct win *w;

	/* records mostly land in the newest windows: search from the end */
	while (i > 0 && win_before(e->wins[i - 1], start, end) == 0) {
		w = e->wins[i - 1];
		if (w->start == start && w->end == end)
			return w;
		i--;
	}
	if (e->nwins == e->capwins) {
		e->capwins = e->capwins ? e->capwins * 2 : 16;
		e->wins = fx_realloc(e->wins, e->capwins * sizeof(*e->wins));
	}
	memmove(e->wins + i + 1, e->wins + i,
	        (e->nwins - i) * sizeof(*e->wins));
	w = fx_malloc(sizeof(*w));
	memset(w, 0, sizeof(*w));
	w->start = start;
	w->end = end;
	/* windows tend to be alike: start at the last one's size, not grow */
	if (e->typical_groups > 32) {
		while (w->t.nslots < e->typical_groups * 2)
			w->t.nslots = w->t.nslots ? w->t.nslots * 2 : 64;
		w->t.nslots /= 2; /* table_rehash doubles it */
		table_rehash(&w->t);
		w->t.cap = e->typical_groups;
		w->t.g = fx_malloc(w->t.cap * sizeof(*w->t.g));
	}
	e->wins[i] = w;
	e->nwins++;
	if (i == 0)
		e->next_close = end;
	return w;
}

static struct win *kept_get(struct engine *e, int64_t start, int64_t end)
{
	size_t i;

	for (i = e->nkept; i > 0; i--)
		if (e->kept[i - 1]->start == start &&
		    e->kept[i - 1]->end == end)
			return e->kept[i - 1];
	return NULL;
}

static void keep_closed(struct engine *e, struct win *w)
{
	size_t i = 0;

	if (e->nkept == e->capkept) {
		e->capkept = e->capkept ? e->capkept * 2 : 16;
		e->kept = fx_realloc(e->kept, e->capkept * sizeof(*e->kept));
	}
	e->kept[e->nkept++] = w;
	/* forget windows older than --retain */
	while (i < e->nkept && e->kept[i]->end + e->o->retain <= e->wm)
		win_free(e, e->kept[i++]);
	memmove(e->kept, e->kept + i, (e->nkept - i) * sizeof(*e->kept));
	e->nkept -= i;
}

/* Emits and frees (or keeps) the windows that end at or before wm. */
static int close_windows(struct engine *e, int64_t wm)
{
	size_t i = 0;
	int rc = 0;

	while (i < e->nwins && e->wins[i]->end <= wm && !rc) {
		e->typical_groups = e->wins[i]->t.n;
		rc = emit_window(e, e->wins[i]);
		if (e->late_mode == 2)
			keep_closed(e, e->wins[i]);
		else
			win_free(e, e->wins[i]);
		i++;
	}
	memmove(e->wins, e->wins + i, (e->nwins - i) * sizeof(*e->wins));
	e->nwins -= i;
	e->next_close = e->nwins ? e->wins[0]->end : INT64_MAX;
	return rc;
}

/* ---- session windows ---- */

static void heap_push(struct engine *e, const struct heap_item *it)
{
	size_t i;

	if (e->nheap == e->capheap) {
		e->capheap = e->capheap ? e->capheap * 2 : 64;
		e->heap = fx_realloc(e->heap, e->capheap * sizeof(*e->heap));
	}
	i = e->nheap++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (e->heap[parent].end <= it->end)
			break;
		e->heap[i] = e->heap[parent];
		i = parent;
	}
	e->heap[i] = *it;
}

static void heap_pop(struct engine *e)
{
	struct heap_item last = e->heap[--e->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= e->nheap)
			break;
		if (c + 1 < e->nheap && e->heap[c + 1].end < e->heap[c].end)
			c++;
		if (last.end <= e->heap[c].end)
			break;
		e->heap[i] = e->heap[c];
		i = c;
	}
	if (e->nheap)
		e->heap[i] = last;
}

static void *state_new(struct engine *e)
{
	void *s = fx_malloc(e->aggs.state_size ? e->aggs.state_size : 1);

	memset(s, 0, e->aggs.state_size);
	return s;
}

static void session_free(struct engine *e, struct session *s)
{
	agg_set_state_free(&e->aggs, s->state);
	free(s->state);
	free(s);
}

static void session_push(struct engine *e, struct grp *g,
                         const struct session *s)
{
	struct heap_item it = {s->end, s->start, g, s->id};

	heap_push(e, &it);
	if (s->end < e->next_close)
		e->next_close = s->end;
}

/*
 * Merges into group gi's session `into` every other session of the group it
 * now overlaps. The earlier session's state is the base of a merge.
 */
static int session_absorb(struct engine *e, struct grp *g, struct session *into)
{
	struct session **pp = &g->sessions, *s;
	struct agg_error err;
	int rc = 0;

	while ((s = *pp)) {
		if (s == into ||
		    !(s->start < into->end && into->start < s->end)) {
			pp = &s->next;
			continue;
		}
		if (s->start < into->start) {
			void *t = into->state;

			into->state = s->state;
			s->state = t;
		}
		if (agg_set_merge(&e->aggs, into->state, s->state, &err))
			rc = fx_bad_record(e->ctx, &FX_WHERE_LINE("session", 0),
			                   err.field, "", 0, "%s", err.reason);
		if (s->start < into->start)
			into->start = s->start;
		if (s->end > into->end)
			into->end = s->end;
		*pp = s->next;
		session_free(e, s);
		pp = &g->sessions;
	}
	return rc;
}

/*
 * Adds the session [start, end) to group gi: the open session it overlaps
 * grows to hold it (merging with any others it then overlaps), or a new
 * one starts. Returns the session holding it; the heap learns of changed
 * ends lazily, when their old entry comes up.
 */
static struct session *session_for(struct engine *e, struct grp *g,
                                   int64_t start, int64_t end, int *rc)
{
	struct session *s;

	for (s = g->sessions; s; s = s->next)
		if (s->start < end && start < s->end)
			break;
	if (!s) {
		s = fx_malloc(sizeof(*s));
		s->start = start;
		s->end = end;
		s->id = ++e->next_session_id;
		s->state = state_new(e);
		s->next = g->sessions;
		g->sessions = s;
		session_push(e, g, s);
		return s;
	}
	if (start >= s->start && end <= s->end)
		return s;
	if (start < s->start)
		s->start = start;
	if (end > s->end)
		s->end = end;
	*rc = session_absorb(e, g, s);
	return s;
}

struct closing {
	int64_t end, start;
	struct grp *group;
	struct session *s;
};

static int cmp_closing(const void *a, const void *b, void *arg)
{
	const struct closing *x = a, *y = b;
	const struct engine *e = arg;
	const struct grp *gx = x->group, *gy = y->group;

	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return key_compare(gx->key, gx->keylen, gy->key, gy->keylen, e->nby);
}

static struct session *session_find(struct grp *g, uint64_t id)
{
	struct session *s;

	for (s = g->sessions; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void session_unlink(struct grp *g, struct session *s)
{
	struct session **pp = &g->sessions;

	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
}

static int close_sessions(struct engine *e, int64_t wm)
{
	struct closing *c = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0;

	while (e->nheap && e->heap[0].end <= wm) {
		struct heap_item it = e->heap[0];
		struct session *s = session_find(it.group, it.id);

		heap_pop(e);
		if (!s)
			continue; /* merged into another session since */
		if (s->end != it.end || s->start != it.start) {
			/* it grew since: wait for its new end */
			session_push(e, it.group, s);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			c = fx_realloc(c, cap * sizeof(*c));
		}
		c[n].end = s->end;
		c[n].start = s->start;
		c[n].group = it.group;
		c[n].s = s;
		n++;
	}
	if (n > 1)
		qsort_r(c, n, sizeof(*c), cmp_closing, e);
	for (i = 0; i < n; i++) {
		struct grp *g = c[i].group;

		if (!rc)
			rc = write_row(e, NULL, c[i].start, c[i].end, g,
			               c[i].s->state);
		session_unlink(g, c[i].s);
		session_free(e, c[i].s);
	}
	free(c);
	e->next_close = e->nheap ? e->heap[0].end : INT64_MAX;
	return rc;
}

/* ---- watermark ---- */

static size_t part_get(struct engine *e, const char *key, size_t len)
{
	uintptr_t i = (uintptr_t)strmap_get(&e->part_index, key, len);

	if (i)
		return i - 1;
	if (e->nparts == e->capparts) {
		e->capparts = e->capparts ? e->capparts * 2 : 8;
		e->parts =
		    fx_realloc(e->parts, e->capparts * sizeof(*e->parts));
	}
	e->parts[e->nparts].max_t = INT64_MIN;
	e->parts[e->nparts].last_seen = fx_now_coarse();
	e->parts[e->nparts].active = 1;
	strmap_put(&e->part_index, key, len,
	           (void *)(uintptr_t)(e->nparts + 1));
	return e->nparts++;
}

/* The watermark the partitions allow now (INT64_MIN if one has no data). */
static int64_t partitions_watermark(struct engine *e)
{
	double now = e->o->idle_timeout ? fx_now_coarse() : 0;
	int64_t low = INT64_MAX;
	size_t i;

	for (i = 0; i < e->nparts; i++) {
		struct part *p = &e->parts[i];

		if (!p->active)
			continue;
		if (e->o->idle_timeout &&
		    (now - p->last_seen) * 1000 >= (double)e->o->idle_timeout)
			continue;
		if (p->max_t < low)
			low = p->max_t;
	}
	if (low == INT64_MAX || low == INT64_MIN)
		return INT64_MIN;
	return low - e->o->lateness;
}

static int close_until(struct engine *e, int64_t wm)
{
	if (wm <= e->wm)
		return 0;
	e->wm = wm;
	if (wm < e->next_close)
		return 0;
	return e->ws.kind == WINDOW_SESSION ? close_sessions(e, wm)
	                                    : close_windows(e, wm);
}

/* ---- reading records ---- */

static int time_of(struct engine *e, const struct json_value *v, int64_t *t)
{
	if (v->type == JSON_STRING)
		return fx_time_parse_iso(v->p + 1, v->len - 2, t);
	if (v->type == JSON_NUMBER)
		return fx_time_parse_epoch(v->p, v->len, e->unit, t);
	return -1;
}

/* The group key of a record: per by-field, length and canonical bytes. */
static void build_key(struct engine *e, const struct json_value *vals)
{
	size_t i;

	fx_buf_reset(&e->key);
	for (i = 0; i < e->nby; i++) {
		const struct json_value *v = &vals[e->by_path[i]];
		size_t at = e->key.len;
		uint32_t n;

		fx_buf_add(&e->key, "\0\0\0\0", 4);
		if (v->type == JSON_MISSING || v->type == JSON_NULL) {
			fx_buf_add(&e->key, "null", 4);
		} else if (v->type == JSON_STRING && v->escaped) {
			/* one spelling per string: unescape, then quote */
			fx_buf_reset(&e->scratch);
			json_string_unescape(v, &e->scratch);
			fx_buf_add_json_string(&e->key, e->scratch.p,
			                       e->scratch.len);
		} else {
			fx_buf_add(&e->key, v->p, v->len);
		}
		n = (uint32_t)(e->key.len - at - 4);
		memcpy(e->key.p + at, &n, 4);
	}
	e->key_hash = XXH3_64bits(e->key.p, e->key.len);
}

static int late_record(struct engine *e, const struct record *rec,
                       const struct fx_where *w)
{
	char where[512];

	e->ctx->st.late++;
	if (e->late_mode != 1)
		return 0;
	(void)where;
	(void)w;
	if (fwrite(rec->p, 1, rec->len, e->late_file) != rec->len ||
	    fputc('\n', e->late_file) == EOF) {
		fx_warn(e->ctx, "%s: write error: %s", e->late_path,
		        strerror(errno));
		return FX_EXIT_IO;
	}
	return 0;
}

static int value_error(struct engine *e, const struct record *rec,
                       const struct fx_where *w, const struct agg_error *err)
{
	return fx_bad_record(e->ctx, w, err->field, rec->p, rec->len, "%s",
	                     err->reason);
}

/* Updates one group of window w (or of a kept window, writing a new row). */
static int update_group(struct engine *e, struct win *w,
                        const struct json_value *vals, int64_t t,
                        const struct record *rec, const struct fx_where *where,
                        int corrected)
{
	struct grp *g = table_get(&w->t, e->key.p, (uint32_t)e->key.len,
	                          e->key_hash, e->aggs.state_size);
	struct agg_error err;

	if (agg_set_update(&e->aggs, g->state, vals, e->nums, t, &err))
		return value_error(e, rec, where, &err);
	if (corrected)
		return write_row(e, w, w->start, w->end, g, g->state);
	return 0;
}

/*
 * The closed window [start, end) kept for --late update, created (in order
 * of end, then start) if it had no row yet; NULL once it is older than
 * --retain.
 */
static struct win *kept_window(struct engine *e, int64_t start, int64_t end)
{
	struct win *w = kept_get(e, start, end);
	size_t i;

	if (end + e->o->retain <= e->wm)
		return NULL;
	if (w)
		return w;
	if (e->nkept == e->capkept) {
		e->capkept = e->capkept ? e->capkept * 2 : 16;
		e->kept = fx_realloc(e->kept, e->capkept * sizeof(*e->kept));
	}
	for (i = e->nkept; i > 0 && !win_before(e->kept[i - 1], start, end);)
		i--;
	memmove(e->kept + i + 1, e->kept + i,
	        (e->nkept - i) * sizeof(*e->kept));
	w = fx_malloc(sizeof(*w));
	memset(w, 0, sizeof(*w));
	w->start = start;
	w->end = end;
	e->kept[i] = w;
	e->nkept++;
	return w;
}

/*
 * A record is late as a whole: when the first of its windows to end has
 * closed. Then it is counted in none of them (drop, dlq) so that replaying
 * the DLQ counts it once, or, with --late update, in all of them: the open
 * ones as usual, and every closed one (within --retain) writes its
 * corrected row now.
 */
static int add_to_windows(struct engine *e, const struct json_value *vals,
                          int64_t t, const struct record *rec,
                          const struct fx_where *where)
{
	size_t n = window_assign(&e->ws, t, e->assigned), i;
	int late = n && e->assigned[0].end <= e->wm, rc = 0;

	if (late && e->late_mode != 2)
		return late_record(e, rec, where);
	for (i = 0; i < n && !rc; i++) {
		struct window *a = &e->assigned[i];
		struct win *w;

		if (a->end > e->wm) {
			w = win_get(e, a->start, a->end);
			rc = update_group(e, w, vals, t, rec, where, 0);
		} else if ((w = kept_window(e, a->start, a->end))) {
			rc = update_group(e, w, vals, t, rec, where, 1);
		}
	}
	if (late && !rc)
		rc = late_record(e, rec, where);
	return rc;
}

static int add_to_session(struct engine *e, const struct json_value *vals,
                          int64_t t, const struct record *rec,
                          const struct fx_where *where)
{
	struct session *s;
	struct agg_error err;
	struct grp *g;
	int rc = 0;

	if (t < e->wm)
		return late_record(e, rec, where);
	g = table_get(&e->sg, e->key.p, (uint32_t)e->key.len, e->key_hash, 0);
	s = session_for(e, g, t, t + e->ws.size, &rc);
	if (!rc && agg_set_update(&e->aggs, s->state, vals, e->nums, t, &err))
		rc = value_error(e, rec, where, &err);
	return rc;
}

/* ---- control records ---- */

/* "topic/partition" of a record with --meta fields into e->scratch. */
static int partition_key(struct engine *e, const struct json_value *vals)
{
	const struct json_value *t = &vals[e->topic_path];
	const struct json_value *p = &vals[e->part_path];

	fx_buf_reset(&e->scratch);
	if (t->type != JSON_STRING || p->type != JSON_NUMBER)
		return 0;
	json_string_unescape(t, &e->scratch);
	fx_buf_addc(&e->scratch, '/');
	fx_buf_add(&e->scratch, p->p, p->len);
	return 1;
}

/*
 * {"_fx":"assigned","partitions":["t/0",…]}: the partitions to wait for,
 * before their first record; the others drop out.
 */
static void on_assigned(struct engine *e, const struct json_value *list)
{
	const char *s, *end;
	size_t i;

	for (i = 0; i < e->nparts; i++)
		e->parts[i].active = 0;
	if (list->type != JSON_ARRAY)
		return;
	/* the array is valid JSON: its strings are the items */
	for (s = list->p + 1, end = list->p + list->len - 1; s < end;) {
		struct json_value v = {JSON_STRING, NULL, 0, 0};
		const char *q;

		while (s < end && *s != '"')
			s++;
		if (s >= end)
			break;
		for (q = s + 1; *q != '"'; q++) {
			if (*q == '\\') {
				v.escaped = 1;
				q++;
			}
		}
		v.p = s;
		v.len = (size_t)(q + 1 - s);
		fx_buf_reset(&e->scratch);
		json_string_unescape(&v, &e->scratch);
		/* part_get may move e->parts */
		i = part_get(e, e->scratch.p, e->scratch.len);
		e->parts[i].active = 1;
		s = q + 1;
	}
}

static int on_control(struct engine *e, const struct record *rec,
                      const struct json_value *vals)
{
	const struct json_value *kind = &vals[e->ctl_path];
	int64_t ts;
	int rc = 0;

	if (json_string_equals(kind, "assigned", 8)) {
		on_assigned(e, &vals[e->list_path]);
		return 0;
	}
	if (json_string_equals(kind, "eof", 3)) {
		const struct json_value *p = &vals[e->eof_path];

		if (p->type == JSON_STRING) {
			fx_buf_reset(&e->scratch);
			json_string_unescape(p, &e->scratch);
			size_t i = part_get(e, e->scratch.p, e->scratch.len);

			e->parts[i].active = 0;
		}
		return close_until(e, partitions_watermark(e));
	}
	if (json_string_equals(kind, "watermark", 9) &&
	    vals[e->ts_path].type != JSON_MISSING &&
	    time_of(e, &vals[e->ts_path], &ts) == 0)
		rc = close_until(e, ts);
	else if (json_string_equals(kind, "checkpoint", 10))
		rc = record_writer_flush(&e->out)
		         ? record_writer_status(&e->out)
		         : 0;
	if (!rc && record_writer_put(&e->out, rec->p, rec->len))
		rc = record_writer_status(&e->out);
	if (!rc && json_string_equals(kind, "checkpoint", 10))
		rc = record_writer_flush(&e->out)
		         ? record_writer_status(&e->out)
		         : 0;
	return rc;
}

/* ---- one record ---- */

static int on_record(struct engine *e, const struct record *rec,
                     const struct json_value *vals, const struct fx_where *w)
{
	struct agg_error err;
	int64_t t = (int64_t)++e->seq;
	size_t pi;
	int rc;

	if (e->pre && e->pre->have_t) {
		t = e->pre->t;
	} else if (e->time_path >= 0) {
		const struct json_value *v = &vals[e->time_path];

		if (v->type == JSON_MISSING || v->type == JSON_NULL)
			return fx_bad_record(e->ctx, w, e->o->time_field,
			                     rec->p, rec->len, "missing");
		if (time_of(e, v, &t))
			return fx_bad_record(
			    e->ctx, w, e->o->time_field, rec->p, rec->len,
			    "not a timestamp: %.*s",
			    (int)(v->len > 64 ? 64 : v->len), v->p);
	}
	if (agg_set_check(&e->aggs, vals, e->nums, &err))
		return value_error(e, rec, w, &err);
	if (e->pre) { /* batch_prefetch built the key already */
		fx_buf_reset(&e->key);
		fx_buf_add(&e->key, e->pre->key, e->pre->key_len);
		e->key_hash = e->pre->hash;
	} else {
		build_key(e, vals);
	}
	if (e->ws.kind == WINDOW_NONE) {
		struct win *g = e->global;

		return update_group(e, g, vals, t, rec, w, 0);
	}
	rc = e->ws.kind == WINDOW_SESSION ? add_to_session(e, vals, t, rec, w)
	                                  : add_to_windows(e, vals, t, rec, w);
	if (rc)
		return rc;
	if (partition_key(e, vals))
		pi = part_get(e, e->scratch.p, e->scratch.len);
	else
		pi = part_get(e, "", 0);
	e->parts[pi].active = 1;
	if (e->o->idle_timeout)
		e->parts[pi].last_seen = fx_now_coarse();
	if (t > e->parts[pi].max_t) {
		e->parts[pi].max_t = t;
		/*
		 * The watermark is kept current even when no window closes:
		 * whether a record is late must not depend on whether some
		 * other window happened to close since it moved.
		 */
		if (e->nparts == 1)
			return close_until(e, t - e->o->lateness);
		return close_until(e, partitions_watermark(e));
	}
	return 0;
}

/* --merge: one partial row into its window's group. */
static int on_partial(struct engine *e, const struct record *rec,
                      const struct json_value *vals, const struct fx_where *w)
{
	int64_t start = 0, end = 0;
	struct win *win = e->global;
	struct agg_error err;
	struct grp *g;
	int rc = 0;

	if (e->ws.kind != WINDOW_NONE) {
		const struct json_value *a = &vals[e->ws_path],
		                        *b = &vals[e->we_path];

		if (a->type != JSON_STRING || b->type != JSON_STRING ||
		    fx_time_parse_iso(a->p + 1, a->len - 2, &start) ||
		    fx_time_parse_iso(b->p + 1, b->len - 2, &end))
			return fx_bad_record(
			    e->ctx, w, "window_start", rec->p, rec->len,
			    "not a partial row: no window_start and window_end");
	}
	memset(e->tmp_state, 0, e->aggs.state_size);
	if (agg_set_read_partials(&e->aggs, e->tmp_state, vals, &err)) {
		agg_set_state_free(&e->aggs, e->tmp_state);
		return value_error(e, rec, w, &err);
	}
	build_key(e, vals);
	if (e->ws.kind == WINDOW_SESSION) {
		g = table_get(&e->sg, e->key.p, (uint32_t)e->key.len,
		              e->key_hash, 0);
		{
			struct session *s = session_for(e, g, start, end, &rc);

			if (agg_set_merge(&e->aggs, s->state, e->tmp_state,
			                  &err))
				rc = value_error(e, rec, w, &err);
		}
		agg_set_state_free(&e->aggs, e->tmp_state);
		return rc;
	}
	if (e->ws.kind != WINDOW_NONE)
		win = win_get(e, start, end);
	g = table_get(&win->t, e->key.p, (uint32_t)e->key.len, e->key_hash,
	              e->aggs.state_size);
	if (agg_set_merge(&e->aggs, g->state, e->tmp_state, &err))
		rc = value_error(e, rec, w, &err);
	agg_set_state_free(&e->aggs, e->tmp_state);
	return rc;
}

/* ---- set-up ---- */

static int add_path(struct engine *e, const char *name)
{
	const char *err;
	size_t i;
	int k;

	for (i = 0; i < e->paths.n; i++)
		if (strcmp(e->paths.v[i].name, name) == 0)
			return (int)i;
	k = json_paths_add(&e->paths, name, &err);
	if (k < 0)
		fx_usage_error(e->ctx, "field '%s': %s", name, err);
	return k;
}

static void engine_init(struct engine *e, struct fx_ctx *ctx,
                        const struct agg_opts *o)
{
	char err[512];
	size_t i;

	memset(e, 0, sizeof(*e));
	e->ctx = ctx;
	e->o = o;
	e->wm = INT64_MIN;
	e->next_close = INT64_MAX;
	e->time_path = -1;
	if (o->window && window_spec_parse(&e->ws, o->window, err, sizeof(err)))
		fx_usage_error(ctx, "--window: %s", err);
	if (e->ws.kind != WINDOW_NONE && !o->time_field && !o->merge)
		fx_usage_error(ctx, "--window needs --time FIELD");
	if (o->partial && o->merge)
		fx_usage_error(ctx, "--partial and --merge go separately");
	if (!o->aggs.n)
		fx_usage_error(ctx,
		               "--agg: nothing to compute (try --agg count)");
	if (agg_set_parse(&e->aggs, o->aggs.v, o->aggs.n, o->merge, &e->paths,
	                  err, sizeof(err)))
		fx_usage_error(ctx, "--agg: %s", err);
	/*
	 * Without --time, first and last are by arrival within one run: the
	 * shards of a --partial run do not share an order, so --merge could
	 * only pretend to reproduce one.
	 */
	for (i = 0; i < e->aggs.n && !o->time_field && (o->partial || o->merge);
	     i++)
		if (e->aggs.v[i].kind == AGG_FIRST ||
		    e->aggs.v[i].kind == AGG_LAST)
			fx_usage_error(
			    ctx,
			    "%s: first and last without --time are by arrival order within one run, which shards do not share: give --time FIELD",
			    o->partial ? "--partial" : "--merge");
	e->nby = o->by.n;
	e->by_path = fx_malloc((e->nby + 1) * sizeof(int));
	e->by_name = fx_malloc((e->nby + 1) * sizeof(char *));
	for (i = 0; i < e->nby; i++) {
		char *eq = strchr(o->by.v[i], '=');
		size_t j;

		e->by_name[i] =
		    eq ? fx_strndup(o->by.v[i], (size_t)(eq - o->by.v[i]))
		       : fx_strdup(o->by.v[i]);
		/* partial rows carry the group under its output name */
		e->by_path[i] = add_path(e, o->merge ? e->by_name[i]
		                            : eq     ? eq + 1
		                                     : o->by.v[i]);
		for (j = 0; j < e->aggs.n; j++)
			if (!strcmp(e->aggs.v[j].name, e->by_name[i]))
				fx_usage_error(
				    ctx,
				    "'%s' is both a group field and an aggregate (name one with NAME=)",
				    e->by_name[i]);
		for (j = 0; j < i; j++)
			if (!strcmp(e->by_name[j], e->by_name[i]))
				fx_usage_error(ctx, "--by: '%s' twice",
				               e->by_name[i]);
	}
	for (i = 0; i < e->aggs.n; i++)
		if (e->aggs.v[i].kind == AGG_DISTINCT)
			e->prefetch_states = 1;
	e->by_json_off = fx_malloc((e->nby + 1) * sizeof(size_t));
	for (i = 0; i < e->nby; i++) {
		e->by_json_off[i] = e->by_json.len;
		fx_buf_addc(&e->by_json, ',');
		fx_buf_add_json_string(&e->by_json, e->by_name[i],
		                       strlen(e->by_name[i]));
		fx_buf_addc(&e->by_json, ':');
	}
	e->by_json_off[e->nby] = e->by_json.len;
	if (o->time_field && !o->merge)
		e->time_path = add_path(e, o->time_field);
	if (o->merge && e->ws.kind != WINDOW_NONE) {
		e->ws_path = add_path(e, "window_start");
		e->we_path = add_path(e, "window_end");
	}
	e->topic_path = add_path(e, "_fx_topic");
	e->part_path = add_path(e, "_fx_partition");
	e->ctl_path = add_path(e, "_fx");
	e->ts_path = add_path(e, "ts");
	e->list_path = add_path(e, "partitions");
	e->eof_path = add_path(e, "partition");
	if (!o->time_unit || !strcmp(o->time_unit, "s"))
		e->unit = FX_TIME_S;
	else if (!strcmp(o->time_unit, "ms"))
		e->unit = FX_TIME_MS;
	else
		fx_usage_error(ctx, "--time-unit: expected s or ms, got '%s'",
		               o->time_unit);
	if (!o->late || !strcmp(o->late, "drop")) {
		e->late_mode = 0;
	} else if (!strncmp(o->late, "dlq=", 4) && o->late[4]) {
		e->late_mode = 1;
		e->late_path = o->late + 4;
		/* at start-up, as --on-error dlq=: an unwritable path is known
		 * before any record is read, not at the first late one */
		e->late_file = fopen(e->late_path, "a");
		if (!e->late_file)
			fx_die(ctx, FX_EXIT_IO,
			       "%s: cannot open late-record file: %s",
			       e->late_path, strerror(errno));
	} else if (!strcmp(o->late, "update")) {
		e->late_mode = 2;
		if (e->ws.kind == WINDOW_SESSION)
			fx_usage_error(
			    ctx,
			    "--late update does not go with session windows");
	} else {
		fx_usage_error(
		    ctx, "--late: expected drop, dlq=FILE or update, got '%s'",
		    o->late);
	}
	if (e->ws.kind == WINDOW_NONE) {
		e->global = fx_malloc(sizeof(*e->global));
		memset(e->global, 0, sizeof(*e->global));
	}
	e->assigned = fx_malloc((window_max_per_record(&e->ws) + 1) *
	                        sizeof(*e->assigned));
	e->tmp_state = fx_malloc(e->aggs.state_size + 1);
	record_writer_init(&e->out, ctx, STDOUT_FILENO, "stdout");
}

static void engine_free(struct engine *e)
{
	size_t i;

	for (i = 0; i < e->nwins; i++)
		win_free(e, e->wins[i]);
	for (i = 0; i < e->nkept; i++)
		win_free(e, e->kept[i]);
	if (e->global)
		win_free(e, e->global);
	for (i = 0; i < e->sg.n; i++)
		while (e->sg.g[i]->sessions) {
			struct session *s = e->sg.g[i]->sessions;

			e->sg.g[i]->sessions = s->next;
			session_free(e, s);
		}
	table_free(&e->sg, &e->aggs);
	free(e->wins);
	free(e->kept);
	free(e->heap);
	free(e->parts);
	strmap_free(&e->part_index);
	for (i = 0; i < e->nby; i++)
		free(e->by_name[i]);
	free(e->by_name);
	free(e->by_path);
	free(e->assigned);
	free(e->tmp_state);
	free(e->sort);
	agg_set_free(&e->aggs);
	json_paths_free(&e->paths);
	fx_buf_free(&e->row);
	fx_buf_free(&e->bounds);
	fx_buf_free(&e->by_json);
	free(e->by_json_off);
	fx_buf_free(&e->key);
	fx_buf_free(&e->scratch);
	if (e->late_file)
		fclose(e->late_file);
}

/* The open window [start, end), or NULL; creates nothing. */
static struct win *win_find(struct engine *e, int64_t start, int64_t end)
{
	size_t i;

	for (i = e->nwins; i > 0; i--)
		if (e->wins[i - 1]->start == start &&
		    e->wins[i - 1]->end == end)
			return e->wins[i - 1];
	return NULL;
}

static struct group_table *likely_table(struct engine *e,
                                        struct batch_entry *be)
{
	struct win *w;

	if (e->time_path >= 0 && be->vals[e->time_path].type != JSON_NULL &&
	    time_of(e, &be->vals[e->time_path], &be->t) == 0)
		be->have_t = 1;
	switch (e->ws.kind) {
	case WINDOW_NONE:
		return &e->global->t;
	case WINDOW_SESSION:
		return &e->sg;
	default:
		if (!be->have_t || !window_assign(&e->ws, be->t, e->assigned))
			return NULL;
		w = win_find(e, e->assigned[0].start, e->assigned[0].end);
		return w ? &w->t : NULL;
	}
}

static void batch_prefetch(struct engine *e, struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		struct batch_entry *be = &b->e[i];

		be->have_t = 0;
		be->table = likely_table(e, be);
		build_key(e, be->vals);
		be->key_off = b->keys.len;
		be->key_len = e->key.len;
		be->hash = e->key_hash;
		fx_buf_add(&b->keys, e->key.p, e->key.len);
		if (!be->table || !be->table->nslots)
			continue;
		__builtin_prefetch(
		    &be->table->slot[be->hash & (be->table->nslots - 1)]);
	}
	for (i = 0; i < b->n; i++) {
		struct batch_entry *be = &b->e[i];
		const struct slot *sl;

		/* keys no longer moves (and is NULL while empty: no --by) */
		be->key = b->keys.p ? b->keys.p + be->key_off : "";
		be->g = NULL;
		if (!be->table || !be->table->nslots)
			continue;
		sl = &be->table->slot[be->hash & (be->table->nslots - 1)];
		if (sl->g && sl->hash == be->hash) {
			be->g = sl->g;
			__builtin_prefetch(sl->g);
			__builtin_prefetch((const char *)sl->g + 64);
		}
	}
	/* then what updating the group will touch (distinct sets) */
	if (e->prefetch_states)
		for (i = 0; i < b->n; i++)
			if (b->e[i].g && b->e[i].g->state)
				agg_set_prefetch(&e->aggs, b->e[i].g->state,
				                 b->e[i].vals);
}

/* Runs the batch's records in order; empties it. */
static int batch_run(struct engine *e, struct batch *b,
                     const struct record_stream *rs)
{
	size_t i, k;
	int rc = 0;

	for (i = 0; i < b->n; i++) {
		struct batch_entry *be = &b->e[i];

		/* the copies moved when the buffer grew: point at them now */
		for (k = 0; k < e->paths.n; k++)
			if (be->vals[k].type != JSON_MISSING)
				be->vals[k].p = b->bytes.p + be->off +
				                (size_t)be->vals[k].p;
	}
	if (!e->o->merge)
		batch_prefetch(e, b);
	for (i = 0; i < b->n && !rc; i++) {
		struct batch_entry *be = &b->e[i];
		struct record rec = {b->bytes.p + be->off, be->len, be->line};
		struct fx_where w = record_stream_where(rs, &rec);

		e->pre = e->o->merge ? NULL : be;
		rc = e->o->merge ? on_partial(e, &rec, be->vals, &w)
		                 : on_record(e, &rec, be->vals, &w);
		e->pre = NULL;
		if (!rc)
			rc = record_writer_status(&e->out);
	}
	b->n = 0;
	fx_buf_reset(&b->bytes);
	fx_buf_reset(&b->keys);
	return rc;
}

/* Copies a record and its values (as offsets, the buffer may move). */
static void batch_add(struct engine *e, struct batch *b,
                      const struct record *rec, const struct json_value *vals)
{
	struct batch_entry *be = &b->e[b->n++];
	size_t k;

	be->off = b->bytes.len;
	be->len = rec->len;
	be->line = rec->line;
	fx_buf_add(&b->bytes, rec->p, rec->len);
	for (k = 0; k < e->paths.n; k++) {
		be->vals[k] = vals[k];
		if (vals[k].type != JSON_MISSING)
			be->vals[k].p =
			    (const char *)(uintptr_t)(vals[k].p - rec->p);
	}
}

static int read_input(struct engine *e, const char *name)
{
	struct json_value vals[JSON_MAX_PATHS];
	struct record_stream rs;
	struct record rec;
	struct batch *b = fx_malloc(sizeof(*b));
	int r = 0, flags, rc;

	memset(b, 0, sizeof(*b));
	rc = record_stream_open(&rs, e->ctx, name, 0, &e->paths);
	while (!rc && !fx_stop &&
	       (r = record_stream_next(&rs, &rec, vals, &flags)) > 0) {
		if (flags & JSON_SCAN_CONTROL) {
			/* in order: the records before it first */
			rc = batch_run(e, b, &rs);
			if (!rc)
				rc = on_control(e, &rec, vals);
			continue;
		}
		batch_add(e, b, &rec, vals);
		if (b->n == AGG_BATCH)
			rc = batch_run(e, b, &rs);
	}
	/* what came before a bad record or the end is still counted */
	if (!rc || r < 0) {
		int brc = batch_run(e, b, &rs);

		if (!rc)
			rc = brc;
	}
	if (!rc && r < 0)
		rc = -r;
	record_stream_close(&rs);
	fx_buf_free(&b->bytes);
	fx_buf_free(&b->keys);
	free(b);
	return rc;
}

int agg_run(struct fx_ctx *ctx, const struct agg_opts *o, char **inputs,
            size_t n)
{
	struct engine e;
	char *stdin_only[] = {"-"};
	size_t i;
	int rc = 0, wrc;

	engine_init(&e, ctx, o);
	ctx->count_late = e.ws.kind != WINDOW_NONE;
	if (n == 0) {
		inputs = stdin_only;
		n = 1;
	}
	for (i = 0; i < n && !rc && !fx_stop; i++)
		rc = read_input(&e, inputs[i]);
	/* end of input (or a stop signal): every open window closes */
	if (!rc || rc == FX_EXIT_DATA) {
		int erc;

		if (e.ws.kind == WINDOW_NONE)
			erc = rc ? 0 : emit_window(&e, e.global);
		else if (e.ws.kind == WINDOW_SESSION)
			erc = rc ? 0 : close_sessions(&e, INT64_MAX);
		else
			erc = rc ? 0 : close_windows(&e, INT64_MAX);
		if (!rc)
			rc = erc;
	}
	if (e.late_file && fflush(e.late_file) != 0 && !rc) {
		fx_warn(ctx, "%s: write error: %s", e.late_path,
		        strerror(errno));
		rc = FX_EXIT_IO;
	}
	ctx->st.bytes_out = e.out.bytes + e.out.len;
	wrc = record_writer_close(&e.out);
	engine_free(&e);
	return rc ? rc : wrc;
}
