/* fx-devbroker - a throwaway in-memory Kafka cluster on loopback */
#include "detach.h"
#include "err.h"
#include "fx.h"
#include "kafka.h"
#include "opt.h"
#include "prog.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct fx_usage usage = {
    "fx-devbroker [--brokers N] [--partitions N] [--topic NAME[:PARTITIONS]]...\n"
    "       [--detach [--pid-file FILE]]",
    "Runs an in-memory Kafka-protocol cluster (librdkafka's mock cluster) on\n"
    "127.0.0.1, prints its bootstrap address as the first line of stdout and\n"
    "runs until SIGINT or SIGTERM; with --detach it prints the address once\n"
    "the cluster is up and runs on in the background:\n"
    "  export FX_BROKERS=$(fx-devbroker --detach --pid-file broker.pid)\n"
    "  ...; kill $(cat broker.pid)\n"
    "For trying pipelines and for tests: not for production. Each partition\n"
    "keeps only its newest ~5 MiB or 100,000 batches; topics are created on\n"
    "first produce (CreateTopics is not implemented).",
};

/* Parses "NAME" or "NAME:N" into name (owned by the caller) and *count. */
static char *parse_topic(const struct fx_ctx *ctx, const char *spec,
                         int64_t partitions, int *count)
{
	const char *colon = strrchr(spec, ':');
	char *end;
	long n = partitions;

	if (colon) {
		n = strtol(colon + 1, &end, 10);
		if (end == colon + 1 || *end)
			fx_usage_error(
			    ctx, "--topic: not a partition count: '%s'", spec);
	} else {
		colon = spec + strlen(spec);
	}
	if (colon == spec)
		fx_usage_error(ctx, "--topic: empty topic name in '%s'", spec);
	if (n < 1 || n > 100000)
		fx_usage_error(
		    ctx, "--topic: partitions must be 1 to 100000: '%s'", spec);
	*count = (int)n;
	return fx_strndup(spec, (size_t)(colon - spec));
}

int main(int argc, char **argv)
{
	struct kafka_devbroker_opts o = {.brokers = 1, .partitions = 4};
	struct fx_strlist topics = {0};
	const char *pid_file = NULL;
	int detach = 0;
	const struct fx_option opts[] = {
	    FX_OPT_INT(0, "brokers", &o.brokers, "N",
	               "number of brokers (default 1)"),
	    FX_OPT_INT(0, "partitions", &o.partitions, "N",
	               "partitions of a --topic without a count (default 4)"),
	    FX_OPT_MULTI(0, "topic", &topics, "NAME[:PARTITIONS]",
	                 "create this topic at start (repeatable)"),
	    FX_OPT_STRING(0, "bootstrap-file", &o.bootstrap_file, "FILE",
	                  "also write the bootstrap address to FILE"),
	    FX_OPT_FLAG(0, "detach", &detach,
	                "run in the background once the cluster is up"),
	    FX_OPT_STRING(
	        0, "pid-file", &pid_file, "FILE",
	        "--detach: write the background process's PID to FILE"),
	    FX_OPT_END(),
	};
	struct fx_ctx ctx;
	size_t i;
	int rc;

	fx_program_init(&ctx, "fx-devbroker");
	if (fx_parse_options(&ctx, argc, argv, opts, &usage) != argc)
		fx_usage_error(&ctx, "no operands expected");
	if (o.brokers < 1 || o.brokers > 64)
		fx_usage_error(&ctx, "--brokers: must be 1 to 64");
	if (o.partitions < 1 || o.partitions > 100000)
		fx_usage_error(&ctx, "--partitions: must be 1 to 100000");
	if (pid_file && !detach)
		fx_usage_error(&ctx, "--pid-file: only with --detach");
	o.ntopics = topics.n;
	o.topics = fx_malloc((topics.n + 1) * sizeof(*o.topics));
	o.topic_partitions = fx_malloc((topics.n + 1) * sizeof(int));
	for (i = 0; i < topics.n; i++)
		o.topics[i] = parse_topic(&ctx, topics.v[i], o.partitions,
		                          &o.topic_partitions[i]);
	if (detach)
		fx_detach(&ctx, pid_file, o.bootstrap_file, 30);
	rc = kafka_devbroker_run(&ctx, &o);
	if (detach && pid_file)
		unlink(pid_file);
	for (i = 0; i < topics.n; i++)
		free(o.topics[i]);
	free(o.topics);
	free(o.topic_partitions);
	fx_strlist_free(&topics);
	return fx_finish(&ctx, rc);
}
