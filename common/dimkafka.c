/*
 * dimkafka.c - a dimension kept in a Kafka topic (librdkafka directly:
 * kafka.c's consumer writes records out, this one feeds a table).
 */
#include "dimkafka.h"
#include "lineage.h"
#include "err.h"
#include "kafka_internal.h"

#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

struct dim_kafka {
	struct fx_ctx *ctx;
	rd_kafka_t *rk;
	const char *topic;
	const char *source; /* "kafka:TOPIC" */
	struct dim_loader *ld;
	struct dim_table *t;
	struct json_scanner sc;
	struct fx_buf key, quoted, scratch;
	int warned_error;
};

static const char *const dim_defaults[] = {
    /* a dimension is read whole every time: nothing to commit */
    "group.id", "fx-join-dim",          "enable.auto.commit",
    "false",    "enable.partition.eof", "true",
    NULL,
};

/* Applies one message: a row, or a deletion (a tombstone). */
static void apply(struct dim_kafka *dk, const rd_kafka_message_t *m)
{
	struct json_value v = {JSON_STRING, NULL, 0, 0};
	struct json_error err;

	if (!m->key) {
		fx_warn(dk->ctx, "%s/%d@%lld: message without a key, ignored",
		        dk->source, (int)m->partition, (long long)m->offset);
		return;
	}
	/* the key's bytes are its text, as a CSV cell's are */
	fx_buf_reset(&dk->quoted);
	fx_buf_addc(&dk->quoted, '"');
	fx_buf_add(&dk->quoted, m->key, m->key_len);
	fx_buf_addc(&dk->quoted, '"');
	v.p = dk->quoted.p;
	v.len = dk->quoted.len;
	fx_buf_reset(&dk->key);
	join_key_add(&dk->key, &v, &dk->scratch);
	if (!m->payload || !m->len) {
		dim_del(dk->t, dk->key.p, dk->key.len);
		return;
	}
	if (json_scan(&dk->sc, NULL, m->payload, m->len, NULL, &err, 0) < 0) {
		fx_warn(dk->ctx, "%s/%d@%lld: value: %s, ignored", dk->source,
		        (int)m->partition, (long long)m->offset, err.reason);
		return;
	}
	dim_loader_put(dk->ld, dk->key.p, dk->key.len, m->payload, m->len);
}

/* The partitions and their end offsets now; -1 after a message. */
static int partitions(struct dim_kafka *dk, int64_t timeout,
                      rd_kafka_topic_partition_list_t **out, int64_t **hi)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(dk->rk, dk->topic, NULL);
	rd_kafka_resp_err_t e;
	int i, n;

	e = rd_kafka_metadata(dk->rk, 0, rkt, &md, (int)timeout);
	rd_kafka_topic_destroy(rkt);
	if (e) {
		rd_kafka_poll(dk->rk, 0); /* the error callback: which broker */
		fx_warn(dk->ctx, "%s: %s", dk->source,
		        kafka_conf_last_error() ? kafka_conf_last_error()
		                                : rd_kafka_err2str(e));
		return -1;
	}
	if (md->topic_cnt != 1 || md->topics[0].err ||
	    !md->topics[0].partition_cnt) {
		fx_warn(dk->ctx, "%s: %s", dk->source,
		        md->topic_cnt == 1 && md->topics[0].err
		            ? rd_kafka_err2str(md->topics[0].err)
		            : "no such topic");
		rd_kafka_metadata_destroy(md);
		return -1;
	}
	n = md->topics[0].partition_cnt;
	*out = rd_kafka_topic_partition_list_new(n);
	*hi = fx_malloc((size_t)n * sizeof(**hi));
	for (i = 0; i < n; i++) {
		int32_t p = md->topics[0].partitions[i].id;
		int64_t lo = 0, h = 0;

		e = rd_kafka_query_watermark_offsets(dk->rk, dk->topic, p, &lo,
		                                     &h, (int)timeout);
		if (e) {
			fx_warn(dk->ctx, "%s/%d: %s", dk->source, (int)p,
			        rd_kafka_err2str(e));
			rd_kafka_metadata_destroy(md);
			return -1;
		}
		rd_kafka_topic_partition_list_add(*out, dk->topic, p)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
		(*hi)[i] = h > lo ? h : -1; /* -1: nothing to wait for */
	}
	rd_kafka_metadata_destroy(md);
	return n;
}

