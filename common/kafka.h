/*
 * kafka.h - everything fx does with librdkafka: configuration, the topic
 * list, the source (consumer), a whole topic read into memory, the sink
 * (producer), best-effort lines to a topic and the development cluster.
 * It is written in kafka.c (configuration, the topic list, the lines),
 * kafkasrc.c (the source and the topic reader), kafkasink.c and
 * kafkadev.c, which share kafka_internal.h. No other file includes
 * librdkafka's headers, nor names a librdkafka type, and every librdkafka
 * version check lives in kafka.c.
 *
 * Ownership: option structs are filled by the option table and owned by
 * main(); kafka_* functions borrow them for the whole run. A struct
 * kafka_sink, kafka_topic_reader or kafka_lines is owned by its creator
 * and freed by its _close().
 *
 * Messages name the program and the broker or topic:
 *   fx-consume: broker '127.0.0.1:9092': connection refused
 *   fx-sink: -X linger.mss=5: No such configuration property: "linger.mss"
 */
#ifndef FX_KAFKA_H
#define FX_KAFKA_H

#include "fx.h"
#include "json.h"
#include "opt.h"
#include "reader.h"
#include "writer.h"

#include <stdint.h>

/* ---------------------------------------------------------------------
 * Configuration, shared by fx-consume and fx-sink.
 *
 * Properties are applied in this order, a later one winning: fx's own
 * defaults for the program, the file named by FX_KAFKA_CONFIG, then -F
 * files and -X properties in command-line order, then -b (or, without -b
 * and without a bootstrap.servers property, FX_BROKERS). A properties file
 * has one key=value per line; blank lines and lines starting with '#' are
 * ignored. An unknown property or a bad value is a usage error (exit 2)
 * naming it, with librdkafka's reason.
 */
struct kafka_prop {
	char *key;
	char *value;
	char *origin; /* "-X" or "FILE:LINE", for messages */
};

struct kafka_conf {
	const char *brokers; /* -b, borrowed from argv */
	struct kafka_prop *props;
	size_t nprops;
	size_t cap;
	int64_t timeout_ms; /* --timeout: how long a broker may be away */
	unsigned files;     /* -F given, even a file of no properties */
};

#define KAFKA_DEFAULT_TIMEOUT_MS 10000
#define KAFKA_CONF_INIT                                                        \
	{                                                                      \
		NULL, NULL, 0, 0, KAFKA_DEFAULT_TIMEOUT_MS, 0                  \
	}

/* Option callbacks behind FX_OPT_KAFKA; opt->value is the kafka_conf. */
int kafka_opt_property(struct fx_ctx *ctx, const struct fx_option *opt,
                       const char *arg);
int kafka_opt_file(struct fx_ctx *ctx, const struct fx_option *opt,
                   const char *arg);

/*
 * The Kafka options every Kafka-speaking program declares once, spliced
 * into its option table: FX_OPT_KAFKA(&conf), (a comma-separated list of
 * entries).
 */
#define FX_OPT_KAFKA(kc)                                                       \
	FX_OPT_GROUP("Kafka options:"),                                        \
	    FX_OPT_STRING('b', "brokers", &(kc)->brokers, "HOST:PORT,...",     \
	                  "bootstrap brokers (default $FX_BROKERS)"),          \
	    FX_OPT_CALLBACK('X', NULL, (kc), "KEY=VALUE",                      \
	                    "set a librdkafka property (repeatable)",          \
	                    kafka_opt_property),                               \
	    FX_OPT_CALLBACK('F', "kafka-config", (kc), "FILE",                 \
	                    "read librdkafka properties from FILE",            \
	                    kafka_opt_file),                                   \
	    FX_OPT_DURATION(                                                   \
	        0, "timeout", &(kc)->timeout_ms,                               \
	        "give up on unreachable brokers after this (default 10s)")

/* Frees the properties. */
void kafka_conf_free(struct kafka_conf *kc);

/*
 * The broker's topic names, for partition flow tables: fx-partition --list
 * and fx-consume --table find the dynamic partitions that exist by listing
 * the topics that match a table's template. Appends them (internal topics,
 * starting with "__", left out) to out, sorted. Returns 0, FX_EXIT_USAGE
 * (bad configuration) or FX_EXIT_IO (no broker answered within --timeout),
 * reported.
 */
int kafka_topic_names(struct fx_ctx *ctx, const struct kafka_conf *kc,
                      struct fx_strlist *out);

/* ---------------------------------------------------------------------
 * Source: records from Kafka topics to a record writer.
 */
