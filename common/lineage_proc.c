/*
 * lineage_proc.c - which pipeline is this process in? Found through /proc.
 *
 * A shell creates one pipe per '|' and forks every stage; the pipes, not
 * the process group, tell pipelines apart (a script or cron runs all its
 * pipelines in one group). Each stage walks upstream: the writer of its
 * stdin pipe is the process whose fd 1 is that pipe, then that process's
 * stdin, and so on through jq or grep, to the head: a process whose stdin
 * is not a pipe, or is a pipe the shell itself inherited (recorded as no
 * pipe: a script's stdin from GNU parallel, cron or a CI runner is held
 * by every pipeline it runs), or is a subshell stage's stdin that the
 * process does not pass through to the subshell's stdout (see
 * subshell_head()). The head's stdout pipe, the pipeline's first pipe, is
 * the same for every stage and names the pipeline run. If a writer has
 * already exited (a short head), the walk stops at the pipe it wrote,
 * which is then the first pipe when the writer was the head; fx-lineage
 * also stitches stages by their recorded pipes, which covers the rest
 * (lineage_query.h says which pipes join stages).
 */
#include "lineage_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Pipelines are forked together: look at these neighbours before a scan. */
#define NEAR_PIDS     48
#define ANCESTORS_MAX 64

/* The inode of fd's pipe in process pid (0: this one), or 0. */
static unsigned long fd_pipe(int pid, int fd)
{
	char path[64], link[64];
	ssize_t n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	else
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 6 || memcmp(link, "pipe:[", 6) != 0)
		return 0;
	link[n] = 0;
	return strtoul(link + 6, NULL, 10);
}

/* Reads /proc/PID/stat: comm, ppid and start time. Returns 0 or -1. */
static int proc_stat(int pid, struct lineage_proc *p, int *ppid)
{
	char path[64], buf[1024], *lp, *rp, *s;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* comm may hold spaces and parentheses: it ends at the last ')' */
	lp = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (!lp || !rp || rp < lp)
		return -1;
	snprintf(p->comm, sizeof(p->comm), "%.*s", (int)(rp - lp - 1), lp + 1);
	p->pid = pid;
	s = rp + 2; /* field 3, the state */
	for (field = 3; field < 22 && s; field++) {
		if (field == 4 && ppid)
			*ppid = atoi(s);
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	p->start = s ? strtoull(s, NULL, 10) : 0;
	return 0;
}

/* The bytes of /proc/PID/cmdline (pid 0: this process). Returns the length. */
static ssize_t proc_cmdline(int pid, char *buf, size_t n)
{
	char path[64];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read(fd, buf, n);
	close(fd);
	return r;
}

/*
 * A forked subshell: a copy of its parent that did not exec (the same
 * program, the same command line). The shell forks one for each stage of
 * a pipeline that is a function, a { list; } or a ( list ): such a stage's
 * pipes belong to the pipeline, not to the shell that runs it, and the
 * programs it starts are the stage's real work.
 */
static int forked_subshell(int pid, int ppid)
{
	char a[4096], b[4096], pa[64], pb[64], ea[4096], eb[4096];
	ssize_t na, nb, la, lb;

	if (pid <= 1 || ppid <= 1)
		return 0;
	na = proc_cmdline(pid, a, sizeof(a));
	nb = proc_cmdline(ppid, b, sizeof(b));
	if (na <= 0 || na != nb || memcmp(a, b, (size_t)na) != 0)
		return 0;
	snprintf(pa, sizeof(pa), "/proc/%d/exe", pid);
	snprintf(pb, sizeof(pb), "/proc/%d/exe", ppid);
	la = readlink(pa, ea, sizeof(ea));
	lb = readlink(pb, eb, sizeof(eb));
	/* exe may be unreadable (another user): the command line will do */
	return la < 0 || lb < 0 ||
	       (la == lb && memcmp(ea, eb, (size_t)la) == 0);
}

/*
 * Pipes this process's ancestors hold as stdin or stdout: not ours. A
 * forked subshell's (a stage that is a function, a { list; } or a
 * ( list )) are kept apart, as pairs: they are the outer pipeline's,
 * and what the subshell runs may share them.
 */
struct inherited {
	unsigned long ino[2 * ANCESTORS_MAX];
	size_t n;
	struct {
		unsigned long in, out;
	} sub[ANCESTORS_MAX];
	size_t nsub;
};

static void inherited_find(struct inherited *h, int pid)
{
	struct lineage_proc p;
	int i, ppid = 0;

	h->n = h->nsub = 0;
	for (i = 0; i < ANCESTORS_MAX && pid > 1; i++) {
		int gppid = 0;

		if (proc_stat(pid, &p, &ppid))
			break;
		pid = ppid;
		if (pid <= 1 || proc_stat(pid, &p, &gppid))
			break;
		/* a subshell stage's pipes are the pipeline's, not inherited */
		if (forked_subshell(pid, gppid)) {
			h->sub[h->nsub].in = fd_pipe(pid, 0);
			h->sub[h->nsub].out = fd_pipe(pid, 1);
			h->nsub++;
			continue;
		}
		h->ino[h->n] = fd_pipe(pid, 0);
		h->n += h->ino[h->n] != 0;
		h->ino[h->n] = fd_pipe(pid, 1);
		h->n += h->ino[h->n] != 0;
	}
}

static int inherited_has(const struct inherited *h, unsigned long ino)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->ino[i] == ino)
			return 1;
	return 0;
}

