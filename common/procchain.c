/*
 * procchain.c - a chain of processes joined by pipes (procchain.h).
 *
 * How it waits: SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked while the
 * chain runs and read from a signalfd, polled together with the stages'
 * stderr pipes. A stop signal is passed on to the stages not yet reaped
 * (a pid that is not reaped cannot be reused, so kill() never hits a
 * stranger); a SIGCHLD reaps the stages that ended. The signalfd's
 * SIGCHLD carries the pid of the first child to end since the last read
 * (a standard signal does not queue twice), which orders the stages that
 * ended between two reads; the rest of such a tie is ordered by cause: a
 * failure before a death by SIGPIPE (the consequence of a reader that
 * went away), then upstream first.
 *
 * Nothing here is global: no handler is installed, the caller's handlers
 * stay as they are and see no signal the chain consumed. What is changed
 * for the run and put back after: the signal mask, SIGPIPE (ignored: a
 * closed err_fd is an EPIPE, not the runner's death) and SIGCHLD (default:
 * an ignored SIGCHLD would reap the stages before we could).
 *
 * Between fork and exec a child calls only async-signal-safe functions.
 */
#include "procchain.h"
#include "buf.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* The signals passed on to the stages. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define N_STOP_SIGNALS (sizeof(stop_signals) / sizeof(stop_signals[0]))

struct stage_run {
	pid_t pid;          /* 0: not started or reaped */
	int err_rd;         /* read end of its stderr pipe, or -1 */
	struct fx_buf line; /* a stderr line not yet ended */
	int ended;
	int status;
	int signal;
	int order;
};

struct chain {
	const struct proc_stage *stages;
	size_t n;
	struct stage_run *run;
	int err_fd;
	int err_broken; /* err_fd failed: stderr is read and dropped */
	int sfd;        /* the signalfd */
	size_t live;    /* stages started and not reaped */
	int ended;      /* stages reaped */
};

