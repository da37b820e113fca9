/* join.c - fx-join's lookup join and the checks of its options */
#include "join.h"
#include "dim.h"
#include "dimkafka.h"
#include "err.h"
#include "filecut.h"
#include "fxtime.h"
#include "joinio.h"
#include "lineage.h"
#include "recedit.h"
#include "stream.h"
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* An in-place change is used once the file has been left alone this long. */
#define RELOAD_QUIET_NS 1000000000LL

/* ---- --reload ---- */

struct file_sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int valid;
};

static int sig_equal(const struct file_sig *a, const struct file_sig *b)
{
	return a->valid && b->valid && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static int sig_of(const char *path, struct file_sig *s)
{
	struct stat sb;

	memset(s, 0, sizeof(*s));
	if (stat(path, &sb) != 0)
		return -1;
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->size = sb.st_size;
	s->mtime = sb.st_mtim;
	s->valid = 1;
	return 0;
}

/* ---- the lookup engine ---- */

#define JOIN_RING 16
struct pending;

struct lookup {
	struct fx_ctx *ctx;
	const struct join_opts *o;
	struct dim_spec spec;
	struct dim_table table;
	struct dim_kafka *dk;
	struct fx_strlist lkeys, dkeys;
	struct json_paths paths; /* the left keys, then the output names */
	struct fx_buf key, scratch, nulls;
	struct record_writer out;
	struct pending *ring; /* JOIN_RING records read, not yet written */
	size_t head, npend;
	struct file_sig loaded, failed;
	int stat_failed;
	double next_check;
	/* a worker of -j (a shallow copy of the main lookup, its table and
	 * names shared and only read): silent, its output held in out's
	 * growing buffer, and it stops at anything one thread must do */
	int piece;
};

/* Adds name as a top-level path (dots and backslashes escaped). */
static void add_name_path(struct lookup *lk, const char *name)
{
	struct fx_buf p = FX_BUF_INIT;
	const char *c, *err;

	for (c = name; *c; c++) {
		if (*c == '.' || *c == '\\')
			fx_buf_addc(&p, '\\');
		fx_buf_addc(&p, *c);
	}
	fx_buf_addc(&p, 0);
	if (json_paths_add(&lk->paths, p.p, &err) < 0)
		fx_die(
		    lk->ctx, FX_EXIT_USAGE,
		    "%s: too many dimension fields to add (at most %d): use --fields",
		    lk->spec.source, JSON_MAX_PATHS - (int)lk->lkeys.n);
	fx_buf_free(&p);
}

/* After the first load: the paths that find a clash, the null members. */
static void lookup_fields_ready(struct lookup *lk)
{
	size_t i, j;

	for (i = 0; i < lk->spec.fields.n; i++) {
		char *name = dim_spec_out_name(&lk->spec, i);

		for (j = 0; j < lk->lkeys.n; j++)
			if (!strcmp(name, lk->lkeys.v[j]))
				fx_usage_error(
				    lk->ctx,
				    "field \"%s\" is the join key and a dimension field: use --prefix",
				    name);
		if (*name)
			add_name_path(lk, name);
		free(name);
	}
	dim_spec_nulls(&lk->spec, &lk->nulls);
}

static void reload_warn(struct lookup *lk)
{
	fx_warn(lk->ctx,
	        "%s: not reloaded, keeping the previous table (%zu rows)",
	        lk->o->dim, lk->table.n);
}

/* The name says gzip. */
static int is_gz(const char *path)
{
	size_t n = strlen(path);

	return n > 3 && !strcmp(path + n - 3, ".gz");
}

/* A file that does not end in a newline is still being written. */
static int complete(const char *path, const struct file_sig *s)
{
	char c = 0;
	int fd;

	if (is_gz(path))
		return s->size > 0;
	if (s->size == 0 || (fd = open(path, O_RDONLY)) < 0)
		return 0;
	if (pread(fd, &c, 1, s->size - 1) != 1)
		c = 0;
	close(fd);
	return c == '\n';
}

static void try_reload(struct lookup *lk)
{
	const char *path = lk->o->dim;
	struct dim_table t = {0};
	struct file_sig now, after;
	struct timespec rt;

	if (sig_of(path, &now) != 0) {
		if (!lk->stat_failed)
			fx_warn(lk->ctx, "%s: %s; keeping the previous table",
			        path, strerror(errno));
		lk->stat_failed = 1;
		return;
	}
	lk->stat_failed = 0;
	if (sig_equal(&now, &lk->loaded) || sig_equal(&now, &lk->failed))
		return;
	clock_gettime(CLOCK_REALTIME, &rt);
	if (now.ino == lk->loaded.ino && now.dev == lk->loaded.dev &&
	    (rt.tv_sec - now.mtime.tv_sec) * 1000000000LL +
	            (rt.tv_nsec - now.mtime.tv_nsec) <
	        RELOAD_QUIET_NS)
		return; /* written in place, maybe still being written */
	if (!complete(path, &now)) {
		fx_warn(lk->ctx,
		        "%s: incomplete (empty, or no newline at the end)",
		        path);
		goto failed;
	}
	if (dim_load_file(lk->ctx, &lk->spec, path, &t) != 0)
		goto failed;
	if (sig_of(path, &after) != 0 || !sig_equal(&now, &after)) {
		dim_table_free(&t); /* changed while read: next time */
		return;
	}
	dim_table_free(&lk->table);
	lk->table = t;
	lk->loaded = now;
	return;
failed:
	reload_warn(lk);
	dim_table_free(&t);
	lk->failed = now;
}

static int lookup_check(struct lookup *lk)
{
	double t = fx_now();

	if (t < lk->next_check)
		return 0;
	lk->next_check = t + (double)lk->o->reload_interval / 1000;
	if (lk->dk)
		return dim_kafka_poll(lk->dk);
	try_reload(lk);
	return 0;
}

static int clash(struct lookup *lk, const struct record *rec,
                 const struct fx_where *w, const struct json_value *vals)
{
	size_t i;
	char where[256];

	for (i = lk->lkeys.n; i < lk->paths.n; i++)
		if (vals[i].type != JSON_MISSING)
			break;
	if (i == lk->paths.n)
		return 0;
	if (lk->piece)
		return FX_EXIT_USAGE; /* said by the run that reads it again */
	fx_warn(
	    lk->ctx,
	    "%s: field \"%s\" is in the record and in the dimension %s: use --fields or --prefix",
	    fx_where_format(w, where, sizeof(where)), lk->paths.v[i].name,
	    lk->spec.source);
	return FX_EXIT_USAGE;
}

/*
 * Records wait in a small ring between reading and writing: a lookup in a
 * large table is two cache misses (slot, row), and prefetching them for
 * the records ahead hides that latency. A record is copied in (the
 * reader's bytes do not outlive the next read); the ring drains when full,
 * before a read that may block, and at the end.
 */
enum { PEND_RECORD, PEND_NOKEY, PEND_CONTROL };

struct pending {
	struct fx_buf rec, key;
	uint64_t hash;
	int kind;
};

/* Writes the oldest pending record. */
static int pend_out(struct lookup *lk)
{
	struct pending *p = &lk->ring[lk->head];
	const struct dim_row *row = NULL;
	int r;

	lk->head = (lk->head + 1) % JOIN_RING;
	lk->npend--;
	if (lk->npend >= JOIN_RING / 2) /* the slot is in cache by now */
		dim_prefetch_row(
		    &lk->table,
		    lk->ring[(lk->head + JOIN_RING / 2 - 1) % JOIN_RING].hash);
	if (p->kind == PEND_CONTROL)
		return record_writer_put_control(&lk->out, p->rec.p,
		                                 p->rec.len);
	if (p->kind == PEND_RECORD)
		row = dim_get_hash(&lk->table, p->key.p, p->key.len, p->hash);
	if (row)
		r = recedit_put(&lk->out, p->rec.p, p->rec.len,
		                dim_row_members(row), row->mlen);
	else if (lk->o->left)
		r = recedit_put(&lk->out, p->rec.p, p->rec.len, lk->nulls.p,
		                lk->o->left_nulls ? lk->nulls.len : 0);
	else
		return 0;
	lk->ctx->st.records_out++;
	return r ? record_writer_status(&lk->out) : 0;
}

static int pend_drain(struct lookup *lk)
{
	int rc = 0;

	while (lk->npend && !rc)
		rc = pend_out(lk);
	return rc;
}

static int pend_add(struct lookup *lk, const struct record *rec, int kind)
{
	struct pending *p = &lk->ring[(lk->head + lk->npend) % JOIN_RING];

	fx_buf_reset(&p->rec);
	fx_buf_add(&p->rec, rec->p, rec->len);
	p->kind = kind;
	if (kind == PEND_RECORD) {
		fx_buf_reset(&p->key);
		fx_buf_add(&p->key, lk->key.p, lk->key.len);
		p->hash = dim_hash(p->key.p, p->key.len);
		dim_prefetch(&lk->table, p->hash);
	}
	lk->npend++;
	return lk->npend == JOIN_RING ? pend_out(lk) : 0;
}

static int on_record(struct lookup *lk, const struct record *rec,
                     const struct fx_where *w, const struct json_value *vals)
{
	size_t i;
	int r = JOIN_KEY_OK;

	if (lk->paths.n > lk->lkeys.n && clash(lk, rec, w, vals))
		return FX_EXIT_USAGE;
	fx_buf_reset(&lk->key);
	for (i = 0; i < lk->lkeys.n && r == JOIN_KEY_OK; i++)
		r = join_key_add(&lk->key, &vals[i], &lk->scratch);
	if (r == JOIN_KEY_BAD)
		return fx_bad_record(
		    lk->ctx, w, lk->lkeys.v[i - 1], rec->p, rec->len,
		    "cannot join on %s",
		    vals[i - 1].type == JSON_OBJECT ? "an object" : "an array");
	return pend_add(lk, rec, r == JOIN_KEY_OK ? PEND_RECORD : PEND_NOKEY);
}

/* Reads name to its end, from byte start, line first_line. */
static int lookup_input(struct lookup *lk, const char *name, int64_t start,
                        uint64_t first_line)
{
	struct json_value vals[JSON_MAX_PATHS];
	struct record_stream rs;
	struct record rec;
	int r = 0, flags, rc, checks = lk->o->reload || lk->dk;

	rc = record_stream_open_at(&rs, lk->ctx, name, is_gz(name), &lk->paths,
	                           start, -1, first_line);
	while (!rc && !fx_stop) {
		struct fx_where w;

		if (join_input_idle(&rs)) {
			rc = pend_drain(lk);
			if (rc || record_writer_flush(&lk->out))
				break;
		}
		if ((r = record_stream_next(&rs, &rec, vals, &flags)) <= 0)
			break;
		w = record_stream_where(&rs, &rec);
		if (checks)
			rc = lookup_check(lk);
		if (rc)
			break;
		if (flags & JSON_SCAN_CONTROL)
			rc = pend_add(lk, &rec, PEND_CONTROL);
		else
			rc = on_record(lk, &rec, &w, vals);
		if (!rc && record_writer_failed(&lk->out))
			rc = record_writer_status(&lk->out);
	}
	if (!rc && r < 0)
		rc = -r;
	/* what was read before a bad record still goes out */
	if (!record_writer_failed(&lk->out)) {
		int drc = pend_drain(lk);

		rc = rc ? rc : drc;
	}
	record_stream_close(&rs);
	return rc;
}

/* ---- -j: a regular file's pieces on several threads ---- */

/*
 * A piece: small enough that the threads end together and a piece's
 * output (held until its turn) stays small, large enough that opening it
 * and cutting it cost nothing.
 */
#define PIECE_SIZE ((int64_t)4 << 20)

struct par {
	struct lookup *lk; /* the main one: the table, the writer to stdout */
	const char *path;
	int fd; /* its pin: cuts are read from it (pread) */
	int64_t size;
	uint64_t npieces;
	int64_t *cut; /* piece k is [cut[k], cut[k + 1]) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t next;      /* the next piece to take */
	uint64_t turn;      /* the next piece to write */
	uint64_t stop_at;   /* the first piece the threads do not write */
	int rc;             /* a write error's status */
	struct fx_stats st; /* the written pieces' counters */
};

struct worker {
	struct par *par;
	struct fx_ctx ctx;
	struct lookup lk;
	pthread_t tid;
	int started;
};

/*
 * Joins [start, end) of the file into the worker's buffer. 0: every
 * record joined; -1: something the main run must do itself, with its
 * messages (a bad or control record, a field clash, an I/O error, a
 * signal): the piece is dropped.
 */
static int piece_join(struct lookup *lk, const char *path, int64_t start,
                      int64_t end)
{
	struct json_value vals[JSON_MAX_PATHS];
	struct record_stream rs;
	struct record rec;
	int r = 0, flags, rc;

	rc = record_stream_open_at(&rs, lk->ctx, path, 0, &lk->paths, start,
	                           end - start, 1);
	while (!rc && !fx_stop && rs.reader.bytes < (uint64_t)(end - start)) {
		struct fx_where w;

		if ((r = record_stream_next(&rs, &rec, vals, &flags)) <= 0)
			break;
		/* under skip, a bad record is passed over: seen here */
		if ((flags & JSON_SCAN_CONTROL) || lk->ctx->st.bad_records)
			break;
		w = record_stream_where(&rs, &rec);
		rc = on_record(lk, &rec, &w, vals);
	}
	if (!rc && r >= 0 && !lk->ctx->st.bad_records && !fx_stop &&
	    rs.reader.bytes >= (uint64_t)(end - start))
		rc = pend_drain(lk);
	else
		rc = -1;
	record_stream_close(&rs);
	if (rc) {
		lk->head = lk->npend = 0;
		lk->out.len = 0;
		return -1;
	}
	return 0;
}

/* Piece k's bytes: both cuts found from their offsets alone. */
static void piece_bounds(const struct par *pp, uint64_t k, int64_t *start,
                         int64_t *end)
{
	*start = pp->cut[k];
	*end = pp->cut[k + 1];
}

/*
 * The pieces' bounds, at the line ends after each multiple of PIECE_SIZE,
 * found once: a line longer than a piece is passed over once, not by every
 * piece inside it (a 200 MB record took 50 scans to its end, 10 s).
 */
static void piece_cuts(struct par *pp)
{
	uint64_t k;

	pp->cut = fx_malloc((pp->npieces + 1) * sizeof(*pp->cut));
	pp->cut[0] = 0;
	for (k = 1; k < pp->npieces; k++) {
		int64_t off = (int64_t)k * PIECE_SIZE;

		pp->cut[k] = off < pp->cut[k - 1]
		                 ? pp->cut[k - 1]
		                 : filecut_after(pp->fd, off, pp->size);
	}
	pp->cut[pp->npieces] = pp->size;
}

/*
 * Takes pieces in order, joins each into its buffer, waits for its turn
 * and writes it with the main writer (only the thread whose turn it is
 * touches it).
 */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct par *pp = w->par;

	for (;;) {
		int64_t start, end;
		uint64_t k;
		int ok, rc = 0;

		pthread_mutex_lock(&pp->mu);
		k = pp->next++;
		ok = k < pp->stop_at;
		pthread_mutex_unlock(&pp->mu);
		if (!ok)
			break;
		memset(&w->ctx.st, 0, sizeof(w->ctx.st));
		piece_bounds(pp, k, &start, &end);
		ok = start >= end ||
		     piece_join(&w->lk, pp->path, start, end) == 0;
		pthread_mutex_lock(&pp->mu);
		if (!ok && k < pp->stop_at) {
			pp->stop_at = k;
			pthread_cond_broadcast(&pp->cv);
		}
		while (pp->turn < k && k < pp->stop_at)
			pthread_cond_wait(&pp->cv, &pp->mu);
		ok = k < pp->stop_at;
		pthread_mutex_unlock(&pp->mu);
		if (ok && w->lk.out.len &&
		    record_writer_write(&pp->lk->out, w->lk.out.buf,
		                        w->lk.out.len))
			rc = record_writer_status(&pp->lk->out);
		w->lk.out.len = 0;
		if (!ok)
			continue; /* k >= stop_at: the next take ends it */
		pthread_mutex_lock(&pp->mu);
		fx_stats_add(&pp->st, &w->ctx.st);
		/* the run's counters as the pieces go out: --progress */
		fx_stats_add(&pp->lk->ctx->st, &w->ctx.st);
		fx_progress(pp->lk->ctx);
		if (rc) {
			pp->rc = rc;
			pp->stop_at = k + 1;
		}
		pp->turn = k + 1;
		pthread_cond_broadcast(&pp->cv);
		pthread_mutex_unlock(&pp->mu);
	}
	return NULL;
}

