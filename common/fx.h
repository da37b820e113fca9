/*
 * fx.h - what every fx program shares: exit statuses, the version, the stop
 * flag and the context passed everywhere.
 *
 * A struct fx_ctx belongs to main(); every module borrows it. It holds the
 * program name (for messages), the common options (--on-error, --stats,
 * --max-record) and the counters that --stats prints.
 *
 * Errors, one convention. A function given a ctx that can fail prints its
 * own message (fx_warn(), fx_bad_record(): program, where, what) and
 * returns the exit status the failure calls for (0, or an enum fx_exit),
 * or NULL if it returns a pointer; its caller passes that status up,
 * prints nothing more and never looks at the message's text. A function
 * without a ctx (a parser, a byte-level helper) prints nothing and returns
 * -1 (errno set when a system call failed); its caller, which knows where,
 * says what went wrong. Out of memory is not returned: fx_oom() exits.
 */
#ifndef FX_H
#define FX_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FX_VERSION "0.1.0"

/* Exit statuses, documented in every man page's EXIT STATUS. */
enum fx_exit {
	FX_EXIT_OK = 0,    /* success; also a closed stdout (| head) */
	FX_EXIT_DATA = 1,  /* a bad record under --on-error fail */
	FX_EXIT_USAGE = 2, /* usage or configuration error */
	FX_EXIT_IO = 3,    /* I/O or broker error */
	/*
	 * Never an exit status: what a loop stops with when stdout's reader
	 * went away (EPIPE). fx_finish() turns it into FX_EXIT_OK, so that a
	 * program in `| head` ends quietly with 0, while a loop can still stop
	 * with a non-zero status.
	 */
	FX_EXIT_CLOSED = 141,
};

enum fx_on_error {
	FX_ON_ERROR_FAIL = 0,
	FX_ON_ERROR_SKIP,
	FX_ON_ERROR_DLQ,
};

#define FX_DEFAULT_MAX_RECORD ((size_t)16 << 20)

/*
 * The one global: set by SIGINT/SIGTERM. Loops check it between records,
 * flush what is complete and exit.
 */
extern volatile sig_atomic_t fx_stop;

struct fx_stats {
	uint64_t records_in;
	uint64_t records_out;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t bad_records;
	uint64_t late; /* fx-agg: records later than the watermark */
};

/*
 * Checkpoints (share/doc/checkpoints.md), as a stage saw them: filled by
 * the stage (fx-consume --checkpoint, fx-agg --state, fx-sink --state),
 * printed by --stats and --progress, and named by lineage's COMPLETE or
 * FAIL (the fx_checkpoint run facet). All zero, with on 0, when the run
 * takes no part in checkpoints: then nothing is printed.
 */
struct fx_ckpt_stats {
	int on;             /* this run takes part in checkpoints */
	int restored_seen;  /* a restore record was written or read */
	uint64_t restored;  /* its id: the checkpoint the run resumed from */
	uint64_t last;      /* the last barrier written or read (0: none) */
	uint64_t committed; /* the last checkpoint known to be committed:
	                       fx-sink's own commit, else committed.json's
	                       id as last read (fx-consume: at start) */
	/* a stateful stage (fx-agg): its last snapshot */
	uint64_t snapshots;     /* snapshots written by this run */
	uint64_t state_bytes;   /* the last one's state, without its header */
	double snapshot_ms;     /* how long it took: the state, then the file */
	int64_t snapshot_at_ms; /* when it was written: epoch ms, UTC */
	double restore_ms;      /* loading the restored snapshot; 0: none */
};

/* Epoch milliseconds, UTC (CLOCK_REALTIME): for fx_ckpt_stats' times. */
int64_t fx_epoch_ms(void);

struct lineage;
struct fx_ctx;

/*
 * What a layer above the core attaches to a program's run without the core
 * knowing it (lineage's run events today; prog.c wires them). Any member
 * may be NULL; the core calls them at these points and nowhere else:
 *   on_parse    fx_parse_options(), before it parses anything
 *   on_start    fx_parse_options(), once the options are parsed
 *   on_message  fx_vwarn(), after printing "prog: msg" (msg is the text
 *               after "prog: ")
 *   on_finish   fx_finish(), last, with the status it returns
 */
struct fx_hooks {
	void (*on_parse)(struct fx_ctx *ctx, int argc, char **argv);
	void (*on_start)(struct fx_ctx *ctx, int argc, char **argv);
	void (*on_message)(const struct fx_ctx *ctx, const char *msg);
	void (*on_finish)(struct fx_ctx *ctx, int status);
};

struct fx_ctx {
	const char *prog;

