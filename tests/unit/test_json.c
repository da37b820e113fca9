/*
 * test_json.c - tests of the record scanner (common/json.h), written from
 * its contract only.
 *
 * Oracles: JSONTestSuite (y_/n_/i_ files), cJSON (libcjson) and a strict
 * reference validator (json_ref.h) where cJSON is known to be lax.
 *
 * Buffers: every input given to json_scan() and friends is copied into an
 * exactly-sized malloc'd buffer, so ASan reports any read past its end. The
 * contract lets the record reader guarantee padding after a record, but
 * json_scan() takes (p, n) and must never look at p[n] or beyond: it is
 * also called on bytes nobody padded (fields, DLQ lines, tests). A failure
 * here is a real bug in the scanner.
 *
 * Readings of the contract where it is not explicit (see also the report
 * printed by the "info" lines):
 *   - a path through a key that occurs twice uses the last occurrence only
 *     ({"a":{"b":1},"a":2} has no "a.b"; {"a":{"b":1},"a":{"c":2}} has
 *     "a.c" but no "a.b");
 *   - a UTF-8 BOM is not whitespace; the test accepts either verdict for it;
 *   - {"_fx":...} sets JSON_SCAN_HAS_FX as well as JSON_SCAN_CONTROL,
 *     since "_fx" starts with "_fx";
 *   - json_string_equals compares with the same unescaping as
 *     json_string_unescape (a lone surrogate equals U+FFFD);
 *   - "escaped" is only checked for strings.
 */
#include "buf.h"
#include "json.h"
#include "json_ref.h"
#include "unit.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORPUS "tests/corpora/JSONTestSuite/test_parsing"

static struct json_scanner sc; /* reused from record to record */

/* Limits failure output: the first few of each test are printed. */
static int nprinted;
#define FAIL_MAX 25
#define CHECKQ(e, ...)                                                         \
	do {                                                                   \
		if (!(e)) {                                                    \
			if (nprinted++ < FAIL_MAX) {                           \
				CHECK_MSG(e, __VA_ARGS__);                     \
			} else {                                               \
				unit_cur_failed = 1;                           \
			}                                                      \
		}                                                              \
	} while (0)

/* ------------------------------------------------------------ helpers */

/* A C-escaped rendering of n bytes (at most 400), in one of 4 buffers. */
static const char *esc(const char *p, size_t n)
{
	static char bufs[4][2048];
	static int which;
	char *o = bufs[which++ & 3], *s = o;
	size_t i, lim = n > 400 ? 400 : n;

	for (i = 0; i < lim; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\\' || c == '"')
			s += sprintf(s, "\\%c", c);
		else if (c == '\n')
			s += sprintf(s, "\\n");
		else if (c >= 0x20 && c < 0x7F)
			*s++ = (char)c;
		else
			s += sprintf(s, "\\x%02X", c);
	}
	if (lim < n)
		s += sprintf(s, "...(%zu bytes)", n);
	*s = 0;
	return o;
}

/* malloc(0) under ASan is a valid pointer to no bytes: any read traps */
static char *exact(const void *p, size_t n)
{
	char *b = malloc(n);

	if (!b && n == 0)
		b = malloc(1);

	if (!b)
		abort();
	if (n)
		memcpy(b, p, n);
	return b;
}

/* json_scan() on an exact copy; vals (if any) are not usable after. */
static int scan(const char *p, size_t n, int flags, struct json_error *e)
{
	char *b = exact(p, n);
	struct json_error e0;
	int r;

	if (!e)
		e = &e0;
	e->offset = (size_t)-1;
	e->reason = NULL;
	r = json_scan(&sc, NULL, b, n, NULL, e, flags);
	free(b);
	return r;
}

static int scans(const char *s, int flags)
{
	return scan(s, strlen(s), flags, NULL);
}

/*
 * cJSON's verdict on exactly n bytes: the whole input must be one value
 * and JSON whitespace. cJSON gets a padded copy (its own reads past n are
 * not what this test is about).
 */
static cJSON *cj_parse(const char *p, size_t n)
{
	char *b = malloc(n + 16);
	const char *end = NULL;
	cJSON *j;
	size_t i;

	if (!b)
		abort();
	memcpy(b, p, n);
	memset(b + n, 0, 16);
	j = cJSON_ParseWithLengthOpts(b, n, &end, 0);
	if (j) {
		i = (size_t)(end - b);
		while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' ||
		                 b[i] == '\r'))
			i++;
		if (i != n) {
			cJSON_Delete(j);
			j = NULL;
		}
	}
	free(b);
	return j;
}

static int cj_valid(const char *p, size_t n)
{
	cJSON *j = cj_parse(p, n);

	cJSON_Delete(j);
	return j != NULL;
}

static enum json_type cj_type(const cJSON *j)
{
	switch (j->type & 0xFF) {
	case cJSON_False:
		return JSON_FALSE;
	case cJSON_True:
		return JSON_TRUE;
	case cJSON_NULL:
		return JSON_NULL;
	case cJSON_Number:
		return JSON_NUMBER;
	case cJSON_String:
		return JSON_STRING;
	case cJSON_Array:
		return JSON_ARRAY;
	case cJSON_Object:
		return JSON_OBJECT;
	}
	return JSON_MISSING;
}

/*
 * Ordered structural equality (cJSON_Compare looks object members up by
 * name, so it calls two equal objects with duplicate keys different, and
 * two infinities different).
 */
static int tree_equal(const cJSON *a, const cJSON *b)
{
	const cJSON *x, *y;

	if (cj_type(a) != cj_type(b))
		return 0;
	switch (cj_type(a)) {
	case JSON_NUMBER:
		return a->valuedouble == b->valuedouble ||
		       (isnan(a->valuedouble) && isnan(b->valuedouble));
	case JSON_STRING:
		return strcmp(a->valuestring, b->valuestring) == 0;
	case JSON_OBJECT:
	case JSON_ARRAY:
		for (x = a->child, y = b->child; x && y;
		     x = x->next, y = y->next) {
			if (cj_type(a) == JSON_OBJECT &&
			    strcmp(x->string, y->string) != 0)
				return 0;
			if (!tree_equal(x, y))
				return 0;
		}
		return !x && !y;
	default:
		return 1;
	}
}

/* cJSON_Compare is usable: no duplicate keys, no infinite numbers. */
static int compare_safe(const cJSON *a)
{
	const cJSON *x, *y;

	if (cj_type(a) == JSON_NUMBER)
		return isfinite(a->valuedouble);
	for (x = a->child; x; x = x->next) {
		if (!compare_safe(x))
			return 0;
		if (cj_type(a) != JSON_OBJECT)
			continue;
		for (y = x->next; y; y = y->next)
			if (strcmp(x->string, y->string) == 0)
				return 0;
	}
	return 1;
}

/* A view's bytes re-parsed equal the cJSON item. */
static int view_equals(const struct json_value *v, const cJSON *item)
{
	cJSON *j;
	int ok;

	if (!v->p || v->type != cj_type(item))
		return 0;
	j = cj_parse(v->p, v->len);
	if (!j)
		return 0;
	ok = tree_equal(j, item);
	if (ok && compare_safe(item))
		ok = cJSON_Compare(j, item, 1);
	cJSON_Delete(j);
	return ok;
}

/* The type a value's first byte announces. */
static enum json_type byte_type(char c)
{
	switch (c) {
	case '{':
		return JSON_OBJECT;
	case '[':
		return JSON_ARRAY;
	case '"':
		return JSON_STRING;
	case 'n':
		return JSON_NULL;
	case 't':
		return JSON_TRUE;
	case 'f':
		return JSON_FALSE;
	default:
		return (c == '-' || (c >= '0' && c <= '9')) ? JSON_NUMBER
		                                            : JSON_MISSING;
	}
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * A view is well formed: inside [base, base+n), one valid JSON value with
 * no surrounding whitespace, of the type it claims.
 */
static int view_sane(const struct json_value *v, const char *base, size_t n)
{
	if (v->type == JSON_MISSING)
		return 1;
	if (!v->p || v->p < base || v->len == 0 || v->len > n ||
	    (size_t)(v->p - base) > n - v->len)
		return 0;
	if (is_ws(v->p[0]) || is_ws(v->p[v->len - 1]))
		return 0;
	if (byte_type(v->p[0]) != v->type)
		return 0;
	if (v->type == JSON_STRING &&
	    (v->escaped != 0) != (memchr(v->p, '\\', v->len) != NULL))
		return 0;
	return ref_json_valid(v->p, v->len, NULL) == 1;
}

/* ------------------------------------------------------------ PRNG */

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9E3779B97F4A7C15u);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

static unsigned rn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* ------------------------------------------------------------ generator */

