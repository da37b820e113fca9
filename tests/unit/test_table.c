/*
 * test_table.c - the templates of partition flow tables (fx-table(5)):
 * topic and directory names made from partition values, their escaping and
 * its inverse, static/dynamic/default routing, collisions, and the
 * definition errors.
 */
#include "buf.h"
#include "fx.h"
#include "json.h"
#include "table.h"
#include "unit.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir_[64];      /* a temporary directory for definitions */
static char def_path[128]; /* dir_/t.json */
static char msg[4096];     /* what the last load() wrote to stderr */
static struct fx_ctx ctx;

/*
 * Loads the definition json, with stderr caught in msg (without the final
 * newline). Returns the table or NULL.
 */
static struct table *load(const char *json)
{
	char err_path[128];
	FILE *f;
	struct table *t;
	int saved, fd;
	ssize_t n;

	f = fopen(def_path, "w");
	if (!f || fputs(json, f) < 0 || fclose(f)) {
		perror(def_path);
		exit(2);
	}
	snprintf(err_path, sizeof(err_path), "%s/err", dir_);
	fd = open(err_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	saved = dup(2);
	if (fd < 0 || saved < 0) {
		perror(err_path);
		exit(2);
	}
	fflush(stderr);
	dup2(fd, 2);
	t = table_load(&ctx, def_path);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, msg, sizeof(msg) - 1, 0);
	close(fd);
	msg[n > 0 ? n : 0] = 0;
	if (n > 0 && msg[n - 1] == '\n')
		msg[n - 1] = 0;
	return t;
}

/* load() that must fail with "test: DEF: " followed by want */
static int load_fails(const char *json, const char *want)
{
	char full[4096];
	struct table *t = load(json);

	snprintf(full, sizeof(full), "test: %s: %s", def_path, want);
	if (t) {
		table_free(t);
		fprintf(stderr, "loaded, want \"%s\": %s\n", want, json);
		return 0;
	}
	if (strcmp(msg, full) != 0) {
		fprintf(stderr, "got  \"%s\"\nwant \"%s\"\n", msg, full);
		return 0;
	}
	return 1;
}

/* The partition values of the record rec; 0, or -1 with *why. */
static int values(struct table *t, const char *rec, struct table_values *tv,
                  const char **why)
{
	struct json_scanner sc = {0};
	struct json_value vals[JSON_MAX_PATHS];
	struct json_error err;
	const char *field;
	int rc;

	rc = json_scan(&sc, table_paths(t), rec, strlen(rec), vals, &err, 0);
	if (rc >= 0)
		rc = table_values_of(t, vals, tv, &field, why);
	json_scanner_free(&sc);
	return rc < 0 ? -1 : 0;
}

/* The topic of rec, or "reject", or "error: WHY"; *route gets the route. */
static const char *topic_of(struct table *t, const char *rec, int *route)
{
	static char res[512];
	struct table_values tv = {0};
	struct fx_buf out = FX_BUF_INIT;
	const char *why = "";
	int r = -1;

	if (values(t, rec, &tv, &why) == 0)
		r = table_topic(t, &tv, &out, &why);
	if (r < 0)
		snprintf(res, sizeof(res), "error: %s", why);
	else if (r == TABLE_REJECT)
		snprintf(res, sizeof(res), "reject%s",
		         out.len ? " (+out)" : "");
	else
		snprintf(res, sizeof(res), "%.*s", (int)out.len,
		         out.p ? out.p : "");
	if (route)
		*route = r;
	fx_buf_free(&out);
	table_values_free(&tv);
	return res;
}

/* The directory of rec, or "error: WHY" / "no dir". */
static const char *dir_of(struct table *t, const char *rec)
{
	static char res[512];
	struct table_values tv = {0};
	struct fx_buf out = FX_BUF_INIT;
	const char *why = "";

	if (values(t, rec, &tv, &why))
		snprintf(res, sizeof(res), "error: %s", why);
	else if (table_dir(t, &tv, &out))
		snprintf(res, sizeof(res), "no dir");
	else
		snprintf(res, sizeof(res), "%.*s", (int)out.len,
		         out.p ? out.p : "");
	fx_buf_free(&out);
	table_values_free(&tv);
	return res;
}

