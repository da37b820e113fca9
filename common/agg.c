/* agg.c - fx-agg's engine: windows, sessions, watermarks, emission */
#include "agg.h"
#include "aggfn.h"
#include "checkpoint.h"
#include "err.h"
#include "fxtime.h"
#include "grouptable.h"
#include "keysort.h"
#include "snapshot.h"
#include "stream.h"
#include "watermark.h"
#include "window.h"
#include "writer.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* A fixed window [start, end) and its groups. */
struct win {
	int64_t start, end;
	struct group_table t;
};

/* One session window of a group (the group's list, newest first). */
struct agg_session {
	int64_t start, end; /* end = last event time + gap */
	uint64_t id;
	void *state;
	int closed; /* its row is written; kept for --late update */
	struct agg_session *next;
};

/*
 * A session's end in the heap of sessions by end. The session may have
 * grown or been merged away since: the entry is checked when it comes up.
 */
struct heap_item {
	int64_t end, start;
	struct agg_group *group;
	uint64_t id;
};

/* --late: what becomes of a record whose windows have closed. */
enum late_mode {
	LATE_DROP,   /* counted, nothing else (the default) */
	LATE_DLQ,    /* counted and appended to the --late dlq=FILE */
	LATE_UPDATE, /* counted in its windows; closed ones write again */
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
	struct agg_group *g; /* the group, if it was found */
	struct json_value vals[JSON_MAX_PATHS];
};

struct batch {
	struct fx_buf bytes;
	struct fx_buf keys; /* the entries' group keys */
	struct batch_entry e[AGG_BATCH];
	size_t n;
};

/* A piece's records on time judged at watermark wm: the lowest first end. */
struct piece_step {
	int64_t wm, end;
};

/* A session a piece closed and holds for the merge. */
struct held_session {
	struct agg_group *g;
	struct agg_session *s;
};

/* A piece's rows written ahead (a memfd), from the window ending first_end. */
struct spill {
	int fd;
	int64_t first_end;
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
	size_t own_paths;     /* of paths: the fields read for fx-agg itself */
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

	/* the watermark over the input's partitions, and wm: its value at
	 * the last close_until(), up to which windows have closed */
	struct watermark watermark;
	int64_t wm;
	int64_t next_close;

	/* output and scratch */
	struct fx_buf bounds; /* the formatted bounds of the last window */
	int64_t bounds_start, bounds_end;
	struct fx_buf by_json; /* ,"name": of each group field */
	size_t *by_json_off;
	/* what batch_prefetch worked out for the record on_record is given */
	const struct batch_entry *pre;
	struct record_writer out;
	struct fx_buf row, key, scratch;
	uint64_t key_hash;         /* of key */
	struct keysort_item *sort; /* emit_window's, twice the largest window */
	size_t capsort;
	struct window *assigned;
	struct fx_num nums[JSON_MAX_PATHS]; /* numbers of the record */
	void *tmp_state;
	FILE *late_file;
	enum late_mode late_mode;
	const char *late_path;
	int changes;  /* --emit changes: rows carry _fx_op */
	uint64_t seq; /* arrival order, the time without --time */

	/* --state: the job's directory and this stage's snapshots */
	const char *state_dir;
	struct snapshot_dir snap;
	int started; /* a record has been read: too late for a restore */

	/* a piece of a file (agg_piece_read): windows held open, see agg.h */
	int hold;
	int control_seen;
	uint64_t update_errors;
	struct piece_step *log; /* the lateness staircase */
	size_t nlog, caplog;
	/*
	 * A piece's windows close by its own watermark: written to spill
	 * (rows, in a memfd) when no other piece can have them
	 * (piece_writes(), piece_writes_sessions()), else held for the
	 * merge (held, sheld). Once one is written, every later one is.
	 * spills: the pieces' absorbed after this one.
	 */
	int first_piece;
	int writing;
	struct spill spill;
	struct win **held;
	size_t nheld, capheld;
	int64_t held_end;
	struct spill *spills;
	size_t nspills, capspills;
	/*
	 * A piece's sessions: nearly open ones start before early_from (its
	 * first record on time's time + lateness + gap); closed ones are held
	 * until none is open and the watermark has passed early_from
	 * (close_sessions()).
	 */
	int64_t early_from;
	int64_t nearly;
	struct held_session *sheld;
	size_t nsheld, capsheld;
};

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

/*
 * --emit changes: the row kinds (Flink's RowKind). Without it, op is
 * ignored and rows are plain.
 */
#define OP_INSERT        "+I"
#define OP_UPDATE_BEFORE "-U"
#define OP_UPDATE_AFTER  "+U"
#define OP_DELETE        "-D"

/*
 * Writes one row: "_fx_op" (--emit changes), window bounds (if any), group
 * fields, aggregates.
 */
static int write_row(struct engine *e, const struct win *w, int64_t start,
                     int64_t end, const struct agg_group *g, const void *state,
                     const char *op)
{
	const char *k = g->key;
	size_t i, base;

	fx_buf_reset(&e->row);
	fx_buf_addc(&e->row, '{');
	if (e->changes) {
		/* first, so that a reader sees the kind before the row */
		fx_buf_adds(&e->row, "\"_fx_op\":\"");
		fx_buf_adds(&e->row, op);
		fx_buf_adds(&e->row, "\",");
	}
	base = e->row.len; /* what follows is as if the row began here */
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
		uint32_t n = group_key_field_len(k);
		const char *name = e->by_json.p + e->by_json_off[i];
		size_t nlen = e->by_json_off[i + 1] - e->by_json_off[i];

		/* the first member has no comma before it */
		if (e->row.len == base)
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
	if (i == base && e->row.len > base) /* no bounds, no groups */
		memmove(e->row.p + base, e->row.p + base + 1,
		        --e->row.len - base);
	if (e->row.len == base && base > 1) /* nothing after _fx_op */
		e->row.len--;
	fx_buf_addc(&e->row, '}');
	e->ctx->st.records_out++;
	record_writer_put(&e->out, e->row.p, e->row.len);
	return record_writer_status(&e->out); /* | head: not FX_EXIT_IO */
}

/* Writes every group of a window, sorted by key. */
static int emit_window(struct engine *e, const struct win *w)
{
	const struct keysort_item *order;
	size_t i, n = w->t.n;
	int rc = 0;

	if (e->capsort < 2 * n) {
		e->capsort = 2 * n;
		free(e->sort);
		e->sort = fx_malloc(e->capsort * sizeof(*e->sort));
	}
	order = keysort_groups(e->sort, w->t.g, n, e->nby);
	for (i = 0; i < n && !rc; i++) {
		if (i + 8 < n)
			__builtin_prefetch(order[i + 8].g);
		rc = write_row(e, w, w->start, w->end, order[i].g,
		               order[i].g->state, OP_INSERT);
	}
	return rc;
}

static void win_free(struct engine *e, struct win *w)
{
	group_table_free(&w->t, &e->aggs);
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
	FX_GROW(e->wins, e->nwins + 1, e->capwins, 16);
	memmove(e->wins + i + 1, e->wins + i,
	        (e->nwins - i) * sizeof(*e->wins));
	w = fx_malloc(sizeof(*w));
	memset(w, 0, sizeof(*w));
	w->start = start;
	w->end = end;
	/* windows tend to be alike: start at the last one's size, not grow */
	if (e->typical_groups > 32)
		group_table_reserve(&w->t, e->typical_groups);
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

	FX_GROW(e->kept, e->nkept + 1, e->capkept, 16);
	e->kept[e->nkept++] = w;
	/* forget windows older than --retain */
	while (i < e->nkept && e->kept[i]->end + e->o->retain <= e->wm)
		win_free(e, e->kept[i++]);
	memmove(e->kept, e->kept + i, (e->nkept - i) * sizeof(*e->kept));
	e->nkept -= i;
}

/*
 * Whether a piece (aggpar.h) writes the window w it closes, not holding it
 * for the merge: when no piece before it can have w. Piece k's records on
 * time all have a first window ending after W, the watermark of the pieces
 * before it (else aggpar runs it whole), so every one of their records is
 * before W + lateness, and their windows end before W + lateness + size
 * (cumulate: its largest), which is below m + lateness + size for m, the
 * lowest first end of this piece's records on time (piece_log(), never
 * higher at its end than now). A window the pieces after it have ends
 * after its watermark, so after w. The first piece has none before it.
 */
