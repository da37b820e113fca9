/* test_csv.c - CSV reading (both paths), conformance, errors, writing */
#include "csvio.h"
#include "err.h"
#include "fx.h"
#include "num.h"
#include "unit.h"

#include <cJSON.h>
#include <csv.h>
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a reader produced: NDJSON, and the line of every row. */
struct out {
	struct fx_buf json;
	uint64_t lines[64];
	size_t n;
	size_t stop_after; /* row_fn returns 7 after this many rows, if set */
};

static int collect(void *arg, const char *json, size_t len, uint64_t line)
{
	struct out *o = arg;

	fx_buf_add(&o->json, json, len);
	fx_buf_addc(&o->json, '\n');
	if (o->n < sizeof(o->lines) / sizeof(o->lines[0]))
		o->lines[o->n] = line;
	o->n++;
	return o->stop_after && o->n >= o->stop_after ? 7 : 0;
}

/*
 * Reads in (n bytes) in chunks of chunk bytes (0: all at once) and returns
 * the status of the last feed. o->json is NUL-terminated.
 */
static int run(struct fx_ctx *ctx, const char *in, size_t n, int strings_only,
               const char *extra, size_t chunk, struct out *o)
{
	struct csvio_reader *r;
	size_t i = 0, k;
	int rc = 0;

	r = csvio_reader_new(ctx, "test.csv", strings_only, extra, collect, o);
	if (!chunk)
		chunk = n ? n : 1;
	while (i < n && rc == 0) {
		k = n - i < chunk ? n - i : chunk;
		rc = csvio_reader_feed(r, in + i, k, 0);
		i += k;
	}
	if (rc == 0)
		rc = csvio_reader_feed(r, NULL, 0, 1);
	fx_buf_addc(&o->json, 0);
	o->json.len--;
	csvio_reader_free(r);
	return rc;
}

static void out_free(struct out *o)
{
	fx_buf_free(&o->json);
	memset(o, 0, sizeof(*o));
}

static void ctx_init(struct fx_ctx *ctx, enum fx_on_error on_error)
{
	fx_init(ctx, "test");
	ctx->on_error = on_error;
}

/* Converts s with default options; returns the NDJSON (static). */
static const char *conv(const char *s, int strings_only)
{
	static char res[4096];
	struct fx_ctx ctx;
	struct out o = {0};

	ctx_init(&ctx, FX_ON_ERROR_FAIL);
	run(&ctx, s, strlen(s), strings_only, NULL, 0, &o);
	snprintf(res, sizeof(res), "%s", o.json.p);
	out_free(&o);
	return res;
}

static void test_basic(void)
{
	CHECK_STR(conv("a,b,c\n1,x,2.5\n", 0),
	          "{\"a\":1,\"b\":\"x\",\"c\":2.5}\n");
	CHECK_STR(conv("a,b,c\n1,x,2.5\n", 1),
	          "{\"a\":\"1\",\"b\":\"x\",\"c\":\"2.5\"}\n");
	/* no final newline, CRLF, blank lines, empty fields */
	CHECK_STR(conv("a,b\r\n1,2\r\n\r\n\n3,\r\n,", 0),
	          "{\"a\":1,\"b\":2}\n{\"a\":3,\"b\":\"\"}\n"
	          "{\"a\":\"\",\"b\":\"\"}\n");
	/* things that look numeric but are not JSON numbers stay strings */
	CHECK_STR(conv("a,b,c,d,e,f\n007,+1,1.,  1,0x10,NaN\n", 0),
	          "{\"a\":\"007\",\"b\":\"+1\",\"c\":\"1.\",\"d\":\"  1\","
	          "\"e\":\"0x10\",\"f\":\"NaN\"}\n");
	/*
	 * a JSON number is one whatever its size: integers past int64 and
	 * doubles past 1e308 keep their bytes, as in NDJSON
	 */
	CHECK_STR(conv("a,b,c,d\n9223372036854775808,1e400,-1e-400,"
	               "12345678901234567890\n",
	               0),
	          "{\"a\":9223372036854775808,\"b\":1e400,"
	          "\"c\":-1e-400,\"d\":12345678901234567890}\n");
	CHECK_STR(conv("a,b\n-9223372036854775809,-1E+400\n", 1),
	          "{\"a\":\"-9223372036854775809\",\"b\":\"-1E+400\"}\n");
	/* numbers keep their bytes */
	CHECK_STR(conv("a,b\n1.50,-0\n", 0), "{\"a\":1.50,\"b\":-0}\n");
	/* quoted numbers are numbers: quoting is syntax, not type */
	CHECK_STR(conv("a\n\"12\"\n", 0), "{\"a\":12}\n");
	/* spaces and tabs are data */
	CHECK_STR(conv("a,b\n x , \t\n", 0),
	          "{\"a\":\" x \",\"b\":\" \\t\"}\n");
	/* control characters and backslashes are escaped */
	CHECK_STR(conv("a\nx\\y\x01z\n", 0), "{\"a\":\"x\\\\y\\u0001z\"}\n");
	/* a UTF-8 BOM at the start is not part of the first name */
	CHECK_STR(conv("\xEF\xBB\xBFid,v\n1,2\n", 0), "{\"id\":1,\"v\":2}\n");
	/* ... but elsewhere it is data */
	CHECK_STR(conv("id,v\n\xEF\xBB\xBF,2\n", 0),
	          "{\"id\":\"\xEF\xBB\xBF\",\"v\":2}\n");
	/* empty input, header only, blank lines only: no rows */
	CHECK_STR(conv("", 0), "");
	CHECK_STR(conv("a,b,c", 0), "");
	CHECK_STR(conv("a,b,c\n", 0), "");
	CHECK_STR(conv("\xEF\xBB\xBF", 0), "");
	CHECK_STR(conv("\n\n\r\n", 0), "");
	CHECK_STR(conv("a,b,c\n\n\n", 0), "");
}

