/* test_strmap.c - the byte-string hash map: find, replace, grow, collisions */
#include "strmap.h"
#include "unit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* values are small integers, stored as pointers (0 is "absent") */
#define V(i) ((void *)(uintptr_t)(i))

static uintptr_t get(const struct strmap *m, const char *key, size_t len)
{
	return (uintptr_t)strmap_get(m, key, len);
}

static uintptr_t gets(const struct strmap *m, const char *key)
{
	return get(m, key, strlen(key));
}

static void test_empty_map(void)
{
	struct strmap m = {0};

	CHECK(gets(&m, "a") == 0);
	CHECK(get(&m, "", 0) == 0);
	strmap_free(&m);
	CHECK(m.n == 0 && m.entries == NULL && m.slots == NULL);
	/* a freed map is an empty map again */
	strmap_put(&m, "a", 1, V(1));
	CHECK(gets(&m, "a") == 1);
	strmap_free(&m);
	strmap_free(&m);
}

static void test_put_get_replace(void)
{
	struct strmap m = {0};
	struct strmap_entry *e, *e2;

	e = strmap_put(&m, "ios", 3, V(1));
	CHECK(e && e->len == 3 && memcmp(e->key, "ios", 3) == 0);
	CHECK(e->value == V(1));
	strmap_put(&m, "android", 7, V(2));
	CHECK(gets(&m, "ios") == 1);
	CHECK(gets(&m, "android") == 2);
	CHECK(m.n == 2);
	/* prefixes and extensions of a key are other keys */
	CHECK(gets(&m, "io") == 0);
	CHECK(gets(&m, "iosx") == 0);
	CHECK(get(&m, "ios", 2) == 0);
	CHECK(gets(&m, "IOS") == 0);
	/* replacing keeps the entry and its place */
	e2 = strmap_put(&m, "ios", 3, V(3));
	CHECK(e2 == &m.entries[0]);
	CHECK(m.n == 2);
	CHECK(gets(&m, "ios") == 3);
	CHECK(gets(&m, "android") == 2);
	strmap_free(&m);
}

static void test_keys_are_copied(void)
{
	struct strmap m = {0};
	char buf[8] = "abc";
	struct strmap_entry *e;

	e = strmap_put(&m, buf, 3, V(1));
	CHECK(e->key != buf);
	CHECK(e->key[3] == '\0'); /* a NUL follows the copy */
	memcpy(buf, "xyz", 3);
	CHECK(gets(&m, "abc") == 1);
	CHECK(gets(&m, "xyz") == 0);
	/* the length given, not strlen: the rest of the buffer is not key */
	strmap_put(&m, "abcdef", 2, V(2));
	CHECK(gets(&m, "ab") == 2);
	CHECK(gets(&m, "abcdef") == 0);
	CHECK(m.entries[1].len == 2);
	strmap_free(&m);
}

static void test_empty_key(void)
{
	struct strmap m = {0};

	strmap_put(&m, "a", 1, V(1));
	CHECK(get(&m, "", 0) == 0);
	strmap_put(&m, "", 0, V(2));
	CHECK(get(&m, "", 0) == 2);
	/* any pointer with length 0 is the empty key */
	CHECK(get(&m, "zzz", 0) == 2);
	CHECK(gets(&m, "a") == 1);
	CHECK(m.n == 2 && m.entries[1].len == 0 && m.entries[1].key[0] == 0);
	strmap_put(&m, "x", 0, V(3));
	CHECK(m.n == 2);
	CHECK(get(&m, "", 0) == 3);
	strmap_free(&m);
}

