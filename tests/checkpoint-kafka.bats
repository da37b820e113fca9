#!/usr/bin/env bats
# fx-sink -t --state: one Kafka transaction per checkpoint record, a marker
# in the commit log inside each, committed.json written after the commit
# and brought up to the commit log at start (fx-sink(1), CHECKPOINTS; share/
# doc/checkpoints.md, "The Kafka sink"). The streams are written by hand:
# restore, records and checkpoint records.
#
# fx-devbroker (librdkafka's mock cluster) runs transactions but writes no
# commit or abort markers: a read_committed reader sees an aborted
# transaction's records too (the first test shows it). So the byte-level
# proof of exactly-once is the file sink's (checkpoint-sink.bats,
# chaos.bats), and here "the topic's committed records" are the records
# that the commit log's markers cover: each marker names the offsets its
# transaction's records got ("output": [[topic, partition, first, last]]).

load test_helper

setup() {
	fx_setup_tmp
	fx_broker_start
}
teardown() {
	[ -n "${SINK_PID:-}" ] && kill -9 "$SINK_PID" 2>/dev/null
	fx_teardown_tmp
}

# stream N EVERY [FINAL]: N records, a checkpoint record after every EVERY
# records (ids 1, 2, ...), the last one final when FINAL is "final"
stream() {
	awk -v n="$1" -v every="$2" -v final="${3:-}" 'BEGIN {
		split("ios android web", os, " ")
		for (i = 1; i <= n; i++) {
			printf "{\"os\":\"%s\",\"i\":%d}\n", os[i % 3 + 1], i
			if (i % every == 0) {
				k++
				printf "{\"_fx\":\"checkpoint\",\"id\":%d,\"positions\":[[\"ods\",0,%d]]%s}\n", k, i, (i == n && final == "final") ? ",\"final\":true" : ""
			}
		}
	}'
}

# records: the stream's data records (not the control records)
records() { grep -v '^{"_fx"' || true; }

# topic TOPIC: every record in TOPIC as "PARTITION OFFSET VALUE", read
# with isolation.level=read_committed
topic() {
	kcat -b "$B" -C -t "$1" -e -q -X isolation.level=read_committed \
		-f '%p %o %s\n'
}

# markers TOPIC: the commit log's markers (TOPIC.fx-commits, partition 0)
markers() {
	kcat -b "$B" -C -t "$1.fx-commits" -p 0 -e -q \
		-X isolation.level=read_committed -f '%s\n'
}

# committed TOPIC: the records of TOPIC that the commit log's markers
# cover, sorted; fails if two markers name the same checkpoint or a marker
# covers a record twice
committed() {
	topic "$1" >topic.out
	markers "$1" >markers.out
	python3 - topic.out markers.out <<'EOF'
import json, sys
recs = {}
for line in open(sys.argv[1]):
    p, o, v = line.rstrip('\n').split(' ', 2)
    recs[(int(p), int(o))] = v
ids, out = set(), []
for line in open(sys.argv[2]):
    m = json.loads(line)
    if m['id'] in ids:
        sys.exit('checkpoint %d committed twice' % m['id'])
    ids.add(m['id'])
    for t, p, first, last in m['output']:
        out += [recs[(p, o)] for o in range(first, last + 1) if (p, o) in recs]
if ids and sorted(ids) != list(range(1, max(ids) + 1)):
    sys.exit('checkpoints committed: %s' % sorted(ids))
if len(out) != len(set(out)):
    sys.exit('a record is in the committed transactions twice')
print('\n'.join(sorted(out)))
EOF
}

# calls LOG: the transaction calls in fx-sink's -X debug=eos,protocol log
calls() {
	grep -oE 'Transactional API called: [a-z_]+|Sent EndTxnRequest|Acquired PID' "$1" |
		sed -E 's/Transactional API called: //; s/Sent EndTxnRequest/EndTxn/; s/Acquired PID/InitProducerId/' |
		tr '\n' ' '
}

@test "the mock broker does not hide an aborted transaction's records from read_committed readers (fx-sink(1) says so)" {
	{
		echo '{"_fx":"restore","id":0}'
		stream 5 100
		sleep 10
	} | fx-sink -t out --state st 2>sink.err &
	SINK_PID=$!
	for i in $(seq 100); do
		[ "$(topic out | wc -l)" -ge 5 ] && break
		sleep 0.1
	done
	kill -9 "$SINK_PID"
	wait "$SINK_PID" 2>/dev/null || true
	SINK_PID=
	# the restart's init_transactions would abort the open transaction
	echo '{"_fx":"restore","id":0}' | fx-sink -t out --state st
	[ "$(topic out | wc -l)" = 5 ]
	[ "$(committed_id st)" = 0 ]
	[ -z "$(committed out)" ]
}