static void put_utf8(struct fx_buf *o, uint32_t cp)
{
	if (cp < 0x80) {
		fx_buf_addc(o, (char)cp);
	} else if (cp < 0x800) {
		fx_buf_addc(o, (char)(0xC0 | cp >> 6));
		fx_buf_addc(o, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		fx_buf_addc(o, (char)(0xE0 | cp >> 12));
		fx_buf_addc(o, (char)(0x80 | (cp >> 6 & 0x3F)));
		fx_buf_addc(o, (char)(0x80 | (cp & 0x3F)));
	} else {
		fx_buf_addc(o, (char)(0xF0 | cp >> 18));
		fx_buf_addc(o, (char)(0x80 | (cp >> 12 & 0x3F)));
		fx_buf_addc(o, (char)(0x80 | (cp >> 6 & 0x3F)));
		fx_buf_addc(o, (char)(0x80 | (cp & 0x3F)));
	}
}

static void put_u4(struct fx_buf *o, unsigned u)
{
	static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
	int k;

	fx_buf_adds(o, "\\u");
	for (k = 12; k >= 0; k -= 4)
		fx_buf_addc(o, (rn(2) ? lo : up)[u >> k & 15]);
}

/* A code point as it may appear in a JSON string, escaped or not. */
static void put_cp_json(struct fx_buf *o, uint32_t cp, int may_escape)
{
	static const char shorts[] = "\"\\/\b\f\n\r\t",
	                  letters[] = "\"\\/bfnrt";
	const char *sh = cp && cp < 0x80 ? strchr(shorts, (int)cp) : NULL;
	int must = cp < 0x20 || cp == '"' || cp == '\\';

	if (!must && !(may_escape && rn(5) == 0)) {
		put_utf8(o, cp);
		return;
	}
	if (sh && rn(3)) {
		fx_buf_addc(o, '\\');
		fx_buf_addc(o, letters[sh - shorts]);
	} else if (cp >= 0x10000) {
		put_u4(o, 0xD800 + ((cp - 0x10000) >> 10));
		put_u4(o, 0xDC00 + ((cp - 0x10000) & 0x3FF));
	} else {
		put_u4(o, cp);
	}
}

static uint32_t gen_cp(int allow_nul)
{
	static const uint32_t special[] = {
	    '"',      '\\',    '/',    0x7F,   0x80,   0x7FF,  0x800,
	    0xFFFD,   0xFEFF,  0x2028, 0xD7FF, 0xE000, 0xFFFF, 0x10000,
	    0x10FFFF, 0x1F600, 0x20AC, 0xE9,   0x65E5, 0x672C,
	};
	uint32_t cp;

	switch (rn(12)) {
	case 0:
		cp = 1 + rn(0x1F);
		return (allow_nul && rn(8) == 0) ? 0 : cp;
	case 1:
		return 0x80 + rn(0x800 - 0x80);
	case 2:
		do
			cp = 0x800 + rn(0x10000 - 0x800);
		while (cp >= 0xD800 && cp <= 0xDFFF);
		return cp;
	case 3:
		return 0x10000 + rn(0x110000 - 0x10000);
	case 4:
		return special[rn(sizeof special / sizeof special[0])];
	default:
		return 0x20 + rn(0x5F);
	}
}

/* A string's contents (valid UTF-8) and its JSON form. */
static void gen_string(struct fx_buf *json, struct fx_buf *raw, int allow_nul)
{
	unsigned k, len = rn(4) == 0 ? rn(40) : rn(8);
	uint32_t cp;

	fx_buf_addc(json, '"');
	for (k = 0; k < len; k++) {
		cp = gen_cp(allow_nul);
		if (raw)
			put_utf8(raw, cp);
		put_cp_json(json, cp, 1);
	}
	fx_buf_addc(json, '"');
}

static const char *const key_pool[] = {
    "a",
    "b",
    "c",
    "ab",
    "id",
    "x.y",
    "a.b.c",
    "\xC3\xA9",
    "\xF0\x9F\x98\x80",
    "a b",
    "q\"q",
    "t\tt",
    "back\\slash",
    "",
    "_fx",
    "_fx_topic",
    "_fxz",
    "user",
    "\xE6\x97\xA5",
};

static void gen_key(struct fx_buf *o)
{
	const char *k;
	size_t i;

	fx_buf_addc(o, '"');
	if (rn(2)) {
		k = key_pool[rn(sizeof key_pool / sizeof key_pool[0])];
		/* keys starting with '_' are written plainly */
		for (i = 0; k[i];) {
			const unsigned char *u = (const unsigned char *)k + i;
			size_t l = ref_utf8_len(u, strlen(k + i));
			uint32_t cp = u[0];

			if (l == 2)
				cp = (u[0] & 0x1Fu) << 6 | (u[1] & 0x3Fu);
			else if (l == 3)
				cp = (u[0] & 0x0Fu) << 12 |
				     (u[1] & 0x3Fu) << 6 | (u[2] & 0x3Fu);
			else if (l == 4)
				cp = (u[0] & 0x07u) << 18 |
				     (u[1] & 0x3Fu) << 12 |
				     (u[2] & 0x3Fu) << 6 | (u[3] & 0x3Fu);
			put_cp_json(o, cp, k[0] != '_');
			i += l;
		}
	} else {
		static const char alpha[] = "abcxy.";
		unsigned n = 1 + rn(3), j;

		for (j = 0; j < n; j++) {
			if (rn(12) == 0)
				put_cp_json(o, gen_cp(0), 1);
			else
				put_cp_json(o, (uint32_t)alpha[rn(6)], 1);
		}
	}
	fx_buf_addc(o, '"');
}

static void gen_number(struct fx_buf *o)
{
	static const char *const special[] = {
	    "0",
	    "-0",
	    "0.0",
	    "-0.0e-0",
	    "1e400",
	    "-1E+400",
	    "1e-400",
	    "4.9e-324",
	    "1.7976931348623157e308",
	    "123456789012345678901234567890",
	    "-9223372036854775809",
	    "18446744073709551616",
	    "9007199254740993",
	    "0.1",
	    "1E2",
	    "1e+2",
	    "1e-2",
	};
	unsigned k, d;

	if (rn(6) == 0) {
		fx_buf_adds(o, special[rn(sizeof special / sizeof special[0])]);
		return;
	}
	if (rn(3) == 0)
		fx_buf_addc(o, '-');
	if (rn(5) == 0) {
		fx_buf_addc(o, '0');
	} else {
		fx_buf_addc(o, (char)('1' + rn(9)));
		d = rn(6) == 0 ? rn(25) : rn(5);
		for (k = 0; k < d; k++)
			fx_buf_addc(o, (char)('0' + rn(10)));
	}
	if (rn(3) == 0) {
		fx_buf_addc(o, '.');
		d = 1 + rn(10);
		for (k = 0; k < d; k++)
			fx_buf_addc(o, (char)('0' + rn(10)));
	}
	if (rn(4) == 0) {
		fx_buf_addc(o, rn(2) ? 'e' : 'E');
		if (rn(2))
			fx_buf_addc(o, rn(2) ? '+' : '-');
		d = 1 + rn(3);
		for (k = 0; k < d; k++)
			fx_buf_addc(o, (char)('0' + rn(10)));
	}
}

static void gen_ws(struct fx_buf *o)
{
	unsigned k, n;

	if (rn(4))
		return;
	n = 1 + rn(3);
	for (k = 0; k < n; k++)
		fx_buf_addc(o, " \t\n\r"[rn(4)]);
}

static void gen_value(struct fx_buf *o, int depth, int kind);

static void gen_container(struct fx_buf *o, int depth, int obj)
{
	unsigned k, n = rn(depth > 3 ? 3 : 7);

	fx_buf_addc(o, obj ? '{' : '[');
	gen_ws(o);
	for (k = 0; k < n; k++) {
		if (k) {
			fx_buf_addc(o, ',');
			gen_ws(o);
		}
		if (obj) {
			gen_key(o);
			gen_ws(o);
			fx_buf_addc(o, ':');
			gen_ws(o);
		}
		gen_value(o, depth + 1, -1);
		gen_ws(o);
	}
	fx_buf_addc(o, obj ? '}' : ']');
}

/* kind: -1 any, else the json_type wanted */
static void gen_value(struct fx_buf *o, int depth, int kind)
{
	if (kind < 0) {
		kind = rn(depth >= 6 ? 6 : 10);
		kind = kind >= 8 ? JSON_OBJECT : kind == 0 ? JSON_NUMBER : kind;
		if (kind == JSON_MISSING)
			kind = JSON_NUMBER;
	}
	switch (kind) {
	case JSON_NULL:
		fx_buf_adds(o, "null");
		break;
	case JSON_FALSE:
		fx_buf_adds(o, "false");
		break;
	case JSON_TRUE:
		fx_buf_adds(o, "true");
		break;
	case JSON_NUMBER:
		gen_number(o);
		break;
	case JSON_STRING:
		gen_string(o, NULL, 1);
		break;
	case JSON_ARRAY:
		gen_container(o, depth, 0);
		break;
	default:
		gen_container(o, depth, 1);
		break;
	}
}

/* A whole record: an object (or, if any, any value) with whitespace. */
static void gen_text(struct fx_buf *o, int any)
{
	fx_buf_reset(o);
	gen_ws(o);
	gen_value(o, 0, any && rn(3) == 0 ? -1 : JSON_OBJECT);
	gen_ws(o);
}

/* ------------------------------------------------------------ paths */

/* The last member named k (kl bytes) of object o. */
static cJSON *cj_get_last(const cJSON *o, const char *k, size_t kl)
{
	cJSON *c, *r = NULL;

	for (c = o->child; c; c = c->next)
		if (strlen(c->string) == kl && memcmp(c->string, k, kl) == 0)
			r = c;
	return r;
}

/* The oracle: path name (dots, "\." for a dot in a key) in root. */
static const cJSON *cj_path(const cJSON *root, const char *name)
{
	char seg[1024];
	size_t sl;
	const cJSON *cur = root;

	for (;;) {
		sl = 0;
		while (*name && *name != '.') {
			if (name[0] == '\\' && name[1] == '.')
				name++;
			seg[sl++] = *name++;
		}
		if (cj_type(cur) != JSON_OBJECT)
			return NULL;
		cur = cj_get_last(cur, seg, sl);
		if (!cur)
			return NULL;
		if (!*name)
			return cur;
		name++;
	}
}

/* Appends a key to a path, escaping dots; 0 if it cannot be named. */
static int path_append(char *path, size_t cap, const char *key)
{
	size_t l = strlen(path);

	if (!*key || strchr(key, '\\') || l + 2 * strlen(key) + 2 > cap)
		return 0;
	if (l)
		path[l++] = '.';
	for (; *key; key++) {
		if (*key == '.')
			path[l++] = '\\';
		path[l++] = *key;
	}
	path[l] = 0;
	return 1;
}

struct pathset {
	char *name[JSON_MAX_PATHS];
	size_t n;
};

static int npaths_found, npaths_missing;

static void ps_add(struct pathset *s, const char *name)
{
	size_t k;

	if (s->n >= JSON_MAX_PATHS)
		return;
	for (k = 0; k < s->n; k++)
		if (strcmp(s->name[k], name) == 0)
			return;
	s->name[s->n++] = strdup(name);
}

static void ps_free(struct pathset *s)
{
	while (s->n)
		free(s->name[--s->n]);
}

/* Collects existing, missing and through-non-object paths under o. */
static void collect_paths(struct pathset *s, const cJSON *o, const char *pre,
                          int depth)
{
	char path[512], extra[600];
	const cJSON *c;

	for (c = o->child; c; c = c->next) {
		if (rn(3) == 0)
			continue;
		snprintf(path, sizeof path, "%s", pre);
		if (!path_append(path, sizeof path, c->string))
			continue;
		ps_add(s, path);
		if (rn(4) == 0) {
			snprintf(extra, sizeof extra, "%s.nope", path);
			ps_add(s, extra);
		}
		if (cj_type(c) == JSON_OBJECT &&
		    depth + 1 < JSON_MAX_PATH_DEPTH - 1)
			collect_paths(s, c, path, depth + 1);
		else if (rn(2) && depth + 1 < JSON_MAX_PATH_DEPTH - 1) {
			/* through an array, string, number: missing */
			snprintf(extra, sizeof extra, "%s.%s", path,
			         rn(2) ? "0" : "a");
			ps_add(s, extra);
		}
	}
}

/*
 * Scans text (exact copy) for the paths and compares every value with
 * cJSON's last-wins lookup. Returns the json_scan() result.
 */
static int check_paths(const char *text, size_t n, const cJSON *root,
                       struct pathset *s, int flags)
{
	struct json_paths ps;
	struct json_value vals[JSON_MAX_PATHS];
	struct json_error e = {0, NULL};
	const char *err = NULL;
	const cJSON *want;
	char *b;
	size_t k;
	int r;

	memset(&ps, 0, sizeof ps);
	if (json_paths_init(&ps, s->name, s->n, &err) != 0) {
		CHECKQ(0, "json_paths_init failed: %s", err ? err : "?");
		return -2;
	}
	b = exact(text, n);
	memset(vals, 0xA5, sizeof vals);
	r = json_scan(&sc, &ps, b, n, vals, &e, flags);
	CHECKQ(r >= 0, "valid text rejected: %s: offset %zu: %s", esc(b, n),
	       e.offset, e.reason ? e.reason : "(null)");
	for (k = 0; r >= 0 && k < s->n; k++) {
		want = cj_path(root, s->name[k]);
		if (want)
			npaths_found++;
		else
			npaths_missing++;
		CHECKQ(view_sane(&vals[k], b, n),
		       "path %s: malformed view (type %d) in %s", s->name[k],
		       (int)vals[k].type, esc(b, n));
		if (!want) {
			CHECKQ(vals[k].type == JSON_MISSING,
			       "path %s: want missing, got type %d %s in %s",
			       s->name[k], (int)vals[k].type,
			       view_sane(&vals[k], b, n)
			           ? esc(vals[k].p, vals[k].len)
			           : "?",
			       esc(b, n));
			continue;
		}
		CHECKQ(view_sane(&vals[k], b, n) && view_equals(&vals[k], want),
		       "path %s: want type %d, got type %d \"%s\" in %s",
		       s->name[k], (int)cj_type(want), (int)vals[k].type,
		       vals[k].type && view_sane(&vals[k], b, n)
		           ? esc(vals[k].p, vals[k].len)
		           : "?",
		       esc(b, n));
	}
	free(b);
	json_paths_free(&ps);
	return r;
}

/* Scans one hand-written case with one path; returns the value's text. */
static const char *get1(const char *text, const char *path, int *type)
{
	static char out[256];
	struct json_paths ps;
	struct json_value v;
	struct json_error e;
	const char *err = NULL;
	char *names[1] = {(char *)path};
	char *b;
	int r;

	memset(&ps, 0, sizeof ps);
	*type = -1;
	if (json_paths_init(&ps, names, 1, &err) != 0)
		return "(paths_init failed)";
	b = exact(text, strlen(text));
	memset(&v, 0, sizeof v);
	r = json_scan(&sc, &ps, b, strlen(text), &v, &e, 0);
	if (r < 0) {
		snprintf(out, sizeof out, "(scan failed: %s)",
		         e.reason ? e.reason : "?");
	} else {
		*type = (int)v.type;
		if (v.type == JSON_MISSING)
			snprintf(out, sizeof out, "(missing)");
		else
			snprintf(out, sizeof out, "%.*s", (int)v.len, v.p);
	}
	free(b);
	json_paths_free(&ps);
	return out;
}

/* ------------------------------------------------------------ tests */

static char *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long sz;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(sz ? (size_t)sz : 1);
	if (!b || fread(b, 1, (size_t)sz, f) != (size_t)sz) {
		fclose(f);
		free(b);
		return NULL;
	}
	fclose(f);
	*n = (size_t)sz;
	return b;
}

