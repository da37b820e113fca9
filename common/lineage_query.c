/* lineage_query.c - fx-lineage's engine: load, stitch, walk, draw */
#include "lineage_query.h"
#include "buf.h"
#include "err.h"
#include "fxtime.h"
#include "lineage_int.h"
#include "opt.h"
#include "strmap.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Two stages joined by a pipe started this close together (ms). */
#define STITCH_WINDOW_MS 60000

struct lq_ref {
	char *uri;
	uint64_t count;
};

struct lq_refs {
	struct lq_ref *v;
	size_t n, cap;
};

/* One program run: its START and its COMPLETE or FAIL. */
struct lq_stage {
	char *run_id;
	char *parent_id;
	char *job;
	char *pipeline_job; /* FX_JOB, or "adhoc" */
	char *prog;
	char *error;
	char *boot;
	char *model_pipeline; /* FX_PIPELINE and FX_JOB (fx-run), or NULL */
	char *model_job;
	const char *status; /* COMPLETE, FAIL, RUNNING, ABORTED */
	int64_t start_ms, end_ms;
	int has_start, has_end;
	int pid;
	unsigned long long pstart;
	unsigned long in_pipe, out_pipe;
	unsigned long first_pipe; /* the pipe its parent run is named after */
	int pipe_named;           /* its parent run is named after a pipe */
	int trusted;              /* its parent run may join it to others */
	cJSON *chain;             /* borrowed from the START (or end) event */
	size_t reach; /* its chain up to a pipe that joins nothing */
	struct lq_refs in, out;
	size_t up;       /* union-find parent */
	size_t pipeline; /* index into db->pipelines after stitching */
};

struct lq_pipeline {
	const char *id;
	char *own_id;  /* id, when no stage's parent run would do */
	char *job_key; /* graph identity */
	char *job;     /* FX_JOB or "" */
	char *label;   /* the stages, "fx-consume | jq | fx-sink" */
	const char *status;
	int64_t start_ms, end_ms;
	size_t *stages, nstages;
	size_t head, tail; /* the first and last stage in pipe order */
	const char *model_pipeline, *model_job; /* a stage's, or NULL */
	struct lq_refs in, out;
};

struct lineage_db {
	struct fx_ctx *ctx;
	cJSON **events;
	size_t nevents, evcap;
	struct lq_stage *stages;
	size_t nstages, stcap;
	struct strmap by_run; /* run id -> stage index + 1 */
	struct lq_pipeline *pipelines;
	size_t npipelines;
	char boot[40];
};

/* ---------------------------------------------------------------------
 * Small helpers
 */

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

static const cJSON *obj(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsObject(j) ? j : NULL;
}

static char *dup_or(const char *s, const char *dflt)
{
	return fx_strdup(s ? s : dflt);
}

static void refs_add(struct lq_refs *r, const char *uri, uint64_t count)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (strcmp(r->v[i].uri, uri) == 0) {
			r->v[i].count += count;
			return;
		}
	}
	FX_GROW(r->v, r->n + 1, r->cap, 4);
	r->v[r->n].uri = fx_strdup(uri);
	r->v[r->n++].count = count;
}

