/* reader.c - NDJSON lines from a byte source */
#include "reader.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

#define READ_CHUNK ((size_t)1 << 20)

/*
 * A read takes at most a quarter of a pipe (fx sets 1 MiB; see input.c),
 * and a run of a file at most as much is validated before it is passed on:
 * two stages of a pipe then both run while bytes are between them. With
 * whole-megabyte reads each emptied or filled the pipe in one go and they
 * took turns, each sleeping until the other woke it, 170 times for 180 MB
 * (35 to 70 now): fx-consume F | fx-sink 191 -> 160 ms on a 2-core VM,
 * where a wake-up is slow. Gzip data is read a megabyte at a time: damage
 * shows only at a member's CRC, and a small file's records are then not
 * written before it is seen.
 */
#define READ_MAX ((size_t)1 << 18)

void record_reader_init(struct record_reader *r, struct fx_input *in,
                        size_t max_record)
{
	memset(r, 0, sizeof(*r));
	r->in = in;
	r->max_record = max_record;
}

void record_reader_free(struct record_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

static int is_blank(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

/* Room for at least one more chunk after r->end, keeping unread bytes. */
static void make_room(struct record_reader *r)
{
	size_t keep = r->end - r->start, cap;

	if (r->start && (keep < r->start || r->cap - r->end < READ_CHUNK)) {
		memmove(r->buf, r->buf + r->start, keep);
		r->start = 0;
		r->end = keep;
	}
	if (r->cap - r->end >= READ_CHUNK / 2)
		return;
	cap = r->cap ? r->cap * 2 : READ_CHUNK;
	while (cap - r->end < READ_CHUNK)
		cap *= 2;
	r->buf = fx_realloc(r->buf, cap + RECORD_READER_PAD);
	/* the padding is readable and defined */
	memset(r->buf + cap, 0, RECORD_READER_PAD);
	r->cap = cap;
}

/* Reads more bytes. Returns 1, 0 at end of input, -1 on error. */
static int fill(struct record_reader *r)
{
	ssize_t n;
	size_t want;

	make_room(r);
	want = r->cap - r->end;
	if (want > READ_MAX && r->in->sniffed && !r->in->gz)
		want = READ_MAX;
	n = fx_input_read(r->in, r->buf + r->end, want);
	if (n < 0)
		return -1;
	if (n == 0) {
		r->eof = 1;
		return 0;
	}
	r->end += (size_t)n;
	return 1;
}

/* Drops the rest of an over-long line, up to and including its '\n'. */
static int skip_rest_of_line(struct record_reader *r)
{
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);

		if (nl) {
			r->bytes += (size_t)(nl + 1 - (r->buf + r->start));
			r->start = (size_t)(nl + 1 - r->buf);
			return 0;
		}
		r->bytes += r->end - r->start;
		r->start = r->end = 0;
		if (r->eof)
			return 0;
		if (fill(r) < 0)
			return -1;
	}
}

int record_reader_next(struct record_reader *r, struct record *rec)
{
	size_t scanned = 0;

	if (r->skipping) {
		r->skipping = 0;
		if (skip_rest_of_line(r) < 0)
			return RECORD_IO_ERROR;
	}
	for (;;) {
		char *p = r->buf + r->start;
		size_t avail = r->end - r->start;
		char *nl = avail > scanned
		               ? memchr(p + scanned, '\n', avail - scanned)
		               : NULL;
		size_t len;

		if (!nl && !r->eof) {
			if (avail > r->max_record) {
				r->line++;
				rec->p = p;
				rec->len = r->max_record;
				rec->line = r->line;
				r->skipping = 1;
				return RECORD_TOO_LONG;
			}
			scanned = avail;
			if (fill(r) < 0)
				return RECORD_IO_ERROR;
			continue;
		}
		/* after a stop signal an unfinished line is not a record */
		if (!nl && (avail == 0 || fx_stop))
			return RECORD_EOF;
		len = nl ? (size_t)(nl - p) : avail;
		r->line++;
		r->start += nl ? len + 1 : len;
		r->bytes += nl ? len + 1 : len;
		scanned = 0;
		if (len && p[len - 1] == '\r')
			len--;
		if (len == 0 ||
		    ((p[0] == ' ' || p[0] == '\t') && is_blank(p, len)))
			continue;
		rec->p = p;
		rec->len = len;
		rec->line = r->line;
		if (len > r->max_record) {
			rec->len = r->max_record;
			r->long_len = len;
			return RECORD_TOO_LONG;
		}
		return RECORD_OK;
	}
}

int64_t record_reader_skip_long(struct record_reader *r)
{
	uint64_t len = 0;
	char last = 0;

	if (!r->skipping) /* the whole line was in the buffer */
		return (int64_t)r->long_len;
	r->skipping = 0;
	for (;;) {
		char *p = r->buf + r->start;
		size_t avail = r->end - r->start;
		char *nl = memchr(p, '\n', avail);
		size_t k = nl ? (size_t)(nl - p) : avail;

		if (k)
			last = p[k - 1];
		len += k;
		if (nl) {
			r->bytes += k + 1;
			r->start += k + 1;
			break;
		}
		r->bytes += k;
		r->start = r->end = 0;
		if (r->eof)
			break;
		if (fill(r) < 0)
			return -1;
	}
	if (last == '\r') /* "\r\n" ends a line, as in record_reader_next */
		len--;
	return (int64_t)len;
}

size_t record_reader_lines(struct record_reader *r, const char **p)
{
	const char *nl;

	*p = r->buf + r->start;
	if (r->skipping || r->start == r->end)
		return 0;
	nl = memrchr(*p, '\n', r->end - r->start);
	return nl ? (size_t)(nl + 1 - *p) : 0;
}

void record_reader_take(struct record_reader *r, size_t len, uint64_t n)
{
	r->start += len;
	r->bytes += len;
	r->line += n;
}
