/* partition.c - fx-partition's engine; the contract is in partition.h */
#include "partition.h"

#include "err.h"
#include "kafka.h"
#include "lineage.h"
#include "stream.h"
#include "strmap.h"
#include "recedit.h"
#include "writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --explain: one destination and how many records went there */
struct dest_count {
	char *line; /* {"values":…,"route":…,"dest":… without the count */
	uint64_t records;
};

struct router {
	struct fx_ctx *ctx;
	const struct partition_opts *o;
	struct table *t;
	struct record_writer out;
	struct table_values tv;
	struct fx_buf dest, line;
	struct fx_buf plain; /* the record without its earlier _fx_dest */
	struct strmap seen;  /* --explain: dest key -> struct dest_count */
};

/*
 * Copies the record into b without its earlier _fx_dest members, every
 * other byte as it is: each goes with the separator before it (from the
 * end of the member kept before it), or, when no member is kept before
 * it, with the separator after it (up to the next member), so that
 * { "a":1 , "_fx_dest":"x" } becomes { "a":1 } and so does
 * { "_fx_dest":"x" , "a":1 }.
 */
static void drop_dest(struct fx_buf *b, const struct record *rec)
{
	struct json_member m;
	size_t pos = 0, copied = 0, kept_end = 0;
	int kept = 0, skip = 0;

	while (json_object_next(rec->p, rec->len, &pos, &m)) {
		size_t start = (size_t)(m.p - rec->p), end = start + m.len;

		if (skip) /* a first member dropped: up to this one with it */
			copied = start;
		skip = 0;
		if (!json_string_equals(&m.key, "_fx_dest", 8)) {
			kept = 1;
			kept_end = end;
			continue;
		}
		if (kept) {
			if (copied < kept_end)
				fx_buf_add(b, rec->p + copied,
				           kept_end - copied);
		} else {
			fx_buf_add(b, rec->p + copied, start - copied);
			skip = 1;
		}
		copied = end;
	}
	fx_buf_add(b, rec->p + copied, rec->len - copied);
}

/* The record with "_fx_dest":DEST before its closing brace. */
static int put_routed(struct router *r, const struct record *rec, int flags)
{
	const char *p = rec->p;
	size_t n = rec->len;

	fx_buf_reset(&r->line);
	if (flags & JSON_SCAN_HAS_FX) {
		fx_buf_reset(&r->plain);
		drop_dest(&r->plain, rec);
		p = r->plain.p;
		n = r->plain.len;
	}
	recedit_begin(&r->line, p, n);
	fx_buf_adds(&r->line, "\"_fx_dest\":");
	fx_buf_add_json_string(&r->line, r->dest.p, r->dest.len);
	fx_buf_addc(&r->line, '}'); /* what followed the brace is dropped */
	r->ctx->st.records_out++;
	/* a failed writer is the caller's to notice: record_writer_status() */
	record_writer_put(&r->out, r->line.p, r->line.len);
	return 0;
}

static void explain_count(struct router *r, int route)
{
	struct dest_count *dc;

	if (!r->o->files) /* a topic holds every value of the others */
		r->tv.any = ~table_kafka_mask(r->t);
	fx_buf_reset(&r->line);
	fx_buf_adds(&r->line, "{\"values\":{");
	table_values_json(r->t, &r->tv, &r->line);
	fx_buf_adds(&r->line, "},\"route\":\"");
	fx_buf_adds(&r->line, r->o->files ? "dir" : table_route_name(route));
	fx_buf_adds(&r->line, "\",\"dest\":");
	if (route == TABLE_REJECT)
		fx_buf_adds(&r->line, "null");
	else
		fx_buf_add_json_string(&r->line, r->dest.p, r->dest.len);
	dc = strmap_get(&r->seen, r->line.p, r->line.len);
	if (!dc) {
		dc = fx_malloc(sizeof(*dc));
		dc->line = fx_strndup(r->line.p, r->line.len);
		dc->records = 0;
		strmap_put(&r->seen, r->line.p, r->line.len, dc);
	}
	dc->records++;
}

