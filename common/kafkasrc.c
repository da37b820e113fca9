/* kafkasrc.c - the Kafka source (fx-consume); see kafka.h */
#include "kafka.h"
#include "kafka_internal.h"
#include "recedit.h"
#include "base64.h"
#include "buf.h"
#include "checkpoint.h"
#include "err.h"
#include "fxtime.h"
#include "json.h"
#include "lineage.h"
#include "reader.h"

#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

/* Text as a JSON string; other bytes as {"base64":"..."}; NULL as null. */
static void add_bytes_json(struct fx_buf *b, const void *p, size_t n)
{
	if (!p) {
		fx_buf_adds(b, "null");
	} else if (json_utf8_valid(p, n)) {
		fx_buf_add_json_string(b, p, n);
	} else {
		fx_buf_adds(b, "{\"base64\":\"");
		base64_encode(b, p, n);
		fx_buf_adds(b, "\"}");
	}
}

/* =====================================================================
 * Source
 */

enum offset_kind {
	OFF_DEFAULT, /* beginning, or the committed offset in a group */
	OFF_BEGINNING,
	OFF_END,
	OFF_STORED,
	OFF_ABS,
	OFF_TAIL,
	OFF_TIME,
};

struct offset_spec {
	enum offset_kind kind;
	int64_t value;  /* offset, tail count or timestamp */
	int64_t end_ts; /* e@MS, or -1 */
};

struct part_state {
	char *topic;
	int32_t partition;
	int assigned;
	int done;          /* reached its end (-e) or e@MS */
	int at_eof;        /* an eof control record was written since */
	int64_t end;       /* high watermark when assigned, -1 unknown */
	int64_t next;      /* offset after the last record written, -1 */
	int64_t stored;    /* offset after the last record flushed, -1 */
	int64_t committed; /* offset last committed, -1 */
	int64_t skip_ts;   /* -o s@MS: skip records older than this, -1 */
	int64_t start;     /* --checkpoint: where reading starts (or the
	                      restored offset) while next is -1; -1 unknown */
	int abs_start;     /* starts at -o N: resolve_offsets() checks it */
	struct lineage_ds *dataset; /* the topic's, for its record count */
	int64_t wm_lo, wm_hi;       /* watermarks_lookup()'s answer */
	int wm_known;
};

struct kafka_source {
	struct fx_ctx *ctx;
	const struct kafka_source_opts *o;
	struct record_writer *out;
	rd_kafka_t *rk;
	struct kafka_health health;
	struct offset_spec off;

	struct part_state *parts;
	size_t nparts, cap, last;
	size_t nassigned, ndone;
	int assigned_once;
	int assignment_changed; /* an "assigned" control record is due */
	double last_commit;
	unsigned assign_events; /* assignments the group has made so far */

	/*
	 * Commits are asynchronous (rd_kafka_commit_queue): a synchronous
	 * rd_kafka_commit() can wait without bound while the group
	 * rebalances or the coordinator is away, and then nothing else runs,
	 * not even SIGTERM. Results come back on commitq.
	 */
	rd_kafka_queue_t *commitq;
	int commits_pending;  /* sent, result not seen yet */
	double exit_deadline; /* set when ending: see final_wait() */

	/*
	 * -e in a group: this member's own partitions are done; it stays in
	 * the group until the whole subscription is committed to its end
	 * (see group_at_end).
	 */
	int own_done;
	rd_kafka_topic_partition_list_t *group_ends; /* offset: the end */
	double group_deadline; /* give up waiting for the group then */
	double group_next_check;
	int64_t group_progress; /* sum of the group's committed offsets */

	/*
	 * --checkpoint: barriers, counted by records read or by time
	 * (ckpt_every); their positions are
	 * gathered in arrays that only grow.
	 */
	int ckpt;
	uint64_t ckpt_id; /* the last barrier's, or the restore's */
	struct ckpt_interval ckpt_every;
	int at_end; /* finished by -e or e@MS: the last barrier is final */
	struct part_state **ckpt_parts;
	size_t ckpt_cap;
	struct ckpt_position *ckpt_pos;
	size_t ckpt_poscap;

	struct json_scanner sc;
	struct fx_buf val; /* the value, padded for the scanner */
	struct fx_buf rec; /* the record written */
	struct fx_buf ctl; /* a control record */
	struct fx_buf tp;  /* "TOPIC/P" */
	int64_t written;
	int status;
	int finished;
};

static int parse_int64(const char *s, int64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

/* kcat's -o: beginning|end|stored|N|-N|s@MS|e@MS, one start and one e@. */
static void parse_offsets(const struct fx_ctx *ctx,
                          const struct kafka_source_opts *o,
                          struct offset_spec *sp)
{
	size_t i;

	sp->kind = OFF_DEFAULT;
	sp->end_ts = -1;
	for (i = 0; i < o->offsets.n; i++) {
		const char *s = o->offsets.v[i];
		enum offset_kind k;
		int64_t v = 0;

		if (strncmp(s, "e@", 2) == 0) {
			if (parse_int64(s + 2, &sp->end_ts) || sp->end_ts < 0)
				fx_usage_error(
				    ctx, "-o: not a timestamp in ms: '%s'", s);
			continue;
		}
		if (strcmp(s, "beginning") == 0) {
			k = OFF_BEGINNING;
		} else if (strcmp(s, "end") == 0) {
			k = OFF_END;
		} else if (strcmp(s, "stored") == 0) {
			k = OFF_STORED;
		} else if (strncmp(s, "s@", 2) == 0) {
			k = OFF_TIME;
			if (parse_int64(s + 2, &v) || v < 0)
				fx_usage_error(
				    ctx, "-o: not a timestamp in ms: '%s'", s);
		} else if (parse_int64(s, &v) == 0) {
			k = v < 0 ? OFF_TAIL : OFF_ABS;
			v = v < 0 ? -v : v;
		} else {
			fx_usage_error(
			    ctx,
			    "-o: expected beginning, end, stored, N, -N, s@MS or e@MS, got '%s'",
			    s);
		}
		if (sp->kind != OFF_DEFAULT)
			fx_usage_error(ctx, "-o: more than one start offset");
		sp->kind = k;
		sp->value = v;
	}
	if (sp->kind == OFF_STORED && !o->group)
		fx_usage_error(ctx, "-o stored: needs a consumer group (-g)");
}

static struct part_state *part_get(struct kafka_source *s, const char *topic,
                                   int32_t partition)
{
	struct part_state *p;
	size_t i;

	if (s->last < s->nparts) {
		p = &s->parts[s->last];
		if (p->partition == partition && strcmp(p->topic, topic) == 0)
			return p;
	}
	for (i = 0; i < s->nparts; i++) {
		p = &s->parts[i];
		if (p->partition == partition && strcmp(p->topic, topic) == 0) {
			s->last = i;
			return p;
		}
	}
	FX_GROW(s->parts, s->nparts + 1, s->cap, 64);
	p = &s->parts[s->nparts];
	memset(p, 0, sizeof(*p));
	p->topic = fx_strdup(topic);
	p->partition = partition;
	p->dataset = lineage_topic(s->ctx, LINEAGE_INPUT,
	                           kafka_lineage_bootstrap(&s->o->conf), topic);
	p->end = p->next = p->stored = p->committed = p->skip_ts = -1;
	p->start = -1;
	s->last = s->nparts++;
	return p;
}

/*
 * Writes out what was written so far, then marks those records' offsets
 * for commit: a record is committed only once it has left the process.
 * Revoked partitions count too: what they wrote before the revocation is
 * still to be committed.
 */
static int source_flush(struct kafka_source *s)
{
	size_t i;

	if (record_writer_flush(s->out))
		return -1;
	for (i = 0; i < s->nparts; i++)
		if (s->parts[i].next > s->parts[i].stored)
			s->parts[i].stored = s->parts[i].next;
	return 0;
}

/* Partitions whose flushed offset is not committed yet: assigned ones. */
static size_t commits_owed(const struct kafka_source *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->nparts; i++)
		if (s->parts[i].assigned &&
		    s->parts[i].stored > s->parts[i].committed)
			n++;
	return n;
}

