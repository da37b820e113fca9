#!/usr/bin/env bats
# Stream-batch consistency: the same events through a 4-partition topic on
# fx-devbroker and from a file give byte-identical fx-agg output.

load test_helper

setup() {
	fx_setup_tmp
	fx_broker_start --topic plays:4 --topic ties:4
	# 50,000 events, event-time disorder up to 3 s, keyed at random by user
	gen 50000 41 --disorder 3000 >plays.ndjson
	fx-sink -t plays --key user_id <plays.ndjson
}

teardown() { fx_teardown_tmp; }

# same AGG-ARGS...: stream and batch runs of fx-agg, compared with cmp
# (topic $TOPIC, default plays, and the file $TOPIC.ndjson)
same() {
	local topic=${TOPIC:-plays}
	set -o pipefail # a failed fx-consume fails the test, not only a diff
	fx-consume -t "$topic" -e --meta | fx-agg "$@" --stats >stream.out 2>stream.err
	fx-consume "$topic.ndjson" | fx-agg "$@" --stats >batch.out 2>batch.err
	[ "$(wc -l <batch.out)" -gt 10 ]
	cmp stream.out batch.out
	grep -q ' 0 late records' stream.err
	grep -q ' 0 late records' batch.err
}

@test "the topic holds every event, spread over its 4 partitions" {
	fx-consume -t plays -e --meta | jq -r 'select(._fx == null) | ._fx_partition' | sort | uniq -c >parts
	[ "$(wc -l <parts)" -eq 4 ]
	[ "$(awk '{s += $1} END {print s}' parts)" -eq 50000 ]
}

@test "stream and batch agree: tumbling windows" {
	same --time event_time --window tumble:10s --lateness 5s --by os \
		--agg count,sum:duration_ms,distinct:user_id,p95:duration_ms
}

@test "stream and batch agree: hop windows" {
	same --time event_time --window hop:20s/5s --lateness 5s --by action \
		--agg count,avg:duration_ms,approx_distinct:song_id
}

@test "stream and batch agree: session windows" {
	same --time event_time --window session:2s --lateness 5s --by os,province \
		--agg count,first:song_id,last:song_id
}

@test "stream and batch agree: cumulate windows" {
	same --time event_time --window cumulate:5s/20s --lateness 5s --by os --agg count,max:duration_ms
}

@test "stream and batch agree when event times tie: first and last go by value, not arrival" {
	# whole seconds: hundreds of records share each event time, and the
	# stream's 4 partitions interleave them in another order than the file
	jq -c '.event_time |= (.[0:19] + "Z")' plays.ndjson >ties.ndjson
	fx-sink -t ties --key user_id <ties.ndjson
	TOPIC=ties same --time event_time --window tumble:10s --lateness 5s --by os \
		--agg count,first:song_id,last:song_id,first:user_id,last:user_id
	TOPIC=ties same --time event_time --window session:2s --lateness 5s --by os,province --agg first:song_id,last:song_id
}
