/* input.c - files, stdin and gzip as one byte source */
#include "input.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <zlib.h>

#define GZ_IN_SIZE ((size_t)1 << 18)

static const unsigned char gz_magic[2] = {0x1f, 0x8b};
static const unsigned char utf8_bom[3] = {0xef, 0xbb, 0xbf};

struct fx_gz {
	z_stream z;
	int in_member; /* inside a member: its end and trailer are due */
	int eof;       /* the compressed input ended */
	unsigned char in[GZ_IN_SIZE];
};

/* Bigger pipes mean fewer context switches between stages. */
static void widen_pipe(int fd)
{
#ifdef F_SETPIPE_SZ
	(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#endif
}

int fx_input_pin(struct fx_ctx *ctx, const char *path)
{
	int fd = fx_input_open_fd(ctx, path);

	if (fd < 0)
		return -1;
	FX_GROW(ctx->pins, ctx->npins + 1, ctx->cap_pins, 4);
	ctx->pins[ctx->npins].path = path;
	ctx->pins[ctx->npins++].fd = fd;
	return fd;
}

int fx_input_open_fd(const struct fx_ctx *ctx, const char *path)
{
	char proc[40];
	size_t i;
	int fd;

	for (i = ctx->npins; i-- > 0;) {
		if (strcmp(ctx->pins[i].path, path) != 0)
			continue;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d",
		         ctx->pins[i].fd);
		fd = open(proc, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			return fd;
		break; /* no /proc: the name */
	}
	return open(path, O_RDONLY | O_CLOEXEC);
}

void fx_input_unpin_all(struct fx_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->npins; i++)
		close(ctx->pins[i].fd);
	free(ctx->pins);
	ctx->pins = NULL;
	ctx->npins = ctx->cap_pins = 0;
}

void fx_input_from_fd(struct fx_input *in, const struct fx_ctx *ctx, int fd,
                      const char *name)
{
	memset(in, 0, sizeof(*in));
	in->ctx = ctx;
	in->fd = fd;
	in->name = name;
	in->file_base = -1;
	in->left = -1;
	widen_pipe(fd);
}

int fx_input_open(struct fx_input *in, const struct fx_ctx *ctx,
                  const char *path, int gz)
{
	memset(in, 0, sizeof(*in));
	in->ctx = ctx;
	in->name = path;
	in->want_gz = gz;
	in->file_base = -1;
	in->left = -1;
	if (strcmp(path, "-") == 0) {
		in->name = "stdin";
		in->fd = 0;
		widen_pipe(0);
		return 0;
	}
	in->fd = fx_input_open_fd(ctx, path);
	if (in->fd < 0) {
		fx_warn(ctx, "%s: %s", path, strerror(errno));
		return FX_EXIT_IO;
	}
	in->owns_fd = 1;
#ifdef POSIX_FADV_SEQUENTIAL
	(void)posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	return 0;
}

static ssize_t fail(struct fx_input *in, const char *what)
{
	fx_warn(in->ctx, "%s: %s", in->name, what);
	in->failed = 1;
	return -1;
}

/* read(2), restarted after a signal. 0 at end (or a stop), -1 reported. */
static ssize_t read_fd(struct fx_input *in, void *buf, size_t n)
{
	if (in->left >= 0 && (int64_t)n > in->left)
		n = (size_t)in->left;
	if (!n)
		return 0;
	for (;;) {
		ssize_t r = read(in->fd, buf, n);

		if (r >= 0) {
			if (in->left >= 0)
				in->left -= r;
			return r;
		}
		if (errno == EINTR) {
			/* a stop signal ends the input where it is */
			if (fx_stop)
				return 0;
			continue;
		}
		fx_warn(in->ctx, "%s: read error: %s", in->name,
		        strerror(errno));
		in->failed = 1;
		return -1;
	}
}

/* The raw bytes, the sniffed ones first. 0 at end, -1 reported. */
static ssize_t read_raw(struct fx_input *in, void *buf, size_t n)
{
	if (in->head_pos < in->head_len) {
		size_t k = in->head_len - in->head_pos;

		if (k > n)
			k = n;
		memcpy(buf, in->head + in->head_pos, k);
		in->head_pos += k;
		return (ssize_t)k;
	}
	return read_fd(in, buf, n);
}

/*
 * Plain data from a regular file: data byte k is the file's byte
 * file_base + k (the sniffed bytes were the first read).
 */
