/* filesink.c - stdout, atomic files and partitioned directories */
#include "filesink.h"
#include "checkpoint.h"
#include "lineage.h"
#include "csvio.h"
#include "err.h"
#include "fsutil.h"
#include "hive.h"
#include "strmap.h"
#include "writer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The routing and CSV functions below return 0 (go on with the record), an
 * exit status, or DROPPED: the record was bad and --on-error (skip, dlq)
 * let the run go on without it. A dropped record must leave no trace: no
 * directory, no file, no state for the next record.
 */
#define DROPPED (-1)

static int dropped(int bad_record_status)
{
	return bad_record_status ? bad_record_status : DROPPED;
}

/* One output file: its final path, its temporary file and its writer. */
struct out_file {
	char *path; /* NULL for stdout */
	char *tmp;
	/*
	 * While the files are renamed into place: a second name (a hard link)
	 * of the file that was at path, to put it back if a later rename
	 * fails; NULL when there was none (old_errno 0) or it could not be
	 * made (old_errno says why).
	 */
	char *old;
	int old_errno;
	int fd;
	struct record_writer w;
	int header_done;
	char *rel; /* checkpoint mode: the output file under --dir */
};

struct file_sink {
	struct fx_ctx *ctx;
	const struct file_sink_opts *o;
	enum file_format format;
	struct json_paths paths; /* partition fields, or _fx_dest */
	struct table_values tv;  /* with a table */
	struct out_file single;  /* stdout or --file */
	struct strmap parts;     /* partition dir -> struct out_file */
	/* CSV */
	struct fx_strlist columns;
	struct strmap column_index; /* key -> index + 1 */
	int columns_inferred;
	struct json_value *row;
	struct fx_buf line, scratch;
	struct fx_buf key;           /* the record's directory under --dir */
	struct fx_buf colname;       /* CSV: a key unescaped */
	struct lineage_ds *dataset;  /* --file or --dir */
	struct fx_strlist made_dirs; /* created by this run, in order */
	/*
	 * --dir: where records' directories go: o->dir, or with --overwrite
	 * the staging tree, which mirrors o->dir (see "INSERT OVERWRITE").
	 */
	const char *root;
	char *stage;     /* --overwrite: the staging directory */
	int keep_stage;  /* it holds the only copy of the old tree */
	char *ow_prefix; /* --overwrite: what it replaces, under --dir */
	char *prepared;  /* --prepare, --commit: the prepared tree */
	char *ow_id;     /* and its ID file */
	int *ow_field;   /* per component of ow_prefix: its partition, or -1 */
	char *part_file; /* --part-name with its extension */
	/* checkpoint mode (--state): see "checkpoints" below */
	struct ckpt_state committed; /* DIR/committed.json */
	struct ckpt_barrier barrier;
	char *pending_root;       /* DIR/fx-sink */
	uint64_t next_id;         /* records go to pending-NEXT */
	int restored;             /* the restore record was read */
	uint64_t records_commit;  /* records in committed checkpoints */
	uint64_t records_pending; /* records since the last one */
};

static char *dir_of(const char *path)
{
	char *copy = fx_strdup(path), *d = fx_strdup(dirname(copy));

	free(copy);
	return d;
}

/* Creates dir and its parents, remembering those it made. */
static int mkdir_p(struct file_sink *fs, const char *dir)
{
	char *p = fx_strdup(dir), *s = p;
	int rc = 0;

	while (*s == '/')
		s++;
	for (;; s++) {
		char c = *s;

		if (c != '/' && c != 0)
			continue;
		*s = 0;
		if (mkdir(p, 0777) == 0) {
			fx_strlist_push(&fs->made_dirs, p);
		} else if (errno != EEXIST) {
			fx_warn(fs->ctx, "%s: cannot create directory: %s", p,
			        strerror(errno));
			rc = FX_EXIT_IO;
			break;
		}
		if (!c)
			break;
		*s = c;
	}
	free(p);
	return rc;
}

/*
 * The file that writing path replaces: path itself or, through symbolic
 * links, the file they end at (which need not exist yet), as `sed -i` and
 * the shell's > do. Returns a new string, or NULL with errno set.
 */
static char *follow_links(const char *path)
{
	char *p = fx_strdup(path), target[PATH_MAX];
	int hops;

	for (hops = 0; hops < 40; hops++) {
		struct stat st;
		ssize_t n;
		char *dir;

		if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode))
			return p;
		n = readlink(p, target, sizeof(target));
		if (n < 0 || (size_t)n >= sizeof(target)) {
			if (n >= 0)
				errno = ENAMETOOLONG;
			free(p);
			return NULL;
		}
		target[n] = 0;
		dir = dir_of(p);
		free(p);
		if (target[0] == '/')
			p = fx_strdup(target);
		else if (asprintf(&p, "%s/%s", dir, target) < 0)
			fx_oom();
		free(dir);
	}
	free(p);
	errno = ELOOP;
	return NULL;
}

/*
 * Removes the temporary files (and second names, see publish_all) of base
 * in dir that runs which are gone left: ".BASE.tmp-PID" and
 * ".BASE.old-PID" where PID is not a running process. A live process's
 * files, and other names, stay.
 */
static void remove_stale_files(const char *dir, const char *base)
{
	DIR *d = opendir(dir);
	size_t blen = strlen(base);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *n = e->d_name, *digits;
		char *end;
		long pid;

		if (n[0] != '.' || strncmp(n + 1, base, blen) != 0)
			continue;
		digits = n + 1 + blen;
		if (strncmp(digits, ".tmp-", 5) && strncmp(digits, ".old-", 5))
			continue;
		digits += 5;
		if (*digits < '1' || *digits > '9')
			continue;
		errno = 0;
		pid = strtol(digits, &end, 10);
		if (*end || errno || pid > INT_MAX || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		unlinkat(dirfd(d), n, 0);
	}
	closedir(d);
}

/*
 * A replaced file keeps its permission bits, owner and group (when we may
 * set them), as `sed -i` does; a new one gets 0666 less the umask.
 */
static void keep_mode(int fd, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return;
	if (st.st_uid != geteuid() || st.st_gid != getegid()) {
		/* not ours to give away: keep at least the group if we can */
		if (fchown(fd, st.st_uid, st.st_gid) != 0 &&
		    fchown(fd, (uid_t)-1, st.st_gid) != 0)
			st.st_mode &=
			    0777; /* no set-id bits for another owner */
	}
	fchmod(fd, st.st_mode & 07777);
}

static int out_file_open(struct file_sink *fs, struct out_file *f,
                         const char *path, size_t bufsize)
{
	const char *b;
	char *dir;

	memset(f, 0, sizeof(*f));
	f->path = follow_links(path);
	if (!f->path) {
		fx_warn(fs->ctx, "%s: cannot create: %s", path,
		        strerror(errno));
		return FX_EXIT_IO;
	}
	b = strrchr(f->path, '/');
	b = b ? b + 1 : f->path;
	dir = dir_of(f->path);
	remove_stale_files(dir, b);
	if (asprintf(&f->tmp, "%s/.%s.tmp-%ld", dir, b, (long)getpid()) < 0)
		fx_oom();
	free(dir);
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (f->fd < 0) {
		fx_warn(fs->ctx, "%s: cannot create: %s", f->path,
		        strerror(errno));
		free(f->path);
		free(f->tmp);
		f->path = f->tmp = NULL;
		return FX_EXIT_IO;
	}
	keep_mode(f->fd, f->path);
	record_writer_init(&f->w, fs->ctx, f->fd, f->path);
	if (bufsize < f->w.cap)
		f->w.cap = bufsize;
	return 0;
}

/* Flushes, fsyncs and closes; the file stays temporary. */
static int out_file_sync(struct file_sink *fs, struct out_file *f)
{
	int rc = 0;

	if (f->fd < 0)
		return 0;
	record_writer_flush(&f->w);
	if (!f->w.err && fsync(f->fd) != 0)
		f->w.err = errno;
	fs->ctx->st.bytes_out += f->w.bytes;
	rc = record_writer_close(&f->w);
	if (close(f->fd) != 0 && !rc) {
		fx_warn(fs->ctx, "%s: %s", f->path, strerror(errno));
		rc = FX_EXIT_IO;
	}
	f->fd = -1;
	return rc;
}

/*
 * Closes the file without writing what is still buffered (the run is not
 * committed) and removes its temporary file; a write error already met is
 * reported. Returns 0 or FX_EXIT_IO.
 */
static int out_file_discard(struct out_file *f)
{
	int rc = 0;

	if (f->fd >= 0 && f->path) {
		f->w.len = 0;
		rc = record_writer_close(&f->w);
		close(f->fd);
		f->fd = -1;
	}
	if (f->tmp)
		unlink(f->tmp);
	return rc;
}

static void out_file_free(struct out_file *f)
{
	out_file_discard(f);
	free(f->path);
	free(f->tmp);
	free(f->old);
	free(f->rel);
	f->path = f->tmp = f->old = f->rel = NULL;
}

/* Gives the file now at f->path a second name, f->old, if there is one. */
static void out_file_keep_old(struct out_file *f)
{
	const char *b = strrchr(f->path, '/');
	char *dir = dir_of(f->path);

	if (asprintf(&f->old, "%s/.%s.old-%ld", dir, b ? b + 1 : f->path,
	             (long)getpid()) < 0)
		fx_oom();
	free(dir);
	unlink(f->old);
	f->old_errno = 0;
	if (link(f->path, f->old) != 0) {
		/* ENOENT: a new file; else (no hard links here) no way back */
		if (errno != ENOENT)
			f->old_errno = errno;
		free(f->old);
		f->old = NULL;
	}
}

/* Undoes the rename of f: the old file back, or a new one removed. */
static void out_file_put_back(struct file_sink *fs, struct out_file *f)
{
	if (f->old_errno) {
		fx_warn(fs->ctx,
		        "%s: replaced, cannot put the old file back (no second "
		        "name for it: %s)",
		        f->path, strerror(f->old_errno));
	} else if (!f->old) {
		if (unlink(f->path) != 0)
			fx_warn(fs->ctx, "%s: cannot remove the new file: %s",
			        f->path, strerror(errno));
	} else if (rename(f->old, f->path) != 0) {
		fx_warn(fs->ctx,
		        "%s: cannot put the old file back: %s (it is %s)",
		        f->path, strerror(errno), f->old);
	}
	/* put back, or the only copy of the old file, named in the message:
	 * in both cases the second name must not be removed */
	free(f->old);
	f->old = NULL;
}

