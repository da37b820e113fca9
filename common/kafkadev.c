/* kafkadev.c - fx-devbroker, librdkafka's mock cluster; see kafka.h */
#include "kafka.h"
#include "kafka_internal.h"
#include "err.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* =====================================================================
 * fx-devbroker
 */

int kafka_devbroker_run(struct fx_ctx *ctx,
                        const struct kafka_devbroker_opts *o)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_mock_cluster_t *mc;
	sigset_t stop, old;
	char errstr[512];
	const char *addr;
	rd_kafka_t *rk;
	int rc = 0, rf = o->brokers < 3 ? (int)o->brokers : 3;
	size_t i;

	/*
	 * Only this thread takes the stop signals: the cluster's threads
	 * inherit the blocked mask.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	kafka_conf_set(ctx, c, "log.connection.close", "false", "default");
	/* no notice that the handle itself has no brokers: it is the cluster */
	kafka_conf_set(ctx, c, "log_level", "4", "default");
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
	if (!rk)
		fx_die(ctx, FX_EXIT_IO, "cannot create handle: %s", errstr);
	mc = rd_kafka_mock_cluster_new(rk, (int)o->brokers);
	if (!mc)
		fx_die(
		    ctx, FX_EXIT_IO,
		    "cannot start the mock cluster (see the messages above)");
	for (i = 0; i < o->ntopics; i++) {
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
		    mc, o->topics[i], o->topic_partitions[i], rf);

		if (err)
			fx_die(ctx, FX_EXIT_IO, "topic '%s': %s", o->topics[i],
			       rd_kafka_err2str(err));
	}
	addr = rd_kafka_mock_cluster_bootstraps(mc);
	fx_warn(
	    ctx,
	    "in-memory Kafka cluster for development, not for production: %" PRId64
	    " broker(s) on 127.0.0.1; each partition keeps only its newest ~5 MiB or 100,000 batches and drops older data silently; topics are created on first produce (CreateTopics is not implemented); everything is lost on exit",
	    o->brokers);
	if (printf("%s\n", addr) < 0 || fflush(stdout) != 0) {
		fx_warn(ctx, "stdout: write error: %s", strerror(errno));
		rc = FX_EXIT_IO;
	}
	if (!rc && o->bootstrap_file &&
	    fx_write_line_atomic(o->bootstrap_file, addr) != 0) {
		fx_warn(ctx, "%s: cannot write bootstrap file: %s",
		        o->bootstrap_file, strerror(errno));
		rc = FX_EXIT_IO;
	}
	while (!rc && !fx_stop)
		sigsuspend(&old);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
