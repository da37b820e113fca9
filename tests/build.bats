#!/usr/bin/env bats
# The code builds warning-free with clang as well as gcc, cppcheck finds
# nothing, and make format has nothing left to change.

load test_helper

@test "every source compiles warning-free with clang -Werror" {
	cd "$FX_ROOT"
	fail=0
	for f in common/*.c cmd/*.c; do
		clang -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
			-Wmissing-prototypes -Wno-unused-parameter -Wformat=2 -Icommon \
			$(pkg-config --cflags libcjson) -fsyntax-only "$f" || fail=1
	done
	[ $fail -eq 0 ]
}

@test "cppcheck finds nothing" {
	cd "$FX_ROOT"
	run cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem --suppress=preprocessorErrorDirective \
		-D__GNUC__ -Icommon cmd common
	assert_success
	assert_output ''
}

@test "every C source is as make format leaves it" {
	cd "$FX_ROOT"
	run clang-format --dry-run --Werror cmd/*.c common/*.c common/*.h tests/unit/*.c \
		tests/unit/*.h tests/bench/*.c tests/fuzz/*.c
	assert_success
	assert_output ''
}

# The fuzz targets are built with -fno-sanitize-recover=all: a sanitizer
# finding stops the target, so a fuzz run fails instead of printing a report
# nobody reads. Their seeds (regressions included) must run clean.
@test "fuzz targets run their seed corpus without any sanitizer report" {
	cd "$FX_ROOT"
	run make -s fuzz
	assert_success
	for f in build/fuzz/fuzz_*; do
		[ -x "$f" ] && [ -f "$f" ] || continue
		case $f in *.log) continue ;; esac
		run --separate-stderr "$f" -runs=0 tests/fuzz/seeds
		[ "$status" -eq 0 ] || fail "$f failed on the seeds ($status): $(tail -20 <<<"$stderr")"
		[[ $stderr != *"runtime error"* ]] || fail "$f: sanitizer report: $(grep -m3 'runtime error' <<<"$stderr")"
		[[ $stderr != *"ERROR: "*"Sanitizer"* ]] || fail "$f: sanitizer report: $(grep -m3 ERROR <<<"$stderr")"
	done
}

@test "run-all.sh: a unit test that exits non-zero fails, even after its own count said passed" {
	cd "$BATS_TEST_TMPDIR"
	# a leak report comes at exit, after the test printed its count
	printf '#!/bin/sh\necho "unit: leaky: 3 passed, 0 failed"\necho "ERROR: LeakSanitizer: detected memory leaks" >&2\nexit 23\n' >test_leaky
	printf '#!/bin/sh\necho "unit: fine: 2 passed, 0 failed"\n' >test_fine
	printf '#!/bin/sh\necho "unit: failing: 1 passed, 2 failed"\nexit 1\n' >test_failing
	chmod +x test_leaky test_fine test_failing
	run env FX_TEST_PARTS=unit FX_UNIT_TESTS="$PWD/test_fine $PWD/test_leaky $PWD/test_failing" \
		"$FX_ROOT/tests/run-all.sh"
	assert_failure
	assert_line "FAILED: $PWD/test_leaky (exit 23), log:"
	assert_line "6 passed, 3 failed"
}
