#!/usr/bin/env bats
# Checkpoints in --stats and in lineage (issue 13): the stats line of a
# stage that takes part in checkpoints goes on with the checkpoint it
# resumed from, its last barrier, the last committed one and, for fx-agg,
# its last snapshot; COMPLETE and FAIL carry the same in the fx_checkpoint
# run facet, valid OpenLineage (tests/openlineage-validate.py).

load test_helper

setup() {
	fx_setup_tmp
	export FX_LINEAGE=file:$T/lineage.ndjson
	unset FX_JOB FX_RUN_ID
}

teardown() { fx_teardown_tmp; }

# stats FILE PROG: PROG's --stats line in FILE
stats() { grep "^$2: stats: " "$1"; }

# facet PROG: the fx_checkpoint facet of PROG's last COMPLETE or FAIL
facet() {
	jq -c --arg p "$1" 'select(.eventType != "START" and
		.run.facets.fx.program == $p) | .run.facets.fx_checkpoint' \
		lineage.ndjson | tail -n 1
}

validate() {
	run /usr/bin/python3 "$FX_ROOT/tests/openlineage-validate.py" <lineage.ndjson
	assert_success
	assert_output --regexp '^[0-9]+ events, 0 invalid$'
}

# a stream as fx-consume --checkpoint writes it: restore 0, 3 users, a
# barrier, 2 more, a final barrier
stream() {
	cat <<-'EOF'
	{"_fx":"restore","id":0}
	{"user_id":1}
	{"user_id":2}
	{"user_id":3}
	{"_fx":"checkpoint","id":1,"positions":[["t",0,3]]}
	{"user_id":4}
	{"user_id":1}
	{"_fx":"checkpoint","id":2,"positions":[["t",0,5]]}
	EOF
}