static void test_jsontestsuite(void)
{
	DIR *d = opendir(CORPUS);
	struct dirent *de;
	struct json_error e;
	struct ref_info ri;
	char path[1024];
	int ny = 0, nn = 0, ni = 0, r, r0, ref;
	size_t n;
	char *b;

	nprinted = 0;
	CHECK_MSG(d != NULL, "cannot open %s (run from the repo root)", CORPUS);
	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *f = de->d_name;

		if (f[0] == '.' || f[1] != '_')
			continue;
		snprintf(path, sizeof path, "%s/%s", CORPUS, f);
		b = read_file(path, &n);
		CHECK_MSG(b != NULL, "cannot read %s", path);
		if (!b)
			continue;
		/* b is exactly n bytes */
		r = json_scan(&sc, NULL, b, n, NULL, &e, JSON_ANY_VALUE);
		ref = ref_json_valid(b, n, &ri);
		if (f[0] == 'y') {
			ny++;
			CHECKQ(r >= 0, "%s must be accepted: %s: %s at %zu", f,
			       esc(b, n), e.reason, e.offset);
			CHECKQ(ref == 1, "json_ref rejects %s", f);
			/* without JSON_ANY_VALUE: objects only */
			r0 = json_scan(&sc, NULL, b, n, NULL, &e, 0);
			if (ri.top == '{') {
				CHECKQ(r0 >= 0, "%s (an object) rejected: %s",
				       f, e.reason);
			} else {
				CHECKQ(r0 == JSON_SCAN_NOT_OBJECT && e.reason &&
				           strcmp(e.reason,
				                  "not a JSON object") == 0,
				       "%s (not an object) without "
				       "ANY_VALUE: got %d, reason \"%s\"",
				       f, r0, r0 < 0 ? e.reason : "");
			}
		} else if (f[0] == 'n') {
			nn++;
			CHECKQ(r == JSON_SCAN_INVALID,
			       "%s must be rejected: %s", f, esc(b, n));
			CHECKQ(r >= 0 ||
			           (e.reason && *e.reason && e.offset <= n),
			       "%s: bad error: offset %zu reason %s", f,
			       e.offset, e.reason ? e.reason : "(null)");
			CHECKQ(ref != 1, "json_ref accepts %s", f);
		} else if (f[0] == 'i') {
			ni++;
			/*
			 * Implementation-defined by RFC 8259, but json.h
			 * decides most of them: invalid UTF-8 (and UTF-16,
			 * which has NUL bytes) is rejected, lone surrogate
			 * escapes and huge numbers are accepted, nesting
			 * has no limit. A BOM may go either way.
			 */
			if (!strstr(f, "BOM_empty_object"))
				CHECKQ((r >= 0) == (ref == 1),
				       "%s: json.h says %s, got %s: %s", f,
				       ref == 1 ? "accept" : "reject",
				       r >= 0 ? "accepted" : "rejected",
				       esc(b, n));
			printf("info: %s: %s\n", f,
			       r >= 0 ? "accepted" : "rejected");
		}
		free(b);
	}
	closedir(d);
	printf("info: JSONTestSuite: %d y_, %d n_, %d i_ files\n", ny, nn, ni);
	CHECK(ny >= 90 && nn >= 180 && ni >= 30);
}

/* The reference validator itself, on a few cases of its own. */
static void test_ref_selfcheck(void)
{
	static const char *const good[] = {
	    "{}",    " [ ] ",    "0",      "-0.0e+1",   "\"\\uD800\"",
	    "1E400", "\"\x7F\"", "[[[]]]", "{\"\":{}}",
	};
	static const char *const bad[] = {
	    "",
	    " ",
	    "01",
	    "1.",
	    ".1",
	    "+1",
	    "[1,]",
	    "{,}",
	    "\"\t\"",
	    "\"\xC0\x80\"",
	    "nul",
	    "[] []",
	    "\xEF\xBB\xBF{}",
	    "\"\\x\"",
	    "\"\\u12\"",
	};
	size_t k;

	for (k = 0; k < sizeof good / sizeof good[0]; k++)
		CHECK_MSG(ref_json_valid(good[k], strlen(good[k]), NULL) == 1,
		          "%s", good[k]);
	for (k = 0; k < sizeof bad / sizeof bad[0]; k++)
		CHECK_MSG(ref_json_valid(bad[k], strlen(bad[k]), NULL) == 0,
		          "%s", esc(bad[k], strlen(bad[k])));
}

/* Generated valid texts: accepted by json_scan, cJSON and json_ref. */
static void test_generated_valid(void)
{
	struct fx_buf t = FX_BUF_INIT;
	struct json_error e;
	int k, r;

	nprinted = 0;
	rng = 1;
	for (k = 0; k < 5000; k++) {
		gen_text(&t, k & 1);
		CHECKQ(ref_json_valid(t.p, t.len, NULL) == 1,
		       "generator bug: %s", esc(t.p, t.len));
		CHECKQ(cj_valid(t.p, t.len), "cJSON rejects generated %s",
		       esc(t.p, t.len));
		r = scan(t.p, t.len, JSON_ANY_VALUE, &e);
		CHECKQ(r >= 0, "valid text rejected: %s: %s at offset %zu",
		       esc(t.p, t.len), e.reason ? e.reason : "(null)",
		       e.offset);
	}
	fx_buf_free(&t);
}

static const char *const bad_utf8[] = {
    "\xC0\x80",         /* overlong NUL */
    "\xC1\xBF",         /* overlong */
    "\xE0\x80\x80",     /* overlong 3-byte */
    "\xF0\x80\x80\x80", /* overlong 4-byte */
    "\xED\xA0\x80",     /* surrogate D800 */
    "\xED\xBF\xBF",     /* surrogate DFFF */
    "\xF4\x90\x80\x80", /* > U+10FFFF */
    "\xF5\x80\x80\x80", /* F5 */
    "\xF8\x88\x80\x80\x80",
    "\xFE",
    "\xFF",
    "\xE2\x82",     /* truncated */
    "\xF0\x9F\x98", /* truncated */
    "\xC3",         /* truncated */
    "\x80",         /* lone continuation */
    "\xBF",
    "\xC3\xA9\xA9", /* extra continuation */
};

/* One random mutation of t in place. */
static void mutate(struct fx_buf *t)
{
	static const char interesting[] = "\"\\,:[]{}0-.eE+ntf\x01\x1F\x7F";
	size_t pos = t->len ? rn((unsigned)t->len) : 0, k, m = 0;
	const char *ins = NULL;
	char one[2] = {0, 0};

	switch (rn(8)) {
	case 0: /* flip a bit */
		if (t->len)
			t->p[pos] ^= (char)(1u << rn(8));
		return;
	case 1: /* a random byte */
		if (t->len)
			t->p[pos] = (char)rn(256);
		return;
	case 2: /* delete */
		if (t->len) {
			memmove(t->p + pos, t->p + pos + 1, t->len - pos - 1);
			t->len--;
		}
		return;
	case 3: /* truncate */
		t->len = pos;
		return;
	case 4: /* an interesting ASCII byte or a control char */
		one[0] = rn(3) ? interesting[rn(sizeof interesting - 1)]
		               : (char)rn(0x20);
		ins = one;
		m = 1;
		break;
	default: /* invalid UTF-8, preferably right inside a string */
		for (k = 0; k < 8; k++) {
			size_t q = t->len ? rn((unsigned)t->len) : 0;

			if (q < t->len && t->p[q] == '"') {
				pos = q + 1;
				break;
			}
		}
		ins = bad_utf8[rn(sizeof bad_utf8 / sizeof bad_utf8[0])];
		m = strlen(ins);
		if (m == 0)
			m = 1;
		break;
	}
	fx_buf_grow(t, m);
	if (pos > t->len)
		pos = t->len;
	memmove(t->p + pos + m, t->p + pos, t->len - pos);
	memcpy(t->p + pos, ins, m);
	t->len += m;
}

/* json_object_next over b (a valid object) against cJSON's members. */
static void check_members(const char *b, size_t n, const cJSON *root,
                          struct fx_buf *key)
{
	struct json_member m;
	const cJSON *c;
	size_t pos = 0;
	int i;

	for (c = root->child, i = 0; c; c = c->next, i++) {
		memset(&m, 0, sizeof m);
		if (!json_object_next(b, n, &pos, &m)) {
			CHECKQ(0, "member %d missing in %s", i, esc(b, n));
			return;
		}
		fx_buf_reset(key);
		CHECKQ(m.key.type == JSON_STRING && view_sane(&m.key, b, n),
		       "member %d: bad key view in %s", i, esc(b, n));
		if (m.key.type == JSON_STRING && view_sane(&m.key, b, n))
			json_string_unescape(&m.key, key);
		CHECKQ(key->len == strlen(c->string) &&
		           memcmp(key->p, c->string, key->len) == 0,
		       "member %d: key %s, want \"%s\" in %s", i,
		       view_sane(&m.key, b, n) ? esc(m.key.p, m.key.len) : "?",
		       esc(c->string, strlen(c->string)), esc(b, n));
		CHECKQ(view_sane(&m.val, b, n) && view_equals(&m.val, c),
		       "member %d: bad value in %s", i, esc(b, n));
		CHECKQ(m.p == m.key.p && m.val.p &&
		           m.p + m.len == m.val.p + m.val.len,
		       "member %d: bad member span in %s", i, esc(b, n));
	}
	CHECKQ(!json_object_next(b, n, &pos, &m), "extra member after %d in %s",
	       i, esc(b, n));
}

