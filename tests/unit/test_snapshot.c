/* Snapshots: whole or refused, the latest found, old ones and temps pruned. */
#include "snapshot.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];

static void make_root(void)
{
	snprintf(root, sizeof(root), "/tmp/fx-test-snapshot.%ld",
	         (long)getpid());
}

static void rm_rf(const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

static int file_put(const char *path, const char *bytes, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(bytes, 1, n, f) == n;

	if (f)
		ok = fclose(f) == 0 && ok;
	return ok ? 0 : -1;
}

static void test_round_trip(void)
{
	struct snapshot_dir d;
	struct fx_buf b = FX_BUF_INIT;
	char sub[300];
	/* bytes a text format would mangle: NUL, newline, high bytes */
	static const char state[] = "a\0b\nc\xff\x80 end";
	uint64_t latest = 0;

	snprintf(sub, sizeof(sub), "%s/job/stage", root);
	CHECK(snapshot_dir_open(&d, sub) == 0); /* creates parents */
	CHECK(snapshot_latest(&d, &latest) == 0);
	CHECK(snapshot_write(&d, 7, state, sizeof(state)) == 0);
	CHECK(snapshot_read(&d, 7, &b) == 0);
	CHECK(b.len == sizeof(state) && memcmp(b.p, state, b.len) == 0);
	CHECK(snapshot_write(&d, 8, "", 0) == 0); /* empty state is a state */
	CHECK(snapshot_read(&d, 8, &b) == 0 && b.len == 0);
	CHECK(snapshot_latest(&d, &latest) == 1 && latest == 8);
	/* the same id again replaces it whole */
	CHECK(snapshot_write(&d, 8, "xyz", 3) == 0);
	CHECK(snapshot_read(&d, 8, &b) == 0 && b.len == 3 &&
	      memcmp(b.p, "xyz", 3) == 0);
	fx_buf_free(&b);
	snapshot_dir_close(&d);
}

static void test_missing_and_corrupt(void)
{
	struct snapshot_dir d;
	struct fx_buf b = FX_BUF_INIT;
	char path[400];
	struct stat st;
	int fd;

	CHECK(snapshot_dir_open(&d, root) == 0);
	errno = 0;
	CHECK(snapshot_read(&d, 99, &b) == -1 && errno == ENOENT);

	CHECK(snapshot_write(&d, 3, "hello, state", 12) == 0);
	snapshot_path(&d, 3, path, sizeof(path));
	CHECK(stat(path, &st) == 0);
	/* torn: the last byte missing */
	CHECK(truncate(path, st.st_size - 1) == 0);
	errno = 0;
	CHECK(snapshot_read(&d, 3, &b) == -1 && errno == EBADMSG);
	CHECK(b.len == 0);

	/* one byte changed, length intact: the CRC refuses it */
	CHECK(snapshot_write(&d, 3, "hello, state", 12) == 0);
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "j", 1, st.st_size - 5) == 1);
	close(fd);
	errno = 0;
	CHECK(snapshot_read(&d, 3, &b) == -1 && errno == EBADMSG);

	/* a file of another id under this name, and not a snapshot at all */
	CHECK(snapshot_write(&d, 4, "four", 4) == 0);
	snapshot_path(&d, 4, path, sizeof(path));
	{
		char other[400];

		snapshot_path(&d, 5, other, sizeof(other));
		CHECK(rename(path, other) == 0);
		errno = 0;
		CHECK(snapshot_read(&d, 5, &b) == -1 && errno == EBADMSG);
		CHECK(file_put(other, "{\"a\":1}\n", 8) == 0);
		errno = 0;
		CHECK(snapshot_read(&d, 5, &b) == -1 && errno == EBADMSG);
		CHECK(file_put(other, "", 0) == 0);
		errno = 0;
		CHECK(snapshot_read(&d, 5, &b) == -1 && errno == EBADMSG);
	}
	fx_buf_free(&b);
	snapshot_dir_close(&d);
}

static void test_latest_ignores_temps_and_prune(void)
{
	struct snapshot_dir d;
	char sub[300], tmp[400];
	uint64_t latest = 0;
	struct fx_buf b = FX_BUF_INIT;

	snprintf(sub, sizeof(sub), "%s/prune", root);
	CHECK(snapshot_dir_open(&d, sub) == 0);
	CHECK(snapshot_write(&d, 1, "1", 1) == 0);
	CHECK(snapshot_write(&d, 2, "2", 1) == 0);
	CHECK(snapshot_write(&d, 10, "10", 2) == 0);
	/* a writer killed before its rename leaves a temp of a newer id */
	snprintf(tmp, sizeof(tmp), "%s/snap-%020d.tmp.12345", sub, 11);
	CHECK(file_put(tmp, "partial", 7) == 0);
	/* and something that is not ours */
	snprintf(tmp, sizeof(tmp), "%s/notes.txt", sub);
	CHECK(file_put(tmp, "keep me", 7) == 0);
	CHECK(snapshot_latest(&d, &latest) == 1 && latest == 10);

	CHECK(snapshot_prune(&d, 10) == 3); /* 1, 2 and the temp */
	CHECK(snapshot_read(&d, 1, &b) == -1 && errno == ENOENT);
	CHECK(snapshot_read(&d, 2, &b) == -1 && errno == ENOENT);
	CHECK(snapshot_read(&d, 10, &b) == 0 && b.len == 2);
	CHECK(access(tmp, F_OK) == 0);
	CHECK(snapshot_latest(&d, &latest) == 1 && latest == 10);
	fx_buf_free(&b);
	snapshot_dir_close(&d);
}

static void test_not_a_directory(void)
{
	struct snapshot_dir d;
	char file[300];

	snprintf(file, sizeof(file), "%s/plain", root);
	CHECK(file_put(file, "x", 1) == 0);
	errno = 0;
	CHECK(snapshot_dir_open(&d, file) == -1 && errno == ENOTDIR);
	CHECK(d.path == NULL);
}

int main(void)
{
	make_root();
	rm_rf(root);
	RUN(test_round_trip);
	RUN(test_missing_and_corrupt);
	RUN(test_latest_ignores_temps_and_prune);
	RUN(test_not_a_directory);
	rm_rf(root);
	return unit_done("test_snapshot");
}
