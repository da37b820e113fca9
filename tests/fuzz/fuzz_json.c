/*
 * fuzz_json.c - libFuzzer target for the record scanner (common/json.h).
 *
 * The input, in an exactly-sized buffer (ASan traps any read past it), is
 * scanned with JSON_ANY_VALUE and judged by the strict reference validator
 * (tests/unit/json_ref.h); any disagreement aborts. On valid input it also
 * checks the values found for a few fixed paths, the top-level members
 * (json_object_next, and json_object_get against the paths' values),
 * unescaping, and the object-only mode; on any input, json_utf8_valid
 * against the reference. Both scanners behind json_scan()
 * (jsonsimd.h: the vector path where the CPU has it, and the portable one
 * alone) must give the same result, flags, values and error, byte for
 * byte, with and without paths and in both modes; and the input's lines
 * as one buffer (json_scan_lines) as they are one by one.
 */
#include "buf.h"
#include "json.h"
#include "jsonsimd.h"

#include "../unit/json_ref.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const path_names[] = {
    "a", "a.b", "a.b.c", "x\\.y", "_fx", "",
};
#define NPATHS 5 /* the empty name above is not compiled */

static struct json_scanner sc;
static struct json_scanner sc_portable = {.simd = -1};
static struct json_paths ps;
static int ps_ready;

static void die(const char *what, const char *p, size_t n)
{
	size_t i;

	fprintf(stderr, "fuzz_json: %s: input (%zu bytes): \"", what, n);
	for (i = 0; i < n && i < 512; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02X", c);
	}
	fprintf(stderr, "\"\n");
	abort();
}

/* One valid JSON value, inside the buffer, of the type it claims. */
static int value_ok(const struct json_value *v, const char *b, size_t n)
{
	char c;
	enum json_type want;

	if (v->type == JSON_MISSING)
		return 1;
	if (!v->p || v->p < b || v->len == 0 || v->len > n ||
	    (size_t)(v->p - b) > n - v->len)
		return 0;
	c = v->p[0];
	want = c == '{'   ? JSON_OBJECT
	       : c == '[' ? JSON_ARRAY
	       : c == '"' ? JSON_STRING
	       : c == 'n' ? JSON_NULL
	       : c == 't' ? JSON_TRUE
	       : c == 'f' ? JSON_FALSE
	                  : JSON_NUMBER;
	if (v->type != want)
		return 0;
	if (v->type == JSON_STRING &&
	    (v->escaped != 0) != (memchr(v->p, '\\', v->len) != NULL))
		return 0;
	if (strchr(" \t\r\n", v->p[v->len - 1]))
		return 0;
	return ref_json_valid(v->p, v->len, NULL) == 1;
}

/* Unescaping a valid string gives valid UTF-8 that it equals. */
static void check_string(const struct json_value *v, struct fx_buf *out,
                         const char *b, size_t n)
{
	fx_buf_reset(out);
	json_string_unescape(v, out);
	if (!ref_utf8_valid(out->p ? out->p : "", out->len))
		die("unescaped string is not valid UTF-8", b, n);
	if (json_string_equals(v, out->p ? out->p : "", out->len) != 1)
		die("string does not equal its unescaping", b, n);
	fx_buf_addc(out, 'x');
	if (json_string_equals(v, out->p, out->len) != 0)
		die("string equals its unescaping plus x", b, n);
}

/* json_scan() by both scanners: the same answer in every detail. */
static void compare_scanners(const char *b, size_t size,
                             const struct json_paths *p, int flags)
{
	struct json_value v1[NPATHS + 1], v2[NPATHS + 1];
	struct json_error e1 = {0, NULL}, e2 = {0, NULL};
	int r1, r2;
	size_t i;

	r1 = json_scan(&sc, p, b, size, v1, &e1, flags);
	r2 = json_scan(&sc_portable, p, b, size, v2, &e2, flags);
	if (r1 != r2)
		die("the two scanners disagree", b, size);
	if (r1 < 0) {
		if (e1.offset != e2.offset || strcmp(e1.reason, e2.reason))
			die("the two scanners' errors differ", b, size);
		return;
	}
	for (i = 0; p && i < p->n; i++)
		if (v1[i].type != v2[i].type ||
		    (v1[i].type != JSON_MISSING &&
		     (v1[i].p != v2[i].p || v1[i].len != v2[i].len ||
		      (v1[i].type == JSON_STRING &&
		       v1[i].escaped != v2[i].escaped))))
			die("the two scanners' values differ", b, size);
}

/*
 * The input's lines (up to its last '\n') as one buffer: json_scan_lines()
 * takes exactly the lines before the first one the vector path does not
 * take alone, that ends in '\r' or is longer than max_len (from the first
 * byte); the portable scanner says 0 for every line it takes.
 */