/*
 * Renames every (synced) temporary file into place, as one step as far as
 * POSIX allows: each old file first gets a second name, and if a rename
 * fails the files renamed before it are put back. Then the directories
 * are synced and the second names removed.
 */
static int publish_all(struct file_sink *fs, struct out_file **v, size_t n)
{
	size_t i, done;
	int rc = 0;

	for (i = 0; i < n; i++)
		out_file_keep_old(v[i]);
	for (done = 0; done < n; done++) {
		if (rename(v[done]->tmp, v[done]->path) != 0) {
			fx_warn(fs->ctx, "%s: cannot rename into place: %s",
			        v[done]->path, strerror(errno));
			rc = FX_EXIT_IO;
			break;
		}
		free(v[done]->tmp);
		v[done]->tmp = NULL;
	}
	for (i = 0; rc && i < done; i++)
		out_file_put_back(fs, v[i]);
	for (i = 0; i < n; i++) {
		char *dir = dir_of(v[i]->path);

		fs_fsync_dir(dir);
		free(dir);
		if (v[i]->old && unlink(v[i]->old) == 0) {
			free(v[i]->old);
			v[i]->old = NULL;
		}
	}
	return rc;
}

/* ---- CSV ---- */

/* The header row (in fs->scratch: fs->line may hold the first row). */
static void csv_header(struct file_sink *fs, struct record_writer *w)
{
	size_t i;

	fx_buf_reset(&fs->scratch);
	for (i = 0; i < fs->columns.n; i++) {
		if (i)
			fx_buf_addc(&fs->scratch, ',');
		csvio_write_field(&fs->scratch, fs->columns.v[i],
		                  strlen(fs->columns.v[i]));
	}
	csvio_end_row(&fs->scratch, 0, fs->columns.n);
	record_writer_write(w, fs->scratch.p, fs->scratch.len);
}

static void set_columns(struct file_sink *fs, struct fx_strlist *names)
{
	size_t i;

	for (i = 0; i < names->n; i++) {
		fx_strlist_push(&fs->columns, names->v[i]);
		strmap_put(&fs->column_index, names->v[i], strlen(names->v[i]),
		           (void *)(uintptr_t)(i + 1));
	}
	fs->row = fx_malloc((names->n + 1) * sizeof(*fs->row));
}

static int is_meta_key(const struct json_value *k)
{
	return k->len >= 5 && memcmp(k->p + 1, "_fx", 3) == 0;
}

static void infer_columns(struct file_sink *fs, const struct record *rec)
{
	struct fx_strlist names = {0};
	struct json_member m;
	size_t pos = 0;

	while (json_object_next(rec->p, rec->len, &pos, &m)) {
		if (is_meta_key(&m.key) && !fs->o->keep_meta)
			continue;
		fx_buf_reset(&fs->colname);
		json_string_unescape(&m.key, &fs->colname);
		fx_buf_addc(&fs->colname, 0);
		if (!strmap_get(&fs->column_index, fs->colname.p,
		                fs->colname.len - 1)) {
			fx_strlist_push(&names, fs->colname.p);
			strmap_put(&fs->column_index, fs->colname.p,
			           fs->colname.len - 1, (void *)1);
		}
	}
	strmap_free(&fs->column_index);
	set_columns(fs, &names);
	fx_strlist_free(&names);
	fs->columns_inferred = 1;
}

static void csv_value(struct file_sink *fs, const struct json_value *v)
{
	switch (v->type) {
	case JSON_MISSING:
	case JSON_NULL:
		break;
	case JSON_STRING:
		fx_buf_reset(&fs->scratch);
		json_string_unescape(v, &fs->scratch);
		csvio_write_field(&fs->line, fs->scratch.p, fs->scratch.len);
		break;
	case JSON_OBJECT:
	case JSON_ARRAY:
		csvio_write_field(&fs->line, v->p, v->len);
		break;
	default:
		fx_buf_add(&fs->line, v->p, v->len);
	}
}

/* The record's CSV row into fs->line, or DROPPED (or an exit status). */
static int csv_row(struct file_sink *fs, const struct record *rec,
                   const struct fx_where *where)
{
	struct json_member m;
	size_t pos = 0, i;

	if (!fs->columns.n)
		infer_columns(fs, rec);
	for (i = 0; i < fs->columns.n; i++)
		fs->row[i].type = JSON_MISSING;
	while (json_object_next(rec->p, rec->len, &pos, &m)) {
		uintptr_t col;

		if (is_meta_key(&m.key) && !fs->o->keep_meta)
			continue;
		fx_buf_reset(&fs->colname);
		json_string_unescape(&m.key, &fs->colname);
		col = (uintptr_t)strmap_get(&fs->column_index, fs->colname.p,
		                            fs->colname.len);
		if (col) {
			fs->row[col - 1] = m.val;
		} else if (fs->columns_inferred) {
			fx_buf_addc(&fs->colname, 0);
			return dropped(fx_bad_record(
			    fs->ctx, where, fs->colname.p, rec->p, rec->len,
			    "not a CSV column (columns come from the first record; use --columns)"));
		}
	}
	fx_buf_reset(&fs->line);
	for (i = 0; i < fs->columns.n; i++) {
		if (i)
			fx_buf_addc(&fs->line, ',');
		csv_value(fs, &fs->row[i]);
	}
	csvio_end_row(&fs->line, 0, fs->columns.n);
	return 0;
}

/* ---- checkpoints (--state) ---- */

/*
 * share/doc/checkpoints.md, "The file sink's commit". Records since the last
 * committed checkpoint go to STATE/fx-sink/pending-NEXT/REL (REL: the output
 * file's path under --dir). At barrier K the pending files are synced,
 * committed.json is written (the commit), then applied: each output file is
 * truncated to its size before K and the pending bytes appended. At start,
 * recovery applies a committed but unapplied pending-K again, removes
 * pending data that never committed, and truncates output files to their
 * committed sizes.
 */

static char *pending_dir(const struct file_sink *fs, uint64_t id)
{
	char *p;

	if (asprintf(&p, "%s/pending-%" PRIu64, fs->pending_root, id) < 0)
		fx_oom();
	return p;
}

static char *join_path(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		fx_oom();
	return p;
}

/* Removes path and everything under it; a missing path is fine. */
static int remove_tree(const char *path)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char *sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		sub = join_path(path, e->d_name);
		if (remove_tree(sub) != 0)
			rc = -1;
		free(sub);
	}
	closedir(d);
	if (rc == 0 && rmdir(path) != 0)
		rc = -1;
	return rc;
}

static int write_all_at(int fd, const char *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* Syncs the parents of the directories mkdir_p made, so that they stay. */
static int sync_made_dirs(struct file_sink *fs)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < fs->made_dirs.n && !rc; i++) {
		char *parent = dir_of(fs->made_dirs.v[i]);

		if (fs_fsync_dir(parent) != 0) {
			fx_warn(fs->ctx, "%s: cannot sync: %s", parent,
			        strerror(errno));
			rc = FX_EXIT_IO;
		}
		free(parent);
	}
	return rc;
}

/*
 * Applies one pending file: the output file REL is truncated to base bytes
 * and the pending bytes (psize) written after them, then synced. Running it
 * twice gives the same file.
 */
static int apply_file(struct file_sink *fs, const char *rel,
                      const char *pending, uint64_t base, uint64_t psize)
{
	char *out = join_path(fs->o->dir, rel), *dir = dir_of(out);
	char buf[65536];
	int in = -1, fd = -1, rc = FX_EXIT_IO;
	uint64_t done = 0;
	const char *what = out;

	fx_strlist_free(&fs->made_dirs);
	if (mkdir_p(fs, dir) || sync_made_dirs(fs))
		goto out;
	fd = open(out, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0 || ftruncate(fd, (off_t)base) != 0)
		goto fail;
	what = pending;
	in = open(pending, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		goto fail;
	while (done < psize) {
		ssize_t r = read(in, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO; /* shorter than committed */
			goto fail;
		}
		if ((uint64_t)r > psize - done)
			r = (ssize_t)(psize - done);
		what = out;
		if (write_all_at(fd, buf, (size_t)r, (off_t)(base + done)) != 0)
			goto fail;
		done += (uint64_t)r;
		what = pending;
	}
	what = out;
	if (fsync(fd) != 0 || fs_fsync_dir(dir) != 0)
		goto fail;
	fs->ctx->st.bytes_out += psize;
	rc = 0;
	goto out;
fail:
	fx_warn(fs->ctx, "%s: cannot apply checkpoint: %s", what,
	        strerror(errno));
out:
	if (in >= 0)
		close(in);
	if (fd >= 0)
		close(fd);
	free(out);
	free(dir);
	return rc;
}

/* The file of REL in pending-NEXT, created (its directories too). */
static int pending_open(struct file_sink *fs, struct out_file *f,
                        const char *rel)
{
	char *pd = pending_dir(fs, fs->next_id);
	int rc;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->rel = fx_strdup(rel);
	f->path = join_path(pd, rel);
	free(pd);
	pd = dir_of(f->path);
	rc = mkdir_p(fs, pd);
	free(pd);
	if (rc)
		return rc;
	f->fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (f->fd < 0) {
		fx_warn(fs->ctx, "%s: cannot create: %s", f->path,
		        strerror(errno));
		return FX_EXIT_IO;
	}
	record_writer_init(&f->w, fs->ctx, f->fd, f->path);
	if (f->w.cap > (64 << 10))
		f->w.cap = 64 << 10;
	/* CSV: the header once per output file, in the job's first commit */
	f->header_done = ckpt_state_file(&fs->committed, rel) > 0;
	return 0;
}

/* Frees the pending files (without writing them) and empties the map. */
static void drop_parts(struct file_sink *fs)
{
	size_t i;

	for (i = 0; i < fs->parts.n; i++) {
		out_file_free(fs->parts.entries[i].value);
		free(fs->parts.entries[i].value);
	}
	strmap_free(&fs->parts);
	fx_strlist_free(&fs->made_dirs);
}

static int state_error(struct file_sink *fs, const char *what)
{
	char *path = join_path(fs->o->state, "committed.json");

	fx_warn(fs->ctx, "%s: cannot %s: %s", path, what, strerror(errno));
	free(path);
	return FX_EXIT_IO;
}

/* Syncs the pending files and the directories that name them. */
static int sync_pending(struct file_sink *fs, uint64_t *sizes)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < fs->parts.n && !rc; i++) {
		struct out_file *f = fs->parts.entries[i].value;
		char *dir = dir_of(f->path);

		sizes[i] = record_writer_bytes_total(&f->w);
		rc = out_file_sync(fs, f);
		fs->ctx->st.bytes_out -= f->w.bytes; /* counted when applied */
		if (!rc && fs_fsync_dir(dir) != 0) {
			fx_warn(fs->ctx, "%s: cannot sync: %s", dir,
			        strerror(errno));
			rc = FX_EXIT_IO;
		}
		free(dir);
	}
	return rc ? rc : sync_made_dirs(fs);
}

