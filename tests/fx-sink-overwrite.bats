#!/usr/bin/env bats
# fx-sink --overwrite: INSERT OVERWRITE of partitions, whole and atomic.

load test_helper

setup() { fx_setup_tmp; }
teardown() {
	[ -n "${SINK_PID:-}" ] && kill -9 "$SINK_PID" 2>/dev/null
	fx_teardown_tmp
}

# sums DIR...: every file under DIR with its sha256, sorted by path
sums() {
	find "$@" -type f | LC_ALL=C sort | xargs -r sha256sum
}

# tree DIR: every path under DIR, hidden ones too, sorted
tree() {
	find "$1" | LC_ALL=C sort
}

# three days, two OS each on d2; a stale file inside d2
three_days() {
	cat >old.ndjson <<'EOF'
{"dt":"d1","os":"ios","v":1}
{"dt":"d2","os":"ios","v":2}
{"dt":"d2","os":"web","v":3}
{"dt":"d3","os":"ios","v":4}
EOF
	fx-sink --dir out --partition dt,os <old.ndjson
	echo '{"stale":true}' >out/dt=d2/os=ios/part-00001.ndjson
}

@test "--overwrite dt=V replaces that partition whole; the other two stay byte-identical" {
	three_days
	sums out/dt=d1 out/dt=d3 >before.sum
	printf '%s\n' '{"dt":"d2","os":"android","v":20}' '{"dt":"d2","os":"ios","v":21}' \
		'{"dt":"d2","os":"android","v":22}' >new.ndjson
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 <new.ndjson
	assert_success
	assert_equal "$stderr" ""
	sums out/dt=d1 out/dt=d3 >after.sum
	cmp before.sum after.sum || fail "d1 or d3 changed"
	# d2 holds exactly the new records: os=web and the stale file are gone
	run tree out/dt=d2
	assert_output "out/dt=d2
out/dt=d2/os=android
out/dt=d2/os=android/part-00000.ndjson
out/dt=d2/os=ios
out/dt=d2/os=ios/part-00000.ndjson"
	assert_equal "$(cat out/dt=d2/os=android/part-00000.ndjson)" '{"dt":"d2","os":"android","v":20}
{"dt":"d2","os":"android","v":22}'
	assert_equal "$(cat out/dt=d2/os=ios/part-00000.ndjson)" '{"dt":"d2","os":"ios","v":21}'
	# nothing left behind: no staging tree, no temporary file
	run find out -name '.*'
	assert_output ""
}

@test "--overwrite run twice gives the same bytes and the same tree" {
	three_days
	printf '%s\n' '{"dt":"d2","os":"android","v":20}' '{"dt":"d2","os":"ios","v":21}' >new.ndjson
	fx-sink --dir out --partition dt,os --overwrite dt=d2 <new.ndjson
	tree out >tree1
	sums out >sum1
	fx-sink --dir out --partition dt,os --overwrite dt=d2 <new.ndjson
	tree out >tree2
	sums out >sum2
	cmp tree1 tree2 || fail "the tree changed"
	cmp sum1 sum2 || fail "the bytes changed"
	[ "$(wc -l <sum1)" -eq 4 ] || fail "expected 4 files: $(cat sum1)"
}

@test "--overwrite: SIGKILL mid-input leaves the old partition intact; the next run removes the staging leftover" {
	three_days
	sums out/dt=* >before.sum
	tree out >before.tree
	echo '{"dt":"d2","os":"android","v":20}' >a.ndjson
	echo '{"dt":"d2","os":"android","v":21}' >b.ndjson
	{ cat a.ndjson; sleep 5; cat b.ndjson; } |
		fx-sink --dir out --partition dt,os --overwrite dt=d2 &
	SINK_PID=$!
	# the first record is staged: its temporary file exists
	for _ in $(seq 100); do
		compgen -G "out/.fx-overwrite-$SINK_PID/dt=d2/os=android/.part-*" >/dev/null && break
		sleep 0.05
	done
	compgen -G "out/.fx-overwrite-$SINK_PID/dt=d2/os=android/.part-*" >/dev/null ||
		fail "no staged file: $(find out)"
	kill -9 "$SINK_PID"
	wait "$SINK_PID" || true
	SINK_PID=
	sums out/dt=* >after.sum
	cmp before.sum after.sum || fail "the data changed"
	# the leftover is hidden and is all that is new
	run diff before.tree <(tree out | grep -v '/\.fx-overwrite-')
	assert_success
	# the next run (of another partition) removes it
	echo '{"dt":"d3","os":"ios","v":40}' | fx-sink --dir out --partition dt,os --overwrite dt=d3
	run find out -name '.fx-overwrite-*'
	assert_output ""
	assert_equal "$(cat out/dt=d2/os=ios/part-00000.ndjson)" '{"dt":"d2","os":"ios","v":2}'
	assert_equal "$(cat out/dt=d3/os=ios/part-00000.ndjson)" '{"dt":"d3","os":"ios","v":40}'
}

