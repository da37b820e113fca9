#include "checkpoint.h"
#include "err.h"
#include "fsutil.h"
#include "fxtime.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cJSON keeps numbers as doubles: integers are exact up to 2^53. */
#define EXACT_MAX 9007199254740992.0

static int exact_int(const cJSON *n, double lo, double *v)
{
	if (!cJSON_IsNumber(n))
		return -1;
	*v = n->valuedouble;
	if (*v != floor(*v) || *v < lo || *v > EXACT_MAX)
		return -1;
	return 0;
}

void ckpt_state_set_position(struct ckpt_state *c, const char *topic,
                             int32_t partition, int64_t offset)
{
	size_t i;

	for (i = 0; i < c->npos; i++)
		if (c->pos[i].partition == partition &&
		    !strcmp(c->pos[i].topic, topic)) {
			c->pos[i].offset = offset;
			return;
		}
	FX_GROW(c->pos, c->npos + 1, c->cappos, 8);
	c->pos[c->npos].topic = fx_strdup(topic);
	c->pos[c->npos].partition = partition;
	c->pos[c->npos].offset = offset;
	c->npos++;
}

int64_t ckpt_state_position(const struct ckpt_state *c, const char *topic,
                            int32_t partition)
{
	size_t i;

	for (i = 0; i < c->npos; i++)
		if (c->pos[i].partition == partition &&
		    !strcmp(c->pos[i].topic, topic))
			return c->pos[i].offset;
	return -1;
}

void ckpt_state_set_file(struct ckpt_state *c, const char *path, uint64_t size)
{
	size_t i;

	for (i = 0; i < c->nfiles; i++)
		if (!strcmp(c->files[i].path, path)) {
			c->files[i].size = size;
			return;
		}
	FX_GROW(c->files, c->nfiles + 1, c->capfiles, 8);
	c->files[c->nfiles].path = fx_strdup(path);
	c->files[c->nfiles].size = size;
	c->nfiles++;
}

int64_t ckpt_state_file(const struct ckpt_state *c, const char *path)
{
	size_t i;

	for (i = 0; i < c->nfiles; i++)
		if (!strcmp(c->files[i].path, path))
			return (int64_t)c->files[i].size;
	return -1;
}

static void positions_free(struct ckpt_position *pos, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(pos[i].topic);
	free(pos);
}

void ckpt_state_free(struct ckpt_state *c)
{
	size_t i;

	positions_free(c->pos, c->npos);
	for (i = 0; i < c->nfiles; i++)
		free(c->files[i].path);
	free(c->files);
	memset(c, 0, sizeof(*c));
}

const char *ckpt_state_path(const char *dir, char *buf, size_t n)
{
	snprintf(buf, n, "%s/committed.json", dir);
	return buf;
}

/* [["topic",P,OFF],...] into pos; -1 if malformed. */
static int parse_positions(const cJSON *arr, struct ckpt_position **pos,
                           size_t *npos, size_t *cap)
{
	const cJSON *p;
	double part, off;

	if (!cJSON_IsArray(arr))
		return -1;
	cJSON_ArrayForEach(p, arr)
	{
		const cJSON *t = cJSON_GetArrayItem(p, 0);

		if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 3 ||
		    !cJSON_IsString(t) || !*t->valuestring ||
		    exact_int(cJSON_GetArrayItem(p, 1), 0, &part) ||
		    part > INT32_MAX ||
		    exact_int(cJSON_GetArrayItem(p, 2), 0, &off))
			return -1;
		FX_GROW(*pos, *npos + 1, *cap, 8);
		(*pos)[*npos].topic = fx_strdup(t->valuestring);
		(*pos)[*npos].partition = (int32_t)part;
		(*pos)[*npos].offset = (int64_t)off;
		(*npos)++;
	}
	return 0;
}

