#!/usr/bin/env bats
# fx-consume --checkpoint: the source side of checkpoints (issue 13,
# share/doc/checkpoints.md): the restore record first, barriers carrying
# every partition's position, a final one at the end, a restart from
# committed.json, and no offset committed to the group.

load test_helper

# short sessions: a group settles in seconds
GX="-X session.timeout.ms=3000 -X heartbeat.interval.ms=300 --timeout 3s"

setup() {
	fx_setup_tmp
	fx_broker_start --topic t1:1 --topic t4:4
	unset FX_STATE
}

teardown() { fx_teardown_tmp; }

# produce TOPIC PARTITION FROM TO: records {"p":PARTITION,"n":FROM..TO}
produce() {
	seq "$3" "$4" | jq -c --argjson p "$2" '{p: $p, n: .}' |
		kcat -b "$B" -P -t "$1" -p "$2"
}

@test "a fresh start: restore 0, a barrier every 4 records, a final one at -e" {
	produce t1 0 1 10
	run --separate-stderr fx-consume -t t1 --checkpoint 4 --state st -e
	assert_success
	assert_equal "$stderr" ""
	assert_output - <<'EOF'
{"_fx":"restore","id":0}
{"p":0,"n":1}
{"p":0,"n":2}
{"p":0,"n":3}
{"p":0,"n":4}
{"_fx":"checkpoint","id":1,"positions":[["t1",0,4]]}
{"p":0,"n":5}
{"p":0,"n":6}
{"p":0,"n":7}
{"p":0,"n":8}
{"_fx":"checkpoint","id":2,"positions":[["t1",0,8]]}
{"p":0,"n":9}
{"p":0,"n":10}
{"_fx":"checkpoint","id":3,"positions":[["t1",0,10]],"final":true}
EOF
	# fx-consume reads committed.json, it never writes it
	[ ! -e st/committed.json ]
}

@test "a restart resumes at committed.json's offsets, ids go on from its id" {
	produce t1 0 1 20
	mkdir st
	echo '{"id":2,"positions":[["t1",0,8]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume -t t1 --checkpoint 4 -e --state st
	assert_success
	# the run ends at record 20: no ordinary barrier right before the final one
	assert_output - <<'EOF'
{"_fx":"restore","id":2}
{"p":0,"n":9}
{"p":0,"n":10}
{"p":0,"n":11}
{"p":0,"n":12}
{"_fx":"checkpoint","id":3,"positions":[["t1",0,12]]}
{"p":0,"n":13}
{"p":0,"n":14}
{"p":0,"n":15}
{"p":0,"n":16}
{"_fx":"checkpoint","id":4,"positions":[["t1",0,16]]}
{"p":0,"n":17}
{"p":0,"n":18}
{"p":0,"n":19}
{"p":0,"n":20}
{"_fx":"checkpoint","id":5,"positions":[["t1",0,20]],"final":true}
EOF
}

@test "-c ends with an ordinary barrier at the positions reached" {
	produce t1 0 1 10
	run --separate-stderr fx-consume -t t1 --checkpoint 4 --state st -c 6
	assert_success
	assert_output - <<'EOF'
{"_fx":"restore","id":0}
{"p":0,"n":1}
{"p":0,"n":2}
{"p":0,"n":3}
{"p":0,"n":4}
{"_fx":"checkpoint","id":1,"positions":[["t1",0,4]]}
{"p":0,"n":5}
{"p":0,"n":6}
{"_fx":"checkpoint","id":2,"positions":[["t1",0,6]]}
EOF
}

# check_positions FILE: every barrier in FILE lists the 4 partitions of t4,
# each at the number of records of that partition before it (the run
# started at committed.json's positions, in FILE.start as {"P":OFF}), ids
# count up by one from the restore's
check_positions() {
	jq -sc --slurpfile start "$1.start" '
	  reduce .[] as $r ({seen: $start[0], id: null, bad: [], n: 0};
	    if $r._fx == "restore" then .id = $r.id
	    elif $r._fx == "checkpoint" then
	      .n += 1
	      | (if $r.id != .id + 1 then .bad += ["id \($r.id) after \(.id)"] else . end)
	      | .id = $r.id
	      | ([$r.positions[] | "\(.[0])/\(.[1])"]) as $ps
	      | (if $ps != ["t4/0","t4/1","t4/2","t4/3"] then .bad += ["partitions \($ps)"] else . end)
	      | reduce $r.positions[] as $p (.;
	          if .seen["\($p[1])"] != $p[2]
	          then .bad += ["barrier \($r.id): t4/\($p[1]) at \($p[2]), records say \(.seen["\($p[1])"])"]
	          else . end)
	    else .seen["\($r.p)"] += 1 end)
	  | if .n < 2 then .bad += ["only \(.n) barriers"] else . end
	  | .bad' "$1"
}

