/*
 * pipeline.h - fx-pipeline(5) files: the tables (partition flow table
 * files, each with its layer) and the jobs (a source table, a chain of
 * steps, a sink table) of one pipeline; their check; and the planner that
 * turns a job into the chain of processes fx-run starts, and into the
 * shell text --explain prints, from the same argv arrays.
 *
 * A file (the format of fx-table(5), read with the same helpers,
 * confjson.h: an unknown key is an error, every message names the file and
 * the key's path):
 *
 *   {"name": "music", "warehouse": "warehouse", "params": {"lateness": "5s"},
 *    "tables": {"ods_play": {"file": "ods_play.table.json", "layer": "ods"}},
 *    "jobs": {"ads": {"source": "ods_play",
 *                     "steps": [{"name": "ads", "fx-agg": {"by": "os"}},
 *                               {"name": "f", "sh": "jq -c ."}],
 *                     "sink": "ads_os", "key": "os"}}}
 *
 * Paths in the file are relative to its directory: the stages run there.
 *
 * Ownership: pipeline_load() returns a pipeline the caller frees with
 * pipeline_free(); every pointer it hands out (tables, jobs, steps,
 * strings) belongs to it. A plan belongs to its caller
 * (pipeline_plan_free()).
 */
#ifndef FX_PIPELINE_H
#define FX_PIPELINE_H

#include "buf.h"
#include "fx.h"
#include "procchain.h"
#include "strlist.h"
#include "table.h"

#include <stddef.h>

struct pipeline;

struct pipeline_table {
	const char *name;    /* its key in "tables" */
	const char *file;    /* the table file, resolved (absolute) */
	const char *layer;   /* free text: ods, cdm, ads...; "" if none */
	struct table *table; /* loaded */
	const char *written; /* "file" as written in the pipeline file */
};

/* A step's option: --name with its values (one for a string, several
 * for a repeated option, none for a flag). */
struct pipeline_opt {
	const char *name; /* the long option, without "--" */
	const char *const *values;
	size_t nvalues;
	int flag; /* true: no value */
};

struct pipeline_step {
	const char *name;
	const char *program; /* "fx-join", "fx-agg", "fx-partition" or "sh" */
	const char *shell;   /* "sh": the command; else NULL */
	const struct pipeline_opt *opts;
	size_t nopts;
	/* pipeline_load_all() of a faulty file: the program or an option
	 * did not load, so the step is not run by --check; else 0 */
	int incomplete;
};

struct pipeline_job {
	const char *name;
	const char *description;   /* NULL if none */
	const char *source, *sink; /* names of tables */
	const struct pipeline_table *src, *dst;
	const char *key;        /* the sink's message key field, or NULL */
	const char *group;      /* the consumer group (default: the name) */
	const char *checkpoint; /* stream mode's interval, or NULL */
	const char *state;    /* as given, or NULL: state/JOB under warehouse */
	const char *dlq;      /* FILE: each fx stage gets FILE.STEP; or NULL */
	const char *lateness; /* default --lateness, or NULL */
	size_t nsteps;
	const struct pipeline_step *steps;
};

/*
 * Reads and checks the structure of the file at path: every key, every
 * type, the table files (loaded), the tables jobs name, the steps (one
 * program each, names unique and [A-Za-z0-9_-]+), the jobs' order (a job
 * whose source is another job's sink comes after it; a cycle, or a job
 * whose source is its own sink, is an error), a job's "checkpoint" and
 * "key" (options of the stream's source and sink only, which --check does
 * not run) by the rules of fx-consume --checkpoint and fx-sink --key.
 * Returns the pipeline, or NULL after messages
 *   fx-run: p.json: jobs.ads.steps[1].fx-agg.windw: not a string
 * (a usage error: the caller exits FX_EXIT_USAGE).
 */
struct pipeline *pipeline_load(const struct fx_ctx *ctx, const char *path);

/*
 * The same, for --check: it goes on after a fault and prints one message
 * per fault, and returns the pipeline as far as it loaded, *faults set
 * to 1 if it found any (0 if none); NULL (and *faults 1) only when the
 * file cannot be read or is not a JSON object. What a fault leaves
 * unknown is left out, not guessed: a table whose file is not there is
 * not among the tables, one that does not load has table NULL, a job's
 * src or dst is NULL when it names a table not among them, a step that
 * did not load whole is marked incomplete, and every job that is an
 * object is in pipeline_job_at(), those of a cycle last. Such a
 * pipeline is for pipeline_check() only, never for a plan.
 */
struct pipeline *pipeline_load_all(const struct fx_ctx *ctx, const char *path,
                                   int *faults);
void pipeline_free(struct pipeline *p);

const char *pipeline_name(const struct pipeline *p);
const char *pipeline_path(const struct pipeline *p); /* as given */
const char *pipeline_dir(const struct pipeline *p);  /* absolute */
/* "warehouse" resolved (absolute), or NULL when neither the file nor
 * pipeline_set_warehouse() gave one. */
const char *pipeline_warehouse(const struct pipeline *p);
/* --warehouse DIR: relative to the caller's working directory. */
void pipeline_set_warehouse(struct pipeline *p, const char *dir);
/* The file's "params" value for name, or NULL. */
const char *pipeline_param(const struct pipeline *p, const char *name);

size_t pipeline_ntables(const struct pipeline *p);
const struct pipeline_table *pipeline_table_at(const struct pipeline *p,
                                               size_t i);
