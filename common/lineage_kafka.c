/* lineage_kafka.c - the kafka:TOPIC lineage store */
#include "lineage_kafka.h"
#include "err.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

struct lineage_kafka {
	rd_kafka_t *rk;
	char *topic;
	int failed; /* delivery reports that failed */
	char first_err[256];
	int all_down; /* every broker refused or dropped us: stop waiting */
	char down_err[256];
};

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct lineage_kafka *k = opaque;

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !k->all_down) {
		k->all_down = 1;
		snprintf(k->down_err, sizeof(k->down_err), "%s", reason);
	}
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
	struct lineage_kafka *k = opaque;

	(void)rk;
	if (m->err && !k->failed++)
		snprintf(k->first_err, sizeof(k->first_err), "%s",
		         rd_kafka_err2str(m->err));
}

/* Lineage is a side channel: no librdkafka chatter on the program's stderr. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

static int set(rd_kafka_conf_t *conf, const char *key, const char *value,
               char *err, size_t errlen)
{
	return rd_kafka_conf_set(conf, key, value, err, errlen) ==
	               RD_KAFKA_CONF_OK
	           ? 0
	           : -1;
}

struct lineage_kafka *lineage_kafka_open(const char *brokers, const char *topic,
                                         char *err, size_t errlen)
{
	struct lineage_kafka *k = fx_malloc(sizeof(*k));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	memset(k, 0, sizeof(*k));
	if (set(conf, "bootstrap.servers", brokers, err, errlen) ||
	    set(conf, "message.timeout.ms", "5000", err, errlen) ||
	    set(conf, "linger.ms", "0", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		free(k);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_opaque(conf, k);
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (!k->rk) {
		rd_kafka_conf_destroy(conf);
		free(k);
		return NULL;
	}
	k->topic = fx_strdup(topic);
	return k;
}

int lineage_kafka_send(struct lineage_kafka *k, const char *line, size_t len,
                       char *err, size_t errlen)
{
	rd_kafka_resp_err_t e;

	/* the store's lines end in '\n'; a message is the JSON alone */
	if (len && line[len - 1] == '\n')
		len--;
	e = rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(k->topic),
	                      RD_KAFKA_V_VALUE((void *)line, len),
	                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	                      RD_KAFKA_V_END);
	if (e) {
		snprintf(err, errlen, "%s", rd_kafka_err2str(e));
		return -1;
	}
	rd_kafka_poll(k->rk, 0);
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int lineage_kafka_close(struct lineage_kafka *k, int timeout_ms, char *err,
                        size_t errlen)
{
	double deadline = now_ms() + timeout_ms;
	int rc = 0;

	/*
	 * Flush in short slices: a refused connection is known within
	 * milliseconds (ALL_BROKERS_DOWN, served by the flush), and then
	 * there is nothing to wait for.
	 */
	while (rd_kafka_outq_len(k->rk) > 0 && !k->all_down &&
	       now_ms() < deadline)
		rd_kafka_flush(k->rk, 20);
	if (rd_kafka_outq_len(k->rk) > 0) {
		if (k->all_down)
			snprintf(err, errlen, "events not delivered: %s",
			         k->down_err);
		else
			snprintf(err, errlen, "events not delivered in %d ms",
			         timeout_ms);
		rc = -1;
	} else if (k->failed) {
		snprintf(err, errlen, "%s", k->first_err);
		rc = -1;
	}
	if (rc)
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE |
		                          RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_destroy(k->rk);
	free(k->topic);
	free(k);
	return rc;
}
