/*
 * filesink.h - records to stdout, to one file, or to Hive-style partitioned
 * directories: fx-sink's file destinations.
 *
 * Files are written atomically: each goes to a hidden temporary file in its
 * final directory (".NAME.tmp-PID"), and only file_sink_close(fs, 1)
 * flushes and fsyncs them all, then renames them into place (then fsyncs
 * the directories). Until then, and after any error, a crash or SIGKILL,
 * the old files are untouched: a reader sees the old file or the new one,
 * never half of one. The run's files are replaced together or not at all:
 * before the renames each old file gets a second name (".NAME.old-PID", a
 * hard link), and if a rename fails the files renamed before it are put
 * back. A run that is not committed also removes the directories it made.
 * A replaced file keeps its mode (and owner and group, where allowed); a
 * path that is a symbolic link is followed, and the file at its end is
 * replaced in its own directory. Before creating a temporary file, the
 * temporary files and second names of the same file left by processes that
 * no longer run (a SIGKILL) are removed.
 * (fx-sink(1), ATOMIC REPLACEMENT, says what each failure leaves.)
 *
 * Records: control records ({"_fx":…}) are not written; top-level "_fx*"
 * members are dropped unless keep_meta. NDJSON keeps each record's bytes.
 * CSV writes a header row, then per record the values of the columns
 * (--columns, or the first record's keys): strings unescaped, numbers and
 * booleans as written, null as an empty field, objects and arrays as JSON
 * text. A record with a key that is not a column is a bad record when the
 * columns came from the first record (nothing is dropped silently); with
 * --columns the other keys are left out by request.
 *
 * Partitioned output: DIR/f1=v1/f2=v2/PART.ndjson, the values from the
 * record's fields (strings unescaped, numbers and booleans as written,
 * null as __HIVE_DEFAULT_PARTITION__, %XX-escaped, see hive.h). A
 * missing partition field or an object or array value is a bad record, as
 * is a directory name longer than NAME_MAX or a path longer than PATH_MAX
 * (under --on-error skip the run goes on without the record).
 * The records keep their partition fields.
 *
 * Routed output (--dir without --partition): DIR/DEST/PART.ndjson, DEST
 * being the record's "_fx_dest" (fx-partition --files), a relative path:
 * an absolute one, a "." or ".." component, an empty one (a trailing '/'
 * too: one name per directory) or a NUL byte is a bad record. With a table
 * (fx-sink --table T.json --dir DIR), DEST is the table's directory for the
 * record's partition values instead, and a record without them is a bad record.
 *
 * A bad record, here or in the reader, is dropped whole under --on-error
 * skip or dlq: it creates no directory and no file, and the records after
 * it go where they would have gone without it.
 *
 * PART is --part-name (default part-00000), with the format's extension
 * added unless it has one (.ndjson .jsonl .json; .csv): a rerun replaces
 * the partition's file, as INSERT OVERWRITE does; give each concurrent
 * writer its own part name. file_sink_open() refuses (a usage error) a
 * part name fx-consume would pass over: empty, or starting with '.' or '_'.
 *
 * Checkpoint mode (state, with dir only; share/doc/checkpoints.md): the
 * output goes to the same files, but is made durable per checkpoint
 * instead of at close. file_sink_open() recovers first (reads
 * STATE/committed.json, applies a committed checkpoint's pending data
 * again, removes what never committed, truncates output files to their
 * committed sizes; exit 3 when that fails or committed.json is corrupt).
 * Records then go to STATE/fx-sink/pending-K/; a "checkpoint" record given
 * to file_sink_write() commits them (committed.json, then the appends to
 * the output files), a "restore" record is checked against the committed
 * id, and a record or checkpoint before the restore record is exit 3.
 * file_sink_close() drops what no checkpoint committed.
 *
 * INSERT OVERWRITE (overwrite, with dir and table or partition; not with
 * state): the tree of the named partitions, DIR/PREFIX (PREFIX: the
 * directory template, the table's or f1={f1}/f2={f2}..., cut after the
 * named partitions, which must be the leading ones; "all": the template's
 * leading literal names, or DIR itself), is replaced whole by what the run
 * wrote. Every file goes to a staging tree inside DIR (hidden:
 * ".fx-overwrite-PID"; beside DIR, ".BASE.fx-overwrite-PID", when DIR
 * itself is replaced), and file_sink_close(fs, 1) exchanges it with the
 * old tree (renameat2 RENAME_EXCHANGE, or rename() when there is none),
 * syncs the directories and removes the old tree. No record: the prefix
 * becomes an empty directory. A record outside PREFIX is a bad record.
 * Until the exchange, the old tree is untouched: after an error, a stop
 * by signal (not committed: FX_EXIT_IO) or a SIGKILL, whose staging tree
 * the next run removes.
 *
 * Two phases (ow_phase), for a sink that cannot tell the end of its
 * input from a failure upstream: OW_PREPARE stages as above, but its
 * close leaves the staged tree, fsynced, under a name derived from
 * DIR/PREFIX, the PREPARED tree ("DIR/.fx-overwrite-prepared.ESC", ESC
 * being PREFIX with '%' and '/' %XX-escaped; for the whole of DIR,
 * ".BASE.fx-overwrite-prepared" beside it), and beside it its ID file
 * (".fx-overwrite-id.ESC": the device and inode of the prepared tree's
 * top directory). Opening removes the prepared tree of an earlier run
 * first, so that a prepare that fails leaves none. OW_COMMIT reads no
 * records: file_sink_commit() exchanges the prepared tree with
 * DIR/PREFIX as above, then removes the old tree and the ID file. The ID
 * file makes a commit safe to repeat: when DIR/PREFIX already is the
 * tree the ID names (a commit that stopped after its exchange), the
 * commit only removes what is left; with no ID file (nothing prepared,
 * aborted, or committed already) it is FX_EXIT_IO and nothing changes.
 * OW_ABORT reads no records either: file_sink_abort() removes the ID
 * file, then the prepared tree, then the staging trees beside them of
 * runs that no longer run; nothing prepared is not an error. The old
 * tree is never touched. A commit that stopped after its exchange is
 * finished by an abort too (what it removes is then the old tree).
 *
 * The sink cannot tell a clean end of its input from a stage before it
 * that failed: the caller commits only when every stage of the chain
 * exited 0, and aborts otherwise (fx-run does, fx-sink(1) says why).
 */
