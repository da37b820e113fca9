/*
 * partition.h - fx-partition's engine: routes records by a partition flow
 * table (table.h).
 *
 * Routing: each record gets "_fx_dest" (its topic, or with files its
 * directory relative to the table's root), inserted before the record's
 * closing brace; an earlier _fx_dest is replaced (removed with the comma
 * between it and the member before it, or the one after it if it is
 * first, and the whitespace around that comma), every other byte is
 * kept. Control records pass unchanged. A record without partition values,
 * one the table rejects, or one whose topic cannot be (too long, or a
 * collision) is a bad record.
 *
 * --explain writes, instead of the records, one line per destination in
 * the order first seen:
 *   {"values":{"os":"ios"},"route":"static","dest":"play_apple","records":3}
 * --list writes the table's partitions: static, default, the template, and
 * the dynamic ones that exist (topics listed by the caller from the
 * broker, or directories under the operand, "." by default; one that is
 * missing or not a directory is FX_EXIT_IO, as for fx-consume).
 */
#ifndef FX_PARTITION_H
#define FX_PARTITION_H

#include "filesrc.h"
#include "fx.h"
#include "kafka.h"
#include "opt.h"
#include "table.h"
#include "writer.h"

struct partition_opts {
	const char *table; /* --table */
	int files;         /* --files: _fx_dest is a directory */
	int explain;
	int list;
};

/*
 * Routes (or explains) inputs (stdin if none) to stdout. Returns an exit
 * status.
 */
int partition_run(struct fx_ctx *ctx, const struct partition_opts *o,
                  struct table *t, char **inputs, size_t n);

/*
 * --list: topics are the broker's topic names (NULL if no broker was
 * asked), root the directory for files. Returns an exit status.
 */
int partition_list(struct fx_ctx *ctx, const struct partition_opts *o,
                   struct table *t, const struct fx_strlist *topics,
                   const char *root);

/* ---------------------------------------------------------------------
 * fx-consume --table T.json [--where NAME=V1,V2]...: partition pruning.
 * where holds the --where specs (table_where_add); a bad one is a usage
 * error.
 *
 * Kafka: lists the broker's topics, reads only those table_topics_for()
 * picks (static, dynamic, and the default topic if a selected value may
 * be in it, its other records dropped by a table_filter), by setting
 * ko->topics (which must be empty). Topics created after the start are
 * not read. No matching topic: nothing to read, a note, status 0.
 *
 * Files: under each root (stdin is not read), only the directories
 * table_dirs_for() finds, with --partition-fields counted from the root.
 *
 * Both return an exit status.
 */
int partition_consume_kafka(struct fx_ctx *ctx, struct table *t,
                            const struct fx_strlist *where,
                            struct kafka_source_opts *ko,
                            struct record_writer *out);
int partition_consume_files(struct fx_ctx *ctx, struct table *t,
                            const struct fx_strlist *where,
                            struct file_source_opts *fo, char **roots, size_t n,
                            struct record_writer *out);

#endif
