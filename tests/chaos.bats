#!/usr/bin/env bats
# Exactly-once through the pipe (issue 13): the demo's ODS -> CDM -> ADS
# chain, fx-consume | fx-join | fx-agg | fx-sink --dir, over a topic on
# fx-devbroker, with checkpoints. A random stage is killed with SIGKILL at
# a random moment, 20 times; the whole pipeline is restarted with the same
# command each time. At the end the output directory must be byte-identical
# to an uninterrupted run's and to the batch run's over the same events.

load test_helper

setup() {
	fx_setup_tmp
	STAGE_PIDS=()
}

teardown() { fx_kill_stages; }

EVENTS=${FX_CHAOS_EVENTS:-30000}
KILLS=${FX_CHAOS_KILLS:-20}

cdm_ads_args_join=(--dim songs.csv --on song_id --fields genre)
cdm_ads_args_agg=(--time event_time --window tumble:1m --lateness 5s
	--by genre,os --agg plays=count,listen_ms=sum:duration_ms,listeners=distinct:user_id)

# run_stream STATE OUT: the streaming chain, one process per stage joined
# by FIFOs so that each stage has a PID to kill; starts it in the
# background and sets STAGE_PIDS (consume join agg sink).
run_stream() {
	local st=$1 out=$2
	rm -f p1 p2 p3 && mkfifo p1 p2 p3
	fx-consume -t ods_play -e --meta --checkpoint 300 --state "$st" >p1 2>>"$st.err" &
	STAGE_PIDS=($!)
	fx-join "${cdm_ads_args_join[@]}" <p1 >p2 2>>"$st.err" &
	STAGE_PIDS+=($!)
	fx-agg "${cdm_ads_args_agg[@]}" --state "$st" <p2 >p3 2>>"$st.err" &
	STAGE_PIDS+=($!)
	fx-sink --dir "$out" --partition os --state "$st" <p3 2>>"$st.err" &
	STAGE_PIDS+=($!)
}

@test "chaos: 20 SIGKILLs of random stages, restarted each time: the output is the uninterrupted run's and the batch run's, byte for byte" {
	fx_broker_start --topic ods_play:4
	gen-plays -n "$EVENTS" -s 7 --rate 250 --disorder 3000 --users 20000 \
		--songs 5000 --dim-songs songs.csv >plays.ndjson
	fx-sink -t ods_play --key user_id <plays.ndjson

	# the batch run over the same events
	fx-consume plays.ndjson | fx-join "${cdm_ads_args_join[@]}" |
		fx-agg "${cdm_ads_args_agg[@]}" | fx-sink --dir batch --partition os
	[ "$(cat batch/*/* | wc -l)" -gt 100 ] || fail "the batch run wrote too little: $(cat batch/*/* | wc -l) rows"

	# an uninterrupted stream run: its length sets the chaos run's pace
	local t0 ms final
	t0=$(date +%s%N)
	run_stream st-clean clean
	wait_stream || fail "the uninterrupted stream run failed: $(cat st-clean.err)"
	ms=$((($(date +%s%N) - t0) / 1000000))
	final=$(committed_id st-clean)
	diff -r batch clean || fail "the uninterrupted stream run differs from the batch run"

	# the chaos run: kill a random stage at a random moment, restart
	# The chaos: kill a random stage of a run at a random moment, restart
	# with the same command, until the job has committed its end; then
	# check the output and start a fresh job, until KILLS kills have
	# fallen before a job's end. Each run lives a random part of a tenth
	# of the clean run, after a start-up allowance that grows by 50 ms
	# whenever a run committed nothing new, so that the kills fall all
	# along the stream: before the first commit, between commits, at the
	# end.
	local kills=0 runs=0 jobs=0 victim pid names=(fx-consume fx-join fx-agg fx-sink)
	local ids="" seed base=0 last=0 now distinct st out
	seed=${FX_CHAOS_SEED:-$$}
	RANDOM=$seed
	while [ "$kills" -lt "$KILLS" ]; do
		jobs=$((jobs + 1))
		st=st-$jobs out=chaos-$jobs base=0 last=0
		while [ "$(committed_id "$st")" -lt "$final" ] && [ "$kills" -lt "$KILLS" ]; do
			runs=$((runs + 1))
			[ "$runs" -le $((KILLS * 4)) ] || fail "only $kills kills landed in $runs runs"
			run_stream "$st" "$out"
			sleep "$(awk -v ms=$((base + RANDOM % (ms / 10 + 1) + 10)) 'BEGIN { printf "%.3f", ms / 1000 }')"
			victim=$((RANDOM % 4))
			pid=${STAGE_PIDS[victim]}
			now=$(committed_id "$st")
			if kill -9 "$pid" 2>/dev/null && [ "$now" -lt "$final" ]; then
				kills=$((kills + 1))
				ids="$ids ${names[victim]}@$now"
			fi
			wait_stream 30 || true
			now=$(committed_id "$st")
			if [ "$now" -gt "$last" ]; then base=0; else base=$((base + 50)); fi
			last=$now
		done
		# to the end, uninterrupted, and the same bytes
		run_stream "$st" "$out"
		wait_stream || fail "job $jobs: the last run failed: $(tail -n 5 "$st.err")"
		diff -r clean "$out" || fail "job $jobs: after its kills the output differs from the uninterrupted run"
		diff -r batch "$out" || fail "job $jobs: after its kills the output differs from the batch run"
		[ "$(cat "$out"/*/* | sort | uniq -d | wc -l)" -eq 0 ] || fail "job $jobs: duplicate rows"
	done
	distinct=$(tr ' ' '\n' <<<"$ids" | sed -n 's/.*@//p' | sort -u | wc -l)
	echo "# seed $seed; clean run ${ms} ms, $final checkpoints; $kills kills before the end in $runs runs of $jobs jobs, at $distinct different committed ids; stage@committed id:$ids" >&3
	[ "$distinct" -ge 4 ] || fail "the kills fell at only $distinct different committed checkpoints: the restores were not exercised"
}
