/*
 * lineage_store.c - where run events go: a file appended to by many
 * programs at once, a Kafka topic, or nowhere.
 *
 * File: each event is one write(2) of the whole line on a descriptor
 * opened with O_APPEND. On a local Linux filesystem the kernel takes the
 * file's position and writes under one lock, so lines of concurrent
 * writers never interleave, whatever their length (no PIPE_BUF limit: that
 * is for pipes). The file is opened per event: two opens per run, and a
 * rotated store is picked up. It is opened non-blocking and must be a
 * regular file: a FIFO or a device is refused (it could block the run,
 * or take part of a line). A write cut short by a full disk is truncated
 * away, so the store holds whole lines only.
 *
 * Anything that goes wrong is reported once and turns the store off: the
 * data path, the output and the exit status never depend on it.
 */
#include "err.h"
#include "lineage_int.h"
#include "lineage_kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct lineage_store {
	const char *prog; /* for messages: no ctx, which may be gone at exit */
	char *path;       /* file store */
	char *topic;      /* kafka store */
	const char *brokers;
	struct lineage_kafka *kafka;
	int wait_ms; /* the kafka store's wait at the end (FX_LINEAGE_WAIT_MS)
	              */
	int failed;  /* reported once; nothing more is written */
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
	struct fx_ctx who;

	if (s->failed)
		return;
	s->failed = 1;
	/* not the run's ctx: this message is no reason for the run's FAIL */
	memset(&who, 0, sizeof(who));
	who.prog = s->prog;
	fx_warn(&who, "lineage store '%s': %s (lineage not recorded)", what,
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
	s->prog = ctx->prog;
	if (!spec || !*spec) {
		s->path = lineage_default_path();
	} else if (strncmp(spec, "file:", 5) == 0 && spec[5]) {
		s->path = fx_strdup(spec + 5);
	} else if (strncmp(spec, "kafka:", 6) == 0 && spec[6]) {
		const char *wait = getenv("FX_LINEAGE_WAIT_MS");
		char *end;
		long ms;

		s->topic = fx_strdup(spec + 6);
		s->brokers = getenv("FX_BROKERS");
		s->wait_ms = LINEAGE_KAFKA_WAIT_MS;
		if (wait && *wait) {
			errno = 0;
			ms = strtol(wait, &end, 10);
			if (*end || errno || ms < 0 || ms > 600000)
				fx_warn(
				    ctx,
				    "FX_LINEAGE_WAIT_MS: expected 0 to 600000 "
				    "(milliseconds), got '%s' (waiting %d)",
				    wait, LINEAGE_KAFKA_WAIT_MS);
			else
				s->wait_ms = (int)ms;
		}
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

/* O_NONBLOCK: a FIFO (or a device) must not block the run at open. */
static int store_open_fd(const char *path)
{
	return open(path,
	            O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK |
	                O_NOCTTY,
	            0644);
}

/*
 * Why a write stopped short: a full disk says nothing (write(2) returns
 * the bytes it wrote, not ENOSPC), so ask the filesystem.
 */
static const char *short_write_reason(int fd, size_t left)
{
	struct statvfs vfs;

	if (fstatvfs(fd, &vfs) == 0 &&
	    (unsigned long long)vfs.f_bavail * vfs.f_frsize < left)
		return "short write: No space left on device";
	return "short write";
}

/*
 * One event, one write(2) on O_APPEND: the line lands whole at the end or
 * not at all. A short write (a full disk) is cut back off with
 * ftruncate, so the store never keeps part of a line. (A torn line from
 * before, or from a crash, is not mended here: looking at the last byte
 * races with the other writers. fx-lineage skips it and keeps the event
 * appended to it.)
 */
static void file_append(struct lineage_store *s, const char *line, size_t len)
{
	int fd = store_open_fd(s->path);
	struct stat st;
	off_t end;
	ssize_t n;

	if (fd < 0 && errno == ENOENT) {
		make_parent_dirs(s->path);
		fd = store_open_fd(s->path);
	}
	if (fd < 0) {
		/* ENXIO: a FIFO that nobody reads */
		store_fail(s, s->path,
		           errno == ENXIO ? "not a regular file"
		                          : strerror(errno));
		return;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		store_fail(s, s->path, "not a regular file");
		close(fd);
		return;
	}
	n = write(fd, line, len);
	if (n < 0) {
		store_fail(s, s->path, strerror(errno));
	} else if ((size_t)n != len) {
		/* why, before the cut frees the space again */
		const char *why = short_write_reason(fd, len - (size_t)n);

		/* our bytes end where the file position is now */
		end = lseek(fd, 0, SEEK_CUR);
		if (end >= n && fstat(fd, &st) == 0 && st.st_size == end &&
		    ftruncate(fd, end - n) == 0)
			store_fail(s, s->path, why);
		else
			store_fail(s, s->path,
			           "short write, and the cut line could not be "
			           "removed");
	}
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
	if (s->kafka &&
	    lineage_kafka_close(s->kafka, s->wait_ms, err, sizeof(err)) &&
	    !s->failed)
		store_fail(s, s->topic, err);
	free(s->path);
	free(s->topic);
	free(s);
}
