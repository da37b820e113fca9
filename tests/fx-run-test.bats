#!/usr/bin/env bats
# fx-run PIPELINE --test DIR (issue 14): a pipeline's golden cases run as a
# batch over files and as a stream through its own fx-devbroker, compared
# with the expected rows and with each other.

load test_helper

# Every fx-run runs under timeout: a run that hangs fails its test (124)
# instead of the suite.
setup() {
	fx_setup_tmp
	export TMPDIR=$T # fx-run --test's scratch directory, removed by teardown
	EX=$FX_ROOT/share/examples
}

teardown() {
	fx_teardown_tmp
}

# the little tables of the pipelines written here: a Kafka topic of 4
# partitions and a directory per value of k
table() {
	cat >"$1.table.json" <<-EOF
		{"name": "$1", "partition_by": [{"name": "k", "field": "k"}],
		 "kafka": {"default": "$1", "dynamic": false, "partitions": 4},
		 "files": {"dir": "$1/k={k}"}}
	EOF
}

@test "the demo's golden cases pass in both modes" {
	run --separate-stderr timeout 300 fx-run "$EX/music.pipeline.json" --test "$EX/tests"
	assert_success
	# midnight, counted by hand: cdm_play 10 rows in dt=2026-11-23/hour=23
	# and dt=2026-11-24/hour=00, ads_genre_minute 5 rows in two days
	assert_equal "${#lines[@]}" 4
	assert_line --index 0 --regexp '^ok generated batch: 2 tables, [0-9]+ partitions, [0-9]+ rows, as expected$'
	assert_line --index 1 --regexp '^ok generated stream: 2 tables, [0-9]+ partitions, [0-9]+ rows, as the batch \(rows sorted in a partition\)$'
	assert_line --index 2 'ok midnight batch: 2 tables, 4 partitions, 15 rows, as expected'
	assert_line --index 3 'ok midnight stream: 2 tables, 4 partitions, 15 rows, as the batch (rows sorted in a partition)'
	# generated: the rows and partitions the SQL oracle wrote
	rows=$(cat "$EX"/tests/generated/expected/*.ndjson | wc -l)
	parts=$(( $(jq -r '.event_time[0:13]' "$EX/tests/generated/expected/cdm_play.ndjson" | sort -u | wc -l) +
		$(jq -r '.window_start[0:10]' "$EX/tests/generated/expected/ads_genre_minute.ndjson" | sort -u | wc -l) ))
	assert_line --index 0 "ok generated batch: 2 tables, $parts partitions, $rows rows, as expected"
	# nothing left behind: the scratch directory and the brokers
	run find "$T" -name 'fx-run-test.*'
	assert_output ''
}

@test "the golden rows are SQL's: derive.sh (sqlite3, no fx program) writes the committed expected files again" {
	cp -r "$EX/tests" cases
	mkdir music && cp "$EX/music/songs.csv" music/
	for c in generated midnight; do
		rm -r "cases/$c/expected"
		cases/derive.sh "$c"
		diff -r "$EX/tests/$c/expected" "cases/$c/expected"
	done
	# and the oracle is not empty-handed: rows of several genres and days
	[ "$(jq -r .genre cases/generated/expected/ads_genre_minute.ndjson | sort -u | wc -l)" -gt 5 ] || fail "few genres"
	[ "$(jq -r '.window_start[0:10]' cases/generated/expected/ads_genre_minute.ndjson | sort -u | wc -l)" = 2 ] || fail "not two days"
}

@test "a wrong expected row: the case, the mode, the job, the partition, the row and its line, both rows; exit 1" {
	cp -r "$EX/tests/midnight" midnight-case
	mkdir cases && mv midnight-case cases/midnight
	# row 4 of the file, the r&b row: plays 1 (by hand) made 2
	sed -i '4s/"plays":1,/"plays":2,/' cases/midnight/expected/ads_genre_minute.ndjson
	run --separate-stderr timeout 300 fx-run "$EX/music.pipeline.json" --test cases
	assert_failure 1
	assert_line --index 0 'FAIL midnight batch: 1 of 2 tables differ from expected'
	assert_line --index 1 'ok midnight stream: 2 tables, 4 partitions, 15 rows, as the batch (rows sorted in a partition)'
	run grep -F -x -A2 "fx-run: cases/midnight: batch: job ads_genre_minute: table ads_genre_minute, partition ads_genre_minute/dt=2026-11-24: row 2 (expected/ads_genre_minute.ndjson:4) differs" <<<"$stderr"
	assert_success
	assert_line --index 1 '  expected: {"window_start":"2026-11-24T00:00:00.000Z","window_end":"2026-11-24T00:01:00.000Z","genre":"r&b","os":"harmonyos","plays":2,"listen_ms":11000,"listeners":1}'
	assert_line --index 2 '  batch:    {"window_start":"2026-11-24T00:00:00.000Z","window_end":"2026-11-24T00:01:00.000Z","genre":"r&b","os":"harmonyos","plays":1,"listen_ms":11000,"listeners":1}'
}

@test "a missing expected row and whitespace: rows compare without JSON whitespace; the batch's extra row is named" {
	cp -r "$EX/tests/midnight" cases-midnight
	mkdir cases && mv cases-midnight cases/midnight
	# spaces outside strings do not matter (inside them they would)
	sed 's/,"/ , "/g; s/^{/{ /; s/}$/ }/' "$EX/tests/midnight/expected/ads_genre_minute.ndjson" \
		>cases/midnight/expected/ads_genre_minute.ndjson
	grep -q ' , "genre"' cases/midnight/expected/ads_genre_minute.ndjson || fail "no spaces added"
	run timeout 300 fx-run "$EX/music.pipeline.json" --test cases
	assert_success
	# the last row of cdm_play (dt=2026-11-24, hour=00, its 5th) left out
	sed -i '$d' cases/midnight/expected/cdm_play.ndjson
	run --separate-stderr timeout 300 fx-run "$EX/music.pipeline.json" --test cases
	assert_failure 1
	run grep -F -x -A2 "fx-run: cases/midnight: batch: job cdm_play: table cdm_play, partition cdm_play/dt=2026-11-24/hour=00: row 5 (cdm_play/dt=2026-11-24/hour=00/part-00000.ndjson:5) differs" <<<"$stderr"
	assert_success
	assert_line --index 1 '  expected: (no row 5: 4 rows)'
	assert_line --index 2 '  batch:    {"event_time":"2026-11-24T00:00:50.000Z","user_id":4,"song_id":19,"os":"harmonyos","duration_ms":11000,"genre":"r&b"}'
}

@test "jobs run in dependency order in both modes: a job listed first reads the sink of the next" {
	table src && table mid && table out
	cat >p.json <<-'EOF'
		{"name": "chain",
		 "tables": {"src": {"file": "src.table.json", "layer": "ods"},
		            "mid": {"file": "mid.table.json", "layer": "cdm"},
		            "out": {"file": "out.table.json", "layer": "ads"}},
		 "jobs": {
		   "upper": {"source": "mid", "sink": "out",
		             "steps": [{"name": "up", "sh": "jq -c 'if has(\"_fx\") then . else .v |= ascii_upcase end'"}]},
		   "double": {"source": "src", "sink": "mid",
		              "steps": [{"name": "twice", "sh": "jq -c 'if has(\"_fx\") then . else .n *= 2 end'"}]}}}
	EOF
	mkdir -p cases/one/input cases/one/expected
	printf '%s\n' '{"k":"x","n":1,"v":"a"}' '{"k":"y","n":2,"v":"b"}' '{"k":"x","n":3,"v":"c"}' >cases/one/input/src.ndjson
	# by hand: n doubled, then v upper-cased; partitions k=x then k=y
	printf '%s\n' '{"k":"x","n":2,"v":"a"}' '{"k":"x","n":6,"v":"c"}' '{"k":"y","n":4,"v":"b"}' >cases/one/expected/mid.ndjson
	printf '%s\n' '{"k":"x","n":2,"v":"A"}' '{"k":"x","n":6,"v":"C"}' '{"k":"y","n":4,"v":"B"}' >cases/one/expected/out.ndjson
	run --separate-stderr timeout 300 fx-run p.json --test cases
	assert_success
	assert_line --index 0 'ok one batch: 2 tables, 4 partitions, 6 rows, as expected'
	assert_line --index 1 'ok one stream: 2 tables, 4 partitions, 6 rows, as the batch (rows sorted in a partition)'
}

@test "a job whose rows depend on the order it reads: the stream differs from the batch, and the row is named" {
	table src && table out
	# numbers the records as they come: a batch reads the file in order,
	# a stream gets the 4 Kafka partitions interleaved
	cat >p.json <<-'EOF'
		{"name": "seq",
		 "tables": {"src": {"file": "src.table.json"}, "out": {"file": "out.table.json"}},
		 "jobs": {"number": {"source": "src", "sink": "out",
		   "steps": [{"name": "seq", "sh": "jq -c -n 'foreach (inputs | select(has(\"_fx\") | not)) as $r (0; . + 1; $r + {seq: .})'"}]}}}
	EOF
	mkdir -p cases/order/input cases/order/expected
	for i in $(seq 40); do printf '{"k":"x","i":%d}\n' "$i"; done >cases/order/input/src.ndjson
	jq -c '. + {seq: .i}' cases/order/input/src.ndjson >cases/order/expected/out.ndjson
	run --separate-stderr timeout 300 fx-run p.json --test cases
	assert_failure 1
	assert_line --index 0 'ok order batch: 1 tables, 1 partitions, 40 rows, as expected'
	assert_line --index 1 'FAIL order stream: 1 of 1 tables differ from the batch (rows sorted in a partition)'
	run grep -E -x -A2 'fx-run: cases/order: stream: job number: table out, partition out/k=x: row [0-9]+ \(out/k=x/part-00000\.ndjson:[0-9]+\) differs' <<<"$stderr"
	assert_success
	assert_line --index 1 --regexp '^  batch:    \{"k":"x","i":[0-9]+,"seq":[0-9]+\}$'
	assert_line --index 2 --regexp '^  stream:   \{"k":"x","i":[0-9]+,"seq":[0-9]+\}$'
}

@test "a case that is not one: a table the pipeline lacks, an input a job writes, an expected table no job writes; exit 2 before anything runs" {
	mkdir -p cases/bad/input cases/bad/expected
	echo '{}' >cases/bad/input/nosuch.ndjson
	echo '{}' >cases/bad/input/cdm_play.ndjson
	echo '{}' >cases/bad/expected/ods_play.ndjson
	echo '{}' >cases/bad/expected/notes.txt
	run --separate-stderr timeout 300 fx-run "$EX/music.pipeline.json" --test cases
	assert_failure 2
	assert_output ''
	assert_equal "$stderr" "fx-run: cases/bad/input/cdm_play.ndjson: job cdm_play writes table 'cdm_play': its rows are expected/, not input/
fx-run: cases/bad/input/nosuch.ndjson: $EX/music.pipeline.json has no table 'nosuch'
fx-run: cases/bad/expected/notes.txt: not TABLE.ndjson
fx-run: cases/bad/expected/ods_play.ndjson: no job writes table 'ods_play': its rows are input/, not expected/"
	run --separate-stderr timeout 300 fx-run "$EX/music.pipeline.json" --test empty-dir-that-is-not-there
	assert_failure 2
	assert_equal "$stderr" "fx-run: empty-dir-that-is-not-there: No such file or directory"
	mkdir nocases
	run --separate-stderr timeout 300 fx-run "$EX/music.pipeline.json" --test nocases
	assert_failure 2
	assert_equal "$stderr" "fx-run: nocases: no cases (a directory per case, with input/ and expected/)"
}

@test "a job that fails: its message with the case, mode and job, and its status; the other mode is not compared" {
	table src && table out
	cat >p.json <<-'EOF'
		{"name": "broken", "tables": {"src": {"file": "src.table.json"}, "out": {"file": "out.table.json"}},
		 "jobs": {"j": {"source": "src", "sink": "out", "steps": [{"name": "boom", "sh": "echo no >&2; exit 4"}]}}}
	EOF
	mkdir -p cases/c/input
	echo '{"k":"x"}' >cases/c/input/src.ndjson
	run --separate-stderr timeout 300 fx-run p.json --test cases
	assert_failure 4
	assert_line --index 0 'FAIL c batch: not run to its end (status 4)'
	assert_line --index 1 'FAIL c stream: not run (the batch failed)'
	[[ $stderr == *"c: batch: job j: boom: no"* ]] || fail "no prefixed message: $stderr"
	[[ $stderr == *"fx-run: cases/c: batch: job j failed (status 4)"* ]] || fail "no status: $stderr"
	run find "$T" -name 'fx-run-test.*'
	assert_output ''
}

@test "a stream job that fails: its status, and the case's broker is stopped" {
	table src && table out
	# fails unless the records come in the file's order: a stream's do not
	cat >p.json <<-'EOF'
		{"name": "ordered", "tables": {"src": {"file": "src.table.json"}, "out": {"file": "out.table.json"}},
		 "jobs": {"j": {"source": "src", "sink": "out", "steps": [{"name": "check",
		   "sh": "jq -c -n '[inputs | select(has(\"_fx\") | not)] | if map(.i) != [range(1; 41)] then error(\"out of order\") else .[] end'"}]}}}
	EOF
	mkdir -p cases/c/input
	for i in $(seq 40); do printf '{"k":"x","i":%d}\n' "$i"; done >cases/c/input/src.ndjson
	run --separate-stderr timeout 300 fx-run p.json --test cases
	assert_failure 5
	assert_line --index 0 'ok c batch: 0 tables, 0 partitions, 0 rows, as expected'
	assert_line --index 1 'FAIL c stream: not run to its end (status 5)'
	[[ $stderr == *"c: stream: job j: check: jq: error"*"out of order"* ]] || fail "no prefixed message: $stderr"
	run pgrep -f "$T/fx-run-test"
	assert_failure 1
	run find "$T" -name 'fx-run-test.*'
	assert_output ''
}

@test "SIGTERM while a case streams: the stages are stopped, nothing more runs, status 130, the broker and the scratch directory gone" {
	fx-run "$EX/music.pipeline.json" --test "$EX/tests" >out.txt 2>err.txt 3>&- &
	pid=$!
	# the first case's broker is up: its stream is on its way
	for _ in $(seq 600); do
		compgen -G "$T/fx-run-test.*/generated/broker.bs" >/dev/null && break
		sleep 0.05
	done
	compgen -G "$T/fx-run-test.*/generated/broker.bs" >/dev/null || fail "no broker: $(cat err.txt)"
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 130
	run cat out.txt
	assert_output 'ok generated batch: 2 tables, 4 partitions, 673 rows, as expected
FAIL generated stream: not run to its end (status 130)'
	run pgrep -f "$T/fx-run-test"
	assert_failure 1
	run find "$T" -name 'fx-run-test.*'
	assert_output ''
}

@test "-p NAME=V reaches every job in both modes, over the file's params; --warehouse, -b and -e are usage errors" {
	table src && table out
	cat >p.json <<-'EOF2'
		{"name": "tagged", "params": {"tag": "file"},
		 "tables": {"src": {"file": "src.table.json"}, "out": {"file": "out.table.json"}},
		 "jobs": {"j": {"source": "src", "sink": "out",
		   "steps": [{"name": "tag", "sh": "jq -c 'if has(\"_fx\") then . else .tag = \"${tag}\" end'"}]}}}
	EOF2
	mkdir -p cases/c/input cases/c/expected
	printf '%s\n' '{"k":"x","n":1}' '{"k":"y","n":2}' >cases/c/input/src.ndjson
	# by hand: the tag of -p, not the file's
	printf '%s\n' '{"k":"x","n":1,"tag":"cli"}' '{"k":"y","n":2,"tag":"cli"}' >cases/c/expected/out.ndjson
	run --separate-stderr timeout 300 fx-run p.json --test cases -p tag=cli
	assert_success
	assert_line --index 0 'ok c batch: 1 tables, 2 partitions, 2 rows, as expected'
	assert_line --index 1 'ok c stream: 1 tables, 2 partitions, 2 rows, as the batch (rows sorted in a partition)'
	# without it, the file's tag: the batch differs from the expected rows
	run --separate-stderr timeout 300 fx-run p.json --test cases
	assert_failure 1
	assert_line --index 0 'FAIL c batch: 1 of 1 tables differ from expected'
	[[ $stderr == *'"tag":"file"'* ]] || fail "not the file's tag: $stderr"
	# a golden case runs in scratch warehouses and its own broker
	mkdir wh
	run --separate-stderr timeout 300 fx-run p.json --test cases --warehouse wh
	assert_failure 2
	assert_output ''
	assert_equal "$stderr" "fx-run: --warehouse: not with --test: each case runs in scratch warehouses of its own (see 'fx-run --help')"
	run find wh
	assert_output 'wh'
	for opt in '-b 127.0.0.1:9' -e; do
		run --separate-stderr timeout 300 fx-run p.json --test cases $opt
		assert_failure 2
		assert_output ''
		assert_equal "$stderr" "fx-run: -b and -e: not with --test: each case streams through an fx-devbroker of its own, to the end of its topics (see 'fx-run --help')"
	done
	run find "$T" -name 'fx-run-test.*'
	assert_output ''
}
