/*
 * table.h - partition flow tables: a logical table whose partition fields
 * map each record to a physical Kafka topic or directory, so that a reader
 * who wants one partition reads one topic, not all of them.
 *
 * A definition is a JSON file (fx-table(5)):
 *
 *   {"name": "ods_play",
 *    "partition_by": [{"name": "os", "field": "os"}],
 *    "kafka": {"topic": "ods_play_{os}",
 *              "static": {"ios": "play_apple", "android": "play_android"},
 *              "partitions": 4},
 *    "files": {"dir": "ods_play/os={os}"}}
 *
 * Partition values are text: a string field's unescaped contents (a lone
 * surrogate kept as its WTF-8 bytes, so that its directory is not
 * U+FFFD's; topic names and bucket(N) see U+FFFD), a number
 * or boolean as written; "day" and "hour" of an event time give
 * "2026-11-23" and "10" (UTC); "bucket(N)" gives the decimal (murmur2 of
 * the value's text & 0x7fffffff) mod N, Kafka's default partitioner, so
 * bucket(N) of a field is the partition `fx-sink --key FIELD` picks in an
 * N-partition topic. A missing field, null, an object or an array has no
 * partition value: such a record is a bad record.
 *
 * "kafka" "partition_by" may name a subset of the partitions: topics are
 * then per value of those only (a topic per os holding every day, while
 * directories are per dt and os).
 *
 * Topics: a static entry wins; else, if the table is dynamic (it is when it
 * has a "topic" template, unless "dynamic": false), the template with each
 * {name} replaced by the escaped value; else the "default" topic, or the
 * record is rejected. Escaping makes any value a legal topic name and can be
 * undone: [A-Za-z0-9-] stay, every other byte (including '_' and '.')
 * becomes '_' and two lowercase hex digits ("a_b" -> "a_5fb"). Kafka names
 * allow [A-Za-z0-9._-] and at most 249 characters; a longer result is a bad
 * record. Two value tuples that would share a topic are an error: found when
 * the definition is loaded (static entries, the default topic, the
 * template) or, for dynamic topics of templates whose placeholders could
 * run into each other, when the second tuple arrives.
 *
 * Reading a topic name back (table_topic_match) takes each split of the
 * name into whole escapes whose values the partitions can have: a day is
 * "YYYY-MM-DD" of a real date, an hour "00" to "23", a bucket a number
 * below N as written, any other value UTF-8. So "p_{os}_{dt}" with a day
 * reads back whatever os is ("p_a_5fb_2026-11-23" is os "a_b", not os "a"
 * and dt "5fb 26-11-23"), and a partition named twice in the template has
 * one value. A name that two tuples of values could make is an error.
 *
 * Directories: the "files" "dir" template, each value escaped as Hive does
 * (hive_encode, %XX), at most one placeholder per path
 * component so that a directory name can be read back.
 *
 * Ownership: table_load() returns a table the caller frees with
 * table_free(); everything it returns by pointer (names, paths) belongs to
 * the table. A struct table_values belongs to its caller (zero-initialise,
 * free with table_values_free()). The table keeps routing state (the
 * topics handed out so far, for the collision check), so routing functions
 * take it non-const; one table serves one thread.
 */
#ifndef FX_TABLE_H
#define FX_TABLE_H

#include "buf.h"
#include "fx.h"
#include "fxtime.h"
#include "json.h"
#include "opt.h"

#define TABLE_MAX_PARTS 16
#define TABLE_TOPIC_MAX 249

enum table_transform {
	TABLE_IDENTITY = 0, /* the value itself */
	TABLE_DAY,          /* "YYYY-MM-DD" of an event time, UTC */
	TABLE_HOUR,         /* "HH" of an event time, UTC */
	TABLE_BUCKET,       /* murmur2(value) mod N */
};

