/*
 * lineage_run.c - run events: START at fx_parse_options(), COMPLETE or
 * FAIL at fx_finish() (through the core's hooks, lineage_run.h), with the
 * datasets the I/O modules registered (lineage.c).
 *
 * Events are OpenLineage 2-0-2 RunEvents, one JSON object per line, so
 * that the store is already valid OpenLineage. The "fx" run facet carries
 * what fx-lineage needs to stitch a pipeline together when the stages did
 * not agree on its id: pid, argv, the stdin and stdout pipes, and the
 * upstream chain of processes seen through /proc, and the model's names
 * of a stage that fx-run started (FX_PIPELINE, FX_JOB: the pipeline file's
 * name and the job, as "pipeline": {"name", "job"}). The "fx_checkpoint"
 * run facet of COMPLETE and FAIL names the checkpoints of a run that took
 * part in them (ctx->ckpt, which the stages fill in): the one it resumed
 * from, the last barrier, the last committed, and a stateful stage's last
 * snapshot.
 */
#include "lineage_run.h"
#include "buf.h"
#include "err.h"
#include "fxtime.h"
#include "json.h"
#include "lineage.h"
#include "lineage_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define LINEAGE_PRODUCER  "urn:fx:fx:" FX_VERSION
#define OL_SCHEMA         "https://openlineage.io/spec/2-0-2/OpenLineage.json"
#define OL_FACETS         "https://openlineage.io/spec/facets/"
#define FX_FACET_SCHEMA   "urn:fx:schema:FxRunFacet:1-0-0"
#define FX_CKPT_SCHEMA    "urn:fx:schema:FxCheckpointRunFacet:1-0-0"
#define LINEAGE_NAMESPACE "fx"

/*
 * Programs that are not part of a data flow record nothing; nor does
 * fx-run, whose stages record the job's run (with FX_PIPELINE and FX_JOB)
 * and whose own stdout, a log, is no dataset.
 */
static int records_lineage(const char *prog)
{
	return strcmp(prog, "fx-lineage") != 0 &&
	       strcmp(prog, "fx-devbroker") != 0 && strcmp(prog, "fx-run") != 0;
}

void lineage_uuid_format(unsigned char b[16], int version, char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int i, o = 0;

	b[6] = (unsigned char)((b[6] & 0x0f) | (version << 4));
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = 0;
}

void lineage_uuid_from(const char *s, size_t n, char out[37])
{
	XXH128_hash_t h = XXH3_128bits(s, n);
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	lineage_uuid_format(c.digest, 8, out);
}

static void uuid_random(char out[37])
{
	unsigned char b[16];
	ssize_t n = getrandom(b, sizeof(b), GRND_NONBLOCK);

	if (n != (ssize_t)sizeof(b)) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		n = fd >= 0 ? read(fd, b, sizeof(b)) : -1;
		if (fd >= 0)
			close(fd);
		if (n != (ssize_t)sizeof(b)) {
			/* never fail a run for an id: time and pid will do */
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			snprintf((char *)b, sizeof(b), "%lx%lx%x",
			         (unsigned long)ts.tv_sec,
			         (unsigned long)ts.tv_nsec, (unsigned)getpid());
		}
	}
	lineage_uuid_format(b, 4, out);
}

static int is_uuid(const char *s)
{
	int i;

	for (i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
			return 0;
	}
	return s[36] == 0;
}

/* Bytes that are not UTF-8 cannot go into a JSON string: '?' them. */
static cJSON *text(const char *s)
{
	size_t n = strlen(s), i;
	cJSON *j;
	char *c;

	if (json_utf8_valid(s, n))
		return cJSON_CreateString(s);
	c = fx_strdup(s);
	for (i = 0; i < n; i++)
		if ((unsigned char)c[i] >= 0x80)
			c[i] = '?';
	j = cJSON_CreateString(c);
	free(c);
	return j;
}

static void add_text(cJSON *o, const char *key, const char *s)
{
	cJSON_AddItemToObject(o, key, text(s));
}

static cJSON *facet(const char *schema)
{
	cJSON *f = cJSON_CreateObject();

	cJSON_AddStringToObject(f, "_producer", LINEAGE_PRODUCER);
	cJSON_AddStringToObject(f, "_schemaURL", schema);
	return f;
}

