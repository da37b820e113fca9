/*
 * pipetest.h - `fx-run PIPELINE --test DIR`: a pipeline's golden cases,
 * run once as a batch over files and once as a stream through a throwaway
 * Kafka cluster, and compared with the expectation and with each other
 * (fx-pipeline(5), TESTS).
 *
 * DIR holds one directory per case (run in byte order of names):
 *
 *   DIR/CASE/input/TABLE.ndjson     records of a table no job writes
 *   DIR/CASE/expected/TABLE.ndjson  records of a table a job writes
 *
 * For each case, in a scratch directory (removed at the end):
 *   batch   every input loaded with `fx-sink --dir W --table T`, then every
 *           job in dependency order as `SELF PIPELINE JOB [-p NAME=V]...
 *           --batch all --warehouse W`;
 *   stream  a fresh fx-devbroker on loopback (its static and default
 *           topics created with their partitions), every input loaded with
 *           `fx-partition --table T | fx-sink --table T -b B`, every job as
 *           `SELF PIPELINE JOB [-p NAME=V]... --stream -e -b B
 *           --warehouse W2`, then each
 *           sink table read back to its end (`fx-consume --table T -e`)
 *           into `fx-sink --dir W2 --table T`, so that both runs have the
 *           same layout of files.
 * Running fx-run itself (self_exe) for each job keeps one planner; the
 * programs come from self_exe's directory first (PATH), with lineage off
 * (FX_LINEAGE=off: scratch runs are not the user's history). Jobs that
 * do not read one another's tables run side by side (a stream job spends
 * seconds joining its consumer group).
 *
 * Then, per sink table and partition (the table's directory of the
 * partition, as fx-sink --table writes it):
 *   batch against expected: row for row, in order (a batch is
 *     deterministic); an expected row is compared without the JSON
 *     whitespace outside its strings, and an expected file's rows go to
 *     their partitions by the table's definition, keeping their order;
 *   stream against batch: the rows of each partition sorted by their
 *     bytes, then row for row (Kafka keeps the order of a partition only,
 *     and the sink topic's partitions are read back interleaved).
 * A table without an expected file is compared stream against batch only.
 *
 * Output: one line per case and mode on stdout, "ok CASE batch: ..." or
 * "FAIL CASE stream: ..."; each difference (the first of each table) on
 * stderr, naming the case, the mode, the job, the table's partition and
 * the row (with the line of the expected file, or of the batch's file),
 * then the two rows. A stage's messages come prefixed with "CASE: MODE:
 * JOB: ".
 *
 * Returns the exit status: 0 when every case is equal in both modes, 1
 * when some row differs, 2 for a DIR that is not a set of cases (a file of
 * a table the pipeline does not have, an input for a table a job writes,
 * no case), or the status of the first job or load that failed (a case
 * that cannot run is not a difference), 3 for I/O (the scratch directory,
 * the broker), 130 when a SIGINT or SIGTERM stopped it (passed on to the
 * running stages; nothing more runs). The broker of each case is stopped
 * by its PID whatever happens, and dies with us if we are killed
 * (PR_SET_PDEATHSIG). Each chain runs in a child process of ours, so that
 * a signal is seen here even though proc_chain_run() keeps it.
 *
 * The jobs run with the file's "params" and, over them, params (fx-run's
 * -p NAME=V, in order; NULL: none), passed on to every job of every case
 * in both modes. The warehouses and the broker are the case's own:
 * fx-run refuses --warehouse, -b and -e with --test (usage errors).
 */
#ifndef FX_PIPETEST_H
#define FX_PIPETEST_H

#include "fx.h"
#include "pipeline.h"

int pipetest_run(const struct fx_ctx *ctx, const struct pipeline *p,
                 const char *dir, const char *self_exe,
                 const struct fx_strlist *params);

#endif