/* Why cJSON disagreed with the strict oracle: counters for the report. */
static int lax_count[6], strict_count[4];

static int has_raw_ctl_or_bad_utf8(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 && !is_ws(p[i]))
			return 1;
	return !ref_utf8_valid(p, n);
}

/*
 * Mutated texts: json_scan agrees with json_ref; cJSON is checked against
 * json_ref with its known quirks excused and counted.
 */
static void test_mutations(void)
{
	struct fx_buf t = FX_BUF_INIT, key = FX_BUF_INIT;
	struct json_error e;
	struct ref_info ri;
	int k, j, r, ref, cj, nvalid = 0, ninvalid = 0, nmembers = 0;

	nprinted = 0;
	fx_buf_grow(&key, 1);
	rng = 2;
	for (k = 0; k < 50000; k++) {
		gen_text(&t, k & 1);
		for (j = 1 + rn(3); j > 0; j--)
			mutate(&t);
		ref = ref_json_valid(t.p, t.len, &ri);
		if (ref < 0)
			continue;
		r = scan(t.p, t.len, JSON_ANY_VALUE, &e);
		CHECKQ((r >= 0) == (ref == 1),
		       "want %s, json_scan %s: %s (scan: %s at %zu; ref "
		       "error at %zu)",
		       ref ? "valid" : "invalid",
		       r >= 0 ? "accepts" : "rejects", esc(t.p, t.len),
		       r < 0 && e.reason ? e.reason : "-", e.offset, ri.err);
		if (r < 0)
			CHECKQ(e.reason && *e.reason && e.offset <= t.len,
			       "bad error for %s: offset %zu", esc(t.p, t.len),
			       e.offset);
		if (ref == 1)
			nvalid++;
		else
			ninvalid++;
		/* flags must not depend on JSON_ANY_VALUE for objects */
		if (ref == 1 && ri.top == '{')
			CHECKQ(scan(t.p, t.len, 0, NULL) == r,
			       "flags differ without ANY_VALUE: %s",
			       esc(t.p, t.len));
		cj = cj_valid(t.p, t.len);
		if (cj && ref == 1 && r >= 0 && ri.top == '{') {
			cJSON *root = cj_parse(t.p, t.len);
			char *b = exact(t.p, t.len);

			check_members(b, t.len, root, &key);
			nmembers++;
			free(b);
			cJSON_Delete(root);
		}
		if (cj && ref != 1) {
			/* cJSON is lax: say where */
			if (memchr(t.p, 0, t.len))
				lax_count[1]++;
			else if (has_raw_ctl_or_bad_utf8(t.p, t.len))
				lax_count[0]++; /* no UTF-8/control check */
			else
				lax_count[2]++; /* numbers: 01, 1., -01 */
		} else if (!cj && ref == 1) {
			if (ri.lone_surrogate)
				strict_count[0]++;
			else if (ri.max_num_len > 63)
				strict_count[1]++;
			else
				CHECKQ(0, "cJSON rejects, json_ref accepts: %s",
				       esc(t.p, t.len));
		}
	}
	printf("info: mutations: %d valid, %d invalid; cJSON lax on "
	       "%d (UTF-8/control), %d (NUL), %d (other: numbers); strict on "
	       "%d (lone surrogates), %d (long numbers)\n",
	       nvalid, ninvalid, lax_count[0], lax_count[1], lax_count[2],
	       strict_count[0], strict_count[1]);
	printf("info: mutations: members of %d valid mutated objects checked "
	       "against cJSON\n",
	       nmembers);
	fx_buf_free(&t);
	fx_buf_free(&key);
}

/* Hand-picked invalid and valid texts, including cJSON's lax spots. */
static void test_strictness(void)
{
	static const char *const bad[] = {
	    "{\"a\":01}",
	    "{\"a\":1.}",
	    "{\"a\":-01}",
	    "{\"a\":.5}",
	    "{\"a\":+1}",
	    "{\"a\":1e}",
	    "{\"a\":1e+}",
	    "{\"a\":-}",
	    "{\"a\":0x10}",
	    "{\"a\":NaN}",
	    "{\"a\":Infinity}",
	    "{\"a\":1.e5}",
	    "{\"a\":\"\x01\"}",
	    "{\"a\":\"\x1F\"}",
	    "{\"a\":\"\t\"}",
	    "\x01{}",
	    "{}\x01",
	    "{\"a\":1,}",
	    "{\"a\" 1}",
	    "{\"a\":1 \"b\":2}",
	    "{'a':1}",
	    "{a:1}",
	    "{\"a\":tru}",
	    "{\"a\":nulll}",
	    "{\"a\":\"\\x\"}",
	    "{\"a\":\"\\u00G0\"}",
	    "{\"a\":\"\\u00\"}",
	    "{\"a\":[1,]}",
	    "{\"a\":[,1]}",
	    "{\"a\":}",
	    "{} {}",
	    "{}}",
	    "{",
	    "}",
	    "",
	    " ",
	    "{\"a\":1}//",
	    "{/**/}",
	    "{\"a\"}",
	    "{\"a\":\"\\\"}",
	    "\xEF\xBB\xBF{}x",
	    "{\"\xC3\":1}",
	    "{\"a\":[}",
	    "{\"a\":{]}",
	    "[1 2]",
	    "{\"a\":1}\xC2\xA0",
	    "{\"a\":\"\\U0041\"}",
	    "{\"a\":True}",
	    "{\"a\":\"\xED\xA0\x80\"}",
	};
	static const char *const good[] = {
	    "{}",
	    " \t\r\n{ } \n",
	    "{\"a\":0,\"b\":-0,\"c\":0.5e-10,\"d\":1E+2,\"e\":-1e400}",
	    "{\"a\":\"\\u0000\"}",
	    "{\"a\":\"\\uD800\"}",
	    "{\"a\":\"\\uDC00\\uD800\"}",
	    "{\"a\":\"\x7F\"}",
	    "{\"\":\"\"}",
	    "{\"a\":[[],{},[{}]]}",
	    "{\"a\":\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"}",
	    "{\"a\":\"\xF4\x8F\xBF\xBF\xEF\xBF\xBF\xE0\xA0\x80\xC2\x80\"}",
	    ("{\"a\":123456789012345678901234567890123456789012345678901"
	     "234567890123456789}"),
	};
	size_t k, n;

	for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		n = strlen(bad[k]);
		CHECK_MSG(ref_json_valid(bad[k], n, NULL) == 0, "ref: %s",
		          esc(bad[k], n));
		CHECK_MSG(scan(bad[k], n, JSON_ANY_VALUE, NULL) < 0,
		          "accepted invalid %s", esc(bad[k], n));
	}
	/* a NUL byte anywhere */
	CHECK(scan("{}\0", 3, JSON_ANY_VALUE, NULL) < 0);
	CHECK(scan("{\"a\":\"\0\"}", 9, JSON_ANY_VALUE, NULL) < 0);
	CHECK(scan("\0{}", 3, JSON_ANY_VALUE, NULL) < 0);
	CHECK(scan("{\"a\0\":1}", 8, JSON_ANY_VALUE, NULL) < 0);
	for (k = 0; k < sizeof good / sizeof good[0]; k++) {
		n = strlen(good[k]);
		CHECK_MSG(ref_json_valid(good[k], n, NULL) == 1, "ref: %s",
		          esc(good[k], n));
		CHECK_MSG(scan(good[k], n, 0, NULL) >= 0, "rejected valid %s",
		          esc(good[k], n));
	}
	/* Every bad UTF-8 sequence, in a key and in a value. */
	for (k = 0; k < sizeof bad_utf8 / sizeof bad_utf8[0]; k++) {
		char b[64];

		n = (size_t)snprintf(b, sizeof b, "{\"a\":\"x%sy\"}",
		                     bad_utf8[k]);
		CHECK_MSG(scan(b, n, 0, NULL) < 0, "accepted %s", esc(b, n));
		n = (size_t)snprintf(b, sizeof b, "{\"%s\":1}", bad_utf8[k]);
		CHECK_MSG(scan(b, n, 0, NULL) < 0, "accepted %s", esc(b, n));
		/* at the very end of the buffer, unterminated */
		n = (size_t)snprintf(b, sizeof b, "{\"a\":\"%s", bad_utf8[k]);
		CHECK_MSG(scan(b, n, 0, NULL) < 0, "accepted %s", esc(b, n));
	}
}

/* Every prefix of valid texts is rejected (and read safely). */
static void test_prefixes(void)
{
	static const char *const texts[] = {
	    "{\"a\":\"\\uD83D\\uDE00\",\"b\":[1,2.5e-3,true,false,null],"
	    "\"c\":{\"d\":\"\xF0\x9F\x98\x80\xC3\xA9\"}}",
	    "{\"0123456789abcdef0123456789\":\"0123456789abcdef\\\\"
	    "0123456789abcdef0123456789abcdef\\\"\"}",
	    "{\"a\":-12.34E+56}",
	};
	size_t k, n, i;

	for (k = 0; k < sizeof texts / sizeof texts[0]; k++) {
		n = strlen(texts[k]);
		CHECK(scan(texts[k], n, 0, NULL) >= 0);
		for (i = 0; i < n; i++)
			CHECK_MSG(scan(texts[k], i, JSON_ANY_VALUE, NULL) < 0,
			          "prefix accepted: %s", esc(texts[k], i));
	}
	/* numbers may end at the end of the buffer */
	CHECK(scans("-12.34E+56", JSON_ANY_VALUE) >= 0);
	CHECK(scans("0", JSON_ANY_VALUE) >= 0);
	CHECK(scans("true", JSON_ANY_VALUE) >= 0);
	CHECK(scans("tru", JSON_ANY_VALUE) < 0);
	CHECK(scans("\"\"", JSON_ANY_VALUE) >= 0);
	CHECK(scans("\"", JSON_ANY_VALUE) < 0);
	CHECK(scans("\"\\", JSON_ANY_VALUE) < 0);
	CHECK(scans("\"\\u00", JSON_ANY_VALUE) < 0);
	CHECK(scans("\"\\uD800\\u", JSON_ANY_VALUE) < 0);
}

/* Random objects and paths against cJSON's last-wins lookup. */
static int check_object_get(const char *text, size_t n, const char *key);

static void test_extraction_random(void)
{
	struct fx_buf t = FX_BUF_INIT;
	struct pathset s = {{0}, 0};
	cJSON *root;
	int k, r, want;
	const cJSON *c;

	nprinted = 0;
	rng = 3;
	for (k = 0; k < 4000; k++) {
		gen_text(&t, 0);
		root = cj_parse(t.p, t.len);
		if (!root)
			continue; /* reported by test_generated_valid */
		collect_paths(&s, root, "", 0);
		ps_add(&s, "zz_missing");
		if (root->child && root->child->string[0] &&
		    !strchr(root->child->string, '\\')) {
			char path[600];

			path[0] = 0;
			path_append(path, sizeof path, root->child->string);
			ps_add(&s, path);
		}
		r = check_paths(t.p, t.len, root, &s, 0);
		if (root->type == cJSON_Object)
			for (c = root->child; c; c = c->next)
				check_object_get(t.p, t.len, c->string);
		if (r >= 0) {
			/* flags, from cJSON's view of the top-level keys */
			want = 0;
			if (root->child &&
			    strcmp(root->child->string, "_fx") == 0)
				want |= JSON_SCAN_CONTROL;
			for (c = root->child; c; c = c->next)
				if (strncmp(c->string, "_fx", 3) == 0)
					want |= JSON_SCAN_HAS_FX;
			CHECKQ(r == want, "flags: want %d, got %d: %s", want, r,
			       esc(t.p, t.len));
		}
		ps_free(&s);
		cJSON_Delete(root);
	}
	printf("info: extraction: %d paths present, %d missing, checked "
	       "against cJSON\n",
	       npaths_found, npaths_missing);
	fx_buf_free(&t);
}