struct kafka_source_opts {
	struct kafka_conf conf;
	struct fx_strlist topics;  /* -t, repeatable; "^regex" subscribes */
	const char *group;         /* -g/-G: balanced consumer group */
	struct fx_strlist offsets; /* -o, at most one start and one e@MS */
	int exit_at_end;           /* -e */
	int64_t count; /* -c: stop after this many records, 0: no limit */
	int meta;      /* --meta */
	int wrap;      /* --wrap */
	/*
	 * If set, decides which records are written (fx-consume --where
	 * on a topic that holds other partitions too): called with the
	 * record's topic and value (valid JSON, without the --meta members,
	 * followed by RECORD_READER_PAD zero bytes for json_scan()); 0 drops
	 * the record, which then counts as read and handled (its offset is
	 * committed). It must not allocate per record.
	 */
	int (*keep)(void *arg, const char *topic, const char *rec, size_t len);
	void *keep_arg;
	/*
	 * --checkpoint (share/doc/checkpoints.md), on when ckpt_records or
	 * ckpt_ms is set (one of them, the other 0), state then naming the
	 * job's state directory: the run resumes at the positions of
	 * state/committed.json, writes {"_fx":"restore","id":K} first, a
	 * barrier after every ckpt_records records read or every ckpt_ms
	 * (also while none come), and commits nothing to the group.
	 */
	const char *state;
	int64_t ckpt_records;
	int64_t ckpt_ms;
};

#define KAFKA_SOURCE_OPTS_INIT                                                 \
	{                                                                      \
		.conf = KAFKA_CONF_INIT                                        \
	}

/*
 * The consumer's own options: -t -g -G -o -e -c --meta --wrap, and
 * FX_OPT_KAFKA for the rest.
 */
#define FX_OPT_KAFKA_SOURCE(so)                                                       \
	FX_OPT_MULTI('t', "topic", &(so)->topics, "TOPIC",                            \
	             "consume TOPIC (repeatable; ^REGEX subscribes)"),                \
	    FX_OPT_STRING('g', "group", &(so)->group, "GROUP",                        \
	                  "consume as a member of this consumer group"),              \
	    FX_OPT_STRING('G', NULL, &(so)->group, "GROUP",                           \
	                  "same as -g (kcat)"),                                       \
	    FX_OPT_MULTI(                                                             \
	        'o', "offset", &(so)->offsets, "OFFSET",                              \
	        "beginning|end|stored|N|-N|s@MS|e@MS (default beginning)"),           \
	    FX_OPT_FLAG(                                                              \
	        'e', "exit-at-end", &(so)->exit_at_end,                               \
	        "exit at the end of every partition (-g: the group's)"),              \
	    FX_OPT_INT('c', "count", &(so)->count, "N",                               \
	               "exit after N records"),                                       \
	    FX_OPT_FLAG(                                                              \
	        0, "meta", &(so)->meta,                                               \
	        "add _fx_topic _fx_partition _fx_offset _fx_key _fx_ts _fx_headers"), \
	    FX_OPT_FLAG(                                                              \
	        0, "wrap", &(so)->wrap,                                               \
	        "wrap a value that is not an object as {\"value\":\"...\"}"),         \
	    FX_OPT_KAFKA(&(so)->conf)

/*
 * Consumes until -c records, -e end, SIGINT/SIGTERM, a closed stdout or an
 * error, writing one record per message to out. With a group, the offset
 * of a record is committed only after it was written and flushed
 * (at-least-once); a partition with no committed offset starts where -o
 * says (default: the beginning). Commits are asynchronous; ending (the
 * last commit and leaving the group) takes at most min(--timeout, 5 s)
 * and a second. With -e in a group, the run ends when the group has
 * committed every partition of the subscription to its end, or fails
 * (FX_EXIT_IO) after session.timeout.ms + --timeout without progress.
 *
 * With checkpoints (o->ckpt_records or o->ckpt_ms) instead: nothing is
 * committed to the group, nor are its committed offsets read (unless -o
 * stored); a partition that state/committed.json lists starts at its
 * offset there, the others where -o says (symbolic starts are looked up,
 * so that every barrier can name them). A barrier lists every partition
 * the run has a position for (those it reads, those revoked from it, where
 * it stopped, and those committed.json lists that it has not read,
 * unchanged): the offset after the last record read, or the one it
 * started at. A partition assigned again resumes at its position. -e in
 * a group ends when this member's partitions are at their end. At the end
 * (-e, e@MS) the last barrier is "final"; after -c or SIGINT/SIGTERM it is
 * an ordinary one. A committed.json that cannot be read is FX_EXIT_IO
 * after a message naming it, before anything is written.
 *
 * Flushes out (does not close it). Returns
 * an exit status: 0, FX_EXIT_DATA (a bad record under --on-error fail),
 * FX_EXIT_USAGE (bad configuration) or FX_EXIT_IO (broker, write error).
 */
int kafka_source_run(struct fx_ctx *ctx, const struct kafka_source_opts *o,
                     struct record_writer *out);

