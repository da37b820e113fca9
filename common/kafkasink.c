/* kafkasink.c - the Kafka sink (fx-sink); see kafka.h */
#include "kafka.h"
#include "kafka_internal.h"
#include "base64.h"
#include "buf.h"
#include "err.h"
#include "json.h"
#include "lineage.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Decodes canonical base64 text into b. Returns 0, or -1 if it is not. */
static int base64_decode_text(struct fx_buf *b, const char *s)
{
	size_t n = strlen(s);
	long got;

	fx_buf_grow(b, n / 4 * 3 + 1);
	got = base64_decode(s, n, (uint8_t *)b->p + b->len);
	if (got < 0)
		return -1;
	b->len += (size_t)got;
	return 0;
}

/* The inverse of add_bytes_json for a cJSON item. 0: bytes; 1: null; -1 */
static int bytes_from_json(const cJSON *j, struct fx_buf *out)
{
	const cJSON *b64;

	if (cJSON_IsNull(j))
		return 1;
	if (cJSON_IsString(j)) {
		fx_buf_adds(out, j->valuestring);
		return 0;
	}
	b64 = cJSON_GetObjectItemCaseSensitive(j, "base64");
	if (cJSON_IsObject(j) && cJSON_IsString(b64))
		return base64_decode_text(out, b64->valuestring);
	return -1;
}

/* =====================================================================
 * Sink
 */

enum {
	PATH_DEST,
	PATH_KEY,
	PATH_HEADERS,
	PATH_PARTITION,
	PATH_USER_KEY,
	NPATHS,
};

struct sink_topic {
	char *name;
	rd_kafka_topic_t *rkt;
};

struct kafka_sink {
	struct fx_ctx *ctx;
	const struct kafka_sink_opts *o;
	rd_kafka_t *rk;
	struct kafka_health health;

	struct sink_topic *topics;
	size_t ntopics, topics_cap, last;
	int create_unsupported; /* said once */

	struct json_paths paths;
	const struct json_value *vals; /* of the record being written */
	struct fx_buf value, key, name, hval;

	uint64_t sent, delivered, failed;
	char first_error[512];
	double last_poll;
};

/*
 * Every broker has been away for --timeout (librdkafka's ALL_BROKERS_DOWN
 * and no answer since): what is queued will not be delivered in time, and
 * waiting for each record's own timeout would hold the program longer.
 */
static int sink_brokers_gone(struct kafka_sink *ks)
{
	double since = ks->health.down_since;

	if (!since || fx_now() - since < (double)ks->o->conf.timeout_ms / 1000)
		return 0;
	if (!ks->first_error[0])
		snprintf(ks->first_error, sizeof(ks->first_error),
		         "no broker for --timeout");
	return 1;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
	struct kafka_sink *ks = ((struct kafka_health *)opaque)->owner;

	(void)rk;
	if (!m->err) {
		ks->delivered++;
		ks->health.down_since = 0; /* a broker answers again */
		lineage_count(rd_kafka_topic_opaque(m->rkt), 1);
		return;
	}
	if (!ks->failed++)
		snprintf(ks->first_error, sizeof(ks->first_error),
		         "topic '%s': %s", rd_kafka_topic_name(m->rkt),
		         rd_kafka_err2str(m->err));
}

/*
 * Idempotent, acks=all: a record is delivered once or reported failed.
 * The rest trades a few milliseconds of latency for large batches.
 */
static const char *const sink_defaults[] = {
    "enable.idempotence",
    "true",
    "acks",
    "all",
    "partitioner",
    "murmur2_random",
    /*
     * Keyless records spread evenly, not in sticky runs: fx-devbroker
     * keeps only ~5 MiB per partition, and a run that overfills one
     * partition loses data there while others stay empty.
     */
    "sticky.partitioning.linger.ms",
    "0",
    "linger.ms",
    "20",
    "batch.num.messages",
    "100000",
    "batch.size",
    "4000000",
    "queue.buffering.max.messages",
    "1000000",
    "queue.buffering.max.kbytes",
    "1048576",
    "log.connection.close",
    "false",
    NULL,
};

