#!/usr/bin/env bats
# Lineage runs under a shared outer pipe: a script whose stdin or stdout is
# a pipe from a long-lived process (GNU parallel, a cron wrapper, a CI
# runner, a `while read` loop) runs several pipelines that all hold that
# pipe. Only a pipe between two stages of one pipeline makes a run: each
# pipeline below is its own run, in the events' parent runs as written and
# in fx-lineage's stitching. No broker: these are about processes only.

load test_helper

setup() {
	fx_setup_tmp
	export FX_LINEAGE=file:$T/lineage.ndjson
	unset FX_JOB FX_RUN_ID FX_PIPELINE
	printf '{"k":%d}\n' 1 2 3 >a.ndjson
	printf '{"k":%d}\n' 4 5 >b.ndjson
	cat >two.sh <<-'EOF'
	fx-consume a.ndjson | fx-sink --file x.ndjson
	fx-consume b.ndjson | fx-sink --file y.ndjson
	EOF
}

teardown() {
	fx_teardown_tmp
}

# The runs as the raw events group them (each START's parent run), one
# line each: "PROGRAMS OUTPUT", the programs sorted. jq, not fx-lineage.
parents() {
	jq -rs 'group_by(.run.runId) | map({parent: .[0].run.facets.parent.run.runId,
		prog: .[0].run.facets.fx.program,
		out: ([.[].outputs[]?.name | sub(".*/"; "")] | unique | join(","))})
		| group_by(.parent) | map((map(.prog) | sort | join(",")) + " " +
		(map(.out) | map(select(. != "")) | join(",")))[]' lineage.ndjson | sort
}

# The runs fx-lineage stitched, one line each: "STAGES PIPELINE OUTPUTS".
runs() {
	fx-lineage runs --format json | jq -r '.[] | [(.stages | length),
		.pipeline, (.outputs | map(.dataset | sub(".*/"; "")) | join(","))]
		| join(" ; ")' | sort
}

# What every case below must show: two pipelines, two runs.
assert_two_runs() {
	run parents
	assert_output - <<-EOF
	fx-consume,fx-sink x.ndjson
	fx-consume,fx-sink y.ndjson
	EOF
	run runs
	assert_output - <<-EOF
	2 ; fx-consume | fx-sink ; x.ndjson
	2 ; fx-consume | fx-sink ; y.ndjson
	EOF
}

@test "a script whose stdin is a pipe: its two pipelines are two runs" {
	true | bash two.sh
	# (the check can fail: the output files are there and 4 runs recorded)
	[ "$(jq -s 'map(select(.eventType == "START")) | length' lineage.ndjson)" -eq 4 ] || fail "$(cat lineage.ndjson)"
	cmp a.ndjson x.ndjson
	# the script's stdin, which it inherited, is recorded as no pipe
	run jq -r 'select(.eventType == "START" and .run.facets.fx.program == "fx-consume")
		| [.run.facets.fx.stdinPipe, .run.facets.fx.chain[0].stdinPipe] | join(" ")' lineage.ndjson
	assert_output - <<-EOF
	0 0
	0 0
	EOF
	assert_two_runs
}

@test "a script whose stdout is a pipe to a long-lived reader: two runs" {
	bash two.sh | sleep 0.5
	assert_two_runs
}

@test "two pipelines in a ( list ) between two pipes: two runs" {
	true | (
		fx-consume a.ndjson | fx-sink --file x.ndjson
		fx-consume b.ndjson | fx-sink --file y.ndjson
	) | cat
	assert_two_runs
}

# A shell function running two pipelines, as a pipeline's stage.
two() {
	fx-consume a.ndjson | fx-sink --file x.ndjson
	fx-consume b.ndjson | fx-sink --file y.ndjson
}

@test "a shell function with two pipelines as a pipeline's stage: two runs" {
	printf 'go\n' | two | cat
	assert_two_runs
}

