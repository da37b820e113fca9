#!/usr/bin/env bats
# fx-agg --state: snapshots at checkpoint barriers, restore after a kill.
# The property (share/doc/checkpoints.md): one run over a stream writes the
# bytes that a run killed after barrier K, then a new run fed restore K and
# the records after the barrier, write together.

load test_helper

setup() { fx_setup_tmp; }
teardown() { fx_teardown_tmp; }

# stream N EVERY [SEED]: N play events over 3 Kafka partitions (--meta's
# fields, an "assigned" naming a 4th that ends with an "eof"), a few null
# and fractional values and escaped strings, a barrier every EVERY records
# and a final one; it starts with restore 0, as fx-consume --checkpoint's
# output does.
stream() {
	gen "$1" "${3:-7}" --rate 20 --disorder 3000 --users 40 --songs 25 |
		python3 -c '
import json, sys
every = int(sys.argv[1])
print("{\"_fx\":\"restore\",\"id\":0}")
print("{\"_fx\":\"assigned\",\"partitions\":[\"plays/0\",\"plays/1\",\"plays/2\",\"plays/3\"]}")
k = 0
for i, line in enumerate(sys.stdin):
    r = json.loads(line)
    r["_fx_topic"] = "plays"
    r["_fx_partition"] = r["user_id"] % 3
    r["score"] = None if i % 9 == 4 else r["duration_ms"] / 7
    if i % 13 == 6:
        del r["song_id"]
    s = json.dumps(r, separators=(",", ":"))
    if i % 11 == 3:  # one value, two spellings
        s = s.replace("\"province\":\"h", "\"province\":\"\\u0068")
    print(s)
    if i == 40:
        print("{\"_fx\":\"eof\",\"partition\":\"plays/3\"}")
    if (i + 1) % every == 0:
        k += 1
        print("{\"_fx\":\"checkpoint\",\"id\":%d,\"positions\":[[\"plays\",0,%d]]}" % (k, i + 1))
print("{\"_fx\":\"checkpoint\",\"id\":%d,\"positions\":[[\"plays\",0,%d]],\"final\":true}" % (k + 1, i + 1))
' "$2"
}

AGGS=count,count:score,sum:score,avg:score,sum:duration_ms,min:province,max:province,first:song_id,last:song_id,distinct:user_id,approx_distinct:user_id,p50:duration_ms,quantile:score:0.9,topk:province:3