/*
 * A process reading in, a subshell ancestor's stdin, and writing out,
 * not that subshell's stdout, heads a pipeline of its own inside the
 * subshell (`f() { a | b; c | d; }; producer | f`): in is the subshell's,
 * which whatever else it runs may read too (c), so it names no pipeline
 * here. A process writing the subshell's stdout too is the subshell's
 * stage itself (`f() { fx-agg; }; a | f | b`), and in is the pipeline's.
 */
static int subshell_head(const struct inherited *h, unsigned long in,
                         unsigned long out)
{
	size_t i;

	for (i = 0; i < h->nsub; i++)
		if (h->sub[i].in == in && h->sub[i].out != out)
			return 1;
	return 0;
}

static int find_writer_any(unsigned long ino, int near, int self);

/*
 * 1 if pid is a process, not another thread of one: /proc/TID/ answers
 * for a thread too (with the process's descriptors and the thread's own
 * name), and the neighbours looked at first are often the threads of the
 * stage upstream (librdkafka's "rdk:broker-1"), started just after it.
 */
static int is_process(int pid)
{
	char path[64], buf[512], *t;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	t = strstr(buf, "\nTgid:");
	return t && atoi(t + 6) == pid;
}

static int writes_pipe(int pid, int self, unsigned long ino)
{
	return pid > 0 && pid != self && fd_pipe(pid, 1) == ino &&
	       is_process(pid);
}

/*
 * A writer that is a shell with a child writing the same pipe (a function
 * or a { list; } as a stage, or bash -c): the stage is the child, the
 * program doing the work, not "bash". Descends while there is one.
 */
static int innermost_writer(int pid, int self, unsigned long ino)
{
	char path[96], buf[4096], *p, *end;
	int depth, next;
	ssize_t n;

	for (depth = 0; depth < 8; depth++) {
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid,
		         pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return pid;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return pid;
		buf[n] = 0;
		next = 0;
		for (p = buf; *p && !next; p = end) {
			long c = strtol(p, &end, 10);

			if (end == p)
				break;
			if (writes_pipe((int)c, self, ino))
				next = (int)c;
		}
		if (!next)
			return pid;
		pid = next;
	}
	return pid;
}

