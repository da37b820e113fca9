/* csvio.c - CSV in (libcsv plus a fast path) and out */
#include "csvio.h"
#include "input.h"
#include "err.h"
#include "json.h"
#include "num.h"

#include <csv.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * How a row is read. The input is cut into rows before it is parsed: a row
 * ends at the first '\n' with an even number of '"' since the row began (in
 * strict RFC 4180 quoting an odd count means "inside a quoted field"). A row
 * without any '"' or bare '\r' is split on ',' directly (the fast path: one
 * pass that finds the commas and whether any byte needs escaping). Any other
 * row is handed, whole, to libcsv in strict mode and the parser is finished
 * after it. So a malformed row costs one bad record and the next row starts
 * clean, and both paths see exactly the same rows (the unit test checks that
 * they agree).
 */

struct field {
	size_t off, len; /* into the row's bytes or into r->fbuf */
};

struct csvio_reader {
	struct fx_ctx *ctx;
	const char *source;
	int strings_only;
	const char *extra;
	size_t extra_len;
	csvio_row_fn row_fn;
	void *arg;

	/* the row being cut: bytes carried between feeds, quote parity */
	struct fx_buf pend;
	size_t scan; /* bytes of the row being cut scanned so far */
	int odd, anyq;
	int discard;   /* skipping the rest of an over-long row */
	int at_start;  /* nothing read yet: a BOM may come */
	uint64_t line; /* the line the next row starts on */
	uint64_t rows;
	int status; /* sticky: non-zero once row_fn or fail asked to stop */

	/* header */
	int have_header;
	int dead; /* the header was bad: the rest of the input is dropped */
	size_t ncols;
	struct fx_buf keys;  /* "\"a\":" ",\"b\":" … */
	size_t *key_off;     /* ncols + 1 offsets into keys */
	struct fx_buf names; /* NUL-terminated names, for messages */
	size_t *name_off;

	/* the current row's fields */
	struct field *f;
	size_t nf, fcap;

	/* the libcsv path */
	struct csv_parser cp;
	struct fx_buf fbuf; /* field bytes copied out of libcsv */
	const char *span;   /* the raw row(s) handed to libcsv */
	size_t span_len;
	uint64_t slow_line;

	struct fx_buf out;
};

static int never_space(unsigned char c)
{
	/* keep every byte: " 1" must come back as " 1" */
	(void)c;
	return 0;
}

static void parser_init(struct csvio_reader *r)
{
	csv_init(&r->cp, CSV_STRICT | CSV_STRICT_FINI);
	csv_set_space_func(&r->cp, never_space);
}

struct csvio_reader *csvio_reader_new(struct fx_ctx *ctx, const char *source,
                                      int strings_only, const char *extra,
                                      csvio_row_fn row_fn, void *arg)
{
	struct csvio_reader *r = fx_malloc(sizeof(*r));

	memset(r, 0, sizeof(*r));
	r->ctx = ctx;
	r->source = source;
	r->strings_only = strings_only;
	r->extra = extra ? extra : "";
	r->extra_len = strlen(r->extra);
	r->row_fn = row_fn;
	r->arg = arg;
	r->line = 1;
	r->at_start = 1;
	parser_init(r);
	return r;
}

void csvio_reader_free(struct csvio_reader *r)
{
	if (!r)
		return;
	csv_free(&r->cp);
	fx_buf_free(&r->pend);
	fx_buf_free(&r->keys);
	fx_buf_free(&r->names);
	fx_buf_free(&r->fbuf);
	fx_buf_free(&r->out);
	free(r->key_off);
	free(r->name_off);
	free(r->f);
	free(r);
}

uint64_t csvio_reader_rows(const struct csvio_reader *r)
{
	return r->rows;
}

int csvio_reader_header_record(const struct csvio_reader *r, struct fx_buf *b)
{
	size_t i;

	if (!r->have_header || r->dead)
		return -1;
	fx_buf_addc(b, '{');
	for (i = 0; i < r->ncols; i++) {
		/* "name": (with the comma before it after the first) */
		fx_buf_add(b, r->keys.p + r->key_off[i],
		           r->key_off[i + 1] - r->key_off[i]);
		fx_buf_adds(b, "null");
	}
	fx_buf_addc(b, '}');
	return 0;
}

static void add_field(struct csvio_reader *r, size_t off, size_t len)
{
	if (r->nf == r->fcap) {
		r->fcap = r->fcap ? 2 * r->fcap : 16;
		r->f = fx_realloc(r->f, r->fcap * sizeof(*r->f));
	}
	r->f[r->nf].off = off;
	r->f[r->nf].len = len;
	r->nf++;
}

