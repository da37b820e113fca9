/* dim.c - the dimension table: keys, rows, loading files */
#include "dim.h"
#include "lineage.h"
#include "csvio.h"
#include "err.h"
#include "num.h"
#include "opt.h"
#include "stream.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <xxhash.h>

/* ---- keys ---- */

/* An integer already in canonical form: no leading zero, not "-0". */
static int plain_int(const char *s, size_t n)
{
	size_t i = s[0] == '-';

	if (n - i == 0 || n - i > 18 || (s[i] == '0' && n - i > 1) ||
	    (i && s[1] == '0'))
		return 0;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Adds the canonical spelling of a number; 0, or -1 if s is not one. */
static int add_number(struct fx_buf *key, const char *s, size_t n)
{
	struct fx_num num;
	char buf[32];
	size_t len;

	if (plain_int(s, n)) {
		fx_buf_add(key, s, n);
		return 0;
	}
	switch (fx_num_parse(s, n, &num)) {
	case FX_NUM_INT:
		len = fx_num_format_int(num.i, buf);
		break;
	case FX_NUM_DOUBLE:
		/* -0.0 is 0, as -0 is */
		len = num.d == 0 ? fx_num_format_int(0, buf)
		                 : fx_num_format_double(num.d, buf);
		break;
	default:
		return -1;
	}
	fx_buf_add(key, buf, len);
	return 0;
}

static void add_text(struct fx_buf *key, const struct json_value *v,
                     struct fx_buf *scratch)
{
	const char *s = v->p + 1;
	size_t n = v->len - 2;

	if (v->escaped) {
		fx_buf_reset(scratch);
		json_string_unescape(v, scratch);
		s = scratch->p;
		n = scratch->len;
	}
	if (n && ((s[0] >= '0' && s[0] <= '9') || s[0] == '-') &&
	    add_number(key, s, n) == 0)
		return;
	fx_buf_add(key, s, n);
}

int join_key_add(struct fx_buf *key, const struct json_value *v,
                 struct fx_buf *scratch)
{
	size_t at = key->len;
	uint32_t len;

	switch (v->type) {
	case JSON_MISSING:
	case JSON_NULL:
		return JOIN_KEY_NULL;
	case JSON_OBJECT:
	case JSON_ARRAY:
		return JOIN_KEY_BAD;
	default:
		break;
	}
	fx_buf_add(key, "\0\0\0\0", 4);
	if (v->type == JSON_STRING)
		add_text(key, v, scratch);
	else if (v->type != JSON_NUMBER || add_number(key, v->p, v->len))
		fx_buf_add(key, v->p, v->len); /* true, false, 1e400 */
	len = (uint32_t)(key->len - at - 4);
	memcpy(key->p + at, &len, 4);
	return JOIN_KEY_OK;
}

void join_key_describe(const char *key, size_t n, struct fx_buf *out)
{
	size_t i = 0;

	while (i + 4 <= n) {
		uint32_t len;

		memcpy(&len, key + i, 4);
		if (i)
			fx_buf_addc(out, ',');
		fx_buf_add(out, key + i + 4, len);
		i += 4 + len;
	}
}

/* ---- memory on huge pages ---- */

#define DIM_BLOCK ((size_t)8 << 20)

struct dim_block {
	struct dim_block *next;
	size_t size, used;
};

static void *huge_alloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fx_oom();
	madvise(p, n, MADV_HUGEPAGE); /* a hint: fine if refused */
	return p;
}

static void *block_alloc(struct dim_table *t, size_t n)
{
	struct dim_block *b = t->blocks;
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!b || b->size - b->used < n) {
		size_t size = n + 64 > DIM_BLOCK ? n + 64 : DIM_BLOCK;

		b = huge_alloc(size);
		b->size = size;
		b->used = 64;
		b->next = t->blocks;
		t->blocks = b;
	}
	p = (char *)b + b->used;
	b->used += n;
	return p;
}

/* ---- the table: open addressing, linear probing ---- */

static size_t slot_find(const struct dim_table *t, const char *key, size_t n,
                        uint64_t h)
{
	size_t mask = t->nslots - 1, i = (size_t)h & mask;

	for (;; i = (i + 1) & mask) {
		const struct dim_slot *s = &t->slots[i];

		if (!s->row || (s->hash == h && s->row->klen == n &&
		                memcmp(s->row->b, key, n) == 0))
			return i;
	}
}

uint64_t dim_hash(const char *key, size_t n)
{
	return XXH3_64bits(key, n);
}