@test "--overwrite: SIGTERM before the end of the input replaces nothing and exits 3" {
	three_days
	sums out >before.sum
	{ echo '{"dt":"d2","os":"android","v":20}'; sleep 5; } |
		fx-sink --dir out --partition dt,os --overwrite dt=d2 2>err &
	SINK_PID=$!
	for _ in $(seq 100); do
		compgen -G "out/.fx-overwrite-$SINK_PID/dt=d2/os=android/.part-*" >/dev/null && break
		sleep 0.05
	done
	kill -TERM "$SINK_PID"
	status=0
	wait "$SINK_PID" || status=$?
	SINK_PID=
	[ "$status" -eq 3 ] || fail "exit $status: $(cat err)"
	assert_equal "$(cat err)" "fx-sink: out: stopped before the end of the input: not replaced (--overwrite dt=d2)"
	sums out >after.sum
	cmp before.sum after.sum || fail "the data changed"
	run find out -name '.*'
	assert_output ""
}

@test "--overwrite: a record outside the partition is a bad record (exit 1, the old data stays); --on-error skip drops it" {
	three_days
	sums out >before.sum
	printf '%s\n' '{"dt":"d2","os":"android","v":20}' '{"dt":"d3","os":"ios","v":5}' >new.ndjson
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 <new.ndjson
	assert_failure 1
	assert_equal "$stderr" "fx-sink: stdin:2: field \"dt\": 'dt=d3' is outside 'out/dt=d2', the partition --overwrite dt=d2 replaces"
	sums out >after.sum
	cmp before.sum after.sum || fail "the data changed"
	run find out -name '.*'
	assert_output ""

	# both partitions named: the first that differs is reported
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2,os=ios <new.ndjson
	assert_failure 1
	assert_equal "$stderr" "fx-sink: stdin:1: field \"os\": 'os=android' is outside 'out/dt=d2/os=ios', the partition --overwrite dt=d2,os=ios replaces"

	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --on-error skip <new.ndjson
	assert_success
	run tree out/dt=d2
	assert_output "out/dt=d2
out/dt=d2/os=android
out/dt=d2/os=android/part-00000.ndjson"
	assert_equal "$(cat out/dt=d3/os=ios/part-00000.ndjson)" '{"dt":"d3","os":"ios","v":4}'
}

@test "--overwrite with no record: the partition becomes an empty directory" {
	three_days
	fx-sink --dir out --partition dt,os --overwrite dt=d2 </dev/null
	run tree out/dt=d2
	assert_output "out/dt=d2"
	# a partition that did not exist is created, empty
	fx-sink --dir out --partition dt,os --overwrite dt=d9,os=ios </dev/null
	run tree out/dt=d9
	assert_output "out/dt=d9
out/dt=d9/os=ios"
	[ -f out/dt=d1/os=ios/part-00000.ndjson ] || fail "d1 is gone"
}