/* ---------------------------------------------------------------------
 * A whole topic from its beginning (fx-join's kafka: dimension, a
 * compacted topic): every partition assigned, no group, nothing
 * committed, each message to a callback.
 */
struct kafka_message {
	const void *key; /* NULL: no key */
	size_t key_len;
	const void *payload; /* NULL or len 0: a tombstone */
	size_t len;
	int32_t partition;
	int64_t offset;
};

/* Called for each message read; m and its bytes only for the call. */
typedef void kafka_message_fn(void *arg, const struct kafka_message *m);

struct kafka_topic_reader;

/*
 * A consumer for topic, named source ("kafka:TOPIC") in messages,
 * configured as every fx client is (kafka_conf) over defaults (key, value
 * pairs ending in NULL), librdkafka's messages in fx's shape. One per
 * process. Returns 0 with *out set, or FX_EXIT_USAGE after a message; a
 * bad property exits 2.
 */
int kafka_topic_reader_open(struct fx_ctx *ctx, const struct kafka_conf *kc,
                            const char *topic, const char *source,
                            const char *const *defaults, kafka_message_fn *fn,
                            void *arg, struct kafka_topic_reader **out);

/*
 * Reads every partition from its beginning up to the end offsets it sees
 * when it starts, calling fn. Returns 0, or FX_EXIT_IO after a message:
 * broker unreachable, no such topic, the end not reached within
 * timeout_ms of silence.
 */
int kafka_topic_reader_load(struct kafka_topic_reader *r, int64_t timeout_ms);

/*
 * Calls fn for whatever has arrived since, without waiting. The first
 * error is reported ("(retrying)"), later ones not.
 */
void kafka_topic_reader_poll(struct kafka_topic_reader *r);

/* Closes the consumer, frees r (NULL is nothing). */
void kafka_topic_reader_close(struct kafka_topic_reader *r);

/* ---------------------------------------------------------------------
 * Sink: records to Kafka topics.
 */
struct kafka_sink_opts {
	struct kafka_conf conf;
	const char *topic;  /* -t; else each record's _fx_dest */
	const char *key;    /* --key FIELD */
	int keep_partition; /* --keep-partition: use _fx_partition */
	int keep_meta;     /* do not strip _fx* members (fx-sink --keep-meta) */
	int create_topics; /* --create-topics */
	int64_t partitions; /* --partitions for --create-topics */
	/*
	 * --upsert KEYS (upsert.h): the key is the key fields' values as a
	 * JSON array, +I and +U rows are produced, -U rows are not, -D rows
	 * become tombstones (a null value): a compacted topic holds the table.
	 */
	const struct fx_strlist *upsert;
	/*
	 * --state DIR: one transaction per checkpoint record, committed.json
	 * in DIR, the commit log in commit_topic (--commit-topic; default
	 * TOPIC.fx-commits with -t, else fx-commits). fx-sink(1), CHECKPOINTS.
	 */
	const char *state;
	const char *commit_topic;
	/*
	 * If set (fx-sink --table), asked once per topic on its first use
	 * (without --create-topics): nonzero creates it with *partitions
	 * and *replication (-1: the broker's default). A broker that cannot
	 * create topics is reported once, and auto-creation relied on.
	 */
	int (*create)(void *arg, const char *topic, int *partitions,
	              int *replication);
	void *create_arg;
};

#define KAFKA_SINK_OPTS_INIT                                                   \
	{                                                                      \
		.conf = KAFKA_CONF_INIT, .partitions = 1                       \
	}

#define FX_OPT_KAFKA_SINK(so)                                                  \
	FX_OPT_STRING('t', "topic", &(so)->topic, "TOPIC",                     \
	              "produce to TOPIC (default: each record's _fx_dest)"),   \
	    FX_OPT_STRING('k', "key", &(so)->key, "FIELD",                     \
	                  "message key from FIELD (murmur2 partitioning)"),    \
	    FX_OPT_FLAG(                                                       \
	        0, "keep-partition", &(so)->keep_partition,                    \
	        "produce to the record's _fx_partition, at its _fx_ts"),       \
	    FX_OPT_FLAG(0, "create-topics", &(so)->create_topics,              \
	                "create missing topics (admin API) before producing"), \
	    FX_OPT_INT(                                                        \
	        0, "partitions", &(so)->partitions, "N",                       \
	        "partitions of a topic --create-topics creates (default 1)"),  \
	    FX_OPT_STRING(0, "commit-topic", &(so)->commit_topic, "TOPIC",     \
	                  "--state: the commit log (default "                  \
	                  "TOPIC.fx-commits, or fx-commits)"),                 \
	    FX_OPT_KAFKA(&(so)->conf)

struct kafka_sink;

