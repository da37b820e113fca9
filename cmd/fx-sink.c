/* fx-sink - write records to stdout, files, partitioned directories or Kafka */
#include "err.h"
#include "filesink.h"
#include "fx.h"
#include "opt.h"
#include "stream.h"

#include <string.h>

static const struct fx_usage usage = {
	"fx-sink [OPTION]... [FILE]...",
	"Write NDJSON records from stdin (or FILEs) to stdout, to one file, or\n"
	"to Hive-style partitioned directories, atomically: a file appears\n"
	"whole when the input ends, or not at all. Toolkit fields (_fx*) are\n"
	"dropped unless --keep-meta; control records are never written.",
};

struct sink_opts {
	struct file_sink_opts files;
	const char *format;
};

/* Reads every input and hands each valid record to the sink. */
static int sink_inputs(struct fx_ctx *ctx, struct file_sink *fs, char **names,
		       size_t n)
{
	const struct json_paths *paths = file_sink_paths(fs);
	struct json_value vals[JSON_MAX_PATHS];
	char *stdin_only[] = {"-"};
	size_t i;
	int rc = 0;

	if (n == 0) {
		names = stdin_only;
		n = 1;
	}
	for (i = 0; i < n && !rc && !fx_stop; i++) {
		struct record_stream rs;
		struct record rec;
		int r, flags;

		rc = record_stream_open(&rs, ctx, names[i], 0, paths);
		if (rc)
			break;
		while (!fx_stop &&
		       (r = record_stream_next(&rs, &rec, vals, &flags)) > 0) {
			struct fx_where w = record_stream_where(&rs, &rec);

			rc = file_sink_write(fs, &rec, vals, flags, &w);
			if (rc)
				break;
		}
		if (!rc && r < 0)
			rc = -r;
		record_stream_close(&rs);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct sink_opts o = {.files.part_name = "part-00000"};
	const struct fx_option opts[] = {
		FX_OPT_GROUP("Files:"),
		FX_OPT_STRING(0, "file", &o.files.file, "PATH",
			      "write one file, atomically"),
		FX_OPT_STRING(0, "dir", &o.files.dir, "DIR",
			      "write Hive-style partitions under DIR"),
		FX_OPT_LIST(0, "partition", &o.files.partition, "FIELDS",
			    "partition fields for --dir (DIR/f1=v1/f2=v2/)"),
		FX_OPT_STRING(0, "part-name", &o.files.part_name, "NAME",
			      "file name in each partition (default part-00000)"),
		FX_OPT_STRING(0, "format", &o.format, "FMT",
			      "ndjson or csv (default: by --file's extension, else ndjson)"),
		FX_OPT_LIST(0, "columns", &o.files.columns, "FIELDS",
			    "CSV columns (default: the first record's keys)"),
		FX_OPT_FLAG(0, "keep-meta", &o.files.keep_meta,
			    "keep _fx* fields"),
		FX_OPT_END(),
	};
	struct file_sink *fs;
	struct fx_ctx ctx;
	int first, gz, rc, crc;

	fx_init(&ctx, "fx-sink");
	first = fx_parse_options(&ctx, argc, argv, opts, &usage);
	if (o.format && (file_format_parse(o.format, &o.files.format, &gz) ||
			 gz))
		fx_usage_error(&ctx, "--format: expected ndjson or csv, got '%s'",
			       o.format);
	if (strchr(o.files.part_name, '/'))
		fx_usage_error(&ctx, "--part-name: must not contain '/'");

	fs = file_sink_open(&ctx, &o.files);
	rc = sink_inputs(&ctx, fs, argv + first, (size_t)(argc - first));
	crc = file_sink_close(fs, rc == 0);
	fx_strlist_free(&o.files.partition);
	fx_strlist_free(&o.files.columns);
	return fx_finish(&ctx, rc ? rc : crc);
}
