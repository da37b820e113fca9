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

@test "--prepare leaves the old partition as it was and the prepared tree beside it; --commit swaps it in; a second --commit is exit 3" {
	three_days
	sums out >before.sum
	printf '%s\n' '{"dt":"d2","os":"android","v":20}' '{"dt":"d2","os":"ios","v":21}' >new.ndjson
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --prepare <new.ndjson
	assert_success
	assert_equal "$stderr" ""
	# the old data, byte for byte
	sums out/dt=* >after.sum
	cmp before.sum after.sum || fail "--prepare changed the data"
	# the prepared tree: exactly the new records, and its ID file
	run tree out/.fx-overwrite-prepared.dt=d2
	assert_output "out/.fx-overwrite-prepared.dt=d2
out/.fx-overwrite-prepared.dt=d2/os=android
out/.fx-overwrite-prepared.dt=d2/os=android/part-00000.ndjson
out/.fx-overwrite-prepared.dt=d2/os=ios
out/.fx-overwrite-prepared.dt=d2/os=ios/part-00000.ndjson"
	assert_equal "$(cat out/.fx-overwrite-id.dt=d2)" \
		"$(stat -c '%d %i' out/.fx-overwrite-prepared.dt=d2)"
	run find out -name '.fx-overwrite-[0-9]*'
	assert_output ""
	sums out/dt=d1 out/dt=d3 >others.sum
	# the commit reads no input: stdin stays open and unread
	mkfifo never
	exec 7<>never
	run --separate-stderr timeout 10 fx-sink --dir out --partition dt,os --overwrite dt=d2 --commit <&7
	exec 7>&-
	assert_success
	assert_equal "$stderr" ""
	run tree out/dt=d2
	assert_output "out/dt=d2
out/dt=d2/os=android
out/dt=d2/os=android/part-00000.ndjson
out/dt=d2/os=ios
out/dt=d2/os=ios/part-00000.ndjson"
	jq -c 'select(.dt == "d2" and .os == "android")' new.ndjson | cmp - out/dt=d2/os=android/part-00000.ndjson
	jq -c 'select(.dt == "d2" and .os == "ios")' new.ndjson | cmp - out/dt=d2/os=ios/part-00000.ndjson
	sums out/dt=d1 out/dt=d3 | diff -u others.sum -
	# nothing hidden left: no prepared tree, no ID file, no old tree
	run find out -name '.*'
	assert_output ""
	# again: nothing prepared, exit 3 naming it, the data stays
	sums out >committed.sum
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --commit
	assert_failure 3
	assert_equal "$stderr" "fx-sink: out/.fx-overwrite-prepared.dt=d2: no prepared tree (--overwrite dt=d2): nothing to commit; run --prepare first"
	sums out | diff -u committed.sum -
}

@test "--commit without --prepare is exit 3 and touches nothing; a failed --prepare leaves nothing to commit, not an older one" {
	three_days
	sums out >before.sum
	tree out >before.tree
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --commit </dev/null
	assert_failure 3
	assert_equal "$stderr" "fx-sink: out/.fx-overwrite-prepared.dt=d2: no prepared tree (--overwrite dt=d2): nothing to commit; run --prepare first"
	sums out | diff -u before.sum -
	tree out | diff -u before.tree -
	# a prepared tree, then a --prepare of the same partition that fails
	# on a bad record: the older prepared tree is gone with it
	echo '{"dt":"d2","os":"android","v":20}' | fx-sink --dir out --partition dt,os --overwrite dt=d2 --prepare
	[ -d out/.fx-overwrite-prepared.dt=d2 ] || fail "not prepared"
	printf '%s\n' '{"dt":"d2","os":"ios","v":30}' 'not json' |
		fx-sink --dir out --partition dt,os --overwrite dt=d2 --prepare 2>/dev/null && fail "the bad record passed"
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --commit
	assert_failure 3
	sums out | diff -u before.sum -
	tree out | diff -u before.tree -
	# a prepared tree whose ID file is missing (a --prepare that did not
	# finish) is refused too
	echo '{"dt":"d2","os":"android","v":20}' | fx-sink --dir out --partition dt,os --overwrite dt=d2 --prepare
	rm out/.fx-overwrite-id.dt=d2
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --commit
	assert_failure 3
	assert_equal "$stderr" "fx-sink: out/.fx-overwrite-prepared.dt=d2: not the tree its --prepare finished (no ID file out/.fx-overwrite-id.dt=d2, or another): run --prepare again"
	sums out/dt=* | diff -u before.sum -
}