# cut_everywhere FILE FX-AGG-ARGS...: for every barrier K of FILE, runs
# fx-agg over FILE up to 7 records past the barrier (killed there: what it
# wrote after the barrier is lost), then a new fx-agg fed restore K and the
# records after the barrier; the two outputs, cut at the barrier and after
# the restore, must be full.out byte for byte. With --late dlq=late.ndjson
# the late file must also come out as the single run's. A last
# "--min-cuts N" lowers the barriers needed from 8.
cut_everywhere() {
	local in=$1 dlq='' k line n i at cuts=0 min=8 full_late snap
	local -a lines run1 run2
	shift
	if [ "${*: -2:1}" = --min-cuts ]; then
		min=${*: -1}
		set -- "${@:1:$#-2}"
	fi
	case "$*" in *dlq=late.ndjson*) dlq=1 ;; esac
	rm -rf st-full late.ndjson
	fx-agg --state st-full "$@" --stats <"$in" >full.out 2>full.err
	[ -z "$dlq" ] || mv late.ndjson full-late.ndjson
	grep -q '"_fx":"checkpoint"' full.out
	late_of full.err
	full_late=$late
	# Each cut runs the two fx-agg and one cmp, and the rest in bash's
	# builtins: a process per step (head, awk, grep, tail...) made this
	# file take six minutes of CI on a machine where fork is dear.
	mapfile -t lines <"$in"
	for ((n = 1; n <= ${#lines[@]}; n++)); do
		line=${lines[n - 1]}
		[[ $line == *'"_fx":"checkpoint"'* ]] || continue
		k=${line#*\"id\":}
		k=${k%%,*}
		rm -rf st late.ndjson
		printf '%s\n' "${lines[@]:0:n+7}" >run1.in
		fx-agg --state st "$@" <run1.in >run1.out
		# run 1's output up to and including its barrier K
		mapfile -t run1 <run1.out
		at=
		for i in "${!run1[@]}"; do
			[ "${run1[i]}" != "$line" ] || { at=$i && break; }
		done
		[ -n "$at" ] || { echo "cut at barrier $k: run 1 did not pass it" >&2 && return 1; }
		printf '%s\n' "${run1[@]:0:at+1}" >cut.out
		printf -v snap 'st/fx-agg/snap-%020d' "$k"
		[ -f "$snap" ]
		{
			echo "{\"_fx\":\"restore\",\"id\":$k}"
			[ "$n" -ge ${#lines[@]} ] || printf '%s\n' "${lines[@]:n}"
		} >run2.in
		fx-agg --state st "$@" --stats <run2.in >run2.out 2>run2.err
		# the late records are counted over the job, not the process
		late_of run2.err
		[ "$late" = "$full_late" ]
		mapfile -t run2 <run2.out
		[ "${run2[0]}" = "{\"_fx\":\"restore\",\"id\":$k}" ]
		[ ${#run2[@]} -lt 2 ] || printf '%s\n' "${run2[@]:1}" >>cut.out
		cmp cut.out full.out || {
			echo "cut at barrier $k (line $n): output differs" >&2
			diff cut.out full.out | head -20 >&2
			return 1
		}
		if [ -n "$dlq" ]; then
			cmp late.ndjson full-late.ndjson || {
				echo "cut at barrier $k: late file differs" >&2
				return 1
			}
		fi
		cuts=$((cuts + 1))
	done
	[ "$cuts" -ge "$min" ]
}

# late_records [FILE]: how many late records a run counted (--stats)
late_records() {
	sed -n 's/.* \([0-9][0-9]*\) late records$/\1/p' "${1:-full.err}" | tail -1
}

@test "tumble windows over 3 partitions, every aggregate, late records dropped: a cut at any barrier changes nothing" {
	stream 300 11 >in.ndjson
	cut_everywhere in.ndjson --time event_time --window tumble:4s --lateness 1s \
		--idle-timeout 0 --by os --agg "$AGGS"
	[ "$(late_records)" -gt 0 ]
	[ "$(grep -c window_start full.out)" -gt 20 ]
}

@test "hop windows, late records to a dead-letter file: the file is cut back to the checkpoint too" {
	stream 300 11 >in.ndjson
	cut_everywhere in.ndjson --time event_time --window hop:6s/2s --lateness 1s \
		--idle-timeout 0 --by action --agg "$AGGS" --late dlq=late.ndjson
	[ "$(late_records)" -gt 0 ]
	[ -s full-late.ndjson ]
}

@test "cumulate windows, --late update: kept windows and their corrected rows survive a restore" {
	stream 300 11 >in.ndjson
	cut_everywhere in.ndjson --time event_time --window cumulate:2s/8s --lateness 1s \
		--idle-timeout 0 --by os --agg "$AGGS" --late update
	[ "$(late_records)" -gt 0 ]
}

@test "session windows: open sessions and the heap of their ends survive a restore" {
	stream 300 11 >in.ndjson
	cut_everywhere in.ndjson --time event_time --window session:700ms --lateness 1s \
		--idle-timeout 0 --by province --agg "$AGGS"
	[ "$(late_records)" -gt 0 ]
	[ "$(grep -c window_start full.out)" -gt 40 ]
}

@test "a plain group-by: every group is state, its rows come at the final barrier" {
	stream 300 11 >in.ndjson
	cut_everywhere in.ndjson --time event_time --by os,province --agg "$AGGS"
	# the rows are written once, before the final barrier
	tail -n 1 full.out | grep -q '"final":true'
	[ "$(grep -c '"count"' full.out)" -gt 10 ]
}

@test "without --time: first and last by arrival, whose count is part of the state" {
	stream 300 11 >in.ndjson
	cut_everywhere in.ndjson --by os --agg count,first:song_id,last:song_id,first:user_id,last:user_id
}

@test "--partial rows come out the same across a restore" {
	stream 300 11 >in.ndjson
	cut_everywhere in.ndjson --time event_time --window tumble:5s --lateness 1s \
		--idle-timeout 0 --by os --agg "$AGGS" --partial
}

@test "the watermark survives a restore, and each partition's part in it: what was late stays late" {
	# at the barrier partition 0 is at 100 s, partition 1 at 15 s: the
	# watermark is 15 s, [0 s, 10 s) has closed and 3 s is late; then
	# partition 1 moves to 50 s: the watermark is 50 s only if partition
	# 0's 100 s was kept, and then 20 s is late too
	cat >in.ndjson <<-'EOF'
		{"_fx":"restore","id":0}
		{"_fx":"assigned","partitions":["t/0","t/1"]}
		{"_fx_topic":"t","_fx_partition":0,"ts":100,"k":"a"}
		{"_fx_topic":"t","_fx_partition":1,"ts":5,"k":"a"}
		{"_fx_topic":"t","_fx_partition":1,"ts":15,"k":"a"}
		{"_fx":"checkpoint","id":1,"positions":[]}
		{"_fx_topic":"t","_fx_partition":1,"ts":3,"k":"a"}
		{"_fx_topic":"t","_fx_partition":1,"ts":50,"k":"a"}
		{"_fx_topic":"t","_fx_partition":0,"ts":20,"k":"a"}
		{"_fx":"checkpoint","id":2,"positions":[],"final":true}
	EOF
	cut_everywhere in.ndjson --time ts --window tumble:10s --by k --agg count --min-cuts 2
	[ "$(late_records)" -eq 2 ]
	[ "$(grep -c '"window_start":"1970-01-01T00:00:00' full.out)" -eq 1 ]
	run ! grep -q '"window_start":"1970-01-01T00:00:20' full.out
}

@test "after a final barrier the job goes on (files appended to): a record of a window it closed is late, not a second row" {
	A=(fx-agg --time t --window tumble:10s --by k --agg count --state st --late dlq=late.ndjson)
	printf '%s\n' '{"_fx":"restore","id":0}' '{"t":1,"k":"a"}' '{"t":3,"k":"a"}' \
		'{"_fx":"checkpoint","id":1,"positions":[],"final":true}' | "${A[@]}" >run1.out
	# what fx-sink commits after the final barrier
	echo '{"id":1,"positions":[]}' >st/committed.json
	printf '%s\n' '{"_fx":"restore","id":1}' '{"t":2,"k":"a"}' '{"t":12,"k":"a"}' \
		'{"_fx":"checkpoint","id":2,"positions":[],"final":true}' | "${A[@]}" >run2.out
	run grep -v '"_fx"' run1.out run2.out
	assert_output - <<-'EOF'
		run1.out:{"window_start":"1970-01-01T00:00:00.000Z","window_end":"1970-01-01T00:00:10.000Z","k":"a","count":2}
		run2.out:{"window_start":"1970-01-01T00:00:10.000Z","window_end":"1970-01-01T00:00:20.000Z","k":"a","count":1}
	EOF
	run jq -c '[.t, .k]' late.ndjson
	assert_output '[2,"a"]'
}

@test "a restore of a snapshot that is not there: exit 3, naming it" {
	printf '%s\n' '{"_fx":"restore","id":4}' '{"x":1}' >in.ndjson
	run --separate-stderr fx-agg --state st --agg count <in.ndjson
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"st/fx-agg/snap-00000000000000000004: cannot restore checkpoint 4: snapshot missing"* ]] || fail "stderr: $stderr"
	[ -z "$output" ]
}

@test "a snapshot with a byte changed: exit 3, corrupt" {
	stream 100 20 >in.ndjson
	fx-agg --state st --time event_time --window tumble:4s --by os --agg "$AGGS" <in.ndjson >/dev/null
	f=st/fx-agg/snap-00000000000000000002
	[ -f "$f" ]
	# flip one byte in the middle of the state
	python3 -c '
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x20
open(p, "wb").write(b)' "$f"
	run --separate-stderr fx-agg --state st --time event_time --window tumble:4s \
		--by os --agg "$AGGS" <<<'{"_fx":"restore","id":2}'
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"$f: cannot restore checkpoint 2: snapshot corrupt"* ]] || fail "stderr: $stderr"
}

@test "a snapshot made with other options is refused: exit 3" {
	stream 100 20 >in.ndjson
	fx-agg --state st --time event_time --window tumble:4s --by os --agg count <in.ndjson >/dev/null
	run --separate-stderr fx-agg --state st --time event_time --window tumble:4s \
		--by os --agg count,sum:duration_ms <<<'{"_fx":"restore","id":2}'
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"snap-00000000000000000002: cannot restore checkpoint 2: snapshot made with other options"* ]] || fail "stderr: $stderr"
	# the same options restore it
	run --separate-stderr fx-agg --state st --time event_time --window tumble:4s \
		--by os --agg count <<<'{"_fx":"restore","id":2}'
	[ "$status" -eq 0 ]
}

@test "a snapshot is refused with an aggregate's field, --time or --time-unit changed: exit 3" {
	stream 100 20 >in.ndjson
	fx-agg --state st --time event_time --window tumble:4s --by os \
		--agg n=count,s=sum:duration_ms <in.ndjson >/dev/null
	for other in "--agg n=count,s=sum:user_id" "--agg n=count,s=sum:duration_ms --time ts" \
		"--agg n=count,s=sum:duration_ms --time-unit ms"; do
		# shellcheck disable=SC2086
		run --separate-stderr fx-agg --state st --time event_time --window tumble:4s \
			--by os $other <<<'{"_fx":"restore","id":2}'
		assert_failure 3
		assert_regex "$stderr" "cannot restore checkpoint 2: snapshot made with other options" ||
			fail "$other: $stderr"
	done
	# --lateness may change between runs
	run --separate-stderr fx-agg --state st --time event_time --window tumble:4s \
		--by os --agg n=count,s=sum:duration_ms --lateness 10s <<<'{"_fx":"restore","id":2}'
	assert_success
}

@test "restore 0 is a fresh job: every old snapshot goes" {
	stream 100 20 >in.ndjson
	fx-agg --state st --by os --agg count <in.ndjson >/dev/null
	[ "$(ls st/fx-agg | wc -l)" -ge 5 ]
	echo '{"_fx":"restore","id":0}' | fx-agg --state st --by os --agg count
	[ -d st/fx-agg ]
	[ "$(ls st/fx-agg | wc -l)" -eq 0 ]
}

@test "snapshots older than committed.json's checkpoint are removed at the next barrier" {
	stream 100 20 >in.ndjson # barriers 1 to 6, the last final
	mkdir st
	echo '{"id":3,"positions":[],"files":{}}' >st/committed.json
	fx-agg --state st --by os --agg count <in.ndjson >/dev/null
	run ls st/fx-agg
	[ "$output" = "$(printf 'snap-%020d\n' 3 4 5 6)" ]
	# nothing committed yet: every snapshot stays
	rm -rf st
	fx-agg --state st --by os --agg count <in.ndjson >/dev/null
	[ "$(ls st/fx-agg | wc -l)" -eq 6 ]
}

@test "a restore after other records: exit 1" {
	printf '%s\n' '{"x":1}' '{"_fx":"restore","id":0}' >in.ndjson
	run --separate-stderr fx-agg --state st --agg count <in.ndjson
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"a restore record must be the first record of the input"* ]] || fail "stderr: $stderr"
}

