/* pipeline.c - fx-pipeline(5) files; the contract is in pipeline.h */
#include "pipeline.h"

#include "aggfn.h"
#include "checkpoint.h"
#include "confjson.h"
#include "err.h"
#include "hive.h"
#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK_TIMEOUT_MS 10000 /* a step's option check, at most */

struct pipeline {
	const struct fx_ctx *ctx;
	struct conf_file cf;
	cJSON *root; /* the strings below point into it */
	char *path, *dir;
	const char *name;
	char *warehouse;         /* resolved, or NULL */
	const char *wh_argument; /* as the stages get it, or NULL */
	char *wh_override;
	const cJSON *params;
	int params_unknown;       /* "params" is not an object */
	const cJSON *tables_json; /* "tables", or NULL if not an object */
	struct pipeline_table *tables;
	size_t ntables;
	struct pipeline_job *jobs; /* in dependency order */
	size_t njobs;
	/* storage of steps and options */
	struct pipeline_step **steps;
	size_t nsteps_alloc, steps_cap;
	struct pipeline_opt **opts;
	size_t nopts_alloc, opts_cap;
	const char ***values;
	size_t nvalues_alloc, values_cap;
};

static char *path_join(const char *dir, const char *rel)
{
	char *s;

	if (rel[0] == '/')
		return fx_strdup(rel);
	if (asprintf(&s, "%s/%s", dir, rel) < 0)
		fx_oom();
	return s;
}

/* ---------------------------------------------------------------------
 * Loading
 */

static int name_ok(const char *s, int dash)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' &&
		    !(dash && *s == '-'))
			return 0;
	return 1;
}

/*
 * The loading goes on after a fault, so that --check reports each one:
 * every function below prints a message per fault it finds and returns
 * -1 if it found any, 0 if none. What a fault leaves unknown (a table
 * that did not load, a step's options) is marked, and the checks that
 * depend on it are skipped rather than reported a second time.
 */

/* Each member of obj not in keys: "where.member: unknown key". */
static int known_keys(const struct conf_file *cf, const cJSON *obj,
                      const char *where, const char *const *keys)
{
	const cJSON *m;
	const char *const *k;
	char name[1024];
	int rc = 0;

	cJSON_ArrayForEach(m, obj)
	{
		for (k = keys; *k && strcmp(m->string, *k); k++)
			;
		if (*k)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", where, *where ? "." : "",
		         m->string);
		rc = conf_bad(cf, name, "unknown key");
	}
	return rc;
}

/* Each member given twice in one object (cJSON keeps both), once. */
static int dup_member(const struct conf_file *cf, const cJSON *obj,
                      const char *where)
{
	const cJSON *a, *b;
	char key[1024];
	int rc = 0;

	cJSON_ArrayForEach(a, obj)
	{
		for (b = obj->child; b != a; b = b->next)
			if (strcmp(a->string, b->string) == 0)
				break;
		if (b != a) /* reported with the first */
			continue;
		for (b = a->next; b; b = b->next)
			if (strcmp(a->string, b->string) == 0)
				break;
		if (!b)
			continue;
		snprintf(key, sizeof(key), "%s.%s", where, a->string);
		rc = conf_bad(cf, key, "given twice");
	}
	return rc;
}

/* An optional string member; a fault leaves *out NULL. */
static int opt_string(const struct conf_file *cf, const cJSON *obj,
                      const char *where, const char *member, const char **out)
{
	char key[1024];

	snprintf(key, sizeof(key), "%s%s%s", where, *where ? "." : "", member);
	return conf_get_string(cf, obj, member, key, 0, out);
}

/*
 * A required string member. unknown: obj has an unknown key, perhaps
 * this member misspelt, so that its absence is not a second message
 * (-1, silent).
 */
static int need_string(const struct conf_file *cf, const cJSON *obj,
                       const char *member, const char *key, int unknown,
                       const char **out)
{
	if (conf_get_string(cf, obj, member, key, !unknown, out))
		return -1;
	return *out ? 0 : -1;
}

static int load_table(struct pipeline *p, const cJSON *t)
{
	static const char *const keys[] = {"file", "layer", "description",
	                                   NULL};
	struct pipeline_table *pt = &p->tables[p->ntables];
	char where[512], key[1024];
	const char *file, *layer, *desc;
	struct stat st;
	char *res;
	int rc, unknown;

	snprintf(where, sizeof(where), "tables.%s", t->string);
	if (!cJSON_IsObject(t))
		return conf_bad(&p->cf, where, "not an object");
	unknown = rc = known_keys(&p->cf, t, where, keys);
	rc |= opt_string(&p->cf, t, where, "layer", &layer);
	rc |= opt_string(&p->cf, t, where, "description", &desc);
	snprintf(key, sizeof(key), "%s.file", where);
	if (need_string(&p->cf, t, "file", key, unknown, &file))
		return -1;
	res = path_join(p->dir, file);
	if (stat(res, &st)) {
		rc = conf_bad(&p->cf, key, "\"%s\": %s", file, strerror(errno));
		free(res);
		return rc;
	}
	pt->name = t->string;
	pt->file = res;
	pt->written = file;
	pt->layer = layer ? layer : "";
	p->ntables++;
	if (!(pt->table = table_load(p->ctx, res)))
		rc = -1;
	return rc;
}

static int load_tables(struct pipeline *p, const cJSON *tables, int unknown)
{
	const cJSON *t;
	size_t n;
	int rc;

	if (!tables)
		return unknown ? -1 : conf_bad(&p->cf, "tables", "missing");
	if (!cJSON_IsObject(tables))
		return conf_bad(&p->cf, "tables", "not an object");
	p->tables_json = tables;
	rc = dup_member(&p->cf, tables, "tables");
	n = (size_t)cJSON_GetArraySize(tables);
	p->tables = fx_malloc((n ? n : 1) * sizeof(*p->tables));
	memset(p->tables, 0, (n ? n : 1) * sizeof(*p->tables));
	cJSON_ArrayForEach(t, tables)
	{
		rc |= load_table(p, t);
	}
	return rc;
}

/* An fx step's option: a string, true, or an array of strings. */
static int load_step_opt(struct pipeline *p, const cJSON *m, const char *key,
                         struct pipeline_opt *op)
{
	const char **vals;
	const cJSON *e;
	size_t k = 0;

	if (!name_ok(m->string, 1) || m->string[0] == '-')
		return conf_bad(&p->cf, key,
		                "an option's long name without \"--\" "
		                "(letters, digits, '-', '_')");
	op->name = m->string;
	vals = fx_malloc(((size_t)cJSON_GetArraySize(m) + 1) * sizeof(*vals));
	FX_GROW(p->values, p->nvalues_alloc + 1, p->values_cap, 16);
	p->values[p->nvalues_alloc++] = vals;
	op->values = vals;
	if (cJSON_IsTrue(m)) {
		op->flag = 1;
	} else if (cJSON_IsString(m) && m->valuestring) {
		vals[k++] = m->valuestring;
	} else if (cJSON_IsArray(m)) {
		cJSON_ArrayForEach(e, m)
		{
			if (!cJSON_IsString(e) || !e->valuestring)
				return conf_bad(&p->cf, key,
				                "an array of strings only");
			vals[k++] = e->valuestring;
		}
		if (!k)
			return conf_bad(&p->cf, key, "an empty array");
	} else {
		return conf_bad(&p->cf, key,
		                "not a string, true or an array of strings");
	}
	op->nvalues = k;
	return 0;
}

/* An fx step's options: each fault reported; the good ones kept. */
static int load_step_opts(struct pipeline *p, const cJSON *o, const char *where,
                          struct pipeline_step *st)
{
	struct pipeline_opt *opts;
	const cJSON *m;
	size_t n;
	char key[1200];
	int rc;

	if (!cJSON_IsObject(o))
		return conf_bad(&p->cf, where, "not an object");
	rc = dup_member(&p->cf, o, where);
	n = (size_t)cJSON_GetArraySize(o);
	opts = fx_malloc((n ? n : 1) * sizeof(*opts));
	memset(opts, 0, (n ? n : 1) * sizeof(*opts));
	FX_GROW(p->opts, p->nopts_alloc + 1, p->opts_cap, 16);
	p->opts[p->nopts_alloc++] = opts;
	st->opts = opts;
	cJSON_ArrayForEach(m, o)
	{
		snprintf(key, sizeof(key), "%s.%s", where, m->string);
		if (load_step_opt(p, m, key, &opts[st->nopts]))
			rc = -1;
		else
			st->nopts++;
	}
	return rc;
}

