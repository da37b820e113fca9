/*
 * ijoin.c - the interval join of two record streams.
 *
 * Each side has a watermark (watermark.h): per Kafka partition of its
 * input (fx-consume --meta), the lowest of the highest event times minus
 * --lateness; the end of the side is +infinity. A record older than its own
 * side's watermark is late: counted, dropped. The others are buffered, by
 * key, until they are done with.
 *
 * Pairs are not written when they are found, as that order would depend on
 * how the inputs' partitions interleave, but in an order of their own:
 * by the left record's event time, then its bytes, then the right record's
 * event time, then its members' bytes. A left record L is complete when no
 * record to come can pair with it or sort before it: t_L < W_left (no left
 * record to come is older) and t_L < W_right - D (no right record to come
 * is near enough). So the frontier F = min(W_left, W_right - D) moves on,
 * and every buffered left record below it is written with its partners
 * (or alone, --left), in that order; a right record is freed once t_R + D
 * < F, when every left record that could pair with it has been written.
 * The output is thus a function of the two sets of records: a stream read
 * from Kafka gives the bytes of a batch read from files, as long as no
 * record is late.
 *
 * Both inputs are read in one thread, always from the side whose watermark
 * is lower (the left on a tie), blocking on it: that side is the one
 * holding the frontier back.
 */
#include "dim.h"
#include "err.h"
#include "fxtime.h"
#include "join.h"
#include "joinio.h"
#include "recedit.h"
#include "stream.h"
#include "watermark.h"
#include "writer.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

struct bucket;

/*
 * A buffered record: the left record's bytes (without its _fx* members),
 * or the right record's members as they will be appended.
 */
struct item {
	struct item *next, *prev; /* in its bucket, by arrival */
	struct bucket *b; /* NULL: a left record with a null key (--left) */
	int64_t t;
	size_t len;
	char p[];
};

struct bucket {
	uint64_t hash;
	struct item *head, *tail;
	size_t klen;
	char key[];
};

struct btab {
	struct bucket **slots;
	size_t nslots, n;
};

/* The time beside the pointer: most comparisons need not touch the item. */
struct heap_entry {
	int64_t t;
	struct item *it;
};

struct side {
	const char *what; /* "left", "right" */
	struct record_stream rs;
	struct json_paths paths; /* the keys, the time, then the paths below */
	int topic_path, part_path, ctl_path, list_path, eof_path, ts_path;
	struct fx_strlist keys;
	const char *time_field;
	int eof;
	struct watermark wm;
	struct btab tab;
	struct heap_entry *heap; /* by (t, bytes) */
	size_t nheap, capheap;
};

struct ijoin {
	struct fx_ctx *ctx;
	const struct join_opts *o;
	struct side l, r;
	enum fx_time_unit unit;
	struct fx_buf key, scratch, members, head, nulls, part, bytes;
	const struct item **partners; /* of the left record being written */
	size_t cappartners;
	struct record_writer out;
};

/* ---- buckets by key ---- */

static size_t btab_find(const struct btab *t, const char *k, size_t n,
                        uint64_t h)
{
	size_t mask = t->nslots - 1, i = (size_t)h & mask;

	for (;; i = (i + 1) & mask) {
		const struct bucket *b = t->slots[i];

		if (!b ||
		    (b->hash == h && b->klen == n && !memcmp(b->key, k, n)))
			return i;
	}
}

static void btab_grow(struct btab *t)
{
	struct bucket **old = t->slots;
	size_t i, nold = t->nslots;

	t->nslots = nold ? nold * 2 : 256;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->slots)
		fx_oom();
	for (i = 0; i < nold; i++)
		if (old[i])
			t->slots[btab_find(t, old[i]->key, old[i]->klen,
			                   old[i]->hash)] = old[i];
	free(old);
}

static struct bucket *btab_get(struct btab *t, const char *k, size_t n,
                               int create)
{
	uint64_t h = XXH3_64bits(k, n);
	size_t i;

	if (!t->nslots) {
		if (!create)
			return NULL;
		btab_grow(t);
	}
	i = btab_find(t, k, n, h);
	if (t->slots[i] || !create)
		return t->slots[i];
	if ((t->n + 1) * 2 > t->nslots) {
		btab_grow(t);
		i = btab_find(t, k, n, h);
	}
	t->slots[i] = fx_malloc(sizeof(struct bucket) + n);
	memset(t->slots[i], 0, sizeof(struct bucket));
	t->slots[i]->hash = h;
	t->slots[i]->klen = n;
	memcpy(t->slots[i]->key, k, n);
	t->n++;
	return t->slots[i];
}