/*
 * Barrier br: commits what was written since the last one as checkpoint
 * br->id. 0 or FX_EXIT_IO (reported). Once committed.json is renamed the
 * checkpoint is committed: a failure after it leaves pending-K for the next
 * run's recovery to apply.
 */
static int ckpt_commit(struct file_sink *fs, const struct ckpt_barrier *br,
                       const struct fx_where *where)
{
	size_t n = fs->parts.n, i;
	uint64_t *sizes = fx_malloc((n + 1) * sizeof(*sizes));
	uint64_t *base = fx_malloc((n + 1) * sizeof(*base));
	char *pd = NULL;
	int rc;

	if (br->id <= fs->committed.id) {
		char w[256];

		fx_warn(fs->ctx,
		        "%s: checkpoint %" PRIu64 " after checkpoint %" PRIu64
		        " was committed: ids must count up",
		        fx_where_format(where, w, sizeof(w)), br->id,
		        fs->committed.id);
		rc = FX_EXIT_IO;
		goto out;
	}
	rc = sync_pending(fs, sizes);
	if (rc)
		goto out;
	pd = pending_dir(fs, br->id);
	if (br->id != fs->next_id && n) {
		char *old = pending_dir(fs, fs->next_id);

		if (rename(old, pd) != 0 ||
		    fs_fsync_dir(fs->pending_root) != 0) {
			fx_warn(fs->ctx, "%s: cannot rename: %s", old,
			        strerror(errno));
			rc = FX_EXIT_IO;
		}
		free(old);
		if (rc)
			goto out;
	}
	for (i = 0; i < n; i++) {
		struct out_file *f = fs->parts.entries[i].value;
		int64_t prev = ckpt_state_file(&fs->committed, f->rel);

		base[i] = prev < 0 ? 0 : (uint64_t)prev;
		ckpt_state_set_file(&fs->committed, f->rel, base[i] + sizes[i]);
	}
	for (i = 0; i < fs->committed.npos; i++)
		free(fs->committed.pos[i].topic);
	fs->committed.npos = 0;
	for (i = 0; i < br->npos; i++)
		ckpt_state_set_position(&fs->committed, br->pos[i].topic,
		                        br->pos[i].partition,
		                        br->pos[i].offset);
	fs->committed.id = br->id;
	if (ckpt_state_write(fs->o->state, &fs->committed) != 0) {
		rc = state_error(fs, "write");
		goto out;
	}
	/* committed: from here on the records go to pending-K+1 */
	fs->ctx->ckpt.committed = br->id;
	fs->next_id = br->id + 1;
	fs->records_commit += fs->records_pending;
	fs->records_pending = 0;
	for (i = 0; i < n && !rc; i++) {
		struct out_file *f = fs->parts.entries[i].value;
		char *p = join_path(pd, f->rel);

		rc = apply_file(fs, f->rel, p, base[i], sizes[i]);
		free(p);
	}
	if (!rc && n &&
	    (remove_tree(pd) != 0 || fs_fsync_dir(fs->pending_root) != 0)) {
		fx_warn(fs->ctx, "%s: cannot remove: %s", pd, strerror(errno));
		rc = FX_EXIT_IO;
	}
out:
	drop_parts(fs);
	free(pd);
	free(sizes);
	free(base);
	return rc;
}

/* A "checkpoint" or "restore" record; others (watermarks) are ignored. */
static int ckpt_control(struct file_sink *fs, const struct record *rec,
                        const struct fx_where *where)
{
	struct json_member m;
	size_t pos = 0;
	char w[256];

	if (!json_object_next(rec->p, rec->len, &pos, &m) ||
	    !(json_string_equals(&m.val, "checkpoint", 10) ||
	      json_string_equals(&m.val, "restore", 7)))
		return 0;
	if (ckpt_barrier_parse(rec->p, rec->len, &fs->barrier) != 0)
		return dropped(
		    fx_bad_record(fs->ctx, where, "_fx", rec->p, rec->len,
		                  "not a valid checkpoint or restore "
		                  "record"));
	if (!fs->barrier.restore && !fs->restored)
		return ckpt_refuse_unrestored(fs->ctx, where, &fs->barrier,
		                              fs->o->state, fs->committed.id);
	if (!fs->barrier.restore) {
		fs->ctx->ckpt.last = fs->barrier.id;
		return ckpt_commit(fs, &fs->barrier, where);
	}
	fs->restored = 1;
	fs->ctx->ckpt.restored_seen = 1;
	fs->ctx->ckpt.restored = fs->barrier.id;
	if (fs->barrier.id == fs->committed.id)
		return 0;
	fx_warn(fs->ctx,
	        "%s: the source resumes from checkpoint %" PRIu64
	        " but the sink committed %" PRIu64 " (%s/committed.json)",
	        fx_where_format(where, w, sizeof(w)), fs->barrier.id,
	        fs->committed.id, fs->o->state);
	return FX_EXIT_IO;
}

/*
 * Recovery, step 1: applies again the files of pending-K (K the committed
 * id) under dir/rel. 0 or FX_EXIT_IO (reported).
 */
static int reapply_tree(struct file_sink *fs, const char *root, const char *rel)
{
	char *dir = rel ? join_path(root, rel) : fx_strdup(root);
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d) {
		fx_warn(fs->ctx, "%s: %s", dir, strerror(errno));
		free(dir);
		return FX_EXIT_IO;
	}
	while (!rc && (e = readdir(d))) {
		char *sub, *path;
		struct stat st;
		int64_t c;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		sub = rel ? join_path(rel, e->d_name) : fx_strdup(e->d_name);
		path = join_path(root, sub);
		if (lstat(path, &st) != 0) {
			fx_warn(fs->ctx, "%s: %s", path, strerror(errno));
			rc = FX_EXIT_IO;
		} else if (S_ISDIR(st.st_mode)) {
			rc = reapply_tree(fs, root, sub);
		} else if ((c = ckpt_state_file(&fs->committed, sub)) < 0 ||
		           (uint64_t)c < (uint64_t)st.st_size) {
			fx_warn(fs->ctx,
			        "%s: pending data that committed checkpoint "
			        "%" PRIu64 " does not account for (%s/"
			        "committed.json)",
			        path, fs->committed.id, fs->o->state);
			rc = FX_EXIT_IO;
		} else {
			rc = apply_file(fs, sub, path,
			                (uint64_t)c - (uint64_t)st.st_size,
			                (uint64_t)st.st_size);
		}
		free(sub);
		free(path);
	}
	closedir(d);
	free(dir);
	return rc;
}

/* Recovery, step 2: every output file back to its committed size. */
static int truncate_committed(struct file_sink *fs)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < fs->committed.nfiles && !rc; i++) {
		const struct ckpt_file *cf = &fs->committed.files[i];
		char *out = join_path(fs->o->dir, cf->path);
		struct stat st;
		int fd;

		if (stat(out, &st) != 0) {
			if (errno != ENOENT || cf->size) {
				fx_warn(fs->ctx,
				        "%s: checkpoint %" PRIu64
				        " committed %" PRIu64 " bytes: %s",
				        out, fs->committed.id, cf->size,
				        strerror(errno));
				rc = FX_EXIT_IO;
			}
		} else if ((uint64_t)st.st_size < cf->size) {
			fx_warn(fs->ctx,
			        "%s: shorter (%" PRIu64
			        " bytes) than checkpoint %" PRIu64
			        " committed (%" PRIu64
			        "): the output changed behind the job",
			        out, (uint64_t)st.st_size, fs->committed.id,
			        cf->size);
			rc = FX_EXIT_IO;
		} else if ((uint64_t)st.st_size > cf->size) {
			fd = open(out, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || ftruncate(fd, (off_t)cf->size) != 0 ||
			    fsync(fd) != 0) {
				fx_warn(fs->ctx, "%s: cannot truncate: %s", out,
				        strerror(errno));
				rc = FX_EXIT_IO;
			}
			if (fd >= 0)
				close(fd);
		}
		free(out);
	}
	return rc;
}

/* "pending-J": 1 and *id = J, else 0. */
static int pending_id(const char *name, uint64_t *id)
{
	char *end;

	if (strncmp(name, "pending-", 8) || name[8] < '0' || name[8] > '9')
		return 0;
	errno = 0;
	*id = strtoull(name + 8, &end, 10);
	return !*end && !errno;
}

/* At start, before any record: reads committed.json and recovers. */
static void ckpt_open(struct file_sink *fs)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (ckpt_state_read(fs->o->state, &fs->committed) != 0) {
		if (errno == EBADMSG) {
			char *path = join_path(fs->o->state, "committed.json");

			fx_die(fs->ctx, FX_EXIT_IO,
			       "%s: corrupt: not a whole committed.json "
			       "(the job's committed checkpoint)",
			       path);
		}
		exit(state_error(fs, "read"));
	}
	fs->next_id = fs->committed.id + 1;
	fs->ctx->ckpt.on = 1; /* --stats, lineage */
	fs->ctx->ckpt.committed = fs->committed.id;
	fs->pending_root = join_path(fs->o->state, "fx-sink");
	d = opendir(fs->pending_root);
	if (!d && errno != ENOENT)
		fx_die(fs->ctx, FX_EXIT_IO, "%s: %s", fs->pending_root,
		       strerror(errno));
	while (d && !rc && (e = readdir(d))) {
		char *p;
		uint64_t j;

		if (!pending_id(e->d_name, &j))
			continue;
		p = join_path(fs->pending_root, e->d_name);
		/* J < K was applied before K was committed; J > K never was */
		if (j == fs->committed.id)
			rc = reapply_tree(fs, p, NULL);
		if (!rc && remove_tree(p) != 0) {
			fx_warn(fs->ctx, "%s: cannot remove: %s", p,
			        strerror(errno));
			rc = FX_EXIT_IO;
		}
		free(p);
	}
	if (d)
		closedir(d);
	if (!rc)
		rc = truncate_committed(fs);
	if (!rc)
		fs_fsync_dir(fs->pending_root);
	fx_strlist_free(&fs->made_dirs);
	if (rc)
		exit(rc);
}