@test "the transaction calls: init at start, begin and commit per checkpoint, abort at the end without a final checkpoint" {
	{
		stream 30 10 | resume 0
		stream 35 10 | after 3
		# the last records delivered (in the transaction), then the end
		for i in $(seq 100); do
			[ "$(topic out | wc -l)" -ge 35 ] && break
			sleep 0.1
		done
	} | fx-sink -t out --state st -X debug=eos,protocol 2>log
	assert_equal "$(calls log)" "init_transactions InitProducerId begin_transaction commit_transaction EndTxn begin_transaction commit_transaction EndTxn begin_transaction commit_transaction EndTxn begin_transaction abort_transaction EndTxn "
	grep -q 'out \[[0-9]\] registered with transaction' log
	grep -q 'out.fx-commits \[0\] registered with transaction' log
	[ "$(committed_id st)" = 3 ]
	assert_equal "$(cat st/committed.json)" '{"id":3,"positions":[["ods",0,30]],"files":{}}'
}

@test "a final checkpoint commits, and nothing is left to abort" {
	stream 20 10 final | resume 0 | fx-sink -t out --state st -X debug=eos,protocol 2>log
	assert_equal "$(calls log)" "init_transactions InitProducerId begin_transaction commit_transaction EndTxn begin_transaction commit_transaction EndTxn "
	[ "$(committed_id st)" = 2 ]
}

@test "three checkpoints and records after them: the committed records are the checkpoints' records, once each" {
	stream 35 10 | resume 0 >in
	run --separate-stderr fx-sink -t out --state st --stats <in
	assert_success
	# --stats: the records of committed transactions only
	[[ $stderr == *", 30 records out,"* ]]
	stream 30 10 | records | sort >want
	committed out >got
	diff want got
	# the markers: barrier K, the job, where its records went
	markers out >m
	[ "$(wc -l <m)" = 3 ]
	job=$(sed -E 's/.*"job":"([^"]*)".*/\1/' m | sort -u)
	[[ $job == fx-sink.* ]] && [ "$(echo "$job" | wc -l)" = 1 ]
	grep -q '^{"_fx":"checkpoint","id":2,"positions":\[\["ods",0,20\]\],"job":"fx-sink\.[0-9a-f]*","output":\[\["out",' m
	# fx-consume reads them back, and a restart goes on from 3
	stream 60 10 | after 3 | resume 3 | fx-sink -t out --state st
	[ "$(committed_id st)" = 6 ]
	stream 60 10 | records | sort >want
	committed out >got
	diff want got
	fx-consume -t out -e | sort >consumed
	# the mock also shows the aborted records 31..35 of the first run
	[ "$(comm -23 want consumed | wc -l)" = 0 ]
}

@test "fx-consume --checkpoint | fx-sink -t --state: each run commits what the topic got since, once" {
	seq 1 100 | awk '{ printf "{\"i\":%d}\n", $1 }' | fx-sink -t ods
	fx-consume -t ods -e --checkpoint 30 --state st | fx-sink -t out --state st
	[ "$(committed_id st)" = 4 ]
	seq 101 150 | awk '{ printf "{\"i\":%d}\n", $1 }' | fx-sink -t ods
	fx-consume -t ods -e --checkpoint 30 --state st | fx-sink -t out --state st
	[ "$(committed_id st)" = 6 ]
	seq 1 150 | awk '{ printf "{\"i\":%d}\n", $1 }' | sort >want
	committed out >got
	diff want got
	fx-consume -t out -e | sort >consumed
	diff want consumed
}

@test "crash after commit_transaction, before committed.json: the restart writes committed.json from the commit log and skips to 3" {
	stream 40 10 final >all
	resume 0 <all >in
	run --separate-stderr env FX_TEST_CRASH_AFTER_COMMIT=2 fx-sink -t out --state st <in
	assert_failure 137
	# checkpoint 2 is in the topic, committed.json still says 1
	[ "$(committed_id st)" = 1 ]
	[ "$(markers out | wc -l)" = 2 ]
	# the source resumes from what committed.json said: 1
	after 1 <all | resume 1 >rest
	run --separate-stderr fx-sink -t out --state st <rest
	assert_success
	assert_equal "$stderr" "fx-sink: checkpoint 2 was committed to Kafka but not to st/committed.json (a crash in between): written now"
	[ "$(committed_id st)" = 4 ]
	records <all | sort >want
	committed out >got
	diff want got
}