static void refs_free(struct lq_refs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i].uri);
	free(r->v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* namespace + name back to fx's URI: file:///path, kafka://host/topic. */
static char *dataset_uri(const cJSON *d)
{
	const char *ns = str(d, "namespace"), *name = str(d, "name");
	char *u;

	if (!ns || !name)
		return NULL;
	u = fx_malloc(strlen(ns) + strlen(name) + 4);
	if (strcmp(ns, "file") == 0)
		sprintf(u, "file://%s", name);
	else
		sprintf(u, "%s/%s", ns, name);
	return u;
}

static uint64_t dataset_count(const cJSON *d, const char *facets,
                              const char *stat)
{
	const cJSON *f = obj(obj(d, facets), stat);

	return f ? (uint64_t)num(f, "rowCount") : 0;
}

static void add_datasets(struct lq_refs *r, const cJSON *arr,
                         const char *facets, const char *stat)
{
	const cJSON *d;

	cJSON_ArrayForEach(d, arr)
	{
		char *u = dataset_uri(d);

		if (u)
			refs_add(r, u, dataset_count(d, facets, stat));
		free(u);
	}
}

/* ---------------------------------------------------------------------
 * Loading
 */

static struct lq_stage *stage_for(struct lineage_db *db, const char *run_id)
{
	void *v = strmap_get(&db->by_run, run_id, strlen(run_id));
	struct lq_stage *s;

	if (v)
		return &db->stages[(size_t)v - 1];
	FX_GROW(db->stages, db->nstages + 1, db->stcap, 64);
	s = &db->stages[db->nstages++];
	memset(s, 0, sizeof(*s));
	s->run_id = fx_strdup(run_id);
	strmap_put(&db->by_run, run_id, strlen(run_id),
	           (void *)(uintptr_t)db->nstages);
	return s;
}

static void stage_fx(struct lq_stage *s, const cJSON *fx)
{
	const cJSON *c, *model;

	if (!fx || s->prog)
		return;
	model = obj(fx, "pipeline");
	if (str(model, "name") && str(model, "job")) {
		s->model_pipeline = fx_strdup(str(model, "name"));
		s->model_job = fx_strdup(str(model, "job"));
	}
	s->prog = dup_or(str(fx, "program"), "?");
	s->boot = dup_or(str(fx, "bootId"), "");
	s->pid = (int)num(fx, "pid");
	s->in_pipe = (unsigned long)num(fx, "stdinPipe");
	s->out_pipe = (unsigned long)num(fx, "stdoutPipe");
	c = cJSON_GetObjectItemCaseSensitive(fx, "chain");
	s->chain = cJSON_IsArray(c) ? (cJSON *)c : NULL;
	s->pipe_named =
	    str(model, "source") && strcmp(str(model, "source"), "pipe") == 0;
	s->first_pipe = (unsigned long)num(model, "firstPipe");
	c = cJSON_GetArrayItem(s->chain, 0);
	s->pstart = c ? (unsigned long long)num(c, "start") : 0;
}

static void stage_event(struct lq_stage *s, const cJSON *ev, const char *type,
                        int64_t t)
{
	const cJSON *facets = obj(obj(ev, "run"), "facets");
	const cJSON *parent = obj(facets, "parent");
	const cJSON *job = obj(ev, "job");

	if (!s->job)
		s->job = dup_or(str(job, "name"), "?");
	if (!s->parent_id && parent) {
		s->parent_id = dup_or(str(obj(parent, "run"), "runId"), "");
		s->pipeline_job = dup_or(str(obj(parent, "job"), "name"), "");
	}
	stage_fx(s, obj(facets, "fx"));
	if (strcmp(type, "START") == 0) {
		s->start_ms = t;
		s->has_start = 1;
		return;
	}
	if (strcmp(type, "COMPLETE") && strcmp(type, "FAIL") &&
	    strcmp(type, "ABORT"))
		return;
	s->end_ms = t;
	s->has_end = 1;
	s->status = strcmp(type, "COMPLETE") == 0 ? "COMPLETE"
	            : strcmp(type, "FAIL") == 0   ? "FAIL"
	                                          : "ABORTED";
	if (obj(facets, "errorMessage") && !s->error)
		s->error =
		    dup_or(str(obj(facets, "errorMessage"), "message"), "");
	add_datasets(&s->in, cJSON_GetObjectItem(ev, "inputs"), "inputFacets",
	             "inputStatistics");
	add_datasets(&s->out, cJSON_GetObjectItem(ev, "outputs"),
	             "outputFacets", "outputStatistics");
}

/* Keeps ev if it is a run event; returns 0 if it is not one. */
static int db_add_event(struct lineage_db *db, cJSON *ev)
{
	const char *type = str(ev, "eventType"), *when = str(ev, "eventTime");
	const char *run_id = str(obj(ev, "run"), "runId");
	int64_t t = 0;

	if (!type || !when || !run_id || !obj(ev, "job") ||
	    fx_time_parse_iso(when, strlen(when), &t))
		return 0;
	FX_GROW(db->events, db->nevents + 1, db->evcap, 256);
	db->events[db->nevents++] = ev;
	stage_event(stage_for(db, run_id), ev, type, t);
	return 1;
}

static FILE *open_store(struct fx_ctx *ctx, const char *spec, char **path)
{
	FILE *f;

	if (!spec || !*spec)
		spec = getenv("FX_LINEAGE");
	if (spec && strcmp(spec, "-") == 0) {
		*path = fx_strdup("stdin");
		return stdin;
	}
	if (!spec || !*spec || strcmp(spec, "off") == 0)
		*path = lineage_default_path();
	else if (strncmp(spec, "kafka:", 6) == 0)
		fx_usage_error(
		    ctx,
		    "store '%s': read a Kafka store with 'fx-consume -t %s -e | fx-lineage --store -'",
		    spec, spec + 6);
	else
		*path =
		    fx_strdup(strncmp(spec, "file:", 5) == 0 ? spec + 5 : spec);
	f = fopen(*path, "re");
	/* a missing store too: a mistyped path must not read as "no runs" */
	if (!f)
		fx_warn(ctx, "lineage store '%s': %s", *path, strerror(errno));
	return f;
}

static void stitch(struct lineage_db *db);

/* Every event the store holds starts so (lineage_run.c writes eventType first).
 */
#define EVENT_HEAD "{\"eventType\":"

/*
 * A line that is not JSON but holds the start of an event after its first
 * byte: the head of a torn event (a write cut short by a full disk, before
 * stores truncated those away) with a whole event appended after it.
 * Returns where that last event starts, or NULL.
 */
static const char *torn_rest(const char *line, size_t n)
{
	const char *last = NULL, *p = line + 1;
	size_t k = strlen(EVENT_HEAD);

	while ((p = memmem(p, n - (size_t)(p - line), EVENT_HEAD, k))) {
		last = p;
		p++;
	}
	return last;
}

struct lineage_db *lineage_db_load(struct fx_ctx *ctx, const char *spec)
{
	struct lineage_db *db = fx_malloc(sizeof(*db));
	char *line = NULL, *path = NULL;
	size_t cap = 0, bad = 0, torn = 0;
	ssize_t n;
	FILE *f;

	memset(db, 0, sizeof(*db));
	db->ctx = ctx;
	f = open_store(ctx, spec, &path);
	if (!f) {
		free(path);
		lineage_db_free(db);
		return NULL;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		cJSON *ev = cJSON_ParseWithLength(line, (size_t)n);
		const char *rest;

		if (ev && db_add_event(db, ev))
			continue;
		cJSON_Delete(ev);
		rest = ev ? NULL : torn_rest(line, (size_t)n);
		if (rest) {
			torn++;
			ev = cJSON_ParseWithLength(
			    rest, (size_t)n - (size_t)(rest - line));
			if (ev && !db_add_event(db, ev))
				cJSON_Delete(ev);
		} else if (!ev &&
		           memcmp(line, EVENT_HEAD, strlen(EVENT_HEAD)) == 0) {
			torn++;
		} else {
			bad += n > 1;
		}
	}
	if (ferror(f))
		fx_warn(ctx, "%s: %s", path, strerror(errno));
	if (torn)
		fx_warn(
		    ctx,
		    "%s: %zu torn line%s skipped (an event cut short, as by "
		    "a full disk)",
		    path, torn, torn == 1 ? "" : "s");
	if (bad)
		fx_warn(ctx, "%s: %zu lines that are not run events skipped",
		        path, bad);
	if (f != stdin)
		fclose(f);
	free(line);
	free(path);
	stitch(db);
	return db;
}

void lineage_db_free(struct lineage_db *db)
{
	size_t i;

	if (!db)
		return;
	for (i = 0; i < db->nstages; i++) {
		struct lq_stage *s = &db->stages[i];

		free(s->run_id);
		free(s->parent_id);
		free(s->job);
		free(s->pipeline_job);
		free(s->prog);
		free(s->error);
		free(s->boot);
		free(s->model_pipeline);
		free(s->model_job);
		refs_free(&s->in);
		refs_free(&s->out);
	}
	for (i = 0; i < db->npipelines; i++) {
		struct lq_pipeline *p = &db->pipelines[i];

		free(p->own_id);
		free(p->job_key);
		free(p->job);
		free(p->label);
		free(p->stages);
		refs_free(&p->in);
		refs_free(&p->out);
	}
	for (i = 0; i < db->nevents; i++)
		cJSON_Delete(db->events[i]);
	free(db->events);
	free(db->stages);
	free(db->pipelines);
	strmap_free(&db->by_run);
	free(db);
}

/* ---------------------------------------------------------------------
 * Stitching
 */

static size_t uf_find(struct lq_stage *st, size_t i)
{
	while (st[i].up != i) {
		st[i].up = st[st[i].up].up;
		i = st[i].up;
	}
	return i;
}

static void uf_union(struct lq_stage *st, size_t a, size_t b)
{
	a = uf_find(st, a);
	b = uf_find(st, b);
	if (a != b)
		st[a > b ? a : b].up = a < b ? a : b;
}

static int close_in_time(const struct lq_stage *a, const struct lq_stage *b)
{
	int64_t d = a->start_ms - b->start_ms;

	return d < STITCH_WINDOW_MS && d > -STITCH_WINDOW_MS;
}

/*
 * Stitching by pipes. Every process a stage recorded (itself, and the
 * chain it saw upstream) is at two ends: it reads its stdin pipe and
 * writes its stdout pipe. A pipe joins the stages that saw it only if it
 * runs from one stage of a pipeline to the next: one process (or stage)
 * at each end. Two processes at one end are one stage when their other
 * ends are the same pipe (a subshell stage and the program it runs, both
 * reading a and writing b), or, writing it, when neither reads a pipe
 * (`{ a; b; } | c`). Any other pipe is shared by unrelated processes (a
 * script's stdin from GNU parallel, cron or a CI runner, read by each of
 * its pipelines' heads; a subshell's stdout written by each of the
 * pipelines inside it) and joins nothing, nor does any pipe beyond it.
 */
struct lq_end {
	int pid;
	unsigned long long start;
	unsigned long other; /* the pipe at the process's other end */
};

struct lq_pipe {
	struct lq_end end[2]; /* 0: its reader, 1: its writer */
	int n[2];             /* processes at each end: 0, 1, 2 (or more) */
	int seen[2];          /* a stage saw its reader, its writer */
	size_t first;         /* the first stage that saw it, + 1 */
};

struct lq_pipes {
	struct strmap by_key; /* boot:inode -> index + 1 */
	struct lq_pipe *v;
	size_t n, cap;
};

/* One process of a stage's chain (the stage itself if it has none). */
static struct lq_end chain_proc(const struct lq_stage *s, const cJSON *e,
                                unsigned long *in, unsigned long *out)
{
	struct lq_end p;

	if (!e) {
		*in = s->in_pipe;
		*out = s->out_pipe;
		p.pid = s->pid;
		p.start = s->pstart;
	} else {
		*in = (unsigned long)num(e, "stdinPipe");
		*out = (unsigned long)num(e, "stdoutPipe");
		p.pid = (int)num(e, "pid");
		p.start = (unsigned long long)num(e, "start");
	}
	p.other = 0;
	return p;
}

static struct lq_pipe *pipe_of(struct lq_pipes *ps, const struct lq_stage *s,
                               unsigned long ino, int add)
{
	char key[96];
	int n =
	    snprintf(key, sizeof(key), "%s:%lu", s->boot ? s->boot : "", ino);
	void *v = strmap_get(&ps->by_key, key, (size_t)n);

	if (v)
		return &ps->v[(size_t)v - 1];
	if (!add)
		return NULL;
	FX_GROW(ps->v, ps->n + 1, ps->cap, 64);
	memset(&ps->v[ps->n], 0, sizeof(ps->v[0]));
	strmap_put(&ps->by_key, key, (size_t)n, (void *)(uintptr_t)++ps->n);
	return &ps->v[ps->n - 1];
}

/*
 * The same process: its pid and start time. A start time of 0 is one not
 * read (a stage upstream that exited as it was looked at: stores written
 * by earlier versions hold such chain entries), and the pid alone says it.
 */
static int same_process(const struct lq_end *a, const struct lq_end *b)
{
	return a->pid == b->pid &&
	       (a->start == b->start || !a->start || !b->start);
}

/* Process p at end side (0: reading, 1: writing) of pipe ino. */
static void end_add(struct lq_pipes *ps, const struct lq_stage *s,
                    unsigned long ino, int side, struct lq_end p)
{
	struct lq_pipe *pp;
	const struct lq_end *q;

	if (!ino)
		return;
	pp = pipe_of(ps, s, ino, 1);
	q = &pp->end[side];
	if (!pp->n[side]) {
		pp->end[side] = p;
		pp->n[side] = 1;
	} else if (pp->n[side] == 1 && !same_process(q, &p) &&
	           !(q->other == p.other && (p.other || side == 1))) {
		pp->n[side] = 2;
	}
}

static int pipe_joins(const struct lq_pipe *pp)
{
	return pp && pp->n[0] < 2 && pp->n[1] < 2;
}

/* Stage i saw pipe ino's reader (side 0) or writer (side 1). */
static void pipe_seen(struct lq_pipes *ps, size_t i, struct lq_stage *s,
                      unsigned long ino, int side)
{
	struct lq_pipe *pp = pipe_of(ps, s, ino, 0);

	pp->seen[side] = 1;
	if (!pp->first)
		pp->first = i + 1;
	if (ino == s->first_pipe)
		s->trusted = 1;
}

/*
 * The pipes stage i saw that join (see above), from its stdout up its
 * chain to the first that does not: sets its reach and whether its
 * parent run, named after its first pipe, may join it to others.
 */
static void stage_pipes(struct lq_pipes *ps, size_t i, struct lq_stage *s)
{
	const cJSON *e = s->chain ? s->chain->child : NULL;
	unsigned long in, out;
	size_t k = 0;

	s->trusted = !s->pipe_named;
	chain_proc(s, e, &in, &out);
	if (out && pipe_joins(pipe_of(ps, s, out, 0)))
		pipe_seen(ps, i, s, out, 1);
	for (;;) {
		k++;
		if (!in || !pipe_joins(pipe_of(ps, s, in, 0)))
			break;
		pipe_seen(ps, i, s, in, 0);
		e = e ? e->next : NULL;
		if (!e)
			break;
		pipe_seen(ps, i, s, in, 1); /* the next process writes it */
		chain_proc(s, e, &in, &out);
	}
	s->reach = k;
}

/* Stages joined by a pipe are one pipeline (see above and the header). */
static void stitch_pipes(struct lineage_db *db)
{
	struct lq_pipes ps = {0};
	size_t i, k;

	for (i = 0; i < db->nstages; i++) {
		const struct lq_stage *s = &db->stages[i];
		const cJSON *e = s->chain ? s->chain->child : NULL;

		do {
			unsigned long in, out;
			struct lq_end p = chain_proc(s, e, &in, &out);

			p.other = out;
			end_add(&ps, s, in, 0, p);
			p.other = in;
			end_add(&ps, s, out, 1, p);
		} while (e && (e = e->next));
	}
	for (i = 0; i < db->nstages; i++)
		stage_pipes(&ps, i, &db->stages[i]);
	/* a pipe seen at both ends joins the stages that saw it */
	for (i = 0; i < db->nstages; i++) {
		struct lq_stage *s = &db->stages[i];
		const cJSON *e = s->chain ? s->chain->child : NULL;

		for (k = 0; k < s->reach; k++) {
			unsigned long pipe[2];
			int side;

			chain_proc(s, e, &pipe[0], &pipe[1]);
			for (side = 0; side < 2; side++) {
				struct lq_pipe *pp;
				const struct lq_stage *f;

				if (!pipe[side])
					continue;
				pp = pipe_of(&ps, s, pipe[side], 0);
				if (!pp->first || !pp->seen[0] || !pp->seen[1])
					continue;
				f = &db->stages[pp->first - 1];
				if (close_in_time(s, f))
					uf_union(db->stages, i, pp->first - 1);
			}
			e = e ? e->next : NULL;
		}
	}
	strmap_free(&ps.by_key);
	free(ps.v);
}

/*
 * Stages with the same parent run are one, unless it is named after a pipe
 * that joins nothing (stitch_pipes()).
 */
static void stitch_parents(struct lineage_db *db)
{
	struct strmap first = {0};
	size_t i;

	for (i = 0; i < db->nstages; i++) {
		const char *p = db->stages[i].parent_id;
		void *v;

		if (!p || !*p || !db->stages[i].trusted)
			continue;
		v = strmap_get(&first, p, strlen(p));
		if (v)
			uf_union(db->stages, i, (size_t)v - 1);
		else
			strmap_put(&first, p, strlen(p),
			           (void *)(uintptr_t)(i + 1));
	}
	strmap_free(&first);
}

/* A stage with no end: still running here, or killed (fx_die, SIGKILL). */
static const char *unfinished_status(const struct lineage_db *db,
                                     const struct lq_stage *s)
{
	char path[64], buf[512], *p;
	FILE *f;

	if (!s->boot || strcmp(s->boot, db->boot) != 0)
		return "ABORTED";
	snprintf(path, sizeof(path), "/proc/%d/stat", s->pid);
	f = fopen(path, "re");
	if (!f)
		return "ABORTED";
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	for (int field = 2; p && field < 22; field++) {
		p = strchr(p + 1, ' ');
	}
	if (p && strtoull(p + 1, NULL, 10) == s->pstart)
		return "RUNNING";
	return "ABORTED";
}

static int status_rank(const char *s)
{
	if (strcmp(s, "FAIL") == 0)
		return 3;
	if (strcmp(s, "RUNNING") == 0)
		return 2;
	if (strcmp(s, "ABORTED") == 0)
		return 1;
	return 0;
}

/* A stage or a process of a chain, in pipe order. */
struct lq_link {
	const char *name;
	unsigned long in, out;
	int pid;
};

#define NO_STAGE ((size_t)-1)

/* Adds a process to v unless its pid is there; a stage's name wins. */
static void link_add(struct lq_link **v, size_t *n, size_t *cap,
                     struct lq_link l, int stage)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if ((*v)[i].pid != l.pid)
			continue;
		if (stage)
			(*v)[i].name = l.name;
		return;
	}
	FX_GROW(*v, *n + 1, *cap, 16);
	(*v)[(*n)++] = l;
}

