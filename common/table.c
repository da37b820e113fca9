/* table.c - partition flow tables; the contract is in table.h */
#include "table.h"

#include "confjson.h"
#include "err.h"
#include "hive.h"
#include "strmap.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TPL_MAX 64 /* items in a template */

/* A template: literal text and {name} placeholders, in order. */
struct tpl_item {
	const char *lit; /* into the template's text; NULL: placeholder */
	size_t len;
	size_t part;
};

struct tpl {
	char *text;
	struct tpl_item v[TPL_MAX];
	size_t n;
	size_t nph; /* placeholders */
};

struct static_entry {
	char *key; /* as written in the definition */
	struct table_values tv;
	char *topic;
};

struct table {
	const struct fx_ctx *ctx;
	char *path;
	char *name;
	struct table_part parts[TABLE_MAX_PARTS];
	size_t nparts;
	struct json_paths paths;

	int has_kafka, dynamic;
	uint32_t kmask;   /* the partitions topics are made of */
	struct tpl topic; /* topic.text NULL: no template */
	struct static_entry *statics;
	size_t nstatic;
	struct strmap by_tuple; /* tuple key -> static_entry index + 1 */
	char *default_topic;    /* NULL: reject */
	int partitions, replication;

	struct tpl dir; /* dir.text NULL: no "files" */

	char **fields; /* "fields": the record fields declared, or NULL */
	size_t nfields;

	struct strmap seen; /* dynamic topic -> its tuple key (owned) */
	struct fx_buf key, why, scratch;
	struct table_values topic_tv; /* table_topic's values, as UTF-8 */
};

/* ---------------------------------------------------------------------
 * Values
 */

void table_values_free(struct table_values *tv)
{
	fx_buf_free(&tv->buf);
	tv->n = 0;
}

static void values_reset(struct table_values *tv)
{
	fx_buf_reset(&tv->buf);
	tv->n = 0;
	tv->any = 0;
}

static void values_push(struct table_values *tv, const char *s, size_t n)
{
	tv->off[tv->n] = tv->buf.len;
	tv->len[tv->n] = n;
	fx_buf_add(&tv->buf, s, n);
	fx_buf_addc(&tv->buf, 0);
	tv->n++;
}

/*
 * The values as topics have them: each lone surrogate (WTF-8, ED A0 80 for
 * "\ud800", as table_values_of gives it) as U+FFFD, what a string's
 * unescaped text was before directories kept the two apart. No topic name
 * changes: "\ud800" and "\ufffd" share a topic, a static entry and a
 * --where value, as they did; topic names read back as UTF-8 only. Returns
 * tv, or else a copy in t->topic_tv.
 */
static const struct table_values *topic_values(struct table *t,
                                               const struct table_values *tv)
{
	size_t i, n = tv->buf.len;

	for (i = 0; i < n; i++)
		if (json_wtf8_surrogate(tv->buf.p + i, n - i))
			break;
	if (i == n)
		return tv;
	values_reset(&t->topic_tv);
	fx_buf_add(&t->topic_tv.buf, tv->buf.p, n);
	memcpy(t->topic_tv.off, tv->off, sizeof(tv->off));
	memcpy(t->topic_tv.len, tv->len, sizeof(tv->len));
	t->topic_tv.n = tv->n;
	t->topic_tv.any = tv->any;
	for (; i < n; i++)
		if (json_wtf8_surrogate(t->topic_tv.buf.p + i, n - i)) {
			memcpy(t->topic_tv.buf.p + i, "\xef\xbf\xbd", 3);
			i += 2;
		}
	return &t->topic_tv;
}

/*
 * An unambiguous byte string for the values of the partitions in mask:
 * each value's length, then the value.
 */
static void tuple_key(const struct table_values *tv, uint32_t mask,
                      struct fx_buf *out)
{
	size_t i;

	fx_buf_reset(out);
	for (i = 0; i < tv->n; i++) {
		if (!(mask & (1u << i)))
			continue;
		fx_buf_add(out, &tv->len[i], sizeof(tv->len[i]));
		fx_buf_add(out, table_value(tv, i), tv->len[i]);
	}
}

const char *table_route_name(enum table_route r)
{
	static const char *const names[] = {"reject", "static", "dynamic",
	                                    "default"};

	return (unsigned)r < 4 ? names[r] : "?";
}

/* ---------------------------------------------------------------------
 * Escaping and hashing
 */

static int topic_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* Bytes an escaped value keeps: '.' and '_' are escaped (see table.h). */
static int plain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

void table_topic_escape(struct fx_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (plain_char(c)) {
			fx_buf_addc(out, (char)c);
			continue;
		}
		fx_buf_addc(out, '_');
		fx_buf_addc(out, hex[c >> 4]);
		fx_buf_addc(out, hex[c & 15]);
	}
}

static int lower_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Length of the canonical escape at s (1 or 3), or 0 if there is none. */
static size_t escape_len(const char *s, size_t n)
{
	int hi, lo;

	if (n && plain_char((unsigned char)s[0]))
		return 1;
	if (n < 3 || s[0] != '_' || (hi = lower_hex(s[1])) < 0 ||
	    (lo = lower_hex(s[2])) < 0)
		return 0;
	/* "_41" would have been written "A": not an escape's output */
	return plain_char((unsigned char)(hi << 4 | lo)) ? 0 : 3;
}

int table_topic_unescape(struct fx_buf *out, const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		k = escape_len(s + i, n - i);
		if (!k)
			return -1;
		if (k == 1)
			fx_buf_addc(out, s[i]);
		else
			fx_buf_addc(out, (char)(lower_hex(s[i + 1]) << 4 |
			                        lower_hex(s[i + 2])));
		i += k;
	}
	return 0;
}

