#!/usr/bin/env bats
# fx-consume FILE|DIR... --checkpoint: checkpoints with file sources (issue
# 13, share/doc/checkpoints.md, fx-consume(1) "Checkpoints"). A barrier's
# positions name every file started, in the order read, as
# ["file:PATH",0,OFFSET], OFFSET the byte offset of the next line to read
# (in the decompressed data for gzip); a restart resumes each file
# committed.json lists at its offset and reads the others whole.

load test_helper

setup() {
	fx_setup_tmp
	STAGE_PIDS=()
	mkdir -p d/sub
	# lines of 8 bytes; b.jsonl has a blank line (1 byte) after its first
	printf '{"a":1}\n{"a":2}\n' >d/a.ndjson
	printf '{"b":1}\n\n{"b":2}\n{"b":3}\n' >d/sub/b.jsonl
}

teardown() { fx_kill_stages; }

@test "a fresh start: restore 0, barriers with every file started at its next line's offset, a final one" {
	run --separate-stderr fx-consume d --checkpoint 2 --state st
	assert_success
	assert_equal "$stderr" ""
	# the barrier after a file's last record lists it at its size
	assert_output - <<'EOF2'
{"_fx":"restore","id":0}
{"a":1}
{"a":2}
{"_fx":"checkpoint","id":1,"positions":[["file:d/a.ndjson",0,16]]}
{"b":1}
{"b":2}
{"_fx":"checkpoint","id":2,"positions":[["file:d/a.ndjson",0,16],["file:d/sub/b.jsonl",0,17]]}
{"b":3}
{"_fx":"checkpoint","id":3,"positions":[["file:d/a.ndjson",0,16],["file:d/sub/b.jsonl",0,25]],"final":true}
EOF2
	# fx-consume reads committed.json, it never writes it
	[ ! -e st/committed.json ]
	# named files keep their names as given; a time interval too
	run --separate-stderr fx-consume d/sub/b.jsonl ./d/a.ndjson --checkpoint 1h --state st
	assert_success
	assert_output - <<'EOF2'
{"_fx":"restore","id":0}
{"b":1}
{"b":2}
{"b":3}
{"a":1}
{"a":2}
{"_fx":"checkpoint","id":1,"positions":[["file:d/sub/b.jsonl",0,25],["file:./d/a.ndjson",0,16]],"final":true}
EOF2
}

@test "a restart: listed files resume at their offsets (skipped when at their size), the others are read whole, ids go on" {
	printf '{"c":1}\n' >d/c.ndjson
	mkdir st
	echo '{"id":5,"positions":[["file:d/a.ndjson",0,16],["file:d/sub/b.jsonl",0,8]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume d --checkpoint 2 --state st
	assert_success
	assert_equal "$stderr" ""
	assert_output - <<'EOF2'
{"_fx":"restore","id":5}
{"c":1}
{"b":2}
{"_fx":"checkpoint","id":6,"positions":[["file:d/a.ndjson",0,16],["file:d/c.ndjson",0,8],["file:d/sub/b.jsonl",0,17]]}
{"b":3}
{"_fx":"checkpoint","id":7,"positions":[["file:d/a.ndjson",0,16],["file:d/c.ndjson",0,8],["file:d/sub/b.jsonl",0,25]],"final":true}
EOF2
	# a file that grew since is read on from its offset
	printf '{"a":3}\n' >>d/a.ndjson
	echo '{"id":9,"positions":[["file:d/a.ndjson",0,16]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume d/a.ndjson --checkpoint 5 --state st
	assert_success
	assert_output - <<'EOF2'
{"_fx":"restore","id":9}
{"a":3}
{"_fx":"checkpoint","id":10,"positions":[["file:d/a.ndjson",0,24]],"final":true}
EOF2
}