/* The stage of p with process id pid, or NO_STAGE. */
static size_t stage_of_pid(const struct lineage_db *db,
                           const struct lq_pipeline *p, int pid)
{
	size_t i;

	for (i = 0; i < p->nstages; i++)
		if (db->stages[p->stages[i]].pid == pid)
			return p->stages[i];
	return NO_STAGE;
}

/*
 * The stage programs in pipe order, and p's head and tail stages: every
 * process the stages recorded in their chains (the non-fx ones too) and
 * the stages themselves, joined where one's stdout pipe is the next one's
 * stdin. No single chain need be whole (a stage that exited before the
 * next looked is in no later chain), so the pieces are put together here.
 * Pieces that do not meet are listed apart, after a ", ".
 */
static char *pipeline_label(const struct lineage_db *db, struct lq_pipeline *p)
{
	struct fx_buf b = FX_BUF_INIT;
	struct lq_link *v = NULL;
	size_t n = 0, cap = 0, i, j, k, st, nord = 0;
	size_t *ord = fx_malloc((p->nstages + 1) * sizeof(*ord));
	unsigned char *used;
	const cJSON *e;
	int tail_final = 0;

	for (i = 0; i < p->nstages; i++) {
		const struct lq_stage *s = &db->stages[p->stages[i]];

		link_add(&v, &n, &cap,
		         (struct lq_link){s->prog ? s->prog : "?", s->in_pipe,
		                          s->out_pipe, s->pid},
		         1);
		k = 0;
		cJSON_ArrayForEach(e, s->chain)
		{
			/* not beyond a pipe that joins nothing */
			if (k++ == s->reach)
				break;
			link_add(&v, &n, &cap,
			         (struct lq_link){
			             str(e, "comm") ? str(e, "comm") : "?",
			             (unsigned long)num(e, "stdinPipe"),
			             (unsigned long)num(e, "stdoutPipe"),
			             (int)num(e, "pid")},
			         0);
		}
	}
	used = fx_malloc(n + 1);
	memset(used, 0, n + 1);
	p->head = p->tail = NO_STAGE;
	/*
	 * Pieces from the true heads first (a stdin that is no pipe), then
	 * from a pipe no process here writes (its writer exited unseen), then
	 * what is left: the head is then the stage that read the run's input
	 * whatever order the stages' events came in, and the tail the last
	 * stage whose stdout is no pipe. A stage with no pipe at all (fx-run's
	 * fx-sink --commit or --abort after the chain) comes last, and is the
	 * head or the tail only of a run that has nothing else.
	 */
	for (int pass = 0; pass < 4; pass++) {
		for (i = 0; i < n; i++) {
			int alone = !v[i].in && !v[i].out;

			if (used[i] || (pass == 0 && v[i].in) ||
			    (pass < 3 && alone))
				continue;
			for (j = 0; pass == 1 && j < n; j++)
				if (j != i && v[j].out == v[i].in)
					break;
			if (pass == 1 && j < n)
				continue;
			fx_buf_adds(&b, b.len ? ", " : "");
			for (k = i; k < n;) {
				used[k] = 1;
				fx_buf_adds(&b, v[k].name);
				st = stage_of_pid(db, p, v[k].pid);
				for (j = 0; st != NO_STAGE && j < nord; j++)
					if (ord[j] == st)
						break;
				if (st != NO_STAGE && j == nord)
					ord[nord++] = st;
				if (st != NO_STAGE && p->head == NO_STAGE)
					p->head = st;
				if (st != NO_STAGE &&
				    (!alone || p->tail == NO_STAGE) &&
				    (!v[k].out || !tail_final)) {
					p->tail = st;
					tail_final = !v[k].out;
				}
				for (j = 0; v[k].out && j < n; j++)
					if (!used[j] && v[j].in == v[k].out)
						break;
				if (!v[k].out || j == n)
					break;
				fx_buf_adds(&b, " | ");
				k = j;
			}
		}
	}
	if (p->head == NO_STAGE)
		p->head = p->tail = p->stages[0];
	/* the stages in the label's order (--format json lists them so) */
	for (i = 0; i < p->nstages; i++) {
		for (j = 0; j < nord && ord[j] != p->stages[i]; j++)
			;
		if (j == nord)
			ord[nord++] = p->stages[i];
	}
	if (nord == p->nstages)
		memcpy(p->stages, ord, nord * sizeof(*ord));
	fx_buf_addc(&b, 0);
	free(ord);
	free(used);
	free(v);
	return b.p;
}