/*
 * json_object_get() for key (a top-level key as it is unescaped) against
 * json_scan() with the path of that key, on an exact copy (ASan sees a
 * read past the end). 0 if the key cannot be written as a path.
 */
static int check_object_get(const char *text, size_t n, const char *key)
{
	char path[600];
	char *names[1] = {path};
	struct json_paths ps;
	struct json_value want, got;
	struct json_error e;
	const char *err = NULL;
	char *b;
	int r;

	path[0] = 0;
	if (!path_append(path, sizeof path, key))
		return 0;
	memset(&ps, 0, sizeof ps);
	if (json_paths_init(&ps, names, 1, &err) != 0 || ps.v[0].nseg != 1) {
		json_paths_free(&ps);
		return 0;
	}
	b = exact(text, n);
	memset(&want, 0, sizeof want);
	r = json_scan(&sc, &ps, b, n, &want, &e, 0);
	CHECKQ(r >= 0, "object_get: invalid test text %s", esc(b, n));
	if (r < 0) {
		json_paths_free(&ps);
		free(b);
		return 0;
	}
	memset(&got, 0xA5, sizeof got);
	r = json_object_get(b, n, ps.v[0].seg[0], ps.v[0].seglen[0], &got);
	CHECKQ(r == (want.type != JSON_MISSING) && got.type == want.type,
	       "object_get %s: type %d (returned %d), json_scan %d in %s",
	       esc(key, strlen(key)), (int)got.type, r, (int)want.type,
	       esc(b, n));
	if (want.type != JSON_MISSING && got.type == want.type)
		CHECKQ(got.p == want.p && got.len == want.len &&
		           got.escaped == want.escaped,
		       "object_get %s: value %s, json_scan %s in %s",
		       esc(key, strlen(key)), esc(got.p, got.len),
		       esc(want.p, want.len), esc(b, n));
	json_paths_free(&ps);
	free(b);
	return 1;
}

/* A random value for flat_record(): mostly flat, now and then not. */
static void flat_value(struct fx_buf *t, const char *const *keys, size_t nkeys)
{
	static const char *const scalars[] = {
	    "0",     "-12.5e3", "123456",     "true",
	    "false", "null",    "\"\"",       "\"x y\"",
	    "{}",    "[]",      "[1,\"a\"]",  "{\"a\":1}",
	    "\"{\"", "\"[\"",   "\"a\\\"b\"", "\"\\u0061\""};
	char s[80];

	switch (rn(4)) {
	case 0: /* a string that reads like one of the keys */
		snprintf(s, sizeof s, "\"%s\"", keys[rn((unsigned)nkeys)]);
		if (!strchr(s, '\\'))
			fx_buf_add(t, s, strlen(s));
		else
			fx_buf_add(t, "\"b\\\\c\"", 6);
		break;
	default: {
		const char *v = scalars[rn(rn(8) ? 8 : 16)];

		fx_buf_add(t, v, strlen(v));
	}
	}
}

static void blanks(struct fx_buf *t)
{
	static const char ws[] = " \t\r\n";

	while (rn(6) == 0)
		fx_buf_add(t, &ws[rn(4)], 1);
}

/*
 * Records with few keys, some repeated, whitespace, string values equal
 * to a key, long records and short ones: json_object_get()'s flat path
 * (and its fallback) against json_scan(), every key and a missing one.
 */
static void test_object_get(void)
{
	static const char *const keys[] = {
	    "a",
	    "ab",
	    "user_id",
	    "k",
	    "x.y",
	    "b\\c",
	    "\xC3\xA9",
	    "a_key_of_sixty_two_bytes_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "a_key_of_sixty_three_bytes_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "a_key_of_sixty_four_bytes_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	static const char *const cases[] = {
	    "{\"a\":1}",
	    "{\"a\":1,\"a\":2}",
	    "{\"b\":\"a\",\"a\":3}",
	    "{\"a\" : \"a\" , \"b\":\"a\"}",
	    "{\"b\":\"a\"}",
	    "{}",
	    " { \"a\" :true } ",
	    "{\"a\":\"{\",\"a\":5}",
	    "{\"ab\":1,\"a\":2}",
	    "{\"\\u0061\":1,\"a\":2}",
	    "{\"a\":2,\"\\u0061\":1}",
	    "{\"c\":\"\\\"a\\\":9\",\"a\":4}",
	    "{\"a\":[\"a\",{\"a\":1}]}",
	};
	const size_t nkeys = sizeof keys / sizeof keys[0];
	struct fx_buf t = FX_BUF_INIT;
	size_t k, i, m;
	int checked = 0;

	static const struct {
		const char *text, *key;
	} odd[] = {
	    /* names that would match across strings or at closing quotes */
	    {"{\"x\":1,\"y\":2}", "x\":1,\"y"}, {"{\"a\":\"x\",\":\":1}", ","},
	    {"{\"a\":\"x\" ,\" \":1}", " ,"},   {"{\"a\":\"x\"}", "x\"}"},
	    {"{\"a\":\"\",\"\":1}", ""},        {"{\"\":1}", ""},
	};

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		checked += check_object_get(cases[k], strlen(cases[k]), "a");
		checked += check_object_get(cases[k], strlen(cases[k]), "b");
	}
	for (k = 0; k < sizeof odd / sizeof odd[0]; k++) {
		int c = check_object_get(odd[k].text, strlen(odd[k].text),
		                         odd[k].key);

		CHECK_MSG(c == 1 || !odd[k].key[0], "%s: not checked",
		          odd[k].text);
		checked += c;
	}
	rng = 11;
	for (k = 0; k < 30000; k++) {
		fx_buf_reset(&t);
		blanks(&t);
		fx_buf_add(&t, "{", 1);
		m = rn(5) ? rn(14) : rn(40);
		for (i = 0; i < m; i++) {
			const char *key = keys[rn((unsigned)nkeys)];
			char q[140];

			if (i)
				fx_buf_add(&t, ",", 1);
			blanks(&t);
			if (strcmp(key, "b\\c") == 0)
				snprintf(q, sizeof q, "\"b\\\\c\"");
			else
				snprintf(q, sizeof q, "\"%s\"", key);
			fx_buf_add(&t, q, strlen(q));
			blanks(&t);
			fx_buf_add(&t, ":", 1);
			blanks(&t);
			flat_value(&t, keys, nkeys);
			blanks(&t);
		}
		fx_buf_add(&t, "}", 1);
		blanks(&t);
		for (i = 0; i < nkeys; i++)
			checked += check_object_get(t.p, t.len, keys[i]);
		checked += check_object_get(t.p, t.len, "zz");
	}
	printf("info: object_get: %d lookups against json_scan\n", checked);
	fx_buf_free(&t);
}

static void test_extraction_cases(void)
{
	static const struct {
		const char *text, *path, *want;
	} cases[] = {
	    {"{\"a\":1}", "a", "1"},
	    {"{\"a\":1}", "b", NULL},
	    {"{\"a\":1,\"a\":2}", "a", "2"},
	    {"{\"a\":{\"b\":1},\"a\":{\"c\":2}}", "a.c", "2"},
	    {"{\"a\":{\"b\":1},\"a\":{\"c\":2}}", "a.b", NULL},
	    {"{\"a\":{\"b\":1},\"a\":2}", "a.b", NULL},
	    {"{\"a\":{\"b\":1},\"a\":2}", "a", "2"},
	    {"{\"a\":2,\"a\":{\"b\":1}}", "a.b", "1"},
	    {"{\"a\":{\"b\":1,\"b\":[3]}}", "a.b", "[3]"},
	    {"{\"a\\u0062\":7}", "ab", "7"},
	    {"{\"\\u0061b\":7,\"ab\":8}", "ab", "8"},
	    {"{\"ab\":8,\"\\u0061\\u0062\":7}", "ab", "7"},
	    {"{\"a\\/b\":1}", "a/b", "1"},
	    {"{\"\\u00e9\":1}", "\xC3\xA9", "1"},
	    {"{\"\\uD83D\\uDE00\":1}", "\xF0\x9F\x98\x80", "1"},
	    {"{\"x.y\":1,\"x\":{\"y\":2}}", "x\\.y", "1"},
	    {"{\"x.y\":1,\"x\":{\"y\":2}}", "x.y", "2"},
	    {"{\"x\":{\"y.z\":{\"w\":\"q\"}}}", "x.y\\.z.w", "\"q\""},
	    {"{\"a\":[{\"b\":1}]}", "a.b", NULL},
	    {"{\"a\":\"{\\\"b\\\":1}\"}", "a.b", NULL},
	    {"{\"a\":null}", "a.b", NULL},
	    {"{\"a\":null}", "a", "null"},
	    {"{\"a\" : \t[ 1 , 2 ] \n}", "a", "[ 1 , 2 ]"},
	    {"{\"a\":{ } }", "a", "{ }"},
	    {"{\"a\":\"x\\\"y\"}", "a", "\"x\\\"y\""},
	    {"{\"b\":{\"a\":1},\"a\":2}", "a", "2"},
	    {"{\"b\":{\"a\":1}}", "a", NULL},
	    {"{\"a\":{\"a\":{\"a\":3}}}", "a.a.a", "3"},
	    {"{\"ab\":1}", "a", NULL},
	    {"{\"a\":1}", "ab", NULL},
	    {"{\"a\\\\b\":1}", "a.b", NULL},
	    {"{\"a\":-0.5e+7}", "a", "-0.5e+7"},
	    {"{\"a\":true,\"b\":false}", "b", "false"},
	};
	size_t k;
	int type;
	const char *got;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		got = get1(cases[k].text, cases[k].path, &type);
		if (cases[k].want)
			CHECK_MSG(strcmp(got, cases[k].want) == 0,
			          "%s in %s: want %s, got %s", cases[k].path,
			          cases[k].text, cases[k].want, got);
		else
			CHECK_MSG(type == JSON_MISSING,
			          "%s in %s: want missing, got %s",
			          cases[k].path, cases[k].text, got);
	}
}