@test "--commit after a crash between its exchange and its cleanup keeps the new data" {
	three_days
	echo '{"dt":"d2","os":"android","v":20}' >new.ndjson
	fx-sink --dir out --partition dt,os --overwrite dt=d2 --prepare <new.ndjson
	sums out/dt=d2/ >old.sum
	# the state a crash right after the exchange leaves: the new tree in
	# place, the old one under the prepared tree's name (mv keeps inodes)
	mv out/dt=d2 out/x
	mv out/.fx-overwrite-prepared.dt=d2 out/dt=d2
	mv out/x out/.fx-overwrite-prepared.dt=d2
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --commit
	assert_success
	run tree out/dt=d2
	assert_output "out/dt=d2
out/dt=d2/os=android
out/dt=d2/os=android/part-00000.ndjson"
	cmp new.ndjson out/dt=d2/os=android/part-00000.ndjson
	run find out -name '.*'
	assert_output ""
	[ "$(wc -l <old.sum)" -eq 3 ] || fail "old d2: $(cat old.sum)"
}

@test "--prepare and --commit with --table, and with all: the whole directory prepared beside it" {
	cat >t.json <<'EOF2'
{"name": "plays", "partition_by": [{"name": "dt", "field": "event_time", "transform": "day"},
                                   {"name": "os", "field": "os"}],
 "files": {"dir": "plays/dt={dt}/os={os}"}}
EOF2
	printf '%s\n' '{"event_time":"2026-11-22T10:00:00Z","os":"ios"}' \
		'{"event_time":"2026-11-23T10:00:00Z","os":"ios"}' >old.ndjson
	fx-sink --dir wh --table t.json <old.ndjson
	sums wh >before.sum
	echo '{"event_time":"2026-11-23T12:00:00Z","os":"android"}' >new.ndjson
	fx-sink --dir wh --table t.json --overwrite dt=2026-11-23 --prepare <new.ndjson
	sums wh/plays | diff -u before.sum -
	[ -d wh/.fx-overwrite-prepared.plays%2Fdt=2026-11-23 ] || fail "$(find wh)"
	fx-sink --dir wh --table t.json --overwrite dt=2026-11-23 --commit
	assert_equal "$(ls wh/plays/dt=2026-11-23)" "os=android"
	cmp new.ndjson wh/plays/dt=2026-11-23/os=android/part-00000.ndjson
	# --partition all: beside DIR
	three_days
	echo '{"dt":"d7","os":"ios","v":7}' | fx-sink --dir out --partition dt,os --overwrite all --prepare
	[ -d .out.fx-overwrite-prepared ] || fail "$(ls -a)"
	[ -f out/dt=d1/os=ios/part-00000.ndjson ] || fail "d1 gone before the commit"
	fx-sink --dir out --partition dt,os --overwrite all --commit
	run tree out
	assert_output "out
out/dt=d7
out/dt=d7/os=ios
out/dt=d7/os=ios/part-00000.ndjson"
	run find . -name '.*fx-overwrite*'
	assert_output ""
}