static int explain_write(struct router *r)
{
	char num[32];
	size_t i;

	for (i = 0; i < r->seen.n; i++) {
		struct dest_count *dc = r->seen.entries[i].value;

		fx_buf_reset(&r->line);
		fx_buf_adds(&r->line, dc->line);
		snprintf(num, sizeof(num), ",\"records\":%llu}",
		         (unsigned long long)dc->records);
		fx_buf_adds(&r->line, num);
		record_writer_put(&r->out, r->line.p, r->line.len);
		free(dc->line);
		free(dc);
	}
	return 0;
}

static int on_record(struct router *r, const struct record *rec,
                     const struct json_value *vals, int flags,
                     const struct fx_where *w)
{
	const char *field, *why;
	int route;

	if (table_values_of(r->t, vals, &r->tv, &field, &why))
		return fx_bad_record(r->ctx, w, field, rec->p, rec->len, "%s",
		                     why);
	if (r->o->files) {
		table_dir(r->t, &r->tv, &r->dest);
		route = TABLE_STATIC;
	} else if ((route = table_topic(r->t, &r->tv, &r->dest, &why)) < 0) {
		/* the topic is at fault, not a field: why names it */
		return fx_bad_record(r->ctx, w, NULL, rec->p, rec->len, "%s",
		                     why);
	}
	if (r->o->explain) {
		explain_count(r, route);
		return 0;
	}
	if (route == TABLE_REJECT) {
		fx_buf_reset(&r->line);
		table_values_json(r->t, &r->tv, &r->line);
		fx_buf_addc(&r->line, 0);
		return fx_bad_record(
		    r->ctx, w, table_part(r->t, 0)->field, rec->p, rec->len,
		    "no topic for {%s}: not a static partition of table '%s', which is not dynamic and has no default",
		    r->line.p, table_name(r->t));
	}
	return put_routed(r, rec, flags);
}

static int route_input(struct router *r, const char *name)
{
	struct json_value vals[JSON_MAX_PATHS];
	struct record_stream rs;
	struct record rec;
	int n = 0, flags, rc;

	rc = record_stream_open(&rs, r->ctx, name, 0, table_paths(r->t));
	while (!rc && !fx_stop &&
	       (n = record_stream_next(&rs, &rec, vals, &flags)) > 0) {
		struct fx_where w = record_stream_where(&rs, &rec);

		if (flags & JSON_SCAN_CONTROL) {
			if (!r->o->explain)
				record_writer_put_control(&r->out, rec.p,
				                          rec.len);
		} else {
			rc = on_record(r, &rec, vals, flags, &w);
		}
		if (!rc)
			rc = record_writer_status(&r->out);
	}
	if (!rc && n < 0)
		rc = -n;
	record_stream_close(&rs);
	return rc;
}

int partition_run(struct fx_ctx *ctx, const struct partition_opts *o,
                  struct table *t, char **inputs, size_t n)
{
	struct router r = {.ctx = ctx, .o = o, .t = t};
	char *stdin_only[] = {"-"};
	size_t i;
	int rc = 0, wrc;

	if (o->files && !table_has_files(t))
		fx_usage_error(ctx, "--files: table '%s' has no \"files\"",
		               table_name(t));
	if (!o->files && !table_has_kafka(t))
		fx_usage_error(ctx, "table '%s' has no \"kafka\": use --files",
		               table_name(t));
	record_writer_init(&r.out, ctx, STDOUT_FILENO, "stdout");
	if (n == 0) {
		inputs = stdin_only;
		n = 1;
	}
	for (i = 0; i < n && !rc && !fx_stop; i++)
		rc = route_input(&r, inputs[i]);
	if (o->explain)
		explain_write(&r);
	ctx->st.bytes_out = record_writer_bytes_total(&r.out);
	wrc = record_writer_close(&r.out);
	strmap_free(&r.seen);
	table_values_free(&r.tv);
	fx_buf_free(&r.dest);
	fx_buf_free(&r.line);
	fx_buf_free(&r.plain);
	return rc ? rc : wrc;
}

