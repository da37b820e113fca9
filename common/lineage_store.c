/*
 * lineage_store.c - where run events go: a file appended to by many
 * programs at once, a Kafka topic, or nowhere.
 *
 * File: each event is one write(2) of the whole line on a descriptor
 * opened with O_APPEND. On a local Linux filesystem the kernel takes the
 * file's position and writes under one lock, so lines of concurrent
 * writers never interleave, whatever their length (no PIPE_BUF limit: that
 * is for pipes). The file is opened per event: two opens per run, and a
 * rotated store is picked up.
 *
 * Anything that goes wrong is reported once and turns the store off: the
 * data path, the output and the exit status never depend on it.
 */
#include "err.h"
#include "lineage.h"
#include "lineage_kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lineage_store {
	const struct fx_ctx *ctx;
	char *path;  /* file store */
	char *topic; /* kafka store */
	const char *brokers;
	struct lineage_kafka *kafka;
	int failed; /* reported once; nothing more is written */
};

char *lineage_default_path(void)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	const char *tail = "/fx/lineage.ndjson";
	char *p;

	if (state && *state == '/') {
		p = fx_malloc(strlen(state) + strlen(tail) + 1);
		strcpy(p, state);
	} else {
		const char *mid = "/.local/state";

		if (!home || !*home)
			home = "/tmp";
		p = fx_malloc(strlen(home) + strlen(mid) + strlen(tail) + 1);
		strcpy(p, home);
		strcat(p, mid);
	}
	strcat(p, tail);
	return p;
}

static void store_fail(struct lineage_store *s, const char *what,
                       const char *why)
{
	if (s->failed)
		return;
	s->failed = 1;
	fx_warn(s->ctx, "lineage store '%s': %s (lineage not recorded)", what,
	        why);
}

/* mkdir -p of path's directory; errors show up at open(). */
static void make_parent_dirs(const char *path)
{
	char *d = fx_strdup(path), *p;

	for (p = d + 1; (p = strchr(p, '/')); p++) {
		*p = 0;
		if (mkdir(d, 0755) && errno != EEXIST)
			break;
		*p = '/';
	}
	free(d);
}

struct lineage_store *lineage_store_open(const struct fx_ctx *ctx,
                                         const char *spec)
{
	struct lineage_store *s;

	if (spec && strcmp(spec, "off") == 0)
		return NULL;
	s = fx_malloc(sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	if (!spec || !*spec) {
		s->path = lineage_default_path();
	} else if (strncmp(spec, "file:", 5) == 0 && spec[5]) {
		s->path = fx_strdup(spec + 5);
	} else if (strncmp(spec, "kafka:", 6) == 0 && spec[6]) {
		s->topic = fx_strdup(spec + 6);
		s->brokers = getenv("FX_BROKERS");
		if (!s->brokers || !*s->brokers)
			store_fail(s, spec, "FX_BROKERS is not set");
	} else {
		fx_warn(
		    ctx,
		    "FX_LINEAGE: expected off, file:PATH or kafka:TOPIC, got '%s' (lineage not recorded)",
		    spec);
		s->failed = 1;
	}
	return s;
}

static void file_append(struct lineage_store *s, const char *line, size_t len)
{
	int fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0 && errno == ENOENT) {
		make_parent_dirs(s->path);
		fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		          0644);
	}
	if (fd < 0) {
		store_fail(s, s->path, strerror(errno));
		return;
	}
	n = write(fd, line, len);
	if (n < 0)
		store_fail(s, s->path, strerror(errno));
	else if ((size_t)n != len)
		store_fail(s, s->path, "short write");
	if (close(fd) && n >= 0)
		store_fail(s, s->path, strerror(errno));
}

void lineage_store_append(struct lineage_store *s, const char *line, size_t len)
{
	char err[512];

	if (!s || s->failed)
		return;
	if (s->path) {
		file_append(s, line, len);
		return;
	}
	if (!s->kafka) {
		s->kafka =
		    lineage_kafka_open(s->brokers, s->topic, err, sizeof(err));
		if (!s->kafka) {
			store_fail(s, s->topic, err);
			return;
		}
	}
	if (lineage_kafka_send(s->kafka, line, len, err, sizeof(err)))
		store_fail(s, s->topic, err);
}

void lineage_store_close(struct lineage_store *s)
{
	char err[512];

	if (!s)
		return;
	if (s->kafka && lineage_kafka_close(s->kafka, 3000, err, sizeof(err)) &&
	    !s->failed)
		store_fail(s, s->topic, err);
	free(s->path);
	free(s->topic);
	free(s);
}