@test "--stage NAME: the snapshots go to DIR/NAME; FX_STATE means nothing" {
	stream 60 20 >in.ndjson
	fx-agg --state st --stage minute --by os --agg count <in.ndjson >/dev/null
	[ -f st/minute/snap-00000000000000000001 ]
	[ ! -e st/fx-agg ]
	FX_STATE=$PWD/env fx-agg --by os --agg count <in.ndjson >/dev/null
	[ ! -e env ] || fail "FX_STATE made a state directory"
	run --separate-stderr fx-agg --stage x --agg count </dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--stage needs --state DIR"* ]] || fail "stderr: $stderr"
}

@test "without a state directory, checkpoint and restore records pass through as before" {
	stream 100 20 >in.ndjson
	fx-agg --time event_time --window tumble:4s --by os --agg count <in.ndjson >out
	[ ! -e fx-agg ]
	diff <(grep '"_fx"' out) <(grep -E '"_fx":"(restore|checkpoint)"' in.ndjson)
	# a final barrier does not close the windows: they close at the end
	tail -n 1 out | grep -q window_start
}

@test "--emit changes, --late update: closed sessions and tumble windows survive a restore with what their -D, -U and +U rows need" {
	stream 300 11 >in.ndjson
	cut_everywhere in.ndjson --time event_time --window session:700ms --lateness 1s \
		--idle-timeout 0 --by province --agg "$AGGS" --late update --emit changes
	grep -q '"_fx_op":"-D"' full.out
	grep -q '"_fx_op":"-U"' full.out
	cut_everywhere in.ndjson --time event_time --window tumble:2s --lateness 1s \
		--idle-timeout 0 --by os --agg "$AGGS" --late update --emit changes
	grep -q '"_fx_op":"-U"' full.out
}
