/* joinio.c - what both joins share; the contract is in joinio.h */
#include "joinio.h"
#include "err.h"
#include "json.h"
#include "reader.h"
#include "stream.h"
#include "writer.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

void join_split_on(const struct fx_strlist *on, struct fx_strlist *left,
                   struct fx_strlist *other)
{
	size_t i;

	for (i = 0; i < on->n; i++) {
		const char *eq = strchr(on->v[i], '=');
		char *l = eq ? fx_strndup(on->v[i], (size_t)(eq - on->v[i]))
		             : fx_strdup(on->v[i]);

		fx_strlist_push(left, l);
		fx_strlist_push(other, eq ? eq + 1 : l);
		free(l);
	}
}

/* No whole line buffered and nothing ready on the descriptor (or gzip). */
int join_input_idle(struct record_stream *rs)
{
	const struct record_reader *r = &rs->reader;
	struct pollfd p = {rs->in.fd, POLLIN, 0};

	if (rs->in.gz || r->end - r->start > 4096 ||
	    (r->end > r->start &&
	     memchr(r->buf + r->start, '\n', r->end - r->start)))
		return 0;
	return poll(&p, 1, 0) == 0;
}

void join_flush_if_idle(struct record_stream *rs, struct record_writer *out)
{
	if (join_input_idle(rs))
		record_writer_flush(out);
}