/* A worker: the main lookup's table and names, its own everything else. */
static void worker_init(struct worker *w, struct par *pp)
{
	struct lookup *lk = pp->lk;

	memset(w, 0, sizeof(*w));
	w->par = pp;
	fx_ctx_for_thread(&w->ctx, lk->ctx);
	w->ctx.on_error = FX_ON_ERROR_SKIP; /* a bad record: counted, seen */
	w->lk = *lk;
	w->lk.ctx = &w->ctx;
	w->lk.piece = 1;
	memset(&w->lk.key, 0, sizeof(w->lk.key));
	memset(&w->lk.scratch, 0, sizeof(w->lk.scratch));
	w->lk.head = w->lk.npend = 0;
	w->lk.ring = fx_malloc(JOIN_RING * sizeof(*w->lk.ring));
	memset(w->lk.ring, 0, JOIN_RING * sizeof(*w->lk.ring));
	/* in memory: written in its turn by worker_run() */
	record_writer_init(&w->lk.out, &w->ctx, -1, "stdout");
}

static void worker_free(struct worker *w)
{
	size_t i;

	for (i = 0; i < JOIN_RING; i++) {
		fx_buf_free(&w->lk.ring[i].rec);
		fx_buf_free(&w->lk.ring[i].key);
	}
	free(w->lk.ring);
	free(w->lk.out.buf);
	fx_buf_free(&w->lk.key);
	fx_buf_free(&w->lk.scratch);
}