const struct dim_row *dim_get_hash(const struct dim_table *t, const char *key,
                                   size_t n, uint64_t h)
{
	if (!t->n)
		return NULL;
	return t->slots[slot_find(t, key, n, h)].row;
}

const struct dim_row *dim_get(const struct dim_table *t, const char *key,
                              size_t n)
{
	return dim_get_hash(t, key, n, XXH3_64bits(key, n));
}

static void table_grow(struct dim_table *t)
{
	struct dim_slot *old = t->slots;
	size_t i, nold = t->nslots;

	t->nslots = nold ? nold * 2 : 1024;
	t->slots = huge_alloc(t->nslots * sizeof(*t->slots));
	for (i = 0; i < nold; i++) {
		size_t j, mask = t->nslots - 1;

		if (!old[i].row)
			continue;
		for (j = old[i].hash & mask; t->slots[j].row;
		     j = (j + 1) & mask)
			;
		t->slots[j] = old[i];
	}
	if (old)
		munmap(old, nold * sizeof(*old));
}

/* The slot for key: its row, or an empty slot to fill (at most half full). */
static struct dim_slot *table_slot(struct dim_table *t, const char *key,
                                   size_t n, uint64_t h)
{
	if ((t->n + 1) * 2 > t->nslots)
		table_grow(t);
	return &t->slots[slot_find(t, key, n, h)];
}

static void row_free(struct dim_row *r)
{
	if (r && r->heap)
		free(r);
}

void dim_del(struct dim_table *t, const char *key, size_t n)
{
	size_t i, j, mask;

	if (!t->n)
		return;
	mask = t->nslots - 1;
	i = slot_find(t, key, n, XXH3_64bits(key, n));
	if (!t->slots[i].row)
		return;
	row_free(t->slots[i].row);
	/* backward shift: no tombstones, probes stay short */
	for (j = (i + 1) & mask; t->slots[j].row; j = (j + 1) & mask) {
		size_t home = t->slots[j].hash & mask;

		if ((j > i && (home <= i || home > j)) ||
		    (j < i && home <= i && home > j)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i].row = NULL;
	t->n--;
}

void dim_table_free(struct dim_table *t)
{
	size_t i;

	for (i = 0; i < t->nslots; i++)
		row_free(t->slots[i].row);
	if (t->slots)
		munmap(t->slots, t->nslots * sizeof(*t->slots));
	while (t->blocks) {
		struct dim_block *b = t->blocks;

		t->blocks = b->next;
		munmap(b, b->size);
	}
	memset(t, 0, sizeof(*t));
}

/* ---- the field list ---- */

void dim_spec_free(struct dim_spec *s)
{
	fx_strlist_free(&s->fields);
}

char *dim_spec_out_name(const struct dim_spec *s, size_t i)
{
	size_t pl = strlen(s->prefix), fl = strlen(s->fields.v[i]);
	char *name = fx_malloc(pl + fl + 1);

	memcpy(name, s->prefix, pl);
	memcpy(name + pl, s->fields.v[i], fl + 1);
	return name;
}

/* Appends ,"prefix+name": for field i. */
static void add_head(const struct dim_spec *s, size_t i, struct fx_buf *out)
{
	char *name = dim_spec_out_name(s, i);

	fx_buf_addc(out, ',');
	fx_buf_add_json_string(out, name, strlen(name));
	fx_buf_addc(out, ':');
	free(name);
}

void dim_spec_nulls(const struct dim_spec *s, struct fx_buf *out)
{
	size_t i;

	for (i = 0; i < s->fields.n; i++) {
		add_head(s, i, out);
		fx_buf_adds(out, "null");
	}
}

/* ---- the loader ---- */

#define NO_FIELD ((size_t)-1)

struct member_cache {
	char *key; /* the member's key as written, quotes included */
	size_t len;
	size_t field;
};

struct dim_loader {
	struct fx_ctx *ctx;
	struct dim_spec *s;
	struct dim_table *t;
	struct json_value *vals;    /* this row's value of each field */
	struct member_cache *cache; /* field of the i-th member, last seen */
	size_t ncache;
	struct fx_buf heads; /* ,"name": of each field */
	size_t *head_off;    /* field i's head is heads[off[i]..off[i+1]) */
	size_t nheads;
	unsigned char *seen; /* per field: some row had it */
	struct fx_buf row, scratch;
	struct json_paths keypaths;
	struct json_scanner scanner;
	struct fx_buf key;
	int csv;
	int columns; /* a CSV's header gave the columns (it has no rows) */
};

static void rebuild_heads(struct dim_loader *ld)
{
	size_t i, n = ld->s->fields.n;

	fx_buf_reset(&ld->heads);
	ld->head_off = fx_realloc(ld->head_off, (n + 1) * sizeof(size_t));
	ld->vals = fx_realloc(ld->vals, (n + 1) * sizeof(*ld->vals));
	ld->seen = fx_realloc(ld->seen, n + 1);
	for (i = ld->nheads; i < n; i++)
		ld->seen[i] = 0;
	for (i = 0; i < n; i++) {
		ld->head_off[i] = ld->heads.len;
		add_head(ld->s, i, &ld->heads);
	}
	ld->head_off[n] = ld->heads.len;
	ld->nheads = n;
}

struct dim_loader *dim_loader_new(struct fx_ctx *ctx, struct dim_spec *s,
                                  struct dim_table *t)
{
	struct dim_loader *ld = fx_malloc(sizeof(*ld));
	const char *err;
	size_t i;

	memset(ld, 0, sizeof(*ld));
	ld->ctx = ctx;
	ld->s = s;
	ld->t = t;
	for (i = 0; i < s->nkeys; i++) {
		/* dimension keys are top-level names: escape dots */
		struct fx_buf p = FX_BUF_INIT;
		const char *c;

		for (c = s->keys[i]; *c; c++) {
			if (*c == '.' || *c == '\\')
				fx_buf_addc(&p, '\\');
			fx_buf_addc(&p, *c);
		}
		fx_buf_addc(&p, 0);
		if (json_paths_add(&ld->keypaths, p.p, &err) < 0)
			fx_die(ctx, FX_EXIT_USAGE, "--on: %s", err);
		fx_buf_free(&p);
	}
	rebuild_heads(ld);
	return ld;
}

void dim_loader_free(struct dim_loader *ld)
{
	size_t i;

	if (!ld)
		return;
	for (i = 0; i < ld->ncache; i++)
		free(ld->cache[i].key);
	free(ld->cache);
	free(ld->vals);
	free(ld->head_off);
	free(ld->seen);
	fx_buf_free(&ld->heads);
	fx_buf_free(&ld->row);
	fx_buf_free(&ld->scratch);
	fx_buf_free(&ld->key);
	json_paths_free(&ld->keypaths);
	json_scanner_free(&ld->scanner);
	free(ld);
}

static int is_key_name(const struct dim_spec *s, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < s->nkeys; i++)
		if (strlen(s->keys[i]) == n && !memcmp(s->keys[i], name, n))
			return 1;
	return 0;
}