/* FX_JOB, or the sorted stage jobs: the same commands are the same job. */
static void pipeline_job(const struct lineage_db *db, struct lq_pipeline *p)
{
	const struct lq_stage *first = &db->stages[p->stages[0]];
	struct fx_buf b = FX_BUF_INIT;
	char **jobs;
	size_t i;

	if (first->pipeline_job && *first->pipeline_job &&
	    strcmp(first->pipeline_job, "adhoc") != 0) {
		p->job = fx_strdup(first->pipeline_job);
		p->job_key = fx_strdup(first->pipeline_job);
		return;
	}
	p->job = fx_strdup("");
	jobs = fx_malloc(p->nstages * sizeof(*jobs));
	for (i = 0; i < p->nstages; i++)
		jobs[i] = db->stages[p->stages[i]].job;
	qsort(jobs, p->nstages, sizeof(*jobs), cmp_str);
	fx_buf_adds(&b, "adhoc:");
	for (i = 0; i < p->nstages; i++) {
		fx_buf_adds(&b, jobs[i]);
		fx_buf_addc(&b, i + 1 < p->nstages ? ',' : 0);
	}
	free(jobs);
	p->job_key = b.p;
}

/*
 * The pipeline run's id: the parent run of its earliest stage whose parent
 * may join it to others (stitch_parents()). A parent run named after a
 * pipe that joins nothing may be every pipeline's under that pipe: a run
 * with no other gets an id of its own, from its earliest stage's run id.
 */
static void pipeline_id(const struct lineage_db *db, struct lq_pipeline *p)
{
	/* a pipeline has a stage */
	const struct lq_stage *first = &db->stages[p->stages[0]], *best = NULL;
	int64_t t_first = first->has_start ? first->start_ms : first->end_ms;
	int64_t t_best = 0;
	char key[128];
	size_t i;
	int n;

	for (i = 0; i < p->nstages; i++) {
		const struct lq_stage *s = &db->stages[p->stages[i]];
		int64_t t = s->has_start ? s->start_ms : s->end_ms;

		if (t < t_first) {
			first = s;
			t_first = t;
		}
		if (s->trusted && s->parent_id && *s->parent_id &&
		    (!best || t < t_best)) {
			best = s;
			t_best = t;
		}
	}
	if (best) {
		p->id = best->parent_id;
	} else if (!first->parent_id || !*first->parent_id) {
		p->id = first->run_id;
	} else {
		n = snprintf(key, sizeof(key), "stitched:%.100s",
		             first->run_id);
		p->own_id = fx_malloc(37);
		lineage_uuid_from(key, (size_t)n, p->own_id);
		p->id = p->own_id;
	}
}

static void pipeline_fill(struct lineage_db *db, struct lq_pipeline *p)
{
	size_t i, j;

	p->status = "COMPLETE";
	for (i = 0; i < p->nstages; i++) {
		struct lq_stage *s = &db->stages[p->stages[i]];
		int64_t t0 = s->has_start ? s->start_ms : s->end_ms;
		int64_t t1 = s->has_end ? s->end_ms : t0;

		if (!s->status)
			s->status = unfinished_status(db, s);
		if (status_rank(s->status) > status_rank(p->status))
			p->status = s->status;
		if (i == 0 || t0 < p->start_ms)
			p->start_ms = t0;
		if (i == 0 || t1 > p->end_ms)
			p->end_ms = t1;
		for (j = 0; j < s->in.n; j++)
			refs_add(&p->in, s->in.v[j].uri, s->in.v[j].count);
		for (j = 0; j < s->out.n; j++)
			refs_add(&p->out, s->out.v[j].uri, s->out.v[j].count);
		if (!p->model_pipeline && s->model_pipeline) {
			p->model_pipeline = s->model_pipeline;
			p->model_job = s->model_job;
		}
	}
	pipeline_id(db, p);
	p->label = pipeline_label(db, p);
	pipeline_job(db, p);
}

static void stitch(struct lineage_db *db)
{
	size_t i, root;
	struct lq_pipeline *p;
	size_t *of_root;

	{
		char boot[40] = "";
		FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

		if (f && fgets(boot, sizeof(boot), f))
			boot[strcspn(boot, "\n")] = 0;
		if (f)
			fclose(f);
		memcpy(db->boot, boot, sizeof(boot));
	}
	for (i = 0; i < db->nstages; i++)
		db->stages[i].up = i;
	stitch_pipes(db); /* first: it says which parent runs may join */
	stitch_parents(db);
	of_root = fx_malloc((db->nstages + 1) * sizeof(*of_root));
	db->pipelines = fx_malloc((db->nstages + 1) * sizeof(*db->pipelines));
	for (i = 0; i < db->nstages; i++) {
		root = uf_find(db->stages, i);
		if (root == i) {
			of_root[i] = db->npipelines;
			p = &db->pipelines[db->npipelines++];
			memset(p, 0, sizeof(*p));
			p->stages = fx_malloc(db->nstages * sizeof(size_t));
		}
	}
	for (i = 0; i < db->nstages; i++) {
		p = &db->pipelines[of_root[uf_find(db->stages, i)]];
		db->stages[i].pipeline = (size_t)(p - db->pipelines);
		p->stages[p->nstages++] = i;
	}
	for (i = 0; i < db->npipelines; i++)
		pipeline_fill(db, &db->pipelines[i]);
	free(of_root);
}

/* ---------------------------------------------------------------------
 * runs
 */

static void print_refs(FILE *f, const char *what, const struct lq_refs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		fprintf(f, "    %-6s %s (%llu)\n", what, r->v[i].uri,
		        (unsigned long long)r->v[i].count);
}

static cJSON *refs_json(const struct lq_refs *r)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < r->n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "dataset", r->v[i].uri);
		cJSON_AddNumberToObject(o, "records", (double)r->v[i].count);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static cJSON *stages_json(const struct lineage_db *db,
                          const struct lq_pipeline *p)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < p->nstages; i++) {
		const struct lq_stage *s = &db->stages[p->stages[i]];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "runId", s->run_id);
		cJSON_AddStringToObject(o, "program", s->prog ? s->prog : "?");
		cJSON_AddStringToObject(o, "job", s->job);
		cJSON_AddStringToObject(o, "status", s->status);
		if (s->error)
			cJSON_AddStringToObject(o, "error", s->error);
		cJSON_AddNumberToObject(o, "pid", s->pid);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

static cJSON *run_json(const struct lineage_db *db, const struct lq_pipeline *p)
{
	cJSON *o = cJSON_CreateObject();
	char t[FX_TIME_ISO_LEN + 1];

	cJSON_AddStringToObject(o, "runId", p->id);
	cJSON_AddStringToObject(o, "job", p->job);
	cJSON_AddStringToObject(o, "pipeline", p->label);
	cJSON_AddStringToObject(o, "status", p->status);
	fx_time_format_iso(p->start_ms, t);
	cJSON_AddStringToObject(o, "start", t);
	cJSON_AddNumberToObject(o, "seconds",
	                        (double)(p->end_ms - p->start_ms) / 1000.0);
	cJSON_AddItemToObject(o, "stages", stages_json(db, p));
	cJSON_AddItemToObject(o, "inputs", refs_json(&p->in));
	cJSON_AddItemToObject(o, "outputs", refs_json(&p->out));
	return o;
}

