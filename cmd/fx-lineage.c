/*
 * fx-lineage - ask the lineage store: runs, upstream, downstream, graph, a
 * pipeline file's planned graph beside its observed runs
 */
#include "err.h"
#include "fx.h"
#include "lineage_query.h"
#include "opt.h"
#include "pipeline.h"
#include "prog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct fx_usage usage = {
    "fx-lineage [--store SPEC] runs [--limit N] [--format text|json]\n"
    "       fx-lineage [--store SPEC] upstream|downstream DATASET [--depth N]\n"
    "       fx-lineage [--store SPEC] graph [--format text|dot|mermaid|json]\n"
    "       fx-lineage [--store SPEC] pipeline FILE [--format text|dot|json]\n"
    "       fx-lineage [--store SPEC] export --openlineage",
    "Answer questions about the lineage that every fx program records:\n"
    "the recent pipeline runs, what feeds a dataset (upstream), what it\n"
    "feeds (downstream), the dataset graph, a pipeline file's planned graph\n"
    "beside the runs of its jobs (pipeline), or the events as OpenLineage.\n"
    "DATASET is a URI (kafka://HOST:PORT/TOPIC, file:///PATH) or a short\n"
    "form: a topic, or the end of a path (warehouse/ads/).",
};

struct lineage_opts {
	const char *store;
	const char *format;
	int64_t depth;
	int64_t limit;
	int openlineage;
};

