/* aggpar.c - fx-agg -j N: pieces of regular files on several cores */
#include "aggpar.h"
#include "aggfn.h"
#include "err.h"
#include "filecut.h"
#include "fsutil.h"
#include "input.h"
#include "lineage.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Smaller pieces are not worth a thread. */
#define AGGPAR_MIN_PIECE (64 * 1024)

/* An input file. */
struct file {
	const char *path;
	int fd; /* its pin (fx_input_pin): every read is of this file */
	int64_t size;
	int64_t base; /* its first byte's offset in all the inputs */
};

/* The part of a file a piece reads. */
struct seg {
	size_t file;
	int64_t start, len;
	uint64_t first_line;
};

struct piece {
	struct seg *segs;
	size_t nsegs, capsegs;
	struct fx_ctx ctx; /* the thread's own */
	struct agg_piece *ap;
	uint64_t *records; /* per file, for lineage */
	const struct file *files;
	char *dlq;
	size_t dlq_len;
	pthread_t tid;
	int started;
	int rc;
};

/* ---- what can run in pieces ---- */

/* Options that only one run over the whole input can honour. */
static int options_allow(const struct agg_opts *o)
{
	if (o->partial || o->merge || o->state || getenv("FX_STATE"))
		return 0;
	return !o->late || !strcmp(o->late, "drop");
}

/* ---- cutting ---- */

static void add_seg(struct piece *p, size_t file, int64_t start, int64_t end)
{
	if (end <= start)
		return;
	FX_GROW(p->segs, p->nsegs + 1, p->capsegs, 4);
	p->segs[p->nsegs].file = file;
	p->segs[p->nsegs].start = start;
	p->segs[p->nsegs].len = end - start;
	p->segs[p->nsegs++].first_line = 1;
}

/*
 * Cuts the files into np pieces: the cut points (offsets in all the
 * inputs), then each piece's segments. Returns the pieces that have any.
 */
static size_t cut_pieces(struct file *f, size_t nf, struct piece *pc, size_t np,
                         int lines)
{
	int64_t total = f[nf - 1].base + f[nf - 1].size, prev = 0;
	size_t k, i, used = 0;

	for (k = 0; k < np; k++) {
		int64_t cut = total;

		if (k + 1 < np) {
			int64_t target = total / (int64_t)np * (int64_t)(k + 1);

			if (target < prev)
				target = prev;
			for (i = 0;
			     i + 1 < nf && f[i].base + f[i].size <= target;)
				i++;
			cut = f[i].base;
			if (target < f[i].base + f[i].size) {
				cut += filecut_after(
				    f[i].fd, target - f[i].base, f[i].size);
			} else {
				cut += f[i].size;
			}
		}
		for (i = 0; i < nf; i++) {
			int64_t a = prev > f[i].base ? prev : f[i].base;
			int64_t b = f[i].base + f[i].size;

			add_seg(&pc[used], i, a - f[i].base,
			        (cut < b ? cut : b) - f[i].base);
		}
		prev = cut;
		if (pc[used].nsegs)
			used++;
	}
	/* --on-error dlq=: a dead-letter line names its line */
	for (k = 0; k < used && lines; k++)
		for (i = 0; i < pc[k].nsegs; i++) {
			struct seg *s = &pc[k].segs[i];

			if (s->start)
				s->first_line =
				    filecut_lines(f[s->file].fd, s->start) + 1;
		}
	return used;
}

/* ---- the threads ---- */

static void *piece_thread(void *arg)
{
	struct piece *p = arg;
	size_t i;

	for (i = 0; i < p->nsegs && !p->rc; i++) {
		const struct seg *s = &p->segs[i];
		uint64_t before = p->ctx.st.records_in;

		p->rc = agg_piece_read(p->ap, p->files[s->file].path, s->start,
		                       s->len, s->first_line);
		p->records[s->file] += p->ctx.st.records_in - before;
	}
	agg_thread_end();
	return NULL;
}

/* The thread's ctx: its own counters and dead letters, no messages. */
static void piece_ctx(struct piece *p, const struct fx_ctx *ctx)
{
	fx_ctx_for_thread(&p->ctx, ctx);
	/* a bad record under fail sends the input to one thread */
	if (ctx->on_error == FX_ON_ERROR_FAIL)
		p->ctx.on_error = FX_ON_ERROR_SKIP;
	if (ctx->on_error == FX_ON_ERROR_DLQ) {
		p->ctx.dlq = open_memstream(&p->dlq, &p->dlq_len);
		if (!p->ctx.dlq)
			fx_oom();
	}
}

static void piece_free(struct piece *p)
{
	if (p->ctx.dlq)
		fclose(p->ctx.dlq);
	free(p->dlq);
	free(p->segs);
	free(p->records);
	agg_piece_free(p->ap);
}

/*
 * Whether the pieces are one run's: nothing they could not do, and no
 * record on time in a piece that one run would have found late.
 */
static int pieces_agree(const struct fx_ctx *ctx, struct piece *pc, size_t np)
{
	int64_t wm = INT64_MIN;
	size_t k;

	for (k = 0; k < np; k++) {
		if (!agg_piece_mergeable(pc[k].ap))
			return 0;
		if (ctx->on_error == FX_ON_ERROR_FAIL &&
		    pc[k].ctx.st.bad_records)
			return 0;
		if (!agg_piece_on_time(pc[k].ap, wm))
			return 0;
		if (agg_piece_watermark(pc[k].ap) > wm)
			wm = agg_piece_watermark(pc[k].ap);
	}
	return 1;
}

