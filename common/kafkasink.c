/* kafkasink.c - the Kafka sink (fx-sink); see kafka.h */
#include "kafka.h"
#include "kafka_internal.h"
#include "base64.h"
#include "buf.h"
#include "checkpoint.h"
#include "err.h"
#include "fsutil.h"
#include "fxtime.h"
#include "json.h"
#include "lineage.h"
#include "upsert.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdatomic.h>
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

/*
 * The record's _fx members the sink reads. They are not among the paths
 * the scanner looks for (kafka_sink_paths: --key FIELD, or --upsert's):
 * with no path at all a record goes through the vector scanner, and a
 * path the scanner compares with every key of the same length costs a
 * comparison a record ("song_id" and "_fx_key"). A record that has none
 * (json_scan() did not say JSON_SCAN_HAS_FX) has none to read; one that
 * has is walked once (read_fx_members).
 */
enum {
	META_DEST,
	META_KEY,
	META_HEADERS,
	META_PARTITION,
	META_TS,
	NMETA,
};

static const struct {
	const char *name;
	size_t len;
} meta_names[NMETA] = {
    {"_fx_dest", 8},       {"_fx_key", 7}, {"_fx_headers", 11},
    {"_fx_partition", 13}, {"_fx_ts", 6},
};

/*
 * A topic the sink writes: its handle's opaque (the partitioner's and the
 * delivery reports' way back here), so it does not move once made.
 */
struct sink_topic {
	char *name;
	rd_kafka_topic_t *rkt;
	struct lineage_ds *ds; /* its lineage dataset */
	uint64_t sent;         /* records handed to librdkafka */
	uint64_t failed;       /* of those, reported failed */
	atomic_uint next; /* the next keyless record's partition, in turn */
};

/* An output partition's records in the open transaction (--state). */
struct txn_range {
	rd_kafka_topic_t *rkt;
	int32_t partition;
	int64_t first, last; /* offsets delivered */
	uint64_t n;
};

struct kafka_sink {
	struct fx_ctx *ctx;
	const struct kafka_sink_opts *o;
	rd_kafka_t *rk;
	struct kafka_health health;

	struct sink_topic **topics;
	size_t ntopics, topics_cap, last;
	int create_unsupported; /* said once */

	struct json_paths paths;       /* --key FIELD (path 0), or --upsert's */
	const struct json_value *vals; /* of the record being written */
	struct json_value meta[NMETA]; /* its _fx members */
	struct fx_buf value, key, name, hval;

	uint64_t sent, delivered, failed;
	/*
	 * librdkafka reports failed records only (the user's -X
	 * delivery.report.only.error=true, not with --state): delivered is
	 * counted from the queue's length (sink_count_delivered).
	 */
	int errors_only;
	char first_error[512];
	/*
	 * A failure made kafka_sink_write() or kafka_sink_write_run() tell
	 * the caller to stop reading: the message says after which record.
	 */
	int stopped;
	double last_poll;

	/* transactions, one per checkpoint (--state): see "Transactions" */
	int txn;      /* on */
	int txn_open; /* begun, not yet committed or aborted */
	char *txn_id; /* transactional.id, the commit log's key */
	char txn_timeout[32];
	rd_kafka_topic_t *commit_rkt; /* the commit log */
	struct ckpt_state committed;  /* STATE/committed.json */
	struct ckpt_barrier barrier;
	struct txn_range *ranges;
	size_t nranges, capranges;
	uint64_t records_commit; /* delivered in committed transactions */
	int marker_failed;
	char marker_error[512];
	/*
	 * FX_TEST_CRASH_AFTER_COMMIT=K, for tests only: SIGKILL right after
	 * checkpoint K's commit_transaction, before committed.json.
	 */
	uint64_t crash_after;
	/*
	 * committed.json's id before the commit log moved it on, and while
	 * skipping (a source that resumed from there): drop what comes
	 * until barrier skip_until, committed already.
	 */
	int recovered;
	uint64_t recovered_from;
	int restored; /* the restore record was read */
	uint64_t skip_until;
	struct fx_buf marker;

	struct upsert *up; /* --upsert */

