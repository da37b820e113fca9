/*
 * arena.h - a bump allocator for many small objects that die together (the
 * groups of one window). arena_alloc() never fails (out of memory exits);
 * arena_free() releases everything at once. Memory is zeroed.
 */
#ifndef FX_ARENA_H
#define FX_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
	size_t used;  /* bytes used in head */
	size_t total; /* bytes held, for --stats and tests */
};

void *arena_alloc(struct arena *a, size_t n);
void arena_free(struct arena *a);

#endif
