/*
 * input.h - a byte source: a file, stdin, or a gzip-compressed file.
 *
 * The struct fx_input owns its descriptor (stdin excepted) and, for .gz,
 * the zlib stream. Errors are reported with the input's name and leave
 * the input unusable.
 */
#ifndef FX_INPUT_H
#define FX_INPUT_H

#include "fx.h"

#include <sys/types.h>

struct fx_input {
	const char *name; /* borrowed: "stdin" or the path as given */
	int fd;
	void *gz; /* gzFile when compressed */
	const struct fx_ctx *ctx;
};

/*
 * Opens path ("-" is stdin); gz selects gzip decompression. Returns 0, or
 * FX_EXIT_IO after printing "prog: PATH: reason".
 */
int fx_input_open(struct fx_input *in, const struct fx_ctx *ctx,
                  const char *path, int gz);

/* Wraps an open descriptor (not closed by fx_input_close). */
void fx_input_from_fd(struct fx_input *in, const struct fx_ctx *ctx, int fd,
                      const char *name);

/* Reads up to n bytes. Returns the count, 0 at end, -1 after reporting. */
ssize_t fx_input_read(struct fx_input *in, void *buf, size_t n);

void fx_input_close(struct fx_input *in);

#endif
