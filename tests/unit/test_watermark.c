/* test_watermark.c - the per-partition watermark (watermark.h) */
#include "unit.h"
#include "watermark.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

static struct json_value str(const char *s)
{
	struct json_value v = {JSON_STRING, s, strlen(s), 0};

	return v;
}

static struct json_value arr(const char *s)
{
	struct json_value v = {JSON_ARRAY, s, strlen(s), 0};

	return v;
}

static int64_t adv(struct watermark *w, const char *part, int64_t t);

static int64_t rec(struct watermark *w, const char *part, int64_t t)
{
	return watermark_record(w, part, strlen(part), t);
}

static int ctl(struct watermark *w, const char *kind, const char *list,
               const char *part)
{
	struct json_value k = str(kind), l = arr(list ? list : "[]"),
	                  p = str(part ? part : "\"\"");

	return watermark_control(w, &k, &l, &p, 0, 0);
}

/* one partition (a file): the highest time minus the lateness, never back */
static void test_one_partition(void)
{
	struct watermark w;

	watermark_init(&w, 10, 0);
	CHECK(w.value == INT64_MIN);
	CHECK(rec(&w, "", 100) == 90);
	CHECK(rec(&w, "", 50) == 90);
	CHECK(rec(&w, "", 200) == 190);
	watermark_free(&w);
}

/* a time near INT64_MIN less the lateness stays at the far past */
static void test_lateness_saturates(void)
{
	struct watermark w;

	watermark_init(&w, 1000, 0);
	CHECK(rec(&w, "", INT64_MIN + 5) == INT64_MIN);
	CHECK(rec(&w, "", 4000) == 3000);
	watermark_free(&w);
	watermark_init(&w, 1000, 0);
	CHECK(adv(&w, "", INT64_MIN + 5) == INT64_MIN);
	CHECK(adv(&w, "", 4000) == 3000);
	watermark_free(&w);
}

/* assigned partitions hold it back until each has a time; eof lets go */
static void test_assigned_and_eof(void)
{
	struct watermark w;

	watermark_init(&w, 10, 0);
	CHECK(ctl(&w, "\"assigned\"", "[\"t/0\",\"t/1\"]", NULL) == 1);
	CHECK(rec(&w, "t/0", 100) == INT64_MIN);
	CHECK(rec(&w, "t/0", 500) == INT64_MIN);
	CHECK(rec(&w, "t/1", 50) == 40);
	CHECK(rec(&w, "t/1", 300) == 290);
	CHECK(rec(&w, "t/1", 600) == 490);
	CHECK(ctl(&w, "\"eof\"", NULL, "\"t/0\"") == 1);
	CHECK(w.value == 590);
	/* a partition at its end counts again at its next record */
	CHECK(rec(&w, "t/0", 550) == 590);
	CHECK(rec(&w, "t/1", 700) == 590);
	CHECK(rec(&w, "t/0", 800) == 690);
	/* all at their end: it holds */
	CHECK(ctl(&w, "\"eof\"", NULL, "\"t/0\"") == 1);
	CHECK(ctl(&w, "\"eof\"", NULL, "\"t/1\"") == 1);
	CHECK(w.value == 690);
	CHECK(ctl(&w, "\"checkpoint\"", NULL, NULL) == 0);
	watermark_free(&w);
}

/* a new assignment: partitions left out stop counting */
static void test_reassigned(void)
{
	struct watermark w;

	watermark_init(&w, 0, 0);
	CHECK(rec(&w, "t/0", 100) == 100);
	CHECK(rec(&w, "t/1", 10) == 100);
	CHECK(ctl(&w, "\"assigned\"", "[\"t/1\",\"t/2\"]", NULL) == 1);
	CHECK(rec(&w, "t/1", 150) == 100); /* t/2 holds it */
	CHECK(rec(&w, "t/2", 120) == 120);
	watermark_free(&w);
}

/* a watermark control record moves it at once */
static void test_control_watermark(void)
{
	struct watermark w;
	struct json_value k = str("\"watermark\""), none = {0};

	watermark_init(&w, 10, 0);
	CHECK(rec(&w, "", 100) == 90);
	CHECK(watermark_control(&w, &k, &none, &none, 1, 1000) == 1);
	CHECK(w.value == 1000);
	CHECK(watermark_control(&w, &k, &none, &none, 1, 500) == 1);
	CHECK(w.value == 1000);
	watermark_free(&w);
}

