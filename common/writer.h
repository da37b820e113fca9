/*
 * writer.h - buffered output of records to a descriptor.
 *
 * Writes go to a large buffer and out in large writes. An error is sticky:
 * after it every call does nothing and returns -1 (the inline fast paths
 * too: a failed writer has no room left, so they take the slow path, which
 * checks the error), record_writer_failed() is true, and
 * record_writer_close() reports it once. A closed pipe (EPIPE) is not an
 * error to report: the program ends quietly with status 0, as a filter in
 * `| head` should.
 */
#ifndef FX_WRITER_H
#define FX_WRITER_H

#include "fx.h"

#include <stddef.h>
#include <string.h>

/*
 * Writes go out 256 KiB at a time: large enough to keep system calls rare,
 * small enough that the next stage of a pipe works on one chunk while this
 * one fills the next (1 MiB writes into a 1 MiB pipe made the two stages
 * take turns: 0.57 s instead of 0.30 s for 363 MB).
 */
#define RECORD_WRITER_BUFSIZE ((size_t)262144)

struct record_writer {
	const struct fx_ctx *ctx;
	const char *name; /* "stdout" or a path, for messages */
	int fd;
	char *buf;
	size_t len;
	size_t cap;
	int err;        /* errno of the first failed write, 0 if none */
	int pipe;       /* fd is a pipe: record_writer_copy() may splice */
	uint64_t bytes; /* written to fd so far */
};

/*
 * The writer does not own fd. name is borrowed. With fd -1 the records
 * stay in memory: the buffer grows, record_writer_flush() keeps them, and
 * the owner takes buf and len (fx-join -j: a thread's piece, written in
 * its turn) and sets len to 0 to start again.
 */
void record_writer_init(struct record_writer *w, const struct fx_ctx *ctx,
                        int fd, const char *name);

/* Writes the buffer out. Returns 0, or -1 (sticky error). */
int record_writer_flush(struct record_writer *w);

/* Appends n bytes. Returns 0, or -1 (sticky error). */
int record_writer_write_slow(struct record_writer *w, const char *p, size_t n);

static inline int record_writer_write(struct record_writer *w, const char *p,
                                      size_t n)
{
	if (w->cap - w->len > n) {
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		return 0;
	}
	return record_writer_write_slow(w, p, n);
}

/* Appends a record and its "\n". */
static inline int record_writer_put(struct record_writer *w, const char *p,
                                    size_t n)
{
	if (w->cap - w->len > n + 1) {
		memcpy(w->buf + w->len, p, n);
		w->buf[w->len + n] = '\n';
		w->len += n + 1;
		return 0;
	}
	if (record_writer_write_slow(w, p, n))
		return -1;
	/* the buffer has room again: the newline waits there for the next
	 * record, not in a write(2) of its own */
	return record_writer_write(w, "\n", 1);
}

/*
 * Appends a control record (valid JSON, first key "_fx"): a checkpoint
 * barrier is flushed through, with the records before it, so that the
 * next stage sees it now and the checkpoint's commit does not wait for a
 * full buffer (a stage that held barriers held every commit downstream).
 * Returns 0 or record_writer_status(w).
 */
int record_writer_put_control(struct record_writer *w, const char *p, size_t n);

static inline int record_writer_failed(const struct record_writer *w)
{
	return w->err != 0;
}

/*
 * record_writer_write() of n bytes that are also the n bytes at offset off
 * of file fd (off < 0: they are not): into a pipe, the kernel moves them
 * from the file's pages (splice(2)), with no copy through this process,
 * in writes of the buffer's size. The bytes out are the file's at that
 * moment: the caller has read and validated them just before, so they
 * differ only if the file is rewritten in place meanwhile (the next
 * stage validates them again). A file that shrank, or one the kernel
 * cannot splice from, gets the bytes at p written instead. Runs of 64 KiB
 * or more go to any fd from p (after what the buffer holds), not through
 * the buffer.
 */
int record_writer_copy(struct record_writer *w, const char *p, size_t n, int fd,
                       int64_t off);

/*
 * Every byte given to the writer so far: written to fd, or buffered (what
 * --stats reports as bytes_out; after a write error, what was given).
 */
static inline uint64_t record_writer_bytes_total(const struct record_writer *w)
{
	return w->bytes + w->len;
}

/* True after EPIPE: the reader went away, stop quietly. */
int record_writer_closed_pipe(const struct record_writer *w);

/*
 * The status a loop stops with once the writer failed: FX_EXIT_CLOSED after
 * EPIPE (fx_finish() makes it 0), FX_EXIT_IO after a write error (reported
 * by record_writer_close()); 0 while it has not failed. Not FX_EXIT_IO for
 * both: that made `| head` exit 3.
 */
static inline int record_writer_status(const struct record_writer *w)
{
	if (!w->err)
		return 0;
	return record_writer_closed_pipe(w) ? FX_EXIT_CLOSED : FX_EXIT_IO;
}

/*
 * Flushes and frees the buffer (does not close fd). Returns 0 if every byte
 * was written or the pipe was closed by the reader; otherwise reports
 * "prog: NAME: write error: reason" and returns FX_EXIT_IO.
 */
int record_writer_close(struct record_writer *w);

#endif
