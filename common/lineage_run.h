/*
 * lineage_run.h - a run's events: START, then COMPLETE or FAIL, appended
 * to the lineage store (lineage.h says what they hold).
 *
 * These four are the core's hooks (struct fx_hooks in fx.h): prog.c's
 * fx_program_init() attaches them to a program's ctx, and the core calls
 * them; nothing else does. Programs that are not part of a data flow
 * (fx-lineage, fx-devbroker) record nothing even with the hooks attached,
 * nor does fx-run: the stages it starts record the job's run.
 */
#ifndef FX_LINEAGE_RUN_H
#define FX_LINEAGE_RUN_H

#include "fx.h"

/*
 * on_parse: called before the options are parsed, so that a usage error
 * found while parsing is recorded as a run (START, then FAIL with the
 * message), since a pipeline with a broken stage must not look complete.
 * --help and --version (exit 0) record nothing.
 */
void lineage_arm(struct fx_ctx *ctx, int argc, char **argv);

/*
 * on_start: once the options are known, reads FX_LINEAGE, FX_RUN_ID,
 * FX_JOB and FX_PIPELINE (fx-run's pipeline file: the job names become
 * PIPELINE.JOB.PROG and PIPELINE.JOB), works out the pipeline run and
 * appends START. Sets ctx->lineage
 * (unless lineage is off).
 */
void lineage_start(struct fx_ctx *ctx, int argc, char **argv);

/*
 * on_message: remembers msg (without the program name) for FAIL. While the
 * options are parsed (no ctx->lineage yet), the message is kept for a
 * usage error's FAIL.
 */
void lineage_note_message(const struct fx_ctx *ctx, const char *msg);

/*
 * on_finish: appends COMPLETE (status 0) or FAIL (with the last message
 * the program printed) and frees ctx->lineage. A program that exits
 * without fx_finish() (fx_die(), fx_usage_error(), any exit()) gets the
 * same from an on_exit() handler, with the exit status.
 */
void lineage_finish(struct fx_ctx *ctx, int status);

#endif
