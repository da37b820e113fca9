#!/usr/bin/env bats
# fx-sink --dir --state: output committed on checkpoint records, recovered
# after a crash (share/doc/checkpoints.md, "The file sink's commit"). The
# streams are written by hand: restore, records and checkpoint records.

load test_helper

setup() { fx_setup_tmp; }
teardown() {
	[ -n "${SINK_PID:-}" ] && kill -9 "$SINK_PID" 2>/dev/null
	fx_teardown_tmp
}

# stream N EVERY [FINAL]: N records over three partitions (os), a
# checkpoint record after every EVERY records (ids 1, 2, ...), the last one
# final when FINAL is "final"
stream() {
	awk -v n="$1" -v every="$2" -v final="${3:-}" 'BEGIN {
		split("ios android web", os, " ")
		for (i = 1; i <= n; i++) {
			printf "{\"os\":\"%s\",\"i\":%d,\"pad\":\"%0*d\"}\n", os[i % 3 + 1], i, i % 17, 0
			if (i % every == 0) {
				k++
				printf "{\"_fx\":\"checkpoint\",\"id\":%d,\"positions\":[[\"ods\",0,%d]]%s}\n", k, i, (i == n && final == "final") ? ",\"final\":true" : ""
			}
		}
	}'
}

# records: the stream's data records (not the control records), for a batch run
records() { grep -v '^{"_fx"'; }

# committed_size DIR REL: the size committed.json gives REL
committed_size() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1] + "/committed.json"))["files"][sys.argv[2]])' "$1" "$2"
}

# batch DIR <STREAM: what fx-sink --dir writes for the stream's records
batch() {
	records | fx-sink --dir "$1" --partition os --on-error skip
}

@test "three checkpoints: the output is the batch run's, committed.json says id 3 and the sizes" {
	{
		echo '{"_fx":"restore","id":0}'
		stream 30 10 | head -11
		echo 'not json'
		echo '{"no_os":1}'
		echo '{"_fx":"watermark","ts":"2026-11-23T10:00:00Z"}'
		stream 30 10 | tail -n +12
	} >in
	run --separate-stderr fx-sink --dir out --partition os --state st --on-error skip <in
	assert_success
	batch want <in
	diff -r want out
	[ "$(committed_id st)" = 3 ]
	grep -qF '"positions":[["ods",0,30]]' st/committed.json
	for f in os=ios os=android os=web; do
		[ "$(committed_size st "$f/part-00000.ndjson")" = "$(stat -c %s "out/$f/part-00000.ndjson")" ]
	done
	[ -z "$(ls -A st/fx-sink)" ]
}

@test "routed by _fx_dest: the batch run's files" {
	stream 30 10 | resume 0 | sed 's/"os":"\([a-z]*\)"/"_fx_dest":"ods\/\1","os":"\1"/' >in
	grep -q '"_fx_dest":"ods/ios"' in
	fx-sink --dir out --state st <in
	records <in | fx-sink --dir want
	diff -r want out
	[ "$(committed_id st)" = 3 ]
}

@test "records after the last checkpoint, then end of input: not written, pending removed, committed.json unchanged" {
	stream 20 10 | resume 0 >in
	fx-sink --dir out --partition os --state st <in
	cp st/committed.json committed.before
	stream 30 10 | after 2 | head -7 | resume 2 >more
	run --separate-stderr fx-sink --dir out --partition os --state st <more
	assert_success
	batch want <in
	diff -r want out
	cmp committed.before st/committed.json
	[ -z "$(ls -A st/fx-sink)" ]
}

@test "a final checkpoint commits; end of input after it is normal" {
	stream 25 5 final | resume 0 >in
	grep -q '"final":true' in
	run --separate-stderr fx-sink --dir out --partition os --state st <in
	assert_success
	batch want <in
	diff -r want out
	[ "$(committed_id st)" = 5 ]
}

# crash_state: checkpoints 1 and 2 committed and applied from the first 20
# records, then records 21..30 of checkpoint 3 in pending-3 (the files a
# killed fx-sink leaves)
crash_state() {
	stream 40 10 >all
	upto 2 <all | resume 0 >first
	fx-sink --dir out --partition os --state st <first
	after 2 <all | upto 3 | records | fx-sink --dir p3 --partition os
	mkdir -p st/fx-sink
	mv p3 st/fx-sink/pending-3
}

@test "crash after the commit, before the apply: the restart applies checkpoint 3 once" {
	crash_state
	# committed.json for 3, as fx-sink writes it before applying
	python3 - <<'EOF'
import json, os
c = json.load(open('st/committed.json'))
c['id'] = 3
c['positions'] = [['ods', 0, 30]]
for rel in c['files']:
    p = 'st/fx-sink/pending-3/' + rel
    c['files'][rel] += os.path.getsize(p) if os.path.exists(p) else 0
open('st/committed.json', 'w').write(json.dumps(c, separators=(',', ':')) + '\n')
EOF
	# the apply had begun: half of one file appended (a torn write)
	head -c 20 st/fx-sink/pending-3/os=ios/part-00000.ndjson >>out/os=ios/part-00000.ndjson
	after 3 <all | resume 3 >rest
	run --separate-stderr fx-sink --dir out --partition os --state st <rest
	assert_success
	batch want <all
	diff -r want out
	[ "$(committed_id st)" = 4 ]
	[ ! -e st/fx-sink/pending-3 ]
}