/* a silent partition stops holding it after the idle timeout */
static void test_idle_timeout(void)
{
	struct watermark w;
	struct timespec pause = {0, 700 * 1000 * 1000};

	watermark_init(&w, 0, 500);
	CHECK(ctl(&w, "\"assigned\"", "[\"t/0\",\"t/1\"]", NULL) == 1);
	CHECK(rec(&w, "t/0", 100) == INT64_MIN);
	nanosleep(&pause, NULL);
	CHECK(rec(&w, "t/0", 110) == 110);
	watermark_free(&w);
}

static int64_t adv(struct watermark *w, const char *part, int64_t t)
{
	return watermark_advance(w, part, strlen(part), t);
}

/* watermark_advance: watermark_record's answers on records alone */
static void test_advance_as_record(void)
{
	static const char *parts[] = {"t/0", "t/1", "t/2"};
	struct watermark a, r;
	uint64_t x = 1;
	int i, same = 1;

	watermark_init(&a, 10, 0);
	watermark_init(&r, 10, 0);
	CHECK(adv(&a, "", 100) == 90);
	CHECK(adv(&a, "", 50) == 90);
	CHECK(adv(&a, "", 200) == 190);
	watermark_free(&a);
	watermark_init(&a, 10, 0);
	for (i = 0; i < 10000; i++) {
		const char *p;
		int64_t t;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		p = parts[(x >> 33) % (i < 100 ? 1 : 3)];
		t = (int64_t)(i * 10) - (int64_t)((x >> 40) % 500);
		if (adv(&a, p, t) != rec(&r, p, t))
			same = 0;
	}
	CHECK(same);
	CHECK(a.value == r.value && a.value > INT64_MIN);
	watermark_free(&a);
	watermark_free(&r);
}

/* ... but it recomputes only on a partition's new highest time */
static void test_advance_lazy(void)
{
	struct watermark w;
	struct timespec pause = {0, 700 * 1000 * 1000};

	watermark_init(&w, 0, 0);
	CHECK(adv(&w, "t/0", 100) == 100);
	CHECK(adv(&w, "t/1", 50) == 100);
	CHECK(adv(&w, "t/0", 300) == 100);
	CHECK(ctl(&w, "\"assigned\"", "[\"t/0\"]", NULL) == 1);
	CHECK(adv(&w, "t/0", 200) == 100); /* not a new high: as it was */
	CHECK(adv(&w, "t/0", 301) == 301);
	watermark_free(&w);

	watermark_init(&w, 0, 500);
	CHECK(ctl(&w, "\"assigned\"", "[\"t/0\",\"t/1\"]", NULL) == 1);
	CHECK(adv(&w, "t/0", 100) == INT64_MIN);
	nanosleep(&pause, NULL);
	CHECK(adv(&w, "t/0", 100) == INT64_MIN);
	CHECK(adv(&w, "t/0", 110) == 110); /* t/1 went idle */
	watermark_free(&w);
}

/* the partition name from --meta fields */
static void test_partition_name(void)
{
	struct json_value topic = str("\"pl\\u0061ys\""),
	                  part = {JSON_NUMBER, "3", 1, 0}, none = {0};
	struct fx_buf b = {0};

	topic.escaped = 1;
	watermark_partition_name(&topic, &part, &b);
	CHECK(b.len == 7 && memcmp(b.p, "plays/3", 7) == 0);
	watermark_partition_name(&topic, &none, &b);
	CHECK(b.len == 0);
	fx_buf_free(&b);
}

int main(void)
{
	RUN(test_one_partition);
	RUN(test_lateness_saturates);
	RUN(test_assigned_and_eof);
	RUN(test_reassigned);
	RUN(test_control_watermark);
	RUN(test_idle_timeout);
	RUN(test_partition_name);
	RUN(test_advance_as_record);
	RUN(test_advance_lazy);
	return unit_done("test_watermark");
}