@test "4 partitions in a group: every barrier names every partition; a restart from a mid-stream one reads the rest, as kcat does" {
	for p in 0 1 2 3; do produce t4 $p $((p * 100 + 1)) $((p * 100 + 10 + p)); done
	# 10, 11, 12 and 13 records
	run --separate-stderr fx-consume -t t4 -g G $GX --checkpoint 7 --state st -e
	assert_success
	printf '%s\n' "$output" >run1
	assert_equal "$(head -n 1 run1)" '{"_fx":"restore","id":0}'
	echo '{"0":0,"1":0,"2":0,"3":0}' >run1.start
	assert_equal "$(check_positions run1)" "[]"
	assert_equal "$(tail -n 1 run1)" \
		'{"_fx":"checkpoint","id":7,"positions":[["t4",0,10],["t4",1,11],["t4",2,12],["t4",3,13]],"final":true}'
	assert_equal "$(grep -vc '"_fx"' run1)" 46

	# committed.json as a sink would write it at barrier 3
	jq -c 'select(._fx == "checkpoint" and .id == 3) | {id, positions, files: {}}' run1 >committed
	[ -s committed ]
	mkdir -p st2
	cp committed st2/committed.json
	jq -c '[.positions[] | {key: "\(.[1])", value: .[2]}] | from_entries' committed >run2.start
	run --separate-stderr fx-consume -t t4 -g G $GX --checkpoint 7 --state st2 -e
	assert_success
	printf '%s\n' "$output" >run2
	assert_equal "$(head -n 1 run2)" '{"_fx":"restore","id":3}'
	assert_equal "$(check_positions run2)" "[]"
	# per partition, the records after the restart are the topic's from
	# the committed offset on
	for p in 0 1 2 3; do
		off=$(jq -r --arg p $p '.[$p]' run2.start)
		kcat -b "$B" -C -t t4 -p $p -o "$off" -e -q >want.$p
		jq -c --argjson p $p 'select(has("_fx") | not) | select(.p == $p)' run2 >got.$p
		cmp want.$p got.$p || fail "t4/$p from $off: $(diff want.$p got.$p)"
	done
	# with the records before barrier 3, every record once
	{ sed '/"_fx":"checkpoint","id":3,/q' run1; cat run2; } |
		jq -c 'select(has("_fx") | not)' | sort >union
	kcat -b "$B" -C -t t4 -e -q | sort >all
	cmp all union
}

@test "a partition of its topics that committed.json lists is carried in every barrier, even while not read; another topic's is not" {
	produce t1 0 1 3
	mkdir st
	# t1/3 stands for a partition not handed out (a group's rebalance);
	# t4 and gone are another source's, which shares the state directory
	echo '{"id":5,"positions":[["gone",0,42],["t1",0,1],["t1",3,7],["t4",2,9]],"files":{}}' >st/committed.json
	for t in t1 '^t1$'; do
		run --separate-stderr fx-consume -t "$t" --checkpoint 1 --state st -e
		assert_success
		assert_output - <<-'EOF'
			{"_fx":"restore","id":5}
			{"p":0,"n":2}
			{"_fx":"checkpoint","id":6,"positions":[["t1",0,2],["t1",3,7]]}
			{"p":0,"n":3}
			{"_fx":"checkpoint","id":7,"positions":[["t1",0,3],["t1",3,7]],"final":true}
		EOF
	done
}

@test "nothing is committed to the group, not even with -X auto commit" {
	produce t1 0 1 10
	run --separate-stderr fx-consume -t t1 -g G $GX --checkpoint 4 --state st -e \
		-X enable.auto.commit=true -X enable.auto.offset.store=true \
		-X auto.commit.interval.ms=100
	assert_success
	assert_equal "$(grep -vc '"_fx"' <<<"$output")" 10
	# a plain member of the group starts from the beginning: no offsets
	run --separate-stderr fx-consume -t t1 -g G $GX -e
	assert_success
	assert_equal "$(wc -l <<<"$output")" 10
	assert_equal "$(head -n 1 <<<"$output")" '{"p":0,"n":1}'
}

