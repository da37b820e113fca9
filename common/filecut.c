/* filecut.c - regular files cut at line boundaries; see filecut.h */
#include "filecut.h"
#include "err.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILECUT_CHUNK (64 * 1024)

int filecut_plain(int fd, int64_t *size)
{
	unsigned char head[3];
	struct stat st;
	ssize_t n = 0;
	int ok;

	*size = 0;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (ok)
		n = pread(fd, head, 3, 0);
	/* gzip data is read from its start (input.h) */
	if (ok && n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
		ok = 0;
	if (ok && n == 3 && head[0] == 0xef && head[1] == 0xbb &&
	    head[2] == 0xbf)
		ok = 0;
	if (ok)
		*size = (int64_t)st.st_size;
	return ok;
}

int64_t filecut_after(int fd, int64_t off, int64_t size)
{
	char *buf = fx_malloc(FILECUT_CHUNK);
	int64_t at = off, cut = size;
	int started = off == 0; /* at a line start */
	int text = 0;           /* the line has more than blanks */

	while (at < size && cut == size) {
		ssize_t r = pread(fd, buf, FILECUT_CHUNK, (off_t)at), i;

		if (r <= 0)
			break;
		for (i = 0; i < r; i++) {
			char c = buf[i];

			if (c != '\n') {
				text |= c != ' ' && c != '\t' && c != '\r';
				continue;
			}
			if (started && text) {
				cut = at + i + 1;
				break;
			}
			started = 1;
			text = 0;
		}
		at += r;
	}
	free(buf);
	return cut;
}

uint64_t filecut_lines(int fd, int64_t end)
{
	char *buf = fx_malloc(1 << 20);
	uint64_t n = 0;
	int64_t at = 0;

	while (at < end) {
		size_t want =
		    end - at < (1 << 20) ? (size_t)(end - at) : 1 << 20;
		ssize_t r = pread(fd, buf, want, (off_t)at), i;

		if (r <= 0)
			break;
		for (i = 0; i < r; i++)
			n += buf[i] == '\n';
		at += r;
	}
	free(buf);
	return n;
}