static void run_text(const struct lineage_db *db, FILE *f,
                     const struct lq_pipeline *p)
{
	char t[FX_TIME_ISO_LEN + 1];
	size_t i;

	fx_time_format_iso(p->start_ms, t);
	fprintf(f, "%s  %s  %-8s %.3fs  %s\n", t, p->id, p->status,
	        (double)(p->end_ms - p->start_ms) / 1000.0,
	        *p->job ? p->job : "-");
	fprintf(f, "    stages %s\n", p->label);
	print_refs(f, "in", &p->in);
	print_refs(f, "out", &p->out);
	for (i = 0; i < p->nstages; i++) {
		const struct lq_stage *s = &db->stages[p->stages[i]];

		if (s->error)
			fprintf(f, "    error  %s: %s\n", s->prog, s->error);
	}
}

static int cmp_start_desc(const void *a, const void *b, void *arg)
{
	const struct lq_pipeline *p = arg;
	int64_t x = p[*(const size_t *)a].start_ms;
	int64_t y = p[*(const size_t *)b].start_ms;

	return x < y ? 1 : x > y ? -1 : 0;
}

int lineage_db_runs(struct lineage_db *db, FILE *f, enum lq_format fmt,
                    int64_t limit)
{
	size_t *order = fx_malloc((db->npipelines + 1) * sizeof(*order));
	size_t i, n = db->npipelines;
	cJSON *arr = cJSON_CreateArray();

	for (i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), cmp_start_desc, db->pipelines);
	if (limit > 0 && (size_t)limit < n)
		n = (size_t)limit;
	for (i = 0; i < n; i++) {
		if (fmt == LQ_JSON)
			cJSON_AddItemToArray(
			    arr, run_json(db, &db->pipelines[order[i]]));
		else
			run_text(db, f, &db->pipelines[order[i]]);
	}
	if (fmt == LQ_JSON) {
		char *s = cJSON_Print(arr);

		fprintf(f, "%s\n", s);
		cJSON_free(s);
	}
	cJSON_Delete(arr);
	free(order);
	return 0;
}

/* ---------------------------------------------------------------------
 * The graph: dataset and job nodes, in sorted order for stable output.
 */

struct lq_graph {
	char **datasets; /* sorted URIs */
	size_t nds;
	char **jobs; /* sorted job keys */
	size_t njobs;
	size_t *job_pipeline; /* a pipeline of each job, for its label */
	unsigned char *in;    /* [job * nds + ds]: ds is an input of job */
	unsigned char *out;
};

static size_t index_of(char **v, size_t n, const char *s)
{
	char **p = bsearch(&s, v, n, sizeof(*v), cmp_str);

	return p ? (size_t)(p - v) : (size_t)-1;
}

static void collect(struct strmap *m, const char *s)
{
	if (!strmap_get(m, s, strlen(s)))
		strmap_put(m, s, strlen(s), (void *)1);
}

static char **sorted_keys(const struct strmap *m, size_t *n)
{
	char **v = fx_malloc((m->n + 1) * sizeof(*v));
	size_t i;

	for (i = 0; i < m->n; i++)
		v[i] = m->entries[i].key;
	qsort(v, m->n, sizeof(*v), cmp_str);
	*n = m->n;
	return v;
}

static void graph_build(const struct lineage_db *db, struct lq_graph *g,
                        struct strmap *dsm, struct strmap *jobm)
{
	size_t i, j, k;

	memset(g, 0, sizeof(*g));
	for (i = 0; i < db->npipelines; i++) {
		const struct lq_pipeline *p = &db->pipelines[i];

		if (!p->in.n && !p->out.n)
			continue; /* touched no dataset: not in the graph */
		collect(jobm, p->job_key);
		for (j = 0; j < p->in.n; j++)
			collect(dsm, p->in.v[j].uri);
		for (j = 0; j < p->out.n; j++)
			collect(dsm, p->out.v[j].uri);
	}
	g->datasets = sorted_keys(dsm, &g->nds);
	g->jobs = sorted_keys(jobm, &g->njobs);
	g->in = fx_malloc(g->njobs * g->nds + 1);
	g->out = fx_malloc(g->njobs * g->nds + 1);
	memset(g->in, 0, g->njobs * g->nds + 1);
	memset(g->out, 0, g->njobs * g->nds + 1);
	g->job_pipeline = fx_malloc((g->njobs + 1) * sizeof(size_t));
	for (i = 0; i < db->npipelines; i++) {
		const struct lq_pipeline *p = &db->pipelines[i];

		if (!p->in.n && !p->out.n)
			continue;
		k = index_of(g->jobs, g->njobs, p->job_key);
		g->job_pipeline[k] = i;
		for (j = 0; j < p->in.n; j++)
			g->in[k * g->nds + index_of(g->datasets, g->nds,
			                            p->in.v[j].uri)] = 1;
		for (j = 0; j < p->out.n; j++)
			g->out[k * g->nds + index_of(g->datasets, g->nds,
			                             p->out.v[j].uri)] = 1;
	}
}

static void graph_free(struct lq_graph *g)
{
	free(g->datasets);
	free(g->jobs);
	free(g->in);
	free(g->out);
	free(g->job_pipeline);
}

static const char *job_label(const struct lineage_db *db,
                             const struct lq_graph *g, size_t k)
{
	const struct lq_pipeline *p = &db->pipelines[g->job_pipeline[k]];

	return *p->job ? p->job : p->label;
}

/* A short, stable label: the topic, or the path from the cwd. */
static const char *dataset_label(const char *uri, const char *cwd, char *buf,
                                 size_t n)
{
	size_t c = strlen(cwd);

	if (strncmp(uri, "kafka://", 8) == 0) {
		const char *t = strchr(uri + 8, '/');

		snprintf(buf, n, "%s", t ? t + 1 : uri);
	} else if (strncmp(uri, "file://", 7) == 0 && c > 1 &&
	           strncmp(uri + 7, cwd, c) == 0 && uri[7 + c] == '/') {
		snprintf(buf, n, "%s", uri + 8 + c);
	} else if (strncmp(uri, "file://", 7) == 0) {
		snprintf(buf, n, "%s", uri + 7);
	} else {
		snprintf(buf, n, "%s", uri);
	}
	return buf;
}

/* Quotes s for DOT ("...") or Mermaid (#quot;). */
static void put_quoted(FILE *f, const char *s, int mermaid)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputs(mermaid ? "#quot;" : "\\\"", f);
		else if (*s == '\\' && !mermaid)
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs(mermaid ? " " : "\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void graph_dot(const struct lineage_db *db, const struct lq_graph *g,
                      FILE *f, const char *cwd)
{
	char buf[4096];
	size_t i, k;

	fputs("digraph lineage {\n\trankdir=LR;\n"
	      "\tnode [fontname=\"Helvetica\", fontsize=11];\n"
	      "\tedge [color=\"#555555\"];\n",
	      f);
	for (i = 0; i < g->nds; i++) {
		int kafka = strncmp(g->datasets[i], "kafka://", 8) == 0;

		fprintf(f, "\td%zu [label=", i + 1);
		put_quoted(
		    f, dataset_label(g->datasets[i], cwd, buf, sizeof(buf)), 0);
		fprintf(f, ", shape=%s, style=filled, fillcolor=\"%s\"];\n",
		        kafka ? "box3d" : "folder",
		        kafka ? "#fde7c8" : "#dcebd9");
	}
	for (k = 0; k < g->njobs; k++) {
		fprintf(f, "\tj%zu [label=", k + 1);
		put_quoted(f, job_label(db, g, k), 0);
		fputs(", shape=box, style=\"rounded,filled\", "
		      "fillcolor=\"#dde6f5\"];\n",
		      f);
	}
	for (k = 0; k < g->njobs; k++)
		for (i = 0; i < g->nds; i++) {
			if (g->in[k * g->nds + i])
				fprintf(f, "\td%zu -> j%zu;\n", i + 1, k + 1);
			if (g->out[k * g->nds + i])
				fprintf(f, "\tj%zu -> d%zu;\n", k + 1, i + 1);
		}
	fputs("}\n", f);
}

