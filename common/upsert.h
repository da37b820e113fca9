/*
 * upsert.h - a changelog's rows folded to the latest row of every key
 * (fx-sink --upsert KEYS).
 *
 * A changelog row carries "_fx_op", Flink's RowKind names, as fx-agg
 * --emit changes writes them: "+I" (insert), "-U" (the row an update
 * replaces), "+U" (the update), "-D" (delete). A row without "_fx_op" is
 * "+I": plain rows are upserted too. Another value is a bad record.
 *
 * The key of a row is the JSON array of its key fields' values, each as
 * it appears in the record, in the order of KEYS, with no space:
 * ["2026-11-23T10:00:00.000Z","ios",42]. A missing key field is a bad
 * record; null is a value. This is the Kafka message key --upsert writes.
 *
 * The fold keeps, per key, the last +I or +U row (its bytes as read); -D
 * removes the key, -U changes nothing (the +U after it replaces the row).
 * Rows come out in the order their key was first inserted (after a -D,
 * inserted again: at the end).
 *
 * An upsert owns its copies of the rows; the paths it adds belong to the
 * caller's json_paths, which must outlive it (messages name its fields).
 */
#ifndef FX_UPSERT_H
#define FX_UPSERT_H

#include "buf.h"
#include "json.h"
#include "opt.h"
#include "strmap.h"

enum upsert_op {
	UPSERT_INSERT,        /* +I, or no _fx_op */
	UPSERT_UPDATE_BEFORE, /* -U */
	UPSERT_UPDATE_AFTER,  /* +U */
	UPSERT_DELETE,        /* -D */
};

struct upsert_row {
	char *key, *row; /* NULL row: deleted */
	size_t keylen, rowlen;
};

struct upsert {
	size_t nkeys;
	int op_path;
	int key_path[JSON_MAX_PATHS];
	const char *key_name[JSON_MAX_PATHS];
	struct fx_buf key; /* the key of the last upsert_read() */

	/* the fold: rows in order of insertion; map: key -> index + 1 */
	struct strmap map;
	struct upsert_row *rows;
	size_t nrows, caprows, ndead;
};

/*
 * Adds "_fx_op" and the comma-separated fields of keys (dotted paths
 * address nested fields) to paths. Returns 0, or -1 with a message in err
 * (no field, a field twice, a bad path, too many paths).
 */
int upsert_init(struct upsert *u, const struct fx_strlist *keys,
                struct json_paths *paths, char *err, size_t errlen);

/*
 * Reads a row's kind and key (into u->key) from vals, as json_scan() gave
 * them for the paths. Returns 0, or -1 with *field and *why set for a bad
 * record (an unknown _fx_op, a missing key field).
 */
int upsert_read(struct upsert *u, const struct json_value *vals,
                enum upsert_op *op, const char **field, const char **why);

/* Folds the row p (n bytes) of kind op under u->key. */
void upsert_apply(struct upsert *u, enum upsert_op op, const char *p, size_t n);

/*
 * Iterates the current rows in order: start with *i = 0; returns 1 with
 * *p and *n set, or 0 after the last.
 */
int upsert_next(const struct upsert *u, size_t *i, const char **p, size_t *n);

/* Frees the fold (not the paths). */
void upsert_free(struct upsert *u);

#endif
