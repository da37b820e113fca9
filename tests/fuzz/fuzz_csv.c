/*
 * fuzz_csv - libFuzzer target for the CSV reader (common/csvio.c).
 *
 * The first two input bytes choose the options (strings_only, a small
 * --max-record) and seed the chunk sizes; the rest is the CSV. The reader
 * is fed once whole and once in random chunks. Checked:
 *   - every row is one valid JSON object (cJSON) of valid UTF-8;
 *   - rows start on non-decreasing lines (a bare CR ends a row but not a
 *     line, so a row may share line 1 with the header);
 *   - the chunking changes nothing: same rows, same lines, same bad-record
 *     count, same status.
 */
#include "csvio.h"
#include "fx.h"
#include "json.h"

#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct run {
	struct fx_buf out;
	uint64_t last_line;
	uint64_t rows;
};

static int on_row(void *arg, const char *json, size_t len, uint64_t line)
{
	struct run *r = arg;
	cJSON *v = cJSON_ParseWithLength(json, len);

	if (!v || !cJSON_IsObject(v) || !json_utf8_valid(json, len) ||
	    memchr(json, '\n', len) || line < 1 || line < r->last_line)
		abort();
	cJSON_Delete(v);
	r->last_line = line;
	r->rows++;
	fx_buf_add(&r->out, &line, sizeof(line));
	fx_buf_add(&r->out, json, len);
	fx_buf_addc(&r->out, '\n');
	return 0;
}

static unsigned next(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return *seed >> 16;
}

static int read_all(const uint8_t *p, size_t n, int strings_only,
                    size_t max_record, unsigned seed, struct run *r,
                    uint64_t *bad)
{
	struct fx_ctx ctx;
	struct csvio_reader *rd;
	size_t i = 0, k;
	int rc = 0;

	fx_init(&ctx, "fuzz_csv");
	ctx.on_error = FX_ON_ERROR_SKIP;
	ctx.max_record = max_record;
	rd = csvio_reader_new(&ctx, "fuzz", strings_only, ",\"dt\":\"x\"",
	                      on_row, r);
	while (rc == 0 && i < n) {
		k = seed ? 1 + next(&seed) % 17 : n - i;
		if (k > n - i)
			k = n - i;
		rc = csvio_reader_feed(rd, (const char *)p + i, k, 0);
		i += k;
	}
	if (rc == 0)
		rc = csvio_reader_feed(rd, NULL, 0, 1);
	if (csvio_reader_rows(rd) < r->rows)
		abort();
	csvio_reader_free(rd);
	*bad = ctx.st.bad_records;
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a = {FX_BUF_INIT, 0, 0}, b = {FX_BUF_INIT, 0, 0};
	uint64_t bad_a, bad_b;
	int strings_only, rc_a, rc_b;
	size_t max_record;
	unsigned seed;

	if (size < 2)
		return 0;
	strings_only = data[0] & 1;
	max_record = data[0] & 2 ? (size_t)(data[0] >> 2) + 1 : 0;
	seed = data[1] | 1u;
	data += 2;
	size -= 2;
	rc_a = read_all(data, size, strings_only, max_record, 0, &a, &bad_a);
	rc_b = read_all(data, size, strings_only, max_record, seed, &b, &bad_b);
	if (rc_a != rc_b || bad_a != bad_b || a.out.len != b.out.len ||
	    (a.out.len && memcmp(a.out.p, b.out.p, a.out.len) != 0))
		abort();
	fx_buf_free(&a.out);
	fx_buf_free(&b.out);
	return 0;
}
