/* Process chains: bytes through pipes, the first failure, prefixed stderr,
 * signals. */
#include "procchain.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* An anonymous temporary file's descriptor (not close-on-exec). */
static int tmp_fd(void)
{
	FILE *f = tmpfile();
	int fd;

	if (!f)
		return -1;
	fd = dup(fileno(f));
	fclose(f);
	return fd;
}

/* All of fd's bytes from the start, NUL-terminated; *n their count. */
static char *slurp(int fd, size_t *n)
{
	size_t cap = 4096, len = 0;
	char *p = malloc(cap + 1);
	ssize_t got;

	lseek(fd, 0, SEEK_SET);
	while (p && (got = read(fd, p + len, cap - len)) > 0) {
		len += (size_t)got;
		if (len == cap) {
			cap *= 2;
			p = realloc(p, cap + 1);
		}
	}
	if (p)
		p[len] = '\0';
	if (n)
		*n = len;
	return p;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1.5 MB through sh, an argv stage and sh: the same bytes out. */
static void test_bytes_through(void)
{
	size_t len = 1536 * 1024 + 7, i, outlen = 0;
	char *data = malloc(len), *out;
	int in = tmp_fd(), outfd = tmp_fd(), errfd = tmp_fd();
	char *cat[] = {"cat", NULL};
	struct proc_stage st[] = {
	    {"one", NULL, "cat"},
	    {"two", cat, NULL},
	    {"three", NULL, "dd bs=4096 status=none"},
	};
	struct proc_chain_opts o = {in, outfd, errfd, 1, NULL};
	struct proc_stage_result res[3];
	unsigned x = 12345;

	CHECK(data && in >= 0 && outfd >= 0 && errfd >= 0);
	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (char)(x >> 16); /* NULs and newlines included */
	}
	CHECK(write(in, data, len) == (ssize_t)len);
	lseek(in, 0, SEEK_SET);
	CHECK(proc_chain_run(st, 3, &o, res) == 0);
	out = slurp(outfd, &outlen);
	CHECK_MSG(outlen == len, "%zu bytes out of %zu", outlen, len);
	CHECK(out && outlen == len && memcmp(out, data, len) == 0);
	for (i = 0; i < 3; i++)
		CHECK(res[i].status == 0 && res[i].signal == 0 &&
		      !res[i].failed_first);
	free(out);
	out = slurp(errfd, &outlen);
	CHECK_MSG(outlen == 0, "stderr: %s", out);
	free(out);
	free(data);
	close(in);
	close(outfd);
	close(errfd);
}

/*
 * The middle stage exits 1; the first, a writer, then dies of SIGPIPE and
 * the last sees EOF: the chain's status is the middle's.
 */
static void test_first_failure(void)
{
	int errfd = tmp_fd(), nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	char *yes[] = {"yes", "fx", NULL};
	struct proc_stage st[] = {
	    {"source", yes, NULL},
	    {"mid", NULL,
	     "head -n 3 >/dev/null; echo 'bad record' >&2; exit 1"},
	    {"sink", NULL, "cat"},
	};
	struct proc_chain_opts o = {nul, nul, errfd, 1, NULL};
	struct proc_stage_result res[3];
	char *err;

	CHECK(proc_chain_run(st, 3, &o, res) == 1);
	CHECK(res[1].status == 1 && res[1].failed_first);
	CHECK_MSG(res[0].status == 128 + SIGPIPE && res[0].signal == SIGPIPE,
	          "source: status %d", res[0].status);
	CHECK(!res[0].failed_first && !res[2].failed_first);
	CHECK(res[2].status == 0);
	CHECK(res[0].order != res[1].order);
	err = slurp(errfd, NULL);
	CHECK_STR(err, "mid: bad record\n");
	free(err);

	/* a death by SIGPIPE alone (`| head`) is still a failure */
	{
		struct proc_stage st2[] = {
		    {"a", yes, NULL},
		    {"b", NULL, "head -n 1 >/dev/null"},
		};

		CHECK(proc_chain_run(st2, 2, &o, res) == 128 + SIGPIPE);
		CHECK(res[0].failed_first && !res[1].failed_first);
	}

	/* the last stage failing alone: its status, 128 + S for a signal */
	{
		struct proc_stage st2[] = {
		    {"a", NULL, "echo x"},
		    {"b", NULL, "cat >/dev/null; kill -USR1 $$"},
		};

		CHECK(proc_chain_run(st2, 2, &o, res) == 128 + SIGUSR1);
		CHECK(res[1].signal == SIGUSR1 && res[1].failed_first);
		CHECK(res[0].status == 0 && !res[0].failed_first);
	}
	close(errfd);
	close(nul);
}