/* Writes iov whole to fd (retrying short writes and EINTR). 0 or -1. */
static int writev_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t w = writev(fd, iov, cnt);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (cnt > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* "NAME: " line "\n" to err_fd, in one writev: lines do not mix. */
static void emit_line(struct chain *c, size_t i, const char *p, size_t len,
                      int add_nl)
{
	const char *name = c->stages[i].name ? c->stages[i].name : "";
	struct iovec iov[4] = {
	    {(void *)name, strlen(name)},
	    {(void *)": ", 2},
	    {(void *)p, len},
	    {(void *)"\n", add_nl ? 1 : 0},
	};

	if (c->err_broken)
		return;
	if (writev_all(c->err_fd, iov, 4) < 0)
		c->err_broken = 1;
}

/* Writes out the whole lines of stage i's buffer, keeps the rest. */
static void emit_lines(struct chain *c, size_t i, size_t scan_from)
{
	struct fx_buf *b = &c->run[i].line;
	size_t start = 0, k;
	char *nl;

	k = scan_from;
	while (k < b->len &&
	       (nl = memchr(b->p + k, '\n', b->len - k)) != NULL) {
		size_t end = (size_t)(nl - b->p) + 1;

		emit_line(c, i, b->p + start, end - start, 0);
		start = k = end;
	}
	if (start > 0) {
		memmove(b->p, b->p + start, b->len - start);
		b->len -= start;
	}
}

/* Closes stage i's stderr pipe, flushing a last line without newline. */
static void close_err(struct chain *c, size_t i)
{
	struct stage_run *r = &c->run[i];

	if (r->err_rd < 0)
		return;
	if (r->line.len > 0)
		emit_line(c, i, r->line.p, r->line.len, 1);
	fx_buf_reset(&r->line);
	close(r->err_rd);
	r->err_rd = -1;
}

/*
 * Reads stage i's stderr pipe (non-blocking): one read, or with drain
 * (the stage is reaped: all it wrote is in the pipe) until nothing is
 * left. At EOF, or once drained, closes it: a background grandchild that
 * keeps the pipe open is not waited for.
 */
static void read_err(struct chain *c, size_t i, int drain)
{
	struct stage_run *r = &c->run[i];

	for (;;) {
		size_t old;
		ssize_t got;

		fx_buf_grow(&r->line, 65536);
		old = r->line.len;
		got = read(r->err_rd, r->line.p + old, r->line.cap - old);
		if (got < 0 && errno == EINTR)
			continue;
		if (got > 0) {
			r->line.len += (size_t)got;
			emit_lines(c, i, old);
			if (drain)
				continue;
			return;
		}
		if (got < 0 && errno == EAGAIN && !drain)
			return;
		close_err(c, i); /* EOF, an error, or drained */
		return;
	}
}

/* The message of a chain that cannot start: "NAME: what: reason". */
static void start_error(struct chain *c, size_t i, const char *what, int e)
{
	const char *name = c->stages[i].name ? c->stages[i].name : "";
	const char *reason = strerror(e);
	struct iovec iov[6] = {
	    {(void *)name, strlen(name)},     {(void *)": cannot start: ", 16},
	    {(void *)what, strlen(what)},     {(void *)": ", 2},
	    {(void *)reason, strlen(reason)}, {(void *)"\n", 1},
	};

	if (writev_all(c->err_fd, iov, 6) < 0)
		c->err_broken = 1;
}

/* The child's message about a program it could not execute. */
static void exec_error(const char *prog, int e)
{
	const char *why;
	struct iovec iov[3];

	switch (e) {
	case ENOENT:
		why = ": not found\n";
		break;
	case EACCES:
		why = ": permission denied\n";
		break;
	case ENOEXEC:
		why = ": exec format error\n";
		break;
	case ENOTDIR:
		why = ": not a directory\n";
		break;
	case E2BIG:
		why = ": argument list too long\n";
		break;
	case ENOMEM:
		why = ": out of memory\n";
		break;
	case ELOOP:
		why = ": too many levels of symbolic links\n";
		break;
	case ENAMETOOLONG:
		why = ": file name too long\n";
		break;
	default:
		why = ": cannot execute\n";
		break;
	}
	iov[0] = (struct iovec){(void *)prog, strlen(prog)};
	iov[1] = (struct iovec){(void *)why, strlen(why)};
	writev_all(2, iov, 2);
}

/*
 * Puts src on target (0, 1 or 2) without its close-on-exec flag. src has
 * been moved off 0..2 by the caller when it is not target already.
 */
static int place_fd(int src, int target)
{
	if (src == target) {
		int fl = fcntl(src, F_GETFD);

		if (fl < 0 || fcntl(src, F_SETFD, fl & ~FD_CLOEXEC) < 0)
			return -1;
		return 0;
	}
	return dup2(src, target) < 0 ? -1 : 0;
}

/* In the child: closes (or marks close-on-exec) every fd from 3 up. */
static void close_from_3(void)
{
	long max, fd;

	if (close_range(3, UINT_MAX, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

/*
 * The child of stage i: stdin from in, stdout to out, stderr to err, then
 * exec. Never returns.
 */
static void child(const struct proc_stage *st, char *const *argv, int in,
                  int out, int err, int dir_fd, pid_t parent,
                  const sigset_t *mask)
{
	int src[3] = {in, out, err};
	struct sigaction dfl;
	size_t k;
	int j, e;

	/* Whatever happens to the runner, no stage outlives it. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(128 + SIGTERM);

	/* src fds off 0..2 first, so that no dup2 overwrites a later one */
	for (j = 0; j < 3; j++) {
		if (src[j] >= 0 && src[j] < 3 && src[j] != j) {
			src[j] = fcntl(src[j], F_DUPFD_CLOEXEC, 3);
			if (src[j] < 0)
				_exit(126);
		}
	}
	for (j = 0; j < 3; j++)
		if (place_fd(src[j], j) < 0)
			_exit(126);
	close_from_3();

	/*
	 * Signals as a shell leaves them to a command: SIGPIPE default (the
	 * runner's fx_init() ignores it; jq, head and friends expect to die
	 * of it), SIGCHLD default, the stop signals default unless the
	 * caller ignored them, then the caller's mask.
	 */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGPIPE, &dfl, NULL);
	sigaction(SIGCHLD, &dfl, NULL);
	for (k = 0; k < N_STOP_SIGNALS; k++) {
		struct sigaction cur;

		if (sigaction(stop_signals[k], NULL, &cur) == 0 &&
		    cur.sa_handler != SIG_IGN)
			sigaction(stop_signals[k], &dfl, NULL);
	}
	sigprocmask(SIG_SETMASK, mask, NULL);

	if (dir_fd >= 0 && fchdir(dir_fd) < 0) {
		e = errno;
		exec_error(".", e);
		_exit(126);
	}
	if (st->shell)
		execv("/bin/sh", argv);
	else
		execvp(argv[0], argv);
	e = errno;
	exec_error(st->shell ? "/bin/sh" : argv[0], e);
	_exit(e == ENOENT ? 127 : 126);
}

/*
 * Ordering key of a stage reaped in a batch: failures first, the one the
 * SIGCHLD named before the others, then deaths by SIGPIPE, then the rest;
 * upstream first among equals.
 */
static int tie_rank(const struct stage_run *r, pid_t first)
{
	if (r->status != 0 && r->signal != SIGPIPE)
		return r->pid == first ? 0 : 1;
	if (r->signal == SIGPIPE)
		return 2;
	return 3;
}

/*
 * Which failure counts, a before b: a death by SIGPIPE after any other
 * failure (it is the consequence of a reader that went away, and the
 * kernel may report it before the reader's own exit: a process closes
 * its files before its parent is told), else the first in time.
 */
static int fails_before(const struct stage_run *a, const struct stage_run *b)
{
	int pa = a->signal == SIGPIPE, pb = b->signal == SIGPIPE;

	if (pa != pb)
		return pb;
	return a->order < b->order;
}

/* Reaps the stages that ended; first is the pid the SIGCHLD named. */
static void reap(struct chain *c, pid_t first)
{
	size_t *batch, nb = 0, i, a, b;

	batch = fx_malloc(c->n * sizeof(*batch));
	for (i = 0; i < c->n; i++) {
		struct stage_run *r = &c->run[i];
		int ws;
		pid_t p;

		if (r->pid <= 0 || r->ended)
			continue;
		do
			p = waitpid(r->pid, &ws, WNOHANG);
		while (p < 0 && errno == EINTR);
		if (p == 0)
			continue;
		if (p < 0) { /* cannot happen: ours and not reaped */
			r->status = 128 + SIGKILL;
			r->signal = SIGKILL;
		} else if (WIFSIGNALED(ws)) {
			r->signal = WTERMSIG(ws);
			r->status = 128 + r->signal;
		} else {
			r->status = WEXITSTATUS(ws);
		}
		r->ended = 1;
		batch[nb++] = i;
	}
	/* insertion sort by (tie_rank, index): a batch is a few stages */
	for (a = 1; a < nb; a++) {
		size_t x = batch[a];
		int rx = tie_rank(&c->run[x], first);

		for (b = a; b > 0; b--) {
			size_t y = batch[b - 1];
			int ry = tie_rank(&c->run[y], first);

			if (ry < rx || (ry == rx && y < x))
				break;
			batch[b] = y;
		}
		batch[b] = x;
	}
	for (a = 0; a < nb; a++) {
		struct stage_run *r = &c->run[batch[a]];

		r->order = c->ended++;
		c->live--;
		if (r->err_rd >= 0)
			read_err(c, batch[a], 1);
	}
	free(batch);
}

/* Passes sig on to every stage not reaped. */
static void forward(struct chain *c, int sig)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->run[i].pid > 0 && !c->run[i].ended)
			kill(c->run[i].pid, sig);
}

/* Reads the signalfd. 1 if the caller should look for ended stages. */
static int read_signals(struct chain *c, pid_t *first)
{
	struct signalfd_siginfo si;
	int chld = 0;

	for (;;) {
		ssize_t got = read(c->sfd, &si, sizeof(si));

		if (got < 0 && errno == EINTR)
			continue;
		if (got != (ssize_t)sizeof(si))
			break;
		if (si.ssi_signo == SIGCHLD) {
			if (!chld)
				*first = (pid_t)si.ssi_pid;
			chld = 1;
		} else {
			forward(c, (int)si.ssi_signo);
		}
	}
	return chld;
}

/* Polls stderr pipes and the signalfd until every stage is reaped. */
static void wait_chain(struct chain *c)
{
	struct pollfd *pfd = fx_malloc((c->n + 1) * sizeof(*pfd));
	size_t *idx = fx_malloc((c->n + 1) * sizeof(*idx));
	size_t i, k;

	while (c->live > 0) {
		size_t np = 0;
		pid_t first = 0;
		int rc;

		pfd[np].fd = c->sfd;
		pfd[np].events = POLLIN;
		idx[np++] = (size_t)-1;
		for (i = 0; i < c->n; i++) {
			if (c->run[i].err_rd < 0)
				continue;
			pfd[np].fd = c->run[i].err_rd;
			pfd[np].events = POLLIN;
			idx[np++] = i;
		}
		rc = poll(pfd, np, -1);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			/* cannot wait: fall back to blocking waits */
			break;
		}
		for (k = 1; k < np; k++)
			if (pfd[k].revents)
				read_err(c, idx[k], 0);
		if (pfd[0].revents && read_signals(c, &first))
			reap(c, first);
	}
	/* only if poll failed: wait for the rest, dropping their stderr */
	for (i = 0; i < c->n; i++) {
		struct stage_run *r = &c->run[i];
		int ws;

		if (r->pid <= 0 || r->ended)
			continue;
		close_err(c, i);
		while (waitpid(r->pid, &ws, 0) < 0 && errno == EINTR)
			;
		r->ended = 1;
		r->order = c->ended++;
		r->signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
		r->status = r->signal ? 128 + r->signal : WEXITSTATUS(ws);
		c->live--;
	}
	for (i = 0; i < c->n; i++)
		close_err(c, i);
	free(idx);
	free(pfd);
}

