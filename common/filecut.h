/*
 * filecut.h - regular files cut at line boundaries, so that threads can
 * each read a piece (fx-agg -j, fx-join -j).
 *
 * A piece must end just after a line that is not blank: the reader passes
 * over blank lines before a record, so a piece that ended on one would
 * read on into the next piece for its last record. A cut depends only on
 * the offset it starts from, so two threads that compute the same cut
 * (the end of one piece, the start of the next) find the same byte.
 */
#ifndef FX_FILECUT_H
#define FX_FILECUT_H

#include <stdint.h>

/*
 * 1 and *size if fd is a regular file whose bytes are the data as read
 * (input.h): not gzip data, not starting with a byte order mark (its
 * three bytes are not data, so a piece's length would not be the bytes
 * its reader counts); else 0. fd is the file's pin (fx_input_pin), which
 * every thread's piece then reads.
 */
int filecut_plain(int fd, int64_t *size);

/*
 * The first offset at or after off in fd (of size bytes) that ends a line
 * that is not blank, or size. From off > 0 the line off is in is passed
 * over first, even if off is its first byte.
 */
int64_t filecut_after(int fd, int64_t off, int64_t size);

/* Lines (line ends) in [0, end) of fd: the line at end is this plus 1. */
uint64_t filecut_lines(int fd, int64_t end);

#endif
