#!/usr/bin/env bats
# Lineage: every fx program records run events; fx-lineage stitches the
# stages of each pipeline run and answers questions about the graph. Every
# test starts its own fx-devbroker and stops it by PID; test_helper turns
# lineage off, so each test names its store.

load test_helper

setup() {
	fx_setup_tmp
	fx-devbroker --topic ods_play:4 --topic cdm_play:4 --topic lineage:1 \
		--bootstrap-file bs >devbroker.out 2>devbroker.err &
	DEVBROKER=$!
	for _ in $(seq 100); do [ -s bs ] && break; sleep 0.05; done
	B=$(cat bs)
	export FX_BROKERS=$B
	export FX_LINEAGE=file:$T/lineage.ndjson
	unset FX_JOB FX_RUN_ID
	gen 300 1 --songs 40 --dim-songs songs.csv >plays.ndjson
}

teardown() {
	if [ -n "${DEVBROKER:-}" ]; then
		kill "$DEVBROKER" 2>/dev/null
		wait "$DEVBROKER" 2>/dev/null
	fi
	fx_teardown_tmp
}

# The example warehouse as three pipelines: ODS topic from a file, CDM
# topic joined with the songs dimension, ADS partitioned directory.
warehouse() {
	FX_LINEAGE=off fx-consume songs.csv >songs.ndjson
	FX_JOB=ods fx-sink -t ods_play --key user_id <plays.ndjson
	FX_JOB=cdm fx-consume -t ods_play -e \
		| FX_JOB=cdm fx-join --dim songs.ndjson --on song_id --fields genre \
		| FX_JOB=cdm fx-sink -t cdm_play --key genre
	FX_JOB=ads fx-consume -t cdm_play -e \
		| FX_JOB=ads fx-agg --by genre,os --agg plays=count \
		| FX_JOB=ads fx-sink --dir warehouse/ads --partition genre
}

# parent run id of each START, with the program and FX_JOB: "ID PROG JOB"
starts() {
	jq -r 'select(.eventType == "START") | [.run.facets.parent.run.runId,
		.run.facets.fx.program, .run.facets.parent.job.name] | join(" ")' \
		lineage.ndjson
}

@test "every run appends START and COMPLETE with its datasets and counts" {
	fx-agg --by os --agg count <plays.ndjson >/dev/null
	run jq -sc 'map(.eventType)' lineage.ndjson
	assert_output '["START","COMPLETE"]'
	run jq -c 'select(.eventType == "COMPLETE") | [.job.namespace,
		.inputs[0].namespace, .inputs[0].name,
		.inputs[0].inputFacets.inputStatistics.rowCount,
		.run.facets.fx.argv]' lineage.ndjson
	assert_output "[\"fx\",\"file\",\"$T/plays.ndjson\",300,[\"fx-agg\",\"--by\",\"os\",\"--agg\",\"count\"]]"
}

@test "ODS -> CDM -> ADS: upstream of the ADS output lists the CDM topic, the ODS topic and the dimension" {
	warehouse
	run --separate-stderr fx-lineage upstream warehouse/ads/
	assert_success
	assert_output - <<-EOF
	1	kafka://$B/cdm_play	ads
	2	file://$T/songs.ndjson	cdm
	2	kafka://$B/ods_play	cdm
	3	file://$T/plays.ndjson	ods
	EOF
	run fx-lineage upstream "file://$T/warehouse/ads" --depth 1
	assert_output "1	kafka://$B/cdm_play	ads"
}

@test "ODS -> CDM -> ADS: downstream of the ODS topic lists the rest" {
	warehouse
	run --separate-stderr fx-lineage downstream ods_play
	assert_success
	assert_output - <<-EOF
	1	kafka://$B/cdm_play	cdm
	2	file://$T/warehouse/ads	ads
	EOF
	run fx-lineage downstream ods_play --format json
	assert_equal "$(jq -r '.[1].dataset' <<<"$output")" "file://$T/warehouse/ads"
}