static void test_quoted(void)
{
	CHECK_STR(conv("a,b\n\"x,y\",\"he said \"\"hi\"\"\"\n", 0),
	          "{\"a\":\"x,y\",\"b\":\"he said \\\"hi\\\"\"}\n");
	CHECK_STR(conv("a,b\n\"line1\nline2\",\"\"\n", 0),
	          "{\"a\":\"line1\\nline2\",\"b\":\"\"}\n");
	CHECK_STR(conv("a,b\r\n\"line1\r\nline2\",2\r\n", 0),
	          "{\"a\":\"line1\\r\\nline2\",\"b\":2}\n");
	/* a bare CR ends a row, as libcsv has it */
	CHECK_STR(conv("a,b\n1,2\r3,4\n", 0),
	          "{\"a\":1,\"b\":2}\n{\"a\":3,\"b\":4}\n");
	/* quoted header names */
	CHECK_STR(conv("\"a,1\",\"b\"\"\"\n1,2\n", 0),
	          "{\"a,1\":1,\"b\\\"\":2}\n");
	CHECK_STR(conv("a,b\n\"\",\"\"\n", 0), "{\"a\":\"\",\"b\":\"\"}\n");
}

static void test_extra(void)
{
	struct fx_ctx ctx;
	struct out o = {0};
	const char *in = "a,b\n1,2\n\"3\",4\n";

	ctx_init(&ctx, FX_ON_ERROR_FAIL);
	CHECK(run(&ctx, in, strlen(in), 0, ",\"dt\":\"2026-11-23\"", 0, &o) ==
	      0);
	CHECK_STR(o.json.p, "{\"a\":1,\"b\":2,\"dt\":\"2026-11-23\"}\n"
	                    "{\"a\":3,\"b\":4,\"dt\":\"2026-11-23\"}\n");
	out_free(&o);
}

/* Rows start on the right physical line even after multi-line rows. */
static void test_lines(void)
{
	struct fx_ctx ctx;
	struct out o = {0};
	const char *in = "a,b\n"                 /* 1 */
	                 "1,2\n"                 /* 2 */
	                 "\n"                    /* 3 */
	                 "\"x\ny\nz\",3\n"       /* 4-6 */
	                 "4,\"p\r\nq\"\r\n"      /* 7-8 */
	                 "5,6\n"                 /* 9 */
	                 "\"u\",7\r8,9\n"        /* 10, 10 */
	                 "\"m\nn\",1\r\"o\",2\n" /* 11, 12 */
	                 "7,8";                  /* 13 */
	size_t chunk;

	for (chunk = 0; chunk < 12; chunk++) {
		memset(&o, 0, sizeof(o));
		ctx_init(&ctx, FX_ON_ERROR_FAIL);
		CHECK(run(&ctx, in, strlen(in), 0, NULL, chunk, &o) == 0);
		CHECK(o.n == 9);
		CHECK(o.lines[0] == 2);
		CHECK(o.lines[1] == 4);
		CHECK(o.lines[2] == 7);
		CHECK(o.lines[3] == 9);
		CHECK(o.lines[4] == 10);
		CHECK(o.lines[5] == 10);
		CHECK(o.lines[6] == 11);
		CHECK(o.lines[7] == 12);
		CHECK(o.lines[8] == 13);
		out_free(&o);
	}
}

