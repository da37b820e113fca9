#include "snapshot.h"
#include "checkpoint.h"
#include "err.h"
#include "opt.h"
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SNAP_PREFIX "snap-"

int snapshot_dir_open(struct snapshot_dir *d, const char *path)
{
	struct stat st;

	d->path = fx_strdup(path);
	if (fs_mkdir_p(d->path) != 0 || stat(d->path, &st) != 0)
		goto fail;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		goto fail;
	}
	return 0;
fail:
	free(d->path);
	d->path = NULL;
	return -1;
}

void snapshot_dir_close(struct snapshot_dir *d)
{
	free(d->path);
	d->path = NULL;
}

const char *snapshot_path(const struct snapshot_dir *d, uint64_t id, char *buf,
                          size_t n)
{
	snprintf(buf, n, "%s/" SNAP_PREFIX "%020" PRIu64, d->path, id);
	return buf;
}

int snapshot_write(const struct snapshot_dir *d, uint64_t id, const void *data,
                   size_t len)
{
	size_t n = strlen(d->path) + 64;
	char *dst = fx_malloc(n), head[96];
	uLong crc = crc32(0L, Z_NULL, 0);
	const unsigned char *p = data;
	size_t left = len;
	int hl, rc, err;

	/* crc32() takes a uInt length: feed it in pieces */
	while (left) {
		uInt piece = left > 1u << 30 ? 1u << 30 : (uInt)left;

		crc = crc32(crc, p, piece);
		p += piece;
		left -= piece;
	}
	hl = snprintf(head, sizeof(head), "fxsnap 1 %" PRIu64 " %zu %08lx\n",
	              id, len, (unsigned long)crc);
	snapshot_path(d, id, dst, n);
	rc = fs_write_file_atomic(dst, head, (size_t)hl, data, len);
	err = errno;
	free(dst);
	errno = err;
	return rc;
}

