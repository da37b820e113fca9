/* fx-run - run a job of a pipeline file as a stream, a batch or a backfill */
#include "err.h"
#include "fx.h"
#include "opt.h"
#include "pipeline.h"
#include "procchain.h"
#include "prog.h"

#if __has_include("pipetest.h")
#include "pipetest.h"
#define HAVE_PIPETEST 1
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct fx_usage usage = {
    "fx-run [OPTION]... PIPELINE JOB --stream|--batch NAME=V|--backfill "
    "NAME=D1..D2\n"
    "       fx-run --check PIPELINE [JOB]\n"
    "       fx-run --test DIR PIPELINE",
    "Run a job of a pipeline file (fx-pipeline(5)): its source table, its\n"
    "steps and its sink table as a chain of fx programs joined by pipes,\n"
    "against Kafka (--stream) or over the warehouse's files, replacing the\n"
    "partitions it writes whole (--batch, --backfill). --explain prints the\n"
    "shell pipeline instead of running it; --check checks the file.",
};

struct run_opts {
	int stream, explain, check, exit_at_end;
	const char *batch, *backfill, *warehouse, *brokers, *test;
	struct fx_strlist params;
};

static int run_one(struct fx_ctx *ctx, const struct pipeline *p,
                   const struct pipeline_job *job,
                   const struct pipeline_run_opts *ro, int explain)
{
	struct pipeline_plan plan;
	struct proc_chain_opts co = {-1, -1, -1, 1, NULL};
	struct proc_stage_result *res;
	size_t i;
	int rc, own_run_id;

	if ((rc = pipeline_plan(ctx, p, job, ro, &plan)))
		return rc;
	if (explain) {
		struct fx_buf out = FX_BUF_INIT;

		pipeline_explain(p, job, ro, &plan, &out);
		fwrite(out.p, 1, out.len, stdout);
		fx_buf_free(&out);
		pipeline_plan_free(&plan);
		return fx_stdout_flush(ctx);
	}
	for (i = 0; i < plan.env.n; i++)
		putenv(plan.env.v[i]); /* plan.env outlives the chain */
	/*
	 * One lineage run for the job's stages: their pipes in /proc stitch
	 * them only when each looks before the one beside it exits (a busy
	 * machine splits short runs), so name the run, unless the caller did.
	 */
	own_run_id = !getenv("FX_RUN_ID");
	if (own_run_id) {
		struct timespec now;
		char id[160];

		clock_gettime(CLOCK_REALTIME, &now);
		snprintf(id, sizeof(id), "fx-run:%s.%s:%ld:%lld.%09ld",
		         pipeline_name(p), job->name, (long)getpid(),
		         (long long)now.tv_sec, now.tv_nsec);
		setenv("FX_RUN_ID", id, 1);
	}
	co.dir = plan.dir;
	res = fx_malloc(plan.nstages * sizeof(*res));
	memset(res, 0, plan.nstages * sizeof(*res));
	fflush(NULL);
	rc = proc_chain_run(plan.stages, plan.nstages, &co, res);
	/*
	 * A batch's sink ran with --prepare: it cannot tell the end of its
	 * input from a stage that failed before it. Its partitions are
	 * replaced here, by its --commit, only when every stage exited 0.
	 */
	if (rc == 0 && plan.commit)
		rc = proc_chain_run(plan.commit, 1, &co, NULL);
	else if (rc > 0 && plan.commit)
		fx_warn(ctx,
		        "jobs.%s: exit %d: not committed, the partitions "
		        "of --overwrite %s stay as they were",
		        job->name, rc, ro->batch);
	/*
	 * Failed, before or in the commit: what the sink prepared goes, so
	 * that no --commit typed later swaps in a partial tree. A sink that
	 * refused its options (exit 2) prepared nothing, and the abort would
	 * be refused the same way. A stage of the job's run, as --explain's
	 * script has it: its FAIL says in the lineage store that the job's
	 * output did not land, though a failed sh step records nothing.
	 */
	if (rc != 0 && plan.commit &&
	    res[plan.nstages - 1].status != FX_EXIT_USAGE)
		(void)proc_chain_run(plan.abort, 1, &co, NULL);
	free(res);
	if (own_run_id)
		unsetenv("FX_RUN_ID");
	for (i = 0; i < plan.env.n; i++) {
		char *name =
		    fx_strndup(plan.env.v[i], strcspn(plan.env.v[i], "="));

		unsetenv(name);
		free(name);
	}
	pipeline_plan_free(&plan);
	return rc < 0 ? FX_EXIT_IO : rc;
}

static int backfill(struct fx_ctx *ctx, const struct pipeline *p,
                    const struct pipeline_job *job,
                    struct pipeline_run_opts *ro, const char *spec, int explain)
{
	struct fx_strlist days = {0};
	const char *why;
	size_t i;
	int rc = 0;

	if (pipeline_backfill(spec, &days, &why))
		fx_usage_error(ctx, "--backfill: %s, got '%s'", why, spec);
	ro->batch_option = "--backfill";
	ro->ndays = days.n;
	for (i = 0; i < days.n && !rc; i++) {
		ro->batch = days.v[i];
		ro->day = i;
		rc = run_one(ctx, p, job, ro, explain);
		if (rc && !explain)
			fx_warn(ctx, "--backfill: %s failed (exit %d)%s",
			        days.v[i], rc,
			        i + 1 < days.n ? ": the days after it not run"
			                       : "");
	}
	fx_strlist_free(&days);
	return rc;
}

