/* Checkpoint records and committed.json: what is written reads back. */
#include "checkpoint.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static int put(const char *name, const char *text)
{
	char path[512];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static void test_barrier_round_trip(void)
{
	struct ckpt_position pos[2] = {{"plays", 0, 17}, {"pl\"ays", 3, 0}};
	struct ckpt_barrier br = {0};
	struct fx_buf b = FX_BUF_INIT;

	ckpt_barrier_format(&b, 5, pos, 2, 0);
	fx_buf_addc(&b, '\0');
	CHECK_STR(b.p, "{\"_fx\":\"checkpoint\",\"id\":5,\"positions\":"
	               "[[\"plays\",0,17],[\"pl\\\"ays\",3,0]]}");
	CHECK(ckpt_barrier_parse(b.p, b.len - 1, &br) == 0);
	CHECK(br.id == 5 && !br.final && !br.restore && br.npos == 2);
	CHECK(br.npos == 2 && !strcmp(br.pos[1].topic, "pl\"ays") &&
	      br.pos[1].partition == 3 && br.pos[0].offset == 17);

	fx_buf_reset(&b);
	ckpt_barrier_format(&b, 6, pos, 0, 1);
	CHECK(ckpt_barrier_parse(b.p, b.len, &br) == 0);
	CHECK(br.id == 6 && br.final && br.npos == 0);

	fx_buf_reset(&b);
	ckpt_restore_format(&b, 0);
	fx_buf_addc(&b, '\0');
	CHECK_STR(b.p, "{\"_fx\":\"restore\",\"id\":0}");
	CHECK(ckpt_barrier_parse(b.p, b.len - 1, &br) == 0);
	CHECK(br.restore && br.id == 0);
	ckpt_barrier_free(&br);
	fx_buf_free(&b);
}

static void test_barrier_malformed(void)
{
	static const char *bad[] = {
	    "{\"_fx\":\"watermark\",\"ts\":1}",
	    "{\"_fx\":\"checkpoint\",\"positions\":[]}",
	    "{\"_fx\":\"checkpoint\",\"id\":0,\"positions\":[]}",
	    "{\"_fx\":\"checkpoint\",\"id\":1.5,\"positions\":[]}",
	    "{\"_fx\":\"checkpoint\",\"id\":1}",
	    "{\"_fx\":\"checkpoint\",\"id\":1,\"positions\":[[\"t\",0]]}",
	    "{\"_fx\":\"checkpoint\",\"id\":1,\"positions\":[[\"t\",-1,0]]}",
	    "{\"_fx\":\"checkpoint\",\"id\":1,\"positions\":[[\"\",0,0]]}",
	    "{\"_fx\":\"checkpoint\",\"id\":1,\"positions\":[],\"final\":1}",
	    "{\"_fx\":\"restore\"}",
	    "not json",
	};
	struct ckpt_barrier br = {0};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		errno = 0;
		CHECK_MSG(ckpt_barrier_parse(bad[i], strlen(bad[i]), &br) ==
		                  -1 &&
		              errno == EBADMSG,
		          "%s", bad[i]);
		CHECK(br.npos == 0 && br.pos == NULL);
	}
}

static void test_state_round_trip(void)
{
	struct ckpt_state c = {0}, r = {0};
	char sub[300];

	CHECK(ckpt_state_read(dir, &r) == 0 && r.id == 0); /* none yet */
	c.id = 42;
	ckpt_state_set_position(&c, "plays", 1, 100);
	ckpt_state_set_position(&c, "plays", 0, 7);
	ckpt_state_set_position(&c, "plays", 1, 120); /* replaces */
	ckpt_state_set_file(&c, "dt=2026-11-23/part-00000.ndjson", 5000);
	ckpt_state_set_file(&c, "dt=x \"q\"/p", 0);
	snprintf(sub, sizeof(sub), "%s/job/deep", dir);
	CHECK(ckpt_state_write(sub, &c) == 0); /* creates the directory */
	CHECK(ckpt_state_read(sub, &r) == 0);
	CHECK(r.id == 42 && r.npos == 2 && r.nfiles == 2);
	CHECK(ckpt_state_position(&r, "plays", 1) == 120);
	CHECK(ckpt_state_position(&r, "plays", 0) == 7);
	CHECK(ckpt_state_position(&r, "plays", 2) == -1);
	CHECK(ckpt_state_position(&r, "other", 0) == -1);
	CHECK(ckpt_state_file(&r, "dt=2026-11-23/part-00000.ndjson") == 5000);
	CHECK(ckpt_state_file(&r, "dt=x \"q\"/p") == 0);
	CHECK(ckpt_state_file(&r, "nope") == -1);
	ckpt_state_free(&c);
	ckpt_state_free(&r);
}

static void test_state_corrupt(void)
{
	static const char *bad[] = {
	    "",
	    "{",
	    "{\"id\":1}",
	    "{\"id\":0,\"positions\":[]}",
	    "{\"id\":1,\"positions\":[],\"files\":{\"a\":-1}}",
	    "{\"id\":1,\"positions\":[],\"files\":[]}",
	    "{\"id\":1,\"positions\":[[\"t\",0,1e300]]}",
	};
	struct ckpt_state r = {0};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		CHECK(put("committed.json", bad[i]) == 0);
		errno = 0;
		CHECK_MSG(ckpt_state_read(dir, &r) == -1 && errno == EBADMSG,
		          "'%s'", bad[i]);
		CHECK(r.id == 0 && r.npos == 0);
	}
	CHECK(put("committed.json", "{\"id\":3,\"positions\":[]}\n") == 0);
	CHECK(ckpt_state_read(dir, &r) == 0 && r.id == 3 && r.nfiles == 0);
	ckpt_state_free(&r);
}

int main(void)
{
	char cmd[600];
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/fx-test-checkpoint.%ld",
	         (long)getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", dir, dir);
	if (system(cmd) != 0)
		return 1;
	RUN(test_barrier_round_trip);
	RUN(test_barrier_malformed);
	RUN(test_state_round_trip);
	RUN(test_state_corrupt);
	rc = unit_done("test_checkpoint");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
