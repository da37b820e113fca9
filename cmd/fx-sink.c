/* fx-sink - write records to stdout, files, partitioned directories or Kafka */
#include "err.h"
#include "filesink.h"
#include "fx.h"
#include "kafka.h"
#include "opt.h"
#include "prog.h"
#include "stream.h"
#include "table.h"
#include "upsert.h"

#include <stdlib.h>
#include <string.h>

static const struct fx_usage usage = {
    "fx-sink [OPTION]... [FILE]...",
    "Write NDJSON records from stdin (or FILEs) to stdout, to one file, to\n"
    "Hive-style partitioned directories, or (with -t, -b, -X, -F, --key,\n"
    "--keep-partition or --create-topics) to Kafka: to -t TOPIC or each\n"
    "record's _fx_dest. --dir without --partition routes each record to\n"
    "DIR/_fx_dest/ (fx-partition --files), or with --table to the table's\n"
    "directory. Files are written atomically: a file appears whole\n"
    "when the input ends, or not at all. Toolkit fields (_fx*) are dropped\n"
    "unless --keep-meta; control records are never written. With --state,\n"
    "--dir output, or Kafka output (one transaction per checkpoint), is\n"
    "committed on the stream's checkpoint records instead (fx-sink(1),\n"
    "CHECKPOINTS).",
};

struct sink_opts {
	struct file_sink_opts files;
	struct kafka_sink_opts kafka;
	const char *format;
	const char *table;          /* --table T.json */
	struct fx_strlist upsert;   /* --upsert KEYS */
	int prepare, commit, abort; /* --overwrite in two phases */
};

struct sink;
static int upsert_fold(struct sink *s, const struct record *rec,
                       const struct json_value *vals, int flags,
                       const struct fx_where *w);

/*
 * Where records go: the file sink or the Kafka sink, behind one call
 * (with --upsert to files, the fold first).
 */
struct sink {
	struct file_sink *fs;
	struct kafka_sink *ks;
	struct upsert *up; /* --upsert to files: the fold, written at the end */
	struct json_paths up_paths;
	struct fx_ctx *ctx;
};

static int sink_write(struct sink *s, const struct record *rec,
                      const struct json_value *vals, int flags,
                      const struct fx_where *w)
{
	if (s->ks)
		return kafka_sink_write(s->ks, rec, vals, flags, w);
	if (s->up)
		return upsert_fold(s, rec, vals, flags, w);
	return file_sink_write(s->fs, rec, vals, flags, w);
}

/* Reads every input and hands each valid record to the sink. */
static int sink_inputs(struct fx_ctx *ctx, struct sink *s, char **names,
                       size_t n)
{
	const struct json_paths *paths = s->ks   ? kafka_sink_paths(s->ks)
	                                 : s->up ? &s->up_paths
	                                         : file_sink_paths(s->fs);
	struct json_value vals[JSON_MAX_PATHS];
	char *stdin_only[] = {"-"};
	size_t i;
	int rc = 0;
	/* records that go out as they come: many at a time */
	int runs = s->ks ? kafka_sink_takes_runs(s->ks)
	                 : !s->up && !paths && file_sink_takes_runs(s->fs);

	if (n == 0) {
		names = stdin_only;
		n = 1;
	}
	for (i = 0; i < n && !rc && !fx_stop; i++) {
		struct record_stream rs;
		struct record rec;
		struct record_run run = {0};
		int r = 0, flags;

		rc = record_stream_open(&rs, ctx, names[i], 0, paths);
		if (rc)
			break;
		while (!fx_stop &&
		       (r = runs ? record_stream_next_run(&rs, &run, &rec, vals,
		                                          &flags)
		                 : record_stream_next(&rs, &rec, vals,
		                                      &flags)) > 0) {
			struct fx_where w;

			if (run.n) {
				rc = s->ks ? kafka_sink_write_run(s->ks, run.p,
				                                  run.len)
				           : file_sink_write_run(
				                 s->fs, run.p, run.len, run.n);
				if (rc)
					break;
				continue;
			}
			w = record_stream_where(&rs, &rec);
			rc = sink_write(s, &rec, vals, flags, &w);
			if (rc)
				break;
		}
		if (!rc && r < 0)
			rc = -r;
		record_stream_close(&rs);
	}
	return rc;
}

/* Kafka when any Kafka-only option says so; files options then clash. */
static int kafka_mode(struct fx_ctx *ctx, const struct sink_opts *o)
{
	const struct kafka_sink_opts *k = &o->kafka;

	if (!k->topic && !k->conf.brokers && !k->conf.nprops &&
	    !k->conf.files && !k->key && !k->keep_partition &&
	    !k->create_topics && !k->commit_topic &&
	    !(o->table && !o->files.dir && !o->files.file))
		return 0;
	if (o->files.file || o->files.dir || o->files.partition.n ||
	    o->files.columns.n || o->format)
		fx_usage_error(ctx, "Kafka options (-t -b -X -F --key "
		                    "--keep-partition --create-topics) do not "
		                    "mix with --file --dir --partition "
		                    "--columns --format");
	return 1;
}

