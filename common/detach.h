/*
 * detach.h - the rest of a program as a background server, started in a
 * way a shell script can wait for (fx-devbroker --detach):
 *
 *     export FX_BROKERS=$(fx-devbroker --detach --pid-file broker.pid)
 *
 * fx_detach() forks. The child becomes a session leader (a Ctrl-C in the
 * terminal does not reach it), reads stdin from /dev/null, writes its
 * stdout into a pipe to the parent and its stderr into an unlinked
 * temporary file, and returns to run the server. Its first line of stdout
 * is its "ready" line (fx-devbroker: the bootstrap address).
 *
 * The parent does not return. It waits for the ready line; writes the
 * child's PID to pid_file (temporary file and rename, so the file is whole
 * whenever it exists); waits until wait_file exists, if one is given (a
 * file the child writes after its ready line); copies what the child wrote
 * to stderr so far (warnings) to its own stderr; prints the ready line to
 * stdout; and exits 0. Command substitution then returns at once: nothing
 * the child holds open is the parent's stdout or stderr. If the child ends
 * before its ready line, or is not ready within timeout seconds (then it is
 * killed), the parent copies the child's stderr and exits with the child's
 * status (3 if it had none). Later messages of the child are discarded.
 */
#ifndef FX_DETACH_H
#define FX_DETACH_H

#include "fx.h"

void fx_detach(const struct fx_ctx *ctx, const char *pid_file,
               const char *wait_file, double timeout);

#endif