@test "crash after the first commit, before committed.json existed: a restart from 0 skips to 1" {
	stream 20 10 final >all
	resume 0 <all | FX_TEST_CRASH_AFTER_COMMIT=1 fx-sink -t out --state st || true
	[ ! -e st/committed.json ]
	run --separate-stderr fx-sink -t out --state st <<<"$(resume 0 <all)"
	assert_success
	[ "$(committed_id st)" = 2 ]
	records <all | sort >want
	committed out >got
	diff want got
}

@test "crash after commit_transaction, and a source that reads committed.json after the sink brought it up: resumes from 3" {
	stream 40 10 final >all
	resume 0 <all | FX_TEST_CRASH_AFTER_COMMIT=3 fx-sink -t out --state st || true
	[ "$(committed_id st)" = 2 ]
	# the sink alone, with no input: it recovers and ends
	run --separate-stderr fx-sink -t out --state st </dev/null
	assert_success
	[ "$(committed_id st)" = 3 ]
	after 3 <all | resume 3 | fx-sink -t out --state st
	[ "$(committed_id st)" = 4 ]
	records <all | sort >want
	committed out >got
	diff want got
}

@test "SIGKILL at random moments, 30 times, each restart resuming from committed.json: every checkpoint committed once, its records once" {
	stream 6000 20 final >all
	killed=0
	for run in $(seq 30); do
		k=$(committed_id st)
		after "$k" <all | resume "$k" >rest
		fx-sink -t out --state st <rest 2>>sink.err &
		SINK_PID=$!
		# a start takes ~0.3 s, a commit on the mock ~50 ms
		sleep "0.$((RANDOM % 80 + 20))"
		kill -9 "$SINK_PID" 2>/dev/null && killed=$((killed + 1))
		wait "$SINK_PID" 2>/dev/null || true
		SINK_PID=
	done
	k=$(committed_id st)
	echo "# $killed runs killed, resuming from checkpoint $k" >&3
	[ "$killed" -ge 20 ] && [ "$k" -gt 0 ] && [ "$k" -lt 300 ]
	after "$k" <all | resume "$k" >rest
	run --separate-stderr fx-sink -t out --state st <rest
	assert_success
	[ "$(committed_id st)" = 300 ]
	records <all | sort >want
	committed out >got
	diff want got
	# the only message a restart may give: a checkpoint found in the log
	run ! grep -v 'was committed to Kafka but not to st/committed.json' sink.err
}

@test "the restore id must be the committed one; ids must count up; a corrupt committed.json stops the sink: exit 3" {
	stream 20 10 | resume 0 | fx-sink -t out --state st
	cp st/committed.json committed.before
	run --separate-stderr fx-sink -t out --state st < <(stream 30 10 | after 1 | resume 1)
	assert_failure 3
	assert_equal "$stderr" "fx-sink: stdin:1: the source resumes from checkpoint 1 but the sink committed 2 (st/committed.json)"
	printf '%s\n' '{"_fx":"restore","id":2}' '{"os":"ios"}' '{"_fx":"checkpoint","id":2,"positions":[]}' >again
	run --separate-stderr fx-sink -t out --state st <again
	assert_failure 3
	assert_equal "$stderr" "fx-sink: stdin:3: checkpoint 2 after checkpoint 2 was committed: ids must count up"
	cmp committed.before st/committed.json
	echo '{"id":3,"positions":[' >st/committed.json
	run --separate-stderr fx-sink -t out --state st </dev/null
	assert_failure 3
	assert_equal "$stderr" "fx-sink: st/committed.json: corrupt: not a whole committed.json (the job's committed checkpoint)"
	stream 20 10 | records | sort >want
	committed out >got
	diff want got
}

@test "routed by _fx_dest: the commit log is fx-commits; -X transactional.id names the job" {
	stream 20 10 | resume 0 | sed 's/"os":"\([a-z]*\)"/"_fx_dest":"to_\1","os":"\1"/' >in
	fx-sink --state st -X transactional.id=my-job <in
	kcat -b "$B" -C -t fx-commits -p 0 -e -q -f '%k %s\n' >m
	[ "$(wc -l <m)" = 2 ]
	grep -q '^my-job {"_fx":"checkpoint","id":2,.*"job":"my-job"' m
	[ "$(committed_id st)" = 2 ]
}

@test "--state and --commit-topic: usage errors" {
	run --separate-stderr fx-sink -t out --state '' </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --state: an empty directory name (see 'fx-sink --help')"
	run --separate-stderr fx-sink -t out --commit-topic c </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --commit-topic: only with --state (see 'fx-sink --help')"
}