#ifndef FX_FILESINK_H
#define FX_FILESINK_H

#include "filesrc.h"
#include "json.h"
#include "opt.h"
#include "reader.h"
#include "table.h"

struct file_sink_opts {
	const char *file;            /* --file */
	const char *dir;             /* --dir */
	struct fx_strlist partition; /* --partition */
	struct fx_strlist columns;   /* --columns */
	enum file_format format;     /* FORMAT_AUTO: by --file's extension */
	int keep_meta;
	const char *part_name;
	struct table *table;   /* --table: directories from its template */
	const char *state;     /* --state: checkpoint mode, or NULL */
	const char *overwrite; /* --overwrite NAME=V[,NAME=V]... or "all" */
	enum { OW_BOTH = 0, OW_PREPARE, OW_COMMIT, OW_ABORT } ow_phase;
};

struct file_sink;

/* Checks the options (usage errors exit 2) and opens the destination. */
struct file_sink *file_sink_open(struct fx_ctx *ctx,
                                 const struct file_sink_opts *o);

/* The fields file_sink_write() needs in vals (may be NULL). */
const struct json_paths *file_sink_paths(const struct file_sink *fs);

/*
 * Writes one valid record; vals and flags as json_scan() gave them for
 * file_sink_paths(). A control record is not written; in checkpoint mode a
 * checkpoint commits and a restore is checked. Returns 0, or an exit
 * status (reported).
 */
int file_sink_write(struct file_sink *fs, const struct record *rec,
                    const struct json_value *vals, int flags,
                    const struct fx_where *where);

/*
 * 1 if the sink writes records as they are read (NDJSON to stdout or
 * --file, no --dir, no --state): it then takes runs of them.
 */
int file_sink_takes_runs(const struct file_sink *fs);

/*
 * Writes n records at once: the bytes p, len are their lines with their
 * '\n's (record_stream_next_run(): valid, no "_fx" key). Only if
 * file_sink_takes_runs(). Returns 0, or an exit status (reported).
 */
int file_sink_write_run(struct file_sink *fs, const char *p, size_t len,
                        uint64_t n);

/*
 * commit: flush and publish every file; otherwise remove the temporary
 * files. In checkpoint mode, what no checkpoint committed is dropped either
 * way. Frees fs. Returns 0 or FX_EXIT_IO (reported).
 */
int file_sink_close(struct file_sink *fs, int commit);

/*
 * OW_COMMIT: swaps the prepared tree in (see "Two phases" above).
 * Returns 0 or FX_EXIT_IO (reported). Then file_sink_close(fs, 0).
 */
int file_sink_commit(struct file_sink *fs);

/*
 * OW_ABORT: removes the prepared tree, if any (see "Two phases" above).
 * Returns 0 (also when nothing was prepared) or FX_EXIT_IO (reported).
 * Then file_sink_close(fs, 0).
 */
int file_sink_abort(struct file_sink *fs);

#endif