/* Takes in the commit results that have arrived, waiting up to wait_ms. */
static void commit_serve(struct kafka_source *s, int wait_ms)
{
	double deadline = fx_now() + (double)wait_ms / 1000;
	rd_kafka_event_t *ev;

	while (s->commits_pending > 0) {
		double left = deadline - fx_now();
		const rd_kafka_topic_partition_list_t *l;
		int i;

		ev = rd_kafka_queue_poll(s->commitq,
		                         left > 0 ? (int)(left * 1000) : 0);
		if (!ev)
			break;
		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
			s->commits_pending--;
			l = rd_kafka_event_topic_partition_list(ev);
			for (i = 0; l && i < l->cnt; i++) {
				const rd_kafka_topic_partition_t *e =
				    &l->elems[i];
				struct part_state *p;

				if (e->err || e->offset < 0)
					continue;
				p = part_get(s, e->topic, e->partition);
				/* results may come late: never go back */
				if (e->offset > p->committed)
					p->committed = e->offset;
			}
		}
		rd_kafka_event_destroy(ev);
	}
}

/*
 * Sends a commit of the flushed offsets not committed yet, explicitly by
 * partition (not librdkafka's auto-commit, which forgets a revoked
 * partition's offsets when a commit during the rebalance fails: the mock
 * broker, for one, refuses every commit while a group rebalances). Only
 * assigned partitions: a revoked one may already be read further by its
 * next owner, and a late commit would move its offset back. A refused
 * commit stays owed and is sent again later; one at a time, unless the
 * last went unanswered for a second (or force). Never waits.
 */
static void commit_send(struct kafka_source *s, int force)
{
	rd_kafka_topic_partition_list_t *l;
	size_t i;

	if (!s->o->group || s->ckpt)
		return;
	commit_serve(s, 0);
	if (!force && s->commits_pending > 0 && fx_now() - s->last_commit < 1.0)
		return;
	s->last_commit = fx_now();
	l = rd_kafka_topic_partition_list_new(16);
	for (i = 0; i < s->nparts; i++) {
		struct part_state *p = &s->parts[i];

		if (p->assigned && p->stored > p->committed)
			rd_kafka_topic_partition_list_add(l, p->topic,
			                                  p->partition)
			    ->offset = p->stored;
	}
	if (l->cnt && !rd_kafka_commit_queue(s->rk, l, s->commitq, NULL, NULL))
		s->commits_pending++;
	rd_kafka_topic_partition_list_destroy(l);
}

/* A commit every second: a crash repeats at most about that much. */
static void source_commit_due(struct kafka_source *s)
{
	commit_serve(s, 0);
	if (s->o->group && fx_now() - s->last_commit >= 1.0)
		commit_send(s, 0);
}

/*
 * How long a commit may be waited for: --timeout, at most 5 s. Once the
 * program is ending (exit_deadline set), what is left of that: the last
 * commit and leaving the group share one bound, after SIGTERM too.
 */
static double final_wait(const struct kafka_source *s)
{
	double t = (double)s->o->conf.timeout_ms / 1000;

	if (s->exit_deadline > 0) {
		t = s->exit_deadline - fx_now();
		return t > 0 ? t : 0;
	}
	return t < 5 ? t : 5;
}

/*
 * The last commit, tried until it succeeds or final_wait() passes: a
 * commit refused during a rebalance (another member leaving as we finish)
 * goes through once the group has settled. Polling serves the rebalance;
 * messages it returns are not ours to write any more.
 */
static void source_commit_final(struct kafka_source *s)
{
	double deadline = fx_now() + final_wait(s);
	rd_kafka_message_t *m;

	if (!s->o->group || s->ckpt)
		return;
	while (commits_owed(s) && fx_now() < deadline &&
	       !s->health.down_since) {
		unsigned seen = s->assign_events;

		commit_send(s, 1);
		commit_serve(s, (int)((deadline - fx_now()) * 1000));
		if (!commits_owed(s))
			break;
		/*
		 * Refused: wait for the group to hand out partitions again
		 * before the next try. Commits sent while it rejoins are
		 * refused, and the mock broker then starts the rebalance
		 * over, for ever.
		 */
		while (s->assign_events == seen && fx_now() < deadline &&
		       !s->health.down_since)
			if ((m = rd_kafka_consumer_poll(s->rk, 100)))
				rd_kafka_message_destroy(m);
	}
	if (commits_owed(s))
		fx_warn(
		    s->ctx,
		    "group '%s': %zu partition(s) not committed at exit: their last records will be read again",
		    s->o->group, commits_owed(s));
}

/* ---------------------------------------------------------------------
 * Control records (--meta): what fx-agg needs for a watermark per
 * partition. "assigned" lists the whole assignment after every change,
 * before any record of the new assignment; "eof" says a partition has
 * reached its end.
 */

static int part_cmp(const void *a, const void *b)
{
	const struct part_state *x = *(const struct part_state *const *)a;
	const struct part_state *y = *(const struct part_state *const *)b;
	int c = strcmp(x->topic, y->topic);

	if (c)
		return c;
	return (x->partition > y->partition) - (x->partition < y->partition);
}

/* Appends "TOPIC/P" as a JSON string. */
static void add_topic_partition(struct kafka_source *s,
                                const struct part_state *p)
{
	char num[16];

	fx_buf_reset(&s->tp);
	fx_buf_adds(&s->tp, p->topic);
	snprintf(num, sizeof(num), "/%" PRId32, p->partition);
	fx_buf_adds(&s->tp, num);
	fx_buf_add_json_string(&s->ctl, s->tp.p, s->tp.len);
}

static void put_control(struct kafka_source *s)
{
	if (record_writer_put(s->out, s->ctl.p, s->ctl.len))
		s->finished = 1; /* reported (or a closed pipe) at close */
}

/* Writes the "assigned" record if the assignment changed since the last. */
static void emit_assigned(struct kafka_source *s)
{
	struct part_state **v;
	size_t i, n = 0;

	if (!s->o->meta || !s->assignment_changed)
		return;
	s->assignment_changed = 0;
	v = fx_malloc((s->nparts ? s->nparts : 1) * sizeof(*v));
	for (i = 0; i < s->nparts; i++)
		if (s->parts[i].assigned)
			v[n++] = &s->parts[i];
	qsort(v, n, sizeof(*v), part_cmp);
	fx_buf_reset(&s->ctl);
	fx_buf_adds(&s->ctl, "{\"_fx\":\"assigned\",\"partitions\":[");
	for (i = 0; i < n; i++) {
		if (i)
			fx_buf_addc(&s->ctl, ',');
		add_topic_partition(s, v[i]);
	}
	fx_buf_adds(&s->ctl, "]}");
	free(v);
	put_control(s);
}

static void emit_eof(struct kafka_source *s, const struct part_state *p)
{
	emit_assigned(s);
	fx_buf_reset(&s->ctl);
	fx_buf_adds(&s->ctl, "{\"_fx\":\"eof\",\"partition\":");
	add_topic_partition(s, p);
	fx_buf_addc(&s->ctl, '}');
	put_control(s);
}

/* ---------------------------------------------------------------------
 * Checkpoints (--checkpoint): share/doc/checkpoints.md
 */

/* The next offset the run will read in p, or -1 if not known yet. */
static int64_t part_position(const struct part_state *p)
{
	return p->next >= 0 ? p->next : p->start;
}

/*
 * Writes a barrier with the next id: the position of every partition
 * known (in topic, partition order), after the records written before
 * it. A partition whose start is not known yet (its watermarks could not
 * be read, and no record came) is left out: nothing of it was written, so
 * a restart from this barrier starts it as -o says.
 */
static void ckpt_barrier(struct kafka_source *s, int final)
{
	size_t i, n = 0;

	FX_GROW(s->ckpt_parts, s->nparts, s->ckpt_cap, 16);
	FX_GROW(s->ckpt_pos, s->nparts, s->ckpt_poscap, 16);
	for (i = 0; i < s->nparts; i++)
		if (part_position(&s->parts[i]) >= 0)
			s->ckpt_parts[n++] = &s->parts[i];
	qsort(s->ckpt_parts, n, sizeof(*s->ckpt_parts), part_cmp);
	for (i = 0; i < n; i++) {
		s->ckpt_pos[i].topic = s->ckpt_parts[i]->topic;
		s->ckpt_pos[i].partition = s->ckpt_parts[i]->partition;
		s->ckpt_pos[i].offset = part_position(s->ckpt_parts[i]);
	}
	emit_assigned(s); /* a change, before the barrier that shows it */
	fx_buf_reset(&s->ctl);
	ckpt_barrier_format(&s->ctl, ++s->ckpt_id, s->ckpt_pos, n, final);
	put_control(s);
	s->ctx->ckpt.last = s->ckpt_id; /* --stats */
	ckpt_interval_start(&s->ckpt_every, s->o->ckpt_records, s->o->ckpt_ms);
}