uint32_t table_murmur2(const void *p, size_t n)
{
	const unsigned char *d = p;
	const uint32_t m = 0x5bd1e995;
	uint32_t h = 0x9747b28c ^ (uint32_t)n;
	size_t i;

	for (i = 0; i + 4 <= n; i += 4) {
		uint32_t k = (uint32_t)d[i] | (uint32_t)d[i + 1] << 8 |
		             (uint32_t)d[i + 2] << 16 |
		             (uint32_t)d[i + 3] << 24;

		k *= m;
		k ^= k >> 24;
		k *= m;
		h *= m;
		h ^= k;
	}
	switch (n & 3) {
	case 3:
		h ^= (uint32_t)d[i + 2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)d[i + 1] << 8;
		/* fall through */
	case 1:
		h ^= d[i];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return h;
}

/* ---------------------------------------------------------------------
 * Loading: every check names the file and the key.
 */

struct loader {
	struct conf_file cf; /* confjson.h: the file, for messages */
	struct table *t;
};

static FX_PRINTF(3, 4) int bad(const struct loader *l, const char *key,
                               const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return conf_bad(&l->cf, key, "%s", msg);
}

static int known_keys(const struct loader *l, const cJSON *obj,
                      const char *where, const char *const *keys)
{
	return conf_known_keys(&l->cf, obj, where, keys);
}

static int get_string(const struct loader *l, const cJSON *obj,
                      const char *member, const char *key, int required,
                      const char **out)
{
	return conf_get_string(&l->cf, obj, member, key, required, out);
}

static int get_int(const struct loader *l, const cJSON *obj, const char *member,
                   const char *key, int min, int *out)
{
	return conf_get_int(&l->cf, obj, member, key, min, out);
}

static int name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

static int part_index(const struct table *t, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < t->nparts; i++)
		if (strlen(t->parts[i].name) == len &&
		    memcmp(t->parts[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

static int parse_transform(const struct loader *l, const char *key,
                           const char *s, struct table_part *p)
{
	char *end;
	unsigned long n;

	if (!s || strcmp(s, "identity") == 0 || strcmp(s, "value") == 0)
		p->transform = TABLE_IDENTITY;
	else if (strcmp(s, "day") == 0)
		p->transform = TABLE_DAY;
	else if (strcmp(s, "hour") == 0)
		p->transform = TABLE_HOUR;
	else if (strncmp(s, "bucket(", 7) == 0 &&
	         isdigit((unsigned char)s[7])) {
		n = strtoul(s + 7, &end, 10);
		if (strcmp(end, ")") != 0 || n < 1 || n > 1000000)
			return bad(
			    l, key,
			    "bucket(N) needs N from 1 to 1000000: \"%s\"", s);
		p->transform = TABLE_BUCKET;
		p->buckets = (uint32_t)n;
	} else {
		return bad(
		    l, key,
		    "unknown transform \"%s\" (identity, day, hour, bucket(N))",
		    s);
	}
	return 0;
}

static int load_part(struct loader *l, const cJSON *j, size_t i)
{
	static const char *const keys[] = {"name", "field", "transform",
	                                   "time_unit", NULL};
	struct table *t = l->t;
	struct table_part *p = &t->parts[i];
	const char *name, *field, *tr, *unit, *err;
	char key[64], k2[96];
	int path;

	snprintf(key, sizeof(key), "partition_by[%zu]", i);
	if (!cJSON_IsObject(j))
		return bad(l, key, "not an object");
	if (known_keys(l, j, key, keys))
		return -1;
	snprintf(k2, sizeof(k2), "%s.name", key);
	if (get_string(l, j, "name", k2, 1, &name))
		return -1;
	if (!name_ok(name))
		return bad(l, k2, "\"%s\": use letters, digits and '_'", name);
	if (part_index(t, name, strlen(name)) >= 0)
		return bad(l, k2, "\"%s\" given twice", name);
	snprintf(k2, sizeof(k2), "%s.field", key);
	if (get_string(l, j, "field", k2, 0, &field))
		return -1;
	snprintf(k2, sizeof(k2), "%s.transform", key);
	if (get_string(l, j, "transform", k2, 0, &tr) ||
	    parse_transform(l, k2, tr, p))
		return -1;
	snprintf(k2, sizeof(k2), "%s.time_unit", key);
	if (get_string(l, j, "time_unit", k2, 0, &unit))
		return -1;
	if (fx_time_unit_parse(unit, &p->unit))
		return bad(l, k2, "expected \"s\" or \"ms\", got \"%s\"", unit);
	p->name = fx_strdup(name);
	p->field = fx_strdup(field ? field : name);
	t->nparts++;
	snprintf(k2, sizeof(k2), "%s.field", key);
	if ((path = json_paths_add(&t->paths, p->field, &err)) < 0)
		return bad(l, k2, "\"%s\": %s", p->field, err);
	p->path = path;
	return 0;
}

static int load_parts(struct loader *l, const cJSON *root)
{
	const cJSON *pb =
	    cJSON_GetObjectItemCaseSensitive(root, "partition_by");
	size_t i, n;

	if (!pb)
		return bad(l, "partition_by", "missing");
	if (!cJSON_IsArray(pb))
		return bad(l, "partition_by", "not an array");
	n = (size_t)cJSON_GetArraySize(pb);
	if (n == 0)
		return bad(l, "partition_by",
		           "empty: name one partition or more");
	if (n > TABLE_MAX_PARTS)
		return bad(l, "partition_by", "more than %d partitions",
		           TABLE_MAX_PARTS);
	for (i = 0; i < n; i++)
		if (load_part(l, cJSON_GetArrayItem(pb, (int)i), i))
			return -1;
	return 0;
}

/*
 * Compiles a template. dir: a directory template (at most one placeholder
 * per path component, relative, no "." or ".."); else a topic template
 * (literal text of topic characters).
 */
static int tpl_compile(const struct loader *l, const char *key,
                       const char *text, int dir, struct tpl *tp)
{
	uint32_t need = dir ? (1u << l->t->nparts) - 1 : l->t->kmask;
	const char *s = text, *open, *close;
	size_t used = 0, comp_ph = 0;
	int idx;

	tp->text = fx_strdup(text);
	s = tp->text;
	while (*s) {
		if (tp->n + 2 > TPL_MAX)
			return bad(l, key, "too long");
		open = strchr(s, '{');
		close = strchr(s, '}');
		if (close && (!open || close < open))
			return bad(l, key, "'}' without '{' in \"%s\"", text);
		if (open != s) {
			size_t n = open ? (size_t)(open - s) : strlen(s);

			tp->v[tp->n++] = (struct tpl_item){s, n, 0};
			s += n;
			continue;
		}
		if (!close)
			return bad(l, key, "'{' without '}' in \"%s\"", text);
		idx = part_index(l->t, s + 1, (size_t)(close - s - 1));
		if (idx < 0 || !(need & (1u << idx)))
			return bad(l, key, "%s \"%.*s\" in \"%s\"",
			           idx < 0 ? "unknown partition"
			                   : "not in kafka.partition_by:",
			           (int)(close - s - 1), s + 1, text);
		tp->v[tp->n++] = (struct tpl_item){NULL, 0, (size_t)idx};
		tp->nph++;
		used |= (size_t)1 << idx;
		s = close + 1;
	}
	for (idx = 0; idx < (int)l->t->nparts; idx++)
		if ((need & (1u << idx)) && !(used & ((size_t)1 << idx)))
			return bad(
			    l, key,
			    "\"%s\" does not use partition \"%s\": values differing only in it would share a %s",
			    text, l->t->parts[idx].name,
			    dir ? "directory" : "topic");
	for (idx = 0; idx < (int)tp->n; idx++) {
		const struct tpl_item *it = &tp->v[idx];
		size_t k;

		for (k = 0; it->lit && k < it->len; k++) {
			unsigned char c = (unsigned char)it->lit[k];

			if (dir && c == '/') {
				comp_ph = 0;
			} else if (!dir && !topic_char(c)) {
				return bad(
				    l, key,
				    "'%c' cannot be in a topic name (only A-Z a-z 0-9 . _ -)",
				    c);
			}
		}
		if (dir && !it->lit && ++comp_ph > 1)
			return bad(
			    l, key,
			    "two placeholders in one directory name: \"%s\"",
			    text);
	}
	if (dir) {
		char *copy = fx_strdup(text), *c, *save = NULL;
		int rc = 0;

		if (text[0] == '/' || text[strlen(text) - 1] == '/' ||
		    strstr(text, "//"))
			rc = bad(l, key,
			         "\"%s\": a relative path of non-empty names",
			         text);
		for (c = strtok_r(copy, "/", &save); c && !rc;
		     c = strtok_r(NULL, "/", &save))
			if (!strcmp(c, ".") || !strcmp(c, ".."))
				rc = bad(l, key, "\"%s\": no . or .. in it",
				         text);
		free(copy);
		return rc;
	}
	return 0;
}

static int topic_name_check(const char *s, size_t n, const char **why)
{
	size_t i;

	if (n == 0 || n > TABLE_TOPIC_MAX) {
		*why = n ? "longer than 249 characters" : "empty";
		return -1;
	}
	if ((n == 1 && s[0] == '.') || (n == 2 && !memcmp(s, "..", 2))) {
		*why = "\".\" and \"..\" are not topic names";
		return -1;
	}
	for (i = 0; i < n; i++)
		if (!topic_char((unsigned char)s[i])) {
			*why = "only A-Z a-z 0-9 . _ - in a topic name";
			return -1;
		}
	return 0;
}

static int kafka_parts(const struct table *t)
{
	int n = 0;
	size_t i;

	for (i = 0; i < t->nparts; i++)
		n += !!(t->kmask & (1u << i));
	return n;
}

/*
 * A static key: the value itself, or "f1=v1/f2=v2" when topics are made
 * of several partitions. Partitions not in kmask are "any".
 */
static int static_key(const struct loader *l, const char *kname, const char *s,
                      struct table_values *tv)
{
	const struct table *t = l->t;
	struct fx_buf v[TABLE_MAX_PARTS];
	size_t i;
	uint32_t have = 0;
	const char *c = s;
	int rc = 0;

	memset(v, 0, sizeof(v));
	if (kafka_parts(t) == 1) {
		for (i = 0; !(t->kmask & (1u << i)); i++)
			;
		fx_buf_adds(&v[i], s);
		have = t->kmask;
		c = "";
	}
	while (*c && !rc) {
		const char *slash = strchr(c, '/'), *eq;
		size_t clen = slash ? (size_t)(slash - c) : strlen(c);
		int idx;

		eq = memchr(c, '=', clen);
		idx = eq ? part_index(t, c, (size_t)(eq - c)) : -1;
		if (idx < 0 || (have & (1u << idx)) ||
		    !(t->kmask & (1u << idx)))
			break;
		have |= 1u << idx;
		hive_decode(&v[idx], eq + 1, clen - (size_t)(eq + 1 - c));
		c += clen + (slash ? 1 : 0);
	}
	if (*c || have != t->kmask)
		rc = bad(
		    l, kname,
		    "with several partitions a key is NAME=VALUE/NAME=VALUE naming each once");
	for (i = 0; i < t->nparts; i++) {
		if (!rc)
			values_push(tv, v[i].p ? v[i].p : "", v[i].len);
		fx_buf_free(&v[i]);
	}
	tv->any = ~t->kmask & ((1u << t->nparts) - 1);
	return rc;
}

static int load_static(struct loader *l, const cJSON *st)
{
	struct table *t = l->t;
	const cJSON *m;
	char key[512];
	const char *why;
	size_t i, n;

	if (!cJSON_IsObject(st))
		return bad(l, "kafka.static", "not an object");
	n = (size_t)cJSON_GetArraySize(st);
	t->statics = fx_malloc((n ? n : 1) * sizeof(*t->statics));
	memset(t->statics, 0, (n ? n : 1) * sizeof(*t->statics));
	cJSON_ArrayForEach(m, st)
	{
		struct static_entry *e = &t->statics[t->nstatic];

		snprintf(key, sizeof(key), "kafka.static.\"%s\"", m->string);
		if (!cJSON_IsString(m) || !m->valuestring)
			return bad(l, key, "not a string");
		e->key = fx_strdup(m->string);
		e->topic = fx_strdup(m->valuestring);
		t->nstatic++;
		if (topic_name_check(e->topic, strlen(e->topic), &why))
			return bad(l, key, "\"%s\": %s", e->topic, why);
		if (static_key(l, key, m->string, &e->tv))
			return -1;
		tuple_key(&e->tv, t->kmask, &t->key);
		if (strmap_get(&t->by_tuple, t->key.p, t->key.len))
			return bad(l, key, "given twice");
		strmap_put(&t->by_tuple, t->key.p, t->key.len,
		           (void *)(uintptr_t)t->nstatic);
		for (i = 0; i + 1 < t->nstatic; i++)
			if (strcmp(t->statics[i].topic, e->topic) == 0)
				return bad(
				    l, key,
				    "topic \"%s\" is also the topic of \"%s\": two partitions cannot share a topic",
				    e->topic, t->statics[i].key);
	}
	return 0;
}

static int template_match(struct table *t, const char *topic,
                          struct table_values *tv, const char **why);

/*
 * With a dynamic template, a static topic that the template could make for
 * a tuple without a static entry would receive two partitions.
 */
static int check_template_collisions(struct loader *l)
{
	struct table *t = l->t;
	struct table_values tv = {0};
	const char *why;
	char key[512];
	size_t i;
	int r, rc = 0;

	for (i = 0; i < t->nstatic && !rc; i++) {
		const struct static_entry *e = &t->statics[i];

		snprintf(key, sizeof(key), "kafka.static.\"%s\"", e->key);
		r = template_match(t, e->topic, &tv, &why);
		if (r < 0)
			rc = bad(l, key, "%s", why);
		if (r <= 0)
			continue;
		tuple_key(&tv, t->kmask, &t->key);
		if (strmap_get(&t->by_tuple, t->key.p, t->key.len))
			continue; /* that tuple has its own static topic */
		fx_buf_reset(&t->scratch);
		table_values_json(t, &tv, &t->scratch);
		fx_buf_addc(&t->scratch, 0);
		rc = bad(
		    l, key,
		    "topic \"%s\" is also the template's topic for {%s}: two partitions cannot share a topic",
		    e->topic, t->scratch.p);
	}
	table_values_free(&tv);
	return rc;
}

/* Finds a static entry by its topic name. */
static const struct static_entry *static_by_topic(const struct table *t,
                                                  const char *topic)
{
	size_t i;

	for (i = 0; i < t->nstatic; i++)
		if (strcmp(t->statics[i].topic, topic) == 0)
			return &t->statics[i];
	return NULL;
}

static int load_default(struct loader *l, const cJSON *k)
{
	struct table *t = l->t;
	const cJSON *dyn = cJSON_GetObjectItemCaseSensitive(k, "dynamic");
	const char *def, *why;

	if (dyn && !cJSON_IsBool(dyn))
		return bad(l, "kafka.dynamic", "not true or false");
	t->dynamic = t->topic.text && (!dyn || cJSON_IsTrue(dyn));
	if (dyn && cJSON_IsTrue(dyn) && !t->topic.text)
		return bad(l, "kafka.dynamic",
		           "true needs a \"topic\" template");
	if (get_string(l, k, "default", "kafka.default", 0, &def))
		return -1;
	if (!def || strcmp(def, "reject") == 0)
		return 0;
	if (t->dynamic)
		return bad(
		    l, "kafka.default",
		    "never used: every value has a topic from the template (set \"dynamic\": false)");
	if (topic_name_check(def, strlen(def), &why))
		return bad(l, "kafka.default", "\"%s\": %s", def, why);
	if (static_by_topic(t, def))
		return bad(l, "kafka.default",
		           "\"%s\" is also a static partition's topic", def);
	t->default_topic = fx_strdup(def);
	return 0;
}

/* kafka.partition_by: the partitions topics are made of (default all) */
static int load_kmask(struct loader *l, const cJSON *k)
{
	const cJSON *pb = cJSON_GetObjectItemCaseSensitive(k, "partition_by");
	const cJSON *e;
	struct table *t = l->t;
	int idx;

	t->kmask = (1u << t->nparts) - 1;
	if (!pb)
		return 0;
	if (!cJSON_IsArray(pb) || !cJSON_GetArraySize(pb))
		return bad(l, "kafka.partition_by",
		           "not a non-empty array of partition names");
	t->kmask = 0;
	cJSON_ArrayForEach(e, pb)
	{
		if (!cJSON_IsString(e) || !e->valuestring)
			return bad(l, "kafka.partition_by", "not a string: %s",
			           "an element");
		idx = part_index(t, e->valuestring, strlen(e->valuestring));
		if (idx < 0)
			return bad(l, "kafka.partition_by",
			           "unknown partition \"%s\"", e->valuestring);
		t->kmask |= 1u << idx;
	}
	return 0;
}

static int load_kafka(struct loader *l, const cJSON *k)
{
	static const char *const keys[] = {
	    "topic",   "static",     "partition_by", "dynamic",
	    "default", "partitions", "replication",  NULL};
	struct table *t = l->t;
	const cJSON *st;
	const char *tpl;

	if (!cJSON_IsObject(k))
		return bad(l, "kafka", "not an object");
	if (known_keys(l, k, "kafka", keys) || load_kmask(l, k))
		return -1;
	t->has_kafka = 1;
	if (get_string(l, k, "topic", "kafka.topic", 0, &tpl))
		return -1;
	if (tpl && tpl_compile(l, "kafka.topic", tpl, 0, &t->topic))
		return -1;
	if ((st = cJSON_GetObjectItemCaseSensitive(k, "static")) &&
	    load_static(l, st))
		return -1;
	if (load_default(l, k))
		return -1;
	if (!t->topic.text && !t->nstatic && !t->default_topic)
		return bad(
		    l, "kafka",
		    "no topic: give \"topic\", \"static\" or \"default\"");
	if (get_int(l, k, "partitions", "kafka.partitions", 1,
	            &t->partitions) ||
	    get_int(l, k, "replication", "kafka.replication", 1,
	            &t->replication))
		return -1;
	return t->dynamic ? check_template_collisions(l) : 0;
}

static int load_files(struct loader *l, const cJSON *f)
{
	static const char *const keys[] = {"dir", NULL};
	const char *dir;

	if (!cJSON_IsObject(f))
		return bad(l, "files", "not an object");
	if (known_keys(l, f, "files", keys) ||
	    get_string(l, f, "dir", "files.dir", 1, &dir))
		return -1;
	return tpl_compile(l, "files.dir", dir, 1, &l->t->dir);
}

/* "fields": the record fields the table declares, each once */
static int load_fields(struct loader *l, const cJSON *root)
{
	const char **v;
	size_t i, k, n;
	char key[64];

	if (conf_get_strings(&l->cf, root, "fields", "fields", &v, &n))
		return -1;
	if (!v)
		return 0;
	l->t->fields = fx_malloc((n ? n : 1) * sizeof(char *));
	for (i = 0; i < n; i++) {
		for (k = 0; k < i; k++)
			if (strcmp(v[k], v[i]) == 0) {
				snprintf(key, sizeof(key), "fields[%zu]", i);
				free(v);
				return bad(l, key, "\"%s\" given twice",
				           l->t->fields[k]);
			}
		l->t->fields[i] = fx_strdup(v[i]);
		l->t->nfields++;
	}
	free(v);
	if (!n)
		return bad(l, "fields", "empty: name one field or more");
	return 0;
}

static int load_root(struct loader *l, const cJSON *root)
{
	static const char *const keys[] = {"name",  "partition_by", "kafka",
	                                   "files", "description",  "fields",
	                                   NULL};
	const cJSON *k, *f;
	const char *name;

	if (!cJSON_IsObject(root))
		return bad(l, "(top)", "not a JSON object");
	if (known_keys(l, root, "", keys) ||
	    get_string(l, root, "name", "name", 1, &name))
		return -1;
	l->t->name = fx_strdup(name);
	if (load_parts(l, root) || load_fields(l, root))
		return -1;
	k = cJSON_GetObjectItemCaseSensitive(root, "kafka");
	f = cJSON_GetObjectItemCaseSensitive(root, "files");
	if (!k && !f)
		return bad(l, "(top)", "neither \"kafka\" nor \"files\"");
	if (k && load_kafka(l, k))
		return -1;
	if (f && load_files(l, f))
		return -1;
	return 0;
}

struct table *table_load(const struct fx_ctx *ctx, const char *path)
{
	struct table *t = fx_malloc(sizeof(*t));
	struct loader l = {{ctx, path}, t};
	cJSON *root;

	memset(t, 0, sizeof(*t));
	t->ctx = ctx;
	t->path = fx_strdup(path);
	t->partitions = t->replication = -1;
	root = conf_parse(&l.cf);
	if (!root || load_root(&l, root)) {
		table_free(t);
		t = NULL;
	}
	cJSON_Delete(root);
	return t;
}

void table_free(struct table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nparts; i++) {
		free(t->parts[i].name);
		free(t->parts[i].field);
	}
	for (i = 0; i < t->nstatic; i++) {
		free(t->statics[i].key);
		free(t->statics[i].topic);
		table_values_free(&t->statics[i].tv);
	}
	for (i = 0; i < t->seen.n; i++)
		free(t->seen.entries[i].value);
	strmap_free(&t->seen);
	strmap_free(&t->by_tuple);
	for (i = 0; i < t->nfields; i++)
		free(t->fields[i]);
	free(t->fields);
	free(t->statics);
	free(t->default_topic);
	free(t->topic.text);
	free(t->dir.text);
	free(t->name);
	free(t->path);
	json_paths_free(&t->paths);
	fx_buf_free(&t->key);
	fx_buf_free(&t->why);
	fx_buf_free(&t->scratch);
	table_values_free(&t->topic_tv);
	free(t);
}

const char *table_file(const struct table *t)
{
	return t->path;
}

const char *table_name(const struct table *t)
{
	return t->name;
}

size_t table_nparts(const struct table *t)
{
	return t->nparts;
}

const struct table_part *table_part(const struct table *t, size_t i)
{
	return &t->parts[i];
}

int table_has_fields(const struct table *t)
{
	return t->fields != NULL;
}

size_t table_nfields(const struct table *t)
{
	return t->nfields;
}

char *const *table_fields(const struct table *t)
{
	return t->fields;
}

int table_has_kafka(const struct table *t)
{
	return t->has_kafka;
}

int table_has_files(const struct table *t)
{
	return t->dir.text != NULL;
}

int table_topic_partitions(const struct table *t)
{
	return t->partitions;
}

int table_topic_replication(const struct table *t)
{
	return t->replication;
}

uint32_t table_kafka_mask(const struct table *t)
{
	return t->kmask;
}

size_t table_nstatic(const struct table *t)
{
	return t->nstatic;
}

const char *table_static(const struct table *t, size_t i,
                         struct table_values *tv)
{
	const struct static_entry *e = &t->statics[i];
	size_t k;

	values_reset(tv);
	for (k = 0; k < e->tv.n; k++)
		values_push(tv, table_value(&e->tv, k), e->tv.len[k]);
	tv->any = e->tv.any;
	return e->topic;
}

const char *table_default_topic(const struct table *t)
{
	return t->default_topic;
}

const char *table_topic_template(const struct table *t)
{
	return t->topic.text;
}

const char *table_dir_template(const struct table *t)
{
	return t->dir.text;
}

void table_dir_root(const struct table *t, const char *root, struct fx_buf *out)
{
	const char *s = t->dir.text, *slash;

	fx_buf_reset(out);
	fx_buf_adds(out, root);
	while (out->len > 1 && out->p[out->len - 1] == '/')
		out->len--;
	while (s && (slash = strchr(s, '/')) &&
	       !memchr(s, '{', (size_t)(slash - s))) {
		fx_buf_addc(out, '/');
		fx_buf_add(out, s, (size_t)(slash - s));
		s = slash + 1;
	}
	fx_buf_addc(out, 0);
}

const struct json_paths *table_paths(const struct table *t)
{
	return &t->paths;
}

/* ---------------------------------------------------------------------
 * A record's values
 */

static const char *whyf(struct table *t, const char *fmt, ...) FX_PRINTF(2, 3);
static const char *whyf(struct table *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	fx_buf_reset(&t->why);
	fx_buf_grow(&t->why, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(t->why.p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return t->why.p;
}

/*
 * The value's text in t->scratch: a string's unescaped contents, or the
 * value as written. wtf8: a lone surrogate as its WTF-8 bytes, so that
 * the directory of "\ud800" is not that of "\ufffd" (hive.h); else as
 * U+FFFD, the bytes of the Kafka key fx-sink --key sends.
 */
static void value_text(struct table *t, const struct json_value *v, int wtf8)
{
	fx_buf_reset(&t->scratch);
	if (v->type != JSON_STRING)
		fx_buf_add(&t->scratch, v->p, v->len);
	else if (wtf8)
		json_string_unescape_wtf8(v, &t->scratch);
	else
		json_string_unescape(v, &t->scratch);
}

static int time_value(struct table *t, const struct table_part *p,
                      const struct json_value *v, struct table_values *tv,
                      const char **why)
{
	char iso[FX_TIME_ISO_LEN + 1];
	int64_t ms;

	if (fx_time_of_value(v, p->unit, &ms) ||
	    fx_time_format_iso(ms, iso) != 24) {
		*why = whyf(t, "not a timestamp: %.*s",
		            (int)(v->len > 64 ? 64 : v->len), v->p);
		return -1;
	}
	if (p->transform == TABLE_DAY)
		values_push(tv, iso, 10);
	else
		values_push(tv, iso + 11, 2);
	return 0;
}

int table_values_of(struct table *t, const struct json_value *vals,
                    struct table_values *tv, const char **field,
                    const char **why)
{
	size_t i;

	values_reset(tv);
	for (i = 0; i < t->nparts; i++) {
		const struct table_part *p = &t->parts[i];
		const struct json_value *v = &vals[p->path];
		char num[16];

		*field = p->field;
		if (v->type == JSON_MISSING || v->type == JSON_NULL ||
		    v->type == JSON_OBJECT || v->type == JSON_ARRAY) {
			*why = whyf(t, "%s: no partition value for \"%s\"",
			            v->type == JSON_MISSING
			                ? "missing"
			                : json_type_name(v->type),
			            p->name);
			return -1;
		}
		if (p->transform == TABLE_DAY || p->transform == TABLE_HOUR) {
			if (time_value(t, p, v, tv, why))
				return -1;
			continue;
		}
		value_text(t, v, p->transform != TABLE_BUCKET);
		if (p->transform == TABLE_BUCKET) {
			uint32_t h =
			    table_murmur2(t->scratch.p, t->scratch.len);

			snprintf(num, sizeof(num), "%" PRIu32,
			         (h & 0x7fffffff) % p->buckets);
			values_push(tv, num, strlen(num));
		} else {
			values_push(tv, t->scratch.p, t->scratch.len);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Routing
 */

static void render(const struct tpl *tp, const struct table_values *tv, int dir,
                   struct fx_buf *out)
{
	size_t i;

	for (i = 0; i < tp->n; i++) {
		const struct tpl_item *it = &tp->v[i];

		if (it->lit)
			fx_buf_add(out, it->lit, it->len);
		else if (dir)
			hive_encode(out, table_value(tv, it->part),
			            tv->len[it->part]);
		else
			table_topic_escape(out, table_value(tv, it->part),
			                   tv->len[it->part]);
	}
}

/* A dynamic topic a different tuple had before is a collision. */
static int check_seen(struct table *t, const struct table_values *tv,
                      const struct fx_buf *topic, const char **why)
{
	char *had;

	if (t->topic.nph < 2)
		return 0; /* one placeholder: escaping is injective */
	tuple_key(tv, t->kmask, &t->key);
	had = strmap_get(&t->seen, topic->p, topic->len);
	if (!had) {
		char *k = fx_malloc(t->key.len + sizeof(size_t));

		memcpy(k, &t->key.len, sizeof(size_t));
		memcpy(k + sizeof(size_t), t->key.p, t->key.len);
		strmap_put(&t->seen, topic->p, topic->len, k);
		return 0;
	}
	if (*(size_t *)(void *)had == t->key.len &&
	    memcmp(had + sizeof(size_t), t->key.p, t->key.len) == 0)
		return 0;
	*why = whyf(
	    t,
	    "topic \"%.*s\" was already the topic of other values: two partitions cannot share a topic",
	    (int)topic->len, topic->p);
	return -1;
}

int table_topic(struct table *t, const struct table_values *tv,
                struct fx_buf *out, const char **why)
{
	uintptr_t idx;

	fx_buf_reset(out);
	tv = topic_values(t, tv);
	tuple_key(tv, t->kmask, &t->key);
	idx = (uintptr_t)strmap_get(&t->by_tuple, t->key.p, t->key.len);
	if (idx) {
		fx_buf_adds(out, t->statics[idx - 1].topic);
		return TABLE_STATIC;
	}
	if (t->dynamic) {
		render(&t->topic, tv, 0, out);
		if (topic_name_check(out->p, out->len, why)) {
			*why = whyf(t, "topic \"%.*s\": %s", (int)out->len,
			            out->p, *why);
			return -1;
		}
		if (check_seen(t, tv, out, why))
			return -1;
		return TABLE_DYNAMIC;
	}
	if (t->default_topic) {
		fx_buf_adds(out, t->default_topic);
		return TABLE_DEFAULT;
	}
	return TABLE_REJECT;
}

int table_dir(const struct table *t, const struct table_values *tv,
              struct fx_buf *out)
{
	fx_buf_reset(out);
	if (!t->dir.text)
		return -1;
	render(&t->dir, tv, 1, out);
	return 0;
}

void table_values_json(const struct table *t, const struct table_values *tv,
                       struct fx_buf *out)
{
	size_t i;

	size_t k = 0;

	for (i = 0; i < tv->n && i < t->nparts; i++) {
		if (tv->any & (1u << i))
			continue;
		if (k++)
			fx_buf_addc(out, ',');
		fx_buf_add_json_string(out, t->parts[i].name,
		                       strlen(t->parts[i].name));
		fx_buf_addc(out, ':');
		/* "\ud800" as the record had it */
		if (json_add_wtf8_string(out, table_value(tv, i), tv->len[i]))
			fx_buf_add_json_string(out, table_value(tv, i),
			                       tv->len[i]);
	}
}

/* ---------------------------------------------------------------------
 * Topic names back to values
 */

struct match {
	const struct table *t;
	const struct tpl *tp;
	const char *s;
	size_t n;
	size_t start[TABLE_MAX_PARTS], end[TABLE_MAX_PARTS];
	uint32_t bound; /* the partitions a placeholder has taken so far */
	int found;
	size_t first_start[TABLE_MAX_PARTS], first_end[TABLE_MAX_PARTS];
	struct fx_buf dec; /* a candidate value, unescaped */
};

/*
 * Whether the n escaped bytes at s are a value partition p can have: the
 * text its transform writes ("2026-11-23" that reads back as that day,
 * "00" to "23", a bucket below N written as %u), or, for the value itself,
 * UTF-8. This is what tells "p_a_5fb_2026-11-23" from the values "a" and
 * "5fb 26-11-23" in "p_{os}_{dt}": the second is not a day.
 */
static int value_fits(struct match *m, const struct table_part *p,
                      const char *s, size_t n)
{
	char iso[FX_TIME_ISO_LEN + 1];
	int64_t ms;
	unsigned long v;
	size_t i;

	switch (p->transform) {
	case TABLE_DAY:
		return n == 10 && !fx_time_parse_iso(s, n, &ms) &&
		       fx_time_format_iso(ms, iso) == 24 && !memcmp(iso, s, 10);
	case TABLE_HOUR:
		return n == 2 && isdigit((unsigned char)s[0]) &&
		       isdigit((unsigned char)s[1]) &&
		       (s[0] - '0') * 10 + (s[1] - '0') < 24;
	case TABLE_BUCKET:
		if (n == 0 || n > 7 || (n > 1 && s[0] == '0'))
			return 0;
		for (i = 0, v = 0; i < n; i++) {
			if (!isdigit((unsigned char)s[i]))
				return 0;
			v = v * 10 + (unsigned long)(s[i] - '0');
		}
		return v < p->buckets;
	case TABLE_IDENTITY:
		break;
	}
	fx_buf_reset(&m->dec);
	table_topic_unescape(&m->dec, s, n);
	return json_utf8_valid(m->dec.p ? m->dec.p : "", m->dec.len);
}

/*
 * Backtracking: every way item i.. can match s[pos..] with values their
 * partitions can have; stops at two.
 */
static void match_from(struct match *m, size_t i, size_t pos)
{
	const struct tpl_item *it;
	const struct table_part *p;
	size_t k, end, len;
	uint32_t bit;

	if (m->found >= 2)
		return;
	if (i == m->tp->n) {
		if (pos == m->n && m->found++ == 0) {
			memcpy(m->first_start, m->start, sizeof(m->start));
			memcpy(m->first_end, m->end, sizeof(m->end));
		}
		return;
	}
	it = &m->tp->v[i];
	if (it->lit) {
		if (m->n - pos >= it->len &&
		    !memcmp(m->s + pos, it->lit, it->len))
			match_from(m, i + 1, pos + it->len);
		return;
	}
	p = &m->t->parts[it->part];
	bit = 1u << it->part;
	if (m->bound & bit) {
		/* a partition named twice has one value */
		len = m->end[it->part] - m->start[it->part];
		if (m->n - pos >= len &&
		    !memcmp(m->s + pos, m->s + m->start[it->part], len))
			match_from(m, i + 1, pos + len);
		return;
	}
	/* a placeholder takes whole escapes: try every length */
	m->bound |= bit;
	m->start[it->part] = end = pos;
	for (;;) {
		m->end[it->part] = end;
		if (value_fits(m, p, m->s + pos, end - pos))
			match_from(m, i + 1, end);
		if (m->found >= 2 || end == m->n ||
		    !(k = escape_len(m->s + end, m->n - end)))
			break;
		end += k;
	}
	m->bound &= ~bit;
}

static void tuple_from_match(const struct match *m, const struct table *t,
                             struct table_values *tv)
{
	struct fx_buf b = FX_BUF_INIT;
	size_t i;

	values_reset(tv);
	for (i = 0; i < t->nparts; i++) {
		fx_buf_reset(&b);
		if (!(t->kmask & (1u << i))) {
			values_push(tv, "", 0);
			tv->any |= 1u << i;
			continue;
		}
		table_topic_unescape(&b, m->s + m->first_start[i],
		                     m->first_end[i] - m->first_start[i]);
		values_push(tv, b.p ? b.p : "", b.len);
	}
	fx_buf_free(&b);
}

/* 1: topic is the template's for tv; 0: it is not; -1: ambiguous (why) */
static int template_match(struct table *t, const char *topic,
                          struct table_values *tv, const char **why)
{
	struct match m;

	if (!t->topic.text)
		return 0;
	memset(&m, 0, sizeof(m));
	m.t = t;
	m.tp = &t->topic;
	m.s = topic;
	m.n = strlen(topic);
	match_from(&m, 0, 0);
	fx_buf_free(&m.dec);
	if (m.found > 1) {
		*why = whyf(
		    t,
		    "topic \"%s\" could hold two partitions of the template \"%s\"",
		    topic, t->topic.text);
		return -1;
	}
	if (m.found)
		tuple_from_match(&m, t, tv);
	return m.found;
}

int table_topic_match(struct table *t, const char *topic,
                      struct table_values *tv, const char **why)
{
	const struct static_entry *e = static_by_topic(t, topic);
	size_t i;
	int r;

	values_reset(tv);
	if (e) {
		for (i = 0; i < e->tv.n; i++)
			values_push(tv, table_value(&e->tv, i), e->tv.len[i]);
		tv->any = e->tv.any;
		return TABLE_STATIC;
	}
	if (t->default_topic && strcmp(t->default_topic, topic) == 0)
		return TABLE_DEFAULT;
	r = template_match(t, topic, tv, why);
	return r < 0 ? -1 : r ? TABLE_DYNAMIC : TABLE_REJECT;
}

/* ---------------------------------------------------------------------
 * Pruning
 */

int table_where_add(struct table *t, struct table_where *w, const char *spec,
                    const char **why)
{
	const char *eq = strchr(spec, '=');
	char *vals, *v, *save = NULL;
	int idx = eq ? part_index(t, spec, (size_t)(eq - spec)) : -1;

	if (!eq) {
		*why = whyf(t, "expected NAME=V1,V2, got '%s'", spec);
		return -1;
	}
	if (idx < 0) {
		size_t i;

		fx_buf_reset(&t->scratch);
		for (i = 0; i < t->nparts; i++) {
			fx_buf_adds(&t->scratch, i ? ", " : "");
			fx_buf_adds(&t->scratch, t->parts[i].name);
		}
		fx_buf_addc(&t->scratch, 0);
		*why = whyf(t, "'%.*s' is not a partition of table '%s' (%s)",
		            (int)(eq - spec), spec, t->name, t->scratch.p);
		return -1;
	}
	vals = fx_strdup(eq + 1);
	for (v = strtok_r(vals, ",", &save); v; v = strtok_r(NULL, ",", &save))
		fx_strlist_push(&w->allowed[idx], v);
	if (!w->allowed[idx].n)
		fx_strlist_push(&w->allowed[idx], "");
	free(vals);
	return 0;
}

static int allowed(const struct fx_strlist *l, const char *s, size_t n)
{
	size_t i;

	if (!l->n)
		return 1;
	for (i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == n && memcmp(l->v[i], s, n) == 0)
			return 1;
	return 0;
}

int table_where_match(const struct table_where *w,
                      const struct table_values *tv)
{
	size_t i;

	for (i = 0; i < tv->n; i++)
		if (!(tv->any & (1u << i)) &&
		    !allowed(&w->allowed[i], table_value(tv, i), tv->len[i]))
			return 0;
	return 1;
}

void table_where_free(struct table_where *w)
{
	size_t i;

	for (i = 0; i < TABLE_MAX_PARTS; i++)
		fx_strlist_free(&w->allowed[i]);
}

/*
 * Can the default topic hold a selected record? Not if every tuple w
 * allows is a static one (a cross product small enough to count).
 */
static int default_needed(struct table *t, const struct table_where *w)
{
	struct table_values tv = {0};
	size_t idx[TABLE_MAX_PARTS] = {0}, i, total = 1;
	int need = 0;

	for (i = 0; i < t->nparts; i++) {
		if (!(t->kmask & (1u << i)))
			continue;
		if (!w->allowed[i].n)
			return 1;
		total *= w->allowed[i].n;
		if (total > 65536)
			return 1;
	}
	while (!need) {
		values_reset(&tv);
		for (i = 0; i < t->nparts; i++)
			if (w->allowed[i].n)
				values_push(&tv, w->allowed[i].v[idx[i]],
				            strlen(w->allowed[i].v[idx[i]]));
			else
				values_push(&tv, "", 0);
		tuple_key(&tv, t->kmask, &t->key);
		need = !strmap_get(&t->by_tuple, t->key.p, t->key.len);
		for (i = 0; i < t->nparts; i++) {
			if (!w->allowed[i].n)
				continue;
			if (++idx[i] < w->allowed[i].n)
				break;
			idx[i] = 0;
		}
		if (i == t->nparts)
			break;
	}
	table_values_free(&tv);
	return need;
}

/* Does w select by a partition that topics do not separate (dt when
 * topics are per os)? Then every topic holds unselected records too. */
static int where_outside_topics(const struct table *t,
                                const struct table_where *w)
{
	size_t i;

	for (i = 0; i < t->nparts; i++)
		if (!(t->kmask & (1u << i)) && w->allowed[i].n)
			return 1;
	return 0;
}

int table_topics_for(const struct fx_ctx *ctx, struct table *t,
                     const struct table_where *w, char *const *existing,
                     size_t n, struct fx_strlist *out, int *filter)
{
	struct table_values tv = {0};
	const char *why;
	size_t i;
	int r, rc = 0;

	*filter = where_outside_topics(t, w);
	for (i = 0; i < n && !rc; i++) {
		r = table_topic_match(t, existing[i], &tv, &why);
		if (r < 0) {
			fx_warn(ctx, "%s: %s", t->path, why);
			rc = -1;
		} else if (r == TABLE_DEFAULT) {
			if (default_needed(t, w)) {
				fx_strlist_push(out, existing[i]);
				*filter = 1;
			}
		} else if (r != TABLE_REJECT && table_where_match(w, &tv)) {
			fx_strlist_push(out, existing[i]);
		}
	}
	table_values_free(&tv);
	return rc;
}

/* ---------------------------------------------------------------------
 * Directories
 */

struct dir_walk {
	const struct fx_ctx *ctx;
	struct table *t;
	const struct table_where *w;
	struct fx_strlist *dirs, *values;
	struct fx_strlist comps; /* the template's path components */
	struct table_values tv;
	struct fx_buf vals[TABLE_MAX_PARTS];
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void walk_found(struct dir_walk *dw, const char *path)
{
	size_t i;

	fx_strlist_push(dw->dirs, path);
	if (!dw->values)
		return;
	values_reset(&dw->tv);
	for (i = 0; i < dw->t->nparts; i++)
		values_push(&dw->tv, dw->vals[i].p ? dw->vals[i].p : "",
		            dw->vals[i].len);
	fx_buf_reset(&dw->t->scratch);
	table_values_json(dw->t, &dw->tv, &dw->t->scratch);
	fx_buf_addc(&dw->t->scratch, 0);
	fx_strlist_push(dw->values, dw->t->scratch.p);
}

/*
 * Walks the template's path components from comp on: a literal one is a
 * path to follow, one with a placeholder a directory to read, keeping the
 * entries whose value w allows.
 */
static int walk_comp(struct dir_walk *dw, const char *path, size_t comp)
{
	struct fx_strlist names = {0};
	const char *c, *open, *close;
	struct dirent *de;
	size_t i, plen, slen;
	char *sub;
	int part, rc = 0;
	DIR *d;

	if (comp == dw->comps.n) {
		if (is_dir(path))
			walk_found(dw, path);
		return 0;
	}
	c = dw->comps.v[comp];
	if (!(open = strchr(c, '{'))) {
		if (asprintf(&sub, "%s/%s", path, c) < 0)
			fx_oom();
		rc = walk_comp(dw, sub, comp + 1);
		free(sub);
		return rc;
	}
	close = strchr(open, '}');
	part = part_index(dw->t, open + 1, (size_t)(close - open - 1));
	plen = (size_t)(open - c);
	slen = strlen(close + 1);
	if (!(d = opendir(path))) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0; /* no such partition (yet) */
		fx_warn(dw->ctx, "%s: %s", path, strerror(errno));
		return FX_EXIT_IO;
	}
	while ((de = readdir(d)))
		fx_strlist_push(&names, de->d_name);
	closedir(d);
	qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	for (i = 0; i < names.n && !rc; i++) {
		const char *nm = names.v[i];
		size_t n = strlen(nm);
		struct fx_buf *v = &dw->vals[part];

		if (nm[0] == '.' || n < plen + slen || memcmp(nm, c, plen) ||
		    memcmp(nm + n - slen, close + 1, slen))
			continue;
		/* a value fx-consume --partition-fields reads ("\ud800" from
		 * %ED%A0%80), or none */
		fx_buf_reset(&dw->t->scratch);
		if (hive_decode_json(&dw->t->scratch, nm + plen,
		                     n - plen - slen) < 0)
			continue;
		fx_buf_reset(v);
		fx_buf_addc(v, 0); /* v->p is never NULL */
		v->len = 0;
		if (!hive_is_null(nm + plen, n - plen - slen))
			hive_decode(v, nm + plen, n - plen - slen);
		if (!allowed(&dw->w->allowed[part], v->p, v->len))
			continue;
		if (asprintf(&sub, "%s/%s", path, nm) < 0)
			fx_oom();
		if (is_dir(sub))
			rc = walk_comp(dw, sub, comp + 1);
		free(sub);
	}
	fx_strlist_free(&names);
	return rc;
}

int table_dirs_for(const struct fx_ctx *ctx, struct table *t,
                   const struct table_where *w, const char *root,
                   struct fx_strlist *dirs, struct fx_strlist *values)
{
	struct dir_walk dw = {
	    .ctx = ctx, .t = t, .w = w, .dirs = dirs, .values = values};
	char *copy = fx_strdup(t->dir.text), *c, *save = NULL;
	size_t i;
	int rc;

	for (c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
		fx_strlist_push(&dw.comps, c);
	free(copy);
	rc = walk_comp(&dw, root, 0);
	fx_strlist_free(&dw.comps);
	table_values_free(&dw.tv);
	for (i = 0; i < TABLE_MAX_PARTS; i++)
		fx_buf_free(&dw.vals[i]);
	return rc;
}

/* ---------------------------------------------------------------------
 * Readers and writers of topics
 */

int table_topic_create(struct table *t, const char *topic, int *partitions,
                       int *replication)
{
	struct table_values tv = {0};
	const char *why;
	int r = table_topic_match(t, topic, &tv, &why);

	table_values_free(&tv);
	*partitions = t->partitions > 0 ? t->partitions : -1;
	*replication = t->replication > 0 ? t->replication : -1;
	return r == TABLE_DYNAMIC;
}

void table_filter_init(struct table_filter *f, struct table *t,
                       const struct table_where *w)
{
	memset(f, 0, sizeof(*f));
	f->t = t;
	f->w = w;
	f->every_topic = where_outside_topics(t, w);
}

int table_filter_keep(void *arg, const char *topic, const char *rec, size_t len)
{
	struct table_filter *f = arg;
	struct json_error jerr;
	const char *field, *why;

	if (!f->every_topic &&
	    (!f->t->default_topic || strcmp(topic, f->t->default_topic)))
		return 1; /* the topic holds selected partitions only */
	/* a record without partition values is in no selected partition */
	if (json_scan(&f->sc, &f->t->paths, rec, len, f->vals, &jerr, 0) < 0 ||
	    table_values_of(f->t, f->vals, &f->tv, &field, &why))
		return 0;
	return table_where_match(f->w, topic_values(f->t, &f->tv));
}

void table_filter_free(struct table_filter *f)
{
	json_scanner_free(&f->sc);
	table_values_free(&f->tv);
}