/* table_topic_match: "ROUTE os=V,dt=V" (any value: *), or "error: WHY" */
static const char *match(struct table *t, const char *topic)
{
	static char res[512];
	struct table_values tv = {0};
	const char *why = "";
	size_t i, k;
	int r = table_topic_match(t, topic, &tv, &why);

	if (r < 0) {
		snprintf(res, sizeof(res), "error: %s", why);
	} else {
		k = (size_t)snprintf(res, sizeof(res), "%s",
		                     table_route_name((enum table_route)r));
		for (i = 0; i < tv.n && k < sizeof(res); i++)
			k += (size_t)snprintf(
			    res + k, sizeof(res) - k, "%s%s=%s", i ? "," : " ",
			    table_part(t, i)->name,
			    tv.any & (1u << i) ? "*" : table_value(&tv, i));
	}
	table_values_free(&tv);
	return res;
}

static const char *escape(const char *s, size_t n)
{
	static char res[1024];
	struct fx_buf b = FX_BUF_INIT;

	table_topic_escape(&b, s, n);
	snprintf(res, sizeof(res), "%.*s", (int)b.len, b.p ? b.p : "");
	fx_buf_free(&b);
	return res;
}

/* unescape: the value, or "(-1)" when escaping cannot have made s */
static const char *unescape(const char *s)
{
	static char res[1024];
	struct fx_buf b = FX_BUF_INIT;

	if (table_topic_unescape(&b, s, strlen(s)))
		snprintf(res, sizeof(res), "(-1)");
	else
		snprintf(res, sizeof(res), "%.*s", (int)b.len, b.p ? b.p : "");
	fx_buf_free(&b);
	return res;
}

#define OS_DT                                                                  \
	"\"partition_by\": [{\"name\": \"dt\", \"field\": \"event_time\", "    \
	"\"transform\": \"day\"}, {\"name\": \"os\", \"field\": \"os\"}]"

static void test_escape(void)
{
	struct fx_buf b = FX_BUF_INIT, back = FX_BUF_INIT;
	char all[256];
	int i;

	CHECK_STR(escape("ios", 3), "ios");
	CHECK_STR(escape("Az-09", 5), "Az-09");
	/* '_' and '.' are escaped too, so that '_' starts every escape */
	CHECK_STR(escape("a_b", 3), "a_5fb");
	CHECK_STR(escape("a.b", 3), "a_2eb");
	CHECK_STR(escape("x y/z", 5), "x_20y_2fz");
	CHECK_STR(escape("caf\xc3\xa9", 5), "caf_c3_a9");
	CHECK_STR(escape("", 0), "");
	CHECK_STR(escape("\x01\xff", 2), "_01_ff");
	/* every byte, there and back */
	for (i = 0; i < 256; i++)
		all[i] = (char)i;
	table_topic_escape(&b, all, sizeof(all));
	CHECK(b.len == 62 + 3 * (256 - 62 - 1) + 1); /* 62 alnum and '-' */
	CHECK(table_topic_unescape(&back, b.p, b.len) == 0);
	CHECK(back.len == 256 && memcmp(back.p, all, 256) == 0);
	fx_buf_free(&b);
	fx_buf_free(&back);
	CHECK_STR(unescape("a_5fb"), "a_b");
	CHECK_STR(unescape("x_20y_2fz"), "x y/z");
	CHECK_STR(unescape(""), "");
	/* what escaping never writes */
	CHECK_STR(unescape("_41"), "(-1)");   /* 'A' is written as itself */
	CHECK_STR(unescape("a_2Eb"), "(-1)"); /* upper-case hex */
	CHECK_STR(unescape("a_2"), "(-1)");
	CHECK_STR(unescape("a_"), "(-1)");
	CHECK_STR(unescape("_zz"), "(-1)");
	CHECK_STR(unescape("a.b"), "(-1)");
	CHECK_STR(unescape("a b"), "(-1)");
}

