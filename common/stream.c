/* stream.c - validated records from one input */
#include "stream.h"
#include "err.h"
#include "lineage.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int record_stream_open(struct record_stream *rs, struct fx_ctx *ctx,
                       const char *path, int gz, const struct json_paths *paths)
{
	int rc;

	memset(rs, 0, sizeof(*rs));
	rs->ctx = ctx;
	rs->paths = paths;
	rc = fx_input_open(&rs->in, ctx, path, gz);
	if (rc)
		return rc;
	record_reader_init(&rs->reader, &rs->in, ctx->max_record);
	rs->open = 1;
	rs->dataset = lineage_input_fd(ctx, rs->in.fd, path);
	return 0;
}

int record_stream_open_at(struct record_stream *rs, struct fx_ctx *ctx,
                          const char *path, int gz,
                          const struct json_paths *paths, int64_t start,
                          int64_t len, uint64_t first_line)
{
	int rc = record_stream_open(rs, ctx, path, gz, paths);

	if (rc)
		return rc;
	rs->in.left = len;
	if (start <= 0)
		return 0;
	/* the middle of the data: no gzip or byte order mark there */
	rs->in.sniffed = rs->in.bom_checked = 1;
	rs->reader.line = first_line - 1;
	if (lseek(rs->in.fd, (off_t)start, SEEK_SET) < 0) {
		fx_warn(ctx, "%s: %s", path, strerror(errno));
		return FX_EXIT_IO;
	}
	return 0;
}

struct fx_where record_stream_where(const struct record_stream *rs,
                                    const struct record *rec)
{
	return FX_WHERE_LINE(rs->in.name, rec->line);
}

/*
 * The first line of a file named like CSV is no JSON: the reader most
 * likely wants fx-consume, the one program that reads CSV as records.
 */
static const char *csv_hint(const struct fx_where *w)
{
	static const char *const ext[] = {".csv", ".csv.gz", ".tsv", ".tsv.gz"};
	size_t n, k, i;

	if (w->line != 1 || !w->source)
		return "";
	n = strlen(w->source);
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		k = strlen(ext[i]);
		if (n > k && strcmp(w->source + n - k, ext[i]) == 0)
			return " (CSV? read it with fx-consume, which turns "
			       "rows into records)";
	}
	return "";
}

/*
 * A line longer than --max-record: rec holds its first max_record bytes.
 * The dead-letter record keeps them and says how long the line was, which
 * is known only once the rest is read; fail and skip do not need it (fail
 * stops at once, skip drops the rest at the next read).
 */
static int bad_long_record(struct record_stream *rs, const struct record *rec,
                           const struct fx_where *w)
{
	struct fx_ctx *ctx = rs->ctx;
	int64_t len;
	char *head;
	int rc;

	if (ctx->on_error != FX_ON_ERROR_DLQ)
		return fx_bad_record(
		    ctx, w, NULL, rec->p, rec->len,
		    "record longer than --max-record (%zu bytes)",
		    ctx->max_record);
	head = fx_strndup(rec->p, rec->len); /* the skip reuses the buffer */
	len = record_reader_skip_long(&rs->reader);
	if (len < 0) {
		free(head);
		return FX_EXIT_IO;
	}
	rc = fx_bad_record_cut(ctx, w, NULL, head, rec->len, (uint64_t)len,
	                       "record longer than --max-record (%zu bytes)",
	                       ctx->max_record);
	free(head);
	return rc;
}

int record_stream_next(struct record_stream *rs, struct record *rec,
                       struct json_value *vals, int *scan_flags)
{
	struct fx_ctx *ctx = rs->ctx;

	for (;;) {
		struct json_error err;
		struct fx_where w;
		int r = record_reader_next(&rs->reader, rec);

		if (r == RECORD_EOF)
			return 0;
		if (r == RECORD_IO_ERROR)
			return -FX_EXIT_IO;
		ctx->st.records_in++;
		rs->records++;
		fx_progress(ctx); /* every program's loop: --progress for all */
		w = record_stream_where(rs, rec);
		if (r == RECORD_TOO_LONG) {
			r = bad_long_record(rs, rec, &w);
			if (r)
				return -r;
			continue;
		}
		r = json_scan(&rs->scanner, rs->paths, rec->p, rec->len, vals,
		              &err, 0);
		if (r >= 0) {
			*scan_flags = r;
			return 1;
		}
		if (r == JSON_SCAN_NOT_OBJECT)
			r = fx_bad_record(ctx, &w, NULL, rec->p, rec->len,
			                  "not a JSON object");
		else
			r = fx_bad_record(ctx, &w, NULL, rec->p, rec->len,
			                  "invalid JSON: %s at byte %zu%s",
			                  err.reason, err.offset + 1,
			                  csv_hint(&w));
		if (r)
			return -r;
	}
}

/* Runs are tried again after at most this many records one by one. */
#define RUN_BACKOFF_MAX 1024

int record_stream_next_run(struct record_stream *rs, struct record_run *run,
                           struct record *rec, struct json_value *vals,
                           int *scan_flags)
{
	struct fx_ctx *ctx = rs->ctx;
	const char *p;
	size_t avail, len;
	uint64_t n;

	run->n = 0;
	if (rs->run_skip) {
		rs->run_skip--;
	} else if ((avail = record_reader_lines(&rs->reader, &p)) > 0) {
		len = json_scan_lines(&rs->scanner, p, avail, ctx->max_record,
		                      &n);
		if (n) {
			run->p = p;
			run->len = len;
			run->n = n;
			run->line = rs->reader.line + 1;
			record_reader_take(&rs->reader, len, n);
			ctx->st.records_in += n;
			rs->records += n;
			fx_progress(ctx);
			rs->run_backoff = 0;
			return 1;
		}
		/* the first line is not for a run: bad, blank, an array... */
		if (rs->scanner.simd == 2) {
			rs->run_backoff =
			    rs->run_backoff ? rs->run_backoff * 2 : 1;
			if (rs->run_backoff > RUN_BACKOFF_MAX)
				rs->run_backoff = RUN_BACKOFF_MAX;
			rs->run_skip = rs->run_backoff - 1;
		} else {
			rs->run_skip = UINT_MAX; /* no vector path: never */
		}
	}
	return record_stream_next(rs, rec, vals, scan_flags);
}

void record_stream_close(struct record_stream *rs)
{
	if (!rs->open)
		return;
	rs->ctx->st.bytes_in += rs->reader.bytes;
	lineage_count(rs->dataset, rs->records);
	record_reader_free(&rs->reader);
	json_scanner_free(&rs->scanner);
	fx_input_close(&rs->in);
	rs->open = 0;
}
