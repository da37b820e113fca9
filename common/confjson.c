/* confjson.c - reading JSON definition files; the contract is in confjson.h */
#include "confjson.h"

#include "buf.h"
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int conf_bad(const struct conf_file *cf, const char *key, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fx_warn(cf->ctx, "%s: %s: %s", cf->path, key, msg);
	return -1;
}

int conf_known_keys(const struct conf_file *cf, const cJSON *obj,
                    const char *where, const char *const *keys)
{
	const cJSON *m;
	const char *const *k;
	char name[512];

	cJSON_ArrayForEach(m, obj)
	{
		for (k = keys; *k; k++)
			if (strcmp(m->string, *k) == 0)
				break;
		if (*k)
			continue;
		snprintf(name, sizeof(name), "%s%s%s", where, *where ? "." : "",
		         m->string);
		return conf_bad(cf, name, "unknown key");
	}
	return 0;
}

int conf_get_string(const struct conf_file *cf, const cJSON *obj,
                    const char *member, const char *key, int required,
                    const char **out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, member);

	*out = NULL;
	if (!j)
		return required ? conf_bad(cf, key, "missing") : 0;
	if (!cJSON_IsString(j) || !j->valuestring)
		return conf_bad(cf, key, "not a string");
	if (!*j->valuestring)
		return conf_bad(cf, key, "empty");
	*out = j->valuestring;
	return 0;
}

int conf_get_int(const struct conf_file *cf, const cJSON *obj,
                 const char *member, const char *key, int min, int *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, member);
	double d;

	if (!j)
		return 0;
	d = cJSON_IsNumber(j) ? j->valuedouble : 0;
	if (!cJSON_IsNumber(j) || d != (double)(int)d || d < min || d > 1000000)
		return conf_bad(cf, key, "not an integer from %d to 1000000",
		                min);
	*out = (int)d;
	return 0;
}

int conf_get_strings(const struct conf_file *cf, const cJSON *obj,
                     const char *member, const char *key, const char ***out,
                     size_t *n)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, member), *e;
	size_t i = 0;

	*out = NULL;
	*n = 0;
	if (!j)
		return 0;
	if (!cJSON_IsArray(j))
		return conf_bad(cf, key, "not an array of strings");
	*out = fx_malloc(((size_t)cJSON_GetArraySize(j) + 1) * sizeof(**out));
	cJSON_ArrayForEach(e, j)
	{
		if (!cJSON_IsString(e) || !e->valuestring || !*e->valuestring) {
			char k[512];

			snprintf(k, sizeof(k), "%s[%zu]", key, i);
			free(*out);
			*out = NULL;
			return conf_bad(cf, k, "not a non-empty string");
		}
		(*out)[i++] = e->valuestring;
	}
	*n = i;
	return 0;
}

static char *read_all(const struct conf_file *cf, size_t *n)
{
	FILE *f = fopen(cf->path, "rb");
	struct fx_buf b = FX_BUF_INIT;
	char chunk[8192];
	size_t got;

	if (!f) {
		fx_warn(cf->ctx, "%s: %s", cf->path, strerror(errno));
		return NULL;
	}
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fx_buf_add(&b, chunk, got);
	if (ferror(f)) {
		fx_warn(cf->ctx, "%s: read error: %s", cf->path,
		        strerror(errno));
		fclose(f);
		fx_buf_free(&b);
		return NULL;
	}
	fclose(f);
	fx_buf_addc(&b, 0);
	*n = b.len - 1;
	return b.p;
}

cJSON *conf_parse(const struct conf_file *cf)
{
	const char *end = NULL, *s;
	unsigned line = 1;
	cJSON *root;
	size_t n;
	char *text = read_all(cf, &n);

	if (!text)
		return NULL;
	root = cJSON_ParseWithLengthOpts(text, n + 1, &end, 1);
	if (!root) {
		if (!end)
			end = cJSON_GetErrorPtr();
		/* "invalid JSON at line 3" with cJSON's error position */
		for (s = text; end && s < end; s++)
			line += *s == '\n';
		fx_warn(cf->ctx, "%s:%u: invalid JSON", cf->path, line);
	}
	free(text);
	return root;
}
