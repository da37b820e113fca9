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

# libfx's layers (common/README.md is the map, tests/layers.sh the check):
# core -> record -> io -> engine -> prog, each using only itself and the
# layers before it; the core reaches lineage through hooks, never a call.
@test "layers: no object of common/ uses a higher layer, and every common/*.c is on the map" {
	cd "$FX_ROOT"
	run make -s build/libfx.a
	assert_success
	run tests/layers.sh check
	assert_success
	assert_output ''
}

@test "layers: the check names an upward call, an upward include and a module on no layer" {
	cd "$FX_ROOT"
	run make -s build/libfx.a
	assert_success
	mkdir -p "$BATS_TEST_TMPDIR/tests" "$BATS_TEST_TMPDIR/obj"
	cp -r common "$BATS_TEST_TMPDIR/"
	cp tests/layers.sh "$BATS_TEST_TMPDIR/tests/"
	cp build/obj/*.o "$BATS_TEST_TMPDIR/obj/"
	cd "$BATS_TEST_TMPDIR"
	# the core calling lineage, as err.c once did
	printf '#include "lineage.h"\nvoid fx_probe(struct fx_ctx *c);\nvoid fx_probe(struct fx_ctx *c) { lineage_file(c, LINEAGE_INPUT, "x"); }\n' >>common/err.c
	cc -std=c11 -D_GNU_SOURCE -Icommon -c -o obj/err.o common/err.c
	echo 'int fx_stray(void) { return 0; }' >common/stray.c
	run tests/layers.sh check "$PWD/obj"
	assert_failure
	assert_line 'layers: common/err.c (core) uses lineage_file, from common/lineage.c (record)'
	assert_line 'layers: common/err.c (core) includes lineage.h (record)'
	assert_line 'layers: common/stray.c is on no layer of common/README.md'
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

# A make that stands in for a fresh machine: `deps` takes a while (as
# apt-get does) and the compiler fails if it runs before deps has finished
# (as it does when xxhash.h is not installed yet).
@test "make -j4: nothing compiles before deps has installed the packages" {
	cp -r "$FX_ROOT/Makefile" "$FX_ROOT/cmd" "$FX_ROOT/common" "$FX_ROOT/tests" "$FX_ROOT/share" "$BATS_TEST_TMPDIR/"
	cd "$BATS_TEST_TMPDIR"
	rm -rf build bin
	cat >slow-deps.mk <<'MK'
include Makefile
deps:
	@sleep 2; mkdir -p build; touch build/deps-done
MK
	cat >fakecc <<'SH'
#!/bin/sh
[ -e build/deps-done ] || { echo "fakecc: compiling before deps finished: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do [ "$1" = -o ] && touch "$2"; shift; done
SH
	chmod +x fakecc
	for target in all asan; do
		rm -rf build bin
		run --separate-stderr make -f slow-deps.mk -j4 CC="$PWD/fakecc" "$target"
		[ "$status" -eq 0 ] || fail "make -j4 $target: $(grep -m3 fakecc <<<"$stderr")"
		[ -e bin/fx-agg ] || [ "$target" != all ] || fail "no bin/fx-agg"
	done
}
