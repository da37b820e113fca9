/*
 * kafka.c - configuration, what the kafka*.c files share, the topic list
 * and the best-effort line producer; see kafka.h and kafka_internal.h
 */
#include "kafka.h"
#include "kafka_internal.h"
#include "err.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if RD_KAFKA_VERSION < 0x010600ff
#error "fx needs librdkafka 1.6 or later (incremental rebalancing)"
#endif

/* =====================================================================
 * Configuration
 */

static void props_push(struct kafka_conf *kc, const char *key, size_t klen,
                       const char *value, const char *origin)
{
	struct kafka_prop *p;

	FX_GROW(kc->props, kc->nprops + 1, kc->cap, 16);
	p = &kc->props[kc->nprops++];
	p->key = fx_strndup(key, klen);
	p->value = fx_strdup(value);
	p->origin = fx_strdup(origin);
}

int kafka_opt_property(struct fx_ctx *ctx, const struct fx_option *opt,
                       const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (!eq || eq == arg)
		fx_usage_error(ctx, "-X: expected KEY=VALUE, got '%s'", arg);
	props_push(opt->value, arg, (size_t)(eq - arg), eq + 1, "-X");
	return 0;
}

static void trim(char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' ||
	              (*s)[*n - 1] == '\r'))
		(*n)--;
}

/* Reads a properties file into kc; a broken file is a usage error. */
static void read_properties(const struct fx_ctx *ctx, struct kafka_conf *kc,
                            const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, origin[1024];
	size_t cap = 0, lineno = 0;
	ssize_t n;

	if (!f)
		fx_die(ctx, FX_EXIT_USAGE, "%s: cannot open Kafka config: %s",
		       path, strerror(errno));
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *s = line, *eq, *v, *end;
		size_t len = (size_t)n, klen, vlen;

		lineno++;
		if (len && s[len - 1] == '\n')
			len--;
		trim(&s, &len);
		if (!len || *s == '#')
			continue;
		end = s + len;
		snprintf(origin, sizeof(origin), "%s:%zu", path, lineno);
		eq = memchr(s, '=', len);
		if (!eq || eq == s)
			fx_die(ctx, FX_EXIT_USAGE, "%s: expected key=value",
			       origin);
		klen = (size_t)(eq - s);
		trim(&s, &klen);
		v = eq + 1;
		vlen = (size_t)(end - v);
		trim(&v, &vlen);
		v[vlen] = 0;
		props_push(kc, s, klen, v, origin);
	}
	if (ferror(f))
		fx_die(ctx, FX_EXIT_USAGE, "%s: read error: %s", path,
		       strerror(errno));
	free(line);
	fclose(f);
}

int kafka_opt_file(struct fx_ctx *ctx, const struct fx_option *opt,
                   const char *arg)
{
	struct kafka_conf *kc = opt->value;

	kc->files++;
	read_properties(ctx, kc, arg);
	return 0;
}

void kafka_conf_free(struct kafka_conf *kc)
{
	size_t i;

	for (i = 0; i < kc->nprops; i++) {
		free(kc->props[i].key);
		free(kc->props[i].value);
		free(kc->props[i].origin);
	}
	free(kc->props);
	kc->props = NULL;
	kc->nprops = kc->cap = 0;
}