/* The field a member name (unescaped) feeds, adding it if the list grows. */
static size_t field_of_name(struct dim_loader *ld, const char *name, size_t n)
{
	struct dim_spec *s = ld->s;
	size_t i;

	for (i = 0; i < s->fields.n; i++)
		if (strlen(s->fields.v[i]) == n &&
		    !memcmp(s->fields.v[i], name, n))
			return i;
	if (s->fields_fixed || is_key_name(s, name, n) ||
	    (n >= 3 && !memcmp(name, "_fx", 3)) || memchr(name, 0, n))
		return NO_FIELD;
	{
		char *copy = fx_strndup(name, n);

		fx_strlist_push(&s->fields, copy);
		free(copy);
	}
	rebuild_heads(ld);
	return s->fields.n - 1;
}

static size_t field_of(struct dim_loader *ld, size_t pos,
                       const struct json_value *key)
{
	struct member_cache *c;

	if (pos < ld->ncache && ld->cache[pos].len == key->len &&
	    !memcmp(ld->cache[pos].key, key->p, key->len))
		return ld->cache[pos].field;
	if (pos >= ld->ncache) {
		ld->cache = fx_realloc(ld->cache, (pos + 1) * sizeof(*c));
		while (ld->ncache <= pos)
			ld->cache[ld->ncache++] = (struct member_cache){0};
	}
	c = &ld->cache[pos];
	free(c->key);
	c->key = fx_strndup(key->p, key->len);
	c->len = key->len;
	fx_buf_reset(&ld->scratch);
	json_string_unescape(key, &ld->scratch);
	c->field = field_of_name(ld, ld->scratch.p, ld->scratch.len);
	return c->field;
}

