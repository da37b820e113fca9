#!/usr/bin/env bats
# fx-join and checkpoints. The interval join (--right --state): barriers of
# its two inputs aligned, its state snapshotted, restored after a kill;
# the property of tests/checkpoint-agg.bats: one run over two streams writes
# the bytes that a run killed after barrier K, then a new run fed restore K
# and the records after barrier K on each input, write together. The lookup
# join keeps no state: restore and checkpoint records pass in their place.

load test_helper

setup() {
	fx_setup_tmp
	STAGE_PIDS=()
}

teardown() { fx_kill_stages; }

# streams N M EVERY_L EVERY_R: l.ndjson, N plays over 3 partitions of topic
# "plays", and r.ndjson, M over 2 partitions of "likes", both starting with
# restore 0 and an "assigned", with a barrier every EVERY_L (EVERY_R)
# records, ids counted from 1 on each, and a final one after the last. A
# few left records have no user_id (a null key), some right ones a null
# value; the partition fields come from fx-consume --meta.
streams() {
	gen "$1" 11 --rate 20 --disorder 3000 --users 30 >l.gen
	gen "$2" 12 --rate 16 --disorder 3000 --users 30 >r.gen
	python3 - "$3" "$4" <<-'EOF'
		import json, sys
		def side(src, dst, topic, nparts, every, tweak):
		    out = open(dst, "w")
		    print('{"_fx":"restore","id":0}', file=out)
		    parts = ["%s/%d" % (topic, p) for p in range(nparts)]
		    print(json.dumps({"_fx": "assigned", "partitions": parts},
		                     separators=(",", ":")), file=out)
		    offs = [0] * nparts
		    k = 0
		    def barrier(final):
		        pos = [[topic, p, offs[p]] for p in range(nparts)]
		        b = {"_fx": "checkpoint", "id": k, "positions": pos}
		        if final:
		            b["final"] = True
		        print(json.dumps(b, separators=(",", ":")), file=out)
		    for i, line in enumerate(open(src)):
		        r = json.loads(line)
		        p = r["user_id"] % nparts
		        r["_fx_topic"] = topic
		        r["_fx_partition"] = p
		        r["_fx_offset"] = offs[p]
		        offs[p] += 1
		        tweak(i, r)
		        print(json.dumps(r, separators=(",", ":")), file=out)
		        if (i + 1) % every == 0:
		            k += 1
		            barrier(False)
		    k += 1
		    barrier(True)
		def tl(i, r):
		    if i % 17 == 5:
		        del r["user_id"]
		def tr(i, r):
		    r["liked"] = None if i % 7 == 2 else r["duration_ms"] % 5
		side("l.gen", "l.ndjson", "plays", 3, int(sys.argv[1]), tl)
		side("r.gen", "r.ndjson", "likes", 2, int(sys.argv[2]), tr)
	EOF
}