void kafka_conf_set(const struct fx_ctx *ctx, rd_kafka_conf_t *c,
                    const char *key, const char *value, const char *origin)
{
	char errstr[512];

	if (rd_kafka_conf_set(c, key, value, errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK)
		fx_die(ctx, FX_EXIT_USAGE, "%s %s=%s: %s", origin, key, value,
		       errstr);
}

static int has_prop(const struct kafka_conf *kc, const char *key)
{
	size_t i;

	for (i = 0; i < kc->nprops; i++)
		if (strcmp(kc->props[i].key, key) == 0)
			return 1;
	return 0;
}

/* The bootstrap servers, for lineage's kafka://BOOTSTRAP/TOPIC names. */
const char *kafka_lineage_bootstrap(const struct kafka_conf *kc)
{
	size_t i;

	for (i = kc->nprops; !kc->brokers && i-- > 0;)
		if (strcmp(kc->props[i].key, "bootstrap.servers") == 0)
			return kc->props[i].value;
	return kc->brokers ? kc->brokers : getenv("FX_BROKERS");
}

/*
 * Turns librdkafka's "127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9
 * failed: Connection refused (after 0ms in state CONNECT)" into
 * "broker '127.0.0.1:9': connection refused".
 */
static void describe_broker_error(const char *reason, char *out, size_t n)
{
	const char *slash, *what = strstr(reason, "failed: ");
	const char *end;
	int len;

	/* the coordinator's connection: "GroupCoordinator: HOST:PORT: ..." */
	if (strncmp(reason, "GroupCoordinator: ", 18) == 0) {
		const char *host = reason + 18, *colon = strstr(host, ": ");

		if (colon && !memchr(host, ' ', (size_t)(colon - host))) {
			char fixed[512];

			snprintf(fixed, sizeof(fixed), "%.*s/coordinator%s",
			         (int)(colon - host), host, colon + 1);
			describe_broker_error(fixed, out, n);
			return;
		}
	}
	slash = strchr(reason, '/');

	if (!slash || memchr(reason, ' ', (size_t)(slash - reason))) {
		snprintf(out, n, "%s", reason);
		return;
	}
	what = what ? what + 8 : strchr(slash, ' ');
	if (!what)
		what = slash + 1;
	while (*what == ' ')
		what++;
	end = strstr(what, " (after");
	if (!end)
		end = what + strlen(what);
	len =
	    snprintf(out, n, "broker '%.*s': ", (int)(slash - reason), reason);
	if (len < 0 || (size_t)len >= n)
		return;
	snprintf(out + len, n - (size_t)len, "%.*s", (int)(end - what), what);
	/* "Connection refused" reads as "connection refused" mid-message */
	if (out[len] >= 'A' && out[len] <= 'Z' && out[len + 1] >= 'a')
		out[len] = (char)(out[len] - 'A' + 'a');
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_health *h = opaque;

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		if (!h->down_since)
			h->down_since = fx_now();
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char fatal[512];

		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		snprintf(h->last_error, sizeof(h->last_error), "%s", fatal);
		h->fatal = 1;
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__TRANSPORT ||
	    err == RD_KAFKA_RESP_ERR__RESOLVE ||
	    err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
	    err == RD_KAFKA_RESP_ERR__SSL)
		describe_broker_error(reason, h->last_error,
		                      sizeof(h->last_error));
	else
		snprintf(h->last_error, sizeof(h->last_error), "%s", reason);
}

/*
 * librdkafka's own log lines, with the program name in front. They come
 * from librdkafka's threads, several at once: fx_warn's message hook
 * (lineage keeps the last message) is not for them, so one at a time,
 * and debug lines (-X debug=...), which are no message of the program's,
 * straight to stderr.
 */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
	static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
	const struct kafka_health *h = rd_kafka_opaque(rk);
	const struct fx_ctx *ctx = h ? h->ctx : NULL;

	/* connection failures reach the error callback, worded better */
	if ((level > 4 && !(h && h->debug)) || strcmp(fac, "FAIL") == 0)
		return;
	if (level > 4) {
		fprintf(stderr, "%s: librdkafka: %s: %s\n",
		        ctx ? ctx->prog : "fx", fac, buf);
		return;
	}
	pthread_mutex_lock(&one);
	fx_warn(ctx, "librdkafka: %s: %s", fac, buf);
	pthread_mutex_unlock(&one);
}

/* What the error callback learned, for clients of kafka_conf_messages(). */
static struct kafka_health client_health;

void kafka_conf_messages(const struct fx_ctx *ctx, rd_kafka_conf_t *c)
{
	client_health.ctx = ctx;
	rd_kafka_conf_set_opaque(c, &client_health);
	rd_kafka_conf_set_error_cb(c, on_error);
	rd_kafka_conf_set_log_cb(c, on_log);
}

const char *kafka_conf_last_error(void)
{
	return client_health.last_error[0] ? client_health.last_error : NULL;
}

/*
 * Builds the librdkafka configuration: defaults (key, value pairs ending
 * in NULL), then the user's properties, then the brokers. Exits 2 on a bad
 * property.
 */
void kafka_conf_apply(const struct fx_ctx *ctx, rd_kafka_conf_t *c,
                      const struct kafka_conf *kc, const char *const *defaults)
{
	struct kafka_conf env = KAFKA_CONF_INIT;
	const char *envfile = getenv("FX_KAFKA_CONFIG");
	const char *brokers = kc->brokers;
	size_t i;

	for (; defaults && *defaults; defaults += 2)
		kafka_conf_set(ctx, c, defaults[0], defaults[1], "default");
	if (envfile && *envfile) {
		read_properties(ctx, &env, envfile);
		for (i = 0; i < env.nprops; i++)
			kafka_conf_set(ctx, c, env.props[i].key,
			               env.props[i].value, env.props[i].origin);
	}
	for (i = 0; i < kc->nprops; i++)
		kafka_conf_set(ctx, c, kc->props[i].key, kc->props[i].value,
		               kc->props[i].origin);
	if (!brokers && !has_prop(kc, "bootstrap.servers") &&
	    !has_prop(kc, "metadata.broker.list") &&
	    !has_prop(&env, "bootstrap.servers") &&
	    !has_prop(&env, "metadata.broker.list")) {
		brokers = getenv("FX_BROKERS");
		if (!brokers || !*brokers)
			fx_usage_error(
			    ctx,
			    "no brokers: use -b HOST:PORT or set FX_BROKERS");
	}
	if (brokers)
		kafka_conf_set(ctx, c, "bootstrap.servers", brokers, "-b");
	kafka_conf_free(&env);
}

