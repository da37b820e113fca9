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

/* The pipe's whole contents once the writer is closed. */
static size_t drain(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t r;

	while (got < cap && (r = read(fd, buf + got, cap - got)) > 0)
		got += (size_t)r;
	return got;
}

/*
 * record_writer_copy() into a pipe takes the bytes from the file (p is
 * made to differ here to tell where they came from); when the file has
 * fewer bytes than asked for (it shrank), the rest comes from p; into a
 * regular file, from p.
 */
static void test_copy_from_file(void)
{
	enum { N = 300000 };
	struct fx_ctx ctx;
	struct record_writer w;
	char *file = malloc(N), *mem = malloc(N), *got = malloc(2 * N);
	FILE *f = tmpfile(), *g = tmpfile();
	int pfd[2];
	size_t i, n;

	CHECK(file && mem && got && f && g && pipe(pfd) == 0);
	for (i = 0; i < N; i++) {
		file[i] = (char)('a' + i % 26);
		mem[i] = (char)('A' + i % 26);
	}
	CHECK(fwrite(file, 1, N, f) == N && fflush(f) == 0);
	fx_init(&ctx, "test_writer");

	/* all from the file, after what was buffered */
	record_writer_init(&w, &ctx, pfd[1], "pipe");
	CHECK(w.pipe);
	CHECK(record_writer_put(&w, "{}", 2) == 0);
	CHECK(record_writer_copy(&w, mem, N, fileno(f), 0) == 0);
	CHECK(record_writer_bytes_total(&w) == N + 3);
	CHECK(record_writer_close(&w) == 0);
	close(pfd[1]);
	n = drain(pfd[0], got, 2 * N);
	close(pfd[0]);
	CHECK(n == N + 3 && memcmp(got, "{}\n", 3) == 0 &&
	      memcmp(got + 3, file, N) == 0);

	/* the file ends 1000 bytes in: the rest from memory */
	CHECK(pipe(pfd) == 0);
	record_writer_init(&w, &ctx, pfd[1], "pipe");
	CHECK(record_writer_copy(&w, mem, N, fileno(f), N - 1000) == 0);
	CHECK(record_writer_close(&w) == 0);
	close(pfd[1]);
	n = drain(pfd[0], got, 2 * N);
	close(pfd[0]);
	CHECK(n == N && memcmp(got, file + N - 1000, 1000) == 0 &&
	      memcmp(got + 1000, mem + 1000, N - 1000) == 0);

	/* not a pipe: the bytes given */
	record_writer_init(&w, &ctx, fileno(g), "tmp");
	CHECK(!w.pipe);
	CHECK(record_writer_copy(&w, mem, N, fileno(f), 0) == 0);
	CHECK(record_writer_close(&w) == 0);
	rewind(g);
	CHECK(fread(got, 1, 2 * N, g) == N && memcmp(got, mem, N) == 0);
	fclose(f);
	fclose(g);
	free(file);
	free(mem);
	free(got);
}

/*
 * Runs around the buffer's size, given to record_writer_copy() (a regular
 * file: written from where they are) and record_writer_write() (whole
 * buffers straight out, the rest kept), between small buffered records:
 * every byte once, in order, and counted.
 */
static void test_large_runs_in_order(void)
{
	const size_t cap = RECORD_WRITER_BUFSIZE;
	const size_t sizes[] = {65535,   65536,       cap - 1, cap,
	                        cap + 1, 2 * cap + 7, 3 * cap};
	struct fx_ctx ctx;
	struct record_writer w;
	size_t big = 3 * cap, total = 0, i, k, n;
	char *src = malloc(big), *want = malloc(40 * big),
	     *got = malloc(40 * big + 1);
	FILE *g = tmpfile();

	CHECK(src && want && got && g);
	if (!src || !want || !got || !g)
		return;
	for (i = 0; i < big; i++)
		src[i] = (char)('a' + (i * 7) % 26);
	fx_init(&ctx, "test_writer");
	record_writer_init(&w, &ctx, fileno(g), "tmp");
	for (k = 0; k < 2 * (sizeof(sizes) / sizeof(sizes[0])); k++) {
		size_t len = sizes[k / 2];
		const char *p = src + k % 13;

		if (len > big - k % 13)
			len = big - k % 13;
		CHECK(record_writer_put(&w, "{}", 2) == 0);
		memcpy(want + total, "{}\n", 3);
		total += 3;
		CHECK((k % 2 ? record_writer_write(&w, p, len)
		             : record_writer_copy(&w, p, len, -1, -1)) == 0);
		memcpy(want + total, p, len);
		total += len;
		CHECK(record_writer_bytes_total(&w) == total);
	}
	CHECK(record_writer_close(&w) == 0);
	rewind(g);
	n = fread(got, 1, 40 * big + 1, g);
	CHECK(n == total && memcmp(got, want, total) == 0);
	fclose(g);
	free(src);
	free(want);
	free(got);
}

/*
 * fd -1: every byte stays in the buffer, past its first size, through
 * flushes; len 0 starts again.
 */
static void test_in_memory(void)
{
	struct fx_ctx ctx;
	struct record_writer w;
	char rec[100];
	size_t i, n = 0;

	fx_init(&ctx, "test_writer");
	record_writer_init(&w, &ctx, -1, "memory");
	for (i = 0; i < 20000; i++) {
		int len =
		    snprintf(rec, sizeof(rec), "{\"i\":%zu,\"pad\":\"%*s\"}", i,
		             (int)(i % 60), "");

		CHECK(record_writer_put(&w, rec, (size_t)len) == 0);
		n += (size_t)len + 1;
		if (i % 1000 == 0)
			CHECK(record_writer_flush(&w) == 0);
	}
	CHECK(w.len == n && n > RECORD_WRITER_BUFSIZE);
	CHECK(record_writer_bytes_total(&w) == n);
	{
		static const char head[] = "{\"i\":0,\"pad\":\"\"}\n{\"i\":1,";

		CHECK(memcmp(w.buf, head, sizeof(head) - 1) == 0);
	}
	CHECK(memcmp(w.buf + n - 3, "\"}\n", 3) == 0);
	/* a record larger than the buffer, whole */
	w.len = 0;
	{
		size_t big = RECORD_WRITER_BUFSIZE * 3;
		char *p = malloc(big);

		memset(p, 'x', big);
		CHECK(record_writer_write(&w, p, big) == 0);
		CHECK(w.len == big && w.buf[big - 1] == 'x');
		free(p);
	}
	CHECK(!record_writer_failed(&w));
	free(w.buf);
}

int main(void)
{
	RUN(test_sticky_error);
	RUN(test_bytes_total);
	RUN(test_copy_from_file);
	RUN(test_large_runs_in_order);
	RUN(test_in_memory);
	return unit_done("test_writer");
}
