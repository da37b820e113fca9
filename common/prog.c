/* prog.c - a program's ctx with the hooks of the layers above the core */
#include "prog.h"
#include "lineage_run.h"

static const struct fx_hooks program_hooks = {
    .on_parse = lineage_arm,
    .on_start = lineage_start,
    .on_message = lineage_note_message,
    .on_finish = lineage_finish,
};

void fx_program_init(struct fx_ctx *ctx, const char *prog)
{
	fx_init(ctx, prog);
	ctx->hooks = &program_hooks;
}