/*
 * Joins the regular file path (pinned as fd, size bytes of plain data) on
 * up to jobs threads, this one among them. Returns 0 and in *resume the
 * first byte the threads did not write (size: none), or a write error's
 * status.
 */
static int par_file(struct lookup *lk, const char *path, int fd, int64_t size,
                    int64_t jobs, int64_t *resume)
{
	struct par pp;
	struct worker *w;
	int64_t nw, i, end;

	memset(&pp, 0, sizeof(pp));
	pp.lk = lk;
	pp.path = path;
	pp.fd = fd;
	pp.size = size;
	pp.npieces = (uint64_t)((size + PIECE_SIZE - 1) / PIECE_SIZE);
	pp.stop_at = pp.npieces;
	piece_cuts(&pp);
	pthread_mutex_init(&pp.mu, NULL);
	pthread_cond_init(&pp.cv, NULL);
	nw = jobs < (int64_t)pp.npieces ? jobs : (int64_t)pp.npieces;
	w = fx_malloc((size_t)nw * sizeof(*w));
	for (i = 0; i < nw; i++)
		worker_init(&w[i], &pp);
	for (i = 1; i < nw; i++)
		w[i].started =
		    pthread_create(&w[i].tid, NULL, worker_run, &w[i]) == 0;
	worker_run(&w[0]);
	for (i = 1; i < nw; i++)
		if (w[i].started)
			pthread_join(w[i].tid, NULL);
	for (i = 0; i < nw; i++)
		worker_free(&w[i]);
	free(w);
	pthread_cond_destroy(&pp.cv);
	pthread_mutex_destroy(&pp.mu);

	*resume = size;
	lineage_count(lineage_input_fd(lk->ctx, fd, path), pp.st.records_in);
	if (pp.stop_at < pp.npieces)
		piece_bounds(&pp, pp.stop_at, resume, &end);
	free(pp.cut);
	return pp.rc;
}