/* Not found: 127 and "NAME: PROG: not found"; not executable: 126. */
static void test_not_found(void)
{
	int errfd = tmp_fd(), nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	char path[] = "/tmp/fx-test-procchain-XXXXXX";
	int pf = mkstemp(path);
	char *missing[] = {"fx-no-such-program", "-x", NULL};
	char *noexec[] = {path, NULL};
	struct proc_stage st[] = {
	    {"cat", NULL, "cat"},
	    {"agx", missing, NULL},
	};
	struct proc_chain_opts o = {nul, nul, errfd, 1, NULL};
	struct proc_stage_result res[2];
	char *err, want[256];

	CHECK(proc_chain_run(st, 2, &o, res) == 127);
	CHECK(res[1].status == 127 && res[1].failed_first);
	err = slurp(errfd, NULL);
	CHECK_STR(err, "agx: fx-no-such-program: not found\n");
	free(err);

	CHECK(pf >= 0 && write(pf, "#!/bin/sh\n", 10) == 10);
	close(pf);
	chmod(path, 0644);
	st[1].argv = noexec;
	CHECK(ftruncate(errfd, 0) == 0);
	lseek(errfd, 0, SEEK_SET);
	CHECK(proc_chain_run(st, 2, &o, res) == 126);
	err = slurp(errfd, NULL);
	snprintf(want, sizeof(want), "agx: %s: permission denied\n", path);
	CHECK_STR(err, want);
	free(err);
	unlink(path);

	/* a shell stage: the shell's own 127 */
	{
		struct proc_stage sh[] = {{"s", NULL, "fx-no-such-program"}};

		CHECK(proc_chain_run(sh, 1, &o, res) == 127);
	}
	close(errfd);
	close(nul);
}

/*
 * Interleaved stderr of two stages comes out in whole lines, each with its
 * stage's name; a last line without newline gets one; a long line whole.
 */
static void test_prefixes(void)
{
	int errfd = tmp_fd(), nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct proc_stage st[] = {
	    {"ads", NULL,
	     "printf 'a1\\n' >&2; sleep 0.1; printf 'a2 part' >&2; "
	     "sleep 0.2; printf ' end\\n' >&2; printf 'alast' >&2"},
	    {"no_web", NULL,
	     "printf 'b1\\n' >&2; sleep 0.2; printf 'b2\\n' >&2; "
	     "head -c 300000 /dev/zero | tr '\\0' y >&2; echo >&2"},
	};
	struct proc_chain_opts o = {nul, nul, errfd, 1, NULL};
	char *err, *line, *save = NULL, *longline;
	const char *a_want[] = {"ads: a1", "ads: a2 part end", "ads: alast"};
	const char *b_want[] = {"no_web: b1", "no_web: b2"};
	size_t a = 0, b = 0, nlong = 0, len;

	CHECK(proc_chain_run(st, 2, &o, NULL) == 0);
	err = slurp(errfd, &len);
	CHECK(len > 0 && err[len - 1] == '\n');
	longline = malloc(300000 + 9);
	memcpy(longline, "no_web: ", 8);
	memset(longline + 8, 'y', 300000);
	longline[300008] = '\0';
	for (line = strtok_r(err, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "ads: ", 5)) {
			CHECK(a < 3);
			if (a < 3)
				CHECK_STR(line, a_want[a]);
			a++;
		} else if (!strcmp(line, longline)) {
			nlong++;
		} else {
			CHECK(b < 2);
			if (b < 2)
				CHECK_STR(line, b_want[b]);
			b++;
		}
	}
	CHECK(a == 3 && b == 2 && nlong == 1);
	free(longline);
	free(err);

	/* prefix_stderr 0: the stages write to err_fd as they please */
	{
		struct proc_stage raw[] = {{"x", NULL, "printf 'raw' >&2"}};

		CHECK(ftruncate(errfd, 0) == 0);
		lseek(errfd, 0, SEEK_SET);
		o.prefix_stderr = 0;
		CHECK(proc_chain_run(raw, 1, &o, NULL) == 0);
		err = slurp(errfd, NULL);
		CHECK_STR(err, "raw");
		free(err);
	}
	close(errfd);
	close(nul);
}

/* A stage sees 0, 1 and 2 only, even of the caller's inheritable fds. */
static void test_no_fd_leak(void)
{
	int outfd = tmp_fd(), errfd = tmp_fd();
	int leak = open("/dev/null", O_RDONLY); /* not close-on-exec */
	char *ls[] = {"ls", "/proc/self/fd", NULL};
	struct proc_stage st[] = {
	    {"up", NULL, "ls /proc/self/fd >&2"},
	    {"ls", ls, NULL},
	};
	struct proc_chain_opts o = {-1, outfd, errfd, 1, "/"};
	char *out;

	CHECK(leak >= 3 && outfd >= 3 && errfd >= 3);
	CHECK(proc_chain_run(st, 2, &o, NULL) == 0);
	out = slurp(outfd, NULL);
	/* ls itself holds 3, the directory it reads */
	CHECK_STR(out, "0\n1\n2\n3\n");
	free(out);
	out = slurp(errfd, NULL);
	CHECK_STR(out, "up: 0\nup: 1\nup: 2\nup: 3\n");
	free(out);
	close(leak);
	close(outfd);
	close(errfd);
}

