/* fx-partition - route records by a partition flow table */
#include "err.h"
#include "fx.h"
#include "kafka.h"
#include "opt.h"
#include "prog.h"
#include "partition.h"
#include "table.h"

#include <stdlib.h>

static const struct fx_usage usage = {
    "fx-partition --table T.json [--files] [--explain] [OPTION]... [FILE]...\n"
    "       fx-partition --table T.json --list [-b BROKERS] [--files [DIR]]",
    "Compute each record's partition from its fields and the table\n"
    "definition T.json (see fx-table(5)) and add \"_fx_dest\": its Kafka\n"
    "topic or, with --files, its directory, for fx-sink to route by.\n"
    "--explain prints where the records would go instead of them; --list\n"
    "prints the table's partitions (with --files, those found under DIR).",
};

int main(int argc, char **argv)
{
	struct partition_opts o = {0};
	struct kafka_conf kc = KAFKA_CONF_INIT;
	struct fx_strlist topics = {0};
	const struct fx_option opts[] = {
	    FX_OPT_STRING(0, "table", &o.table, "T.json",
	                  "the partition flow table definition"),
	    FX_OPT_FLAG(0, "files", &o.files,
	                "route to the table's directories, not topics"),
	    FX_OPT_FLAG(
	        0, "explain", &o.explain,
	        "print each destination and its record count instead of the records"),
	    FX_OPT_FLAG(
	        0, "list", &o.list,
	        "print the table's partitions: static, default, template, and those that exist"),
	    FX_OPT_KAFKA(&kc),
	    FX_OPT_END(),
	};
	struct fx_ctx ctx;
	struct table *t;
	int first, rc = 0, broker;

	fx_program_init(&ctx, "fx-partition");
	first = fx_parse_options(&ctx, argc, argv, opts, &usage);
	if (!o.table)
		fx_usage_error(&ctx, "--table T.json is required");
	if (o.list && o.explain)
		fx_usage_error(&ctx, "--list and --explain go separately");
	if (o.list && argc - first > (o.files ? 1 : 0))
		fx_usage_error(&ctx, "--list takes %s",
		               o.files ? "one DIR at most" : "no operands");
	if (!(t = table_load(&ctx, o.table)))
		return fx_finish(&ctx, FX_EXIT_USAGE);
	/* --list asks the broker when one is named */
	broker = kc.brokers || kc.nprops || getenv("FX_BROKERS");
	if (o.list && !o.files && broker)
		rc = kafka_topic_names(&ctx, &kc, &topics);
	if (o.list && !rc)
		rc = partition_list(&ctx, &o, t, broker ? &topics : NULL,
		                    first < argc ? argv[first] : ".");
	else if (!o.list)
		rc = partition_run(&ctx, &o, t, argv + first,
		                   (size_t)(argc - first));
	table_free(t);
	fx_strlist_free(&topics);
	kafka_conf_free(&kc);
	return fx_finish(&ctx, rc);
}
