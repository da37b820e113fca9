/* detach.c - run the rest of a program in the background (see detach.h) */
#include "detach.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Copies the child's stderr, from its start, to ours. */
static void copy_child_stderr(int fd)
{
	char buf[4096];
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		if (write(STDERR_FILENO, buf, (size_t)n) != n)
			break;
		off += n;
	}
}

/* The child's status as ours: its exit status, else FX_EXIT_IO. */
static int child_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st))
		return WEXITSTATUS(st);
	return FX_EXIT_IO;
}

static int write_pid_line(const struct fx_ctx *ctx, const char *path, pid_t pid)
{
	char line[32];

	snprintf(line, sizeof(line), "%ld", (long)pid);
	if (fx_write_line_atomic(path, line) == 0)
		return 0;
	fx_warn(ctx, "%s: cannot write the pid file: %s", path,
	        strerror(errno));
	return -1;
}

/* Whether the file at path holds exactly the len bytes at want. */
static int file_holds(const char *path, const char *want, size_t len)
{
	char got[1024];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(got, 1, sizeof(got), f);
	fclose(f);
	return n == len && memcmp(got, want, len) == 0;
}

/* The parent's side: see detach.h. Never returns. */
static void wait_ready(const struct fx_ctx *ctx, pid_t pid, int out, int err,
                       const char *pid_file, const char *wait_file,
                       double timeout)
{
	char line[1024] = "";
	size_t len = 0;
	double deadline = fx_now() + timeout;

	while (len == 0 || line[len - 1] != '\n') {
		struct pollfd p = {.fd = out, .events = POLLIN};
		int ms = (int)((deadline - fx_now()) * 1000);
		ssize_t n;

		if (ms <= 0 || len == sizeof(line)) {
			kill(pid, SIGKILL);
			copy_child_stderr(err);
			fx_warn(ctx,
			        "--detach: not ready within %.0f s: stopped",
			        timeout);
			_exit(FX_EXIT_IO);
		}
		if (poll(&p, 1, ms) < 0 && errno != EINTR)
			break;
		n = read(out, line + len, sizeof(line) - len);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
			/* ended before it was ready: its messages say why */
			int status = child_status(pid);

			copy_child_stderr(err);
			_exit(status);
		}
		if (n > 0)
			len += (size_t)n;
	}
	if (pid_file && write_pid_line(ctx, pid_file, pid) != 0) {
		kill(pid, SIGTERM);
		_exit(FX_EXIT_IO);
	}
	/* the ready line in wait_file: not a stale file of an earlier run */
	while (wait_file && !file_holds(wait_file, line, len)) {
		int st, status = FX_EXIT_IO;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			if (WIFEXITED(st) && WEXITSTATUS(st))
				status = WEXITSTATUS(st);
		} else if (fx_now() > deadline) {
			kill(pid, SIGKILL);
			fx_warn(ctx,
			        "--detach: %s was not written within %.0f s",
			        wait_file, timeout);
		} else {
			usleep(10000);
			continue;
		}
		copy_child_stderr(err);
		if (pid_file)
			unlink(pid_file);
		_exit(status);
	}
	copy_child_stderr(err);
	if (write(STDOUT_FILENO, line, len) != (ssize_t)len) {
		fx_warn(ctx, "stdout: write error: %s", strerror(errno));
		_exit(FX_EXIT_IO);
	}
	_exit(FX_EXIT_OK);
}

void fx_detach(const struct fx_ctx *ctx, const char *pid_file,
               const char *wait_file, double timeout)
{
	char tmpl[] = "/tmp/fx-detach.XXXXXX";
	int out[2], err, devnull;
	pid_t pid;

	err = mkstemp(tmpl);
	if (err < 0)
		fx_die(ctx, FX_EXIT_IO,
		       "--detach: cannot create a temporary file: %s",
		       strerror(errno));
	unlink(tmpl);
	if (pipe(out) != 0)
		fx_die(ctx, FX_EXIT_IO, "--detach: pipe: %s", strerror(errno));
	fflush(NULL); /* nothing buffered is written twice */
	pid = fork();
	if (pid < 0)
		fx_die(ctx, FX_EXIT_IO, "--detach: fork: %s", strerror(errno));
	if (pid > 0) {
		close(out[1]);
		wait_ready(ctx, pid, out[0], err, pid_file, wait_file, timeout);
	}
	close(out[0]);
	setsid();
	devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 ||
	    dup2(out[1], STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
		fx_die(ctx, FX_EXIT_IO, "--detach: cannot redirect: %s",
		       strerror(errno));
	/* (any of them may be 0 to 2 if the caller had those closed) */
	if (devnull > STDERR_FILENO)
		close(devnull);
	if (out[1] > STDERR_FILENO)
		close(out[1]);
	if (err > STDERR_FILENO)
		close(err);
}