	/* kafka_sink_write_run(): one rd_kafka_produce_batch()'s records */
	rd_kafka_message_t *batch;
	size_t *batch_key; /* an unescaped key's offset in ks->key, or -1 */
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

/* A record of the open transaction was delivered at m->offset. */
static void txn_delivered(struct kafka_sink *ks, const rd_kafka_message_t *m)
{
	struct txn_range *r;
	size_t i;

	for (i = ks->nranges; i-- > 0;) {
		r = &ks->ranges[i];
		if (r->rkt == m->rkt && r->partition == m->partition)
			goto found;
	}
	FX_GROW(ks->ranges, ks->nranges + 1, ks->capranges, 8);
	r = &ks->ranges[ks->nranges++];
	r->rkt = m->rkt;
	r->partition = m->partition;
	r->first = r->last = m->offset;
	r->n = 0;
found:
	if (m->offset < r->first)
		r->first = m->offset;
	if (m->offset > r->last)
		r->last = m->offset;
	r->n++;
}

static struct sink_topic *topic_of(const rd_kafka_topic_t *rkt)
{
	return rd_kafka_topic_opaque(rkt);
}

/*
 * When only failures are reported, the records delivered are
 * those handed over, less those failed, less those librdkafka still
 * holds (queued, in flight, or failed with the report not yet served: a
 * lower bound, exact once its queues are empty). A count that grows
 * means a broker answers again.
 */
static void sink_count_delivered(struct kafka_sink *ks)
{
	uint64_t held, n;

	if (!ks->errors_only)
		return;
	held = (uint64_t)rd_kafka_outq_len(ks->rk);
	n = ks->sent - ks->failed > held ? ks->sent - ks->failed - held : 0;
	if (n > ks->delivered) {
		ks->delivered = n;
		ks->health.down_since = 0;
	}
}

/*
 * The partitioner (unless -X partitioner= says otherwise): a keyed record
 * goes where murmur2 of its key says, as the Java client puts it; a
 * keyless one to the topic's partitions in turn. librdkafka's random
 * choice costs a lock and a random number a record, and spreads less
 * evenly (fx-devbroker keeps only ~5 MiB a partition).
 */
static int32_t partition_record(const rd_kafka_topic_t *rkt, const void *key,
                                size_t keylen, int32_t partition_cnt,
                                void *rkt_opaque, void *msg_opaque)
{
	struct sink_topic *t = rkt_opaque;

	if (key || !t)
		return rd_kafka_msg_partitioner_murmur2_random(
		    rkt, key, keylen, partition_cnt, rkt_opaque, msg_opaque);
	return (int32_t)(atomic_fetch_add_explicit(&t->next, 1,
	                                           memory_order_relaxed) %
	                 (unsigned)partition_cnt);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
	struct kafka_sink *ks = ((struct kafka_health *)opaque)->owner;

	(void)rk;
	if (ks->commit_rkt && m->rkt == ks->commit_rkt) {
		/* the commit marker: not one of the records */
		if (m->err && !ks->marker_failed++)
			snprintf(ks->marker_error, sizeof(ks->marker_error),
			         "topic '%s': %s", rd_kafka_topic_name(m->rkt),
			         rd_kafka_err2str(m->err));
		return;
	}
	if (!m->err) {
		ks->delivered++;
		ks->health.down_since = 0; /* a broker answers again */
		if (ks->txn) /* counted when the transaction commits */
			txn_delivered(ks, m);
		else
			lineage_count(topic_of(m->rkt)->ds, 1);
		return;
	}
	topic_of(m->rkt)->failed++;
	if (!ks->failed++)
		snprintf(ks->first_error, sizeof(ks->first_error),
		         "topic '%s': %s", rd_kafka_topic_name(m->rkt),
		         rd_kafka_err2str(m->err));
}

/*
 * Idempotent, acks=all: a record is delivered once or reported failed.
 * Batches as librdkafka makes them by default (linger.ms 5, 10,000
 * records or 1 MB): measured against kcat -P on fx-devbroker (200,000
 * events, 4 partitions), batches of 100,000 records or 4 MB after 20 ms
 * cost fx-sink a tenth more CPU time (the records of a batch no longer in
 * the cache when it is written) and gained nothing. Every delivery report
 * comes back to this thread, which frees the record: with
 * delivery.report.only.error librdkafka's broker thread frees records
 * this thread allocated, and the two contend for malloc's lock (a third
 * more CPU time; sink_count_delivered is what keeps the counts right if
 * it is set).
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
    "5",
    "batch.num.messages",
    "10000",
    "batch.size",
    "1000000",
    "queue.buffering.max.messages",
    "1000000",
    "queue.buffering.max.kbytes",
    "1048576",
    "log.connection.close",
    "false",
    "delivery.report.only.error",
    "false",
    NULL,
};

/*
 * librdkafka allocates every record (a copy of its bytes) in this thread
 * and each produce request's buffer (a megabyte) in its broker thread, and
 * frees them when the batch is acknowledged. glibc gives such buffers back
 * to the kernel (munmap, a trimmed heap) and takes fresh pages again, a
 * page fault each 4 KiB: 10,400 faults for 200,000 events, half of them in
 * the broker thread's copy into the request. Kept in the heap, the pages
 * are reused: 5,800 faults and a tenth less CPU time (perf stat, 4
 * partitions, keyed). What is kept is bounded by the queue's peak.
 */
static void producer_keep_freed_memory(void)
{
#ifdef __GLIBC__
	(void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
	(void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

/* Which option asked for topics to be created, for messages. */
static const char *what(const struct kafka_sink *ks)
{
	return ks->o->create_topics ? "--create-topics" : "--table";
}

/*
 * Says once that the broker cannot create topics, then relies on
 * auto-creation. compact: cleanup.policy=compact (the commit log).
 */
static void create_topic(struct kafka_sink *ks, const char *name,
                         int partitions, int replication, int compact)
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
	if (compact)
		rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
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
		create_topic(ks, name, partitions, replication, 0);
}

static rd_kafka_topic_t *sink_topic(struct kafka_sink *ks, const char *name,
                                    size_t len)
{
	struct sink_topic *t;
	rd_kafka_topic_conf_t *tc;
	size_t i;

	for (i = 0; i < ks->ntopics; i++) {
		t = ks->topics[(ks->last + i) % ks->ntopics];
		if (strlen(t->name) == len && memcmp(t->name, name, len) == 0) {
			ks->last = (ks->last + i) % ks->ntopics;
			return t->rkt;
		}
	}
	FX_GROW(ks->topics, ks->ntopics + 1, ks->topics_cap, 8);
	t = fx_malloc(sizeof(*t));
	memset(t, 0, sizeof(*t));
	atomic_init(&t->next, 0);
	ks->topics[ks->ntopics] = t;
	t->name = fx_strndup(name, len);
	if (ks->o->create_topics)
		create_topic(ks, t->name, (int)ks->o->partitions, -1, 0);
	else if (ks->o->create)
		maybe_create(ks, t->name);
	/* t rides along to the partitioner and the delivery report */
	t->ds = lineage_topic(ks->ctx, LINEAGE_OUTPUT,
	                      kafka_lineage_bootstrap(&ks->o->conf), t->name);
	tc = rd_kafka_default_topic_conf_dup(ks->rk); /* keeps partitioner */
	rd_kafka_topic_conf_set_opaque(tc, t);
	t->rkt = rd_kafka_topic_new(ks->rk, t->name, tc);
	if (!t->rkt)
		fx_die(ks->ctx, FX_EXIT_USAGE, "topic '%s': %s", t->name,
		       rd_kafka_err2str(rd_kafka_last_error()));
	ks->last = ks->ntopics++;
	return t->rkt;
}

/* =====================================================================
 * Transactions (--state): one per checkpoint; share/doc/checkpoints.md and
 * fx-sink(1), CHECKPOINTS, are the design.
 *
 * Transaction K holds the records since checkpoint K-1 and, last, a marker
 * in the commit log (partition 0, keyed by the transactional.id): barrier
 * K with the job's id and the offsets its records got. At barrier K the
 * records are flushed, the marker produced, the transaction committed, and
 * then STATE/committed.json written. A crash between the last two leaves
 * the marker as the only witness of K: at start, after init_transactions
 * (which settles whatever a predecessor left open), the commit log is
 * read with isolation.level=read_committed and a marker newer than
 * committed.json is written to it before anything else.
 */

/* The job's transactional.id: "fx-sink." and a hash of the state's path. */
static char *txn_default_id(struct fx_ctx *ctx, const char *state)
{
	char real[PATH_MAX], id[64];
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	const unsigned char *p;

	if (!realpath(state, real))
		fx_die(ctx, FX_EXIT_IO, "%s: %s", state, strerror(errno));
	for (p = (const unsigned char *)real; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	snprintf(id, sizeof(id), "fx-sink.%016" PRIx64, h);
	return fx_strdup(id);
}

static int state_error(struct kafka_sink *ks, const char *what)
{
	char path[PATH_MAX + 32];

	fx_warn(ks->ctx, "%s: cannot %s: %s",
	        ckpt_state_path(ks->o->state, path, sizeof(path)), what,
	        strerror(errno));
	return FX_EXIT_IO;
}

/* The commit log's consumer says only what is wrong. */
static void log_errors(const rd_kafka_t *rk, int level, const char *fac,
                       const char *buf)
{
	const struct kafka_health *h = rd_kafka_opaque(rk);

	if (level <= 3)
		fx_warn(h->ctx, "librdkafka: %s: %s", fac, buf);
}

/* assigned, not subscribed: the group is never joined, nothing committed */
static const char *const commit_log_defaults[] = {
    "group.id",
    "fx-sink-commit-log",
    "isolation.level",
    "read_committed",
    "enable.partition.eof",
    "true",
    "enable.auto.commit",
    "false",
    "auto.offset.reset",
    "earliest",
    NULL,
};

/* Keeps in *last the newest barrier of the job's markers in m. */
static void commit_log_apply(struct kafka_sink *ks, rd_kafka_message_t *m,
                             struct ckpt_barrier *last)
{
	struct ckpt_barrier br = {0};

	if (m->key_len != strlen(ks->txn_id) ||
	    memcmp(m->key, ks->txn_id, m->key_len) != 0 || !m->payload)
		return;
	if (ckpt_barrier_parse(m->payload, m->len, &br) == 0 && !br.restore &&
	    br.id > last->id) {
		ckpt_barrier_free(last);
		*last = br;
		return;
	}
	ckpt_barrier_free(&br);
}

/*
 * Reads partition 0 of the commit log to its end (the last stable offset:
 * committed transactions only) and keeps the job's newest barrier in last
 * (id 0: none). No topic: no marker. 0 or FX_EXIT_IO (reported).
 */
static int commit_log_last(struct kafka_sink *ks, struct ckpt_barrier *last)
{
	const char *topic = rd_kafka_topic_name(ks->commit_rkt);
	const struct rd_kafka_metadata *md = NULL;
	struct kafka_health h = {.ctx = ks->ctx};
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_topic_t *rkt;
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk;
	char errstr[512];
	double quiet;
	int rc = 0, exists;

	kafka_conf_apply(ks->ctx, c, &ks->o->conf, commit_log_defaults);
	rd_kafka_conf_set_opaque(c, &h);
	rd_kafka_conf_set_log_cb(c, log_errors);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
	if (!rk) {
		fx_warn(ks->ctx, "commit log '%s': %s", topic, errstr);
		return FX_EXIT_USAGE;
	}
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	err = rd_kafka_metadata(rk, 0, rkt, &md, (int)ks->o->conf.timeout_ms);
	rd_kafka_topic_destroy(rkt);
	if (err) {
		fx_warn(ks->ctx, "commit log '%s': %s", topic,
		        rd_kafka_err2str(err));
		rd_kafka_destroy(rk);
		return FX_EXIT_IO;
	}
	exists = md->topic_cnt == 1 && !md->topics[0].err &&
	         md->topics[0].partition_cnt > 0;
	rd_kafka_metadata_destroy(md);
	if (!exists) {
		rd_kafka_destroy(rk);
		return 0;
	}
	list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, topic, 0)->offset =
	    RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	quiet = fx_now();
	for (;;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		int eof;

		if (!m) {
			if ((fx_now() - quiet) * 1000 <
			    (double)ks->o->conf.timeout_ms)
				continue;
			fx_warn(
			    ks->ctx,
			    "commit log '%s': its end not reached after %lld ms without a message",
			    topic, (long long)ks->o->conf.timeout_ms);
			rc = FX_EXIT_IO;
			break;
		}
		quiet = fx_now();
		eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
		if (m->err && !eof) {
			fx_warn(ks->ctx, "commit log '%s': %s", topic,
			        rd_kafka_message_errstr(m));
			rc = FX_EXIT_IO;
		} else if (!eof) {
			commit_log_apply(ks, m, last);
		}
		rd_kafka_message_destroy(m);
		if (eof || rc)
			break;
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

/* committed.json := id and the positions of br; 0 or FX_EXIT_IO. */
static int state_commit(struct kafka_sink *ks, const struct ckpt_barrier *br)
{
	size_t i;

	for (i = 0; i < ks->committed.npos; i++)
		free(ks->committed.pos[i].topic);
	ks->committed.npos = 0;
	for (i = 0; i < br->npos; i++)
		ckpt_state_set_position(&ks->committed, br->pos[i].topic,
		                        br->pos[i].partition,
		                        br->pos[i].offset);
	ks->committed.id = br->id;
	if (ckpt_state_write(ks->o->state, &ks->committed) != 0)
		return state_error(ks, "write");
	return 0;
}

/* Says what a transactional call failed with; frees e. FX_EXIT_IO. */
static int txn_error(struct kafka_sink *ks, const char *call,
                     rd_kafka_error_t *e)
{
	fx_warn(ks->ctx, "%s: %s", call, rd_kafka_error_string(e));
	rd_kafka_error_destroy(e);
	return FX_EXIT_IO;
}

/*
 * Aborts the open transaction (the records since the last checkpoint),
 * unless the producer can no longer (fenced, fatal): then the broker
 * aborts it, at the latest when the restart's init_transactions fences
 * this one. 0 or FX_EXIT_IO.
 */
static int txn_abort(struct kafka_sink *ks)
{
	rd_kafka_error_t *e;

	if (!ks->txn_open)
		return 0;
	ks->txn_open = 0;
	ks->nranges = 0;
	e = rd_kafka_abort_transaction(ks->rk, (int)ks->o->conf.timeout_ms);
	return e ? txn_error(ks, "abort_transaction", e) : 0;
}

static int txn_begin(struct kafka_sink *ks)
{
	rd_kafka_error_t *e;

	if (ks->txn_open)
		return 0;
	e = rd_kafka_begin_transaction(ks->rk);
	if (e)
		return txn_error(ks, "begin_transaction", e);
	ks->txn_open = 1;
	return 0;
}

/* The marker: barrier br, the job, the offsets of the records. */
static void txn_marker(struct kafka_sink *ks, const struct ckpt_barrier *br)
{
	struct fx_buf *b = &ks->marker;
	size_t i;

	fx_buf_reset(b);
	ckpt_barrier_format(b, br->id, br->pos, br->npos, br->final);
	b->len--; /* the closing brace */
	fx_buf_adds(b, ",\"job\":");
	fx_buf_add_json_string(b, ks->txn_id, strlen(ks->txn_id));
	fx_buf_adds(b, ",\"output\":[");
	for (i = 0; i < ks->nranges; i++) {
		const struct txn_range *r = &ks->ranges[i];
		const char *t = rd_kafka_topic_name(r->rkt);
		char nums[80];

		fx_buf_adds(b, i ? ",[" : "[");
		fx_buf_add_json_string(b, t, strlen(t));
		snprintf(nums, sizeof(nums),
		         ",%" PRId32 ",%" PRId64 ",%" PRId64 "]", r->partition,
		         r->first, r->last);
		fx_buf_adds(b, nums);
	}
	fx_buf_adds(b, "]}");
}

/*
 * Barrier br: commits the records since the last one as checkpoint br->id
 * (module comment). 0 or FX_EXIT_IO (reported); on a failure before the
 * commit the transaction is aborted, and the restart does br->id again.
 */
static int txn_commit(struct kafka_sink *ks, const struct ckpt_barrier *br,
                      const struct fx_where *where)
{
	rd_kafka_resp_err_t err;
	rd_kafka_error_t *e;
	char w[256];
	size_t i;
	int rc;

	if (br->id <= ks->committed.id) {
		fx_warn(ks->ctx,
		        "%s: checkpoint %" PRIu64 " after checkpoint %" PRIu64
		        " was committed: ids must count up",
		        fx_where_format(where, w, sizeof(w)), br->id,
		        ks->committed.id);
		return FX_EXIT_IO;
	}
	rc = txn_begin(ks);
	if (rc)
		return rc;
	/* librdkafka's flush sends at once, not after linger.ms */
	rd_kafka_flush(ks->rk, (int)ks->o->conf.timeout_ms);
	if (kafka_sink_flush(ks) != 0) {
		fx_warn(
		    ks->ctx,
		    "checkpoint %" PRIu64 ": %" PRIu64 " of %" PRIu64
		    " records failed, first error: %s: the transaction is aborted",
		    br->id, ks->failed, ks->sent, ks->first_error);
		txn_abort(ks);
		return FX_EXIT_IO;
	}
	txn_marker(ks, br);
	err = rd_kafka_producev(
	    ks->rk, RD_KAFKA_V_RKT(ks->commit_rkt), RD_KAFKA_V_PARTITION(0),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_VALUE(ks->marker.p, ks->marker.len),
	    RD_KAFKA_V_KEY(ks->txn_id, strlen(ks->txn_id)), RD_KAFKA_V_END);
	if (err) {
		fx_warn(ks->ctx, "checkpoint %" PRIu64 ": commit log '%s': %s",
		        br->id, rd_kafka_topic_name(ks->commit_rkt),
		        rd_kafka_err2str(err));
		txn_abort(ks);
		return FX_EXIT_IO;
	}
	e = rd_kafka_commit_transaction(ks->rk, (int)ks->o->conf.timeout_ms);
	if (e || ks->marker_failed) {
		if (e)
			txn_error(ks, "commit_transaction", e);
		else
			fx_warn(ks->ctx, "checkpoint %" PRIu64 ": %s", br->id,
			        ks->marker_error);
		txn_abort(ks);
		return FX_EXIT_IO;
	}
	ks->txn_open = 0;
	/* test-only (tests/checkpoint-kafka.bats): die in the gap */
	if (ks->crash_after == br->id)
		raise(SIGKILL);
	for (i = 0; i < ks->nranges; i++) {
		lineage_count(topic_of(ks->ranges[i].rkt)->ds, ks->ranges[i].n);
		ks->records_commit += ks->ranges[i].n;
	}
	ks->nranges = 0;
	return state_commit(ks, br);
}

/* A "checkpoint" or "restore" record; others (watermarks) are ignored. */
static int txn_control(struct kafka_sink *ks, const struct record *rec,
                       const struct fx_where *where)
{
	char w[256], path[PATH_MAX + 32];
	struct json_member m;
	size_t pos = 0;

	if (!json_object_next(rec->p, rec->len, &pos, &m) ||
	    !(json_string_equals(&m.val, "checkpoint", 10) ||
	      json_string_equals(&m.val, "restore", 7)))
		return 0;
	if (ckpt_barrier_parse(rec->p, rec->len, &ks->barrier) != 0)
		return fx_bad_record(
		    ks->ctx, where, "_fx", rec->p, rec->len,
		    "not a valid checkpoint or restore record");
	if (!ks->barrier.restore && !ks->restored)
		return ckpt_refuse_unrestored(ks->ctx, where, &ks->barrier,
		                              ks->o->state, ks->committed.id);
	if (ks->skip_until && !ks->barrier.restore) {
		/* committed already: the transactions the log witnessed */
		if (ks->barrier.id == ks->skip_until)
			ks->skip_until = 0;
		if (ks->barrier.id <= ks->skip_until || !ks->skip_until)
			return 0;
		fx_warn(ks->ctx,
		        "%s: checkpoint %" PRIu64 " skips past committed "
		        "checkpoint %" PRIu64,
		        fx_where_format(where, w, sizeof(w)), ks->barrier.id,
		        ks->skip_until);
		return FX_EXIT_IO;
	}
	if (!ks->barrier.restore)
		return txn_commit(ks, &ks->barrier, where);
	ks->restored = 1;
	if (ks->barrier.id == ks->committed.id)
		return 0;
	if (ks->recovered && ks->barrier.id == ks->recovered_from) {
		/* the source read committed.json before it was brought up */
		ks->skip_until = ks->committed.id;
		return 0;
	}
	fx_warn(ks->ctx,
	        "%s: the source resumes from checkpoint %" PRIu64
	        " but the sink committed %" PRIu64 " (%s)",
	        fx_where_format(where, w, sizeof(w)), ks->barrier.id,
	        ks->committed.id,
	        ckpt_state_path(ks->o->state, path, sizeof(path)));
	return FX_EXIT_IO;
}

/*
 * At start: init_transactions, then committed.json brought up to the
 * commit log. 0 or an exit status (reported).
 */
static int txn_start(struct kafka_sink *ks)
{
	struct ckpt_barrier last = {0};
	char path[PATH_MAX + 32];
	rd_kafka_error_t *e;
	int rc;

	e = rd_kafka_init_transactions(ks->rk, (int)ks->o->conf.timeout_ms);
	if (e)
		return txn_error(ks, "init_transactions", e);
	rc = commit_log_last(ks, &last);
	if (!rc && last.id > ks->committed.id) {
		fx_warn(
		    ks->ctx,
		    "checkpoint %" PRIu64
		    " was committed to Kafka but not to %s (a crash in between): written now",
		    last.id, ckpt_state_path(ks->o->state, path, sizeof(path)));
		ks->recovered = 1;
		ks->recovered_from = ks->committed.id;
		rc = state_commit(ks, &last);
	}
	ckpt_barrier_free(&last);
	return rc;
}

/* At the end: what no barrier committed is aborted. */
static int txn_close(struct kafka_sink *ks, int status)
{
	int rc = txn_abort(ks);

	ks->ctx->st.records_out += ks->records_commit;
	return status ? status : rc;
}

/*
 * --state, before the producer: committed.json read (a corrupt one stops
 * the program), the state directory made, the transactional.id chosen.
 * defaults: sink_defaults and the transactional.id.
 */
static void txn_prepare(struct kafka_sink *ks, const char **defaults)
{
	const struct kafka_sink_opts *o = ks->o;
	const char *crash = getenv("FX_TEST_CRASH_AFTER_COMMIT");
	char path[PATH_MAX + 32];
	size_t n = 0;

	if (ckpt_state_read(o->state, &ks->committed) != 0) {
		if (errno == EBADMSG)
			fx_die(
			    ks->ctx, FX_EXIT_IO,
			    "%s: corrupt: not a whole committed.json (the job's committed checkpoint)",
			    ckpt_state_path(o->state, path, sizeof(path)));
		exit(state_error(ks, "read"));
	}
	if (fs_mkdir_p(o->state) != 0)
		fx_die(ks->ctx, FX_EXIT_IO, "%s: cannot create: %s", o->state,
		       strerror(errno));
	ks->txn = 1;
	ks->txn_id = txn_default_id(ks->ctx, o->state);
	ks->crash_after = crash ? strtoull(crash, NULL, 10) : 0;
	while (sink_defaults[n])
		n++;
	memcpy(defaults, sink_defaults, n * sizeof(*defaults));
	defaults[n++] = "transactional.id";
	defaults[n++] = ks->txn_id;
	/* message.timeout.ms (--timeout) may not exceed it */
	snprintf(ks->txn_timeout, sizeof(ks->txn_timeout), "%" PRId64,
	         o->conf.timeout_ms > 60000 ? o->conf.timeout_ms : 60000);
	defaults[n++] = "transaction.timeout.ms";
	defaults[n++] = ks->txn_timeout;
	defaults[n] = NULL;
}

/* The commit log's name: --commit-topic, TOPIC.fx-commits or fx-commits. */
static void txn_commit_topic(struct kafka_sink *ks)
{
	const struct kafka_sink_opts *o = ks->o;
	struct fx_buf name = {0};

	if (o->commit_topic) {
		fx_buf_adds(&name, o->commit_topic);
	} else {
		if (o->topic) {
			fx_buf_adds(&name, o->topic);
			fx_buf_addc(&name, '.');
		}
		fx_buf_adds(&name, "fx-commits");
	}
	fx_buf_addc(&name, 0);
	if (o->create_topics)
		create_topic(ks, name.p, 1, -1, 1);
	ks->commit_rkt = rd_kafka_topic_new(ks->rk, name.p, NULL);
	if (!ks->commit_rkt)
		fx_die(ks->ctx, FX_EXIT_USAGE, "topic '%s': %s", name.p,
		       rd_kafka_err2str(rd_kafka_last_error()));
	fx_buf_free(&name);
}

/* Whether property key of c is value. */
static int conf_is(const rd_kafka_conf_t *c, const char *key, const char *value)
{
	char v[64];
	size_t n = sizeof(v);

	return rd_kafka_conf_get(c, key, v, &n) == RD_KAFKA_CONF_OK &&
	       strcmp(v, value) == 0;
}

int kafka_sink_open(struct fx_ctx *ctx, const struct kafka_sink_opts *o,
                    struct kafka_sink **out)
{
	struct kafka_sink *ks = fx_malloc(sizeof(*ks));
	const char
	    *defaults[sizeof(sink_defaults) / sizeof(*sink_defaults) + 4];
	const char *perr;
	rd_kafka_conf_t *c;
	char errstr[512];
	size_t idlen = sizeof(errstr);
	int rc;

	memset(ks, 0, sizeof(*ks));
	ks->ctx = ctx;
	ks->o = o;
	ks->health.owner = ks;
	if (o->key && json_paths_add(&ks->paths, o->key, &perr) < 0)
		fx_usage_error(ctx, "--key: '%s': %s", o->key, perr);
	if (o->upsert) {
		char err[512];

		if (o->key)
			fx_usage_error(ctx, "--upsert makes the message key: "
			                    "not with --key");
		ks->up = fx_malloc(sizeof(*ks->up));
		if (upsert_init(ks->up, o->upsert, &ks->paths, err,
		                sizeof(err)))
			fx_usage_error(ctx, "--upsert: %s", err);
	}
	if (o->state)
		txn_prepare(ks, defaults);
	c = kafka_conf_build(ctx, RD_KAFKA_PRODUCER, &o->conf,
	                     o->state ? defaults : sink_defaults, &ks->health);
	if (o->state &&
	    rd_kafka_conf_get(c, "transactional.id", errstr, &idlen) ==
	        RD_KAFKA_CONF_OK &&
	    strcmp(errstr, ks->txn_id) != 0) {
		/* -X transactional.id= names the job */
		free(ks->txn_id);
		ks->txn_id = fx_strdup(errstr);
	}
	if (o->state) /* the transaction's marker lists the offsets */
		kafka_conf_set(ctx, c, "delivery.report.only.error", "false",
		               "--state");
	ks->errors_only = conf_is(c, "delivery.report.only.error", "true");
	if (conf_is(c, "partitioner", "murmur2_random") &&
	    rd_kafka_conf_get_default_topic_conf(c))
		rd_kafka_topic_conf_set_partitioner_cb(
		    rd_kafka_conf_get_default_topic_conf(c), partition_record);
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	producer_keep_freed_memory();
	ks->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
	if (!ks->rk) {
		fx_warn(ctx, "cannot create producer: %s", errstr);
		json_paths_free(&ks->paths);
		if (ks->up)
			upsert_free(ks->up);
		free(ks->up);
		free(ks);
		return FX_EXIT_USAGE;
	}
	rc = kafka_check_brokers(ctx, ks->rk, &ks->health, o->conf.timeout_ms);
	if (!rc && o->topic)
		sink_topic(ks, o->topic, strlen(o->topic));
	if (!rc && ks->txn) {
		txn_commit_topic(ks);
		rc = txn_start(ks);
	}
	if (rc) {
		kafka_sink_close(ks, rc);
		return rc;
	}
	*out = ks;
	return 0;
}

/*
 * A record's _fx members (its flags said JSON_SCAN_HAS_FX), in one walk:
 * ks->meta from them (the last of a key wins, as in json_scan()), and
 * unless --keep-meta the value without them in ks->value. A member is an
 * _fx one by its key as written, as for JSON_SCAN_HAS_FX and the value's
 * stripping: "\u005ffx_key" is data.
 */
static void read_fx_members(struct kafka_sink *ks, const struct record *rec)
{
	int strip = !ks->o->keep_meta, first = 1, i;
	struct json_member m;
	size_t pos = 0;

	if (strip) {
		fx_buf_reset(&ks->value);
		fx_buf_addc(&ks->value, '{');
	}
	while (json_object_next(rec->p, rec->len, &pos, &m)) {
		int fx = m.key.len >= 5 && memcmp(m.key.p, "\"_fx", 4) == 0;

		for (i = 0; fx && i < NMETA; i++)
			if (m.key.len == meta_names[i].len + 2 &&
			    memcmp(m.key.p + 1, meta_names[i].name,
			           meta_names[i].len) == 0)
				ks->meta[i] = m.val;
		if (!strip || fx)
			continue;
		if (!first)
			fx_buf_addc(&ks->value, ',');
		fx_buf_add(&ks->value, m.p, m.len);
		first = 0;
	}
	if (strip)
		fx_buf_addc(&ks->value, '}');
}

/* The key bytes: --key FIELD, else _fx_key. 0: key; 1: no key; -1: bad */
/*
 * The message key made of --key's value v: none (1) if it is missing or
 * null; else 0, a string unescaped (into buf, *p NULL, when it holds an
 * escape; else *p, *len between its quotes), any other value's bytes as
 * written (*p, *len).
 */
static int field_key(const struct json_value *v, struct fx_buf *buf,
                     const char **p, size_t *len)
{
	size_t at = buf->len;

	*p = NULL;
	*len = 0;
	if (v->type == JSON_MISSING || v->type == JSON_NULL)
		return 1;
	if (v->type == JSON_STRING && v->escaped) {
		json_string_unescape(v, buf);
		*len = buf->len - at;
	} else if (v->type == JSON_STRING) {
		*p = v->p + 1;
		*len = v->len - 2;
	} else {
		*p = v->p;
		*len = v->len;
	}
	return 0;
}

static int record_key(struct kafka_sink *ks, const char **why)
{
	const struct json_value *v = &ks->vals[0];
	const char *p;
	size_t len;
	cJSON *j;
	int rc;

	fx_buf_reset(&ks->key);
	if (ks->o->key) {
		if (field_key(v, &ks->key, &p, &len))
			return 1;
		if (p)
			fx_buf_add(&ks->key, p, len);
		return 0;
	}
	v = &ks->meta[META_KEY];
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
	const struct json_value *v = &ks->meta[META_HEADERS];
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

/*
 * --keep-partition: the partition in _fx_partition into *part (librdkafka's
 * partitioner's when the option is not given, or the member is missing or
 * null). -1 when it is not a whole number from 0 to INT32_MAX, written
 * without a fraction or exponent, as fx-consume --meta writes it.
 */
static int record_partition(struct kafka_sink *ks, int32_t *part)
{
	const struct json_value *v = &ks->meta[META_PARTITION];
	int64_t n = 0;
	size_t i;

	*part = RD_KAFKA_PARTITION_UA;
	if (!ks->o->keep_partition || v->type == JSON_MISSING ||
	    v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_NUMBER || v->len == 0 || v->len > 10)
		return -1;
	for (i = 0; i < v->len; i++) {
		if (v->p[i] < '0' || v->p[i] > '9')
			return -1;
		n = n * 10 + (v->p[i] - '0');
	}
	if (n > INT32_MAX)
		return -1;
	*part = (int32_t)n;
	return 0;
}

/*
 * --keep-partition: the message timestamp in _fx_ts into *ts, epoch ms (0:
 * none, the producer's clock, as without the option or when the member is
 * missing or null). -1 when it is not an ISO-8601 date-time string at or
 * after the epoch, as fx-consume --meta writes it.
 */
static int record_timestamp(struct kafka_sink *ks, int64_t *ts)
{
	const struct json_value *v = &ks->meta[META_TS];

	*ts = 0;
	if (!ks->o->keep_partition || v->type == JSON_MISSING ||
	    v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_STRING || v->escaped ||
	    fx_time_parse_iso(v->p + 1, v->len - 2, ts) != 0 || *ts < 0) {
		*ts = 0;
		return -1;
	}
	return 0;
}

/* A record librdkafka did not take: failed, the first error kept. */
static void sink_refused(struct kafka_sink *ks, struct sink_topic *t,
                         rd_kafka_resp_err_t err)
{
	ks->sent++;
	t->failed++;
	if (!ks->failed++)
		snprintf(ks->first_error, sizeof(ks->first_error),
		         "topic '%s': %s", t->name, rd_kafka_err2str(err));
}

/* The caller is to stop reading: a record failed, or no broker is left. */
static int sink_stop(struct kafka_sink *ks)
{
	ks->stopped = 1;
	return FX_EXIT_IO;
}

/*
 * Delivery reports and errors: what a record's production ends with, at
 * least every 1024 records and every 100 ms. 0, or FX_EXIT_IO when a
 * record failed or no broker is left (sink_stop()).
 */
static int sink_serve(struct kafka_sink *ks, int now)
{
	/*
	 * The coarse clock, a read of the vDSO's page, is cheap enough for
	 * every record, the precise one is not.
	 */
	if (now || fx_now_coarse() - ks->last_poll >= 0.1) {
		ks->last_poll = fx_now_coarse();
		rd_kafka_poll(ks->rk, 0);
		sink_count_delivered(ks);
		if (sink_brokers_gone(ks))
			return sink_stop(ks);
	}
	return ks->failed ? sink_stop(ks) : 0;
}

/*
 * librdkafka's queue is full: serves its reports for up to 10 ms, so that
 * it empties as records are delivered or fail. 1 when it will not: a
 * record failed, or every broker has been away for --timeout (queued
 * records may then take several timeouts to fail).
 */
static int sink_wait_room(struct kafka_sink *ks)
{
	rd_kafka_poll(ks->rk, 10);
	return ks->failed || sink_brokers_gone(ks);
}

/* Produces, waiting for room in the queue; 0 or an exit status. */
static int produce(struct kafka_sink *ks, rd_kafka_topic_t *rkt, int32_t part,
                   const char *val, size_t vlen, int haskey,
                   rd_kafka_headers_t *hdrs, int64_t ts)
{
	/*
	 * RD_KAFKA_V_KEY casts its argument unparenthesised: a conditional
	 * in it would cast the condition, so decide the key first. An empty
	 * string is an empty key, not none (a buffer never grown has none).
	 */
	const void *key = !haskey ? NULL : ks->key.p ? ks->key.p : "";
	size_t klen = haskey ? ks->key.len : 0;
	struct sink_topic *t = topic_of(rkt);
	rd_kafka_resp_err_t err;

	t->sent++;
	for (;;) {
		/*
		 * Without headers or a timestamp the plain call: producev's
		 * argument list costs a third of what librdkafka spends on a
		 * record here. A timestamp of 0 is the producer's clock, NULL
		 * headers none.
		 */
		if (hdrs || ts)
			err = rd_kafka_producev(
			    ks->rk, RD_KAFKA_V_RKT(rkt),
			    RD_KAFKA_V_PARTITION(part),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			    RD_KAFKA_V_VALUE((void *)val, vlen),
			    RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_HEADERS(hdrs),
			    RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END);
		else if (rd_kafka_produce(rkt, part, RD_KAFKA_MSG_F_COPY,
		                          (void *)val, vlen, key, klen,
		                          NULL) != 0)
			err = rd_kafka_last_error();
		else
			err = RD_KAFKA_RESP_ERR_NO_ERROR;
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		if (sink_wait_room(ks))
			break;
	}
	if (err) {
		/* QUEUE_FULL here: not handed over, failed as it was read */
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		sink_refused(ks, t, err);
		return sink_stop(ks);
	}
	ks->sent++;
	return sink_serve(ks, (ks->sent & 1023) == 0);
}

/* Records in one rd_kafka_produce_batch() call. */
#define RUN_BATCH 512

int kafka_sink_takes_runs(const struct kafka_sink *ks)
{
	return ks->o->topic && !ks->txn && !ks->up &&
	       (!ks->o->key || ks->paths.v[0].nseg == 1);
}

/*
 * --key FIELD of a run's record (validated, no _fx members) into m, as
 * record_key() makes it: an escaped string unescaped into ks->key (its
 * offset in ks->batch_key, as the buffer may move), other values' bytes
 * where they are.
 */
static void run_record_key(struct kafka_sink *ks, rd_kafka_message_t *m,
                           size_t *key_at)
{
	const struct json_path *path = &ks->paths.v[0];
	struct json_value v;
	size_t at = ks->key.len;
	const char *p;

	json_object_get(m->payload, m->len, path->seg[0], path->seglen[0], &v);
	*key_at = (size_t)-1;
	if (field_key(&v, &ks->key, &p, &m->key_len))
		p = NULL;
	else if (!p)
		*key_at = at;
	m->key = (void *)p;
}

/*
 * Hands m[0..n) to librdkafka in one call, waiting for room in its queue
 * as produce() does: one lock of the topic and one reading of the clock
 * for them all, where produce() takes both for every record.
 */
static int produce_batch(struct kafka_sink *ks, struct sink_topic *t,
                         rd_kafka_message_t *m, size_t n)
{
	size_t i, done = 0;

	t->sent += n;
	while (done < n) {
		size_t full = n;

		rd_kafka_produce_batch(t->rkt, RD_KAFKA_PARTITION_UA,
		                       RD_KAFKA_MSG_F_COPY, m + done,
		                       (int)(n - done));
		/* after a full queue, librdkafka refuses the rest the same */
		for (i = done; i < n; i++) {
			if (m[i].err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				full = i;
				break;
			}
			if (m[i].err)
				sink_refused(ks, t, m[i].err);
			else
				ks->sent++;
		}
		done = full;
		if (done < n && sink_wait_room(ks)) {
			for (; done < n; done++)
				sink_refused(ks, t, m[done].err);
			return sink_stop(ks);
		}
	}
	return sink_serve(ks, 1);
}

int kafka_sink_write_run(struct kafka_sink *ks, const char *p, size_t len)
{
	const char *end = p + len;
	struct sink_topic *t = ks->topics[0];
	rd_kafka_message_t *m;
	size_t n, i;
	int rc = 0;

	if (!ks->batch) {
		ks->batch = fx_malloc(RUN_BATCH * sizeof(*ks->batch));
		ks->batch_key = fx_malloc(RUN_BATCH * sizeof(*ks->batch_key));
	}
	m = ks->batch;
	while (p < end && !rc) {
		fx_buf_reset(&ks->key);
		for (n = 0; n < RUN_BATCH && p < end; n++) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));

			memset(&m[n], 0, sizeof(m[n]));
			m[n].partition = RD_KAFKA_PARTITION_UA;
			m[n].payload = (void *)p;
			m[n].len = (size_t)(nl - p);
			if (ks->o->key)
				run_record_key(ks, &m[n], &ks->batch_key[n]);
			p = nl + 1;
		}
		if (ks->o->key)
			for (i = 0; i < n; i++)
				if (ks->batch_key[i] != (size_t)-1)
					m[i].key = ks->key.p + ks->batch_key[i];
		rc = produce_batch(ks, t, m, n);
	}
	/* the rest of the run, read: failed, as produce() counts a record */
	for (; p < end;
	     p = (const char *)memchr(p, '\n', (size_t)(end - p)) + 1) {
		t->sent++;
		sink_refused(ks, t, RD_KAFKA_RESP_ERR__FAIL);
	}
	return rc;
}

const struct json_paths *kafka_sink_paths(const struct kafka_sink *ks)
{
	return &ks->paths;
}

/*
 * The message key, into ks->key: --upsert's key fields, --key FIELD or
 * _fx_key. 0: a key; 1: none; -1: a bad record, *field and *why set.
 * *op: --upsert's row kind (else UPSERT_INSERT).
 */
static int message_key(struct kafka_sink *ks, enum upsert_op *op,
                       const char **field, const char **why)
{
	int rc;

	*op = UPSERT_INSERT;
	if (ks->up) {
		if (upsert_read(ks->up, ks->vals, op, field, why))
			return -1;
		fx_buf_reset(&ks->key);
		fx_buf_add(&ks->key, ks->up->key.p, ks->up->key.len);
		return 0;
	}
	rc = record_key(ks, why);
	if (rc < 0)
		*field = ks->o->key ? ks->o->key : "_fx_key";
	return rc;
}

int kafka_sink_write(struct kafka_sink *ks, const struct record *rec,
                     const struct json_value *vals, int flags,
                     const struct fx_where *where)
{
	const struct json_value *dest = &ks->meta[META_DEST];
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_topic_t *rkt;
	const char *why = NULL, *field = NULL, *val = rec->p;
	size_t vlen = rec->len;
	enum upsert_op op;
	int32_t part;
	int64_t ts;
	int haskey, rc = 0, i;

	if (flags & JSON_SCAN_CONTROL) {
		if (ks->txn)
			return txn_control(ks, rec, where);
		/* a checkpoint: everything before it is delivered first */
		if (memmem(rec->p, rec->len, "\"checkpoint\"", 12))
			return kafka_sink_flush(ks) ? sink_stop(ks) : 0;
		return 0;
	}
	if (ks->txn && !ks->restored)
		return ckpt_refuse_unrestored(ks->ctx, where, NULL,
		                              ks->o->state, ks->committed.id);
	ks->vals = vals;
	for (i = 0; i < NMETA; i++)
		ks->meta[i].type = JSON_MISSING;
	if (flags & JSON_SCAN_HAS_FX)
		read_fx_members(ks, rec);
	if (ks->o->topic) {
		rkt = ks->topics[0]->rkt;
	} else if (dest->type == JSON_STRING && !dest->escaped &&
	           dest->len > 2) {
		rkt = sink_topic(ks, dest->p + 1, dest->len - 2);
	} else {
		return fx_bad_record(
		    ks->ctx, where, "_fx_dest", rec->p, rec->len,
		    "no topic: -t not given and this is not a plain string");
	}
	haskey = message_key(ks, &op, &field, &why);
	if (!field && record_partition(ks, &part)) {
		const struct json_value *v = &ks->meta[META_PARTITION];

		return fx_bad_record(ks->ctx, where, "_fx_partition", rec->p,
		                     rec->len, "not a partition number: %.*s",
		                     (int)(v->len > 64 ? 64 : v->len), v->p);
	}
	if (!field && record_timestamp(ks, &ts)) {
		const struct json_value *v = &ks->meta[META_TS];

		return fx_bad_record(ks->ctx, where, "_fx_ts", rec->p, rec->len,
		                     "not an ISO-8601 time: %.*s",
		                     (int)(v->len > 64 ? 64 : v->len), v->p);
	}
	if (!field && record_headers(ks, &hdrs, &why))
		field = "_fx_headers";
	if (field)
		return fx_bad_record(ks->ctx, where, field, rec->p, rec->len,
		                     "%s", why);
	/*
	 * Not produced: --upsert's -U rows (the +U after one is), and what
	 * a resumed source sends again that was committed already.
	 */
	if (op == UPSERT_UPDATE_BEFORE || ks->skip_until ||
	    (ks->txn && (rc = txn_begin(ks)) != 0)) {
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		return rc;
	}
	if (op == UPSERT_DELETE) { /* a tombstone */
		val = NULL;
		vlen = 0;
	} else if ((flags & JSON_SCAN_HAS_FX) && !ks->o->keep_meta) {
		val = ks->value.p;
		vlen = ks->value.len;
	}
	return produce(ks, rkt, part, val, vlen, haskey == 0, hdrs, ts);
}

/*
 * Sends what is queued and serves delivery reports for up to 100 ms. A
 * flush, not a poll: librdkafka's flush sends what lingers at once (not
 * after linger.ms). With nothing left in its queues it returns at once:
 * then, if a count is still short, a short poll, so that a caller
 * waiting for it does not spin; not when every record is counted (a
 * poll with nothing to serve waits out its 10 ms: at every run's end).
 */
static void flush_some(struct kafka_sink *ks)
{
	rd_kafka_resp_err_t err = rd_kafka_flush(ks->rk, 100);

	sink_count_delivered(ks);
	if (!err && ks->delivered + ks->failed < ks->sent)
		rd_kafka_poll(ks->rk, 10);
}

int kafka_sink_flush(struct kafka_sink *ks)
{
	/* every message has its own timeout (--timeout): this ends */
	while (rd_kafka_outq_len(ks->rk) > 0 &&
	       ks->delivered + ks->failed < ks->sent && !sink_brokers_gone(ks))
		flush_some(ks);
	if (sink_brokers_gone(ks))
		return -1;
	rd_kafka_poll(ks->rk, 0);
	sink_count_delivered(ks);
	return ks->failed ? -1 : 0;
}

int kafka_sink_close(struct kafka_sink *ks, int status)
{
	double deadline =
	    fx_now() + 2.0 * (double)ks->o->conf.timeout_ms / 1000;
	size_t i;

	if (ks->txn) {
		status = txn_close(ks, status);
		goto out;
	}
	sink_count_delivered(ks);
	while (ks->delivered + ks->failed < ks->sent && fx_now() < deadline &&
	       !sink_brokers_gone(ks))
		flush_some(ks);
	if (ks->delivered + ks->failed < ks->sent) {
		/* never report as delivered what was not */
		rd_kafka_purge(ks->rk, RD_KAFKA_PURGE_F_QUEUE |
		                           RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(ks->rk, 1000);
		ks->failed += ks->sent - ks->delivered - ks->failed;
	}
	for (i = 0; ks->errors_only && i < ks->ntopics; i++) {
		const struct sink_topic *t = ks->topics[i];

		lineage_count(t->ds,
		              t->sent > t->failed ? t->sent - t->failed : 0);
	}
	ks->ctx->st.records_out += ks->delivered;
	if (ks->failed) {
		const char *broker = ks->health.last_error;
		char stop[128] = "";

		/*
		 * records_in: every record read, the caller stopped there.
		 * It does not read on to see whether more came (the input
		 * may be a pipe that never ends), so the message holds
		 * whether or not anything followed.
		 */
		if (ks->stopped)
			snprintf(stop, sizeof(stop),
			         "; stopped reading after record %" PRIu64
			         ": any input after it was not produced",
			         ks->ctx->st.records_in);
		fx_warn(ks->ctx,
		        "%" PRIu64 " of %" PRIu64
		        " records failed, first error: %s%s%s%s%s",
		        ks->failed, ks->sent, ks->first_error,
		        *broker ? " (" : "", broker, *broker ? ")" : "", stop);
		if (!status)
			status = FX_EXIT_IO;
	}
out:
	for (i = 0; i < ks->ntopics; i++)
		rd_kafka_topic_destroy(ks->topics[i]->rkt);
	if (ks->commit_rkt)
		rd_kafka_topic_destroy(ks->commit_rkt);
	rd_kafka_destroy(ks->rk); /* the topics' last use */
	for (i = 0; i < ks->ntopics; i++) {
		free(ks->topics[i]->name);
		free(ks->topics[i]);
	}
	free(ks->topics);
	free(ks->txn_id);
	free(ks->ranges);
	ckpt_state_free(&ks->committed);
	ckpt_barrier_free(&ks->barrier);
	fx_buf_free(&ks->marker);
	json_paths_free(&ks->paths);
	if (ks->up) {
		upsert_free(ks->up);
		free(ks->up);
	}
	fx_buf_free(&ks->value);
	fx_buf_free(&ks->key);
	fx_buf_free(&ks->name);
	fx_buf_free(&ks->hval);
	free(ks->batch);
	free(ks->batch_key);
	free(ks);
	return status;
}
