/*
 * lineage_int.h - lineage's internals, shared by lineage.c (datasets),
 * lineage_run.c (run events), lineage_proc.c (the pipeline through
 * /proc), lineage_store.c (where events go) and lineage_query.c (the
 * default store path). No other file includes it.
 */
#ifndef FX_LINEAGE_INT_H
#define FX_LINEAGE_INT_H

#include "fx.h"
#include "lineage.h"

#include <stddef.h>

struct cJSON;
struct lineage_store;

/*
 * A run (ctx->lineage): lineage_run.c creates and frees it, lineage.c
 * adds the datasets the I/O modules register.
 */
struct lineage {
	const struct fx_ctx *ctx;
	struct lineage_store *store;
	char run_id[37];
	char pipeline_id[37];
	char *job;
	char *pipeline_job;
	struct cJSON *fx;            /* the fx run facet, built at start */
	struct lineage_ds *datasets; /* in registration order */
	char *last_msg;
	char *stdout_path; /* stdout is this regular file (> or >>) */
	char *fail_msg; /* lineage_fail(): FAIL with it, whatever the status */
};

/* The path of the regular file open as fd (a redirection), or NULL. */
char *lineage_regular_file_path(int fd);

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

/* Where events go (lineage_store.c). */
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