/*
 * One input: a regular file of more than a piece in pieces on jobs
 * threads, up to the first piece they cannot do, the rest here; all of it
 * from the file opened first (its pin), whatever its name is given to
 * meanwhile.
 */
static int lookup_file(struct lookup *lk, const char *name, int64_t jobs)
{
	int64_t size, start = 0;
	uint64_t line = 1;
	int rc, fd = -1;

	if (jobs > 1 && strcmp(name, "-") != 0)
		fd = fx_input_pin(lk->ctx, name);
	if (fd >= 0 && filecut_plain(fd, &size) && size > PIECE_SIZE) {
		rc = par_file(lk, name, fd, size, jobs, &start);
		if (rc || start >= size || fx_stop) {
			fx_input_unpin_all(lk->ctx);
			return rc;
		}
		if (start > 0)
			line = filecut_lines(fd, start) + 1;
	}
	rc = lookup_input(lk, name, start, line);
	fx_input_unpin_all(lk->ctx);
	return rc;
}

static int lookup_load(struct lookup *lk)
{
	const char *dim = lk->o->dim;
	int rc;

	if (!strncmp(dim, "kafka:", 6))
		return dim_kafka_open(lk->ctx, &lk->o->kafka, dim + 6,
		                      &lk->spec, &lk->table, &lk->dk);
	sig_of(dim, &lk->loaded);
	rc = dim_load_file(lk->ctx, &lk->spec, dim, &lk->table);
	if (rc)
		return rc;
	/* changed while read: the first check loads it again */
	if (sig_of(dim, &lk->failed) == 0 &&
	    !sig_equal(&lk->failed, &lk->loaded))
		lk->loaded.valid = 0;
	memset(&lk->failed, 0, sizeof(lk->failed));
	return 0;
}

