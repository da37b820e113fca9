/* err.c - messages and bad records */
#include "err.h"
#include "base64.h"
#include "buf.h"
#include "json.h"

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
	if (ctx && ctx->hooks && ctx->hooks->on_message &&
	    (size_t)n < sizeof(line))
		ctx->hooks->on_message(ctx, line + n); /* lineage: for FAIL */
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

/*
 * The documented status of a failed resource, not abort()'s 134: a
 * pipeline's caller tells it from a crash. _exit(), not exit(): a half
 * written output buffer and the atexit() handlers are not to be trusted
 * now (a checkpointed job restarts from its last checkpoint).
 */
void fx_oom(void)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "%s: out of memory\n",
	                 program_invocation_short_name);
	ssize_t r =
	    write(2, msg, n > 0 && (size_t)n < sizeof(msg) ? (size_t)n : 0);

	(void)r;
	_exit(FX_EXIT_IO);
}

void *fx_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		fx_oom();
	return p;
}

void *fx_calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		fx_oom();
	p = fx_malloc(n * size);
	memset(p, 0, n * size);
	return p;
}

size_t fx_grow_size(size_t cap, size_t need, size_t first, size_t elem)
{
	size_t c = cap ? cap : (first ? first : 1);

	while (c < need) {
		if (c > SIZE_MAX / 2)
			fx_oom();
		c *= 2;
	}
	if (elem && c > SIZE_MAX / elem)
		fx_oom();
	return c;
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

int fx_dlq_open(struct fx_ctx *ctx)
{
	if (ctx->dlq || ctx->on_error != FX_ON_ERROR_DLQ)
		return 0;
	ctx->dlq = fopen(ctx->dlq_path, "a");
	if (!ctx->dlq) {
		fx_warn(ctx, "%s: cannot open dead-letter file: %s",
		        ctx->dlq_path, strerror(errno));
		return FX_EXIT_IO;
	}
	return 0;
}

/*
 * The length of p[0..n) without a character cut short at its end: a lead
 * byte followed by fewer continuation bytes than it announces.
 */
static size_t utf8_whole_prefix(const char *p, size_t n)
{
	size_t k;

	for (k = 1; k <= 3 && k <= n; k++) {
		unsigned char c = (unsigned char)p[n - k];
		size_t need;

		if ((c & 0xC0) == 0x80) /* a continuation byte: look further */
			continue;
		need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		return need > k ? n - k : n;
	}
	return n;
}

/* cut: raw is the first rawlen bytes of a record of full_len bytes */
static int dlq_append(struct fx_ctx *ctx, const char *where, const char *msg,
                      const char *raw, size_t rawlen, int cut,
                      uint64_t full_len)
{
	struct fx_buf b = FX_BUF_INIT;
	size_t whole;
	int rc = 0;

	if (!ctx->dlq && fx_dlq_open(ctx))
		return FX_EXIT_IO;
	fx_buf_adds(&b, "{\"_fx_error\":");
	fx_buf_add_json_string(&b, msg, strlen(msg));
	fx_buf_adds(&b, ",\"source\":");
	fx_buf_add_json_string(&b, where, strlen(where));
	/* text cut inside a character is still text, one character shorter */
	whole = cut ? utf8_whole_prefix(raw, rawlen) : rawlen;
	if (json_utf8_valid(raw, whole)) {
		fx_buf_adds(&b, ",\"raw\":");
		fx_buf_add_json_string(&b, raw, whole);
	} else {
		/* bytes that are not text cannot be a JSON string */
		fx_buf_adds(&b, ",\"raw_base64\":\"");
		base64_encode(&b, raw, rawlen);
		fx_buf_addc(&b, '"');
	}
	if (cut) {
		char num[64];

		snprintf(num, sizeof(num),
		         ",\"raw_truncated\":true,\"raw_length\":%" PRIu64,
		         full_len);
		fx_buf_adds(&b, num);
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

static int vbad_record(struct fx_ctx *ctx, const struct fx_where *where,
                       const char *field, const char *raw, size_t rawlen,
                       int cut, uint64_t full_len, const char *fmt, va_list ap)
    FX_PRINTF(8, 0);

static int vbad_record(struct fx_ctx *ctx, const struct fx_where *where,
                       const char *field, const char *raw, size_t rawlen,
                       int cut, uint64_t full_len, const char *fmt, va_list ap)
{
	char wbuf[512], msg[2048];
	size_t n = 0;

	ctx->st.bad_records++;
	if (ctx->on_error == FX_ON_ERROR_SKIP)
		return 0;
	if (field) {
		int k = snprintf(msg, sizeof(msg), "field \"%s\": ", field);
		if (k > 0)
			n = (size_t)k < sizeof(msg) ? (size_t)k
			                            : sizeof(msg) - 1;
	}
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	fx_where_format(where, wbuf, sizeof(wbuf));
	if (ctx->on_error == FX_ON_ERROR_DLQ)
		return dlq_append(ctx, wbuf, msg, raw, rawlen, cut, full_len);
	fx_warn(ctx, "%s: %s", wbuf, msg);
	return FX_EXIT_DATA;
}

int fx_bad_record(struct fx_ctx *ctx, const struct fx_where *where,
                  const char *field, const char *raw, size_t rawlen,
                  const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vbad_record(ctx, where, field, raw, rawlen, 0, 0, fmt, ap);
	va_end(ap);
	return rc;
}

int fx_bad_record_cut(struct fx_ctx *ctx, const struct fx_where *where,
                      const char *field, const char *raw, size_t rawlen,
                      uint64_t full_len, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vbad_record(ctx, where, field, raw, rawlen, 1, full_len, fmt, ap);
	va_end(ap);
	return rc;
}