/* ---------------------------------------------------------------------
 * --list
 */

static void list_line(struct record_writer *out, struct fx_buf *b,
                      const char *route, const char *values, const char *key,
                      const char *dest)
{
	fx_buf_reset(b);
	fx_buf_adds(b, "{\"route\":\"");
	fx_buf_adds(b, route);
	fx_buf_addc(b, '"');
	if (values) {
		fx_buf_adds(b, ",\"values\":{");
		fx_buf_adds(b, values);
		fx_buf_addc(b, '}');
	}
	fx_buf_adds(b, ",\"");
	fx_buf_adds(b, key);
	fx_buf_adds(b, "\":");
	fx_buf_add_json_string(b, dest, strlen(dest));
	fx_buf_addc(b, '}');
	record_writer_put(out, b->p, b->len);
}

/* What the definition says: static topics, the default, the template. */
static void list_definition(struct table *t, struct record_writer *out)
{
	struct table_values tv = {0};
	struct fx_buf b = FX_BUF_INIT, v = FX_BUF_INIT;
	const char *topic;
	size_t i;

	for (i = 0; i < table_nstatic(t); i++) {
		topic = table_static(t, i, &tv);
		fx_buf_reset(&v);
		table_values_json(t, &tv, &v);
		fx_buf_addc(&v, 0);
		list_line(out, &b, "static", v.p, "topic", topic);
	}
	if ((topic = table_default_topic(t)))
		list_line(out, &b, "default", NULL, "topic", topic);
	if ((topic = table_topic_template(t)))
		list_line(out, &b, "template", NULL, "topic", topic);
	table_values_free(&tv);
	fx_buf_free(&b);
	fx_buf_free(&v);
}

/* The broker's topics that the template made, in the broker's order. */
static int list_topics(struct fx_ctx *ctx, struct table *t,
                       const struct fx_strlist *topics,
                       struct record_writer *out)
{
	struct table_values tv = {0};
	struct fx_buf b = FX_BUF_INIT, v = FX_BUF_INIT;
	const char *why;
	size_t i;
	int r, rc = 0;

	for (i = 0; i < topics->n; i++) {
		r = table_topic_match(t, topics->v[i], &tv, &why);
		if (r < 0) {
			fx_warn(ctx, "%s: %s", table_file(t), why);
			rc = FX_EXIT_DATA;
		}
		if (r != TABLE_DYNAMIC)
			continue;
		fx_buf_reset(&v);
		table_values_json(t, &tv, &v);
		fx_buf_addc(&v, 0);
		list_line(out, &b, "dynamic", v.p, "topic", topics->v[i]);
	}
	table_values_free(&tv);
	fx_buf_free(&b);
	fx_buf_free(&v);
	return rc;
}

/*
 * A root of the table's directories must be one: a missing root, or a
 * file, is an I/O error (as fx-consume says of its operands), not an
 * empty table. 0, or FX_EXIT_IO after a message.
 */
