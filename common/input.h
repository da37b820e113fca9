/*
 * input.h - a byte source: a file, stdin, a FIFO, plain or gzip-compressed.
 *
 * Every input is sniffed on its first read: data that starts with gzip's
 * magic bytes (1f 8b) is decompressed, whatever the input's name (so
 * `gzip -c f | prog` and `prog <(gzip -c f)` work); opened with gz set (a
 * name ending in .gz, or --format ...+gz), data that does not is an error.
 * Compressed data must be whole: every member ends with its CRC and length
 * trailer, and the input ends right after a member (or after zero padding),
 * as `gzip -t` checks. Concatenated members read as one stream, as with
 * `gzip -dc`. A truncated or corrupt input is an I/O error, never a short
 * or damaged end of data: "prog: NAME: gzip: unexpected end of file".
 *
 * A UTF-8 byte order mark (EF BB BF) at the very start of the data (after
 * decompression) is removed, as jq does and RFC 8259 allows; one anywhere
 * else is data (and not valid JSON).
 *
 * The struct fx_input owns its descriptor (stdin excepted) and, for gzip,
 * the zlib stream. Errors are reported with the input's name and leave
 * the input unusable.
 */
#ifndef FX_INPUT_H
#define FX_INPUT_H

#include "fx.h"

#include <stdint.h>
#include <sys/types.h>

struct fx_gz; /* input.c */

struct fx_input {
	const char *name; /* borrowed: "stdin" or the path as given */
	int fd;
	int owns_fd;      /* fx_input_close closes fd */
	struct fx_gz *gz; /* set once the data turned out to be gzip */
	const struct fx_ctx *ctx;
	int want_gz;           /* the name or --format says gzip */
	int sniffed;           /* the first bytes were looked at */
	int bom_checked;       /* a leading byte order mark was looked for */
	int failed;            /* an error was reported: reads return -1 */
	unsigned char head[2]; /* bytes read while sniffing, not yet given */
	int64_t file_base;     /* see fx_input_file_offset(); -1: not a file */
	/*
	 * The bytes it may still read from fd, -1: all. A piece of a file
	 * (fx-join -j) ends at its last line: reading on would validate
	 * bytes another thread has.
	 */
	int64_t left;
	size_t head_len, head_pos;
};

/*
 * Opens path ("-" is stdin); gz says the data must be gzip. Returns 0, or
 * FX_EXIT_IO after printing "prog: PATH: reason".
 */
int fx_input_open(struct fx_input *in, const struct fx_ctx *ctx,
                  const char *path, int gz);

/*
 * A file a run reads more than once (fx-agg -j and fx-join -j cut it into
 * pieces, open it in each thread, and read the rest again in one when a
 * piece cannot be done there) is opened once, its pin: every later open
 * of the same name in the run (fx_input_open, fx_input_open_fd) opens the
 * pinned file through /proc/self/fd, a description of its own with its
 * own offset, even if the name has been moved, removed or given to
 * another file meanwhile (a log rotated under the run). The run reads one
 * file, never pieces of two. Without /proc the name is opened as before.
 */
struct fx_pin {
	const char *path; /* borrowed: as given */
	int fd;
};

/*
 * Pins path (ctx->pins): its descriptor (also the pin's, closed by
 * fx_input_unpin_all; pread(2) only, as threads share it), or -1 with errno
 * set if it cannot be opened (nothing pinned, nothing said).
 */
int fx_input_pin(struct fx_ctx *ctx, const char *path);

/* open(2) of path for reading, or of the file pinned under its name. */
int fx_input_open_fd(const struct fx_ctx *ctx, const char *path);

/* Closes every pin of ctx. Threads that read them have ended. */
void fx_input_unpin_all(struct fx_ctx *ctx);

/* Wraps an open descriptor (not closed by fx_input_close). */
void fx_input_from_fd(struct fx_input *in, const struct fx_ctx *ctx, int fd,
                      const char *name);

/*
 * Reads up to n bytes (n >= 3, or a byte order mark is not looked for).
 * Returns the count, 0 at the end, -1 after reporting an error (a read
 * error, or compressed data that is truncated or corrupt).
 */
ssize_t fx_input_read(struct fx_input *in, void *buf, size_t n);

/*
 * Where data byte data_offset (0 = the first byte fx_input_read() gave,
 * after any byte order mark) lies in the input's file, when the data are
 * a regular file's own bytes (not gzip) and reading has begun; -1
 * otherwise. A program that passes bytes through may then have the
 * kernel copy them from the file (splice(2): see record_writer_copy()).
 */
int64_t fx_input_file_offset(const struct fx_input *in, uint64_t data_offset);

/*
 * Frees the zlib stream and closes the descriptor if the input owns it (a
 * path opened by fx_input_open), setting fd to -1; stdin and a descriptor
 * given to fx_input_from_fd stay open (and fd keeps their number). Code
 * that looks at in->fd (lineage_input_fd) does so before this call.
 */
void fx_input_close(struct fx_input *in);

#endif