static void file_base_set(struct fx_input *in)
{
	struct stat st;
	off_t pos;

	in->file_base = -1;
	if (fstat(in->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	pos = lseek(in->fd, 0, SEEK_CUR);
	if (pos >= (off_t)in->head_len)
		in->file_base = (int64_t)pos - (int64_t)in->head_len;
}

/*
 * Looks at the first bytes: gzip's magic makes the input compressed. Reads
 * only as far as needed to tell (one byte unless it is 0x1f), so a live
 * stream is not held up.
 */
static int sniff(struct fx_input *in)
{
	in->sniffed = 1;
	while (in->head_len < 2 &&
	       (in->head_len == 0 || in->head[0] == gz_magic[0])) {
		ssize_t r =
		    read_fd(in, in->head + in->head_len, 2 - in->head_len);

		if (r < 0)
			return -1;
		if (r == 0)
			break;
		in->head_len += (size_t)r;
	}
	if (in->head_len == 2 && !memcmp(in->head, gz_magic, 2)) {
		int zrc;

		in->gz = fx_malloc(sizeof(*in->gz));
		memset(&in->gz->z, 0, sizeof(in->gz->z));
		in->gz->in_member = 0;
		in->gz->eof = 0;
		/* 16 + MAX_WBITS: gzip members only, each trailer checked */
		zrc = inflateInit2(&in->gz->z, 16 + MAX_WBITS);
		if (zrc != Z_OK) {
			free(in->gz);
			in->gz = NULL;
			return (int)fail(in,
			                 "gzip: cannot start decompression");
		}
		in->gz->z.next_in = in->gz->in;
		return 0;
	}
	file_base_set(in);
	if (in->want_gz)
		/* a lone 1f is a header cut short, as gzip -t says */
		return (int)fail(in, in->head_len == 2 ||
		                             (in->head_len == 1 &&
		                              in->head[0] != gz_magic[0])
		                         ? "gzip: not in gzip format"
		                         : "gzip: unexpected end of file");
	return 0;
}

/* More compressed bytes after the unread ones. 0 at end, -1 reported. */
static int gz_fill(struct fx_input *in)
{
	struct fx_gz *g = in->gz;
	ssize_t r;

	if (g->eof)
		return 0;
	if (g->z.avail_in && g->z.next_in != g->in)
		memmove(g->in, g->z.next_in, g->z.avail_in);
	g->z.next_in = g->in;
	r = read_raw(in, g->in + g->z.avail_in, GZ_IN_SIZE - g->z.avail_in);
	if (r < 0)
		return -1;
	if (r == 0) {
		g->eof = !fx_stop;
		return 0;
	}
	g->z.avail_in += (uInt)r;
	return 1;
}

/*
 * Between members: another member starts (1f 8b), or zero padding runs to
 * the end, as gzip accepts. Returns 1 (a member starts), 0 (the end), -1.
 */
static int gz_next_member(struct fx_input *in)
{
	struct fx_gz *g = in->gz;
	int r;

	for (;;) {
		while (g->z.avail_in && *g->z.next_in == 0) {
			g->z.next_in++;
			g->z.avail_in--;
		}
		if (g->z.avail_in >= 2 || (g->z.avail_in && g->eof)) {
			if (g->z.avail_in < 2 ||
			    memcmp(g->z.next_in, gz_magic, 2))
				return (int)fail(
				    in,
				    "gzip: trailing garbage after compressed data");
			if (inflateReset(&g->z) != Z_OK)
				return (int)fail(in, "gzip: cannot restart");
			g->in_member = 1;
			return 1;
		}
		if (g->eof && !g->z.avail_in)
			return 0;
		r = gz_fill(in);
		if (r < 0)
			return -1;
		if (r == 0 && fx_stop)
			return 0; /* a stop signal ends the input here */
	}
}

static ssize_t read_gz(struct fx_input *in, void *buf, size_t n)
{
	struct fx_gz *g = in->gz;
	uInt want = n > UINT_MAX ? UINT_MAX : (uInt)n;

	g->z.next_out = buf;
	g->z.avail_out = want;
	while (g->z.avail_out == want) {
		int zrc;

		if (!g->in_member) {
			int r = gz_next_member(in);

			if (r <= 0)
				return r;
		}
		if (!g->z.avail_in && gz_fill(in) < 0)
			return -1;
		/* a stop signal ends the input where it is */
		if (!g->z.avail_in && fx_stop && !g->eof)
			break;
		if (!g->z.avail_in && g->eof)
			return fail(in, "gzip: unexpected end of file");
		zrc = inflate(&g->z, Z_NO_FLUSH);
		if (zrc == Z_STREAM_END) {
			g->in_member = 0;
		} else if (zrc == Z_DATA_ERROR) {
			char msg[128];

			snprintf(msg, sizeof(msg), "gzip: %s",
			         g->z.msg ? g->z.msg : "corrupt data");
			return fail(in, msg);
		} else if (zrc == Z_MEM_ERROR) {
			fx_oom();
		} else if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			return fail(in, "gzip: corrupt data");
		}
		/* Z_BUF_ERROR: no progress without more input, read on */
	}
	return (ssize_t)(want - g->z.avail_out);
}

static ssize_t read_data(struct fx_input *in, void *buf, size_t n)
{
	if (in->failed)
		return -1;
	if (!in->sniffed && sniff(in) < 0)
		return -1;
	if (in->gz)
		return read_gz(in, buf, n);
	return read_raw(in, buf, n);
}

/*
 * The first read: as long as what came so far is a prefix of a byte order
 * mark, reads on, then drops a whole one.
 */
static ssize_t read_first(struct fx_input *in, char *buf, size_t n)
{
	size_t got = 0;

	in->bom_checked = 1;
	while (got < sizeof(utf8_bom) && !memcmp(buf, utf8_bom, got)) {
		ssize_t r = read_data(in, buf + got, n - got);

		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got >= sizeof(utf8_bom) && !memcmp(buf, utf8_bom, 3)) {
		got -= sizeof(utf8_bom);
		memmove(buf, buf + sizeof(utf8_bom), got);
		if (in->file_base >= 0)
			in->file_base += (int64_t)sizeof(utf8_bom);
		if (got == 0)
			return read_data(in, buf, n);
	}
	return (ssize_t)got;
}

int64_t fx_input_file_offset(const struct fx_input *in, uint64_t data_offset)
{
	if (!in->sniffed || in->gz || in->file_base < 0 || in->failed)
		return -1;
	return in->file_base + (int64_t)data_offset;
}

ssize_t fx_input_read(struct fx_input *in, void *buf, size_t n)
{
	if (!in->bom_checked && n >= sizeof(utf8_bom))
		return read_first(in, buf, n);
	return read_data(in, buf, n);
}

void fx_input_close(struct fx_input *in)
{
	if (in->gz) {
		inflateEnd(&in->gz->z);
		free(in->gz);
		in->gz = NULL;
	}
	if (in->owns_fd && in->fd >= 0) {
		close(in->fd);
		in->fd = -1;
	}
	in->owns_fd = 0;
}
