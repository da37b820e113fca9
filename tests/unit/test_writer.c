/* test_writer.c - the record writer's sticky error and its byte count */
#include "fx.h"
#include "unit.h"
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* After a failed write every call fails, the inline fast paths too. */
static void test_sticky_error(void)
{
	struct fx_ctx ctx;
	struct record_writer w;
	int fd = open("/dev/full", O_WRONLY);
	char *big = calloc(1, RECORD_WRITER_BUFSIZE);

	CHECK(fd >= 0 && big);
	if (fd < 0 || !big)
		return;
	fx_init(&ctx, "test_writer");
	record_writer_init(&w, &ctx, fd, "/dev/full");
	CHECK(record_writer_put(&w, "{}", 2) == 0); /* buffered */
	CHECK(record_writer_bytes_total(&w) == 3);
	/* more than the buffer holds: a flush, which fails */
	CHECK(record_writer_write(&w, big, RECORD_WRITER_BUFSIZE) == -1);
	CHECK(record_writer_failed(&w) && w.err == ENOSPC);
	CHECK(record_writer_status(&w) == FX_EXIT_IO);
	CHECK(record_writer_put(&w, "{}", 2) == -1);
	CHECK(record_writer_write(&w, "x", 1) == -1);
	CHECK(record_writer_flush(&w) == -1);
	CHECK(record_writer_bytes_total(&w) == 3); /* nothing more was taken */
	CHECK(record_writer_close(&w) == FX_EXIT_IO);
	close(fd);
	free(big);
}

/* Written and buffered bytes both count. */
static void test_bytes_total(void)
{
	struct fx_ctx ctx;
	struct record_writer w;
	FILE *f = tmpfile();
	size_t i;

	fx_init(&ctx, "test_writer");
	record_writer_init(&w, &ctx, fileno(f), "tmp");
	for (i = 0; i < 100000; i++)
		CHECK(record_writer_put(&w, "{\"a\":1}", 7) == 0);
	CHECK(w.bytes > 0 && w.len > 0);
	CHECK(record_writer_bytes_total(&w) == 800000);
	CHECK(record_writer_close(&w) == 0);
	CHECK(fseek(f, 0, SEEK_END) == 0 && ftell(f) == 800000);
	fclose(f);
}

int main(void)
{
	RUN(test_sticky_error);
	RUN(test_bytes_total);
	return unit_done("test_writer");
}
