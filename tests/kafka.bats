#!/usr/bin/env bats
# Kafka: fx-devbroker, fx-consume and fx-sink against it, kcat as the
# independent client. Every test starts its own fx-devbroker and stops it
# by PID.

load test_helper

# Group members notice a departed member in seconds, not the default 45.
GROUP_X="-X session.timeout.ms=6000 -X heartbeat.interval.ms=500"

setup() {
	fx_setup_tmp
	fx_broker_start --topic p4:4 --topic p1:1
	PIDS=()
}

# the processes a test left in the background, then the broker
teardown() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	fx_teardown_tmp
}

# records N: N small records with a key field, as NDJSON
records() {
	jq -nc --argjson n "$1" 'range(1; $n + 1) | {id: ., k: "key\(. % 97)", s: "x\(.)"}'
}

@test "fx-devbroker prints its loopback address first and to --bootstrap-file" {
	run head -n 1 devbroker.out
	assert_output "$B"
	[[ $B =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "not a loopback address: '$B'"
	grep -q 'not for production' devbroker.err
	grep -q 'CreateTopics' devbroker.err
	# listening on loopback only
	port=${B#127.0.0.1:}
	run bash -c "ss -ltnH | awk '{print \$4}' | grep ':$port\$'"
	assert_output "127.0.0.1:$port"
}

@test "fx-devbroker creates --topic NAME:N and exits 0 on SIGTERM" {
	run kcat -b "$B" -L -t p4
	assert_output --partial 'topic "p4" with 4 partitions'
	rc=0
	fx_broker_stop || rc=$?
	[ "$rc" -eq 0 ] || fail "exit $rc on SIGTERM: $(cat devbroker.err)"
}

@test "fx-devbroker: bad option values are usage errors" {
	run --separate-stderr fx-devbroker --topic x:zero
	assert_failure 2
	assert_equal "$stderr" "fx-devbroker: --topic: not a partition count: 'x:zero' (see 'fx-devbroker --help')"
	run --separate-stderr fx-devbroker --brokers 0
	assert_failure 2
	assert_equal "$stderr" "fx-devbroker: --brokers: must be 1 to 64 (see 'fx-devbroker --help')"
}

@test "kcat round trip through fx-devbroker keeps keys and order" {
	records 1000 | jq -r '"\(.k)\t\(tojson)"' >in.tsv
	kcat -b "$B" -P -t p4 -K '	' <in.tsv
	kcat -b "$B" -C -t p4 -e -q -f '%k\t%s\n' | sort >out.tsv
	sort in.tsv | cmp - out.tsv
}

@test "fx-sink -> kcat: 20,000 records, keys, murmur2 partitions, order within a partition" {
	records 20000 >in.ndjson
	run --separate-stderr fx-sink -t p4 --key k <in.ndjson
	assert_success
	kcat -b "$B" -C -t p4 -e -q -f '%p\t%k\t%s\n' >fx.tsv
	[ "$(wc -l <fx.tsv)" -eq 20000 ]
	# the same records under the same keys
	jq -r '"\(.k)\t\(tojson)"' in.ndjson | sort >want.tsv
	cut -f2- fx.tsv | sort | cmp - want.tsv
	# kcat with the Java client's partitioner puts each key where fx did
	jq -r '"\(.k)\t\(tojson)"' in.ndjson |
		kcat -b "$B" -P -t p1x -K '	' -X partitioner=murmur2_random
	kcat -b "$B" -C -t p1x -e -q -f '%p\t%k\n' | sort -u >kcat-parts
	cut -f1,2 fx.tsv | sort -u | cmp - kcat-parts
	# within each partition, input order
	for p in 0 1 2 3; do
		awk -F'\t' -v p=$p '$1 == p {print $3}' fx.tsv >got.$p
		grep -Fxf got.$p in.ndjson | cmp - got.$p
	done
}

@test "fx-sink --key: records taken many at a time get the keys, partitions and bytes of records taken one by one" {
	# Keys of every kind among plain records (which the vector path
	# validates a buffer at a time and produces many to a call), and
	# records that go one by one between them (_fx_key, CRLF, blank).
	jq -nc 'range(1; 3001) | {id: ., s: "k", k: (
		if . % 11 == 0 then null elif . % 13 == 0 then {x: .}
		elif . % 7 == 0 then . elif . % 17 == 0 then [1, "a"]
		else "key\(. % 97)" end)} | if .id % 19 == 0 then del(.k) else . end' >in.ndjson
	{
		echo '{"id":"empty","k":""}'
		head -n 1000 in.ndjson
		printf '%s\n' '{"id":"esc","k":"a\u0062\"c"}' '{"id":"esc2","k":"\u0078y"}' \
			'{"id":"twice","k":"one","k":"two"}' \
			'{"k" :  "spaced" , "id":"sp"}' '{"id":"fx","k":"no","_fx_key":"fxkey"}' \
			'{"id":"s","s":"k","t":"k"}' '{"id":"num","k":-1.50e3}' ''
		printf '{"id":"crlf","k":"cr"}\r\n'
		tail -n +1001 in.ndjson
	} >mixed.ndjson
	run --separate-stderr fx-sink -t p4 --key k <mixed.ndjson
	assert_success
	kcat -b "$B" -C -t p4 -e -q -f '%p\t%K\t%k\t%s\n' | sort >fast.tsv
	[ "$(wc -l <fast.tsv)" -eq 3009 ] || fail "$(wc -l <fast.tsv) records"
	# the portable scanner alone takes every record one by one
	FX_SIMD=off run --separate-stderr fx-sink -t p4x --key k <mixed.ndjson
	assert_success
	kcat -b "$B" -C -t p4x -e -q -f '%p\t%K\t%k\t%s\n' | sort >slow.tsv
	# (p4x, created on first use, has p4's 4 partitions)
	run kcat -b "$B" -L -t p4x
	assert_output --partial 'topic "p4x" with 4 partitions'
	cmp fast.tsv slow.tsv || fail "$(diff fast.tsv slow.tsv | head)"
	# by hand: unescaped, the last of two, an empty key (not none),
	# --key over _fx_key, a number's bytes, no key
	grep -F '{"id":"esc"' fast.tsv | cut -f2,3 | cmp - <(printf '4\tab"c\n')
	grep -F '{"id":"esc2"' fast.tsv | cut -f2,3 | cmp - <(printf '2\txy\n')
	grep -F '{"id":"empty"' fast.tsv | cut -f2 | cmp - <(echo 0)
	grep -F '{"id":"twice"' fast.tsv | cut -f2,3 | cmp - <(printf '3\ttwo\n')
	grep -F '"id":"sp"}' fast.tsv | cut -f2,3 | cmp - <(printf '6\tspaced\n')
	grep -F '{"id":"fx"' fast.tsv | cut -f2-4 | cmp - <(printf '2\tno\t{"id":"fx","k":"no"}\n')
	grep -F '{"id":"s"' fast.tsv | cut -f2 | cmp - <(echo -1)
	grep -F '{"id":"num"' fast.tsv | cut -f3 | cmp - <(echo -1.50e3)
	grep -F '{"id":13,' fast.tsv | cut -f3 | cmp - <(echo '{"x":13}')
	grep -F '{"id":34,' fast.tsv | cut -f3 | cmp - <(echo '[1,"a"]')
	grep -F '{"id":22,' fast.tsv | cut -f2 | cmp - <(echo -1)
}

@test "fx-sink with a queue of 50 records: waits for room, loses none, keeps each partition's order" {
	records 20000 >in.ndjson
	run --separate-stderr fx-sink -t p4 --key k --stats \
		-X queue.buffering.max.messages=50 <in.ndjson
	assert_success
	[[ $stderr == *' 20000 records in, 20000 records out,'* ]] || fail "$stderr"
	kcat -b "$B" -C -t p4 -e -q -f '%p\t%s\n' >out.tsv
	cut -f2 out.tsv | sort | cmp - <(sort in.ndjson)
	for p in 0 1 2 3; do
		awk -F'\t' -v p=$p '$1 == p {print $2}' out.tsv >got.$p
		grep -Fxf got.$p in.ndjson | cmp - got.$p
	done
}

@test "fx-sink: records without a key go to the partitions in turn, as many to each" {
	records 1000 >in.ndjson
	run --separate-stderr fx-sink -t p4 <in.ndjson
	assert_success
	# kcat counts them: 250 in each of the 4 partitions (at random, that
	# would be one run in thousands)
	kcat -b "$B" -C -t p4 -e -q -f '%p\n' | sort | uniq -c | awk '{print $2, $1}' >parts
	printf '0 250\n1 250\n2 250\n3 250\n' | cmp - parts || fail "$(cat parts)"
	# and the records are those read
	kcat -b "$B" -C -t p4 -e -q | sort >out.ndjson
	sort in.ndjson | cmp - out.ndjson
}

@test "fx-sink -X delivery.report.only.error=true: delivered records still counted, none lost" {
	records 5000 >in.ndjson
	run --separate-stderr fx-sink -t p4 --key k --stats \
		-X delivery.report.only.error=true <in.ndjson
	assert_success
	[[ $stderr == *' 5000 records in, 5000 records out,'* ]] || fail "$stderr"
	[ "$(kcat -b "$B" -C -t p4 -e -q | wc -l)" -eq 5000 ]
}

@test "kcat -> fx-consume: 20,000 records identical, in order within a partition" {
	records 20000 | jq -r '"\(.k)\t\(tojson)"' >in.tsv
	kcat -b "$B" -P -t p4 -K '	' <in.tsv
	run --separate-stderr fx-consume -t p4 -e --meta
	assert_success
	# the records, without the control records --meta adds
	echo "$output" | jq -c 'select(has("_fx") | not)' >out.ndjson
	[ "$(wc -l <out.ndjson)" -eq 20000 ]
	kcat -b "$B" -C -t p4 -e -q -f '%p\t%o\t%k\t%s\n' | sort >kcat.tsv
	jq -r '[._fx_partition, ._fx_offset, ._fx_key,
		(del(._fx_topic, ._fx_partition, ._fx_offset, ._fx_key, ._fx_ts) | tojson)] | @tsv' \
		out.ndjson | sort | cmp - kcat.tsv
	# each partition in offset order
	jq -r '"\(._fx_partition) \(._fx_offset)"' out.ndjson >po
	sort -k1,1n -s po | cmp - <(sort -k1,1n -k2,2n po)
}