static const char *const programs[] = {"fx-join", "fx-agg", "fx-partition",
                                       "sh", NULL};

/* The step's name (unknown: as need_string()'s). */
static int load_step_name(struct pipeline *p, const cJSON *s, const char *where,
                          struct pipeline_step *steps, size_t i, int unknown)
{
	const char *name;
	char key[1100];
	size_t j;

	snprintf(key, sizeof(key), "%s.name", where);
	if (need_string(&p->cf, s, "name", key, unknown, &name))
		return -1;
	if (!name_ok(name, 1))
		return conf_bad(&p->cf, key,
		                "\"%s\": use letters, digits, '_' and '-'",
		                name);
	if (!strcmp(name, "source") || !strcmp(name, "route") ||
	    !strcmp(name, "sink"))
		return conf_bad(&p->cf, key,
		                "\"%s\" is the name of a stage fx-run adds "
		                "(source, route, sink)",
		                name);
	for (j = 0; j < i; j++)
		if (steps[j].name && strcmp(steps[j].name, name) == 0)
			return conf_bad(&p->cf, key,
			                "\"%s\" is also the name of step %zu",
			                name, j);
	steps[i].name = name;
	return 0;
}

/*
 * A step. Its name, its keys and its program are checked apart: a bad
 * name does not hide a bad option. A step whose program or options did
 * not load whole is marked incomplete (not run by --check).
 */
static int load_step(struct pipeline *p, const cJSON *s, const char *where,
                     struct pipeline_step *steps, size_t i)
{
	static const char *const keys[] = {"name",         "fx-join", "fx-agg",
	                                   "fx-partition", "sh",      NULL};
	struct pipeline_step *st = &steps[i];
	const char *prog = NULL, *const * k;
	char key[1100];
	int rc, unknown;

	st->incomplete = 1;
	if (!cJSON_IsObject(s))
		return conf_bad(&p->cf, where, "not an object");
	unknown = rc = known_keys(&p->cf, s, where, keys);
	rc |= load_step_name(p, s, where, steps, i, unknown);
	for (k = programs; *k; k++) {
		if (!cJSON_GetObjectItemCaseSensitive(s, *k))
			continue;
		if (prog)
			return conf_bad(
			    &p->cf, where,
			    "two programs (\"%s\" and \"%s\"): a step "
			    "runs one",
			    prog, *k);
		prog = *k;
	}
	if (!prog && unknown) /* "fx-aggg": not a second message */
		return -1;
	if (!prog)
		return conf_bad(&p->cf, where,
		                "no program: give one of \"fx-join\", "
		                "\"fx-agg\", \"fx-partition\" or \"sh\"");
	st->program = prog;
	snprintf(key, sizeof(key), "%s.%s", where, prog);
	if (strcmp(prog, "sh") == 0) {
		if (conf_get_string(&p->cf, s, "sh", key, 1, &st->shell))
			return -1;
	} else if (load_step_opts(p, cJSON_GetObjectItemCaseSensitive(s, prog),
	                          key, st)) {
		return -1;
	}
	st->incomplete = 0;
	return rc;
}

static const struct pipeline_table *find_table(const struct pipeline *p,
                                               const char *name)
{
	size_t i;

	for (i = 0; i < p->ntables; i++)
		if (strcmp(p->tables[i].name, name) == 0)
			return &p->tables[i];
	return NULL;
}

/* A job's "source" or "sink": the table, NULL if there is none. A name
 * that is in "tables" but did not load is not a fault of the job.
 * unknown: as need_string()'s. */
static int load_job_table(struct pipeline *p, const cJSON *j, const char *where,
                          const char *member, int unknown, const char **name,
                          const struct pipeline_table **t)
{
	char key[1024];

	snprintf(key, sizeof(key), "%s.%s", where, member);
	if (need_string(&p->cf, j, member, key, unknown, name))
		return -1;
	*t = find_table(p, *name);
	if (!*t && p->tables_json &&
	    !cJSON_GetObjectItemCaseSensitive(p->tables_json, *name))
		return conf_bad(&p->cf, key, "\"%s\" is not in \"tables\"",
		                *name);
	return 0;
}

/*
 * The job's keys that become options of the stream's source and sink
 * only: no --batch and no step sees them, so that a value fx-consume or
 * fx-sink refuses would fail only once --stream starts its stages. They
 * are checked here by the programs' rules: "checkpoint" as fx-consume's
 * --checkpoint (a record count above 0, or a duration above 0), "key" as
 * fx-sink's --key (a field path: json_paths_add()). "group" and "state"
 * take any string that is not empty.
 */
static int check_stream_keys(const struct pipeline *p, const char *where,
                             const struct pipeline_job *job)
{
	struct json_paths *ps;
	const char *why;
	char key[1024];
	int64_t records, ms;
	int rc = 0;

	if (job->checkpoint &&
	    ckpt_interval_parse(job->checkpoint, &records, &ms)) {
		snprintf(key, sizeof(key), "%s.checkpoint", where);
		rc = conf_bad(&p->cf, key,
		              "\"%s\": expected a duration (5s, 500ms) or a "
		              "record count above 0 (10000)",
		              job->checkpoint);
	}
	if (!job->key)
		return rc;
	ps = fx_malloc(sizeof(*ps));
	memset(ps, 0, sizeof(*ps));
	if (json_paths_add(ps, job->key, &why) < 0) {
		snprintf(key, sizeof(key), "%s.key", where);
		rc = conf_bad(&p->cf, key, "\"%s\": %s", job->key, why);
	}
	json_paths_free(ps);
	free(ps);
	return rc;
}

static int load_job(struct pipeline *p, const cJSON *j,
                    struct pipeline_job *job)
{
	static const char *const keys[] = {
	    "description", "source", "steps",    "sink",       "key", "group",
	    "state",       "dlq",    "lateness", "checkpoint", NULL};
	static const char *const strs[] = {"description", "key",   "group",
	                                   "checkpoint",  "state", "dlq",
	                                   "lateness",    NULL};
	const char **out[] = {&job->description, &job->key,   &job->group,
	                      &job->checkpoint,  &job->state, &job->dlq,
	                      &job->lateness};
	char where[512], key[1024];
	const cJSON *steps, *s;
	struct pipeline_step *st;
	size_t i, n;
	int rc, unknown;

	snprintf(where, sizeof(where), "jobs.%s", j->string);
	job->name = j->string;
	unknown = rc = known_keys(&p->cf, j, where, keys);
	for (i = 0; strs[i]; i++)
		rc |= opt_string(&p->cf, j, where, strs[i], out[i]);
	if (!job->group)
		job->group = job->name;
	rc |= check_stream_keys(p, where, job);
	rc |= load_job_table(p, j, where, "source", unknown, &job->source,
	                     &job->src);
	rc |=
	    load_job_table(p, j, where, "sink", unknown, &job->sink, &job->dst);
	snprintf(key, sizeof(key), "%s.steps", where);
	steps = cJSON_GetObjectItemCaseSensitive(j, "steps");
	if (!steps)
		return unknown ? -1 : conf_bad(&p->cf, key, "missing");
	if (!cJSON_IsArray(steps))
		return conf_bad(&p->cf, key, "not an array");
	n = (size_t)cJSON_GetArraySize(steps);
	st = fx_malloc((n ? n : 1) * sizeof(*st));
	memset(st, 0, (n ? n : 1) * sizeof(*st));
	FX_GROW(p->steps, p->nsteps_alloc + 1, p->steps_cap, 16);
	p->steps[p->nsteps_alloc++] = st;
	job->steps = st;
	i = 0;
	cJSON_ArrayForEach(s, steps)
	{
		snprintf(key, sizeof(key), "%s.steps[%zu]", where, i);
		rc |= load_step(p, s, key, st, i);
		job->nsteps = ++i;
	}
	return rc;
}