/* At the end: what no barrier committed is dropped. */
static int ckpt_close(struct file_sink *fs)
{
	char *pd = pending_dir(fs, fs->next_id);
	int rc = 0;

	drop_parts(fs);
	if (remove_tree(pd) != 0) {
		fx_warn(fs->ctx, "%s: cannot remove: %s", pd, strerror(errno));
		rc = FX_EXIT_IO;
	}
	free(pd);
	lineage_count(fs->dataset, fs->records_commit);
	return rc;
}

/* ---- partitions ---- */

/*
 * The first component of the n bytes at p longer than a directory name may
 * be (NAME_MAX), or NULL; *clen its length.
 */
static const char *long_component(const char *p, size_t n, size_t *clen)
{
	const char *end = p + n, *slash;

	for (; p < end; p = slash + 1) {
		slash = memchr(p, '/', (size_t)(end - p));
		if (!slash)
			slash = end;
		if ((size_t)(slash - p) > NAME_MAX) {
			*clen = (size_t)(slash - p);
			return p;
		}
	}
	return NULL;
}

/* A directory name too long for the file system: a bad record. */
static int too_long(struct file_sink *fs, const struct record *rec,
                    const struct fx_where *where, const char *field,
                    const char *name, size_t len)
{
	size_t shown = 40;

	while (shown && ((unsigned char)name[shown] & 0xc0) == 0x80)
		shown--; /* not in the middle of a UTF-8 character */
	return dropped(fx_bad_record(
	    fs->ctx, where, field, rec->p, rec->len,
	    "too long for a directory name: \"%.*s...\" is %zu bytes, at most %d",
	    (int)shown, name, len, NAME_MAX));
}

/*
 * The whole path of the record's temporary file must fit in PATH_MAX (a
 * bad record otherwise, field the partition field that made it long).
 */
static int path_too_long(struct file_sink *fs, const struct record *rec,
                         const struct fx_where *where, const char *field)
{
	size_t n = fs->key.len + 1 + strlen(fs->part_file) + 32;

	if (n < PATH_MAX)
		return 0;
	return dropped(fx_bad_record(
	    fs->ctx, where, field, rec->p, rec->len,
	    "the directory makes a path longer than %d bytes", PATH_MAX - 1));
}

/* Appends "f1=v1/f2=v2" for the record to fs->key, or reports it bad. */
static int partition_dir(struct file_sink *fs, const struct record *rec,
                         const struct json_value *vals,
                         const struct fx_where *where)
{
	size_t i;

	fx_buf_reset(&fs->key);
	fx_buf_adds(&fs->key, fs->root);
	for (i = 0; i < fs->paths.n; i++) {
		const struct json_value *v = &vals[i];
		size_t start = fs->key.len + 1;

		fx_buf_addc(&fs->key, '/');
		fx_buf_adds(&fs->key, fs->paths.v[i].name);
		fx_buf_addc(&fs->key, '=');
		switch (v->type) {
		case JSON_MISSING:
			return dropped(fx_bad_record(
			    fs->ctx, where, fs->paths.v[i].name, rec->p,
			    rec->len, "missing (a partition field)"));
		case JSON_OBJECT:
		case JSON_ARRAY:
			return dropped(fx_bad_record(
			    fs->ctx, where, fs->paths.v[i].name, rec->p,
			    rec->len, "cannot partition by an %s",
			    json_type_name(v->type)));
		case JSON_NULL:
			hive_encode(&fs->key, "", 0);
			break;
		case JSON_STRING:
			/* "\ud800" is not "\ufffd": hive.h */
			fx_buf_reset(&fs->scratch);
			json_string_unescape_wtf8(v, &fs->scratch);
			hive_encode(&fs->key, fs->scratch.p, fs->scratch.len);
			break;
		default:
			hive_encode(&fs->key, v->p, v->len);
		}
		if (fs->key.len - start > NAME_MAX)
			return too_long(fs, rec, where, fs->paths.v[i].name,
			                fs->key.p + start, fs->key.len - start);
	}
	return path_too_long(fs, rec, where, fs->paths.v[fs->paths.n - 1].name);
}

/* Is the directory d (n bytes) a relative path that stays under --dir? */
static const char *dest_problem(const char *d, size_t n)
{
	const char *c = d, *end = d + n, *slash;

	if (n == 0)
		return "empty: not a directory";
	if (memchr(d, 0, n))
		return "a NUL byte in a directory name";
	if (*d == '/')
		return "an absolute path: must be relative to --dir";
	/* "a/" and "./a" name the directory "a" does: one name per directory */
	for (;; c = slash + 1) {
		slash = memchr(c, '/', (size_t)(end - c));
		if (!slash)
			slash = end;
		if (slash == c)
			return "an empty path component";
		if (slash - c == 1 && c[0] == '.')
			return "a '.' component";
		if (slash - c == 2 && c[0] == '.' && c[1] == '.')
			return "a '..' component: must stay under --dir";
		if (slash == end)
			return NULL;
	}
}

/* Appends "DIR/_fx_dest" to fs->key, or reports the record bad. */
static int dest_dir(struct file_sink *fs, const struct record *rec,
                    const struct json_value *v, const struct fx_where *where)
{
	const char *why, *c;
	size_t clen;

	if (v->type != JSON_STRING)
		return dropped(fx_bad_record(
		    fs->ctx, where, "_fx_dest", rec->p, rec->len,
		    v->type == JSON_MISSING
		        ? "missing: --dir without --partition routes by _fx_dest (fx-partition --files)"
		        : "not a string"));
	fx_buf_reset(&fs->scratch);
	json_string_unescape(v, &fs->scratch);
	why = dest_problem(fs->scratch.p, fs->scratch.len);
	if (why)
		return dropped(fx_bad_record(fs->ctx, where, "_fx_dest", rec->p,
		                             rec->len, "%s", why));
	c = long_component(fs->scratch.p, fs->scratch.len, &clen);
	if (c)
		return too_long(fs, rec, where, "_fx_dest", c, clen);
	fx_buf_reset(&fs->key);
	fx_buf_adds(&fs->key, fs->root);
	fx_buf_addc(&fs->key, '/');
	fx_buf_add(&fs->key, fs->scratch.p, fs->scratch.len);
	return path_too_long(fs, rec, where, "_fx_dest");
}

/*
 * The record field whose value is in the directory name c (clen bytes) the
 * table made: the partition whose escaped value it holds (buf: scratch).
 */
static const char *table_field_in(struct file_sink *fs, const char *c,
                                  size_t clen, struct fx_buf *buf)
{
	size_t i, n = table_nparts(fs->o->table);

	for (i = 0; i < n; i++) {
		fx_buf_reset(buf);
		hive_encode(buf, table_value(&fs->tv, i), fs->tv.len[i]);
		if (buf->len && memmem(c, clen, buf->p, buf->len))
			return table_part(fs->o->table, i)->field;
	}
	return table_part(fs->o->table, 0)->field;
}

/* Appends "DIR/TABLE-DIR" to fs->key, or reports the record bad. */
static int table_dest_dir(struct file_sink *fs, const struct record *rec,
                          const struct json_value *vals,
                          const struct fx_where *where)
{
	const char *field, *why, *c;
	size_t clen, n;

	if (table_values_of(fs->o->table, vals, &fs->tv, &field, &why))
		return dropped(fx_bad_record(fs->ctx, where, field, rec->p,
		                             rec->len, "%s", why));
	table_dir(fs->o->table, &fs->tv, &fs->scratch);
	c = long_component(fs->scratch.p, fs->scratch.len, &clen);
	if (c)
		return too_long(fs, rec, where,
		                table_field_in(fs, c, clen, &fs->colname), c,
		                clen);
	fx_buf_reset(&fs->key);
	fx_buf_adds(&fs->key, fs->root);
	fx_buf_addc(&fs->key, '/');
	fx_buf_add(&fs->key, fs->scratch.p, fs->scratch.len);
	n = table_nparts(fs->o->table);
	return path_too_long(fs, rec, where,
	                     table_part(fs->o->table, n - 1)->field);
}

/*
 * --overwrite: a record's directory (fs->key) must be in the tree it
 * replaces; else it is a bad record, named by the first directory name
 * that differs and the partition field that made it.
 */
static int overwrite_check(struct file_sink *fs, const struct record *rec,
                           const struct fx_where *where)
{
	const char *rel = fs->key.p + strlen(fs->root) + 1;
	size_t rlen = fs->key.len - strlen(fs->root) - 1, comp = 0, i, k;
	const char *pre = fs->ow_prefix, *field;
	size_t plen = strlen(pre);
	int part;

	if (!plen || (rlen >= plen && !memcmp(rel, pre, plen) &&
	              (rlen == plen || rel[plen] == '/')))
		return 0;
	/* the first component that differs, and its start in rel */
	for (i = k = 0; i < rlen && i < plen && rel[i] == pre[i]; i++)
		if (rel[i] == '/') {
			comp++;
			k = i + 1;
		}
	for (i = k; i < rlen && rel[i] != '/'; i++)
		;
	part = fs->ow_field[comp];
	if (part < 0)
		field = NULL;
	else if (fs->o->table)
		field = table_part(fs->o->table, (size_t)part)->field;
	else
		field = fs->paths.v[part].name;
	return dropped(fx_bad_record(
	    fs->ctx, where, field, rec->p, rec->len,
	    "'%.*s' is outside '%s/%s', the partition --overwrite %s replaces",
	    (int)(i - k), rel + k, fs->o->dir, pre, fs->o->overwrite));
}

/* The directory of a record under --dir into fs->key, or DROPPED. */
static int record_dir(struct file_sink *fs, const struct record *rec,
                      const struct json_value *vals,
                      const struct fx_where *where)
{
	int rc;

	if (fs->o->table)
		rc = table_dest_dir(fs, rec, vals, where);
	else if (fs->o->partition.n)
		rc = partition_dir(fs, rec, vals, where);
	else
		rc = dest_dir(fs, rec, &vals[0], where);
	if (!rc && fs->stage)
		rc = overwrite_check(fs, rec, where);
	return rc;
}