@test "fx-consume --meta | fx-sink copies a topic: keys, headers, partitions" {
	printf 'k1\t{"a":1}\nk2\t{"a":2}\n' | kcat -b "$B" -P -t p4 -K '	' -p 2 -H h1=v1 -H h2=v2
	fx-consume -t p4 -e --meta | fx-sink -t copy --keep-partition
	run kcat -b "$B" -C -t copy -e -q -f '%p|%k|%h|%s\n'
	assert_output '2|k1|h1=v1,h2=v2|{"a":1}
2|k2|h1=v1,h2=v2|{"a":2}'
}

@test "fx-sink without -t: _fx_dest, _fx_key (the last of two), _fx_headers read from the records that have them, and dropped" {
	# nested _fx members are data, and so is an escaped spelling of one
	# (as the value keeps it); -b: Kafka, not files
	printf '%s\n' \
		'{"_fx_dest":"p1","_fx_key":"k1","a":2,"_fx_key":"k2","\u005ffx_key":"e"}' \
		'{"a":3,"_fx_headers":{"h":"v"},"b":{"_fx_key":"n","_fx_dest":"x"},"_fx_dest":"p1"}' \
		'{"_fx_dest":"p4","_fx_key":{"base64":"aGk="},"a":4}' \
		'{"a":6,"_fx_dest":"p4"}' >in.ndjson
	run --separate-stderr fx-sink -b "$B" <in.ndjson
	assert_success
	run kcat -b "$B" -C -t p1 -e -q -f '%k|%h|%s\n'
	assert_output 'k2||{"a":2,"\u005ffx_key":"e"}
|h=v|{"a":3,"b":{"_fx_key":"n","_fx_dest":"x"}}'
	run bash -c "kcat -b '$B' -C -t p4 -e -q -f '%k|%h|%s\n' | sort"
	assert_output 'hi||{"a":4}
||{"a":6}'
}

@test "fx-sink --key FIELD with and without _fx members beside it" {
	printf '%s\n' '{"k":"a","n":1}' '{"_fx_headers":[["h","v"]],"k":"b","n":2}' \
		'{"k":"c","_fx_key":"x","n":3}' >in.ndjson
	run --separate-stderr fx-sink -t p1 --key k <in.ndjson
	assert_success
	run kcat -b "$B" -C -t p1 -e -q -f '%k|%h|%s\n'
	assert_output 'a||{"k":"a","n":1}
b|h=v|{"k":"b","n":2}
c||{"k":"c","n":3}'
}