@test "the group's committed offsets are not where a checkpointed run starts" {
	produce t1 0 1 10
	# a plain run commits the group to the end
	run fx-consume -t t1 -g G $GX -e
	assert_success
	run --separate-stderr fx-consume -t t1 -g G $GX --checkpoint 100 --state st -e
	assert_success
	assert_equal "$(head -n 2 <<<"$output")" $'{"_fx":"restore","id":0}\n{"p":0,"n":1}'
	assert_equal "$(tail -n 1 <<<"$output")" \
		'{"_fx":"checkpoint","id":1,"positions":[["t1",0,10]],"final":true}'
}

@test "a duration: barriers while no records come, restore before --meta's assigned record" {
	produce t1 0 1 3
	# -o end: the start is looked up (3), not left symbolic
	run --separate-stderr timeout --preserve-status -s TERM 3 fx-consume -t t1 -o end --meta \
		--checkpoint 300ms --state st
	assert_success # SIGTERM: a clean stop
	assert_equal "$(sed -n 1p <<<"$output")" '{"_fx":"restore","id":0}'
	assert_equal "$(sed -n 2p <<<"$output")" '{"_fx":"assigned","partitions":["t1/0"]}'
	assert_equal "$(sed -n 3p <<<"$output")" '{"_fx":"eof","partition":"t1/0"}'
	n=$(grep -c '"checkpoint"' <<<"$output")
	[ "$n" -ge 4 ] || fail "only $n barriers in 3 s at 300ms: $output"
	# every barrier the same position, ids 1..n, none final
	sed -n '4,$p' <<<"$output" | jq -c '[.id, .positions, .final]' >got
	seq "$n" | jq -c '[., [["t1",0,3]], null]' >want
	cmp want got
}

@test "a corrupt or unreadable committed.json: exit 3 naming it, nothing written" {
	mkdir st
	echo '{"id":2,"positions":[["t1",0' >st/committed.json
	run --separate-stderr fx-consume -t t1 --checkpoint 4 --state st -e
	assert_failure 3
	assert_output ''
	assert_equal "$stderr" "fx-consume: st/committed.json: corrupt: not a committed checkpoint"
	echo '{"id":-1,"positions":[]}' >st/committed.json
	run --separate-stderr fx-consume -t t1 --checkpoint 4 --state st -e
	assert_failure 3
	assert_equal "$stderr" "fx-consume: st/committed.json: corrupt: not a committed checkpoint"
	rm st/committed.json
	mkdir st/committed.json
	run --separate-stderr fx-consume -t t1 --checkpoint 4 --state st -e
	assert_failure 3
	assert_output ''
	assert_equal "$stderr" "fx-consume: st/committed.json: Is a directory"
}

@test "--checkpoint and --state: usage errors" {
	see="(see 'fx-consume --help')"
	echo '{"a":1}' >in.ndjson
	# files are sources of checkpoints (tests/checkpoint-files.bats), stdin is not
	run --separate-stderr fx-consume --checkpoint 5s --state st <in.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-consume: --checkpoint: stdin cannot be resumed: FILE or DIR operands $see"
	run --separate-stderr fx-consume -t t1 --checkpoint 5s
	assert_failure 2
	assert_equal "$stderr" "fx-consume: --checkpoint: needs a state directory: --state DIR $see"
	# no environment default (fx-sink(1) says why)
	FX_STATE=st run --separate-stderr fx-consume -t t1 --checkpoint 5s
	assert_failure 2
	assert_equal "$stderr" "fx-consume: --checkpoint: needs a state directory: --state DIR $see"
	run --separate-stderr fx-consume -t t1 --state st
	assert_failure 2
	assert_equal "$stderr" "fx-consume: --state: needs --checkpoint $see"
	for bad in 5x 0 0s -3 1.5s ''; do
		run --separate-stderr fx-consume -t t1 --checkpoint "$bad" --state st
		assert_failure 2
		[[ $stderr == "fx-consume: --checkpoint: "* ]] || fail "'$bad': $stderr"
	done
	run --separate-stderr fx-consume -t t1 --checkpoint 0 --state st
	assert_equal "$stderr" "fx-consume: --checkpoint: expected a duration (5s, 500ms) or a record count above 0 (10000), got '0' $see"
	run --separate-stderr fx-consume -t t1 --checkpoint 5x --state st
	assert_equal "$stderr" "fx-consume: --checkpoint: expected a duration (5s, 500ms) or a record count above 0 (10000), got '5x' $see"
	# FX_STATE means nothing to fx
	FX_STATE=st run --separate-stderr fx-consume in.ndjson
	assert_success
	assert_output '{"a":1}'
}