const struct pipeline_table *pipeline_table_find(const struct pipeline *p,
                                                 const char *name);

/* Jobs in dependency order: a job comes after the jobs whose sink is its
 * source. */
size_t pipeline_njobs(const struct pipeline *p);
const struct pipeline_job *pipeline_job_at(const struct pipeline *p, size_t i);
const struct pipeline_job *pipeline_job_find(const struct pipeline *p,
                                             const char *name);

/*
 * --check: the checks that need more than the file: every `${name}` known
 * (params, the -p NAME=V in params, or a partition of the job's source
 * table, which --batch gives), the fields steps need declared (the
 * tables' "fields"), and every fx step's options accepted by the program
 * itself (run with them on empty input in the pipeline's directory: any
 * non-zero exit is a fault, each line of its stderr a message; one still
 * running after 10 s is killed and passes; what a step would write, its
 * --state and dlq= files, goes to a scratch directory under TMPDIR,
 * removed after: a check writes nothing). job:
 * one job, or NULL for every job. p may come from pipeline_load_all():
 * what its faults left unknown is skipped. Prints a message per fault;
 * returns 0 or FX_EXIT_USAGE.
 */
int pipeline_check(const struct fx_ctx *ctx, const struct pipeline *p,
                   const struct pipeline_job *job,
                   const struct fx_strlist *params);

enum pipeline_mode {
	PIPELINE_STREAM = 0,
	PIPELINE_BATCH,
};

struct pipeline_run_opts {
	enum pipeline_mode mode;
	/* batch: "NAME=V[,NAME=V]" (each NAME once) or "all" */
	const char *batch;
	/* the option messages about batch name: "--batch" when NULL */
	const char *batch_option;
	/* -p NAME=V, in order (a later one wins); --batch's values win over
	 * them, and they over the file's "params" */
	const struct fx_strlist *params;
	const char *brokers; /* -b, or NULL */
	int exit_at_end;     /* -e */
	/* --backfill: this day's index and the number of days, for
	 * pipeline_explain(); 0 and 0 for one batch */
	size_t day, ndays;
};

/* A planned chain: the stages and the environment they run with. */
struct pipeline_plan {
	struct proc_stage *stages;
	size_t nstages;
	const char *dir;                 /* the stages' working directory */
	struct fx_strlist env;           /* "NAME=VALUE": FX_PIPELINE, FX_JOB */
	struct fx_strlist reads, writes; /* datasets, for --explain */
	/*
	 * --batch: the sink stage runs with --prepare, and this stage, its
	 * fx-sink --commit, is run after the chain if and only if every
	 * stage exited 0; NULL for a stream. It points into the plan: a
	 * plan is not copied.
	 */
	struct proc_stage *commit;
	/*
	 * --batch: fx-sink --abort, the same destination: run when a stage
	 * or the commit failed, by fx-run and by --explain's script; NULL for
	 * a stream.
	 */
	struct proc_stage *abort;
	/* internal: the argv arrays' storage */
	struct fx_strlist *argvs;
	struct fx_strlist commit_argv, abort_argv;
	struct proc_stage commit_stage, abort_stage;
};

/*
 * Plans a job. Returns 0, or FX_EXIT_USAGE after a message (an unknown
 * `${name}`, a --batch that names no partition of the source table, a
 * mode the tables cannot serve).
 */
int pipeline_plan(const struct fx_ctx *ctx, const struct pipeline *p,
                  const struct pipeline_job *job,
                  const struct pipeline_run_opts *o,
                  struct pipeline_plan *plan);
void pipeline_plan_free(struct pipeline_plan *plan);

/*
 * --explain: '#' lines naming the pipeline, the job, the mode, the
 * datasets read and written, then one command:
 *   cd 'DIR' && export FX_PIPELINE='music' FX_JOB='ads' && fx-consume ... | ...
 * every argument shell-quoted (the plan's argv arrays, so that the text
 * and the run cannot differ). It is a bash script: its first line is
 * "set -o pipefail" (not in every sh), so that a stream's status is that
 * of its last stage that failed, not the sink's alone. A batch's chain,
 * after "cd DIR && export ... && ", is in braces and ends
 *   fx-sink ... --prepare &&
 *     fx-sink ... --commit ||
 *     { rc=$?; fx-sink ... --abort; (exit $rc); }; }
 * so that a failed stage replaces nothing, leaves nothing prepared, and
 * the script's status (or $? where it is pasted) is the failure's. The
 * days of a backfill (o->day, o->ndays) are one script: "set -o
 * pipefail" on the first day's text only, and each day but the last
 * ends "} &&", so that the script stops at the first day that fails,
 * with its status, as fx-run does; pasted, it does not exit the shell.
 * Appends to out.
 */
void pipeline_explain(const struct pipeline *p, const struct pipeline_job *job,
                      const struct pipeline_run_opts *o,
                      const struct pipeline_plan *plan, struct fx_buf *out);

/*
 * --backfill NAME=YYYY-MM-DD..YYYY-MM-DD: "NAME=YYYY-MM-DD" for each day,
 * in order, into batches. Returns 0, or -1 with *why.
 */
int pipeline_backfill(const char *spec, struct fx_strlist *batches,
                      const char **why);

/* Removes path and everything under it, as far as it can (rm -rf). */
void pipeline_remove_tree(const char *path);

/* Appends s quoted for sh: as is when it is safe, else in '...'. */
void pipeline_shell_quote(struct fx_buf *out, const char *s);

#endif