/* The stages run in opts->dir. */
static void test_dir(void)
{
	int outfd = tmp_fd(), nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	struct proc_stage st[] = {{"pwd", NULL, "pwd -P"}};
	struct proc_chain_opts o = {nul, outfd, nul, 1, NULL};
	char *out;

	o.dir = "/usr/bin";
	CHECK(proc_chain_run(st, 1, &o, NULL) == 0);
	out = slurp(outfd, NULL);
	CHECK(out && (!strcmp(out, "/usr/bin\n") || !strcmp(out, "/bin\n")));
	free(out);
	o.dir = "/nonexistent-fx-dir";
	o.err_fd = outfd;
	CHECK(proc_chain_run(st, 1, &o, NULL) == -1);
	close(outfd);
	close(nul);
}

static volatile sig_atomic_t caught;

static void on_term(int sig)
{
	(void)sig;
	caught++;
}

/*
 * SIGTERM to the runner while `sleep 30` runs: passed on, the chain
 * returns at once with 143; the caller's handler and mask as before.
 */
static void test_signal_forwarded(void)
{
	int errfd = tmp_fd(), nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	char *sleep30[] = {"sleep", "30", NULL};
	struct proc_stage st[] = {
	    {"sleep", sleep30, NULL},
	    {"killer", NULL, "kill -TERM $PPID; exec cat"},
	};
	struct proc_chain_opts o = {nul, nul, errfd, 1, NULL};
	struct proc_stage_result res[2];
	struct sigaction sa, old;
	sigset_t cur;
	double t0;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, &old);
	caught = 0;
	t0 = now();
	rc = proc_chain_run(st, 2, &o, res);
	CHECK_MSG(rc == 128 + SIGTERM, "status %d", rc);
	CHECK_MSG(now() - t0 < 10, "%.1f s", now() - t0);
	CHECK(res[0].signal == SIGTERM && res[1].signal == SIGTERM);
	CHECK(res[0].failed_first + res[1].failed_first == 1);
	CHECK(caught == 0);
	sigprocmask(SIG_SETMASK, NULL, &cur);
	CHECK(!sigismember(&cur, SIGTERM) && !sigismember(&cur, SIGCHLD));
	raise(SIGTERM);
	CHECK(caught == 1);
	sigaction(SIGTERM, &old, NULL);
	close(errfd);
	close(nul);
}

/* A state letter of /proc/PID/stat, or 0 when the process is gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* kill -9 of the runner: its stages get SIGTERM (PR_SET_PDEATHSIG). */
static void test_runner_killed(void)
{
	char path[] = "/tmp/fx-test-procchain-pid-XXXXXX";
	int pf = mkstemp(path);
	pid_t runner, stage = 0;
	char sh[256], *s;
	double t0;
	int ws;

	CHECK(pf >= 0);
	close(pf);
	snprintf(sh, sizeof(sh),
	         "echo $$ >%s.tmp && mv %s.tmp %s; exec sleep 30", path, path,
	         path);
	unlink(path);
	runner = fork();
	if (runner == 0) {
		int nul = open("/dev/null", O_RDWR);
		struct proc_stage st[] = {{"sleep", NULL, sh}};
		struct proc_chain_opts o = {nul, nul, nul, 1, NULL};

		_exit(proc_chain_run(st, 1, &o, NULL));
	}
	CHECK(runner > 0);
	for (t0 = now(); now() - t0 < 10 && access(path, F_OK) != 0;)
		usleep(10000);
	pf = open(path, O_RDONLY);
	if (pf >= 0) {
		s = slurp(pf, NULL);
		stage = s ? (pid_t)atol(s) : 0;
		free(s);
		close(pf);
	}
	CHECK(stage > 0);
	kill(runner, SIGKILL);
	waitpid(runner, &ws, 0);
	for (t0 = now(); now() - t0 < 5; usleep(10000)) {
		char c = stage > 0 ? proc_state(stage) : 0;

		if (c == 0 || c == 'Z' || c == 'X')
			break;
	}
	CHECK_MSG(stage > 0 && now() - t0 < 5, "stage %ld still running",
	          (long)stage);
	if (stage > 0 && now() - t0 >= 5)
		kill(stage, SIGKILL);
	unlink(path);
}

int main(void)
{
	RUN(test_bytes_through);
	RUN(test_first_failure);
	RUN(test_not_found);
	RUN(test_prefixes);
	RUN(test_no_fd_leak);
	RUN(test_dir);
	RUN(test_signal_forwarded);
	RUN(test_runner_killed);
	return unit_done("test_procchain");
}