/* A barrier if one is due by time (also while no records come). */
static void ckpt_tick(struct kafka_source *s)
{
	if (s->ckpt && !s->finished && ckpt_interval_idle(&s->ckpt_every))
		ckpt_barrier(s, 0);
}

/*
 * After a record read (written, or dropped by --where or s@MS): a
 * barrier if one is due. None when the run is ending: its last barrier
 * follows.
 */
static void ckpt_after_record(struct kafka_source *s)
{
	if (!s->ckpt || s->finished)
		return;
	if (ckpt_interval_record(&s->ckpt_every))
		ckpt_barrier(s, 0);
}

/*
 * Whether topic is one -t names (by name, or a "^regex" that matches it).
 * A regex that does not compile matches nothing: the subscription reports
 * it as a usage error.
 */
static int own_topic(const struct kafka_source *s, const char *topic)
{
	size_t i;
	regex_t re;
	int match;

	for (i = 0; i < s->o->topics.n; i++) {
		const char *want = s->o->topics.v[i];

		if (*want != '^') {
			if (strcmp(want, topic) == 0)
				return 1;
			continue;
		}
		if (regcomp(&re, want, REG_EXTENDED | REG_NOSUB))
			continue;
		match = !regexec(&re, topic, 0, NULL, 0);
		regfree(&re);
		if (match)
			return 1;
	}
	return 0;
}

/*
 * Reads state/committed.json: its id, and the positions of its own
 * topics' partitions as their starts. Those are carried in every barrier,
 * read or not (a partition a rebalance has not handed out yet is not
 * forgotten). Another topic's position is not this source's to carry: two
 * sources of one job share the state directory (a two-topic interval
 * join), and each barrier names its own source's partitions only; the
 * stage that merges them (fx-join) has each source's from its own
 * barriers. FX_EXIT_IO after a message naming committed.json if it cannot
 * be read or is not whole.
 */
static int ckpt_restore(struct kafka_source *s)
{
	const char *dir = s->o->state;
	size_t n = strlen(dir) + sizeof("/committed.json");
	struct ckpt_state c = {0};
	char *path;
	size_t i;

	if (ckpt_state_read(dir, &c)) {
		int err = errno;

		path = fx_malloc(n);
		fx_warn(s->ctx, "%s: %s", ckpt_state_path(dir, path, n),
		        err == EBADMSG ? "corrupt: not a committed checkpoint"
		                       : strerror(err));
		free(path);
		return FX_EXIT_IO;
	}
	for (i = 0; i < c.npos; i++)
		if (own_topic(s, c.pos[i].topic))
			part_get(s, c.pos[i].topic, c.pos[i].partition)->start =
			    c.pos[i].offset;
	s->ckpt_id = c.id;
	ckpt_state_free(&c);
	return 0;
}

/* The restore record, first of all; barriers are counted from here. */
static void ckpt_begin(struct kafka_source *s)
{
	fx_buf_reset(&s->ctl);
	ckpt_restore_format(&s->ctl, s->ckpt_id);
	put_control(s);
	/* --stats, lineage: the committed checkpoint this run resumes from */
	s->ctx->ckpt.on = 1;
	s->ctx->ckpt.restored_seen = 1;
	s->ctx->ckpt.restored = s->ctx->ckpt.committed = s->ckpt_id;
	ckpt_interval_start(&s->ckpt_every, s->o->ckpt_records, s->o->ckpt_ms);
}

