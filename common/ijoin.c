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
 *
 * Checkpoints (--state DIR): both inputs come from sources that checkpoint
 * with the same ids (two fx-consume --checkpoint with the job's DIR: they
 * restore the same committed checkpoint and count their barriers up from
 * it). Barriers are aligned: once barrier K has come on one input, that
 * input is not read until K comes on the other; then the left records
 * below the frontier are written, the whole state (both sides' buffered
 * records, watermarks, whether a side has ended, the last positions of
 * each side, the late count) becomes snapshot K, and one barrier K goes
 * out with the positions of both (the higher offset of a partition that
 * both name). A final barrier ends its input (as its
 * end of file would); the barrier that goes out is final when both inputs
 * have ended, and then every record held has been written before it. An
 * input that has ended aligns no more: the other one's barriers go out
 * alone, with the ended input's last positions. An input that reaches its
 * end of file without a final barrier (its source died) stops all
 * checkpoints of the run: what follows is never committed. Each input
 * must start with the same restore K (or neither with one); the state is
 * then snapshot K.
 */
#include "checkpoint.h"
#include "dim.h"
#include "err.h"
#include "fxtime.h"
#include "join.h"
#include "joinio.h"
#include "recedit.h"
#include "snapshot.h"
#include "stream.h"
#include "watermark.h"
#include "writer.h"

#include <errno.h>
#include <inttypes.h>
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
	struct item *next, *prev; /* in its bucket (struct bucket) */
	struct bucket *b; /* NULL: a left record with a null key (--left) */
	int64_t t;
	size_t len;
	char p[];
};

/*
 * The records of one key. The right input's are in time order (of equal
 * times, by arrival), so that a left record finds its partners without
 * walking the ones too early for it: skip is the last of those known to be
 * too early for a left record at skip_t (every item up to it has t + D <
 * skip_t), and left records are written in time order, so each next one
 * goes on from there. The left input's are by arrival.
 */
struct bucket {
	uint64_t hash;
	struct item *head, *tail;
	struct item *skip; /* NULL: none known */
	int64_t skip_t;
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
	int by_time;             /* its buckets in time order (the right) */
	struct heap_entry *heap; /* by (t, bytes) */
	size_t nheap, capheap;

	/* --state */
	int seen;    /* its first record (or its end) was read */
	int restore; /* that was {"_fx":"restore","id":restore_id} */
	uint64_t restore_id;
	int ended;                /* a final barrier came: its end of time */
	int blocked;              /* at barrier bar, waiting for the other */
	struct ckpt_barrier bar;  /* the barrier it waits at */
	struct ckpt_barrier last; /* its last barrier: positions to forward */
};

struct ijoin {
	struct fx_ctx *ctx;
	const struct join_opts *o;
	struct side l, r;
	enum fx_time_unit unit;
	struct fx_buf key, scratch, members, head, nulls, part, bytes;
	/* --fields: ,"right_name": of field i at fheads[fhead_off[i]..[i+1]),
	 * and a right record's value of each */
	struct fx_buf fheads;
	size_t *fhead_off;
	struct json_value *fvals;
	const struct item **partners; /* of the left record being written */
	size_t cappartners;
	struct record_writer out;