struct table_part {
	char *name;  /* the partition's name, used in {name} and --where */
	char *field; /* the record field it comes from (a dotted path) */
	enum table_transform transform;
	uint32_t buckets;       /* TABLE_BUCKET: N */
	enum fx_time_unit unit; /* TABLE_DAY, TABLE_HOUR: epoch numbers */
	int path;               /* index in table_paths() */
};

/* One partition's values, value i for partition i, each NUL-terminated. */
struct table_values {
	size_t n;
	uint32_t any; /* bit i: value i unknown (a topic that does not say) */
	struct fx_buf buf;
	size_t off[TABLE_MAX_PARTS];
	size_t len[TABLE_MAX_PARTS];
};

static inline const char *table_value(const struct table_values *tv, size_t i)
{
	return tv->buf.p + tv->off[i];
}

void table_values_free(struct table_values *tv);

/* How a record's topic was chosen. */
enum table_route {
	TABLE_REJECT = 0, /* no topic: not static, not dynamic, no default */
	TABLE_STATIC,
	TABLE_DYNAMIC,
	TABLE_DEFAULT,
};

/* "reject", "static", "dynamic", "default" */
const char *table_route_name(enum table_route r);

struct table;

/*
 * Reads and checks the definition at path. Returns the table, or NULL after
 * a message naming the file, the key and what is wrong:
 *   fx-partition: t.json: kafka.static."ios": not a string
 * (a usage error: the caller exits FX_EXIT_USAGE).
 */
struct table *table_load(const struct fx_ctx *ctx, const char *path);
void table_free(struct table *t);

const char *table_name(const struct table *t);
/* the table file's path, as given to table_load(), for messages */
const char *table_file(const struct table *t);
size_t table_nparts(const struct table *t);
const struct table_part *table_part(const struct table *t, size_t i);
/* "fields": the record fields the table declares (optional: without it
 * table_has_fields() is 0, table_fields() NULL, and nothing is known of
 * the table's fields). */
int table_has_fields(const struct table *t);
char *const *table_fields(const struct table *t);
size_t table_nfields(const struct table *t);
int table_has_kafka(const struct table *t);
int table_has_files(const struct table *t);
/* kafka "partitions" and "replication" for created topics; -1: unset */
int table_topic_partitions(const struct table *t);
int table_topic_replication(const struct table *t);

/* The definition's topics: static entry i (its values into tv), the
 * default topic and the template (NULL if none). */
size_t table_nstatic(const struct table *t);
const char *table_static(const struct table *t, size_t i,
                         struct table_values *tv);
const char *table_default_topic(const struct table *t);
const char *table_topic_template(const struct table *t);
const char *table_dir_template(const struct table *t);

/*
 * The table's own directory under root, as a NUL-terminated string in out:
 * root and the leading components of the directory template that hold no
 * placeholder ("cdm_play/dt={dt}" under w: "w/cdm_play"). Lineage names
 * the table by it, whichever of its partitions a run reads or writes.
 */
void table_dir_root(const struct table *t, const char *root,
                    struct fx_buf *out);

/* The partitions topics are made of, bit i for partition i. */
uint32_t table_kafka_mask(const struct table *t);

/* The record fields table_values_of() needs, for json_scan(). */
const struct json_paths *table_paths(const struct table *t);

/*
 * Computes a record's partition values from vals (json_scan() of the
 * record with table_paths()). Returns 0, or -1 with *field (the record
 * field) and *why (valid until the next call on t) saying what is wrong.
 */
int table_values_of(struct table *t, const struct json_value *vals,
                    struct table_values *tv, const char **field,
                    const char **why);

/*
 * The topic for tv, replacing out's contents (empty for TABLE_REJECT).
 * Returns the route, or -1 with *why for a name that cannot be a topic or
 * that a different tuple already had.
 */
int table_topic(struct table *t, const struct table_values *tv,
                struct fx_buf *out, const char **why);

/* The directory for tv, replacing out's contents. -1: no "files" "dir". */
int table_dir(const struct table *t, const struct table_values *tv,
              struct fx_buf *out);