static void test_paths_api(void)
{
	struct json_paths ps;
	const char *err;
	char *names[JSON_MAX_PATHS + 1], buf[JSON_MAX_PATHS + 1][16];
	char deep[128];
	int k;

	memset(&ps, 0, sizeof ps);
	err = NULL;
	CHECK(json_paths_add(&ps, "a", &err) == 0);
	CHECK(json_paths_add(&ps, "a.b\\.c", &err) == 1);
	CHECK(ps.n == 2);
	CHECK(ps.v[1].nseg == 2);
	CHECK(ps.v[1].seglen[1] == 3 && memcmp(ps.v[1].seg[1], "b.c", 3) == 0);
	CHECK_STR(ps.v[1].name, "a.b\\.c");
	/* found by its name as given, not added again */
	CHECK(json_paths_find_or_add(&ps, "a.b\\.c", &err) == 1);
	CHECK(json_paths_find_or_add(&ps, "a", &err) == 0 && ps.n == 2);
	CHECK(json_paths_find_or_add(&ps, "b", &err) == 2 && ps.n == 3);
	CHECK(json_paths_find_or_add(&ps, "b", &err) == 2 && ps.n == 3);
	err = NULL;
	CHECK(json_paths_add(&ps, "", &err) == -1 && err && *err);
	err = NULL;
	CHECK(json_paths_add(&ps, "a..b", &err) == -1 && err && *err);
	err = NULL;
	CHECK(json_paths_add(&ps, ".a", &err) == -1 && err && *err);
	err = NULL;
	CHECK(json_paths_add(&ps, "a.", &err) == -1 && err && *err);
	deep[0] = 0;
	for (k = 0; k < JSON_MAX_PATH_DEPTH; k++)
		strcat(deep, k ? ".x" : "x");
	CHECK(json_paths_add(&ps, deep, &err) >= 0);
	strcat(deep, ".x");
	err = NULL;
	CHECK(json_paths_add(&ps, deep, &err) == -1 && err && *err);
	json_paths_free(&ps);

	for (k = 0; k <= JSON_MAX_PATHS; k++) {
		snprintf(buf[k], sizeof buf[k], "k%d", k);
		names[k] = buf[k];
	}
	memset(&ps, 0, sizeof ps);
	CHECK(json_paths_init(&ps, names, JSON_MAX_PATHS, &err) == 0);
	CHECK(ps.n == JSON_MAX_PATHS);
	json_paths_free(&ps);
	memset(&ps, 0, sizeof ps);
	err = NULL;
	CHECK(json_paths_init(&ps, names, JSON_MAX_PATHS + 1, &err) == -1 &&
	      err && *err);
	json_paths_free(&ps);

	/* the same path twice and a path and its prefix both get values */
	{
		char *nm[3] = {"a", "a.b", "a"};
		struct json_value v[3];
		struct json_error e;
		const char *t = "{\"a\":{\"b\":5}}";
		char *b = exact(t, strlen(t));

		memset(&ps, 0, sizeof ps);
		CHECK(json_paths_init(&ps, nm, 3, &err) == 0);
		CHECK(json_scan(&sc, &ps, b, strlen(t), v, &e, 0) >= 0);
		CHECK(v[0].type == JSON_OBJECT && v[0].len == 7);
		CHECK(v[1].type == JSON_NUMBER && v[1].len == 1 &&
		      v[1].p[0] == '5');
		CHECK(v[2].type == JSON_OBJECT && v[2].len == 7);
		json_paths_free(&ps);
		free(b);
	}
	CHECK_STR(json_type_name(JSON_MISSING), "missing");
	CHECK_STR(json_type_name(JSON_NULL), "null");
	CHECK_STR(json_type_name(JSON_TRUE), "boolean");
	CHECK_STR(json_type_name(JSON_FALSE), "boolean");
	CHECK_STR(json_type_name(JSON_NUMBER), "number");
	CHECK_STR(json_type_name(JSON_STRING), "string");
	CHECK_STR(json_type_name(JSON_OBJECT), "object");
	CHECK_STR(json_type_name(JSON_ARRAY), "array");
}

/* json_object_next against cJSON's list of members, in order. */
static void test_object_next(void)
{
	struct fx_buf t = FX_BUF_INIT, key = FX_BUF_INIT;
	struct json_member m;
	cJSON *root;
	size_t pos;
	int k;
	char *b;

	nprinted = 0;
	fx_buf_grow(&key, 1); /* never NULL, for memcmp */
	rng = 4;
	for (k = 0; k < 3000; k++) {
		gen_text(&t, 0);
		root = cj_parse(t.p, t.len);
		if (!root)
			continue;
		b = exact(t.p, t.len);
		if (scan(t.p, t.len, 0, NULL) < 0) {
			free(b);
			cJSON_Delete(root);
			continue; /* reported elsewhere */
		}
		check_members(b, t.len, root, &key);
		free(b);
		cJSON_Delete(root);
	}
	/* a few fixed ones */
	{
		const char *s = " { \"a\" : 1 , \"b\":\"x\" } \n";
		b = exact(s, strlen(s));
		pos = 0;
		CHECK(json_object_next(b, strlen(s), &pos, &m) == 1);
		CHECK(m.key.len == 3 && memcmp(m.key.p, "\"a\"", 3) == 0);
		CHECK(m.val.type == JSON_NUMBER && m.val.len == 1 &&
		      m.val.p[0] == '1');
		CHECK(m.len == 7 && memcmp(m.p, "\"a\" : 1", 7) == 0);
		CHECK(json_object_next(b, strlen(s), &pos, &m) == 1);
		CHECK(m.val.type == JSON_STRING && m.val.len == 3);
		CHECK(m.len == 7 && memcmp(m.p, "\"b\":\"x\"", 7) == 0);
		CHECK(json_object_next(b, strlen(s), &pos, &m) == 0);
		free(b);
		b = exact("{}", 2);
		pos = 0;
		CHECK(json_object_next(b, 2, &pos, &m) == 0);
		free(b);
	}
	fx_buf_free(&t);
	fx_buf_free(&key);
}

/* Unescapes s (a JSON string with quotes) through a scanned record. */
static int unescape_via_scan(const char *jstr, struct fx_buf *out,
                             struct json_value *vcopy, char **keep)
{
	struct fx_buf rec = FX_BUF_INIT;
	struct json_paths ps;
	struct json_error e;
	const char *err;
	char *names[1] = {"s"};
	int r;

	fx_buf_adds(&rec, "{\"s\":");
	fx_buf_adds(&rec, jstr);
	fx_buf_addc(&rec, '}');
	*keep = exact(rec.p, rec.len);
	memset(&ps, 0, sizeof ps);
	json_paths_init(&ps, names, 1, &err);
	r = json_scan(&sc, &ps, *keep, rec.len, vcopy, &e, 0);
	json_paths_free(&ps);
	fx_buf_free(&rec);
	if (r < 0 || vcopy->type != JSON_STRING)
		return -1;
	fx_buf_reset(out);
	json_string_unescape(vcopy, out);
	return 0;
}

static void test_unescape(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"\"\"", ""},
	    {"\"abc\"", "abc"},
	    {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t"},
	    {"\"\\u0041\\u00e9\\u20AC\"", "A\xC3\xA9\xE2\x82\xAC"},
	    {"\"\\uD83D\\uDE00\"", "\xF0\x9F\x98\x80"},
	    {"\"\\uDBFF\\uDFFF\"", "\xF4\x8F\xBF\xBF"},
	    {"\"\\uD800\"", "\xEF\xBF\xBD"},
	    {"\"\\uDC00\"", "\xEF\xBF\xBD"},
	    {"\"a\\uD800b\"", "a\xEF\xBF\xBD"
	                      "b"},
	    {"\"\\uD800\\u0041\"", "\xEF\xBF\xBD"
	                           "A"},
	    {"\"\\uDC00\\uD800\"", "\xEF\xBF\xBD\xEF\xBF\xBD"},
	    {"\"\\uD800\\uD800\\uDC00\"", "\xEF\xBF\xBD\xF0\x90\x80\x80"},
	    {"\"\\uD800\\n\"", "\xEF\xBF\xBD\n"},
	    {"\"\xF0\x9F\x98\x80 raw\"", "\xF0\x9F\x98\x80 raw"},
	};
	struct fx_buf out = FX_BUF_INIT, json = FX_BUF_INIT, raw = FX_BUF_INIT;
	struct json_value v;
	cJSON *j;
	size_t k;
	char *keep;
	int i;

	fx_buf_grow(&out, 1); /* never NULL, for memcmp */
	fx_buf_grow(&raw, 1);
	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		if (unescape_via_scan(cases[k].in, &out, &v, &keep) < 0) {
			CHECK_MSG(0, "scan failed: %s", cases[k].in);
			free(keep);
			continue;
		}
		CHECK_MSG(out.len == strlen(cases[k].want) &&
		              memcmp(out.p, cases[k].want, out.len) == 0,
		          "unescape %s: want \"%s\", got \"%s\"", cases[k].in,
		          esc(cases[k].want, strlen(cases[k].want)),
		          esc(out.p, out.len));
		CHECK_MSG(json_string_equals(&v, cases[k].want,
		                             strlen(cases[k].want)) == 1,
		          "equals %s", cases[k].in);
		free(keep);
	}
	/* \u0000 is a NUL byte */
	if (unescape_via_scan("\"a\\u0000b\"", &out, &v, &keep) == 0) {
		CHECK(out.len == 3 && memcmp(out.p, "a\0b", 3) == 0);
		CHECK(json_string_equals(&v, "a\0b", 3) == 1);
		CHECK(json_string_equals(&v, "a", 1) == 0);
	} else {
		CHECK_MSG(0, "\\u0000 rejected");
	}
	free(keep);
	/* appends: does not reset the buffer */
	if (unescape_via_scan("\"xy\"", &out, &v, &keep) == 0) {
		json_string_unescape(&v, &out);
		CHECK(out.len == 4 && memcmp(out.p, "xyxy", 4) == 0);
	}
	free(keep);

	/* random strings: contents known, cJSON as a second opinion */
	nprinted = 0;
	rng = 5;
	for (i = 0; i < 5000; i++) {
		fx_buf_reset(&json);
		fx_buf_reset(&raw);
		gen_string(&json, &raw, 1);
		fx_buf_addc(&json, 0);
		if (unescape_via_scan(json.p, &out, &v, &keep) < 0) {
			CHECKQ(0, "scan failed: %s", esc(json.p, json.len - 1));
			free(keep);
			continue;
		}
		CHECKQ(out.len == raw.len &&
		           (!raw.len || memcmp(out.p, raw.p, raw.len) == 0),
		       "unescape %s: want \"%s\", got \"%s\"",
		       esc(json.p, json.len - 1), esc(raw.p, raw.len),
		       esc(out.p, out.len));
		j = cj_parse(json.p, json.len - 1);
		CHECKQ(j && cJSON_IsString(j), "cJSON rejects %s",
		       esc(json.p, json.len - 1));
		if (j && !memchr(raw.p, 0, raw.len))
			CHECKQ(strlen(j->valuestring) == out.len &&
			           memcmp(j->valuestring, out.p, out.len) == 0,
			       "unescape %s differs from cJSON's \"%s\"",
			       esc(json.p, json.len - 1),
			       esc(j->valuestring, strlen(j->valuestring)));
		cJSON_Delete(j);
		CHECKQ(json_string_equals(&v, raw.p, raw.len) == 1, "equals %s",
		       esc(json.p, json.len - 1));
		if (raw.len) {
			CHECKQ(json_string_equals(&v, raw.p, raw.len - 1) == 0,
			       "equals a prefix: %s",
			       esc(json.p, json.len - 1));
			fx_buf_addc(&raw, 'z');
			CHECKQ(json_string_equals(&v, raw.p, raw.len) == 0,
			       "equals longer: %s", esc(json.p, json.len - 1));
			raw.p[0] ^= 1;
			CHECKQ(json_string_equals(&v, raw.p, raw.len - 1) == 0,
			       "equals changed: %s", esc(json.p, json.len - 1));
		} else {
			CHECKQ(json_string_equals(&v, "z", 1) == 0,
			       "empty equals z");
		}
		free(keep);
	}
	fx_buf_free(&out);
	fx_buf_free(&json);
	fx_buf_free(&raw);
}