@test "runs: one pipeline run per shell pipeline, with stages, counts and status" {
	warehouse
	run --separate-stderr fx-lineage runs --format json
	assert_success
	run jq -c 'map([.job, .status, .pipeline, (.stages | length),
		(.inputs | map(.records)), (.outputs | map(.records))]) | reverse' \
		<<<"$output"
	assert_output --regexp '^\[\["ods","COMPLETE","fx-sink",1,\[300\],\[300\]\],\["cdm","COMPLETE","fx-consume \| fx-join \| fx-sink",3,\[(300,40|40,300)\],\[[0-9]+\]\],\["ads","COMPLETE","fx-consume \| fx-agg \| fx-sink",3,\[[0-9]+\],\[[0-9]+\]\]\]$'
	run fx-lineage runs -n 1
	assert_line --index 0 --regexp '  COMPLETE .*  ads$'
	assert_line --index 1 '    stages fx-consume | fx-agg | fx-sink'
}

@test "graph: text, DOT accepted by dot, Mermaid and JSON" {
	warehouse
	run --separate-stderr fx-lineage graph --format dot
	assert_success
	echo "$output" >lineage.dot
	dot -Tsvg lineage.dot >lineage.svg
	grep -q '<svg' lineage.svg
	grep -q 'label="cdm_play", shape=box3d' lineage.dot
	grep -q 'label="warehouse/ads", shape=folder' lineage.dot
	run fx-lineage graph --format mermaid
	assert_line --index 0 'flowchart LR'
	assert_line '    d4[("cdm_play")]'
	assert_line '    d5 --> j2'
	run fx-lineage graph --format json
	assert_equal "$(jq -c '[(.nodes | length), (.edges | length)]' <<<"$output")" '[8,7]'
	run fx-lineage graph
	assert_line '[ads] fx-consume | fx-agg | fx-sink'
	assert_line "    out  file://$T/warehouse/ads"
}

@test "two pipelines started at once in one script get different ids; the stages of one share one, across jq" {
	gen 5000 2 >big.ndjson
	cat >two.sh <<-'EOF'
	FX_JOB=a fx-consume big.ndjson | jq -c . | FX_JOB=a fx-agg --by os --agg count | FX_JOB=a fx-sink --file a.ndjson &
	FX_JOB=b fx-consume big.ndjson | FX_JOB=b fx-sink --file b.ndjson &
	wait
	EOF
	bash two.sh
	run starts
	assert_equal "$(grep -c ' a$' <<<"$output")" 3
	assert_equal "$(grep ' a$' <<<"$output" | cut -d' ' -f1 | sort -u | wc -l)" 1
	assert_equal "$(grep ' b$' <<<"$output" | cut -d' ' -f1 | sort -u | wc -l)" 1
	a=$(grep ' a$' <<<"$output" | cut -d' ' -f1 | head -n 1)
	b=$(grep ' b$' <<<"$output" | cut -d' ' -f1 | head -n 1)
	[ "$a" != "$b" ]
	# one process group for all of them: the group could not tell them apart
	run jq -r 'select(.eventType == "START") | .run.facets.fx.pgrp' lineage.ndjson
	assert_equal "$(sort -u <<<"$output" | wc -l)" 1
	# the chain saw jq between fx-consume and fx-agg
	run fx-lineage runs --format json
	assert_equal "$(jq -r 'map(.pipeline) | sort | join(";")' <<<"$output")" \
		"fx-consume | fx-sink;fx-consume | jq | fx-agg | fx-sink"
}

@test "pipelines in one script run one after another get different ids" {
	for i in 1 2 3; do fx-consume plays.ndjson | fx-sink --file out$i.ndjson; done
	run fx-lineage runs --format json
	assert_equal "$(jq length <<<"$output")" 3
	assert_equal "$(jq -r 'map(.stages | length) | join(",")' <<<"$output")" 2,2,2
}