/*
 * Opens a producer. With state, a transactional one: committed.json read
 * (corrupt: exits 3), init_transactions, committed.json brought up to the
 * commit log. Returns 0 with *out set, or an exit status after a message
 * (FX_EXIT_USAGE for configuration, FX_EXIT_IO for no broker).
 */
int kafka_sink_open(struct fx_ctx *ctx, const struct kafka_sink_opts *o,
                    struct kafka_sink **out);

/*
 * The fields kafka_sink_write() needs in vals: --key FIELD, or --upsert's
 * fields, else none (json_scan()'s vector path then takes plain records
 * whole). The _fx members are not among them: kafka_sink_write() reads
 * them itself from a record whose flags say JSON_SCAN_HAS_FX.
 */
const struct json_paths *kafka_sink_paths(const struct kafka_sink *ks);

/*
 * Produces one valid record; vals and flags as json_scan() gave them for
 * kafka_sink_paths() (record_stream_next() does that). The value is the
 * record without its _fx* members (unless keep_meta); _fx_key becomes the
 * key, _fx_headers the headers, _fx_partition the partition and _fx_ts
 * the timestamp (with --keep-partition), _fx_dest the topic (without -t). A
 * control record is not produced; a checkpoint first waits for every delivery
 * so far (with state: commits the transaction and committed.json, and a restore
 * record must come before any record or checkpoint and name the committed
 * checkpoint, else FX_EXIT_IO). A record whose _fx_dest, _fx_key,
 * _fx_headers or (with --keep-partition) _fx_partition or _fx_ts is
 * unusable goes to fx_bad_record(). Returns 0, or an exit status: the caller
 * stops reading and calls kafka_sink_close(), which reports.
 */
int kafka_sink_write(struct kafka_sink *ks, const struct record *rec,
                     const struct json_value *vals, int flags,
                     const struct fx_where *where);

/*
 * Whether kafka_sink_write_run() may take records: with -t, and no
 * --state, --upsert, or --key through nested objects.
 */
int kafka_sink_takes_runs(const struct kafka_sink *ks);

/*
 * Produces the records of a run (record_stream_next_run(): whole lines,
 * each valid with no _fx member) as kafka_sink_write() would one by one,
 * many to a call of librdkafka's. Returns 0 or an exit status, as
 * kafka_sink_write().
 */
int kafka_sink_write_run(struct kafka_sink *ks, const char *p, size_t len);

/*
 * Waits for every delivery report (up to --timeout after the last send).
 * Returns 0 if every record produced so far was delivered.
 */
int kafka_sink_flush(struct kafka_sink *ks);

/*
 * Flushes, reports "N of M records failed, first error: ..." if any did,
 * frees ks. Records delivered + failed = records given to
 * kafka_sink_write() (counted into ctx->st.records_out: delivered only).
 * With state: aborts the open transaction (the records after the last
 * checkpoint) instead, and counts the records of committed ones.
 * Returns status if it is not 0, else 0 or FX_EXIT_IO.
 */
int kafka_sink_close(struct kafka_sink *ks, int status);

/* ---------------------------------------------------------------------
 * Lines to a topic, best effort (the kafka:TOPIC lineage store): a plain
 * producer with the properties given and nothing of fx's configuration,
 * silent (librdkafka logs nothing to stderr), never exiting: every
 * failure is returned with its reason in err.
 */
struct kafka_lines;

/*
 * A producer to topic on brokers; props are key, value pairs ending in
 * NULL. NULL with the reason in err.
 */
struct kafka_lines *kafka_lines_open(const char *brokers, const char *topic,
                                     const char *const *props, char *err,
                                     size_t errlen);

/* Queues one message of len bytes (copied). 0, or -1 with the reason. */
int kafka_lines_send(struct kafka_lines *k, const char *line, size_t len,
                     char *err, size_t errlen);

/*
 * Waits up to timeout_ms for delivery, less once every broker is known to
 * be down (a refused connection): then there is nothing to wait for.
 * Frees k. Returns 0 if every message was delivered, else -1 with the
 * reason in err (the undelivered ones are dropped).
 */
int kafka_lines_close(struct kafka_lines *k, int timeout_ms, char *err,
                      size_t errlen);

/* ---------------------------------------------------------------------
 * fx-devbroker: librdkafka's mock cluster, on 127.0.0.1.
 */
struct kafka_devbroker_opts {
	int64_t brokers;
	int64_t partitions;
	char **topics; /* to create at start */
	int *topic_partitions;
	size_t ntopics;
	const char *bootstrap_file;
};

/*
 * Starts the cluster, prints the bootstrap address to stdout (and to the
 * bootstrap file, atomically), runs until SIGINT/SIGTERM. Returns an exit
 * status.
 */
int kafka_devbroker_run(struct fx_ctx *ctx,
                        const struct kafka_devbroker_opts *o);

#endif
