/*
 * lineage_query.h - fx-lineage's engine: reads a lineage store, stitches
 * the stages of each pipeline run together and answers questions about
 * the dataset graph.
 *
 * Stitching: stages joined by a pipe are one pipeline run (one stage's
 * stdout pipe is in a later stage's recorded upstream chain, on the same
 * boot, started within a minute of each other), which mends pipelines
 * whose stages raced a short-lived head; so are stages that recorded the
 * same parent run. Only a pipe from one stage to the next joins: a pipe
 * with two unrelated readers or writers (a script's stdin from GNU
 * parallel or cron, held by each of its pipelines' heads) joins nothing,
 * nor does a parent run named after it (lineage_query.c says which
 * processes are related). A pipeline run's id is then the parent run id
 * of its earliest stage whose parent run joins, else one of its own.
 *
 * The graph: dataset -> job -> dataset, a job being FX_JOB's name or, for
 * unnamed pipelines, the set of stage jobs (so identical command lines
 * across runs are one job and different ones are not).
 *
 * All output goes to stdout; a struct lineage_db owns everything it read.
 */
#ifndef FX_LINEAGE_QUERY_H
#define FX_LINEAGE_QUERY_H

#include "fx.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum lq_format {
	LQ_TEXT = 0,
	LQ_DOT,
	LQ_MERMAID,
	LQ_JSON,
};

struct lineage_db;

/*
 * Reads the store: spec is FX_LINEAGE's syntax (file:PATH), a plain PATH,
 * "-" for stdin, or NULL for FX_LINEAGE or the default file. A store that
 * does not exist is an I/O error like any other (a mistyped path must not
 * read as "no runs"); an empty file is a store with no runs. A torn line (an
 * event cut short, then perhaps a whole event appended to it) and lines that
 * are not run events are skipped and counted in a warning; the whole event
 * after a torn one is kept. Returns NULL after a message naming the store (I/O
 * error).
 */
struct lineage_db *lineage_db_load(struct fx_ctx *ctx, const char *spec);
void lineage_db_free(struct lineage_db *db);

/* Recent pipeline runs, newest first, at most limit (0: all). */
int lineage_db_runs(struct lineage_db *db, FILE *f, enum lq_format fmt,
                    int64_t limit);

/*
 * The datasets upstream (up = 1) or downstream of dataset, to depth job
 * hops (0: all). dataset may be a URI or a short form: a topic, a file
 * name, a path suffix ("warehouse/ads/"). An unknown or ambiguous name is
 * a usage error (the message lists the candidates).
 */
int lineage_db_walk(struct lineage_db *db, FILE *f, enum lq_format fmt,
                    const char *dataset, int up, int64_t depth);

/* The dataset graph across all runs. */
int lineage_db_graph(struct lineage_db *db, FILE *f, enum lq_format fmt);

/*
 * A pipeline file's planned graph (fx-pipeline(5)) as the caller read it:
 * this engine does not read pipeline files (that is a layer above it).
 * Tables and jobs in the file's order. Every pointer belongs to the
 * caller.
 */
struct lq_plan_table {
	const char *name;
	const char *layer; /* ods, cdm, ads...; "" or NULL: none */
};

struct lq_plan_step {
	const char *name;
	const char *program; /* fx-join, fx-agg, fx-partition or sh */
};

struct lq_plan_job {
	const char *name;
	const char *source, *sink; /* table names */
	const struct lq_plan_step *steps;
	size_t nsteps;
};

struct lq_plan {
	const char *name; /* the file's "name": its runs' FX_PIPELINE */
	const struct lq_plan_table *tables;
	size_t ntables;
	const struct lq_plan_job *jobs;
	size_t njobs;
};

/*
 * The planned graph (tables with their layer, jobs with their steps,
 * source -> job -> sink) beside the runs the store observed of its jobs:
 * a run is the planned job's when its stages recorded FX_PIPELINE and
 * FX_JOB equal to the plan's name and the job's (fx-run sets both). Each
 * job shows its last run (start time, status, records read by the head
 * stage and written by the tail stage, any error) and its number of runs,
 * or that it never ran; jobs observed under the pipeline's name that the
 * file does not have are listed apart. fmt: LQ_TEXT, LQ_DOT or LQ_JSON.
 */
int lineage_db_plan(struct lineage_db *db, FILE *f, enum lq_format fmt,
                    const struct lq_plan *plan);

/*
 * The stored events as OpenLineage JSON, one per line, with each stage's
 * parent run set to its stitched pipeline run.
 */
int lineage_db_export(struct lineage_db *db, FILE *f);

#endif