static void part_done(struct kafka_source *s, struct part_state *p)
{
	rd_kafka_topic_partition_list_t *l;

	if (p->done)
		return;
	p->done = 1;
	s->ndone++;
	/* stop fetching what we will not emit */
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
	rd_kafka_pause_partitions(s->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
}

/*
 * -e in a group means the whole subscription, not just this member's
 * share: a member that dies leaves partitions that someone must read.
 */
static int waits_for_group(const struct kafka_source *s)
{
	/* with checkpoints the group commits nothing to look at */
	return s->o->group && s->o->exit_at_end && s->off.end_ts < 0 &&
	       !s->ckpt;
}

/* How long -e in a group waits for the group without progress, in s. */
static double group_wait(const struct kafka_source *s)
{
	char v[64];
	size_t n = sizeof(v);
	double session = 45;

	if (rd_kafka_conf_get(rd_kafka_conf(s->rk), "session.timeout.ms", v,
	                      &n) == RD_KAFKA_CONF_OK)
		session = strtod(v, NULL) / 1000;
	return session + (double)s->o->conf.timeout_ms / 1000;
}

/*
 * With -e or e@MS: finished when no assigned partition has more to give;
 * in a group with -e, that starts the wait for the rest of the group.
 */
static void check_finished(struct kafka_source *s)
{
	if (!(s->o->exit_at_end || s->off.end_ts >= 0) || !s->assigned_once ||
	    s->ndone != s->nassigned) {
		s->own_done = 0;
		return;
	}
	if (!waits_for_group(s)) {
		s->finished = s->at_end = 1;
	} else if (!s->own_done) {
		s->own_done = 1;
		s->group_deadline = fx_now() + group_wait(s);
		s->group_next_check = 0;
	}
}

/*
 * A partition reached its end: the one it had when assigned, or the one
 * librdkafka reports (PARTITION_EOF). One eof record per reaching; -e
 * stops reading it.
 */
static void part_at_end(struct kafka_source *s, struct part_state *p)
{
	if (!p->at_eof) {
		p->at_eof = 1;
		if (s->o->meta)
			emit_eof(s, p);
	}
	if (s->o->exit_at_end) {
		part_done(s, p);
		/*
		 * In a group, commit as each partition ends: when this member
		 * leaves, nothing is left for a commit that the rebalance its
		 * leaving (or another member's) could refuse.
		 */
		if (s->o->group && source_flush(s) == 0)
			commit_send(s, 0);
		check_finished(s);
	}
}

/* The start offset of a partition with no committed offset. */
static int64_t start_offset(const struct offset_spec *sp)
{
	switch (sp->kind) {
	case OFF_END:
		return RD_KAFKA_OFFSET_END;
	case OFF_ABS:
		return sp->value;
	case OFF_TAIL:
		return RD_KAFKA_OFFSET_TAIL(sp->value);
	case OFF_TIME:
		return sp->value; /* resolved by offsets_for_times */
	default:
		return RD_KAFKA_OFFSET_BEGINNING;
	}
}

#define END_UNQUERIED (-2) /* part_state.end of a newly assigned partition */

/*
 * The watermarks of the partitions of l that want (s, p) picks, for all of
 * them at once: two ListOffsets requests (latest, earliest) instead of
 * rd_kafka_query_watermark_offsets()'s round trip for one partition after
 * the other (64 of them before -e's first record on a 64-partition
 * topic). Sets wm_lo, wm_hi and wm_known of each partition answered; one
 * left without an answer is looked up alone where it is needed. The
 * values hold for one assignment: note_assigned() forgets them.
 */
static void watermarks_lookup(struct kafka_source *s,
                              const rd_kafka_topic_partition_list_t *l,
                              int (*want)(struct kafka_source *,
                                          const rd_kafka_topic_partition_t *))
{
	rd_kafka_topic_partition_list_t *hi, *lo;
	int i, timeout = (int)s->o->conf.timeout_ms;

	hi = rd_kafka_topic_partition_list_new(l->cnt > 0 ? l->cnt : 1);
	for (i = 0; i < l->cnt; i++)
		if (want(s, &l->elems[i]) &&
		    !part_get(s, l->elems[i].topic, l->elems[i].partition)
		         ->wm_known)
			rd_kafka_topic_partition_list_add(hi, l->elems[i].topic,
			                                  l->elems[i].partition)
			    ->offset = RD_KAFKA_OFFSET_END;
	lo = rd_kafka_topic_partition_list_copy(hi);
	for (i = 0; i < lo->cnt; i++)
		lo->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
	if (hi->cnt && !rd_kafka_offsets_for_times(s->rk, hi, timeout) &&
	    !rd_kafka_offsets_for_times(s->rk, lo, timeout)) {
		for (i = 0; i < hi->cnt; i++) {
			const rd_kafka_topic_partition_t *h = &hi->elems[i],
			                                 *w = &lo->elems[i];
			struct part_state *p =
			    part_get(s, h->topic, h->partition);

			if (h->err || w->err || h->offset < 0 || w->offset < 0)
				continue;
			p->wm_lo = w->offset;
			p->wm_hi = h->offset;
			p->wm_known = 1;
		}
	}
	rd_kafka_topic_partition_list_destroy(hi);
	rd_kafka_topic_partition_list_destroy(lo);
}

/*
 * The offset a symbolic start (beginning, end, -N) means in a partition
 * whose watermarks are lo and hi; any other start as it is.
 */
static int64_t symbolic_offset(int64_t o, int64_t lo, int64_t hi)
{
	if (o == RD_KAFKA_OFFSET_BEGINNING)
		o = lo;
	else if (o == RD_KAFKA_OFFSET_END)
		o = hi;
	else if (o <= RD_KAFKA_OFFSET_TAIL_BASE)
		o = hi - (RD_KAFKA_OFFSET_TAIL_BASE - o);
	else
		return o;
	return o < lo ? lo : o;
}

/* watermarks_lookup(): a start that is not an offset yet */
static int symbolic_start(struct kafka_source *s,
                          const rd_kafka_topic_partition_t *e)
{
	(void)s;
	return e->offset == RD_KAFKA_OFFSET_BEGINNING ||
	       e->offset == RD_KAFKA_OFFSET_END ||
	       e->offset <= RD_KAFKA_OFFSET_TAIL_BASE;
}

/* watermarks_lookup(): a symbolic start, or -o N, whose end is wanted */
static int start_to_look_up(struct kafka_source *s,
                            const rd_kafka_topic_partition_t *e)
{
	return symbolic_start(s, e) ||
	       part_get(s, e->topic, e->partition)->abs_start;
}

/* Partitions named in a message about -o N, before "and N more". */
#define PAST_END_NAMED 8

/*
 * -o N past a partition's end: it starts at its end, as kcat does (with
 * and without -e alike). Left to librdkafka, the fetch at N fails and
 * auto.offset.reset (fx's default: earliest) read the whole partition,
 * unless -e had already stopped it there. Counts the partition in *past
 * and names it in msg (one message for all of them). One whose end cannot
 * be looked up is left to auto.offset.reset.
 */
static void start_past_end(struct kafka_source *s, struct part_state *p,
                           rd_kafka_topic_partition_t *e, struct fx_buf *msg,
                           int *past)
{
	int64_t lo = p->wm_lo, hi = p->wm_hi;
	char num[64];

	p->abs_start = 0;
	if (!p->wm_known &&
	    rd_kafka_query_watermark_offsets(s->rk, p->topic, p->partition, &lo,
	                                     &hi, (int)s->o->conf.timeout_ms))
		return; /* left to auto.offset.reset */
	if (e->offset <= hi)
		return;
	e->offset = hi;
	if (++*past > PAST_END_NAMED)
		return;
	fx_buf_adds(msg, *past > 1 ? ", " : "");
	fx_buf_adds(msg, p->topic);
	snprintf(num, sizeof(num), "/%" PRId32 " (%" PRId64 ")", p->partition,
	         hi);
	fx_buf_adds(msg, num);
}

/*
 * Symbolic starts (beginning, end, -N) become the offsets they mean now,
 * looked up for all partitions at once: left to librdkafka, each costs a
 * ListOffsets request of its own, and one of 64 answered late held the
 * fetch back about 0.5 s in one run of two (64 partitions, fx-devbroker).
 * A partition without an answer keeps its symbolic start. A start at -o N
 * past a partition's end becomes the end (start_past_end()), said once for
 * all of them.
 */
static void numeric_starts(struct kafka_source *s,
                           rd_kafka_topic_partition_list_t *l)
{
	struct fx_buf msg = {0};
	int i, past = 0;

	watermarks_lookup(s, l, start_to_look_up);
	for (i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *e = &l->elems[i];
		struct part_state *p = part_get(s, e->topic, e->partition);

		if (symbolic_start(s, e) && p->wm_known)
			e->offset =
			    symbolic_offset(e->offset, p->wm_lo, p->wm_hi);
		else if (p->abs_start)
			start_past_end(s, p, e, &msg, &past);
	}
	if (past) {
		char more[64] = "";

		if (past > PAST_END_NAMED)
			snprintf(more, sizeof(more), " and %d more",
			         past - PAST_END_NAMED);
		fx_buf_addc(&msg, 0);
		fx_warn(s->ctx, "-o %" PRId64 ": past the end of %s%s: %s",
		        s->off.value, msg.p, more,
		        past > 1 ? "they start at their end"
		                 : "it starts at its end");
	}
	fx_buf_free(&msg);
}

/*
 * --checkpoint: a symbolic start (beginning, end, -N) becomes the offset
 * it means now, so that barriers can name it before a record comes; the
 * partition's start is where it reads from. One left symbolic (the
 * watermarks could not be read) has no start until its first record.
 */
static void ckpt_starts(struct kafka_source *s,
                        rd_kafka_topic_partition_list_t *l)
{
	int i;

	for (i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *e = &l->elems[i];
		int64_t lo, hi, o = e->offset;

		/* one numeric_starts() could not look up */
		if (o < 0 && !rd_kafka_query_watermark_offsets(
		                 s->rk, e->topic, e->partition, &lo, &hi,
		                 (int)s->o->conf.timeout_ms)) {
			o = symbolic_offset(o, lo, hi);
			if (o >= 0)
				e->offset = o;
		}
		part_get(s, e->topic, e->partition)->start =
		    e->offset >= 0 ? e->offset : -1;
	}
}

/*
 * Fills in start offsets: the committed offset where the group has one,
 * else what -o says; timestamps become offsets. With --checkpoint, the
 * position the run has (read this run, or restored from committed.json)
 * instead of the group's offsets, which only -o stored reads.
 */
static void resolve_offsets(struct kafka_source *s,
                            rd_kafka_topic_partition_list_t *l)
{
	int timeout = (int)s->o->conf.timeout_ms;
	rd_kafka_topic_partition_list_t *times;
	rd_kafka_resp_err_t err;
	int i;

	for (i = 0; i < l->cnt; i++)
		l->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
	if (s->o->group && (!s->ckpt || s->off.kind == OFF_STORED)) {
		err = rd_kafka_committed(s->rk, l, timeout);
		if (err)
			fx_warn(s->ctx,
			        "group '%s': cannot read committed offsets: %s",
			        s->o->group, rd_kafka_err2str(err));
	}
	for (i = 0; s->ckpt && i < l->cnt; i++) {
		rd_kafka_topic_partition_t *e = &l->elems[i];
		int64_t at = part_position(part_get(s, e->topic, e->partition));

		if (at >= 0)
			e->offset = at;
	}
	times = rd_kafka_topic_partition_list_new(l->cnt);
	for (i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *e = &l->elems[i];

		if (e->offset >= 0)
			continue;
		e->offset = start_offset(&s->off);
		part_get(s, e->topic, e->partition)->abs_start =
		    s->off.kind == OFF_ABS;
		if (s->off.kind == OFF_TIME)
			rd_kafka_topic_partition_list_add(times, e->topic,
			                                  e->partition)
			    ->offset = s->off.value;
	}
	if (times->cnt) {
		err = rd_kafka_offsets_for_times(s->rk, times, timeout);
		if (err)
			fx_warn(s->ctx,
			        "-o s@%" PRId64 ": cannot look up offsets: %s",
			        s->off.value, rd_kafka_err2str(err));
		for (i = 0; i < times->cnt; i++) {
			rd_kafka_topic_partition_t *t = &times->elems[i];
			rd_kafka_topic_partition_t *e =
			    rd_kafka_topic_partition_list_find(l, t->topic,
			                                       t->partition);

			/*
			 * -1 is "no record at or after the time" from a
			 * broker, but also all that fx-devbroker's mock
			 * answers: scan from the beginning and skip older
			 * records here, which gives the same result.
			 */
			e->offset = !err && !t->err && t->offset >= 0
			                ? t->offset
			                : RD_KAFKA_OFFSET_BEGINNING;
			part_get(s, t->topic, t->partition)->skip_ts =
			    s->off.value;
		}
	}
	rd_kafka_topic_partition_list_destroy(times);
	numeric_starts(s, l);
	if (s->ckpt)
		ckpt_starts(s, l);
}

/* Looks up the end a newly assigned partition has now. */
static void note_end(struct kafka_source *s, struct part_state *p,
                     int64_t start)
{
	int64_t lo = -1, hi = -1;

	p->end = -1;
	if (!s->o->exit_at_end && !s->o->meta)
		return;
	if (p->wm_known) {
		lo = p->wm_lo;
		hi = p->wm_hi;
	} else if (rd_kafka_query_watermark_offsets(
	               s->rk, p->topic, p->partition, &lo, &hi,
	               (int)s->o->conf.timeout_ms)) {
		return; /* PARTITION_EOF still ends it */
	}
	if (hi <= lo || start == RD_KAFKA_OFFSET_END || start >= hi) {
		/*
		 * In a group the end is this partition's position now: commit
		 * it, so that -e's look at the group's offsets sees it read
		 * (-o end starts a new group there without reading a record).
		 */
		if (s->o->group && p->next < hi)
			p->next = hi;
		part_at_end(s, p);
	} else
		p->end = hi;
}

/* watermarks_lookup(): a partition whose end -e or --meta must know */
static int end_unqueried(struct kafka_source *s,
                         const rd_kafka_topic_partition_t *e)
{
	return (s->o->exit_at_end || s->o->meta) &&
	       part_get(s, e->topic, e->partition)->end == END_UNQUERIED;
}

/*
 * Takes on the partitions of l, then records the ends that -e waits for
 * and --meta reports: all of l is in the assignment before an eof record
 * can name one of them.
 */
static void note_assigned(struct kafka_source *s,
                          const rd_kafka_topic_partition_list_t *l)
{
	int i;

	for (i = 0; i < l->cnt; i++) {
		struct part_state *p =
		    part_get(s, l->elems[i].topic, l->elems[i].partition);

		if (p->assigned)
			continue;
		p->assigned = 1;
		p->done = p->at_eof = 0;
		p->end = END_UNQUERIED;
		s->nassigned++;
		s->assignment_changed = 1;
	}
	emit_assigned(s);
	watermarks_lookup(s, l, end_unqueried);
	for (i = 0; i < l->cnt; i++) {
		struct part_state *p =
		    part_get(s, l->elems[i].topic, l->elems[i].partition);

		if (p->end == END_UNQUERIED)
			note_end(s, p, l->elems[i].offset);
		p->wm_known = 0;
	}
	s->assigned_once = 1;
	check_finished(s);
}

static void note_revoked(struct kafka_source *s,
                         const rd_kafka_topic_partition_list_t *l)
{
	int i;

	for (i = 0; i < l->cnt; i++) {
		struct part_state *p =
		    part_get(s, l->elems[i].topic, l->elems[i].partition);

		if (!p->assigned)
			continue;
		p->assigned = 0;
		p->skip_ts = -1;
		s->assignment_changed = 1;
		s->nassigned--;
		if (p->done)
			s->ndone--;
		p->done = 0;
	}
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque)
{
	struct kafka_source *s = ((struct kafka_health *)opaque)->owner;
	int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		s->assign_events++;
		resolve_offsets(s, l);
		if (coop)
			rd_kafka_error_destroy(
			    rd_kafka_incremental_assign(rk, l));
		else
			rd_kafka_assign(rk, l);
		note_assigned(s, l);
		return;
	}
	/*
	 * revoked: hand over what we have written, so that the next owner
	 * need not read it again (a failed commit is tried again later)
	 */
	if (source_flush(s) == 0) {
		commit_send(s, 1);
		commit_serve(s, (int)(final_wait(s) * 1000));
	}
	note_revoked(s, l);
	if (coop)
		rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, l));
	else
		rd_kafka_assign(rk, NULL);
	if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
		fx_warn(s->ctx, "group '%s': rebalance: %s", s->o->group,
		        rd_kafka_err2str(err));
}

