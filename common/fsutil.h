/*
 * fsutil.h - durable file system steps: whole writes, directories made
 * with their parents, and files replaced atomically.
 *
 * "Durable" here means what survives a crash of the machine: data is
 * fsync'ed before the rename that publishes it, and the directory after,
 * so that the new name is on disk too.
 *
 * Errors follow the POSIX convention: -1 with errno set; the caller names
 * the path in its message.
 */
#ifndef FX_FSUTIL_H
#define FX_FSUTIL_H

#include <stddef.h>

/* Writes all n bytes (retrying short writes and EINTR). 0 or -1. */
int fs_write_all(int fd, const void *p, size_t n);

/* fsync()s a directory, making the entries created in it durable. */
int fs_fsync_dir(const char *dir);

/* Creates dir and its missing parents (mode 0777 before umask). */
int fs_mkdir_p(const char *dir);

/*
 * Replaces path with head followed by data (either may be empty), whole
 * or not at all: a temporary file in the same directory, fsync, rename,
 * fsync of the directory. A crash leaves the old file or the new one,
 * and at worst a temporary "path.tmp.PID" beside it.
 */
int fs_write_file_atomic(const char *path, const void *head, size_t hlen,
                         const void *data, size_t dlen);

/*
 * Raises the soft limit of open descriptors to the hard one, for a program
 * that holds one per partition or per input file. Returns the soft limit
 * then in force.
 */
size_t fs_raise_fd_limit(void);

#endif
