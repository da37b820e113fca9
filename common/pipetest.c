/* pipetest.c - fx-run --test: golden cases in both modes (pipetest.h) */
#include "pipetest.h"

#include "buf.h"
#include "err.h"
#include "fsutil.h"
#include "json.h"
#include "procchain.h"
#include "strlist.h"
#include "table.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The status of a run we were told to stop (SIGINT, SIGTERM). */
#define PT_STOPPED (128 + SIGINT)

/* How long a case's fx-devbroker may take to come up. */
#define PT_BROKER_WAIT_S 60

/* One row: its bytes in the set's data, and where it came from. */
struct pt_row {
	size_t off, len;
	size_t file; /* index in the set's files */
	size_t line; /* 1-based line of that file */
};

/* A partition: its directory below the warehouse, and its rows. */
struct pt_part {
	char *dir;
	struct pt_row *rows;
	size_t n, cap;
};

/* The rows of one table, by partition. */
struct pt_set {
	struct pt_part *parts;
	size_t n, cap;
	struct fx_buf data;
	struct fx_strlist files; /* file names, for messages */
	size_t nrows;
};

/* One case: DIR/CASE, and what its files say, per pipeline table. */
struct pt_case {
	char *name;
	char *path;
	unsigned char *has_input;    /* [table index] */
	unsigned char *has_expected; /* [table index] */
	struct pt_set *expected;     /* [table index] */
};

/* What a run of the cases shares. */
struct pt {
	const struct fx_ctx *ctx;
	const struct pipeline *p;
	const char *self;
	const struct fx_strlist *params; /* fx-run's -p NAME=V, for each job */
	size_t ntables;
	const char **sink_job; /* [table index]: the first job writing it */
	char *scratch;
	int null_fd;
	/* the current case */
	const struct pt_case *c;
	const char *mode;
	pid_t broker;
	char brokers[512];
};

/* ---------------------------------------------------------------------
 * Row sets
 */

static struct pt_part *set_part(struct pt_set *s, const char *dir)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->parts[i].dir, dir))
			return &s->parts[i];
	FX_GROW(s->parts, s->n + 1, s->cap, 8);
	memset(&s->parts[s->n], 0, sizeof(s->parts[s->n]));
	s->parts[s->n].dir = fx_strdup(dir);
	return &s->parts[s->n++];
}

static void set_add(struct pt_set *s, struct pt_part *pp, const char *p,
                    size_t len, size_t line)
{
	struct pt_row *r;

	FX_GROW(pp->rows, pp->n + 1, pp->cap, 16);
	r = &pp->rows[pp->n++];
	r->off = s->data.len;
	r->len = len;
	r->file = s->files.n - 1;
	r->line = line;
	fx_buf_add(&s->data, p, len);
	s->nrows++;
}

static int cmp_part(const void *a, const void *b)
{
	return strcmp(((const struct pt_part *)a)->dir,
	              ((const struct pt_part *)b)->dir);
}

/* By bytes, then by file and line, so that the order is total. */
static int cmp_row(const void *a, const void *b, void *arg)
{
	const struct pt_row *x = a, *y = b;
	const char *data = arg;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(data + x->off, data + y->off, n);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static void set_sort_rows(struct pt_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		qsort_r(s->parts[i].rows, s->parts[i].n,
		        sizeof(*s->parts[i].rows), cmp_row, s->data.p);
}

static void set_free(struct pt_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->parts[i].dir);
		free(s->parts[i].rows);
	}
	free(s->parts);
	fx_buf_free(&s->data);
	fx_strlist_free(&s->files);
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------------
 * Files
 */

