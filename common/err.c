/* err.c - messages and bad records */
#include "err.h"
#include "base64.h"
#include "buf.h"
#include "json.h"
#include "lineage.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fx_vwarn(const struct fx_ctx *ctx, const char *fmt, va_list ap)
{
	/* one write per message, so concurrent programs do not interleave */
	char line[4096];
	int n = snprintf(line, sizeof(line), "%s: ", ctx ? ctx->prog : "fx");

	if (n < 0)
		return;
	if ((size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	fprintf(stderr, "%s\n", line);
	if (ctx && (size_t)n < sizeof(line))
		lineage_note_message(ctx->lineage, line + n); /* for FAIL */
}

void fx_warn(const struct fx_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fx_vwarn(ctx, fmt, ap);
	va_end(ap);
}

void fx_die(const struct fx_ctx *ctx, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fx_vwarn(ctx, fmt, ap);
	va_end(ap);
	exit(status);
}

void fx_oom(void)
{
	static const char msg[] = "fx: out of memory\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);

	(void)r;
	abort();
}

void *fx_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fx_oom();
	return p;
}

void *fx_realloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		fx_oom();
	return p;
}

char *fx_strdup(const char *s)
{
	return fx_strndup(s, strlen(s));
}

char *fx_strndup(const char *s, size_t n)
{
	char *p = fx_malloc(n + 1);

	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

const char *fx_where_format(const struct fx_where *w, char *buf, size_t n)
{
	if (w->partition >= 0)
		snprintf(buf, n, "%s/%" PRId64 "@%" PRId64, w->source,
		         w->partition, w->offset);
	else if (w->line)
		snprintf(buf, n, "%s:%" PRIu64, w->source, w->line);
	else
		snprintf(buf, n, "%s", w->source);
	return buf;
}

static int dlq_append(struct fx_ctx *ctx, const char *where, const char *msg,
                      const char *raw, size_t rawlen)
{
	struct fx_buf b = FX_BUF_INIT;
	int rc = 0;

	if (!ctx->dlq) {
		ctx->dlq = fopen(ctx->dlq_path, "a");
		if (!ctx->dlq) {
			fx_warn(ctx, "%s: cannot open dead-letter file: %s",
			        ctx->dlq_path, strerror(errno));
			return FX_EXIT_IO;
		}
	}
	fx_buf_adds(&b, "{\"_fx_error\":");
	fx_buf_add_json_string(&b, msg, strlen(msg));
	fx_buf_adds(&b, ",\"source\":");
	fx_buf_add_json_string(&b, where, strlen(where));
	if (json_utf8_valid(raw, rawlen)) {
		fx_buf_adds(&b, ",\"raw\":");
		fx_buf_add_json_string(&b, raw, rawlen);
	} else {
		/* bytes that are not text cannot be a JSON string */
		fx_buf_adds(&b, ",\"raw_base64\":\"");
		base64_encode(&b, raw, rawlen);
		fx_buf_addc(&b, '"');
	}
	fx_buf_adds(&b, "}\n");
	if (fwrite(b.p, 1, b.len, ctx->dlq) != b.len) {
		fx_warn(ctx, "%s: write error: %s", ctx->dlq_path,
		        strerror(errno));
		rc = FX_EXIT_IO;
	}
	fx_buf_free(&b);
	return rc;
}

int fx_bad_record(struct fx_ctx *ctx, const struct fx_where *where,
                  const char *field, const char *raw, size_t rawlen,
                  const char *fmt, ...)
{
	char wbuf[512], msg[2048];
	size_t n = 0;
	va_list ap;

	ctx->st.bad_records++;
	if (ctx->on_error == FX_ON_ERROR_SKIP)
		return 0;
	if (field) {
		int k = snprintf(msg, sizeof(msg), "field \"%s\": ", field);
		if (k > 0)
			n = (size_t)k < sizeof(msg) ? (size_t)k
			                            : sizeof(msg) - 1;
	}
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	fx_where_format(where, wbuf, sizeof(wbuf));
	if (ctx->on_error == FX_ON_ERROR_DLQ)
		return dlq_append(ctx, wbuf, msg, raw, rawlen);
	fx_warn(ctx, "%s: %s", wbuf, msg);
	return FX_EXIT_DATA;
}
