/* filesrc.c - records from files and directories */
#include "filesrc.h"
#include "csvio.h"
#include "err.h"
#include "hive.h"
#include "lineage.h"
#include "opt.h"
#include "recedit.h"
#include "stream.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Appends the data files under dir to files, in sorted order. */
static int walk(struct fx_ctx *ctx, const char *dir, struct fx_strlist *files)
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
			/* a partition value may start with '_' (plays/_x/) */
			rc = walk(ctx, path, files);
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

/*
 * The partition fields of a file under root: for each "k=v" component of
 * the path below root, k goes to keys and ,"k":"v" (or null) to extra.
 */
static void partition_fields(const char *root, const char *file,
                             struct fx_strlist *keys, struct fx_buf *extra,
                             size_t *off)
{
	const char *s = file + strlen(root), *slash;
	struct fx_buf v = FX_BUF_INIT;

	while ((slash = strchr(s, '/'))) {
		const char *eq = memchr(s, '=', (size_t)(slash - s));

		if (eq && eq > s && keys->n < JSON_MAX_PATHS) {
			char *k = fx_strndup(s, (size_t)(eq - s));
			size_t vlen = (size_t)(slash - eq - 1);

			fx_strlist_push(keys, k);
			fx_buf_addc(extra, ',');
			fx_buf_add_json_string(extra, k, strlen(k));
			fx_buf_addc(extra, ':');
			if (hive_is_null(eq + 1, vlen)) {
				fx_buf_adds(extra, "null");
			} else {
				fx_buf_reset(&v);
				hive_decode(&v, eq + 1, vlen);
				fx_buf_add_json_string(extra, v.p, v.len);
			}
			free(k);
			off[keys->n] = extra->len;
		}
		s = slash + 1;
	}
	fx_buf_free(&v);
}

struct ndjson_extra {
	struct json_paths keys;
	struct fx_buf all;  /* every partition member */
	struct fx_buf some; /* built per record when it has some of the keys */
	struct fx_strlist names;
	size_t off[JSON_MAX_PATHS + 1]; /* member i is all[off[i]..off[i+1]) */
};

static int copy_ndjson(struct fx_ctx *ctx, const char *path, int gz,
                       struct ndjson_extra *ex, struct record_writer *out)
{
	struct record_stream rs;
	struct json_value vals[JSON_MAX_PATHS];
	struct record rec;
	int rc, flags;

	rc = record_stream_open(&rs, ctx, path, gz,
	                        ex && ex->keys.n ? &ex->keys : NULL);
	if (rc)
		return rc;
	while (!fx_stop &&
	       (rc = record_stream_next(&rs, &rec, vals, &flags)) > 0) {
		if (!ex || !ex->keys.n || (flags & JSON_SCAN_CONTROL)) {
			record_writer_put(out, rec.p, rec.len);
		} else {
			const struct fx_buf *e = &ex->all;
			size_t i;

			for (i = 0; i < ex->keys.n; i++)
				if (vals[i].type != JSON_MISSING)
					break;
			if (i < ex->keys.n) {
				/* keep the record's own value of a key */
				fx_buf_reset(&ex->some);
				for (i = 0; i < ex->keys.n; i++)
					if (vals[i].type == JSON_MISSING)
						fx_buf_add(&ex->some,
						           ex->all.p +
						               ex->off[i],
						           ex->off[i + 1] -
						               ex->off[i]);
				e = &ex->some;
			}
			recedit_put(out, rec.p, rec.len, e->p, e->len);
		}
		ctx->st.records_out++;
		if (record_writer_failed(out))
			break;
	}
	record_stream_close(&rs);
	return rc < 0 ? -rc : 0;
}

struct csv_sink {
	struct record_writer *out;
	struct fx_ctx *ctx;
};

static int csv_row(void *arg, const char *json, size_t len, uint64_t line)
{
	struct csv_sink *cs = arg;

	(void)line;
	cs->ctx->st.records_out++;
	if (record_writer_put(cs->out, json, len))
		return FX_EXIT_IO;
	return 0;
}

static int copy_csv(struct fx_ctx *ctx, const struct file_source_opts *o,
                    const char *path, int gz, const char *extra,
                    struct record_writer *out)
{
	struct csv_sink cs = {out, ctx};
	struct fx_input in;
	struct csvio_reader *cr;
	int rc;

	rc = fx_input_open(&in, ctx, path, gz);
	if (rc)
		return rc;
	cr =
	    csvio_reader_new(ctx, in.name, o->csv_strings, extra, csv_row, &cs);
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
                     struct record_writer *out)
{
	struct ndjson_extra ex;
	enum file_format f = o->format;
	int gz = o->gz, rc;
	const char *err;

	if (f == FORMAT_AUTO) {
		f = strcmp(path, "-") ? format_of(path, &gz) : FORMAT_NDJSON;
		if (f == FORMAT_AUTO)
			f = FORMAT_NDJSON;
	}
	memset(&ex, 0, sizeof(ex));
	if (o->partition_fields && root) {
		partition_fields(root, path, &ex.names, &ex.all, ex.off);
		if (json_paths_init(&ex.keys, ex.names.v, ex.names.n, &err))
			fx_die(ctx, FX_EXIT_USAGE, "%s: %s", path, err);
	}
	if (f == FORMAT_CSV) {
		if (ex.all.len)
			fx_buf_addc(&ex.all, 0);
		rc = copy_csv(ctx, o, path, gz, ex.all.len ? ex.all.p : NULL,
		              out);
	} else {
		rc = copy_ndjson(ctx, path, gz, &ex, out);
	}
	json_paths_free(&ex.keys);
	fx_buf_free(&ex.all);
	fx_buf_free(&ex.some);
	fx_strlist_free(&ex.names);
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

int file_source_run(struct fx_ctx *ctx, const struct file_source_opts *o,
                    char **operands, size_t n, struct record_writer *out)
{
	char *stdin_only[] = {"-"};
	size_t i, j;
	int rc = 0;

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
			for (j = 0; j < files.n && !rc && !fx_stop; j++)
				rc = read_file(ctx, o, fields_root(o, root),
				               files.v[j], out);
			fx_strlist_free(&files);
			free(root);
		} else {
			rc = read_file(ctx, o, NULL, operands[i], out);
		}
		if (record_writer_failed(out))
			break;
	}
	return rc;
}
