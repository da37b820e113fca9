#!/usr/bin/env bats
# fx-run: a pipeline file's jobs as a batch, a backfill and a stream; --check
# and --explain (issue 14). Expected rows come from jq over the input, never
# from fx-run.

load test_helper

CASES="$BATS_TEST_DIRNAME/cases/pipeline"

setup() { fx_setup_tmp; }
teardown() { fx_teardown_tmp; }

# a copy of the test pipeline in directory $1, its ods_play table filled
# with 4 days (2026-11-01..04) of play events, 200 a day
pipeline_dir() {
	mkdir -p "$1"
	cp "$CASES"/*.json "$1"/
	plays_4days >"$1/plays.ndjson"
	(cd "$1" && fx-sink --dir warehouse --table ods_play.table.json <plays.ndjson)
}

plays_4days() {
	local d
	for d in 01 02 03 04; do
		gen 200 "$d" --start "2026-11-${d}T10:00:00.000Z" --rate 2 --users 50
	done
}

# expected fx-agg rows of the ads_os_minute job for day $1 of $2, sorted:
# per os and minute, the count and the sum of duration_ms
expected_ads() {
	jq -c --arg d "$1" 'select(.event_time[0:10] == $d)' "$2" |
		jq -sc 'group_by([.event_time[0:16], .os])[] |
			{window_start: (.[0].event_time[0:16] + ":00.000Z"), os: .[0].os,
			 plays: length, listen_ms: (map(.duration_ms) | add)}' | sort
}

# the same fields of fx-run's rows, sorted
actual_ads() {
	jq -c '{window_start, os, plays, listen_ms}' "$@" | sort
}

# every file under $1 with its checksum, sorted
sums() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

@test "--check: each broken pipeline file, its exact message and exit 2" {
	cd "$CASES/broken"
	local -A want=(
		[top-key.json]='tabels: unknown key'
		[step-key.json]='jobs.j.steps[0].nmae: unknown key'
		[source-type.json]='jobs.j.source: not a string'
		[table-file.json]='tables.ods_play.file: "nope.table.json": No such file or directory'
		[sink-table.json]='jobs.j.sink: "ads_nope" is not in "tables"'
		[no-program.json]='jobs.j.steps[0]: no program: give one of "fx-join", "fx-agg", "fx-partition" or "sh"'
		[two-programs.json]='jobs.j.steps[0]: two programs ("fx-agg" and "sh"): a step runs one'
		[dup-step.json]='jobs.j.steps[1].name: "ads" is also the name of step 0'
		[step-name.json]="jobs.j.steps[0].name: \"my step\": use letters, digits, '_' and '-'"
		[cycle.json]='jobs: a cycle: each job reads a table another of them writes (a reads ods_play, b reads ads_os_minute)'
		[param.json]='jobs.j.steps[0].fx-agg.window: unknown parameter ${win}: not in "params", -p or --batch'
		[option.json]="jobs.j.steps[0].fx-agg: unknown option '--windw'"
		[option-value.json]="jobs.j.steps[0].fx-agg: --window: 'tumble:soon': expected tumble:SIZE, hop:SIZE/SLIDE, cumulate:STEP/MAX or session:GAP (durations like 250ms, 5s, 1m, 2h, 1d)"
		[option-type.json]='jobs.j.steps[0].fx-agg.window: not a string, true or an array of strings'
		[field.json]='jobs.j.steps[0].fx-agg.by: field "genre" is not declared by table "ods_play" nor made by an earlier step'
		[dim-file.json]='jobs.j.steps[0].fx-join: songs-typo.csv: No such file or directory'
		[self-cycle.json]='jobs.j: a cycle: the job reads the table it writes (ods_play)'
	)
	local n=0 f
	for f in "${!want[@]}"; do
		run --separate-stderr fx-run --check "$f"
		[ "$status" -eq 2 ] || fail "$f: exit $status, not 2"
		[ "$stderr" = "fx-run: $f: ${want[$f]}" ] ||
			fail "$f: got '$stderr', want 'fx-run: $f: ${want[$f]}'"
		[ -z "$output" ] || fail "$f: stdout '$output'"
		n=$((n + 1))
	done
	[ "$n" -ge 10 ] || fail "only $n files"
	# invalid JSON names its line
	run --separate-stderr fx-run --check json.json
	assert_failure 2
	assert_equal "$stderr" "fx-run: json.json:4: invalid JSON"
	# the same broken option, given by -p, is found too; fixed by -p, passes
	run --separate-stderr fx-run --check -p win=5x param.json
	assert_failure 2
	assert_equal "$stderr" "fx-run: param.json: jobs.j.steps[0].fx-agg: --window: 'tumble:5x': expected tumble:SIZE, hop:SIZE/SLIDE, cumulate:STEP/MAX or session:GAP (durations like 250ms, 5s, 1m, 2h, 1d)"
	run --separate-stderr fx-run --check -p win=5m param.json
	assert_success
	assert_equal "$stderr" ""
}

@test "--check goes on after a fault: every fault of the file one message; what a fault leaves unknown is not checked" {
	cd "$CASES/broken"
	run --separate-stderr fx-run --check many.json
	assert_failure 2
	assert_equal "$output" ""
	# the file's own faults in its order, then each job's (every step,
	# whether or not one before it is bad); job k's source table did not
	# load: its ${name}s (maybe its partitions) and fields are not
	# checked, its options are; job typo's misspelt keys are one message
	# each, not also "source: missing" and "no program"
	assert_equal "$stderr" "fx-run: many.json: colour: unknown key
fx-run: many.json: tables.gone.file: \"nope.table.json\": No such file or directory
fx-run: many.json: jobs.j.sink: \"ads_nope\" is not in \"tables\"
fx-run: many.json: jobs.j.steps[0]: no program: give one of \"fx-join\", \"fx-agg\", \"fx-partition\" or \"sh\"
fx-run: many.json: jobs.j.steps[3].fx-agg.window: not a string, true or an array of strings
fx-run: many.json: jobs.typo.sorce: unknown key
fx-run: many.json: jobs.typo.steps[0].fx-aggg: unknown key
fx-run: many.json: jobs.self: a cycle: the job reads the table it writes (ads_os_minute)
fx-run: many.json: jobs.j.steps[1].sh: unknown parameter \${nope}: not in \"params\", -p or --batch
fx-run: many.json: jobs.j.steps[2].fx-agg: unknown option '--windw'
fx-run: many.json: jobs.k.steps[1].fx-agg: unknown option '--windw'"
	# one job: the file's faults, then that job's
	run --separate-stderr fx-run --check many.json k
	assert_failure 2
	assert_equal "$(printf '%s\n' "$stderr" | tail -n 1)" "fx-run: many.json: jobs.k.steps[1].fx-agg: unknown option '--windw'"
	[ "$(printf '%s\n' "$stderr" | grep -c 'jobs\.j\.steps\[[12]\]')" -eq 0 ] ||
		fail "job j's steps checked: $stderr"
	# a run refuses the file with the same messages, before any stage
	run --separate-stderr fx-run many.json j --batch dt=2026-11-01
	assert_failure 2
	assert_equal "$(printf '%s\n' "$stderr" | wc -l)" 8
}

@test "--check: the good pipeline passes, whole and per job; an unknown job is exit 2" {
	run --separate-stderr fx-run --check "$CASES/music.pipeline.json"
	assert_success
	assert_equal "$stderr$output" ""
	run --separate-stderr fx-run --check "$CASES/music.pipeline.json" ads_os_minute
	assert_success
	run --separate-stderr fx-run --check "$CASES/music.pipeline.json" nope
	assert_failure 2
	assert_equal "$stderr" "fx-run: $CASES/music.pipeline.json: no job 'nope' in \"jobs\""
	run --separate-stderr fx-run "$CASES/music.pipeline.json" ads_os_minute
	assert_failure 2
	assert_equal "$stderr" "fx-run: give one of --stream, --batch, --backfill (see 'fx-run --help')"
}

@test "--check: an fx-agg step's columns are named as fx-agg names them (dots '_', quantile and topk by value); a later step may use them, not their dotted spelling" {
	mkdir a
	printf '%s\n' '{"name": "src", "partition_by": [{"name": "p", "field": "v"}], "fields": ["a", "v"], "files": {"dir": "src/p={p}"}}' >a/src.table.json
	printf '%s\n' '{"name": "dst", "partition_by": [{"name": "p", "field": "count"}], "files": {"dir": "dst/p={p}"}}' >a/dst.table.json
	# what fx-agg writes, the names the later step uses
	run --separate-stderr fx-agg --agg 'sum:a.b,quantile:v:0.50,topk:v:03' <<<'{"a":{"b":2},"v":1}'
	assert_success
	assert_output '{"sum_a_b":2,"q0_5_v":1,"top3_v":[{"value":1,"count":1}]}'
	job() {
		cat >a/p.json <<-EOF
		{"name": "p", "warehouse": "warehouse",
		 "tables": {"src": {"file": "src.table.json"}, "dst": {"file": "dst.table.json"}},
		 "jobs": {"j": {"source": "src", "sink": "dst",
		                "steps": [{"name": "a", "fx-agg": {"agg": "sum:a.b,quantile:v:0.50,topk:v:03"}},
		                          {"name": "b", "fx-agg": {"by": "$1", "agg": "count"}}]}}}
		EOF
	}
	job sum_a_b,q0_5_v,top3_v
	run --separate-stderr fx-run --check a/p.json
	assert_success
	assert_equal "$stderr$output" ""
	job sum_a.b
	run --separate-stderr fx-run --check a/p.json
	assert_failure 2
	assert_output ''
	assert_equal "$stderr" 'fx-run: a/p.json: jobs.j.steps[1].fx-agg.by: field "sum_a.b" is not declared by table "src" nor made by an earlier step'
	job q0.5_v
	run --separate-stderr fx-run --check a/p.json
	assert_failure 2
	assert_equal "$stderr" 'fx-run: a/p.json: jobs.j.steps[1].fx-agg.by: field "q0.5_v" is not declared by table "src" nor made by an earlier step'
}

@test "--check writes nothing: a step's --state and dlq= files go to a scratch directory, removed; a bad value is still a fault" {
	pipeline_dir a
	cat >a/w.pipeline.json <<-'EOF'
	{"name": "w", "warehouse": "warehouse",
	 "tables": {"ods_play": {"file": "ods_play.table.json"},
	            "ads_os_minute": {"file": "ads_os_minute.table.json"}},
	 "jobs": {"j": {"source": "ods_play", "sink": "ads_os_minute",
	                "steps": [{"name": "a", "fx-agg": {"by": "os", "agg": "count", "state": "mystate",
	                           "on-error": "dlq=bad.dlq", "late": "dlq=late.dlq"}}]}}}
	EOF
	(cd a && find . | LC_ALL=C sort) >before.txt
	export TMPDIR=$T/tmp
	mkdir "$TMPDIR"
	run --separate-stderr fx-run --check a/w.pipeline.json
	assert_success
	assert_equal "$stderr$output" ""
	(cd a && find . | LC_ALL=C sort) | diff -u before.txt -
	run find "$TMPDIR"
	assert_output "$TMPDIR"
	# the values are replaced only where they name a file: a bad one stays
	sed -i 's/"late": "dlq=late.dlq"/"late": "dlqq=late.dlq"/' a/w.pipeline.json
	run --separate-stderr fx-run --check a/w.pipeline.json
	assert_failure 2
	[[ $stderr == *"jobs.j.steps[0].fx-agg: --late"* ]] || fail "no --late fault: $stderr"
	run find "$TMPDIR"
	assert_output "$TMPDIR"
}

@test "--check: a job's checkpoint and key, options of the stream's source and sink only, are faults where fx-consume and fx-sink would refuse them; a run refuses them too" {
	pipeline_dir a
	jq '.jobs.ads_os_minute.checkpoint = "xyz"' a/music.pipeline.json >a/ck.json
	run --separate-stderr fx-run --check a/ck.json
	assert_failure 2
	assert_equal "$output" ""
	assert_equal "$stderr" 'fx-run: a/ck.json: jobs.ads_os_minute.checkpoint: "xyz": expected a duration (5s, 500ms) or a record count above 0 (10000)'
	# a run of the file, in either mode, refuses it with the same message
	# before any stage starts (no broker is needed to say so)
	run --separate-stderr fx-run a/ck.json ads_os_minute --stream -e -b 127.0.0.1:1
	assert_failure 2
	assert_equal "$stderr" 'fx-run: a/ck.json: jobs.ads_os_minute.checkpoint: "xyz": expected a duration (5s, 500ms) or a record count above 0 (10000)'
	jq '.jobs.ads_os_minute.key = "os..name"' a/music.pipeline.json >a/key.json
	run --separate-stderr fx-run --check a/key.json
	assert_failure 2
	assert_equal "$stderr" 'fx-run: a/key.json: jobs.ads_os_minute.key: "os..name": empty field name'
	run --separate-stderr fx-run a/key.json ads_os_minute --batch dt=2026-11-01
	assert_failure 2
	assert_equal "$stderr" 'fx-run: a/key.json: jobs.ads_os_minute.key: "os..name": empty field name'
	[ ! -e a/warehouse/ads_os_minute ] || fail "a refused run wrote its sink"
	# --check takes what fx-consume takes as --checkpoint, and no more
	: >empty.ndjson
	local c k want got
	for c in 5s 500ms 1m 10000 1 xyz 0 -1 1e3 0s 0ms 1.5s 5S ' 5s' 5s, '' \
		9223372036854775806 9223372036854775807 99999999999999999999; do
		want=0 got=0
		fx-consume --checkpoint "$c" --state st empty.ndjson >/dev/null 2>&1 || want=$?
		rm -rf st
		jq --arg c "$c" '.jobs.ads_os_minute.checkpoint = $c' a/music.pipeline.json >a/c.json
		fx-run --check a/c.json ads_os_minute 2>/dev/null || got=$?
		[ "$got" -eq "$want" ] || fail "--checkpoint '$c': fx-consume exits $want, fx-run --check $got"
	done
	# and what fx-sink takes as --key (it refuses before it connects)
	for k in os os.name 'os\.name' a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q \
		'' . os. .os 'os..name'; do
		want=0 got=0
		fx-sink -t x -b 127.0.0.1:1 --key "$k" </dev/null 2>/dev/null || want=$?
		[ "$want" -ne 0 ] || fail "fx-sink --key '$k': exit 0 without a broker"
		[ "$want" -eq 2 ] || want=0
		jq --arg k "$k" '.jobs.ads_os_minute.key = $k' a/music.pipeline.json >a/k.json
		fx-run --check a/k.json ads_os_minute 2>/dev/null || got=$?
		[ "$got" -eq "$want" ] || fail "--key '$k': fx-sink's usage error: $want, fx-run --check: $got"
	done
}

@test "--batch: the day's rows (checked by jq), and --explain pasted into bash writes the same bytes" {
	pipeline_dir a
	pipeline_dir b
	cmp a/plays.ndjson b/plays.ndjson
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --batch dt=2026-11-02
	assert_success
	out=a/warehouse/ads_os_minute/dt=2026-11-02/part-00000.ndjson
	[ -s "$out" ] || fail "no $out"
	expected_ads 2026-11-02 a/plays.ndjson >want.txt
	actual_ads "$out" >got.txt
	[ "$(wc -l <want.txt)" -gt 5 ] || fail "too few expected rows"
	diff -u want.txt got.txt
	# only that day was written
	assert_equal "$(ls a/warehouse/ads_os_minute)" "dt=2026-11-02"
	# the explained pipeline, run by sh in the other copy
	fx-run b/music.pipeline.json ads_os_minute --batch dt=2026-11-02 --explain >explain.sh
	grep -q '^# reads ods_play (ods): .*/ods_play/dt=2026-11-02/os=\*$' explain.sh ||
		fail "no reads line: $(cat explain.sh)"
	grep -q '^# writes ads_os_minute (ads): .*/ads_os_minute/dt=2026-11-02$' explain.sh ||
		fail "no writes line: $(cat explain.sh)"
	[ ! -e b/warehouse/ads_os_minute ] || fail "--explain ran something"
	# a bash script: pipefail, then the chain's sink prepares and commits,
	# or, when anything failed, aborts with the failure's status
	assert_equal "$(head -1 explain.sh)" "set -o pipefail # paste into bash"
	grep -q -- '--overwrite dt=2026-11-02 --prepare &&$' explain.sh || fail "no --prepare &&: $(cat explain.sh)"
	assert_equal "$(tail -3 explain.sh)" "  fx-sink --dir warehouse --table ads_os_minute.table.json --overwrite dt=2026-11-02 --commit ||
  { rc=\$?; fx-sink --dir warehouse --table ads_os_minute.table.json --overwrite dt=2026-11-02 --abort; (exit \$rc); }
}"
	bash explain.sh
	diff -r a/warehouse b/warehouse
	cmp "$out" b/warehouse/ads_os_minute/dt=2026-11-02/part-00000.ndjson
	# a shell step, with a ${param} from the file and one from -p
	fx-run a/music.pipeline.json cdm_android --batch dt=2026-11-03
	jq -c 'select(.event_time[0:10] == "2026-11-03" and .os == "android")' a/plays.ndjson | sort >want.txt
	sort a/warehouse/cdm_android/dt=2026-11-03/*.ndjson >got.txt
	[ -s want.txt ] || fail "no android plays"
	diff -u want.txt got.txt
	fx-run a/music.pipeline.json cdm_android --batch dt=2026-11-03 -p keep_os=ios
	jq -c 'select(.event_time[0:10] == "2026-11-03" and .os == "ios")' a/plays.ndjson | sort >want.txt
	sort a/warehouse/cdm_android/dt=2026-11-03/*.ndjson >got.txt
	diff -u want.txt got.txt
}

@test "cron: --batch dt=D twice gives the same files; a file of an earlier run that this one does not write is gone" {
	pipeline_dir a
	fx-run a/music.pipeline.json ads_os_minute --batch dt=2026-11-03
	cp -r a/warehouse/ads_os_minute first
	echo '{"stale":1}' >a/warehouse/ads_os_minute/dt=2026-11-03/part-stale.ndjson
	fx-run a/music.pipeline.json ads_os_minute --batch dt=2026-11-03
	diff -r first a/warehouse/ads_os_minute
	[ ! -e a/warehouse/ads_os_minute/dt=2026-11-03/part-stale.ndjson ] || fail "the stale file is still there"
	expected_ads 2026-11-03 a/plays.ndjson >want.txt
	actual_ads a/warehouse/ads_os_minute/dt=2026-11-03/part-00000.ndjson >got.txt
	diff -u want.txt got.txt
}

@test "--batch and --backfill: a partition given twice, or not one, is refused by fx-run, naming the option; exit 2, nothing written" {
	pipeline_dir a
	sums a >before.txt
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --batch dt=2026-11-01,dt=2026-11-02
	assert_failure 2
	assert_equal "$stderr" "fx-run: --batch: 'dt' given twice, got 'dt=2026-11-01,dt=2026-11-02'"
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --batch os=ios,dt=2026-11-01,os=web --explain
	assert_failure 2
	assert_equal "$stderr" "fx-run: --batch: 'os' given twice, got 'os=ios,dt=2026-11-01,os=web'"
	assert_equal "$output" ""
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --backfill foo=2026-11-01..2026-11-02
	assert_failure 2
	assert_equal "$stderr" "fx-run: --backfill: 'foo' is not a partition of table 'ods_play'
fx-run: --backfill: foo=2026-11-01 failed (exit 2): the days after it not run"
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --batch foo=2026-11-01
	assert_failure 2
	assert_equal "$stderr" "fx-run: --batch: 'foo' is not a partition of table 'ods_play'"
	# a NAME with a comma would be two partitions
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --backfill dt,os=2026-11-01..2026-11-02
	assert_failure 2
	assert_equal "$stderr" "fx-run: --backfill: expected NAME=YYYY-MM-DD..YYYY-MM-DD, got 'dt,os=2026-11-01..2026-11-02' (see 'fx-run --help')"
	sums a | diff -u before.txt -
}

@test "a job whose source is its sink is a cycle: the run refuses it too, exit 2, nothing written" {
	pipeline_dir a
	sums a >before.txt
	sed 's/"sink": "ads_os_minute"/"sink": "ods_play"/' a/music.pipeline.json >a/self.pipeline.json
	run --separate-stderr fx-run a/self.pipeline.json ads_os_minute --batch dt=2026-11-01
	assert_failure 2
	assert_equal "$stderr" "fx-run: a/self.pipeline.json: jobs.ads_os_minute: a cycle: the job reads the table it writes (ods_play)"
	rm a/self.pipeline.json
	sums a | diff -u before.txt -
}

@test "--backfill over 3 days replaces exactly those partitions: a 4th day and another table untouched" {
	pipeline_dir a
	fx-run a/music.pipeline.json ads_os_minute --batch all
	fx-run a/music.pipeline.json cdm_android --batch all
	assert_equal "$(ls a/warehouse/ads_os_minute | tr '\n' ' ')" "dt=2026-11-01 dt=2026-11-02 dt=2026-11-03 dt=2026-11-04 "
	# stale files in each day: the backfilled days lose theirs, day 4 keeps it
	for d in 01 02 03 04; do
		echo '{"stale":1}' >a/warehouse/ads_os_minute/dt=2026-11-$d/part-stale.ndjson
	done
	sums a/warehouse/ads_os_minute/dt=2026-11-04 >day4.before
	sums a/warehouse/cdm_android >cdm.before
	sums a/warehouse/ods_play >ods.before
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --backfill dt=2026-11-01..2026-11-03
	assert_success
	for d in 01 02 03; do
		[ ! -e a/warehouse/ads_os_minute/dt=2026-11-$d/part-stale.ndjson ] || fail "day $d kept its stale file"
		expected_ads 2026-11-$d a/plays.ndjson >want.txt
		actual_ads a/warehouse/ads_os_minute/dt=2026-11-$d/part-00000.ndjson >got.txt
		diff -u want.txt got.txt
	done
	sums a/warehouse/ads_os_minute/dt=2026-11-04 | diff -u day4.before -
	sums a/warehouse/cdm_android | diff -u cdm.before -
	sums a/warehouse/ods_play | diff -u ods.before -
	[ -e a/warehouse/ads_os_minute/dt=2026-11-04/part-stale.ndjson ] || fail "day 4 was touched"
	# --explain prints one pipeline per day, in order
	run fx-run a/music.pipeline.json ads_os_minute --backfill dt=2026-11-30..2026-12-02 --explain
	assert_success
	assert_equal "$(grep -oE -- '--overwrite [^ ]+ --[a-z]+' <<<"$output" | tr '\n' ' ')" \
		"$(for d in 2026-11-30 2026-12-01 2026-12-02; do
			printf -- '--overwrite dt=%s --prepare --overwrite dt=%s --commit --overwrite dt=%s --abort ' $d $d $d
		done)"
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --backfill dt=2026-11-03..2026-11-01
	assert_failure 2
	assert_equal "$stderr" "fx-run: --backfill: the last day is before the first, got 'dt=2026-11-03..2026-11-01' (see 'fx-run --help')"
}

@test "a failing stage: fx-run exits with its status, its stderr lines prefixed with the step name" {
	pipeline_dir a
	cat >a/fail.pipeline.json <<-'EOF'
	{"name": "fail", "warehouse": "warehouse",
	 "tables": {"ods_play": {"file": "ods_play.table.json"},
	            "cdm_android": {"file": "cdm_android.table.json"}},
	 "jobs": {"boom": {"source": "ods_play",
	                   "steps": [{"name": "ok", "sh": "cat"},
	                             {"name": "bad", "sh": "head -c 10 >/dev/null; echo one >&2; echo two >&2; exit 7"},
	                             {"name": "after", "sh": "cat"}],
	                   "sink": "cdm_android"}}}
	EOF
	fx-run a/music.pipeline.json cdm_android --batch dt=2026-11-01
	sums a/warehouse/cdm_android >cdm.before
	[ -s a/warehouse/cdm_android/dt=2026-11-01/part-00000.ndjson ] || fail "no android plays"
	run --separate-stderr fx-run a/fail.pipeline.json boom --batch dt=2026-11-01
	[ "$status" -eq 7 ] || fail "exit $status, not 7: $stderr"
	# the sink saw a clean end of its input, but the commit is not run:
	# the partition stays
	assert_equal "$(grep -v '^source: \|^ok: ' <<<"$stderr")" "$(printf '%s\n' 'bad: one' 'bad: two' \
		'fx-run: jobs.boom: exit 7: not committed, the partitions of --overwrite dt=2026-11-01 stay as they were')"
	sums a/warehouse/cdm_android | diff -u cdm.before -
	# and what the sink prepared is gone: no prepared tree, no ID file,
	# no staging tree, so a --commit typed by hand has nothing to swap in
	run find a/warehouse -name '.*'
	assert_output ""
	run --separate-stderr fx-sink --dir a/warehouse --table a/cdm_android.table.json --overwrite dt=2026-11-01 --commit
	assert_failure 3
	assert_equal "$stderr" "fx-sink: a/warehouse/.fx-overwrite-prepared.cdm_android%2Fdt=2026-11-01: no prepared tree (--overwrite dt=2026-11-01): nothing to commit; run --prepare first"
	sums a/warehouse/cdm_android | diff -u cdm.before -
	# a bad record for fx-agg: its status 1, its message prefixed "ads: "
	mkdir -p a/warehouse/ods_play/dt=2026-11-05/os=ios
	echo '{"event_time":"2026-11-05T10:00:00Z","os":"ios","duration_ms":"x"}' \
		>a/warehouse/ods_play/dt=2026-11-05/os=ios/part-00000.ndjson
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --batch dt=2026-11-05
	[ "$status" -eq 1 ] || fail "exit $status, not 1: $stderr"
	[[ $stderr == "ads: fx-agg: "* ]] || fail "not prefixed: $stderr"
	# the failed batch did not replace the partition, nor left it prepared
	[ ! -e a/warehouse/ads_os_minute/dt=2026-11-05 ] || fail "a failed batch wrote its partition"
	run find a/warehouse -name '.*'
	assert_output ""
	# a backfill whose second day fails: the first day is replaced, the
	# second stays as it was, and nothing is left prepared
	fx-run a/music.pipeline.json ads_os_minute --batch dt=2026-11-03
	fx-run a/music.pipeline.json ads_os_minute --batch dt=2026-11-04
	sums a/warehouse/ads_os_minute/dt=2026-11-04 >day4.before
	echo '{"stale":1}' >a/warehouse/ads_os_minute/dt=2026-11-03/part-stale.ndjson
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --backfill dt=2026-11-03..2026-11-05
	[ "$status" -eq 1 ] || fail "exit $status, not 1: $stderr"
	assert_equal "$(tail -1 <<<"$stderr")" "fx-run: --backfill: dt=2026-11-05 failed (exit 1)"
	[ ! -e a/warehouse/ads_os_minute/dt=2026-11-03/part-stale.ndjson ] || fail "day 3 was not replaced"
	sums a/warehouse/ads_os_minute/dt=2026-11-04 | diff -u day4.before -
	[ ! -e a/warehouse/ads_os_minute/dt=2026-11-05 ] || fail "the failed day wrote its partition"
	run find a/warehouse -name '.*'
	assert_output ""
}

# fail_pipeline DIR: DIR/fail.pipeline.json, one job whose sh step passes
# three records on and exits 7
fail_pipeline() {
	cat >"$1/fail.pipeline.json" <<-'EOF'
	{"name": "fail", "warehouse": "warehouse",
	 "tables": {"ods_play": {"file": "ods_play.table.json"},
	            "cdm_android": {"file": "cdm_android.table.json"}},
	 "jobs": {"boom": {"source": "ods_play",
	                   "steps": [{"name": "bad", "sh": "head -n 3; exit 7"}],
	                   "sink": "cdm_android"}}}
	EOF
}

@test "--explain pasted into bash with a failing step replaces nothing; without pipefail it would" {
	pipeline_dir a
	fail_pipeline a
	fx-run a/music.pipeline.json cdm_android --batch dt=2026-11-01
	sums a/warehouse/cdm_android >cdm.before
	[ "$(cat a/warehouse/cdm_android/dt=2026-11-01/*.ndjson | wc -l)" -gt 3 ] || fail "too few android plays"
	fx-run a/fail.pipeline.json boom --batch dt=2026-11-01 --explain >explain.sh
	# the data-loss case: 3 records reach the sink, then the step fails;
	# the script exits with the step's status, and aborts the prepare
	run bash explain.sh
	[ "$status" -eq 7 ] || fail "exit $status, not 7: $output"
	sums a/warehouse/cdm_android | diff -u cdm.before -
	run find a/warehouse -name '.*'
	assert_output ""
	# pasted into a shell, the shell goes on (no exit), with $? the step's
	run bash -c "$(cat explain.sh)"$'\n''echo "still here: $?"'
	assert_line "still here: 7"
	sums a/warehouse/cdm_android | diff -u cdm.before -
	run find a/warehouse -name '.*'
	assert_output ""
	# without the abort, the prepared tree stays for a hand --commit
	grep -v -- '--abort;' explain.sh | sed 's/ --commit ||$/ --commit/' >noabort.sh
	run bash noabort.sh
	[ "$status" -eq 7 ] || fail "exit $status, not 7: $output"
	[ -d a/warehouse/.fx-overwrite-prepared.cdm_android%2Fdt=2026-11-01 ] || fail "$(ls -a a/warehouse)"
	(cd a && fx-sink --dir warehouse --table cdm_android.table.json --overwrite dt=2026-11-01 --abort)
	run find a/warehouse -name '.*'
	assert_output ""
	# the same chain in one phase, as the script was before: the sink
	# takes the end of its input for the end of the data
	sed -e '1d' -e 's/ --prepare &&$//' -e '/--commit ||$/d' -e '/--abort;/d' explain.sh >onephase.sh
	run bash onephase.sh
	assert_success
	assert_equal "$(cat a/warehouse/cdm_android/dt=2026-11-01/*.ndjson | wc -l)" 3
}

@test "--backfill --explain pasted into bash stops at the first failing day with its status, as fx-run does: the same warehouse" {
	pipeline_dir a
	fx-run a/music.pipeline.json ads_os_minute --batch all
	# day 2 has a bad record (fx-consume exits 1); every day has a stale
	# file, which a day that ran drops and a day that did not keeps
	echo 'not json' >>a/warehouse/ods_play/dt=2026-11-02/os=ios/part-00000.ndjson
	for d in 01 02 03; do
		echo '{"stale":1}' >a/warehouse/ads_os_minute/dt=2026-11-$d/part-stale.ndjson
	done
	cp -a a b
	cp -a a c
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --backfill dt=2026-11-01..2026-11-03
	[ "$status" -eq 1 ] || fail "fx-run: exit $status, not 1: $stderr"
	run_status=$status
	[ ! -e a/warehouse/ads_os_minute/dt=2026-11-01/part-stale.ndjson ] || fail "day 1 was not replaced"
	[ -e a/warehouse/ads_os_minute/dt=2026-11-02/part-stale.ndjson ] || fail "the failed day was replaced"
	[ -e a/warehouse/ads_os_minute/dt=2026-11-03/part-stale.ndjson ] || fail "the day after the failed one ran"
	# the explained backfill, run by bash in the other copy: the same
	# status, the same warehouse
	fx-run b/music.pipeline.json ads_os_minute --backfill dt=2026-11-01..2026-11-03 --explain >explain.sh
	assert_equal "$(head -1 explain.sh)" "set -o pipefail # paste into bash"
	run bash explain.sh
	diff -r a/warehouse b/warehouse
	[ "$status" -eq "$run_status" ] || fail "the script: exit $status, fx-run's $run_status: $output"
	# pasted into a shell, it stops there too, and the shell goes on with
	# $? the failed day's
	fx-run c/music.pipeline.json ads_os_minute --backfill dt=2026-11-01..2026-11-03 --explain >explain.sh
	run bash -c "$(cat explain.sh)"$'\n''echo "still here: $?"'
	assert_line "still here: 1"
	diff -r a/warehouse c/warehouse
	# a backfill that does not fail: the script and fx-run again agree
	sed -i '$d' a/warehouse/ods_play/dt=2026-11-02/os=ios/part-00000.ndjson b/warehouse/ods_play/dt=2026-11-02/os=ios/part-00000.ndjson
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --backfill dt=2026-11-01..2026-11-03
	assert_success
	fx-run b/music.pipeline.json ads_os_minute --backfill dt=2026-11-01..2026-11-03 --explain >explain.sh
	run bash explain.sh
	assert_success
	diff -r a/warehouse b/warehouse
	[ ! -e b/warehouse/ads_os_minute/dt=2026-11-03/part-stale.ndjson ] || fail "day 3 was not replaced"
}

# produce the plays of day $1 from $2 into the ods_play topic of that day
produce_day() {
	jq -c --arg d "$1" 'select(.event_time[0:10] == $d)' "$2" |
		fx-partition --table "$CASES/ods_play.table.json" |
		fx-sink --table "$CASES/ods_play.table.json" 2>/dev/null
}

@test "--stream -e over fx-devbroker: the rows of --batch, and --explain pasted into bash gives the same rows" {
	pipeline_dir a
	fx_broker_spawn b2 --partitions 1
	B2=$BROKER_ADDR
	fx_broker_start --partitions 1
	produce_day 2026-11-02 a/plays.ndjson
	FX_BROKERS=$B2 produce_day 2026-11-02 a/plays.ndjson
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --stream -e -b "$B"
	assert_success
	fx-consume --table "$CASES/ads_os_minute.table.json" -e -b "$B" >stream.ndjson
	fx-run a/music.pipeline.json ads_os_minute --batch dt=2026-11-02
	expected_ads 2026-11-02 a/plays.ndjson >want.txt
	actual_ads stream.ndjson >got.txt
	diff -u want.txt got.txt
	# byte for byte the batch's rows (as a set: topics have no order across
	# windows that close together)
	sort a/warehouse/ads_os_minute/dt=2026-11-02/part-00000.ndjson >batch.sorted
	sort stream.ndjson >stream.sorted
	cmp batch.sorted stream.sorted
	# the explained stream, run by bash against the other broker
	fx-run a/music.pipeline.json ads_os_minute --stream -e -b "$B2" --explain >explain.sh
	grep -q "^# reads ods_play (ods): kafka:run_play_{dt}$" explain.sh || fail "$(cat explain.sh)"
	bash explain.sh 2>/dev/null
	fx-consume --table "$CASES/ads_os_minute.table.json" -e -b "$B2" | sort >explained.sorted
	cmp stream.sorted explained.sorted
}

@test "--stream --explain is a bash script with pipefail: a step that fails fails the script, though the sink after it ends cleanly" {
	pipeline_dir a
	fail_pipeline a
	fx_broker_start --partitions 1
	produce_day 2026-11-02 a/plays.ndjson
	# the three runs below are one consumer group (the job's) in turn:
	# fx-devbroker holds each new member's join until the session of the
	# one before has run out (45 s by default; fx-devbroker(1))
	printf 'session.timeout.ms=3000\nheartbeat.interval.ms=300\n' >group.properties
	export FX_KAFKA_CONFIG=$PWD/group.properties
	fx-run a/fail.pipeline.json boom --stream -e -b "$B" --explain >explain.sh
	assert_equal "$(head -1 explain.sh)" "set -o pipefail # paste into bash"
	# the step passes 3 records and exits 7; fx-partition and fx-sink see
	# a clean end of their input and exit 0: the script's status is 7
	run --separate-stderr bash explain.sh
	[ "$status" -eq 7 ] || fail "exit $status, not 7: $stderr"
	# what the step passed landed (its 3 lines: records, and the control
	# records fx-consume --meta starts with, which the sink does not write)
	run kcat -b "$B" -C -t run_android_2026-11-02 -e -q
	assert_success
	[ "${#lines[@]}" -ge 1 ] && [ "${#lines[@]}" -le 3 ] ||
		fail "${#lines[@]} records, not 1 to 3: $output"
	# pasted, the shell goes on, with $? the step's
	run bash -c "$(cat explain.sh)"$'\n''echo "still here: $?"'
	assert_line "still here: 7"
	# fx-run says the same
	run --separate-stderr fx-run a/fail.pipeline.json boom --stream -e -b "$B"
	[ "$status" -eq 7 ] || fail "exit $status, not 7: $stderr"
}

@test "--stream -e with a checkpoint and a lookup join: --state only on the stateful stages, the rows of --batch, committed" {
	pipeline_dir a
	printf 'os,vendor\nios,apple\nandroid,google\nweb,browser\nharmonyos,huawei\nmacos,apple\nwindows,microsoft\n' >a/vendors.csv
	# the job with a lookup join before its fx-agg, and a checkpoint
	jq '.jobs.ads_os_minute.checkpoint = "200ms"
	    | .jobs.ads_os_minute.steps = [{"name": "vendor", "fx-join": {"dim": "vendors.csv", "on": "os", "left-nulls": true}}] + .jobs.ads_os_minute.steps
	    | .jobs.ads_os_minute.steps[1]["fx-agg"].by = "os,vendor"' \
		"$CASES/music.pipeline.json" >a/music.pipeline.json
	run fx-run a/music.pipeline.json ads_os_minute --stream -e --explain
	assert_success
	assert_line --regexp '^  fx-join --dim vendors\.csv --on os --left-nulls \|$'
	refute_line --regexp 'fx-join .*--state'
	assert_line --regexp '^  fx-agg .* --state warehouse/state/ads_os_minute --stage ads \|$'
	fx_broker_start --partitions 1
	produce_day 2026-11-02 a/plays.ndjson
	run --separate-stderr fx-run a/music.pipeline.json ads_os_minute --stream -e -b "$B"
	assert_success
	fx-consume --table "$CASES/ads_os_minute.table.json" -e -b "$B" | sort >stream.sorted
	fx-run a/music.pipeline.json ads_os_minute --batch dt=2026-11-02
	sort a/warehouse/ads_os_minute/dt=2026-11-02/part-00000.ndjson >batch.sorted
	[ -s batch.sorted ] || fail "no batch rows"
	# every row has its vendor, and the stream's rows are the batch's
	run jq -r 'select(.vendor == null) | .os' batch.sorted
	refute_output
	cmp batch.sorted stream.sorted
	[ -s a/warehouse/state/ads_os_minute/committed.json ] ||
		fail "no checkpoint committed: $(ls -R a/warehouse/state 2>&1)"
}

@test "SIGTERM to fx-run stops every stage: no stage process left" {
	pipeline_dir a
	fx_broker_start --partitions 1
	produce_day 2026-11-02 a/plays.ndjson
	fx-run a/music.pipeline.json ads_os_minute --stream -b "$B" 2>err.txt 3>&- &
	pid=$!
	for _ in $(seq 200); do
		kids=$(ps -o pid= --ppid "$pid" | tr -d ' ' | sort -n)
		[ "$(wc -w <<<"$kids")" -eq 4 ] && break
		sleep 0.05
	done
	[ "$(wc -w <<<"$kids")" -eq 4 ] || fail "not 4 stages under fx-run: $kids"
	sleep 1
	kill -TERM "$pid"
	# (a stream stopped by SIGTERM is a clean stop: its status may be 0)
	wait "$pid" || true
	for k in $kids; do
		for _ in $(seq 100); do kill -0 "$k" 2>/dev/null || break; sleep 0.05; done
		if kill -0 "$k" 2>/dev/null; then fail "stage $k still runs"; fi
	done
}

@test "a sink killed by SIGKILL mid-batch: fx-run exits 137 and leaves no staging tree; the partition stays" {
	pipeline_dir a
	fx-run a/music.pipeline.json cdm_android --batch dt=2026-11-01
	sums a/warehouse/cdm_android >cdm.before
	# the step waits until the sink (its sibling under fx-run) has made
	# its staging tree, then kills it by its pid
	cat >a/kill.pipeline.json <<-'EOF2'
	{"name": "kill", "warehouse": "warehouse",
	 "tables": {"ods_play": {"file": "ods_play.table.json"},
	            "cdm_android": {"file": "cdm_android.table.json"}},
	 "jobs": {"k": {"source": "ods_play",
	                "steps": [{"name": "killer", "sh": "head -n 3; for i in $(seq 100); do ls -a warehouse | grep -q '^\\.fx-overwrite-[0-9]' && break; sleep 0.05; done; kill -9 $(ps -o pid=,comm= --ppid $PPID | awk '$2 == \"fx-sink\" {print $1}'); cat >/dev/null"}],
	                "sink": "cdm_android"}}}
	EOF2
	run --separate-stderr fx-run a/kill.pipeline.json k --batch dt=2026-11-01
	[ "$status" -eq 137 ] || fail "exit $status, not 137: $stderr"
	sums a/warehouse/cdm_android | diff -u cdm.before -
	run find a/warehouse -name '.*'
	assert_output ""
}