/* Renders the members of object p into ld->row. */
static void render(struct dim_loader *ld, const char *p, size_t n)
{
	struct json_member m;
	size_t pos = 0, i, k = 0;

	for (i = 0; i < ld->nheads; i++)
		ld->vals[i].type = JSON_MISSING;
	while (json_object_next(p, n, &pos, &m)) {
		size_t f = field_of(ld, k++, &m.key);

		if (f != NO_FIELD)
			ld->vals[f] = m.val;
	}
	fx_buf_reset(&ld->row);
	for (i = 0; i < ld->nheads; i++) {
		const struct json_value *v = &ld->vals[i];

		if (v->type == JSON_MISSING && !ld->s->fields_given)
			continue;
		fx_buf_add(&ld->row, ld->heads.p + ld->head_off[i],
		           ld->head_off[i + 1] - ld->head_off[i]);
		if (v->type == JSON_MISSING) {
			/* the columns asked for, as a table's: null */
			fx_buf_adds(&ld->row, "null");
			continue;
		}
		ld->seen[i] = 1;
		fx_buf_add(&ld->row, v->p, v->len);
	}
}

static struct dim_row *row_new(struct dim_loader *ld, const char *key,
                               size_t klen, uint64_t line, int heap)
{
	size_t size = sizeof(struct dim_row) + klen + ld->row.len;
	struct dim_row *r = heap ? fx_malloc(size) : block_alloc(ld->t, size);

	r->klen = (uint32_t)klen;
	r->mlen = (uint32_t)ld->row.len;
	r->line = line;
	r->heap = heap != 0;
	memcpy(r->b, key, klen);
	memcpy(r->b + klen, ld->row.p, ld->row.len);
	return r;
}

void dim_loader_put(struct dim_loader *ld, const char *key, size_t klen,
                    const char *p, size_t n)
{
	uint64_t h = XXH3_64bits(key, klen);
	struct dim_slot *s = table_slot(ld->t, key, klen, h);

	render(ld, p, n);
	if (s->row)
		row_free(s->row);
	else
		ld->t->n++;
	s->hash = h;
	s->row = row_new(ld, key, klen, 0, 1);
}

/* A row of a file: its key from vals (the key paths). */
static int file_row(struct dim_loader *ld, const struct fx_where *w,
                    const char *p, size_t n, const struct json_value *vals)
{
	struct dim_spec *s = ld->s;
	struct dim_slot *slot;
	size_t i;
	uint64_t h;

	fx_buf_reset(&ld->key);
	for (i = 0; i < s->nkeys; i++) {
		int r = join_key_add(&ld->key, &vals[i], &ld->scratch);

		if (r == JOIN_KEY_OK)
			continue;
		if (ld->csv && vals[i].type == JSON_MISSING) {
			fx_warn(ld->ctx, "%s: no column \"%s\"", s->source,
			        s->keys[i]);
			return FX_EXIT_USAGE;
		}
		return fx_bad_record(ld->ctx, w, s->keys[i], p, n, "%s",
		                     r == JOIN_KEY_BAD
		                         ? (vals[i].type == JSON_OBJECT
		                                ? "cannot join on an object"
		                                : "cannot join on an array")
		                     : vals[i].type == JSON_NULL ? "null key"
		                                                 : "missing");
	}
	h = XXH3_64bits(ld->key.p, ld->key.len);
	slot = table_slot(ld->t, ld->key.p, ld->key.len, h);
	if (slot->row && !s->last_wins) {
		struct fx_buf d = FX_BUF_INIT;
		int rc;

		join_key_describe(ld->key.p, ld->key.len, &d);
		rc = fx_bad_record(
		    ld->ctx, w, s->keys[0], p, n,
		    "duplicate key %.*s (first on line %llu; --dim-last-wins keeps the last)",
		    (int)(d.len > 64 ? 64 : d.len), d.p,
		    (unsigned long long)slot->row->line);
		fx_buf_free(&d);
		return rc;
	}
	render(ld, p, n);
	if (!slot->row)
		ld->t->n++;
	slot->hash = h;
	slot->row = row_new(ld, ld->key.p, ld->key.len, w->line, 0);
	return 0;
}

/* ---- files ---- */

struct csv_arg {
	struct dim_loader *ld;
	const char *name;
};