/* Removes an empty bucket (backward shift, no tombstones). */
static void btab_del(struct btab *t, struct bucket *b)
{
	size_t mask = t->nslots - 1, i = btab_find(t, b->key, b->klen, b->hash);
	size_t j;

	free(b);
	for (j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
		size_t home = t->slots[j]->hash & mask;

		if ((j > i && (home <= i || home > j)) ||
		    (j < i && home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i] = NULL;
	t->n--;
}

/* ---- the heap of buffered records, earliest first ---- */

/* By event time, then bytes: an order both a stream and a batch share. */
static int item_cmp(const struct item *a, const struct item *b)
{
	int c;

	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
	if (c)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

static int item_before(const struct item *a, const struct item *b)
{
	return item_cmp(a, b) < 0;
}

static int item_qsort_cmp(const void *a, const void *b)
{
	return item_cmp(*(const struct item *const *)a,
	                *(const struct item *const *)b);
}

static int entry_before(const struct heap_entry *a, const struct heap_entry *b)
{
	return a->t < b->t || (a->t == b->t && item_before(a->it, b->it));
}

static void heap_push(struct side *s, struct item *it)
{
	struct heap_entry e = {it->t, it};
	size_t i = s->nheap++;

	FX_GROW(s->heap, s->nheap, s->capheap, 1024);
	for (; i && entry_before(&e, &s->heap[(i - 1) / 2]); i = (i - 1) / 2)
		s->heap[i] = s->heap[(i - 1) / 2];
	s->heap[i] = e;
}

static struct item *heap_pop(struct side *s)
{
	struct item *top = s->heap[0].it;
	struct heap_entry last = s->heap[--s->nheap];
	size_t i = 0, n = s->nheap;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && entry_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!entry_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n)
		s->heap[i] = last;
	return top;
}

/* ---- state ---- */

static int64_t watermark_of(const struct side *s)
{
	return s->eof ? INT64_MAX : s->wm.value;
}

/* a - b, held within [INT64_MIN, INT64_MAX] (which stay what they are) */
static int64_t sub_sat(int64_t a, int64_t b)
{
	if (a == INT64_MAX || a == INT64_MIN)
		return a;
	return a < INT64_MIN + b ? INT64_MIN : a - b;
}

/* Below it every left record is complete (see the top of the file). */
static int64_t frontier(const struct ijoin *j)
{
	int64_t l = watermark_of(&j->l);
	int64_t r = sub_sat(watermark_of(&j->r), j->o->within);

	return l < r ? l : r;
}

static int below(int64_t t, int64_t f)
{
	return f == INT64_MAX || t < f;
}

static void item_unlink(struct side *s, struct item *it)
{
	struct bucket *b = it->b;

	if (!b)
		return;
	if (it->prev)
		it->prev->next = it->next;
	else
		b->head = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		b->tail = it->prev;
	if (!b->head)
		btab_del(&s->tab, b);
}

static int emit(struct ijoin *j, const char *lp, size_t ln, const char *m,
                size_t mlen)
{
	j->ctx->st.records_out++;
	return recedit_put(&j->out, lp, ln, m, mlen)
	           ? record_writer_status(&j->out)
	           : 0;
}

/* Writes a complete left record with its partners, in their order. */
static int write_left(struct ijoin *j, const struct item *l)
{
	const struct bucket *b =
	    l->b ? btab_get(&j->r.tab, l->b->key, l->b->klen, 0) : NULL;
	const struct item *it;
	size_t n = 0, i;
	int rc = 0;

	for (it = b ? b->head : NULL; it; it = it->next) {
		if (it->t - l->t > j->o->within || l->t - it->t > j->o->within)
			continue;
		FX_GROW(j->partners, n + 1, j->cappartners, 64);
		j->partners[n++] = it;
	}
	if (!n)
		return j->o->left
		           ? emit(j, l->p, l->len, j->nulls.p, j->nulls.len)
		           : 0;
	qsort(j->partners, n, sizeof(*j->partners), item_qsort_cmp);
	for (i = 0; i < n && !rc; i++)
		rc = emit(j, l->p, l->len, j->partners[i]->p,
		          j->partners[i]->len);
	return rc;
}

/*
 * Writes the left records below the frontier, then frees the right
 * records that no left record still buffered or to come can pair with.
 */
static int advance(struct ijoin *j)
{
	int64_t f = frontier(j);
	int rc = 0;

	while (j->l.nheap && !rc && below(j->l.heap[0].t, f)) {
		struct item *it = heap_pop(&j->l);

		rc = write_left(j, it);
		item_unlink(&j->l, it);
		free(it);
	}
	while (j->r.nheap && !rc &&
	       below(j->r.heap[0].t, sub_sat(f, j->o->within))) {
		struct item *it = heap_pop(&j->r);

		item_unlink(&j->r, it);
		free(it);
	}
	return rc;
}

/* ---- records ---- */

/* The right record's members: ,"right_name":value, keys and _fx* left out. */
static void render_right(struct ijoin *j, const char *p, size_t n)
{
	const struct fx_strlist *f = &j->o->fields;
	struct json_member m;
	size_t pos = 0, i;

	fx_buf_reset(&j->members);
	while (json_object_next(p, n, &pos, &m)) {
		const char *k = m.key.p + 1;
		size_t kl = m.key.len - 2;

		if (f->n) {
			for (i = 0; i < f->n; i++)
				if (json_string_equals(&m.key, f->v[i],
				                       strlen(f->v[i])))
					break;
			if (i == f->n)
				continue;
		} else {
			if (kl >= 3 && !memcmp(k, "_fx", 3))
				continue;
			for (i = 0; i < j->r.keys.n; i++)
				if (json_string_equals(&m.key, j->r.keys.v[i],
				                       strlen(j->r.keys.v[i])))
					break;
			if (i < j->r.keys.n)
				continue;
		}
		fx_buf_add(&j->members, j->head.p, j->head.len);
		fx_buf_add(&j->members, m.key.p + 1, m.key.len - 1);
		fx_buf_addc(&j->members, ':');
		fx_buf_add(&j->members, m.val.p, m.val.len);
	}
}

/*
 * The left record p without its _fx* members (the --meta ones say where it
 * was read, which a batch run does not have), every other byte as it is.
 */
static void strip_fx(struct ijoin *j, const char *p, size_t n)
{
	struct json_member m;
	size_t pos = 0, from = 0, prev_end = 0;
	int kept = 0; /* a member before this one is kept */

	fx_buf_reset(&j->bytes);
	while (json_object_next(p, n, &pos, &m)) {
		size_t start = (size_t)(m.p - p), end = start + m.len;

		if (m.key.len < 5 || memcmp(m.key.p + 1, "_fx", 3)) {
			kept = 1;
		} else if (kept) {
			/* from the comma before it to its end */
			size_t comma = prev_end;

			while (p[comma] != ',')
				comma++;
			fx_buf_add(&j->bytes, p + from, comma - from);
			from = end;
		} else {
			/* none kept yet: from it to just after the comma after
			 * it */
			fx_buf_add(&j->bytes, p + from, start - from);
			from = end;
			while (from < n && p[from] != ',' && p[from] != '}')
				from++;
			if (from < n && p[from] == ',')
				from++;
		}
		prev_end = end;
	}
	fx_buf_add(&j->bytes, p + from, n - from);
}

static void buffer(struct side *s, const char *p, size_t n, int64_t t,
                   const char *key, size_t klen, int null_key)
{
	struct bucket *b = null_key ? NULL : btab_get(&s->tab, key, klen, 1);
	struct item *it = fx_malloc(sizeof(*it) + n);

	it->t = t;
	it->len = n;
	memcpy(it->p, p, n);
	it->b = b;
	it->next = NULL;
	it->prev = b ? b->tail : NULL;
	if (b) {
		if (b->tail)
			b->tail->next = it;
		else
			b->head = it;
		b->tail = it;
	}
	heap_push(s, it);
}

static int on_record(struct ijoin *j, struct side *s, const struct record *rec,
                     const struct json_value *vals)
{
	struct fx_where w = record_stream_where(&s->rs, rec);
	const struct json_value *tv = &vals[s->keys.n];
	int64_t t;
	size_t i;
	int r = JOIN_KEY_OK;

	if (tv->type == JSON_MISSING || tv->type == JSON_NULL)
		return fx_bad_record(j->ctx, &w, s->time_field, rec->p,
		                     rec->len, "missing");
	if (fx_time_of_value(tv, j->unit, &t))
		return fx_bad_record(j->ctx, &w, s->time_field, rec->p,
		                     rec->len, "not a timestamp: %.*s",
		                     (int)(tv->len > 64 ? 64 : tv->len), tv->p);
	fx_buf_reset(&j->key);
	for (i = 0; i < s->keys.n && r == JOIN_KEY_OK; i++)
		r = join_key_add(&j->key, &vals[i], &j->scratch);
	if (r == JOIN_KEY_BAD)
		return fx_bad_record(
		    j->ctx, &w, s->keys.v[i - 1], rec->p, rec->len,
		    "cannot join on %s",
		    vals[i - 1].type == JSON_OBJECT ? "an object" : "an array");
	if (t < watermark_of(s)) {
		j->ctx->st.late++;
		return 0;
	}
	watermark_partition_name(&vals[s->topic_path], &vals[s->part_path],
	                         &j->part);
	watermark_record(&s->wm, j->part.p, j->part.len, t);
	if (s == &j->r) {
		if (r == JOIN_KEY_NULL) /* matches nothing */
			return 0;
		render_right(j, rec->p, rec->len);
		buffer(s, j->members.p, j->members.len, t, j->key.p, j->key.len,
		       0);
		return 0;
	}
	if (r == JOIN_KEY_NULL && !j->o->left)
		return 0;
	if (!memmem(rec->p, rec->len, "\"_fx", 4)) { /* most records */
		buffer(s, rec->p, rec->len, t, j->key.p, j->key.len,
		       r == JOIN_KEY_NULL);
		return 0;
	}
	strip_fx(j, rec->p, rec->len);
	buffer(s, j->bytes.p, j->bytes.len, t, j->key.p, j->key.len,
	       r == JOIN_KEY_NULL);
	return 0;
}

/* A control record: the watermark's are acted on, the left's others go on. */
static int on_control(struct ijoin *j, struct side *s, const struct record *rec,
                      const struct json_value *vals)
{
	const struct json_value *ts = &vals[s->ts_path];
	int64_t t = 0;
	int have_ts =
	    ts->type != JSON_MISSING && fx_time_of_value(ts, j->unit, &t) == 0;

	if (watermark_control(&s->wm, &vals[s->ctl_path], &vals[s->list_path],
	                      &vals[s->eof_path], have_ts, t))
		return 0;
	return s == &j->l ? join_forward_control(&j->out, rec) : 0;
}

/* ---- reading ---- */

static int add_path(struct ijoin *j, struct side *s, const char *name)
{
	const char *err;
	size_t i;
	int k;

	for (i = 0; i < s->paths.n; i++)
		if (strcmp(s->paths.v[i].name, name) == 0)
			return (int)i;
	k = json_paths_add(&s->paths, name, &err);
	if (k < 0)
		fx_usage_error(j->ctx, "field '%s': %s", name, err);
	return k;
}

static int side_open(struct ijoin *j, struct side *s, const char *what,
                     const char *path, const struct fx_strlist *keys,
                     const char *time_field)
{
	const char *err;
	size_t i;

	s->what = what;
	s->time_field = time_field;
	watermark_init(&s->wm, j->o->lateness, j->o->idle_timeout);
	for (i = 0; i < keys->n; i++)
		fx_strlist_push(&s->keys, keys->v[i]);
	/* the time right after the keys, even if it is one of them */
	if (json_paths_init(&s->paths, s->keys.v, s->keys.n, &err) ||
	    json_paths_add(&s->paths, time_field, &err) < 0)
		fx_usage_error(j->ctx, "--on/--time: %s", err);
	s->topic_path = add_path(j, s, "_fx_topic");
	s->part_path = add_path(j, s, "_fx_partition");
	s->ctl_path = add_path(j, s, "_fx");
	s->list_path = add_path(j, s, "partitions");
	s->eof_path = add_path(j, s, "partition");
	s->ts_path = add_path(j, s, "ts");
	return record_stream_open(&s->rs, j->ctx, path, 0, &s->paths);
}

static void side_free(struct side *s)
{
	while (s->nheap) {
		struct item *it = heap_pop(s);

		item_unlink(s, it);
		free(it);
	}
	free(s->heap);
	free(s->tab.slots);
	record_stream_close(&s->rs);
	json_paths_free(&s->paths);
	fx_strlist_free(&s->keys);
	watermark_free(&s->wm);
}

static int step(struct ijoin *j)
{
	struct json_value vals[JSON_MAX_PATHS];
	struct side *s;
	struct record rec;
	int r, flags;

	if (j->l.eof)
		s = &j->r;
	else if (j->r.eof)
		s = &j->l;
	else
		s = watermark_now(&j->l.wm) <= watermark_now(&j->r.wm) ? &j->l
		                                                       : &j->r;
	join_flush_if_idle(&s->rs, &j->out);
	r = record_stream_next(&s->rs, &rec, vals, &flags);
	if (r < 0)
		return -r;
	if (r == 0)
		s->eof = 1;
	else if (flags & JSON_SCAN_CONTROL)
		r = on_control(j, s, &rec, vals);
	else
		r = on_record(j, s, &rec, vals);
	return r ? r : advance(j);
}

static void ijoin_init(struct ijoin *j, struct fx_ctx *ctx,
                       const struct join_opts *o)
{
	const char *prefix = o->right_prefix ? o->right_prefix : "right_";
	size_t i;

	memset(j, 0, sizeof(*j));
	j->ctx = ctx;
	j->o = o;
	j->unit = o->unit;
	fx_buf_addc(&j->head, ',');
	fx_buf_add_json_string(&j->head, prefix, strlen(prefix));
	j->head.len--; /* the closing quote: the name follows */
	for (i = 0; i < o->fields.n && o->left_nulls; i++) {
		/* ,"right_ then the name's JSON string without its quote */
		fx_buf_reset(&j->scratch);
		fx_buf_add_json_string(&j->scratch, o->fields.v[i],
		                       strlen(o->fields.v[i]));
		fx_buf_add(&j->nulls, j->head.p, j->head.len);
		fx_buf_add(&j->nulls, j->scratch.p + 1, j->scratch.len - 1);
		fx_buf_adds(&j->nulls, ":null");
	}
	ctx->count_late = 1;
	record_writer_init(&j->out, ctx, STDOUT_FILENO, "stdout");
}

int ijoin_run(struct fx_ctx *ctx, const struct join_opts *o, char **inputs,
              size_t n)
{
	struct fx_strlist lk = {0}, rk = {0};
	struct ijoin j;
	int rc, wrc;

	if (n > 1)
		fx_usage_error(
		    ctx, "the interval join reads one left input, got %zu", n);
	if (o->left_nulls && !o->fields.n)
		fx_usage_error(
		    ctx,
		    "--left-nulls with --right needs --fields (the right fields to null)");
	ijoin_init(&j, ctx, o);
	join_split_on(&o->on, &lk, &rk);
	rc = side_open(&j, &j.l, "left", inputs[0], &lk, o->time_field);
	if (!rc)
		rc = side_open(&j, &j.r, "right", o->right, &rk,
		               o->right_time ? o->right_time : o->time_field);
	while (!rc && !fx_stop && !(j.l.eof && j.r.eof)) {
		rc = step(&j);
		if (!rc && record_writer_failed(&j.out))
			rc = record_writer_status(&j.out);
	}
	ctx->st.bytes_out = record_writer_bytes_total(&j.out);
	wrc = record_writer_close(&j.out);
	side_free(&j.l);
	side_free(&j.r);
	fx_strlist_free(&lk);
	fx_strlist_free(&rk);
	fx_buf_free(&j.key);
	fx_buf_free(&j.scratch);
	fx_buf_free(&j.members);
	fx_buf_free(&j.head);
	fx_buf_free(&j.nulls);
	fx_buf_free(&j.part);
	fx_buf_free(&j.bytes);
	free(j.partners);
	return rc ? rc : wrc;
}