/* Reads a whole file into a NUL-terminated buffer. */
static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	struct fx_buf b = FX_BUF_INIT;
	char tmp[4096];
	size_t k;

	if (!f)
		return NULL;
	while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
		fx_buf_add(&b, tmp, k);
	fclose(f);
	fx_buf_addc(&b, 0);
	*n = b.len - 1;
	return b.p;
}

/* The DLQ lines written while reading in under --on-error dlq. */
static char *with_dlq(const char *in, struct out *o, int *rc)
{
	char path[] = "/tmp/test_csv_dlq_XXXXXX";
	struct fx_ctx ctx;
	size_t n;
	char *dlq;
	int fd = mkstemp(path);

	close(fd);
	ctx_init(&ctx, FX_ON_ERROR_DLQ);
	ctx.dlq_path = path;
	*rc = run(&ctx, in, strlen(in), 0, NULL, 0, o);
	fx_finish(&ctx, 0);
	dlq = slurp(path, &n);
	unlink(path);
	return dlq;
}

static void test_bad_rows(void)
{
	const char *in = "a,b,c,d\n"           /* 1 */
	                 "1,2,3,4\n"           /* 2 */
	                 "1,2,3\n"             /* 3 */
	                 "\"multi\nline\",2\n" /* 4-5 */
	                 "1,2,3,4,5\n"         /* 6 */
	                 "1,\xff,3,4\n"        /* 7 */
	                 "1,\"\xc3\",3,4\n"    /* 8 */
	                 "5,6,7,8\n";          /* 9 */
	struct fx_ctx ctx;
	struct out o = {0};
	char *dlq;
	int rc;

	dlq = with_dlq(in, &o, &rc);
	CHECK(rc == 0);
	CHECK_STR(o.json.p, "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}\n"
	                    "{\"a\":5,\"b\":6,\"c\":7,\"d\":8}\n");
	CHECK(o.n == 2 && o.lines[0] == 2 && o.lines[1] == 9);
	CHECK_STR(
	    dlq,
	    "{\"_fx_error\":\"expected 4 fields, got 3\","
	    "\"source\":\"test.csv:3\",\"raw\":\"1,2,3\"}\n"
	    "{\"_fx_error\":\"expected 4 fields, got 2\","
	    "\"source\":\"test.csv:4\",\"raw\":\"\\\"multi\\nline\\\",2\"}\n"
	    "{\"_fx_error\":\"expected 4 fields, got 5\","
	    "\"source\":\"test.csv:6\",\"raw\":\"1,2,3,4,5\"}\n"
	    "{\"_fx_error\":\"invalid UTF-8 in field \\\"b\\\"\","
	    "\"source\":\"test.csv:7\",\"raw_base64\":\"MSz/LDMsNA==\"}\n"
	    "{\"_fx_error\":\"invalid UTF-8 in field \\\"b\\\"\","
	    "\"source\":\"test.csv:8\",\"raw_base64\":\"MSwiwyIsMyw0\"}\n");
	free(dlq);
	out_free(&o);

	/* skip: counted, the good rows still come through */
	ctx_init(&ctx, FX_ON_ERROR_SKIP);
	CHECK(run(&ctx, in, strlen(in), 0, NULL, 3, &o) == 0);
	CHECK(ctx.st.bad_records == 5);
	CHECK(o.n == 2);
	out_free(&o);

	/* fail: stops at the first bad row with the data status */
	ctx_init(&ctx, FX_ON_ERROR_FAIL);
	CHECK(run(&ctx, in, strlen(in), 0, NULL, 0, &o) == FX_EXIT_DATA);
	CHECK(ctx.st.bad_records == 1);
	CHECK(o.n == 1);
	out_free(&o);
}

static void test_bad_quoting(void)
{
	const char *in = "a,b\n"      /* 1 */
	                 "1,x\"y\n"   /* 2: quote inside a bare field */
	                 "\"p\"q,2\n" /* 3: text after a closing quote */
	                 "3,4\n"      /* 4 */
	                 "\"open,5\n" /* 5: never closed... */
	                 "6,7\n";     /* ...so this is inside it */
	struct out o = {0};
	char *dlq;
	int rc;

	dlq = with_dlq(in, &o, &rc);
	CHECK(rc == 0);
	CHECK_STR(o.json.p, "{\"a\":3,\"b\":4}\n");
	CHECK(o.n == 1 && o.lines[0] == 4);
	CHECK_STR(dlq,
	          "{\"_fx_error\":\"malformed quoting\","
	          "\"source\":\"test.csv:2\",\"raw\":\"1,x\\\"y\"}\n"
	          "{\"_fx_error\":\"malformed quoting\","
	          "\"source\":\"test.csv:3\",\"raw\":\"\\\"p\\\"q,2\"}\n"
	          "{\"_fx_error\":\"unterminated quoted field\","
	          "\"source\":\"test.csv:5\",\"raw\":\"\\\"open,5\\n6,7\"}\n");
	free(dlq);
	out_free(&o);
}