static int lookup_run(struct fx_ctx *ctx, const struct join_opts *o,
                      char **inputs, size_t n)
{
	struct lookup lk;
	int64_t jobs = o->jobs;
	size_t i;
	int rc, wrc;
	const char *err;

	memset(&lk, 0, sizeof(lk));
	lk.ctx = ctx;
	lk.o = o;
	join_split_on(&o->on, &lk.lkeys, &lk.dkeys);
	if (json_paths_init(&lk.paths, lk.lkeys.v, lk.lkeys.n, &err))
		fx_usage_error(ctx, "--on: %s", err);
	lk.spec.source = o->dim;
	lk.spec.keys = lk.dkeys.v;
	lk.spec.nkeys = lk.dkeys.n;
	lk.spec.prefix = o->prefix ? o->prefix : "";
	lk.spec.last_wins = o->dim_last_wins;
	for (i = 0; i < o->fields.n; i++)
		fx_strlist_push(&lk.spec.fields, o->fields.v[i]);
	lk.spec.fields_fixed = lk.spec.fields_given = o->fields.n > 0;
	record_writer_init(&lk.out, ctx, STDOUT_FILENO, "stdout");
	lk.ring = fx_malloc(JOIN_RING * sizeof(*lk.ring));
	memset(lk.ring, 0, JOIN_RING * sizeof(*lk.ring));
	rc = lookup_load(&lk);
	if (!rc) {
		lookup_fields_ready(&lk);
		lk.next_check = fx_now() + (double)o->reload_interval / 1000;
	}
	if (jobs <= 0)
		jobs = fx_cores();
	/* -j: a file dimension, loaded once and only read by the threads */
	if (lk.dk || o->reload)
		jobs = 1;
	for (i = 0; i < n && !rc && !fx_stop; i++)
		rc = lookup_file(&lk, inputs[i], jobs);
	ctx->st.bytes_out = record_writer_bytes_total(&lk.out);
	wrc = record_writer_close(&lk.out);
	for (i = 0; i < JOIN_RING; i++) {
		fx_buf_free(&lk.ring[i].rec);
		fx_buf_free(&lk.ring[i].key);
	}
	free(lk.ring);
	dim_kafka_close(lk.dk);
	dim_table_free(&lk.table);
	dim_spec_free(&lk.spec);
	json_paths_free(&lk.paths);
	fx_strlist_free(&lk.lkeys);
	fx_strlist_free(&lk.dkeys);
	fx_buf_free(&lk.key);
	fx_buf_free(&lk.scratch);
	fx_buf_free(&lk.nulls);
	return rc ? rc : wrc;
}

