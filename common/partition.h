/*
 * partition.h - fx-partition's engine: routes records by a partition flow
 * table (table.h).
 *
 * Routing: each record gets "_fx_dest" (its topic, or with files its
 * directory relative to the table's root), inserted before the record's
 * closing brace; an earlier _fx_dest is replaced, every other byte is
 * kept. Control records pass unchanged. A record without partition values,
 * one the table rejects, or one whose topic cannot be (too long, or a
 * collision) is a bad record.
 *
 * --explain writes, instead of the records, one line per destination in
 * the order first seen:
 *   {"values":{"os":"ios"},"route":"static","dest":"play_apple","records":3}
 * --list writes the table's partitions: static, default, the template, and
 * the dynamic ones that exist (topics listed by the caller from the
 * broker, or directories under the operand, "." by default).
 */
#ifndef FX_PARTITION_H
#define FX_PARTITION_H

#include "fx.h"
#include "opt.h"
#include "table.h"

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

#endif
