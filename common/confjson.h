/*
 * confjson.h - reading a JSON definition file (fx-table(5), fx-pipeline(5))
 * with cJSON, in one style: unknown keys are errors, members have the type
 * they must have, and every message names the file and the key's path:
 *
 *   fx-run: p.json: jobs.ads.steps[1].fx-agg.windw: unknown key
 *
 * A struct conf_file is the file being read; its functions print the
 * message (fx_warn) and return -1, or return 0.
 */
#ifndef FX_CONFJSON_H
#define FX_CONFJSON_H

#include "err.h"
#include "fx.h"

#include <cjson/cJSON.h>

struct conf_file {
	const struct fx_ctx *ctx;
	const char *path; /* as messages name it */
};

/* Reads and parses path. Returns the root, or NULL after
 * "path: reason" or "path:LINE: invalid JSON". Free with cJSON_Delete(). */
cJSON *conf_parse(const struct conf_file *cf);

/* "path: key: msg"; returns -1. */
int conf_bad(const struct conf_file *cf, const char *key, const char *fmt, ...)
    FX_PRINTF(3, 4);

/* Rejects a member of obj not in keys (NULL-ended): "where.member:
 * unknown key" (where "" for the top). */
int conf_known_keys(const struct conf_file *cf, const cJSON *obj,
                    const char *where, const char *const *keys);

/* member of obj: a non-empty string in *out, NULL if absent (an error
 * "missing" when required). key: the path in messages. */
int conf_get_string(const struct conf_file *cf, const cJSON *obj,
                    const char *member, const char *key, int required,
                    const char **out);

/* member of obj: an integer from min to 1000000, *out unchanged if
 * absent. */
int conf_get_int(const struct conf_file *cf, const cJSON *obj,
                 const char *member, const char *key, int min, int *out);

/* member of obj: an array of non-empty strings (n == 0 and *out NULL if
 * absent). The strings belong to obj; *out is the caller's (free()). */
int conf_get_strings(const struct conf_file *cf, const cJSON *obj,
                     const char *member, const char *key, const char ***out,
                     size_t *n);

#endif