static int check_root(struct fx_ctx *ctx, const char *root)
{
	struct stat st;

	errno = 0;
	if (stat(root, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	fx_warn(ctx, "%s: %s", root,
	        errno ? strerror(errno) : "not a directory");
	return FX_EXIT_IO;
}

static int list_dirs(struct fx_ctx *ctx, struct table *t, const char *root,
                     struct record_writer *out)
{
	struct table_where w = {0};
	struct fx_strlist dirs = {0}, values = {0};
	struct fx_buf b = FX_BUF_INIT;
	size_t i, skip = strlen(root) + 1;
	int rc = check_root(ctx, root);

	if (!rc)
		rc = table_dirs_for(ctx, t, &w, root, &dirs, &values);
	for (i = 0; !rc && i < dirs.n; i++)
		list_line(out, &b, "dir", values.v[i], "dir", dirs.v[i] + skip);
	fx_strlist_free(&dirs);
	fx_strlist_free(&values);
	fx_buf_free(&b);
	return rc;
}

int partition_list(struct fx_ctx *ctx, const struct partition_opts *o,
                   struct table *t, const struct fx_strlist *topics,
                   const char *root)
{
	struct record_writer out;
	int rc, wrc;

	record_writer_init(&out, ctx, STDOUT_FILENO, "stdout");
	if (o->files) {
		rc = list_dirs(ctx, t, root, &out);
	} else {
		list_definition(t, &out);
		rc = topics ? list_topics(ctx, t, topics, &out) : 0;
	}
	wrc = record_writer_close(&out);
	return rc ? rc : wrc;
}

/* ---------------------------------------------------------------------
 * Partition pruning for fx-consume
 */

static void where_parse(struct fx_ctx *ctx, struct table *t,
                        const struct fx_strlist *specs, struct table_where *w)
{
	const char *why;
	size_t i;

	for (i = 0; i < specs->n; i++)
		if (table_where_add(t, w, specs->v[i], &why))
			fx_usage_error(ctx, "--where: %s", why);
}

int partition_consume_kafka(struct fx_ctx *ctx, struct table *t,
                            const struct fx_strlist *where,
                            struct kafka_source_opts *ko,
                            struct record_writer *out)
{
	struct table_where w = {0};
	struct table_filter f;
	struct fx_strlist names = {0};
	int rc, filter = 0;

	if (!table_has_kafka(t))
		fx_usage_error(ctx, "--table: table '%s' has no \"kafka\"",
		               table_name(t));
	where_parse(ctx, t, where, &w);
	table_filter_init(&f, t, &w);
	rc = kafka_topic_names(ctx, &ko->conf, &names);
	if (!rc && table_topics_for(ctx, t, &w, names.v, names.n, &ko->topics,
	                            &filter))
		rc = FX_EXIT_USAGE;
	if (!rc && !ko->topics.n) {
		fx_warn(ctx,
		        "table '%s': no topic on the broker holds the "
		        "selected partitions: nothing to read",
		        table_name(t));
	} else if (!rc) {
		/* the hook points at f: a copy of the options, gone with f */
		struct kafka_source_opts run = *ko;

		if (filter) {
			run.keep = table_filter_keep;
			run.keep_arg = &f;
		}
		rc = kafka_source_run(ctx, &run, out);
	}
	table_filter_free(&f);
	table_where_free(&w);
	fx_strlist_free(&names);
	return rc;
}

int partition_consume_files(struct fx_ctx *ctx, struct table *t,
                            const struct fx_strlist *where,
                            struct file_source_opts *fo, char **roots, size_t n,
                            struct record_writer *out)
{
	struct table_where w = {0};
	struct fx_buf tdir = FX_BUF_INIT;
	size_t i;
	int rc = 0;

	if (!table_has_files(t))
		fx_usage_error(ctx, "--table: table '%s' has no \"files\"",
		               table_name(t));
	where_parse(ctx, t, where, &w);
	for (i = 0; i < n && !rc && !fx_stop; i++) {
		struct fx_strlist dirs = {0};

		if ((rc = check_root(ctx, roots[i])) != 0)
			break;
		/* the table is the dataset, whichever partitions are read:
		 * its directories, registered after it, count into it */
		table_dir_root(t, roots[i], &tdir);
		lineage_file(ctx, LINEAGE_INPUT, tdir.p);
		rc = table_dirs_for(ctx, t, &w, roots[i], &dirs, NULL);
		fo->root = roots[i];
		if (!rc && dirs.n) /* none: not stdin */
			rc = file_source_run(ctx, fo, dirs.v, dirs.n, out);
		fx_strlist_free(&dirs);
		if (record_writer_failed(out))
			break;
	}
	fo->root = NULL;
	table_where_free(&w);
	fx_buf_free(&tdir);
	return rc;
}