/* The file of the directory in fs->key (fs->key is left as it is). */
static struct out_file *partition_file(struct file_sink *fs, int *rc)
{
	struct out_file *f = strmap_get(&fs->parts, fs->key.p, fs->key.len);
	char *dir, *path;

	if (f)
		return f;
	dir = fx_strndup(fs->key.p, fs->key.len);
	/* checkpoint mode: the output's directories are made when applied */
	*rc = fs->o->state ? 0 : mkdir_p(fs, dir);
	if (*rc) {
		free(dir);
		return NULL;
	}
	if (asprintf(&path, "%s/%s", dir, fs->part_file) < 0)
		fx_oom();
	free(dir);
	f = fx_malloc(sizeof(*f));
	if (fs->o->state)
		*rc = pending_open(fs, f, path + strlen(fs->root) + 1);
	else
		*rc = out_file_open(fs, f, path, 64 << 10);
	free(path);
	if (*rc) {
		if (fs->o->state)
			out_file_free(f);
		free(f);
		return NULL;
	}
	strmap_put(&fs->parts, fs->key.p, fs->key.len, f);
	return f;
}

/* ---- INSERT OVERWRITE (--overwrite) ---- */

/*
 * Every file of the run goes to a staging tree, STAGE, that mirrors --dir:
 * DIR/.fx-overwrite-PID, or, when the whole of DIR is replaced (--partition
 * with "all"), .BASE.fx-overwrite-PID beside it (a directory cannot be
 * exchanged with one inside it). Readers pass over hidden names, so the
 * staging tree is never read as data. At the end of the input the staged
 * STAGE/PREFIX and DIR/PREFIX are exchanged (renameat2 RENAME_EXCHANGE;
 * rename() when DIR/PREFIX does not exist yet), the directories synced,
 * and STAGE, now holding the old tree, removed. Until the exchange the old
 * tree is untouched; a staging tree whose run is gone (a SIGKILL) is
 * removed by the next run that stages beside it.
 */

#define STAGE_TAG ".fx-overwrite-"

/* Removes the staging trees named PREFIX.fx-overwrite-PID in dir whose
 * process is gone. */
static void remove_stale_stages(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	size_t plen = strlen(prefix), tlen = strlen(STAGE_TAG);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		char *end, *sub;
		long pid;

		if (strncmp(n, prefix, plen) ||
		    strncmp(n + plen, STAGE_TAG, tlen))
			continue;
		n += plen + tlen;
		if (*n < '1' || *n > '9')
			continue;
		errno = 0;
		pid = strtol(n, &end, 10);
		if (*end || errno || pid > INT_MAX || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		sub = join_path(dir, e->d_name);
		remove_tree(sub);
		free(sub);
	}
	closedir(d);
}

/* One NAME=V of the --overwrite list, and the partition it names. */
struct ow_item {
	const char *name;
	size_t nlen;
	const char *val;
	size_t vlen;
};

/* Splits spec into items; usage errors exit. Returns the count. */
static size_t ow_parse(struct fx_ctx *ctx, const char *spec, struct ow_item *v,
                       size_t max)
{
	const char *s = spec;
	size_t n = 0, i;

	for (;;) {
		const char *comma = strchr(s, ','), *eq;
		size_t len = comma ? (size_t)(comma - s) : strlen(s);

		eq = memchr(s, '=', len);
		if (!eq || eq == s)
			fx_usage_error(
			    ctx,
			    "--overwrite: expected NAME=V[,NAME=V]... "
			    "or all, got '%s'",
			    spec);
		if (n == max)
			fx_usage_error(ctx,
			               "--overwrite: more than %zu "
			               "partitions",
			               max);
		v[n] = (struct ow_item){s, (size_t)(eq - s), eq + 1,
		                        len - (size_t)(eq - s) - 1};
		for (i = 0; i < n; i++)
			if (v[i].nlen == v[n].nlen &&
			    !memcmp(v[i].name, v[n].name, v[n].nlen))
				fx_usage_error(
				    ctx, "--overwrite: '%.*s' given twice",
				    (int)v[n].nlen, v[n].name);
		n++;
		if (!comma)
			return n;
		s = comma + 1;
	}
}

/* The item naming partition name, or NULL. */
static const struct ow_item *ow_find(const struct ow_item *v, size_t n,
                                     const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < n; i++)
		if (v[i].nlen == len && !memcmp(v[i].name, name, len))
			return &v[i];
	return NULL;
}

/* "dt, os": the partition names, for messages. */
static void ow_names(const struct file_sink *fs, struct fx_buf *out)
{
	size_t i, n = fs->o->table ? table_nparts(fs->o->table) : fs->paths.n;

	for (i = 0; i < n; i++) {
		if (i)
			fx_buf_adds(out, fs->o->table ? ", " : ",");
		fx_buf_adds(out, fs->o->table
		                     ? table_part(fs->o->table, i)->name
		                     : fs->paths.v[i].name);
	}
	fx_buf_addc(out, 0);
}

/* Usage error: item it is not a partition. */
static void ow_unknown(struct file_sink *fs, const struct ow_item *it)
{
	struct fx_buf names = FX_BUF_INIT;

	ow_names(fs, &names);
	if (fs->o->table)
		fx_usage_error(
		    fs->ctx,
		    "--overwrite: '%.*s' is not a partition of table "
		    "'%s' (its partitions: %s)",
		    (int)it->nlen, it->name, table_name(fs->o->table), names.p);
	fx_usage_error(fs->ctx,
	               "--overwrite: '%.*s' is not a partition (--partition "
	               "%s)",
	               (int)it->nlen, it->name, names.p);
}

/* Usage error: partition `named` is given without `missing` before it. */
static void ow_not_leading(struct file_sink *fs, const char *named,
                           const char *missing)
{
	fx_usage_error(fs->ctx,
	               "--overwrite: '%s' without '%s': the partitions "
	               "replaced must be the leading ones of the %s",
	               named, missing,
	               fs->o->table ? "table's directory template"
	                            : "--partition list");
}

/* The partition a component of the dir template holds ("dt={dt}"), or -1;
 * comp is len bytes. */
static int tpl_comp_part(const struct table *t, const char *comp, size_t len)
{
	const char *open = memchr(comp, '{', len), *close;
	size_t i, n = table_nparts(t);

	if (!open)
		return -1;
	close = memchr(open, '}', len - (size_t)(open - comp));
	for (i = 0; close && i < n; i++) {
		const char *name = table_part(t, i)->name;

		if (strlen(name) == (size_t)(close - open - 1) &&
		    !memcmp(name, open + 1, (size_t)(close - open - 1)))
			return (int)i;
	}
	return -1;
}

/* The index of the partition item it names (--table: by partition name,
 * --partition: by field); usage error if none. */
static size_t ow_index(struct file_sink *fs, const struct ow_item *it)
{
	size_t k, np = fs->o->table ? table_nparts(fs->o->table) : fs->paths.n;

	for (k = 0; k < np; k++) {
		const char *name = fs->o->table
		                       ? table_part(fs->o->table, k)->name
		                       : fs->paths.v[k].name;

		if (ow_find(it, 1, name))
			return k;
	}
	ow_unknown(fs, it);
	return 0;
}

static const char *part_name(const struct file_sink *fs, size_t k)
{
	return fs->o->table ? table_part(fs->o->table, k)->name
	                    : fs->paths.v[k].name;
}

/*
 * The tree --overwrite replaces, under --dir, into fs->ow_prefix ("" for
 * the whole of --dir) and fs->ow_field: the leading components of the
 * directory template (--table's "files" "dir", or --partition's
 * F1={F1}/F2={F2}/...) up to the last one whose partition is named, each
 * placeholder replaced by its value as the records' directories are
 * (hive_encode). With "all": the template's leading literal names (none
 * for --partition). Every partition before the cut must be named, and
 * only those: else a usage error (exit 2).
 */
static void ow_prefix_of(struct file_sink *fs)
{
	const struct file_sink_opts *o = fs->o;
	struct ow_item items[TABLE_MAX_PARTS + 1];
	const struct ow_item *by_part[TABLE_MAX_PARTS] = {0};
	struct fx_buf tpl = FX_BUF_INIT, pre = FX_BUF_INIT;
	size_t n = 0, i, ncomp = 0, cut = 0;
	const char *c;

	if (strcmp(o->overwrite, "all") != 0)
		n = ow_parse(fs->ctx, o->overwrite, items, TABLE_MAX_PARTS + 1);
	for (i = 0; i < n; i++)
		by_part[ow_index(fs, &items[i])] = &items[i];
	/* the template; for --partition, one placeholder per component */
	if (o->table) {
		fx_buf_adds(&tpl, table_dir_template(o->table));
	} else {
		for (i = 0; i < fs->paths.n; i++)
			fx_buf_adds(&tpl, i ? "/{}" : "{}");
	}
	fx_buf_addc(&tpl, 0);
	for (c = tpl.p; c; c = strchr(c, '/'), c = c ? c + 1 : NULL)
		ncomp++;
	fs->ow_field = fx_malloc(ncomp * sizeof(*fs->ow_field));
	for (c = tpl.p, i = 0; i < ncomp; i++) {
		const char *e = strchr(c, '/');
		size_t len = e ? (size_t)(e - c) : strlen(c);
		int part = o->table ? tpl_comp_part(o->table, c, len) : (int)i;

		fs->ow_field[i] = part;
		if (n ? part >= 0 && by_part[part] : part < 0 && cut == i)
			cut = i + 1;
		c = e ? e + 1 : c + len;
	}
	for (c = tpl.p, i = 0; i < cut; i++) {
		const char *e = strchr(c, '/');
		size_t len = e ? (size_t)(e - c) : strlen(c);
		int part = fs->ow_field[i];
		const char *open, *close;

		if (i)
			fx_buf_addc(&pre, '/');
		if (part < 0) {
			fx_buf_add(&pre, c, len);
			c = e ? e + 1 : c + len;
			continue;
		}
		if (!by_part[part])
			ow_not_leading(
			    fs, part_name(fs, (size_t)fs->ow_field[cut - 1]),
			    part_name(fs, (size_t)part));
		if (!o->table) { /* as partition_dir() writes it */
			fx_buf_adds(&pre, fs->paths.v[i].name);
			fx_buf_addc(&pre, '=');
			hive_encode(&pre, by_part[part]->val,
			            by_part[part]->vlen);
			c = e ? e + 1 : c + len;
			continue;
		}
		open = memchr(c, '{', len);
		close = memchr(open, '}', len - (size_t)(open - c));
		fx_buf_add(&pre, c, (size_t)(open - c));
		hive_encode(&pre, by_part[part]->val, by_part[part]->vlen);
		fx_buf_add(&pre, close + 1, len - (size_t)(close + 1 - c));
		c = e ? e + 1 : c + len;
	}
	fx_buf_addc(&pre, 0);
	fs->ow_prefix = fx_strdup(pre.p);
	fx_buf_free(&pre);
	fx_buf_free(&tpl);
}