/* --table: kafka_sink_opts' create hook */
static int table_create(void *t, const char *topic, int *partitions,
                        int *replication)
{
	return table_topic_create(t, topic, partitions, replication);
}

static int run_kafka(struct fx_ctx *ctx, struct sink_opts *o, char **names,
                     size_t n)
{
	struct sink s = {0};
	int rc;

	if (o->files.state && !*o->files.state)
		fx_usage_error(ctx, "--state: an empty directory name");
	if (o->files.overwrite)
		fx_usage_error(ctx, "--overwrite: only with --dir");
	if (o->kafka.commit_topic && !o->files.state)
		fx_usage_error(ctx, "--commit-topic: only with --state");
	o->kafka.state = o->files.state;
	if (o->files.table && o->kafka.topic)
		fx_usage_error(ctx, "--table routes by _fx_dest: not with -t");
	if (o->files.table) {
		o->kafka.create = table_create;
		o->kafka.create_arg = o->files.table;
	}
	o->kafka.keep_meta = o->files.keep_meta;
	if (o->upsert.n)
		o->kafka.upsert = &o->upsert;
	rc = kafka_sink_open(ctx, &o->kafka, &s.ks);
	if (rc)
		return rc;
	rc = sink_inputs(ctx, &s, names, n);
	return kafka_sink_close(s.ks, rc);
}

/* --upsert to files: a changelog row into the fold (control records go). */
static int upsert_fold(struct sink *s, const struct record *rec,
                       const struct json_value *vals, int flags,
                       const struct fx_where *w)
{
	const char *field, *why;
	enum upsert_op op;

	if (flags & JSON_SCAN_CONTROL)
		return 0;
	if (upsert_read(s->up, vals, &op, &field, &why))
		return fx_bad_record(s->ctx, w, field, rec->p, rec->len, "%s",
		                     why);
	upsert_apply(s->up, op, rec->p, rec->len);
	return 0;
}

/* --upsert to files: the fold's rows, in order, to the file sink. */
static int upsert_write(struct fx_ctx *ctx, struct sink *s)
{
	const struct json_paths *paths = file_sink_paths(s->fs);
	struct json_value vals[JSON_MAX_PATHS];
	struct json_scanner sc = {0};
	struct json_error jerr;
	struct record rec = {0};
	size_t i = 0;
	int rc = 0, flags;

	while (!rc && upsert_next(s->up, &i, &rec.p, &rec.len)) {
		struct fx_where w = FX_WHERE_LINE("--upsert", i);

		flags = json_scan(&sc, paths, rec.p, rec.len, vals, &jerr, 0);
		if (flags < 0) /* it was read valid */
			fx_die(ctx, FX_EXIT_DATA, "--upsert: %s", jerr.reason);
		rec.line = i;
		rc = file_sink_write(s->fs, &rec, vals, flags, &w);
	}
	json_scanner_free(&sc);
	return rc;
}

static int run_files(struct fx_ctx *ctx, struct sink_opts *o, char **names,
                     size_t n)
{
	struct sink s = {0};
	struct upsert up;
	char err[512];
	int gz, rc, crc;

	if (o->format &&
	    (file_format_parse(o->format, &o->files.format, &gz) || gz))
		fx_usage_error(ctx,
		               "--format: expected ndjson or csv, got '%s'",
		               o->format);
	if (strchr(o->files.part_name, '/'))
		fx_usage_error(ctx, "--part-name: must not contain '/'");
	if (o->upsert.n && o->files.state)
		fx_usage_error(ctx, "--upsert writes files at the end of the "
		                    "input only: not with --state");
	if (o->files.ow_phase == OW_COMMIT || o->files.ow_phase == OW_ABORT) {
		int commit = o->files.ow_phase == OW_COMMIT;

		if (n)
			fx_usage_error(ctx, "--%s reads no input: no FILE",
			               commit ? "commit" : "abort");
		s.fs = file_sink_open(ctx, &o->files);
		rc = commit ? file_sink_commit(s.fs) : file_sink_abort(s.fs);
		crc = file_sink_close(s.fs, 0);
		return rc ? rc : crc;
	}
	if (o->upsert.n &&
	    upsert_init(&up, &o->upsert, &s.up_paths, err, sizeof(err)))
		fx_usage_error(ctx, "--upsert: %s", err);
	s.fs = file_sink_open(ctx, &o->files);
	if (o->upsert.n)
		s.up = &up;
	s.ctx = ctx;
	rc = sink_inputs(ctx, &s, names, n);
	if (!rc && s.up)
		rc = upsert_write(ctx, &s);
	if (s.up) {
		upsert_free(s.up);
		json_paths_free(&s.up_paths);
	}
	crc = file_sink_close(s.fs, rc == 0);
	return rc ? rc : crc;
}