static void test_binary_keys(void)
{
	struct strmap m = {0};
	char k[4];
	int c, bad = 0;

	/* every byte but NUL as a one-byte key, and after a prefix */
	for (c = 1; c < 256; c++) {
		k[0] = (char)c;
		strmap_put(&m, k, 1, V(c));
		k[0] = '\xff';
		k[1] = (char)c;
		strmap_put(&m, k, 2, V(1000 + c));
	}
	CHECK(m.n == 2 * 255);
	for (c = 1; c < 256; c++) {
		k[0] = (char)c;
		bad += get(&m, k, 1) != (uintptr_t)c;
		k[0] = '\xff';
		k[1] = (char)c;
		bad += get(&m, k, 2) != (uintptr_t)(1000 + c);
	}
	CHECK_MSG(bad == 0, "%d binary keys not found", bad);
	/* UTF-8 and invalid UTF-8 alike */
	strmap_put(&m, "caf\xc3\xa9", 5, V(7));
	CHECK(get(&m, "caf\xc3\xa9", 5) == 7);
	CHECK(get(&m, "cafe", 4) == 0);
	CHECK(get(&m, "caf\xc3", 4) == 0);
	/* a key is its bytes and its length: a NUL inside is a byte too */
	strmap_put(&m, "a\0b", 3, V(8));
	strmap_put(&m, "a\0c", 3, V(9));
	CHECK(get(&m, "a\0b", 3) == 8);
	CHECK(get(&m, "a\0c", 3) == 9);
	CHECK(get(&m, "a\0", 2) == 0);
	CHECK(get(&m, "a\0bc", 4) == 0);
	CHECK(gets(&m, "a") == 'a'); /* the one-byte key put above */
	strmap_free(&m);
}

static void test_grow_many_keys(void)
{
	enum { N = 100000 };
	struct strmap m = {0};
	char k[32];
	int i, n, bad = 0, order = 0;

	for (i = 0; i < N; i++) {
		n = snprintf(k, sizeof(k), "user-%d", i);
		strmap_put(&m, k, (size_t)n, V(i + 1));
		/* the table never fills past three quarters */
		if (m.n * 4 > m.nslots * 3)
			bad++;
	}
	CHECK_MSG(bad == 0, "%d puts left the table over 3/4 full", bad);
	bad = 0;
	CHECK(m.n == N);
	CHECK(m.cap >= N);
	CHECK((m.nslots & (m.nslots - 1)) == 0); /* a power of two */
	CHECK(m.nslots >= (size_t)N * 4 / 3);
	for (i = 0; i < N; i++) {
		n = snprintf(k, sizeof(k), "user-%d", i);
		bad += get(&m, k, (size_t)n) != (uintptr_t)(i + 1);
		/* insertion order, whatever the rehashes did */
		order += m.entries[i].len != (size_t)n ||
		         memcmp(m.entries[i].key, k, (size_t)n) != 0;
	}
	CHECK_MSG(bad == 0, "%d of %d keys not found after growing", bad, N);
	CHECK_MSG(order == 0, "%d entries out of insertion order", order);
	bad = 0;
	for (i = N; i < N + 1000; i++) {
		n = snprintf(k, sizeof(k), "user-%d", i);
		bad += get(&m, k, (size_t)n) != 0;
	}
	CHECK_MSG(bad == 0, "%d keys never put were found", bad);
	bad = 0;
	/* replacing every value grows nothing */
	{
		size_t nslots = m.nslots;

		for (i = 0; i < N; i += 7) {
			n = snprintf(k, sizeof(k), "user-%d", i);
			strmap_put(&m, k, (size_t)n, V(N + i));
		}
		CHECK(m.n == N && m.nslots == nslots);
		for (i = 0; i < N; i++) {
			n = snprintf(k, sizeof(k), "user-%d", i);
			bad += get(&m, k, (size_t)n) !=
			       (uintptr_t)(i % 7 ? i + 1 : N + i);
		}
		CHECK_MSG(bad == 0, "%d values wrong after replacing", bad);
	}
	strmap_free(&m);
}

/*
 * Keys whose hash has the given low bits: they share their home slot in
 * every table of up to (mask + 1) slots. Writes count keys into keys[]
 * ("c" and a number), starting the search at *next.
 */