/* Which option asked for topics to be created, for messages. */
static const char *what(const struct kafka_sink *ks)
{
	return ks->o->create_topics ? "--create-topics" : "--table";
}

/* Says once that the broker cannot create topics, then relies on auto-creation.
 */
static void create_topic(struct kafka_sink *ks, const char *name,
                         int partitions, int replication)
{
	/*
	 * Long enough for a real controller; the mock has none, and is
	 * waited for once, this long.
	 */
	int timeout =
	    ks->o->conf.timeout_ms < 5000 ? (int)ks->o->conf.timeout_ms : 5000;
	char errstr[512];
	rd_kafka_AdminOptions_t *opts;
	rd_kafka_NewTopic_t *nt;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	const char *msg = NULL;

	if (ks->create_unsupported)
		return;
	nt = rd_kafka_NewTopic_new(name, partitions, replication, errstr,
	                           sizeof(errstr));
	if (!nt)
		fx_die(ks->ctx, FX_EXIT_USAGE, "%s: topic '%s': %s", what(ks),
		       name, errstr);
	q = rd_kafka_queue_new(ks->rk);
	opts =
	    rd_kafka_AdminOptions_new(ks->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(opts, timeout, NULL, 0);
	rd_kafka_CreateTopics(ks->rk, &nt, 1, opts, q);
	ev = rd_kafka_queue_poll(q, timeout + 1000);
	rd_kafka_AdminOptions_destroy(opts);
	if (ev) {
		const rd_kafka_CreateTopics_result_t *res =
		    rd_kafka_event_CreateTopics_result(ev);
		size_t n = 0;
		const rd_kafka_topic_result_t **tr =
		    res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;

		err = rd_kafka_event_error(ev);
		msg = rd_kafka_event_error_string(ev);
		if (!err && n == 1) {
			err = rd_kafka_topic_result_error(tr[0]);
			msg = rd_kafka_topic_result_error_string(tr[0]);
		}
	}
	/* no controller to ask is how fx-devbroker's mock says it cannot */
	if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
	    err == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION ||
	    err == RD_KAFKA_RESP_ERR_INVALID_REQUEST ||
	    (err == RD_KAFKA_RESP_ERR__TIMED_OUT && msg &&
	     strstr(msg, "waiting for controller"))) {
		fx_warn(
		    ks->ctx,
		    "%s: the broker does not support CreateTopics (fx-devbroker does not): relying on auto-creation, with the broker's partition count",
		    what(ks));
		ks->create_unsupported = 1;
	} else if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
		fx_warn(ks->ctx, "%s: topic '%s': %s", what(ks), name,
		        msg ? msg : rd_kafka_err2str(err));
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
}

/* Asks the --table hook whether and how to create a new topic. */
static void maybe_create(struct kafka_sink *ks, const char *name)
{
	int partitions = -1, replication = -1;

	if (ks->o->create(ks->o->create_arg, name, &partitions, &replication))
		create_topic(ks, name, partitions, replication);
}

static rd_kafka_topic_t *sink_topic(struct kafka_sink *ks, const char *name,
                                    size_t len)
{
	struct sink_topic *t;
	rd_kafka_topic_conf_t *tc;
	size_t i;

	for (i = 0; i < ks->ntopics; i++) {
		t = &ks->topics[(ks->last + i) % ks->ntopics];
		if (strlen(t->name) == len && memcmp(t->name, name, len) == 0) {
			ks->last = (ks->last + i) % ks->ntopics;
			return t->rkt;
		}
	}
	FX_GROW(ks->topics, ks->ntopics + 1, ks->topics_cap, 8);
	t = &ks->topics[ks->ntopics];
	t->name = fx_strndup(name, len);
	if (ks->o->create_topics)
		create_topic(ks, t->name, (int)ks->o->partitions, -1);
	else if (ks->o->create)
		maybe_create(ks, t->name);
	/* the topic's lineage dataset rides along to the delivery report */
	tc = rd_kafka_default_topic_conf_dup(ks->rk); /* keeps partitioner */
	rd_kafka_topic_conf_set_opaque(
	    tc, lineage_topic(ks->ctx, LINEAGE_OUTPUT,
	                      kafka_lineage_bootstrap(&ks->o->conf), t->name));
	t->rkt = rd_kafka_topic_new(ks->rk, t->name, tc);
	if (!t->rkt)
		fx_die(ks->ctx, FX_EXIT_USAGE, "topic '%s': %s", t->name,
		       rd_kafka_err2str(rd_kafka_last_error()));
	ks->last = ks->ntopics++;
	return t->rkt;
}