@test "two fx-consume in one group with -e return every record exactly once" {
	records 4000 | fx-sink -t p4 --key k
	fx-consume -t p4 -g g1 -e $GROUP_X >a.out &
	a=$!
	fx-consume -t p4 -g g1 -e $GROUP_X >b.out &
	b=$!
	wait $a
	wait $b
	[ "$(cat a.out b.out | wc -l)" -eq 4000 ]
	[ "$(cat a.out b.out | jq .id | sort -u | wc -l)" -eq 4000 ]
	# a third run of the group starts from the committed offsets
	run --separate-stderr fx-consume -t p4 -g g1 -e $GROUP_X
	assert_success
	assert_output ''
}

@test "a new group starts at the beginning; -c stops after N records" {
	records 100 | fx-sink -t p1
	run --separate-stderr fx-consume -t p1 -g fresh -e $GROUP_X
	assert_success
	[ "${#lines[@]}" -eq 100 ]
	run --separate-stderr fx-consume -t p1 -c 7
	assert_success
	[ "${#lines[@]}" -eq 7 ]
	assert_line --index 0 '{"id":1,"k":"key1","s":"x1"}'
}

@test "-o s@MS starts at the first record at or after that time" {
	records 50 | fx-sink -t p4
	sleep 0.2
	ms=$(date +%s%3N)
	sleep 0.2
	printf '{"late":%d}\n' 1 2 3 | fx-sink -t p4
	run --separate-stderr fx-consume -t p4 -e -o "s@$ms"
	assert_success
	assert_equal "$(echo "$output" | sort)" '{"late":1}
{"late":2}
{"late":3}'
}

@test "-e on partitions some of them empty: every partition's end, looked up for all at once" {
	records 5 | kcat -b "$B" -P -t p4 -p 0
	records 3 | kcat -b "$B" -P -t p4 -p 2
	run --separate-stderr timeout 20 fx-consume -t p4 -e
	assert_success
	assert_equal "$(jq -s 'length' <<<"$output")" 8
	run --separate-stderr timeout 20 fx-consume -t p4 -e -o -1
	assert_success
	assert_equal "$(jq -sc 'map(.id) | sort' <<<"$output")" '[3,5]'
	records 4 | kcat -b "$B" -P -t p4 -p 1
	run --separate-stderr timeout 20 fx-consume -t p4 -e -o -2
	assert_success
	assert_equal "$(jq -sc 'map(.id) | sort' <<<"$output")" '[2,3,3,4,4,5]'
}

@test "-o end, -o N and -o -N" {
	records 10 | fx-sink -t p1
	run --separate-stderr fx-consume -t p1 -e -o end
	assert_success
	assert_output ''
	run --separate-stderr fx-consume -t p1 -e -o 8
	assert_output '{"id":9,"k":"key9","s":"x9"}
{"id":10,"k":"key10","s":"x10"}'
	run --separate-stderr fx-consume -t p1 -e -o -1
	assert_output '{"id":10,"k":"key10","s":"x10"}'
}

@test "pretty-printed message values come out one record a line, their line breaks as spaces" {
	# kcat -D: one message a '|'; a value spans lines as a Java producer's
	# pretty printer writes it, another ends in CRLF
	printf '{"a":\n  1,\r\n  "s":"x y"\n}|{"b":2}\r\n|{"c":3}|' |
		kcat -P -b "$B" -t p1 -p 0 -D '|'
	run --separate-stderr fx-consume -t p1 -e
	assert_success
	assert_output - <<-'EOF'
		{"a":   1,    "s":"x y" }
		{"b":2}  
		{"c":3}
	EOF
	# the same records as jq reads the messages, and as many lines
	run bash -c 'fx-consume -t p1 -e | jq -c .'
	assert_output "$(kcat -C -b "$B" -t p1 -e -D '|' -q | tr '|' '\n' | jq -c .)"
	# --meta's fields join the record's one line; the next stage takes all
	run --separate-stderr fx-consume -t p1 -e --meta
	# (between the assigned and eof control records)
	[ "${#lines[@]}" -eq 5 ] || fail "not 5 lines: $output"
	assert_line --index 1 --regexp '^\{"a":   1,    "s":"x y" ,"_fx_topic":"p1",'
	run --separate-stderr bash -c 'fx-consume -t p1 -e --meta | fx-sink'
	assert_success
	assert_output - <<-'EOF'
		{"a":   1,"s":"x y"}
		{"b":2}
		{"c":3}
	EOF
}

@test "a message whose first key is _fx is a bad record, not a control record downstream obeys" {
	printf '%s\n' '{"_fx":"checkpoint","id":1,"positions":[]}' '{"a":1}' '{"b":{"_fx":1},"_fx":2}' |
		kcat -b "$B" -P -t p1 -p 0
	run --separate-stderr fx-consume -t p1 -e
	assert_failure 1
	assert_equal "$stderr" 'fx-consume: p1/0@0: a message whose first key is "_fx" would be read as a control record'
	refute_output
	run --separate-stderr fx-consume -t p1 -e --on-error skip
	assert_success
	# "_fx" not first, or nested, is data
	assert_output - <<-'EOF'
		{"a":1}
		{"b":{"_fx":1},"_fx":2}
	EOF
	# with --meta: the control records are fx-consume's own, and only those
	run --separate-stderr fx-consume -t p1 -e --meta --on-error skip
	assert_success
	run jq -c 'select(keys_unsorted[0] == "_fx") | ._fx' <<<"$output"
	assert_output $'"assigned"\n"eof"'
}

@test "bad values in a topic under fail, skip, dlq and --wrap" {
	printf 'not json\n[1,2]\n{"ok":1}\n' | kcat -b "$B" -P -t p1
	printf '\377\376\n' | kcat -b "$B" -P -t p1
	run --separate-stderr fx-consume -t p1 -e
	assert_failure 1
	assert_equal "$stderr" 'fx-consume: p1/0@0: invalid JSON: unexpected character at byte 1'
	run --separate-stderr fx-consume -t p1 -e --on-error skip
	assert_success
	assert_output '{"ok":1}'
	run --separate-stderr fx-consume -t p1 -e --on-error dlq=dlq.ndjson
	assert_success
	assert_output '{"ok":1}'
	run jq -c '[.source, ._fx_error]' dlq.ndjson
	assert_output '["p1/0@0","invalid JSON: unexpected character at byte 1"]
["p1/0@1","not a JSON object"]
["p1/0@3","invalid JSON: unexpected character at byte 1"]'
	run --separate-stderr fx-consume -t p1 -e --wrap --on-error skip
	assert_output '{"value":"not json"}
{"value":"[1,2]"}
{"ok":1}'
}