static void test_bad_header(void)
{
	struct fx_ctx ctx;
	struct out o = {0};
	const char *dup = "a,b,a\n1,2,3\n4,5,6\n";
	const char *bad8 = "a,\xff\n1,2\n";
	char *dlq;
	int rc;

	dlq = with_dlq(dup, &o, &rc);
	CHECK(rc == 0 && o.n == 0);
	CHECK_STR(dlq, "{\"_fx_error\":\"duplicate field name \\\"a\\\"\","
	               "\"source\":\"test.csv:1\",\"raw\":\"a,b,a\"}\n");
	free(dlq);
	out_free(&o);

	/* the first column, in column order, that repeats an earlier name */
	dlq = with_dlq("a,b,c,b,a\n1,2,3,4,5\n", &o, &rc);
	CHECK(strstr(dlq, "duplicate field name \\\"b\\\"") != NULL);
	free(dlq);
	out_free(&o);
	dlq = with_dlq("x,ab,c,a,c,ab\n1,2,3,4,5,6\n", &o, &rc);
	CHECK(strstr(dlq, "duplicate field name \\\"c\\\"") != NULL);
	free(dlq);
	out_free(&o);
	dlq = with_dlq("b,a,,c,\n1,2,3,4,5\n", &o, &rc);
	CHECK(strstr(dlq, "duplicate field name \\\"\\\"") != NULL);
	free(dlq);
	out_free(&o);
	dlq = with_dlq("b,a,ab,ba\n1,2,3,4\n", &o, &rc);
	CHECK(dlq == NULL || dlq[0] == 0);
	CHECK(rc == 0 && o.n == 1);
	free(dlq);
	out_free(&o);

	ctx_init(&ctx, FX_ON_ERROR_FAIL);
	CHECK(run(&ctx, dup, strlen(dup), 0, NULL, 0, &o) == FX_EXIT_DATA);
	CHECK(ctx.st.bad_records == 1 && o.n == 0);
	out_free(&o);

	ctx_init(&ctx, FX_ON_ERROR_SKIP);
	CHECK(run(&ctx, bad8, strlen(bad8), 0, NULL, 0, &o) == 0);
	CHECK(ctx.st.bad_records == 1 && o.n == 0);
	out_free(&o);
}

static void test_max_record(void)
{
	struct fx_ctx ctx;
	struct out o = {0};
	const char *in =
	    "a,b\n1,2\n\"aaaaaaaaaaaaaaaaaaaaaaaaaaaa\naaaaaaaa\",1\n"
	    "3,4\n"
	    "5,bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
	    "6,7\n";
	size_t chunk;

	for (chunk = 0; chunk < 9; chunk++) {
		ctx_init(&ctx, FX_ON_ERROR_SKIP);
		ctx.max_record = 20;
		CHECK(run(&ctx, in, strlen(in), 0, NULL, chunk, &o) == 0);
		CHECK_STR(o.json.p, "{\"a\":1,\"b\":2}\n{\"a\":3,\"b\":4}\n"
		                    "{\"a\":6,\"b\":7}\n");
		CHECK(ctx.st.bad_records == 2);
		CHECK(o.n == 3 && o.lines[1] == 5 && o.lines[2] == 7);
		out_free(&o);
	}
}

static void test_row_fn_stops(void)
{
	struct fx_ctx ctx;
	struct out o = {0};
	const char *in = "a\n1\n\"2\"\r3\n4\n";

	ctx_init(&ctx, FX_ON_ERROR_FAIL);
	o.stop_after = 2;
	CHECK(run(&ctx, in, strlen(in), 0, NULL, 0, &o) == 7);
	CHECK(o.n == 2);
	out_free(&o);
}