/* --dir without its trailing '/'s: a new string */
static char *dir_trimmed(const char *dir)
{
	char *d = fx_strdup(dir);
	size_t len = strlen(d);

	while (len > 1 && d[len - 1] == '/')
		d[--len] = 0;
	return d;
}

/*
 * The whole of DIR (d, trimmed) is replaced: its last name (in d), which
 * must be a name, and its parent (a new string), where the hidden trees
 * go (a directory cannot be exchanged with one inside it).
 */
static const char *whole_dir(struct file_sink *fs, const char *d, char **parent)
{
	const char *base = strrchr(d, '/');

	base = base ? base + 1 : d;
	if (!strcmp(base, ".") || !strcmp(base, "..") || !*base ||
	    !strcmp(d, "/"))
		fx_usage_error(fs->ctx,
		               "--overwrite all: replaces '%s' itself, "
		               "which must be named (not '.', '..' or "
		               "'/')",
		               fs->o->dir);
	*parent = dir_of(d);
	return base;
}

#define PREPARED_TAG ".fx-overwrite-prepared"
#define ID_TAG       ".fx-overwrite-id"

/*
 * --prepare, --commit: the prepared tree's and the ID file's names
 * (filesink.h, "In two phases"), into fs->prepared and fs->ow_id. A
 * usage error when they would be longer than a file name can be.
 */
static void ow_phase_names(struct file_sink *fs)
{
	char *d = dir_trimmed(fs->o->dir), *parent;
	struct fx_buf esc = FX_BUF_INIT;
	const char *c, *base;
	int rc;

	if (fs->ow_prefix[0]) {
		for (c = fs->ow_prefix; *c; c++) {
			if (*c == '%')
				fx_buf_adds(&esc, "%25");
			else if (*c == '/')
				fx_buf_adds(&esc, "%2F");
			else
				fx_buf_addc(&esc, *c);
		}
		fx_buf_addc(&esc, 0);
		/* the ID file's temporary name adds ".tmp.PID" */
		if (strlen(PREPARED_TAG) + esc.len + 24 > NAME_MAX)
			fx_usage_error(fs->ctx,
			               "--overwrite %s: '%s' is too long to "
			               "name its prepared tree",
			               fs->o->overwrite, fs->ow_prefix);
		rc =
		    asprintf(&fs->prepared, "%s/" PREPARED_TAG ".%s", d, esc.p);
		if (rc >= 0)
			rc = asprintf(&fs->ow_id, "%s/" ID_TAG ".%s", d, esc.p);
	} else {
		base = whole_dir(fs, d, &parent);
		if (strlen(base) + strlen(PREPARED_TAG) + 24 > NAME_MAX)
			fx_usage_error(fs->ctx,
			               "--overwrite all: '%s' is too long to "
			               "name its prepared tree",
			               base);
		rc = asprintf(&fs->prepared, "%s/.%s" PREPARED_TAG, parent,
		              base);
		if (rc >= 0)
			rc =
			    asprintf(&fs->ow_id, "%s/.%s" ID_TAG, parent, base);
		free(parent);
	}
	if (rc < 0)
		fx_oom();
	fx_buf_free(&esc);
	free(d);
}

/*
 * Removes the staging trees of runs that no longer run (a SIGKILL) where
 * this sink's would go: in DIR, or beside it when the whole of DIR is
 * replaced.
 */
static void ow_remove_stale(struct file_sink *fs)
{
	char *d = dir_trimmed(fs->o->dir), *parent, *hidden;
	const char *base;

	if (fs->ow_prefix[0]) {
		remove_stale_stages(d, "");
	} else {
		/* ".BASE" then the tag: hidden beside DIR */
		base = whole_dir(fs, d, &parent);
		if (asprintf(&hidden, ".%s", base) < 0)
			fx_oom();
		remove_stale_stages(parent, hidden);
		free(hidden);
		free(parent);
	}
	free(d);
}

/*
 * Sets up the staging tree: STAGE (removing those of dead runs) and
 * STAGE/PREFIX, the tree that replaces DIR/PREFIX even if no record
 * comes. Records' directories then go under STAGE (fs->root). --prepare:
 * an earlier prepared tree of the same partitions goes first (its ID
 * file before it), so that this run, if it fails, leaves none.
 */
static void ow_open(struct file_sink *fs)
{
	char *d = dir_trimmed(fs->o->dir), *parent, *staged;
	const char *base;

	if (fs->o->ow_phase == OW_PREPARE &&
	    ((unlink(fs->ow_id) != 0 && errno != ENOENT) ||
	     remove_tree(fs->prepared) != 0)) {
		fx_warn(fs->ctx,
		        "%s: cannot remove the earlier prepared tree: %s",
		        fs->prepared, strerror(errno));
		exit(FX_EXIT_IO);
	}
	ow_remove_stale(fs);
	if (fs->ow_prefix[0]) {
		if (asprintf(&fs->stage, "%s/" STAGE_TAG "%ld", d,
		             (long)getpid()) < 0)
			fx_oom();
	} else {
		/* the whole of DIR: a staging tree beside it */
		base = whole_dir(fs, d, &parent);
		if (asprintf(&fs->stage, "%s/.%s" STAGE_TAG "%ld", parent, base,
		             (long)getpid()) < 0)
			fx_oom();
		free(parent);
	}
	free(d);
	fs->root = fs->stage;
	staged = fs->ow_prefix[0] ? join_path(fs->stage, fs->ow_prefix)
	                          : fx_strdup(fs->stage);
	remove_tree(fs->stage); /* ours, from a pid reused */
	if (mkdir_p(fs, staged))
		exit(FX_EXIT_IO);
	free(staged);
}

/* fsyncs every directory this run made, and STAGE's parent. */
static void ow_sync_dirs(struct file_sink *fs)
{
	size_t i;

	for (i = 0; i < fs->made_dirs.n; i++)
		fs_fsync_dir(fs->made_dirs.v[i]);
}

/* DIR/PREFIX, the tree replaced: a new string */
static char *ow_target(const struct file_sink *fs)
{
	char *target = fs->ow_prefix[0] ? join_path(fs->o->dir, fs->ow_prefix)
	                                : fx_strdup(fs->o->dir);

	while (strlen(target) > 1 && target[strlen(target) - 1] == '/')
		target[strlen(target) - 1] = 0;
	return target;
}

/* STAGE/PREFIX, the tree staged: a new string */
static char *ow_staged(const struct file_sink *fs)
{
	return fs->ow_prefix[0] ? join_path(fs->stage, fs->ow_prefix)
	                        : fx_strdup(fs->stage);
}

/*
 * Exchanges staged (STAGE/PREFIX, or the prepared tree) with DIR/PREFIX
 * (whose parents are made first); rename() when DIR/PREFIX does not
 * exist. Where the file system cannot exchange (EINVAL), the old tree is
 * renamed to aside first, and put back if the second rename fails.
 * Returns 0 or FX_EXIT_IO (reported).
 */
static int ow_exchange(struct file_sink *fs, const char *staged,
                       const char *aside)
{
	char *target, *tparent, *sparent;
	struct stat st;
	int rc = 0, exists;

	target = ow_target(fs);
	tparent = dir_of(target);
	sparent = dir_of(staged);
	if (fs_mkdir_p(tparent) != 0) {
		fx_warn(fs->ctx, "%s: cannot create directory: %s", tparent,
		        strerror(errno));
		rc = FX_EXIT_IO;
		goto out;
	}
	exists = lstat(target, &st) == 0;
	if (exists && S_ISDIR(st.st_mode))
		chmod(staged, st.st_mode & 07777); /* the tree keeps its mode */
	if (!exists) {
		if (rename(staged, target) != 0) {
			fx_warn(fs->ctx, "%s: cannot rename into place: %s",
			        target, strerror(errno));
			rc = FX_EXIT_IO;
		}
	} else if (renameat2(AT_FDCWD, staged, AT_FDCWD, target,
	                     RENAME_EXCHANGE) != 0) {
		if (errno != EINVAL || !fs->ow_prefix[0]) {
			fx_warn(fs->ctx, "%s: cannot replace: %s", target,
			        strerror(errno));
			rc = FX_EXIT_IO;
		} else if (rename(target, aside) != 0) {
			fx_warn(fs->ctx, "%s: cannot move aside: %s", target,
			        strerror(errno));
			rc = FX_EXIT_IO;
		} else if (rename(staged, target) != 0) {
			fx_warn(fs->ctx, "%s: cannot rename into place: %s",
			        target, strerror(errno));
			if (rename(aside, target) != 0 && ++fs->keep_stage)
				fx_warn(fs->ctx,
				        "%s: cannot put the old tree back: %s "
				        "(it is %s)",
				        target, strerror(errno), aside);
			rc = FX_EXIT_IO;
		}
	}
	if (!rc) {
		fs_fsync_dir(tparent);
		fs_fsync_dir(sparent);
	}
out:
	free(target);
	free(tparent);
	free(sparent);
	return rc;
}

/* The staging tree exchanged with DIR/PREFIX (the one-phase end). */
static int ow_commit(struct file_sink *fs)
{
	char *staged = ow_staged(fs), *aside = join_path(fs->stage, ".old");
	int rc;

	ow_sync_dirs(fs);
	rc = ow_exchange(fs, staged, aside);
	free(staged);
	free(aside);
	return rc;
}

/*
 * --prepare's end: the staged tree renamed to the prepared tree's name
 * (an older one there, from a run beside this one, removed first), then
 * its ID file written. A crash in between leaves a prepared tree without
 * an ID file, which --commit refuses.
 */
