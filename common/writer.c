/* writer.c - buffered record output */
#include "writer.h"
#include "err.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

void record_writer_init(struct record_writer *w, const struct fx_ctx *ctx,
                        int fd, const char *name)
{
	struct stat st;

	memset(w, 0, sizeof(*w));
	w->ctx = ctx;
	w->fd = fd;
	w->name = name;
	w->cap = RECORD_WRITER_BUFSIZE;
	w->buf = fx_malloc(w->cap);
	w->pipe = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
#ifdef F_SETPIPE_SZ
	(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#endif
}

static int write_all(struct record_writer *w, const char *p, size_t n)
{
	while (n) {
		ssize_t r = write(w->fd, p, n);

		if (r < 0) {
			/* a signal interrupts, it does not lose output */
			if (errno == EINTR)
				continue;
			w->err = errno;
			w->cap = w->len; /* no room: the fast paths see it */
			return -1;
		}
		p += r;
		n -= (size_t)r;
		w->bytes += (size_t)r;
	}
	return 0;
}

/* n bytes at p straight to the fd, in writes of the buffer's size. */
static int write_direct(struct record_writer *w, const char *p, size_t n)
{
	while (n) {
		size_t k = n < w->cap ? n : w->cap;

		if (write_all(w, p, k))
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

int record_writer_flush(struct record_writer *w)
{
	if (w->err)
		return -1;
	if (w->fd < 0) /* in memory: the owner takes it */
		return 0;
	if (w->len && write_all(w, w->buf, w->len))
		return -1;
	w->len = 0;
	return 0;
}

int record_writer_write_slow(struct record_writer *w, const char *p, size_t n)
{
	size_t whole;

	if (w->err)
		return -1;
	if (w->fd < 0) {
		/* one more than n: the fast paths want room to spare */
		FX_GROW(w->buf, w->len + n + 1, w->cap, RECORD_WRITER_BUFSIZE);
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		return 0;
	}
	if (record_writer_flush(w))
		return -1;
	/* large: straight from p, in writes of the buffer's size (see
	 * RECORD_WRITER_BUFSIZE: larger ones make a pipe's stages take
	 * turns) */
	whole = n - n % w->cap;
	if (whole && write_direct(w, p, whole))
		return -1;
	memcpy(w->buf, p + whole, n - whole);
	w->len = n - whole;
	return 0;
}

int record_writer_closed_pipe(const struct record_writer *w)
{
	return w->err == EPIPE;
}

int record_writer_close(struct record_writer *w)
{
	int rc = 0;

	record_writer_flush(w);
	if (w->err && w->err != EPIPE) {
		fx_warn(w->ctx, "%s: write error: %s", w->name,
		        strerror(w->err));
		rc = FX_EXIT_IO;
	}
	free(w->buf);
	w->buf = NULL;
	w->cap = w->len = 0;
	return rc;
}

/*
 * Smaller runs (a record or a few, between two runs) go through the
 * buffer with what follows them, not in a system call of their own.
 */
#define SPLICE_MIN ((size_t)65536)

int record_writer_copy(struct record_writer *w, const char *p, size_t n, int fd,
                       int64_t off)
{
	if (w->fd < 0 || n < SPLICE_MIN)
		return record_writer_write(w, p, n);
	if (record_writer_flush(w))
		return -1;
	/* a run is written where it is, not copied into the buffer first */
	if (!w->pipe || off < 0)
		return write_direct(w, p, n);
	while (n) {
		loff_t at = (loff_t)off;
		ssize_t r = splice(fd, &at, w->fd, NULL,
		                   n < w->cap ? n : w->cap, SPLICE_F_MORE);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			/* the file shrank, or cannot be spliced from; a
			 * closed pipe shows again in the write, which
			 * reports it as every write error is */
			w->pipe = 0;
			return write_direct(w, p, n);
		}
		p += r;
		n -= (size_t)r;
		off += r;
		w->bytes += (uint64_t)r;
	}
	return 0;
}

int record_writer_put_control(struct record_writer *w, const char *p, size_t n)
{
	struct json_member m;
	size_t pos = 0;
	int cp = json_object_next(p, n, &pos, &m) &&
	         json_string_equals(&m.val, "checkpoint", 10);

	if ((cp && record_writer_flush(w)) || record_writer_put(w, p, n) ||
	    (cp && record_writer_flush(w)))
		return record_writer_status(w);
	return 0;
}
