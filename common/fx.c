/* fx.c - program set-up, signals, --stats */
#include "fx.h"
#include "err.h"
#include "fxtime.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t fx_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	fx_stop = 1;
}

double fx_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double fx_now_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fx_init(struct fx_ctx *ctx, const char *prog)
{
	struct sigaction sa;

	memset(ctx, 0, sizeof(*ctx));
	ctx->prog = prog;
	ctx->max_record = FX_DEFAULT_MAX_RECORD;
	ctx->start_time = fx_now();
	ctx->last_progress = fx_now_coarse();

	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a blocking read returns EINTR and the loop stops */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int64_t fx_epoch_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends to buf (n bytes, len used); a full buf stays as it is, cut. */
__attribute__((format(printf, 4, 5))) static size_t
addf(char *buf, size_t n, size_t len, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (len + 1 >= n)
		return len;
	va_start(ap, fmt);
	r = vsnprintf(buf + len, n - len, fmt, ap);
	va_end(ap);
	if (r < 0)
		return len;
	return len + (size_t)r < n ? len + (size_t)r : n - 1;
}

/*
 * The checkpoint fields of a --stats line (full) or a progress line, into
 * buf: "" when the run takes no part in checkpoints.
 */
static void ckpt_fields(const struct fx_ckpt_stats *c, int full, char *buf,
                        size_t n)
{
	char when[FX_TIME_ISO_LEN + 1];
	size_t len = 0;

	buf[0] = 0;
	if (!c->on)
		return;
	if (full && c->restored_seen)
		len = addf(buf, n, len, ", restored %" PRIu64, c->restored);
	len = addf(buf, n, len, ", checkpoint %" PRIu64 ", committed %" PRIu64,
	           c->last, c->committed);
	if (!full)
		return;
	if (c->restore_ms > 0)
		len = addf(buf, n, len, ", restore %.1f ms", c->restore_ms);
	if (c->snapshots) {
		fx_time_format_iso(c->snapshot_at_ms, when);
		addf(buf, n, len,
		     ", state %" PRIu64 " bytes, snapshot %.1f ms at %s",
		     c->state_bytes, c->snapshot_ms, when);
	}
}

static void print_stats(const struct fx_ctx *ctx, const char *when)
{
	double secs = fx_now() - ctx->start_time;
	const struct fx_stats *s = &ctx->st;
	char ck[320];

	if (secs <= 0)
		secs = 1e-9;
	ckpt_fields(&ctx->ckpt, 1, ck, sizeof(ck));
	fprintf(stderr,
	        "%s: %s: %" PRIu64 " records in, %" PRIu64
	        " records out, %" PRIu64 " bad, %" PRIu64 " bytes in, %" PRIu64
	        " bytes out, %.3f s, %.0f records/s, %.1f MB/s%s\n",
	        ctx->prog, when, s->records_in, s->records_out, s->bad_records,
	        s->bytes_in, s->bytes_out, secs, (double)s->records_in / secs,
	        (double)s->bytes_in / secs / 1e6, ck);
	if (ctx->count_late)
		fprintf(stderr, "%s: %s: %" PRIu64 " late records\n", ctx->prog,
		        when, s->late);
}

static void print_progress(struct fx_ctx *ctx, double now)
{
	const struct fx_stats *s = &ctx->st;
	double secs = now - ctx->last_progress;
	uint64_t recs = s->records_in - ctx->last_progress_records;
	char lag[48] = "", ck[320];

	if (ctx->progress_lag) {
		int64_t n = ctx->progress_lag(ctx->progress_lag_arg);

		if (n >= 0)
			snprintf(lag, sizeof(lag), ", lag %" PRId64, n);
	}
	ckpt_fields(&ctx->ckpt, 0, ck, sizeof(ck));
	fprintf(stderr,
	        "%s: progress: %" PRIu64 " records in, %" PRIu64
	        " records out, %" PRIu64 " bad, %.1f s, %.0f records/s%s%s\n",
	        ctx->prog, s->records_in, s->records_out, s->bad_records,
	        now - ctx->start_time, secs > 0 ? (double)recs / secs : 0.0,
	        lag, ck);
	ctx->last_progress = now;
	ctx->last_progress_records = s->records_in;
}

int64_t fx_cores(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set))
		return CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

void fx_ctx_for_thread(struct fx_ctx *t, const struct fx_ctx *ctx)
{
	*t = *ctx;
	t->lineage = NULL;
	t->hooks = NULL;
	t->stats = t->progress = 0;
	t->progress_lag = NULL;
	t->dlq = NULL;
	memset(&t->st, 0, sizeof(t->st));
	memset(&t->ckpt, 0, sizeof(t->ckpt));
}

void fx_stats_add(struct fx_stats *to, const struct fx_stats *s)
{
	to->records_in += s->records_in;
	to->records_out += s->records_out;
	to->bytes_in += s->bytes_in;
	to->bytes_out += s->bytes_out;
	to->bad_records += s->bad_records;
	to->late += s->late;
}

void fx_progress(struct fx_ctx *ctx)
{
	double now;

	if (!ctx->progress)
		return;
	now = fx_now_coarse();
	if (now - ctx->last_progress >= FX_PROGRESS_SECONDS)
		print_progress(ctx, now);
}

int fx_stdout_closed(void)
{
	/* a pipe's write end polls POLLERR once its last reader is gone */
	struct pollfd p = {STDOUT_FILENO, 0, 0};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

int fx_stdout_flush(const struct fx_ctx *ctx)
{
	static int reported; /* stdout is the process's: report it once */
	int failed, err;

	if (reported)
		return reported;
	errno = 0;
	failed = fflush(stdout) != 0;
	err = errno;
	if (!failed && !ferror(stdout))
		return 0;
	if (err == EPIPE || fx_stdout_closed())
		return reported = FX_EXIT_CLOSED;
	/* stdio may have dropped the failed bytes, and errno with them */
	if (failed && err)
		fx_warn(ctx, "stdout: write error: %s", strerror(err));
	else
		fx_warn(ctx, "stdout: write error");
	return reported = FX_EXIT_IO;
}

int fx_finish(struct fx_ctx *ctx, int status)
{
	int out = fx_stdout_flush(ctx);

	if (status == FX_EXIT_CLOSED)
		status = FX_EXIT_OK; /* | head: the reader has what it wanted */
	if (status == FX_EXIT_OK && out == FX_EXIT_IO)
		status = FX_EXIT_IO;
	if (ctx->dlq) {
		if (fclose(ctx->dlq) != 0 && status == FX_EXIT_OK) {
			fx_warn(ctx, "%s: write error: %s", ctx->dlq_path,
			        strerror(errno));
			status = FX_EXIT_IO;
		}
		ctx->dlq = NULL;
	}
	if (ctx->stats)
		print_stats(ctx, "stats");
	if (ctx->hooks && ctx->hooks->on_finish)
		ctx->hooks->on_finish(ctx, status);
	return status;
}

int fx_write_line_atomic(const char *path, const char *line)
{
	size_t n = strlen(path) + 32;
	char *tmp = fx_malloc(n);
	FILE *f;
	int rc = 0, err;

	snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		err = errno;
		unlink(tmp);
		errno = err;
		rc = -1;
	}
	free(tmp);
	return rc;
}