int kafka_sink_open(struct fx_ctx *ctx, const struct kafka_sink_opts *o,
                    struct kafka_sink **out)
{
	static const char *const names[NPATHS] = {
	    "_fx_dest", "_fx_key", "_fx_headers", "_fx_partition", NULL,
	};
	struct kafka_sink *ks = fx_malloc(sizeof(*ks));
	const char *perr;
	rd_kafka_conf_t *c;
	char errstr[512];
	int rc, i;

	memset(ks, 0, sizeof(*ks));
	ks->ctx = ctx;
	ks->o = o;
	ks->health.owner = ks;
	for (i = 0; i < NPATHS; i++)
		if (json_paths_add(&ks->paths,
		                   names[i] ? names[i]
		                   : o->key ? o->key
		                            : "_fx_key",
		                   &perr) < 0)
			fx_usage_error(ctx, "--key: '%s': %s", o->key, perr);
	c = kafka_conf_build(ctx, RD_KAFKA_PRODUCER, &o->conf, sink_defaults,
	                     &ks->health);
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	ks->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
	if (!ks->rk) {
		fx_warn(ctx, "cannot create producer: %s", errstr);
		json_paths_free(&ks->paths);
		free(ks);
		return FX_EXIT_USAGE;
	}
	rc = kafka_check_brokers(ctx, ks->rk, &ks->health, o->conf.timeout_ms);
	if (!rc && o->topic)
		sink_topic(ks, o->topic, strlen(o->topic));
	if (rc) {
		kafka_sink_close(ks, rc);
		return rc;
	}
	*out = ks;
	return 0;
}

/* The value without its _fx* members. */
static void strip_meta(struct kafka_sink *ks, const char *rec, size_t len)
{
	struct json_member m;
	size_t pos = 0;
	int first = 1;

	fx_buf_reset(&ks->value);
	fx_buf_addc(&ks->value, '{');
	while (json_object_next(rec, len, &pos, &m)) {
		if (m.key.len >= 5 && memcmp(m.key.p, "\"_fx", 4) == 0)
			continue;
		if (!first)
			fx_buf_addc(&ks->value, ',');
		fx_buf_add(&ks->value, m.p, m.len);
		first = 0;
	}
	fx_buf_addc(&ks->value, '}');
}

/* The key bytes: --key FIELD, else _fx_key. 0: key; 1: no key; -1: bad */
static int record_key(struct kafka_sink *ks, const char **why)
{
	const struct json_value *v = &ks->vals[PATH_USER_KEY];
	cJSON *j;
	int rc;

	fx_buf_reset(&ks->key);
	if (ks->o->key) {
		if (v->type == JSON_MISSING || v->type == JSON_NULL)
			return 1;
		if (v->type == JSON_STRING)
			json_string_unescape(v, &ks->key);
		else
			fx_buf_add(&ks->key, v->p, v->len);
		return 0;
	}
	v = &ks->vals[PATH_KEY];
	if (v->type == JSON_MISSING || v->type == JSON_NULL)
		return 1;
	if (v->type == JSON_STRING) {
		json_string_unescape(v, &ks->key);
		return 0;
	}
	j = cJSON_ParseWithLength(v->p, v->len);
	rc = j ? bytes_from_json(j, &ks->key) : -1;
	cJSON_Delete(j);
	if (rc < 0)
		*why = "not a string, null or {\"base64\":...}";
	return rc;
}