/* ---- options ---- */

static void check_fields(struct fx_ctx *ctx, const struct fx_strlist *l,
                         const char *opt)
{
	size_t i, j;

	for (i = 0; i < l->n; i++) {
		if (!*l->v[i] || l->v[i][0] == '=' ||
		    l->v[i][strlen(l->v[i]) - 1] == '=')
			fx_usage_error(ctx, "%s: empty field name", opt);
		for (j = 0; j < i; j++)
			if (!strcmp(l->v[i], l->v[j]))
				fx_usage_error(ctx,
				               "%s: field \"%s\" given twice",
				               opt, l->v[i]);
	}
}

/*
 * The options of one kind of join that were given, named in the usage
 * error when the other kind is run: "--within needs --right SOURCE",
 * "--time and --within need --right SOURCE", "--a, --b and --c need ...".
 */
struct given {
	const char *v[8];
	size_t n;
};

static void given_add(struct given *g, int set, const char *name)
{
	if (set && g->n < sizeof(g->v) / sizeof(g->v[0]))
		g->v[g->n++] = name;
}

static void need(const struct fx_ctx *ctx, const struct given *g,
                 const char *what)
{
	struct fx_buf b = FX_BUF_INIT;
	size_t i;

	if (!g->n)
		return;
	for (i = 0; i < g->n; i++) {
		fx_buf_adds(&b, i == 0 ? "" : i + 1 < g->n ? ", " : " and ");
		fx_buf_adds(&b, g->v[i]);
	}
	fx_buf_addc(&b, 0);
	fx_usage_error(ctx, "%s %s %s", b.p, g->n == 1 ? "needs" : "need",
	               what);
}