/* argv as run: /proc/self/cmdline, since getopt_long has permuted argv. */
static cJSON *argv_json(int argc, char **argv)
{
	cJSON *a = cJSON_CreateArray();
	char buf[65536];
	ssize_t n = -1, i, start = 0;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf));
		close(fd);
	}
	if (n <= 0 || n == (ssize_t)sizeof(buf)) {
		for (i = 0; i < argc; i++)
			cJSON_AddItemToArray(a, text(argv[i]));
		return a;
	}
	for (i = 0; i < n; i++) {
		if (buf[i])
			continue;
		cJSON_AddItemToArray(a, text(buf + start));
		start = i + 1;
	}
	return a;
}

static cJSON *chain_json(const struct lineage_chain *c)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < c->n; i++) {
		const struct lineage_proc *p = &c->procs[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "pid", p->pid);
		add_text(o, "comm", p->comm);
		cJSON_AddNumberToObject(o, "start", (double)p->start);
		cJSON_AddNumberToObject(o, "stdinPipe", (double)p->in_pipe);
		cJSON_AddNumberToObject(o, "stdoutPipe", (double)p->out_pipe);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

/*
 * The pipeline run: FX_RUN_ID, else the first pipe of the pipeline, else
 * this process alone. Each is hashed with the boot id, which makes pipe
 * inodes and pids unique across reboots.
 */
static const char *pipeline_identity(struct lineage *l,
                                     const struct lineage_chain *c)
{
	const char *env = getenv("FX_RUN_ID");
	const struct lineage_proc *self = &c->procs[0];
	char key[160];
	int n;

	if (env && *env) {
		if (is_uuid(env)) {
			memcpy(l->pipeline_id, env, 37);
		} else {
			n = snprintf(key, sizeof(key), "run:%.100s", env);
			lineage_uuid_from(key, (size_t)n, l->pipeline_id);
		}
		return "FX_RUN_ID";
	}
	if (c->first_pipe) {
		n = snprintf(key, sizeof(key), "pipe:%s:%lu", c->boot_id,
		             c->first_pipe);
		lineage_uuid_from(key, (size_t)n, l->pipeline_id);
		return "pipe";
	}
	n = snprintf(key, sizeof(key), "proc:%s:%d:%llu", c->boot_id, self->pid,
	             self->start);
	lineage_uuid_from(key, (size_t)n, l->pipeline_id);
	return "process";
}

/* "a.b.c" of the parts that are set, into a new string. */
static char *dotted(const char *a, const char *b, const char *c)
{
	struct fx_buf buf = FX_BUF_INIT;
	const char *part[3] = {a, b, c};
	int i;

	for (i = 0; i < 3; i++) {
		if (!part[i] || !*part[i])
			continue;
		if (buf.len)
			fx_buf_addc(&buf, '.');
		fx_buf_adds(&buf, part[i]);
	}
	fx_buf_addc(&buf, 0);
	return buf.p;
}

/*
 * The stage's job and its pipeline run's job: FX_JOB.prog and FX_JOB,
 * both prefixed with FX_PIPELINE when fx-run started the stage
 * ("music.ads.fx-agg", "music.ads"); without FX_JOB, prog.HASH of the
 * arguments (stable across runs) and "adhoc".
 */
static void job_names(struct lineage *l, int argc, char **argv)
{
	const char *env = getenv("FX_JOB");
	const char *pipeline = getenv("FX_PIPELINE");
	const char *prog = l->ctx->prog;
	XXH64_state_t *st;
	char buf[64];
	int i;

	if (env && *env) {
		l->job = dotted(pipeline, env, prog);
		l->pipeline_job = dotted(pipeline, env, NULL);
		return;
	}
	st = XXH64_createState();
	if (!st)
		fx_oom();
	XXH64_reset(st, 0);
	for (i = 1; i < argc; i++)
		XXH64_update(st, argv[i], strlen(argv[i]) + 1);
	snprintf(buf, sizeof(buf), "%08llx",
	         (unsigned long long)(XXH64_digest(st) >> 32));
	XXH64_freeState(st);
	l->job = dotted(prog, buf, NULL);
	l->pipeline_job = fx_strdup("adhoc");
}

static cJSON *fx_facet(struct lineage *l, int argc, char **argv)
{
	struct lineage_chain c;
	cJSON *f = facet(FX_FACET_SCHEMA), *p;
	char host[256] = "", cwd[4096];
	const char *source, *env;

	lineage_chain_find(&c);
	source = pipeline_identity(l, &c);
	gethostname(host, sizeof(host) - 1);
	add_text(f, "program", l->ctx->prog);
	cJSON_AddStringToObject(f, "version", FX_VERSION);
	cJSON_AddNumberToObject(f, "pid", c.procs[0].pid);
	cJSON_AddNumberToObject(f, "ppid", getppid());
	cJSON_AddNumberToObject(f, "pgrp", getpgrp());
	add_text(f, "host", host);
	add_text(f, "bootId", c.boot_id);
	if (getcwd(cwd, sizeof(cwd)))
		add_text(f, "cwd", cwd);
	cJSON_AddItemToObject(f, "argv", argv_json(argc, argv));
	cJSON_AddNumberToObject(f, "stdinPipe", (double)c.procs[0].in_pipe);
	cJSON_AddNumberToObject(f, "stdoutPipe", (double)c.procs[0].out_pipe);
	cJSON_AddItemToObject(f, "chain", chain_json(&c));
	p = cJSON_AddObjectToObject(f, "pipeline");
	cJSON_AddStringToObject(p, "source", source);
	cJSON_AddNumberToObject(p, "firstPipe", (double)c.first_pipe);
	env = getenv("FX_PIPELINE");
	if (env && *env)
		add_text(p, "name", env);
	env = getenv("FX_JOB");
	if (env && *env)
		add_text(p, "job", env);
	return f;
}

static cJSON *parent_facet(const struct lineage *l)
{
	cJSON *f =
	    facet(OL_FACETS "1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet");
	cJSON *run = cJSON_AddObjectToObject(f, "run");
	cJSON *job = cJSON_AddObjectToObject(f, "job");

	cJSON_AddStringToObject(run, "runId", l->pipeline_id);
	cJSON_AddStringToObject(job, "namespace", LINEAGE_NAMESPACE);
	add_text(job, "name", l->pipeline_job);
	return f;
}

/* OpenLineage naming: kafka://host:port + topic, file + /path. */
static cJSON *dataset_json(const struct lineage_ds *d, int stats)
{
	cJSON *o = cJSON_CreateObject(), *fs, *st;
	const char *u = d->uri, *slash;
	char *ns;

	if (strncmp(u, "file://", 7) == 0) {
		cJSON_AddStringToObject(o, "namespace", "file");
		add_text(o, "name", u + 7);
	} else {
		/* kafka://host:port/topic: the topic is after the third '/' */
		slash = strchr(u + 8, '/');
		if (!slash)
			slash = u + strlen(u);
		ns = fx_strndup(u, (size_t)(slash - u));
		add_text(o, "namespace", ns);
		free(ns);
		add_text(o, "name", *slash ? slash + 1 : "");
	}
	if (!stats)
		return o;
	if (d->dir == LINEAGE_INPUT) {
		fs = cJSON_AddObjectToObject(o, "inputFacets");
		st = facet(OL_FACETS "1-0-0/InputStatisticsInputDatasetFacet"
		                     ".json#/$defs/"
		                     "InputStatisticsInputDatasetFacet");
		cJSON_AddItemToObject(fs, "inputStatistics", st);
	} else {
		fs = cJSON_AddObjectToObject(o, "outputFacets");
		st = facet(OL_FACETS "1-0-2/OutputStatisticsOutputDatasetFacet"
		                     ".json#/$defs/"
		                     "OutputStatisticsOutputDatasetFacet");
		cJSON_AddItemToObject(fs, "outputStatistics", st);
	}
	cJSON_AddNumberToObject(st, "rowCount", (double)d->count);
	return o;
}

static void add_datasets(cJSON *ev, const struct lineage *l, int stats)
{
	cJSON *in = cJSON_AddArrayToObject(ev, "inputs");
	cJSON *out = cJSON_AddArrayToObject(ev, "outputs");
	const struct lineage_ds *d;

	for (d = l->datasets; d; d = d->next)
		cJSON_AddItemToArray(d->dir == LINEAGE_INPUT ? in : out,
		                     dataset_json(d, stats));
}

static cJSON *event(struct lineage *l, const char *type)
{
	cJSON *ev = cJSON_CreateObject(), *run, *facets, *job;
	char when[FX_TIME_ISO_LEN + 1];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fx_time_format_iso((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
	                   when);
	cJSON_AddStringToObject(ev, "eventType", type);
	cJSON_AddStringToObject(ev, "eventTime", when);
	cJSON_AddStringToObject(ev, "producer", LINEAGE_PRODUCER);
	cJSON_AddStringToObject(ev, "schemaURL", OL_SCHEMA "#/$defs/RunEvent");
	run = cJSON_AddObjectToObject(ev, "run");
	cJSON_AddStringToObject(run, "runId", l->run_id);
	facets = cJSON_AddObjectToObject(run, "facets");
	cJSON_AddItemToObject(facets, "parent", parent_facet(l));
	cJSON_AddItemReferenceToObject(facets, "fx", l->fx);
	job = cJSON_AddObjectToObject(ev, "job");
	cJSON_AddStringToObject(job, "namespace", LINEAGE_NAMESPACE);
	add_text(job, "name", l->job);
	return ev;
}

static void emit(struct lineage *l, cJSON *ev)
{
	char *s = cJSON_PrintUnformatted(ev);
	size_t n;

	if (!s)
		fx_oom();
	n = strlen(s);
	s[n] = '\n'; /* cJSON's buffer has the NUL's byte to spare */
	lineage_store_append(l->store, s, n + 1);
	cJSON_free(s);
	cJSON_Delete(ev);
}

/*
 * A run must end with an event however the program exits: fx_die(),
 * fx_usage_error() and a few other paths call exit() without
 * fx_finish(). glibc's on_exit() hands the handler the exit status, so
 * those runs end with FAIL (or COMPLETE for a 0) and the last message.
 * The handler may run after main() has returned, when main's ctx is gone:
 * it touches only the run (live), its ctx's checkpoints while the run is
 * live (every main() returns through fx_finish(), which ends the run, so a
 * live run's exit() comes from under main(), whose ctx is alive) and,
 * while the options are being parsed, the ctx that lineage_arm() was given.
 */
static struct lineage *live; /* started and not yet finished */
static struct {
	struct fx_ctx *ctx; /* between lineage_arm() and lineage_start() */
	int argc;
	char **argv;
	char *msg; /* the last message printed before the run started */
	int handler;
} armed;

static void lineage_end(struct lineage *l, int status,
                        const struct fx_ckpt_stats *ck);

/* msg for the FAIL of run l, or of the run about to start (l NULL) */
static void note_message(struct lineage *l, const char *msg)
{
	char **slot = l ? &l->last_msg : &armed.msg;

	if (!l && !armed.ctx)
		return; /* no run, and none about to start */
	free(*slot);
	*slot = fx_strdup(msg);
}

static void at_exit(int status, void *arg)
{
	struct fx_ctx *ctx = armed.ctx;

	(void)arg;
	if (!live && ctx && status != 0) {
		/* a usage error while parsing the options: a run that failed */
		lineage_start(ctx, armed.argc, armed.argv);
		if (live && armed.msg)
			note_message(live, armed.msg);
		ctx->lineage = NULL;
	}
	if (live)
		lineage_end(live, status, &live->ctx->ckpt);
	free(armed.msg);
	armed.msg = NULL;
}

void lineage_arm(struct fx_ctx *ctx, int argc, char **argv)
{
	if (!records_lineage(ctx->prog))
		return;
	armed.ctx = ctx;
	armed.argc = argc;
	armed.argv = argv;
	if (!armed.handler)
		armed.handler = on_exit(at_exit, NULL) == 0;
}

void lineage_start(struct fx_ctx *ctx, int argc, char **argv)
{
	struct lineage_store *store;
	struct lineage *l;

	armed.ctx = NULL; /* from here on, the run is live (or off) */
	if (ctx->lineage || !records_lineage(ctx->prog))
		return;
	store = lineage_store_open(ctx, getenv("FX_LINEAGE"));
	if (!store)
		return;
	l = fx_malloc(sizeof(*l));
	memset(l, 0, sizeof(*l));
	l->ctx = ctx;
	l->store = store;
	uuid_random(l->run_id);
	job_names(l, argc, argv);
	l->fx = fx_facet(l, argc, argv);
	l->stdout_path = lineage_regular_file_path(STDOUT_FILENO);
	ctx->lineage = l;
	live = l;
	if (!armed.handler)
		armed.handler = on_exit(at_exit, NULL) == 0;
	emit(l, event(l, "START"));
}

void lineage_note_message(const struct fx_ctx *ctx, const char *msg)
{
	note_message(ctx->lineage, msg);
}

static void lineage_free(struct lineage *l)
{
	struct lineage_ds *d, *next;

	for (d = l->datasets; d; d = next) {
		next = d->next;
		free(d->uri);
		free(d);
	}
	lineage_store_close(l->store);
	cJSON_Delete(l->fx);
	free(l->stdout_path);
	free(l->job);
	free(l->pipeline_job);
	free(l->last_msg);
	free(l->fail_msg);
	free(l);
}

void lineage_finish(struct fx_ctx *ctx, int status)
{
	struct lineage *l = ctx->lineage;
	const struct lineage_ds *d;
	int has_output = 0;

	if (!l)
		return;
	/*
	 * `fx-agg ... >out.ndjson`: the records went to stdout, a file. A
	 * program that registered an output of its own (fx-sink --file, -t)
	 * wrote its records there, and stdout is only its log.
	 */
	for (d = l->datasets; d; d = d->next)
		has_output |= d->dir == LINEAGE_OUTPUT;
	if (l->stdout_path && !has_output)
		lineage_count(lineage_file(ctx, LINEAGE_OUTPUT, l->stdout_path),
		              ctx->st.records_out);
	ctx->lineage = NULL; /* a message from here on is not the run's */
	lineage_end(l, status, &ctx->ckpt);
}

/* Milliseconds to the microsecond: no 15 digits of clock noise. */
static double ms3(double ms)
{
	return (double)(int64_t)(ms * 1000 + 0.5) / 1000;
}

/*
 * The fx_checkpoint run facet: the checkpoint the run resumed from (if it
 * saw a restore), the last barrier, the last committed one, and the last
 * snapshot of a stateful stage.
 */
static cJSON *checkpoint_facet(const struct fx_ckpt_stats *ck)
{
	cJSON *f = facet(FX_CKPT_SCHEMA);
	char when[FX_TIME_ISO_LEN + 1];

	if (ck->restored_seen)
		cJSON_AddNumberToObject(f, "restored", (double)ck->restored);
	cJSON_AddNumberToObject(f, "last", (double)ck->last);
	cJSON_AddNumberToObject(f, "committed", (double)ck->committed);
	if (ck->restore_ms > 0)
		cJSON_AddNumberToObject(f, "restoreMs", ms3(ck->restore_ms));
	if (ck->snapshots) {
		cJSON_AddNumberToObject(f, "snapshots", (double)ck->snapshots);
		cJSON_AddNumberToObject(f, "stateBytes",
		                        (double)ck->state_bytes);
		cJSON_AddNumberToObject(f, "snapshotMs", ms3(ck->snapshot_ms));
		fx_time_format_iso(ck->snapshot_at_ms, when);
		cJSON_AddStringToObject(f, "snapshotTime", when);
	}
	return f;
}

/*
 * COMPLETE or FAIL, then frees l. Touches no ctx but ck (see at_exit()),
 * copied into the event before it returns.
 */
static void lineage_end(struct lineage *l, int status,
                        const struct fx_ckpt_stats *ck)
{
	cJSON *ev, *facets, *err;
	char msg[64];

	if (l == live)
		live = NULL;
	cJSON_AddNumberToObject(l->fx, "exitStatus", status);
	ev = event(l, status || l->fail_msg ? "FAIL" : "COMPLETE");
	facets = cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "run"), "facets");
	if (ck && ck->on)
		cJSON_AddItemToObject(facets, "fx_checkpoint",
		                      checkpoint_facet(ck));
	if (status || l->fail_msg) {
		err = facet(OL_FACETS "1-0-1/ErrorMessageRunFacet.json#/$defs/"
		                      "ErrorMessageRunFacet");
		snprintf(msg, sizeof(msg), "exit status %d", status);
		add_text(err, "message",
		         l->fail_msg && !status ? l->fail_msg
		         : l->last_msg          ? l->last_msg
		                                : msg);
		cJSON_AddStringToObject(err, "programmingLanguage", "C");
		cJSON_AddItemToObject(facets, "errorMessage", err);
	}
	add_datasets(ev, l, 1);
	emit(l, ev);
	lineage_free(l);
}
