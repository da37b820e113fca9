/* arena.c - bump allocation in 1 MiB blocks */
#include "arena.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

/*
 * Blocks double from 4 KiB to 1 MiB: a window holding a few groups costs
 * a page, not a megabyte (hop:1d/1m keeps 1,440 windows open for each
 * record; at 1 MiB each that was 1.5 GB for one record), and a window of
 * a million groups still gets megabyte blocks after a few doublings.
 */
#define ARENA_FIRST ((size_t)4 << 10)
#define ARENA_MAX   ((size_t)1 << 20)

struct arena_block {
	struct arena_block *next;
	size_t size;
	_Alignas(16) char data[];
};

void *arena_alloc(struct arena *a, size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (!a->head || a->head->size - a->used < n) {
		size_t next = a->total < ARENA_FIRST ? ARENA_FIRST
		              : a->total > ARENA_MAX ? ARENA_MAX
		                                     : a->total;
		size_t size = n > next / 4 ? n : next;
		struct arena_block *b = fx_calloc(1, sizeof(*b) + size);

		b->size = size;
		a->total += size;
		if (a->head && size != next) {
			/* a big object: keep filling the current block */
			b->next = a->head->next;
			a->head->next = b;
			return b->data;
		}
		b->next = a->head;
		a->head = b;
		a->used = 0;
	}
	p = a->head->data + a->used;
	a->used += n;
	return p;
}

void arena_free(struct arena *a)
{
	struct arena_block *b = a->head;

	while (b) {
		struct arena_block *next = b->next;

		free(b);
		b = next;
	}
	memset(a, 0, sizeof(*a));
}