/*
 * json_string_unescape_wtf8: a lone surrogate as its three WTF-8 bytes, a
 * pair as the one code point; json_add_wtf8_string writes the bytes back
 * as the JSON string, and refuses bytes that are no WTF-8 of a JSON string.
 */
static void test_unescape_wtf8(void)
{
	static const struct {
		const char *in, *want, *back;
	} cases[] = {
	    {"\"\"", "", "\"\""},
	    {"\"a\\u00e9\\n\"", "a\xC3\xA9\n", "\"a\xC3\xA9\\n\""},
	    {"\"\\uD800\"", "\xED\xA0\x80", "\"\\ud800\""},
	    {"\"\\uDFFF\"", "\xED\xBF\xBF", "\"\\udfff\""},
	    {"\"\\uFFFD\"", "\xEF\xBF\xBD", "\"\xEF\xBF\xBD\""},
	    {"\"a\\uD800/\\\"\"", "a\xED\xA0\x80/\"", "\"a\\ud800/\\\"\""},
	    {"\"\\uDC00\\uD800\"", "\xED\xB0\x80\xED\xA0\x80",
	     "\"\\udc00\\ud800\""},
	    {"\"\\uD800\\uD800\\uDC00\"", "\xED\xA0\x80\xF0\x90\x80\x80",
	     "\"\\ud800\xF0\x90\x80\x80\""},
	    {"\"\\uD83D\\uDE00\"", "\xF0\x9F\x98\x80", "\"\xF0\x9F\x98\x80\""},
	};
	/* a pair in WTF-8, a bad byte next to a surrogate, a cut surrogate */
	static const char *const bad[] = {"\xED\xA0\x80\xED\xB0\x80",
	                                  "\xFF\xED\xA0\x80", "a\xED\xA0"};
	struct fx_buf out = FX_BUF_INIT, back = FX_BUF_INIT;
	struct json_value v;
	size_t k;
	char *keep;

	fx_buf_grow(&out, 1);
	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		if (unescape_via_scan(cases[k].in, &out, &v, &keep) < 0) {
			CHECK_MSG(0, "scan failed: %s", cases[k].in);
			free(keep);
			continue;
		}
		fx_buf_reset(&out);
		json_string_unescape_wtf8(&v, &out);
		CHECK_MSG(out.len == strlen(cases[k].want) &&
		              memcmp(out.p, cases[k].want, out.len) == 0,
		          "wtf8 %s: want \"%s\", got \"%s\"", cases[k].in,
		          esc(cases[k].want, strlen(cases[k].want)),
		          esc(out.p, out.len));
		fx_buf_reset(&back);
		fx_buf_adds(&back, "x");
		CHECK_MSG(json_add_wtf8_string(&back, out.p, out.len) == 0 &&
		              back.len == 1 + strlen(cases[k].back) &&
		              !memcmp(back.p + 1, cases[k].back, back.len - 1),
		          "back %s: want %s, got %s", cases[k].in,
		          cases[k].back, esc(back.p, back.len));
		free(keep);
	}
	for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		fx_buf_reset(&back);
		fx_buf_adds(&back, "x");
		CHECK_MSG(json_add_wtf8_string(&back, bad[k], strlen(bad[k])) ==
		                  -1 &&
		              back.len == 1,
		          "accepted %s", esc(bad[k], strlen(bad[k])));
	}
	fx_buf_free(&out);
	fx_buf_free(&back);
}

static void test_string_equals(void)
{
	static const struct {
		const char *jstr, *s;
		int eq;
	} cases[] = {
	    {"\"abc\"", "abc", 1},
	    {"\"abc\"", "ab", 0},
	    {"\"ab\"", "abc", 0},
	    {"\"\"", "", 1},
	    {"\"\"", "a", 0},
	    {"\"a\\u0062c\"", "abc", 1},
	    {"\"a\\u0062c\"", "a\\u0062c", 0},
	    {"\"a\\nb\"", "a\nb", 1},
	    {"\"a\\nb\"", "a\\nb", 0},
	    {"\"\\u00e9\"", "\xC3\xA9", 1},
	    {"\"\\u00e9\"", "e", 0},
	    {"\"\\uD83D\\uDE00\"", "\xF0\x9F\x98\x80", 1},
	    {"\"\\uD83D\\uDE00\"", "\xF0\x9F\x98", 0},
	    {"\"\\uD800\"", "\xEF\xBF\xBD", 1},
	    {"\"_fx\"", "_fx", 1},
	    {"\"_fx\"", "_fx_topic", 0},
	};
	struct fx_buf out = FX_BUF_INIT;
	struct json_value v;
	char *keep;
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		if (unescape_via_scan(cases[k].jstr, &out, &v, &keep) < 0) {
			CHECK_MSG(0, "scan failed: %s", cases[k].jstr);
		} else {
			CHECK_MSG(json_string_equals(&v, cases[k].s,
			                             strlen(cases[k].s)) ==
			              cases[k].eq,
			          "json_string_equals(%s, \"%s\") != %d",
			          cases[k].jstr,
			          esc(cases[k].s, strlen(cases[k].s)),
			          cases[k].eq);
		}
		free(keep);
	}
	fx_buf_free(&out);
}

/* The order group keys and min/max use (json.h): one case per rule. */
static void test_value_compare(void)
{
	static const struct {
		const char *a, *b;
		int sign;
	} cases[] = {
	    {"null", "false", -1},
	    {"false", "true", -1},
	    {"true", "-1e300", -1},
	    {"9", "10", -1},
	    {"-0.5", "-0.25", -1},
	    {"1", "1.0", -1}, /* equal values: by bytes */
	    {"-0", "0", -1},
	    {"9007199254740993", "9007199254740992", 1},
	    {"1e300", "\"\"", -1},
	    {"\"a\"", "\"a b\"", -1},
	    {"\"a\"", "\"a!\"", -1},
	    {"\"ab\"", "\"b\"", -1},
	    {"\"\xC3\xA9\"", "\"z\"", 1},
	    {"\"x\"", "\"x\"", 0},
	    {"\"z\"", "[]", -1},
	    {"[1,2]", "[1]", -1}, /* by bytes: ',' < ']' */
	    {"[9]", "{}", -1},
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const char *a = cases[k].a, *b = cases[k].b;
		struct json_value va = {json_type_of(a, strlen(a)), a,
		                        strlen(a), 0};
		struct json_value vb = {json_type_of(b, strlen(b)), b,
		                        strlen(b), 0};
		int c = json_value_compare(&va, &vb);
		int r = json_value_compare(&vb, &va);

		CHECK_MSG(
		    (c > 0) - (c < 0) == cases[k].sign &&
		        (r > 0) - (r < 0) == -cases[k].sign,
		    "json_value_compare(%s, %s) = %d, reversed %d, want %d", a,
		    b, c, r, cases[k].sign);
	}
}

static void test_utf8_valid(void)
{
	static const char *const good[] = {
	    "",
	    "abc",
	    "\x7F",
	    "\xC2\x80",
	    "\xDF\xBF",
	    "\xE0\xA0\x80",
	    "\xED\x9F\xBF",
	    "\xEE\x80\x80",
	    "\xEF\xBF\xBF",
	    "\xF0\x90\x80\x80",
	    "\xF4\x8F\xBF\xBF",
	    "a\xC3\xA9z\xE2\x82\xAC\xF0\x9F\x98\x80",
	};
	size_t k, n, i;
	char *b;
	unsigned char u[4];
	struct fx_buf t = FX_BUF_INIT;

	for (k = 0; k < sizeof good / sizeof good[0]; k++) {
		n = strlen(good[k]);
		b = exact(good[k], n);
		CHECK_MSG(json_utf8_valid(b, n) == 1, "rejects %s", esc(b, n));
		free(b);
	}
	for (k = 0; k < sizeof bad_utf8 / sizeof bad_utf8[0]; k++) {
		n = strlen(bad_utf8[k]);
		b = exact(bad_utf8[k], n);
		CHECK_MSG(json_utf8_valid(b, n) == 0, "accepts %s", esc(b, n));
		free(b);
	}
	/* NUL is valid UTF-8 (json_scan rejects it in JSON, not here) */
	CHECK(json_utf8_valid("a\0b", 3) == 1);
	/* every 1-, 2- and 3-byte sequence, and all 4-byte leads */
	for (i = 0; i < 256; i++) {
		u[0] = (unsigned char)i;
		CHECK_MSG(json_utf8_valid((char *)u, 1) ==
		              ref_utf8_valid((char *)u, 1),
		          "%02zX", i);
	}
	for (i = 0; i < 65536; i++) {
		u[0] = (unsigned char)(i >> 8);
		u[1] = (unsigned char)i;
		b = exact(u, 2);
		CHECKQ(json_utf8_valid(b, 2) == ref_utf8_valid(b, 2),
		       "%s: want %d", esc(b, 2), ref_utf8_valid(b, 2));
		free(b);
	}
	nprinted = 0;
	for (i = 0xE0 << 16; i < 0xF0 << 16; i++) {
		u[0] = (unsigned char)(i >> 16);
		u[1] = (unsigned char)(i >> 8);
		u[2] = (unsigned char)i;
		if (u[1] < 0x70 || u[2] < 0x70)
			continue; /* the boundaries are what matter */
		CHECKQ(json_utf8_valid((char *)u, 3) ==
		           ref_utf8_valid((char *)u, 3),
		       "%s: want %d", esc((char *)u, 3),
		       ref_utf8_valid((char *)u, 3));
	}
	/* 4-byte sequences around the edges; random strings */
	rng = 6;
	for (i = 0; i < 200000; i++) {
		int l = 1 + (int)rn(12);

		fx_buf_reset(&t);
		while (l-- > 0) {
			static const unsigned char pick[] = {
			    0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F,
			    0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
			    0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1,
			    0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFF,
			};
			fx_buf_addc(&t, (char)pick[rn(sizeof pick)]);
		}
		b = exact(t.p, t.len);
		CHECKQ(json_utf8_valid(b, t.len) == ref_utf8_valid(b, t.len),
		       "%s: want %d", esc(b, t.len), ref_utf8_valid(b, t.len));
		free(b);
	}
	fx_buf_free(&t);
}