/* Checks every row of ndjson against the expected array of objects. */
static int same_rows(const char *ndjson, const cJSON *want)
{
	const char *p = ndjson, *nl;
	int i = 0, n = cJSON_GetArraySize(want), ok = 1;

	while (*p && ok) {
		cJSON *got;

		nl = strchr(p, '\n');
		if (!nl)
			return 0;
		got = cJSON_ParseWithLength(p, (size_t)(nl - p));
		ok = got && i < n &&
		     cJSON_Compare(got, cJSON_GetArrayItem(want, i), 1);
		cJSON_Delete(got);
		p = nl + 1;
		i++;
	}
	return ok && i == n;
}

static const char *corpus_dir(void)
{
	static const char *const dirs[] = {
	    "tests/corpora/csv-spectrum",
	    "../shared/corpora/csv-spectrum",
	};
	size_t i;

	for (i = 0; i < 2; i++)
		if (access(dirs[i], R_OK) == 0)
			return dirs[i];
	return NULL;
}

static void check_spectrum_file(const char *dir, const char *name)
{
	char path[1024];
	size_t n, jn, base = strlen(name) - 4, chunk;
	char *csv, *js;
	cJSON *want;
	struct fx_ctx ctx;
	struct out o = {0}, o1 = {0};

	snprintf(path, sizeof(path), "%s/csvs/%s", dir, name);
	csv = slurp(path, &n);
	snprintf(path, sizeof(path), "%s/json/%.*s.json", dir, (int)base, name);
	js = slurp(path, &jn);
	CHECK_MSG(csv && js, "%s", path);
	if (!csv || !js)
		goto out;
	want = cJSON_Parse(js);
	ctx_init(&ctx, FX_ON_ERROR_FAIL);
	CHECK(run(&ctx, csv, n, 1, NULL, 0, &o) == 0);
	CHECK_MSG(same_rows(o.json.p, want), "%s:\n%s", name, o.json.p);
	/* every chunking gives the same bytes */
	for (chunk = 1; chunk <= n; chunk++) {
		memset(&o1, 0, sizeof(o1));
		ctx_init(&ctx, FX_ON_ERROR_FAIL);
		CHECK(run(&ctx, csv, n, 1, NULL, chunk, &o1) == 0);
		CHECK_MSG(strcmp(o.json.p, o1.json.p) == 0, "%s chunk %zu",
		          name, chunk);
		out_free(&o1);
	}
	cJSON_Delete(want);
out:
	out_free(&o);
	free(csv);
	free(js);
}

static void test_csv_spectrum(void)
{
	const char *dir = corpus_dir();
	char path[1024];
	struct dirent *e;
	DIR *d;
	int files = 0;

	CHECK(dir != NULL);
	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/csvs", dir);
	d = opendir(path);
	CHECK(d != NULL);
	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 4, ".csv") != 0)
			continue;
		check_spectrum_file(dir, e->d_name);
		files++;
	}
	closedir(d);
	CHECK(files >= 11);
}

/* A random table of strings: the ground truth for the next tests. */
struct table {
	size_t ncols, nrows;
	struct fx_buf cell[8 * 41]; /* ncols names, then ncols per row */
};

static unsigned rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 8;
}

static void random_cell(struct fx_buf *b, unsigned *seed, int header)
{
	static const char *const atoms[] = {
	    "a",  "b", "7",  "0",        "-",
	    ".",  "e", ",",  "\"",       "\n",
	    "\r", " ", "\t", "\xc3\xa9", "\xf0\x9f\x8e\xb5",
	    "\\", "x", "1",
	};
	size_t k, len = rnd(seed) % 6;

	fx_buf_reset(b);
	if (header)
		fx_buf_addc(b, (char)('a' + rnd(seed) % 26)); /* unique-ish */
	for (k = 0; k < len; k++)
		fx_buf_adds(
		    b, atoms[rnd(seed) % (sizeof(atoms) / sizeof(atoms[0]))]);
}

static void random_table(struct table *t, unsigned *seed)
{
	size_t i, j;

	t->ncols = 2 + rnd(seed) % 6;
	t->nrows = rnd(seed) % 40;
	for (i = 0; i <= t->nrows; i++)
		for (j = 0; j < t->ncols; j++)
			random_cell(&t->cell[i * t->ncols + j], seed, i == 0);
	/* make the names unique by their position */
	for (j = 0; j < t->ncols; j++)
		fx_buf_addc(&t->cell[j], (char)('0' + j));
}

static void table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < sizeof(t->cell) / sizeof(t->cell[0]); i++)
		fx_buf_free(&t->cell[i]);
}

/* Writes t as CSV: minimal quoting (csvio_write_field) or every field. */
static void write_table(const struct table *t, int quote_all, int crlf,
                        struct fx_buf *csv)
{
	size_t i, j, k;