@test "crash before the commit: pending-3 is removed and its records are not in the output" {
	crash_state
	# the source resumes from 2; this time checkpoint 3 holds other records
	after 2 <all | upto 3 | records | sed 's/"pad"/"again"/' >redo
	{
		echo '{"_fx":"restore","id":2}'
		cat redo
		echo '{"_fx":"checkpoint","id":3,"positions":[["ods",0,30]]}'
	} >rest
	run --separate-stderr fx-sink --dir out --partition os --state st <rest
	assert_success
	{ upto 2 <all; cat redo; } | batch want
	diff -r want out
	[ -z "$(ls -A st/fx-sink)" ]
}

@test "an output file longer than committed (a torn append) is truncated at start" {
	stream 20 10 | resume 0 >in
	fx-sink --dir out --partition os --state st <in
	echo '{"os":"web","torn' >>out/os=web/part-00000.ndjson
	echo '{"_fx":"restore","id":2}' | fx-sink --dir out --partition os --state st
	batch want <in
	diff -r want out
}

@test "an output file shorter than committed, or missing: exit 3 naming it" {
	stream 20 10 | resume 0 >in
	fx-sink --dir out --partition os --state st <in
	truncate -s 5 out/os=web/part-00000.ndjson
	run --separate-stderr fx-sink --dir out --partition os --state st </dev/null
	assert_failure 3
	assert_equal "$stderr" "fx-sink: out/os=web/part-00000.ndjson: shorter (5 bytes) than checkpoint 2 committed ($(committed_size st os=web/part-00000.ndjson)): the output changed behind the job"
	rm out/os=web/part-00000.ndjson
	run --separate-stderr fx-sink --dir out --partition os --state st </dev/null
	assert_failure 3
	assert_equal "$stderr" "fx-sink: out/os=web/part-00000.ndjson: checkpoint 2 committed $(committed_size st os=web/part-00000.ndjson) bytes: No such file or directory"
}

@test "a file the job writes for the first time replaces what an earlier run left" {
	mkdir -p out/os=ios out/os=other
	# longer than what the job writes there: replaced, not overwritten
	yes '{"os":"ios","old":true}' | head -100 >out/os=ios/part-00000.ndjson
	echo '{"os":"other","old":true}' >out/os=other/part-00000.ndjson
	stream 20 10 | resume 0 >in
	fx-sink --dir out --partition os --state st <in
	records <in | fx-sink --dir want --partition os
	cp -r out/os=other want/
	diff -r want out
}

@test "SIGKILL at random moments, 30 times, each restart resuming from committed.json: the batch run's bytes" {
	# 300 checkpoints: about 2 s of fsyncs, longer than the 30 runs last
	stream 12000 40 final >all
	killed=0
	for run in $(seq 30); do
		k=$(committed_id st)
		after "$k" <all | resume "$k" >rest
		fx-sink --dir out --partition os --state st <rest 2>>sink.err &
		SINK_PID=$!
		sleep "0.0$((RANDOM % 40 + 5))"
		kill -9 "$SINK_PID" 2>/dev/null && killed=$((killed + 1))
		wait "$SINK_PID" 2>/dev/null || true
		SINK_PID=
	done
	k=$(committed_id st)
	# the kills landed: most runs died, and the stream is not done
	echo "# $killed runs killed, resuming from checkpoint $k" >&3
	[ "$killed" -ge 20 ] && [ "$k" -lt 300 ]
	after "$k" <all | resume "$k" >rest
	run --separate-stderr fx-sink --dir out --partition os --state st <rest
	assert_success
	[ "$(committed_id st)" = 300 ]
	batch want <all
	diff -r want out
	[ ! -s sink.err ] || cat sink.err
	[ ! -s sink.err ]
}

@test "FX_STATE does not turn a batch run into a checkpointed one: only --state does" {
	stream 10 5 >in
	FX_STATE=$T/st fx-sink --dir out --partition os <in
	[ ! -e st ] || fail "FX_STATE made a state directory"
	grep -v '"_fx"' in | fx-sink --dir want --partition os
	diff -r want out
}