static void compare_lines(const char *b, size_t size)
{
	const char *last = size ? memrchr(b, '\n', size) : NULL;
	size_t n = last ? (size_t)(last + 1 - b) : 0, at = 0, want = 0, got;
	size_t max_len = size && (unsigned char)b[0] < 0x40
	                     ? (unsigned char)b[0]
	                     : (size_t)-1;
	uint64_t lines, want_lines = 0;
	struct json_error e;

	if (!n || !json_simd_cpu())
		return;
	while (at < n) {
		size_t len =
		    (size_t)((const char *)memchr(b + at, '\n', n - at) -
		             (b + at));

		if (len > max_len || (len && b[at + len - 1] == '\r') ||
		    json_simd_validate(b + at, len) != 0)
			break;
		if (json_scan(&sc_portable, NULL, b + at, len, NULL, &e, 0) !=
		    0)
			die("json_simd_validate takes a line json_scan does not",
			    b + at, len);
		at += len + 1;
		want = at;
		want_lines++;
	}
	got = json_scan_lines(&sc, b, n, max_len, &lines);
	if (got != want || lines != want_lines)
		die("json_scan_lines disagrees with the lines one by one", b,
		    n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fx_buf out = FX_BUF_INIT;
	struct json_value vals[NPATHS];
	struct json_member m;
	struct json_error e;
	struct ref_info ri;
	const char *err = NULL;
	char *b;
	size_t i, pos;
	int r, r0, ref;

	if (!ps_ready) {
		if (json_paths_init(&ps, (char *const *)path_names, NPATHS,
		                    &err) != 0)
			die("json_paths_init failed", err ? err : "", 0);
		if (json_paths_add(&ps, path_names[NPATHS], &err) != -1)
			die("empty path accepted", "", 0);
		ps_ready = 1;
	}
	b = malloc(size);
	if (!b)
		b = malloc(1);
	if (size)
		memcpy(b, data, size);

	if (json_utf8_valid(b, size) != ref_utf8_valid(b, size))
		die("json_utf8_valid disagrees with the reference", b, size);

	compare_scanners(b, size, &ps, JSON_ANY_VALUE);
	compare_scanners(b, size, NULL, JSON_ANY_VALUE);
	compare_scanners(b, size, &ps, 0);
	compare_scanners(b, size, NULL, 0);
	compare_lines(b, size);

	ref = ref_json_valid(b, size, &ri);
	memset(vals, 0, sizeof vals);
	e.offset = (size_t)-1;
	e.reason = NULL;
	r = json_scan(&sc, &ps, b, size, vals, &e, JSON_ANY_VALUE);
	if (ref >= 0 && (r >= 0) != (ref == 1))
		die(ref ? "json_scan rejects valid JSON"
		        : "json_scan accepts invalid JSON",
		    b, size);
	if (r < 0) {
		if (!e.reason || !*e.reason || e.offset > size)
			die("bad json_error", b, size);
		free(b);
		return 0;
	}
	for (i = 0; i < NPATHS; i++) {
		if (!value_ok(&vals[i], b, size))
			die("bad value for a path", b, size);
		if (vals[i].type == JSON_STRING)
			check_string(&vals[i], &out, b, size);
		if (ri.top != '{' && vals[i].type != JSON_MISSING)
			die("a path found in a non-object", b, size);
	}

	/* the object-only mode */
	r0 = json_scan(&sc, NULL, b, size, NULL, &e, 0);
	if (ri.top == '{' ? r0 != r
	                  : (r0 >= 0 || !e.reason ||
	                     strcmp(e.reason, "not a JSON object") != 0))
		die("object-only mode disagrees", b, size);

	/* members */
	if (ri.top == '{') {
		pos = 0;
		for (i = 0; json_object_next(b, size, &pos, &m); i++) {
			if (m.key.type != JSON_STRING ||
			    !value_ok(&m.key, b, size) ||
			    !value_ok(&m.val, b, size) ||
			    m.val.type == JSON_MISSING || m.p != m.key.p ||
			    m.p + m.len != m.val.p + m.val.len)
				die("bad member", b, size);
			check_string(&m.key, &out, b, size);
			/* an escaped "_fx" key may count or not */
			if (i == 0 && !m.key.escaped &&
			    json_string_equals(&m.key, "_fx", 3) !=
			        !!(r & JSON_SCAN_CONTROL))
				die("JSON_SCAN_CONTROL wrong", b, size);
			if (i > size)
				die("json_object_next does not end", b, size);
		}
		if (i == 0 && (r & JSON_SCAN_CONTROL))
			die("JSON_SCAN_CONTROL on an empty object", b, size);
		/* json_object_get(): json_scan()'s value for one-key paths */
		for (i = 0; i < NPATHS; i++) {
			struct json_value g;

			if (ps.v[i].nseg != 1)
				continue;
			json_object_get(b, size, ps.v[i].seg[0],
			                ps.v[i].seglen[0], &g);
			if (g.type != vals[i].type ||
			    (g.type != JSON_MISSING &&
			     (g.p != vals[i].p || g.len != vals[i].len)))
				die("json_object_get disagrees with json_scan",
				    b, size);
		}
	} else if (r != 0) {
		die("JSON_SCAN_* flags on a non-object", b, size);
	}
	free(b);
	return 0;
}
