/*
 * unit.h - a minimal unit test harness.
 *
 *   static void test_parse(void) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(void) { RUN(test_parse); return unit_done("test_time"); }
 *
 * A test fails if any CHECK in it fails; each failed CHECK prints its file,
 * line and expression. unit_done() prints "unit: NAME: N passed, N failed"
 * (counting tests) and returns the exit status.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed, unit_cur_failed;
static const char *unit_cur;

#define CHECK(e)                                                               \
	do {                                                                   \
		if (!(e)) {                                                    \
			fprintf(stderr, "%s:%d: %s: check failed: %s\n",       \
			        __FILE__, __LINE__, unit_cur, #e);             \
			unit_cur_failed = 1;                                   \
		}                                                              \
	} while (0)

#define CHECK_MSG(e, ...)                                                      \
	do {                                                                   \
		if (!(e)) {                                                    \
			fprintf(stderr,                                        \
			        "%s:%d: %s: check failed: %s: ", __FILE__,     \
			        __LINE__, unit_cur, #e);                       \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			unit_cur_failed = 1;                                   \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *a_ = (a), *b_ = (b);                               \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                       \
			fprintf(stderr, "%s:%d: %s: \"%s\" != \"%s\"\n",       \
			        __FILE__, __LINE__, unit_cur,                  \
			        a_ ? a_ : "(null)", b_ ? b_ : "(null)");       \
			unit_cur_failed = 1;                                   \
		}                                                              \
	} while (0)

#define RUN(fn)                                                                \
	do {                                                                   \
		unit_cur = #fn;                                                \
		unit_cur_failed = 0;                                           \
		fn();                                                          \
		if (unit_cur_failed)                                           \
			unit_failed++;                                         \
		else                                                           \
			unit_passed++;                                         \
	} while (0)

static inline int unit_done(const char *name)
{
	printf("unit: %s: %d passed, %d failed\n", name, unit_passed,
	       unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
