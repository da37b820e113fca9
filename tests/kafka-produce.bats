#!/usr/bin/env bats
# fx-sink to Kafka when a record is not delivered: what it says and what
# it leaves. Every test starts its own fx-devbroker and stops it by PID;
# kcat is the independent client that reads what landed.

load test_helper

setup() {
	fx_setup_tmp
	fx_broker_start --topic big2:1
}

teardown() {
	fx_teardown_tmp
}

# big N: a record of 3 MB (over librdkafka's message.max.bytes, 1 MB) with
# "n":1, then the small records 2..N
big() {
	python3 -c '
import json, sys
print(json.dumps({"big": "x" * 3000000, "n": 1}))
for n in range(2, int(sys.argv[1]) + 1):
    print(json.dumps({"n": n}))
' "$1"
}

@test "a record too large: fx-sink stops there and says how much it read, so that the rest can be produced after it" {
	big 3 >big.ndjson
	run --separate-stderr fx-sink -t big2 --key n --stats <big.ndjson
	assert_failure 3
	assert_output ''
	# the first line: the record read failed, and where the reading stopped
	assert_equal "$(head -n 1 <<<"$stderr")" "fx-sink: 1 of 1 records failed, first error: topic 'big2': Broker: Message size too large; stopped reading after record 1: any input after it was not produced"
	# delivered + failed = read: 0 + 1 = 1
	assert_equal "$(sed -n 2p <<<"$stderr" | grep -o '^fx-sink: stats: 1 records in, 0 records out,')" 'fx-sink: stats: 1 records in, 0 records out,'
	run kcat -b "$B" -C -t big2 -e -q -f '%k %s\n'
	assert_success
	assert_output ''
	# what it did not read is the input after record 1: produce that
	tail -n +2 big.ndjson | fx-sink -t big2 --key n
	run kcat -b "$B" -C -t big2 -e -q -f '%k %s\n'
	assert_success
	assert_output '2 {"n": 2}
3 {"n": 3}'
}

@test "a record too large that is the whole input: the message claims no rest of the input that was not produced" {
	# nothing follows the failed record: "the rest of the input was not
	# produced" would send the reader looking for records that never were
	big 1 >one.ndjson
	run --separate-stderr fx-sink -t big2 --key n <one.ndjson
	assert_failure 3
	assert_output ''
	assert_equal "$stderr" "fx-sink: 1 of 1 records failed, first error: topic 'big2': Broker: Message size too large; stopped reading after record 1: any input after it was not produced"
	# and from a pipe, with the record the last line of a longer input
	run --separate-stderr bash -c '{ printf "%s\n" "{\"n\":0}"; cat one.ndjson; } | fx-sink -t big2 --key n'
	assert_failure 3
	assert_equal "$stderr" "fx-sink: 1 of 2 records failed, first error: topic 'big2': Broker: Message size too large; stopped reading after record 2: any input after it was not produced"
	run kcat -b "$B" -C -t big2 -e -q -f '%k %s\n'
	assert_success
	assert_output '0 {"n":0}'
}

@test "a record too large among others read with it: every record read counted, delivered + failed = read" {
	# the small records first, so that the large one is read late: what
	# was handed over before it is delivered, it fails, nothing after it
	# is read; a count parsed from the message, checked against kcat
	python3 -c '
import json
for n in range(1, 6):
    print(json.dumps({"n": n}))
print(json.dumps({"big": "x" * 3000000, "n": 6}))
print(json.dumps({"n": 7}))
' >in.ndjson
	run --separate-stderr fx-sink -t big2 --stats <in.ndjson
	assert_failure 3
	failed=$(sed -n 's/^fx-sink: \([0-9]*\) of \([0-9]*\) records failed.*/\1/p' <<<"$stderr")
	sent=$(sed -n 's/^fx-sink: \([0-9]*\) of \([0-9]*\) records failed.*/\2/p' <<<"$stderr")
	after=$(sed -n 's/.*; stopped reading after record \([0-9]*\): any input after it was not produced$/\1/p' <<<"$stderr")
	in=$(sed -n 's/^fx-sink: stats: \([0-9]*\) records in.*/\1/p' <<<"$stderr")
	out=$(sed -n 's/^fx-sink: stats: [0-9]* records in, \([0-9]*\) records out.*/\1/p' <<<"$stderr")
	[ "$failed" = 1 ] || fail "failed '$failed': $stderr"
	[ "$sent" = 6 ] && [ "$after" = 6 ] && [ "$in" = 6 ] && [ "$out" = 5 ] ||
		fail "sent '$sent', stopped after '$after', in '$in', out '$out': $stderr"
	run kcat -b "$B" -C -t big2 -e -q -f '%s\n'
	assert_output '{"n": 1}
{"n": 2}
{"n": 3}
{"n": 4}
{"n": 5}'
}