@test "gzip: offsets count the decompressed data, a restart decompresses and skips them" {
	gzip d/a.ndjson
	run --separate-stderr fx-consume d --checkpoint 1 --state st
	assert_success
	assert_output - <<'EOF2'
{"_fx":"restore","id":0}
{"a":1}
{"_fx":"checkpoint","id":1,"positions":[["file:d/a.ndjson.gz",0,8]]}
{"a":2}
{"_fx":"checkpoint","id":2,"positions":[["file:d/a.ndjson.gz",0,16]]}
{"b":1}
{"_fx":"checkpoint","id":3,"positions":[["file:d/a.ndjson.gz",0,16],["file:d/sub/b.jsonl",0,8]]}
{"b":2}
{"_fx":"checkpoint","id":4,"positions":[["file:d/a.ndjson.gz",0,16],["file:d/sub/b.jsonl",0,17]]}
{"b":3}
{"_fx":"checkpoint","id":5,"positions":[["file:d/a.ndjson.gz",0,16],["file:d/sub/b.jsonl",0,25]]}
{"_fx":"checkpoint","id":6,"positions":[["file:d/a.ndjson.gz",0,16],["file:d/sub/b.jsonl",0,25]],"final":true}
EOF2
	mkdir st
	echo '{"id":1,"positions":[["file:d/a.ndjson.gz",0,8]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume d/a.ndjson.gz --checkpoint 5 --state st
	assert_success
	assert_output - <<'EOF2'
{"_fx":"restore","id":1}
{"a":2}
{"_fx":"checkpoint","id":2,"positions":[["file:d/a.ndjson.gz",0,16]],"final":true}
EOF2
	# past the decompressed end, or inside a line: changed
	echo '{"id":1,"positions":[["file:d/a.ndjson.gz",0,30]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume d/a.ndjson.gz --checkpoint 5 --state st
	assert_failure 3
	assert_equal "$stderr" "fx-consume: d/a.ndjson.gz: changed since checkpoint 1: 16 bytes decompressed, fewer than its offset 30"
	echo '{"id":1,"positions":[["file:d/a.ndjson.gz",0,3]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume d/a.ndjson.gz --checkpoint 5 --state st
	assert_failure 3
	assert_equal "$stderr" "fx-consume: d/a.ndjson.gz: changed since checkpoint 1: not a line start at offset 3"
}

@test "a byte order mark counts in a plain file's offsets" {
	printf '\xef\xbb\xbf{"m":1}\n{"m":2}\n' >m.ndjson
	run --separate-stderr fx-consume m.ndjson --checkpoint 1 --state st
	assert_success
	assert_output - <<'EOF2'
{"_fx":"restore","id":0}
{"m":1}
{"_fx":"checkpoint","id":1,"positions":[["file:m.ndjson",0,11]]}
{"m":2}
{"_fx":"checkpoint","id":2,"positions":[["file:m.ndjson",0,19]]}
{"_fx":"checkpoint","id":3,"positions":[["file:m.ndjson",0,19]],"final":true}
EOF2
	mkdir st
	echo '{"id":1,"positions":[["file:m.ndjson",0,11]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume m.ndjson --checkpoint 1 --state st
	assert_success
	assert_output - <<'EOF2'
{"_fx":"restore","id":1}
{"m":2}
{"_fx":"checkpoint","id":2,"positions":[["file:m.ndjson",0,19]]}
{"_fx":"checkpoint","id":3,"positions":[["file:m.ndjson",0,19]],"final":true}
EOF2
}