/* _fx_headers: [[name, value], ...] or {"name": value, ...}. */
static int record_headers(struct kafka_sink *ks, rd_kafka_headers_t **out,
                          const char **why)
{
	const struct json_value *v = &ks->vals[PATH_HEADERS];
	cJSON *j, *e;
	int rc = 0;

	*out = NULL;
	if (v->type == JSON_MISSING || v->type == JSON_NULL)
		return 0;
	j = cJSON_ParseWithLength(v->p, v->len);
	if (!cJSON_IsArray(j) && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		*why = "not an array of [name, value] pairs or an object";
		return -1;
	}
	*out = rd_kafka_headers_new((size_t)cJSON_GetArraySize(j));
	cJSON_ArrayForEach(e, j)
	{
		const cJSON *name =
		    cJSON_IsArray(j) ? cJSON_GetArrayItem(e, 0) : NULL;
		const cJSON *val =
		    cJSON_IsArray(j) ? cJSON_GetArrayItem(e, 1) : e;
		const char *nm = cJSON_IsArray(j) ? NULL : e->string;
		int isnull;

		if (cJSON_IsArray(j) &&
		    (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 ||
		     !cJSON_IsString(name))) {
			rc = -1;
			break;
		}
		if (name)
			nm = name->valuestring;
		fx_buf_reset(&ks->hval);
		isnull = bytes_from_json(val, &ks->hval);
		if (isnull < 0) {
			rc = -1;
			break;
		}
		rd_kafka_header_add(*out, nm, -1, isnull ? NULL : ks->hval.p,
		                    isnull ? 0 : (ssize_t)ks->hval.len);
	}
	cJSON_Delete(j);
	if (rc) {
		rd_kafka_headers_destroy(*out);
		*out = NULL;
		*why =
		    "a header is not [name, value] with a string, null or {\"base64\":...} value";
	}
	return rc;
}

static int32_t record_partition(struct kafka_sink *ks)
{
	const struct json_value *v = &ks->vals[PATH_PARTITION];
	char num[32];

	if (!ks->o->keep_partition || v->type != JSON_NUMBER ||
	    v->len >= sizeof(num))
		return RD_KAFKA_PARTITION_UA;
	memcpy(num, v->p, v->len);
	num[v->len] = 0;
	return (int32_t)strtol(num, NULL, 10);
}

/* Produces, waiting for room in the queue; 0 or an exit status. */
static int produce(struct kafka_sink *ks, rd_kafka_topic_t *rkt, int32_t part,
                   const char *val, size_t vlen, int haskey,
                   rd_kafka_headers_t *hdrs)
{
	/*
	 * RD_KAFKA_V_KEY casts its argument unparenthesised: a conditional
	 * in it would cast the condition, so decide the key first.
	 */
	const void *key = haskey ? ks->key.p : NULL;
	size_t klen = haskey ? ks->key.len : 0;
	rd_kafka_resp_err_t err;

	for (;;) {
		err = rd_kafka_producev(
		    ks->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(part),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_VALUE((void *)val, vlen),
		    RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_HEADERS(hdrs),
		    RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(ks->rk, 10);
		if (ks->failed)
			break;
	}
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
		/* not handed over: count it failed, as it was read */
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		ks->sent++;
		ks->failed++;
		return FX_EXIT_IO;
	}
	if (err) {
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		ks->sent++;
		if (!ks->failed++)
			snprintf(ks->first_error, sizeof(ks->first_error),
			         "topic '%s': %s", rd_kafka_topic_name(rkt),
			         rd_kafka_err2str(err));
		return FX_EXIT_IO;
	}
	ks->sent++;
	/* delivery reports and errors at least every 100 ms */
	if ((ks->sent & 1023) == 0 || fx_now() - ks->last_poll >= 0.1) {
		ks->last_poll = fx_now();
		rd_kafka_poll(ks->rk, 0);
		if (sink_brokers_gone(ks))
			return FX_EXIT_IO;
	}
	return ks->failed ? FX_EXIT_IO : 0;
}