/* The pieces' counters, dead letters and datasets, into ctx. */
static int pieces_account(struct fx_ctx *ctx, struct piece *pc, size_t np,
                          const struct file *f, size_t nf)
{
	size_t k, i;
	int rc = 0;

	for (k = 0; k < np; k++) {
		/* records_out: the rows written ahead */
		fx_stats_add(&ctx->st, &pc[k].ctx.st);
		if (!pc[k].ctx.dlq)
			continue;
		fflush(pc[k].ctx.dlq);
		if (!pc[k].dlq_len || rc)
			continue;
		if (!ctx->dlq && fx_dlq_open(ctx)) {
			rc = FX_EXIT_IO;
			continue;
		}
		if (fwrite(pc[k].dlq, 1, pc[k].dlq_len, ctx->dlq) !=
		    pc[k].dlq_len) {
			fx_warn(ctx, "%s: write error: %s", ctx->dlq_path,
			        strerror(errno));
			rc = FX_EXIT_IO;
		}
	}
	for (i = 0; i < nf; i++) {
		uint64_t n = 0;

		for (k = 0; k < np; k++)
			n += pc[k].records[i];
		lineage_count(lineage_input_fd(ctx, f[i].fd, f[i].path), n);
	}
	return rc;
}

/* Runs the pieces; 0 and the merged piece in *out, or -1: run it whole. */
static int run_pieces(struct fx_ctx *ctx, const struct agg_opts *o,
                      struct piece *pc, size_t np, struct agg_piece **out)
{
	size_t k;
	int rc = 0;

	for (k = 0; k < np; k++) {
		piece_ctx(&pc[k], ctx);
		/* arrival numbers in file order: 2^52 records a piece */
		pc[k].ap = agg_piece_new(&pc[k].ctx, o, (uint64_t)k << 52, !k);
	}
	for (k = 1; k < np; k++)
		pc[k].started =
		    pthread_create(&pc[k].tid, NULL, piece_thread, &pc[k]) == 0;
	piece_thread(&pc[0]);
	for (k = 1; k < np; k++) {
		if (pc[k].started)
			pthread_join(pc[k].tid, NULL);
		else
			piece_thread(&pc[k]); /* no thread: here, in turn */
	}
	for (k = 0; k < np && !rc; k++)
		rc = pc[k].rc;
	if (rc)
		return rc; /* an I/O error, reported */
	if (!pieces_agree(ctx, pc, np))
		return -1;
	for (k = 1; k < np; k++)
		if (agg_piece_absorb(pc[0].ap, pc[k].ap))
			return -1;
	*out = pc[0].ap;
	pc[0].ap = NULL;
	return 0;
}

int aggpar_run(struct fx_ctx *ctx, const struct agg_opts *o, char **inputs,
               size_t n, int64_t jobs)
{
	struct file *f;
	struct piece *pc = NULL;
	struct agg_piece *merged = NULL;
	int64_t total = 0;
	size_t i, np = 0;
	int rc = -1, arc;

	if (jobs <= 0)
		jobs = fx_cores();
	if (jobs > 1024) /* arrival numbers: k << 52 stays positive */
		jobs = 1024;
	if (jobs < 2 || !n || !options_allow(o))
		return agg_run(ctx, o, inputs, n);
	/*
	 * The pieces need every file open at once: more files than the
	 * descriptors allowed (with room for the rest) go one at a time.
	 */
	if (n + 64 > fs_raise_fd_limit())
		return agg_run(ctx, o, inputs, n);
	f = fx_malloc(n * sizeof(*f));
	/* pinned: the pieces, and one run over it all if they cannot do */
	for (i = 0; i < n; i++) {
		f[i].path = inputs[i];
		f[i].base = total;
		f[i].fd = strcmp(inputs[i], "-") != 0
		              ? fx_input_pin(ctx, inputs[i])
		              : -1;
		if (f[i].fd < 0 || !filecut_plain(f[i].fd, &f[i].size))
			break;
		total += f[i].size;
	}
	if (i == n && total / AGGPAR_MIN_PIECE >= 2) {
		/* the options are checked, and usage errors said, once */
		agg_piece_free(agg_piece_new(ctx, o, 0, 1));
		np = (size_t)(jobs < total / AGGPAR_MIN_PIECE
		                  ? jobs
		                  : total / AGGPAR_MIN_PIECE);
		pc = fx_malloc(np * sizeof(*pc));
		memset(pc, 0, np * sizeof(*pc));
		np = cut_pieces(f, n, pc, np, ctx->on_error == FX_ON_ERROR_DLQ);
		for (i = 0; i < np; i++) {
			pc[i].files = f;
			pc[i].records = fx_malloc(n * sizeof(uint64_t));
			memset(pc[i].records, 0, n * sizeof(uint64_t));
		}
	}
	if (np > 1)
		rc = run_pieces(ctx, o, pc, np, &merged);
	if (!rc)
		rc = pieces_account(ctx, pc, np, f, n);
	for (i = 0; pc && i < np; i++)
		piece_free(&pc[i]);
	free(pc);
	free(f);
	if (rc < 0) { /* not in pieces: one thread reads it all */
		rc = agg_run(ctx, o, inputs, n);
		fx_input_unpin_all(ctx);
		return rc;
	}
	fx_input_unpin_all(ctx);
	if (!merged)
		return rc;
	arc = agg_piece_emit(merged, ctx);
	return rc ? rc : arc;
}