/* Reads to the end offsets seen at start. Returns 0 or FX_EXIT_IO. */
static int load(struct dim_kafka *dk, int64_t timeout)
{
	rd_kafka_topic_partition_list_t *list = NULL;
	int64_t *hi = NULL;
	int n = partitions(dk, timeout, &list, &hi), left = 0, i, rc = 0;
	double quiet = fx_now();

	if (n < 0)
		return FX_EXIT_IO;
	for (i = 0; i < n; i++)
		left += hi[i] >= 0;
	rd_kafka_assign(dk->rk, list);
	while (left > 0 && !fx_stop) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(dk->rk, 100);

		if (!m) {
			if ((fx_now() - quiet) * 1000 < (double)timeout)
				continue;
			fx_warn(
			    dk->ctx,
			    "%s: the end of the topic not reached after %lld ms without a message",
			    dk->source, (long long)timeout);
			rc = FX_EXIT_IO;
			break;
		}
		quiet = fx_now();
		if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			fx_warn(dk->ctx, "%s: %s", dk->source,
			        rd_kafka_message_errstr(m));
		} else {
			if (!m->err)
				apply(dk, m);
			for (i = 0; i < n; i++)
				if (list->elems[i].partition == m->partition &&
				    hi[i] >= 0 &&
				    m->offset + !m->err >= hi[i]) {
					hi[i] = -1;
					left--;
				}
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_topic_partition_list_destroy(list);
	free(hi);
	return rc;
}

int dim_kafka_open(struct fx_ctx *ctx, const struct kafka_conf *kc,
                   const char *topic, struct dim_spec *s, struct dim_table *t,
                   struct dim_kafka **out)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	struct dim_kafka *dk;
	char errstr[512];
	int rc;

	kafka_conf_apply(ctx, conf, kc, dim_defaults);
	kafka_conf_messages(ctx, conf);
	dk = fx_malloc(sizeof(*dk));
	memset(dk, 0, sizeof(*dk));
	dk->ctx = ctx;
	dk->topic = topic;
	dk->source = s->source;
	dk->t = t;
	dk->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!dk->rk) {
		fx_warn(ctx, "%s: %s", s->source, errstr);
		free(dk);
		return FX_EXIT_USAGE;
	}
	rd_kafka_poll_set_consumer(dk->rk);
	lineage_kafka(ctx, LINEAGE_INPUT,
	              kc->brokers ? kc->brokers : getenv("FX_BROKERS"), topic);
	dk->ld = dim_loader_new(ctx, s, t);
	rc = load(dk, kc->timeout_ms);
	s->fields_fixed = 1;
	s->loaded = 1;
	*out = dk;
	return rc;
}

int dim_kafka_poll(struct dim_kafka *dk)
{
	rd_kafka_message_t *m;

	while ((m = rd_kafka_consumer_poll(dk->rk, 0))) {
		if (!m->err)
			apply(dk, m);
		else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
		         !dk->warned_error++)
			fx_warn(dk->ctx, "%s: %s (retrying)", dk->source,
			        rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
	}
	return 0;
}

void dim_kafka_close(struct dim_kafka *dk)
{
	if (!dk)
		return;
	rd_kafka_consumer_close(dk->rk);
	rd_kafka_destroy(dk->rk);
	dim_loader_free(dk->ld);
	json_scanner_free(&dk->sc);
	fx_buf_free(&dk->key);
	fx_buf_free(&dk->quoted);
	fx_buf_free(&dk->scratch);
	free(dk);
}