/* Stops the stages started so far (a chain that could not start). */
static void abort_chain(struct chain *c)
{
	size_t i;

	forward(c, SIGTERM);
	for (i = 0; i < c->n; i++) {
		struct stage_run *r = &c->run[i];
		int ws;

		close_err(c, i);
		if (r->pid > 0 && !r->ended)
			while (waitpid(r->pid, &ws, 0) < 0 && errno == EINTR)
				;
	}
}

/* The argv to exec for stage st: its own, or /bin/sh -c. */
static char *const *stage_argv(const struct proc_stage *st, char **shbuf)
{
	if (!st->shell)
		return st->argv;
	shbuf[0] = (char *)"sh";
	shbuf[1] = (char *)"-c";
	shbuf[2] = (char *)st->shell;
	shbuf[3] = NULL;
	return shbuf;
}

int proc_chain_run(const struct proc_stage *stages, size_t n,
                   const struct proc_chain_opts *opts,
                   struct proc_stage_result *results)
{
	static const struct proc_chain_opts no_opts = {-1, -1, -1, 0, NULL};
	struct chain c;
	struct sigaction ign, dfl, old_pipe, old_chld;
	sigset_t block, old_mask;
	int in_fd, out_fd, err_fd, dir_fd = -1, prev_rd = -1, status = 0;
	int failed = -1;
	pid_t self = getpid();
	size_t i, k;

