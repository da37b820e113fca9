/*
 * checkpoint.h - the checkpoint records of the stream and the job's
 * committed.json (share/doc/checkpoints.md is the design).
 *
 *   {"_fx":"restore","id":K}
 *   {"_fx":"checkpoint","id":K,"positions":[["topic",P,OFF],...]}
 *   {"_fx":"checkpoint","id":K,"positions":[...],"final":true}
 *
 * DIR/committed.json, the one truth of which checkpoint is committed:
 *
 *   {"id":K,"positions":[["topic",P,OFF],...],"files":{"REL/PATH":SIZE,...}}
 *
 * Errors follow the POSIX convention: -1 with errno set (EBADMSG for a file
 * or record that is not what it should be); the caller names the path.
 */
#ifndef FX_CHECKPOINT_H
#define FX_CHECKPOINT_H

#include "buf.h"
#include "fx.h"

#include <stddef.h>
#include <stdint.h>

/* The next offset to read in one partition. */
struct ckpt_position {
	char *topic;
	int32_t partition;
	int64_t offset;
};

/* An output file of the job and its committed size. */
struct ckpt_file {
	char *path; /* relative to the sink's directory */
	uint64_t size;
};

struct ckpt_state {
	uint64_t id; /* 0: nothing committed */
	struct ckpt_position *pos;
	size_t npos, cappos;
	struct ckpt_file *files;
	size_t nfiles, capfiles;
};

/*
 * When a source's next barrier is due: after every `records` records read,
 * or every `ms` milliseconds of the coarse clock (one of the two is set).
 * ckpt_interval_start() also restarts it after each barrier.
 */
struct ckpt_interval {
	int64_t records, left, ms;
	double due;
};

static inline void ckpt_interval_start(struct ckpt_interval *iv,
                                       int64_t records, int64_t ms)
{
	iv->records = iv->left = records;
	iv->ms = ms;
	iv->due = fx_now_coarse() + (double)ms / 1000;
}

/* After a record read: 1 if a barrier is due. */
static inline int ckpt_interval_record(struct ckpt_interval *iv)
{
	return iv->records ? --iv->left <= 0 : fx_now_coarse() >= iv->due;
}

/* While no records come: 1 if a barrier is due by time. */
static inline int ckpt_interval_idle(const struct ckpt_interval *iv)
{
	return iv->ms && fx_now_coarse() >= iv->due;
}

/* A checkpoint or restore record, parsed. */
struct ckpt_barrier {
	uint64_t id;
	int final;
	int restore; /* a restore record (no positions) */
	struct ckpt_position *pos;
	size_t npos, cappos;
};

/* Adds a position (topic copied); a partition given twice keeps the last. */
void ckpt_state_set_position(struct ckpt_state *c, const char *topic,
                             int32_t partition, int64_t offset);
/* The offset of topic/partition in c, or -1 if c does not list it. */
int64_t ckpt_state_position(const struct ckpt_state *c, const char *topic,
                            int32_t partition);
/* Sets a file's size (path copied), adding the file if it is new. */
void ckpt_state_set_file(struct ckpt_state *c, const char *path, uint64_t size);
/* The committed size of path, or -1 if the job has not written it. */
int64_t ckpt_state_file(const struct ckpt_state *c, const char *path);
void ckpt_state_free(struct ckpt_state *c);

/*
 * Reads DIR/committed.json into c (emptied first: c starts zeroed). A missing
 * file is not an error: c->id is 0. -1 with errno: EBADMSG if it is not a whole
 * committed.json, or the reason it cannot be read.
 */
int ckpt_state_read(const char *dir, struct ckpt_state *c);

/*
 * Writes DIR/committed.json from c atomically: temp, fsync, rename,
 * directory fsync. Creates DIR if needed. 0 or -1 with errno.
 */
int ckpt_state_write(const char *dir, const struct ckpt_state *c);

/* The path of DIR/committed.json into buf; returns buf. */
const char *ckpt_state_path(const char *dir, char *buf, size_t n);

/*
 * --checkpoint's interval: a record count above 0 (all digits) into
 * *records, or a duration above 0 (5s, 500ms) into *ms; the other is set
 * to 0. Returns 0, or -1 for anything else. fx-consume and fx-run's check
 * of a job's "checkpoint" both read it so.
 */
int ckpt_interval_parse(const char *s, int64_t *records, int64_t *ms);

/* Appends a checkpoint record (without newline) to b. */
void ckpt_barrier_format(struct fx_buf *b, uint64_t id,
                         const struct ckpt_position *pos, size_t npos,
                         int final);
/* Appends a restore record (without newline) to b. */
void ckpt_restore_format(struct fx_buf *b, uint64_t id);

/*
 * Parses a control record (p, n: one JSON object) whose "_fx" is
 * "checkpoint" or "restore" into br (emptied first: br starts zeroed). -1 with
 * EBADMSG if it is neither or is malformed (no id, a bad position).
 */
int ckpt_barrier_parse(const char *p, size_t n, struct ckpt_barrier *br);
void ckpt_barrier_free(struct ckpt_barrier *br);

/*
 * A sink with a state directory (dir, its committed checkpoint committed)
 * read a record (br NULL) or barrier br before any restore record: a
 * checkpointed source writes restore first, so the input is not one, and
 * its records may be ones the sink committed already. Reports it at where
 * and returns FX_EXIT_IO; the caller commits nothing.
 */
struct fx_where;
int ckpt_refuse_unrestored(const struct fx_ctx *ctx,
                           const struct fx_where *where,
                           const struct ckpt_barrier *br, const char *dir,
                           uint64_t committed);

#endif