static int bad(struct csvio_reader *r, uint64_t line, const char *raw,
               size_t rawlen, const char *what, const char *name)
{
	struct fx_where w = FX_WHERE_LINE(r->source, line);

	/*
	 * The row without its line end, whichever path cut it (a row with
	 * quotes comes from libcsv's span, line end included), as a dead
	 * letter of NDJSON has none.
	 */
	if (rawlen && raw[rawlen - 1] == '\n')
		rawlen--;
	if (rawlen && raw[rawlen - 1] == '\r')
		rawlen--;

	if (name)
		return fx_bad_record(r->ctx, &w, NULL, raw, rawlen, "%s \"%s\"",
		                     what, name);
	return fx_bad_record(r->ctx, &w, NULL, raw, rawlen, "%s", what);
}

/* A bad header spoils every row after it: report it once, drop the rest. */
static int bad_header(struct csvio_reader *r, uint64_t line, const char *raw,
                      size_t rawlen, const char *what, const char *name)
{
	int rc = bad(r, line, raw, rawlen, what, name);

	r->dead = 1;
	if (r->ctx->on_error != FX_ON_ERROR_FAIL)
		fx_warn(r->ctx,
		        "%s:%" PRIu64
		        ": bad header: skipping the rest of this input",
		        r->source, line);
	return rc;
}

static const char *name_at(const struct csvio_reader *r, size_t i)
{
	return r->names.p + r->name_off[i];
}

struct named_col {
	const char *name;
	size_t col;
};

static int named_col_cmp(const void *a, const void *b)
{
	const struct named_col *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->col > y->col) - (x->col < y->col);
}

/*
 * The first column whose name an earlier column has, or r->nf: sorted by
 * name, so that a header of 40,000 columns is not 800 million compares.
 */
static size_t first_duplicate(const struct csvio_reader *r)
{
	struct named_col *v;
	size_t i, first = r->nf;

	if (r->nf < 2)
		return r->nf;
	v = fx_malloc(r->nf * sizeof(*v));
	for (i = 0; i < r->nf; i++)
		v[i] = (struct named_col){name_at(r, i), i};
	qsort(v, r->nf, sizeof(*v), named_col_cmp);
	/* equal names sit together, in column order */
	for (i = 1; i < r->nf; i++)
		if (v[i].col < first && strcmp(v[i].name, v[i - 1].name) == 0)
			first = v[i].col;
	free(v);
	return first;
}

static int set_header(struct csvio_reader *r, const char *base, uint64_t line,
                      const char *raw, size_t rawlen)
{
	size_t i;

	r->have_header = 1;
	r->ncols = r->nf;
	r->key_off = fx_malloc((r->nf + 1) * sizeof(size_t));
	r->name_off = fx_malloc((r->nf + 1) * sizeof(size_t));
	for (i = 0; i < r->nf; i++) {
		const char *s = base + r->f[i].off;
		size_t n = r->f[i].len;

		r->name_off[i] = r->names.len;
		fx_buf_add(&r->names, s, n);
		fx_buf_addc(&r->names, 0);
		if (!json_utf8_valid(s, n))
			return bad_header(r, line, raw, rawlen,
			                  "invalid UTF-8 in header field",
			                  NULL);
		r->key_off[i] = r->keys.len;
		if (i)
			fx_buf_addc(&r->keys, ',');
		fx_buf_add_json_string(&r->keys, s, n);
		fx_buf_addc(&r->keys, ':');
	}
	r->key_off[r->nf] = r->keys.len;
	i = first_duplicate(r);
	if (i < r->nf)
		return bad_header(r, line, raw, rawlen, "duplicate field name",
		                  name_at(r, i));
	return 0;
}

/* The first field that is not valid UTF-8, or r->nf. */
static size_t bad_utf8_field(const struct csvio_reader *r, const char *base)
{
	size_t i;

	for (i = 0; i < r->nf; i++)
		if (!json_utf8_valid(base + r->f[i].off, r->f[i].len))
			return i;
	return i;
}

/* What the fast path knows about a row's bytes. */
enum {
	ROW_UTF8_OK = 1, /* valid UTF-8 */
	ROW_PLAIN = 2,   /* no byte a JSON string must escape */
};

/*
 * 1 if the n bytes at s (1 to 16) are all digits: two loads that overlap,
 * no byte read outside.
 */