const struct json_paths *kafka_sink_paths(const struct kafka_sink *ks)
{
	return &ks->paths;
}

int kafka_sink_write(struct kafka_sink *ks, const struct record *rec,
                     const struct json_value *vals, int flags,
                     const struct fx_where *where)
{
	const struct json_value *dest = &vals[PATH_DEST];
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_topic_t *rkt;
	const char *why = NULL, *field = NULL, *val = rec->p;
	size_t vlen = rec->len;
	int haskey;

	if (flags & JSON_SCAN_CONTROL) {
		/* a checkpoint: everything before it is delivered first */
		if (memmem(rec->p, rec->len, "\"checkpoint\"", 12))
			return kafka_sink_flush(ks) ? FX_EXIT_IO : 0;
		return 0;
	}
	ks->vals = vals;
	if (ks->o->topic) {
		rkt = ks->topics[0].rkt;
	} else if (dest->type == JSON_STRING && !dest->escaped &&
	           dest->len > 2) {
		rkt = sink_topic(ks, dest->p + 1, dest->len - 2);
	} else {
		return fx_bad_record(
		    ks->ctx, where, "_fx_dest", rec->p, rec->len,
		    "no topic: -t not given and this is not a plain string");
	}
	haskey = record_key(ks, &why);
	if (haskey < 0)
		field = ks->o->key ? ks->o->key : "_fx_key";
	else if (record_headers(ks, &hdrs, &why))
		field = "_fx_headers";
	if (field)
		return fx_bad_record(ks->ctx, where, field, rec->p, rec->len,
		                     "%s", why);
	if ((flags & JSON_SCAN_HAS_FX) && !ks->o->keep_meta) {
		strip_meta(ks, rec->p, rec->len);
		val = ks->value.p;
		vlen = ks->value.len;
	}
	return produce(ks, rkt, record_partition(ks), val, vlen, !haskey, hdrs);
}

int kafka_sink_flush(struct kafka_sink *ks)
{
	/* every message has its own timeout (--timeout): this ends */
	while (rd_kafka_outq_len(ks->rk) > 0 &&
	       ks->delivered + ks->failed < ks->sent && !sink_brokers_gone(ks))
		rd_kafka_poll(ks->rk, 100);
	if (sink_brokers_gone(ks))
		return -1;
	rd_kafka_poll(ks->rk, 0);
	return ks->failed ? -1 : 0;
}

int kafka_sink_close(struct kafka_sink *ks, int status)
{
	double deadline =
	    fx_now() + 2.0 * (double)ks->o->conf.timeout_ms / 1000;
	size_t i;

	while (ks->delivered + ks->failed < ks->sent && fx_now() < deadline &&
	       !sink_brokers_gone(ks))
		rd_kafka_poll(ks->rk, 100);
	if (ks->delivered + ks->failed < ks->sent) {
		/* never report as delivered what was not */
		rd_kafka_purge(ks->rk, RD_KAFKA_PURGE_F_QUEUE |
		                           RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(ks->rk, 1000);
		ks->failed += ks->sent - ks->delivered - ks->failed;
	}
	ks->ctx->st.records_out += ks->delivered;
	if (ks->failed) {
		const char *broker = ks->health.last_error;

		fx_warn(ks->ctx,
		        "%" PRIu64 " of %" PRIu64
		        " records failed, first error: %s%s%s%s",
		        ks->failed, ks->sent, ks->first_error,
		        *broker ? " (" : "", broker, *broker ? ")" : "");
		if (!status)
			status = FX_EXIT_IO;
	}
	for (i = 0; i < ks->ntopics; i++) {
		rd_kafka_topic_destroy(ks->topics[i].rkt);
		free(ks->topics[i].name);
	}
	free(ks->topics);
	rd_kafka_destroy(ks->rk);
	json_paths_free(&ks->paths);
	fx_buf_free(&ks->value);
	fx_buf_free(&ks->key);
	fx_buf_free(&ks->name);
	fx_buf_free(&ks->hval);
	free(ks);
	return status;
}
