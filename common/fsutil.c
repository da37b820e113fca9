#include "fsutil.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int fs_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc, err;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	err = errno;
	close(fd);
	errno = err;
	return rc;
}

int fs_mkdir_p(const char *dir)
{
	char *d = fx_strdup(dir), *p;
	int rc = 0, err = 0;

	for (p = d + 1; *p && !rc; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(d, 0777) != 0 && errno != EEXIST) {
			rc = -1;
			err = errno;
		}
		*p = '/';
	}
	if (!rc && mkdir(d, 0777) != 0 && errno != EEXIST) {
		rc = -1;
		err = errno;
	}
	free(d);
	errno = err;
	return rc;
}

int fs_write_file_atomic(const char *path, const void *head, size_t hlen,
                         const void *data, size_t dlen)
{
	size_t n = strlen(path) + 32;
	char *tmp = fx_malloc(n), *dir = fx_strdup(path), *slash;
	int fd, rc = -1, err;

	snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0)
		goto out;
	if (fs_write_all(fd, head, hlen) != 0 ||
	    fs_write_all(fd, data, dlen) != 0 || fsync(fd) != 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		errno = err;
		goto out;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		err = errno;
		unlink(tmp);
		errno = err;
		goto out;
	}
	rc = fs_fsync_dir(slash ? dir : ".");
out:
	err = errno;
	free(tmp);
	free(dir);
	errno = err;
	return rc;
}

size_t fs_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? (size_t)-1 : (size_t)rl.rlim_cur;
}