static inline int all_digits(const char *s, size_t n)
{
	uint64_t a8, b8;
	uint32_t a4, b4;

	if (n >= 8) {
		memcpy(&a8, s, 8);
		memcpy(&b8, s + n - 8, 8);
		return !fx_nondigits8(a8) && !fx_nondigits8(b8);
	}
	if (n >= 4) {
		memcpy(&a4, s, 4);
		memcpy(&b4, s + n - 4, 4);
		return !fx_nondigits8((uint64_t)a4 << 32 | b4);
	}
	return (unsigned)(s[0] - '0') <= 9 && (unsigned)(s[n / 2] - '0') <= 9 &&
	       (unsigned)(s[n - 1] - '0') <= 9;
}

/*
 * Whether a CSV field is a JSON number (fx_num_is_json_number): short
 * runs of digits, most numbers in CSV, settled here; words without a call.
 */
static inline int field_is_number(const char *s, size_t n)
{
	if (n - 1 < 16 && all_digits(s, n))
		return s[0] != '0' || n == 1;
	if (!n || ((unsigned)(s[0] - '0') > 9 && s[0] != '-'))
		return 0;
	return fx_num_is_json_number(s, n);
}

/* A field of a row with bytes to escape: a number, or a JSON string. */
static void add_value(struct csvio_reader *r, const char *s, size_t n)
{
	if (!r->strings_only && field_is_number(s, n))
		fx_buf_add(&r->out, s, n);
	else
		fx_buf_add_json_string(&r->out, s, n);
}

/*
 * A row with nothing to escape (ROW_PLAIN) as JSON in r->out: its size
 * known, the room made once, names and values copied in place, and only
 * fields that start as a number can be one (most are words and dates).
 */
static void render_plain(struct csvio_reader *r, const char *base)
{
	size_t i, need = r->key_off[r->nf] + r->extra_len + 2;
	char *o;

	for (i = 0; i < r->nf; i++)
		need += r->f[i].len + 2;
	fx_buf_reset(&r->out);
	if (r->out.cap < need)
		fx_buf_grow(&r->out, need);
	o = r->out.p;
	*o++ = '{';
	for (i = 0; i < r->nf; i++) {
		const char *v = base + r->f[i].off;
		size_t n = r->f[i].len, kn = r->key_off[i + 1] - r->key_off[i];
		int number = !r->strings_only && field_is_number(v, n);

		fx_copy_short(o, r->keys.p + r->key_off[i], kn);
		o += kn;
		if (!number)
			*o++ = '"';
		fx_copy_short(o, v, n);
		o += n;
		if (!number)
			*o++ = '"';
	}
	fx_copy_short(o, r->extra, r->extra_len);
	o += r->extra_len;
	*o++ = '}';
	r->out.len = (size_t)(o - r->out.p);
}

/*
 * One row's fields are in r->f, their bytes at base. raw/rawlen is the row
 * as read, for messages and the DLQ; flags are what the fast path found
 * checking the whole line at once (ROW_*), 0 from libcsv's path.
 */
static int emit(struct csvio_reader *r, const char *base, uint64_t line,
                const char *raw, size_t rawlen, int flags)
{
	char msg[64];
	size_t i, bad_i;
	int utf8_ok = flags & ROW_UTF8_OK, plain = flags & ROW_PLAIN;

	if (r->dead)
		return 0;
	if (!r->have_header)
		return set_header(r, base, line, raw, rawlen);
	r->rows++;
	if (r->nf != r->ncols) {
		snprintf(msg, sizeof(msg), "expected %zu fields, got %zu",
		         r->ncols, r->nf);
		return bad(r, line, raw, rawlen, msg, NULL);
	}
	if (!utf8_ok && (bad_i = bad_utf8_field(r, base)) < r->nf)
		return bad(r, line, raw, rawlen, "invalid UTF-8 in field",
		           name_at(r, bad_i));
	if (plain) {
		render_plain(r, base);
	} else {
		fx_buf_reset(&r->out);
		fx_buf_addc(&r->out, '{');
		for (i = 0; i < r->nf; i++) {
			fx_buf_add(&r->out, r->keys.p + r->key_off[i],
			           r->key_off[i + 1] - r->key_off[i]);
			add_value(r, base + r->f[i].off, r->f[i].len);
		}
		fx_buf_add(&r->out, r->extra, r->extra_len);
		fx_buf_addc(&r->out, '}');
	}
	return r->row_fn(r->arg, r->out.p, r->out.len, line);
}

