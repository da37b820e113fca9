/*
 * prog.h - how a program's main() starts: fx_init() with the hooks of the
 * layers above the core attached (struct fx_hooks in fx.h).
 *
 * The core (fx.c, err.c, opt.c) calls the hooks without knowing what they
 * are; this is the one place that knows: today lineage's run events
 * (lineage_run.h). A program that should run without them (a unit test, a
 * fuzzer) calls fx_init() instead.
 */
#ifndef FX_PROG_H
#define FX_PROG_H

#include "fx.h"

/* fx_init(ctx, prog), then ctx->hooks: lineage's run events. */
void fx_program_init(struct fx_ctx *ctx, const char *prog);

#endif
