/*
 * ijoin.c - the interval join of two record streams.
 *
 * Both inputs are read in one thread, always from the side whose highest
 * event time is lower (the left side on a tie, and first), blocking on it:
 * that side is the one holding the join back. A side's watermark is its
 * highest event time minus --lateness (the end of the side: +infinity). A
 * record older than its own side's watermark is late: counted, dropped.
 *
 * A record that arrives is paired at once with every buffered record of
 * the other side with the same key and |t_l - t_r| <= D, in their order of
 * arrival, then buffered itself. So each pair is written once, when its
 * later record arrives. A buffered record is freed when the other side's
 * watermark passes its time + D: no record to come can match it. A left
 * record freed without ever matching is written then (--left), in order
 * of event time, then arrival. As the order of reading depends only on
 * the event times, the output is the same bytes for the same two inputs,
 * however fast each of them flows.
 */
#include "dim.h"
#include "err.h"
#include "fxtime.h"
#include "join.h"
#include "stream.h"
#include "writer.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

struct bucket;

/* A buffered record: the left record's bytes, or the right's members. */
struct item {
	struct item *next, *prev; /* in its bucket, by arrival */
	struct bucket *b;
	int64_t t;
	uint64_t seq;
	int matched;
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

struct side {
	const char *what; /* "left", "right" */
	struct record_stream rs;
	struct json_paths paths; /* the keys, then the time */
	struct fx_strlist keys;
	const char *time_field;
	int eof;
	int64_t max_t;
	uint64_t seq;
	struct btab tab;
	struct item **heap; /* by (t, seq) */
	size_t nheap, capheap;
};

struct ijoin {
	struct fx_ctx *ctx;
	const struct join_opts *o;
	struct side l, r;
	enum fx_time_unit unit;
	struct fx_buf key, scratch, members, head, nulls;
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

static int item_before(const struct item *a, const struct item *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(struct side *s, struct item *it)
{
	size_t i = s->nheap++;

	if (s->nheap > s->capheap) {
		s->capheap = s->capheap ? s->capheap * 2 : 1024;
		s->heap = fx_realloc(s->heap, s->capheap * sizeof(*s->heap));
	}
	for (; i && item_before(it, s->heap[(i - 1) / 2]); i = (i - 1) / 2)
		s->heap[i] = s->heap[(i - 1) / 2];
	s->heap[i] = it;
}

static struct item *heap_pop(struct side *s)
{
	struct item *top = s->heap[0], *last = s->heap[--s->nheap];
	size_t i = 0, n = s->nheap;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && item_before(s->heap[c + 1], s->heap[c]))
			c++;
		if (!item_before(s->heap[c], last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n)
		s->heap[i] = last;
	return top;
}

/* ---- state ---- */

static int64_t watermark(const struct ijoin *j, const struct side *s)
{
	if (s->eof)
		return INT64_MAX;
	if (s->max_t == INT64_MIN)
		return INT64_MIN;
	return s->max_t - j->o->lateness;
}

static void item_unlink(struct side *s, struct item *it)
{
	struct bucket *b = it->b;

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
	return join_put(&j->out, lp, ln, m, mlen) ? FX_EXIT_IO : 0;
}

/* Frees the records of s that no record of the other side can match. */
static int evict(struct ijoin *j, struct side *s, int64_t wm_other)
{
	int64_t d = j->o->within;
	int rc = 0;

	while (s->nheap && !rc &&
	       (wm_other == INT64_MAX ||
	        (wm_other != INT64_MIN && s->heap[0]->t < wm_other - d))) {
		struct item *it = heap_pop(s);

		item_unlink(s, it);
		if (s == &j->l && !it->matched && j->o->left)
			rc = emit(j, it->p, it->len, j->nulls.p, j->nulls.len);
		free(it);
	}
	return rc;
}

static int evict_both(struct ijoin *j)
{
	int rc = evict(j, &j->l, watermark(j, &j->r));

	return rc ? rc : evict(j, &j->r, watermark(j, &j->l));
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

static int time_of(struct ijoin *j, const struct json_value *v, int64_t *t)
{
	if (v->type == JSON_STRING)
		return fx_time_parse_iso(v->p + 1, v->len - 2, t);
	if (v->type == JSON_NUMBER)
		return fx_time_parse_epoch(v->p, v->len, j->unit, t);
	return -1;
}

/* Pairs a new record of s with the other side's records of its key. */
static int probe(struct ijoin *j, struct side *s, struct bucket *b, int64_t t,
                 const struct record *rec, int *matched)
{
	struct item *it;
	int rc = 0;

	for (it = b ? b->head : NULL; it && !rc; it = it->next) {
		if (it->t - t > j->o->within || t - it->t > j->o->within)
			continue;
		*matched = it->matched = 1;
		if (s == &j->l)
			rc = emit(j, rec->p, rec->len, it->p, it->len);
		else
			rc = emit(j, it->p, it->len, j->members.p,
			          j->members.len);
	}
	return rc;
}

static void buffer(struct side *s, const char *p, size_t n, int64_t t,
                   int matched, const char *key, size_t klen)
{
	struct bucket *b = btab_get(&s->tab, key, klen, 1);
	struct item *it = fx_malloc(sizeof(*it) + n);

	it->t = t;
	it->seq = s->seq++;
	it->matched = matched;
	it->len = n;
	memcpy(it->p, p, n);
	it->b = b;
	it->next = NULL;
	it->prev = b->tail;
	if (b->tail)
		b->tail->next = it;
	else
		b->head = it;
	b->tail = it;
	heap_push(s, it);
}

static int on_record(struct ijoin *j, struct side *s, const struct record *rec,
                     const struct json_value *vals)
{
	struct side *other = s == &j->l ? &j->r : &j->l;
	struct fx_where w = record_stream_where(&s->rs, rec);
	const struct json_value *tv = &vals[s->keys.n];
	int64_t t;
	size_t i;
	int r = JOIN_KEY_OK, matched = 0, rc;

	if (tv->type == JSON_MISSING || tv->type == JSON_NULL)
		return fx_bad_record(j->ctx, &w, s->time_field, rec->p,
		                     rec->len, "missing");
	if (time_of(j, tv, &t))
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
	if (t < watermark(j, s)) {
		j->ctx->st.late++;
		return 0;
	}
	if (t > s->max_t)
		s->max_t = t;
	if (r == JOIN_KEY_NULL) /* matches nothing */
		return s == &j->l && j->o->left
		           ? emit(j, rec->p, rec->len, j->nulls.p, j->nulls.len)
		           : 0;
	if (s == &j->r)
		render_right(j, rec->p, rec->len);
	rc = probe(j, s, btab_get(&other->tab, j->key.p, j->key.len, 0), t, rec,
	           &matched);
	if (rc)
		return rc;
	if (s == &j->l)
		buffer(s, rec->p, rec->len, t, matched, j->key.p, j->key.len);
	else
		buffer(s, j->members.p, j->members.len, t, matched, j->key.p,
		       j->key.len);
	return 0;
}

/* ---- reading ---- */

static int side_open(struct ijoin *j, struct side *s, const char *what,
                     const char *path, const struct fx_strlist *keys,
                     const char *time_field)
{
	const char *err;
	size_t i;

	s->what = what;
	s->max_t = INT64_MIN;
	s->time_field = time_field;
	for (i = 0; i < keys->n; i++)
		fx_strlist_push(&s->keys, keys->v[i]);
	if (json_paths_init(&s->paths, s->keys.v, s->keys.n, &err) ||
	    json_paths_add(&s->paths, time_field, &err) < 0)
		fx_usage_error(j->ctx, "--on/--time: %s", err);
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
		s = j->l.max_t <= j->r.max_t ? &j->l : &j->r;
	join_flush_if_idle(&s->rs, &j->out);
	r = record_stream_next(&s->rs, &rec, vals, &flags);
	if (r < 0)
		return -r;
	if (r == 0) {
		s->eof = 1;
		return evict_both(j);
	}
	if (flags & JSON_SCAN_CONTROL) /* the left stream's go on in order */
		return s == &j->l ? join_forward_control(&j->out, &rec) : 0;
	r = on_record(j, s, &rec, vals);
	return r ? r : evict_both(j);
}

static void ijoin_init(struct ijoin *j, struct fx_ctx *ctx,
                       const struct join_opts *o)
{
	const char *prefix = o->right_prefix ? o->right_prefix : "right_";
	size_t i;

	memset(j, 0, sizeof(*j));
	j->ctx = ctx;
	j->o = o;
	j->unit = !o->time_unit            ? FX_TIME_AUTO
	          : o->time_unit[0] == 's' ? FX_TIME_S
	                                   : FX_TIME_MS;
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
			rc = FX_EXIT_IO;
	}
	rc = join_end_status(&j.out, rc);
	ctx->st.bytes_out = j.out.bytes + j.out.len;
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
	return rc ? rc : wrc;
}