static int ow_prepare(struct file_sink *fs)
{
	char *staged = ow_staged(fs), *parent = dir_of(fs->prepared);
	struct stat st;
	char id[64];
	int rc = 0;

	ow_sync_dirs(fs);
	if (stat(staged, &st) != 0) {
		fx_warn(fs->ctx, "%s: %s", staged, strerror(errno));
		rc = FX_EXIT_IO;
	} else if (remove_tree(fs->prepared) != 0 ||
	           rename(staged, fs->prepared) != 0) {
		fx_warn(fs->ctx, "%s: cannot rename into place: %s",
		        fs->prepared, strerror(errno));
		rc = FX_EXIT_IO;
	} else {
		snprintf(id, sizeof(id), "%ju %ju\n", (uintmax_t)st.st_dev,
		         (uintmax_t)st.st_ino);
		if (fs_fsync_dir(parent) != 0 ||
		    fs_write_file_atomic(fs->ow_id, id, strlen(id), "", 0)) {
			fx_warn(fs->ctx, "%s: cannot write: %s", fs->ow_id,
			        strerror(errno));
			remove_tree(fs->prepared);
			rc = FX_EXIT_IO;
		}
	}
	free(staged);
	free(parent);
	return rc;
}

/*
 * The prepared tree's ID file: 1 with *dev and *ino, 0 when there is
 * none, -FX_EXIT_IO (reported) when it cannot be read or is not one.
 */
static int ow_read_id(struct file_sink *fs, uintmax_t *dev, uintmax_t *ino)
{
	FILE *f = fopen(fs->ow_id, "re");
	int n;

	if (!f && errno == ENOENT)
		return 0;
	if (!f) {
		fx_warn(fs->ctx, "%s: %s", fs->ow_id, strerror(errno));
		return -FX_EXIT_IO;
	}
	n = fscanf(f, "%ju %ju", dev, ino);
	fclose(f);
	if (n != 2) {
		fx_warn(fs->ctx, "%s: not a prepared tree's ID file",
		        fs->ow_id);
		return -FX_EXIT_IO;
	}
	return 1;
}

/* Removes what a commit leaves: the old tree, then the ID file. */
static int ow_commit_done(struct file_sink *fs)
{
	char *parent = dir_of(fs->prepared);
	int rc = 0;

	if (remove_tree(fs->prepared) != 0 ||
	    (unlink(fs->ow_id) != 0 && errno != ENOENT) ||
	    fs_fsync_dir(parent) != 0) {
		fx_warn(fs->ctx,
		        "%s: cannot remove: %s (the new tree is in "
		        "place)",
		        fs->prepared, strerror(errno));
		rc = FX_EXIT_IO;
	}
	free(parent);
	return rc;
}

int file_sink_commit(struct file_sink *fs)
{
	char *target = ow_target(fs), *parent, *aside = NULL;
	uintmax_t dev = 0, ino = 0;
	struct stat st;
	int rc;

	rc = ow_read_id(fs, &dev, &ino);
	if (rc < 0) {
		rc = -rc;
		goto out;
	}
	if (rc == 1 && lstat(target, &st) == 0 && (uintmax_t)st.st_dev == dev &&
	    (uintmax_t)st.st_ino == ino) {
		/* a commit that stopped after its exchange: finish it */
		rc = ow_commit_done(fs);
		goto out;
	}
	if (lstat(fs->prepared, &st) != 0) {
		fx_warn(fs->ctx,
		        "%s: no prepared tree (--overwrite %s): nothing to "
		        "commit; run --prepare first",
		        fs->prepared, fs->o->overwrite);
		rc = FX_EXIT_IO;
		goto out;
	}
	if (rc == 0 || (uintmax_t)st.st_dev != dev ||
	    (uintmax_t)st.st_ino != ino) {
		fx_warn(fs->ctx,
		        "%s: not the tree its --prepare finished (no ID file "
		        "%s, or another): run --prepare again",
		        fs->prepared, fs->ow_id);
		rc = FX_EXIT_IO;
		goto out;
	}
	parent = dir_of(fs->prepared);
	if (asprintf(&aside, "%s/" STAGE_TAG "%ld", parent, (long)getpid()) < 0)
		fx_oom();
	free(parent);
	rc = ow_exchange(fs, fs->prepared, aside);
	if (!rc)
		rc = ow_commit_done(fs);
	if (!fs->keep_stage)
		remove_tree(aside);
out:
	free(aside);
	free(target);
	return rc;
}

/*
 * --abort: the ID file first (from then on no --commit takes the tree),
 * then the prepared tree, then the staging trees of runs that are gone.
 */
int file_sink_abort(struct file_sink *fs)
{
	char *parent = dir_of(fs->prepared);
	struct stat st;
	int rc = 0, had = lstat(fs->prepared, &st) == 0;

	if (unlink(fs->ow_id) == 0) {
		had = 1;
	} else if (errno != ENOENT) {
		fx_warn(fs->ctx, "%s: cannot remove: %s", fs->ow_id,
		        strerror(errno));
		rc = FX_EXIT_IO;
	}
	if (!rc && remove_tree(fs->prepared) != 0) {
		fx_warn(fs->ctx,
		        "%s: cannot remove: %s (no --commit takes it: its ID "
		        "file is gone)",
		        fs->prepared, strerror(errno));
		rc = FX_EXIT_IO;
	}
	if (!rc && had && fs_fsync_dir(parent) != 0) {
		fx_warn(fs->ctx, "%s: cannot sync: %s", parent,
		        strerror(errno));
		rc = FX_EXIT_IO;
	}
	ow_remove_stale(fs);
	free(parent);
	/*
	 * The job's output did not land: its stages may all have ended well
	 * (a failed sh step records nothing), so this run says it.
	 */
	if (had)
		lineage_fail(fs->ctx,
		             "--abort: the output --prepare staged was "
		             "dropped, nothing committed");
	return rc;
}

/* ---- the sink ---- */

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && memcmp(s + n - k, suffix, k) == 0;
}

/*
 * Whether --file path is replaced by a rename: a regular file (through
 * links), nothing yet, or a directory (which out_file_open() reports);
 * not a device, a FIFO or a socket.
 */
static int replaced_by_rename(const char *path)
{
	struct stat st;

	return stat(path, &st) != 0 || S_ISREG(st.st_mode) ||
	       S_ISDIR(st.st_mode);
}

/*
 * The file name in each partition: --part-name as it is when it ends in an
 * extension of the format (what fx-consume reads it as), else with the
 * format's extension added. A name that says another format is a usage
 * error, as is one too long to have a temporary name beside it, and one
 * fx-consume would pass over in a directory: empty (".ndjson"), or
 * starting with '.' or '_'.
 */
static char *part_file_name(struct fx_ctx *ctx, const char *name,
                            enum file_format format)
{
	static const char *const ndjson[] = {".ndjson", ".jsonl", ".json"};
	int csv = format == FORMAT_CSV, is_ndjson = 0;
	char *file;
	size_t i;

	if (!*name)
		fx_usage_error(
		    ctx,
		    "--part-name: must not be empty; the file would "
		    "be the hidden '.%s', which fx-consume passes over",
		    csv ? "csv" : "ndjson");
	if (*name == '.')
		fx_usage_error(ctx,
		               "--part-name: '%s' starts with '.'; fx-consume "
		               "passes over hidden files",
		               name);
	if (*name == '_')
		fx_usage_error(ctx,
		               "--part-name: '%s' starts with '_'; fx-consume "
		               "passes over such files (markers like _SUCCESS)",
		               name);
	for (i = 0; i < sizeof(ndjson) / sizeof(ndjson[0]); i++)
		is_ndjson |= ends_with(name, ndjson[i]);
	if (ends_with(name, ".gz"))
		fx_usage_error(ctx,
		               "--part-name: '%s' is a gzip file name; fx-sink "
		               "writes uncompressed files",
		               name);
	if (csv ? is_ndjson : ends_with(name, ".csv"))
		fx_usage_error(ctx,
		               "--part-name: '%s' is a%s file name, the output "
		               "is %s (--format %s, or another name)",
		               name, csv ? "n NDJSON" : " CSV",
		               csv ? "CSV" : "NDJSON", csv ? "ndjson" : "csv");
	if ((csv && ends_with(name, ".csv")) || (!csv && is_ndjson))
		file = fx_strdup(name);
	else if (asprintf(&file, "%s.%s", name, csv ? "csv" : "ndjson") < 0)
		fx_oom();
	/* ".NAME.tmp-PID" must be a legal name too */
	if (strlen(file) + 16 > NAME_MAX)
		fx_usage_error(ctx,
		               "--part-name: '%s' is too long (at most %d "
		               "bytes with its extension)",
		               name, NAME_MAX - 16);
	return file;
}