	/* --state */
	const char *state_dir; /* NULL: checkpoints pass as before */
	struct snapshot_dir snap;
	int restored; /* the first records of both inputs were checked */
	int broken;   /* an input ended without a final barrier */
	int broken_warned;
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

/*
 * Times are any int64 (ms), so no time is added to or subtracted from
 * another in int64: a difference is taken in uint64 once the order is
 * known, and the end of an input is a flag, not a time (a watermark of
 * INT64_MAX is a time, that records at INT64_MAX may still follow).
 */

/* The input has ended: its watermark is past every time. */
static int side_ended(const struct side *s)
{
	return s->eof || s->ended;
}

/* t + d < w, for a distance d of up to 2^64 - 1 */
static int ahead(int64_t t, uint64_t d, int64_t w)
{
	return t < w && (uint64_t)w - (uint64_t)t > d;
}

/*
 * A left record at t is complete: below the frontier min(W_left,
 * W_right - D) (see the top of the file), an ended input's watermark
 * being past every time.
 */
static int left_complete(const struct ijoin *j, int64_t t)
{
	return (side_ended(&j->l) || t < j->l.wm.value) &&
	       (side_ended(&j->r) ||
	        ahead(t, (uint64_t)j->o->within, j->r.wm.value));
}

/* A right record at t can pair with no left record held or to come:
 * t + D below the frontier. */
static int right_done(const struct ijoin *j, int64_t t)
{
	uint64_t d = (uint64_t)j->o->within;

	return (side_ended(&j->l) || ahead(t, d, j->l.wm.value)) &&
	       (side_ended(&j->r) || ahead(t, 2 * d, j->r.wm.value));
}

static void item_unlink(struct side *s, struct item *it)
{
	struct bucket *b = it->b;

	if (!b)
		return;
	if (b->skip == it)
		b->skip = it->prev;
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

/*
 * The first right record of bucket b that is not too early for a left
 * record at t (it->t + D >= t), or NULL; b->skip moves on to the one
 * before it.
 */
static struct item *seek(struct bucket *b, int64_t t, uint64_t d)
{
	struct item *prev = NULL, *it;

	if (b->skip && t >= b->skip_t)
		prev = b->skip;
	for (it = prev ? prev->next : b->head; it && ahead(it->t, d, t);
	     it = it->next)
		prev = it;
	b->skip = prev;
	b->skip_t = t;
	return it;
}

/*
 * Writes a complete left record with its partners, in their order: the
 * right records of its key from the first not too early to the last not
 * too late (abs(l.t - r.t) <= D).
 */
static int write_left(struct ijoin *j, const struct item *l)
{
	struct bucket *b =
	    l->b ? btab_get(&j->r.tab, l->b->key, l->b->klen, 0) : NULL;
	uint64_t d = (uint64_t)j->o->within;
	const struct item *it;
	size_t n = 0, i;
	int rc = 0;

	for (it = b ? seek(b, l->t, d) : NULL; it && !ahead(l->t, d, it->t);
	     it = it->next) {
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
	int rc = 0;

	while (j->l.nheap && !rc && left_complete(j, j->l.heap[0].t)) {
		struct item *it = heap_pop(&j->l);

		rc = write_left(j, it);
		item_unlink(&j->l, it);
		free(it);
	}
	while (j->r.nheap && !rc && right_done(j, j->r.heap[0].t)) {
		struct item *it = heap_pop(&j->r);

		item_unlink(&j->r, it);
		free(it);
	}
	return rc;
}

/* ---- checkpoints (--state) ---- */

/*
 * A snapshot: a line naming the format and the options the state depends
 * on, then fixed-width little-endian integers and length-prefixed bytes:
 *
 *   "fx-join state 2 " OPTIONS "\n"
 *   late
 *   for the left, then the right input:
 *     ended  value nparts {name max_t active}...      the watermark
 *     npos {topic partition offset}...                its last positions
 *     nitems {nullkey t key bytes}...                  its buffered records
 *
 * The records go in the order of the heap's array, which loading them
 * back in that order rebuilds as it was.
 */

static void put_json_list(struct fx_buf *b, const char *name,
                          const struct fx_strlist *l)
{
	size_t i;

	fx_buf_adds(b, name);
	fx_buf_addc(b, '[');
	for (i = 0; i < l->n; i++) {
		if (i)
			fx_buf_addc(b, ',');
		fx_buf_add_json_string(b, l->v[i], strlen(l->v[i]));
	}
	fx_buf_addc(b, ']');
}

static void put_json_opt(struct fx_buf *b, const char *name, const char *v)
{
	fx_buf_adds(b, name);
	if (v)
		fx_buf_add_json_string(b, v, strlen(v));
	else
		fx_buf_adds(b, "null");
}

/* The options the state depends on, as one line of JSON. */
static void state_options(const struct ijoin *j, struct fx_buf *b)
{
	const struct join_opts *o = j->o;
	char n[64];

	put_json_list(b, "{\"on\":", &o->on);
	put_json_list(b, ",\"fields\":", &o->fields);
	put_json_opt(b, ",\"time\":", o->time_field);
	put_json_opt(b, ",\"right_time\":", o->right_time);
	put_json_opt(b, ",\"right_prefix\":", o->right_prefix);
	snprintf(n, sizeof(n), ",\"unit\":%d,\"within\":%" PRId64, (int)j->unit,
	         o->within);
	fx_buf_adds(b, n);
	fx_buf_adds(b, o->left_nulls ? ",\"join\":\"left-nulls\"}"
	               : o->left     ? ",\"join\":\"left\"}"
	                             : ",\"join\":\"inner\"}");
}

static void side_save(const struct side *s, struct fx_buf *b)
{
	const struct watermark *wm = &s->wm;
	size_t i;

	snapshot_put_u64(b, (uint64_t)s->ended);
	snapshot_put_u64(b, (uint64_t)wm->value);
	snapshot_put_u64(b, wm->n);
	for (i = 0; i < wm->n; i++) {
		size_t len;
		const char *name = watermark_part_name(wm, i, &len);

		snapshot_put_bytes(b, name, len);
		snapshot_put_u64(b, (uint64_t)wm->parts[i].max_t);
		snapshot_put_u64(b, (uint64_t)wm->parts[i].active);
	}
	snapshot_put_u64(b, s->last.npos);
	for (i = 0; i < s->last.npos; i++) {
		const struct ckpt_position *p = &s->last.pos[i];

		snapshot_put_bytes(b, p->topic, strlen(p->topic));
		snapshot_put_u64(b, (uint64_t)(int64_t)p->partition);
		snapshot_put_u64(b, (uint64_t)p->offset);
	}
	snapshot_put_u64(b, s->nheap);
	for (i = 0; i < s->nheap; i++) {
		const struct item *it = s->heap[i].it;

		snapshot_put_u64(b, it->b == NULL);
		snapshot_put_u64(b, (uint64_t)it->t);
		if (it->b)
			snapshot_put_bytes(b, it->b->key, it->b->klen);
		else
			snapshot_put_bytes(b, "", 0);
		snapshot_put_bytes(b, it->p, it->len);
	}
}

static void state_save(const struct ijoin *j, struct fx_buf *b)
{
	fx_buf_reset(b);
	fx_buf_adds(b, "fx-join state 2 ");
	state_options(j, b);
	fx_buf_addc(b, '\n');
	snapshot_put_u64(b, j->ctx->st.late);
	side_save(&j->l, b);
	side_save(&j->r, b);
}

static void buffer(struct side *s, const char *p, size_t n, int64_t t,
                   const char *key, size_t klen, int null_key);

static void sort_buckets(struct side *s);

static void side_load(struct side *s, struct snapshot_reader *r, int is_left)
{
	size_t i, k, len, klen;
	int by_time = s->by_time;

	s->ended = snapshot_get_u64(r) != 0;
	s->wm.value = (int64_t)snapshot_get_u64(r);
	k = snapshot_get_count(r, 24);
	for (i = 0; i < k && !r->bad; i++) {
		const char *name = snapshot_get_bytes(r, &len);
		struct wm_part *part;
		size_t had = s->wm.n;

		if (r->bad)
			break;
		part = watermark_part(&s->wm, name, len);
		if (s->wm.n == had)
			r->bad = 1; /* a name twice */
		part->max_t = (int64_t)snapshot_get_u64(r);
		part->active = snapshot_get_u64(r) != 0;
	}
	k = snapshot_get_count(r, 24);
	for (i = 0; i < k && !r->bad; i++) {
		const char *topic = snapshot_get_bytes(r, &len);
		uint64_t part = snapshot_get_u64(r);
		uint64_t off = snapshot_get_u64(r);

		if (r->bad || memchr(topic, 0, len) ||
		    (int64_t)part != (int32_t)(int64_t)part) {
			r->bad = 1;
			break;
		}
		FX_GROW(s->last.pos, s->last.npos + 1, s->last.cappos, 8);
		s->last.pos[s->last.npos].topic = fx_strndup(topic, len);
		s->last.pos[s->last.npos].partition = (int32_t)(int64_t)part;
		s->last.pos[s->last.npos].offset = (int64_t)off;
		s->last.npos++;
	}
	k = snapshot_get_count(r, 32);
	s->by_time = 0; /* in the heap's order, sorted once at the end */
	for (i = 0; i < k && !r->bad; i++) {
		uint64_t null_key = snapshot_get_u64(r);
		int64_t t = (int64_t)snapshot_get_u64(r);
		const char *key = snapshot_get_bytes(r, &klen);
		const char *p = snapshot_get_bytes(r, &len);

		if (r->bad || null_key > 1 ||
		    (null_key && (klen || !is_left))) {
			r->bad = 1;
			break;
		}
		buffer(s, p, len, t, key, klen, (int)null_key);
	}
	s->by_time = by_time;
	if (by_time)
		sort_buckets(s);
}

static void header_options(void *arg, struct fx_buf *want)
{
	state_options(arg, want);
}

/* Loads a snapshot: 0, -1 if the bytes are not a state, -2 other options. */
static int state_load(struct ijoin *j, const char *p, size_t n)
{
	struct snapshot_reader r = {p, p + n, 0};
	struct fx_buf want = FX_BUF_INIT;
	int rc = 0;

	fx_buf_adds(&want, "fx-join state 2 ");
	rc = snapshot_get_header(&r, &want, header_options, j);
	fx_buf_free(&want);
	if (rc)
		return rc;
	j->ctx->st.late = snapshot_get_u64(&r);
	side_load(&j->l, &r, 1);
	side_load(&j->r, &r, 0);
	return r.bad || r.p != r.end ? -1 : 0;
}

static struct side *other(struct ijoin *j, const struct side *s)
{
	return s == &j->l ? &j->r : &j->l;
}

/* --state DIR: the snapshots go to DIR/fx-join or DIR/NAME. */
static void init_state(struct ijoin *j)
{
	if (snapshot_stage_open(j->ctx, &j->snap, j->o->state, j->o->stage,
	                        "fx-join"))
		j->state_dir = j->o->state;
}

/* A checkpoint or restore record into br; a malformed one is fatal. */
static void barrier_parse(struct ijoin *j, const struct side *s,
                          const struct record *rec, struct ckpt_barrier *br)
{
	if (ckpt_barrier_parse(rec->p, rec->len, br))
		fx_die(j->ctx, FX_EXIT_DATA,
		       "%s input: not a checkpoint record: %.*s", s->what,
		       (int)(rec->len > 200 ? 200 : rec->len), rec->p);
}

/* Restore K: a fresh job (0: every snapshot goes), or snapshot K. */
static void restore_load(struct ijoin *j, uint64_t id)
{
	struct fx_buf b = FX_BUF_INIT;
	char path[4096];
	int rc;

	snapshot_path(&j->snap, id, path, sizeof(path));
	if (!snapshot_restore(j->ctx, &j->snap, id, &b))
		return;
	rc = state_load(j, b.p, b.len);
	fx_buf_free(&b);
	if (rc == -1)
		fx_die(j->ctx, FX_EXIT_IO,
		       "%s: cannot restore checkpoint %" PRIu64
		       ": snapshot corrupt",
		       path, id);
	if (rc)
		fx_die(
		    j->ctx, FX_EXIT_IO,
		    "%s: cannot restore checkpoint %" PRIu64
		    ": snapshot made with other options (--on, --fields, --time, --right-time, --time-unit, --within, --left, --right-prefix)",
		    path, id);
}

/*
 * Once the first record of both inputs is known: the same restore K on
 * both (snapshot K is loaded, one restore K goes out), or on neither.
 */
static int check_restore(struct ijoin *j)
{
	struct fx_buf b = FX_BUF_INIT;
	int rc;

	if (j->restored || !j->l.seen || !j->r.seen)
		return 0;
	j->restored = 1;
	if (!j->l.restore && !j->r.restore)
		return 0;
	if (j->l.restore != j->r.restore) {
		const struct side *s = j->l.restore ? &j->l : &j->r;

		fx_die(
		    j->ctx, FX_EXIT_IO,
		    "the %s input starts with restore %" PRIu64
		    ", the %s input does not: both must come from sources that restore the same checkpoint",
		    s->what, s->restore_id, other(j, s)->what);
	}
	if (j->l.restore_id != j->r.restore_id)
		fx_die(j->ctx, FX_EXIT_IO,
		       "the left input restores checkpoint %" PRIu64
		       ", the right input checkpoint %" PRIu64
		       ": both must restore the same one",
		       j->l.restore_id, j->r.restore_id);
	restore_load(j, j->l.restore_id);
	ckpt_restore_format(&b, j->l.restore_id);
	rc = record_writer_put_control(&j->out, b.p, b.len);
	fx_buf_free(&b);
	return rc;
}

/* Snapshot id; then the snapshots older than the committed one go. */
static void snapshot_take(struct ijoin *j, uint64_t id)
{
	struct fx_buf b = FX_BUF_INIT;

	state_save(j, &b);
	snapshot_stage_take(j->ctx, &j->snap, j->state_dir, id, b.p, b.len);
	fx_buf_free(&b);
}

/*
 * Barrier K has come on every input that has not ended: the left records
 * below the frontier go out, the state becomes snapshot K, and one barrier
 * K with the positions of both inputs follows them.
 */
static int align(struct ijoin *j)
{
	struct side *sides[2] = {&j->l, &j->r};
	struct ckpt_state pos;
	struct fx_buf b = FX_BUF_INIT;
	uint64_t id = 0;
	size_t i, k;
	int rc;

	for (i = 0; i < 2; i++) {
		struct side *s = sides[i];

		if (!s->blocked)
			continue;
		id = s->bar.id;
		if (s->bar.final)
			s->ended = 1;
		ckpt_barrier_free(&s->last);
		s->last = s->bar;
		memset(&s->bar, 0, sizeof(s->bar));
		s->blocked = 0;
	}
	rc = advance(j);
	if (rc)
		return rc;
	snapshot_take(j, id);
	/*
	 * The union of both positions. Each source carries only its own
	 * topics' partitions (kafkasrc.c), so normally none is named by
	 * both; if one is (both sides read the same topic), the higher
	 * offset wins: neither side is ever behind what it has read.
	 */
	memset(&pos, 0, sizeof(pos));
	for (i = 0; i < 2; i++)
		for (k = 0; k < sides[i]->last.npos; k++) {
			const struct ckpt_position *p = &sides[i]->last.pos[k];

			if (p->offset >
			    ckpt_state_position(&pos, p->topic, p->partition))
				ckpt_state_set_position(
				    &pos, p->topic, p->partition, p->offset);
		}
	ckpt_barrier_format(&b, id, pos.pos, pos.npos,
	                    j->l.ended && j->r.ended);
	ckpt_state_free(&pos);
	rc = record_writer_put_control(&j->out, b.p, b.len);
	fx_buf_free(&b);
	return rc;
}

/* No checkpoint can be taken any more: say so once, at the first lost. */
static void barrier_lost(struct ijoin *j, uint64_t id)
{
	if (j->broken_warned)
		return;
	j->broken_warned = 1;
	fx_warn(
	    j->ctx,
	    "checkpoint %" PRIu64
	    " not taken, nor any after it: the %s input ended without a final barrier",
	    id, j->l.eof && !j->l.ended ? "left" : "right");
}

/* Barrier K on input s: wait for it on the other, or align now. */
static int on_barrier(struct ijoin *j, struct side *s, const struct record *rec)
{
	struct side *o = other(j, s);

	barrier_parse(j, s, rec, &s->bar);
	if (s->ended || j->broken) { /* after its end: nothing to align */
		if (j->broken)
			barrier_lost(j, s->bar.id);
		ckpt_barrier_free(&s->bar);
		return 0;
	}
	s->blocked = 1;
	if (o->blocked && o->bar.id != s->bar.id)
		fx_die(
		    j->ctx, FX_EXIT_DATA,
		    "checkpoint %" PRIu64
		    " on the %s input meets checkpoint %" PRIu64
		    " on the %s input: the sources must number their barriers alike",
		    s->bar.id, s->what, o->bar.id, o->what);
	return o->blocked || o->ended ? align(j) : 0;
}

/*
 * The end of input s. Without a final barrier before it, its source died
 * (or does not checkpoint): nothing after this can be committed, so no
 * barrier goes out any more, the one waiting either.
 */
static void on_end(struct ijoin *j, struct side *s)
{
	struct side *o = other(j, s);

	if (s->ended || j->broken)
		return;
	j->broken = 1;
	if (o->blocked) {
		barrier_lost(j, o->bar.id);
		ckpt_barrier_free(&o->bar);
		o->blocked = 0;
	}
}

/* ---- records ---- */

/*
 * With --fields, the right record's members are those fields, in their
 * order, null when the record lacks one (the last of a name given twice),
 * so that every pair has the fields --left-nulls writes.
 */
static void render_fields(struct ijoin *j, const char *p, size_t n)
{
	const struct fx_strlist *f = &j->o->fields;
	struct json_member m;
	size_t pos = 0, i;

	for (i = 0; i < f->n; i++)
		j->fvals[i].type = JSON_MISSING;
	while (json_object_next(p, n, &pos, &m))
		for (i = 0; i < f->n; i++)
			if (json_string_equals(&m.key, f->v[i],
			                       strlen(f->v[i]))) {
				j->fvals[i] = m.val;
				break;
			}
	for (i = 0; i < f->n; i++) {
		fx_buf_add(&j->members, j->fheads.p + j->fhead_off[i],
		           j->fhead_off[i + 1] - j->fhead_off[i]);
		if (j->fvals[i].type == JSON_MISSING)
			fx_buf_adds(&j->members, "null");
		else
			fx_buf_add(&j->members, j->fvals[i].p, j->fvals[i].len);
	}
}

/*
 * The right record's members: ,"right_name":value, in the record's order,
 * keys and _fx* left out; or the --fields (render_fields).
 */
static void render_right(struct ijoin *j, const char *p, size_t n)
{
	struct json_member m;
	size_t pos = 0, i;

	fx_buf_reset(&j->members);
	if (j->o->fields.n) {
		render_fields(j, p, n);
		return;
	}
	while (json_object_next(p, n, &pos, &m)) {
		const char *k = m.key.p + 1;
		size_t kl = m.key.len - 2;

		if (kl >= 3 && !memcmp(k, "_fx", 3))
			continue;
		for (i = 0; i < j->r.keys.n; i++)
			if (json_string_equals(&m.key, j->r.keys.v[i],
			                       strlen(j->r.keys.v[i])))
				break;
		if (i < j->r.keys.n)
			continue;
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

/* Puts it into its bucket after p (NULL: first). */
static void bucket_insert(struct bucket *b, struct item *p, struct item *it)
{
	it->prev = p;
	it->next = p ? p->next : b->head;
	if (it->next)
		it->next->prev = it;
	else
		b->tail = it;
	if (p)
		p->next = it;
	else
		b->head = it;
}

/*
 * Its place in a bucket in time order: after the last item not later,
 * looked for from the end (records come nearly in time order). Put
 * before b->skip, it may not be too early: the skip goes back before it.
 */
static void bucket_insert_by_time(struct bucket *b, struct item *it)
{
	struct item *p = b->tail;
	int passed = 0;

	for (; p && p->t > it->t; p = p->prev)
		passed |= p == b->skip;
	bucket_insert(b, p, it);
	if (passed)
		b->skip = p;
}

static int item_time_cmp(const void *a, const void *b)
{
	const struct item *x = *(const struct item *const *)a;
	const struct item *y = *(const struct item *const *)b;

	return (x->t > y->t) - (x->t < y->t);
}

/* Every bucket of s in time order (after a restore). */
static void sort_buckets(struct side *s)
{
	struct item **v = fx_malloc((s->nheap + 1) * sizeof(*v));
	size_t i, n = 0;

	for (i = 0; i < s->nheap; i++) {
		struct item *it = s->heap[i].it;

		if (!it->b)
			continue;
		it->b->head = it->b->tail = it->b->skip = NULL;
		v[n++] = it;
	}
	qsort(v, n, sizeof(*v), item_time_cmp);
	for (i = 0; i < n; i++)
		bucket_insert(v[i]->b, v[i]->b->tail, v[i]);
	free(v);
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
	it->next = it->prev = NULL;
	if (b && s->by_time)
		bucket_insert_by_time(b, it);
	else if (b)
		bucket_insert(b, b->tail, it);
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
	if (side_ended(s) || t < s->wm.value) {
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

/*
 * A control record: the watermark's are acted on; with --state, restore
 * and checkpoint records too; the left's others go on.
 */
static int on_control(struct ijoin *j, struct side *s, const struct record *rec,
                      const struct json_value *vals, int first)
{
	const struct json_value *kind = &vals[s->ctl_path];
	const struct json_value *ts = &vals[s->ts_path];
	int64_t t = 0;
	int have_ts =
	    ts->type != JSON_MISSING && fx_time_of_value(ts, j->unit, &t) == 0;

	if (watermark_control(&s->wm, kind, &vals[s->list_path],
	                      &vals[s->eof_path], have_ts, t))
		return 0;
	if (j->state_dir && json_string_equals(kind, "checkpoint", 10))
		return on_barrier(j, s, rec);
	if (j->state_dir && json_string_equals(kind, "restore", 7)) {
		struct ckpt_barrier br;

		if (!first)
			fx_die(
			    j->ctx, FX_EXIT_DATA,
			    "%s input: a restore record must be the first record of the input",
			    s->what);
		memset(&br, 0, sizeof(br));
		barrier_parse(j, s, rec, &br);
		s->restore = 1;
		s->restore_id = br.id;
		ckpt_barrier_free(&br);
		return 0;
	}
	return s == &j->l ? record_writer_put_control(&j->out, rec->p, rec->len)
	                  : 0;
}

/* ---- reading ---- */

static int add_path(struct ijoin *j, struct side *s, const char *name)
{
	const char *err;
	int k = json_paths_find_or_add(&s->paths, name, &err);

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
	ckpt_barrier_free(&s->bar);
	ckpt_barrier_free(&s->last);
}

/*
 * The input to read: with --state, each one's first record first (a
 * restore must be on both); not one waiting at a barrier, nor one that
 * has ended while the other has not; else the lower watermark.
 */
static struct side *pick(struct ijoin *j)
{
	struct side *l = &j->l, *r = &j->r;

	if (j->state_dir && !l->seen)
		return l;
	if (j->state_dir && !r->seen)
		return r;
	if (l->eof || l->blocked)
		return r;
	if (r->eof || r->blocked)
		return l;
	if (l->ended != r->ended)
		return l->ended ? r : l;
	return watermark_now(&l->wm) <= watermark_now(&r->wm) ? l : r;
}

static int step(struct ijoin *j)
{
	struct json_value vals[JSON_MAX_PATHS];
	struct side *s = pick(j);
	struct record rec;
	int r, flags, first = !s->seen;

	join_flush_if_idle(&s->rs, &j->out);
	r = record_stream_next(&s->rs, &rec, vals, &flags);
	if (r < 0)
		return -r;
	s->seen = 1;
	if (r == 0) {
		s->eof = 1;
		if (j->state_dir)
			on_end(j, s);
	} else if (flags & JSON_SCAN_CONTROL) {
		r = on_control(j, s, &rec, vals, first);
	} else {
		r = on_record(j, s, &rec, vals);
	}
	if (!r && first && j->state_dir)
		r = check_restore(j);
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
	j->r.by_time = 1;
	fx_buf_addc(&j->head, ',');
	fx_buf_add_json_string(&j->head, prefix, strlen(prefix));
	j->head.len--; /* the closing quote: the name follows */
	j->fhead_off = fx_malloc((o->fields.n + 1) * sizeof(*j->fhead_off));
	j->fvals = fx_malloc((o->fields.n + 1) * sizeof(*j->fvals));
	for (i = 0; i < o->fields.n; i++) {
		/* ,"right_ then the name's JSON string without its quote */
		fx_buf_reset(&j->scratch);
		fx_buf_add_json_string(&j->scratch, o->fields.v[i],
		                       strlen(o->fields.v[i]));
		j->fhead_off[i] = j->fheads.len;
		fx_buf_add(&j->fheads, j->head.p, j->head.len);
		fx_buf_add(&j->fheads, j->scratch.p + 1, j->scratch.len - 1);
		fx_buf_addc(&j->fheads, ':');
	}
	j->fhead_off[o->fields.n] = j->fheads.len;
	for (i = 0; i < o->fields.n && o->left_nulls; i++) {
		fx_buf_add(&j->nulls, j->fheads.p + j->fhead_off[i],
		           j->fhead_off[i + 1] - j->fhead_off[i]);
		fx_buf_adds(&j->nulls, "null");
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
	init_state(&j);
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
	fx_buf_free(&j.fheads);
	free(j.fhead_off);
	free(j.fvals);
	fx_buf_free(&j.part);
	fx_buf_free(&j.bytes);
	free(j.partners);
	if (j.state_dir)
		snapshot_dir_close(&j.snap);
	return rc ? rc : wrc;
}