static void interval_given(const struct join_opts *o, struct given *g)
{
	g->n = 0;
	given_add(g, o->time_field != NULL, "--time");
	given_add(g, o->right_time != NULL, "--right-time");
	given_add(g, o->time_unit != NULL, "--time-unit");
	given_add(g, o->within >= 0, "--within");
	given_add(g, o->lateness != 0, "--lateness");
	given_add(g, o->idle_timeout >= 0, "--idle-timeout");
	given_add(g, o->right_prefix != NULL, "--right-prefix");
}

static void lookup_given(const struct join_opts *o, struct given *g)
{
	g->n = 0;
	given_add(g, o->reload, "--reload");
	given_add(g, o->dim_last_wins, "--dim-last-wins");
	given_add(g, o->prefix != NULL, "--prefix");
	given_add(g, o->reload_interval >= 0, "--reload-interval");
	given_add(g, o->jobs_given, "--jobs");
}

/* -X given: a property whose origin is the command line, not a -F file */
static int kafka_props_given(const struct kafka_conf *kc)
{
	size_t i;

	for (i = 0; i < kc->nprops; i++)
		if (!strcmp(kc->props[i].origin, "-X"))
			return 1;
	return 0;
}

/* The Kafka options: only a kafka: dimension reads from Kafka. */
static void kafka_given(const struct join_opts *o, struct given *g)
{
	g->n = 0;
	given_add(g, o->kafka.brokers != NULL, "--brokers");
	given_add(g, kafka_props_given(&o->kafka), "-X");
	given_add(g, o->kafka.files != 0, "--kafka-config");
	given_add(g, o->kafka.timeout_ms >= 0, "--timeout");
}