/*
 * Which partition a topic holds. Returns TABLE_STATIC or TABLE_DYNAMIC
 * with tv set, TABLE_DEFAULT (tv->n == 0: any value), or TABLE_REJECT for
 * a topic that is not the table's. A name that the template could have
 * made from two tuples of values the partitions can have (see above) is
 * an error: -1, *why set.
 */
int table_topic_match(struct table *t, const char *topic,
                      struct table_values *tv, const char **why);

/* Appends '"os":"ios",...' (JSON members, no braces) for tv. */
void table_values_json(const struct table *t, const struct table_values *tv,
                       struct fx_buf *out);

/* Escapes a value for a topic name, and back. Decoding returns -1 on a
 * string that escaping cannot have produced. */
void table_topic_escape(struct fx_buf *out, const char *s, size_t n);
int table_topic_unescape(struct fx_buf *out, const char *s, size_t n);

/* Kafka's murmur2 (the Java client's and librdkafka's), for bucket(N). */
uint32_t table_murmur2(const void *p, size_t n);

/* ---------------------------------------------------------------------
 * Partition pruning: --where NAME=V1,V2 (repeatable; conditions on
 * different partitions all hold, values of one partition are
 * alternatives).
 */
struct table_where {
	struct fx_strlist allowed[TABLE_MAX_PARTS]; /* n == 0: any value */
};

/* Adds "NAME=V1,V2". Returns 0, or -1 with *why (valid until the next
 * call on t). */
int table_where_add(struct table *t, struct table_where *w, const char *spec,
                    const char **why);
int table_where_match(const struct table_where *w,
                      const struct table_values *tv);
void table_where_free(struct table_where *w);

/*
 * The topics a reader of the partitions w selects must read, out of the
 * topics that exist (from the broker's metadata): static topics of
 * matching values, template topics whose values match, and the default
 * topic if a selected value may be in it. *filter is set when some topic
 * chosen may hold records of other partitions (the default topic), which
 * the reader must then drop by table_values_of() and table_where_match().
 * Returns 0, or -1 after a message (an ambiguous topic name).
 */
int table_topics_for(const struct fx_ctx *ctx, struct table *t,
                     const struct table_where *w, char *const *existing,
                     size_t n, struct fx_strlist *out, int *filter);

/*
 * fx-sink --table: whether to create topic on its first use. Only a
 * dynamic partition's topic is created (static and default topics are
 * the administrator's), with the table's "partitions" and "replication"
 * (-1 when unset: the broker's default). Returns 1 to create, else 0.
 */
int table_topic_create(struct table *t, const char *topic, int *partitions,
                       int *replication);

/*
 * Drops the records of unselected partitions from the topics
 * table_topics_for() chose when it set *filter: records of the default
 * topic, and, when w selects by a partition that topics do not separate,
 * records of every topic. Zero-initialise with table_filter_init();
 * table_filter_keep() fits kafka_source_opts' keep hook (arg: the
 * filter) and allocates nothing once warm. A record without partition
 * values is in no selected partition: dropped.
 */
struct table_filter {
	struct table *t;
	const struct table_where *w;
	int every_topic;
	struct json_scanner sc;
	struct json_value vals[JSON_MAX_PATHS];
	struct table_values tv;
};

void table_filter_init(struct table_filter *f, struct table *t,
                       const struct table_where *w);
int table_filter_keep(void *arg, const char *topic, const char *rec,
                      size_t len);
void table_filter_free(struct table_filter *f);

/*
 * The directories under root (root/DIR-TEMPLATE) that hold the partitions
 * w selects, in byte order, found by reading only the directories on the
 * way (pruned). values, if not NULL, gets each directory's values as JSON
 * members (table_values_json), one string per directory. Returns 0 or
 * FX_EXIT_IO (reported).
 */
int table_dirs_for(const struct fx_ctx *ctx, struct table *t,
                   const struct table_where *w, const char *root,
                   struct fx_strlist *dirs, struct fx_strlist *values);

#endif
