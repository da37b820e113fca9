/*
 * strlist.h - a growable list of owned strings, ended by a NULL so that
 * v can be passed where a char ** is expected (execvp, an argv).
 *
 * The list owns its strings: fx_strlist_push() copies s, fx_strlist_free()
 * frees them all. A zeroed struct (= {0}) is an empty list.
 */
#ifndef FX_STRLIST_H
#define FX_STRLIST_H

#include <stddef.h>

struct fx_strlist {
	char **v; /* v[n] is NULL once anything was pushed */
	size_t n;
	size_t cap;
};

/* Appends a copy of s. Exits (fx_oom) when out of memory. */
void fx_strlist_push(struct fx_strlist *l, const char *s);

/* Frees the strings and the array; l is an empty list again. */
void fx_strlist_free(struct fx_strlist *l);

#endif
