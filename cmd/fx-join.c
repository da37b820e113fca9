/* fx-join - enrich records from a dimension, or join two streams in time */
#include "err.h"
#include "fx.h"
#include "join.h"
#include "kafka.h"
#include "opt.h"
#include "prog.h"

#include <errno.h>
#include <stdlib.h>

static const struct fx_usage usage = {
    "fx-join --dim FILE|kafka:TOPIC --on KEYS [OPTION]... [FILE]...\n"
    "       fx-join --right SOURCE --on KEYS --time F --within D [OPTION]... [FILE]",
    "Lookup join: add the fields of the dimension row with the same key to\n"
    "each record (a CSV or NDJSON file, optionally reloaded when it changes,\n"
    "or a compacted Kafka topic followed as it changes). Interval join: pair\n"
    "each record with the records of a second stream that have the same key\n"
    "and an event time at most D away, in memory bounded by the watermarks.",
};

/* -j N: a count, and whether it was given (the interval join has none). */
static int jobs_cb(struct fx_ctx *ctx, const struct fx_option *opt,
                   const char *arg)
{
	struct join_opts *o = opt->value;
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end)
		fx_usage_error(ctx, "--jobs: not an integer: '%s'", arg);
	if (v < 0)
		fx_usage_error(ctx, "--jobs: expected a count, got %lld", v);
	o->jobs = v;
	o->jobs_given = 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct join_opts o = {
	    .reload_interval = -1, /* not given: join_run sets the defaults */
	    .within = -1,
	    .idle_timeout = -1,
	    .kafka = KAFKA_CONF_INIT,
	};
	const struct fx_option opts[] = {
	    FX_OPT_GROUP("Keys and fields:"),
	    FX_OPT_LIST(
	        0, "on", &o.on, "KEYS",
	        "join on these fields (FIELD=OTHER when the other side names it OTHER)"),
	    FX_OPT_LIST(
	        0, "fields", &o.fields, "FIELDS",
	        "add only these fields of the other side (default all but the keys)"),
	    FX_OPT_FLAG(0, "inner", &o.inner,
	                "drop records without a match (the default)"),
	    FX_OPT_FLAG(
	        0, "left", &o.left,
	        "keep records without a match, without the added fields"),
	    FX_OPT_FLAG(0, "left-nulls", &o.left_nulls,
	                "--left, with the added fields null"),
	    FX_OPT_GROUP("Lookup join:"),
	    FX_OPT_STRING(
	        0, "dim", &o.dim, "FILE|kafka:TOPIC",
	        "the dimension: .csv or NDJSON (.gz too), or a Kafka topic"),
	    FX_OPT_STRING(0, "prefix", &o.prefix, "P",
	                  "name the added fields P + name"),
	    FX_OPT_FLAG(
	        0, "dim-last-wins", &o.dim_last_wins,
	        "a key repeated in the dimension file keeps its last row"),
	    FX_OPT_FLAG(0, "reload", &o.reload,
	                "load the dimension file again when it changes"),
	    FX_OPT_DURATION(
	        0, "reload-interval", &o.reload_interval,
	        "look for a change (or Kafka updates) this often (default 100ms)"),
	    FX_OPT_CALLBACK(
	        'j', "jobs", &o, "N",
	        "threads over regular files (default: the cores available)",
	        jobs_cb),
	    FX_OPT_GROUP("Interval join:"),
	    FX_OPT_STRING(0, "right", &o.right, "SOURCE",
	                  "the second stream: a file, a FIFO, <(command)"),
	    FX_OPT_STRING(0, "time", &o.time_field, "FIELD",
	                  "event time: ISO-8601 string or epoch number"),
	    FX_OPT_STRING(0, "right-time", &o.right_time, "FIELD",
	                  "event time of the right records (default --time)"),
	    FX_OPT_STRING(0, "time-unit", &o.time_unit, "s|ms",
	                  "unit of epoch numbers (default s)"),
	    FX_OPT_DURATION(
	        0, "within", &o.within,
	        "pair records at most this far apart in event time"),
	    FX_OPT_DURATION(
	        0, "lateness", &o.lateness,
	        "allowed event-time disorder within each input (default 0)"),
	    FX_OPT_DURATION(
	        0, "idle-timeout", &o.idle_timeout,
	        "a silent partition stops holding the watermark (default 10s, 0: never)"),
	    FX_OPT_STRING(0, "right-prefix", &o.right_prefix, "P",
	                  "name the right fields P + name (default right_)"),
	    FX_OPT_STRING(
	        0, "state", &o.state, "DIR",
	        "the job's state directory: align checkpoints, snapshot the state"),
	    FX_OPT_STRING(0, "stage", &o.stage, "NAME",
	                  "snapshots in DIR/NAME (default fx-join)"),
	    FX_OPT_KAFKA(&o.kafka),
	    FX_OPT_END(),
	};
	struct fx_ctx ctx;
	int first, rc;

	o.kafka.timeout_ms = -1; /* not given: join_run sets the default */
	fx_program_init(&ctx, "fx-join");
	first = fx_parse_options(&ctx, argc, argv, opts, &usage);
	rc = join_run(&ctx, &o, argv + first, (size_t)(argc - first));
	fx_strlist_free(&o.on);
	fx_strlist_free(&o.fields);
	kafka_conf_free(&o.kafka);
	return fx_finish(&ctx, rc);
}
