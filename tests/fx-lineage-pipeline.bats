#!/usr/bin/env bats
# Lineage of pipeline files (issue 14): stages started with FX_PIPELINE and
# FX_JOB (as fx-run starts them) carry both in their events, and
# `fx-lineage pipeline FILE` shows the file's planned graph beside the runs
# the store observed. The jobs' commands are run by hand here, so that
# these tests do not depend on fx-run. The pipeline, its tables and its
# data are in tests/cases/lineage-pipeline: 8 plays, 2 of them on web.

load test_helper

TAB=$'\t'

setup() {
	fx_setup_tmp
	cp "$FX_ROOT"/tests/cases/lineage-pipeline/* .
	export FX_LINEAGE=file:$T/lineage.ndjson
	unset FX_JOB FX_RUN_ID FX_PIPELINE
}

teardown() {
	fx_teardown_tmp
}

# The jobs of music.pipeline.json, as fx-run would run them over files.
job_cdm() {
	(
		export FX_PIPELINE=music FX_JOB=cdm
		# the filter stays a moment after its input ends: a filter that
		# exits before fx-sink looks leaves two runs (fx-lineage(1),
		# a documented limit), seen once in a slow chroot
		fx-consume plays.ndjson |
			fx-join --dim songs.csv --on song_id --fields genre |
			{ jq -c 'select(.os != "web")' && sleep 1; } |
			fx-sink --file cdm.ndjson
	)
}

job_ads() {
	(
		export FX_PIPELINE=music FX_JOB=ads
		fx-consume cdm.ndjson |
			fx-agg --time event_time --window tumble:1m --by os \
				--agg plays=count |
			fx-sink --file "${1:-ads.ndjson}"
	)
}

# a job the file does not have, under the pipeline's name
job_legacy() {
	FX_PIPELINE=music FX_JOB=legacy fx-consume plays.ndjson >legacy.ndjson
}

# timed CMD...: runs CMD, then prints the start of the run it recorded:
# the earliest START among the events it appended to the store
timed() {
	local n=0
	[ -e lineage.ndjson ] && n=$(wc -l <lineage.ndjson)
	"$@" || true
	tail -n +$((n + 1)) lineage.ndjson |
		jq -r 'select(.eventType == "START") | .eventTime' | sort | head -n 1
}

# The store of the tests below: cdm once, ads twice (the second fails: its
# sink cannot be created), a job "legacy" under the pipeline's name that
# the file does not have, and runs of other pipelines and of no pipeline
# that are not the pipeline's. dws never runs. Sets t_cdm, t_ads, t_legacy.
observed() {
	t_cdm=$(timed job_cdm)
	job_ads
	t_ads=$(timed job_ads no/such/dir/ads.ndjson 2>/dev/null)
	t_legacy=$(timed job_legacy)
	FX_PIPELINE=other FX_JOB=cdm fx-consume plays.ndjson >other.ndjson
	FX_JOB=cdm fx-consume plays.ndjson >nopipeline.ndjson
}

@test "stages started with FX_PIPELINE and FX_JOB name both in their jobs and the fx facet; the events validate" {
	job_cdm
	run jq -r 'select(.eventType == "START") | [.job.namespace, .job.name,
		.run.facets.parent.job.name, .run.facets.fx.pipeline.name,
		.run.facets.fx.pipeline.job] | join(" ")' lineage.ndjson
	assert_equal "$(sort <<<"$output")" "fx music.cdm.fx-consume music.cdm music cdm
fx music.cdm.fx-join music.cdm music cdm
fx music.cdm.fx-sink music.cdm music cdm"
	# every event of the run, COMPLETE too
	run jq -r '[.eventType, .run.facets.fx.pipeline.name, .run.facets.fx.pipeline.job] | join(" ")' lineage.ndjson
	assert_equal "$(sort -u <<<"$output")" "COMPLETE music cdm
START music cdm"
	# FX_JOB alone: the names as before, the job in the facet, no pipeline
	rm lineage.ndjson
	FX_JOB=cdm fx-consume plays.ndjson >/dev/null
	run jq -c 'select(.eventType == "START") | [.job.name,
		.run.facets.parent.job.name, .run.facets.fx.pipeline.job,
		(.run.facets.fx.pipeline | has("name"))]' lineage.ndjson
	assert_output '["cdm.fx-consume","cdm","cdm",false]'
	# against the OpenLineage 2-0-2 schemas and fx's facet schema
	rm lineage.ndjson
	job_cdm
	fx-lineage export --openlineage >export.ndjson
	run /usr/bin/python3 "$FX_ROOT/tests/openlineage-validate.py" <export.ndjson
	assert_success
	assert_output '6 events, 0 invalid'
	# the facet schema knows the names: one that is not a string is refused
	jq -c 'if input_line_number == 2 then .run.facets.fx.pipeline.name = 5 else . end' export.ndjson >bad.ndjson
	run /usr/bin/python3 "$FX_ROOT/tests/openlineage-validate.py" <bad.ndjson
	assert_failure 1
	assert_line --regexp '^event 2: facet fx: '
	assert_line '6 events, 1 invalid'
}

@test "pipeline FILE: the planned graph beside the runs of its jobs, the jobs the file does not have apart" {
	observed
	# the counts, by hand: 8 plays, 6 not on web, 2 OSes among those 6
	run --separate-stderr fx-lineage pipeline music.pipeline.json
	assert_success
	assert_equal "$stderr" ''
	assert_output - <<-EOF
	pipeline music
	table  ods_play   ods
	table  cdm_play   cdm
	table  ads_os     ads
	table  dws_genre
	job    cdm: ods_play -> cdm_play
	    steps  songs (fx-join) | no_web (sh)
	    last   $t_cdm  COMPLETE  in 8  out 6
	    runs   1
	job    ads: cdm_play -> ads_os
	    steps  by_os (fx-agg)
	    last   $t_ads  FAIL  in 6  out 0
	    runs   2
	    error  fx-sink: no/such/dir/ads.ndjson: cannot create: No such file or directory
	job    dws: cdm_play -> dws_genre
	    steps  by_genre (fx-agg)
	    last   never run
	observed, not in the file:
	job    legacy
	    stages fx-consume
	    last   $t_legacy  COMPLETE  in 8  out 8
	    runs   1
	EOF
}

@test "pipeline FILE --format dot: tables by layer, jobs with their last run, accepted by dot" {
	observed
	run --separate-stderr fx-lineage pipeline music.pipeline.json --format dot
	assert_success
	echo "$output" >music.dot
	dot -Tsvg music.dot >music.svg
	grep -q '<svg' music.svg
	assert_output - <<-EOF
	digraph pipeline {
	${TAB}rankdir=LR;
	${TAB}node [fontname="Helvetica", fontsize=11];
	${TAB}edge [color="#555555"];
	${TAB}label="music";
	${TAB}labelloc=t;
	${TAB}subgraph cluster_1 {
	${TAB}${TAB}label="ods";
	${TAB}${TAB}style="rounded,dashed";
	${TAB}${TAB}color="#999999";
	${TAB}${TAB}t1 [label="ods_play", shape=cylinder, style=filled, fillcolor="#dcebd9"];
	${TAB}}
	${TAB}subgraph cluster_2 {
	${TAB}${TAB}label="cdm";
	${TAB}${TAB}style="rounded,dashed";
	${TAB}${TAB}color="#999999";
	${TAB}${TAB}t2 [label="cdm_play", shape=cylinder, style=filled, fillcolor="#dcebd9"];
	${TAB}}
	${TAB}subgraph cluster_3 {
	${TAB}${TAB}label="ads";
	${TAB}${TAB}style="rounded,dashed";
	${TAB}${TAB}color="#999999";
	${TAB}${TAB}t3 [label="ads_os", shape=cylinder, style=filled, fillcolor="#dcebd9"];
	${TAB}}
	${TAB}t4 [label="dws_genre", shape=cylinder, style=filled, fillcolor="#dcebd9"];
	${TAB}j1 [label="cdm\\nsongs | no_web\\nCOMPLETE $t_cdm\\nin 8, out 6", shape=box, style="rounded,filled", fillcolor="#dde6f5"];
	${TAB}j2 [label="ads\\nby_os\\nFAIL $t_ads\\nin 6, out 0", shape=box, style="rounded,filled", fillcolor="#f4cccc"];
	${TAB}j3 [label="dws\\nby_genre\\nnever run", shape=box, style="rounded,filled,dashed", fillcolor="#ffffff"];
	${TAB}t1 -> j1;
	${TAB}j1 -> t2;
	${TAB}t2 -> j2;
	${TAB}j2 -> t3;
	${TAB}t2 -> j3;
	${TAB}j3 -> t4;
	${TAB}subgraph cluster_observed {
	${TAB}${TAB}label="observed, not in the file";
	${TAB}${TAB}style="rounded,dashed";
	${TAB}${TAB}color="#999999";
	${TAB}${TAB}o1 [label="legacy\\nfx-consume\\nCOMPLETE $t_legacy\\nin 8, out 8", shape=box, style="rounded,filled", fillcolor="#dde6f5"];
	${TAB}}
	}
	EOF
}

@test "pipeline FILE --format json: the same as one object" {
	observed
	run --separate-stderr fx-lineage pipeline music.pipeline.json --format json
	assert_success
	run jq -c '[.pipeline, (.tables | map(.name + ":" + .layer)),
		(.jobs | map([.name, .source, .sink, (.steps | map(.name + ":" + .program)),
			.runs, .last.status, .last.start, .last.recordsIn, .last.recordsOut])),
		(.observed | map([.name, .runs, .last.status]))]' <<<"$output"
	assert_output "[\"music\",[\"ods_play:ods\",\"cdm_play:cdm\",\"ads_os:ads\",\"dws_genre:\"],[[\"cdm\",\"ods_play\",\"cdm_play\",[\"songs:fx-join\",\"no_web:sh\"],1,\"COMPLETE\",\"$t_cdm\",8,6],[\"ads\",\"cdm_play\",\"ads_os\",[\"by_os:fx-agg\"],2,\"FAIL\",\"$t_ads\",6,0],[\"dws\",\"cdm_play\",\"dws_genre\",[\"by_genre:fx-agg\"],0,null,null,null,null]],[[\"legacy\",1,\"COMPLETE\"]]]"
}

@test "pipeline FILE over a store with none of its runs: every job never ran" {
	FX_PIPELINE=other FX_JOB=cdm fx-consume plays.ndjson >/dev/null
	run --separate-stderr fx-lineage pipeline music.pipeline.json
	assert_success
	assert_equal "$(grep -c '^    last   never run$' <<<"$output")" 3
	refute_output --partial 'observed'
	# an empty store is a store with no runs
	: >empty.ndjson
	run --separate-stderr fx-lineage --store empty.ndjson pipeline music.pipeline.json
	assert_success
	assert_equal "$(grep -c '^    last   never run$' <<<"$output")" 3
}

@test "a run's stages in pipe order from every chain they recorded, when no chain is whole" {
	job_cdm
	# As when each stage looked after its upstream had exited: fx-join's
	# chain holds fx-consume, fx-sink's only jq (whose pipes no stage
	# records), and fx-join's events come first. Made from the stages' own
	# pipes, which every stage records whatever the timing.
	pipe() {
		jq -r --arg p "$1" 'select(.eventType == "START" and
			.run.facets.fx.program == $p) | .run.facets.fx.'"$2" lineage.ndjson
	}
	jq -s -c --argjson b "$(pipe fx-join stdoutPipe)" \
		--argjson cpid "$(pipe fx-consume pid)" '
		map(.run.facets.fx as $fx | .run.facets.fx.chain =
			if $fx.program == "fx-sink" then [$fx.chain[0], {pid: 1,
				comm: "jq", start: 0, stdinPipe: $b,
				stdoutPipe: $fx.stdinPipe}]
			elif $fx.program == "fx-join" then [$fx.chain[0],
				{pid: $cpid, comm: "fx-consume", start: 0,
				stdinPipe: 0, stdoutPipe: $fx.stdinPipe}]
			else [$fx.chain[0]] end)
		| sort_by(.run.facets.fx.program | {"fx-join": 0,
			"fx-consume": 1, "fx-sink": 2}[.]) | .[]' \
		lineage.ndjson >forged.ndjson
	run jq -r 'select(.eventType == "START") | .run.facets.fx.chain | map(.comm) | join(",")' forged.ndjson
	assert_output - <<-EOF
	fx-join,fx-consume
	fx-consume
	fx-sink,jq
	EOF
	run fx-lineage --store forged.ndjson runs --format json
	assert_equal "$(jq -r 'map(.pipeline) | join(";")' <<<"$output")" "fx-consume | fx-join | jq | fx-sink"
	# the stages in that order too, not in the order of their events
	assert_equal "$(jq -r '.[0].stages | map(.program) | join(",")' <<<"$output")" "fx-consume,fx-join,fx-sink"
	run fx-lineage --store forged.ndjson pipeline music.pipeline.json
	assert_line --regexp '^    last   .*  COMPLETE  in 8  out 6$'
}

# (The one test that runs fx-run: the others run the jobs by hand.)
@test "fx-run: its stages carry the pipeline and the job, fx-run itself records nothing" {
	mkdir -p warehouse/ods_play/dt=2026-11-23
	cp plays.ndjson warehouse/ods_play/dt=2026-11-23/
	t_cdm=$(timed fx-run music.pipeline.json cdm --batch dt=2026-11-23)
	t_ads=$(timed fx-run music.pipeline.json ads --batch dt=2026-11-23)
	run jq -r 'select(.eventType == "START") | [.run.facets.fx.program,
		.run.facets.fx.pipeline.name, .run.facets.fx.pipeline.job] | join(" ")' lineage.ndjson
	assert_equal "$(sort <<<"$output")" "fx-agg music ads
fx-consume music ads
fx-consume music cdm
fx-join music cdm
fx-sink music ads
fx-sink music cdm"
	# 6 plays not on web, in 2 (minute, os) groups: by hand, and by jq
	assert_equal "$(cat warehouse/cdm_play/dt=2026-11-23/* | wc -l)" 6
	assert_equal "$(cat warehouse/ads_os/dt=2026-11-23/* | jq -s length)" 2
	run --separate-stderr fx-lineage pipeline music.pipeline.json
	assert_success
	assert_line "    last   $t_cdm  COMPLETE  in 8  out 6"
	assert_line "    last   $t_ads  COMPLETE  in 6  out 2"
	refute_output --partial 'observed'
}

@test "fx-run batches: a job's output table is the next job's input, so upstream walks the chain" {
	mkdir -p warehouse/ods_play/dt=2026-11-23 warehouse/ods_play/dt=2026-11-24
	cp plays.ndjson warehouse/ods_play/dt=2026-11-23/
	fx-run music.pipeline.json cdm --batch dt=2026-11-23
	fx-run music.pipeline.json ads --batch dt=2026-11-23
	# the tables, not the warehouse root nor the partitions read
	run --separate-stderr fx-lineage upstream warehouse/ads_os/
	assert_success
	assert_output - <<-EOF
		1${TAB}file://$PWD/warehouse/cdm_play${TAB}music.ads
		2${TAB}file://$PWD/songs.csv${TAB}music.cdm
		2${TAB}file://$PWD/warehouse/ods_play${TAB}music.cdm
	EOF
	run --separate-stderr fx-lineage downstream warehouse/ods_play
	assert_success
	assert_output - <<-EOF
		1${TAB}file://$PWD/warehouse/cdm_play${TAB}music.cdm
		2${TAB}file://$PWD/warehouse/ads_os${TAB}music.ads
	EOF
}

@test "fx-run: a batch whose sh step fails ends FAIL in the store: the abort of what the sink staged says so" {
	mkdir -p warehouse/ods_play/dt=2026-11-23
	cp plays.ndjson warehouse/ods_play/dt=2026-11-23/
	jq '.jobs.cdm.steps[1].sh = "head -n 3; exit 7"' music.pipeline.json >failing.pipeline.json
	run --separate-stderr fx-run failing.pipeline.json cdm --batch dt=2026-11-23
	assert_failure 7
	[ ! -e warehouse/cdm_play ] || fail "something landed: $(find warehouse/cdm_play)"
	run --separate-stderr fx-lineage pipeline failing.pipeline.json
	assert_success
	assert_line --regexp '^    last   .*  FAIL  in 8  out 3$'
	assert_line "    error  fx-sink: --abort: the output --prepare staged was dropped, nothing committed"
	# The same when fx-sink --prepare saw the whole chain alive (here the
	# sh step may have exited before it looked): the abort after it, a
	# stage with no pipe, is not the run's tail.
	pipe() {
		jq -c --arg p "$1" 'select(.eventType == "START" and
			.run.facets.fx.program == $p) | .run.facets.fx.'"$2" lineage.ndjson | head -n 1
	}
	jq -c --argjson b "$(pipe fx-join stdoutPipe)" \
		--argjson join "$(pipe fx-join 'chain[0]')" \
		--argjson consume "$(pipe fx-consume 'chain[0]')" '
		.run.facets.fx as $fx | if $fx.program == "fx-sink" and $fx.stdinPipe != 0
		then .run.facets.fx.chain = [$fx.chain[0], {pid: 1, comm: "sh",
			start: 0, stdinPipe: $b, stdoutPipe: $fx.stdinPipe}, $join,
			$consume]
		else . end' lineage.ndjson >whole.ndjson
	run jq -r 'select(.eventType == "START") | .run.facets.fx.chain | map(.comm) | join(",")' whole.ndjson
	assert_line "fx-sink,sh,fx-join,fx-consume"
	run --separate-stderr fx-lineage --store whole.ndjson pipeline failing.pipeline.json
	assert_line --regexp '^    last   .*  FAIL  in 8  out 3$'
	run --separate-stderr fx-lineage --store whole.ndjson runs --format json
	assert_equal "$(jq -r '.[0].pipeline' <<<"$output")" "fx-consume | fx-join | sh | fx-sink, fx-sink"
	# the explained script's abort records the same
	fx-run failing.pipeline.json cdm --batch dt=2026-11-23 --explain >explain.sh
	n=$(wc -l <lineage.ndjson)
	run bash explain.sh
	assert_failure 7
	run jq -r 'select(.eventType == "FAIL") | .run.facets.errorMessage.message' <(tail -n +$((n + 1)) lineage.ndjson)
	assert_output "--abort: the output --prepare staged was dropped, nothing committed"
}

@test "fx-run: a stage whose upstream exited unseen (the sh step gone before fx-sink looked), its events first: the run's records are still its head's and tail's" {
	mkdir -p warehouse/ods_play/dt=2026-11-23
	cp plays.ndjson warehouse/ods_play/dt=2026-11-23/
	t_cdm=$(timed fx-run music.pipeline.json cdm --batch dt=2026-11-23)
	# the store as that race leaves it (seen in CI): fx-sink's chain holds
	# only itself, and its START was written before the others'
	jq -c 'select(.eventType == "START" and .run.facets.fx.program == "fx-sink")
		| .run.facets.fx.chain |= .[:1]' lineage.ndjson >doctored.ndjson
	[ "$(wc -l <doctored.ndjson)" -eq 1 ] || fail "not one fx-sink START: $(cat lineage.ndjson)"
	jq -c 'select((.eventType == "START" and .run.facets.fx.program == "fx-sink") | not)' \
		lineage.ndjson >>doctored.ndjson
	[ "$(wc -l <doctored.ndjson)" -eq "$(wc -l <lineage.ndjson)" ] || fail "events lost"
	mv doctored.ndjson lineage.ndjson
	run --separate-stderr fx-lineage pipeline music.pipeline.json
	assert_success
	assert_line "    last   $t_cdm  COMPLETE  in 8  out 6"
	assert_line "    runs   1"
	run --separate-stderr fx-lineage runs
	assert_success
	assert_line "    stages fx-consume | fx-join, fx-sink"
}

@test "pipeline: usage errors, a bad file, a missing store" {
	run --separate-stderr fx-lineage pipeline
	assert_failure 2
	assert_equal "$stderr" "fx-lineage: pipeline: expected one pipeline FILE (see 'fx-lineage --help')"
	run --separate-stderr fx-lineage pipeline music.pipeline.json --format mermaid
	assert_failure 2
	assert_equal "$stderr" "fx-lineage: --format mermaid: only for graph (see 'fx-lineage --help')"
	run --separate-stderr fx-lineage runs --format dot
	assert_failure 2
	assert_equal "$stderr" "fx-lineage: --format dot: only for graph and pipeline (see 'fx-lineage --help')"
	# a file that is not a pipeline: the loader's message, before the store is read
	jq '.jobs.cdm.sorce = .jobs.cdm.source | del(.jobs.cdm.source)' music.pipeline.json >bad.pipeline.json
	run --separate-stderr fx-lineage --store nosuch pipeline bad.pipeline.json
	assert_failure 2
	assert_output ''
	assert_equal "$stderr" "fx-lineage: bad.pipeline.json: jobs.cdm.sorce: unknown key"
	run --separate-stderr fx-lineage pipeline nosuch.pipeline.json
	assert_failure 2
	assert_equal "$stderr" "fx-lineage: nosuch.pipeline.json: No such file or directory"
	# a good file and a store that does not exist: as for every command
	run --separate-stderr fx-lineage --store nosuch pipeline music.pipeline.json
	assert_failure 3
	assert_output ''
	assert_equal "$stderr" "fx-lineage: lineage store 'nosuch': No such file or directory"
}