# snapshot_state FILE: a snapshot's state bytes, from its size less its
# header line; and the header's LENGTH field must say the same
snapshot_state() {
	local head len
	head=$(head -n 1 "$1")
	len=$(($(stat -c %s "$1") - ${#head} - 1))
	[ "$(cut -d' ' -f4 <<<"$head")" = "$len" ]
	echo "$len"
}

@test "fx-agg --state --stats: restored, checkpoint, committed and the last snapshot's size, time and UTC time" {
	stream >in.ndjson
	run --separate-stderr fx-agg --state st --by user_id --agg count --stats <in.ndjson
	assert_success
	n=$(snapshot_state st/fx-agg/snap-00000000000000000002)
	[ "$n" -gt 0 ]
	line=$(stats <(echo "$stderr") fx-agg)
	# the existing line, then the checkpoints: nothing committed yet
	[[ $line =~ ^fx-agg:\ stats:\ 8\ records\ in,\ [0-9]+\ records\ out,\ 0\ bad,\ [0-9]+\ bytes\ in,\ [0-9]+\ bytes\ out,\ [0-9.]+\ s,\ [0-9]+\ records/s,\ [0-9.]+\ MB/s,\ restored\ 0,\ checkpoint\ 2,\ committed\ 0,\ state\ ([0-9]+)\ bytes,\ snapshot\ [0-9]+\.[0-9]\ ms\ at\ (20[0-9-]+T[0-9:.]+Z)$ ]]
	[ "${BASH_REMATCH[1]}" = "$n" ]
	# written just now (UTC, to the minute)
	[ "${BASH_REMATCH[2]:0:16}" = "$(date -u +%Y-%m-%dT%H:%M)" ] ||
		[ "${BASH_REMATCH[2]:0:16}" = "$(date -u -d '1 minute ago' +%Y-%m-%dT%H:%M)" ]
	run facet fx-agg
	assert_output --regexp '^\{"_producer":"urn:fx:fx:[^"]*","_schemaURL":"urn:fx:schema:FxCheckpointRunFacet:1-0-0","restored":0,"last":2,"committed":0,"snapshots":2,"stateBytes":'"$n"',"snapshotMs":[0-9.e-]+,"snapshotTime":"'"${BASH_REMATCH[2]}"'"\}$'
	validate
}

@test "fx-agg: committed follows committed.json; a restore shows its id and the load's time, and the state it loaded" {
	stream >in.ndjson
	fx-agg --state st --by user_id --agg count <in.ndjson >/dev/null
	# fx-sink committed 1: the next barrier reads it
	echo '{"id":1,"positions":[["t",0,3]],"files":{}}' >st/committed.json
	{
		echo '{"_fx":"restore","id":1}'
		echo '{"user_id":4}'
		echo '{"user_id":1}'
		echo '{"_fx":"checkpoint","id":2,"positions":[["t",0,5]],"final":true}'
	} | fx-agg --state st --by user_id --agg count --stats >out.ndjson 2>err
	[ "$(grep -c count out.ndjson)" -eq 4 ]
	line=$(stats err fx-agg)
	[[ $line =~ ,\ restored\ 1,\ checkpoint\ 2,\ committed\ 1,\ restore\ [0-9]+\.[0-9]\ ms,\ state\ ([0-9]+)\ bytes,\ snapshot\ [0-9.]+\ ms\ at\ [0-9T:.Z-]+$ ]]
	[ "${BASH_REMATCH[1]}" = "$(snapshot_state st/fx-agg/snap-00000000000000000002)" ]
	run facet fx-agg
	assert_output --regexp '"restored":1,"last":2,"committed":1,"restoreMs":[0-9.e-]+,"snapshots":1,'
	validate
}

@test "a missing snapshot: FAIL names the checkpoint it could not restore, and validates" {
	mkdir -p st
	echo '{"_fx":"restore","id":5}' >in.ndjson
	run --separate-stderr fx-agg --state st --by user_id --agg count --stats <in.ndjson
	assert_failure 3
	[[ $stderr == *'cannot restore checkpoint 5: snapshot missing'* ]]
	run jq -c 'select(.eventType == "FAIL") | .run.facets.fx_checkpoint | [.restored, .last, .committed]' lineage.ndjson
	assert_output '[5,0,5]'
	validate
}

@test "without checkpoints the stats line and the events are as before" {
	stream >in.ndjson
	# barriers pass through a stage without --state: it takes no part
	fx-agg --by user_id --agg count --stats <in.ndjson 2>err >/dev/null
	run stats err fx-agg
	assert_output --regexp ' MB/s$'
	run jq -c 'select(.run.facets.fx_checkpoint)' lineage.ndjson
	assert_output ''
}

@test "the chain over fx-devbroker: each stage's stats and facet name the checkpoints; a restart resumes from the committed one" {
	fx_broker_start --topic plays:2
	gen 300 1 | fx-sink -t plays --key user_id
	chain() {
		fx-consume -t plays -e --checkpoint 100 --state st --stats 2>consume.err |
			fx-agg --state st --by os --agg count,distinct:user_id --stats 2>agg.err |
			fx-sink --dir out --partition os --state st --stats 2>sink.err
	}
	chain
	k=$(jq .id st/committed.json)
	[ "$k" -ge 3 ]
	# fx-consume: the restore it wrote, its last barrier, committed at start
	[[ $(stats consume.err fx-consume) =~ ,\ restored\ 0,\ checkpoint\ $k,\ committed\ 0$ ]]
	# fx-agg: the last snapshot is the last barrier's, at the final one;
	# committed is what committed.json said then (the sink may lag)
	n=$(snapshot_state "st/fx-agg/snap-$(printf %020d "$k")")
	[[ $(stats agg.err fx-agg) =~ ,\ restored\ 0,\ checkpoint\ $k,\ committed\ ([0-9]+),\ state\ $n\ bytes,\ snapshot\ [0-9.]+\ ms\ at\ [0-9T:.Z-]+$ ]]
	[ "${BASH_REMATCH[1]}" -lt "$k" ]
	# fx-sink: what it committed
	[[ $(stats sink.err fx-sink) =~ ,\ restored\ 0,\ checkpoint\ $k,\ committed\ $k$ ]]
	run facet fx-consume
	assert_output --regexp '"restored":0,"last":'"$k"',"committed":0\}$'
	run facet fx-sink
	assert_output --regexp '"restored":0,"last":'"$k"',"committed":'"$k"'\}$'
	validate

	# the same command again: everything is committed, the run resumes at k
	gen 20 2 | fx-sink -t plays --key user_id
	chain
	[[ $(stats consume.err fx-consume) =~ ,\ restored\ $k,\ checkpoint\ $((k + 1)),\ committed\ $k$ ]]
	[[ $(stats agg.err fx-agg) =~ ,\ restored\ $k,\ checkpoint\ $((k + 1)),\ committed\ $k,\ restore\ [0-9.]+\ ms,\ state\ [0-9]+\ bytes, ]]
	[[ $(stats sink.err fx-sink) =~ ,\ restored\ $k,\ checkpoint\ $((k + 1)),\ committed\ $((k + 1))$ ]]
	[ "$(jq .id st/committed.json)" -eq $((k + 1)) ]
	run facet fx-sink
	assert_output --regexp '"restored":'"$k"',"last":'"$((k + 1))"',"committed":'"$((k + 1))"'\}$'
	validate
}

@test "--progress lines name the last checkpoint and the committed one" {
	stream >in.ndjson
	# a slow reader: the stream lasts past FX_PROGRESS_SECONDS
	{ head -n 5 in.ndjson; sleep 2.5; tail -n +6 in.ndjson; } |
		fx-agg --state st --by user_id --agg count --progress 2>err >/dev/null
	run grep '^fx-agg: progress: ' err
	assert_output --regexp ', checkpoint 1, committed 0$'
}