@test "stages are stitched by their pipes when the head has exited" {
	# the same head pipe recorded by both, but different parent ids (as
	# when the head exits before the next stage looks): one run
	fx-consume plays.ndjson | fx-sink --file out.ndjson
	jq -c 'if .run.facets.fx.program == "fx-sink" then
		.run.facets.parent.run.runId = "00000000-0000-4000-8000-000000000000"
		else . end' lineage.ndjson >forged.ndjson
	run fx-lineage --store forged.ndjson runs --format json
	assert_equal "$(jq -c 'map(.stages | length)' <<<"$output")" '[2]'
}

@test "FX_RUN_ID groups separate commands into one run; FX_JOB names it" {
	export FX_RUN_ID=nightly-2026-11-23 FX_JOB=nightly
	fx-consume plays.ndjson >ods.ndjson
	fx-agg --by os --agg count ods.ndjson >ads.ndjson
	run fx-lineage runs --format json
	assert_equal "$(jq -c 'map([.job, (.stages | length)])' <<<"$output")" '[["nightly",2]]'
	run jq -r '.job.name' lineage.ndjson
	assert_line 'nightly.fx-consume'
	assert_line 'nightly.fx-agg'
}

@test "a failed run is recorded as FAIL with the error message" {
	run --separate-stderr fx-consume -b 127.0.0.1:9 -t x --timeout 1s
	assert_failure 3
	msg=${stderr#fx-consume: }
	msg=${msg%%$'\n'*}
	run jq -r 'select(.eventType == "FAIL") | .run.facets.errorMessage |
		[.message, .programmingLanguage] | join("|")' lineage.ndjson
	assert_output "$msg|C"
	run fx-lineage runs
	assert_line --index 0 --regexp '  FAIL '
	assert_line "    error  fx-consume: $msg"
}

@test "50 programs appending to one store at once: every line is whole JSON" {
	# argv longer than PIPE_BUF: one write(2) on O_APPEND is what keeps lines whole
	# (a --max-record of 9000 zeros and 16M: a dlq= path that long cannot
	# be opened, and the dead-letter file is opened at start-up)
	long=$(printf '0%.0s' $(seq 9000))16M
	pids=()
	for i in $(seq 50); do
		fx-agg --by os --agg count --max-record "$long" <plays.ndjson >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	[ "$(wc -l <lineage.ndjson)" -eq 100 ]
	[ "$(head -n 1 lineage.ndjson | wc -c)" -gt 8192 ]
	python3 -c 'import json, sys
for line in open(sys.argv[1]):
    json.loads(line)' lineage.ndjson
	run jq -r .eventType lineage.ndjson
	assert_equal "$(grep -c START <<<"$output")" 50
	assert_equal "$(grep -c COMPLETE <<<"$output")" 50
}

@test "FX_LINEAGE=off writes nothing; unset, the default store is under XDG_STATE_HOME" {
	export XDG_STATE_HOME=$T/state
	FX_LINEAGE=off fx-consume plays.ndjson | FX_LINEAGE=off fx-sink --file off.ndjson
	[ ! -e state ]
	[ ! -e lineage.ndjson ]
	unset FX_LINEAGE
	fx-consume plays.ndjson | fx-sink --file on.ndjson
	[ "$(wc -l <state/fx/lineage.ndjson)" -eq 4 ]
	run fx-lineage runs --format json
	assert_equal "$(jq length <<<"$output")" 1
}

@test "an unwritable store warns once and changes neither the output nor the status" {
	FX_LINEAGE=off fx-consume plays.ndjson | FX_LINEAGE=off fx-agg --by os --agg count >off.ndjson
	for store in file:$T/plays.ndjson/lineage file:/dev/full nonsense; do
		export FX_LINEAGE=$store
		fx-consume plays.ndjson 2>err1 | fx-agg --by os --agg count 2>err2 >on.ndjson
		cmp off.ndjson on.ndjson
		[ "$(wc -l <err1)" -eq 1 ] && [ "$(wc -l <err2)" -eq 1 ]
		grep -q '^fx-consume: .*lineage not recorded' err1
	done
	grep -q "^fx-agg: FX_LINEAGE: expected off, file:PATH or kafka:TOPIC, got 'nonsense'" err2
	FX_LINEAGE=file:/dev/full run --separate-stderr fx-consume -b 127.0.0.1:9 -t x --timeout 1s
	assert_failure 3
}

@test "exported events validate against the OpenLineage 2-0-2 schemas" {
	warehouse
	fx-consume -b 127.0.0.1:9 -t x --timeout 1s 2>/dev/null || true
	fx-lineage export --openlineage >export.ndjson
	[ "$(wc -l <export.ndjson)" -eq 16 ]
	# Debian's python3-jsonschema, which make deps installs
	run /usr/bin/python3 "$FX_ROOT/tests/openlineage-validate.py" <export.ndjson
	assert_success
	assert_output '16 events, 0 invalid'
	# and the check can fail: a run id that is not a UUID, a facet without _producer
	jq -c 'if input_line_number == 3 then .run.runId = "not-a-uuid" else . end' export.ndjson >bad.ndjson
	run /usr/bin/python3 "$FX_ROOT/tests/openlineage-validate.py" <bad.ndjson
	assert_failure 1
	assert_line --partial "event 3: "
	assert_line '16 events, 1 invalid'
	# each stage's parent is its stitched pipeline run
	run jq -r '.run.facets.parent.run.runId' export.ndjson
	assert_equal "$(sort -u <<<"$output" | wc -l)" 4
}

@test "a dataset's short form must be unambiguous" {
	mkdir x y
	fx-consume plays.ndjson | fx-sink --file x/out.ndjson
	fx-consume plays.ndjson | fx-sink --file y/out.ndjson
	run --separate-stderr fx-lineage upstream out.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-lineage: dataset 'out.ndjson' is ambiguous:
  file://$T/x/out.ndjson
  file://$T/y/out.ndjson (see 'fx-lineage --help')"
	run fx-lineage upstream x/out.ndjson
	assert_output "1	file://$T/plays.ndjson	fx-consume | fx-sink"
	run --separate-stderr fx-lineage downstream nothing
	assert_failure 2
	assert_equal "$stderr" "fx-lineage: no dataset 'nothing' in the lineage store (see 'fx-lineage --help')"
}

@test "fx-lineage: usage errors" {
	run --separate-stderr fx-lineage
	assert_failure 2
	run --separate-stderr fx-lineage export
	assert_failure 2
	run --separate-stderr fx-lineage runs --format dot
	assert_failure 2
	assert_equal "$stderr" "fx-lineage: --format dot: only for graph (see 'fx-lineage --help')"
	run --separate-stderr fx-lineage frobnicate
	assert_failure 2
	run --separate-stderr fx-lineage --store missing.ndjson runs
	assert_success
	assert_output ''
}

@test "kafka:TOPIC store: events produced to a topic, read back through fx-consume" {
	FX_LINEAGE=kafka:lineage fx-consume plays.ndjson | FX_LINEAGE=kafka:lineage fx-sink --file out.ndjson
	[ ! -e lineage.ndjson ]
	run bash -c "FX_LINEAGE=off fx-consume -t lineage -e | fx-lineage --store - runs --format json"
	assert_success
	assert_equal "$(jq -c 'map([.status, .pipeline])' <<<"$output")" '[["COMPLETE","fx-consume | fx-sink"]]'
}

@test "fx-lineage and fx-devbroker record nothing" {
	fx-lineage runs >/dev/null
	[ ! -e lineage.ndjson ]
}

@test "the README's picture: the demo's DOT is deterministic and the committed one is current" {
	mkdir pic
	run "$FX_ROOT/share/doc/lineage-picture.sh" "$T/pic"
	assert_success
	cmp pic/lineage.dot "$FX_ROOT/share/doc/lineage.dot"
	[ "$(head -c 4 pic/lineage.png | tail -c 3)" = PNG ]
}