@test "unreachable broker: fx-consume and fx-sink fail within --timeout, naming it, exit 3" {
	SECONDS=0
	run --separate-stderr fx-consume -b 127.0.0.1:9 -t x --timeout 2s
	assert_failure 3
	assert_equal "$stderr" "fx-consume: broker '127.0.0.1:9': connection refused"
	run --separate-stderr bash -c 'echo "{}" | fx-sink -b 127.0.0.1:9 -t x --timeout 2s'
	assert_failure 3
	assert_equal "$stderr" "fx-sink: broker '127.0.0.1:9': connection refused"
	[ "$SECONDS" -le 6 ]
}

@test "a refused connection is reported at once, not after --timeout: fx-consume, -g, fx-sink" {
	# nothing listens on port 9: every broker refused, which librdkafka
	# knows at once (ALL_BROKERS_DOWN); --timeout is for silent brokers
	SECONDS=0
	run --separate-stderr timeout 15 fx-consume -b 127.0.0.1:9 -t x --timeout 12s
	assert_failure 3
	assert_equal "$stderr" "fx-consume: broker '127.0.0.1:9': connection refused"
	run --separate-stderr timeout 15 fx-consume -b 127.0.0.1:9 -t x -g g --timeout 12s
	assert_failure 3
	assert_equal "$stderr" "fx-consume: broker '127.0.0.1:9': connection refused"
	run --separate-stderr timeout 15 bash -c 'echo "{}" | fx-sink -b 127.0.0.1:9 -t x --timeout 12s'
	assert_failure 3
	assert_equal "$stderr" "fx-sink: broker '127.0.0.1:9': connection refused"
	[ "$SECONDS" -le 6 ] || fail "three refused connections took ${SECONDS}s"
}