/* Appends the --meta members before the record's closing brace. */
static void add_meta(struct kafka_source *s, const rd_kafka_message_t *m,
                     const char *v, size_t n)
{
	struct fx_buf *b = &s->rec;
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_timestamp_type_t tstype;
	int64_t ts = rd_kafka_message_timestamp(m, &tstype);
	const char *topic = rd_kafka_topic_name(m->rkt);
	char tsbuf[FX_TIME_ISO_LEN + 1], num[64];

	recedit_begin(b, v, n);
	fx_buf_adds(b, "\"_fx_topic\":");
	fx_buf_add_json_string(b, topic, strlen(topic));
	snprintf(num, sizeof(num),
	         ",\"_fx_partition\":%" PRId32 ",\"_fx_offset\":%" PRId64
	         ",\"_fx_key\":",
	         m->partition, m->offset);
	fx_buf_adds(b, num);
	add_bytes_json(b, m->key, m->key_len);
	fx_buf_adds(b, ",\"_fx_ts\":");
	if (ts >= 0) {
		size_t tslen = fx_time_format_iso(ts, tsbuf);

		fx_buf_addc(b, '"');
		fx_buf_add(b, tsbuf, tslen);
		fx_buf_addc(b, '"');
	} else {
		fx_buf_adds(b, "null");
	}
	if (!rd_kafka_message_headers(m, &hdrs) && rd_kafka_header_cnt(hdrs)) {
		const char *name;
		const void *val;
		size_t vlen, i;

		fx_buf_adds(b, ",\"_fx_headers\":[");
		for (i = 0;
		     !rd_kafka_header_get_all(hdrs, i, &name, &val, &vlen);
		     i++) {
			fx_buf_adds(b, i ? ",[" : "[");
			fx_buf_add_json_string(b, name, strlen(name));
			fx_buf_addc(b, ',');
			add_bytes_json(b, val, vlen);
			fx_buf_addc(b, ']');
		}
		fx_buf_addc(b, ']');
	}
	fx_buf_addc(b, '}');
}

/* Builds s->rec from a message value; 0, or -1 for a bad record. */
static int make_record(struct kafka_source *s, const rd_kafka_message_t *m,
                       const char **reason, size_t *at)
{
	struct json_error jerr;
	const char *v = m->payload ? m->payload : "";
	size_t n = m->len;
	int rc;

	/* the scanner may read ahead: scan a padded copy */
	fx_buf_reset(&s->val);
	fx_buf_add(&s->val, v, n);
	fx_buf_grow(&s->val, RECORD_READER_PAD);
	memset(s->val.p + n, 0, RECORD_READER_PAD);
	fx_buf_reset(&s->rec);
	rc = json_scan(&s->sc, NULL, s->val.p, n, NULL, &jerr, 0);
	if (rc < 0 && s->o->wrap) {
		if (!json_utf8_valid(v, n)) {
			*reason = "not UTF-8 text";
			return -1;
		}
		fx_buf_reset(&s->val);
		fx_buf_adds(&s->val, "{\"value\":");
		if (m->payload)
			fx_buf_add_json_string(&s->val, v, n);
		else
			fx_buf_adds(&s->val, "null");
		fx_buf_addc(&s->val, '}');
		n = s->val.len;
	} else if (rc < 0) {
		if (rc == JSON_SCAN_NOT_OBJECT) {
			*reason = "not a JSON object";
		} else {
			*reason = jerr.reason;
			*at = jerr.offset + 1;
		}
		return -1;
	} else if (rc & JSON_SCAN_CONTROL) {
		/*
		 * fx-sink never produces a control record: one in a topic
		 * came from elsewhere, and downstream it would be obeyed (a
		 * checkpoint, a watermark) instead of being data.
		 */
		*reason = "a message whose first key is \"_fx\" would be read "
		          "as a control record";
		return -1;
	} else {
		/* a message may hold pretty-printed JSON */
		json_one_line(s->val.p, n);
	}
	if (s->o->meta)
		add_meta(s, m, s->val.p, n);
	else
		fx_buf_add(&s->rec, s->val.p, n);
	return 0;
}

/* Writes the record of m, or reports it bad. Returns 0 or an exit status. */
static int emit(struct kafka_source *s, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	struct fx_where where = {topic, 0, m->partition, m->offset};
	const char *reason = NULL;
	size_t max = s->ctx->max_record;
	size_t at = 0;

	/* as a file's line is (stream.c): the dead letter keeps max bytes */
	if (max && m->len > max)
		return fx_bad_record_cut(
		    s->ctx, &where, NULL, m->payload, max, m->len,
		    "record longer than --max-record (%zu bytes)", max);
	if (make_record(s, m, &reason, &at)) {
		if (!at) /* not an object, or --wrap's "not UTF-8 text" */
			return fx_bad_record(s->ctx, &where, NULL, m->payload,
			                     m->len, "%s", reason);
		/* as a file's bad line is reported (stream.c) */
		return fx_bad_record(s->ctx, &where, NULL, m->payload, m->len,
		                     "invalid JSON: %s at byte %zu", reason,
		                     at);
	}
	emit_assigned(s);
	if (s->o->keep) {
		/* the --wrap'ed value was rebuilt without the padding */
		fx_buf_grow(&s->val, RECORD_READER_PAD);
		memset(s->val.p + s->val.len, 0, RECORD_READER_PAD);
		if (!s->o->keep(s->o->keep_arg, topic, s->val.p, s->val.len))
			return 0;
	}
	if (record_writer_put(s->out, s->rec.p, s->rec.len)) {
		s->finished = 1; /* reported (or a closed pipe) at close */
		return 0;
	}
	s->ctx->st.records_out++;
	s->ctx->st.bytes_out += s->rec.len + 1;
	s->written++;
	return 0;
}