static void test_flags(void)
{
	static const struct {
		const char *text;
		int flags;
	} cases[] = {
	    {"{\"_fx\":\"watermark\",\"ts\":\"2026-11-23T10:00:00Z\"}",
	     JSON_SCAN_CONTROL | JSON_SCAN_HAS_FX},
	    {"{\"_fx\":\"checkpoint\",\"id\":3}",
	     JSON_SCAN_CONTROL | JSON_SCAN_HAS_FX},
	    {" {  \"_fx\" : \"watermark\" } ",
	     JSON_SCAN_CONTROL | JSON_SCAN_HAS_FX},
	    {"{\"ts\":1,\"_fx\":\"watermark\"}", JSON_SCAN_HAS_FX},
	    {"{\"_fx_topic\":\"t\",\"a\":1}", JSON_SCAN_HAS_FX},
	    {"{\"a\":1,\"_fx_topic\":\"t\"}", JSON_SCAN_HAS_FX},
	    {"{\"_fxa\":1}", JSON_SCAN_HAS_FX},
	    {"{\"a\":{\"_fx_topic\":\"t\"}}", 0},
	    {"{\"a\":{\"_fx\":\"watermark\"}}", 0},
	    {"{\"a\":[{\"_fx\":1}]}", 0},
	    {"{\"a\":\"_fx\"}", 0},
	    {"{\"_f\":1}", 0},
	    {"{\"_FX\":1}", 0},
	    {"{\"x_fx\":1}", 0},
	    {"{}", 0},
	};
	size_t k;
	int r;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		r = scans(cases[k].text, 0);
		CHECK_MSG(r == cases[k].flags, "%s: want %d, got %d",
		          cases[k].text, cases[k].flags, r);
		r = scans(cases[k].text, JSON_ANY_VALUE);
		CHECK_MSG(r == cases[k].flags,
		          "%s (ANY_VALUE): want %d, got %d", cases[k].text,
		          cases[k].flags, r);
	}
	CHECK(scans("[{\"_fx\":\"watermark\"}]", JSON_ANY_VALUE) == 0);
	CHECK(scans("\"_fx\"", JSON_ANY_VALUE) == 0);
	/* invalid control records are still invalid */
	CHECK(scans("{\"_fx\":\"watermark\",}", 0) < 0);
}

/* 100,000 levels: no recursion, no stack overflow. */
static void test_deep(void)
{
	enum { D = 100000 };
	struct fx_buf t = FX_BUF_INIT;
	struct json_error e;
	size_t k;
	int r;

	/* [[[...]]] */
	for (k = 0; k < D; k++)
		fx_buf_addc(&t, '[');
	for (k = 0; k < D; k++)
		fx_buf_addc(&t, ']');
	r = scan(t.p, t.len, JSON_ANY_VALUE, &e);
	CHECK_MSG(r >= 0, "%d nested arrays rejected: %s at %zu", D,
	          e.reason ? e.reason : "?", e.offset);
	r = scan(t.p, t.len, 0, &e);
	CHECK(r < 0 && e.reason && strcmp(e.reason, "not a JSON object") == 0);
	CHECK(scan(t.p, t.len - 1, JSON_ANY_VALUE, NULL) < 0);
	CHECK(scan(t.p, D, JSON_ANY_VALUE, NULL) < 0);
	t.p[t.len - 1] = '}';
	CHECK(scan(t.p, t.len, JSON_ANY_VALUE, NULL) < 0);
	t.p[t.len - 1] = ']';
	t.p[D] = '}';
	CHECK(scan(t.p, t.len, JSON_ANY_VALUE, NULL) < 0);

	/* {"a":{"a":...1...}} */
	fx_buf_reset(&t);
	for (k = 0; k < D; k++)
		fx_buf_adds(&t, "{\"a\":");
	fx_buf_addc(&t, '1');
	for (k = 0; k < D; k++)
		fx_buf_addc(&t, '}');
	r = scan(t.p, t.len, 0, &e);
	CHECK_MSG(r >= 0, "%d nested objects rejected: %s at %zu", D,
	          e.reason ? e.reason : "?", e.offset);
	{
		/* the value 16 levels down is the rest of the nest */
		struct json_paths ps;
		struct json_value v;
		const char *err = NULL;
		char *nm[1] = {"a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a"};
		char *b = exact(t.p, t.len);

		memset(&ps, 0, sizeof ps);
		memset(&v, 0, sizeof v);
		CHECK(json_paths_init(&ps, nm, 1, &err) == 0);
		CHECK(json_scan(&sc, &ps, b, t.len, &v, &e, 0) >= 0);
		CHECK(v.type == JSON_OBJECT && v.p == b + 16 * 5 &&
		      v.len == t.len - 16 * 5 - 16);
		free(b);
		json_paths_free(&ps);
	}
	CHECK(scan(t.p, t.len - 1, 0, NULL) < 0);
	CHECK(scan(t.p, (size_t)D * 5, 0, NULL) < 0);
	CHECK(scan(t.p, (size_t)D * 5 + 1, 0, NULL) < 0);
	fx_buf_free(&t);

	/* paths resolve around and not inside a deep nest */
	{
		struct json_paths ps;
		struct json_value v[3];
		const char *err = NULL;
		char *nm[3] = {"a", "b", "x.a"};
		char *b;

		fx_buf_reset(&t);
		fx_buf_adds(&t, "{\"x\":");
		for (k = 0; k < D; k++)
			fx_buf_adds(&t, "[{\"a\":");
		fx_buf_addc(&t, '7');
		for (k = 0; k < D; k++)
			fx_buf_adds(&t, "}]");
		fx_buf_adds(&t, ",\"a\":{\"b\":1},\"b\":\"s\"}");
		b = exact(t.p, t.len);
		memset(&ps, 0, sizeof ps);
		memset(v, 0, sizeof v);
		CHECK(json_paths_init(&ps, nm, 3, &err) == 0);
		CHECK(json_scan(&sc, &ps, b, t.len, v, &e, 0) == 0);
		CHECK(v[0].type == JSON_OBJECT && v[0].len == 7 &&
		      memcmp(v[0].p, "{\"b\":1}", 7) == 0);
		CHECK(v[1].type == JSON_STRING && v[1].len == 3);
		CHECK(v[2].type == JSON_MISSING);
		free(b);
		json_paths_free(&ps);
	}

	/* a fresh scanner grows its stack; free it */
	{
		struct json_scanner s2;
		char *b;

		memset(&s2, 0, sizeof s2);
		fx_buf_reset(&t);
		for (k = 0; k < D; k++)
			fx_buf_adds(&t, "[{\"a\":");
		b = exact(t.p, t.len);
		CHECK(json_scan(&s2, NULL, b, t.len, NULL, &e, JSON_ANY_VALUE) <
		      0);
		free(b);
		fx_buf_reset(&t);
		for (k = 0; k < D; k++)
			fx_buf_adds(&t, "[{\"a\":");
		fx_buf_addc(&t, '0');
		for (k = 0; k < D; k++)
			fx_buf_adds(&t, "}]");
		b = exact(t.p, t.len);
		CHECK(json_scan(&s2, NULL, b, t.len, NULL, &e,
		                JSON_ANY_VALUE) >= 0);
		free(b);
		json_scanner_free(&s2);
		fx_buf_free(&t);
	}
}

static void test_error_offsets(void)
{
	static const struct {
		const char *text;
		size_t lo, hi; /* acceptable offsets */
		int flags;
	} cases[] = {
	    {"{\"a\":1 x}", 7, 7, 0},
	    {"{\"a\":\"b\x01\"}", 7, 7, 0},
	    {"{\"a\":\"\xC0\x80\"}", 6, 6, 0},
	    {"{\"a\":\"x\x80\"}", 7, 7, 0},
	    {"{\"a\":\"x\xED\xA0\x80\"}", 7, 7, 0},
	    {"{\"a\":\"\\q\"}", 6, 7, 0},
	    {"{\"a\":1}x", 7, 7, 0},
	    {"{\"a\":1}  {}", 9, 9, 0},
	    {"{\"a\" 1}", 5, 5, 0},
	    {"{\"a\":01}", 5, 6, 0},
	    {"{\"a\":1,}", 7, 7, 0},
	    {"  x", 2, 2, JSON_ANY_VALUE},
	    {"[1,2", 4, 4, JSON_ANY_VALUE},
	    {"{\"a\":[1,2}", 9, 9, 0},
	    {"{\"a\":\"abc", 5, 9, 0},
	    {"{\"a\":1,\"b\":[true,fals]}", 17, 21, 0},
	};
	struct json_error e;
	size_t k, n;
	int r;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		n = strlen(cases[k].text);
		r = scan(cases[k].text, n, cases[k].flags, &e);
		CHECK_MSG(r < 0, "accepted %s", esc(cases[k].text, n));
		if (r >= 0)
			continue;
		CHECK_MSG(e.reason && *e.reason, "no reason for %s",
		          esc(cases[k].text, n));
		CHECK_MSG(e.offset >= cases[k].lo && e.offset <= cases[k].hi,
		          "%s: offset %zu, want %zu..%zu (reason \"%s\")",
		          esc(cases[k].text, n), e.offset, cases[k].lo,
		          cases[k].hi, e.reason ? e.reason : "");
		printf("info: error: %s -> offset %zu: %s\n",
		       esc(cases[k].text, n), e.offset,
		       e.reason ? e.reason : "(null)");
	}
	r = scan("[1]", 3, 0, &e);
	CHECK(r < 0 && e.reason && strcmp(e.reason, "not a JSON object") == 0);
	r = scan(" \"s\" ", 5, 0, &e);
	CHECK(r < 0 && e.reason && strcmp(e.reason, "not a JSON object") == 0);
	/* invalid and not an object: invalidity may be reported instead */
	r = scan("[1,]", 4, 0, &e);
	CHECK(r < 0 && e.reason && *e.reason);
}

/* A scanner reused after failures gives the same verdicts. */
static void test_reuse(void)
{
	struct json_scanner s2;
	struct json_error e;
	const char *good = "{\"a\":[{\"b\":[1]}]}";
	const char *bad = "{\"a\":[{\"b\":[1]";
	char *g = exact(good, strlen(good)), *b = exact(bad, strlen(bad));
	int k;

	memset(&s2, 0, sizeof s2);
	for (k = 0; k < 100; k++) {
		CHECK(json_scan(&s2, NULL, b, strlen(bad), NULL, &e, 0) < 0);
		CHECK(json_scan(&s2, NULL, g, strlen(good), NULL, &e, 0) == 0);
	}
	json_scanner_free(&s2);
	free(g);
	free(b);
}

/* json_one_line(): line breaks become spaces, and the text stays valid */
static void test_one_line(void)
{
	char t[] = "{\"a\":\r\n [1,\n2],\"s\":\"x\\n\"}\n";
	size_t n = strlen(t);
	struct json_error err;

	CHECK(json_one_line(t, n) == 4);
	CHECK_STR(t, "{\"a\":   [1, 2],\"s\":\"x\\n\"} ");
	CHECK(json_scan(&sc, NULL, t, n, NULL, &err, 0) >= 0);
	CHECK(json_one_line(t, n) == 0);
	CHECK(json_one_line(t, 0) == 0);
}

int main(void)
{
	RUN(test_ref_selfcheck);
	RUN(test_jsontestsuite);
	RUN(test_strictness);
	RUN(test_prefixes);
	RUN(test_generated_valid);
	RUN(test_mutations);
	RUN(test_extraction_cases);
	RUN(test_extraction_random);
	RUN(test_paths_api);
	RUN(test_one_line);
	RUN(test_object_next);
	RUN(test_object_get);
	RUN(test_unescape);
	RUN(test_unescape_wtf8);
	RUN(test_string_equals);
	RUN(test_value_compare);
	RUN(test_utf8_valid);
	RUN(test_flags);
	RUN(test_deep);
	RUN(test_error_offsets);
	RUN(test_reuse);
	json_scanner_free(&sc);
	return unit_done("test_json");
}