	if (!opts)
		opts = &no_opts;
	in_fd = opts->in_fd >= 0 ? opts->in_fd : 0;
	out_fd = opts->out_fd >= 0 ? opts->out_fd : 1;
	err_fd = opts->err_fd >= 0 ? opts->err_fd : 2;
	if (n == 0)
		return 0;

	memset(&c, 0, sizeof(c));
	c.stages = stages;
	c.n = n;
	c.err_fd = err_fd;
	c.sfd = -1;
	c.run = fx_malloc(n * sizeof(*c.run));
	for (i = 0; i < n; i++) {
		c.run[i] = (struct stage_run){.err_rd = -1};
		c.run[i].line = (struct fx_buf)FX_BUF_INIT;
	}

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	dfl = ign;
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &ign, &old_pipe);
	sigaction(SIGCHLD, &dfl, &old_chld);
	sigemptyset(&block);
	for (k = 0; k < N_STOP_SIGNALS; k++)
		sigaddset(&block, stop_signals[k]);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &old_mask);

	c.sfd = signalfd(-1, &block, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c.sfd < 0) {
		start_error(&c, 0, "signalfd", errno);
		goto fail;
	}
	if (opts->dir) {
		dir_fd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir_fd < 0) {
			int e = errno;
			const char *what = opts->dir;

			start_error(&c, 0, what, e);
			goto fail;
		}
	}

	for (i = 0; i < n; i++) {
		const struct proc_stage *st = &stages[i];
		char *shbuf[4];
		char *const *argv = stage_argv(st, shbuf);
		int data[2] = {-1, -1}, errp[2] = {-1, -1};
		int in = i == 0 ? in_fd : prev_rd;
		pid_t pid;

		if (!argv || !argv[0]) {
			start_error(&c, i, "no program", EINVAL);
			goto fail;
		}
		if (i + 1 < n && pipe2(data, O_CLOEXEC) < 0) {
			start_error(&c, i, "pipe", errno);
			goto fail;
		}
		if (opts->prefix_stderr && pipe2(errp, O_CLOEXEC) < 0) {
			start_error(&c, i, "pipe", errno);
			if (data[0] >= 0) {
				close(data[0]);
				close(data[1]);
			}
			goto fail;
		}
		pid = fork();
		if (pid == 0)
			child(st, argv, in, i + 1 < n ? data[1] : out_fd,
			      opts->prefix_stderr ? errp[1] : err_fd, dir_fd,
			      self, &old_mask);
		if (pid < 0) {
			int e = errno;

			for (k = 0; k < 2; k++) {
				if (data[k] >= 0)
					close(data[k]);
				if (errp[k] >= 0)
					close(errp[k]);
			}
			start_error(&c, i, "fork", e);
			goto fail;
		}
		c.run[i].pid = pid;
		c.live++;
		if (prev_rd >= 0)
			close(prev_rd);
		prev_rd = data[0];
		if (data[1] >= 0)
			close(data[1]);
		if (errp[1] >= 0) {
			close(errp[1]);
			c.run[i].err_rd = errp[0];
			fcntl(errp[0], F_SETFL,
			      fcntl(errp[0], F_GETFL) | O_NONBLOCK);
		}
	}
	if (dir_fd >= 0)
		close(dir_fd);
	dir_fd = -1;

	wait_chain(&c);

	for (i = 0; i < n; i++) {
		struct stage_run *r = &c.run[i];

		if (r->status != 0 &&
		    (failed < 0 || fails_before(r, &c.run[failed])))
			failed = (int)i;
	}
	status = failed >= 0 ? c.run[failed].status : 0;
	if (results) {
		for (i = 0; i < n; i++) {
			results[i].status = c.run[i].status;
			results[i].signal = c.run[i].signal;
			results[i].order = c.run[i].order;
			results[i].failed_first = (int)i == failed;
		}
	}
	goto out;

fail:
	status = -1;
	if (prev_rd >= 0)
		close(prev_rd);
	if (dir_fd >= 0)
		close(dir_fd);
	abort_chain(&c);
out:
	if (c.sfd >= 0) {
		pid_t first = 0;

		read_signals(&c, &first); /* nothing left to pass them to */
		close(c.sfd);
	}
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGCHLD, &old_chld, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	for (i = 0; i < n; i++)
		fx_buf_free(&c.run[i].line);
	free(c.run);
	return status;
}