static void handle_message(struct kafka_source *s, rd_kafka_message_t *m)
{
	struct part_state *p =
	    part_get(s, rd_kafka_topic_name(m->rkt), m->partition);
	int64_t ts = rd_kafka_message_timestamp(m, NULL);
	int rc;

	if (!p->assigned || p->done)
		return; /* revoked or past its end: not ours to emit */
	if (s->off.end_ts >= 0 && ts >= s->off.end_ts) {
		part_done(s, p);
		check_finished(s);
		return;
	}
	p->at_eof = 0;
	s->ctx->st.records_in++;
	fx_progress(s->ctx);
	lineage_count(p->dataset, 1);
	s->ctx->st.bytes_in += m->len;
	if (p->skip_ts >= 0 && ts < p->skip_ts) {
		p->next = m->offset + 1; /* older than s@MS */
		if (p->end >= 0 && p->next >= p->end) {
			p->end = -1;
			part_at_end(s, p);
		}
		ckpt_after_record(s);
		return;
	}
	p->skip_ts = -1;
	if ((rc = emit(s, m))) {
		s->status = rc;
		s->finished = 1;
		return;
	}
	if (s->finished)
		return;
	p->next = m->offset + 1;
	if (s->o->count && s->written >= s->o->count)
		s->finished = 1;
	else if (p->end >= 0 && p->next >= p->end) {
		p->end = -1;
		part_at_end(s, p);
	}
	ckpt_after_record(s);
}

static void handle_error(struct kafka_source *s, rd_kafka_message_t *m)
{
	const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;

	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		struct part_state *p = part_get(s, topic, m->partition);

		if (p->assigned && !p->done)
			part_at_end(s, p);
		return;
	}
	if (topic)
		fx_warn(s->ctx, "topic '%s' [%" PRId32 "]: %s", topic,
		        m->partition, rd_kafka_message_errstr(m));
	else
		fx_warn(s->ctx, "%s", rd_kafka_message_errstr(m));
	if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	    m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
	    m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
	    m->err == RD_KAFKA_RESP_ERR__FATAL) {
		s->status = FX_EXIT_IO;
		s->finished = 1;
	}
}

/*
 * In a run of ready messages: the commit that is due once a second. Behind
 * a slow reader the prefetch queue never runs dry, and the main loop's
 * commit would wait for the whole backlog (a member killed then had
 * committed nothing of it). What is committed is still only what has left
 * the process: the buffer is written out first.
 */
static void commit_due_busy(struct kafka_source *s)
{
	if (!s->o->group || s->ckpt || s->finished ||
	    fx_now_coarse() - s->last_commit < 1.0)
		return;
	if (source_flush(s))
		s->finished = 1; /* reported (or a closed pipe) at close */
	else
		source_commit_due(s);
}

/* Messages, and bytes of them, between two looks at the clock. */
#define BUSY_CHECK_MESSAGES 64
#define BUSY_CHECK_BYTES    ((size_t)1 << 20)

/*
 * Handles what is ready: waits up to wait_ms for the first message, then
 * takes the rest without waiting, committing as it goes when the rest is
 * long (commit_due_busy(), looked at every BUSY_CHECK_MESSAGES messages or
 * BUSY_CHECK_BYTES bytes: a write to a slow reader may block on each).
 * Returns how many it handled.
 */
static int consume_ready(struct kafka_source *s, int wait_ms)
{
	rd_kafka_message_t *m;
	size_t bytes = 0;
	int n = 0, since = 0;

	while (!s->finished && !fx_stop &&
	       (m = rd_kafka_consumer_poll(s->rk, n ? 0 : wait_ms))) {
		if (m->err)
			handle_error(s, m);
		else
			handle_message(s, m);
		bytes += m->len;
		rd_kafka_message_destroy(m);
		n++;
		if (++since >= BUSY_CHECK_MESSAGES ||
		    bytes >= BUSY_CHECK_BYTES) {
			since = 0;
			bytes = 0;
			commit_due_busy(s);
		}
	}
	return n;
}

static const char *const source_defaults[] = {
    /* fx-consume commits itself, what it has flushed: see source_commit */
    "enable.auto.commit",
    "false",
    "enable.auto.offset.store",
    "false",
    "auto.offset.reset",
    "earliest",
    "enable.partition.eof",
    "true",
    /*
     * How long a broker may hold a fetch for partitions with nothing new
     * (librdkafka's default 500 ms). On fx-devbroker with 16 to 64
     * partitions each such fetch is paid in full, dozens of times at the
     * start of a topic: -e over 200,000 records in 64 partitions took 1 s
     * or 6 s at 100 ms, 1 to 30 s at 500, 1.0 to 1.7 s at 10 (kcat -C -e:
     * 1.1 to 1.6 s). The price of 10 ms: an idle consumer asks each
     * broker up to 100 times a second (fx-consume(1), KAFKA).
     */
    "fetch.wait.max.ms",
    "10",
    "fetch.max.bytes",
    "67108864",
    "max.partition.fetch.bytes",
    "4194304",
    /*
     * librdkafka 2.0 counts the prefetch threshold over the whole
     * consumer queue, not per partition: with 64 partitions the default
     * stalls fetching for a second at a time. Prefetch up to 128 MiB.
     */
    "queued.min.messages",
    "1000000",
    "queued.max.messages.kbytes",
    "131072",
    "log.connection.close",
    "false",
    NULL,
};

/*
 * Adds every partition of the topics -t names to l, once: a topic that
 * two -t match (-t p8 -t '^p.$') is read once. A named topic that is not
 * there is reported (if report) and is FX_EXIT_IO.
 */
static int topics_partitions(struct kafka_source *s,
                             const struct rd_kafka_metadata *md,
                             rd_kafka_topic_partition_list_t *l, int report)
{
	char *taken = fx_malloc(md->topic_cnt > 0 ? (size_t)md->topic_cnt : 1);
	size_t i;
	int t, j, rc = 0;

	memset(taken, 0, md->topic_cnt > 0 ? (size_t)md->topic_cnt : 1);
	for (i = 0; i < s->o->topics.n && !rc; i++) {
		const char *want = s->o->topics.v[i];
		regex_t re;
		int found = 0;

		if (*want == '^' &&
		    regcomp(&re, want, REG_EXTENDED | REG_NOSUB))
			fx_usage_error(
			    s->ctx, "-t: not a regular expression: '%s'", want);
		for (t = 0; t < md->topic_cnt; t++) {
			const struct rd_kafka_metadata_topic *mt =
			    &md->topics[t];

			if (*want == '^' ? regexec(&re, mt->topic, 0, NULL, 0)
			                 : strcmp(want, mt->topic))
				continue;
			found = 1;
			if (taken[t]++)
				continue;
			for (j = 0; j < mt->partition_cnt; j++)
				rd_kafka_topic_partition_list_add(
				    l, mt->topic, mt->partitions[j].id);
		}
		if (*want == '^')
			regfree(&re);
		else if (!found) {
			if (report)
				fx_warn(s->ctx, "topic '%s': no such topic",
				        want);
			rc = FX_EXIT_IO;
		}
	}
	free(taken);
	return rc;
}

