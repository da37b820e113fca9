/* fx-agg - group records by key over event-time windows */
#include "agg.h"
#include "aggpar.h"
#include "err.h"
#include "fx.h"
#include "opt.h"
#include "prog.h"

static const struct fx_usage usage = {
    "fx-agg --agg LIST [--by FIELDS] [--time F --window SPEC] [OPTION]... [FILE]...",
    "Group NDJSON records and aggregate them, over event-time windows that\n"
    "close when the watermark passes their end. A stream and a batch of the\n"
    "same records give the same rows, byte for byte, whenever the disorder\n"
    "of event times stays within --lateness.",
};

int main(int argc, char **argv)
{
	struct agg_opts o = {.idle_timeout = 10000, .retain = 3600000};
	int64_t jobs = 0;
	const struct fx_option opts[] = {
	    FX_OPT_GROUP("Grouping:"),
	    FX_OPT_LIST(
	        0, "by", &o.by, "FIELDS",
	        "group by these fields (NAME=FIELD renames; dotted paths)"),
	    FX_OPT_LIST(
	        0, "agg", &o.aggs, "LIST",
	        "count, count:F, sum:F, min:F, max:F, avg:F, first:F, last:F, distinct:F, approx_distinct:F, p1:F..p99:F, quantile:F:Q, topk:F:N; NAME=AGG"),
	    FX_OPT_GROUP("Event time:"),
	    FX_OPT_STRING(0, "time", &o.time_field, "FIELD",
	                  "event time: ISO-8601 string or epoch number"),
	    FX_OPT_STRING(0, "time-unit", &o.time_unit, "s|ms",
	                  "unit of epoch numbers (default s)"),
	    FX_OPT_STRING(
	        0, "window", &o.window, "SPEC",
	        "tumble:SIZE, hop:SIZE/SLIDE (SIZE a multiple of SLIDE), cumulate:STEP/MAX (MAX a multiple of STEP), session:GAP"),
	    FX_OPT_DURATION(0, "lateness", &o.lateness,
	                    "allowed event-time disorder (default 0)"),
	    FX_OPT_STRING(0, "late", &o.late, "drop|dlq=FILE|update",
	                  "records later than that (default drop)"),
	    FX_OPT_DURATION(
	        0, "retain", &o.retain,
	        "--late update: keep closed windows this long (default 1h)"),
	    FX_OPT_DURATION(
	        0, "idle-timeout", &o.idle_timeout,
	        "a silent partition stops holding the watermark (default 10s, 0: never)"),
	    FX_OPT_STRING(
	        0, "emit", &o.emit, "rows|changes",
	        "rows (default), or a changelog: _fx_op +I, -U, +U, -D"),
	    FX_OPT_GROUP("Shards:"),
	    FX_OPT_FLAG(0, "partial", &o.partial,
	                "write mergeable states instead of results"),
	    FX_OPT_FLAG(0, "merge", &o.merge,
	                "merge --partial rows into results"),
	    FX_OPT_INT(
	        'j', "jobs", &jobs, "N",
	        "threads over regular files, merged as --merge does (default: the cores available)"),
	    FX_OPT_GROUP("Checkpoints:"),
	    FX_OPT_STRING(
	        0, "state", &o.state, "DIR",
	        "the job's state directory: act on checkpoint and restore records"),
	    FX_OPT_STRING(0, "stage", &o.stage, "NAME",
	                  "snapshots in DIR/NAME (default fx-agg)"),
	    FX_OPT_END(),
	};
	struct fx_ctx ctx;
	int first, rc;

	fx_program_init(&ctx, "fx-agg");
	first = fx_parse_options(&ctx, argc, argv, opts, &usage);
	if (jobs < 0)
		fx_usage_error(&ctx, "--jobs: expected a count, got %lld",
		               (long long)jobs);
	rc = aggpar_run(&ctx, &o, argv + first, (size_t)(argc - first), jobs);
	fx_strlist_free(&o.by);
	fx_strlist_free(&o.aggs);
	return fx_finish(&ctx, rc);
}