@test "--state: usage errors for --file, stdout and CSV without --columns (Kafka: checkpoint-kafka.bats)" {
	run --separate-stderr fx-sink --state st --file x.ndjson </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --state: checkpoints are built for --dir only, not --file or stdout (see 'fx-sink --help')"
	run --separate-stderr fx-sink --state st </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --state: checkpoints are built for --dir only, not --file or stdout (see 'fx-sink --help')"
	run --separate-stderr fx-sink --state st --dir out --format csv </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --state with CSV needs --columns (the first record after a restart is not the job's first) (see 'fx-sink --help')"
	run --separate-stderr fx-sink --state '' --dir out </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --state: an empty directory name (see 'fx-sink --help')"
	[ ! -e st ] && [ ! -e out ]
}

@test "CSV with --columns: the header once per file, across checkpoints and restarts" {
	stream 20 5 >all
	upto 2 <all | resume 0 | fx-sink --dir out --partition os --format csv --columns os,i --state st
	after 2 <all | resume 2 | fx-sink --dir out --partition os --format csv --columns os,i --state st
	records <all | fx-sink --dir want --partition os --format csv --columns os,i
	diff -r want out
}

@test "a corrupt committed.json: exit 3 naming it, nothing written" {
	mkdir st
	echo '{"id":3,"positions":[' >st/committed.json
	run --separate-stderr fx-sink --dir out --partition os --state st < <(stream 10 5)
	assert_failure 3
	assert_equal "$stderr" "fx-sink: st/committed.json: corrupt: not a whole committed.json (the job's committed checkpoint)"
	[ ! -e out ]
}

@test "a restore id other than the committed one: exit 3, nothing committed" {
	stream 10 5 | resume 0 >in
	fx-sink --dir out --partition os --state st <in
	cp st/committed.json committed.before
	{ echo '{"_fx":"restore","id":1}'; stream 20 5 | after 1; } >rest
	run --separate-stderr fx-sink --dir out --partition os --state st <rest
	assert_failure 3
	assert_equal "$stderr" "fx-sink: stdin:1: the source resumes from checkpoint 1 but the sink committed 2 (st/committed.json)"
	cmp committed.before st/committed.json
	batch want <in
	diff -r want out
}

@test "a checkpoint id that does not count up: exit 3" {
	stream 10 5 | resume 0 >in
	fx-sink --dir out --partition os --state st <in
	printf '%s\n' '{"_fx":"restore","id":2}' '{"os":"ios"}' '{"_fx":"checkpoint","id":2,"positions":[]}' >again
	run --separate-stderr fx-sink --dir out --partition os --state st <again
	assert_failure 3
	assert_equal "$stderr" "fx-sink: stdin:3: checkpoint 2 after checkpoint 2 was committed: ids must count up"
	batch want <in
	diff -r want out
}

@test "a malformed checkpoint record is a bad record" {
	printf '%s\n' '{"_fx":"restore","id":0}' '{"os":"ios"}' '{"_fx":"checkpoint","positions":[]}' >in
	run --separate-stderr fx-sink --dir out --partition os --state st <in
	assert_failure 1
	assert_output ''
	[[ $stderr == 'fx-sink: stdin:3: field "_fx": not a valid checkpoint or restore record'* ]]
}

@test "a checkpoint before any restore record: exit 3 naming it, nothing committed" {
	stream 10 5 | resume 0 >in
	fx-sink --dir out --partition os --state st <in
	cp st/committed.json committed.before
	printf '%s\n' '{"_fx":"watermark","ts":"2026-11-23T10:00:00Z"}' \
		'{"_fx":"checkpoint","id":3,"positions":[]}' '{"os":"ios"}' >barrier
	run --separate-stderr fx-sink --dir out --partition os --state st <barrier
	assert_failure 3
	assert_equal "$stderr" 'fx-sink: stdin:2: checkpoint 3 before any restore record: the input is not from a checkpointed source, whose first record would be {"_fx":"restore","id":2} (st/committed.json)'
	cmp committed.before st/committed.json
	[ -z "$(ls -A st/fx-sink)" ] || fail "pending data left: $(ls -A st/fx-sink)"
	batch want <in
	diff -r want out
}

@test "a record before any restore record: exit 3 naming it, nothing written or committed" {
	printf '%s\n' '{"_fx":"restore","id":0}' '{"os":"a","n":1}' \
		'{"_fx":"checkpoint","id":1,"positions":[["f",0,1]]}' >first
	fx-sink --dir out --partition os --state st <first
	cp st/committed.json committed.before
	printf '%s\n' '{"os":"a","n":1}' '{"_fx":"checkpoint","id":2,"positions":[["f",0,1]]}' >again
	run --separate-stderr fx-sink --dir out --partition os --state st <again
	assert_failure 3
	assert_equal "$stderr" 'fx-sink: stdin:1: a record before any restore record: the input is not from a checkpointed source, whose first record would be {"_fx":"restore","id":1} (st/committed.json)'
	cmp committed.before st/committed.json
	assert_equal "$(cat out/os=a/part-00000.ndjson)" '{"os":"a","n":1}'
	[ -z "$(ls -A st/fx-sink)" ] || fail "pending data left: $(ls -A st/fx-sink)"
}