static int read_file(const char *path, struct fx_buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	ssize_t r;

	if (fd < 0)
		return -1;
	fx_buf_reset(out);
	for (;;) {
		fx_buf_grow(out, 65536);
		r = read(fd, out->p + out->len, out->cap - out->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno;
			close(fd);
			errno = err;
			return -1;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
	}
	close(fd);
	return 0;
}

int snapshot_read(const struct snapshot_dir *d, uint64_t id, struct fx_buf *out)
{
	size_t n = strlen(d->path) + 64;
	char *path = fx_malloc(n), *nl;
	uint64_t hid;
	size_t hlen, off;
	unsigned long hcrc;
	uLong crc;
	const unsigned char *p;
	size_t left;
	int used = 0;

	snapshot_path(d, id, path, n);
	used = read_file(path, out);
	free(path);
	if (used != 0)
		return -1;
	nl = out->len ? memchr(out->p, '\n', out->len < 96 ? out->len : 96)
	              : NULL;
	if (!nl)
		goto bad;
	*nl = '\0';
	if (sscanf(out->p, "fxsnap 1 %" SCNu64 " %zu %8lx%n", &hid, &hlen,
	           &hcrc, &used) != 3 ||
	    out->p + used != nl || hid != id)
		goto bad;
	off = (size_t)(nl - out->p) + 1;
	if (out->len - off != hlen)
		goto bad;
	crc = crc32(0L, Z_NULL, 0);
	p = (const unsigned char *)out->p + off;
	left = hlen;
	while (left) {
		uInt piece = left > 1u << 30 ? 1u << 30 : (uInt)left;

		crc = crc32(crc, p, piece);
		p += piece;
		left -= piece;
	}
	if (crc != hcrc)
		goto bad;
	memmove(out->p, out->p + off, hlen);
	out->len = hlen;
	return 0;
bad:
	fx_buf_reset(out);
	errno = EBADMSG;
	return -1;
}

/* The id of a snapshot file name, or -1 if name is not one. */
static int parse_name(const char *name, const char *prefix, uint64_t *id)
{
	size_t pl = strlen(prefix), i;
	uint64_t v = 0;

	if (strncmp(name, prefix, pl) != 0)
		return -1;
	for (i = pl; i < pl + 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*id = v;
	return name[i] == '\0' ? 0 : 1; /* 1: a longer name (a temp file) */
}

int snapshot_latest(const struct snapshot_dir *d, uint64_t *id)
{
	DIR *dir = opendir(d->path);
	struct dirent *e;
	uint64_t v;
	int found = 0;

	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		if (parse_name(e->d_name, SNAP_PREFIX, &v) != 0)
			continue;
		if (!found || v > *id)
			*id = v;
		found = 1;
	}
	closedir(dir);
	return found;
}

int snapshot_prune(const struct snapshot_dir *d, uint64_t keep)
{
	DIR *dir = opendir(d->path);
	struct dirent *e;
	uint64_t v;
	int removed = 0, err;
	size_t n = strlen(d->path) + 300;
	char *path = fx_malloc(n);

	if (!dir) {
		free(path);
		return -1;
	}
	while ((e = readdir(dir))) {
		int old =
		    parse_name(e->d_name, SNAP_PREFIX, &v) == 0 && v < keep;
		/* fs_write_file_atomic's temporaries: snap-ID.tmp.PID */
		int tmp = parse_name(e->d_name, SNAP_PREFIX, &v) == 1 &&
		          strstr(e->d_name, ".tmp.");

		if (!old && !tmp)
			continue;
		snprintf(path, n, "%s/%s", d->path, e->d_name);
		if (unlink(path) != 0 && errno != ENOENT) {
			err = errno;
			closedir(dir);
			free(path);
			errno = err;
			return -1;
		}
		removed++;
	}
	closedir(dir);
	free(path);
	return removed;
}

void snapshot_put_u64(struct fx_buf *b, uint64_t v)
{
	unsigned char x[8];
	int i;

	for (i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (8 * i));
	fx_buf_add(b, x, 8);
}

void snapshot_put_bytes(struct fx_buf *b, const void *p, size_t n)
{
	snapshot_put_u64(b, n);
	if (n)
		fx_buf_add(b, p, n);
}

uint64_t snapshot_get_u64(struct snapshot_reader *r)
{
	uint64_t v = 0;
	int i;

	if (r->bad || r->end - r->p < 8) {
		r->bad = 1;
		return 0;
	}
	for (i = 7; i >= 0; i--)
		v = v << 8 | (unsigned char)r->p[i];
	r->p += 8;
	return v;
}

size_t snapshot_get_count(struct snapshot_reader *r, size_t min)
{
	uint64_t n = snapshot_get_u64(r);

	if (!r->bad && n > (uint64_t)(r->end - r->p) / min)
		r->bad = 1;
	return r->bad ? 0 : (size_t)n;
}

const char *snapshot_get_bytes(struct snapshot_reader *r, size_t *n)
{
	uint64_t len = snapshot_get_u64(r);
	const char *p = r->p;

	if (r->bad || len > (uint64_t)(r->end - r->p)) {
		r->bad = 1;
		*n = 0;
		return "";
	}
	r->p += len;
	*n = (size_t)len;
	return p;
}

int snapshot_restore(struct fx_ctx *ctx, const struct snapshot_dir *d,
                     uint64_t id, struct fx_buf *out)
{
	size_t n = strlen(d->path) + 64;
	char *path = fx_malloc(n);

	snapshot_path(d, id, path, n);
	if (id == 0) {
		if (snapshot_prune(d, UINT64_MAX) < 0)
			fx_die(ctx, FX_EXIT_IO,
			       "%s: cannot remove old snapshots: %s", d->path,
			       strerror(errno));
		free(path);
		return 0;
	}
	if (snapshot_read(d, id, out))
		fx_die(ctx, FX_EXIT_IO,
		       "%s: cannot restore checkpoint %" PRIu64 ": %s", path,
		       id,
		       errno == ENOENT    ? "snapshot missing"
		       : errno == EBADMSG ? "snapshot corrupt"
		                          : strerror(errno));
	free(path);
	return 1;
}

int snapshot_stage_open(struct fx_ctx *ctx, struct snapshot_dir *d,
                        const char *state, const char *stage,
                        const char *def_stage)
{
	struct fx_buf path = FX_BUF_INIT;

	if (!state) {
		if (stage)
			fx_usage_error(ctx, "--stage needs --state DIR");
		return 0;
	}
	if (!stage)
		stage = def_stage;
	if (!*state)
		fx_usage_error(ctx, "--state: empty directory name");
	if (!*stage || strchr(stage, '/') || !strcmp(stage, ".") ||
	    !strcmp(stage, ".."))
		fx_usage_error(ctx, "--stage: not a name: '%s'", stage);
	fx_buf_adds(&path, state);
	fx_buf_addc(&path, '/');
	fx_buf_adds(&path, stage);
	fx_buf_addc(&path, '\0');
	if (snapshot_dir_open(d, path.p))
		fx_die(ctx, FX_EXIT_IO,
		       "%s: cannot create the state directory: %s", path.p,
		       strerror(errno));
	fx_buf_free(&path);
	return 1;
}

uint64_t snapshot_stage_take(struct fx_ctx *ctx, const struct snapshot_dir *d,
                             const char *state, uint64_t id, const void *data,
                             size_t len)
{
	struct ckpt_state cs;
	size_t n = strlen(state) + strlen(d->path) + 64;
	char *path = fx_malloc(n);
	uint64_t keep, committed;

	if (snapshot_write(d, id, data, len))
		fx_die(ctx, FX_EXIT_IO, "%s: cannot write snapshot: %s",
		       snapshot_path(d, id, path, n), strerror(errno));
	memset(&cs, 0, sizeof(cs));
	if (ckpt_state_read(state, &cs))
		fx_die(ctx, FX_EXIT_IO, "%s: %s",
		       ckpt_state_path(state, path, n),
		       errno == EBADMSG ? "not a committed.json"
		                        : strerror(errno));
	committed = cs.id;
	keep = committed < id ? committed : id;
	ckpt_state_free(&cs);
	if (keep && snapshot_prune(d, keep) < 0)
		fx_die(ctx, FX_EXIT_IO, "%s: cannot remove old snapshots: %s",
		       d->path, strerror(errno));
	free(path);
	return committed;
}

int snapshot_get_header(struct snapshot_reader *r, struct fx_buf *want,
                        void (*options)(void *arg, struct fx_buf *want),
                        void *arg)
{
	size_t n = (size_t)(r->end - r->p);

	if (n < want->len || memcmp(r->p, want->p, want->len))
		return -1;
	options(arg, want);
	fx_buf_addc(want, '\n');
	if (n < want->len || memcmp(r->p, want->p, want->len))
		return -2;
	r->p += want->len;
	return 0;
}
