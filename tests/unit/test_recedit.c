/* test_recedit.c - members inserted into a record before its closing brace */
#include "buf.h"
#include "err.h"
#include "fx.h"
#include "recedit.h"
#include "unit.h"
#include "writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The record rec with the members m (each with a leading comma) appended. */
static char *append(const char *rec, const char *m)
{
	struct fx_buf b = FX_BUF_INIT;
	char *s;

	recedit_append(&b, rec, strlen(rec), m, strlen(m));
	s = fx_strndup(b.p ? b.p : "", b.len);
	fx_buf_free(&b);
	return s;
}

/* The same through a record writer: recedit_put() and its newline. */
static char *put(const char *rec, const char *m)
{
	struct fx_ctx ctx;
	struct record_writer w;
	FILE *f = tmpfile();
	char *s = calloc(1, 256);
	size_t n;

	fx_init(&ctx, "test_recedit");
	record_writer_init(&w, &ctx, fileno(f), "tmp");
	CHECK(recedit_put(&w, rec, strlen(rec), m, strlen(m)) == 0);
	CHECK(record_writer_close(&w) == 0);
	rewind(f);
	n = fread(s, 1, 255, f);
	fclose(f);
	CHECK(n > 0 && s[n - 1] == '\n');
	if (n > 0)
		s[n - 1] = '\0';
	return s;
}

/* Both ways give want. */
#define CHECK_INSERT(rec, m, want)                                             \
	do {                                                                   \
		char *ap_ = append(rec, m), *pu_ = put(rec, m);                \
		CHECK_STR(ap_, want);                                          \
		CHECK_STR(pu_, want);                                          \
		free(ap_);                                                     \
		free(pu_);                                                     \
	} while (0)

static void test_empty_object(void)
{
	CHECK_INSERT("{}", ",\"a\":1", "{\"a\":1}");
	CHECK_INSERT("{ }", ",\"a\":1", "{ \"a\":1}");
	CHECK_INSERT("{\t\r\n }", ",\"a\":1", "{\t\r\n \"a\":1}");
	CHECK_INSERT("  {}  ", ",\"a\":1", "  {\"a\":1}  ");
	CHECK_INSERT("{}", ",\"a\":1,\"b\":[]", "{\"a\":1,\"b\":[]}");
}

static void test_members(void)
{
	CHECK_INSERT("{\"x\":1}", ",\"a\":1", "{\"x\":1,\"a\":1}");
	CHECK_INSERT("{\"x\":1 }", ",\"a\":1", "{\"x\":1 ,\"a\":1}");
	CHECK_INSERT("{ \"x\" : 1 }", ",\"a\":1,\"b\":2",
	             "{ \"x\" : 1 ,\"a\":1,\"b\":2}");
	/* the object's own brace, not one inside it */
	CHECK_INSERT("{\"o\":{}}", ",\"a\":1", "{\"o\":{},\"a\":1}");
	CHECK_INSERT("{\"o\":{ }}", ",\"a\":1", "{\"o\":{ },\"a\":1}");
	CHECK_INSERT("{\"s\":\"{\"}", ",\"a\":1", "{\"s\":\"{\",\"a\":1}");
	CHECK_INSERT("{\"s\":\"}\"}", ",\"a\":1", "{\"s\":\"}\",\"a\":1}");
	/* what follows the brace stays */
	CHECK_INSERT("{\"x\":1} ", ",\"a\":1", "{\"x\":1,\"a\":1} ");
}

static void test_no_members(void)
{
	CHECK_INSERT("{}", "", "{}");
	CHECK_INSERT("{\"x\":1 }", "", "{\"x\":1 }");
}

static void test_begin(void)
{
	struct fx_buf b = FX_BUF_INIT;
	const char *r = "{\"x\":1 } ";
	size_t brace;

	brace = recedit_begin(&b, r, strlen(r));
	CHECK(brace == 7);
	fx_buf_adds(&b, "\"a\":1}");
	CHECK(b.len == strlen("{\"x\":1 ,\"a\":1}") &&
	      !memcmp(b.p, "{\"x\":1 ,\"a\":1}", b.len));
	fx_buf_reset(&b);
	brace = recedit_begin(&b, "{ }", 3);
	CHECK(brace == 2 && b.len == 2 && !memcmp(b.p, "{ ", 2));
	fx_buf_free(&b);

	CHECK(recedit_brace("{\"a\":{}} \n", 10) == 7);
	CHECK(recedit_empty("{}", 1));
	CHECK(recedit_empty(" { \n}", 4));
	CHECK(!recedit_empty("{\"o\":{}}", 7));
	CHECK(!recedit_empty("{\"x\":1 }", 7));
}

int main(void)
{
	RUN(test_empty_object);
	RUN(test_members);
	RUN(test_no_members);
	RUN(test_begin);
	return unit_done("test_recedit");
}