@test "--overwrite with --table: the partition of the table's directory template; all replaces the table's top directory" {
	cat >t.json <<'EOF'
{"name": "plays", "partition_by": [{"name": "dt", "field": "event_time", "transform": "day"},
                                   {"name": "os", "field": "os"}],
 "files": {"dir": "plays/dt={dt}/os={os}"}}
EOF
	printf '%s\n' '{"event_time":"2026-11-22T10:00:00Z","os":"ios"}' \
		'{"event_time":"2026-11-23T10:00:00Z","os":"ios"}' \
		'{"event_time":"2026-11-23T11:00:00Z","os":"web"}' >old.ndjson
	fx-sink --dir wh --table t.json <old.ndjson
	mkdir wh/other && echo keep >wh/other/file
	sums wh/plays/dt=2026-11-22 wh/other >before.sum
	echo '{"event_time":"2026-11-23T12:00:00Z","os":"android"}' >new.ndjson
	run --separate-stderr fx-sink --dir wh --table t.json --overwrite dt=2026-11-23 <new.ndjson
	assert_success
	sums wh/plays/dt=2026-11-22 wh/other >after.sum
	cmp before.sum after.sum || fail "another partition changed"
	run tree wh/plays/dt=2026-11-23
	assert_output "wh/plays/dt=2026-11-23
wh/plays/dt=2026-11-23/os=android
wh/plays/dt=2026-11-23/os=android/part-00000.ndjson"

	# outside: the field is the record's, the directory the table's
	echo '{"event_time":"2026-11-24T12:00:00Z","os":"android"}' >late.ndjson
	run --separate-stderr fx-sink --dir wh --table t.json --overwrite dt=2026-11-23 <late.ndjson
	assert_failure 1
	assert_equal "$stderr" "fx-sink: stdin:1: field \"event_time\": 'dt=2026-11-24' is outside 'wh/plays/dt=2026-11-23', the partition --overwrite dt=2026-11-23 replaces"

	# all: wh/plays whole; wh/other is not the table's
	run --separate-stderr fx-sink --dir wh --table t.json --overwrite all <late.ndjson
	assert_success
	run tree wh/plays
	assert_output "wh/plays
wh/plays/dt=2026-11-24
wh/plays/dt=2026-11-24/os=android
wh/plays/dt=2026-11-24/os=android/part-00000.ndjson"
	assert_equal "$(cat wh/other/file)" keep
}

@test "--overwrite all with --partition replaces the whole directory, through a staging tree beside it" {
	three_days
	echo '{"dt":"d7","os":"ios","v":7}' | fx-sink --dir out --partition dt,os --overwrite all
	run tree out
	assert_output "out
out/dt=d7
out/dt=d7/os=ios
out/dt=d7/os=ios/part-00000.ndjson"
	run find . -name '.*fx-overwrite*'
	assert_output ""
}

@test "--overwrite usage errors exit 2 and touch nothing" {
	three_days
	sums out >before.sum
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite v=1 </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --overwrite: 'v' is not a partition (--partition dt,os) (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite os=ios </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --overwrite: 'os' without 'dt': the partitions replaced must be the leading ones of the --partition list (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --overwrite: expected NAME=V[,NAME=V]... or all, got 'dt' (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d1,dt=d2 </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --overwrite: 'dt' given twice (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --state st </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --overwrite: not with --state (a partition is replaced at the end of the input; checkpoints commit before it) (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --overwrite all </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --overwrite needs --table or --partition (the partitions it replaces) (see 'fx-sink --help')"
	run --separate-stderr fx-sink --file f.ndjson --overwrite all </dev/null
	assert_failure 2
	run --separate-stderr fx-sink -t topic --overwrite all </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --overwrite: only with --dir (see 'fx-sink --help')"
	cat >t.json <<'EOF'
{"name": "plays", "partition_by": [{"name": "dt", "field": "event_time", "transform": "day"},
                                   {"name": "os", "field": "os"}],
 "files": {"dir": "plays/dt={dt}/os={os}"}}
EOF
	run --separate-stderr fx-sink --dir out --table t.json --overwrite event_time=x </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --overwrite: 'event_time' is not a partition of table 'plays' (its partitions: dt, os) (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --table t.json --overwrite os=ios </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --overwrite: 'os' without 'dt': the partitions replaced must be the leading ones of the table's directory template (see 'fx-sink --help')"
	sums out >after.sum
	cmp before.sum after.sum || fail "the data changed"
	run find out -name '.*'
	assert_output ""
	[ ! -e out/plays ] || fail "created out/plays"
}
