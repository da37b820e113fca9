/*
 * lineage.h - every fx program records what it read and wrote.
 *
 * A run appends OpenLineage RunEvents (2-0-2) to the lineage store named by
 * FX_LINEAGE: START when fx_parse_options() is done, then COMPLETE or FAIL
 * from fx_finish() with the datasets and their record counts. No program
 * calls this module for that: fx.c, opt.c and err.c do. The I/O modules
 * only register their datasets:
 *
 *   struct lineage_ds *ds = lineage_file(ctx, LINEAGE_OUTPUT, path);
 *   ...
 *   lineage_count(ds, n);          (or ds->count++ in a loop)
 *
 * A dataset is named by URI: file:///ABS/PATH or kafka://BOOTSTRAP/TOPIC.
 * lineage.c itself registers stdout when it is a regular file (`>FILE`)
 * and the program registered no output of its own.
 * Registering the same URI twice in one direction gives the same handle,
 * and a file under a registered input directory counts into the directory
 * (so a directory operand is one dataset, however many files it holds).
 *
 * Ownership: the struct lineage belongs to the ctx (ctx->lineage) from
 * lineage_start() to lineage_finish(); handles stay valid until then. A
 * handle may be NULL (no lineage: a unit test's ctx, or before
 * fx_parse_options()); lineage_count() accepts that, code that increments
 * ds->count itself checks once when it takes the handle.
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

struct lineage;

/*
 * Called by fx_parse_options() before it parses anything: a usage error
 * found while parsing is recorded as a run (START, then FAIL with the
 * message), since a pipeline with a broken stage must not look complete.
 * --help and --version (exit 0) record nothing.
 */
void lineage_arm(struct fx_ctx *ctx, int argc, char **argv);

/*
 * Called by fx_parse_options() once the options are known: reads
 * FX_LINEAGE, FX_RUN_ID and FX_JOB, works out the pipeline run and
 * appends START. Sets ctx->lineage (also when lineage is off, so that
 * handles work the same).
 */
void lineage_start(struct fx_ctx *ctx, int argc, char **argv);

/*
 * Called by fx_finish(): appends COMPLETE (status 0) or FAIL (with the
 * last message the program printed) and frees ctx->lineage. A program
 * that exits without fx_finish() (fx_die(), fx_usage_error(), any exit())
 * gets the same from an on_exit() handler, with the exit status.
 */
void lineage_finish(struct fx_ctx *ctx, int status);

/*
 * Called by fx_vwarn(): remembers msg (without the program name) for FAIL.
 * l may be NULL: while the options are parsed, the message is kept for a
 * usage error's FAIL.
 */
void lineage_note_message(struct lineage *l, const char *msg);

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
 * Kafka's default port 9092 when it was given without one.
 */
struct lineage_ds *lineage_kafka(struct fx_ctx *ctx, enum lineage_dir dir,
                                 const char *bootstrap, const char *topic);

static inline void lineage_count(struct lineage_ds *ds, uint64_t n)
{
	if (ds)
		ds->count += n;
}

/* ---------------------------------------------------------------------
 * Internals shared by lineage.c, lineage_proc.c and lineage_store.c.
 */

/* One process of a stage's upstream chain, as seen through /proc. */
struct lineage_proc {
	int pid;
	unsigned long long start; /* clock ticks after boot (stat field 22) */
	char comm[32];
	unsigned long in_pipe; /* inode of the stdin pipe, 0 if not a pipe */
	unsigned long out_pipe;
};

#define LINEAGE_CHAIN_MAX 32

/*
 * The pipeline this process belongs to. procs[0] is this process, then the
 * writer of its stdin pipe, and so on up to the head of the pipeline.
 * first_pipe is the pipeline's first pipe (the head's stdout), the same
 * for every stage; 0 for a process in no pipeline.
 */
struct lineage_chain {
	struct lineage_proc procs[LINEAGE_CHAIN_MAX];
	size_t n;
	unsigned long first_pipe;
	char boot_id[40];
};

/* Walks /proc upstream from this process. Never fails: a short chain. */
void lineage_chain_find(struct lineage_chain *c);

/* Formats 16 bytes as a UUID, setting the version (4 or 8) and variant. */
void lineage_uuid_format(unsigned char b[16], int version, char out[37]);

/* A name-based UUID: XXH3-128 of s, as an RFC 9562 version 8 UUID. */
void lineage_uuid_from(const char *s, size_t n, char out[37]);

/* Where events go. */
struct lineage_store;

/*
 * Parses spec (FX_LINEAGE's value; NULL or "" is the default file).
 * Returns NULL for "off". A bad spec is reported once and is "off".
 */
struct lineage_store *lineage_store_open(const struct fx_ctx *ctx,
                                         const char *spec);

/* Appends one event line (with its '\n'): one write(2), or a Kafka send. */
void lineage_store_append(struct lineage_store *s, const char *line,
                          size_t len);

/* Waits (briefly) for a Kafka store, frees s. */
void lineage_store_close(struct lineage_store *s);

/* The default store path: $XDG_STATE_HOME/fx/lineage.ndjson. Caller frees. */
char *lineage_default_path(void);

#endif
