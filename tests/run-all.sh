#!/usr/bin/env bash
# Every test: C unit tests under ASan+UBSan, the bats suites, a short fuzz
# run of each target. Ends with one line "N passed, N failed" (unit tests and
# bats tests added up; each fuzz target counts as one) and exits non-zero on
# any failure. Run by `make test` from the repository root.
#
# A unit test that exits non-zero fails even if its own count says it
# passed: a sanitizer report at exit (a leak) comes after that line.
# FX_TEST_PARTS (default "unit bats fuzz") runs some of the parts;
# FX_UNIT_TESTS (default: build them, then build/asan/test_*) names the
# unit test programs (for testing this script).
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0
parts=" ${FX_TEST_PARTS:-unit bats fuzz} "
log=build/test-logs
mkdir -p "$log"

count_unit() {
	local f=$1 p q
	while read -r _ _ p _ q _; do
		passed=$((passed + p)) failed=$((failed + q))
	done < <(grep -E '^unit: .*: [0-9]+ passed, [0-9]+ failed' "$f" | sed 's/,//')
}

if [[ $parts == *" unit "* ]]; then
	echo "== unit tests (ASan + UBSan)"
	if [ -n "${FX_UNIT_TESTS:-}" ] || make -s asan >"$log/asan-build.log" 2>&1; then
		for t in ${FX_UNIT_TESTS:-build/asan/test_*}; do
			[ -x "$t" ] || continue
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
				"$t" >"$log/$(basename "$t").log" 2>&1
			rc=$?
			grep -E '^unit: ' "$log/$(basename "$t").log"
			before=$failed
			count_unit "$log/$(basename "$t").log"
			if [ $rc -ne 0 ]; then
				# its own failures are counted; else the exit is one
				[ $failed -gt $before ] || failed=$((failed + 1))
				echo "FAILED: $t (exit $rc), log:"; tail -n 20 "$log/$(basename "$t").log"
			fi
		done
	else
		echo "FAILED: make asan"; tail -n 30 "$log/asan-build.log"; failed=$((failed + 1))
	fi
fi

if [[ $parts == *" bats "* ]]; then
	echo "== bats"
	# one test file more at a time than there are cores (GNU parallel,
	# from make deps): much of a file's time is spent waiting on brokers
	# and timers, not on a core; the tests of one file stay in order.
	# FX_TEST_JOBS=1 runs one file at a time. (The lineage files run with the others: a pipe every
	# pipeline of a test holds, parallel's, joins no runs; see
	# tests/fx-lineage-shared.bats.)
	# --timing puts each test's time on its line ("in N ms"), so that a
	# slow test can be found in CI's log.
	jobs=${FX_TEST_JOBS:-$(($(nproc 2>/dev/null || echo 1) + 1))}
	command -v parallel >/dev/null || jobs=1
	bats --formatter tap --timing --jobs "$jobs" --no-parallelize-within-files \
		tests/*.bats >"$log/bats.tap" 2>&1
	cat "$log/bats.tap"
	# a skipped test (only the pty tests, where no pty exists) is not a pass
	bs=$(grep -c '^ok .* # skip' "$log/bats.tap")
	bp=$(($(grep -c '^ok ' "$log/bats.tap") - bs))
	skipped=$((skipped + bs))
	bf=$(grep -c '^not ok ' "$log/bats.tap")
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$log/bats.tap" | awk '{ n += $1 } END { if (NR) print n }')
	passed=$((passed + bp)) failed=$((failed + bf))
	if [ -n "$plan" ] && [ $((bp + bf + bs)) -lt "$plan" ]; then
		echo "FAILED: bats ran $((bp + bf + bs)) of $plan tests"
		failed=$((failed + plan - bp - bf - bs))
	fi
fi

if [[ $parts == *" fuzz "* ]]; then
	echo "== fuzz (${FUZZ_SECONDS:-15}s per target)"
	if make -s fuzz >"$log/fuzz-build.log" 2>&1; then
		for f in build/fuzz/fuzz_*; do
			[ -x "$f" ] || continue
			case $f in *.log) continue ;; esac
			name=$(basename "$f")
			mkdir -p "build/fuzz/corpus-$name"
			if "$f" -max_total_time="${FUZZ_SECONDS:-15}" -max_len=4096 -print_final_stats=1 \
				"build/fuzz/corpus-$name" tests/fuzz/seeds >"$log/$name.log" 2>&1; then
				echo "ok fuzz $name: $(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log/$name.log" || grep -Eo '#[0-9]+ *DONE' "$log/$name.log" | tail -n 1)"
				passed=$((passed + 1))
			else
				echo "FAILED: fuzz $name"; tail -n 30 "$log/$name.log"; failed=$((failed + 1))
			fi
		done
	else
		echo "FAILED: make fuzz"; tail -n 30 "$log/fuzz-build.log"; failed=$((failed + 1))
	fi
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
