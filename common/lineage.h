/*
 * lineage.h - every fx program records what it read and wrote: the
 * datasets, registered by the I/O modules.
 *
 * A run appends OpenLineage RunEvents (2-0-2) to the lineage store named by
 * FX_LINEAGE: START when fx_parse_options() is done, then COMPLETE or FAIL
 * from fx_finish() with the datasets and their record counts. No program
 * calls lineage for that: lineage_run.c does it from the core's hooks
 * (struct fx_hooks, attached by fx_program_init() in prog.c). The I/O
 * modules only register their datasets, through this header:
 *
 *   struct lineage_ds *ds = lineage_file(ctx, LINEAGE_OUTPUT, path);
 *   ...
 *   lineage_count(ds, n);          (or ds->count++ in a loop)
 *
 * A dataset is named by URI: file:///ABS/PATH or kafka://BOOTSTRAP/TOPIC.
 * The run itself registers stdout when it is a regular file (`>FILE`)
 * and the program registered no output of its own.
 * Registering the same URI twice in one direction gives the same handle,
 * and a file under a registered input directory counts into the directory
 * (so a directory operand is one dataset, however many files it holds).
 *
 * Ownership: the struct lineage belongs to the ctx (ctx->lineage) from
 * lineage_start() to lineage_finish(); handles stay valid until then. A
 * handle may be NULL (no lineage: a unit test's ctx, a program without the
 * hooks, or before fx_parse_options()); lineage_count() accepts that, code
 * that increments ds->count itself checks once when it takes the handle.
 *
 * The store never fails the data path: an unwritable store is reported
 * once on stderr and the run goes on with the same output and exit status.
 */
#ifndef FX_LINEAGE_H
#define FX_LINEAGE_H

#include "fx.h"

#include <stdint.h>

enum lineage_dir {
	LINEAGE_INPUT = 1,
	LINEAGE_OUTPUT = 2,
};

struct lineage_ds {
	uint64_t count; /* records read or written; the module adds to it */
	char *uri;
	enum lineage_dir dir;
	int is_dir; /* a directory: files below it count into it */
	struct lineage_ds *next;
};

/* Registers a dataset by URI. Returns the handle, or NULL without lineage. */
struct lineage_ds *lineage_dataset(struct fx_ctx *ctx, enum lineage_dir dir,
                                   const char *uri);

/*
 * A file or directory by path (relative to the working directory; made
 * absolute lexically, symbolic links are not resolved): file:///ABS/PATH.
 */
struct lineage_ds *lineage_file(struct fx_ctx *ctx, enum lineage_dir dir,
                                const char *path);

/*
 * An input that is an open descriptor fd, named path ("-" for stdin): a
 * dataset only if fd is a regular file (stdin redirected from a file
 * counts, a pipe or a terminal does not). Returns NULL otherwise.
 */
struct lineage_ds *lineage_input_fd(struct fx_ctx *ctx, int fd,
                                    const char *path);

/*
 * A Kafka topic: kafka://FIRST-BOOTSTRAP-SERVER/TOPIC, the server with
 * Kafka's default port 9092 when it was given without one. (Only names
 * the dataset: the Kafka lineage store is lineage_kafka.c.)
 */
struct lineage_ds *lineage_topic(struct fx_ctx *ctx, enum lineage_dir dir,
                                 const char *bootstrap, const char *topic);

/*
 * The run ends with FAIL and msg even when the program exits 0: it did
 * what it was asked, and what it was asked means the job's output did not
 * land (fx-sink --abort drops a prepared --overwrite). No-op without
 * lineage.
 */
void lineage_fail(struct fx_ctx *ctx, const char *msg);

static inline void lineage_count(struct lineage_ds *ds, uint64_t n)
{
	if (ds)
		ds->count += n;
}

#endif