	fx_buf_reset(csv);
	for (i = 0; i <= t->nrows; i++) {
		for (j = 0; j < t->ncols; j++) {
			const struct fx_buf *c = &t->cell[i * t->ncols + j];

			if (j)
				fx_buf_addc(csv, ',');
			if (!quote_all) {
				csvio_write_field(csv, c->p ? c->p : "",
				                  c->len);
				continue;
			}
			fx_buf_addc(csv, '"');
			for (k = 0; k < c->len; k++) {
				if (c->p[k] == '"')
					fx_buf_addc(csv, '"');
				fx_buf_addc(csv, c->p[k]);
			}
			fx_buf_addc(csv, '"');
		}
		fx_buf_adds(csv, crlf ? "\r\n" : "\n");
	}
}

/* Does ndjson hold exactly t's rows, as strings, in order? */
static int matches_table(const char *ndjson, const struct table *t)
{
	const char *p = ndjson, *nl;
	size_t i, j;
	int ok = 1;

	for (i = 1; i <= t->nrows && ok; i++) {
		cJSON *row, *v;

		nl = strchr(p, '\n');
		if (!nl)
			return 0;
		row = cJSON_ParseWithLength(p, (size_t)(nl - p));
		ok = row && cJSON_GetArraySize(row) == (int)t->ncols;
		for (j = 0; ok && j < t->ncols; j++) {
			const struct fx_buf *name = &t->cell[j];
			const struct fx_buf *c = &t->cell[i * t->ncols + j];
			char key[64];

			snprintf(key, sizeof(key), "%.*s", (int)name->len,
			         name->p);
			v = cJSON_GetObjectItemCaseSensitive(row, key);
			ok = cJSON_IsString(v) &&
			     strlen(v->valuestring) == c->len &&
			     memcmp(v->valuestring, c->p ? c->p : "", c->len) ==
			         0;
		}
		cJSON_Delete(row);
		p = nl + 1;
	}
	return ok && *p == 0;
}

/* libcsv on its own, the same options, as the reference for the split. */
struct ref {
	const struct table *t;
	size_t row, col;
	int ok;
};

static void ref_field(void *s, size_t n, void *arg)
{
	struct ref *r = arg;
	const struct fx_buf *c;

	if (r->row > r->t->nrows || r->col >= r->t->ncols) {
		r->ok = 0;
		return;
	}
	c = &r->t->cell[r->row * r->t->ncols + r->col++];
	if (n != c->len || (n && memcmp(s, c->p, n) != 0))
		r->ok = 0;
}

static void ref_row(int c, void *arg)
{
	struct ref *r = arg;

	(void)c;
	if (r->col != r->t->ncols)
		r->ok = 0;
	r->row++;
	r->col = 0;
}

static int never_space(unsigned char c)
{
	(void)c;
	return 0;
}

static int libcsv_agrees(const struct fx_buf *csv, const struct table *t)
{
	struct csv_parser p;
	struct ref r = {t, 0, 0, 1};

	csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
	csv_set_space_func(&p, never_space);
	if (csv_parse(&p, csv->p, csv->len, ref_field, ref_row, &r) !=
	        csv->len ||
	    csv_fini(&p, ref_field, ref_row, &r) != 0)
		r.ok = 0;
	csv_free(&p);
	return r.ok && r.row == t->nrows + 1;
}

/*
 * The differential test: random tables with every awkward byte, written
 * with minimal quoting (plain rows take the fast path) and with every field
 * quoted (every row goes through libcsv). Both must give the same NDJSON
 * bytes, in any chunking, and that NDJSON must hold exactly the table;
 * libcsv alone must read the same cells from the same CSV bytes.
 */
static void test_differential(void)
{
	static struct table t;
	struct fx_buf min = FX_BUF_INIT, all = FX_BUF_INIT;
	unsigned seed = 42;
	int iter, bad = 0;

	for (iter = 0; iter < 3000 && bad < 5; iter++) {
		struct fx_ctx ctx;
		struct out a = {0}, b = {0};
		int crlf = iter % 3 == 0, so = iter % 2;
		size_t chunk = iter % 7 ? rnd(&seed) % 50 : 0;
		int ok;

		random_table(&t, &seed);
		write_table(&t, 0, crlf, &min);
		write_table(&t, 1, crlf, &all);
		ctx_init(&ctx, FX_ON_ERROR_FAIL);
		ok = run(&ctx, min.p, min.len, so, NULL, chunk, &a) == 0;
		ok &= run(&ctx, all.p, all.len, so, NULL, 0, &b) == 0;
		ok &= strcmp(a.json.p, b.json.p) == 0;
		ok &= !so || matches_table(a.json.p, &t);
		ok &= libcsv_agrees(&min, &t) && libcsv_agrees(&all, &t);
		if (!ok && bad++ < 5)
			fprintf(stderr, "differential %d:\n%.*s--\n%s--\n%s",
			        iter, (int)min.len, min.p, a.json.p, b.json.p);
		out_free(&a);
		out_free(&b);
	}
	CHECK(bad == 0);
	table_free(&t);
	fx_buf_free(&min);
	fx_buf_free(&all);
}