static int piece_writes(struct engine *e, const struct win *w)
{
	int64_t reach, from;

	if (e->spill.fd < 0)
		return 0;
	if (e->writing || e->first_piece)
		return e->writing = 1;
	/* held ones of the same end come first: hold w too */
	if (!e->nlog || w->end == e->held_end ||
	    __builtin_add_overflow(e->o->lateness, e->ws.size, &reach) ||
	    __builtin_add_overflow(e->log[e->nlog - 1].end, reach, &from) ||
	    w->end < from)
		return 0;
	return e->writing = 1;
}

/* Emits and frees (or keeps) the windows that end at or before wm. */
static int close_windows(struct engine *e, int64_t wm)
{
	size_t i = 0;
	int rc = 0;

	while (i < e->nwins && e->wins[i]->end <= wm && !rc) {
		struct win *w = e->wins[i++];

		e->typical_groups = w->t.n;
		if (e->hold && !piece_writes(e, w)) {
			FX_GROW(e->held, e->nheld + 1, e->capheld, 16);
			e->held[e->nheld++] = w;
			e->held_end = w->end;
			continue;
		}
		if (e->hold && e->spill.first_end == INT64_MAX)
			e->spill.first_end = w->end;
		rc = emit_window(e, w);
		if (e->hold) /* a memfd's write error: agg_piece_mergeable() */
			rc = 0;
		if (e->late_mode == LATE_UPDATE)
			keep_closed(e, w);
		else
			win_free(e, w);
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

	FX_GROW(e->heap, e->nheap + 1, e->capheap, 64);
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

static void session_free(struct engine *e, struct agg_session *s)
{
	agg_set_state_free(&e->aggs, s->state);
	free(s->state);
	free(s);
}

static void session_push(struct engine *e, struct agg_group *g,
                         const struct agg_session *s)
{
	struct heap_item it = {s->end, s->start, g, s->id};

	heap_push(e, &it);
	if (s->end < e->next_close)
		e->next_close = s->end;
}

/*
 * A piece's session now starts at now, not old (INT64_MAX: none): the
 * count of open ones that start before early_from.
 */
static void session_early(struct engine *e, int64_t old, int64_t now)
{
	if (e->hold)
		e->nearly += (now < e->early_from) - (old < e->early_from);
}

/*
 * Merges into into, a session of group g, every other session of g that it
 * now overlaps. The earlier session's state is the base of a merge.
 */
static int session_absorb(struct engine *e, struct agg_group *g,
                          struct agg_session *into)
{
	struct agg_session **pp = &g->sessions, *s;
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
		/* one run: the totals must fit, as ever; a piece (aggpar.h)
		 * is one run's only if every order would have fit */
		if (agg_set_merge(&e->aggs, into->state, s->state,
		                  e->hold ? AGG_INTERLEAVED : AGG_ANY, &err)) {
			e->update_errors++;
			rc = fx_bad_record(e->ctx, &FX_WHERE_LINE("session", 0),
			                   err.field, "", 0, "%s", err.reason);
		}
		if (s->start < into->start) {
			session_early(e, into->start, s->start);
			into->start = s->start;
		}
		if (s->end > into->end)
			into->end = s->end;
		*pp = s->next;
		session_early(e, s->start, INT64_MAX);
		session_free(e, s);
		pp = &g->sessions;
	}
	return rc;
}

/*
 * Adds the session [start, end) to group g: the open session it overlaps
 * grows to hold it (merging with any others it then overlaps), or a new
 * one starts. Returns the session holding it; the heap learns of changed
 * ends lazily, when their old entry comes up.
 */
static struct agg_session *session_for(struct engine *e, struct agg_group *g,
                                       int64_t start, int64_t end, int *rc)
{
	struct agg_session *s;

	for (s = g->sessions; s; s = s->next)
		if (s->start < end && start < s->end)
			break;
	if (!s) {
		s = fx_malloc(sizeof(*s));
		s->start = start;
		s->end = end;
		s->id = ++e->next_session_id;
		s->state = state_new(e);
		s->closed = 0;
		s->next = g->sessions;
		g->sessions = s;
		session_push(e, g, s);
		session_early(e, INT64_MAX, start);
		return s;
	}
	if (start >= s->start && end <= s->end)
		return s;
	if (start < s->start) {
		session_early(e, s->start, start);
		s->start = start;
	}
	if (end > s->end)
		s->end = end;
	*rc = session_absorb(e, g, s);
	return s;
}

struct closing {
	int64_t end, start;
	struct agg_group *group;
	struct agg_session *s;
};

static int cmp_closing(const void *a, const void *b, void *arg)
{
	const struct closing *x = a, *y = b;
	const struct engine *e = arg;
	const struct agg_group *gx = x->group, *gy = y->group;

	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return group_key_compare(gx->key, gx->keylen, gy->key, gy->keylen,
	                         e->nby);
}

static struct agg_session *session_find(struct agg_group *g, uint64_t id)
{
	struct agg_session *s;

	for (s = g->sessions; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void session_unlink(struct agg_group *g, struct agg_session *s)
{
	struct agg_session **pp = &g->sessions;

	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
}

/* A closed session (or window) ending at end is past --retain at wm. */
static int retain_over(const struct engine *e, int64_t end, int64_t wm)
{
	return end <= wm &&
	       (uint64_t)wm - (uint64_t)end >= (uint64_t)e->o->retain;
}

/* --late update: a closed session stays until --retain after its end. */
static void session_keep(struct engine *e, struct agg_group *g,
                         struct agg_session *s)
{
	struct heap_item it = {s->end, s->start, g, s->id};

	s->closed = 1;
	it.end = s->end > INT64_MAX - e->o->retain ? INT64_MAX
	                                           : s->end + e->o->retain;
	heap_push(e, &it);
}

/*
 * Whether a piece (aggpar.h) writes the sessions it closes now, at its
 * watermark wm, not holding them for the merge; once it does, it writes
 * every later one. As for windows (piece_writes()), the sessions of the
 * pieces before it end by early_from, so a session starting there or
 * after is its own; and the rows must go out in order of end: no session
 * starting before early_from may still be open to close later, nor start
 * after (every record on time is at wm or after).
 */
static int piece_writes_sessions(struct engine *e, int64_t wm)
{
	if (e->spill.fd < 0)
		return 0;
	if (!e->writing &&
	    (e->first_piece || (!e->nearly && wm >= e->early_from)))
		e->writing = 1;
	return e->writing;
}

static int close_sessions(struct engine *e, int64_t wm)
{
	struct closing *c = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0, hold = e->hold && !piece_writes_sessions(e, wm);

	while (e->nheap && e->heap[0].end <= wm) {
		struct heap_item it = e->heap[0];
		struct agg_session *s = session_find(it.group, it.id);

		heap_pop(e);
		if (!s)
			continue; /* merged into another session since */
		if (s->closed) {
			/* closing now (a second entry), or closed: its
			 * --retain is over, or a later entry says when */
			if (s->closed == 1 && retain_over(e, s->end, e->wm)) {
				session_unlink(it.group, s);
				session_free(e, s);
			}
			continue;
		}
		if (s->end != it.end || s->start != it.start) {
			/* it grew since: wait for its new end */
			session_push(e, it.group, s);
			continue;
		}
		s->closed = 2; /* once, whatever other entries it has */
		FX_GROW(c, n + 1, cap, 64);
		c[n].end = s->end;
		c[n].start = s->start;
		c[n].group = it.group;
		c[n].s = s;
		n++;
	}
	if (n > 1)
		qsort_r(c, n, sizeof(*c), cmp_closing, e);
	for (i = 0; i < n; i++) {
		struct agg_group *g = c[i].group;

		session_early(e, c[i].start, INT64_MAX);
		if (hold) {
			c[i].s->closed = 0;
			session_unlink(g, c[i].s);
			FX_GROW(e->sheld, e->nsheld + 1, e->capsheld, 64);
			e->sheld[e->nsheld].g = g;
			e->sheld[e->nsheld++].s = c[i].s;
			continue;
		}
		if (e->hold && e->spill.first_end == INT64_MAX)
			e->spill.first_end = c[i].end;
		if (!rc)
			rc = write_row(e, NULL, c[i].start, c[i].end, g,
			               c[i].s->state, OP_INSERT);
		if (e->hold) /* a memfd's write error: agg_piece_mergeable() */
			rc = 0;
		if (e->late_mode == LATE_UPDATE && e->o->retain > 0) {
			session_keep(e, g, c[i].s);
			continue;
		}
		session_unlink(g, c[i].s);
		session_free(e, c[i].s);
	}
	free(c);
	e->next_close = e->nheap ? e->heap[0].end : INT64_MAX;
	return rc;
}

/* ---- watermark ---- */

/*
 * The watermark is now wm (e->watermark.value): closes the windows that
 * end at or before it. e->wm follows it and never goes back.
 */
static int close_until(struct engine *e, int64_t wm)
{
	if (wm <= e->wm)
		return 0;
	e->wm = wm;
	/* a piece's sessions without a memfd stay open */
	if (wm < e->next_close ||
	    (e->hold && e->ws.kind == WINDOW_SESSION && e->spill.fd < 0))
		return 0;
	return e->ws.kind == WINDOW_SESSION ? close_sessions(e, wm)
	                                    : close_windows(e, wm);
}

/* ---- reading records ---- */

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

/* A late record: counted, and with --late dlq=FILE written there. */
static int late_record(struct engine *e, const struct record *rec)
{
	e->ctx->st.late++;
	if (e->late_mode != LATE_DLQ)
		return 0;
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

/*
 * A piece's record on time whose first window ends at end (sessions: its
 * time + 1), judged against the piece's own watermark e->wm: the lowest
 * such end so far, by the watermark it was judged at (agg_piece_on_time).
 */
static void piece_log(struct engine *e, int64_t end)
{
	struct piece_step *last = e->nlog ? &e->log[e->nlog - 1] : NULL;

	if (last && last->end <= end)
		return;
	if (last && last->wm == e->wm) {
		last->end = end;
		return;
	}
	FX_GROW(e->log, e->nlog + 1, e->caplog, 16);
	e->log[e->nlog].wm = e->wm;
	e->log[e->nlog++].end = end;
}

/*
 * Updates one group of window w (or of a kept window, writing a new row:
 * with --emit changes, the row written before as -U, then the new one as
 * +U, or +I if the group had none). A kept window's group is changed only
 * here, so its state is still the one its last row was written from.
 */
static int update_group(struct engine *e, struct win *w,
                        const struct json_value *vals, int64_t t,
                        const struct record *rec, const struct fx_where *where,
                        int corrected)
{
	size_t had = w->t.n;
	struct agg_group *g =
	    group_table_get(&w->t, e->key.p, (uint32_t)e->key.len, e->key_hash,
	                    e->aggs.state_size);
	int old = corrected && e->changes && w->t.n == had;
	struct agg_error err;
	int rc;

	/* the retraction first, from the state before the record */
	if (old && (rc = write_row(e, w, w->start, w->end, g, g->state,
	                           OP_UPDATE_BEFORE)))
		return rc;
	if (agg_set_update(&e->aggs, g->state, vals, e->nums, t, &err)) {
		e->update_errors++;
		return value_error(e, rec, where, &err);
	}
	if (corrected)
		return write_row(e, w, w->start, w->end, g, g->state,
		                 old ? OP_UPDATE_AFTER : OP_INSERT);
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
	FX_GROW(e->kept, e->nkept + 1, e->capkept, 16);
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

	if (late && e->late_mode != LATE_UPDATE)
		return late_record(e, rec);
	if (e->hold && n)
		piece_log(e, e->assigned[0].end);
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
		rc = late_record(e, rec);
	return rc;
}

/* The sessions of g that [*lo, *hi) reaches, merged: their bounds. */
static void session_reach(struct agg_group *g, int64_t *lo, int64_t *hi)
{
	struct agg_session *s;
	int grew = 1;

	while (grew)
		for (grew = 0, s = g->sessions; s; s = s->next)
			if (s->start < *hi && *lo < s->end &&
			    (s->start < *lo || s->end > *hi)) {
				*lo = s->start < *lo ? s->start : *lo;
				*hi = s->end > *hi ? s->end : *hi;
				grew = 1;
			}
}

/*
 * --emit changes: the rows of g's closed sessions within [lo, hi) that the
 * merged session [lo, hi) replaces, in order of start: -U for one with
 * the same bounds (*same set), -D for the others.
 */
static int session_retract(struct engine *e, struct agg_group *g, int64_t lo,
                           int64_t hi, struct agg_session **same)
{
	int64_t after = INT64_MIN;
	int rc = 0;

	*same = NULL;
	while (!rc) {
		struct agg_session *s, *next = NULL;

		for (s = g->sessions; s; s = s->next)
			if (s->closed && s->start >= lo && s->end <= hi &&
			    s->start > after &&
			    (!next || s->start < next->start))
				next = s;
		if (!next)
			break;
		after = next->start;
		if (next->start == lo && next->end == hi)
			*same = next;
		if (e->changes)
			rc = write_row(
			    e, NULL, next->start, next->end, g, next->state,
			    *same == next ? OP_UPDATE_BEFORE : OP_DELETE);
	}
	return rc;
}

/*
 * --late update, a session record older than the watermark: its session
 * [t, t + gap) merges with every session of its key that it reaches,
 * closed ones (their rows retracted) and open ones. The result ends after
 * the watermark: open, its row comes when it closes; else it is closed
 * and its row written now, and kept for --retain. A result past --retain
 * already changes nothing: the record is only counted late.
 */
static int late_session(struct engine *e, struct agg_group *g,
                        const struct json_value *vals, int64_t t,
                        const struct record *rec, const struct fx_where *where)
{
	int64_t lo = t, hi = t + e->ws.size;
	struct agg_session *s, *same;
	struct agg_error err;
	int rc;

	session_reach(g, &lo, &hi);
	if (retain_over(e, hi, e->wm))
		return late_record(e, rec);
	rc = session_retract(e, g, lo, hi, &same);
	if (rc)
		return rc;
	s = session_for(e, g, t, t + e->ws.size, &rc);
	if (!rc && agg_set_update(&e->aggs, s->state, vals, e->nums, t, &err))
		rc = value_error(e, rec, where, &err);
	if (rc)
		return rc;
	if (s->end > e->wm) { /* open: its row comes when it closes */
		s->closed = 0;
		session_push(e, g, s);
	} else {
		rc = write_row(e, NULL, s->start, s->end, g, s->state,
		               same ? OP_UPDATE_AFTER : OP_INSERT);
		session_keep(e, g, s);
		e->next_close = e->heap[0].end;
	}
	return rc ? rc : late_record(e, rec);
}

static int add_to_session(struct engine *e, const struct json_value *vals,
                          int64_t t, const struct record *rec,
                          const struct fx_where *where)
{
	struct agg_session *s;
	struct agg_error err;
	struct agg_group *g;
	int rc = 0;

	if (t < e->wm && e->late_mode == LATE_UPDATE) {
		g = group_table_get(&e->sg, e->key.p, (uint32_t)e->key.len,
		                    e->key_hash, 0);
		return late_session(e, g, vals, t, rec, where);
	}
	if (t < e->wm)
		return late_record(e, rec);
	if (e->hold && !e->nlog &&
	    (__builtin_add_overflow(t, e->o->lateness, &e->early_from) ||
	     __builtin_add_overflow(e->early_from, e->ws.size, &e->early_from)))
		e->early_from = INT64_MAX;
	if (e->hold)
		piece_log(e, t + 1);
	g = group_table_get(&e->sg, e->key.p, (uint32_t)e->key.len, e->key_hash,
	                    0);
	s = session_for(e, g, t, t + e->ws.size, &rc);
	if (!rc && agg_set_update(&e->aggs, s->state, vals, e->nums, t, &err)) {
		e->update_errors++;
		rc = value_error(e, rec, where, &err);
	}
	return rc;
}

/* ---- control records ---- */

/* Flushes the output (a checkpoint's rows are out before it). */
static int flush_out(struct engine *e)
{
	return record_writer_flush(&e->out) ? record_writer_status(&e->out) : 0;
}

/*
 * "assigned" and "eof" move the watermark and end here; "watermark" moves
 * it and is forwarded; every other kind is forwarded in order, a
 * "checkpoint" after the rows before it are flushed.
 */
static void on_restore(struct engine *e, const struct record *rec);
static int on_checkpoint(struct engine *e, const struct record *rec);

static int on_control(struct engine *e, const struct record *rec,
                      const struct json_value *vals)
{
	const struct json_value *kind = &vals[e->ctl_path];
	const struct json_value *ts_v = &vals[e->ts_path];
	int is_wm = json_string_equals(kind, "watermark", 9);
	int is_ckpt = !is_wm && json_string_equals(kind, "checkpoint", 10);
	int64_t ts = 0;
	int have_ts = is_wm && ts_v->type != JSON_MISSING &&
	              fx_time_of_value(ts_v, e->unit, &ts) == 0;
	int rc = 0;

	/* --state: a restore (first, or fatal) loads the state */
	if (e->state_dir && !is_wm && !is_ckpt &&
	    json_string_equals(kind, "restore", 7))
		on_restore(e, rec);
	e->started = 1;
	if (watermark_control(&e->watermark, kind, &vals[e->list_path],
	                      &vals[e->eof_path], have_ts, ts)) {
		rc = close_until(e, e->watermark.value);
		if (!is_wm)
			return rc;
	} else if (is_ckpt) {
		if (e->state_dir)
			rc = on_checkpoint(e, rec);
		if (!rc)
			rc = flush_out(e);
	}
	if (!rc && record_writer_put(&e->out, rec->p, rec->len))
		rc = record_writer_status(&e->out);
	if (!rc && is_ckpt)
		rc = flush_out(e);
	return rc;
}

/* ---- one record ---- */

static int on_record(struct engine *e, const struct record *rec,
                     const struct json_value *vals, const struct fx_where *w)
{
	struct agg_error err;
	int64_t t = (int64_t)++e->seq;
	int rc;

	if (e->pre && e->pre->have_t) {
		t = e->pre->t;
	} else if (e->time_path >= 0) {
		const struct json_value *v = &vals[e->time_path];

		if (v->type == JSON_MISSING || v->type == JSON_NULL)
			return fx_bad_record(e->ctx, w, e->o->time_field,
			                     rec->p, rec->len, "missing");
		if (fx_time_of_value(v, e->unit, &t))
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
	/*
	 * The watermark is kept current even when no window closes: whether
	 * a record is late must not depend on whether some other window
	 * happened to close since it moved.
	 */
	watermark_partition_name(&vals[e->topic_path], &vals[e->part_path],
	                         &e->scratch);
	return close_until(e, watermark_advance(&e->watermark, e->scratch.p,
	                                        e->scratch.len, t));
}

/* --merge: one partial row into its window's group. */
static int on_partial(struct engine *e, const struct record *rec,
                      const struct json_value *vals, const struct fx_where *w)
{
	int64_t start = 0, end = 0;
	struct win *win = e->global;
	struct agg_error err;
	struct agg_group *g;
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
		g = group_table_get(&e->sg, e->key.p, (uint32_t)e->key.len,
		                    e->key_hash, 0);
		{
			struct agg_session *s =
			    session_for(e, g, start, end, &rc);

			if (agg_set_merge(&e->aggs, s->state, e->tmp_state,
			                  AGG_AFTER, &err))
				rc = value_error(e, rec, w, &err);
		}
		agg_set_state_free(&e->aggs, e->tmp_state);
		return rc;
	}
	if (e->ws.kind != WINDOW_NONE)
		win = win_get(e, start, end);
	g = group_table_get(&win->t, e->key.p, (uint32_t)e->key.len,
	                    e->key_hash, e->aggs.state_size);
	/* the row's values come after those of the rows before it */
	if (agg_set_merge(&e->aggs, g->state, e->tmp_state, AGG_AFTER, &err))
		rc = value_error(e, rec, w, &err);
	agg_set_state_free(&e->aggs, e->tmp_state);
	return rc;
}

/* ---- set-up ---- */

/* After a paths error: what of the limit the options could not have. */
static const char *paths_full_note(const struct engine *e, char *b, size_t n)
{
	if (e->paths.n < JSON_MAX_PATHS)
		return "";
	snprintf(b, n, ", %zu of them fields fx-agg reads itself",
	         e->own_paths);
	return b;
}

static int add_path(struct engine *e, const char *name)
{
	const char *err;
	char note[64];
	int k = json_paths_find_or_add(&e->paths, name, &err);

	if (k < 0)
		fx_usage_error(e->ctx, "field '%s': %s%s", name, err,
		               paths_full_note(e, note, sizeof(note)));
	return k;
}

/* --window, and what it needs. */
static void init_window(struct engine *e)
{
	const struct agg_opts *o = e->o;
	char err[512];

	if (o->window && window_spec_parse(&e->ws, o->window, err, sizeof(err)))
		fx_usage_error(e->ctx, "--window: %s", err);
	if (e->ws.kind != WINDOW_NONE && !o->time_field && !o->merge)
		fx_usage_error(e->ctx, "--window needs --time FIELD");
}

/* --agg (with --partial or --merge): the aggregates and their fields. */
static void init_aggs(struct engine *e)
{
	const struct agg_opts *o = e->o;
	char err[512], note[64];
	size_t i;

	if (o->partial && o->merge)
		fx_usage_error(e->ctx, "--partial and --merge go separately");
	if (!o->aggs.n)
		fx_usage_error(e->ctx,
		               "--agg: nothing to compute (try --agg count)");
	if (agg_set_parse(&e->aggs, o->aggs.v, o->aggs.n, o->merge, &e->paths,
	                  err, sizeof(err)))
		fx_usage_error(e->ctx, "--agg: %s%s", err,
		               paths_full_note(e, note, sizeof(note)));
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
			    e->ctx,
			    "%s: first and last without --time are by arrival order within one run, which shards do not share: give --time FIELD",
			    o->partial ? "--partial" : "--merge");
	for (i = 0; i < e->aggs.n; i++)
		if (e->aggs.v[i].kind == AGG_DISTINCT)
			e->prefetch_states = 1;
}

/* --by: the group fields, their paths and their names in a row. */
/*
 * A windowed row begins with its bounds: a group field or an aggregate of
 * the same name would give the row that member twice.
 */
static void check_bound_name(struct engine *e, const char *name,
                             const char *what)
{
	if (e->ws.kind != WINDOW_NONE &&
	    (!strcmp(name, "window_start") || !strcmp(name, "window_end")))
		fx_usage_error(e->ctx,
		               "'%s' is %s and the window's bound (name it "
		               "with NAME=)",
		               name, what);
	/* and a changelog row begins with its kind */
	if (e->changes && !strcmp(name, "_fx_op"))
		fx_usage_error(e->ctx,
		               "'_fx_op' is %s and the kind of change of "
		               "--emit changes (name it with NAME=)",
		               what);
}

static void init_group_fields(struct engine *e)
{
	const struct agg_opts *o = e->o;
	size_t i, j;

	e->nby = o->by.n;
	e->by_path = fx_malloc((e->nby + 1) * sizeof(int));
	e->by_name = fx_malloc((e->nby + 1) * sizeof(char *));
	for (i = 0; i < e->nby; i++) {
		char *eq = strchr(o->by.v[i], '=');

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
				    e->ctx,
				    "'%s' is both a group field and an aggregate (name one with NAME=)",
				    e->by_name[i]);
		for (j = 0; j < i; j++)
			if (!strcmp(e->by_name[j], e->by_name[i]))
				fx_usage_error(e->ctx, "--by: '%s' twice",
				               e->by_name[i]);
		check_bound_name(e, e->by_name[i], "a group field");
	}
	for (j = 0; j < e->aggs.n; j++)
		check_bound_name(e, e->aggs.v[j].name, "an aggregate");
	e->by_json_off = fx_malloc((e->nby + 1) * sizeof(size_t));
	for (i = 0; i < e->nby; i++) {
		e->by_json_off[i] = e->by_json.len;
		fx_buf_addc(&e->by_json, ',');
		fx_buf_add_json_string(&e->by_json, e->by_name[i],
		                       strlen(e->by_name[i]));
		fx_buf_addc(&e->by_json, ':');
	}
	e->by_json_off[e->nby] = e->by_json.len;
}

/*
 * The fields fx-agg reads for itself (partial rows' bounds, --meta,
 * control records), before any the options name: past the limit of paths,
 * the message then names the option's field, not one of these.
 */
static void init_own_fields(struct engine *e)
{
	if (e->o->merge && e->ws.kind != WINDOW_NONE) {
		e->ws_path = add_path(e, "window_start");
		e->we_path = add_path(e, "window_end");
	}
	e->topic_path = add_path(e, "_fx_topic");
	e->part_path = add_path(e, "_fx_partition");
	e->ctl_path = add_path(e, "_fx");
	e->ts_path = add_path(e, "ts");
	e->list_path = add_path(e, "partitions");
	e->eof_path = add_path(e, "partition");
	e->own_paths = e->paths.n;
}

/* The event time. */
static void init_record_fields(struct engine *e)
{
	const struct agg_opts *o = e->o;

	if (o->time_field && !o->merge)
		e->time_path = add_path(e, o->time_field);
	if (fx_time_unit_parse(o->time_unit, &e->unit))
		fx_usage_error(e->ctx,
		               "--time-unit: expected s or ms, got '%s'",
		               o->time_unit);
}

/* --late: drop, dlq=FILE (opened now) or update. */
static void init_late(struct engine *e)
{
	const char *late = e->o->late;

	if (!late || !strcmp(late, "drop")) {
		e->late_mode = LATE_DROP;
	} else if (!strncmp(late, "dlq=", 4) && late[4]) {
		e->late_mode = LATE_DLQ;
		e->late_path = late + 4;
		/* at start-up, as --on-error dlq=: an unwritable path is known
		 * before any record is read, not at the first late one */
		e->late_file = fopen(e->late_path, "a");
		if (!e->late_file)
			fx_die(e->ctx, FX_EXIT_IO,
			       "%s: cannot open late-record file: %s",
			       e->late_path, strerror(errno));
	} else if (!strcmp(late, "update")) {
		e->late_mode = LATE_UPDATE;
	} else {
		fx_usage_error(
		    e->ctx,
		    "--late: expected drop, dlq=FILE or update, got '%s'",
		    late);
	}
}

/* --emit rows or changes (not with --partial: states are not rows). */
static void init_emit(struct engine *e)
{
	const char *emit = e->o->emit;

	if (!emit || !strcmp(emit, "rows"))
		return;
	if (strcmp(emit, "changes"))
		fx_usage_error(
		    e->ctx, "--emit: expected rows or changes, got '%s'", emit);
	if (e->o->partial)
		fx_usage_error(e->ctx, "--emit changes and --partial go "
		                       "separately (--merge can emit changes)");
	e->changes = 1;
}

/*
 * A late record can merge sessions whose rows are out: only a changelog
 * can take those rows back.
 */
static void check_late_sessions(struct engine *e)
{
	if (e->late_mode == LATE_UPDATE && e->ws.kind == WINDOW_SESSION &&
	    !e->changes)
		fx_usage_error(e->ctx,
		               "--late update with session windows "
		               "needs --emit changes (a late record "
		               "can merge sessions whose rows are out)");
}

/* --state DIR: the snapshots go to DIR/fx-agg or DIR/NAME. */
static void init_state(struct engine *e)
{
	if (!snapshot_stage_open(e->ctx, &e->snap, e->o->state, e->o->stage,
	                         "fx-agg"))
		return;
	e->state_dir = e->o->state;
	e->ctx->ckpt.on = 1; /* --stats, lineage */
}

/* Sets e up from the options; a usage error exits. */
static void engine_init(struct engine *e, struct fx_ctx *ctx,
                        const struct agg_opts *o)
{
	memset(e, 0, sizeof(*e));
	e->ctx = ctx;
	e->o = o;
	e->wm = INT64_MIN;
	e->next_close = INT64_MAX;
	e->time_path = -1;
	e->spill.fd = -1;
	e->spill.first_end = INT64_MAX;
	e->held_end = INT64_MIN;
	e->early_from = INT64_MAX;
	init_window(e);
	init_own_fields(e);
	init_emit(e);
	init_aggs(e);
	init_group_fields(e);
	init_record_fields(e);
	init_late(e);
	check_late_sessions(e);
	init_state(e);
	watermark_init(&e->watermark, o->lateness, o->idle_timeout);
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
	for (i = 0; i < e->nheld; i++)
		win_free(e, e->held[i]);
	free(e->held);
	for (i = 0; i < e->nsheld; i++)
		session_free(e, e->sheld[i].s);
	free(e->sheld);
	if (e->spill.fd >= 0)
		close(e->spill.fd);
	for (i = 0; i < e->nspills; i++)
		close(e->spills[i].fd);
	free(e->spills);
	if (e->global)
		win_free(e, e->global);
	for (i = 0; i < e->sg.n; i++)
		while (e->sg.g[i]->sessions) {
			struct agg_session *s = e->sg.g[i]->sessions;

			e->sg.g[i]->sessions = s->next;
			session_free(e, s);
		}
	group_table_free(&e->sg, &e->aggs);
	free(e->wins);
	free(e->kept);
	free(e->heap);
	watermark_free(&e->watermark);
	for (i = 0; i < e->nby; i++)
		free(e->by_name[i]);
	free(e->by_name);
	free(e->by_path);
	free(e->assigned);
	free(e->tmp_state);
	free(e->sort);
	free(e->log);
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
	if (e->state_dir)
		snapshot_dir_close(&e->snap);
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
	    fx_time_of_value(&be->vals[e->time_path], e->unit, &be->t) == 0)
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
		__builtin_prefetch(group_table_slot(be->table, be->hash));
	}
	for (i = 0; i < b->n; i++) {
		struct batch_entry *be = &b->e[i];
		const struct group_slot *sl;

		/* keys no longer moves (and is NULL while empty: no --by) */
		be->key = b->keys.p ? b->keys.p + be->key_off : "";
		be->g = NULL;
		if (!be->table || !be->table->nslots)
			continue;
		sl = group_table_slot(be->table, be->hash);
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

	e->started = 1;
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

/*
 * Whether a piece's stream has passed its end (whole lines: the reader
 * is at a line start, an over-long line skipped to its end).
 */
static int piece_done(struct record_stream *rs, int64_t len)
{
	if (len < 0)
		return 0;
	if (rs->reader.skipping && record_reader_skip_long(&rs->reader) < 0)
		return 1;
	return rs->reader.bytes >= (uint64_t)len;
}

/*
 * Reads an input, or with len >= 0 the len bytes from start of a regular
 * file (whole lines), whose first is line first_line.
 */
static int read_range(struct engine *e, const char *name, int64_t start,
                      int64_t len, uint64_t first_line)
{
	struct json_value vals[JSON_MAX_PATHS];
	struct record_stream rs;
	struct record rec;
	struct batch *b = fx_malloc(sizeof(*b));
	int r = 0, flags, rc;

	memset(b, 0, sizeof(*b));
	rc = record_stream_open_at(&rs, e->ctx, name, 0, &e->paths, start, len,
	                           first_line);
	while (!rc && !fx_stop && !piece_done(&rs, len) &&
	       (r = record_stream_next(&rs, &rec, vals, &flags)) > 0) {
		if ((flags & JSON_SCAN_CONTROL) && e->hold) {
			e->control_seen = 1; /* aggpar runs it whole */
			break;
		}
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

static int read_input(struct engine *e, const char *name)
{
	return read_range(e, name, 0, -1, 1);
}

/* At the end of input: every open window closes, in order. */
static int close_all(struct engine *e)
{
	if (e->ws.kind == WINDOW_NONE)
		return emit_window(e, e->global);
	if (e->ws.kind == WINDOW_SESSION)
		return close_sessions(e, INT64_MAX);
	return close_windows(e, INT64_MAX);
}

/* ---- the state in a snapshot (--state) ---- */

/*
 * A snapshot holds the engine's whole state: a line naming the format and
 * the options the state depends on, then fixed-width little-endian
 * integers and length-prefixed byte strings: group keys as grouptable.h
 * has them, each aggregate's state as --partial writes it. Groups, windows,
 * sessions and the heap of session ends keep their order, so that a
 * restored engine does what the saved one would have done, byte for byte.
 *
 *   "fx-agg state 3 " OPTIONS "\n"
 *   wm next_close seq typical_groups next_session_id late dlq_size
 *   value nparts {name max_t active}...        the watermark
 *   [TABLE]                                    without --window
 *   nwins {start end TABLE}...  nkept {start end TABLE}...
 *   ngroups {key nsessions {start end id closed STATE}...}...   sessions
 *   nheap {end start id key}...
 *   TABLE: ngroups {key STATE}...   STATE: a partial per --agg
 */

static void put_state(struct engine *e, struct fx_buf *b, const void *state)
{
	size_t i, at, n;
	int k;

	for (i = 0; i < e->aggs.n; i++) {
		const struct agg_spec *a = &e->aggs.v[i];

		at = b->len;
		snapshot_put_u64(b, 0); /* its length, once written */
		a->op->partial(a, (const char *)state + a->off, b);
		n = b->len - at - 8;
		for (k = 0; k < 8; k++)
			b->p[at + (size_t)k] =
			    (char)(unsigned char)(n >> (8 * k));
	}
}

static void put_table(struct engine *e, struct fx_buf *b,
                      const struct group_table *t)
{
	size_t i;

	snapshot_put_u64(b, t->n);
	for (i = 0; i < t->n; i++) {
		snapshot_put_bytes(b, t->g[i]->key, t->g[i]->keylen);
		put_state(e, b, t->g[i]->state);
	}
}

/* The options the state depends on, as one line of JSON. */
static void state_option_string(struct fx_buf *b, const char *v)
{
	if (v)
		fx_buf_add_json_string(b, v, strlen(v));
	else
		fx_buf_adds(b, "null");
}

static void state_options(struct engine *e, struct fx_buf *b)
{
	const struct agg_opts *o = e->o;
	size_t i;

	fx_buf_adds(b, "{\"window\":");
	state_option_string(b, o->window);
	fx_buf_adds(b, ",\"by\":[");
	for (i = 0; i < o->by.n; i++) {
		if (i)
			fx_buf_addc(b, ',');
		fx_buf_add_json_string(b, o->by.v[i], strlen(o->by.v[i]));
	}
	/* each as given: its name, its function and its field (sum:v is
	 * not sum:id, whose partial sums would be added to v's) */
	fx_buf_adds(b, "],\"agg\":[");
	for (i = 0; i < o->aggs.n; i++) {
		if (i)
			fx_buf_addc(b, ',');
		fx_buf_add_json_string(b, o->aggs.v[i], strlen(o->aggs.v[i]));
	}
	fx_buf_adds(b, "],\"time\":");
	state_option_string(b, o->time_field);
	fx_buf_adds(b, ",\"time_unit\":");
	state_option_string(b, e->unit == FX_TIME_MS ? "ms" : "s");
	fx_buf_adds(b, o->merge ? ",\"merge\":true}" : ",\"merge\":false}");
}

static void state_save(struct engine *e, struct fx_buf *b)
{
	struct watermark *wm = &e->watermark;
	size_t i;
	struct agg_session *s;

	fx_buf_reset(b);
	fx_buf_adds(b, "fx-agg state 3 ");
	state_options(e, b);
	fx_buf_addc(b, '\n');
	snapshot_put_u64(b, (uint64_t)e->wm);
	snapshot_put_u64(b, (uint64_t)e->next_close);
	snapshot_put_u64(b, e->seq);
	snapshot_put_u64(b, e->typical_groups);
	snapshot_put_u64(b, e->next_session_id);
	snapshot_put_u64(b, e->ctx->st.late);
	snapshot_put_u64(b,
	                 (uint64_t)(e->late_file ? ftello(e->late_file) : -1));
	snapshot_put_u64(b, (uint64_t)wm->value);
	snapshot_put_u64(b, wm->n);
	for (i = 0; i < wm->n; i++) {
		size_t len;
		const char *name = watermark_part_name(wm, i, &len);

		snapshot_put_bytes(b, name, len);
		snapshot_put_u64(b, (uint64_t)wm->parts[i].max_t);
		snapshot_put_u64(b, (uint64_t)wm->parts[i].active);
	}
	if (e->global)
		put_table(e, b, &e->global->t);
	snapshot_put_u64(b, e->nwins);
	for (i = 0; i < e->nwins; i++) {
		snapshot_put_u64(b, (uint64_t)e->wins[i]->start);
		snapshot_put_u64(b, (uint64_t)e->wins[i]->end);
		put_table(e, b, &e->wins[i]->t);
	}
	snapshot_put_u64(b, e->nkept);
	for (i = 0; i < e->nkept; i++) {
		snapshot_put_u64(b, (uint64_t)e->kept[i]->start);
		snapshot_put_u64(b, (uint64_t)e->kept[i]->end);
		put_table(e, b, &e->kept[i]->t);
	}
	snapshot_put_u64(b, e->sg.n);
	for (i = 0; i < e->sg.n; i++) {
		const struct agg_group *g = e->sg.g[i];
		uint64_t n = 0;

		snapshot_put_bytes(b, g->key, g->keylen);
		for (s = g->sessions; s; s = s->next)
			n++;
		snapshot_put_u64(b, n);
		for (s = g->sessions; s; s = s->next) {
			snapshot_put_u64(b, (uint64_t)s->start);
			snapshot_put_u64(b, (uint64_t)s->end);
			snapshot_put_u64(b, s->id);
			snapshot_put_u64(b, (uint64_t)s->closed);
			put_state(e, b, s->state);
		}
	}
	snapshot_put_u64(b, e->nheap);
	for (i = 0; i < e->nheap; i++) {
		snapshot_put_u64(b, (uint64_t)e->heap[i].end);
		snapshot_put_u64(b, (uint64_t)e->heap[i].start);
		snapshot_put_u64(b, e->heap[i].id);
		snapshot_put_bytes(b, e->heap[i].group->key,
		                   e->heap[i].group->keylen);
	}
}

static int64_t get_i64(struct snapshot_reader *r)
{
	return (int64_t)snapshot_get_u64(r);
}

/* A group key, checked: nby fields that fill it exactly. */
static const char *get_key(struct engine *e, struct snapshot_reader *r,
                           size_t *len)
{
	const char *k = snapshot_get_bytes(r, len);
	size_t at = 0, i;

	for (i = 0; i < e->nby && !r->bad; i++) {
		if (*len - at < 4 ||
		    group_key_field_len(k + at) > *len - at - 4)
			r->bad = 1;
		else
			at += 4 + group_key_field_len(k + at);
	}
	if (at != *len || *len > UINT32_MAX)
		r->bad = 1;
	return k;
}

static void get_state(struct engine *e, struct snapshot_reader *r, void *state)
{
	size_t i, n;

	for (i = 0; i < e->aggs.n && !r->bad; i++) {
		const struct agg_spec *a = &e->aggs.v[i];
		const char *p = snapshot_get_bytes(r, &n);
		struct json_value v = {json_type_of(p, n), p, n, 0};

		if (r->bad)
			break;
		if (v.type == JSON_STRING)
			v.escaped = memchr(p, '\\', n) != NULL;
		if (v.type == JSON_NULL && (a->op->flags & AGG_OP_NULL_PARTIAL))
			continue;
		if (v.type == JSON_MISSING || v.type == JSON_NULL ||
		    (a->op->restore ? a->op->restore : a->op->read)(
		        a, (char *)state + a->off, &v))
			r->bad = 1;
	}
}

/* The group of key in t, which must be new (when fresh) or old. */
static struct agg_group *get_group(struct engine *e, struct snapshot_reader *r,
                                   struct group_table *t, size_t state_size,
                                   int fresh)
{
	size_t len, n = t->n;
	const char *k = get_key(e, r, &len);
	struct agg_group *g;

	if (r->bad)
		return NULL;
	g = group_table_get(t, k, (uint32_t)len, XXH3_64bits(k, len),
	                    state_size);
	if ((t->n > n) != fresh) {
		r->bad = 1;
		return NULL;
	}
	return g;
}

static void get_table(struct engine *e, struct snapshot_reader *r,
                      struct group_table *t)
{
	size_t n = snapshot_get_count(r, 16), i;
	struct agg_group *g;

	if (n > 32)
		group_table_reserve(t, n);
	for (i = 0; i < n && !r->bad; i++)
		if ((g = get_group(e, r, t, e->aggs.state_size, 1)))
			get_state(e, r, g->state);
}

/* nwins windows into (*v, *n, *cap), in order. */
static void get_windows(struct engine *e, struct snapshot_reader *r,
                        struct win ***v, size_t *n, size_t *cap)
{
	size_t k = snapshot_get_count(r, 24), i;

	for (i = 0; i < k && !r->bad; i++) {
		struct win *w = fx_malloc(sizeof(*w));

		memset(w, 0, sizeof(*w));
		w->start = get_i64(r);
		w->end = get_i64(r);
		FX_GROW(*v, *n + 1, *cap, 16);
		(*v)[(*n)++] = w;
		get_table(e, r, &w->t);
	}
}

static void get_sessions(struct engine *e, struct snapshot_reader *r)
{
	size_t ng = snapshot_get_count(r, 16), i, j, ns;
	struct agg_group *g;

	for (i = 0; i < ng && !r->bad; i++) {
		struct agg_session **tail;

		if (!(g = get_group(e, r, &e->sg, 0, 1)))
			break;
		tail = &g->sessions;
		ns = snapshot_get_count(r, 24);
		for (j = 0; j < ns && !r->bad; j++) {
			struct agg_session *s = fx_malloc(sizeof(*s));

			s->start = get_i64(r);
			s->end = get_i64(r);
			s->id = snapshot_get_u64(r);
			s->closed = snapshot_get_u64(r) != 0;
			s->state = state_new(e);
			s->next = NULL;
			*tail = s;
			tail = &s->next;
			get_state(e, r, s->state);
		}
	}
	ns = snapshot_get_count(r, 32);
	for (i = 0; i < ns && !r->bad; i++) {
		struct heap_item it;

		it.end = get_i64(r);
		it.start = get_i64(r);
		it.id = snapshot_get_u64(r);
		if (!(it.group = get_group(e, r, &e->sg, 0, 0)))
			break;
		/* as saved: the array is a heap already */
		FX_GROW(e->heap, e->nheap + 1, e->capheap, 64);
		e->heap[e->nheap++] = it;
	}
}

/* Truncates --late dlq=FILE to its size at the checkpoint. */
static int dlq_rewind(struct engine *e, int64_t size)
{
	struct stat st;

	if (!e->late_file || size < 0)
		return 0;
	if (fflush(e->late_file) || fstat(fileno(e->late_file), &st) ||
	    (st.st_size > size && ftruncate(fileno(e->late_file), size))) {
		fx_warn(e->ctx, "%s: cannot truncate to the checkpoint: %s",
		        e->late_path, strerror(errno));
		return FX_EXIT_IO;
	}
	return 0;
}

/*
 * Loads a snapshot into a fresh engine: 0, -1 if the bytes are not a
 * state, -2 if it was saved with other options.
 */
static void header_options(void *arg, struct fx_buf *want)
{
	state_options(arg, want);
}

static int state_load(struct engine *e, const char *p, size_t n)
{
	struct snapshot_reader r = {p, p + n, 0};
	struct fx_buf want = FX_BUF_INIT;
	size_t i, k, len;
	int64_t dlq;
	int rc = 0;

	fx_buf_adds(&want, "fx-agg state 3 ");
	rc = snapshot_get_header(&r, &want, header_options, e);
	fx_buf_free(&want);
	if (rc)
		return rc;
	e->wm = get_i64(&r);
	e->next_close = get_i64(&r);
	e->seq = snapshot_get_u64(&r);
	e->typical_groups = (size_t)snapshot_get_u64(&r);
	e->next_session_id = snapshot_get_u64(&r);
	e->ctx->st.late = snapshot_get_u64(&r);
	dlq = get_i64(&r);
	e->watermark.value = get_i64(&r);
	k = snapshot_get_count(&r, 24);
	for (i = 0; i < k && !r.bad; i++) {
		const char *name = snapshot_get_bytes(&r, &len);
		struct wm_part *part;
		size_t had = e->watermark.n;

		if (r.bad)
			break;
		part = watermark_part(&e->watermark, name, len);
		if (e->watermark.n == had)
			r.bad = 1; /* a name twice */
		part->max_t = get_i64(&r);
		part->active = snapshot_get_u64(&r) != 0;
	}
	if (e->global)
		get_table(e, &r, &e->global->t);
	get_windows(e, &r, &e->wins, &e->nwins, &e->capwins);
	get_windows(e, &r, &e->kept, &e->nkept, &e->capkept);
	get_sessions(e, &r);
	if (r.bad || r.p != r.end)
		return -1;
	return dlq_rewind(e, dlq) ? -3 : 0;
}

/* A checkpoint or restore record's id (and final); a malformed one is fatal. */
static uint64_t barrier_parse(struct engine *e, const struct record *rec,
                              int *final)
{
	struct ckpt_barrier br;
	uint64_t id;

	memset(&br, 0, sizeof(br));
	if (ckpt_barrier_parse(rec->p, rec->len, &br))
		fx_die(e->ctx, FX_EXIT_DATA, "not a checkpoint record: %.*s",
		       (int)(rec->len > 200 ? 200 : rec->len), rec->p);
	id = br.id;
	*final = br.final;
	ckpt_barrier_free(&br);
	return id;
}

/* {"_fx":"restore","id":K}: a fresh job (0), or snapshot K. */
static void on_restore(struct engine *e, const struct record *rec)
{
	struct fx_buf b = FX_BUF_INIT;
	char path[4096];
	int rc, final;
	uint64_t id = barrier_parse(e, rec, &final);
	double t0 = fx_now();

	if (e->started)
		fx_die(
		    e->ctx, FX_EXIT_DATA,
		    "a restore record must be the first record of the input");
	/* --stats, lineage: restore K says K is committed */
	e->ctx->ckpt.restored_seen = 1;
	e->ctx->ckpt.restored = e->ctx->ckpt.committed = id;
	snapshot_path(&e->snap, id, path, sizeof(path));
	if (!snapshot_restore(e->ctx, &e->snap, id, &b))
		return;
	rc = state_load(e, b.p, b.len);
	fx_buf_free(&b);
	if (rc == -1)
		fx_die(e->ctx, FX_EXIT_IO,
		       "%s: cannot restore checkpoint %" PRIu64
		       ": snapshot corrupt",
		       path, id);
	if (rc == -2)
		fx_die(
		    e->ctx, FX_EXIT_IO,
		    "%s: cannot restore checkpoint %" PRIu64
		    ": snapshot made with other options (--window, --by, --agg, --merge)",
		    path, id);
	if (rc)
		fx_die(e->ctx, FX_EXIT_IO, "%s: cannot restore checkpoint",
		       path);
	e->ctx->ckpt.restore_ms = (fx_now() - t0) * 1000;
}

/* The latest end of the open windows (or sessions), INT64_MIN if none. */
static int64_t open_windows_end(const struct engine *e)
{
	int64_t end = INT64_MIN;
	size_t i;

	if (e->ws.kind == WINDOW_SESSION) {
		for (i = 0; i < e->nheap; i++)
			if (e->heap[i].end > end)
				end = e->heap[i].end;
	} else {
		for (i = 0; i < e->nwins; i++)
			if (e->wins[i]->end > end)
				end = e->wins[i]->end;
	}
	return end;
}

/*
 * A checkpoint barrier: a final one closes every window first (as the end
 * of input does); the whole state becomes snapshot K, and the snapshots
 * older than the committed checkpoint go.
 */
static int on_checkpoint(struct engine *e, const struct record *rec)
{
	struct fx_buf b = FX_BUF_INIT;
	uint64_t committed;
	int rc = 0, final;
	uint64_t id = barrier_parse(e, rec, &final);
	struct fx_ckpt_stats *ck = &e->ctx->ckpt;
	double t0;

	if (final) {
		int64_t last = open_windows_end(e);

		rc = close_all(e);
		/*
		 * As the watermark passing their ends would have: a record of
		 * a window closed here is late when the job goes on (files
		 * appended to after a final barrier), not a second row.
		 */
		if (last > e->wm)
			e->wm = last;
		if (e->global) { /* its rows are out: a final barrier ends it */
			win_free(e, e->global);
			e->global = fx_malloc(sizeof(*e->global));
			memset(e->global, 0, sizeof(*e->global));
		}
		if (rc)
			return rc;
	}
	if (e->late_file && fflush(e->late_file)) {
		fx_warn(e->ctx, "%s: write error: %s", e->late_path,
		        strerror(errno));
		return FX_EXIT_IO;
	}
	t0 = fx_now();
	state_save(e, &b);
	committed =
	    snapshot_stage_take(e->ctx, &e->snap, e->state_dir, id, b.p, b.len);
	/* --stats, lineage: the last snapshot */
	ck->last = id;
	ck->snapshots++;
	ck->state_bytes = b.len;
	ck->snapshot_ms = (fx_now() - t0) * 1000;
	ck->snapshot_at_ms = fx_epoch_ms();
	if (committed > ck->committed)
		ck->committed = committed;
	fx_buf_free(&b);
	return 0;
}

/* End of input (or a stop signal): every open window closes. Frees e. */
static int run_end(struct engine *e, int rc)
{
	int wrc;

	if (!rc)
		rc = close_all(e);
	if (e->late_file && fflush(e->late_file) != 0 && !rc) {
		fx_warn(e->ctx, "%s: write error: %s", e->late_path,
		        strerror(errno));
		rc = FX_EXIT_IO;
	}
	e->ctx->st.bytes_out = record_writer_bytes_total(&e->out);
	wrc = record_writer_close(&e->out);
	engine_free(e);
	return rc ? rc : wrc;
}

int agg_run(struct fx_ctx *ctx, const struct agg_opts *o, char **inputs,
            size_t n)
{
	struct engine e;
	char *stdin_only[] = {"-"};
	size_t i;
	int rc = 0;

	engine_init(&e, ctx, o);
	ctx->count_late = e.ws.kind != WINDOW_NONE;
	if (n == 0) {
		inputs = stdin_only;
		n = 1;
	}
	for (i = 0; i < n && !rc && !fx_stop; i++)
		rc = read_input(&e, inputs[i]);
	return run_end(&e, rc);
}

/* ---- pieces of files, aggregated in parallel (aggpar.h) ---- */

struct agg_piece {
	struct engine e;
};

struct agg_piece *agg_piece_new(struct fx_ctx *ctx, const struct agg_opts *o,
                                uint64_t seq_base, int first)
{
	struct agg_piece *p = fx_malloc(sizeof(*p));
	struct engine *e = &p->e;

	engine_init(e, ctx, o);
	e->hold = 1;
	e->seq = seq_base;
	e->first_piece = first;
	/* windows: rows written ahead, into memory (no memfd: held) */
	if (e->ws.kind != WINDOW_NONE &&
	    (e->spill.fd = memfd_create("fx-agg-piece", MFD_CLOEXEC)) >= 0) {
		record_writer_close(&e->out); /* nothing written */
		record_writer_init(&e->out, ctx, e->spill.fd, "fx-agg piece");
	}
	return p;
}

int agg_piece_read(struct agg_piece *p, const char *path, int64_t start,
                   int64_t len, uint64_t first_line)
{
	int rc = read_range(&p->e, path, start, len, first_line);

	/* its rows in the memfd; an error: agg_piece_mergeable() */
	record_writer_flush(&p->e.out);
	return rc;
}

int agg_piece_mergeable(const struct agg_piece *p)
{
	size_t i, len;

	if (p->e.control_seen || p->e.update_errors ||
	    record_writer_failed(&p->e.out))
		return 0;
	for (i = 0; i < p->e.watermark.n; i++)
		if (watermark_part_name(&p->e.watermark, i, &len) && len)
			return 0;
	return 1;
}

int64_t agg_piece_watermark(const struct agg_piece *p)
{
	return p->e.wm;
}

int agg_piece_on_time(const struct agg_piece *p, int64_t wm)
{
	size_t lo = 0, hi = p->e.nlog;

	/* the last step judged at a watermark below wm */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->e.log[mid].wm < wm)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 || p->e.log[lo - 1].end > wm;
}

/*
 * Merges table s, of a later piece, into d (the larger one is kept: the
 * merge is symmetric but for an integer sum's order, said to it).
 */
static int absorb_table(struct engine *e, struct group_table *d,
                        struct group_table *s)
{
	enum agg_order order = AGG_AFTER;
	struct agg_error err;
	size_t i;

	if (s->n > d->n) {
		struct group_table t = *d;

		*d = *s;
		*s = t;
		order = AGG_BEFORE;
	}
	for (i = 0; i < s->n; i++) {
		const struct agg_group *g = s->g[i];
		struct agg_group *dg;

		/* as batch_prefetch: the slots ahead, and their groups */
		if (i + 16 < s->n)
			__builtin_prefetch(s->g[i + 16]);
		if (i + 8 < s->n && d->nslots)
			__builtin_prefetch(
			    group_table_slot(d, s->g[i + 8]->hash));
		dg = group_table_get(d, g->key, g->keylen, g->hash,
		                     e->aggs.state_size);

		if (agg_set_merge(&e->aggs, dg->state, g->state, order, &err))
			return -1;
	}
	return 0;
}

/* Merges a session of src's group g into dst. */
static int absorb_session(struct engine *d, const struct agg_group *g,
                          const struct agg_session *ss)
{
	struct agg_group *dg =
	    group_table_get(&d->sg, g->key, g->keylen, g->hash, 0);
	struct agg_error err;
	int rc = 0;
	struct agg_session *ds = session_for(d, dg, ss->start, ss->end, &rc);

	/* the later piece's records may have joined any of the earlier
	 * pieces' sessions in one run, in any order */
	if (rc || d->update_errors ||
	    agg_set_merge(&d->aggs, ds->state, ss->state, AGG_INTERLEAVED,
	                  &err))
		return -1;
	return 0;
}

static int absorb_sessions(struct engine *d, struct engine *s)
{
	const struct agg_session *ss;
	size_t i;

	for (i = 0; i < s->nsheld; i++)
		if (absorb_session(d, s->sheld[i].g, s->sheld[i].s))
			return -1;
	for (i = 0; i < s->sg.n; i++)
		for (ss = s->sg.g[i]->sessions; ss; ss = ss->next)
			if (absorb_session(d, s->sg.g[i], ss))
				return -1;
	return 0;
}

static int absorb_windows(struct engine *d, struct win **ws, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct win *w = win_get(d, ws[i]->start, ws[i]->end);

		if (absorb_table(d, &w->t, &ws[i]->t))
			return -1;
	}
	return 0;
}

int agg_piece_absorb(struct agg_piece *dst, struct agg_piece *src)
{
	struct engine *d = &dst->e, *s = &src->e;

	if (s->global)
		return absorb_table(d, &d->global->t, &s->global->t);
	if (s->ws.kind == WINDOW_SESSION
	        ? absorb_sessions(d, s)
	        : absorb_windows(d, s->held, s->nheld) ||
	              absorb_windows(d, s->wins, s->nwins))
		return -1;
	/* its rows written ahead come after the merged windows before them */
	if (s->spill.first_end != INT64_MAX) {
		FX_GROW(d->spills, d->nspills + 1, d->capspills, 4);
		d->spills[d->nspills++] = s->spill;
		s->spill.fd = -1;
	}
	return 0;
}

/*
 * Copies the rows a piece wrote ahead (the memfd fd) to the output: by
 * sendfile(2) when the output takes it (no copy through this process),
 * else read and written. A write error is the writer's, as its own.
 */
static int spill_copy(struct engine *e, int fd)
{
	struct record_writer *w = &e->out;
	char *buf = NULL;
	off_t at = 0;
	ssize_t r;
	int rc = 0;

	if (record_writer_flush(w))
		return record_writer_status(w);
	while ((r = sendfile(w->fd, fd, &at, 1 << 30)) != 0) {
		if (r > 0) {
			w->bytes += (uint64_t)r;
			continue;
		}
		if (errno == EINTR || errno == EAGAIN)
			continue;
		if (errno == EINVAL || errno == ENOSYS)
			break; /* not to this output: read and write */
		w->err = errno;
		w->cap = w->len; /* as the writer's own failed write */
		return record_writer_status(w);
	}
	if (!r)
		return 0;
	buf = fx_malloc(RECORD_WRITER_BUFSIZE);
	while (!rc && (r = pread(fd, buf, RECORD_WRITER_BUFSIZE, at)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fx_warn(e->ctx, "fx-agg piece: read error: %s",
			        strerror(errno));
			rc = FX_EXIT_IO;
			break;
		}
		at += r;
		record_writer_write(w, buf, (size_t)r);
		rc = record_writer_status(w);
	}
	free(buf);
	return rc;
}

/*
 * The merged pieces' rows in one run's order: the first piece's rows
 * written ahead; then for each piece after it that wrote some, the merged
 * windows that end before its first (every piece that can have them is
 * merged) and its rows; then every window left.
 */
static int emit_pieces(struct engine *e)
{
	size_t i;
	int rc;

	/* its own held windows (no memfd) end before its open ones */
	FX_GROW(e->wins, e->nwins + e->nheld, e->capwins, 16);
	memmove(e->wins + e->nheld, e->wins, e->nwins * sizeof(*e->wins));
	memcpy(e->wins, e->held, e->nheld * sizeof(*e->wins));
	e->nwins += e->nheld;
	e->nheld = 0;
	e->next_close = e->nwins ? e->wins[0]->end : INT64_MAX;
	rc = e->spill.first_end != INT64_MAX ? spill_copy(e, e->spill.fd) : 0;
	for (i = 0; i < e->nspills && !rc; i++) {
		rc = e->ws.kind == WINDOW_SESSION
		         ? close_sessions(e, e->spills[i].first_end - 1)
		         : close_windows(e, e->spills[i].first_end - 1);
		if (!rc)
			rc = spill_copy(e, e->spills[i].fd);
	}
	return rc;
}

int agg_piece_emit(struct agg_piece *p, struct fx_ctx *ctx)
{
	struct engine *e = &p->e;
	int rc;

	e->ctx = ctx;
	e->hold = 0;
	/* the memfd was flushed by agg_piece_read(): rows go out now */
	record_writer_close(&e->out);
	record_writer_init(&e->out, ctx, STDOUT_FILENO, "stdout");
	ctx->count_late = e->ws.kind != WINDOW_NONE;
	rc = run_end(e, emit_pieces(e));
	free(p);
	return rc;
}

void agg_piece_free(struct agg_piece *p)
{
	if (!p)
		return;
	/* nothing of it is output: a memfd's write error goes unsaid */
	p->e.out.err = 0;
	p->e.out.len = 0;
	record_writer_close(&p->e.out);
	engine_free(&p->e);
	free(p);
}