@test "fx-devbroker killed under fx-consume -g: exit 3 within --timeout and a few seconds, naming the broker" {
	records 2000 | fx-sink -t p4 --key k
	fx-consume -t p4 -g gdead $GROUP_X --timeout 3s >out.ndjson 2>err &
	c=$!
	for _ in $(seq 200); do [ "$(wc -l <out.ndjson)" -ge 2000 ] && break; sleep 0.1; done
	[ "$(wc -l <out.ndjson)" -eq 2000 ] || fail "read $(wc -l <out.ndjson) of 2000"
	fx_broker_stop || true
	SECONDS=0
	for _ in $(seq 300); do kill -0 $c 2>/dev/null || break; sleep 0.1; done
	if kill -0 $c 2>/dev/null; then
		# where it waits, for the report: its threads' kernel waits
		w=$(cat /proc/$c/task/*/wchan 2>/dev/null | tr '\0' ' ')
		kill -9 $c
		fail "still running ${SECONDS}s after the broker died (threads in: $w); stderr: $(cat err)"
	fi
	rc=0
	wait $c || rc=$?
	[ "$rc" -eq 3 ] || fail "exit $rc: $(cat err)"
	[ "$SECONDS" -le 12 ] || fail "took ${SECONDS}s to notice the dead broker: $(cat err)"
	run cat err
	assert_output --partial "fx-consume: broker '$B': "
}

# broker_killed_under_sink PID DELAY MAX_SECONDS: after DELAY, stops the
# broker under fx-sink PID (its stderr in sink.err); it must exit 3 within
# MAX_SECONDS, saying some records failed, with delivered + failed =
# handed over = read.
broker_killed_under_sink() {
	local rc=0 failed sent in out
	sleep "$2"
	fx_broker_stop || true
	SECONDS=0
	wait "$1" || rc=$?
	[ "$rc" -eq 3 ] || fail "exit $rc: $(cat sink.err)"
	[ "$SECONDS" -le "$3" ] || fail "fx-sink took ${SECONDS}s after the broker died: $(cat sink.err)"
	failed=$(sed -n 's/.*: \([0-9]*\) of \([0-9]*\) records failed.*/\1/p' sink.err)
	sent=$(sed -n 's/.*: \([0-9]*\) of \([0-9]*\) records failed.*/\2/p' sink.err)
	in=$(sed -n 's/.*: \([0-9]*\) records in.*/\1/p' sink.err)
	out=$(sed -n 's/.* \([0-9]*\) records out.*/\1/p' sink.err)
	[ -n "$failed" ] && [ -n "$out" ] && [ "$failed" -gt 0 ] ||
		fail "no failure count in: $(cat sink.err)"
	[ $((out + failed)) -eq "$sent" ] || fail "$out out + $failed failed != $sent: $(cat sink.err)"
	[ "$in" -eq "$sent" ] || fail "$in read, $sent counted: $(cat sink.err)"
}

@test "fx-devbroker killed while fx-sink produces: exit 3, delivered + failed = read" {
	gen 20000 >plays.ndjson
	# a slow reader, so that the broker dies mid-stream
	(cat plays.ndjson | while read -r l; do echo "$l"; done) |
		fx-sink -t p4 --timeout 2s --stats 2>sink.err &
	broker_killed_under_sink $! 1 8
}

# sink_killed_mid_file [VAR=VALUE...]: fx-sink (in that environment)
# produces a file to p4 with a small queue that fills and batches held
# 100 ms (~2 s in all); the broker is killed after 0.5 s. Exit 3 within
# --timeout and a little, and every record read counted delivered or failed.
sink_killed_mid_file() {
	gen 20000 >plays.ndjson
	env "$@" fx-sink -t p4 --timeout 2s --stats -X queue.buffering.max.messages=1000 \
		-X linger.ms=100 <plays.ndjson 2>sink.err &
	broker_killed_under_sink $! 0.5 6
}

@test "fx-devbroker killed while fx-sink produces a file, many records a call: exit 3 within --timeout, delivered + failed = read" {
	sink_killed_mid_file
}

@test "fx-devbroker killed while fx-sink produces a file one record a call (FX_SIMD=off): the same" {
	sink_killed_mid_file FX_SIMD=off
}

@test "-X with an unknown property is a usage error naming it" {
	run --separate-stderr fx-consume -t p1 -X no.such.thing=1
	assert_failure 2
	assert_output ''
	[[ $stderr == *'no.such.thing'* ]] || fail "not named: $stderr"
	printf '# comment\n\nlinger.mss = 5\n' >k.properties
	run --separate-stderr fx-sink -t p1 -F k.properties </dev/null
	assert_failure 2
	[[ $stderr == *'k.properties:3'*'linger.mss'* ]] || fail "not named: $stderr"
}

@test "--meta control records: the assignment, sorted, then one eof per partition; counts unaffected" {
	records 1000 | fx-sink -t p4 --key k
	run --separate-stderr fx-consume -t p4 -t p1 -e --meta
	assert_success
	echo "$output" >out.ndjson
	# the first line is the whole assignment, by topic then partition
	run jq -c 'select(._fx == "assigned")' out.ndjson
	assert_output '{"_fx":"assigned","partitions":["p1/0","p4/0","p4/1","p4/2","p4/3"]}'
	[ "$(head -n 1 out.ndjson)" = "$output" ]
	# one eof per partition, after its last record (the empty p1 too)
	run jq -r 'select(._fx == "eof") | .partition' out.ndjson
	assert_equal "$(echo "$output" | sort)" 'p1/0
p4/0
p4/1
p4/2
p4/3'
	for p in 0 1 2 3; do
		last=$(grep -n "\"_fx_partition\":$p," out.ndjson | tail -n 1 | cut -d: -f1)
		eof=$(grep -n "\"partition\":\"p4/$p\"" out.ndjson | cut -d: -f1)
		[ "$eof" -gt "$last" ]
	done
	# every record, once; no control record without --meta
	[ "$(jq -c 'select(has("_fx") | not)' out.ndjson | wc -l)" -eq 1000 ]
	[ "$(fx-consume -t p4 -t p1 -e | wc -l)" -eq 1000 ]
	run bash -c 'fx-consume -t p4 -e | grep -c "\"_fx\""'
	assert_output 0
	# a group member says the same; fx-sink writes no control record
	fx-consume -t p4 -g gm -e --meta $GROUP_X >g.ndjson
	[ "$(jq -c 'select(._fx == "assigned")' g.ndjson | tail -n 1)" = \
		'{"_fx":"assigned","partitions":["p4/0","p4/1","p4/2","p4/3"]}' ]
	[ "$(grep -c '"_fx":"eof"' g.ndjson)" -eq 4 ]
	fx-sink -t copy4 <g.ndjson
	fx-sink --keep-meta <g.ndjson >kept.ndjson
	[ "$(kcat -b "$B" -C -t copy4 -e -q | wc -l)" -eq 1000 ]
	run grep -c '"_fx":' kept.ndjson
	assert_output 0
	[ "$(wc -l <kept.ndjson)" -eq 1000 ]
}

@test "--meta eof: again each time a live partition reaches its end" {
	fx-consume -t p1 --meta >live.ndjson 2>live.err &
	c=$!
	for _ in $(seq 100); do grep -q '"_fx":"eof"' live.ndjson && break; sleep 0.05; done
	records 3 | fx-sink -t p1
	for _ in $(seq 100); do [ "$(grep -c '"_fx":"eof"' live.ndjson)" -ge 2 ] && break; sleep 0.05; done
	kill -TERM $c
	wait $c
	run jq -c '._fx // .id' live.ndjson
	assert_output '"assigned"
"eof"
1
2
3
"eof"'
}

@test "a group member killed mid-stream: the other takes over, no record missing" {
	records 20000 | fx-sink -t p4 --key k
	# a slow reader keeps member a mid-stream; what a wrote it drains
	mkfifo a.pipe
	(n=0; while IFS= read -r l; do
		printf '%s\n' "$l"
		n=$((n + 1))
		[ $((n % 200)) -ne 0 ] || sleep 0.05
	done) <a.pipe >a.out &
	reader=$!
	fx-consume -t p4 -g gk $GROUP_X >a.pipe 2>a.err &
	a=$!
	fx-consume -t p4 -g gk $GROUP_X >b.out 2>b.err &
	b=$!
	# a has written some, not all
	for _ in $(seq 100); do [ "$(wc -l <a.out)" -ge 500 ] && break; sleep 0.1; done
	[ "$(wc -l <a.out)" -ge 500 ]
	kill -9 $a
	wait $a || true
	wait $reader
	got=$(wc -l <a.out)
	[ "$got" -lt 20000 ]
	# b gets a's partitions when a's session (6 s) times out
	for _ in $(seq 300); do
		[ "$(cat a.out b.out | jq .id | sort -u | wc -l)" -eq 20000 ] && break
		sleep 0.1
	done
	kill -TERM $b
	wait $b
	[ "$(cat a.out b.out | jq .id | sort -u | wc -l)" -eq 20000 ]
	total=$(cat a.out b.out | wc -l)
	echo "# killed member wrote $got; duplicates: $((total - 20000))" >&3
}

# the group settings of kafka-group.bats: a dead member noticed in 3 s
GROUP_FAST="-X session.timeout.ms=3000 -X heartbeat.interval.ms=300 --timeout 3s"

@test "a group member behind a slow reader commits while its backlog drains: after kill -9 the next member repeats about a second's reading" {
	# 6,000 records of 1 KB, keyed so that they spread over the four
	# partitions (without a key librdkafka's sticky partitioner may put
	# them all in one, past the broker's 5 MiB a partition): the whole
	# topic is in the consumer's prefetch queue at once, a backlog the
	# reader takes 6 s to drain
	jq -nr 'range(1; 6001) | "\(.)\t\({id: ., pad: ("x" * 1000)} | tojson)"' >in.tsv
	kcat -P -b "$B" -t p4 -K $'\t' -l in.tsv
	kcat -C -b "$B" -t p4 -e -q | jq .id | sort -u >want
	[ "$(wc -l <want)" -eq 6000 ] || fail "kcat reads $(wc -l <want) records"
	# about 1,000 records a second; a line torn by the kill is left out
	mkfifo a.pipe
	python3 -c '
import sys, time
out = sys.stdout.buffer
for n, line in enumerate(sys.stdin.buffer, 1):
    if line.endswith(b"\n"):
        out.write(line)
    if n % 100 == 0:
        out.flush()
        time.sleep(0.1)
' <a.pipe >a.out &
	reader=$!
	PIDS+=($reader)
	fx-consume -t p4 -g slow $GROUP_FAST >a.pipe 2>a.err &
	a=$!
	PIDS+=($a)
	for _ in $(seq 600); do [ "$(wc -l <a.out)" -ge 3000 ] && break; sleep 0.1; done
	kill -9 $a
	wait $a || true
	wait $reader
	got=$(wc -l <a.out)
	[ "$got" -ge 3000 ] && [ "$got" -lt 6000 ] ||
		fail "the killed member's reader got $got records, not 3,000 to 5,999"
	# the next member starts where the group committed
	run --separate-stderr timeout 60 fx-consume -t p4 -g slow -e $GROUP_FAST
	assert_success
	printf '%s\n' "$output" >b.out
	# every record out at least once
	run bash -c 'cat a.out b.out | jq .id | sort -u | comm -3 want -'
	assert_output ''
	# repeated: what was read after the last commit (a second, at most
	# two, of the reader's 1,000 records a second, and the pipe's
	# contents), not all the killed member had written
	dup=$(($(cat a.out b.out | wc -l) - 6000))
	echo "# killed member's reader got $got, repeated $dup" >&3
	[ "$dup" -le 1500 ] || fail "$dup of the $got records read before the kill read again: the group committed too little"
}

@test "a topic named twice in -t (by name, by a regular expression, or both) is read once, with and without -g" {
	records 300 | fx-sink -t p4
	records 50 | fx-sink -t p1
	kcat -C -b "$B" -t p4 -e -q | sort >want.p4
	kcat -C -b "$B" -t p1 -e -q | sort | sort -m - want.p4 >want.both
	[ "$(wc -l <want.p4)" -eq 300 ] || fail "kcat reads $(wc -l <want.p4) records of p4"
	local n=0 t want g
	for t in 'p4 p4:p4' 'p4 ^p4$:p4' '^p4$ p4:p4' '^p4$ ^p.$:both' 'p1 ^p.$ p4 p4:both'; do
		want=want.${t#*:}
		read -ra topics <<<"${t%:*}"
		set -- $(printf -- '-t %s ' "${topics[@]}")
		for g in '' -g; do
			# a new group each time: it starts at the beginning
			[ -z "$g" ] || g="-g g$((n += 1)) $GROUP_FAST"
			run --separate-stderr timeout 60 fx-consume "$@" $g -e
			assert_success
			[ -z "$stderr" ] || fail "$* $g: $stderr"
			printf '%s\n' "$output" | sort | cmp - $want ||
				fail "$* $g: not the records of $want ($(printf '%s\n' "$output" | wc -l) lines)"
		done
	done
}

@test "--max-record: a longer message is a bad record under fail, skip and dlq, as a longer line of a file is" {
	python3 -c 'import json; print(json.dumps({"id": 1, "pad": "x" * 5000})); print(json.dumps({"id": 2}))' >in.ndjson
	kcat -P -b "$B" -t p1 -l in.ndjson
	# kcat: the first message is 5,020 bytes, the second 9
	run kcat -C -b "$B" -t p1 -e -q -f '%S\n'
	assert_output "$(awk '{ print length($0) }' in.ndjson)"
	run --separate-stderr fx-consume -t p1 -e --max-record 1k
	assert_failure 1
	assert_output ''
	assert_equal "$stderr" 'fx-consume: p1/0@0: record longer than --max-record (1024 bytes)'
	run --separate-stderr fx-consume --max-record 1k in.ndjson
	assert_failure 1
	assert_equal "$stderr" 'fx-consume: in.ndjson:1: record longer than --max-record (1024 bytes)'
	for o in '' --meta --wrap; do
		run --separate-stderr fx-consume -t p1 -e --max-record 1k --on-error skip $o
		assert_success
		assert_equal "$(jq -c 'select(._fx == null) | {id}' <<<"$output")" '{"id":2}'
	done
	# the dead letter of the message is the file's, but for its source
	run --separate-stderr fx-consume -t p1 -e --max-record 1k --on-error dlq=k.dlq
	assert_success
	assert_output "$(tail -n 1 in.ndjson)"
	run --separate-stderr fx-consume --max-record 1k --on-error dlq=f.dlq in.ndjson
	assert_success
	assert_output "$(tail -n 1 in.ndjson)"
	run jq -c '[.source, ._fx_error, .raw_length, .raw_truncated, (.raw | length)]' k.dlq
	assert_output '["p1/0@0","record longer than --max-record (1024 bytes)",5020,true,1024]'
	cmp <(jq -c 'del(.source)' k.dlq) <(jq -c 'del(.source)' f.dlq) ||
		fail "the message's dead letter is not the line's: $(cat k.dlq f.dlq | cut -c1-200)"
	# not longer than --max-record: a record
	run --separate-stderr fx-consume -t p1 -e --max-record 5020
	assert_success
	assert_output "$(cat in.ndjson)"
}

@test "-o N past a partition's end starts it at its end, with -e and without, as kcat does" {
	records 30 | kcat -b "$B" -P -t p4 -p 0
	records 5 | kcat -b "$B" -P -t p4 -p 1
	records 12 | kcat -b "$B" -P -t p4 -p 3
	# p4/0 from 10, p4/3 from 10; p4/1 (5 records) and p4/2 (none) end
	# before 10: nothing of them
	kcat -C -b "$B" -t p4 -o 10 -e -q -f '%p %s\n' | sort >want
	[ "$(wc -l <want)" -eq 22 ] || fail "kcat reads $(wc -l <want) records"
	run --separate-stderr timeout 60 fx-consume -t p4 -o 10 -e --meta
	assert_success
	jq -r 'select(._fx == null) | "\(._fx_partition) \(del(._fx_topic, ._fx_partition, ._fx_offset, ._fx_key, ._fx_ts) | tojson)"' <<<"$output" |
		sort | cmp - want || fail "-e: not kcat's records: $output"
	assert_equal "$stderr" 'fx-consume: -o 10: past the end of p4/1 (5), p4/2 (0): they start at their end'
	# without -e: the same records, then what comes later
	fx-consume -t p4 -o 10 --meta >out 2>err &
	PIDS+=($!)
	for _ in $(seq 300); do [ "$(grep -c '"_fx":"eof"' out)" -ge 4 ] && break; sleep 0.1; done
	[ "$(grep -c '"_fx":"eof"' out)" -ge 4 ] || fail "not every partition at its end: $(cat err)"
	echo '{"late":1}' | kcat -b "$B" -P -t p4 -p 1
	echo '{"late":2}' | kcat -b "$B" -P -t p4 -p 2
	for _ in $(seq 300); do [ "$(grep -c '"late"' out)" -ge 2 ] && break; sleep 0.1; done
	kill -TERM "${PIDS[-1]}"
	wait "${PIDS[-1]}"
	{ cat want; echo '1 {"late":1}'; echo '2 {"late":2}'; } | sort >want.later
	jq -r 'select(._fx == null) | "\(._fx_partition) \(del(._fx_topic, ._fx_partition, ._fx_offset, ._fx_key, ._fx_ts) | tojson)"' out |
		sort | cmp - want.later || fail "without -e: not kcat's records and the later ones: $(cat out)"
	assert_equal "$(cat err)" 'fx-consume: -o 10: past the end of p4/1 (5), p4/2 (0): they start at their end'
	# at its end is not past it (p4/1 now ends at 6)
	run --separate-stderr timeout 60 fx-consume -t p4 -o 6 -e
	assert_success
	printf '%s\n' "$output" | sort | cmp - <(kcat -C -b "$B" -t p4 -o 6 -e -q | sort) ||
		fail "-o 6: not kcat's records: $output"
	assert_equal "$stderr" 'fx-consume: -o 6: past the end of p4/2 (1): it starts at its end'
}

@test "-o e@MS stops each partition before the first record at or after that time" {
	records 50 | fx-sink -t p4
	sleep 0.2
	ms=$(date +%s%3N)
	sleep 0.2
	printf '{"late":%d}\n' 1 2 3 | fx-sink -t p4
	run --separate-stderr fx-consume -t p4 -e -o "e@$ms"
	assert_success
	[ "${#lines[@]}" -eq 50 ]
	refute_output --partial late
	# start and end together: only the late ones
	run --separate-stderr fx-consume -t p4 -e -o "s@$ms" -o "e@$(($(date +%s%3N) + 60000))"
	assert_success
	assert_equal "$(printf '%s\n' "${lines[@]}" | sort)" $'{"late":1}\n{"late":2}\n{"late":3}'
	run --separate-stderr fx-consume -t p4 -o e@x
	assert_failure 2
	assert_equal "$stderr" "fx-consume: -o: not a timestamp in ms: 'e@x' (see 'fx-consume --help')"
}

@test "--create-topics against fx-devbroker says once it is unsupported and relies on auto-creation" {
	records 10 | jq -c '._fx_dest = "auto\(.id % 2)"' >in.ndjson
	run --separate-stderr fx-sink -b "$B" --create-topics --partitions 3 <in.ndjson
	assert_success
	[ "$(grep -c 'CreateTopics' <<<"$stderr")" -eq 1 ]
	[[ $stderr == *'relying on auto-creation'* ]] || fail "$stderr"
	[ "$(kcat -b "$B" -C -t auto0 -e -q | wc -l)" -eq 5 ]
	[ "$(kcat -b "$B" -C -t auto1 -e -q | wc -l)" -eq 5 ]
	# the records, without their routing field
	run kcat -b "$B" -C -t auto1 -e -q -c 1
	refute_output --partial _fx_dest
}

@test "fx-sink: Kafka options do not mix with file options" {
	run --separate-stderr fx-sink -t p1 --file x.ndjson </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: Kafka options (-t -b -X -F --key --keep-partition --create-topics) do not mix with --file --dir --partition --columns --format (see 'fx-sink --help')"
	[ ! -e x.ndjson ]
	# -F with a file of no properties is a Kafka option all the same
	run --separate-stderr fx-sink -F /dev/null --file x.ndjson </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: Kafka options (-t -b -X -F --key --keep-partition --create-topics) do not mix with --file --dir --partition --columns --format (see 'fx-sink --help')"
	[ ! -e x.ndjson ]
	run --separate-stderr fx-consume -t p1 some.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-consume: -t reads Kafka: no FILE operands with it (see 'fx-consume --help')"
}

@test "fx-join --dim kafka: speaks in fx's message shape, not librdkafka's raw log lines" {
	run --separate-stderr bash -c 'echo "{\"id\":1}" | fx-join -b 127.0.0.1:9 --dim kafka:songs --on id --timeout 2s'
	assert_failure 3
	# every line is fx-join's, and the first names the broker
	run grep -vc '^fx-join: ' <<<"$stderr"
	assert_output 0
	assert_equal "$(head -n 1 <<<"$stderr")" "fx-join: kafka:songs: broker '127.0.0.1:9': connection refused"
}

@test "a dynamic topic name too long is reported against the topic, not a partition field" {
	long=$(printf 'y%.0s' $(seq 260))
	printf '{"os":"%s","event_time":"2026-11-23T10:00:00Z"}\n' "$long" >in.ndjson
	run --separate-stderr fx-partition --table "$FX_ROOT/share/examples/ods_play.table.json" <in.ndjson
	assert_failure 1
	assert_equal "$stderr" "fx-partition: stdin:1: topic \"ods_play_$long\": longer than 249 characters"
}

@test "fx-consume --progress: records and the partitions' lag on stderr, the records alone on stdout" {
	records 200000 >in.ndjson
	fx-sink -t p4 --key k <in.ndjson
	# a reader that starts 3 s late: 7 MB fill the pipe, the consumer waits
	# with most records unread, and the next record prints a progress line
	fx-consume -t p4 -e --progress 2>err | { sleep 3; cat; } >out
	sort in.ndjson | cmp - <(sort out)
	grep '^fx-consume: progress: ' err >progress || fail "no progress line: $(cat err)"
	line=$(head -n 1 progress)
	[[ $line =~ ^fx-consume:\ progress:\ ([0-9]+)\ records\ in,\ [0-9]+\ records\ out,\ 0\ bad,\ [0-9.]+\ s,\ [0-9]+\ records/s,\ lag\ ([0-9]+)$ ]] ||
		fail "not a progress line with a lag: '$line'"
	n=${BASH_REMATCH[1]} lag=${BASH_REMATCH[2]}
	# behind when it waited; never more than what was not read yet (the
	# record being handled counts in both)
	[ "$lag" -gt 0 ] || fail "lag $lag"
	[ $((n + lag)) -le 200001 ] || fail "$n records in, lag $lag"
	# and then the final stats line, nothing else
	run grep -v '^fx-consume: progress: ' err
	assert_output --regexp '^fx-consume: stats: 200000 records in, 200000 records out, [^'$'\n'']*$'
}

@test "fx-sink -t --state: a record or a checkpoint before any restore record: exit 3, nothing produced or committed" {
	printf '%s\n' '{"_fx":"restore","id":0}' '{"n":1}' \
		'{"_fx":"checkpoint","id":1,"positions":[["f",0,1]]}' | fx-sink -t p1 --state st
	cp st/committed.json committed.before
	printf '%s\n' '{"n":1}' '{"_fx":"checkpoint","id":2,"positions":[["f",0,1]]}' >again
	run --separate-stderr fx-sink -t p1 --state st <again
	assert_failure 3
	assert_equal "$stderr" 'fx-sink: stdin:1: a record before any restore record: the input is not from a checkpointed source, whose first record would be {"_fx":"restore","id":1} (st/committed.json)'
	printf '%s\n' '{"_fx":"checkpoint","id":2,"positions":[["f",0,1]]}' '{"n":1}' >barrier
	run --separate-stderr fx-sink -t p1 --state st <barrier
	assert_failure 3
	assert_equal "$stderr" 'fx-sink: stdin:1: checkpoint 2 before any restore record: the input is not from a checkpointed source, whose first record would be {"_fx":"restore","id":1} (st/committed.json)'
	cmp committed.before st/committed.json
	# the mock broker shows aborted records too: none was produced
	run kcat -b "$B" -C -t p1 -e -q -f '%s\n'
	assert_output '{"n":1}'
	run kcat -b "$B" -C -t p1.fx-commits -e -q -f '%s\n'
	assert_output --regexp '^\{"_fx":"checkpoint","id":1,[^'$'\n'']*$'
}

@test "fx-sink --keep-partition: an _fx_partition that is not a whole number from 0 to 2147483647 is a bad record" {
	printf '%s\n' '{"a":1,"_fx_partition":3}' '{"a":2,"_fx_partition":null}' '{"a":3}' >ok.ndjson
	for v in 4294967298 2.9 2.0 -1 1e0 '"2"' true; do
		printf '{"a":6,"_fx_partition":%s}\n' "$v"
	done >bad.ndjson
	run --separate-stderr fx-sink -t p4 --keep-partition <bad.ndjson
	assert_failure 1
	assert_equal "$stderr" 'fx-sink: stdin:1: field "_fx_partition": not a partition number: 4294967298'
	cat ok.ndjson bad.ndjson >in.ndjson
	run --separate-stderr fx-sink -t p4 --keep-partition --on-error dlq=dlq.ndjson <in.ndjson
	assert_success
	assert_equal "$(jq -r ._fx_error dlq.ndjson)" 'field "_fx_partition": not a partition number: 4294967298
field "_fx_partition": not a partition number: 2.9
field "_fx_partition": not a partition number: 2.0
field "_fx_partition": not a partition number: -1
field "_fx_partition": not a partition number: 1e0
field "_fx_partition": not a partition number: "2"
field "_fx_partition": not a partition number: true'
	run kcat -b "$B" -C -t p4 -e -q -f '%p %s\n'
	assert_line '3 {"a":1}'
	[ "$(wc -l <<<"$output")" = 3 ] || fail "records in p4: $output"
	refute_output --partial '"a":6'
	# the largest is a partition number: the broker, not fx-sink, refuses it
	run --separate-stderr fx-sink -t p4 --keep-partition <<<'{"a":7,"_fx_partition":2147483647}'
	assert_failure 3
	assert_equal "$stderr" "fx-sink: 1 of 1 records failed, first error: topic 'p4': Local: Unknown partition; stopped reading after record 1: any input after it was not produced"
}

@test "fx-consume --meta | fx-sink --keep-partition keeps the message timestamps; a bad _fx_ts is a bad record" {
	printf 'k1\t{"a":1}\nk2\t{"a":2}\n' | kcat -b "$B" -P -t p4 -K '	' -p 2
	kcat -b "$B" -C -t p4 -e -q -f '%p|%k|%T|%s\n' >want
	sleep 1.1 # the copy's clock is later than the original's
	fx-consume -t p4 -e --meta >meta.ndjson
	fx-sink -t copy --keep-partition <meta.ndjson
	run kcat -b "$B" -C -t copy -e -q -f '%p|%k|%T|%s\n'
	assert_output "$(cat want)"
	# without --keep-partition: the copy's time, as any producer's
	fx-sink -t plain <meta.ndjson
	orig=$(head -n 1 want | cut -d'|' -f3)
	for t in $(kcat -b "$B" -C -t plain -e -q -f '%T\n'); do
		[ "$t" -ge $((orig + 1000)) ] || fail "timestamp $t, the original's $orig"
	done
	# null: the producer's clock; not an ISO-8601 string: a bad record
	printf '%s\n' '{"a":3,"_fx_ts":null}' '{"a":4,"_fx_ts":1796194782064}' \
		'{"a":5,"_fx_ts":"yesterday"}' '{"a":6,"_fx_ts":"1969-12-31T23:59:59Z"}' >bad.ndjson
	run --separate-stderr fx-sink -t p1 --keep-partition --on-error dlq=dlq.ndjson <bad.ndjson
	assert_success
	assert_equal "$(jq -r ._fx_error dlq.ndjson)" 'field "_fx_ts": not an ISO-8601 time: 1796194782064
field "_fx_ts": not an ISO-8601 time: "yesterday"
field "_fx_ts": not an ISO-8601 time: "1969-12-31T23:59:59Z"'
	run kcat -b "$B" -C -t p1 -e -q -f '%s\n'
	assert_output '{"a":3}'
	run --separate-stderr fx-sink -t p1 --keep-partition <<<'{"a":7,"_fx_ts":"2026-13-01T00:00:00Z"}'
	assert_failure 1
	assert_equal "$stderr" 'fx-sink: stdin:1: field "_fx_ts": not an ISO-8601 time: "2026-13-01T00:00:00Z"'
}