static int csv_row(void *arg, const char *json, size_t len, uint64_t line)
{
	struct csv_arg *a = arg;
	struct dim_loader *ld = a->ld;
	struct json_value vals[JSON_MAX_PATHS];
	struct json_error err;
	struct fx_where w = FX_WHERE_LINE(a->name, line);

	if (json_scan(&ld->scanner, &ld->keypaths, json, len, vals, &err, 0) <
	    0)
		return fx_bad_record(ld->ctx, &w, NULL, json, len, "%s",
		                     err.reason);
	return file_row(ld, &w, json, len, vals);
}

/* A header's columns as a row of nulls (csvio_reader_header_record()). */
static int header_row(struct dim_loader *ld, const char *json, size_t len)
{
	struct json_value vals[JSON_MAX_PATHS];
	struct json_error err;
	size_t i;

	if (json_scan(&ld->scanner, &ld->keypaths, json, len, vals, &err, 0) <
	    0)
		return FX_EXIT_DATA; /* the reader made it: cannot be */
	for (i = 0; i < ld->s->nkeys; i++)
		if (vals[i].type == JSON_MISSING) {
			fx_warn(ld->ctx, "%s: no column \"%s\"", ld->s->source,
			        ld->s->keys[i]);
			return FX_EXIT_USAGE;
		}
	render(ld, json, len); /* the field list, and which fields it has */
	ld->columns = 1;
	return 0;
}

static int load_csv(struct dim_loader *ld, const char *path, int gz)
{
	struct fx_input in;
	struct csvio_reader *cr;
	struct csv_arg a = {ld, NULL};
	struct fx_buf head = FX_BUF_INIT;
	int rc;

	rc = fx_input_open(&in, ld->ctx, path, gz);
	if (rc)
		return rc;
	a.name = in.name;
	cr = csvio_reader_new(ld->ctx, in.name, 0, NULL, csv_row, &a);
	rc = csvio_reader_feed_input(cr, &in);
	/*
	 * A header alone still names the columns, checked as a row's would
	 * be (a 0-byte file has none: no columns).
	 */
	if (!rc && !fx_stop && !csvio_reader_rows(cr) &&
	    csvio_reader_header_record(cr, &head) == 0)
		rc = header_row(ld, head.p, head.len);
	fx_buf_free(&head);
	/* a dimension is an input of the run (an NDJSON one is registered by
	 * record_stream_open) */
	lineage_count(lineage_input_fd(ld->ctx, in.fd, path),
	              csvio_reader_rows(cr));
	csvio_reader_free(cr);
	fx_input_close(&in);
	return rc;
}

static int load_ndjson(struct dim_loader *ld, const char *path, int gz)
{
	struct json_value vals[JSON_MAX_PATHS];
	struct record_stream rs;
	struct record rec;
	int rc, flags;

	rc = record_stream_open(&rs, ld->ctx, path, gz, &ld->keypaths);
	if (rc)
		return rc;
	while ((rc = record_stream_next(&rs, &rec, vals, &flags)) > 0) {
		struct fx_where w = record_stream_where(&rs, &rec);

		if (flags & JSON_SCAN_CONTROL)
			continue;
		rc = file_row(ld, &w, rec.p, rec.len, vals);
		if (rc) {
			rc = -rc;
			break;
		}
	}
	record_stream_close(&rs);
	return rc < 0 ? -rc : 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* After the first load: a --fields name no row has is a typo. */
static int check_fields(struct dim_loader *ld)
{
	size_t i;

	if (!ld->t->n && !ld->columns)
		return 0;
	for (i = 0; i < ld->nheads; i++)
		if (!ld->seen[i]) {
			fx_warn(ld->ctx, "%s: no field \"%s\"", ld->s->source,
			        ld->s->fields.v[i]);
			return FX_EXIT_USAGE;
		}
	return 0;
}

int dim_load_file(struct fx_ctx *ctx, struct dim_spec *s, const char *path,
                  struct dim_table *t)
{
	/* a dimension is all or nothing, whatever --on-error says */
	struct fx_ctx fctx = *ctx;
	struct dim_loader *ld;
	int gz = ends_with(path, ".gz"), rc;

	fctx.on_error = FX_ON_ERROR_FAIL;
	fctx.dlq = NULL;
	ld = dim_loader_new(&fctx, s, t);
	ld->csv = ends_with(path, ".csv") || ends_with(path, ".csv.gz");
	if (ld->csv)
		rc = load_csv(ld, path, gz);
	else
		rc = load_ndjson(ld, path, gz);
	if (!rc && !s->loaded && s->fields_fixed)
		rc = check_fields(ld);
	s->fields_fixed = 1;
	s->loaded = 1;
	dim_loader_free(ld);
	return rc;
}