/*
 * A row without quotes or bare CR: split on commas, in one pass that also
 * notes bytes past ASCII (then the row's UTF-8 is checked) and bytes a JSON
 * string escapes (control characters, '\\'; the row has no '"').
 */
static int fast_row(struct csvio_reader *r, const char *s, size_t n,
                    uint64_t line)
{
	size_t i = 0, start = 0;
	int high = 0, esc = 0, flags;

	r->nf = 0;
#if defined(__SSE2__)
	{
		const __m128i comma = _mm_set1_epi8(','),
		              bslash = _mm_set1_epi8('\\'),
		              space = _mm_set1_epi8(' ');

		/*
		 * 16 bytes a step; the last step ends at the row's end,
		 * over bytes already seen (shift drops them).
		 */
		while (n >= 16 && i < n) {
			size_t at0 = i + 16 <= n ? i : n - 16;
			unsigned shift = (unsigned)(i - at0);
			__m128i v = _mm_loadu_si128((const __m128i *)(s + at0));
			unsigned hi = (unsigned)_mm_movemask_epi8(v) >> shift;
			/* signed: bytes past 0x7f count as below ' ' too */
			unsigned low = (unsigned)_mm_movemask_epi8(_mm_or_si128(
			                   _mm_cmplt_epi8(v, space),
			                   _mm_cmpeq_epi8(v, bslash))) >>
			               shift;
			unsigned c = (unsigned)_mm_movemask_epi8(
			                 _mm_cmpeq_epi8(v, comma)) >>
			             shift;

			high |= hi != 0;
			esc |= (low & ~hi) != 0;
			for (; c; c &= c - 1) {
				size_t at = i + (size_t)__builtin_ctz(c);

				add_field(r, start, at - start);
				start = at + 1;
			}
			i = at0 + 16;
		}
	}
#endif
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ',') {
			add_field(r, start, i - start);
			start = i + 1;
		}
		high |= c >= 0x80;
		esc |= c < 0x20 || c == '\\';
	}
	add_field(r, start, n - start);
	flags = esc ? 0 : ROW_PLAIN;
	if (!high || json_utf8_valid(s, n))
		flags |= ROW_UTF8_OK;
	return emit(r, s, line, s, n, flags);
}

static void cb_field(void *s, size_t n, void *arg)
{
	struct csvio_reader *r = arg;

	add_field(r, r->fbuf.len, n);
	if (n)
		fx_buf_add(&r->fbuf, s, n);
}

static uint64_t count_nl(const char *s, size_t n)
{
	const char *end;
	uint64_t k = 0;

	if (n == 0) /* s may be NULL (no field text yet): NULL + 0 is UB */
		return 0;
	end = s + n;
	while (s < end && (s = memchr(s, '\n', (size_t)(end - s)))) {
		k++;
		s++;
	}
	return k;
}

static void cb_row(int c, void *arg)
{
	struct csvio_reader *r = arg;
	uint64_t line = r->slow_line;

	(void)c;
	/* rows after a bare CR start on the same line, past quoted newlines */
	r->slow_line += count_nl(r->fbuf.p, r->fbuf.len);
	if (!r->status)
		r->status = emit(r, r->fbuf.p ? r->fbuf.p : "", line, r->span,
		                 r->span_len, 0);
	r->nf = 0;
	fx_buf_reset(&r->fbuf);
}

/*
 * A row with quotes (or bare CRs: then maybe several rows) through libcsv.
 * Returns how many bytes of s are done with: all of them, unless the
 * quoting is broken; then the bad record ends with the line the error is
 * on, and the rest goes back to be cut into rows again.
 */
static size_t slow_rows(struct csvio_reader *r, const char *s, size_t n,
                        uint64_t line)
{
	const char *what = NULL, *nl;
	size_t k, used = n;

	r->span = s;
	r->span_len = n;
	r->slow_line = line;
	r->nf = 0;
	fx_buf_reset(&r->fbuf);
	k = csv_parse(&r->cp, s, n, cb_field, cb_row, r);
	if (k < n) {
		what = "malformed quoting";
		nl = memchr(s + k, '\n', n - k);
		used = nl ? (size_t)(nl + 1 - s) : n;
	} else if (csv_fini(&r->cp, cb_field, cb_row, r) != 0) {
		what = "unterminated quoted field";
	}
	if (what) {
		/* libcsv keeps no usable state after an error: start afresh */
		csv_free(&r->cp);
		parser_init(r);
		r->nf = 0;
		if (!r->status && !r->dead) {
			if (r->have_header)
				r->rows++;
			r->status =
			    r->have_header
			        ? bad(r, r->slow_line, s, used, what, NULL)
			        : bad_header(r, r->slow_line, s, used, what,
			                     NULL);
		}
	}
	r->line += count_nl(s, used);
	return used;
}