/* CSV -> NDJSON -> CSV gives the same bytes back. */
static void test_roundtrip(void)
{
	const char *in = "name,note,city,n\n"
	                 "Zoë,\"said \"\"hi\"\", left\",\"Köln, DE\",1\n"
	                 "\"multi\nline\",\" lead\",\"trail \",2.50\n"
	                 "🎵,\"a\r\nb\",,-0\n"
	                 "\"\"\"\",x,\"\"\"q\"\"\",1e5\n";
	struct fx_buf back = FX_BUF_INIT;
	struct fx_ctx ctx;
	struct out o = {0};
	const char *p, *nl;
	int first = 1;

	ctx_init(&ctx, FX_ON_ERROR_FAIL);
	CHECK(run(&ctx, in, strlen(in), 1, NULL, 0, &o) == 0);
	for (p = o.json.p; (nl = strchr(p, '\n')); p = nl + 1) {
		cJSON *row = cJSON_ParseWithLength(p, (size_t)(nl - p)), *v;
		int j = 0;

		if (first) {
			cJSON_ArrayForEach(v, row)
			{
				if (j++)
					fx_buf_addc(&back, ',');
				csvio_write_field(&back, v->string,
				                  strlen(v->string));
			}
			fx_buf_addc(&back, '\n');
			first = 0;
			j = 0;
		}
		cJSON_ArrayForEach(v, row)
		{
			if (j++)
				fx_buf_addc(&back, ',');
			CHECK(cJSON_IsString(v));
			if (cJSON_IsString(v))
				csvio_write_field(&back, v->valuestring,
				                  strlen(v->valuestring));
		}
		fx_buf_addc(&back, '\n');
		cJSON_Delete(row);
	}
	fx_buf_addc(&back, 0);
	CHECK_STR(back.p, in);
	/* and as numbers, the numeric fields keep their bytes */
	CHECK(strstr(conv(in, 0), "\"n\":2.50}") != NULL);
	CHECK(strstr(conv(in, 0), "\"n\":-0}") != NULL);
	CHECK(strstr(conv(in, 0), "\"n\":1e5}") != NULL);
	fx_buf_free(&back);
	out_free(&o);
}

static struct fx_buf wfb;

static const char *wf(const char *s)
{
	fx_buf_reset(&wfb);
	csvio_write_field(&wfb, s, strlen(s));
	fx_buf_addc(&wfb, 0);
	return wfb.p;
}

static void test_write_field(void)
{
	CHECK_STR(wf("plain"), "plain");
	CHECK_STR(wf(""), "");
	CHECK_STR(wf("a,b"), "\"a,b\"");
	CHECK_STR(wf("say \"hi\""), "\"say \"\"hi\"\"\"");
	CHECK_STR(wf("a\nb"), "\"a\nb\"");
	CHECK_STR(wf("a\rb"), "\"a\rb\"");
	CHECK_STR(wf(" lead"), "\" lead\"");
	CHECK_STR(wf("trail "), "\"trail \"");
	CHECK_STR(wf("in side"), "in side");
	CHECK_STR(wf("Köln"), "Köln");
	CHECK_STR(wf("\""), "\"\"\"\"");
	fx_buf_free(&wfb);
}

/* A row of fields (NULL-terminated) as csvio writes it. */
static const char *wrow(const char *const *v)
{
	size_t n;

	fx_buf_reset(&wfb);
	fx_buf_add(&wfb, "x", 1); /* the row starts past other bytes */
	for (n = 0; v[n]; n++) {
		if (n)
			fx_buf_addc(&wfb, ',');
		csvio_write_field(&wfb, v[n], strlen(v[n]));
	}
	csvio_end_row(&wfb, 1, n);
	fx_buf_addc(&wfb, 0);
	return wfb.p + 1;
}

/*
 * A row of one empty field is "" (as Python's csv module writes it), not a
 * blank line, which reads back as no row; any other row is as it was.
 */
