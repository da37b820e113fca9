#!/usr/bin/env bats
# The bad-input battery from tests/cases/bad-input.cases: each case's exit
# status and exact message. All cases run; the failures are listed together.

load test_helper

setup() {
	fx_setup_tmp
	FEEDERS=()
}
teardown() {
	# a feeder left blocked on its FIFO (its reader failed) would hold bats's
	# output open for ever
	local p
	for p in "${FEEDERS[@]}"; do
		pkill -P "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	chmod -R u+rwx "$T" 2>/dev/null
	fx_teardown_tmp
}

@test "bad-input battery: every case gives its message and exit status" {
	local name cmd expect want_status want_err bad=0 n=0
	while IFS= read -r name; do
		[[ -z $name || $name == \#* ]] && continue
		IFS= read -r cmd
		IFS= read -r expect
		want_status=${expect%%$'\t'*}
		want_err=${expect#*$'\t'}
		[ "$want_err" = '""' ] && want_err=
		n=$((n + 1))
		run --separate-stderr bash -c "$cmd"
		if [ "$status" != "$want_status" ] || [ "$stderr" != "$want_err" ]; then
			echo "case '$name': want $want_status '$want_err', got $status '$stderr'"
			bad=$((bad + 1))
		fi
	done <"$FX_ROOT/tests/cases/bad-input.cases"
	echo "$n cases, $bad failed"
	[ "$n" -ge 30 ]
	[ "$bad" -eq 0 ]
}

# dlq_check DLQ IN WANT...: each DLQ line, by python3, against the input
# lines they came from: WANT is LINE:whole or LINE:cut; raw (or raw_base64)
# must decode to exactly the input line's bytes (cut: to its first bytes,
# with raw_truncated and raw_length the line's full length)
dlq_check() {
	python3 - "$@" <<'PY'
import base64, json, sys
dlq, src, wants = sys.argv[1], sys.argv[2], sys.argv[3:]
# a record is its line without "\n" or "\r\n"
lines = [l[:-1] if l.endswith(b'\r') else l
         for l in open(src, 'rb').read().split(b'\n')]
recs = [json.loads(l) for l in open(dlq, 'rb').read().split(b'\n') if l]
assert len(recs) == len(wants), (len(recs), len(wants))
for rec, want in zip(recs, wants):
    n, how = want.split(':')
    line = lines[int(n) - 1]
    assert rec['source'] == '%s:%s' % (src, n), rec['source']
    raw = (rec['raw'].encode('utf-8') if 'raw' in rec
           else base64.b64decode(rec['raw_base64'], validate=True))
    if how == 'whole':
        assert raw == line, (n, len(raw), len(line))
        assert 'raw_truncated' not in rec and 'raw_length' not in rec, rec.keys()
    else:
        assert rec['raw_truncated'] is True, rec
        assert rec['raw_length'] == len(line), (rec['raw_length'], len(line))
        assert line.startswith(raw) and len(raw) < len(line), (n, len(raw))
        print('%s: %d of %d bytes, %s' % (n, len(raw), len(line),
              'raw' if 'raw' in rec else 'raw_base64'))
print('ok')
PY
}

@test "a dead-letter record keeps a 2 MiB bad line whole, and bytes that are not UTF-8" {
	python3 - <<-'PY'
	mib = 1 << 20
	text = ('a\u00e9\u20ac\U0001f600 "q" \\ \t\x01\x7f' * mib)[:2 * mib]
	with open('in', 'wb') as f:
	    f.write(b'{"a":1}\n')
	    f.write(('{"a":"' + text).encode() + b'\n')            # unterminated
	    f.write(b'{"b":"\xff\xfe\xc3' + b'x' * (2 * mib) + b'"}\n')  # not UTF-8
	    f.write(b'{"a":2}\n')
	    f.write(b'{"a":"' + b'x' * (20 * mib) + b'"}\n')      # over the default --max-record
	PY
	[ "$(sed -n 2p in | wc -c)" -gt $((2 << 20)) ] || fail "line 2 is not over 2 MiB"
	run --separate-stderr fx-consume --on-error dlq=dlq.ndjson in
	assert_success
	assert_output $'{"a":1}\n{"a":2}'
	assert_equal "$stderr" ''
	run dlq_check dlq.ndjson in 2:whole 3:whole 5:cut
	assert_success
	assert_output $'5: 16777216 of 20971528 bytes, raw\nok'
	# line 2: bytes 1-6 are {"a":", 7-17 a é € 😀 and a space, 18 the quote
	# that ends the string, 19 the q where a ',' or '}' belongs
	assert_equal "$(jq -r '._fx_error' dlq.ndjson)" $'invalid JSON: expected \',\' or \'}\' in object at byte 19\ninvalid JSON: invalid UTF-8 at byte 7\nrecord longer than --max-record (16777216 bytes)'
}

@test "a record over --max-record: the dead-letter record says it was cut and the line's length" {
	python3 - <<-'PY'
	with open('in', 'wb') as f:
	    f.write(b'{"a":1}\n')
	    f.write(b'{"a":"' + b'x' * 5000 + b'"}\n')            # read whole, then cut
	    f.write(b'{"a":"' + b'y' * (3 << 20) + b'"}\r\n')     # longer than a read, CRLF
	    f.write(b'{"a":"x' + '\u00e9'.encode() * 3000 + b'"}\n')  # cut inside a character
	    f.write(b'{"b":"\xff' + b'z' * 3000 + b'"}\n')         # not UTF-8
	    f.write(b'{"a":2}\n')
	    f.write(b'{"a":"' + b'w' * 2000)                       # last, no newline
	PY
	run --separate-stderr fx-consume --max-record 1k --on-error dlq=dlq.ndjson in
	assert_success
	assert_output $'{"a":1}\n{"a":2}'
	assert_equal "$stderr" ''
	assert_equal "$(jq -r '._fx_error' dlq.ndjson | sort -u)" 'record longer than --max-record (1024 bytes)'
	run dlq_check dlq.ndjson in 2:cut 3:cut 4:cut 5:cut 7:cut
	assert_success
	# raw is the first 1024 bytes, cut back to a whole character when the
	# bytes are text
	assert_output - <<-'EOF'
	2: 1024 of 5008 bytes, raw
	3: 1024 of 3145736 bytes, raw
	4: 1023 of 6009 bytes, raw
	5: 1024 of 3009 bytes, raw_base64
	7: 1024 of 2006 bytes, raw
	ok
	EOF
}

@test "an unwritable dead-letter file is an I/O error before any record is read" {
	run --separate-stderr fx-consume --on-error dlq=nodir/dlq.ndjson <<<'{"a":1}'
	assert_failure 3
	assert_output ''
	assert_equal "$stderr" 'fx-consume: nodir/dlq.ndjson: cannot open dead-letter file: No such file or directory'
	# every program checks it at start-up, with good input too
	for p in fx-agg fx-join fx-sink fx-partition; do
		run --separate-stderr "$p" --on-error dlq=nodir/dlq.ndjson </dev/null
		assert_failure 3
		assert_equal "$stderr" "$p: nodir/dlq.ndjson: cannot open dead-letter file: No such file or directory"
	done
	# a writable one is created at start-up, empty while nothing is bad
	run --separate-stderr fx-consume --on-error dlq=dlq.ndjson <<<'{"a":1}'
	assert_success
	assert_output '{"a":1}'
	[ -f dlq.ndjson ] && [ ! -s dlq.ndjson ] || fail "dlq.ndjson is not an empty file"
}

@test "-V prints the version, as --version does, in every program and man page" {
	for p in "$FX_ROOT"/bin/fx-*; do
		name=$(basename "$p")
		run --separate-stderr "$p" -V
		assert_success
		assert_output "$name 0.1.0"
		assert_equal "$output" "$("$p" --version)"
		run grep -c '^\.It Fl V , Fl \\-version$' "$FX_ROOT/share/man/man1/$name.1"
		assert_output 1
		run "$p" --help
		assert_line '  -V, --version               print the version and exit'
	done
}

# A closed stdout (| head) ends every program quietly with 0; a full one
# (/dev/full) is an I/O error, 3, with a message. Each program gets more
# output than a pipe holds (the writer asks for a 1 MiB pipe).
# pipe_check CMD...: each CMD (a word list, its program first) three times
# under | head -n 1, once >/dev/full
pipe_check() {
	local cmd p bad=0
	for cmd in "$@"; do
		p=${cmd%% *}
		[ "$($cmd | wc -c)" -gt $((2 << 20)) ] || { echo "$p: output too small"; bad=1; }
		for _ in 1 2 3; do
			run --separate-stderr bash -c "set -o pipefail; $cmd | head -n 1 >/dev/null"
			[ "$status" = 0 ] && [ -z "$stderr" ] ||
				{ echo "$p | head: status $status, stderr '$stderr'"; bad=1; }
		done
		run --separate-stderr bash -c "$cmd >/dev/full"
		# stdio (fx-lineage) may not keep the reason of a failed write
		[ "$status" = 3 ] && [[ $stderr =~ ^$p:\ stdout:\ write\ error(: No space left on device)?$ ]] ||
			{ echo "$p >/dev/full: status $status, stderr '$stderr'"; bad=1; }
	done
	[ "$bad" = 0 ] || fail "see above"
}

@test "| head -n 1 exits 0 quietly, >/dev/full exits 3 with a message: fx-consume, fx-partition, fx-agg, fx-sink" {
	gen 100000 3 >plays.ndjson
	pipe_check "fx-consume plays.ndjson" \
		"fx-partition --table $FX_ROOT/share/examples/ods_play.table.json plays.ndjson" \
		"fx-agg --by user_id,event_time --agg count plays.ndjson" \
		"fx-sink plays.ndjson"
}

@test "| head -n 1 exits 0 quietly, >/dev/full exits 3 with a message: fx-join, fx-lineage export" {
	gen 100000 3 >plays.ndjson
	{
		echo song_id,genre
		seq 0 200000 | sed 's/$/,pop/'
	} >songs.csv
	# a lineage store of 3000 run events: one real run's, copied by jq
	FX_LINEAGE=file:one.ndjson fx-consume plays.ndjson >/dev/null
	seq 1500 | jq -c --slurpfile ev one.ndjson \
		'. as $i | $ev[] | .run.runId = "00000000-0000-4000-8000-\("00000000000\($i)"[-12:])"' >store.ndjson
	assert_equal "$(jq -r .run.runId store.ndjson | sort -u | wc -l)" 1500
	pipe_check "fx-join --dim songs.csv --on song_id --fields genre plays.ndjson" \
		"fx-lineage --store store.ndjson export --openlineage"
}

# feed FIFO: 15 records into FIFO in three steps 2.5 s apart, in the background
feed() {
	mkfifo "$1"
	(
		for step in 1 2 3; do
			for i in 1 2 3 4 5; do printf '{"step":%d,"i":%d}\n' "$step" "$i"; done
			[ "$step" = 3 ] || sleep 2.5
		done >"$1"
	) &
	FEEDERS+=($!)
}

# progress lines in FILE (a terminal's output: \r\n line ends), as counts
progress_counts() {
	tr -d '\r' <"$1" | sed -n 's/^fx-consume: progress: \([0-9]*\) records in.*/\1/p' | tr '\n' ' '
}

@test "--stats on a terminal, or --progress, prints progress every few seconds; elsewhere nothing" {
	fx_need_pty
	# under a pseudo-terminal (script(1)): stderr is the terminal
	feed in.fifo
	run script -qec "fx-consume --stats in.fifo >out" /dev/null
	assert_success
	tr -d '\r' <<<"$output" >tty.txt # a terminal ends lines in \r\n
	assert_equal "$(wc -l <out)" 15
	# a line when the first record of each later step comes, 2.5 s on:
	# records 6 and 11
	assert_equal "$(progress_counts tty.txt)" "6 11 "
	run grep -c 'fx-consume: progress: 6 records in, 5 records out, 0 bad, [0-9.]* s, [0-9]* records/s$' tty.txt
	assert_output 1
	run grep -c '^fx-consume: stats: 15 records in' tty.txt
	assert_output 1
	# a terminal without --stats: nothing at all
	feed in2.fifo
	run script -qec "fx-consume in2.fifo >out" /dev/null
	assert_success
	assert_output ''
	# not a terminal: --stats prints only its final line
	feed in3.fifo
	run --separate-stderr fx-consume --stats in3.fifo
	assert_success
	assert_equal "$(wc -l <<<"$output")" 15
	assert_regex "$stderr" '^fx-consume: stats: 15 records in, [^'$'\n'']*$'
	# --progress prints them anywhere
	feed in4.fifo
	fx-consume --progress in4.fifo >out 2>err
	assert_equal "$(progress_counts err)" "6 11 "
}