static void graph_mermaid(const struct lineage_db *db, const struct lq_graph *g,
                          FILE *f, const char *cwd)
{
	char buf[4096];
	size_t i, k;

	fputs("flowchart LR\n", f);
	for (i = 0; i < g->nds; i++) {
		fprintf(f, "    d%zu[(", i + 1);
		put_quoted(
		    f, dataset_label(g->datasets[i], cwd, buf, sizeof(buf)), 1);
		fputs(")]\n", f);
	}
	for (k = 0; k < g->njobs; k++) {
		fprintf(f, "    j%zu(", k + 1);
		put_quoted(f, job_label(db, g, k), 1);
		fputs(")\n", f);
	}
	for (k = 0; k < g->njobs; k++)
		for (i = 0; i < g->nds; i++) {
			if (g->in[k * g->nds + i])
				fprintf(f, "    d%zu --> j%zu\n", i + 1, k + 1);
			if (g->out[k * g->nds + i])
				fprintf(f, "    j%zu --> d%zu\n", k + 1, i + 1);
		}
}

static void graph_text(const struct lineage_db *db, const struct lq_graph *g,
                       FILE *f)
{
	size_t i, k;

	for (k = 0; k < g->njobs; k++) {
		const struct lq_pipeline *p =
		    &db->pipelines[g->job_pipeline[k]];

		fprintf(f, "[%s]", job_label(db, g, k));
		if (*p->job)
			fprintf(f, " %s", p->label);
		fputc('\n', f);
		for (i = 0; i < g->nds; i++)
			if (g->in[k * g->nds + i])
				fprintf(f, "    in   %s\n", g->datasets[i]);
		for (i = 0; i < g->nds; i++)
			if (g->out[k * g->nds + i])
				fprintf(f, "    out  %s\n", g->datasets[i]);
	}
}

static void graph_json(const struct lineage_db *db, const struct lq_graph *g,
                       FILE *f)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
	cJSON *edges = cJSON_AddArrayToObject(o, "edges");
	char id[32], id2[32];
	size_t i, k;
	char *s;

	for (i = 0; i < g->nds; i++) {
		cJSON *n = cJSON_CreateObject();

		snprintf(id, sizeof(id), "d%zu", i + 1);
		cJSON_AddStringToObject(n, "id", id);
		cJSON_AddStringToObject(n, "kind", "dataset");
		cJSON_AddStringToObject(n, "name", g->datasets[i]);
		cJSON_AddItemToArray(nodes, n);
	}
	for (k = 0; k < g->njobs; k++) {
		cJSON *n = cJSON_CreateObject();

		snprintf(id, sizeof(id), "j%zu", k + 1);
		cJSON_AddStringToObject(n, "id", id);
		cJSON_AddStringToObject(n, "kind", "job");
		cJSON_AddStringToObject(n, "name", job_label(db, g, k));
		cJSON_AddStringToObject(
		    n, "pipeline", db->pipelines[g->job_pipeline[k]].label);
		cJSON_AddItemToArray(nodes, n);
	}
	for (k = 0; k < g->njobs; k++)
		for (i = 0; i < g->nds; i++) {
			int is_in = g->in[k * g->nds + i];
			cJSON *e;

			if (!is_in && !g->out[k * g->nds + i])
				continue;
			snprintf(id, sizeof(id), "d%zu", i + 1);
			snprintf(id2, sizeof(id2), "j%zu", k + 1);
			if (is_in) {
				e = cJSON_CreateObject();
				cJSON_AddStringToObject(e, "from", id);
				cJSON_AddStringToObject(e, "to", id2);
				cJSON_AddItemToArray(edges, e);
			}
			if (g->out[k * g->nds + i]) {
				e = cJSON_CreateObject();
				cJSON_AddStringToObject(e, "from", id2);
				cJSON_AddStringToObject(e, "to", id);
				cJSON_AddItemToArray(edges, e);
			}
		}
	s = cJSON_Print(o);
	fprintf(f, "%s\n", s);
	cJSON_free(s);
	cJSON_Delete(o);
}

int lineage_db_graph(struct lineage_db *db, FILE *f, enum lq_format fmt)
{
	struct strmap dsm = {0}, jobm = {0};
	struct lq_graph g;
	char cwd[4096];

	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "/");
	graph_build(db, &g, &dsm, &jobm);
	if (fmt == LQ_DOT)
		graph_dot(db, &g, f, cwd);
	else if (fmt == LQ_MERMAID)
		graph_mermaid(db, &g, f, cwd);
	else if (fmt == LQ_JSON)
		graph_json(db, &g, f);
	else
		graph_text(db, &g, f);
	graph_free(&g);
	strmap_free(&dsm);
	strmap_free(&jobm);
	return 0;
}

/* ---------------------------------------------------------------------
 * upstream, downstream
 */

/* The part of a URI a short form is matched against: path or topic. */
static const char *uri_name(const char *uri)
{
	if (strncmp(uri, "file://", 7) == 0)
		return uri + 7;
	if (strncmp(uri, "kafka://", 8) == 0 && strchr(uri + 8, '/'))
		return strchr(uri + 8, '/') + 1;
	return uri;
}

/* "ods_play" is the topic; "warehouse/ads/" a trailing part of a path. */
static int short_match(const char *uri, const char *arg, size_t n)
{
	const char *name = uri_name(uri);
	size_t len = strlen(name);

	if (len == n && strncmp(name, arg, n) == 0)
		return 1;
	return len > n && strncmp(name + len - n, arg, n) == 0 &&
	       name[len - n - 1] == '/';
}

static size_t resolve(const struct lineage_db *db, const struct lq_graph *g,
                      const char *arg)
{
	size_t i, n = strlen(arg), found = (size_t)-1, nfound = 0;
	struct fx_buf b = FX_BUF_INIT;

	i = index_of(g->datasets, g->nds, arg);
	if (i != (size_t)-1)
		return i;
	while (n > 1 && arg[n - 1] == '/')
		n--;
	for (i = 0; i < g->nds; i++) {
		if (!short_match(g->datasets[i], arg, n))
			continue;
		found = i;
		nfound++;
		fx_buf_adds(&b, "\n  ");
		fx_buf_adds(&b, g->datasets[i]);
	}
	fx_buf_addc(&b, 0);
	if (nfound == 0)
		fx_usage_error(db->ctx, "no dataset '%s' in the lineage store",
		               arg);
	if (nfound > 1)
		fx_usage_error(db->ctx, "dataset '%s' is ambiguous:%s", arg,
		               b.p);
	fx_buf_free(&b);
	return found;
}

struct walk_hit {
	size_t ds;
	int64_t depth;
	size_t via; /* job index */
};

static void walk_print(const struct lineage_db *db, const struct lq_graph *g,
                       FILE *f, enum lq_format fmt, const struct walk_hit *h,
                       size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;
	char *s;

	for (i = 0; i < n; i++) {
		const char *job = job_label(db, g, h[i].via);

		if (fmt != LQ_JSON) {
			fprintf(f, "%lld\t%s\t%s\n", (long long)h[i].depth,
			        g->datasets[h[i].ds], job);
			continue;
		}
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "depth", (double)h[i].depth);
		cJSON_AddStringToObject(o, "dataset", g->datasets[h[i].ds]);
		cJSON_AddStringToObject(o, "via", job);
		cJSON_AddItemToArray(arr, o);
	}
	if (fmt == LQ_JSON) {
		s = cJSON_Print(arr);
		fprintf(f, "%s\n", s);
		cJSON_free(s);
	}
	cJSON_Delete(arr);
}

/* Breadth first over dataset -> job -> dataset, each dataset once. */
static size_t walk(const struct lq_graph *g, size_t start, int up,
                   int64_t depth, struct walk_hit *hits)
{
	unsigned char *seen = fx_malloc(g->nds + 1);
	const unsigned char *from = up ? g->out : g->in;
	const unsigned char *to = up ? g->in : g->out;
	size_t n = 0, head = 0, i, k;

	memset(seen, 0, g->nds + 1);
	seen[start] = 1;
	/* hits doubles as the queue; the start is not a hit */
	hits[n++] = (struct walk_hit){start, 0, 0};
	while (head < n) {
		struct walk_hit cur = hits[head++];

		if (depth > 0 && cur.depth >= depth)
			continue;
		for (k = 0; k < g->njobs; k++) {
			if (!from[k * g->nds + cur.ds])
				continue;
			for (i = 0; i < g->nds; i++) {
				if (!to[k * g->nds + i] || seen[i])
					continue;
				seen[i] = 1;
				hits[n++] =
				    (struct walk_hit){i, cur.depth + 1, k};
			}
		}
	}
	free(seen);
	return n;
}