struct file_sink *file_sink_open(struct fx_ctx *ctx,
                                 const struct file_sink_opts *o)
{
	struct file_sink *fs = fx_malloc(sizeof(*fs));
	const char *err;

	memset(fs, 0, sizeof(*fs));
	fs->ctx = ctx;
	fs->o = o;
	fs->format = o->format;
	fs->single.fd = -1;
	if (o->file && o->dir)
		fx_usage_error(ctx, "--file and --dir go separately");
	if (o->partition.n && !o->dir)
		fx_usage_error(ctx, "--partition needs --dir");
	if (o->table && (!o->dir || o->partition.n))
		fx_usage_error(ctx, "--table with files needs --dir and no "
		                    "--partition (the table says the "
		                    "directories)");
	if (o->state && !*o->state)
		fx_usage_error(ctx, "--state: an empty directory name");
	if (o->state && !o->dir)
		fx_usage_error(ctx, "--state: checkpoints are built for --dir "
		                    "only, not --file or stdout");
	if (o->state && !o->columns.n && (o->format == FORMAT_CSV))
		fx_usage_error(ctx, "--state with CSV needs --columns (the "
		                    "first record after a restart is not the "
		                    "job's first)");
	if (o->table && !table_dir_template(o->table))
		fx_usage_error(ctx,
		               "--table: table '%s' has no \"files\" "
		               "\"dir\" template",
		               table_name(o->table));
	if (o->file && ends_with(o->file, ".gz"))
		fx_usage_error(
		    ctx,
		    "--file: '%s' is a gzip file name; fx-sink writes "
		    "uncompressed files (fx-consume would refuse it)",
		    o->file);
	if (fs->format == FORMAT_AUTO && o->file) {
		size_t n = strlen(o->file);

		fs->format = n > 4 && !strcmp(o->file + n - 4, ".csv")
		                 ? FORMAT_CSV
		                 : FORMAT_NDJSON;
	}
	if (fs->format == FORMAT_AUTO)
		fs->format = FORMAT_NDJSON;
	if (o->columns.n)
		set_columns(fs, (struct fx_strlist *)&o->columns);
	if (o->dir)
		fs->part_file = part_file_name(ctx, o->part_name, fs->format);
	if (json_paths_init(&fs->paths, o->partition.v, o->partition.n, &err))
		fx_usage_error(ctx, "--partition: %s", err);
	if (o->dir && !o->partition.n && !o->table &&
	    json_paths_add(&fs->paths, "_fx_dest", &err) < 0)
		fx_usage_error(ctx, "_fx_dest: %s", err);
	fs->root = o->dir;
	if (o->overwrite) {
		if (!o->dir)
			fx_usage_error(ctx, "--overwrite needs --dir");
		if (o->state)
			fx_usage_error(
			    ctx, "--overwrite: not with --state (a "
			         "partition is replaced at the end of the "
			         "input; checkpoints commit before it)");
		if (!o->table && !o->partition.n)
			fx_usage_error(ctx, "--overwrite needs --table or "
			                    "--partition (the partitions it "
			                    "replaces)");
		ow_prefix_of(fs);
		if (o->ow_phase != OW_BOTH)
			ow_phase_names(fs);
	} else if (o->ow_phase != OW_BOTH) {
		fx_usage_error(ctx, "--prepare, --commit and --abort need "
		                    "--overwrite");
	}
	if (o->ow_phase == OW_COMMIT)
		return fs; /* no record, no dataset: the tree is prepared */
	if (o->dir && o->table) {
		/* the table, not the warehouse its template starts from */
		struct fx_buf tdir = FX_BUF_INIT;

		table_dir_root(o->table, o->dir, &tdir);
		fs->dataset = lineage_file(ctx, LINEAGE_OUTPUT, tdir.p);
		fx_buf_free(&tdir);
	} else if (o->file || o->dir) {
		fs->dataset = lineage_file(ctx, LINEAGE_OUTPUT,
		                           o->file ? o->file : o->dir);
	}
	if (o->ow_phase == OW_ABORT)
		return fs; /* its dataset, written 0 records: nothing landed */
	if (o->dir) {
		/* partitions hold a descriptor each */
		(void)fs_raise_fd_limit();
		if (o->overwrite)
			ow_open(fs);
		if (o->state)
			ckpt_open(fs);
	} else if (o->file && !replaced_by_rename(o->file)) {
		/*
		 * A device, a FIFO or a socket is written to, as the shell's
		 * '>' would: only a file is replaced by a rename (which put a
		 * regular file in the place of /dev/full).
		 */
		fs->single.fd = open(o->file, O_WRONLY | O_CLOEXEC);
		if (fs->single.fd < 0) {
			fx_warn(ctx, "%s: cannot open: %s", o->file,
			        strerror(errno));
			exit(FX_EXIT_IO);
		}
		record_writer_init(&fs->single.w, ctx, fs->single.fd, o->file);
	} else if (o->file) {
		if (out_file_open(fs, &fs->single, o->file,
		                  RECORD_WRITER_BUFSIZE))
			exit(FX_EXIT_IO);
	} else {
		fs->single.fd = STDOUT_FILENO;
		record_writer_init(&fs->single.w, ctx, STDOUT_FILENO, "stdout");
	}
	return fs;
}

const struct json_paths *file_sink_paths(const struct file_sink *fs)
{
	if (fs->o->table)
		return table_paths(fs->o->table);
	return fs->paths.n ? &fs->paths : NULL;
}

int file_sink_write(struct file_sink *fs, const struct record *rec,
                    const struct json_value *vals, int flags,
                    const struct fx_where *where)
{
	struct out_file *f = &fs->single;
	int rc = 0;

	if (flags & JSON_SCAN_CONTROL) {
		if (!fs->o->state)
			return 0;
		rc = ckpt_control(fs, rec, where);
		return rc == DROPPED ? 0 : rc;
	}
	if (fs->o->state && !fs->restored)
		return ckpt_refuse_unrestored(fs->ctx, where, NULL,
		                              fs->o->state, fs->committed.id);
	/* everything that can find the record bad comes before any output */
	if (fs->o->dir) {
		rc = record_dir(fs, rec, vals, where);
		if (rc)
			return rc == DROPPED ? 0 : rc;
	}
	if (fs->format == FORMAT_CSV) {
		rc = csv_row(fs, rec, where);
		if (rc)
			return rc == DROPPED ? 0 : rc;
	}
	if (fs->o->dir) {
		f = partition_file(fs, &rc);
		if (!f)
			return rc;
	}
	if (fs->format == FORMAT_CSV) {
		if (!f->header_done) {
			csv_header(fs, &f->w);
			f->header_done = 1;
		}
		record_writer_write(&f->w, fs->line.p, fs->line.len);
	} else if ((flags & JSON_SCAN_HAS_FX) && !fs->o->keep_meta) {
		fx_buf_reset(&fs->line);
		json_object_drop_fx(rec->p, rec->len, &fs->line);
		record_writer_put(&f->w, fs->line.p, fs->line.len);
	} else {
		record_writer_put(&f->w, rec->p, rec->len);
	}
	if (record_writer_failed(&f->w)) /* reported once, at close */
		return record_writer_status(&f->w);
	fs->ctx->st.records_out++;
	fs->records_pending++;
	return 0;
}

int file_sink_takes_runs(const struct file_sink *fs)
{
	return !fs->o->dir && !fs->o->state && fs->format != FORMAT_CSV &&
	       !fs->o->table;
}

int file_sink_write_run(struct file_sink *fs, const char *p, size_t len,
                        uint64_t n)
{
	struct out_file *f = &fs->single;

	record_writer_write(&f->w, p, len);
	if (record_writer_failed(&f->w)) /* reported once, at close */
		return record_writer_status(&f->w);
	fs->ctx->st.records_out += n;
	fs->records_pending += n;
	return 0;
}

/* Removes the directories this run made (those still empty). */
static void remove_made_dirs(struct file_sink *fs)
{
	size_t i;

	for (i = fs->made_dirs.n; i > 0; i--)
		rmdir(fs->made_dirs.v[i - 1]);
}

/*
 * Commits or abandons every file: all are flushed and synced before the
 * first rename, so a failure before the renames replaces nothing; a failed
 * rename puts back what was renamed (publish_all). A run that is not
 * committed also removes the directories it made.
 */
static int close_files(struct file_sink *fs, int commit)
{
	struct out_file **v = fx_malloc((fs->parts.n + 1) * sizeof(*v));
	size_t i, n = 0;
	int rc = 0;

	if (fs->single.path)
		v[n++] = &fs->single;
	for (i = 0; i < fs->parts.n; i++)
		v[n++] = fs->parts.entries[i].value;
	for (i = 0; i < n; i++) {
		int r = commit && !rc ? out_file_sync(fs, v[i])
		                      : out_file_discard(v[i]);

		if (r && !rc)
			rc = r;
	}
	if (commit && !rc)
		rc = publish_all(fs, v, n);
	if (commit && !rc && fs->o->dir)
		fs_fsync_dir(fs->o->dir);
	for (i = 0; i < n; i++) {
		out_file_free(v[i]);
		if (v[i] != &fs->single)
			free(v[i]);
	}
	free(v);
	if (!commit || rc)
		remove_made_dirs(fs);
	return rc;
}

static int close_all(struct file_sink *fs, int commit)
{
	int rc;

	if (fs->single.path || fs->single.fd < 0)
		return close_files(fs, commit);
	fs->ctx->st.bytes_out += record_writer_bytes_total(&fs->single.w);
	rc = record_writer_close(&fs->single.w);
	/* --file on a device or a FIFO: its descriptor is ours */
	if (fs->single.fd != STDOUT_FILENO && close(fs->single.fd) != 0 &&
	    !rc) {
		fx_warn(fs->ctx, "%s: %s", fs->o->file, strerror(errno));
		rc = FX_EXIT_IO;
	}
	fs->single.fd = -1;
	return rc;
}

/*
 * --overwrite's end: the files published into the staging tree, then the
 * tree exchanged with the old one, which goes with the staging tree. Not
 * on a stop by signal: the input did not end, the old tree stays.
 */
static int ow_close(struct file_sink *fs, int commit)
{
	int rc, stopped = commit && fx_stop;

	if (stopped)
		commit = 0;
	rc = close_all(fs, commit);
	if (commit && !rc)
		rc = fs->o->ow_phase == OW_PREPARE ? ow_prepare(fs)
		                                   : ow_commit(fs);
	if (!fs->keep_stage)
		remove_tree(fs->stage);
	if (!commit || rc)
		remove_made_dirs(fs);
	if (commit && !rc)
		lineage_count(fs->dataset, fs->ctx->st.records_out);
	if (stopped) {
		fx_warn(fs->ctx,
		        "%s: stopped before the end of the input: not replaced "
		        "(--overwrite %s)",
		        fs->o->dir, fs->o->overwrite);
		rc = FX_EXIT_IO;
	}
	return rc;
}

int file_sink_close(struct file_sink *fs, int commit)
{
	int rc;

	if (fs->o->state) {
		rc = ckpt_close(fs);
	} else if (fs->stage) {
		rc = ow_close(fs, commit);
	} else {
		rc = close_all(fs, commit);
		if (commit && !rc) /* published: every record written counts */
			lineage_count(fs->dataset, fs->ctx->st.records_out);
	}

	strmap_free(&fs->parts);
	strmap_free(&fs->column_index);
	fx_strlist_free(&fs->columns);
	json_paths_free(&fs->paths);
	table_values_free(&fs->tv);
	fx_buf_free(&fs->line);
	fx_buf_free(&fs->scratch);
	fx_buf_free(&fs->key);
	fx_buf_free(&fs->colname);
	fx_strlist_free(&fs->made_dirs);
	ckpt_state_free(&fs->committed);
	ckpt_barrier_free(&fs->barrier);
	free(fs->pending_root);
	free(fs->stage);
	free(fs->ow_prefix);
	free(fs->prepared);
	free(fs->ow_id);
	free(fs->ow_field);
	free(fs->part_file);
	free(fs->row);
	free(fs);
	return rc;
}
