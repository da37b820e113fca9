/*
 * snapshot.h - numbered state snapshots in a directory, each one whole or
 * absent.
 *
 * A stateful stage that takes part in checkpoint K writes its state as
 * snapshot K, and on restart reads back the snapshot of the last committed
 * checkpoint. A crash at any instant must leave either the old set of
 * snapshots or the old set plus a complete new one, never a torn file, so a
 * snapshot is written to a temporary name, fsync'ed, renamed into place and
 * the directory fsync'ed. A snapshot carries its length and a CRC-32 of its
 * bytes, so a file damaged later (a disk, a hand) is refused, not loaded.
 *
 *   DIR/snap-00000000000000000042      header line, then the state bytes
 *   "fxsnap 1 ID LENGTH CRC32HEX\n"
 *
 * Errors follow the POSIX convention: -1 with errno set (EBADMSG for a file
 * that is not a whole snapshot, ENOENT for a missing one); the caller names
 * the path (snapshot_path) in its message.
 */
#ifndef FX_SNAPSHOT_H
#define FX_SNAPSHOT_H

#include "buf.h"

#include <stdint.h>

struct snapshot_dir {
	char *path; /* the directory, created on open */
};

/* Creates path (and its parents) if needed. -1 with errno on failure. */
int snapshot_dir_open(struct snapshot_dir *d, const char *path);
void snapshot_dir_close(struct snapshot_dir *d);

/* "DIR/snap-%020" PRIu64 into buf (n bytes); returns buf. */
const char *snapshot_path(const struct snapshot_dir *d, uint64_t id, char *buf,
                          size_t n);

/* Writes snapshot id atomically (see above), replacing one with that id. */
int snapshot_write(const struct snapshot_dir *d, uint64_t id, const void *data,
                   size_t len);

/*
 * Reads snapshot id into out (replacing its contents). -1 with ENOENT when
 * there is none, EBADMSG when the file is not a whole, unaltered snapshot.
 */
int snapshot_read(const struct snapshot_dir *d, uint64_t id,
                  struct fx_buf *out);

/*
 * The highest id present in *id. Returns 1 if there is one, 0 if the
 * directory holds no snapshot, -1 with errno if it cannot be read.
 * Temporary files of an interrupted write do not count.
 */
int snapshot_latest(const struct snapshot_dir *d, uint64_t *id);

/*
 * Removes every snapshot older than keep, and temporary files left by a
 * killed writer. Returns the number removed or -1 with errno.
 */
int snapshot_prune(const struct snapshot_dir *d, uint64_t keep);

/*
 * A stage's restore K: K = 0 (a fresh job) removes every snapshot and
 * returns 0; otherwise reads snapshot K into out and returns 1. A
 * snapshot that is missing, corrupt or unreadable ends the program (exit
 * 3): "PATH: cannot restore checkpoint K: snapshot missing".
 */
struct fx_ctx;
int snapshot_restore(struct fx_ctx *ctx, const struct snapshot_dir *d,
                     uint64_t id, struct fx_buf *out);

/*
 * --state DIR [--stage NAME] of a stateful stage: opens DIR/NAME (NAME
 * defaults to def_stage) as d and returns 1; returns 0 without --state.
 * A bad --stage, or --stage without --state, is a usage error; a
 * directory that cannot be made exits 3.
 */
int snapshot_stage_open(struct fx_ctx *ctx, struct snapshot_dir *d,
                        const char *state, const char *stage,
                        const char *def_stage);

/*
 * A stage's snapshot K: writes it (exit 3 if it cannot), then removes the
 * snapshots older than both K and the job's committed checkpoint (read
 * from state/committed.json: a restart needs the committed one). Returns
 * the committed id.
 */
uint64_t snapshot_stage_take(struct fx_ctx *ctx, const struct snapshot_dir *d,
                             const char *state, uint64_t id, const void *data,
                             size_t len);

/*
 * Encoding a state into a snapshot's bytes, for the stages that write
 * one: integers as 8 bytes little-endian, byte strings with their length
 * first. A reader never reads past its end: anything out of bounds sets
 * bad (and returns 0 or ""), so a damaged snapshot that passed its CRC is
 * still refused, never read beyond.
 */
void snapshot_put_u64(struct fx_buf *b, uint64_t v);
void snapshot_put_bytes(struct fx_buf *b, const void *p, size_t n);

struct snapshot_reader {
	const char *p, *end;
	int bad;
};

uint64_t snapshot_get_u64(struct snapshot_reader *r);
/*
 * A state's first line, "MAGIC OPTIONS\n", where want holds "MAGIC " on
 * entry: 0 with r past the line, -1 if the bytes are not such a state, -2
 * if it was made with other options. options(arg, want) appends this run's
 * options. want is the caller's scratch buffer.
 */
int snapshot_get_header(struct snapshot_reader *r, struct fx_buf *want,
                        void (*options)(void *arg, struct fx_buf *want),
                        void *arg);
/* A count of items of at least min bytes each (bad if they cannot fit). */
size_t snapshot_get_count(struct snapshot_reader *r, size_t min);
/* Length-prefixed bytes: a pointer into the snapshot and their length. */
const char *snapshot_get_bytes(struct snapshot_reader *r, size_t *n);

#endif