	/* common options, set by fx_parse_options() */
	enum fx_on_error on_error;
	const char *dlq_path;
	int stats;
	int progress;
	int count_late; /* --stats reports late records */
	size_t max_record;

	/* the DLQ file, opened on first use */
	FILE *dlq;

	struct fx_stats st;
	struct fx_ckpt_stats ckpt;
	double start_time; /* monotonic seconds at fx_init() */
	double last_progress;
	uint64_t last_progress_records; /* records_in at the last line */

	/*
	 * Progress lines add "lag N" when a source sets this: how many records
	 * it is behind (Kafka: the high watermarks minus the positions, over
	 * its partitions), or -1 when not known. Called from fx_progress(),
	 * so it must be cheap and must not block: cached values, not a broker
	 * request.
	 */
	int64_t (*progress_lag)(void *arg);
	void *progress_lag_arg;

	/* set before fx_parse_options() (prog.h), or NULL: no hooks */
	const struct fx_hooks *hooks;

	/* run events and datasets (lineage.h); NULL when lineage is off */
	struct lineage *lineage;

	/* files held open for the run (input.h: fx_input_pin) */
	struct fx_pin *pins;
	size_t npins, cap_pins;
};

/*
 * Sets up ctx for program prog, with no hooks (prog.h's fx_program_init()
 * adds them): ignores SIGPIPE (a closed stdout shows up as EPIPE from
 * write, which the writer turns into a quiet exit), installs the
 * SIGINT/SIGTERM handler that sets fx_stop.
 */
void fx_init(struct fx_ctx *ctx, const char *prog);

/* The cores this process may run on (sched_getaffinity), at least 1. */
int64_t fx_cores(void);

/*
 * *t for a worker thread of ctx's run (fx-agg -j, fx-join -j): ctx's
 * options with counters of its own, all zero, and nothing that belongs to
 * the run as a whole: no lineage, hooks, --stats or --progress lines,
 * dead-letter file or checkpoints. The run adds the counters of the work
 * it keeps (fx_stats_add()).
 */
void fx_ctx_for_thread(struct fx_ctx *t, const struct fx_ctx *ctx);

/* Adds the counters of s to *to. */
void fx_stats_add(struct fx_stats *to, const struct fx_stats *s);

/* Monotonic clock in seconds. */
double fx_now(void);

/* The same to a few milliseconds, for per-record use: cheaper. */
double fx_now_coarse(void);

/*
 * Prints "--stats" counters to stderr if asked for, closes the DLQ, then
 * calls the on_finish hook (lineage: COMPLETE, or FAIL when the status is
 * not 0). The counters are one line; with checkpoints (ctx->ckpt.on) it
 * goes on with "[, restored K], checkpoint J, committed C[, restore X ms]
 * [, state N bytes, snapshot X ms at ISO-TIME]": the restore record's id,
 * the last barrier's, the last committed one's, and for a stateful stage
 * the load of the restored snapshot and the last snapshot written.
 * Returns status (FX_EXIT_CLOSED becomes FX_EXIT_OK), or FX_EXIT_IO if the
 * DLQ could not be written or stdout, written with stdio, could not be
 * (fx_stdout_flush).
 */
int fx_finish(struct fx_ctx *ctx, int status);

/*
 * For output written to stdout with stdio (printf): flushes it. Returns 0
 * if every byte was written, FX_EXIT_CLOSED if the reader closed the pipe
 * (quietly), or FX_EXIT_IO after "prog: stdout: write error: reason".
 */
int fx_stdout_flush(const struct fx_ctx *ctx);

/* True when stdout is a pipe or socket whose reader has gone away. */
int fx_stdout_closed(void);

/*
 * Writes "line\n" to path whole or not at all: a temporary file beside it,
 * then rename(2), so a reader polling for path never sees it half written.
 * 0, or -1 with errno set (the temporary file is removed).
 */
int fx_write_line_atomic(const char *path, const char *line);

/*
 * Progress: on when --progress is given, or --stats with stderr a terminal.
 * Then at most every FX_PROGRESS_SECONDS, a line to stderr:
 *   fx-agg: progress: 120000 records in, 4 records out, 0 bad, 6.0 s,
 *   40000 records/s[, lag 1200][, checkpoint 7, committed 6]
 * (the rate since the last line; the checkpoints when ctx->ckpt.on). Called for
 * every record by the record loop (record_stream_next); cheap: a test when off,
 * a coarse clock read (no system call) when on.
 */
#define FX_PROGRESS_SECONDS 2.0
void fx_progress(struct fx_ctx *ctx);

#endif
