/* fx-consume - read records from files, directories, stdin or Kafka */
#include "checkpoint.h"
#include "err.h"
#include "filesrc.h"
#include "fx.h"
#include "fxtime.h"
#include "kafka.h"
#include "opt.h"
#include "prog.h"
#include "partition.h"
#include "table.h"
#include "writer.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct fx_usage usage = {
    "fx-consume [OPTION]... [FILE|DIR|-]...\n"
    "       fx-consume -t TOPIC [-b BROKERS] [-g GROUP] [OPTION]...\n"
    "       fx-consume --table T.json [--where NAME=V1,V2]... [OPTION]... "
    "[DIR]...",
    "Read records from files and directories (NDJSON or CSV, optionally\n"
    "gzip-compressed), or with -t from Kafka topics, and write them to\n"
    "stdout as NDJSON, validating each. With no operand and no -t, read\n"
    "stdin. With --table, read only the partitions --where selects: their\n"
    "topics on the broker or, with DIR operands, their directories.",
};

struct consume_opts {
	const char *format;
	int csv_strings;
	int partition_fields;
	const char *table;
	struct fx_strlist where;
	const char *checkpoint;
	const char *state;
};

/*
 * The first Kafka-only option given, or NULL: with file input they have no
 * meaning, and ignoring them would hide a mistake (fx-sink refuses the
 * same mix). The environment (FX_BROKERS) is not an option.
 */
static const char *kafka_option_given(const struct kafka_source_opts *ko)
{
	if (ko->group)
		return "-g/--group";
	if (ko->offsets.n)
		return "-o/--offset";
	if (ko->exit_at_end)
		return "-e/--exit-at-end";
	if (ko->count)
		return "-c/--count";
	if (ko->meta)
		return "--meta";
	if (ko->wrap)
		return "--wrap";
	if (ko->conf.brokers)
		return "-b/--brokers";
	if (ko->conf.nprops)
		return strcmp(ko->conf.props[0].origin, "-X") == 0
		           ? "-X"
		           : "-F/--kafka-config";
	if (ko->conf.files) /* one with no properties in it */
		return "-F/--kafka-config";
	if (ko->conf.timeout_ms != KAFKA_DEFAULT_TIMEOUT_MS)
		return "--timeout";
	return NULL;
}

/*
 * --checkpoint INTERVAL and --state DIR into ko: INTERVAL is a record count
 * (digits) or a duration; DIR has no environment default (see fx-sink(1)).
 * Usage errors exit.
 */
static void checkpoint_options(struct fx_ctx *ctx, const struct consume_opts *o,
                               int kafka, struct kafka_source_opts *ko,
                               struct file_source_opts *fo)
{
	const char *s = o->checkpoint;

	if (!s) {
		if (o->state)
			fx_usage_error(ctx, "--state: needs --checkpoint");
		return;
	}
	if (!kafka && o->table)
		fx_usage_error(ctx,
		               "--checkpoint: with --table, a Kafka source "
		               "only (no DIR operands)");
	if (ckpt_interval_parse(s, &ko->ckpt_records, &ko->ckpt_ms))
		fx_usage_error(ctx,
		               "--checkpoint: expected a duration (5s, 500ms) "
		               "or a record count above 0 (10000), got '%s'",
		               s);
	ko->state = o->state;
	if (!ko->state || !*ko->state)
		fx_usage_error(ctx, "--checkpoint: needs a state directory: "
		                    "--state DIR");
	if (!kafka) { /* files: filesrc.h */
		fo->state = ko->state;
		fo->ckpt_records = ko->ckpt_records;
		fo->ckpt_ms = ko->ckpt_ms;
		ko->state = NULL;
		ko->ckpt_records = ko->ckpt_ms = 0;
	}
}

int main(int argc, char **argv)
{
	struct consume_opts o = {0};
	struct kafka_source_opts ko = KAFKA_SOURCE_OPTS_INIT;
	const struct fx_option opts[] = {
	    FX_OPT_GROUP("Files:"),
	    FX_OPT_STRING(
	        0, "format", &o.format, "FMT",
	        "ndjson, jsonl, json or csv, +gz if compressed (default: by extension)"),
	    FX_OPT_FLAG(0, "csv-strings", &o.csv_strings,
	                "keep every CSV field a string"),
	    FX_OPT_FLAG(0, "partition-fields", &o.partition_fields,
	                "add k=v directory names as fields"),
	    FX_OPT_GROUP("Partition flow tables:"),
	    FX_OPT_STRING(0, "table", &o.table, "T.json",
	                  "read the partitions of this table (fx-table(5))"),
	    FX_OPT_MULTI(0, "where", &o.where, "NAME=V1,V2",
	                 "only partitions with one of these values "
	                 "(repeatable: all hold)"),
	    FX_OPT_GROUP("Kafka (with -t or --table):"),
	    FX_OPT_KAFKA_SOURCE(&ko),
	    FX_OPT_GROUP("Checkpoints (Kafka or NDJSON files):"),
	    FX_OPT_STRING(0, "checkpoint", &o.checkpoint, "INTERVAL",
	                  "a checkpoint barrier every INTERVAL (5s) or N "
	                  "records; no group commits"),
	    FX_OPT_STRING(0, "state", &o.state, "DIR",
	                  "the job's state directory, for committed.json"),
	    FX_OPT_END(),
	};
	struct file_source_opts fo = {0};
	struct record_writer out;
	struct table *t = NULL;
	struct fx_ctx ctx;
	const char *kopt;
	int first, kafka, rc, wrc;

	fx_program_init(&ctx, "fx-consume");
	first = fx_parse_options(&ctx, argc, argv, opts, &usage);
	kafka = ko.topics.n > 0 || (o.table && first == argc);
	if (kafka && first < argc)
		fx_usage_error(&ctx,
		               "-t reads Kafka: no FILE operands with it");
	if (o.table && ko.topics.n)
		fx_usage_error(&ctx, "--table picks the topics: not with -t");
	if (!kafka && (kopt = kafka_option_given(&ko)))
		fx_usage_error(&ctx,
		               "%s: a Kafka option, not for files, directories "
		               "or stdin",
		               kopt);
	if (o.where.n && !o.table)
		fx_usage_error(&ctx, "--where needs --table");
	checkpoint_options(&ctx, &o, kafka, &ko, &fo);
	if (o.table && !(t = table_load(&ctx, o.table)))
		return fx_finish(&ctx, FX_EXIT_USAGE);
	if (o.format && file_format_parse(o.format, &fo.format, &fo.gz))
		fx_usage_error(&ctx, "--format: unknown format '%s'", o.format);
	fo.csv_strings = o.csv_strings;
	fo.partition_fields = o.partition_fields;

	record_writer_init(&out, &ctx, STDOUT_FILENO, "stdout");
	if (t && kafka)
		rc = partition_consume_kafka(&ctx, t, &o.where, &ko, &out);
	else if (t)
		rc = partition_consume_files(&ctx, t, &o.where, &fo,
		                             argv + first,
		                             (size_t)(argc - first), &out);
	else if (kafka)
		rc = kafka_source_run(&ctx, &ko, &out);
	else
		rc = file_source_run(&ctx, &fo, argv + first,
		                     (size_t)(argc - first), &out);
	if (!kafka)
		ctx.st.bytes_out = record_writer_bytes_total(&out);
	wrc = record_writer_close(&out);
	kafka_conf_free(&ko.conf);
	fx_strlist_free(&ko.topics);
	fx_strlist_free(&ko.offsets);
	fx_strlist_free(&o.where);
	if (t)
		table_free(t);
	return fx_finish(&ctx, rc ? rc : wrc);
}
