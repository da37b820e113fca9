/* window.c - event-time window assignment */
#include "window.h"
#include "fxtime.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int parse_pair(const char *s, int64_t *a, int64_t *b)
{
	char first[64];
	const char *slash = strchr(s, '/');

	if (!slash || (size_t)(slash - s) >= sizeof(first))
		return -1;
	if (!slash[1])
		return -1;
	memcpy(first, s, (size_t)(slash - s));
	first[slash - s] = 0;
	return fx_duration_parse(first, a) || fx_duration_parse(slash + 1, b)
	           ? -1
	           : 0;
}

int window_spec_parse(struct window_spec *w, const char *s, char *err,
                      size_t err_len)
{
	const char *arg = strchr(s, ':');
	size_t kl = arg ? (size_t)(arg - s) : strlen(s);

	memset(w, 0, sizeof(*w));
	if (!arg)
		goto bad;
	arg++;
	if (kl == 6 && !strncmp(s, "tumble", 6)) {
		w->kind = WINDOW_TUMBLE;
		if (fx_duration_parse(arg, &w->size))
			goto bad;
	} else if (kl == 3 && !strncmp(s, "hop", 3)) {
		w->kind = WINDOW_HOP;
		if (parse_pair(arg, &w->size, &w->slide))
			goto bad;
		if (w->slide > 0 && w->size > 0 && w->size % w->slide) {
			const char *slash = strchr(arg, '/');

			snprintf(
			    err, err_len,
			    "'%s': SIZE (%.*s) must be a multiple of SLIDE (%s)",
			    s, (int)(slash - arg), arg, slash + 1);
			return -1;
		}
		if (w->slide <= 0)
			goto nonpositive;
	} else if (kl == 8 && !strncmp(s, "cumulate", 8)) {
		w->kind = WINDOW_CUMULATE;
		if (parse_pair(arg, &w->slide, &w->size))
			goto bad;
		if (w->slide > 0 && w->size > 0 && w->size % w->slide) {
			const char *slash = strchr(arg, '/');

			snprintf(
			    err, err_len,
			    "'%s': MAX (%s) must be a multiple of STEP (%.*s)",
			    s, slash + 1, (int)(slash - arg), arg);
			return -1;
		}
		if (w->slide <= 0)
			goto nonpositive;
	} else if (kl == 7 && !strncmp(s, "session", 7)) {
		w->kind = WINDOW_SESSION;
		if (fx_duration_parse(arg, &w->size))
			goto bad;
	} else {
		goto bad;
	}
	if (w->size <= 0) {
		snprintf(err, err_len, "'%s': the size must be positive", s);
		return -1;
	}
	/* every record is in each of them: a table of them a record */
	if (window_max_per_record(w) > WINDOW_MAX_PER_RECORD) {
		snprintf(err, err_len,
		         "'%s': %" PRId64 " windows a record, at most %d", s,
		         w->size / w->slide, WINDOW_MAX_PER_RECORD);
		return -1;
	}
	return 0;
nonpositive:
	snprintf(err, err_len, "'%s': the %s must be positive", s,
	         w->kind == WINDOW_HOP ? "slide" : "step");
	return -1;
bad:
	snprintf(
	    err, err_len,
	    "'%s': expected tumble:SIZE, hop:SIZE/SLIDE, cumulate:STEP/MAX or session:GAP (durations like 250ms, 5s, 1m, 2h, 1d)",
	    s);
	return -1;
}

size_t window_max_per_record(const struct window_spec *w)
{
	switch (w->kind) {
	case WINDOW_TUMBLE:
		return 1;
	case WINDOW_HOP:
	case WINDOW_CUMULATE:
		return (size_t)(w->size / w->slide);
	default:
		return 0;
	}
}

size_t window_assign(const struct window_spec *w, int64_t t, struct window *out)
{
	int64_t s, base, e;
	size_t n = 0;

	switch (w->kind) {
	case WINDOW_TUMBLE:
		s = window_floor(t, w->size) * w->size;
		out[0].start = s;
		out[0].end = s + w->size;
		return 1;
	case WINDOW_HOP:
		/* the latest start first gives the latest end last: reverse */
		for (s = window_floor(t, w->slide) * w->slide; s > t - w->size;
		     s -= w->slide)
			n++;
		{
			size_t i;

			s = window_floor(t, w->slide) * w->slide -
			    (int64_t)(n - 1) * w->slide;
			for (i = 0; i < n; i++, s += w->slide) {
				out[i].start = s;
				out[i].end = s + w->size;
			}
		}
		return n;
	case WINDOW_CUMULATE:
		base = window_floor(t, w->size) * w->size;
		for (e = window_floor(t, w->slide) * w->slide + w->slide;
		     e <= base + w->size; e += w->slide) {
			out[n].start = base;
			out[n].end = e;
			n++;
		}
		return n;
	default:
		return 0;
	}
}