@test "--prepare, --commit and --abort usage errors exit 2" {
	three_days
	sums out >before.sum
	run --separate-stderr fx-sink --dir out --partition dt,os --prepare </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --prepare, --commit and --abort need --overwrite (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --partition dt,os --abort </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --prepare, --commit and --abort need --overwrite (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --prepare --commit </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --prepare, --commit and --abort go separately (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --commit --abort </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --prepare, --commit and --abort go separately (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --commit old.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --commit reads no input: no FILE (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --abort old.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --abort reads no input: no FILE (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite os=ios --abort
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --overwrite: 'os' without 'dt': the partitions replaced must be the leading ones of the --partition list (see 'fx-sink --help')"
	sums out | diff -u before.sum -
	run find out -name '.*'
	assert_output ""
}

@test "--abort after --prepare removes the prepared tree and its ID file, the old data byte-identical; a --commit after it is exit 3" {
	three_days
	sums out >before.sum
	printf '%s\n' '{"dt":"d2","os":"android","v":20}' '{"dt":"d2","os":"ios","v":21}' |
		fx-sink --dir out --partition dt,os --overwrite dt=d2 --prepare
	[ -d out/.fx-overwrite-prepared.dt=d2 ] || fail "not prepared: $(ls -a out)"
	[ -f out/.fx-overwrite-id.dt=d2 ] || fail "no ID file: $(ls -a out)"
	# the abort reads no input: stdin stays open and unread
	mkfifo never
	exec 7<>never
	run --separate-stderr timeout 10 fx-sink --dir out --partition dt,os --overwrite dt=d2 --abort <&7
	exec 7>&-
	assert_success
	assert_equal "$stderr" ""
	run find out -name '.*'
	assert_output ""
	sums out | diff -u before.sum -
	# nothing to commit now
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --commit
	assert_failure 3
	assert_equal "$stderr" "fx-sink: out/.fx-overwrite-prepared.dt=d2: no prepared tree (--overwrite dt=d2): nothing to commit; run --prepare first"
	sums out | diff -u before.sum -
	# idempotent: nothing prepared is exit 0, silent, nothing changes; so
	# is a directory that does not exist
	tree out >before.tree
	run --separate-stderr fx-sink --dir out --partition dt,os --overwrite dt=d2 --abort
	assert_success
	assert_equal "$stderr" ""
	tree out | diff -u before.tree -
	run --separate-stderr fx-sink --dir nowhere --partition dt,os --overwrite dt=d2 --abort
	assert_success
	assert_equal "$stderr" ""
	[ ! -e nowhere ] || fail "--abort created nowhere"
}

@test "--abort removes only its partitions' prepared tree, and staging trees of dead runs; --table and all" {
	three_days
	echo '{"dt":"d1","os":"ios","v":10}' | fx-sink --dir out --partition dt,os --overwrite dt=d1 --prepare
	echo '{"dt":"d2","os":"ios","v":20}' | fx-sink --dir out --partition dt,os --overwrite dt=d2 --prepare
	# a staging tree whose run is gone (a SIGKILL), and one of a live run
	sh -c 'exit 0' & dead=$!
	wait $dead
	mkdir -p "out/.fx-overwrite-$dead/dt=d3" "out/.fx-overwrite-$$/dt=d3"
	fx-sink --dir out --partition dt,os --overwrite dt=d2 --abort
	run sh -c "find out -name '.*' -prune | LC_ALL=C sort"
	assert_output "out/.fx-overwrite-$$
out/.fx-overwrite-id.dt=d1
out/.fx-overwrite-prepared.dt=d1"
	rmdir "out/.fx-overwrite-$$/dt=d3" "out/.fx-overwrite-$$"
	fx-sink --dir out --partition dt,os --overwrite dt=d1 --commit
	assert_equal "$(cat out/dt=d1/os=ios/part-00000.ndjson)" '{"dt":"d1","os":"ios","v":10}'
	# all, with --partition: the prepared tree beside DIR
	sums out >before.sum
	echo '{"dt":"d7","os":"ios","v":7}' | fx-sink --dir out --partition dt,os --overwrite all --prepare
	[ -d .out.fx-overwrite-prepared ] || fail "$(ls -a)"
	fx-sink --dir out --partition dt,os --overwrite all --abort
	run find . -name '.*fx-overwrite*'
	assert_output ""
	sums out | diff -u before.sum -
	# --table
	cat >t.json <<'EOF2'
{"name": "plays", "partition_by": [{"name": "dt", "field": "event_time", "transform": "day"}],
 "files": {"dir": "plays/dt={dt}"}}
EOF2
	echo '{"event_time":"2026-11-23T10:00:00Z"}' | fx-sink --dir wh --table t.json
	sums wh >before.sum
	echo '{"event_time":"2026-11-23T12:00:00Z"}' | fx-sink --dir wh --table t.json --overwrite dt=2026-11-23 --prepare
	[ -d wh/.fx-overwrite-prepared.plays%2Fdt=2026-11-23 ] || fail "$(find wh)"
	fx-sink --dir wh --table t.json --overwrite dt=2026-11-23 --abort
	run find wh -name '.*'
	assert_output ""
	sums wh | diff -u before.sum -
}

@test "--abort after a commit stopped after its exchange keeps the new data" {
	three_days
	echo '{"dt":"d2","os":"android","v":20}' >new.ndjson
	fx-sink --dir out --partition dt,os --overwrite dt=d2 --prepare <new.ndjson
	# the state a crash right after the exchange leaves (see --commit's test)
	mv out/dt=d2 out/x
	mv out/.fx-overwrite-prepared.dt=d2 out/dt=d2
	mv out/x out/.fx-overwrite-prepared.dt=d2
	fx-sink --dir out --partition dt,os --overwrite dt=d2 --abort
	run tree out/dt=d2
	assert_output "out/dt=d2
out/dt=d2/os=android
out/dt=d2/os=android/part-00000.ndjson"
	cmp new.ndjson out/dt=d2/os=android/part-00000.ndjson
	run find out -name '.*'
	assert_output ""
}