static int read_whole(const char *path, struct fx_buf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	fx_buf_reset(b);
	if (fd < 0)
		return -1;
	for (;;) {
		fx_buf_grow(b, 65536);
		got = read(fd, b->p + b->len, b->cap - b->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		b->len += (size_t)got;
	}
	if (got < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Appends p without the JSON whitespace outside strings. */
static void compact_json(const char *p, size_t n, struct fx_buf *out)
{
	int in_str = 0, esc = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (is_space(c)) {
			continue;
		}
		fx_buf_addc(out, c);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir that are not hidden, in byte order; -1 (errno). */
static int list_dir(const char *dir, struct fx_strlist *names)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			fx_strlist_push(names, de->d_name);
	closedir(d);
	if (names->n)
		qsort(names->v, names->n, sizeof(*names->v), cmp_str);
	return 0;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * The rows of an expected file into their partitions of t, in order.
 * label names the file in row reports. Returns 0, FX_EXIT_USAGE (a row that
 * is not a record of the table) or FX_EXIT_IO, reported.
 */
static int load_expected(const struct fx_ctx *ctx, struct table *t,
                         const char *path, const char *label, struct pt_set *s)
{
	struct json_scanner sc = {0};
	struct json_value vals[JSON_MAX_PATHS];
	struct table_values tv = {0};
	struct fx_buf file = FX_BUF_INIT, row = FX_BUF_INIT, dir = FX_BUF_INIT;
	size_t pos = 0, line = 0;
	int rc = 0;

	if (read_whole(path, &file)) {
		fx_warn(ctx, "%s: %s", path, strerror(errno));
		return FX_EXIT_IO;
	}
	fx_strlist_push(&s->files, label);
	while (pos < file.len && !rc) {
		const char *p = file.p + pos, *nl;
		size_t n, i;
		struct json_error jerr;
		const char *field, *why;

		nl = memchr(p, '\n', file.len - pos);
		n = nl ? (size_t)(nl - p) : file.len - pos;
		pos += n + 1;
		line++;
		for (i = 0; i < n && is_space(p[i]); i++)
			;
		if (i == n)
			continue; /* a blank line */
		fx_buf_reset(&row);
		compact_json(p, n, &row);
		if (json_scan(&sc, table_paths(t), row.p, row.len, vals, &jerr,
		              0) < 0) {
			fx_warn(ctx, "%s:%zu: %s", path, line, jerr.reason);
			rc = FX_EXIT_USAGE;
		} else if (table_values_of(t, vals, &tv, &field, &why)) {
			fx_warn(ctx, "%s:%zu: field \"%s\": %s", path, line,
			        field, why);
			rc = FX_EXIT_USAGE;
		} else if (table_dir(t, &tv, &dir)) {
			fx_warn(ctx, "%s: table %s has no directories", path,
			        table_name(t));
			rc = FX_EXIT_USAGE;
		} else {
			fx_buf_addc(&dir, 0);
			set_add(s, set_part(s, dir.p), row.p, row.len, line);
		}
	}
	qsort(s->parts, s->n, sizeof(*s->parts), cmp_part);
	json_scanner_free(&sc);
	table_values_free(&tv);
	fx_buf_free(&file);
	fx_buf_free(&row);
	fx_buf_free(&dir);
	return rc;
}

/*
 * The rows fx-sink --dir ROOT --table T wrote: each partition directory
 * of t under root, its record files in byte order of names, each line a
 * row. Returns 0 or FX_EXIT_IO, reported.
 */
static int load_output(const struct fx_ctx *ctx, struct table *t,
                       const char *root, struct pt_set *s)
{
	struct table_where w;
	struct fx_strlist dirs = {0};
	struct fx_buf file = FX_BUF_INIT, name = FX_BUF_INIT;
	size_t i, j, skip = strlen(root) + 1;
	int rc;

	memset(&w, 0, sizeof(w));
	rc = table_dirs_for(ctx, t, &w, root, &dirs, NULL);
	for (i = 0; i < dirs.n && !rc; i++) {
		struct fx_strlist names = {0};
		const char *rel = dirs.v[i] + skip;
		struct pt_part *pp = set_part(s, rel);

		if (list_dir(dirs.v[i], &names)) {
			fx_warn(ctx, "%s: %s", dirs.v[i], strerror(errno));
			rc = FX_EXIT_IO;
		}
		for (j = 0; j < names.n && !rc; j++) {
			size_t pos = 0, line = 0;

			if (names.v[j][0] == '_')
				continue; /* _SUCCESS and the like */
			fx_buf_reset(&name);
			fx_buf_adds(&name, dirs.v[i]);
			fx_buf_addc(&name, '/');
			fx_buf_adds(&name, names.v[j]);
			fx_buf_addc(&name, 0);
			if (!is_dir(name.p) && read_whole(name.p, &file)) {
				fx_warn(ctx, "%s: %s", name.p, strerror(errno));
				rc = FX_EXIT_IO;
				break;
			}
			if (is_dir(name.p))
				continue;
			fx_strlist_push(&s->files, name.p + skip);
			while (pos < file.len) {
				const char *p = file.p + pos;
				const char *nl =
				    memchr(p, '\n', file.len - pos);
				size_t n =
				    nl ? (size_t)(nl - p) : file.len - pos;

				pos += n + 1;
				set_add(s, pp, p, n, ++line);
			}
		}
		fx_strlist_free(&names);
	}
	table_where_free(&w);
	fx_strlist_free(&dirs);
	fx_buf_free(&file);
	fx_buf_free(&name);
	qsort(s->parts, s->n, sizeof(*s->parts), cmp_part);
	return rc;
}

/* ---------------------------------------------------------------------
 * Comparing
 */

static void say_row(const char *label, const struct pt_set *s,
                    const struct pt_row *r, size_t k, size_t n)
{
	if (r)
		fprintf(stderr, "  %-9s %.*s\n", label, (int)r->len,
		        s->data.p + r->off);
	else
		fprintf(stderr, "  %-9s (no row %zu: %zu rows)\n", label, k, n);
}

/*
 * Compares want (the reference: expected, or the batch) with got (the
 * batch, or the stream), partition by partition, row by row, and reports
 * the first difference. Returns 1 if they differ, else 0.
 */
static int compare(const struct pt *pt, const char *job, const char *table,
                   const struct pt_set *want, const char *want_label,
                   const struct pt_set *got, const char *got_label)
{
	static const struct pt_part none;
	size_t i = 0, j = 0, k;

	while (i < want->n || j < got->n) {
		const struct pt_part *a = &none, *b = &none;
		const char *dir;
		int c;

		if (i == want->n)
			c = 1;
		else if (j == got->n)
			c = -1;
		else
			c = strcmp(want->parts[i].dir, got->parts[j].dir);
		if (c <= 0)
			a = &want->parts[i++];
		if (c >= 0)
			b = &got->parts[j++];
		dir = c <= 0 ? a->dir : b->dir;
		for (k = 0; k < a->n || k < b->n; k++) {
			const struct pt_row *ra = k < a->n ? &a->rows[k] : NULL;
			const struct pt_row *rb = k < b->n ? &b->rows[k] : NULL;
			const struct pt_row *at = ra ? ra : rb;
			const struct pt_set *as = ra ? want : got;
			char l1[16], l2[16];

			if (ra && rb && ra->len == rb->len &&
			    !memcmp(want->data.p + ra->off,
			            got->data.p + rb->off, ra->len))
				continue;
			fx_warn(
			    pt->ctx,
			    "%s: %s: job %s: table %s, partition %s: row %zu "
			    "(%s:%zu) differs",
			    pt->c->path, pt->mode, job, table, dir, k + 1,
			    as->files.v[at->file], at->line);
			snprintf(l1, sizeof(l1), "%s:", want_label);
			snprintf(l2, sizeof(l2), "%s:", got_label);
			say_row(l1, want, ra, k + 1, a->n);
			say_row(l2, got, rb, k + 1, b->n);
			return 1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Running
 */

/*
 * Waits for a child of ours, passing SIGTERM on to it once we are told to
 * stop (fx_stop). Returns its status, 128 + S when signal S killed it.
 */
static int wait_child(pid_t pid)
{
	int status = 0, sent = 0;

	for (;;) {
		if (fx_stop && !sent) {
			kill(pid, SIGTERM);
			sent = 1;
		}
		if (waitpid(pid, &status, 0) == pid)
			break;
		if (errno != EINTR)
			return FX_EXIT_IO;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * Runs the stages (stderr prefixed "CASE: MODE: what: ") with stdin from
 * in_path (NULL: /dev/null) and stdout to /dev/null. Returns 0, or the
 * chain's status after a message.
 */
static int run(struct pt *pt, const char *what, struct fx_strlist *argvs,
               size_t n, const char *in_path)
{
	struct proc_stage st[2];
	struct proc_chain_opts o = {.in_fd = pt->null_fd,
	                            .out_fd = pt->null_fd,
	                            .err_fd = -1,
	                            .prefix_stderr = 1};
	struct fx_buf name = FX_BUF_INIT;
	size_t i;
	int rc, fd = -1;
	pid_t pid;

	if (in_path &&
	    (fd = o.in_fd = open(in_path, O_RDONLY | O_CLOEXEC)) < 0) {
		fx_warn(pt->ctx, "%s: %s", in_path, strerror(errno));
		return FX_EXIT_IO;
	}
	fx_buf_adds(&name, pt->c->name);
	fx_buf_adds(&name, ": ");
	fx_buf_adds(&name, pt->mode);
	fx_buf_adds(&name, ": ");
	fx_buf_adds(&name, what);
	fx_buf_addc(&name, 0);
	for (i = 0; i < n; i++) {
		st[i].name = name.p;
		st[i].argv = argvs[i].v;
		st[i].shell = NULL;
	}
	/*
	 * The chain runs in a child of ours: proc_chain_run() passes the
	 * signals it receives on to the stages and returns their (quiet)
	 * status, so that we would not know that we were told to stop.
	 */
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		fx_warn(pt->ctx, "fork: %s", strerror(errno));
		rc = FX_EXIT_IO;
	} else if (pid == 0) {
		rc = proc_chain_run(st, n, &o, NULL);
		_exit(rc < 0 ? FX_EXIT_IO : rc & 0xff);
	} else {
		rc = wait_child(pid);
	}
	if (fd >= 0)
		close(fd);
	if (rc && !fx_stop)
		fx_warn(pt->ctx, "%s: %s: %s failed (status %d)", pt->c->path,
		        pt->mode, what, rc);
	if (fx_stop)
		rc = PT_STOPPED;
	fx_buf_free(&name);
	return rc;
}

/* Appends the strings of v (NULL-terminated) to l. */
static void argv_add(struct fx_strlist *l, const char *const *v)
{
	for (; *v; v++)
		fx_strlist_push(l, *v);
}

#define ARGV(l, ...) argv_add((l), (const char *const[]){__VA_ARGS__, NULL})

static void argvs_free(struct fx_strlist *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fx_strlist_free(&l[i]);
}

/* The topics fx-sink does not create (static and default), with their
 * partitions, as fx-devbroker --topic arguments. */
static void broker_topics(const struct pt *pt, struct fx_strlist *args)
{
	struct fx_strlist seen = {0};
	struct table_values tv = {0};
	size_t i, j, k;

	for (i = 0; i < pt->ntables; i++) {
		struct table *t = pipeline_table_at(pt->p, i)->table;
		size_t ns = table_nstatic(t);
		int parts = table_topic_partitions(t);

		if (!table_has_kafka(t))
			continue;
		for (j = 0; j <= ns; j++) {
			const char *topic = j < ns ? table_static(t, j, &tv)
			                           : table_default_topic(t);
			char arg[TABLE_TOPIC_MAX + 32];

			if (!topic)
				continue;
			for (k = 0; k < seen.n && strcmp(seen.v[k], topic); k++)
				;
			if (k < seen.n)
				continue;
			fx_strlist_push(&seen, topic);
			if (parts > 0)
				snprintf(arg, sizeof(arg), "%s:%d", topic,
				         parts);
			else
				snprintf(arg, sizeof(arg), "%s", topic);
			fx_strlist_push(args, "--topic");
			fx_strlist_push(args, arg);
		}
	}
	table_values_free(&tv);
	fx_strlist_free(&seen);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void broker_stop(struct pt *pt)
{
	int i;

	if (pt->broker <= 0)
		return;
	kill(pt->broker, SIGTERM);
	for (i = 0; i < 200; i++) {
		if (waitpid(pt->broker, NULL, WNOHANG) == pt->broker) {
			pt->broker = 0;
			return;
		}
		sleep_ms(50);
	}
	kill(pt->broker, SIGKILL);
	waitpid(pt->broker, NULL, 0);
	pt->broker = 0;
}

/* A fresh fx-devbroker for the case, its address in pt->brokers. */
static int broker_start(struct pt *pt, const char *dir)
{
	struct fx_strlist args = {0};
	struct fx_buf bs = FX_BUF_INIT, err = FX_BUF_INIT, log = FX_BUF_INIT;
	int waited, rc = FX_EXIT_IO, status;
	pid_t pid;

	fx_buf_adds(&bs, dir);
	fx_buf_adds(&bs, "/broker.bs");
	fx_buf_addc(&bs, 0);
	fx_buf_adds(&log, dir);
	fx_buf_adds(&log, "/broker.err");
	fx_buf_addc(&log, 0);
	ARGV(&args, "fx-devbroker", "--bootstrap-file", bs.p);
	broker_topics(pt, &args);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		fx_warn(pt->ctx, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int fd = open(log.p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		/* it must not outlive us, whatever kills us */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(pt->null_fd, 0);
		dup2(pt->null_fd, 1);
		if (fd >= 0)
			dup2(fd, 2);
		execvp(args.v[0], args.v);
		fprintf(stderr, "fx-devbroker: %s\n", strerror(errno));
		_exit(127);
	}
	pt->broker = pid;
	for (waited = 0; waited < PT_BROKER_WAIT_S * 20 && !fx_stop; waited++) {
		if (read_whole(bs.p, &err) == 0 && err.len &&
		    err.p[err.len - 1] == '\n') {
			err.len--;
			if (err.len >= sizeof(pt->brokers))
				break;
			memcpy(pt->brokers, err.p, err.len);
			pt->brokers[err.len] = 0;
			rc = 0;
			goto out;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			pt->broker = 0;
			break;
		}
		sleep_ms(50);
	}
	if (fx_stop) {
		broker_stop(pt);
		rc = PT_STOPPED;
		goto out;
	}
	if (read_whole(log.p, &err) == 0)
		while (err.len && err.p[err.len - 1] == '\n')
			err.len--;
	fx_warn(pt->ctx, "%s: fx-devbroker did not start%s%.*s", pt->c->path,
	        err.len ? ": " : "", (int)err.len, err.p);
	broker_stop(pt);
out:
	fx_strlist_free(&args);
	fx_buf_free(&bs);
	fx_buf_free(&err);
	fx_buf_free(&log);
	return rc;
}

/* "DIR/CASE/SUB/TABLE.ndjson" */
static char *case_file(const struct pt_case *c, const char *sub,
                       const char *table)
{
	char *s;

	if (asprintf(&s, "%s/%s/%s.ndjson", c->path, sub, table) < 0)
		fx_oom();
	return s;
}

/*
 * Loads the inputs into the warehouse w (batch) or the broker (stream).
 */
static int load_inputs(struct pt *pt, const char *w)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < pt->ntables && !rc; i++) {
		const struct pipeline_table *pt_t = pipeline_table_at(pt->p, i);
		struct fx_strlist argvs[2] = {{0}, {0}};
		char *in, what[300];

		if (!pt->c->has_input[i])
			continue;
		in = case_file(pt->c, "input", pt_t->name);
		snprintf(what, sizeof(what), "load %s", pt_t->name);
		if (w) {
			ARGV(&argvs[0], "fx-sink", "--dir", w, "--table",
			     pt_t->file);
			rc = run(pt, what, argvs, 1, in);
		} else {
			ARGV(&argvs[0], "fx-partition", "--table", pt_t->file);
			ARGV(&argvs[1], "fx-sink", "--table", pt_t->file, "-b",
			     pt->brokers);
			rc = run(pt, what, argvs, 2, in);
		}
		argvs_free(argvs, 2);
		free(in);
	}
	return rc;
}

/*
 * The argv of SELF PIPELINE JOB [-p NAME=V]... --batch all | --stream ...
 * --warehouse W
 */
static void job_argv(const struct pt *pt, const struct pipeline_job *job,
                     const char *w, int stream, struct fx_strlist *argv)
{
	size_t i;

	ARGV(argv, pt->self, pipeline_path(pt->p), job->name);
	for (i = 0; pt->params && i < pt->params->n; i++)
		ARGV(argv, "-p", pt->params->v[i]);
	if (stream)
		ARGV(argv, "--stream", "-e", "-b", pt->brokers);
	else
		ARGV(argv, "--batch", "all");
	ARGV(argv, "--warehouse", w);
}

/*
 * Every job, in the mode, w its warehouse: in waves, in dependency order,
 * the jobs of a wave side by side (a stream job spends seconds joining
 * its consumer group), each in a child process of its own. A job whose
 * source a job of the current wave writes starts the next wave. Returns
 * the status of the first job (in the file's order) that failed.
 */
static int run_jobs(struct pt *pt, const char *w, int stream)
{
	size_t nj = pipeline_njobs(pt->p), i = 0, j, k;
	pid_t *pids = calloc(nj + 1, sizeof(*pids));
	int rc = 0;

	if (!pids)
		fx_oom();
	while (i < nj && !rc) {
		size_t end = i + 1;

		/* the wave: i..end-1 */
		for (; end < nj; end++) {
			const char *src = pipeline_job_at(pt->p, end)->source;

			for (k = i; k < end; k++)
				if (!strcmp(pipeline_job_at(pt->p, k)->sink,
				            src))
					break;
			if (k < end)
				break;
		}
		for (j = i; j < end; j++) {
			const struct pipeline_job *job =
			    pipeline_job_at(pt->p, j);
			struct fx_strlist argv = {0};
			char what[300];

			snprintf(what, sizeof(what), "job %s", job->name);
			job_argv(pt, job, w, stream, &argv);
			if (end - i == 1) {
				rc = run(pt, what, &argv, 1, NULL);
				fx_strlist_free(&argv);
				break;
			}
			fflush(stdout);
			fflush(stderr);
			if ((pids[j] = fork()) < 0) {
				fx_warn(pt->ctx, "fork: %s", strerror(errno));
				pids[j] = 0;
				rc = FX_EXIT_IO;
			} else if (pids[j] == 0) {
				_exit(run(pt, what, &argv, 1, NULL) & 0xff);
			}
			fx_strlist_free(&argv);
			if (rc)
				break;
		}
		for (j = i; j < end; j++) {
			int r;

			if (pids[j] <= 0)
				continue;
			r = wait_child(pids[j]);
			if (r && !rc)
				rc = r;
			pids[j] = 0;
		}
		if (fx_stop)
			rc = PT_STOPPED;
		i = end;
	}
	free(pids);
	return rc;
}

/* The stream's sink topics, read to their end, into files under w. */
static int read_back(struct pt *pt, const char *w)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < pt->ntables && !rc; i++) {
		const struct pipeline_table *pt_t = pipeline_table_at(pt->p, i);
		struct fx_strlist argvs[2] = {{0}, {0}};
		char what[300];

		if (!pt->sink_job[i])
			continue;
		snprintf(what, sizeof(what), "read back %s", pt_t->name);
		ARGV(&argvs[0], "fx-consume", "--table", pt_t->file, "-e", "-b",
		     pt->brokers);
		ARGV(&argvs[1], "fx-sink", "--dir", w, "--table", pt_t->file);
		rc = run(pt, what, argvs, 2, NULL);
		argvs_free(argvs, 2);
	}
	return rc;
}

/* ---------------------------------------------------------------------
 * Cases
 */

static int table_index(const struct pipeline *p, const char *name)
{
	size_t i;

	for (i = 0; i < pipeline_ntables(p); i++)
		if (!strcmp(pipeline_table_at(p, i)->name, name))
			return (int)i;
	return -1;
}

/* Checks the files of one of a case's directories (input, expected) and
 * loads the expected rows. Returns 0 or FX_EXIT_USAGE, reported. */
static int case_files(struct pt *pt, struct pt_case *c, const char *sub)
{
	struct fx_strlist names = {0};
	char *dir;
	size_t i;
	int rc = 0, expected = !strcmp(sub, "expected");

	if (asprintf(&dir, "%s/%s", c->path, sub) < 0)
		fx_oom();
	if (list_dir(dir, &names) && errno != ENOENT) {
		fx_warn(pt->ctx, "%s: %s", dir, strerror(errno));
		rc = FX_EXIT_USAGE;
	}
	for (i = 0; i < names.n; i++) {
		const char *nm = names.v[i];
		size_t n = strlen(nm);
		char *table, *path, *label;
		int t;

		if (asprintf(&path, "%s/%s", dir, nm) < 0)
			fx_oom();
		if (n <= 7 || strcmp(nm + n - 7, ".ndjson")) {
			fx_warn(pt->ctx, "%s: not TABLE.ndjson", path);
			rc = FX_EXIT_USAGE;
			free(path);
			continue;
		}
		table = fx_strndup(nm, n - 7);
		if ((t = table_index(pt->p, table)) < 0) {
			fx_warn(pt->ctx, "%s: %s has no table '%s'", path,
			        pipeline_path(pt->p), table);
			rc = FX_EXIT_USAGE;
		} else if (!expected && pt->sink_job[t]) {
			fx_warn(pt->ctx,
			        "%s: job %s writes table '%s': its rows are "
			        "expected/, not input/",
			        path, pt->sink_job[t], table);
			rc = FX_EXIT_USAGE;
		} else if (expected && !pt->sink_job[t]) {
			fx_warn(pt->ctx,
			        "%s: no job writes table '%s': its rows are "
			        "input/, not expected/",
			        path, table);
			rc = FX_EXIT_USAGE;
		} else if (!expected) {
			c->has_input[t] = 1;
		} else {
			c->has_expected[t] = 1;
			if (asprintf(&label, "expected/%s", nm) < 0)
				fx_oom();
			if (load_expected(
			        pt->ctx,
			        pipeline_table_at(pt->p, (size_t)t)->table,
			        path, label, &c->expected[t]))
				rc = FX_EXIT_USAGE;
			free(label);
		}
		free(table);
		free(path);
	}
	fx_strlist_free(&names);
	free(dir);
	return rc;
}

static int case_open(struct pt *pt, struct pt_case *c, const char *dir,
                     const char *name)
{
	char *in, *ex;
	int rc = 0;

	c->name = fx_strdup(name);
	if (asprintf(&c->path, "%s/%s", dir, name) < 0 ||
	    asprintf(&in, "%s/input", c->path) < 0 ||
	    asprintf(&ex, "%s/expected", c->path) < 0)
		fx_oom();
	c->has_input = calloc(pt->ntables + 1, 1);
	c->has_expected = calloc(pt->ntables + 1, 1);
	c->expected = calloc(pt->ntables + 1, sizeof(*c->expected));
	if (!c->has_input || !c->has_expected || !c->expected)
		fx_oom();
	if (!is_dir(in) && !is_dir(ex)) {
		fx_warn(pt->ctx, "%s: not a case: no input/ or expected/",
		        c->path);
		rc = FX_EXIT_USAGE;
	} else {
		rc = case_files(pt, c, "input");
		if (case_files(pt, c, "expected"))
			rc = FX_EXIT_USAGE;
	}
	free(in);
	free(ex);
	return rc;
}

static void case_close(const struct pt *pt, struct pt_case *c)
{
	size_t i;

	if (c->expected)
		for (i = 0; i < pt->ntables; i++)
			set_free(&c->expected[i]);
	free(c->expected);
	free(c->has_input);
	free(c->has_expected);
	free(c->name);
	free(c->path);
}

static char *subdir(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		fx_oom();
	return s;
}

/* The sink tables' rows under w into sets[table index]. */
static int load_outputs(struct pt *pt, const char *w, struct pt_set *sets)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < pt->ntables && !rc; i++)
		if (pt->sink_job[i])
			rc = load_output(pt->ctx,
			                 pipeline_table_at(pt->p, i)->table, w,
			                 &sets[i]);
	return rc;
}

/*
 * The comparisons of one mode: want against got for every sink table
 * (with only: those whose expected file the case has). Prints the mode's
 * line. Returns the number of tables that differ.
 */
static int compare_mode(struct pt *pt, const unsigned char *only,
                        struct pt_set *want, const char *want_label,
                        struct pt_set *got, const char *got_label,
                        const char *as)
{
	size_t i, tables = 0, parts = 0, rows = 0;
	int differ = 0;

	for (i = 0; i < pt->ntables; i++) {
		if (!pt->sink_job[i] || (only && !only[i]))
			continue;
		tables++;
		parts += want[i].n;
		rows += want[i].nrows;
		differ += compare(pt, pt->sink_job[i],
		                  pipeline_table_at(pt->p, i)->name, &want[i],
		                  want_label, &got[i], got_label);
	}
	if (differ)
		printf("FAIL %s %s: %d of %zu tables differ from %s\n",
		       pt->c->name, pt->mode, differ, tables, as);
	else
		printf(
		    "ok %s %s: %zu tables, %zu partitions, %zu rows, as %s\n",
		    pt->c->name, pt->mode, tables, parts, rows, as);
	fflush(stdout);
	return differ;
}

/* One case in both modes. Returns a failure's status (a job, a load, the
 * broker) or 0; *differ counts the tables that differ. */
static int run_case(struct pt *pt, const struct pt_case *c, int *differ)
{
	char *cdir = subdir(pt->scratch, c->name);
	char *bw = subdir(cdir, "batch"), *sw = subdir(cdir, "stream");
	struct pt_set *batch, *stream;
	size_t i;
	int rc;

	batch = calloc(pt->ntables + 1, sizeof(*batch));
	stream = calloc(pt->ntables + 1, sizeof(*stream));
	if (!batch || !stream)
		fx_oom();
	pt->c = c;
	pt->mode = "batch";
	if (fs_mkdir_p(bw) || fs_mkdir_p(sw)) {
		fx_warn(pt->ctx, "%s: %s", cdir, strerror(errno));
		rc = FX_EXIT_IO;
		goto out;
	}
	rc = load_inputs(pt, bw);
	if (!rc)
		rc = run_jobs(pt, bw, 0);
	if (!rc)
		rc = load_outputs(pt, bw, batch);
	if (rc) {
		printf("FAIL %s batch: not run to its end (status %d)\n",
		       c->name, rc);
		printf("FAIL %s stream: not run (the batch failed)\n", c->name);
		goto out;
	}
	*differ += compare_mode(pt, c->has_expected, c->expected, "expected",
	                        batch, "batch", "expected");

	pt->mode = "stream";
	if (fx_stop)
		rc = PT_STOPPED;
	if (!rc)
		rc = broker_start(pt, cdir);
	if (!rc)
		rc = load_inputs(pt, NULL);
	if (!rc)
		rc = run_jobs(pt, sw, 1);
	if (!rc)
		rc = read_back(pt, sw);
	broker_stop(pt);
	if (!rc)
		rc = load_outputs(pt, sw, stream);
	if (rc) {
		printf("FAIL %s stream: not run to its end (status %d)\n",
		       c->name, rc);
		goto out;
	}
	for (i = 0; i < pt->ntables; i++) {
		set_sort_rows(&batch[i]);
		set_sort_rows(&stream[i]);
	}
	*differ += compare_mode(pt, NULL, batch, "batch", stream, "stream",
	                        "the batch (rows sorted in a partition)");
out:
	fflush(stdout);
	for (i = 0; i < pt->ntables; i++) {
		set_free(&batch[i]);
		set_free(&stream[i]);
	}
	free(batch);
	free(stream);
	free(cdir);
	free(bw);
	free(sw);
	return rc;
}

/* PATH with self's directory first, lineage off, no inherited run id. */
static void child_env(const char *self)
{
	const char *slash = strrchr(self, '/'), *path = getenv("PATH");
	char *s;

	if (slash) {
		if (asprintf(&s, "%.*s:%s", (int)(slash - self), self,
		             path ? path : "/usr/bin:/bin") < 0)
			fx_oom();
		setenv("PATH", s, 1);
		free(s);
	}
	setenv("FX_LINEAGE", "off", 1);
	unsetenv("FX_RUN_ID");
}

int pipetest_run(const struct fx_ctx *ctx, const struct pipeline *p,
                 const char *dir, const char *self_exe,
                 const struct fx_strlist *params)
{
	struct pt pt = {.ctx = ctx,
	                .p = p,
	                .self = self_exe,
	                .params = params,
	                .null_fd = -1};
	struct fx_strlist names = {0};
	struct pt_case *cases = NULL;
	size_t i, ncases = 0;
	const char *tmp = getenv("TMPDIR");
	int rc = 0, differ = 0;

	pt.ntables = pipeline_ntables(p);
	if (!(pt.sink_job = calloc(pt.ntables + 1, sizeof(*pt.sink_job))))
		fx_oom();
	for (i = 0; i < pipeline_njobs(p); i++) {
		const struct pipeline_job *job = pipeline_job_at(p, i);
		int t = table_index(p, job->sink);

		if (t >= 0 && !pt.sink_job[t])
			pt.sink_job[t] = job->name;
	}
	if (list_dir(dir, &names)) {
		fx_warn(ctx, "%s: %s", dir, strerror(errno));
		rc = FX_EXIT_USAGE;
		goto out;
	}
	if (!(cases = calloc(names.n + 1, sizeof(*cases))))
		fx_oom();
	for (i = 0; i < names.n; i++) {
		char *path = subdir(dir, names.v[i]);

		if (is_dir(path) &&
		    case_open(&pt, &cases[ncases++], dir, names.v[i]))
			rc = FX_EXIT_USAGE;
		free(path);
	}
	if (!rc && !ncases) {
		fx_warn(ctx,
		        "%s: no cases (a directory per case, with input/ "
		        "and expected/)",
		        dir);
		rc = FX_EXIT_USAGE;
	}
	if (rc)
		goto out;
	if (asprintf(&pt.scratch, "%s/fx-run-test.XXXXXX",
	             tmp && *tmp ? tmp : "/tmp") < 0)
		fx_oom();
	if (!mkdtemp(pt.scratch) ||
	    (pt.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		fx_warn(ctx, "%s: %s", pt.scratch, strerror(errno));
		free(pt.scratch);
		pt.scratch = NULL;
		rc = FX_EXIT_IO;
		goto out;
	}
	child_env(self_exe);
	for (i = 0; i < ncases && !fx_stop; i++) {
		int r = run_case(&pt, &cases[i], &differ);

		if (r && !rc)
			rc = r;
	}
	if (!rc && fx_stop)
		rc = PT_STOPPED;
out:
	broker_stop(&pt);
	if (pt.scratch)
		pipeline_remove_tree(pt.scratch);
	if (pt.null_fd >= 0)
		close(pt.null_fd);
	free(pt.scratch);
	for (i = 0; i < ncases; i++)
		case_close(&pt, &cases[i]);
	free(cases);
	free(pt.sink_job);
	fx_strlist_free(&names);
	return rc ? rc : differ ? FX_EXIT_DATA : FX_EXIT_OK;
}