static int read_all(const char *path, struct fx_buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	ssize_t r;

	if (fd < 0)
		return -1;
	for (;;) {
		fx_buf_grow(b, 4096);
		r = read(fd, b->p + b->len, b->cap - b->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		b->len += (size_t)r;
	}
	err = errno;
	close(fd);
	errno = err;
	return r < 0 ? -1 : 0;
}

int ckpt_state_read(const char *dir, struct ckpt_state *c)
{
	size_t n = strlen(dir) + 32;
	char *path = fx_malloc(n);
	struct fx_buf b = FX_BUF_INIT;
	cJSON *root = NULL, *files, *f;
	double v;
	int rc = -1;

	ckpt_state_free(c);
	ckpt_state_path(dir, path, n);
	if (read_all(path, &b) != 0) {
		if (errno == ENOENT)
			rc = 0; /* nothing committed yet */
		goto out;
	}
	root = cJSON_ParseWithLength(b.p, b.len);
	if (!cJSON_IsObject(root) ||
	    exact_int(cJSON_GetObjectItemCaseSensitive(root, "id"), 1, &v))
		goto bad;
	c->id = (uint64_t)v;
	if (parse_positions(cJSON_GetObjectItemCaseSensitive(root, "positions"),
	                    &c->pos, &c->npos, &c->cappos))
		goto bad;
	files = cJSON_GetObjectItemCaseSensitive(root, "files");
	if (files && !cJSON_IsObject(files))
		goto bad;
	cJSON_ArrayForEach(f, files)
	{
		if (exact_int(f, 0, &v) || !*f->string)
			goto bad;
		ckpt_state_set_file(c, f->string, (uint64_t)v);
	}
	rc = 0;
	goto out;
bad:
	ckpt_state_free(c);
	errno = EBADMSG;
out:
	cJSON_Delete(root);
	fx_buf_free(&b);
	free(path);
	return rc;
}

static void add_positions(struct fx_buf *b, const struct ckpt_position *pos,
                          size_t npos)
{
	char num[64];
	size_t i;

	fx_buf_addc(b, '[');
	for (i = 0; i < npos; i++) {
		fx_buf_adds(b, i ? ",[" : "[");
		fx_buf_add_json_string(b, pos[i].topic, strlen(pos[i].topic));
		snprintf(num, sizeof(num), ",%" PRId32 ",%" PRId64 "]",
		         pos[i].partition, pos[i].offset);
		fx_buf_adds(b, num);
	}
	fx_buf_addc(b, ']');
}

int ckpt_state_write(const char *dir, const struct ckpt_state *c)
{
	struct fx_buf b = FX_BUF_INIT;
	size_t n = strlen(dir) + 64, i;
	char *path = fx_malloc(n), num[64];
	int rc = -1, err;

	snprintf(num, sizeof(num), "{\"id\":%" PRIu64 ",\"positions\":", c->id);
	fx_buf_adds(&b, num);
	add_positions(&b, c->pos, c->npos);
	fx_buf_adds(&b, ",\"files\":{");
	for (i = 0; i < c->nfiles; i++) {
		if (i)
			fx_buf_addc(&b, ',');
		fx_buf_add_json_string(&b, c->files[i].path,
		                       strlen(c->files[i].path));
		snprintf(num, sizeof(num), ":%" PRIu64, c->files[i].size);
		fx_buf_adds(&b, num);
	}
	fx_buf_adds(&b, "}}\n");
	/* the rename is the commit: durable once the directory entry is */
	if (fs_mkdir_p(dir) == 0)
		rc = fs_write_file_atomic(ckpt_state_path(dir, path, n), NULL,
		                          0, b.p, b.len);
	err = errno;
	fx_buf_free(&b);
	free(path);
	errno = err;
	return rc;
}

void ckpt_barrier_format(struct fx_buf *b, uint64_t id,
                         const struct ckpt_position *pos, size_t npos,
                         int final)
{
	char num[64];

	snprintf(
	    num, sizeof(num),
	    "{\"_fx\":\"checkpoint\",\"id\":%" PRIu64 ",\"positions\":", id);
	fx_buf_adds(b, num);
	add_positions(b, pos, npos);
	fx_buf_adds(b, final ? ",\"final\":true}" : "}");
}

void ckpt_restore_format(struct fx_buf *b, uint64_t id)
{
	char num[64];

	snprintf(num, sizeof(num), "{\"_fx\":\"restore\",\"id\":%" PRIu64 "}",
	         id);
	fx_buf_adds(b, num);
}

int ckpt_barrier_parse(const char *p, size_t n, struct ckpt_barrier *br)
{
	cJSON *root = cJSON_ParseWithLength(p, n);
	const cJSON *kind, *final;
	double v;
	int rc = -1;

	ckpt_barrier_free(br);
	kind = cJSON_GetObjectItemCaseSensitive(root, "_fx");
	if (!cJSON_IsString(kind))
		goto out;
	br->restore = !strcmp(kind->valuestring, "restore");
	if (!br->restore && strcmp(kind->valuestring, "checkpoint"))
		goto out;
	if (exact_int(cJSON_GetObjectItemCaseSensitive(root, "id"), 0, &v))
		goto out;
	br->id = (uint64_t)v;
	if (!br->restore) {
		if (br->id == 0 ||
		    parse_positions(
		        cJSON_GetObjectItemCaseSensitive(root, "positions"),
		        &br->pos, &br->npos, &br->cappos))
			goto out;
		final = cJSON_GetObjectItemCaseSensitive(root, "final");
		if (final && !cJSON_IsBool(final))
			goto out;
		br->final = cJSON_IsTrue(final);
	}
	rc = 0;
out:
	if (rc) {
		ckpt_barrier_free(br);
		errno = EBADMSG;
	}
	cJSON_Delete(root);
	return rc;
}

void ckpt_barrier_free(struct ckpt_barrier *br)
{
	positions_free(br->pos, br->npos);
	memset(br, 0, sizeof(*br));
}

int ckpt_refuse_unrestored(const struct fx_ctx *ctx,
                           const struct fx_where *where,
                           const struct ckpt_barrier *br, const char *dir,
                           uint64_t committed)
{
	char w[256], what[64], path[4096 + 32];

	if (br)
		snprintf(what, sizeof(what), "checkpoint %" PRIu64, br->id);
	else
		snprintf(what, sizeof(what), "a record");
	fx_warn(ctx,
	        "%s: %s before any restore record: the input is not from a "
	        "checkpointed source, whose first record would be "
	        "{\"_fx\":\"restore\",\"id\":%" PRIu64 "} (%s)",
	        fx_where_format(where, w, sizeof(w)), what, committed,
	        ckpt_state_path(dir, path, sizeof(path)));
	return FX_EXIT_IO;
}

int ckpt_interval_parse(const char *s, int64_t *records, int64_t *ms)
{
	*records = *ms = 0;
	if (*s && !s[strspn(s, "0123456789")]) {
		long long n = strtoll(s, NULL, 10);

		/* LLONG_MAX: it overflowed */
		if (n <= 0 || n == LLONG_MAX)
			return -1;
		*records = n;
		return 0;
	}
	return fx_duration_parse(s, ms) || *ms <= 0 ? -1 : 0;
}
