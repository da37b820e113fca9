/*
 * dimkafka.c - a dimension kept in a Kafka topic, read with kafka.h's
 * topic reader (kafka_topic_reader_open); see dimkafka.h
 */
#include "dimkafka.h"
#include "lineage.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

struct dim_kafka {
	struct fx_ctx *ctx;
	struct kafka_topic_reader *r;
	const char *source; /* "kafka:TOPIC" */
	struct dim_loader *ld;
	struct dim_table *t;
	struct json_scanner sc;
	struct fx_buf key, quoted, scratch;
	struct fx_buf value; /* a value with line breaks, made one line */
};

static const char *const dim_defaults[] = {
    /* a dimension is read whole every time: nothing to commit */
    "group.id", "fx-join-dim",          "enable.auto.commit",
    "false",    "enable.partition.eof", "true",
    NULL,
};

/* Applies one message: a row, or a deletion (a tombstone). */
static void apply(void *arg, const struct kafka_message *m)
{
	struct dim_kafka *dk = arg;
	struct json_value v = {JSON_STRING, NULL, 0, 0};
	struct json_error err;
	const char *val = m->payload;

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
	if (memchr(val, '\n', m->len) || memchr(val, '\r', m->len)) {
		/* its members are copied into joined records: one line */
		fx_buf_reset(&dk->value);
		fx_buf_add(&dk->value, m->payload, m->len);
		json_one_line(dk->value.p, m->len);
		val = dk->value.p;
	}
	dim_loader_put(dk->ld, dk->key.p, dk->key.len, val, m->len);
}

int dim_kafka_open(struct fx_ctx *ctx, const struct kafka_conf *kc,
                   const char *topic, struct dim_spec *s, struct dim_table *t,
                   struct dim_kafka **out)
{
	struct dim_kafka *dk;
	int rc;

	dk = fx_malloc(sizeof(*dk));
	memset(dk, 0, sizeof(*dk));
	dk->ctx = ctx;
	dk->source = s->source;
	dk->t = t;
	rc = kafka_topic_reader_open(ctx, kc, topic, s->source, dim_defaults,
	                             apply, dk, &dk->r);
	if (rc) {
		free(dk);
		return rc;
	}
	lineage_topic(ctx, LINEAGE_INPUT,
	              kc->brokers ? kc->brokers : getenv("FX_BROKERS"), topic);
	dk->ld = dim_loader_new(ctx, s, t);
	rc = kafka_topic_reader_load(dk->r, kc->timeout_ms);
	s->fields_fixed = 1;
	s->loaded = 1;
	*out = dk;
	return rc;
}

int dim_kafka_poll(struct dim_kafka *dk)
{
	kafka_topic_reader_poll(dk->r);
	return 0;
}

void dim_kafka_close(struct dim_kafka *dk)
{
	if (!dk)
		return;
	kafka_topic_reader_close(dk->r);
	dim_loader_free(dk->ld);
	json_scanner_free(&dk->sc);
	fx_buf_free(&dk->key);
	fx_buf_free(&dk->quoted);
	fx_buf_free(&dk->scratch);
	fx_buf_free(&dk->value);
	free(dk);
}