static void colliding_keys(uint64_t bits, uint64_t mask, char keys[][16],
                           int count, int *next)
{
	int found = 0, n;

	while (found < count) {
		n = snprintf(keys[found], 16, "c%d", (*next)++);
		if ((XXH3_64bits(keys[found], (size_t)n) & mask) == bits)
			found++;
	}
}

static void test_collisions(void)
{
	enum { FIRST = 11, ALL = 40 };
	static char keys[ALL][16];
	static char other[1][16];
	struct strmap m = {0};
	int i, next = 0, bad = 0;
	size_t k;

	/*
	 * All home in the last slot of 16, 32 and 64: the probe runs past the
	 * end and wraps to slot 0.
	 */
	colliding_keys(63, 63, keys, ALL, &next);
	colliding_keys(63, 63, other, 1, &next);
	for (i = 0; i < FIRST; i++)
		strmap_put(&m, keys[i], strlen(keys[i]), V(i + 1));
	/* still the first table (11 of 16): every key in one long chain */
	CHECK(m.nslots == 16);
	CHECK(m.slots[15] == 1);
	for (k = 0; k + 1 < FIRST; k++)
		CHECK_MSG(m.slots[k] == k + 2, "slot %zu", k);
	for (i = 0; i < FIRST; i++)
		bad += gets(&m, keys[i]) != (uintptr_t)(i + 1);
	CHECK_MSG(bad == 0, "%d colliding keys not found", bad);
	bad = 0;
	/* a key of the same home slot that is not there: the whole chain */
	CHECK(gets(&m, other[0]) == 0);
	/* replacing one in the middle of the chain */
	strmap_put(&m, keys[5], strlen(keys[5]), V(99));
	CHECK(gets(&m, keys[5]) == 99);
	CHECK(gets(&m, keys[4]) == 5 && gets(&m, keys[6]) == 7);
	CHECK(m.n == FIRST);
	/* and on through two rehashes, still all colliding */
	for (i = FIRST; i < ALL; i++)
		strmap_put(&m, keys[i], strlen(keys[i]), V(i + 1));
	CHECK(m.nslots == 64);
	CHECK(m.n == ALL);
	for (i = 0; i < ALL; i++)
		bad += gets(&m, keys[i]) != (uintptr_t)(i == 5 ? 99 : i + 1);
	CHECK_MSG(bad == 0, "%d colliding keys lost by rehashing", bad);
	CHECK(gets(&m, other[0]) == 0);
	strmap_free(&m);
}

static void test_entry_for(void)
{
	struct strmap m = {0};
	struct strmap_entry *e;
	int i;

	/* a new key's entry has no value; the same key, the same entry */
	e = strmap_entry_for(&m, "ios", 3);
	CHECK(e->value == NULL && m.n == 1 && e->len == 3);
	e->value = V(1);
	CHECK(strmap_entry_for(&m, "ios", 3) == e && m.n == 1);
	/* a count per key, through rehashes */
	for (i = 0; i < 3000; i++) {
		char k[16];
		int n = snprintf(k, sizeof(k), "k%d", i % 1000);

		e = strmap_entry_for(&m, k, (size_t)n);
		e->value = (void *)((uintptr_t)e->value + 1);
	}
	CHECK(m.n == 1001);
	CHECK(gets(&m, "k0") == 3 && gets(&m, "k999") == 3);
	CHECK(gets(&m, "ios") == 1 && gets(&m, "k1000") == 0);
	strmap_free(&m);
}

int main(void)
{
	RUN(test_empty_map);
	RUN(test_put_get_replace);
	RUN(test_keys_are_copied);
	RUN(test_empty_key);
	RUN(test_binary_keys);
	RUN(test_grow_many_keys);
	RUN(test_collisions);
	RUN(test_entry_for);
	return unit_done("test_strmap");
}