int lineage_db_walk(struct lineage_db *db, FILE *f, enum lq_format fmt,
                    const char *dataset, int up, int64_t depth)
{
	struct strmap dsm = {0}, jobm = {0};
	struct walk_hit *hits;
	struct lq_graph g;
	size_t start, n;

	graph_build(db, &g, &dsm, &jobm);
	start = resolve(db, &g, dataset);
	hits = fx_malloc((g.nds + 1) * sizeof(*hits));
	n = walk(&g, start, up, depth, hits);
	walk_print(db, &g, f, fmt, hits + 1, n - 1);
	free(hits);
	graph_free(&g);
	strmap_free(&dsm);
	strmap_free(&jobm);
	return 0;
}

/* ---------------------------------------------------------------------
 * pipeline: the planned graph beside the observed runs
 */

/* What the store observed of one job: its runs, the last one. */
struct lq_seen {
	const char *job;
	size_t runs;
	const struct lq_pipeline *last;
};

/* Records of a stage's datasets in one direction; -1 if not known. */
static int64_t stage_records(const struct lq_stage *s, int out)
{
	const struct lq_refs *r = out ? &s->out : &s->in;
	uint64_t n = 0;
	size_t i;

	if (!s->has_end || !r->n)
		return -1;
	for (i = 0; i < r->n; i++)
		n += r->v[i].count;
	return (int64_t)n;
}

static int64_t run_records(const struct lineage_db *db,
                           const struct lq_pipeline *p, int out)
{
	return stage_records(&db->stages[out ? p->tail : p->head], out);
}

static struct lq_seen *seen_find(struct lq_seen *v, size_t n, const char *job)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].job, job) == 0)
			return &v[i];
	return NULL;
}

static int cmp_seen(const void *a, const void *b)
{
	return strcmp(((const struct lq_seen *)a)->job,
	              ((const struct lq_seen *)b)->job);
}

/*
 * The runs of the plan's jobs: seen[0..njobs) for the planned jobs in
 * their order, then the jobs the file does not have, by name. Returns the
 * number of entries.
 */
static size_t plan_seen(const struct lineage_db *db, const struct lq_plan *plan,
                        struct lq_seen **out)
{
	struct lq_seen *v = NULL, *e;
	size_t n = 0, cap = 0, i;

	FX_GROW(v, plan->njobs + 1, cap, 8);
	for (i = 0; i < plan->njobs; i++)
		v[n++] = (struct lq_seen){plan->jobs[i].name, 0, NULL};
	for (i = 0; i < db->npipelines; i++) {
		const struct lq_pipeline *p = &db->pipelines[i];

		if (!p->model_pipeline ||
		    strcmp(p->model_pipeline, plan->name) != 0)
			continue;
		e = seen_find(v, n, p->model_job);
		if (!e) {
			FX_GROW(v, n + 1, cap, 8);
			e = &v[n++];
			*e = (struct lq_seen){p->model_job, 0, NULL};
		}
		e->runs++;
		if (!e->last || p->start_ms > e->last->start_ms)
			e->last = p;
	}
	qsort(v + plan->njobs, n - plan->njobs, sizeof(*v), cmp_seen);
	*out = v;
	return n;
}

static void plan_last_text(const struct lineage_db *db, FILE *f,
                           const struct lq_seen *e)
{
	const struct lq_pipeline *p = e->last;
	char t[FX_TIME_ISO_LEN + 1];
	int64_t in, out;
	size_t i;

	if (!p) {
		fputs("    last   never run\n", f);
		return;
	}
	fx_time_format_iso(p->start_ms, t);
	fprintf(f, "    last   %s  %s", t, p->status);
	in = run_records(db, p, 0);
	out = run_records(db, p, 1);
	if (in >= 0)
		fprintf(f, "  in %lld", (long long)in);
	if (out >= 0)
		fprintf(f, "  out %lld", (long long)out);
	fprintf(f, "\n    runs   %zu\n", e->runs);
	for (i = 0; i < p->nstages; i++) {
		const struct lq_stage *s = &db->stages[p->stages[i]];

		if (s->error)
			fprintf(f, "    error  %s: %s\n", s->prog, s->error);
	}
}

static void plan_text(const struct lineage_db *db, FILE *f,
                      const struct lq_plan *plan, const struct lq_seen *seen,
                      size_t nseen)
{
	size_t i, j, w = 0;

	fprintf(f, "pipeline %s\n", plan->name);
	for (i = 0; i < plan->ntables; i++)
		if (strlen(plan->tables[i].name) > w)
			w = strlen(plan->tables[i].name);
	for (i = 0; i < plan->ntables; i++) {
		const struct lq_plan_table *t = &plan->tables[i];

		if (t->layer && *t->layer)
			fprintf(f, "table  %-*s  %s\n", (int)w, t->name,
			        t->layer);
		else
			fprintf(f, "table  %s\n", t->name);
	}
	for (i = 0; i < plan->njobs; i++) {
		const struct lq_plan_job *job = &plan->jobs[i];

		fprintf(f, "job    %s: %s -> %s\n", job->name, job->source,
		        job->sink);
		fputs("    steps  ", f);
		for (j = 0; j < job->nsteps; j++)
			fprintf(f, "%s%s (%s)", j ? " | " : "",
			        job->steps[j].name, job->steps[j].program);
		fputs(job->nsteps ? "\n" : "-\n", f);
		plan_last_text(db, f, &seen[i]);
	}
	if (nseen > plan->njobs)
		fputs("observed, not in the file:\n", f);
	for (i = plan->njobs; i < nseen; i++) {
		fprintf(f, "job    %s\n", seen[i].job);
		fprintf(f, "    stages %s\n", seen[i].last->label);
		plan_last_text(db, f, &seen[i]);
	}
}

/* The fill colour of a job by its last run's status. */
static const char *status_color(const struct lq_pipeline *p)
{
	if (!p)
		return "#ffffff";
	if (strcmp(p->status, "COMPLETE") == 0)
		return "#dde6f5";
	if (strcmp(p->status, "FAIL") == 0)
		return "#f4cccc";
	if (strcmp(p->status, "RUNNING") == 0)
		return "#fff2cc";
	return "#eeeeee";
}

/* "name\nsteps\nlast run": a job node's label. */
static char *plan_job_label(const struct lineage_db *db,
                            const struct lq_plan_job *job,
                            const struct lq_seen *e)
{
	struct fx_buf b = FX_BUF_INIT;
	char t[FX_TIME_ISO_LEN + 1], n[64];
	int64_t in, out;
	size_t j;

	fx_buf_adds(&b, e->job);
	fx_buf_addc(&b, '\n');
	for (j = 0; job && j < job->nsteps; j++) {
		fx_buf_adds(&b, j ? " | " : "");
		fx_buf_adds(&b, job->steps[j].name);
	}
	if (!job)
		fx_buf_adds(&b, e->last->label);
	fx_buf_addc(&b, '\n');
	if (!e->last) {
		fx_buf_adds(&b, "never run");
		fx_buf_addc(&b, 0);
		return b.p;
	}
	fx_time_format_iso(e->last->start_ms, t);
	fx_buf_adds(&b, e->last->status);
	fx_buf_addc(&b, ' ');
	fx_buf_adds(&b, t);
	in = run_records(db, e->last, 0);
	out = run_records(db, e->last, 1);
	if (in >= 0 || out >= 0)
		fx_buf_addc(&b, '\n');
	if (in >= 0) {
		snprintf(n, sizeof(n), "in %lld", (long long)in);
		fx_buf_adds(&b, n);
	}
	if (out >= 0) {
		snprintf(n, sizeof(n), "%sout %lld", in >= 0 ? ", " : "",
		         (long long)out);
		fx_buf_adds(&b, n);
	}
	fx_buf_addc(&b, 0);
	return b.p;
}

static size_t name_index(const char **v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n && strcmp(v[i], name) != 0; i++)
		;
	return i;
}

static void name_add(const char ***v, size_t *n, size_t *cap, const char *name)
{
	if (name_index(*v, *n, name) < *n)
		return;
	FX_GROW(*v, *n + 1, *cap, 8);
	(*v)[(*n)++] = name;
}

/*
 * The plan's tables, then those its jobs name without declaring them (a
 * file that fx-run --check would refuse is still drawn).
 */