# cut_everywhere FX-JOIN-ARGS...: over l.ndjson and r.ndjson, for every
# barrier K that one whole run writes: a run over each input up to 5
# records past its barrier K (killed there: what it wrote after the barrier
# is lost; an input that ended before K is whole), then a new run fed
# restore K and the records after barrier K of each (nothing of an input
# that ended before K). Run 1's output up to its barrier K, then run 2's
# after its restore K, must be full.out byte for byte.
cut_everywhere() {
	local k line cuts=0 nl nr at i full_late snap
	local -a left right run1 run2 outs
	rm -rf st-full
	fx-join --state st-full --right r.ndjson "$@" --stats l.ndjson \
		>full.out 2>full.err
	grep -q '"_fx":"checkpoint"' full.out
	late_of full.err
	full_late=$late
	# Each cut runs the two fx-join and one cmp, and the rest in bash's
	# builtins: a process per step (head, awk, grep, tail...) made this
	# file's cuts cost most of its CI time on a machine where fork is dear.
	mapfile -t left <l.ndjson
	mapfile -t right <r.ndjson
	mapfile -t outs <full.out
	for line in "${outs[@]}"; do
		[[ $line == *'"_fx":"checkpoint"'* ]] || continue
		k=${line#*\"id\":}
		k=${k%%,*}
		barrier_line left "$k"
		nl=$at
		barrier_line right "$k"
		nr=$at
		rm -rf st
		printf '%s\n' "${left[@]:0:nl+5}" >l1.ndjson
		printf '%s\n' "${right[@]:0:nr+5}" >r1.ndjson
		fx-join --state st --right r1.ndjson "$@" l1.ndjson >run1.out 2>run1.err
		mapfile -t run1 <run1.out
		at=
		for i in "${!run1[@]}"; do
			[ "${run1[i]}" != "$line" ] || { at=$i && break; }
		done
		[ -n "$at" ] || {
			echo "cut at barrier $k: run 1 did not write it" >&2
			cat run1.err >&2
			return 1
		}
		printf '%s\n' "${run1[@]:0:at+1}" >cut.out
		printf -v snap 'st/fx-join/snap-%020d' "$k"
		[ -f "$snap" ]
		{
			echo "{\"_fx\":\"restore\",\"id\":$k}"
			[ "$nr" -ge ${#right[@]} ] || printf '%s\n' "${right[@]:nr}"
		} >r2.ndjson
		{
			echo "{\"_fx\":\"restore\",\"id\":$k}"
			[ "$nl" -ge ${#left[@]} ] || printf '%s\n' "${left[@]:nl}"
		} >l2.ndjson
		fx-join --state st --right r2.ndjson "$@" --stats l2.ndjson \
			>run2.out 2>run2.err
		# the late records are counted over the job, not the process
		late_of run2.err
		[ "$late" = "$full_late" ]
		mapfile -t run2 <run2.out
		[ "${run2[0]}" = "{\"_fx\":\"restore\",\"id\":$k}" ]
		[ ${#run2[@]} -lt 2 ] || printf '%s\n' "${run2[@]:1}" >>cut.out
		cmp cut.out full.out || {
			echo "cut at barrier $k: output differs" >&2
			diff cut.out full.out | head -20 >&2
			return 1
		}
		cuts=$((cuts + 1))
	done
	echo "$cuts cuts"
	[ "$cuts" -ge "${MIN_CUTS:-6}" ]
}

# barrier_line ARRAY K: sets at to the line number of barrier K in the
# lines of ARRAY (a name); if they ended (a final barrier) before K, to
# their count
barrier_line() {
	local -n of=$1
	local i
	for i in "${!of[@]}"; do
		[[ ${of[i]} != *"\"_fx\":\"checkpoint\",\"id\":$2,"* ]] || { at=$((i + 1)) && return 0; }
	done
	at=${#of[@]}
}

# late_records [FILE]: how many late records a run counted (--stats)
late_records() {
	sed -n 's/.* \([0-9][0-9]*\) late records$/\1/p' "${1:-full.err}" | tail -1
}

JOIN=(--on user_id --time event_time --within 2s --lateness 2s --idle-timeout 0)

@test "interval join, barriers at the same ids on both inputs: a cut at any barrier changes nothing" {
	streams 300 240 30 24
	cut_everywhere "${JOIN[@]}"
	[ "$(late_records)" -gt 0 ]
	[ "$(grep -vc '"_fx"' full.out)" -gt 400 ]
	# one restore, the barriers 1 to 11, the last final, with the positions
	# of both inputs
	[ "$(grep -c '"_fx":"restore"' full.out)" -eq 1 ]
	[ "$(grep -c '"_fx":"checkpoint"' full.out)" -eq 11 ]
	tail -n 1 full.out | grep -q '"final":true'
	tail -n 1 full.out | grep -q '\["likes",1,[0-9]*\]'
	tail -n 1 full.out | grep -q '\["plays",2,[0-9]*\]'
}

@test "the right input ends first: later barriers align alone, with its last positions; --left-nulls" {
	streams 300 120 30 30 # left barriers 1-10, final 11; right 1-4, final 5
	cut_everywhere "${JOIN[@]}" --left-nulls --fields action,liked
	[ "$(grep -c '"_fx":"checkpoint"' full.out)" -eq 11 ]
	# barrier 5 ended the right input, not the job
	grep '"id":5,' full.out | grep -vq final
	grep '"id":8,' full.out | grep -q '\["likes",1,[0-9]*\]'
	tail -n 1 full.out | grep -q '"final":true'
	grep -q '"right_liked":null' full.out
}

@test "the left input ends first; --left keeps the records without a key" {
	streams 100 240 25 20 # left 1-4, final 5; right 1-12, final 13
	cut_everywhere "${JOIN[@]}" --left
	[ "$(grep -c '"_fx":"checkpoint"' full.out)" -eq 13 ]
	# left records without user_id were kept, alone
	[ "$(jq -c 'select(._fx == null and .user_id == null)' full.out | wc -l)" -gt 0 ]
}

@test "without --state the records come out as before: the same pairs, left control records passed on" {
	streams 300 240 30 24
	fx-join --state st --right r.ndjson "${JOIN[@]}" l.ndjson >with.out
	fx-join --right r.ndjson "${JOIN[@]}" l.ndjson >without.out
	diff <(grep -v '"_fx"' with.out) <(grep -v '"_fx"' without.out)
	# without: the left's restore and barriers, as they were
	diff <(grep '"_fx"' without.out) <(grep -E '"_fx":"(restore|checkpoint)"' l.ndjson)
	[ ! -e fx-join ]
}

@test "alignment: the snapshot holds each input exactly up to its barrier" {
	# barrier 1 comes on the left after a record at 10 s, on the right
	# after one at 1 s; the left record at 2 s that follows its barrier is
	# not read before the right's barrier: the snapshot does not hold it,
	# so the restored run pairs it once, with the right record at 3 s.
	printf '%s\n' '{"_fx":"restore","id":0}' '{"k":1,"t":10}' \
		'{"_fx":"checkpoint","id":1,"positions":[["l",0,1]]}' '{"k":1,"t":12}' \
		'{"_fx":"checkpoint","id":2,"positions":[["l",0,2]],"final":true}' >l.ndjson
	printf '%s\n' '{"_fx":"restore","id":0}' '{"k":1,"t":1,"n":"a"}' \
		'{"_fx":"checkpoint","id":1,"positions":[["l",0,0],["r",0,1]]}' '{"k":1,"t":11,"n":"b"}' \
		'{"_fx":"checkpoint","id":2,"positions":[["r",0,2]],"final":true}' >r.ndjson
	# the right's source restored from a committed.json that named the
	# left's partition too: that stale offset does not win
	run --separate-stderr fx-join --state st --right r.ndjson --on k --time t \
		--within 1s --left l.ndjson
	assert_success
	assert_output - <<-'EOF'
		{"_fx":"restore","id":0}
		{"_fx":"checkpoint","id":1,"positions":[["l",0,1],["r",0,1]]}
		{"k":1,"t":10,"right_t":11,"right_n":"b"}
		{"k":1,"t":12,"right_t":11,"right_n":"b"}
		{"_fx":"checkpoint","id":2,"positions":[["l",0,2],["r",0,2]],"final":true}
	EOF
	# restored from 1: the left record at 10 s is in the snapshot, the
	# right at 1 s was let go (nothing can pair with it any more)
	printf '%s\n' '{"_fx":"restore","id":1}' '{"k":1,"t":12}' >l2
	printf '%s\n' '{"_fx":"restore","id":1}' '{"k":1,"t":11,"n":"b"}' >r2
	run --separate-stderr fx-join --state st --right r2 --on k --time t \
		--within 1s --left l2
	assert_success
	assert_output - <<-'EOF'
		{"_fx":"restore","id":1}
		{"k":1,"t":10,"right_t":11,"right_n":"b"}
		{"k":1,"t":12,"right_t":11,"right_n":"b"}
	EOF
}

@test "the watermarks survive a restore, and each partition's part in them: what was late stays late" {
	# at barrier 1 the left's partition 0 is at 100 s, partition 1 at 15
	# s: the left watermark is 15 s and 3 s is late; then partition 1 moves
	# to 50 s: the watermark is 50 s only if partition 0's 100 s was kept,
	# and then 20 s is late too
	printf '%s\n' '{"_fx":"restore","id":0}' '{"_fx":"assigned","partitions":["t/0","t/1"]}' \
		'{"_fx_topic":"t","_fx_partition":0,"ts":100,"k":"a"}' \
		'{"_fx_topic":"t","_fx_partition":1,"ts":5,"k":"a"}' \
		'{"_fx_topic":"t","_fx_partition":1,"ts":15,"k":"a"}' \
		'{"_fx":"checkpoint","id":1,"positions":[["t",0,1],["t",1,2]]}' \
		'{"_fx_topic":"t","_fx_partition":1,"ts":3,"k":"a"}' \
		'{"_fx_topic":"t","_fx_partition":1,"ts":50,"k":"a"}' \
		'{"_fx_topic":"t","_fx_partition":0,"ts":20,"k":"a"}' \
		'{"_fx":"checkpoint","id":2,"positions":[["t",0,2],["t",1,4]],"final":true}' >l.ndjson
	printf '%s\n' '{"_fx":"restore","id":0}' '{"ts":4,"k":"a"}' '{"ts":16,"k":"a"}' \
		'{"_fx":"checkpoint","id":1,"positions":[["u",0,2]]}' \
		'{"ts":21,"k":"a"}' '{"ts":49,"k":"a"}' '{"ts":99,"k":"a"}' \
		'{"_fx":"checkpoint","id":2,"positions":[["u",0,5]],"final":true}' >r.ndjson
	MIN_CUTS=2 cut_everywhere --on k --time ts --within 2s --idle-timeout 0
	[ "$(late_records)" -eq 2 ]
	[ "$(grep -c '^{"ts":20,' full.out)" -eq 0 ]
	[ "$(grep -vc '"_fx"' full.out)" -eq 4 ]
}

@test "an input that ends without a final barrier: no barrier goes out after it" {
	printf '%s\n' '{"_fx":"restore","id":0}' '{"k":1,"t":1}' \
		'{"_fx":"checkpoint","id":1,"positions":[]}' '{"k":1,"t":2}' \
		'{"_fx":"checkpoint","id":2,"positions":[]}' '{"k":1,"t":3}' \
		'{"_fx":"checkpoint","id":3,"positions":[],"final":true}' >l.ndjson
	printf '%s\n' '{"_fx":"restore","id":0}' '{"k":1,"t":1}' \
		'{"_fx":"checkpoint","id":1,"positions":[]}' '{"k":1,"t":2}' >r.ndjson
	run --separate-stderr fx-join --state st --right r.ndjson --on k --time t \
		--within 0s l.ndjson
	assert_success
	# the pair at 1 s is complete only once the records at 2 s are read
	assert_output - <<-'EOF'
		{"_fx":"restore","id":0}
		{"_fx":"checkpoint","id":1,"positions":[]}
		{"k":1,"t":1,"right_t":1}
		{"k":1,"t":2,"right_t":2}
	EOF
	assert_equal "$stderr" "fx-join: checkpoint 2 not taken, nor any after it: the right input ended without a final barrier"
	[ ! -e st/fx-join/snap-00000000000000000002 ]
}

@test "restore: missing, corrupt, or made with other options: exit 3 naming the snapshot" {
	printf '%s\n' '{"_fx":"restore","id":4}' '{"k":1,"t":1}' >l
	printf '%s\n' '{"_fx":"restore","id":4}' '{"k":1,"t":1}' >r
	run --separate-stderr fx-join --state st --right r --on k --time t --within 1s l
	assert_failure 3
	assert_equal "$stderr" "fx-join: st/fx-join/snap-00000000000000000004: cannot restore checkpoint 4: snapshot missing"
	assert_output ''
	streams 100 80 20 16
	fx-join --state st --right r.ndjson "${JOIN[@]}" l.ndjson >/dev/null
	f=st/fx-join/snap-00000000000000000003
	[ -f "$f" ]
	printf '%s\n' '{"_fx":"restore","id":3}' >l
	cp l r
	# other options: refused, the same ones load it
	run --separate-stderr fx-join --state st --right r "${JOIN[@]}" --within 3s l
	assert_failure 3
	assert_equal "$stderr" "fx-join: $f: cannot restore checkpoint 3: snapshot made with other options (--on, --fields, --time, --right-time, --time-unit, --within, --left, --right-prefix)"
	run --separate-stderr fx-join --state st --right r "${JOIN[@]}" l
	assert_success
	# one byte changed in the middle
	python3 -c '
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x20
open(p, "wb").write(b)' "$f"
	run --separate-stderr fx-join --state st --right r "${JOIN[@]}" l
	assert_failure 3
	assert_equal "$stderr" "fx-join: $f: cannot restore checkpoint 3: snapshot corrupt"
}

@test "restore: both inputs must start with the same one, and only first" {
	printf '%s\n' '{"_fx":"restore","id":0}' '{"k":1,"t":1}' >l
	printf '%s\n' '{"k":1,"t":1}' >r
	run --separate-stderr fx-join --state st --right r --on k --time t --within 1s l
	assert_failure 3
	assert_equal "$stderr" "fx-join: the left input starts with restore 0, the right input does not: both must come from sources that restore the same checkpoint"
	: >r
	run --separate-stderr fx-join --state st --right r --on k --time t --within 1s l
	assert_failure 3
	printf '%s\n' '{"_fx":"restore","id":2}' >r
	printf '%s\n' '{"_fx":"restore","id":1}' >l
	run --separate-stderr fx-join --state st --right r --on k --time t --within 1s l
	assert_failure 3
	assert_equal "$stderr" "fx-join: the left input restores checkpoint 1, the right input checkpoint 2: both must restore the same one"
	printf '%s\n' '{"k":1,"t":1}' '{"_fx":"restore","id":0}' >r
	printf '%s\n' '{"k":1,"t":1}' >l
	run --separate-stderr fx-join --state st --right r --on k --time t --within 1s l
	assert_failure 1
	assert_equal "$stderr" "fx-join: right input: a restore record must be the first record of the input"
	# barriers numbered differently do not align
	printf '%s\n' '{"_fx":"checkpoint","id":1,"positions":[]}' >l
	printf '%s\n' '{"_fx":"checkpoint","id":2,"positions":[]}' >r
	run --separate-stderr fx-join --state st --right r --on k --time t --within 1s l
	assert_failure 1
	assert_equal "$stderr" "fx-join: checkpoint 2 on the right input meets checkpoint 1 on the left input: the sources must number their barriers alike"
}

@test "restore 0 removes old snapshots; older than committed.json's go at each barrier; --stage" {
	streams 100 80 20 16 # barriers 1 to 6, the last final
	mkdir st
	echo '{"id":3,"positions":[],"files":{}}' >st/committed.json
	fx-join --state st --right r.ndjson "${JOIN[@]}" l.ndjson >/dev/null
	run ls st/fx-join
	[ "$output" = "$(printf 'snap-%020d\n' 3 4 5 6)" ]
	printf '%s\n' '{"_fx":"restore","id":0}' >l
	cp l r
	fx-join --state st --right r "${JOIN[@]}" l >/dev/null
	[ -d st/fx-join ]
	[ "$(ls st/fx-join | wc -l)" -eq 0 ]
	fx-join --state st --stage likes --right r.ndjson "${JOIN[@]}" l.ndjson >/dev/null
	[ -f st/likes/snap-00000000000000000006 ]
	FX_STATE=$PWD/env fx-join --right r.ndjson "${JOIN[@]}" l.ndjson >/dev/null
	[ ! -e env ] || fail "FX_STATE made a state directory"
}

@test "usage: --stage needs --state; a lookup join takes no --state" {
	run --separate-stderr fx-join --stage x --right r --on k --time t --within 1s </dev/null
	assert_failure 2
	[[ "$stderr" == *"--stage needs --state DIR"* ]] || fail "stderr: $stderr"
	echo 'k,v' >d.csv
	run --separate-stderr fx-join --state st --dim d.csv --on k </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-join: --state is for the interval join: a lookup join keeps no state (checkpoint and restore records pass through) (see 'fx-join --help')"
	[ ! -e st ]
	run --separate-stderr fx-join --stage s --dim d.csv --on k </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-join: --stage is for the interval join: a lookup join keeps no state (checkpoint and restore records pass through) (see 'fx-join --help')"
	run --separate-stderr fx-join --state st --stage s --dim d.csv --on k </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-join: --state and --stage are for the interval join: a lookup join keeps no state (checkpoint and restore records pass through) (see 'fx-join --help')"
	[ ! -e st ]
}

# A lookup join's output with the added fields taken out, as jq writes it
lookup_strip() {
	jq -c 'del(.genre, .title)'
}

@test "lookup join: restore and checkpoint records come out in their place among the records" {
	gen 400 3 --songs 60 >plays.ndjson
	gen-plays -n 0 -s 3 --songs 50 --dim-songs songs.csv # some miss
	python3 - <<-'EOF' >in.ndjson
		import json
		print('{"_fx":"restore","id":3}')
		k = 3
		for i, line in enumerate(open("plays.ndjson")):
		    print(line, end="")
		    # barriers apart, and runs of them back to back
		    if i % 23 == 22 or 200 <= i < 220:
		        k += 1
		        print(json.dumps({"_fx": "checkpoint", "id": k,
		                          "positions": [["plays", 0, i + 1]]},
		                         separators=(",", ":")))
		print(json.dumps({"_fx": "checkpoint", "id": k + 1, "positions": [],
		                  "final": True}, separators=(",", ":")))
	EOF
	fx-join --dim songs.csv --on song_id --fields title,genre --left <in.ndjson >out
	diff <(lookup_strip <out) <(lookup_strip <in.ndjson)
	# inner: the unmatched records go, everything else keeps its order
	fx-join --dim songs.csv --on song_id --fields title,genre <in.ndjson >inner
	[ "$(grep -vc '"_fx"' inner)" -lt 400 ]
	jq -c 'select(.genre != null or ._fx != null) | del(.genre, .title)' out >want
	diff <(lookup_strip <inner) want
	[ "$(grep -c '"_fx":"checkpoint"' inner)" -eq "$(grep -c '"_fx":"checkpoint"' in.ndjson)" ]
	head -n 1 inner | grep -qxF '{"_fx":"restore","id":3}'
}

@test "Kafka dimension: barriers pass in order; at restore K the topic is read again, as it is then" {
	fx_broker_start --topic songs:2
	printf '%s\n' '1:{"genre":"rock"}' '2:{"genre":"pop"}' |
		kcat -P -b "$B" -t songs -K:
	printf '%s\n' '{"_fx":"restore","id":0}' '{"song_id":1}' \
		'{"_fx":"checkpoint","id":1,"positions":[["p",0,1]]}' '{"song_id":2}' \
		'{"_fx":"checkpoint","id":2,"positions":[["p",0,2]],"final":true}' >in.ndjson
	run --separate-stderr fx-join --dim kafka:songs --on song_id --left <in.ndjson
	assert_success
	assert_output - <<-'EOF'
		{"_fx":"restore","id":0}
		{"song_id":1,"genre":"rock"}
		{"_fx":"checkpoint","id":1,"positions":[["p",0,1]]}
		{"song_id":2,"genre":"pop"}
		{"_fx":"checkpoint","id":2,"positions":[["p",0,2]],"final":true}
	EOF
	# song 2 changed after checkpoint 1: the restarted run reads the whole
	# topic again and joins the records after the barrier with what it
	# holds now (processing time), each of them once
	printf '%s\n' '2:{"genre":"jazz"}' | kcat -P -b "$B" -t songs -K:
	printf '%s\n' '{"_fx":"restore","id":1}' '{"song_id":2}' \
		'{"_fx":"checkpoint","id":2,"positions":[["p",0,2]],"final":true}' >in2.ndjson
	run --separate-stderr fx-join --dim kafka:songs --on song_id --left <in2.ndjson
	assert_success
	assert_output - <<-'EOF'
		{"_fx":"restore","id":1}
		{"song_id":2,"genre":"jazz"}
		{"_fx":"checkpoint","id":2,"positions":[["p",0,2]],"final":true}
	EOF
}

# Two sources of one job on a broker. Both fx-consume read the job's
# committed.json, which names both topics (fx-join merges the positions);
# each source carries only its own topic's partitions.

# job_start [-e]: fx-consume -t plays and -t likes (checkpoints every 40
# records), fx-join --right likes, fx-sink --dir out by os, one state directory
# st, joined by FIFOs so that each stage has a PID (STAGE_PIDS)
job_start() {
	rm -f pl li pj && mkfifo pl li pj
	fx-consume -t plays --meta --checkpoint 40 --state st "$@" >pl 2>>err &
	STAGE_PIDS=($!)
	fx-consume -t likes --meta --checkpoint 40 --state st "$@" >li 2>>err &
	STAGE_PIDS+=($!)
	fx-join --state st --right li --fields n "${JOIN[@]}" pl >pj 2>>err &
	STAGE_PIDS+=($!)
	fx-sink --dir out --partition os --state st <pj 2>>err &
	STAGE_PIDS+=($!)
}

# topics_of_barriers TOPIC: the topics that the barriers of a checkpointed
# fx-consume -t TOPIC over st name, one line each
topics_of_barriers() {
	fx-consume -t "$1" --checkpoint 40 --state st -e |
		jq -r 'select(._fx == "checkpoint") | .positions[][0]' | sort -u
}

@test "two sources of two topics share a state directory: each barrier names its own topic; the join is whole after kill -9 and a restart" {
	fx_broker_start --topic plays:3 --topic likes:2
	# event times in order in every partition: no record is late, so the
	# join is every pair of one user's records at most 2 s apart
	gen 600 11 --rate 20 --disorder 0 --users 30 |
		jq -nc '[inputs] | to_entries[] | {n: .key, user_id: .value.user_id, os: .value.os, event_time: .value.event_time}' >plays.ndjson
	gen 400 12 --rate 13 --disorder 0 --users 30 |
		jq -nc '[inputs] | to_entries[] | {n: (.key + 1000), user_id: .value.user_id, event_time: .value.event_time}' >likes.ndjson
	head -n 300 plays.ndjson | fx-sink -t plays --key user_id
	head -n 200 likes.ndjson | fx-sink -t likes --key user_id

	# run 1 (no -e): killed with SIGKILL once it has committed checkpoints
	job_start
	for _ in $(seq 300); do
		[ "$(committed_id st)" -ge 3 ] && break
		sleep 0.1
	done
	[ "$(committed_id st)" -ge 3 ] || fail "run 1 committed nothing: $(cat err)"
	for p in "${STAGE_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait_stream 30 || true
	# run 2 resumes from the committed checkpoint: the join's snapshot of it
	k=$(committed_id st)
	[ -f "st/fx-join/snap-$(printf %020d "$k")" ] || fail "no snapshot of checkpoint $k"
	# the job's commit names both topics; each source's barriers its own
	assert_equal "$(jq -r '[.positions[][0]] | unique | join(" ")' st/committed.json)" "likes plays"
	assert_equal "$(topics_of_barriers plays)" plays
	assert_equal "$(topics_of_barriers likes)" likes

	# the rest of the events, then run 2 to the end
	tail -n +301 plays.ndjson | fx-sink -t plays --key user_id
	tail -n +201 likes.ndjson | fx-sink -t likes --key user_id
	job_start -e
	wait_stream 120 || fail "run 2 failed: $(cat err)"
	assert_equal "$(jq -r '[.positions[] | select(.[0] == "plays") | .[2]] | add' st/committed.json)" 600
	assert_equal "$(jq -r '[.positions[] | select(.[0] == "likes") | .[2]] | add' st/committed.json)" 400
	# every pair once, as an independent oracle finds them
	python3 - >want <<-'EOF'
		import json
		from datetime import datetime
		def load(f):
		    rs = [json.loads(l) for l in open(f)]
		    for r in rs:
		        r["ms"] = datetime.fromisoformat(r["event_time"].replace("Z", "+00:00")).timestamp() * 1000
		    return rs
		for l in load("plays.ndjson"):
		    for r in load("likes.ndjson"):
		        if l["user_id"] == r["user_id"] and abs(l["ms"] - r["ms"]) <= 2000:
		            print(l["n"], r["n"])
	EOF
	[ "$(wc -l <want)" -gt 50 ] || fail "too few pairs to tell: $(wc -l <want)"
	cat out/*/* | jq -r '"\(.n) \(.right_n)"' | sort >got
	sort want >want.sorted
	cmp got want.sorted || fail "pairs differ: $(diff got want.sorted | head)"
}