@test "a stage upstream that exited as fx-sink looked at it (no start time, no stdin in its chain entry) is still its run's" {
	printf 'go\n' | two | cat
	assert_two_runs
	# what x's fx-sink recorded when /proc/PID/stat of the writer it had
	# just found could no longer be read (seen under load: one run in ~200)
	jq -c 'select(.eventType == "START") | .run.facets.fx' lineage.ndjson >fx.ndjson
	in=$(jq -s 'map(select(.program == "fx-sink" and (.argv | index("x.ndjson"))))[0].stdinPipe' fx.ndjson)
	pid=$(jq -s --argjson in "$in" 'map(select(.program == "fx-consume" and .stdoutPipe == $in))[0].pid' fx.ndjson)
	[ "$pid" -gt 0 ] || fail "no fx-consume writing pipe $in: $(cat fx.ndjson)"
	jq -c --argjson in "$in" --argjson pid "$pid" 'if .run.facets.fx.program == "fx-sink" and
		.run.facets.fx.stdinPipe == $in and .run.facets.fx.chain
		then .run.facets.fx.chain |= [.[0], {pid: $pid, comm: "", start: 0,
			stdinPipe: 0, stdoutPipe: $in}]
		else . end' lineage.ndjson >doctored.ndjson
	[ "$(jq -c 'select(.run.facets.fx.chain[1].start == 0)' doctored.ndjson | wc -l)" -ge 1 ] ||
		fail "no chain entry doctored: $(cat lineage.ndjson)"
	mv doctored.ndjson lineage.ndjson
	assert_two_runs
}

@test "a while read loop: each iteration's pipeline is its own run" {
	printf 'a x\nb y\n' | while read -r in out; do
		fx-consume "$in.ndjson" | fx-sink --file "$out.ndjson"
	done
	assert_two_runs
}

@test "single commands of a script whose stdin is a pipe are runs of their own" {
	printf '' | bash -c 'fx-consume a.ndjson >x.ndjson; fx-consume b.ndjson >y.ndjson'
	run runs
	assert_output - <<-EOF
	1 ; fx-consume ; x.ndjson
	1 ; fx-consume ; y.ndjson
	EOF
}

@test "pipelines nested in a stage: the outer pipe they both write joins neither to its reader" {
	(
		fx-consume a.ndjson | fx-agg --by k --agg count
		fx-consume b.ndjson | fx-agg --by k --agg count
	) | fx-sink --file z.ndjson
	[ "$(wc -l <z.ndjson)" -eq 5 ] || fail "z.ndjson: $(cat z.ndjson)"
	run runs
	assert_output - <<-EOF
	1 ; fx-sink ; z.ndjson
	2 ; fx-consume | fx-agg ; 
	2 ; fx-consume | fx-agg ; 
	EOF
}

@test "the programs of one stage, { a; b; } | c, are one run" {
	{
		fx-consume a.ndjson
		fx-consume b.ndjson
	} | fx-sink --file z.ndjson
	run fx-lineage runs --format json
	assert_equal "$(jq -c 'map([(.stages | length), (.outputs | map(.dataset | sub(".*/"; "")))])' <<<"$output")" '[[3,["z.ndjson"]]]'
}

@test "a store written before: heads that recorded one shared stdin pipe, even under one parent run, are still two runs" {
	bash two.sh
	# as the events were before inherited pipes were left out (and as a
	# subshell's stdin still is): both heads read pipe 4242, and every
	# stage's parent run is named after it
	jq -c '.run.facets.parent.run.runId = "00000000-0000-4000-8000-000000000042"
		| .run.facets.fx.pipeline.firstPipe = 4242
		| if .run.facets.fx.program == "fx-consume" then .run.facets.fx.stdinPipe = 4242 else . end
		| .run.facets.fx.chain |= map(if .comm == "fx-consume" then .stdinPipe = 4242 else . end)' \
		lineage.ndjson >old.ndjson
	# (the forgery holds: one parent run, both heads read 4242)
	[ "$(jq -r '.run.facets.parent.run.runId' old.ndjson | sort -u | wc -l)" -eq 1 ] || fail "parents"
	[ "$(jq -r 'select(.run.facets.fx.program == "fx-consume") | [.run.facets.fx.pid, .run.facets.fx.stdinPipe] | join(" ")' old.ndjson | sort -u | cut -d" " -f2 | uniq -c | tr -s " ")" = " 2 4242" ] || fail "pipes"
	mv old.ndjson lineage.ndjson
	run runs
	assert_output - <<-EOF
	2 ; fx-consume | fx-sink ; x.ndjson
	2 ; fx-consume | fx-sink ; y.ndjson
	EOF
	# two runs, two ids, neither the parent run they all recorded
	run fx-lineage runs --format json
	assert_equal "$(jq -r 'map(.runId) | unique | length' <<<"$output")" 2
	refute_output --partial 00000000-0000-4000-8000-000000000042
}