/* 1 if "--commit" is among the arguments before "--" */
static int commit_arg(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--commit"))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct sink_opts o = {.files.part_name = "part-00000",
	                      .kafka = KAFKA_SINK_OPTS_INIT};
	const struct fx_option opts[] = {
	    FX_OPT_GROUP("Files:"),
	    FX_OPT_STRING(0, "file", &o.files.file, "PATH",
	                  "write one file, atomically"),
	    FX_OPT_STRING(0, "dir", &o.files.dir, "DIR",
	                  "write Hive-style partitions under DIR"),
	    FX_OPT_LIST(0, "partition", &o.files.partition, "FIELDS",
	                "partition fields for --dir (DIR/f1=v1/f2=v2/)"),
	    FX_OPT_STRING(0, "part-name", &o.files.part_name, "NAME",
	                  "file name in each partition (default part-00000; "
	                  ".ndjson or .csv added unless it has it)"),
	    FX_OPT_STRING(
	        0, "format", &o.format, "FMT",
	        "ndjson or csv (default: by --file's extension, else ndjson)"),
	    FX_OPT_LIST(0, "columns", &o.files.columns, "FIELDS",
	                "CSV columns (default: the first record's keys)"),
	    FX_OPT_FLAG(0, "keep-meta", &o.files.keep_meta, "keep _fx* fields"),
	    FX_OPT_STRING(0, "state", &o.files.state, "DIR",
	                  "commit --dir or Kafka output on checkpoint "
	                  "records; DIR holds committed.json"),
	    FX_OPT_STRING(0, "table", &o.table, "T.json",
	                  "partition flow table: its directories under --dir, "
	                  "or its dynamic topics created on first use"),
	    FX_OPT_STRING(0, "overwrite", &o.files.overwrite, "NAME=V,...",
	                  "with --dir: replace these partitions (or all) "
	                  "whole, atomically, at the end of the input"),
	    FX_OPT_FLAG(0, "prepare", &o.prepare,
	                "with --overwrite: leave the new tree prepared "
	                "beside DIR instead of replacing"),
	    FX_OPT_FLAG(0, "commit", &o.commit,
	                "with --overwrite: replace the partitions with the "
	                "tree --prepare left (reads no input)"),
	    FX_OPT_FLAG(0, "abort", &o.abort,
	                "with --overwrite: remove the tree --prepare left, "
	                "if any (reads no input)"),
	    FX_OPT_GROUP("Changelog:"),
	    FX_OPT_LIST(0, "upsert", &o.upsert, "KEYS",
	                "a changelog (_fx_op) as the latest row per key: "
	                "message key and tombstones, or whole files"),
	    FX_OPT_GROUP("Kafka:"),
	    FX_OPT_KAFKA_SINK(&o.kafka),
	    FX_OPT_END(),
	};
	struct fx_ctx ctx;
	int first, rc;
	size_t n;

	/* --commit moves a tree that its --prepare run recorded: no run
	 * events of its own (the lineage hooks must know before parsing).
	 * --abort records its run, a FAIL when it drops a prepared tree: the
	 * job's output did not land (file_sink_abort()). */
	if (commit_arg(argc, argv))
		fx_init(&ctx, "fx-sink");
	else
		fx_program_init(&ctx, "fx-sink");
	first = fx_parse_options(&ctx, argc, argv, opts, &usage);
	n = (size_t)(argc - first);
	if (o.prepare + o.commit + o.abort > 1)
		fx_usage_error(&ctx,
		               "--prepare, --commit and --abort go separately");
	o.files.ow_phase = o.prepare  ? OW_PREPARE
	                   : o.commit ? OW_COMMIT
	                   : o.abort  ? OW_ABORT
	                              : OW_BOTH;
	if (o.files.ow_phase != OW_BOTH && !o.files.overwrite)
		fx_usage_error(
		    &ctx, "--prepare, --commit and --abort need --overwrite");
	if (o.table && !(o.files.table = table_load(&ctx, o.table)))
		return fx_finish(&ctx, FX_EXIT_USAGE);
	if (kafka_mode(&ctx, &o)) {
		rc = run_kafka(&ctx, &o, argv + first, n);
	} else {
		rc = run_files(&ctx, &o, argv + first, n);
	}
	fx_strlist_free(&o.files.partition);
	fx_strlist_free(&o.files.columns);
	fx_strlist_free(&o.upsert);
	kafka_conf_free(&o.kafka.conf);
	if (o.files.table)
		table_free(o.files.table);
	return fx_finish(&ctx, rc);
}