int main(int argc, char **argv)
{
	struct run_opts o = {0};
	const struct fx_option opts[] = {
	    FX_OPT_GROUP("Modes:"),
	    FX_OPT_FLAG(0, "stream", &o.stream,
	                "run the job against Kafka, consumer group after it"),
	    FX_OPT_STRING(0, "batch", &o.batch, "NAME=V[,NAME=V]|all",
	                  "run the job over those partitions' files, replacing "
	                  "the sink's partitions under NAME=V whole"),
	    FX_OPT_STRING(0, "backfill", &o.backfill, "NAME=D1..D2",
	                  "a --batch NAME=D per day from D1 to D2, in order; "
	                  "stops at the first failing day"),
	    FX_OPT_FLAG(0, "explain", &o.explain,
	                "print the shell pipeline and the datasets it reads "
	                "and writes instead of running it"),
	    FX_OPT_FLAG(0, "check", &o.check,
	                "check the file (or one JOB): keys, tables, step "
	                "options, fields"),
	    FX_OPT_STRING(0, "test", &o.test, "DIR",
	                  "run the golden cases of DIR, as a batch and as a "
	                  "stream"),
	    FX_OPT_GROUP("Settings:"),
	    FX_OPT_MULTI(
	        'p', "param", &o.params, "NAME=V",
	        "set ${NAME} (repeatable; over the file's \"params\")"),
	    FX_OPT_STRING(0, "warehouse", &o.warehouse, "DIR",
	                  "the warehouse directory, instead of the file's"),
	    FX_OPT_STRING('b', "brokers", &o.brokers, "HOST:PORT,...",
	                  "Kafka bootstrap servers for --stream (default "
	                  "$FX_BROKERS)"),
	    FX_OPT_FLAG('e', "exit-at-end", &o.exit_at_end,
	                "--stream: stop at the end of the source's topics"),
	    FX_OPT_END(),
	};
	struct pipeline_run_opts ro = {0};
	const struct pipeline_job *job = NULL;
	struct fx_ctx ctx;
	struct pipeline *p;
	int first, nargs, modes, faults = 0, rc = 0;
	size_t i;

	fx_program_init(&ctx, "fx-run");
	first = fx_parse_options(&ctx, argc, argv, opts, &usage);
	nargs = argc - first;
	modes = o.stream + !!o.batch + !!o.backfill;
	for (i = 0; i < o.params.n; i++)
		if (!strchr(o.params.v[i], '=') || o.params.v[i][0] == '=')
			fx_usage_error(&ctx, "-p: expected NAME=V, got '%s'",
			               o.params.v[i]);
	if (o.test) {
		if (modes || o.check || o.explain || nargs != 1)
			fx_usage_error(&ctx,
			               "--test DIR takes one PIPELINE and "
			               "no mode");
		/* a golden case must give the same rows on any machine */
		if (o.warehouse)
			fx_usage_error(
			    &ctx, "--warehouse: not with --test: each case "
			          "runs in scratch warehouses of its own");
		if (o.brokers || o.exit_at_end)
			fx_usage_error(&ctx,
			               "-b and -e: not with --test: each case "
			               "streams through an fx-devbroker of its "
			               "own, to the end of its topics");
	} else if (o.check) {
		if (modes || o.explain || nargs < 1 || nargs > 2)
			fx_usage_error(
			    &ctx, "--check takes PIPELINE [JOB] and no mode");
	} else {
		if (nargs != 2)
			fx_usage_error(&ctx,
			               "expected PIPELINE JOB, got %d "
			               "operand%s",
			               nargs, nargs == 1 ? "" : "s");
		if (modes != 1)
			fx_usage_error(&ctx, "give one of --stream, --batch, "
			                     "--backfill");
	}
	if ((o.brokers || o.exit_at_end) && !o.stream)
		fx_usage_error(&ctx, "-b and -e are for --stream");
	/* --check goes on after a fault: one message per fault */
	if (o.check)
		p = pipeline_load_all(&ctx, argv[first], &faults);
	else
		p = pipeline_load(&ctx, argv[first]);
	if (!p) {
		fx_strlist_free(&o.params);
		return fx_finish(&ctx, FX_EXIT_USAGE);
	}
	if (o.warehouse)
		pipeline_set_warehouse(p, o.warehouse);
	if (nargs == 2 && !(job = pipeline_job_find(p, argv[first + 1]))) {
		fx_warn(&ctx, "%s: no job '%s' in \"jobs\"", argv[first],
		        argv[first + 1]);
		rc = FX_EXIT_USAGE;
	} else if (o.test) {
#ifdef HAVE_PIPETEST
		rc = pipetest_run(&ctx, p, o.test, argv[0], &o.params);
#else
		fx_warn(&ctx, "--test: not in this build");
		rc = FX_EXIT_USAGE;
#endif
	} else if (o.check) {
		rc = pipeline_check(&ctx, p, job, &o.params);
		if (faults)
			rc = FX_EXIT_USAGE;
	} else {
		ro.params = &o.params;
		ro.brokers = o.brokers;
		ro.exit_at_end = o.exit_at_end;
		ro.mode = o.stream ? PIPELINE_STREAM : PIPELINE_BATCH;
		ro.batch = o.batch;
		if (o.backfill)
			rc = backfill(&ctx, p, job, &ro, o.backfill, o.explain);
		else
			rc = run_one(&ctx, p, job, &ro, o.explain);
	}
	pipeline_free(p);
	fx_strlist_free(&o.params);
	return fx_finish(&ctx, rc);
}