/*
 * A row (s/n, or its first n bytes if unfinished) longer than --max-record
 * is a bad record, counted whole (BOM and line end included) so that how
 * the input was chunked does not matter. If it is the header, the input
 * has no usable header.
 */
static void too_long(struct csvio_reader *r, const char *s, size_t n)
{
	const char *what = "row longer than --max-record";
	uint64_t line = r->line;

	r->at_start = 0; /* a BOM after this row is data */
	r->line += count_nl(s, n);
	if (r->status || r->dead)
		return;
	if (!r->have_header) {
		r->status = bad_header(r, line, s, n, what, NULL);
		return;
	}
	r->rows++;
	r->status = bad(r, line, s, n, what, NULL);
}

/*
 * One row (or blank line) cut from the input: s/n includes its '\n';
 * no_cr: it is known to hold no '\r'. Returns how many bytes of it are
 * done with (see slow_rows).
 */
static size_t dispatch(struct csvio_reader *r, const char *s, size_t n,
                       int no_cr)
{
	uint64_t line = r->line;
	size_t bom = 0, body;

	if (r->at_start) {
		r->at_start = 0;
		if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
			bom = 3;
	}
	if (r->ctx->max_record && n > r->ctx->max_record) {
		too_long(r, s, n);
		return n;
	}
	s += bom;
	n -= bom;
	if (r->anyq)
		return bom + slow_rows(r, s, n, line);
	body = n;
	if (body && s[body - 1] == '\n')
		body--;
	if (body && s[body - 1] == '\r')
		body--;
	if (!no_cr && memchr(s, '\r', body))
		return bom + slow_rows(r, s, n, line);
	r->line += body < n && s[n - 1] == '\n';
	/* blank lines are not rows (as in libcsv) */
	if (body)
		r->status = fast_row(r, s, body, line);
	return bom + n;
}

/*
 * Scans p[0..n) as the continuation of the row being cut. Returns the
 * offset just past the '\n' that ends it, or 0 if it does not end here.
 */
static size_t cut_row(struct csvio_reader *r, const char *p, size_t n)
{
	const char *end = p + n, *s = p, *nl, *q;

	r->scan += n;
	for (;;) {
		nl = memchr(s, '\n', (size_t)(end - s));
		q = s;
		while ((q = memchr(q, '"', (size_t)((nl ? nl : end) - q)))) {
			r->odd ^= 1;
			r->anyq = 1;
			q++;
		}
		if (!nl)
			return 0;
		if (!r->odd) {
			r->scan -= (size_t)(end - nl - 1);
			return (size_t)(nl + 1 - p);
		}
		s = nl + 1;
	}
}

static void cut_reset(struct csvio_reader *r)
{
	r->odd = r->anyq = 0;
	r->scan = 0;
}

/* The offset of the first c in p[i..n), or n. */
static size_t next_byte_at(const char *p, size_t i, size_t n, char c)
{
	const char *q = memchr(p + i, c, n - i);

	return q ? (size_t)(q - p) : n;
}

/*
 * Cuts p[0..n) into rows and dispatches them. The row at p[0] has been
 * scanned up to r->scan already. Returns the bytes consumed; the rest is
 * an unfinished row, all scanned. At eof the rest is a row too.
 */
static size_t process(struct csvio_reader *r, const char *p, size_t n, int eof)
{
	/* the next '"' and '\r' at or after i: each looked for once */
	size_t i = 0, k, quote_at = 0, cr_at = 0;
	int looked = 0;

	while (!r->status && i < n) {
		size_t done = r->scan;

		/*
		 * Up to the next '"' or '\r': a row is its line, cut
		 * with one search, no quote counting, and dispatched
		 * without a look for a bare CR.
		 */
		if (!done) {
			const char *nl;

			if (!looked || quote_at < i)
				quote_at = next_byte_at(p, i, n, '"');
			if (!looked || cr_at < i)
				cr_at = next_byte_at(p, i, n, '\r');
			looked = 1;
			nl = memchr(p + i, '\n',
			            (quote_at < cr_at ? quote_at : cr_at) - i);
			if (nl) {
				i += dispatch(r, p + i,
				              (size_t)(nl - (p + i)) + 1, 1);
				continue;
			}
		}

		k = cut_row(r, p + i + done, n - i - done);
		if (!k) {
			if (!eof)
				break;
			k = n - i - done;
		}
		k += done;
		i += dispatch(r, p + i, k, 0);
		cut_reset(r);
	}
	return i;
}