/*
 * Orders the jobs: a job after those whose sink is its source. A job
 * whose source is its own sink is a cycle of one. Jobs in a cycle are
 * put last (for --check) after the message.
 */
static int order_jobs(struct pipeline *p, struct pipeline_job *jobs, size_t n)
{
	unsigned char *done = fx_malloc(n ? n : 1);
	size_t i, k, placed = 0;
	int progress = 1, rc = 0;
	struct fx_buf b = FX_BUF_INIT;
	char key[1024];

	memset(done, 0, n ? n : 1);
	p->jobs = fx_malloc((n ? n : 1) * sizeof(*p->jobs));
	for (i = 0; i < n; i++) {
		if (!jobs[i].source || !jobs[i].sink ||
		    strcmp(jobs[i].source, jobs[i].sink))
			continue;
		snprintf(key, sizeof(key), "jobs.%s", jobs[i].name);
		rc = conf_bad(&p->cf, key,
		              "a cycle: the job reads the table it writes (%s)",
		              jobs[i].source);
	}
	while (placed < n && progress) {
		progress = 0;
		for (i = 0; i < n; i++) {
			int ready = 1;

			if (done[i])
				continue;
			for (k = 0; k < n && ready; k++)
				if (k != i && !done[k] && jobs[k].sink &&
				    jobs[i].source &&
				    strcmp(jobs[k].sink, jobs[i].source) == 0)
					ready = 0;
			if (!ready)
				continue;
			done[i] = 1;
			p->jobs[placed++] = jobs[i];
			progress = 1;
		}
	}
	for (i = 0; i < n; i++) {
		if (done[i])
			continue;
		if (b.len)
			fx_buf_adds(&b, ", ");
		fx_buf_adds(&b, jobs[i].name);
		fx_buf_adds(&b, " reads ");
		fx_buf_adds(&b, jobs[i].source);
		p->jobs[placed++] = jobs[i];
	}
	free(done);
	p->njobs = placed;
	if (!b.len)
		return rc;
	fx_buf_addc(&b, 0);
	conf_bad(&p->cf, "jobs",
	         "a cycle: each job reads a table another of them writes (%s)",
	         b.p);
	fx_buf_free(&b);
	return -1;
}

static int load_jobs(struct pipeline *p, const cJSON *jobs, int unknown)
{
	struct pipeline_job *tmp;
	const cJSON *j;
	char where[512];
	size_t n, i = 0;
	int rc;

	if (!jobs)
		return unknown ? -1 : conf_bad(&p->cf, "jobs", "missing");
	if (!cJSON_IsObject(jobs))
		return conf_bad(&p->cf, "jobs", "not an object");
	rc = dup_member(&p->cf, jobs, "jobs");
	n = (size_t)cJSON_GetArraySize(jobs);
	if (!n)
		return conf_bad(&p->cf, "jobs", "empty: give one job or more");
	tmp = fx_malloc(n * sizeof(*tmp));
	memset(tmp, 0, n * sizeof(*tmp));
	cJSON_ArrayForEach(j, jobs)
	{
		if (!cJSON_IsObject(j)) {
			snprintf(where, sizeof(where), "jobs.%s", j->string);
			rc = conf_bad(&p->cf, where, "not an object");
			continue;
		}
		rc |= load_job(p, j, &tmp[i++]);
	}
	rc |= order_jobs(p, tmp, i);
	free(tmp);
	return rc;
}

static int load_params(struct pipeline *p, const cJSON *params)
{
	const cJSON *m;
	char key[512];
	int rc;

	if (!params)
		return 0;
	if (!cJSON_IsObject(params)) {
		p->params_unknown = 1;
		return conf_bad(&p->cf, "params", "not an object");
	}
	p->params = params;
	rc = dup_member(&p->cf, params, "params");
	cJSON_ArrayForEach(m, params)
	{
		snprintf(key, sizeof(key), "params.%s", m->string);
		if (!name_ok(m->string, 0))
			rc = conf_bad(&p->cf, key,
			              "a name of letters, digits and '_'");
		else if (!cJSON_IsString(m) || !m->valuestring)
			rc = conf_bad(&p->cf, key, "not a string");
	}
	return rc;
}

static int load_root(struct pipeline *p, const cJSON *root)
{
	static const char *const keys[] = {"name",   "description", "warehouse",
	                                   "params", "tables",      "jobs",
	                                   NULL};
	const char *desc, *wh;
	int rc, unknown;

	unknown = rc = known_keys(&p->cf, root, "", keys);
	if (need_string(&p->cf, root, "name", "name", unknown, &p->name))
		rc = -1;
	else if (!name_ok(p->name, 1))
		rc = conf_bad(&p->cf, "name",
		              "\"%s\": use letters, digits, '_' and '-'",
		              p->name);
	rc |= opt_string(&p->cf, root, "", "description", &desc);
	rc |= opt_string(&p->cf, root, "", "warehouse", &wh);
	if (wh) {
		p->warehouse = path_join(p->dir, wh);
		p->wh_argument = wh;
	}
	rc |= load_params(p, cJSON_GetObjectItemCaseSensitive(root, "params"));
	rc |= load_tables(p, cJSON_GetObjectItemCaseSensitive(root, "tables"),
	                  unknown);
	rc |= load_jobs(p, cJSON_GetObjectItemCaseSensitive(root, "jobs"),
	                unknown);
	return rc;
}

struct pipeline *pipeline_load_all(const struct fx_ctx *ctx, const char *path,
                                   int *faults)
{
	struct pipeline *p = fx_malloc(sizeof(*p));
	char *copy = fx_strdup(path), *slash, real[PATH_MAX];

	*faults = 1;
	memset(p, 0, sizeof(*p));
	p->ctx = ctx;
	p->path = fx_strdup(path);
	p->cf.ctx = ctx;
	p->cf.path = p->path;
	slash = strrchr(copy, '/');
	if (slash)
		*(slash == copy ? slash + 1 : slash) = 0;
	if (!realpath(slash ? copy : ".", real)) {
		fx_warn(ctx, "%s: %s", path, strerror(errno));
		free(copy);
		pipeline_free(p);
		return NULL;
	}
	free(copy);
	p->dir = fx_strdup(real);
	if (!(p->root = conf_parse(&p->cf)) || !cJSON_IsObject(p->root)) {
		if (p->root)
			conf_bad(&p->cf, "(top)", "not a JSON object");
		pipeline_free(p);
		return NULL;
	}
	*faults = load_root(p, p->root) != 0;
	return p;
}

struct pipeline *pipeline_load(const struct fx_ctx *ctx, const char *path)
{
	int faults;
	struct pipeline *p = pipeline_load_all(ctx, path, &faults);

	if (p && faults) {
		pipeline_free(p);
		return NULL;
	}
	return p;
}

void pipeline_free(struct pipeline *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->ntables; i++) {
		free((char *)p->tables[i].file);
		table_free(p->tables[i].table);
	}
	free(p->tables);
	free(p->jobs);
	for (i = 0; i < p->nsteps_alloc; i++)
		free(p->steps[i]);
	free(p->steps);
	for (i = 0; i < p->nopts_alloc; i++)
		free(p->opts[i]);
	free(p->opts);
	for (i = 0; i < p->nvalues_alloc; i++)
		free(p->values[i]);
	free(p->values);
	cJSON_Delete(p->root);
	free(p->warehouse);
	free(p->wh_override);
	free(p->path);
	free(p->dir);
	free(p);
}

const char *pipeline_name(const struct pipeline *p)
{
	return p->name;
}

const char *pipeline_path(const struct pipeline *p)
{
	return p->path;
}

const char *pipeline_dir(const struct pipeline *p)
{
	return p->dir;
}

const char *pipeline_warehouse(const struct pipeline *p)
{
	return p->warehouse;
}

