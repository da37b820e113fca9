/*
 * validate.c - the record scanner alone: validates an NDJSON file the way a
 * program passing records through does (json_scan_lines() over 1 MiB read
 * buffers cut at a line end, json_scan() for every line it leaves), from
 * memory, so that `make bench` can time one core's validation without the
 * reads and writes of a whole stage. FX_SIMD=off times the portable scanner.
 *
 *   build/bench-validate FILE     prints "RECORDS SECONDS": the count of
 *                                 valid records and the CPU time of their
 *                                 validation (the file is read into memory
 *                                 and its pages touched first, untimed);
 *                                 exit 1 at the first
 *                                 invalid record
 */
#include "json.h"

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIECE ((size_t)1 << 20)

int main(int argc, char **argv)
{
	struct json_scanner sc = {0};
	struct json_error err;
	struct stat st;
	struct timespec t0, t1;
	char *p;
	size_t n, got = 0, off = 0;
	uint64_t records = 0;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: bench-validate FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
		fprintf(stderr, "bench-validate: %s: cannot read\n", argv[1]);
		return 2;
	}
	n = (size_t)st.st_size;
	p = malloc(n);
	while (p && got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r <= 0) {
			fprintf(stderr, "bench-validate: %s: read failed\n",
			        argv[1]);
			return 2;
		}
		got += (size_t)r;
	}
	if (!p)
		return 2;
	/*
	 * Touch every page before the clock starts. On a VM with shadow
	 * page tables (this machine's PVM guest) a process's first access
	 * to a page the kernel's read() filled is a trap to the hypervisor:
	 * untouched, those traps were 0.8 of the 1.0 s this pass took over
	 * 363 MB, and the figure measured the VM. A stage reads into one
	 * buffer it reuses, whose pages are touched once.
	 */
	{
		volatile unsigned char sink = 0;

		for (size_t i = 0; i < n; i += 4096)
			sink ^= (unsigned char)p[i];
		(void)sink;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	while (off < n) {
		size_t len = n - off, done;
		uint64_t k;
		const char *nl;

		if (len > PIECE)
			len = PIECE;
		nl = memrchr(p + off, '\n', len);
		if (nl)
			len = (size_t)(nl + 1 - (p + off));
		done = json_scan_lines(&sc, p + off, len, PIECE, &k);
		records += k;
		off += done;
		if (done == len)
			continue;
		/* the line the vector path left: the portable scanner */
		nl = memchr(p + off, '\n', n - off);
		len = nl ? (size_t)(nl - (p + off)) : n - off;
		if (json_scan(&sc, NULL, p + off, len, NULL, &err, 0) < 0) {
			fprintf(stderr,
			        "bench-validate: record %" PRIu64
			        ": invalid JSON: %s\n",
			        records + 1, err.reason);
			return 1;
		}
		records++;
		off += len + (nl != NULL);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	printf("%" PRIu64 " %.6f\n", records,
	       (double)(t1.tv_sec - t0.tv_sec) +
	           (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
	free(p);
	json_scanner_free(&sc);
	return 0;
}