@test "a listed file that shrank, moved under its offset, or is gone: exit 3 naming it, nothing written" {
	mkdir st
	echo '{"id":4,"positions":[["file:d/a.ndjson",0,20]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume d --checkpoint 2 --state st
	assert_failure 3
	assert_output ""
	assert_equal "$stderr" "fx-consume: d/a.ndjson: changed since checkpoint 4: 16 bytes, shorter than its offset 20"
	echo '{"id":4,"positions":[["file:d/a.ndjson",0,5]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume d --checkpoint 2 --state st
	assert_failure 3
	assert_output ""
	assert_equal "$stderr" "fx-consume: d/a.ndjson: changed since checkpoint 4: not a line start at offset 5"
	echo '{"id":4,"positions":[["file:d/gone.ndjson",0,8]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume d --checkpoint 2 --state st
	assert_failure 3
	assert_output ""
	assert_equal "$stderr" "fx-consume: d/gone.ndjson: changed since checkpoint 4: gone"
	# there, but not an input of this command line
	echo '{"id":4,"positions":[["file:d/sub/b.jsonl",0,8]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume d/a.ndjson --checkpoint 2 --state st
	assert_failure 3
	assert_equal "$stderr" "fx-consume: d/sub/b.jsonl: changed since checkpoint 4: not an input of this run"
	# a Kafka job's state is not a file source's
	echo '{"id":4,"positions":[["t1",0,8]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume d --checkpoint 2 --state st
	assert_failure 3
	assert_equal "$stderr" "fx-consume: st/committed.json: position of \"t1\" 0: not a file source's"
	echo '{"id":' >st/committed.json
	run --separate-stderr fx-consume d --checkpoint 2 --state st
	assert_failure 3
	assert_equal "$stderr" "fx-consume: st/committed.json: corrupt: not a committed checkpoint"
}