void pipeline_set_warehouse(struct pipeline *p, const char *dir)
{
	char cwd[PATH_MAX];

	free(p->warehouse);
	free(p->wh_override);
	if (dir[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		p->warehouse = fx_strdup(dir);
	else
		p->warehouse = path_join(cwd, dir);
	p->wh_override = fx_strdup(p->warehouse);
	p->wh_argument = p->wh_override;
}

const char *pipeline_param(const struct pipeline *p, const char *name)
{
	const cJSON *m = p->params
	                     ? cJSON_GetObjectItemCaseSensitive(p->params, name)
	                     : NULL;

	return m ? m->valuestring : NULL;
}

size_t pipeline_ntables(const struct pipeline *p)
{
	return p->ntables;
}

const struct pipeline_table *pipeline_table_at(const struct pipeline *p,
                                               size_t i)
{
	return &p->tables[i];
}

const struct pipeline_table *pipeline_table_find(const struct pipeline *p,
                                                 const char *name)
{
	return find_table(p, name);
}

size_t pipeline_njobs(const struct pipeline *p)
{
	return p->njobs;
}

const struct pipeline_job *pipeline_job_at(const struct pipeline *p, size_t i)
{
	return &p->jobs[i];
}

const struct pipeline_job *pipeline_job_find(const struct pipeline *p,
                                             const char *name)
{
	size_t i;

	for (i = 0; i < p->njobs; i++)
		if (strcmp(p->jobs[i].name, name) == 0)
			return &p->jobs[i];
	return NULL;
}

/* ---------------------------------------------------------------------
 * Parameters: ${name}
 */

struct params {
	const struct pipeline *p;
	const struct fx_strlist *cli; /* NAME=V, a later one wins */
	const char *batch;            /* NAME=V,NAME=V or NULL */
	const struct table *src;      /* --check: its partitions are known */
	int src_unknown; /* --check: the source table did not load */
};

/* The value of name, or NULL. */
static const char *param_value(const struct params *pm, const char *name,
                               size_t n, struct fx_buf *tmp)
{
	size_t i;
	const char *s, *v;

	if (pm->batch) {
		for (s = pm->batch; *s;) {
			const char *end = strchr(s, ',');
			size_t len = end ? (size_t)(end - s) : strlen(s);
			const char *eq = memchr(s, '=', len);

			if (eq && (size_t)(eq - s) == n &&
			    !memcmp(s, name, n)) {
				fx_buf_reset(tmp);
				fx_buf_add(tmp, eq + 1, len - n - 1);
				fx_buf_addc(tmp, 0);
				return tmp->p;
			}
			s += len + (end ? 1 : 0);
		}
	}
	for (i = pm->cli ? pm->cli->n : 0; i-- > 0;) {
		s = pm->cli->v[i];
		if (strncmp(s, name, n) == 0 && s[n] == '=')
			return s + n + 1;
	}
	fx_buf_reset(tmp);
	fx_buf_add(tmp, name, n);
	fx_buf_addc(tmp, 0);
	if ((v = pipeline_param(pm->p, tmp->p)))
		return v;
	if (pm->src)
		for (i = 0; i < table_nparts(pm->src); i++)
			if (strcmp(table_part(pm->src, i)->name, tmp->p) == 0)
				return "";
	return NULL;
}

/*
 * Not found, but a fault of the file left it unknown: a source table
 * that did not load (its partitions), "params" not an object, or name's
 * value in it not a string (reported as such).
 */
static int param_unknowable(const struct params *pm, const char *name)
{
	return pm->src_unknown || pm->p->params_unknown ||
	       (pm->p->params &&
	        cJSON_GetObjectItemCaseSensitive(pm->p->params, name));
}

/*
 * Replaces each ${name} of s into out (NUL-terminated). Returns 0, or -1
 * with the unknown name in *unknown (into out, valid until its next use),
 * or NULL in *unknown when the name is unknowable (param_unknowable()),
 * a fault already reported.
 */
static int substitute(const struct params *pm, const char *s,
                      struct fx_buf *out, const char **unknown)
{
	struct fx_buf tmp = FX_BUF_INIT;
	const char *open, *close, *v;
	size_t k;

	fx_buf_reset(out);
	while ((open = strstr(s, "${"))) {
		close = open + 2;
		for (k = 0; isalnum((unsigned char)close[k]) || close[k] == '_';
		     k++)
			;
		if (!k || close[k] != '}') {
			fx_buf_add(out, s, (size_t)(open + 2 - s));
			s = open + 2;
			continue;
		}
		fx_buf_add(out, s, (size_t)(open - s));
		if (!(v = param_value(pm, close, k, &tmp))) {
			fx_buf_reset(out);
			fx_buf_add(out, close, k);
			fx_buf_addc(out, 0);
			*unknown = param_unknowable(pm, out->p) ? NULL : out->p;
			fx_buf_free(&tmp);
			return -1;
		}
		fx_buf_adds(out, v);
		s = close + k + 1;
	}
	fx_buf_adds(out, s);
	fx_buf_addc(out, 0);
	fx_buf_free(&tmp);
	return 0;
}

/* The message for substitute()'s unknown name; none if it is NULL. */
static void unknown_param(const struct pipeline *p, const char *key,
                          const char *name)
{
	if (name)
		conf_bad(
		    &p->cf, key,
		    "unknown parameter ${%s}: not in \"params\", -p or --batch",
		    name);
}

/* ---------------------------------------------------------------------
 * Stages' argv
 */

static void add(struct fx_strlist *l, const char *s)
{
	fx_strlist_push(l, s);
}

static void add2(struct fx_strlist *l, const char *a, const char *b)
{
	fx_strlist_push(l, a);
	fx_strlist_push(l, b);
}

static int step_has(const struct pipeline_step *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->nopts; i++)
		if (strcmp(st->opts[i].name, name) == 0)
			return 1;
	return 0;
}

/* A stage that snapshots on a barrier: fx-agg, and fx-join's interval
 * join (a lookup join keeps no state and refuses --state). */
static int stateful(const struct pipeline_step *st)
{
	return !strcmp(st->program, "fx-agg") ||
	       (!strcmp(st->program, "fx-join") && step_has(st, "right"));
}

enum argv_for {
	FOR_RUN,   /* the plan */
	FOR_CHECK, /* --check: no state, no dlq */
};

static void add_dlq(const struct pipeline_job *job, const char *step,
                    struct fx_strlist *a, enum argv_for why)
{
	char *s;

	if (!job->dlq || why == FOR_CHECK)
		return;
	if (asprintf(&s, "dlq=%s.%s", job->dlq, step) < 0)
		fx_oom();
	add2(a, "--on-error", s);
	free(s);
}

/* The state directory of a job, as the stages get it. */
static char *state_dir(const struct pipeline *p, const struct pipeline_job *job)
{
	char *s;

	if (job->state)
		return fx_strdup(job->state);
	if (asprintf(&s, "%s/state/%s", p->wh_argument ? p->wh_argument : ".",
	             job->name) < 0)
		fx_oom();
	return s;
}

/*
 * A step's argv into a (substituted). Returns 0, or -1 after a message
 * naming the key of an unknown parameter.
 */
static int step_argv(const struct pipeline *p, const struct pipeline_job *job,
                     size_t i, const struct params *pm,
                     const struct pipeline_run_opts *o, enum argv_for why,
                     struct fx_strlist *a)
{
	const struct pipeline_step *st = &job->steps[i];
	struct fx_buf v = FX_BUF_INIT, opt = FX_BUF_INIT;
	const char *unknown;
	char key[1024];
	size_t k, m;
	int rc = 0;

	add(a, st->program);
	for (k = 0; k < st->nopts && !rc; k++) {
		const struct pipeline_opt *op = &st->opts[k];

		fx_buf_reset(&opt);
		fx_buf_adds(&opt, "--");
		fx_buf_adds(&opt, op->name);
		fx_buf_addc(&opt, 0);
		if (op->flag)
			add(a, opt.p);
		for (m = 0; m < op->nvalues; m++) {
			if (substitute(pm, op->values[m], &v, &unknown)) {
				snprintf(key, sizeof(key),
				         "jobs.%s.steps[%zu].%s.%s", job->name,
				         i, st->program, op->name);
				unknown_param(p, key, unknown);
				rc = -1;
				break;
			}
			add2(a, opt.p, v.p);
		}
	}
	if (!rc && job->lateness && !step_has(st, "lateness") &&
	    (!strcmp(st->program, "fx-agg") ||
	     (!strcmp(st->program, "fx-join") && step_has(st, "right")))) {
		if (substitute(pm, job->lateness, &v, &unknown)) {
			snprintf(key, sizeof(key), "jobs.%s.lateness",
			         job->name);
			unknown_param(p, key, unknown);
			rc = -1;
		} else {
			add2(a, "--lateness", v.p);
		}
	}
	if (!rc && why == FOR_RUN && o->mode == PIPELINE_STREAM &&
	    job->checkpoint && stateful(st) && !step_has(st, "state")) {
		char *s = state_dir(p, job);

		add2(a, "--state", s);
		if (!step_has(st, "stage"))
			add2(a, "--stage", st->name);
		free(s);
	}
	if (!rc)
		add_dlq(job, st->name, a, why);
	fx_buf_free(&v);
	fx_buf_free(&opt);
	return rc;
}

/* ---------------------------------------------------------------------
 * --check
 */

/* Runs argv with empty input in dir; its stderr into err. Returns its
 * status (128 + signal), -2 if it was killed for taking longer than
 * CHECK_TIMEOUT_MS, or -1 if it could not be started. */
static int run_quiet(const char *dir, char *const *argv, struct fx_buf *err)
{
	int fds[2], status = 0, waited = 0, timed_out = 0;
	pid_t pid;
	char chunk[4096];
	ssize_t got;
	struct timespec t0, t1;

	if (pipe(fds))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(fds[1], 2) < 0 || chdir(dir))
			_exit(127);
		close(fds[0]);
		setenv("FX_LINEAGE", "off", 1);
		execvp(argv[0], argv);
		dprintf(2, "%s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(fds[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = {fds[0], POLLIN, 0};
		long ms;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		     (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= CHECK_TIMEOUT_MS) {
			kill(pid, SIGKILL); /* our own child, by its pid */
			timed_out = 1;
			break;
		}
		r = poll(&pfd, 1, (int)(CHECK_TIMEOUT_MS - ms));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		got = read(fds[0], chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		fx_buf_add(err, chunk, (size_t)got);
	}
	close(fds[0]);
	while (!waited) {
		if (waitpid(pid, &status, 0) >= 0)
			waited = 1;
		else if (errno != EINTR)
			return -1;
	}
	fx_buf_addc(err, 0);
	err->len--;
	if (timed_out)
		return -2;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void pipeline_remove_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A check writes nothing: the values of the options by which a step
 * writes files (--state DIR, --on-error dlq=FILE, --late dlq=FILE) are
 * replaced, in argv, by names in scratch (new strings, into owned).
 */
static void check_scratch_paths(char **argv, const char *scratch,
                                struct fx_strlist *owned)
{
	size_t k;
	char *s;

	for (k = 1; argv[k] && argv[k + 1]; k++) {
		const char *o = argv[k], *v = argv[k + 1];

		if (!strcmp(o, "--state")) {
			if (asprintf(&s, "%s/state", scratch) < 0)
				fx_oom();
		} else if ((!strcmp(o, "--on-error") || !strcmp(o, "--late")) &&
		           !strncmp(v, "dlq=", 4)) {
			if (asprintf(&s, "dlq=%s/%s.dlq", scratch, o + 2) < 0)
				fx_oom();
		} else {
			continue;
		}
		fx_strlist_push(owned, s);
		free(s);
		argv[++k] = owned->v[owned->n - 1];
	}
}

/* The program run with the step's options on empty input: a non-zero
 * exit (a usage error, a --dim file that is not there) is a fault, each
 * line of its messages one. */
static int check_step_options(const struct pipeline *p,
                              const struct pipeline_job *job, size_t i,
                              const struct fx_strlist *a)
{
	const struct pipeline_step *st = &job->steps[i];
	struct fx_buf err = FX_BUF_INIT;
	struct fx_strlist owned = {0};
	char key[1024], **argv, *scratch;
	const char *line, *nl, *tmp = getenv("TMPDIR");
	size_t k, plen = strlen(st->program);
	int status, said = 0;

	argv = fx_malloc((a->n + 1) * sizeof(*argv));
	for (k = 0; k < a->n; k++)
		argv[k] = a->v[k];
	argv[a->n] = NULL;
	if (asprintf(&scratch, "%s/fx-run-check.XXXXXX",
	             tmp && *tmp ? tmp : "/tmp") < 0)
		fx_oom();
	if (!mkdtemp(scratch)) {
		fx_warn(p->ctx, "%s: %s", scratch, strerror(errno));
		status = -1;
	} else {
		check_scratch_paths(argv, scratch, &owned);
		status = run_quiet(p->dir, argv, &err);
		pipeline_remove_tree(scratch);
	}
	free(scratch);
	fx_strlist_free(&owned);
	free(argv);
	snprintf(key, sizeof(key), "jobs.%s.steps[%zu].%s", job->name, i,
	         st->program);
	if (status == 127 || status == 126 || status == -1) {
		conf_bad(&p->cf, key, "cannot run %s to check its options",
		         st->program);
		fx_buf_free(&err);
		return -1;
	}
	/* killed at CHECK_TIMEOUT_MS: slow to start (a Kafka dimension
	 * loading), not refused */
	if (status == 0 || status == -2) {
		fx_buf_free(&err);
		return 0;
	}
	for (line = err.p; line && *line; line = nl ? nl + 1 : NULL) {
		char see[128];
		size_t len, sl;

		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > plen + 2 && !memcmp(line, st->program, plen) &&
		    !memcmp(line + plen, ": ", 2)) {
			line += plen + 2;
			len -= plen + 2;
		}
		snprintf(see, sizeof(see), " (see '%s --help')", st->program);
		sl = strlen(see);
		if (len >= sl && !memcmp(line + len - sl, see, sl))
			len -= sl;
		if (len) {
			conf_bad(&p->cf, key, "%.*s", (int)len, line);
			said = 1;
		}
	}
	if (!said)
		conf_bad(&p->cf, key, "exit %d on empty input", status);
	fx_buf_free(&err);
	return -1;
}

/* The set of fields known to exist after the steps so far. */
struct fieldset {
	struct fx_strlist names;
	int unknown; /* nothing known: no check */
};

static int has_field(const struct fieldset *fs, const char *f, size_t n)
{
	size_t i;
	const char *dot = memchr(f, '.', n);

	if (dot) /* a dotted path: its top-level field */
		n = (size_t)(dot - f);
	for (i = 0; i < fs->names.n; i++)
		if (strlen(fs->names.v[i]) == n &&
		    !memcmp(fs->names.v[i], f, n))
			return 1;
	return 0;
}

static void add_field(struct fieldset *fs, const char *f, size_t n)
{
	char *s = fx_strndup(f, n);

	if (!has_field(fs, f, n))
		fx_strlist_push(&fs->names, s);
	free(s);
}

/* The comma-split values of option name, each to fn. */
static const struct pipeline_opt *opt_of(const struct pipeline_step *st,
                                         const char *name)
{
	size_t i;

	for (i = 0; i < st->nopts; i++)
		if (strcmp(st->opts[i].name, name) == 0)
			return &st->opts[i];
	return NULL;
}

static int need_field(const struct pipeline *p, const struct pipeline_job *job,
                      size_t i, const char *opt, const struct fieldset *fs,
                      const char *f, size_t n)
{
	char key[1024];

	if (!n || has_field(fs, f, n))
		return 0;
	snprintf(key, sizeof(key), "jobs.%s.steps[%zu].%s.%s", job->name, i,
	         job->steps[i].program, opt);
	return conf_bad(&p->cf, key,
	                "field \"%.*s\" is not declared by table \"%s\" nor "
	                "made by an earlier step",
	                (int)n, f, job->source);
}

/* Iterates the comma-separated items of an option's values. */
struct items {
	const struct pipeline_opt *op;
	size_t v;
	const char *s;
};

static int next_item(struct items *it, const char **item, size_t *len)
{
	while (it->op) {
		const char *end;

		if (!it->s) {
			if (it->v >= it->op->nvalues)
				return 0;
			it->s = it->op->values[it->v++];
		}
		if (!*it->s) {
			it->s = NULL;
			continue;
		}
		end = strchr(it->s, ',');
		*item = it->s;
		*len = end ? (size_t)(end - it->s) : strlen(it->s);
		it->s = end ? end + 1 : NULL;
		if (*len)
			return 1;
	}
	return 0;
}

static int check_fields_agg(const struct pipeline *p,
                            const struct pipeline_job *job, size_t i,
                            struct fieldset *fs)
{
	const struct pipeline_step *st = &job->steps[i];
	struct items it = {opt_of(st, "by"), 0, NULL};
	const struct pipeline_opt *t = opt_of(st, "time");
	struct fieldset out = {{0}, 0};
	const char *s, *eq;
	size_t n;
	int rc = 0;

	while (next_item(&it, &s, &n)) {
		eq = memchr(s, '=', n);
		if (eq) {
			rc |= need_field(p, job, i, "by", fs, eq + 1,
			                 n - (size_t)(eq + 1 - s));
			add_field(&out, s, (size_t)(eq - s));
		} else {
			rc |= need_field(p, job, i, "by", fs, s, n);
			add_field(&out, s, n);
		}
	}
	if (t && t->nvalues)
		rc |= need_field(p, job, i, "time", fs, t->values[0],
		                 strlen(t->values[0]));
	it = (struct items){opt_of(st, "agg"), 0, NULL};
	while (next_item(&it, &s, &n)) {
		/* named as fx-agg names it: one rule, aggfn's */
		char *spec = fx_strndup(s, n), err[256];
		struct agg_spec a;

		if (agg_spec_parse(&a, spec, err, sizeof(err))) {
			/* one fx-agg refuses (check_step_options() says so)
			 * or that a ${param} spells: its column unknowable */
			out.unknown = 1;
		} else {
			if (a.field)
				rc |= need_field(p, job, i, "agg", fs, a.field,
				                 strlen(a.field));
			add_field(&out, a.name, strlen(a.name));
			agg_spec_free(&a);
		}
		free(spec);
	}
	if (opt_of(st, "window")) {
		add_field(&out, "window_start", 12);
		add_field(&out, "window_end", 10);
	}
	fx_strlist_free(&fs->names);
	*fs = out;
	return rc;
}

static int check_fields_join(const struct pipeline *p,
                             const struct pipeline_job *job, size_t i,
                             struct fieldset *fs)
{
	const struct pipeline_step *st = &job->steps[i];
	struct items it = {opt_of(st, "on"), 0, NULL};
	const struct pipeline_opt *t = opt_of(st, "time"),
	                          *pre = opt_of(st, "prefix");
	const char *s, *eq, *prefix = pre && pre->nvalues ? pre->values[0] : "";
	size_t n;
	int rc = 0;

	while (next_item(&it, &s, &n)) {
		eq = memchr(s, '=', n);
		rc |= need_field(p, job, i, "on", fs, s,
		                 eq ? (size_t)(eq - s) : n);
	}
	if (t && t->nvalues)
		rc |= need_field(p, job, i, "time", fs, t->values[0],
		                 strlen(t->values[0]));
	if (!opt_of(st, "fields")) {
		fs->unknown = 1; /* every field of the other side */
		return rc;
	}
	it = (struct items){opt_of(st, "fields"), 0, NULL};
	while (next_item(&it, &s, &n)) {
		char *f;

		if (asprintf(&f, "%s%.*s", prefix, (int)n, s) < 0)
			fx_oom();
		add_field(fs, f, strlen(f));
		free(f);
	}
	return rc;
}

static int check_fields(const struct pipeline *p,
                        const struct pipeline_job *job)
{
	struct fieldset fs = {{0}, 0};
	const struct table *t = job->src ? job->src->table : NULL;
	size_t i;
	int rc = 0;

	if (!t || !table_has_fields(t))
		return 0;
	for (i = 0; i < table_nfields(t); i++)
		fx_strlist_push(&fs.names, table_fields(t)[i]);
	for (i = 0; i < job->nsteps && !fs.unknown; i++) {
		const char *prog = job->steps[i].program;

		if (job->steps[i].incomplete || !strcmp(prog, "sh"))
			fs.unknown = 1;
		else if (!strcmp(prog, "fx-agg"))
			rc |= check_fields_agg(p, job, i, &fs);
		else if (!strcmp(prog, "fx-join"))
			rc |= check_fields_join(p, job, i, &fs);
	}
	fx_strlist_free(&fs.names);
	return rc;
}

static int check_job(const struct fx_ctx *ctx, const struct pipeline *p,
                     const struct pipeline_job *job,
                     const struct fx_strlist *params)
{
	const struct table *src = job->src ? job->src->table : NULL;
	struct params pm = {p, params, NULL, src, !src};
	struct pipeline_run_opts o = {.mode = PIPELINE_BATCH};
	struct fx_buf v = FX_BUF_INIT;
	const char *unknown;
	char key[1024];
	size_t i;
	int rc = 0;

	for (i = 0; i < job->nsteps; i++) {
		const struct pipeline_step *st = &job->steps[i];
		struct fx_strlist a = {0};

		if (st->incomplete)
			continue;
		if (st->shell) {
			if (substitute(&pm, st->shell, &v, &unknown)) {
				snprintf(key, sizeof(key),
				         "jobs.%s.steps[%zu].sh", job->name, i);
				unknown_param(p, key, unknown);
				rc = -1;
			}
			continue;
		}
		if (step_argv(p, job, i, &pm, &o, FOR_CHECK, &a))
			rc = -1;
		else if (check_step_options(p, job, i, &a))
			rc = -1;
		fx_strlist_free(&a);
	}
	fx_buf_free(&v);
	if (check_fields(p, job))
		rc = -1;
	(void)ctx;
	return rc;
}

int pipeline_check(const struct fx_ctx *ctx, const struct pipeline *p,
                   const struct pipeline_job *job,
                   const struct fx_strlist *params)
{
	size_t i;
	int rc = 0;

	if (job)
		return check_job(ctx, p, job, params) ? FX_EXIT_USAGE : 0;
	for (i = 0; i < p->njobs; i++)
		if (check_job(ctx, p, &p->jobs[i], params))
			rc = FX_EXIT_USAGE;
	return rc;
}

/* ---------------------------------------------------------------------
 * Planning
 */

/* Takes argv (emptied), or copies shell. The stages' pointers are set
 * once every stage is added (pl->argvs moves while it grows). */
static void stage_add(struct pipeline_plan *pl, size_t *cap, const char *name,
                      struct fx_strlist *argv, const char *shell)
{
	size_t acap = *cap; /* the same growth for both arrays */

	FX_GROW(pl->stages, pl->nstages + 1, *cap, 8);
	FX_GROW(pl->argvs, pl->nstages + 1, acap, 8);
	memset(&pl->stages[pl->nstages], 0, sizeof(*pl->stages));
	memset(&pl->argvs[pl->nstages], 0, sizeof(*pl->argvs));
	pl->stages[pl->nstages].name = name;
	if (argv) {
		pl->argvs[pl->nstages] = *argv;
		memset(argv, 0, sizeof(*argv));
	} else {
		fx_strlist_push(&pl->argvs[pl->nstages], shell);
		pl->stages[pl->nstages].shell = ""; /* a shell stage */
	}
	pl->nstages++;
}

/* "dt=2026-11-23,os=ios": each name a partition of t, once. opt: the
 * option messages name. */
static int batch_check(const struct fx_ctx *ctx, const struct table *t,
                       const char *batch, const char *opt)
{
	const char *s = batch, *prev;
	size_t i;

	if (strcmp(batch, "all") == 0)
		return 0;
	while (*s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		size_t nlen;
		const char *eq = memchr(s, '=', len);
		int found = 0;

		if (!eq || eq == s) {
			fx_warn(ctx,
			        "%s: expected NAME=V[,NAME=V] or all, got '%s'",
			        opt, batch);
			return -1;
		}
		nlen = (size_t)(eq - s);
		for (i = 0; i < table_nparts(t); i++)
			if (strlen(table_part(t, i)->name) == nlen &&
			    !memcmp(table_part(t, i)->name, s, nlen))
				found = 1;
		if (!found) {
			fx_warn(ctx,
			        "%s: '%.*s' is not a partition of table '%s'",
			        opt, (int)nlen, s, table_name(t));
			return -1;
		}
		for (prev = batch; prev < s; prev = strchr(prev, ',') + 1)
			if (!strncmp(prev, s, nlen + 1)) {
				fx_warn(ctx, "%s: '%.*s' given twice, got '%s'",
				        opt, (int)nlen, s, batch);
				return -1;
			}
		s += len + (end ? 1 : 0);
	}
	return 0;
}

/* A table's directory template with the batch's values, '*' for others. */
static void dataset_dirs(const struct pipeline *p,
                         const struct pipeline_table *pt, const char *batch,
                         struct fx_buf *out)
{
	const char *tpl = table_dir_template(pt->table), *s;
	struct fx_buf tmp = FX_BUF_INIT;
	struct params pm = {p, NULL, batch, NULL, 0};

	fx_buf_reset(out);
	fx_buf_adds(out, pt->name);
	fx_buf_adds(out, " (");
	fx_buf_adds(out, *pt->layer ? pt->layer : "no layer");
	fx_buf_adds(out, "): ");
	if (!tpl) {
		fx_buf_adds(out, "no \"files\"");
		fx_buf_addc(out, 0);
		return;
	}
	fx_buf_adds(out, p->warehouse ? p->warehouse : "(no warehouse)");
	fx_buf_addc(out, '/');
	for (s = tpl; *s;) {
		const char *open = strchr(s, '{'), *close, *v;

		if (!open) {
			fx_buf_adds(out, s);
			break;
		}
		close = strchr(open, '}');
		fx_buf_add(out, s, (size_t)(open - s));
		v = batch && strcmp(batch, "all")
		        ? param_value(&pm, open + 1, (size_t)(close - open - 1),
		                      &tmp)
		        : NULL;
		/* param_value falls back on the file's params: only the
		 * batch's own values count here */
		if (v && strstr(batch, "=") && pipeline_param(p, tmp.p) == v)
			v = NULL;
		if (v)
			hive_encode(out, v, strlen(v));
		else
			fx_buf_addc(out, '*');
		s = close + 1;
	}
	fx_buf_addc(out, 0);
	fx_buf_free(&tmp);
}

static void dataset_topics(const struct pipeline_table *pt, struct fx_buf *out)
{
	struct table_values tv = {0};
	const char *t;
	size_t i, n = 0;

	fx_buf_reset(out);
	fx_buf_adds(out, pt->name);
	fx_buf_adds(out, " (");
	fx_buf_adds(out, *pt->layer ? pt->layer : "no layer");
	fx_buf_adds(out, "): ");
	if (!table_has_kafka(pt->table)) {
		fx_buf_adds(out, "no \"kafka\"");
		fx_buf_addc(out, 0);
		return;
	}
	fx_buf_adds(out, "kafka:");
	for (i = 0; i < table_nstatic(pt->table); i++) {
		fx_buf_adds(out, n++ ? "," : "");
		fx_buf_adds(out, table_static(pt->table, i, &tv));
	}
	if ((t = table_topic_template(pt->table))) {
		fx_buf_adds(out, n++ ? "," : "");
		fx_buf_adds(out, t);
	}
	if ((t = table_default_topic(pt->table))) {
		fx_buf_adds(out, n++ ? "," : "");
		fx_buf_adds(out, t);
	}
	fx_buf_addc(out, 0);
	table_values_free(&tv);
}

static void where_args(const char *batch, struct fx_strlist *a)
{
	const char *s = batch;

	while (*s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		char *w = fx_strndup(s, len);

		add2(a, "--where", w);
		free(w);
		s += len + (end ? 1 : 0);
	}
}

int pipeline_plan(const struct fx_ctx *ctx, const struct pipeline *p,
                  const struct pipeline_job *job,
                  const struct pipeline_run_opts *o, struct pipeline_plan *pl)
{
	struct params pm = {p, o->params, NULL, NULL, 0};
	struct fx_strlist a = {0};
	struct fx_buf v = FX_BUF_INIT;
	int batch = o->mode == PIPELINE_BATCH;
	const char *unknown;
	size_t cap = 0, i;
	char key[1024], *s;
	int rc = 0;

	memset(pl, 0, sizeof(*pl));
	pl->dir = p->dir;
	if (batch) {
		if (!o->batch ||
		    batch_check(ctx, job->src->table, o->batch,
		                o->batch_option ? o->batch_option : "--batch"))
			return FX_EXIT_USAGE;
		if (strcmp(o->batch, "all"))
			pm.batch = o->batch;
		if (!p->warehouse) {
			fx_warn(ctx,
			        "%s: --batch reads and writes the warehouse: "
			        "give \"warehouse\" or --warehouse DIR",
			        p->path);
			return FX_EXIT_USAGE;
		}
		if (!table_has_files(job->src->table) ||
		    !table_has_files(job->dst->table)) {
			fx_warn(ctx,
			        "%s: jobs.%s: --batch needs \"files\" in "
			        "tables \"%s\" and \"%s\"",
			        p->path, job->name, job->source, job->sink);
			return FX_EXIT_USAGE;
		}
	} else if (!table_has_kafka(job->src->table) ||
	           !table_has_kafka(job->dst->table)) {
		fx_warn(
		    ctx,
		    "%s: jobs.%s: --stream needs \"kafka\" in tables \"%s\" "
		    "and \"%s\"",
		    p->path, job->name, job->source, job->sink);
		return FX_EXIT_USAGE;
	}
	if (asprintf(&s, "FX_PIPELINE=%s", p->name) < 0)
		fx_oom();
	fx_strlist_push(&pl->env, s);
	free(s);
	if (asprintf(&s, "FX_JOB=%s", job->name) < 0)
		fx_oom();
	fx_strlist_push(&pl->env, s);
	free(s);

	/* source */
	add2(&a, "fx-consume", "--table");
	add(&a, job->src->written);
	if (batch) {
		if (pm.batch)
			where_args(pm.batch, &a);
		add(&a, p->wh_argument);
		dataset_dirs(p, job->src, pm.batch, &v);
	} else {
		/* the partitions' own watermarks: fx-agg and fx-join hold
		 * event time per Kafka partition (fx(7)), not over the merge */
		add2(&a, "-g", job->group);
		add(&a, "--meta");
		if (o->brokers)
			add2(&a, "-b", o->brokers);
		if (o->exit_at_end)
			add(&a, "-e");
		if (job->checkpoint) {
			s = state_dir(p, job);
			add2(&a, "--checkpoint", job->checkpoint);
			add2(&a, "--state", s);
			free(s);
		}
		dataset_topics(job->src, &v);
	}
	fx_strlist_push(&pl->reads, v.p);
	add_dlq(job, "source", &a, FOR_RUN);
	stage_add(pl, &cap, "source", &a, NULL);

	/* steps */
	for (i = 0; i < job->nsteps && !rc; i++) {
		const struct pipeline_step *st = &job->steps[i];

		if (st->shell) {
			if (substitute(&pm, st->shell, &v, &unknown)) {
				snprintf(key, sizeof(key),
				         "jobs.%s.steps[%zu].sh", job->name, i);
				unknown_param(p, key, unknown);
				rc = -1;
				break;
			}
			stage_add(pl, &cap, st->name, NULL, v.p);
			continue;
		}
		if (step_argv(p, job, i, &pm, o, FOR_RUN, &a)) {
			rc = -1;
			fx_strlist_free(&a);
			break;
		}
		stage_add(pl, &cap, st->name, &a, NULL);
	}

	/* route and sink */
	if (!rc && batch) {
		add2(&a, "fx-sink", "--dir");
		add(&a, p->wh_argument);
		add2(&a, "--table", job->dst->written);
		add2(&a, "--overwrite", o->batch);
		/* the commit: the same destination, no input */
		for (i = 0; i < a.n; i++)
			fx_strlist_push(&pl->commit_argv, a.v[i]);
		fx_strlist_push(&pl->commit_argv, "--commit");
		pl->commit_stage.name = "commit";
		pl->commit_stage.argv = pl->commit_argv.v;
		pl->commit = &pl->commit_stage;
		/* and the abort, for --explain's script */
		for (i = 0; i < a.n; i++)
			fx_strlist_push(&pl->abort_argv, a.v[i]);
		fx_strlist_push(&pl->abort_argv, "--abort");
		pl->abort_stage.name = "abort";
		pl->abort_stage.argv = pl->abort_argv.v;
		pl->abort = &pl->abort_stage;
		add(&a, "--prepare");
		add_dlq(job, "sink", &a, FOR_RUN);
		stage_add(pl, &cap, "sink", &a, NULL);
		dataset_dirs(p, job->dst, pm.batch, &v);
		fx_strlist_push(&pl->writes, v.p);
	} else if (!rc) {
		add2(&a, "fx-partition", "--table");
		add(&a, job->dst->written);
		add_dlq(job, "route", &a, FOR_RUN);
		stage_add(pl, &cap, "route", &a, NULL);
		add2(&a, "fx-sink", "--table");
		add(&a, job->dst->written);
		if (o->brokers)
			add2(&a, "-b", o->brokers);
		if (job->key)
			add2(&a, "--key", job->key);
		if (job->checkpoint) {
			s = state_dir(p, job);
			add2(&a, "--state", s);
			free(s);
		}
		add_dlq(job, "sink", &a, FOR_RUN);
		stage_add(pl, &cap, "sink", &a, NULL);
		dataset_topics(job->dst, &v);
		fx_strlist_push(&pl->writes, v.p);
	}
	fx_buf_free(&v);
	/* the stages point into argvs now that it no longer moves */
	for (i = 0; i < pl->nstages; i++) {
		if (pl->stages[i].shell)
			pl->stages[i].shell = pl->argvs[i].v[0];
		else
			pl->stages[i].argv = pl->argvs[i].v;
	}
	if (rc) {
		pipeline_plan_free(pl);
		return FX_EXIT_USAGE;
	}
	return 0;
}

void pipeline_plan_free(struct pipeline_plan *pl)
{
	size_t i;

	for (i = 0; i < pl->nstages; i++)
		fx_strlist_free(&pl->argvs[i]);
	free(pl->argvs);
	free(pl->stages);
	fx_strlist_free(&pl->commit_argv);
	fx_strlist_free(&pl->abort_argv);
	fx_strlist_free(&pl->env);
	fx_strlist_free(&pl->reads);
	fx_strlist_free(&pl->writes);
	memset(pl, 0, sizeof(*pl));
}

/* ---------------------------------------------------------------------
 * --explain
 */

void pipeline_shell_quote(struct fx_buf *out, const char *s)
{
	const char *c;

	for (c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_@%+=:,./-", *c))
			break;
	if (*s && !*c) {
		fx_buf_adds(out, s);
		return;
	}
	fx_buf_addc(out, '\'');
	for (c = s; *c; c++) {
		if (*c == '\'')
			fx_buf_adds(out, "'\\''");
		else
			fx_buf_addc(out, *c);
	}
	fx_buf_addc(out, '\'');
}

/* argv, each argument quoted, separated by spaces */
static void add_argv(struct fx_buf *out, char *const *argv)
{
	size_t k;

	for (k = 0; argv[k]; k++) {
		if (k)
			fx_buf_addc(out, ' ');
		pipeline_shell_quote(out, argv[k]);
	}
}

void pipeline_explain(const struct pipeline *p, const struct pipeline_job *job,
                      const struct pipeline_run_opts *o,
                      const struct pipeline_plan *pl, struct fx_buf *out)
{
	size_t i;

	/*
	 * A failed stage fails the script, a stream's as a batch's: without
	 * pipefail a stream's status is the sink's alone, and a stage that
	 * stops early leaves the sink a clean end of its input. The days of
	 * a backfill are one script: the first day's text says it.
	 */
	if (o->day == 0)
		fx_buf_adds(out, "set -o pipefail # paste into bash\n");
	fx_buf_adds(out, "# pipeline ");
	fx_buf_adds(out, p->name);
	fx_buf_adds(out, " (");
	fx_buf_adds(out, p->path);
	fx_buf_adds(out, "), job ");
	fx_buf_adds(out, job->name);
	fx_buf_adds(out, ": ");
	if (o->mode == PIPELINE_BATCH) {
		fx_buf_adds(out, "batch ");
		fx_buf_adds(out, o->batch);
	} else {
		fx_buf_adds(out, "stream, consumer group ");
		fx_buf_adds(out, job->group);
	}
	fx_buf_addc(out, '\n');
	for (i = 0; i < pl->reads.n; i++) {
		fx_buf_adds(out, "# reads ");
		fx_buf_adds(out, pl->reads.v[i]);
		fx_buf_addc(out, '\n');
	}
	for (i = 0; i < pl->writes.n; i++) {
		fx_buf_adds(out, "# writes ");
		fx_buf_adds(out, pl->writes.v[i]);
		fx_buf_addc(out, '\n');
	}
	fx_buf_adds(out, "cd ");
	pipeline_shell_quote(out, pl->dir);
	fx_buf_adds(out, " && export");
	for (i = 0; i < pl->env.n; i++) {
		const char *eq = strchr(pl->env.v[i], '=');

		fx_buf_addc(out, ' ');
		fx_buf_add(out, pl->env.v[i], (size_t)(eq + 1 - pl->env.v[i]));
		pipeline_shell_quote(out, eq + 1);
	}
	fx_buf_adds(out, pl->commit ? " && {\n  " : " && ");
	for (i = 0; i < pl->nstages; i++) {
		const struct proc_stage *st = &pl->stages[i];

		if (i)
			fx_buf_adds(out, " |\n  ");
		if (st->shell) {
			fx_buf_adds(out, "sh -c ");
			pipeline_shell_quote(out, st->shell);
			continue;
		}
		add_argv(out, st->argv);
	}
	if (pl->commit) {
		/* a failed stage or commit: nothing stays prepared, and the
		 * status is the failure's ("(exit)": pasted, the shell stays)
		 */
		fx_buf_adds(out, " &&\n  ");
		add_argv(out, pl->commit->argv);
		fx_buf_adds(out, " ||\n  { rc=$?; ");
		add_argv(out, pl->abort->argv);
		fx_buf_adds(out, "; (exit $rc); }\n}");
	}
	/* a backfill stops at the first day that fails: "exit" would end
	 * the shell it is pasted into, "&&" only the script */
	if (o->day + 1 < o->ndays)
		fx_buf_adds(out, " &&");
	fx_buf_addc(out, '\n');
}

/* ---------------------------------------------------------------------
 * --backfill
 */

static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
	int era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era, yy;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

/* "YYYY-MM-DD" exactly, a real day. */
static int parse_day(const char *s, size_t n, int64_t *out)
{
	int y;
	unsigned m, d, m2, d2;
	int y2;
	char buf[16];

	if (n != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	memcpy(buf, s, 10);
	buf[10] = 0;
	if (sscanf(buf, "%4d-%2u-%2u", &y, &m, &d) != 3 || m < 1 || m > 12 ||
	    d < 1 || d > 31)
		return -1;
	*out = days_from_civil(y, m, d);
	civil_from_days(*out, &y2, &m2, &d2);
	return y2 == y && m2 == m && d2 == d ? 0 : -1;
}

int pipeline_backfill(const char *spec, struct fx_strlist *batches,
                      const char **why)
{
	const char *eq = strchr(spec, '='), *dots;
	int64_t from, to, day;
	char out[300];

	if (!eq || eq == spec || memchr(spec, ',', (size_t)(eq - spec)) ||
	    !(dots = strstr(eq, ".."))) {
		*why = "expected NAME=YYYY-MM-DD..YYYY-MM-DD";
		return -1;
	}
	if (parse_day(eq + 1, (size_t)(dots - eq - 1), &from) ||
	    parse_day(dots + 2, strlen(dots + 2), &to)) {
		*why = "expected NAME=YYYY-MM-DD..YYYY-MM-DD (real days)";
		return -1;
	}
	if (to < from) {
		*why = "the last day is before the first";
		return -1;
	}
	if (to - from >= 36600) {
		*why = "more than 100 years of days";
		return -1;
	}
	for (day = from; day <= to; day++) {
		int y;
		unsigned m, d;

		civil_from_days(day, &y, &m, &d);
		snprintf(out, sizeof(out), "%.*s=%04d-%02u-%02u",
		         (int)(eq - spec), spec, y, m, d);
		fx_strlist_push(batches, out);
	}
	return 0;
}
