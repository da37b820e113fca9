/*
 * procchain.h - a chain of processes joined by pipes, started the way a
 * shell starts `a | b | c`: fork and exec each stage, stdout of one into
 * stdin of the next, then wait for all of them. fx-run runs a pipeline's
 * job with it.
 *
 * What it adds to a shell pipeline:
 *   - each stage's stderr goes through a pipe and comes out on err_fd one
 *     whole line at a time, prefixed with the stage's name ("ads: fx-agg:
 *     ..."), so that the messages of a chain say which step spoke;
 *   - SIGINT, SIGTERM and SIGHUP received while the chain runs are passed
 *     on to every stage that is still running (a stage exits as if it had
 *     been signalled by the terminal), and each stage is killed with
 *     SIGTERM if the runner itself dies (PR_SET_PDEATHSIG), so that no
 *     stage outlives a kill -9 of its runner;
 *   - the chain's status is the status of the stage that failed FIRST IN
 *     TIME, not the last stage's: when fx-agg stops on a bad record, the
 *     fx-consume before it fails afterwards on the closed pipe, and the
 *     cause is fx-agg's exit 1. A stage killed by signal S counts as
 *     128 + S, the shell's convention. A death by SIGPIPE counts only
 *     when no other stage failed: it is the consequence of a reader that
 *     went away, and the kernel may report it before the reader's end.
 *
 * A stage is either argv (argv[0] looked up in PATH, as execvp does) or a
 * shell command run by /bin/sh -c. Stages inherit the environment of the
 * caller (set FX_JOB and friends with setenv() before the call).
 */
#ifndef FX_PROCCHAIN_H
#define FX_PROCCHAIN_H

#include <stddef.h>

struct proc_stage {
	const char *name;  /* the step's name: the prefix of its stderr lines */
	char *const *argv; /* NULL-terminated; NULL when shell is set */
	const char *shell; /* a command for /bin/sh -c; NULL when argv is set */
};

struct proc_chain_opts {
	int in_fd;         /* the first stage's stdin; -1: the caller's 0 */
	int out_fd;        /* the last stage's stdout; -1: the caller's 1 */
	int err_fd;        /* where the prefixed lines go; -1: the caller's 2 */
	int prefix_stderr; /* 0: stages write to err_fd directly, unprefixed */
	const char *dir;   /* working directory of the stages; NULL: the caller's */
};

/* One stage's end, for a caller that wants to say more than the status. */
struct proc_stage_result {
	int status;      /* exit status, or 128 + signal */
	int signal;      /* the signal that killed it, 0 if it exited */
	int order;       /* 0 for the first stage to end, 1 for the next... */
	int failed_first; /* 1 for the stage whose status the chain returns */
};

/*
 * Runs the n stages to the end. Returns the chain's status (0 when every
 * stage exited 0), or -1 when the chain could not be started (pipe or
 * fork failed: the message is on err_fd and the stages already started
 * are stopped and waited for). A program that cannot be executed is the
 * shell's case: its stage says why ("fx-agx: not found") and exits 127
 * (126: found but not executable). results, when not NULL, has room for n
 * entries.
 */
int proc_chain_run(const struct proc_stage *stages, size_t n,
                   const struct proc_chain_opts *opts,
                   struct proc_stage_result *results);

#endif