/* A process that is a copy of its parent: a subshell, or not yet exec'd. */
static int shell_copy(int pid)
{
	struct lineage_proc p;
	int ppid = 0;

	return proc_stat(pid, &p, &ppid) == 0 && forked_subshell(pid, ppid);
}

/*
 * The process whose stdout is pipe ino: neighbours of near first. The
 * stages start together, so the writer may still be a shell's copy: a
 * subshell that has not forked its programs yet, or a child that has not
 * exec'd. Then look again a few times (at most SETTLE_TRIES * SETTLE_US,
 * and only then) rather than record a stage named after the shell.
 */
#define SETTLE_TRIES 25
#define SETTLE_US    2000

static int find_writer(unsigned long ino, int near, int self)
{
	int w = find_writer_any(ino, near, self), top = w, i, inner;

	if (!w)
		return 0;
	inner = innermost_writer(top, self, ino);
	for (i = 0; i < SETTLE_TRIES && shell_copy(inner); i++) {
		usleep(SETTLE_US);
		if (!writes_pipe(top, self, ino))
			break; /* the subshell exited: keep what we saw */
		inner = innermost_writer(top, self, ino);
	}
	return inner;
}

/* Any process whose stdout is pipe ino: neighbours of near first. */
static int find_writer_any(unsigned long ino, int near, int self)
{
	struct dirent *e;
	DIR *d;
	int i, pid = 0;

	for (i = 1; i <= NEAR_PIDS; i++) {
		if (writes_pipe(near - i, self, ino))
			return near - i;
		if (writes_pipe(near + i, self, ino))
			return near + i;
	}
	d = opendir("/proc");
	if (!d)
		return 0;
	while (!pid && (e = readdir(d))) {
		int p = atoi(e->d_name);

		if (p > near - NEAR_PIDS - 1 && p < near + NEAR_PIDS + 1)
			continue; /* looked at already */
		if (writes_pipe(p, self, ino))
			pid = p;
	}
	closedir(d);
	return pid;
}

static void boot_id(char out[40])
{
	ssize_t n = 0;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, out, 39);
		close(fd);
	}
	if (n < 0)
		n = 0;
	out[n] = 0;
	out[strcspn(out, "\n")] = 0;
}

void lineage_chain_find(struct lineage_chain *c)
{
	struct inherited h;
	struct lineage_proc *p = &c->procs[0];
	unsigned long out;
	int self = getpid();

	memset(c, 0, sizeof(*c));
	boot_id(c->boot_id);
	if (proc_stat(self, p, NULL))
		p->pid = self;
	p->in_pipe = fd_pipe(0, 0);
	out = p->out_pipe = fd_pipe(0, 1);
	c->n = 1;
	inherited_find(&h, self);
	/* the shell's own stdin and stdout: not a stage's */
	if (inherited_has(&h, p->out_pipe))
		p->out_pipe = 0;
	if (inherited_has(&h, p->in_pipe))
		p->in_pipe = 0;
	if (!p->in_pipe || subshell_head(&h, p->in_pipe, out)) {
		c->first_pipe = p->out_pipe;
		return;
	}
	while (c->n < LINEAGE_CHAIN_MAX) {
		unsigned long in = c->procs[c->n - 1].in_pipe;
		int w = find_writer(in, c->procs[c->n - 1].pid, self);

		c->first_pipe = in;
		if (!w)
			return; /* gone: it was most likely the head */
		p = &c->procs[c->n];
		/*
		 * Exited since it was found: nothing of it can be read (its
		 * start time would be 0, and fx-lineage could not tell it
		 * from another process at the pipe), as if gone before.
		 */
		if (proc_stat(w, p, NULL)) {
			memset(p, 0, sizeof(*p));
			return;
		}
		c->n++;
		p->out_pipe = in;
		p->in_pipe = fd_pipe(w, 0);
		if (inherited_has(&h, p->in_pipe))
			p->in_pipe = 0;
		if (!p->in_pipe || subshell_head(&h, p->in_pipe, in))
			return;
	}
}