static size_t plan_table_names(const struct lq_plan *plan, const char ***out)
{
	const char **v = NULL;
	size_t n = 0, cap = 0, i;

	for (i = 0; i < plan->ntables; i++)
		name_add(&v, &n, &cap, plan->tables[i].name);
	for (i = 0; i < plan->njobs; i++) {
		name_add(&v, &n, &cap, plan->jobs[i].source);
		name_add(&v, &n, &cap, plan->jobs[i].sink);
	}
	*out = v;
	return n;
}

static void plan_dot_table(FILE *f, size_t i, const char *name,
                           const char *indent)
{
	fprintf(f, "%st%zu [label=", indent, i + 1);
	put_quoted(f, name, 0);
	fputs(", shape=cylinder, style=filled, fillcolor=\"#dcebd9\"];\n", f);
}

static void plan_dot(const struct lineage_db *db, FILE *f,
                     const struct lq_plan *plan, const struct lq_seen *seen,
                     size_t nseen)
{
	const char **names;
	size_t n = plan_table_names(plan, &names), i, j, k;
	char *label;

	fputs("digraph pipeline {\n\trankdir=LR;\n"
	      "\tnode [fontname=\"Helvetica\", fontsize=11];\n"
	      "\tedge [color=\"#555555\"];\n\tlabel=",
	      f);
	put_quoted(f, plan->name, 0);
	fputs(";\n\tlabelloc=t;\n", f);
	/* a cluster per layer, in the order the layers first appear */
	for (i = 0; i < plan->ntables; i++) {
		const char *layer = plan->tables[i].layer;

		if (!layer || !*layer)
			continue;
		for (j = 0; j < i; j++)
			if (plan->tables[j].layer &&
			    strcmp(plan->tables[j].layer, layer) == 0)
				break;
		if (j < i)
			continue;
		fprintf(f, "\tsubgraph cluster_%zu {\n\t\tlabel=", i + 1);
		put_quoted(f, layer, 0);
		fputs(";\n\t\tstyle=\"rounded,dashed\";\n"
		      "\t\tcolor=\"#999999\";\n",
		      f);
		for (k = i; k < plan->ntables; k++)
			if (plan->tables[k].layer &&
			    strcmp(plan->tables[k].layer, layer) == 0)
				plan_dot_table(f, k, plan->tables[k].name,
				               "\t\t");
		fputs("\t}\n", f);
	}
	for (i = 0; i < n; i++)
		if (i >= plan->ntables || !plan->tables[i].layer ||
		    !*plan->tables[i].layer)
			plan_dot_table(f, i, names[i], "\t");
	for (i = 0; i < plan->njobs; i++) {
		label = plan_job_label(db, &plan->jobs[i], &seen[i]);
		fprintf(f, "\tj%zu [label=", i + 1);
		put_quoted(f, label, 0);
		fprintf(f,
		        ", shape=box, style=\"rounded,filled%s\", "
		        "fillcolor=\"%s\"];\n",
		        seen[i].last ? "" : ",dashed",
		        status_color(seen[i].last));
		free(label);
	}
	for (i = 0; i < plan->njobs; i++)
		fprintf(f, "\tt%zu -> j%zu;\n\tj%zu -> t%zu;\n",
		        name_index(names, n, plan->jobs[i].source) + 1, i + 1,
		        i + 1, name_index(names, n, plan->jobs[i].sink) + 1);
	if (nseen > plan->njobs)
		fputs("\tsubgraph cluster_observed {\n"
		      "\t\tlabel=\"observed, not in the file\";\n"
		      "\t\tstyle=\"rounded,dashed\";\n"
		      "\t\tcolor=\"#999999\";\n",
		      f);
	for (i = plan->njobs; i < nseen; i++) {
		label = plan_job_label(db, NULL, &seen[i]);
		fprintf(f, "\t\to%zu [label=", i - plan->njobs + 1);
		put_quoted(f, label, 0);
		fprintf(f,
		        ", shape=box, style=\"rounded,filled\", "
		        "fillcolor=\"%s\"];\n",
		        status_color(seen[i].last));
		free(label);
	}
	if (nseen > plan->njobs)
		fputs("\t}\n", f);
	fputs("}\n", f);
	free(names);
}

/* The last run as `runs --format json` shows it, with the records. */
static cJSON *plan_last_json(const struct lineage_db *db,
                             const struct lq_seen *e)
{
	int64_t in, out;
	cJSON *o;

	if (!e->last)
		return cJSON_CreateNull();
	o = run_json(db, e->last);
	in = run_records(db, e->last, 0);
	out = run_records(db, e->last, 1);
	if (in >= 0)
		cJSON_AddNumberToObject(o, "recordsIn", (double)in);
	if (out >= 0)
		cJSON_AddNumberToObject(o, "recordsOut", (double)out);
	return o;
}

static void plan_json(const struct lineage_db *db, FILE *f,
                      const struct lq_plan *plan, const struct lq_seen *seen,
                      size_t nseen)
{
	cJSON *o = cJSON_CreateObject(), *a, *j, *steps, *st;
	size_t i, k;
	char *s;

	cJSON_AddStringToObject(o, "pipeline", plan->name);
	a = cJSON_AddArrayToObject(o, "tables");
	for (i = 0; i < plan->ntables; i++) {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "name", plan->tables[i].name);
		cJSON_AddStringToObject(
		    j, "layer",
		    plan->tables[i].layer ? plan->tables[i].layer : "");
		cJSON_AddItemToArray(a, j);
	}
	a = cJSON_AddArrayToObject(o, "jobs");
	for (i = 0; i < plan->njobs; i++) {
		const struct lq_plan_job *job = &plan->jobs[i];

		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "name", job->name);
		cJSON_AddStringToObject(j, "source", job->source);
		cJSON_AddStringToObject(j, "sink", job->sink);
		steps = cJSON_AddArrayToObject(j, "steps");
		for (k = 0; k < job->nsteps; k++) {
			st = cJSON_CreateObject();
			cJSON_AddStringToObject(st, "name", job->steps[k].name);
			cJSON_AddStringToObject(st, "program",
			                        job->steps[k].program);
			cJSON_AddItemToArray(steps, st);
		}
		cJSON_AddNumberToObject(j, "runs", (double)seen[i].runs);
		cJSON_AddItemToObject(j, "last", plan_last_json(db, &seen[i]));
		cJSON_AddItemToArray(a, j);
	}
	a = cJSON_AddArrayToObject(o, "observed");
	for (i = plan->njobs; i < nseen; i++) {
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "name", seen[i].job);
		cJSON_AddNumberToObject(j, "runs", (double)seen[i].runs);
		cJSON_AddItemToObject(j, "last", plan_last_json(db, &seen[i]));
		cJSON_AddItemToArray(a, j);
	}
	s = cJSON_Print(o);
	if (!s)
		fx_oom();
	fprintf(f, "%s\n", s);
	cJSON_free(s);
	cJSON_Delete(o);
}

int lineage_db_plan(struct lineage_db *db, FILE *f, enum lq_format fmt,
                    const struct lq_plan *plan)
{
	struct lq_seen *seen;
	size_t n = plan_seen(db, plan, &seen);

	if (fmt == LQ_DOT)
		plan_dot(db, f, plan, seen, n);
	else if (fmt == LQ_JSON)
		plan_json(db, f, plan, seen, n);
	else
		plan_text(db, f, plan, seen, n);
	free(seen);
	return 0;
}

/* ---------------------------------------------------------------------
 * export
 */

int lineage_db_export(struct lineage_db *db, FILE *f)
{
	size_t i;

	for (i = 0; i < db->nevents; i++) {
		cJSON *ev = db->events[i];
		cJSON *run = cJSON_GetObjectItemCaseSensitive(ev, "run");
		const char *id = str(run, "runId");
		cJSON *prun = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(
		        cJSON_GetObjectItemCaseSensitive(run, "facets"),
		        "parent"),
		    "run");
		void *v = strmap_get(&db->by_run, id, strlen(id));
		const struct lq_pipeline *p =
		    &db->pipelines[db->stages[(size_t)v - 1].pipeline];
		char *s;

		if (prun && str(prun, "runId") &&
		    strcmp(str(prun, "runId"), p->id) != 0)
			cJSON_ReplaceItemInObjectCaseSensitive(
			    prun, "runId", cJSON_CreateString(p->id));
		s = cJSON_PrintUnformatted(ev);
		if (!s)
			fx_oom();
		fprintf(f, "%s\n", s);
		cJSON_free(s);
	}
	return 0;
}