/* An unfinished row has grown past --max-record: report it, skip the rest. */
static int check_max(struct csvio_reader *r)
{
	size_t max = r->ctx->max_record;

	if (!max || r->pend.len <= max)
		return 0;
	too_long(r, r->pend.p, r->pend.len);
	fx_buf_reset(&r->pend);
	r->scan = 0;
	r->discard = 1; /* the quote parity scan goes on to find its end */
	return r->status;
}

/* Keeps the unfinished row at the end of p for the next feed. */
static int carry(struct csvio_reader *r, const char *p, size_t n)
{
	if (r->status || n == 0)
		return r->status;
	fx_buf_add(&r->pend, p, n);
	return check_max(r);
}

/* Skipping an over-long row: returns the bytes of p that were in it. */
static size_t skip_row(struct csvio_reader *r, const char *p, size_t n, int eof)
{
	size_t k = cut_row(r, p, n);

	if (!k && !eof) {
		r->line += count_nl(p, n);
		return n;
	}
	if (!k)
		k = n;
	r->line += count_nl(p, k);
	r->discard = 0;
	cut_reset(r);
	return k;
}

/* The carried row ends (or the input does) within p: finish it first. */
static int finish_carried(struct csvio_reader *r, const char *p, size_t n,
                          int eof)
{
	size_t k = cut_row(r, p, n), used, rest;

	if (!k && !eof) {
		fx_buf_add(&r->pend, p, n);
		return check_max(r);
	}
	if (!k)
		k = n;
	fx_buf_add(&r->pend, p, k);
	used = dispatch(r, r->pend.p, r->pend.len, 0);
	cut_reset(r);
	if (used == r->pend.len) {
		fx_buf_reset(&r->pend);
		used = process(r, p + k, n - k, eof);
		return carry(r, p + k + used, n - k - used);
	}
	/* a broken row gave bytes back: cut them again, with what follows */
	rest = r->pend.len - used;
	memmove(r->pend.p, r->pend.p + used, rest);
	r->pend.len = rest;
	fx_buf_add(&r->pend, p + k, n - k);
	used = process(r, r->pend.p, r->pend.len, eof);
	rest = r->pend.len - used;
	memmove(r->pend.p, r->pend.p + used, rest);
	r->pend.len = rest;
	return r->status ? r->status : check_max(r);
}

int csvio_reader_feed(struct csvio_reader *r, const char *p, size_t n, int eof)
{
	size_t used;

	if (!p)
		p = "";
	if (r->status)
		return r->status;
	if (r->discard) {
		used = skip_row(r, p, n, eof);
		p += used;
		n -= used;
	}
	if (r->pend.len)
		return finish_carried(r, p, n, eof);
	used = process(r, p, n, eof);
	return carry(r, p + used, n - used);
}

void csvio_write_field(struct fx_buf *b, const char *s, size_t n)
{
	size_t i;
	int quote = n && (s[0] == ' ' || s[n - 1] == ' ');

	for (i = 0; i < n && !quote; i++)
		quote =
		    s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (!quote) {
		fx_buf_add(b, s, n);
		return;
	}
	fx_buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			fx_buf_addc(b, '"');
		fx_buf_addc(b, s[i]);
	}
	fx_buf_addc(b, '"');
}

void csvio_end_row(struct fx_buf *b, size_t start, size_t nfields)
{
	if (nfields == 1 && b->len == start)
		fx_buf_add(b, "\"\"", 2);
	fx_buf_addc(b, '\n');
}

int csvio_reader_feed_input(struct csvio_reader *r, struct fx_input *in)
{
	char *buf = fx_malloc(1 << 20);
	int rc;

	for (;;) {
		ssize_t n = fx_input_read(in, buf, 1 << 20);

		if (n < 0) {
			rc = FX_EXIT_IO;
			break;
		}
		r->ctx->st.bytes_in += (size_t)n;
		rc = csvio_reader_feed(r, buf, (size_t)n, n == 0);
		if (rc || n == 0 || fx_stop)
			break;
	}
	free(buf);
	return rc;
}
