#!/usr/bin/env bats
# Smoke runs under valgrind: no leak, no memory error, and no allocation per
# record (50 times the records, the same number of allocations give or take
# a few buffers growing to the longest line).

load test_helper

setup() { fx_setup_tmp; }
teardown() { fx_teardown_tmp; }

VG="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99"

# allocs CMD...: the "total heap usage: N allocs" of a run
allocs() {
	valgrind "$@" 2>&1 >/dev/null | sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' | tr -d ,
}

@test "valgrind: fx-consume NDJSON, CSV, gzip and a directory, without leaks or errors" {
	gen 2000 21 >p.ndjson
	gen 500 22 --csv >p.csv
	gzip -k p.ndjson
	mkdir -p d/os=ios && cp p.ndjson d/os=ios/
	$VG fx-consume p.ndjson >out1
	cmp out1 p.ndjson
	$VG fx-consume p.csv p.ndjson.gz >out2
	assert_equal "$(wc -l <out2)" 2500
	$VG fx-consume --partition-fields d >out3
	assert_equal "$(jq -s length out3)" 2000
	printf '%s\n' '{"a":1}' 'bad' '[2]' >bad.ndjson
	$VG fx-consume --on-error dlq=dead bad.ndjson >good
	assert_equal "$(cat good)" '{"a":1}'
	assert_equal "$(jq -r .raw dead)" "$(printf 'bad\n[2]')"
	run $VG fx-consume bad.ndjson
	assert_failure 1
}

@test "valgrind: fx-sink to stdout, a file, partitions and CSV, without leaks or errors" {
	gen 2000 23 >p.ndjson
	# not "| cmp": the pipeline's status would be cmp's, not valgrind's
	$VG fx-sink <p.ndjson >out0
	cmp out0 p.ndjson
	$VG fx-sink --file out.ndjson <p.ndjson
	cmp out.ndjson p.ndjson
	$VG fx-sink --dir w --partition dt,os <p.ndjson
	assert_equal "$(cat w/dt=*/os=*/* | wc -l)" 2000
	$VG fx-sink --format csv <p.ndjson >p.csv
	assert_equal "$(mlr --icsv --ojson cat p.csv | jq length)" 2000
	run $VG fx-sink --format csv --columns a <<<'{"a":1,"b":2}'
	assert_success
	assert_output "$(printf 'a\n1')"
	run $VG fx-sink --dir w --partition nope <p.ndjson
	assert_failure 1
}

@test "no allocation per record: fx-consume | fx-sink on 1,000 and 50,000 records" {
	gen 1000 24 >small.ndjson
	gen 50000 24 >large.ndjson
	a=$(allocs fx-consume small.ndjson)
	b=$(allocs fx-consume large.ndjson)
	echo "fx-consume: $a vs $b allocations"
	# (not "[ ] && [ ]": mid-test, a failing first test would not fail it)
	[ -n "$a" ] || fail "no allocation count from valgrind"
	[ "$b" -le $((a + 8)) ] || fail "allocations grow with the records"
	a=$(allocs fx-sink small.ndjson)
	b=$(allocs fx-sink large.ndjson)
	echo "fx-sink: $a vs $b allocations"
	[ -n "$a" ] || fail "no allocation count from valgrind"
	[ "$b" -le $((a + 8)) ] || fail "allocations grow with the records"
}

@test "no allocation per record: CSV to NDJSON" {
	gen 1000 25 --csv >small.csv
	gen 50000 25 --csv >large.csv
	a=$(allocs fx-consume small.csv)
	b=$(allocs fx-consume large.csv)
	echo "fx-consume CSV: $a vs $b allocations"
	[ -n "$a" ] || fail "no allocation count from valgrind"
	[ "$b" -le $((a + 8)) ] || fail "allocations grow with the records"
}