rd_kafka_conf_t *kafka_conf_build(const struct fx_ctx *ctx,
                                  rd_kafka_type_t type,
                                  const struct kafka_conf *kc,
                                  const char *const *defaults,
                                  struct kafka_health *h)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();

	for (; defaults && *defaults; defaults += 2)
		kafka_conf_set(ctx, c, defaults[0], defaults[1], "default");
	if (type == RD_KAFKA_PRODUCER) {
		/* a record not delivered in --timeout fails, and is said to */
		char ms[32];

		snprintf(ms, sizeof(ms), "%" PRId64,
		         kc->timeout_ms > 0 ? kc->timeout_ms : 1);
		kafka_conf_set(ctx, c, "message.timeout.ms", ms, "--timeout");
	}
	kafka_conf_apply(ctx, c, kc, NULL);
	h->ctx = ctx;
	h->debug = has_prop(kc, "debug");
	rd_kafka_conf_set_opaque(c, h);
	rd_kafka_conf_set_error_cb(c, on_error);
	rd_kafka_conf_set_log_cb(c, on_log);
	return c;
}

/* "broker 'X': connection refused", or a generic text naming the brokers. */
const char *kafka_health_reason(const struct kafka_health *h,
                                const char *fallback)
{
	return h->last_error[0] ? h->last_error : fallback;
}

/*
 * Waits up to timeout for any broker to answer a metadata request: a
 * broker that is not there should fail the program in --timeout, not make
 * it wait for ever (librdkafka retries for ever by itself). When every
 * broker is known to be down (librdkafka's ALL_BROKERS_DOWN: each refused
 * the connection or failed to resolve), it fails at once: waiting out the
 * timeout would only delay the same answer. A broker that does not answer
 * at all is given the whole timeout.
 */
int kafka_check_brokers(const struct fx_ctx *ctx, rd_kafka_t *rk,
                        struct kafka_health *h, int64_t timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	double deadline = fx_now() + (double)timeout_ms / 1000;
	rd_kafka_resp_err_t err;
	char fallback[512];

	for (;;) {
		double left = deadline - fx_now();
		int step = left > 0.25 ? 250
		           : left > 0  ? (int)(left * 1000)
		                       : 1;

		err = rd_kafka_metadata(rk, 0, NULL, &md, step);
		rd_kafka_poll(rk, 0); /* serve the error callback */
		if (!err) {
			rd_kafka_metadata_destroy(md);
			h->down_since = 0;
			return 0;
		}
		if (h->down_since || fx_now() >= deadline)
			break;
	}
	snprintf(fallback, sizeof(fallback),
	         "brokers: no answer within %" PRId64 " ms (%s)", timeout_ms,
	         rd_kafka_err2str(err));
	fx_warn(ctx, "%s", kafka_health_reason(h, fallback));
	return FX_EXIT_IO;
}

/* =====================================================================
 * Topic names (fx-partition --list, fx-consume --table)
 */

/* librdkafka's own log lines would only repeat the error we print */
static const char *const topics_defaults[] = {"log_level", "0", NULL};

/*
 * The error callback reports into h, so that a refused connection is
 * said at once and names the broker, as for a source or a sink.
 */
static rd_kafka_conf_t *topics_conf_build(struct fx_ctx *ctx,
                                          const struct kafka_conf *kc,
                                          struct kafka_health *h)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();

	kafka_conf_apply(ctx, c, kc, topics_defaults);
	h->ctx = ctx;
	rd_kafka_conf_set_opaque(c, h);
	rd_kafka_conf_set_error_cb(c, on_error);
	return c;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int kafka_topic_names(struct fx_ctx *ctx, const struct kafka_conf *kc,
                      struct fx_strlist *out)
{
	const struct rd_kafka_metadata *md = NULL;
	struct kafka_health h = {0};
	rd_kafka_conf_t *c = topics_conf_build(ctx, kc, &h);
	rd_kafka_resp_err_t err;
	char errstr[512];
	rd_kafka_t *rk;
	size_t first = out->n;
	int i, rc;