static void test_end_row(void)
{
	static const char *const one_empty[] = {"", NULL};
	static const char *const one[] = {"a", NULL};
	static const char *const two_empty[] = {"", "", NULL};
	static const char *const quoted[] = {" ", NULL};
	static const char *const none[] = {NULL};

	CHECK_STR(wrow(one_empty), "\"\"\n");
	CHECK_STR(wrow(one), "a\n");
	CHECK_STR(wrow(two_empty), ",\n");
	CHECK_STR(wrow(quoted), "\" \"\n");
	CHECK_STR(wrow(none), "\n");
	fx_buf_free(&wfb);
	/* and "" reads back as one row, the empty string; a name too */
	CHECK_STR(conv("a\nx\n\"\"\ny\n", 0),
	          "{\"a\":\"x\"}\n{\"a\":\"\"}\n{\"a\":\"y\"}\n");
	CHECK_STR(conv("\"\"\n\"\"\n1\n", 0), "{\"\":\"\"}\n{\"\":1}\n");
}

/*
 * A field is a number in the output exactly when fx_num_is_json_number()
 * says it is one: 20,000 fields of digits, signs, points and exponents, 1
 * to 24 bytes (the short all-digit ones are settled without it), each the
 * last field of its row and of the input too (nothing after it to read).
 */
static void test_number_fields(void)
{
	static const char alpha[] = "0123456789000111-+.eEx";
	unsigned seed = 17;
	int k, bad = 0;

	for (k = 0; k < 20000; k++) {
		char field[32], *in;
		size_t n = 1 + rnd(&seed) % 24, i, len;
		struct fx_ctx ctx;
		struct out o = {0};
		cJSON *rec;

		for (i = 0; i < n; i++)
			field[i] =
			    rnd(&seed) % 3
			        ? (char)('0' + rnd(&seed) % 10)
			        : alpha[rnd(&seed) % (sizeof(alpha) - 1)];
		len = 6 + n;
		in = malloc(len); /* exactly: a read past the field is caught */
		memcpy(in, "a,b\nx,", 6);
		memcpy(in + 6, field, n);
		ctx_init(&ctx, FX_ON_ERROR_FAIL);
		run(&ctx, in, len, 0, NULL, 0, &o);
		rec = cJSON_Parse(o.json.p);
		if (!rec || cJSON_IsNumber(cJSON_GetObjectItem(rec, "b")) !=
		                fx_num_is_json_number(field, n)) {
			if (bad++ < 5)
				fprintf(stderr, "field %.*s: %s", (int)n, field,
				        o.json.p);
		}
		cJSON_Delete(rec);
		out_free(&o);
		free(in);
	}
	CHECK(bad == 0);
}

static int no_row(void *arg, const char *json, size_t len, uint64_t line)
{
	(void)json;
	(void)len;
	(void)line;
	++*(int *)arg;
	return 0;
}

/* the columns of a header without rows, as a row of nulls */
static void test_header_record(void)
{
	static const char *const in[] = {"a,\"b c\",\xc3\xa9\r\n", "a,b,a\n",
	                                 "", "x\n1\n"};
	static const char *const want[] = {"{\"a\":null,\"b c\":null,"
	                                   "\"\xc3\xa9\":null}",
	                                   NULL, NULL, "{\"x\":null}"};
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct fx_ctx ctx;
		struct fx_buf b = FX_BUF_INIT;
		int rows = 0, rc;
		struct csvio_reader *r;

		ctx_init(&ctx, FX_ON_ERROR_SKIP);
		r = csvio_reader_new(&ctx, "h.csv", 0, NULL, no_row, &rows);
		csvio_reader_feed(r, in[i], strlen(in[i]), 1);
		rc = csvio_reader_header_record(r, &b);
		if (want[i]) {
			fx_buf_addc(&b, 0);
			CHECK(rc == 0);
			CHECK_STR(b.p, want[i]);
		} else {
			/* a bad header, or none */
			CHECK(rc == -1 && b.len == 0);
		}
		csvio_reader_free(r);
		fx_buf_free(&b);
	}
}

int main(void)
{
	RUN(test_basic);
	RUN(test_quoted);
	RUN(test_extra);
	RUN(test_lines);
	RUN(test_bad_rows);
	RUN(test_bad_quoting);
	RUN(test_bad_header);
	RUN(test_header_record);
	RUN(test_max_record);
	RUN(test_row_fn_stops);
	RUN(test_csv_spectrum);
	RUN(test_differential);
	RUN(test_roundtrip);
	RUN(test_write_field);
	RUN(test_end_row);
	RUN(test_number_fields);
	return unit_done("test_csv");
}