/* Without a group: assign every partition of the matching topics. */
static int assign_all(struct kafka_source *s)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t err;
	int rc;

	err =
	    rd_kafka_metadata(s->rk, 1, NULL, &md, (int)s->o->conf.timeout_ms);
	if (err) {
		fx_warn(s->ctx, "cannot read topics: %s",
		        rd_kafka_err2str(err));
		return FX_EXIT_IO;
	}
	l = rd_kafka_topic_partition_list_new(64);
	rc = topics_partitions(s, md, l, 1);
	rd_kafka_metadata_destroy(md);
	if (!rc) {
		resolve_offsets(s, l);
		if ((err = rd_kafka_assign(s->rk, l))) {
			fx_warn(s->ctx, "cannot assign partitions: %s",
			        rd_kafka_err2str(err));
			rc = FX_EXIT_IO;
		} else {
			note_assigned(s, l);
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

/*
 * The end of every partition of the subscription, once: the offset -e in
 * a group waits for the group to commit; -1 for an empty partition.
 * Returns 0, or -1 to try again later.
 */
static int group_ends_init(struct kafka_source *s)
{
	int timeout = (int)s->o->conf.timeout_ms;
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_partition_list_t *l;
	int i, rc;

	if (rd_kafka_metadata(s->rk, 1, NULL, &md, timeout))
		return -1;
	l = rd_kafka_topic_partition_list_new(64);
	rc = topics_partitions(s, md, l, 0);
	rd_kafka_metadata_destroy(md);
	for (i = 0; !rc && i < l->cnt; i++) {
		rd_kafka_topic_partition_t *e = &l->elems[i];
		int64_t lo, hi;

		if (rd_kafka_query_watermark_offsets(
		        s->rk, e->topic, e->partition, &lo, &hi, timeout))
			rc = -1;
		else
			e->offset = hi > lo ? hi : -1;
	}
	if (rc) {
		rd_kafka_topic_partition_list_destroy(l);
		return -1;
	}
	s->group_ends = l;
	return 0;
}

/*
 * -e in a group, this member's partitions done: finished when the group
 * has committed every partition of the subscription to its end; fails
 * (FX_EXIT_IO, naming what is unread) when the group made no progress for
 * group_wait(): long enough for a dead member's session to expire and its
 * partitions to be read by a survivor, this one included (it stays in the
 * group and takes what the rebalance gives it).
 */
static void group_check(struct kafka_source *s)
{
	double now = fx_now();
	rd_kafka_topic_partition_list_t *l;
	int64_t progress = 0;
	int i, unread = 0;

	if (!s->own_done || now < s->group_next_check)
		return;
	s->group_next_check = now + 0.5;
	if (!s->group_ends && group_ends_init(s))
		goto deadline;
	l = rd_kafka_topic_partition_list_copy(s->group_ends);
	for (i = 0; i < l->cnt; i++)
		l->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
	if (rd_kafka_committed(s->rk, l, 2000)) {
		rd_kafka_topic_partition_list_destroy(l);
		goto deadline;
	}
	for (i = 0; i < l->cnt; i++) {
		int64_t end = s->group_ends->elems[i].offset;
		int64_t at = l->elems[i].err ? -1 : l->elems[i].offset;

		if (at > 0)
			progress += at;
		if (end >= 0 && at < end)
			unread++;
	}
	if (!unread) {
		s->finished = s->at_end = 1;
	} else if (progress > s->group_progress) {
		s->group_progress = progress;
		s->group_deadline = now + group_wait(s);
	} else if (now >= s->group_deadline) {
		struct fx_buf b = {0};
		char num[96];

		for (i = 0; i < l->cnt; i++) {
			int64_t end = s->group_ends->elems[i].offset;
			int64_t at = l->elems[i].err ? -1 : l->elems[i].offset;

			if (end < 0 || at >= end)
				continue;
			fx_buf_adds(&b, b.len ? ", " : "");
			fx_buf_adds(&b, l->elems[i].topic);
			if (at >= 0)
				snprintf(num, sizeof(num),
				         "/%" PRId32 " (at %" PRId64
				         " of %" PRId64 ")",
				         l->elems[i].partition, at, end);
			else
				snprintf(num, sizeof(num),
				         "/%" PRId32 " (nothing of %" PRId64
				         ")",
				         l->elems[i].partition, end);
			fx_buf_adds(&b, num);
		}
		fx_buf_addc(&b, 0);
		fx_warn(
		    s->ctx,
		    "group '%s': -e: %d partition(s) not read to their end, no progress for %.0f s: %s",
		    s->o->group, unread, group_wait(s), b.p);
		fx_buf_free(&b);
		s->status = FX_EXIT_IO;
		s->finished = 1;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return;
deadline:
	if (now >= s->group_deadline) {
		fx_warn(s->ctx,
		        "group '%s': -e: cannot read the group's offsets: %s",
		        s->o->group,
		        kafka_health_reason(&s->health, "no answer"));
		s->status = FX_EXIT_IO;
		s->finished = 1;
	}
}

static int subscribe(struct kafka_source *s)
{
	rd_kafka_topic_partition_list_t *l =
	    rd_kafka_topic_partition_list_new((int)s->o->topics.n);
	rd_kafka_resp_err_t err;
	size_t i;

	/* a name given twice once: librdkafka refuses a duplicate */
	for (i = 0; i < s->o->topics.n; i++)
		if (!rd_kafka_topic_partition_list_find(l, s->o->topics.v[i],
		                                        RD_KAFKA_PARTITION_UA))
			rd_kafka_topic_partition_list_add(
			    l, s->o->topics.v[i], RD_KAFKA_PARTITION_UA);
	err = rd_kafka_subscribe(s->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (err) {
		fx_warn(s->ctx, "cannot subscribe: %s", rd_kafka_err2str(err));
		return FX_EXIT_IO;
	}
	return 0;
}

/*
 * --progress's lag: over the assigned partitions, the high watermark
 * librdkafka last saw (cached from fetch responses, no broker request)
 * minus the offset after the last record written. Partitions where either
 * is not known yet are left out; -1 if none is known.
 */
static int64_t source_lag(void *arg)
{
	struct kafka_source *s = arg;
	int64_t lag = -1, lo, hi;
	size_t i;

	for (i = 0; i < s->nparts; i++) {
		const struct part_state *p = &s->parts[i];

		if (!p->assigned || p->next < 0 ||
		    rd_kafka_get_watermark_offsets(s->rk, p->topic,
		                                   p->partition, &lo, &hi) ||
		    hi < 0)
			continue;
		lag = (lag < 0 ? 0 : lag) + (hi > p->next ? hi - p->next : 0);
	}
	return lag;
}

/* Fails the run if every broker has been away for longer than --timeout. */
static void watch_brokers(struct kafka_source *s)
{
	struct kafka_health *h = &s->health;

	if (!h->down_since ||
	    fx_now() - h->down_since < (double)s->o->conf.timeout_ms / 1000)
		return;
	if (kafka_check_brokers(s->ctx, s->rk, h, 1000)) {
		s->status = FX_EXIT_IO;
		s->finished = 1;
	}
}

static int source_open(struct kafka_source *s)
{
	rd_kafka_conf_t *c;
	char errstr[512];

	s->health.owner = s;
	c = kafka_conf_build(s->ctx, RD_KAFKA_CONSUMER, &s->o->conf,
	                     source_defaults, &s->health);
	if (!s->o->group) {
		/*
		 * librdkafka's assign() wants a group.id, even though a
		 * manual assignment joins no group and commits nothing.
		 */
		kafka_conf_set(s->ctx, c, "group.id", "fx-consume-no-group",
		               "default");
	} else {
		kafka_conf_set(s->ctx, c, "group.id", s->o->group, "-g");
		rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
	}
	/* committed.json is the one truth: not even a -X auto commit */
	if (s->ckpt)
		kafka_conf_set(s->ctx, c, "enable.auto.commit", "false",
		               "--checkpoint");
	s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof(errstr));
	if (!s->rk) {
		fx_warn(s->ctx, "cannot create consumer: %s", errstr);
		return FX_EXIT_USAGE;
	}
	rd_kafka_poll_set_consumer(s->rk);
	s->commitq = rd_kafka_queue_new(s->rk);
	return 0;
}

/*
 * Leaves the group and closes, within final_wait(): a close that cannot
 * finish (no broker, a group stuck in a rebalance) must not keep the
 * program from exiting. Rebalance callbacks are served while it runs.
 */
static void source_close(struct kafka_source *s)
{
	/* at least a second to leave: the others then need not wait for
	 * this member's session to expire */
	double deadline = fx_now() + (final_wait(s) > 1 ? final_wait(s) : 1);
	rd_kafka_queue_t *q = rd_kafka_queue_new(s->rk);
	rd_kafka_error_t *err = NULL;
	int closed = 0;

	if (!s->health.down_since)
		err = rd_kafka_consumer_close_queue(s->rk, q);
	if (!s->health.down_since && !err) {
		while (!(closed = rd_kafka_consumer_closed(s->rk)) &&
		       fx_now() < deadline && !s->health.down_since) {
			/*
			 * The event API: rd_kafka_queue_poll_callback()
			 * asserts on a fetched message still queued.
			 */
			rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);

			if (ev &&
			    rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
				on_rebalance(
				    s->rk, rd_kafka_event_error(ev),
				    rd_kafka_event_topic_partition_list(ev),
				    &s->health);
			if (ev)
				rd_kafka_event_destroy(ev);
		}
	}
	if (err)
		rd_kafka_error_destroy(err);
	commit_serve(s, 0);
	if (!closed && !err && !s->health.down_since) {
		/*
		 * A close still running: destroying the handle under it can
		 * crash librdkafka (a SIGSEGV, once in the group fault test),
		 * and waiting lasts as long as the group likes. The program
		 * is about to exit: leave the handle to the exit.
		 */
		return;
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_queue_destroy(s->commitq);
	rd_kafka_destroy_flags(
	    s->rk, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

int kafka_source_run(struct fx_ctx *ctx, const struct kafka_source_opts *o,
                     struct record_writer *out)
{
	struct kafka_source s = {.ctx = ctx, .o = o, .out = out};
	size_t i;
	int rc;

	if (!o->topics.n)
		fx_usage_error(ctx, "no topic: use -t TOPIC");
	parse_offsets(ctx, o, &s.off);
	for (i = 0; i < o->topics.n; i++) /* inputs even if it fails */
		if (o->topics.v[i][0] != '^')
			lineage_topic(ctx, LINEAGE_INPUT,
			              kafka_lineage_bootstrap(&o->conf),
			              o->topics.v[i]);
	s.ckpt = o->ckpt_records > 0 || o->ckpt_ms > 0;
	if (s.ckpt && (rc = ckpt_restore(&s)))
		goto out;
	if ((rc = source_open(&s)))
		return rc;
	rc = kafka_check_brokers(ctx, s.rk, &s.health, o->conf.timeout_ms);
	if (!rc && s.ckpt)
		ckpt_begin(&s);
	if (!rc)
		rc = o->group ? subscribe(&s) : assign_all(&s);
	ctx->progress_lag = source_lag;
	ctx->progress_lag_arg = &s;
	while (!rc && !s.finished && !fx_stop) {
		consume_ready(&s, 100);
		fx_progress(ctx);  /* also while no records come */
		emit_assigned(&s); /* a change that brought no records */
		ckpt_tick(&s);
		/* nothing more is ready: let downstream see what we have */
		if (source_flush(&s))
			s.finished = 1;
		else
			source_commit_due(&s);
		group_check(&s);
		watch_brokers(&s);
	}
	if (!rc)
		rc = s.status;
	/* final at the end; after -c or a signal, what is done is done */
	if (!rc && s.ckpt)
		ckpt_barrier(&s, s.at_end);
	s.exit_deadline = fx_now() + final_wait(&s);
	if (source_flush(&s) == 0)
		source_commit_final(&s);
	source_close(&s);
	ctx->progress_lag = NULL; /* s is about to go */
	ctx->progress_lag_arg = NULL;
	if (s.group_ends)
		rd_kafka_topic_partition_list_destroy(s.group_ends);
out:
	for (i = 0; i < s.nparts; i++)
		free(s.parts[i].topic);
	free(s.parts);
	free(s.ckpt_parts);
	free(s.ckpt_pos);
	fx_buf_free(&s.val);
	fx_buf_free(&s.rec);
	fx_buf_free(&s.ctl);
	fx_buf_free(&s.tp);
	json_scanner_free(&s.sc);
	return rc;
}

/* =====================================================================
 * A whole topic from its beginning (fx-join's kafka: dimension): librdkafka
 * directly, the messages to a callback rather than records to a writer
 */

struct kafka_topic_reader {
	struct fx_ctx *ctx;
	rd_kafka_t *rk;
	const char *topic;
	const char *source; /* "kafka:TOPIC" */
	kafka_message_fn *fn;
	void *arg;
	int warned_error;
};

static void reader_apply(struct kafka_topic_reader *dk,
                         const rd_kafka_message_t *m)
{
	struct kafka_message km = {m->key, m->key_len,   m->payload,
	                           m->len, m->partition, m->offset};

	dk->fn(dk->arg, &km);
}

int kafka_topic_reader_open(struct fx_ctx *ctx, const struct kafka_conf *kc,
                            const char *topic, const char *source,
                            const char *const *defaults, kafka_message_fn *fn,
                            void *arg, struct kafka_topic_reader **out)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	struct kafka_topic_reader *dk;
	char errstr[512];

	kafka_conf_apply(ctx, conf, kc, defaults);
	kafka_conf_messages(ctx, conf);
	dk = fx_malloc(sizeof(*dk));
	memset(dk, 0, sizeof(*dk));
	dk->ctx = ctx;
	dk->topic = topic;
	dk->source = source;
	dk->fn = fn;
	dk->arg = arg;
	dk->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!dk->rk) {
		fx_warn(ctx, "%s: %s", source, errstr);
		free(dk);
		return FX_EXIT_USAGE;
	}
	rd_kafka_poll_set_consumer(dk->rk);
	*out = dk;
	return 0;
}

/* The partitions and their end offsets now; -1 after a message. */
static int partitions(struct kafka_topic_reader *dk, int64_t timeout,
                      rd_kafka_topic_partition_list_t **out, int64_t **hi)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(dk->rk, dk->topic, NULL);
	rd_kafka_resp_err_t e;
	int i, n;

	e = rd_kafka_metadata(dk->rk, 0, rkt, &md, (int)timeout);
	rd_kafka_topic_destroy(rkt);
	if (e) {
		rd_kafka_poll(dk->rk, 0); /* the error callback: which broker */
		fx_warn(dk->ctx, "%s: %s", dk->source,
		        kafka_conf_last_error() ? kafka_conf_last_error()
		                                : rd_kafka_err2str(e));
		return -1;
	}
	if (md->topic_cnt != 1 || md->topics[0].err ||
	    !md->topics[0].partition_cnt) {
		fx_warn(dk->ctx, "%s: %s", dk->source,
		        md->topic_cnt == 1 && md->topics[0].err
		            ? rd_kafka_err2str(md->topics[0].err)
		            : "no such topic");
		rd_kafka_metadata_destroy(md);
		return -1;
	}
	n = md->topics[0].partition_cnt;
	*out = rd_kafka_topic_partition_list_new(n);
	*hi = fx_malloc((size_t)n * sizeof(**hi));
	for (i = 0; i < n; i++) {
		int32_t p = md->topics[0].partitions[i].id;
		int64_t lo = 0, h = 0;

		e = rd_kafka_query_watermark_offsets(dk->rk, dk->topic, p, &lo,
		                                     &h, (int)timeout);
		if (e) {
			fx_warn(dk->ctx, "%s/%d: %s", dk->source, (int)p,
			        rd_kafka_err2str(e));
			rd_kafka_metadata_destroy(md);
			return -1;
		}
		rd_kafka_topic_partition_list_add(*out, dk->topic, p)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
		(*hi)[i] = h > lo ? h : -1; /* -1: nothing to wait for */
	}
	rd_kafka_metadata_destroy(md);
	return n;
}

int kafka_topic_reader_load(struct kafka_topic_reader *dk, int64_t timeout)
{
	rd_kafka_topic_partition_list_t *list = NULL;
	int64_t *hi = NULL;
	int n = partitions(dk, timeout, &list, &hi), left = 0, i, rc = 0;
	double quiet = fx_now();

	if (n < 0)
		return FX_EXIT_IO;
	for (i = 0; i < n; i++)
		left += hi[i] >= 0;
	rd_kafka_assign(dk->rk, list);
	while (left > 0 && !fx_stop) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(dk->rk, 100);

		if (!m) {
			if ((fx_now() - quiet) * 1000 < (double)timeout)
				continue;
			fx_warn(
			    dk->ctx,
			    "%s: the end of the topic not reached after %lld ms without a message",
			    dk->source, (long long)timeout);
			rc = FX_EXIT_IO;
			break;
		}
		quiet = fx_now();
		if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			fx_warn(dk->ctx, "%s: %s", dk->source,
			        rd_kafka_message_errstr(m));
		} else {
			if (!m->err)
				reader_apply(dk, m);
			for (i = 0; i < n; i++)
				if (list->elems[i].partition == m->partition &&
				    hi[i] >= 0 &&
				    m->offset + !m->err >= hi[i]) {
					hi[i] = -1;
					left--;
				}
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_topic_partition_list_destroy(list);
	free(hi);
	return rc;
}

void kafka_topic_reader_poll(struct kafka_topic_reader *dk)
{
	rd_kafka_message_t *m;

	while ((m = rd_kafka_consumer_poll(dk->rk, 0))) {
		if (!m->err)
			reader_apply(dk, m);
		else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
		         !dk->warned_error++)
			fx_warn(dk->ctx, "%s: %s (retrying)", dk->source,
			        rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
	}
}

void kafka_topic_reader_close(struct kafka_topic_reader *dk)
{
	if (!dk)
		return;
	rd_kafka_consumer_close(dk->rk);
	rd_kafka_destroy(dk->rk);
	free(dk);
}
