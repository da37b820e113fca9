/* recedit.c - members inserted into a record before its closing brace */
#include "recedit.h"
#include "writer.h"

size_t recedit_brace(const char *p, size_t n)
{
	while (n > 0 && p[n - 1] != '}')
		n--;
	return n ? n - 1 : 0;
}

int recedit_empty(const char *p, size_t brace)
{
	size_t k = brace;

	while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t' ||
	                 p[k - 1] == '\r' || p[k - 1] == '\n'))
		k--;
	return k > 0 && p[k - 1] == '{';
}

size_t recedit_begin(struct fx_buf *b, const char *p, size_t n)
{
	size_t brace = recedit_brace(p, n);

	fx_buf_add(b, p, brace);
	if (!recedit_empty(p, brace))
		fx_buf_addc(b, ',');
	return brace;
}

void recedit_append(struct fx_buf *b, const char *p, size_t n, const char *m,
                    size_t mlen)
{
	size_t brace;

	if (!mlen) {
		fx_buf_add(b, p, n);
		return;
	}
	brace = recedit_begin(b, p, n);
	fx_buf_add(b, m + 1, mlen - 1); /* begin wrote the comma, if any */
	fx_buf_add(b, p + brace, n - brace);
}

int recedit_put(struct record_writer *out, const char *p, size_t n,
                const char *m, size_t mlen)
{
	size_t brace;

	if (!mlen)
		return record_writer_put(out, p, n);
	brace = recedit_brace(p, n);
	if (recedit_empty(p, brace)) {
		m++; /* the first member without its comma */
		mlen--;
	}
	if (record_writer_write(out, p, brace) ||
	    record_writer_write(out, m, mlen))
		return -1;
	return record_writer_put(out, p + brace, n - brace);
}
