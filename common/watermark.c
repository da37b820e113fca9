/* watermark.c - the event-time watermark over an input's partitions */
#include "watermark.h"
#include "err.h"
#include "fx.h"

#include <stdlib.h>
#include <string.h>

/*
 * t less the lateness, saturating: a time near INT64_MIN (an epoch of
 * -9223372036854775 s is valid) wrapped to a watermark far in the future,
 * and every record after it was late.
 */
static int64_t minus_lateness(const struct watermark *w, int64_t t)
{
	return t < INT64_MIN + w->lateness ? INT64_MIN : t - w->lateness;
}

void watermark_init(struct watermark *w, int64_t lateness, int64_t idle_timeout)
{
	memset(w, 0, sizeof(*w));
	w->lateness = lateness;
	w->idle_timeout = idle_timeout;
	w->value = INT64_MIN;
}

void watermark_free(struct watermark *w)
{
	free(w->parts);
	strmap_free(&w->index);
	fx_buf_free(&w->scratch);
	memset(w, 0, sizeof(*w));
}

void watermark_partition_name(const struct json_value *topic,
                              const struct json_value *partition,
                              struct fx_buf *out)
{
	fx_buf_reset(out);
	if (topic->type != JSON_STRING || partition->type != JSON_NUMBER)
		return;
	json_string_unescape(topic, out);
	fx_buf_addc(out, '/');
	fx_buf_add(out, partition->p, partition->len);
}

static struct wm_part *part_get(struct watermark *w, const char *name,
                                size_t len)
{
	uintptr_t i;

	if (!len)
		name = ""; /* an empty buffer's pointer may be NULL */
	i = (uintptr_t)strmap_get(&w->index, name, len);
	if (i)
		return &w->parts[i - 1];
	FX_GROW(w->parts, w->n + 1, w->cap, 8);
	w->parts[w->n].max_t = INT64_MIN;
	w->parts[w->n].last_seen = fx_now_coarse();
	w->parts[w->n].active = 1;
	strmap_put(&w->index, name, len, (void *)(uintptr_t)(w->n + 1));
	return &w->parts[w->n++];
}

struct wm_part *watermark_part(struct watermark *w, const char *name,
                               size_t len)
{
	return part_get(w, name, len);
}

const char *watermark_part_name(const struct watermark *w, size_t i,
                                size_t *len)
{
	/* parts and the index's entries are both in order of creation */
	*len = w->index.entries[i].len;
	return w->index.entries[i].key;
}

int64_t watermark_now(struct watermark *w)
{
	double now = w->idle_timeout ? fx_now_coarse() : 0;
	int64_t low = INT64_MAX;
	size_t i;

	for (i = 0; i < w->n; i++) {
		const struct wm_part *p = &w->parts[i];

		if (!p->active)
			continue;
		if (w->idle_timeout &&
		    (now - p->last_seen) * 1000 >= (double)w->idle_timeout)
			continue;
		if (p->max_t < low)
			low = p->max_t;
	}
	/* none counts (all at their end, or idle): hold, as fx-agg does */
	if (low == INT64_MAX || low == INT64_MIN)
		return w->value;
	if (minus_lateness(w, low) > w->value)
		w->value = minus_lateness(w, low);
	return w->value;
}

/* A record of partition name at t: returns 1 if t is its highest yet. */
static int part_seen(struct watermark *w, const char *name, size_t len,
                     int64_t t)
{
	struct wm_part *p = part_get(w, name, len);

	p->active = 1;
	if (w->idle_timeout)
		p->last_seen = fx_now_coarse();
	if (t <= p->max_t)
		return 0;
	p->max_t = t;
	return 1;
}

int64_t watermark_record(struct watermark *w, const char *name, size_t len,
                         int64_t t)
{
	part_seen(w, name, len, t);
	return watermark_now(w);
}

int64_t watermark_advance(struct watermark *w, const char *name, size_t len,
                          int64_t t)
{
	if (!part_seen(w, name, len, t))
		return w->value;
	/* the one partition is the one just seen: it counts, it is not idle */
	if (w->n == 1) {
		if (minus_lateness(w, t) > w->value)
			w->value = minus_lateness(w, t);
		return w->value;
	}
	return watermark_now(w);
}

/* {"_fx":"assigned"}: the listed partitions count, the others not. */
static void on_assigned(struct watermark *w, const struct json_value *list)
{
	const char *s, *end;
	size_t i;

	for (i = 0; i < w->n; i++)
		w->parts[i].active = 0;
	if (list->type != JSON_ARRAY)
		return;
	/* the array is valid JSON: its strings are the items */
	for (s = list->p + 1, end = list->p + list->len - 1; s < end;) {
		struct json_value v = {JSON_STRING, NULL, 0, 0};
		const char *q;

		while (s < end && *s != '"')
			s++;
		if (s >= end)
			break;
		for (q = s + 1; *q != '"'; q++) {
			if (*q == '\\') {
				v.escaped = 1;
				q++;
			}
		}
		v.p = s;
		v.len = (size_t)(q + 1 - s);
		fx_buf_reset(&w->scratch);
		json_string_unescape(&v, &w->scratch);
		part_get(w, w->scratch.p, w->scratch.len)->active = 1;
		s = q + 1;
	}
}

int watermark_control(struct watermark *w, const struct json_value *kind,
                      const struct json_value *partitions,
                      const struct json_value *partition, int have_ts,
                      int64_t ts)
{
	if (json_string_equals(kind, "assigned", 8)) {
		on_assigned(w, partitions);
		return 1;
	}
	if (json_string_equals(kind, "eof", 3)) {
		if (partition->type == JSON_STRING) {
			fx_buf_reset(&w->scratch);
			json_string_unescape(partition, &w->scratch);
			part_get(w, w->scratch.p, w->scratch.len)->active = 0;
		}
		watermark_now(w);
		return 1;
	}
	if (json_string_equals(kind, "watermark", 9)) {
		if (have_ts && ts > w->value)
			w->value = ts;
		return 1;
	}
	return 0;
}
