/*
 * lineage.c - the datasets a run read and wrote, registered by the I/O
 * modules (lineage.h). The run's events, which list them, are
 * lineage_run.c's.
 */
#include "lineage.h"
#include "err.h"
#include "lineage_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *lineage_regular_file_path(int fd)
{
	char link[4096], proc[64];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return NULL;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	if (n <= 0 || link[0] != '/')
		return NULL;
	link[n] = 0;
	return fx_strdup(link);
}

static struct lineage_ds *find(struct lineage *l, enum lineage_dir dir,
                               const char *uri)
{
	struct lineage_ds *d;
	size_t n;

	for (d = l->datasets; d; d = d->next) {
		if (d->dir != dir)
			continue;
		if (strcmp(d->uri, uri) == 0)
			return d;
		n = strlen(d->uri);
		/* a file below a directory operand counts into it */
		if (d->is_dir && dir == LINEAGE_INPUT &&
		    strncmp(d->uri, uri, n) == 0 && uri[n] == '/')
			return d;
	}
	return NULL;
}

static struct lineage_ds *add(struct lineage *l, enum lineage_dir dir,
                              const char *uri, int is_dir)
{
	struct lineage_ds *d = find(l, dir, uri), **tail;

	if (d)
		return d;
	d = fx_malloc(sizeof(*d));
	memset(d, 0, sizeof(*d));
	d->uri = fx_strdup(uri);
	d->dir = dir;
	d->is_dir = is_dir;
	/* in registration order: events list datasets as the run met them */
	for (tail = &l->datasets; *tail; tail = &(*tail)->next)
		;
	*tail = d;
	return d;
}

struct lineage_ds *lineage_dataset(struct fx_ctx *ctx, enum lineage_dir dir,
                                   const char *uri)
{
	if (!ctx || !ctx->lineage)
		return NULL;
	return add(ctx->lineage, dir, uri, 0);
}

/* "file://" + the absolute path, with "." and ".." removed lexically. */
static char *file_uri(const char *path)
{
	char cwd[4096];
	char *full, *out, *seg, *save = NULL;
	size_t n;

	if (path[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		full = fx_malloc(strlen(cwd) + strlen(path) + 2);
		sprintf(full, "%s/%s", cwd, path);
	} else {
		full = fx_strdup(path);
	}
	out = fx_malloc(strlen(full) + 9);
	strcpy(out, "file://");
	n = 7;
	for (seg = strtok_r(full, "/", &save); seg;
	     seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			while (n > 7 && out[n - 1] != '/')
				n--;
			if (n > 7)
				n--;
			continue;
		}
		out[n++] = '/';
		strcpy(out + n, seg);
		n += strlen(seg);
	}
	if (n == 7)
		out[n++] = '/';
	out[n] = 0;
	free(full);
	return out;
}

void lineage_fail(struct fx_ctx *ctx, const char *msg)
{
	struct lineage *l = ctx ? ctx->lineage : NULL;

	if (!l)
		return;
	free(l->fail_msg);
	l->fail_msg = fx_strdup(msg);
}

struct lineage_ds *lineage_file(struct fx_ctx *ctx, enum lineage_dir dir,
                                const char *path)
{
	struct lineage_ds *d;
	struct stat st;
	char *uri;

	if (!ctx || !ctx->lineage)
		return NULL;
	uri = file_uri(path);
	d = add(ctx->lineage, dir, uri,
	        stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	free(uri);
	return d;
}

struct lineage_ds *lineage_input_fd(struct fx_ctx *ctx, int fd,
                                    const char *path)
{
	struct lineage_ds *d;
	struct stat st;
	char *link;

	if (!ctx || !ctx->lineage || fstat(fd, &st) || !S_ISREG(st.st_mode))
		return NULL;
	if (strcmp(path, "-") != 0)
		return lineage_file(ctx, LINEAGE_INPUT, path);
	/* stdin redirected from a file: the kernel knows which */
	link = lineage_regular_file_path(fd);
	if (!link)
		return NULL;
	d = lineage_file(ctx, LINEAGE_INPUT, link);
	free(link);
	return d;
}

struct lineage_ds *lineage_topic(struct fx_ctx *ctx, enum lineage_dir dir,
                                 const char *bootstrap, const char *topic)
{
	struct lineage_ds *d;
	size_t n;
	char *uri;

	if (!ctx || !ctx->lineage)
		return NULL;
	const char *port = "", *close;

	if (!bootstrap)
		bootstrap = "";
	n = strcspn(bootstrap, ", ");
	/* host without a port: Kafka's default, as the client connects to */
	close = bootstrap[0] == '[' ? memchr(bootstrap, ']', n) : NULL;
	if (n && (close ? !memchr(close, ':', n - (size_t)(close - bootstrap))
	                : !memchr(bootstrap, ':', n)))
		port = ":9092";
	uri = fx_malloc(n + strlen(port) + strlen(topic) + 10);
	sprintf(uri, "kafka://%.*s%s/%s", (int)n, bootstrap, port, topic);
	d = add(ctx->lineage, dir, uri, 0);
	free(uri);
	return d;
}