static void test_murmur2(void)
{
	/* Kafka's own test vectors (UtilsTest.testMurmur2), as signed ints */
	CHECK((int32_t)table_murmur2("21", 2) == -973932308);
	CHECK((int32_t)table_murmur2("foobar", 6) == -790332482);
	CHECK((int32_t)table_murmur2("a-little-bit-long-string", 24) ==
	      -985981536);
	CHECK((int32_t)table_murmur2("a-little-bit-longer-string", 26) ==
	      -1486304829);
	CHECK((int32_t)table_murmur2(
	          "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 48) ==
	      -58897971);
	CHECK((int32_t)table_murmur2("abc", 3) == 479470107);
}

/* bucket(N): Kafka's default partitioner of the value's text */
static void test_bucket(void)
{
	struct table *t;

	t = load("{\"name\": \"b\", \"partition_by\": [{\"name\": \"u\", "
	         "\"field\": \"user\", \"transform\": \"bucket(7)\"}, "
	         "{\"name\": \"v\", \"field\": \"user\", "
	         "\"transform\": \"bucket(1000)\"}], "
	         "\"kafka\": {\"topic\": \"b.{u}.{v}\"}, "
	         "\"files\": {\"dir\": \"b/u={u}/v={v}\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (!t)
		return;
	/* murmur2("21") is -973932308: & 0x7fffffff, then mod N */
	CHECK_STR(topic_of(t, "{\"user\":21}", NULL), "b.3.340");
	CHECK_STR(topic_of(t, "{\"user\":\"21\"}", NULL), "b.3.340");
	CHECK_STR(dir_of(t, "{\"user\":\"foobar\"}"), "b/u=0/v=166");
	table_free(t);
	CHECK(load_fails(
	    "{\"name\": \"b\", \"partition_by\": [{\"name\": "
	    "\"u\", \"transform\": \"bucket(0)\"}], "
	    "\"files\": {\"dir\": \"{u}\"}}",
	    "partition_by[0].transform: bucket(N) needs N from 1 to 1000000: \"bucket(0)\""));
}

static void test_topic_and_dir_templates(void)
{
	struct table *t;
	int route;
	char rec[512], want[512];
	char long_os[256];

	t = load("{\"name\": \"p\", " OS_DT ", "
	         "\"kafka\": {\"topic\": \"p.{os}.{dt}\"}, "
	         "\"files\": {\"dir\": \"p/dt={dt}/os={os}\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (!t)
		return;
	CHECK_STR(table_topic_template(t), "p.{os}.{dt}");
	CHECK_STR(table_dir_template(t), "p/dt={dt}/os={os}");
	CHECK(table_has_kafka(t) && table_has_files(t));
	CHECK(table_nparts(t) == 2);
	CHECK_STR(
	    topic_of(
	        t,
	        "{\"os\":\"ios\",\"event_time\":\"2026-11-23T10:00:00.123Z\"}",
	        &route),
	    "p.ios.2026-11-23");
	CHECK(route == TABLE_DYNAMIC);
	CHECK_STR(
	    dir_of(t,
	           "{\"os\":\"ios\",\"event_time\":\"2026-11-23T23:59:59Z\"}"),
	    "p/dt=2026-11-23/os=ios");
	/* an offset moves the day: UTC */
	CHECK_STR(
	    dir_of(
	        t,
	        "{\"os\":\"ios\",\"event_time\":\"2026-11-23T23:30:00-01:00\"}"),
	    "p/dt=2026-11-24/os=ios");
	/* epoch seconds (the default unit); numbers and booleans as written */
	CHECK_STR(topic_of(t, "{\"os\":7,\"event_time\":1795392000}", NULL),
	          "p.7.2026-11-23");
	CHECK_STR(topic_of(t, "{\"os\":true,\"event_time\":1795392000}", NULL),
	          "p.true.2026-11-23");
	/* a string's unescaped text, escaped for the topic */
	CHECK_STR(
	    topic_of(t,
	             "{\"os\":\"win_10.1 \\u00e9\",\"event_time\":1795392000}",
	             NULL),
	    "p.win_5f10_2e1_20_c3_a9.2026-11-23");
	/* Hive escaping for directories; an empty value is Hive's null */
	CHECK_STR(dir_of(t, "{\"os\":\"a/b=c%\",\"event_time\":1795392000}"),
	          "p/dt=2026-11-23/os=a%2Fb%3Dc%25");
	CHECK_STR(dir_of(t, "{\"os\":\".hidden\",\"event_time\":1795392000}"),
	          "p/dt=2026-11-23/os=%2Ehidden");
	CHECK_STR(dir_of(t, "{\"os\":\"\",\"event_time\":1795392000}"),
	          "p/dt=2026-11-23/os=__HIVE_DEFAULT_PARTITION__");
	CHECK_STR(topic_of(t, "{\"os\":\"\",\"event_time\":1795392000}", NULL),
	          "p..2026-11-23");
	/* no partition value: the record, not the template, is at fault */
	CHECK_STR(topic_of(t, "{\"os\":null,\"event_time\":1795392000}", NULL),
	          "error: null: no partition value for \"os\"");
	CHECK_STR(topic_of(t, "{\"event_time\":1795392000}", NULL),
	          "error: missing: no partition value for \"os\"");
	CHECK_STR(dir_of(t, "{\"os\":\"a\",\"event_time\":\"yesterday\"}"),
	          "error: not a timestamp: \"yesterday\"");
	/* a topic longer than Kafka allows */
	memset(long_os, 'y', 237);
	long_os[236] = 0;
	snprintf(rec, sizeof(rec), "{\"os\":\"%s\",\"event_time\":1795392000}",
	         long_os);
	snprintf(want, sizeof(want), "p.%s.2026-11-23", long_os);
	CHECK(strlen(want) == TABLE_TOPIC_MAX);
	CHECK_STR(topic_of(t, rec, NULL), want);
	long_os[236] = 'y';
	long_os[237] = 0;
	snprintf(rec, sizeof(rec), "{\"os\":\"%s\",\"event_time\":1795392000}",
	         long_os);
	snprintf(want, sizeof(want),
	         "error: topic \"p.%s.2026-11-23\": longer than 249 characters",
	         long_os);
	CHECK_STR(topic_of(t, rec, NULL), want);
	/* back from a topic name to the values */
	CHECK_STR(match(t, "p.win_5f10.2026-11-23"),
	          "dynamic dt=2026-11-23,os=win_10");
	CHECK_STR(match(t, "q.ios_2026-11-23"), "reject");
	CHECK_STR(match(t, "p.i_41.2026-11-23"), "reject");
	table_free(t);
}

static void test_routes(void)
{
	struct table *t;
	int route;

	/* the example table: static topics for two values, dynamic others */
	t = load("{\"name\": \"ods_play\", " OS_DT ", \"kafka\": {"
	         "\"partition_by\": [\"os\"], \"topic\": \"ods_play_{os}\", "
	         "\"static\": {\"ios\": \"play_apple\", "
	         "\"android\": \"play_android\"}}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (!t)
		return;
	CHECK(table_kafka_mask(t) == 2);
	CHECK(table_nstatic(t) == 2);
	CHECK_STR(topic_of(t, "{\"os\":\"ios\",\"event_time\":0}", &route),
	          "play_apple");
	CHECK(route == TABLE_STATIC);
	CHECK_STR(topic_of(t, "{\"os\":\"web\",\"event_time\":0}", &route),
	          "ods_play_web");
	CHECK(route == TABLE_DYNAMIC);
	/* the day is not in the topic: any */
	CHECK_STR(match(t, "play_apple"), "static dt=*,os=ios");
	CHECK_STR(match(t, "ods_play_web"), "dynamic dt=*,os=web");
	CHECK_STR(match(t, "ods_play_a_5fb"), "dynamic dt=*,os=a_b");
	CHECK_STR(match(t, "other"), "reject");
	table_free(t);

	/* not dynamic: a default topic, or nothing */
	t = load(
	    "{\"name\": \"d\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {\"topic\": \"d_{os}\", \"dynamic\": false, "
	    "\"static\": {\"ios\": \"d_apple\"}, \"default\": \"d_rest\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (t) {
		CHECK_STR(topic_of(t, "{\"os\":\"ios\"}", &route), "d_apple");
		CHECK(route == TABLE_STATIC);
		CHECK_STR(topic_of(t, "{\"os\":\"web\"}", &route), "d_rest");
		CHECK(route == TABLE_DEFAULT);
		CHECK_STR(match(t, "d_rest"), "default");
		CHECK_STR(table_default_topic(t), "d_rest");
		table_free(t);
	}
	t = load("{\"name\": \"r\", \"partition_by\": [{\"name\": \"os\"}], "
	         "\"kafka\": {\"static\": {\"ios\": \"r_apple\"}}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (t) {
		CHECK_STR(topic_of(t, "{\"os\":\"web\"}", &route), "reject");
		CHECK(route == TABLE_REJECT);
		CHECK(table_default_topic(t) == NULL);
		CHECK(table_topic_template(t) == NULL);
		table_free(t);
	}
	/* static keys of several partitions: NAME=VALUE/NAME=VALUE, %XX */
	t = load("{\"name\": \"m\", \"partition_by\": [{\"name\": \"a\"}, "
	         "{\"name\": \"b\"}], \"kafka\": {\"static\": "
	         "{\"a=x%2Fy/b=1\": \"m_one\"}, \"default\": \"m_rest\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (t) {
		CHECK_STR(topic_of(t, "{\"a\":\"x/y\",\"b\":1}", &route),
		          "m_one");
		CHECK(route == TABLE_STATIC);
		CHECK_STR(topic_of(t, "{\"a\":\"x/y\",\"b\":2}", NULL),
		          "m_rest");
		CHECK_STR(match(t, "m_one"), "static a=x/y,b=1");
		table_free(t);
	}
}

static void test_collisions(void)
{
	struct table *t;

	/* placeholders side by side: one name, several tuples */
	t = load("{\"name\": \"c\", \"partition_by\": [{\"name\": \"a\"}, "
	         "{\"name\": \"b\"}], \"kafka\": {\"topic\": \"c_{a}{b}\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (!t)
		return;
	CHECK_STR(topic_of(t, "{\"a\":\"x\",\"b\":\"y\"}", NULL), "c_xy");
	CHECK_STR(topic_of(t, "{\"a\":\"x\",\"b\":\"y\"}", NULL), "c_xy");
	CHECK_STR(
	    topic_of(t, "{\"a\":\"xy\",\"b\":\"\"}", NULL),
	    "error: topic \"c_xy\" was already the topic of other values: two partitions cannot share a topic");
	CHECK_STR(
	    topic_of(t, "{\"a\":\"\",\"b\":\"xy\"}", NULL),
	    "error: topic \"c_xy\" was already the topic of other values: two partitions cannot share a topic");
	/* and the first tuple still has it */
	CHECK_STR(topic_of(t, "{\"a\":\"x\",\"b\":\"y\"}", NULL), "c_xy");
	CHECK_STR(
	    match(t, "c_xy"),
	    "error: topic \"c_xy\" could hold two partitions of the template \"c_{a}{b}\"");
	/* one way only: an escape is not split */
	CHECK_STR(
	    match(t, "c__5f"),
	    "error: topic \"c__5f\" could hold two partitions of the template \"c_{a}{b}\"");
	table_free(t);

	/* a separator that escaping never writes alone: unambiguous */
	t = load("{\"name\": \"s\", \"partition_by\": [{\"name\": \"a\"}, "
	         "{\"name\": \"b\"}], \"kafka\": {\"topic\": \"s.{a}.{b}\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (!t)
		return;
	CHECK_STR(topic_of(t, "{\"a\":\"x.y\",\"b\":\"z\"}", NULL),
	          "s.x_2ey.z");
	CHECK_STR(topic_of(t, "{\"a\":\"x\",\"b\":\"y.z\"}", NULL),
	          "s.x.y_2ez");
	CHECK_STR(match(t, "s.x_2ey.z"), "dynamic a=x.y,b=z");
	CHECK_STR(match(t, "s.x.y_2ez"), "dynamic a=x,b=y.z");
	table_free(t);

	/* fx-table(5)'s example: '_' before a placeholder runs into escapes */
	t = load("{\"name\": \"p\", \"partition_by\": [{\"name\": \"a\"}, "
	         "{\"name\": \"b\"}], \"kafka\": {\"topic\": \"p_{a}_{b}\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (!t)
		return;
	CHECK_STR(topic_of(t, "{\"a\":\"a_\",\"b\":\"10\"}", NULL),
	          "p_a_5f_10");
	CHECK_STR(
	    topic_of(t, "{\"a\":\"a\",\"b\":\"5f\\u0010\"}", NULL),
	    "error: topic \"p_a_5f_10\" was already the topic of other values: two partitions cannot share a topic");
	CHECK_STR(
	    match(t, "p_a_5f_10"),
	    "error: topic \"p_a_5f_10\" could hold two partitions of the template \"p_{a}_{b}\"");
	CHECK_STR(match(t, "p_x_y"), "dynamic a=x,b=y");
	table_free(t);
}

/*
 * A placeholder after '_' runs into escapes ("_20" is a space), but a day,
 * an hour and a bucket have a shape: the one split whose values fit is the
 * answer. Each value below contains '_' and digits.
 */
static void test_shaped_values(void)
{
	struct table *t;

	t = load("{\"name\": \"p\", " OS_DT ", "
	         "\"kafka\": {\"topic\": \"p_{os}_{dt}\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (!t)
		return;
	CHECK_STR(topic_of(t,
	                   "{\"os\":\"a_b\",\"event_time\":"
	                   "\"2026-11-23T10:00:00Z\"}",
	                   NULL),
	          "p_a_5fb_2026-11-23");
	CHECK_STR(match(t, "p_a_5fb_2026-11-23"),
	          "dynamic dt=2026-11-23,os=a_b");
	CHECK_STR(topic_of(t,
	                   "{\"os\":\"_20_2026-11-23\",\"event_time\":"
	                   "\"2020-02-29T00:00:00Z\"}",
	                   NULL),
	          "p__5f20_5f2026-11-23_2020-02-29");
	CHECK_STR(match(t, "p__5f20_5f2026-11-23_2020-02-29"),
	          "dynamic dt=2020-02-29,os=_20_2026-11-23");
	CHECK_STR(match(t, "p_ios_2026-11-23"), "dynamic dt=2026-11-23,os=ios");
	/* not a day that is: 2026 is not a leap year; no month 13 */
	CHECK_STR(match(t, "p_x_5f20_2026-02-29"), "reject");
	CHECK_STR(match(t, "p_x_2026-13-01"), "reject");
	CHECK_STR(match(t, "p_x_2026-1-01"), "reject");
	table_free(t);

	/* an hour: two digits below 24 */
	t = load("{\"name\": \"h\", \"partition_by\": [{\"name\": \"os\"}, "
	         "{\"name\": \"h\", \"field\": \"t\", \"transform\": "
	         "\"hour\"}], \"kafka\": {\"topic\": \"h_{os}_{h}\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (t) {
		CHECK_STR(topic_of(t,
		                   "{\"os\":\"x_\",\"t\":"
		                   "\"2026-11-23T10:00:00Z\"}",
		                   NULL),
		          "h_x_5f_10");
		CHECK_STR(match(t, "h_x_5f_10"), "dynamic os=x_,h=10");
		CHECK_STR(match(t, "h_x_5f_24"), "reject");
		CHECK_STR(match(t, "h_x_5f_7"), "reject");
		table_free(t);
	}

	/* a bucket: decimal below N, as written (no leading zero) */
	t = load("{\"name\": \"b\", \"partition_by\": [{\"name\": \"k\"}, "
	         "{\"name\": \"b\", \"field\": \"k\", \"transform\": "
	         "\"bucket(16)\"}], \"kafka\": {\"topic\": \"b_{k}_{b}\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (t) {
		CHECK_STR(match(t, "b_a_5f_15"), "dynamic k=a_,b=15");
		CHECK_STR(match(t, "b_a_5f_0"), "dynamic k=a_,b=0");
		CHECK_STR(match(t, "b_a_5f_16"), "reject");
		CHECK_STR(match(t, "b_a_5f_01"), "reject");
		table_free(t);
	}

	/* two values of any text: a split that is not UTF-8 is no value's */
	t = load("{\"name\": \"p\", \"partition_by\": [{\"name\": \"a\"}, "
	         "{\"name\": \"b\"}], \"kafka\": {\"topic\": \"p_{a}_{b}\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (t) {
		/* "\u00e9" and "10", not "\xc3" and "a9\x10" */
		CHECK_STR(topic_of(t, "{\"a\":\"\u00e9\",\"b\":10}", NULL),
		          "p__c3_a9_10");
		CHECK_STR(match(t, "p__c3_a9_10"), "dynamic a=\xc3\xa9,b=10");
		table_free(t);
	}

	/* a partition named twice has one value */
	t = load("{\"name\": \"r\", \"partition_by\": [{\"name\": \"os\"}], "
	         "\"kafka\": {\"topic\": \"r_{os}_{os}\"}}");
	CHECK_MSG(t != NULL, "%s", msg);
	if (t) {
		CHECK_STR(topic_of(t, "{\"os\":\"a_b\"}", NULL),
		          "r_a_5fb_a_5fb");
		CHECK_STR(match(t, "r_a_5fb_a_5fb"), "dynamic os=a_b");
		CHECK_STR(match(t, "r_x_y"), "reject");
		table_free(t);
	}
}

static void test_load_errors(void)
{
	/* the template's text */
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {\"topic\": \"t_{nosuch}\"}}",
	    "kafka.topic: unknown partition \"nosuch\" in \"t_{nosuch}\""));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {\"topic\": \"t_{os\"}}",
	    "kafka.topic: '{' without '}' in \"t_{os\""));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {\"topic\": \"t_os}{os}\"}}",
	    "kafka.topic: '}' without '{' in \"t_os}{os}\""));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {\"topic\": \"t {os}\"}}",
	    "kafka.topic: ' ' cannot be in a topic name (only A-Z a-z 0-9 . _ -)"));
	CHECK(load_fails(
	    "{\"name\": \"t\", " OS_DT ", "
	    "\"kafka\": {\"topic\": \"t_{os}\"}}",
	    "kafka.topic: \"t_{os}\" does not use partition \"dt\": values differing only in it would share a topic"));
	CHECK(load_fails(
	    "{\"name\": \"t\", " OS_DT ", "
	    "\"kafka\": {\"partition_by\": [\"os\"], \"topic\": \"t_{os}_{dt}\"}}",
	    "kafka.topic: not in kafka.partition_by: \"dt\" in \"t_{os}_{dt}\""));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {\"topic\": \"{os}{os}{os}{os}{os}{os}{os}{os}"
	    "{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}"
	    "{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}"
	    "{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}"
	    "{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}{os}"
	    "\"}}",
	    "kafka.topic: too long"));
	/* directory templates */
	CHECK(load_fails(
	    "{\"name\": \"t\", " OS_DT ", "
	    "\"files\": {\"dir\": \"t/{dt}{os}\"}}",
	    "files.dir: two placeholders in one directory name: \"t/{dt}{os}\""));
	CHECK(load_fails(
	    "{\"name\": \"t\", " OS_DT ", "
	    "\"files\": {\"dir\": \"t/os={os}\"}}",
	    "files.dir: \"t/os={os}\" does not use partition \"dt\": values differing only in it would share a directory"));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"files\": {\"dir\": \"/t/{os}\"}}",
	    "files.dir: \"/t/{os}\": a relative path of non-empty names"));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"files\": {\"dir\": \"t//{os}\"}}",
	    "files.dir: \"t//{os}\": a relative path of non-empty names"));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"files\": {\"dir\": \"t/{os}/\"}}",
	    "files.dir: \"t/{os}/\": a relative path of non-empty names"));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"files\": {\"dir\": \"t/../{os}\"}}",
	    "files.dir: \"t/../{os}\": no . or .. in it"));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"files\": {\"dir\": \"\"}}",
	    "files.dir: empty"));
	/* topics that two partitions would share */
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {\"topic\": \"t_{os}\", \"static\": {\"ios\": \"t_android\"}}}",
	    "kafka.static.\"ios\": topic \"t_android\" is also the template's topic for {\"os\":\"android\"}: two partitions cannot share a topic"));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {\"static\": {\"ios\": \"x\", \"android\": \"x\"}}}",
	    "kafka.static.\"android\": topic \"x\" is also the topic of \"ios\": two partitions cannot share a topic"));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {\"static\": {\"ios\": \"x y\"}}}",
	    "kafka.static.\"ios\": \"x y\": only A-Z a-z 0-9 . _ - in a topic name"));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {\"topic\": \"t_{os}\", \"default\": \"t_rest\"}}",
	    "kafka.default: never used: every value has a topic from the template (set \"dynamic\": false)"));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {\"dynamic\": true, \"default\": \"t_rest\"}}",
	    "kafka.dynamic: true needs a \"topic\" template"));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"os\"}], "
	    "\"kafka\": {}}",
	    "kafka: no topic: give \"topic\", \"static\" or \"default\""));
	/* a static topic the template could make for two tuples */
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"a\"}, {\"name\": \"b\"}], "
	    "\"kafka\": {\"topic\": \"t_{a}{b}\", \"static\": {\"a=1/b=2\": \"t_12\"}}}",
	    "kafka.static.\"a=1/b=2\": topic \"t_12\" could hold two partitions of the template \"t_{a}{b}\""));
	CHECK(load_fails(
	    "{\"name\": \"t\", \"partition_by\": [{\"name\": \"a\"}, {\"name\": \"b\"}], "
	    "\"kafka\": {\"static\": {\"a=1\": \"t_1\"}}}",
	    "kafka.static.\"a=1\": with several partitions a key is NAME=VALUE/NAME=VALUE naming each once"));
}

int main(void)
{
	snprintf(dir_, sizeof(dir_), "%s/fx-test-table.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (strlen(dir_) > 40 || !mkdtemp(dir_)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(def_path, sizeof(def_path), "%s/t.json", dir_);
	fx_init(&ctx, "test");
	RUN(test_escape);
	RUN(test_murmur2);
	RUN(test_bucket);
	RUN(test_topic_and_dir_templates);
	RUN(test_routes);
	RUN(test_collisions);
	RUN(test_shaped_values);
	RUN(test_load_errors);
	{
		char p[160];

		unlink(def_path);
		snprintf(p, sizeof(p), "%s/err", dir_);
		unlink(p);
		rmdir(dir_);
	}
	return unit_done("test_table");
}