	if (!c)
		return FX_EXIT_USAGE;
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
	if (!rk) {
		rd_kafka_conf_destroy(c);
		fx_warn(ctx, "%s", errstr);
		return FX_EXIT_USAGE;
	}
	/* every broker refused: at once, naming one, not after --timeout */
	if ((rc = kafka_check_brokers(ctx, rk, &h, kc->timeout_ms)) != 0) {
		rd_kafka_destroy(rk);
		return rc;
	}
	err = rd_kafka_metadata(rk, 1, NULL, &md, (int)kc->timeout_ms);
	if (err) {
		rd_kafka_poll(rk, 0); /* serve the error callback */
		snprintf(errstr, sizeof(errstr),
		         "brokers: no topic list within %lld ms (%s)",
		         (long long)kc->timeout_ms, rd_kafka_err2str(err));
		fx_warn(ctx, "%s", kafka_health_reason(&h, errstr));
		rd_kafka_destroy(rk);
		return FX_EXIT_IO;
	}
	for (i = 0; i < md->topic_cnt; i++)
		if (strncmp(md->topics[i].topic, "__", 2) != 0)
			fx_strlist_push(out, md->topics[i].topic);
	qsort(out->v + first, out->n - first, sizeof(*out->v), cmp_str);
	rd_kafka_metadata_destroy(md);
	rd_kafka_destroy(rk);
	return 0;
}

/* =====================================================================
 * Lines to a topic, best effort (the kafka: lineage store)
 */

struct kafka_lines {
	rd_kafka_t *rk;
	char *topic;
	int failed; /* delivery reports that failed */
	char first_err[256];
	int all_down; /* every broker refused or dropped us: stop waiting */
	char down_err[256];
};

static void lines_on_error(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque)
{
	struct kafka_lines *k = opaque;

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !k->all_down) {
		k->all_down = 1;
		snprintf(k->down_err, sizeof(k->down_err), "%s", reason);
	}
}

static void lines_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                              void *opaque)
{
	struct kafka_lines *k = opaque;

	(void)rk;
	if (m->err && !k->failed++)
		snprintf(k->first_err, sizeof(k->first_err), "%s",
		         rd_kafka_err2str(m->err));
}

/* A side channel: no librdkafka chatter on the program's stderr. */
static void lines_on_log(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

static int lines_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                     char *err, size_t errlen)
{
	return rd_kafka_conf_set(conf, key, value, err, errlen) ==
	               RD_KAFKA_CONF_OK
	           ? 0
	           : -1;
}

struct kafka_lines *kafka_lines_open(const char *brokers, const char *topic,
                                     const char *const *props, char *err,
                                     size_t errlen)
{
	struct kafka_lines *k = fx_malloc(sizeof(*k));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int bad = lines_set(conf, "bootstrap.servers", brokers, err, errlen);

	memset(k, 0, sizeof(*k));
	for (; !bad && props && *props; props += 2)
		bad = lines_set(conf, props[0], props[1], err, errlen);
	if (bad) {
		rd_kafka_conf_destroy(conf);
		free(k);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, lines_on_delivery);
	rd_kafka_conf_set_error_cb(conf, lines_on_error);
	rd_kafka_conf_set_log_cb(conf, lines_on_log);
	rd_kafka_conf_set_opaque(conf, k);
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (!k->rk) {
		rd_kafka_conf_destroy(conf);
		free(k);
		return NULL;
	}
	k->topic = fx_strdup(topic);
	return k;
}

int kafka_lines_send(struct kafka_lines *k, const char *line, size_t len,
                     char *err, size_t errlen)
{
	rd_kafka_resp_err_t e;

	e = rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(k->topic),
	                      RD_KAFKA_V_VALUE((void *)line, len),
	                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	                      RD_KAFKA_V_END);
	if (e) {
		snprintf(err, errlen, "%s", rd_kafka_err2str(e));
		return -1;
	}
	rd_kafka_poll(k->rk, 0);
	return 0;
}

static double lines_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int kafka_lines_close(struct kafka_lines *k, int timeout_ms, char *err,
                      size_t errlen)
{
	double deadline = lines_now_ms() + timeout_ms;
	int rc = 0;

	/*
	 * Flush in short slices: a refused connection is known within
	 * milliseconds (ALL_BROKERS_DOWN, served by the flush), and then
	 * there is nothing to wait for.
	 */
	while (rd_kafka_outq_len(k->rk) > 0 && !k->all_down &&
	       lines_now_ms() < deadline)
		rd_kafka_flush(k->rk, 20);
	if (rd_kafka_outq_len(k->rk) > 0) {
		if (k->all_down)
			snprintf(err, errlen, "events not delivered: %s",
			         k->down_err);
		else
			snprintf(err, errlen, "events not delivered in %d ms",
			         timeout_ms);
		rc = -1;
	} else if (k->failed) {
		snprintf(err, errlen, "%s", k->first_err);
		rc = -1;
	}
	if (rc)
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE |
		                          RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_destroy(k->rk);
	free(k->topic);
	free(k);
	return rc;
}
