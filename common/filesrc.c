/* filesrc.c - records from files and directories */
#include "filesrc.h"
#include "checkpoint.h"
#include "csvio.h"
#include "err.h"
#include "hive.h"
#include "lineage.h"
#include "opt.h"
#include "recedit.h"
#include "stream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_format_parse(const char *s, enum file_format *f, int *gz)
{
	size_t n = strlen(s);

	*gz = 0;
	if (n > 3 && strcmp(s + n - 3, "+gz") == 0) {
		*gz = 1;
		n -= 3;
	}
	if ((n == 6 && !strncmp(s, "ndjson", 6)) ||
	    (n == 5 && !strncmp(s, "jsonl", 5)) ||
	    (n == 4 && !strncmp(s, "json", 4)))
		*f = FORMAT_NDJSON;
	else if (n == 3 && !strncmp(s, "csv", 3))
		*f = FORMAT_CSV;
	else
		return -1;
	return 0;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Format of a file by its name; FORMAT_AUTO if the name does not say. */
static enum file_format format_of(const char *name, int *gz)
{
	size_t n = strlen(name);

	*gz = ends_with(name, n, ".gz");
	if (*gz)
		n -= 3;
	if (ends_with(name, n, ".ndjson") || ends_with(name, n, ".jsonl") ||
	    ends_with(name, n, ".json"))
		return FORMAT_NDJSON;
	if (ends_with(name, n, ".csv"))
		return FORMAT_CSV;
	return FORMAT_AUTO;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory on the way down: a symbolic link back to one is a loop. */
struct walk_dir {
	dev_t dev;
	ino_t ino;
	const char *path;
	const struct walk_dir *up;
};

static int walk_in(struct fx_ctx *ctx, const char *dir,
                   const struct walk_dir *here, struct fx_strlist *files);

/* Appends the data files under dir to files, in sorted order. */
static int walk(struct fx_ctx *ctx, const char *dir, struct fx_strlist *files)
{
	struct stat sb;
	struct walk_dir top;

	if (stat(dir, &sb) != 0) {
		fx_warn(ctx, "%s: %s", dir, strerror(errno));
		return FX_EXIT_IO;
	}
	top = (struct walk_dir){sb.st_dev, sb.st_ino, dir, NULL};
	return walk_in(ctx, dir, &top, files);
}

static int walk_in(struct fx_ctx *ctx, const char *dir,
                   const struct walk_dir *here, struct fx_strlist *files)
{
	struct fx_strlist names = {0};
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t i;
	int rc = 0;

	if (!d) {
		fx_warn(ctx, "%s: %s", dir, strerror(errno));
		return FX_EXIT_IO;
	}
	/* hidden names, and fx-sink's temporaries (.NAME.tmp-PID) */
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			fx_strlist_push(&names, de->d_name);
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_names);
	for (i = 0; i < names.n && !rc; i++) {
		struct stat sb;
		char *path;
		int gz;

		if (asprintf(&path, "%s/%s", dir, names.v[i]) < 0)
			fx_oom();
		if (stat(path, &sb) != 0) {
			fx_warn(ctx, "%s: %s", path, strerror(errno));
			rc = FX_EXIT_IO;
		} else if (S_ISDIR(sb.st_mode)) {
			const struct walk_dir *a = here;
			struct walk_dir sub = {sb.st_dev, sb.st_ino, path,
			                       here};

			while (a &&
			       (a->dev != sb.st_dev || a->ino != sb.st_ino))
				a = a->up;
			/* a partition value may start with '_' (plays/_x/) */
			if (!a)
				rc = walk_in(ctx, path, &sub, files);
			else /* its files are read once, under a->path */
				fx_warn(ctx,
				        "%s: a link back to %s, a directory "
				        "loop: skipped",
				        path, a->path);
		} else if (names.v[i][0] != '_' && /* _SUCCESS, _metadata */
		           format_of(path, &gz) != FORMAT_AUTO) {
			/* a FIFO or a device would block or never end */
			if (S_ISREG(sb.st_mode))
				fx_strlist_push(files, path);
			else
				fx_warn(ctx, "%s: not a regular file, skipped",
				        path);
		}
		free(path);
	}
	fx_strlist_free(&names);
	return rc;
}

static int has_name(const struct fx_strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/*
 * The partition fields of a file under root: for each "k=v" component of
 * the path below root, k goes to keys (as the path of a top-level key: a
 * dot in k is no nesting, as the member appended is named k) and
 * ,"k":"v" (or null) to extra. Returns 0, or -1 when the fields cannot be
 * written without changing data: why is set and *end is the length of the
 * directory to name (file[0..*end)).
 */
static int partition_fields(const char *root, const char *file,
                            struct fx_strlist *keys, struct fx_buf *extra,
                            size_t *off, size_t *end, char *why, size_t nwhy)
{
	const char *s = file + strlen(root), *slash;
	struct fx_buf v = FX_BUF_INIT, path = FX_BUF_INIT;
	int rc = 0;

	while (!rc && (slash = strchr(s, '/'))) {
		const char *eq = memchr(s, '=', (size_t)(slash - s));
		size_t klen = eq ? (size_t)(eq - s) : 0, vlen, i;

		*end = (size_t)(slash - file);
		if (!eq || klen == 0 || keys->n >= JSON_MAX_PATHS) {
			s = slash + 1;
			continue;
		}
		vlen = (size_t)(slash - eq - 1);
		fx_buf_reset(&v);
		fx_buf_reset(&path);
		for (i = 0; i < klen; i++) {
			if (s[i] == '.' || s[i] == '\\')
				fx_buf_addc(&path, '\\');
			fx_buf_addc(&path, s[i]);
		}
		fx_buf_addc(&path, 0);
		/* the stream is UTF-8: no byte may be changed or lost */
		if (!json_utf8_valid(s, klen)) {
			snprintf(why, nwhy, "field name is not UTF-8");
			rc = -1;
		} else if (!json_utf8_valid(eq + 1, vlen)) {
			snprintf(why, nwhy, "value of \"%.*s\" is not UTF-8",
			         (int)klen, s);
			rc = -1;
		} else if (hive_decode_json(&v, eq + 1, vlen) < 0) {
			snprintf(why, nwhy,
			         "value of \"%.*s\" is not UTF-8 once "
			         "%%XX-decoded",
			         (int)klen, s);
			rc = -1;
		} else if (has_name(keys, path.p)) {
			/* one of the values would be a second member k */
			snprintf(why, nwhy, "\"%.*s\" twice in the path",
			         (int)klen, s);
			rc = -1;
		} else {
			fx_strlist_push(keys, path.p);
			fx_buf_addc(extra, ',');
			fx_buf_add_json_string(extra, s, klen);
			fx_buf_addc(extra, ':');
			fx_buf_add(extra, v.p, v.len);
			off[keys->n] = extra->len;
		}
		s = slash + 1;
	}
	fx_buf_free(&v);
	fx_buf_free(&path);
	return rc;
}

struct part_extra {
	struct json_paths keys;
	struct fx_buf all;  /* every partition member */
	struct fx_buf some; /* built per record when it has some of the keys */
	struct fx_strlist names;
	size_t off[JSON_MAX_PATHS + 1]; /* member i is all[off[i]..off[i+1]) */
};

static void part_extra_free(struct part_extra *ex)
{
	json_paths_free(&ex->keys);
	fx_buf_free(&ex->all);
	fx_buf_free(&ex->some);
	fx_strlist_free(&ex->names);
}

/*
 * ex for a file under root, zeroed first: 0, or FX_EXIT_USAGE after a
 * message naming the directory whose name cannot be a field.
 */
static int part_extra_init(struct fx_ctx *ctx, const char *root,
                           const char *path, struct part_extra *ex)
{
	size_t end = 0;
	char why[160];
	const char *err;

	memset(ex, 0, sizeof(*ex));
	if (partition_fields(root, path, &ex->names, &ex->all, ex->off, &end,
	                     why, sizeof(why))) {
		fx_warn(ctx, "%.*s: --partition-fields: %s", (int)end, path,
		        why);
		return FX_EXIT_USAGE;
	}
	if (json_paths_init(&ex->keys, ex->names.v, ex->names.n, &err)) {
		fx_warn(ctx, "%s: %s", path, err);
		return FX_EXIT_USAGE;
	}
	return 0;
}

/*
 * Before a record of a directory operand is read: whether every file's
 * partition fields can be written. 0, or FX_EXIT_USAGE after a message.
 */
static int partition_check(struct fx_ctx *ctx, const struct file_source_opts *o,
                           const char *root, const struct fx_strlist *files)
{
	struct part_extra ex;
	size_t i;
	int rc = 0;

	for (i = 0; i < files->n && !rc && o->partition_fields; i++) {
		rc = part_extra_init(ctx, root, files->v[i], &ex);
		part_extra_free(&ex);
	}
	return rc;
}

/*
 * The members to append to a record whose values of ex's keys are vals:
 * all of them, or, to keep the record's own value of a key, those it has
 * no member for.
 */
static const struct fx_buf *extra_for(struct part_extra *ex,
                                      const struct json_value *vals)
{
	size_t i;

	for (i = 0; i < ex->keys.n; i++)
		if (vals[i].type != JSON_MISSING)
			break;
	if (i == ex->keys.n)
		return &ex->all;
	fx_buf_reset(&ex->some);
	for (i = 0; i < ex->keys.n; i++)
		if (vals[i].type == JSON_MISSING)
			fx_buf_add(&ex->some, ex->all.p + ex->off[i],
			           ex->off[i + 1] - ex->off[i]);
	return &ex->some;
}

/*
 * --checkpoint: the files started so far, in the order read, each with the
 * offset of its next line (the last one's moves as it is read).
 */
struct file_ckpt {
	struct fx_ctx *ctx;
	const struct file_source_opts *o;
	struct record_writer *out;
	struct ckpt_state committed;
	uint64_t id; /* the last barrier's, or the restore's */
	struct ckpt_position *pos;
	size_t npos, cappos;
	struct ckpt_interval every;
	struct fx_buf ctl;
};

static void ckpt_put(struct file_ckpt *k)
{
	record_writer_put(k->out, k->ctl.p, k->ctl.len);
}

static void ckpt_emit(struct file_ckpt *k, int final)
{
	fx_buf_reset(&k->ctl);
	ckpt_barrier_format(&k->ctl, ++k->id, k->pos, k->npos, final);
	ckpt_put(k);
	k->ctx->ckpt.last = k->id; /* --stats */
	ckpt_interval_start(&k->every, k->o->ckpt_records, k->o->ckpt_ms);
}

/* After a record read: the current file's position, and a barrier if due. */
static void ckpt_after_record(struct file_ckpt *k, int64_t offset)
{
	k->pos[k->npos - 1].offset = offset;
	if (ckpt_interval_record(&k->every))
		ckpt_emit(k, 0);
}

/* Whether fd's data is gzip: gz (its name or --format says), or its magic. */
static int data_is_gzip(int fd, int gz)
{
	unsigned char m[2];

	return gz || (pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b);
}

static int is_blank_byte(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Whether a plain file can be resumed at offset: 0, or -1 with why set
 * (the file is shorter, or offset is not a line's start).
 *
 * An offset after a last line that had no newline yet is the end of that
 * line when all that follows it up to a newline (or the end) is blank: a
 * record is a whole JSON object, so any other byte there would make the
 * committed line a different one. The newline appended since is then the
 * committed record's, and the reader passes over the blank rest.
 */
static int plain_offset_ok(int fd, int64_t offset, char *why, size_t n)
{
	struct stat sb;
	char buf[4096];
	int64_t at = offset;
	ssize_t got = 0, i = 0;

	if (offset == 0)
		return 0;
	if (fstat(fd, &sb) != 0) {
		snprintf(why, n, "%s", strerror(errno));
		return -1;
	}
	if (sb.st_size < offset) {
		snprintf(why, n,
		         "%" PRId64 " bytes, shorter than its offset %" PRId64,
		         (int64_t)sb.st_size, offset);
		return -1;
	}
	if (pread(fd, buf, 1, offset - 1) != 1)
		goto not_start;
	if (buf[0] == '\n')
		return 0;
	for (;;) {
		if (i == got) {
			got = pread(fd, buf, sizeof(buf), at);
			if (got < 0)
				goto not_start;
			if (got == 0)
				return 0;
			at += got;
			i = 0;
		}
		if (buf[i] == '\n')
			return 0;
		if (!is_blank_byte(buf[i++]))
			break;
	}
not_start:
	snprintf(why, n, "not a line start at offset %" PRId64, offset);
	return -1;
}

/*
 * Opens path for a checkpointed read at offset (its committed one, 0 if
 * none): plain files are seeked (offsets are the file's own bytes), gzip
 * data is decompressed and offset bytes skipped (offsets count the
 * decompressed data without a leading byte order mark). 0, or FX_EXIT_IO
 * after a message: the file "changed since checkpoint K" when it is
 * shorter than offset or offset is not a line's start.
 */
static int ckpt_open(struct file_ckpt *k, struct record_stream *rs,
                     const char *path, int gz, const struct json_paths *paths,
                     int64_t offset)
{
	char why[128], last = '\n';
	int64_t have = 0;
	ssize_t n;
	int rc;

	rc = record_stream_open(rs, k->ctx, path, gz, paths);
	if (rc)
		return rc;
	if (!data_is_gzip(rs->in.fd, gz)) {
		unsigned char head[3];

		if (plain_offset_ok(rs->in.fd, offset, why, sizeof(why)))
			goto changed;
		if (offset == 0) {
			/* fx_input drops a byte order mark: count it */
			if (pread(rs->in.fd, head, 3, 0) == 3 &&
			    !memcmp(head, "\xef\xbb\xbf", 3))
				rs->reader.bytes = 3;
			return 0;
		}
		if (lseek(rs->in.fd, offset, SEEK_SET) != offset) {
			snprintf(why, sizeof(why), "%s", strerror(errno));
			goto changed;
		}
		rs->in.sniffed = 1; /* mid-file: no magic, no byte order mark */
		rs->in.bom_checked = 1;
		rs->reader.bytes = (uint64_t)offset;
		return 0;
	}
	/* gzip: the decompressed data is read again up to the offset */
	while (have < offset) {
		char buf[65536];
		size_t want = sizeof(buf);

		if ((int64_t)want > offset - have)
			want = (size_t)(offset - have);
		n = fx_input_read(&rs->in, buf, want);
		if (n < 0)
			return FX_EXIT_IO;
		if (n == 0) {
			snprintf(why, sizeof(why),
			         "%" PRId64 " bytes decompressed, fewer than "
			         "its offset %" PRId64,
			         have, offset);
			goto changed;
		}
		last = buf[n - 1];
		have += n;
	}
	/* after a last line without \n: as in plain_offset_ok */
	while (offset > 0 && last != '\n') {
		if ((n = fx_input_read(&rs->in, &last, 1)) < 0)
			return FX_EXIT_IO;
		if (n == 0)
			break;
		if (last != '\n' && !is_blank_byte(last)) {
			snprintf(why, sizeof(why),
			         "not a line start at offset %" PRId64, offset);
			goto changed;
		}
		have++; /* read, so the reader counts on from here */
	}
	rs->reader.bytes = (uint64_t)have;
	return 0;
changed:
	fx_warn(k->ctx, "%s: changed since checkpoint %" PRIu64 ": %s", path,
	        k->committed.id, why);
	return FX_EXIT_IO;
}

static int copy_ndjson(struct fx_ctx *ctx, const char *path, int gz,
                       struct part_extra *ex, struct record_writer *out,
                       struct file_ckpt *k, int64_t offset)
{
	struct record_stream rs;
	struct json_value vals[JSON_MAX_PATHS];
	struct record rec;
	struct record_run run = {0};
	int rc, flags;
	/* records that go out as they are read: many at a time */
	int runs = !k && !(ex && ex->keys.n);

	if (k)
		rc = ckpt_open(k, &rs, path, gz,
		               ex && ex->keys.n ? &ex->keys : NULL, offset);
	else
		rc = record_stream_open(&rs, ctx, path, gz,
		                        ex && ex->keys.n ? &ex->keys : NULL);
	if (rc) {
		if (k && rs.open)
			record_stream_close(&rs);
		return rc;
	}
	while (!fx_stop &&
	       (rc = runs
	                 ? record_stream_next_run(&rs, &run, &rec, vals, &flags)
	                 : record_stream_next(&rs, &rec, vals, &flags)) > 0) {
		if (run.n) {
			record_writer_copy(
			    out, run.p, run.len, rs.in.fd,
			    fx_input_file_offset(&rs.in,
			                         rs.reader.bytes - run.len));
			ctx->st.records_out += run.n;
			if (record_writer_failed(out))
				break;
			continue;
		}
		if (!ex || !ex->keys.n || (flags & JSON_SCAN_CONTROL)) {
			record_writer_put(out, rec.p, rec.len);
		} else {
			const struct fx_buf *e = extra_for(ex, vals);

			recedit_put(out, rec.p, rec.len, e->p, e->len);
		}
		ctx->st.records_out++;
		if (k)
			ckpt_after_record(k, (int64_t)rs.reader.bytes);
		if (record_writer_failed(out))
			break;
	}
	/* the whole file read: blank lines at its end too */
	if (k && rc == 0 && !fx_stop)
		k->pos[k->npos - 1].offset = (int64_t)rs.reader.bytes;
	record_stream_close(&rs);
	return rc < 0 ? -rc : 0;
}

struct csv_sink {
	struct record_writer *out;
	struct fx_ctx *ctx;
	struct part_extra *ex;      /* NULL without partition fields */
	const struct fx_buf *extra; /* ex's members, from the first row on */
};

static int csv_row(void *arg, const char *json, size_t len, uint64_t line)
{
	struct csv_sink *cs = arg;
	int rc;

	(void)line;
	if (cs->ex && !cs->extra) {
		struct json_value vals[JSON_MAX_PATHS];
		size_t i;

		/* every row has the header's names: the first decides */
		for (i = 0; i < cs->ex->keys.n; i++)
			json_object_get(json, len, cs->ex->keys.v[i].seg[0],
			                cs->ex->keys.v[i].seglen[0], &vals[i]);
		cs->extra = extra_for(cs->ex, vals);
	}
	cs->ctx->st.records_out++;
	if (cs->extra)
		rc = recedit_put(cs->out, json, len, cs->extra->p,
		                 cs->extra->len);
	else
		rc = record_writer_put(cs->out, json, len);
	return rc ? FX_EXIT_IO : 0;
}

static int copy_csv(struct fx_ctx *ctx, const struct file_source_opts *o,
                    const char *path, int gz, struct part_extra *ex,
                    struct record_writer *out)
{
	struct csv_sink cs = {out, ctx, ex && ex->keys.n ? ex : NULL, NULL};
	struct fx_input in;
	struct csvio_reader *cr;
	int rc;

	rc = fx_input_open(&in, ctx, path, gz);
	if (rc)
		return rc;
	cr = csvio_reader_new(ctx, in.name, o->csv_strings, NULL, csv_row, &cs);
	rc = csvio_reader_feed_input(cr, &in);
	ctx->st.records_in += csvio_reader_rows(cr);
	lineage_count(lineage_input_fd(ctx, in.fd, path),
	              csvio_reader_rows(cr));
	if (rc == FX_EXIT_IO && record_writer_failed(out))
		rc = 0; /* the writer reports its own error */
	csvio_reader_free(cr);
	fx_input_close(&in);
	return rc;
}

static int read_file(struct fx_ctx *ctx, const struct file_source_opts *o,
                     const char *root, const char *path,
                     struct record_writer *out, struct file_ckpt *k,
                     int64_t offset)
{
	struct part_extra ex;
	enum file_format f = o->format;
	int gz = o->gz, rc = 0;

	if (f == FORMAT_AUTO) {
		f = strcmp(path, "-") ? format_of(path, &gz) : FORMAT_NDJSON;
		if (f == FORMAT_AUTO)
			f = FORMAT_NDJSON;
	}
	memset(&ex, 0, sizeof(ex));
	if (o->partition_fields && root)
		rc = part_extra_init(ctx, root, path, &ex);
	if (!rc && f == FORMAT_CSV)
		rc = copy_csv(ctx, o, path, gz, &ex, out);
	else if (!rc)
		rc = copy_ndjson(ctx, path, gz, &ex, out, k, offset);
	part_extra_free(&ex);
	return rc;
}

/* Where a directory operand's partition fields start: see o->root. */
static const char *fields_root(const struct file_source_opts *o,
                               const char *dir)
{
	size_t n = o->root ? strlen(o->root) : 0;

	if (n && strncmp(dir, o->root, n) == 0 &&
	    (dir[n] == '/' || dir[n] == 0 || o->root[n - 1] == '/'))
		return o->root;
	return dir;
}

/* The format a file is read in: by o, else by its name, else NDJSON. */
static enum file_format format_for(const struct file_source_opts *o,
                                   const char *path)
{
	enum file_format f = o->format;
	int gz;

	if (f == FORMAT_AUTO)
		f = format_of(path, &gz);
	return f == FORMAT_AUTO ? FORMAT_NDJSON : f;
}

/*
 * The inputs of a checkpointed run, in the order read: files (walked or
 * named) and, for each, the root of its partition fields ("" for none).
 * Usage errors exit: stdin, CSV, a named file that is not a regular one.
 */
static int ckpt_inputs(struct fx_ctx *ctx, const struct file_source_opts *o,
                       char **operands, size_t n, struct fx_strlist *files,
                       struct fx_strlist *roots)
{
	size_t i, j;
	int rc = 0;

	for (i = 0; i < n && !rc; i++) {
		struct stat sb;
		int st = stat(operands[i], &sb);

		if (strcmp(operands[i], "-") == 0)
			fx_usage_error(ctx, "--checkpoint: stdin cannot be "
			                    "resumed: FILE or DIR operands");
		if (st == 0 && S_ISDIR(sb.st_mode)) {
			struct fx_strlist walked = {0};
			char *root = fx_strdup(operands[i]);
			size_t rl = strlen(root);

			while (rl > 1 && root[rl - 1] == '/')
				root[--rl] = 0;
			lineage_file(ctx, LINEAGE_INPUT, root);
			rc = walk(ctx, root, &walked);
			if (!rc && !walked.n)
				fx_warn(
				    ctx,
				    "%s: no record files (*.ndjson, *.jsonl, "
				    "*.json, *.csv, each optionally .gz)",
				    root);
			if (!rc)
				rc = partition_check(
				    ctx, o, fields_root(o, root), &walked);
			for (j = 0; j < walked.n; j++) {
				fx_strlist_push(files, walked.v[j]);
				fx_strlist_push(roots, fields_root(o, root));
			}
			fx_strlist_free(&walked);
			free(root);
		} else {
			if (st == 0 && !S_ISREG(sb.st_mode))
				fx_usage_error(
				    ctx,
				    "--checkpoint: %s: not a regular "
				    "file: cannot be resumed",
				    operands[i]);
			fx_strlist_push(files, operands[i]);
			fx_strlist_push(roots, "");
		}
	}
	for (i = 0; i < files->n && !rc; i++)
		if (format_for(o, files->v[i]) == FORMAT_CSV)
			fx_usage_error(ctx,
			               "--checkpoint: %s: CSV input cannot be "
			               "resumed: NDJSON files only",
			               files->v[i]);
	return rc;
}

/*
 * Before anything is written: whether a plain file can resume at offset
 * (gzip data is checked as it is read again). 0, or -1 after a message.
 */
static int ckpt_check_plain(struct file_ckpt *k, const char *path,
                            int64_t offset)
{
	char why[128];
	int gz = k->o->gz, fd, bad = 0;

	if (k->o->format == FORMAT_AUTO)
		format_of(path, &gz);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0; /* reported when it is read */
	if (!data_is_gzip(fd, gz) &&
	    (bad = plain_offset_ok(fd, offset, why, sizeof(why))))
		fx_warn(k->ctx, "%s: changed since checkpoint %" PRIu64 ": %s",
		        path, k->committed.id, why);
	close(fd);
	return bad;
}

/*
 * Reads state/committed.json into k and checks that every position in it
 * is a file of this run that is still there. FX_EXIT_IO after a message.
 */
static int ckpt_restore(struct file_ckpt *k, const struct fx_strlist *files)
{
	const char *dir = k->o->state;
	size_t i, j, n = strlen(dir) + sizeof("/committed.json");
	char *path;

	if (ckpt_state_read(dir, &k->committed)) {
		int err = errno;

		path = fx_malloc(n);
		fx_warn(k->ctx, "%s: %s", ckpt_state_path(dir, path, n),
		        err == EBADMSG ? "corrupt: not a committed checkpoint"
		                       : strerror(err));
		free(path);
		return FX_EXIT_IO;
	}
	for (i = 0; i < k->committed.npos; i++) {
		const struct ckpt_position *p = &k->committed.pos[i];
		const char *f = p->topic + 5;
		struct stat sb;

		if (strncmp(p->topic, "file:", 5) != 0 || p->partition != 0) {
			path = fx_malloc(n);
			fx_warn(k->ctx,
			        "%s: position of \"%s\" %" PRId32
			        ": not a file source's",
			        ckpt_state_path(dir, path, n), p->topic,
			        p->partition);
			free(path);
			return FX_EXIT_IO;
		}
		for (j = 0; j < files->n; j++)
			if (strcmp(files->v[j], f) == 0)
				break;
		if (stat(f, &sb) != 0 || j == files->n) {
			int gone = stat(f, &sb) != 0;

			fx_warn(k->ctx,
			        "%s: changed since checkpoint %" PRIu64 ": %s",
			        f, k->committed.id,
			        gone ? "gone" : "not an input of this run");
			return FX_EXIT_IO;
		}
		if (ckpt_check_plain(k, f, p->offset))
			return FX_EXIT_IO;
	}
	k->id = k->committed.id;
	return 0;
}

/* file_source_run with o->state: see file_source_opts. */
static int file_source_run_ckpt(struct fx_ctx *ctx,
                                const struct file_source_opts *o,
                                char **operands, size_t n,
                                struct record_writer *out)
{
	struct fx_strlist files = {0}, roots = {0};
	struct file_ckpt k;
	size_t i;
	int rc;

	if (n == 0)
		fx_usage_error(ctx, "--checkpoint: stdin cannot be resumed: "
		                    "FILE or DIR operands");
	memset(&k, 0, sizeof(k));
	k.ctx = ctx;
	k.o = o;
	k.out = out;
	rc = ckpt_inputs(ctx, o, operands, n, &files, &roots);
	if (!rc)
		rc = ckpt_restore(&k, &files);
	if (!rc) {
		/* the restore record first; barriers count on from it */
		ckpt_restore_format(&k.ctl, k.id);
		ckpt_put(&k);
		ctx->ckpt.on = 1;
		ctx->ckpt.restored_seen = 1;
		ctx->ckpt.restored = ctx->ckpt.committed = k.id;
		ckpt_interval_start(&k.every, o->ckpt_records, o->ckpt_ms);
	}
	for (i = 0; i < files.n && !rc && !fx_stop; i++) {
		struct fx_buf topic = FX_BUF_INIT;
		int64_t off;

		fx_buf_adds(&topic, "file:");
		fx_buf_adds(&topic, files.v[i]);
		fx_buf_addc(&topic, 0);
		off = ckpt_state_position(&k.committed, topic.p, 0);
		if (off < 0)
			off = 0;
		FX_GROW(k.pos, k.npos + 1, k.cappos, 16);
		k.pos[k.npos].topic = topic.p; /* owned by k.pos */
		k.pos[k.npos].partition = 0;
		k.pos[k.npos++].offset = off;
		rc = read_file(ctx, o, roots.v[i][0] ? roots.v[i] : NULL,
		               files.v[i], out, &k, off);
		if (record_writer_failed(out))
			break;
	}
	/* final at the end; after a signal, what is done is done */
	if (!rc && !record_writer_failed(out))
		ckpt_emit(&k, !fx_stop);
	for (i = 0; i < k.npos; i++)
		free(k.pos[i].topic);
	free(k.pos);
	fx_buf_free(&k.ctl);
	ckpt_state_free(&k.committed);
	fx_strlist_free(&files);
	fx_strlist_free(&roots);
	return rc;
}

int file_source_run(struct fx_ctx *ctx, const struct file_source_opts *o,
                    char **operands, size_t n, struct record_writer *out)
{
	char *stdin_only[] = {"-"};
	size_t i, j;
	int rc = 0;

	if (o->ckpt_records > 0 || o->ckpt_ms > 0)
		return file_source_run_ckpt(ctx, o, operands, n, out);
	if (n == 0) {
		operands = stdin_only;
		n = 1;
	}
	for (i = 0; i < n && !rc && !fx_stop; i++) {
		struct stat sb;

		if (strcmp(operands[i], "-") != 0 &&
		    stat(operands[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
			struct fx_strlist files = {0};
			char *root = fx_strdup(operands[i]);
			size_t rl = strlen(root);

			while (rl > 1 && root[rl - 1] == '/')
				root[--rl] = 0;
			/* one dataset: its files count into it */
			lineage_file(ctx, LINEAGE_INPUT, root);
			rc = walk(ctx, root, &files);
			/* an empty dataset, but maybe a wrong path: say so */
			if (!rc && !files.n)
				fx_warn(
				    ctx,
				    "%s: no record files (*.ndjson, *.jsonl, "
				    "*.json, *.csv, each optionally .gz)",
				    root);
			if (!rc)
				rc = partition_check(
				    ctx, o, fields_root(o, root), &files);
			for (j = 0; j < files.n && !rc && !fx_stop; j++)
				rc = read_file(ctx, o, fields_root(o, root),
				               files.v[j], out, NULL, 0);
			fx_strlist_free(&files);
			free(root);
		} else {
			rc = read_file(ctx, o, NULL, operands[i], out, NULL, 0);
		}
		if (record_writer_failed(out))
			break;
	}
	return rc;
}