static void check_options(struct fx_ctx *ctx, struct join_opts *o)
{
	struct given ig, lg, kg;
	int kafka = o->dim && !strncmp(o->dim, "kafka:", 6);

	interval_given(o, &ig);
	lookup_given(o, &lg);
	kafka_given(o, &kg);
	if (o->dim && o->right)
		fx_usage_error(ctx, "--dim and --right exclude each other");
	if (!o->dim && !o->right) {
		/* the options given say which join was meant */
		need(ctx, &ig, "--right SOURCE");
		need(ctx, &lg, "--dim FILE");
		need(ctx, &kg, "--dim kafka:TOPIC");
		fx_usage_error(ctx, "give --dim FILE or --right SOURCE");
	}
	if (!o->on.n)
		fx_usage_error(ctx, "--on: give the key fields");
	check_fields(ctx, &o->on, "--on");
	check_fields(ctx, &o->fields, "--fields");
	if (o->inner && (o->left || o->left_nulls))
		fx_usage_error(ctx, "--inner and --left exclude each other");
	if (o->left_nulls)
		o->left = 1;
	if (o->reload_interval == 0)
		fx_usage_error(ctx, "--reload-interval: must be more than 0");
	if (o->dim)
		need(ctx, &ig, "--right SOURCE, not --dim");
	else
		need(ctx, &lg,
		     o->prefix
		         ? "--dim FILE; the interval join has --right-prefix"
		         : "--dim FILE");
	/* only a kafka: dimension reads Kafka: a file dimension reads a
	 * file, the interval join files, FIFOs and pipes */
	if (!kafka)
		need(
		    ctx, &kg,
		    o->dim
		        ? "--dim kafka:TOPIC; a file dimension reads no topic"
		        : "--dim kafka:TOPIC; the interval join reads no topic");
	if (o->dim) {
		if (kafka && o->reload)
			fx_usage_error(
			    ctx,
			    "--reload is for files; a kafka: dimension follows its topic anyway");
		if (kafka && !o->dim[6])
			fx_usage_error(ctx, "--dim kafka:TOPIC: no topic");
		if (kafka && o->on.n != 1)
			fx_usage_error(
			    ctx,
			    "--dim kafka:TOPIC joins on one field (the message key)");
		if (o->dim_last_wins && kafka)
			fx_usage_error(
			    ctx,
			    "--dim-last-wins is for files; a kafka: dimension always keeps the last value");
		if (o->state || o->stage)
			fx_usage_error(
			    ctx,
			    "%s for the interval join: a lookup join keeps no state (checkpoint and restore records pass through)",
			    !o->stage   ? "--state is"
			    : !o->state ? "--stage is"
			                : "--state and --stage are");
		return;
	}
	if (o->stage && !o->state)
		fx_usage_error(ctx, "--stage needs --state DIR");
	if (!o->time_field)
		fx_usage_error(ctx, "--right needs --time FIELD");
	if (o->within < 0)
		fx_usage_error(ctx, "--right needs --within DURATION");
	if (fx_time_unit_parse(o->time_unit, &o->unit))
		fx_usage_error(ctx, "--time-unit: expected s or ms, got '%s'",
		               o->time_unit);
}

int join_run(struct fx_ctx *ctx, struct join_opts *o, char **inputs, size_t n)
{
	char *stdin_only[] = {"-"};

	check_options(ctx, o);
	if (o->reload_interval < 0)
		o->reload_interval = 100;
	if (o->idle_timeout < 0)
		o->idle_timeout = 10000;
	if (o->kafka.timeout_ms < 0)
		o->kafka.timeout_ms = KAFKA_DEFAULT_TIMEOUT_MS;
	if (n == 0) {
		inputs = stdin_only;
		n = 1;
	}
	if (o->right)
		return ijoin_run(ctx, o, inputs, n);
	return lookup_run(ctx, o, inputs, n);
}