static enum lq_format parse_format(struct fx_ctx *ctx, const char *s,
                                   const char *cmd)
{
	static const char *const names[] = {"text", "dot", "mermaid", "json"};
	int i;

	if (!s)
		return LQ_TEXT;
	for (i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			break;
	if (i == 4)
		fx_usage_error(
		    ctx,
		    "--format: expected text, dot, mermaid or json, got '%s'",
		    s);
	if (i == LQ_MERMAID && strcmp(cmd, "graph") != 0)
		fx_usage_error(ctx, "--format %s: only for graph", s);
	if (i == LQ_DOT && strcmp(cmd, "graph") && strcmp(cmd, "pipeline"))
		fx_usage_error(ctx, "--format %s: only for graph and pipeline",
		               s);
	return (enum lq_format)i;
}

/*
 * Checks the operands of cmd; returns the operand (the dataset, the
 * pipeline file) or NULL.
 */
static const char *check_operands(struct fx_ctx *ctx,
                                  const struct lineage_opts *o, const char *cmd,
                                  char **args, int n)
{
	int walk =
	    strcmp(cmd, "upstream") == 0 || strcmp(cmd, "downstream") == 0;
	int plan = strcmp(cmd, "pipeline") == 0;

	if (!walk && !plan && strcmp(cmd, "runs") && strcmp(cmd, "graph") &&
	    strcmp(cmd, "export"))
		fx_usage_error(ctx, "unknown command '%s'", cmd);
	if (walk && n != 1)
		fx_usage_error(ctx, "%s: expected one DATASET", cmd);
	if (plan && n != 1)
		fx_usage_error(ctx, "%s: expected one pipeline FILE", cmd);
	if (!walk && !plan && n != 0)
		fx_usage_error(ctx, "%s: unexpected operand '%s'", cmd,
		               args[0]);
	if (o->depth < 0)
		fx_usage_error(ctx, "--depth: must not be negative");
	if (o->limit < 0)
		fx_usage_error(ctx, "--limit: must not be negative (0 is all)");
	if (strcmp(cmd, "export") == 0 && !o->openlineage)
		fx_usage_error(
		    ctx, "export: say --openlineage (the one export format)");
	return walk || plan ? args[0] : NULL;
}

/* The pipeline file's tables and jobs, in lineage_query.h's terms. */
struct plan_storage {
	struct lq_plan plan;
	struct lq_plan_table *tables;
	struct lq_plan_job *jobs;
	struct lq_plan_step **steps;
};

static void plan_of(const struct pipeline *p, struct plan_storage *ps)
{
	size_t i, k, nt = pipeline_ntables(p), nj = pipeline_njobs(p);

	ps->tables = fx_malloc((nt + 1) * sizeof(*ps->tables));
	ps->jobs = fx_malloc((nj + 1) * sizeof(*ps->jobs));
	ps->steps = fx_malloc((nj + 1) * sizeof(*ps->steps));
	for (i = 0; i < nt; i++) {
		const struct pipeline_table *t = pipeline_table_at(p, i);

		ps->tables[i] = (struct lq_plan_table){t->name, t->layer};
	}
	for (i = 0; i < nj; i++) {
		const struct pipeline_job *j = pipeline_job_at(p, i);

		ps->steps[i] = fx_malloc((j->nsteps + 1) * sizeof(**ps->steps));
		for (k = 0; k < j->nsteps; k++)
			ps->steps[i][k] = (struct lq_plan_step){
			    j->steps[k].name, j->steps[k].program};
		ps->jobs[i] = (struct lq_plan_job){j->name, j->source, j->sink,
		                                   ps->steps[i], j->nsteps};
	}
	ps->plan =
	    (struct lq_plan){pipeline_name(p), ps->tables, nt, ps->jobs, nj};
}

static void plan_free(struct plan_storage *ps)
{
	size_t i;

	for (i = 0; i < ps->plan.njobs; i++)
		free(ps->steps[i]);
	free(ps->steps);
	free(ps->jobs);
	free(ps->tables);
}

static int run(struct fx_ctx *ctx, const struct lineage_opts *o,
               const char *cmd, const char *operand)
{
	enum lq_format fmt = parse_format(ctx, o->format, cmd);
	struct plan_storage ps = {0};
	struct pipeline *pipeline = NULL;
	struct lineage_db *db;
	int rc;

	if (strcmp(cmd, "pipeline") == 0) {
		/* a bad file is a usage error before the store is read */
		pipeline = pipeline_load(ctx, operand);
		if (!pipeline)
			return FX_EXIT_USAGE;
		plan_of(pipeline, &ps);
	}
	db = lineage_db_load(ctx, o->store);
	if (!db) {
		rc = FX_EXIT_IO;
		goto out;
	}
	if (strcmp(cmd, "runs") == 0)
		rc = lineage_db_runs(db, stdout, fmt, o->limit);
	else if (strcmp(cmd, "graph") == 0)
		rc = lineage_db_graph(db, stdout, fmt);
	else if (strcmp(cmd, "export") == 0)
		rc = lineage_db_export(db, stdout);
	else if (pipeline)
		rc = lineage_db_plan(db, stdout, fmt, &ps.plan);
	else
		rc = lineage_db_walk(db, stdout, fmt, operand,
		                     strcmp(cmd, "upstream") == 0, o->depth);
	lineage_db_free(db);
	if (!rc)
		rc = fx_stdout_flush(ctx);
out:
	if (pipeline) {
		plan_free(&ps);
		pipeline_free(pipeline);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct lineage_opts o = {.limit = 20};
	const struct fx_option opts[] = {
	    FX_OPT_STRING(
	        0, "store", &o.store, "SPEC",
	        "read this store: file:PATH, PATH or - (default $FX_LINEAGE)"),
	    FX_OPT_STRING(
	        0, "format", &o.format, "FMT",
	        "text (default), dot (graph, pipeline), mermaid (graph) or json"),
	    FX_OPT_INT(
	        0, "depth", &o.depth, "N",
	        "upstream, downstream: at most N jobs away (default all)"),
	    FX_OPT_INT('n', "limit", &o.limit, "N",
	               "runs: the N most recent (default 20, 0: all)"),
	    FX_OPT_FLAG(0, "openlineage", &o.openlineage,
	                "export: OpenLineage RunEvents, one per line"),
	    FX_OPT_END(),
	};
	struct fx_ctx ctx;
	const char *operand;
	int first, rc;

	fx_program_init(&ctx, "fx-lineage");
	first = fx_parse_options(&ctx, argc, argv, opts, &usage);
	if (first >= argc)
		fx_usage_error(
		    &ctx,
		    "expected a command: runs, upstream, downstream, graph, pipeline or export");
	operand = check_operands(&ctx, &o, argv[first], argv + first + 1,
	                         argc - first - 1);
	rc = run(&ctx, &o, argv[first], operand);
	return fx_finish(&ctx, rc);
}