@test "a committed last line without a newline, then appended to: the newline that ends it is skipped, the next record read once" {
	mkdir in
	printf '{"p":"a","i":1}' >in/f.ndjson
	printf '{"p":"a","i":1,"z":1}' | gzip >in/g.ndjson.gz
	set -o pipefail
	fx-consume --checkpoint 1 --state st in | fx-sink --dir out --partition p --state st
	printf '\n{"p":"a","i":2}\n' >>in/f.ndjson
	# blanks before the newline are still the end of the committed line
	printf ' \r\n{"p":"a","i":2,"z":1}\n' | gzip >>in/g.ndjson.gz
	run --separate-stderr fx-consume --checkpoint 1 --state st in
	assert_success
	assert_equal "$stderr" ""
	assert_output - <<'EOF2'
{"_fx":"restore","id":3}
{"p":"a","i":2}
{"_fx":"checkpoint","id":4,"positions":[["file:in/f.ndjson",0,32]]}
{"p":"a","i":2,"z":1}
{"_fx":"checkpoint","id":5,"positions":[["file:in/f.ndjson",0,32],["file:in/g.ndjson.gz",0,46]]}
{"_fx":"checkpoint","id":6,"positions":[["file:in/f.ndjson",0,32],["file:in/g.ndjson.gz",0,46]],"final":true}
EOF2
	fx-consume --checkpoint 1 --state st in | fx-sink --dir out --partition p --state st
	# every record once: none again, none lost
	run cat out/p=a/*.ndjson
	assert_output - <<'EOF2'
{"p":"a","i":1}
{"p":"a","i":1,"z":1}
{"p":"a","i":2}
{"p":"a","i":2,"z":1}
EOF2
	fx-consume --checkpoint 1 --state st in | fx-sink --dir out --partition p --state st
	# and a run with nothing new writes nothing: the inputs, each line once
	run cat out/p=a/*.ndjson
	assert_equal "$(sort <<<"$output")" "$({ jq -c . in/f.ndjson; gzip -dc in/g.ndjson.gz | jq -c .; } | sort)"
	assert_equal "${#lines[@]}" 4
}

@test "a committed last line without a newline, then rewritten: still exit 3, nothing written" {
	mkdir st
	echo '{"id":4,"positions":[["file:d/a.ndjson",0,7]],"files":{}}' >st/committed.json
	# the line went on: the committed record was not a whole line
	printf '{"a":1,"x":2}\n' >d/a.ndjson
	run --separate-stderr fx-consume d/a.ndjson --checkpoint 2 --state st
	assert_failure 3
	assert_output ""
	assert_equal "$stderr" "fx-consume: d/a.ndjson: changed since checkpoint 4: not a line start at offset 7"
	printf '{"a":1} {"a":2}\n' >d/a.ndjson
	run --separate-stderr fx-consume d/a.ndjson --checkpoint 2 --state st
	assert_failure 3
	assert_output ""
	assert_equal "$stderr" "fx-consume: d/a.ndjson: changed since checkpoint 4: not a line start at offset 7"
	printf '{"a":10}\n' >d/a.ndjson
	run --separate-stderr fx-consume d/a.ndjson --checkpoint 2 --state st
	assert_failure 3
	assert_equal "$stderr" "fx-consume: d/a.ndjson: changed since checkpoint 4: not a line start at offset 7"
	printf '{"a":1' >d/a.ndjson
	run --separate-stderr fx-consume d/a.ndjson --checkpoint 2 --state st
	assert_failure 3
	assert_equal "$stderr" "fx-consume: d/a.ndjson: changed since checkpoint 4: 6 bytes, shorter than its offset 7"
	# gzip is checked as it is decompressed again: after the restore record
	printf '{"a":1}' | gzip >d/g.ndjson.gz
	printf ',"x":2}\n' | gzip >>d/g.ndjson.gz
	echo '{"id":4,"positions":[["file:d/g.ndjson.gz",0,7]],"files":{}}' >st/committed.json
	run --separate-stderr fx-consume d/g.ndjson.gz --checkpoint 2 --state st
	assert_failure 3
	assert_output '{"_fx":"restore","id":4}'
	assert_equal "$stderr" "fx-consume: d/g.ndjson.gz: changed since checkpoint 4: not a line start at offset 7"
}

@test "usage: stdin, CSV and a FIFO cannot be resumed; --state is needed" {
	run --separate-stderr fx-consume --checkpoint 2 --state st <d/a.ndjson
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "fx-consume: --checkpoint: stdin cannot be resumed: FILE or DIR operands (see 'fx-consume --help')"
	run --separate-stderr fx-consume - --checkpoint 2 --state st <d/a.ndjson
	assert_failure 2
	printf 'x,y\n1,2\n' >d/c.csv
	run --separate-stderr fx-consume d --checkpoint 2 --state st
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "fx-consume: --checkpoint: d/c.csv: CSV input cannot be resumed: NDJSON files only (see 'fx-consume --help')"
	run --separate-stderr fx-consume d/a.ndjson --format csv --checkpoint 2 --state st
	assert_failure 2
	mkfifo f.ndjson
	run --separate-stderr fx-consume f.ndjson --checkpoint 2 --state st
	assert_failure 2
	assert_equal "$stderr" "fx-consume: --checkpoint: f.ndjson: not a regular file: cannot be resumed (see 'fx-consume --help')"
	run --separate-stderr fx-consume d/a.ndjson --checkpoint 2
	assert_failure 2
	assert_equal "$stderr" "fx-consume: --checkpoint: needs a state directory: --state DIR (see 'fx-consume --help')"
}

agg_args=(--time event_time --window tumble:1m --lateness 5s
	--by os,province --agg plays=count,listen_ms=sum:duration_ms,listeners=distinct:user_id)

# run_stream STATE OUT: fx-consume DIR | fx-agg | fx-sink --dir with
# checkpoints, joined by FIFOs so that each stage has a PID to kill;
# started in the background, STAGE_PIDS set (consume agg sink)
run_stream() {
	local st=$1 out=$2
	rm -f p1 p2 && mkfifo p1 p2
	fx-consume plays --checkpoint 50 --state "$st" >p1 2>>"$st.err" &
	STAGE_PIDS=($!)
	fx-agg "${agg_args[@]}" --state "$st" <p1 >p2 2>>"$st.err" &
	STAGE_PIDS+=($!)
	fx-sink --dir "$out" --partition os --state "$st" <p2 2>>"$st.err" &
	STAGE_PIDS+=($!)
}

@test "chaos over files: 10 SIGKILLs of random stages, restarted each time: the output is the batch run's, byte for byte" {
	# a partitioned directory, plain and gzip files of uneven sizes
	gen-plays -n 40000 -s 11 --rate 40 --disorder 3000 --users 2000 >all.ndjson
	mkdir -p plays/dt=1 plays/dt=2
	sed -n 1,700p all.ndjson >plays/dt=1/a.ndjson
	sed -n 701,2500p all.ndjson | gzip >plays/dt=1/b.ndjson.gz
	sed -n 2501,2600p all.ndjson >plays/dt=2/a.ndjson
	sed -n 2601,40000p all.ndjson >plays/dt=2/b.ndjson

	fx-consume plays | fx-agg "${agg_args[@]}" | fx-sink --dir batch --partition os
	[ "$(cat batch/*/* | wc -l)" -gt 50 ] || fail "the batch run wrote too little"

	# an uninterrupted run: the same output, and its length
	local t0 ms final
	t0=$(date +%s%N)
	run_stream st-clean clean
	wait_stream || fail "the uninterrupted run failed: $(cat st-clean.err)"
	ms=$((($(date +%s%N) - t0) / 1000000))
	final=$(committed_id st-clean)
	[ "$final" -ge 800 ] || fail "only $final checkpoints committed"
	diff -r batch clean || fail "the uninterrupted run differs from the batch run"

	# kill a random stage at a random moment, restart with the same
	# command, until the job has committed its end; check its output and
	# start a fresh job, until 10 kills have fallen before a job's end.
	# A run lives a random part of a quarter of the clean run, after an
	# allowance that grows by 20 ms whenever a run committed nothing new.
	local kills=0 runs=0 jobs=0 victim pid now ids="" distinct seed
	local st out base last wait_ms
	seed=${FX_CHAOS_SEED:-$$}
	RANDOM=$seed
	# (and until fx-consume is among the victims)
	while [ "$kills" -lt 10 ] || [[ "$ids" != *" 0@"* ]]; do
		jobs=$((jobs + 1))
		st=st-$jobs out=out-$jobs base=0 last=0
		while [ "$(committed_id "$st")" -lt "$final" ] &&
			{ [ "$kills" -lt 10 ] || [[ "$ids" != *" 0@"* ]]; }; do
			runs=$((runs + 1))
			[ "$runs" -le 80 ] || fail "only $kills kills landed in $runs runs"
			victim=$((RANDOM % 3))
			# fx-consume reads ahead of the rest (it ends in a tenth
			# of the run): it is killed early or the kill misses
			if [ "$victim" -eq 0 ]; then wait_ms=$((RANDOM % (ms / 10 + 1) + 2))
			else wait_ms=$((base + RANDOM % (ms / 4 + 1) + 5)); fi
			run_stream "$st" "$out"
			sleep "$(awk -v ms=$wait_ms 'BEGIN { printf "%.3f", ms / 1000 }')"
			pid=${STAGE_PIDS[victim]}
			now=$(committed_id "$st")
			if kill -9 "$pid" 2>/dev/null && [ "$now" -lt "$final" ]; then
				kills=$((kills + 1))
				ids="$ids $victim@$now"
			fi
			wait_stream 30 || true
			now=$(committed_id "$st")
			if [ "$now" -gt "$last" ]; then base=0; else base=$((base + 20)); fi
			last=$now
		done
		# to the end, uninterrupted, and the batch run's bytes
		run_stream "$st" "$out"
		wait_stream || fail "job $jobs: the last run failed: $(tail -n 5 "$st.err")"
		diff -r batch "$out" || fail "job $jobs: after its kills the output differs from the batch run"
	done
	distinct=$(tr ' ' '\n' <<<"$ids" | sed -n 's/.*@//p' | sort -u | wc -l)
	echo "# seed $seed; clean run ${ms} ms, $final checkpoints; $kills kills in $runs runs of $jobs jobs at $distinct committed ids; stage@id:$ids" >&3
	[ "$distinct" -ge 4 ] || fail "the kills fell at only $distinct committed checkpoints"
}
