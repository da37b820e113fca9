/* input.c - files, stdin and gzip as one byte source */
#include "input.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* Bigger pipes mean fewer context switches between stages. */
static void widen_pipe(int fd)
{
#ifdef F_SETPIPE_SZ
	(void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#endif
}

void fx_input_from_fd(struct fx_input *in, const struct fx_ctx *ctx, int fd,
                      const char *name)
{
	memset(in, 0, sizeof(*in));
	in->ctx = ctx;
	in->fd = fd;
	in->name = name;
	widen_pipe(fd);
}

int fx_input_open(struct fx_input *in, const struct fx_ctx *ctx,
                  const char *path, int gz)
{
	memset(in, 0, sizeof(*in));
	in->ctx = ctx;
	in->name = path;
	if (strcmp(path, "-") == 0) {
		in->name = "stdin";
		in->fd = 0;
		widen_pipe(0);
	} else {
		in->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0) {
			fx_warn(ctx, "%s: %s", path, strerror(errno));
			return FX_EXIT_IO;
		}
#ifdef POSIX_FADV_SEQUENTIAL
		(void)posix_fadvise(in->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	}
	if (gz) {
		int fd = dup(in->fd);

		in->gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
		if (!in->gz) {
			fx_warn(ctx, "%s: cannot open gzip stream", in->name);
			if (fd >= 0)
				close(fd);
			fx_input_close(in);
			return FX_EXIT_IO;
		}
		gzbuffer(in->gz, 1 << 18);
	}
	return 0;
}

ssize_t fx_input_read(struct fx_input *in, void *buf, size_t n)
{
	for (;;) {
		ssize_t r;

		if (in->gz) {
			int e;
			const char *msg;

			r = gzread(in->gz, buf,
			           n > (1u << 30) ? 1u << 30 : (unsigned)n);
			if (r >= 0)
				return r;
			msg = gzerror(in->gz, &e);
			if (e == Z_ERRNO && errno == EINTR && !fx_stop)
				continue;
			fx_warn(in->ctx, "%s: %s", in->name,
			        e == Z_ERRNO ? strerror(errno) : msg);
			return -1;
		}
		r = read(in->fd, buf, n);
		if (r >= 0)
			return r;
		if (errno == EINTR) {
			/* a stop signal ends the input where it is */
			if (fx_stop)
				return 0;
			continue;
		}
		fx_warn(in->ctx, "%s: read error: %s", in->name,
		        strerror(errno));
		return -1;
	}
}

void fx_input_close(struct fx_input *in)
{
	if (in->gz) {
		gzclose(in->gz);
		in->gz = NULL;
	}
	if (in->fd > 0) {
		close(in->fd);
		in->fd = -1;
	}
}
