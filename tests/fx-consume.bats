#!/usr/bin/env bats
# fx-consume: files, directories, stdin, CSV, gzip, and bad input.

load test_helper

# pipefail: a pipeline like `fx-consume f | cmp - f` must also fail when
# fx-consume fails after writing the right bytes
setup() {
	set -o pipefail
	fx_setup_tmp
}
teardown() { fx_teardown_tmp; }

@test "NDJSON passes through byte-identical" {
	gen 20000 3 >plays.ndjson
	fx-consume plays.ndjson >out.ndjson
	cmp out.ndjson plays.ndjson
}

@test "a regular file into a pipe goes by splice(2), byte for byte: after a byte order mark, from stdin mid-file, around a bad line" {
	gen 20000 3 >plays.ndjson
	printf '\xef\xbb\xbf' >bom.ndjson
	cat plays.ndjson >>bom.ndjson
	strace -f -qq -e trace=splice -o trace fx-consume bom.ndjson | cat >out
	cmp out plays.ndjson
	[ "$(grep -c 'splice(' trace)" -ge 10 ] || fail "no splices: $(head -3 trace)"
	# bash reads the first line and seeks back: fx-consume starts there
	{ IFS= read -r _; fx-consume; } <plays.ndjson | cat >out
	tail -n +2 plays.ndjson | cmp - out
	# a bad line in the middle: what is around it still arrives whole
	{ head -n 9000 plays.ndjson; echo '{"bad":'; tail -n +9001 plays.ndjson; } >bad.ndjson
	fx-consume --on-error dlq=dlq bad.ndjson | cat >out
	cmp out plays.ndjson
	[ "$(jq -r '.source + " " + .raw' dlq)" = 'bad.ndjson:9001 {"bad":' ] || fail "$(cat dlq)"
}

@test "stdin is read with - and with no operand" {
	gen 500 4 >plays.ndjson
	fx-consume - <plays.ndjson >a
	fx-consume <plays.ndjson >b
	cmp a plays.ndjson
	cmp b plays.ndjson
}

@test "several operands are read in the order given" {
	gen 10 1 >a.ndjson
	gen 10 2 >b.ndjson
	fx-consume b.ndjson a.ndjson >out
	cat b.ndjson a.ndjson | cmp - out
}

@test "directories are walked recursively in sorted order, hidden and _ files passed over" {
	mkdir -p d/b d/a/z
	echo '{"n":3}' >d/b/x.ndjson
	echo '{"n":2}' >d/a/z/y.jsonl
	echo '{"n":1}' >d/a/b.json
	echo '{"n":0}' >d/a/.hidden.ndjson
	echo '{"n":0}' >d/_SUCCESS.ndjson
	echo 'not data' >d/README.txt
	run --separate-stderr fx-consume d
	assert_success
	assert_output $'{"n":1}\n{"n":2}\n{"n":3}'
}

@test "--partition-fields adds k=v directory names as string fields" {
	mkdir -p "w/dt=2026-11-23/os=ios" "w/dt=2026-11-23/os=a%2Fb"
	echo '{"n":1}' >"w/dt=2026-11-23/os=ios/p.ndjson"
	echo '{"n":2,"os":"kept"}' >"w/dt=2026-11-23/os=a%2Fb/p.ndjson"
	echo '{}' >>"w/dt=2026-11-23/os=a%2Fb/p.ndjson"
	run --separate-stderr fx-consume --partition-fields w
	assert_success
	assert_output - <<'EOF'
{"n":2,"os":"kept","dt":"2026-11-23"}
{"dt":"2026-11-23","os":"a/b"}
{"n":1,"dt":"2026-11-23","os":"ios"}
EOF
}

@test "gzip files are read by extension and by --format" {
	gen 3000 5 >plays.ndjson
	gzip -k plays.ndjson
	fx-consume plays.ndjson.gz | cmp - plays.ndjson
	cp plays.ndjson.gz blob
	fx-consume --format ndjson+gz blob | cmp - plays.ndjson
	gen 100 5 --csv >p.csv
	gzip -kn p.csv
	run --separate-stderr fx-consume p.csv.gz
	assert_success
	# the records, as mlr reads the uncompressed CSV (not just a count)
	[ "$(printf '%s\n' "$output" | jq -cS .)" = "$(mlr --icsv --ojsonl cat p.csv | jq -cS .)" ] ||
		fail "p.csv.gz read differently from mlr's p.csv"
}

@test "CSV becomes NDJSON with numbers as numbers, as mlr reads it" {
	gen 2000 6 --csv >plays.csv
	fx-consume plays.csv | jq -cS . >fx.json
	mlr --icsv --ojsonl cat plays.csv | jq -cS . >mlr.json
	cmp fx.json mlr.json
}

@test "--csv-strings keeps every CSV field a string" {
	printf 'a,b\n1,x\n' >t.csv
	run --separate-stderr fx-consume --csv-strings t.csv
	assert_output '{"a":"1","b":"x"}'
}

@test "minimally quoted CSV -> NDJSON -> CSV round-trips quotes, commas, newlines and non-ASCII byte for byte" {
	printf '%s\n' 'id,title,note' '1,"Ça va, ""Ñandú""","line one' 'line two"' \
		'2,東京 🎵,plain' '3,,007' '4,-1.50e3,"  padded  "' \
		'5,"cr
 in it",x' >t.csv
	fx-consume t.csv | fx-sink --format csv >back.csv
	cmp back.csv t.csv
	run fx-consume t.csv
	assert_line --index 0 '{"id":1,"title":"Ça va, \"Ñandú\"","note":"line one\nline two"}'
	assert_line --index 2 '{"id":3,"title":"","note":"007"}'
	# a quoted empty field is the same empty string: written unquoted
	printf 'a,b\n"",x\n' | fx-consume --format csv | fx-sink --format csv >e.csv
	assert_equal "$(cat e.csv)" $'a,b\n,x'
}

@test "CRLF line ends are accepted and removed" {
	printf '{"a":1}\r\n{"a":2}\r\n' >crlf.ndjson
	run --separate-stderr fx-consume crlf.ndjson
	assert_output $'{"a":1}\n{"a":2}'
}

@test "blank lines are not records, and a last line without newline is" {
	printf '{"a":1}\n\n   \n{"a":2}' >t.ndjson
	run --separate-stderr fx-consume t.ndjson
	assert_output $'{"a":1}\n{"a":2}'
}

@test "valid JSON passes untouched: 1e400, integers past int64, duplicate keys, escapes" {
	printf '%s\n' '{"x":1e400}' '{"x":123456789012345678901234567890}' \
		'{"a":1,"a":2}' '{"s":"\ud83c\udfb5 \u0000 \/"}' '{ "sp" : [ 1 , 2 ] }' >t.ndjson
	fx-consume t.ndjson | cmp - t.ndjson
}

@test "100,000 levels of nesting: valid passes, unclosed fails, no crash" {
	python3 -c 'print("{\"a\":" + "[" * 100000 + "]" * 100000 + "}")' >deep.ndjson
	fx-consume deep.ndjson | cmp - deep.ndjson
	python3 -c 'print("{\"a\":" + "[" * 100000 + "}")' >bad.ndjson
	run --separate-stderr fx-consume bad.ndjson
	assert_failure 1
	assert_equal "$stderr" 'fx-consume: bad.ndjson:1: invalid JSON: unexpected character at byte 100006'
}

@test "a line longer than --max-record is a bad record, and fits with a larger limit" {
	python3 -c 'print("{\"big\":\"" + "x" * (20 << 20) + "\"}"); print("{\"small\":1}")' >big.ndjson
	run --separate-stderr fx-consume big.ndjson
	assert_failure 1
	assert_equal "$stderr" 'fx-consume: big.ndjson:1: record longer than --max-record (16777216 bytes)'
	run --separate-stderr fx-consume --on-error skip big.ndjson
	assert_success
	assert_output '{"small":1}'
	fx-consume --max-record 32M big.ndjson | cmp - big.ndjson
}

@test "records of every size, some longer than a read (256 KiB) or the first buffer (1 MiB), come through file and pipes whole and in order" {
	python3 -c '
import random
random.seed(7)
sizes = [0, 1, 2, 100, 4000, 65536, 262143, 262144, 262145, 300000, 1048576, 1500000]
sizes += [random.choice([random.randrange(200), random.randrange(70000)]) for _ in range(3000)]
random.shuffle(sizes)
for i, n in enumerate(sizes):
    print("{\"i\":%d,\"pad\":\"%s\"}" % (i, "abcdefghij"[i % 10] * n))
' >sizes.ndjson
	[ "$(stat -c %s sizes.ndjson)" -gt 20000000 ] || fail "the data is smaller than planned"
	fx-consume sizes.ndjson | fx-sink | cmp - sizes.ndjson
	cat sizes.ndjson | fx-consume - | cat | fx-sink | cmp - sizes.ndjson
	fx-consume sizes.ndjson >out.ndjson
	cmp out.ndjson sizes.ndjson
	fx-sink --file out2.ndjson <sizes.ndjson
	cmp out2.ndjson sizes.ndjson
}

@test "--on-error skip drops bad records and keeps the rest in order" {
	printf '%s\n' '{"a":1}' '[1]' '{"a":2}' 'nope' '{"a":3}' >t.ndjson
	run --separate-stderr fx-consume --on-error skip --stats t.ndjson
	assert_success
	assert_output $'{"a":1}\n{"a":2}\n{"a":3}'
	assert_regex "$stderr" '5 records in, 3 records out, 2 bad'
}

@test "--on-error dlq=FILE writes each bad record with its error, source and raw bytes" {
	printf '%s\n' '{"a":1}' '[1]' '{"a":' >t.ndjson
	printf '{"b":"\xff"}\n' >>t.ndjson
	run --separate-stderr fx-consume --on-error dlq=dead.ndjson t.ndjson
	assert_success
	assert_output '{"a":1}'
	run jq -c . dead.ndjson
	assert_line --index 0 '{"_fx_error":"not a JSON object","source":"t.ndjson:2","raw":"[1]"}'
	assert_line --index 1 '{"_fx_error":"invalid JSON: unexpected end of input at byte 6","source":"t.ndjson:3","raw":"{\"a\":"}'
	assert_line --index 2 '{"_fx_error":"invalid JSON: invalid UTF-8 at byte 7","source":"t.ndjson:4","raw_base64":"eyJiIjoi/yJ9"}'
	assert_equal "$(printf '{"b":"\xff"}' | base64)" eyJiIjoi/yJ9
}

@test "a missing input file is an I/O error naming it" {
	run --separate-stderr fx-consume missing.ndjson
	assert_failure 3
	assert_equal "$stderr" 'fx-consume: missing.ndjson: No such file or directory'
}

@test "a closed stdout ends quietly with status 0" {
	gen 200000 7 >plays.ndjson
	run --separate-stderr bash -c 'set -o pipefail; fx-consume plays.ndjson | head -n 1 >/dev/null'
	assert_success
	assert_equal "$stderr" ''
}

@test "a full stdout is an I/O error" {
	gen 10 1 >plays.ndjson
	run --separate-stderr bash -c 'fx-consume plays.ndjson >/dev/full'
	assert_failure 3
	assert_equal "$stderr" 'fx-consume: stdout: write error: No space left on device'
}

@test "SIGTERM stops reading, flushes the complete records, exits 0" {
	mkfifo in
	fx-consume in >out 2>err &
	pid=$!
	exec 5>in
	printf '{"a":1}\n{"a":2}\n{"a":' >&5
	sleep 0.5
	kill -TERM $pid
	# a fx-consume that ignored SIGTERM would hang the test: fail it instead
	(sleep 10 && kill -KILL $pid) 2>/dev/null &
	watchdog=$!
	rc=0
	wait $pid || rc=$?
	kill $watchdog 2>/dev/null || true
	exec 5>&-
	assert_equal "$rc" 0
	assert_equal "$(cat out)" $'{"a":1}\n{"a":2}'
	assert_equal "$(cat err)" ''
}

@test "SIGTERM in the middle of a gzip stream is a stop, not a truncated input" {
	gen 20000 9 >p.ndjson
	gzip -c p.ndjson >p.gz
	mkfifo in
	fx-consume in >out 2>err &
	pid=$!
	exec 5>in
	head -c $(($(stat -c %s p.gz) / 2)) p.gz >&5
	sleep 0.5
	kill -TERM $pid
	(sleep 10 && kill -KILL $pid) 2>/dev/null &
	watchdog=$!
	rc=0
	wait $pid || rc=$?
	kill $watchdog 2>/dev/null || true
	exec 5>&-
	assert_equal "$rc" 0
	assert_equal "$(cat err)" ''
	[ -s out ] || fail "nothing was flushed"
	head -c "$(stat -c %s out)" p.ndjson | cmp - out
	[ "$(tail -c 1 out | od -An -c | tr -d ' ')" = '\n' ] || fail "a partial record was written"
}

@test "SIGTERM between two gzip members (one byte of the next read) stops at once" {
	printf '{"a":1}\n' | gzip -c >m1.gz
	mkfifo in
	fx-consume in >out 2>err &
	pid=$!
	exec 5>in
	{ cat m1.gz; printf '\037'; } >&5
	sleep 0.5
	kill -TERM $pid
	(sleep 5 && kill -KILL $pid) 2>/dev/null &
	watchdog=$!
	rc=0
	wait $pid || rc=$?
	kill $watchdog 2>/dev/null || true
	exec 5>&-
	assert_equal "$rc" 0
	assert_equal "$(cat out)" '{"a":1}'
	assert_equal "$(cat err)" ''
}

@test "usage errors exit 2 and name the option" {
	run --separate-stderr fx-consume --windw
	assert_failure 2
	assert_equal "$stderr" "fx-consume: unknown option '--windw' (see 'fx-consume --help')"
	run --separate-stderr fx-consume --format xml x
	assert_failure 2
	assert_equal "$stderr" "fx-consume: --format: unknown format 'xml' (see 'fx-consume --help')"
	run --separate-stderr fx-consume --on-error maybe
	assert_failure 2
	assert_equal "$stderr" "fx-consume: --on-error: expected fail, skip or dlq=FILE, got 'maybe' (see 'fx-consume --help')"
}

@test "--help prints usage to stdout and exits 0; --version prints the version" {
	run --separate-stderr fx-consume --help
	assert_success
	assert_line --index 0 --partial 'Usage: fx-consume'
	assert_equal "$stderr" ''
	run fx-consume --version
	assert_success
	assert_output --regexp '^fx-consume [0-9]+\.[0-9]+\.[0-9]+$'
}

# ---- compressed input never reads as complete when it is not ----

# check_gz_against_gzip FILE ORIGINAL [fx-consume options]: gzip -t is the
# oracle. A file gzip accepts gives exactly gzip -dc's records, status 0; a
# file it rejects is an I/O error (3) naming the file, whatever --on-error
# says, and what came out before the damage is whole records of the original.
check_gz_against_gzip() {
	local f=$1 orig=$2
	shift 2
	run --separate-stderr fx-consume "$@" "$f"
	if gzip -t "$f" 2>/dev/null; then
		assert_success
		[ "$output" = "$(gzip -dc "$f")" ] || fail "$f: output is not gzip -dc's"
	else
		assert_failure 3
		assert_regex "$stderr" "^fx-consume: $f: gzip: "
		[ -z "$output" ] || printf '%s\n' "$output" >got
		[ -z "$output" ] || head -c "$(stat -c %s got)" "$orig" | cmp -s - got ||
			fail "$f: output before the damage is not a prefix of whole records"
	fi
}

@test "a truncated .gz is an I/O error naming the file at every cut point, as gzip -t says, whatever --on-error" {
	gen 3000 5 >p.ndjson
	gzip -kn p.ndjson
	size=$(stat -c %s p.ndjson.gz)
	for cut in 1 2 10 100 $((size / 2)) $((size - 9)) $((size - 8)) $((size - 4)) $((size - 1)); do
		head -c "$cut" p.ndjson.gz >cut.ndjson.gz
		run gzip -t cut.ndjson.gz
		assert_failure
		check_gz_against_gzip cut.ndjson.gz p.ndjson
		check_gz_against_gzip cut.ndjson.gz p.ndjson --on-error skip
		check_gz_against_gzip cut.ndjson.gz p.ndjson --on-error dlq=dead.ndjson
		[ ! -s dead.ndjson ] || fail "cut $cut: damage went to the DLQ as records"
	done
	# the half cut: the error, not a bad record, and nothing after it
	head -c $((size / 2)) p.ndjson.gz >half.ndjson.gz
	run --separate-stderr fx-consume half.ndjson.gz
	assert_failure 3
	assert_equal "$stderr" 'fx-consume: half.ndjson.gz: gzip: unexpected end of file'
}

@test "a corrupt .gz (bad CRC, bad length, bad data, not gzip) is an I/O error, as gzip -t says" {
	gen 2000 6 >p.ndjson
	gzip -kn p.ndjson
	size=$(stat -c %s p.ndjson.gz)
	flip() { # flip FILE OFFSET: invert one byte
		python3 -c 'import sys; f=open(sys.argv[1],"r+b"); o=int(sys.argv[2]); f.seek(o); b=f.read(1); f.seek(o); f.write(bytes([b[0]^0xff]))' "$1" "$2"
	}
	for at in $((size - 8)) $((size - 3)) $((size / 2)) 20; do
		cp p.ndjson.gz bad.ndjson.gz
		flip bad.ndjson.gz "$at"
		run gzip -t bad.ndjson.gz
		assert_failure
		check_gz_against_gzip bad.ndjson.gz p.ndjson --on-error skip
	done
	cp p.ndjson.gz crc.ndjson.gz
	flip crc.ndjson.gz $((size - 8))
	run --separate-stderr fx-consume crc.ndjson.gz
	assert_failure 3
	assert_equal "$stderr" 'fx-consume: crc.ndjson.gz: gzip: incorrect data check'
	# a name that says gzip on data that is not
	cp p.ndjson plain.ndjson.gz
	run gzip -t plain.ndjson.gz
	assert_failure
	run --separate-stderr fx-consume plain.ndjson.gz
	assert_failure 3
	assert_equal "$stderr" 'fx-consume: plain.ndjson.gz: gzip: not in gzip format'
	# garbage after a complete member
	{ cat p.ndjson.gz; printf 'junk'; } >junk.ndjson.gz
	run --separate-stderr fx-consume junk.ndjson.gz
	assert_failure 3
	assert_equal "$stderr" 'fx-consume: junk.ndjson.gz: gzip: trailing garbage after compressed data'
}

@test "concatenated gzip members, an empty member and zero padding read as gzip -dc reads them" {
	gen 1000 1 >a.ndjson
	gen 500 2 >b.ndjson
	gzip -c a.ndjson >ab.ndjson.gz
	printf '' | gzip -c >>ab.ndjson.gz
	gzip -c b.ndjson >>ab.ndjson.gz
	head -c 512 /dev/zero >>ab.ndjson.gz
	run gzip -t ab.ndjson.gz
	assert_success
	fx-consume ab.ndjson.gz >out
	gzip -dc ab.ndjson.gz | cmp - out
	cat a.ndjson b.ndjson | cmp - out
	printf '' | gzip -c >empty.ndjson.gz
	run --separate-stderr fx-consume empty.ndjson.gz
	assert_success
	assert_output ''
	# CSV too, and a truncated CSV is the same I/O error
	gen 300 3 --csv >p.csv
	gzip -kn p.csv
	fx-consume p.csv.gz >csv.out
	mlr --icsv --ojsonl cat p.csv | jq -cS . >mlr.json
	jq -cS . csv.out | cmp - mlr.json
	head -c $(($(stat -c %s p.csv.gz) - 8)) p.csv.gz >cut.csv.gz
	run --separate-stderr fx-consume --on-error skip cut.csv.gz
	assert_failure 3
	assert_equal "$stderr" 'fx-consume: cut.csv.gz: gzip: unexpected end of file'
}

@test "a truncated .gz is an I/O error in fx-join --dim and in fx-agg and fx-sink on a file" {
	printf '%s\n' 'song_id,artist' 's1,a1' 's2,a2' >songs.csv
	gzip -kn songs.csv
	head -c $(($(stat -c %s songs.csv.gz) - 8)) songs.csv.gz >cut.csv.gz
	run gzip -t cut.csv.gz
	assert_failure
	run --separate-stderr fx-join --dim cut.csv.gz --on song_id --fields artist </dev/null
	assert_failure 3
	assert_regex "$stderr" '^fx-join: cut\.csv\.gz: gzip: unexpected end of file'
	gen 2000 4 >p.ndjson
	gzip -kn p.ndjson
	head -c $(($(stat -c %s p.ndjson.gz) / 2)) p.ndjson.gz >half.gz
	run --separate-stderr fx-agg --by os --agg count --on-error skip half.gz
	assert_failure 3
	assert_regex "$stderr" '^fx-agg: half\.gz: gzip: unexpected end of file'
	refute_output
	# fx-sink on a file: an I/O error, and no output file
	run --separate-stderr fx-sink --file out.ndjson --on-error skip half.gz
	assert_failure 3
	assert_regex "$stderr" '^fx-sink: half\.gz: gzip: unexpected end of file'
	[ ! -e out.ndjson ] || fail "fx-sink wrote out.ndjson from a truncated input"
	# a complete one is read (its magic bytes say gzip) and counted as jq counts
	run --separate-stderr fx-agg --by os --agg count p.ndjson.gz
	assert_success
	[ "$(printf '%s\n' "$output" | jq -s 'map(.count) | add')" = 2000 ] || fail "count: $output"
}

@test "gzip on stdin is recognised by its magic bytes, NDJSON and CSV" {
	gen 2000 8 >p.ndjson
	gzip -c p.ndjson >full.gz
	gzip -c p.ndjson | fx-consume - >a
	cmp a p.ndjson
	gzip -c p.ndjson | fx-consume >b
	cmp b p.ndjson
	fx-consume <(gzip -c p.ndjson) >c
	cmp c p.ndjson
	printf 'a,b\n1,x\n' | gzip -c | fx-consume --format csv >d
	[ "$(cat d)" = '{"a":1,"b":"x"}' ] || fail "csv: $(cat d)"
	# the magic bytes split over two reads of a pipe
	(printf '\037'; sleep 0.3; tail -c +2 full.gz) | fx-consume >e
	cmp e p.ndjson
	# a truncated one on stdin is an I/O error too
	head -c 5000 full.gz >cut.gz
	run --separate-stderr fx-consume --on-error skip - <cut.gz
	assert_failure 3
	assert_equal "$stderr" 'fx-consume: stdin: gzip: unexpected end of file'
}

# ---- directory walks ----

@test "a FIFO inside a directory walk is skipped with a warning, never read or waited on" {
	mkdir -p d/sub
	echo '{"n":1}' >d/a.ndjson
	mkfifo d/b.ndjson d/sub/c.csv.gz d/plain-fifo
	echo '{"n":2}' >d/sub/d.ndjson
	run --separate-stderr timeout 10 fx-consume d
	assert_success
	assert_output $'{"n":1}\n{"n":2}'
	assert_equal "$stderr" $'fx-consume: d/b.ndjson: not a regular file, skipped\nfx-consume: d/sub/c.csv.gz: not a regular file, skipped'
}

@test "a symbolic link back to a directory of the walk is skipped with a warning: each file read once; other links are followed" {
	mkdir -p d/sub other
	echo '{"n":1}' >d/a.ndjson
	echo '{"n":2}' >d/sub/b.ndjson
	echo '{"n":3}' >other/c.ndjson
	ln -s .. d/sub/up
	ln -s ../sub d/sub/self
	ln -s ../other d/zlink
	run --separate-stderr timeout 10 fx-consume d
	assert_success
	assert_output $'{"n":1}\n{"n":2}\n{"n":3}'
	assert_equal "$stderr" $'fx-consume: d/sub/self: a link back to d/sub, a directory loop: skipped\nfx-consume: d/sub/up: a link back to d, a directory loop: skipped'
}

@test "a FIFO named on the command line is read, and so is a process substitution" {
	mkfifo f.ndjson
	printf '{"n":1}\n{"n":2}\n' >f.ndjson &
	writer=$!
	run --separate-stderr timeout 10 fx-consume f.ndjson
	wait "$writer"
	assert_success
	assert_output $'{"n":1}\n{"n":2}'
	run --separate-stderr fx-consume <(printf '{"n":3}\n')
	assert_success
	assert_output '{"n":3}'
}

@test "a UTF-8 byte order mark starting an input is dropped, as jq does; one later is bad data" {
	printf '\xef\xbb\xbf{"a":1}\n{"a":2}\n' >a.ndjson
	printf '\xef\xbb\xbf{"b":1}\n' >b.ndjson
	gzip -kn b.ndjson
	# jq, the reference: drops a leading BOM
	[ "$(jq -c . a.ndjson)" = $'{"a":1}\n{"a":2}' ] || fail "jq reads the BOM differently"
	run --separate-stderr fx-consume a.ndjson b.ndjson b.ndjson.gz
	assert_success
	assert_output $'{"a":1}\n{"a":2}\n{"b":1}\n{"b":1}'
	run --separate-stderr fx-consume - <a.ndjson
	assert_success
	assert_output $'{"a":1}\n{"a":2}'
	# CSV: the header's first name is "id", as mlr reads it
	printf '\xef\xbb\xbfid,x\n1,y\n' >t.csv
	[ "$(mlr --icsv --ojsonl cat t.csv | jq -c .)" = '{"id":1,"x":"y"}' ] || fail "mlr differs"
	run --separate-stderr fx-consume t.csv
	assert_success
	assert_output '{"id":1,"x":"y"}'
	# only the very first bytes: a BOM on line 2 is not JSON
	printf '{"a":1}\n\xef\xbb\xbf{"a":2}\n' >mid.ndjson
	run --separate-stderr fx-consume mid.ndjson
	assert_failure 1
	assert_output '{"a":1}'
	assert_equal "$stderr" 'fx-consume: mid.ndjson:2: invalid JSON: unexpected character at byte 1'
}

@test "Kafka-only options with file input are a usage error naming the option, as fx-sink does" {
	echo '{"a":1}' >t.ndjson
	mkdir d && cp t.ndjson d/
	printf 'client.id=x\n' >k.properties
	check() { # check NAME ARGS...: fx-consume ARGS t.ndjson is refused for NAME
		local name=$1
		shift
		run --separate-stderr fx-consume "$@" t.ndjson
		assert_failure 2
		refute_output
		assert_equal "$stderr" "fx-consume: $name: a Kafka option, not for files, directories or stdin (see 'fx-consume --help')"
	}
	check -g/--group -g grp
	check -g/--group -G grp
	check -o/--offset -o end
	check -e/--exit-at-end -e
	check -c/--count -c 5
	check --meta --meta
	check --wrap --wrap
	check -b/--brokers -b 127.0.0.1:9
	check -X -X client.id=x
	check -F/--kafka-config -F k.properties
	# a file of no properties (comments only, or empty) is the option too
	check -F/--kafka-config -F /dev/null
	check --timeout --timeout 5s
	# a directory, stdin (no operand) and --table over directories too
	run --separate-stderr fx-consume -e d
	assert_failure 2
	assert_regex "$stderr" '^fx-consume: -e/--exit-at-end: a Kafka option'
	run --separate-stderr fx-consume --meta <t.ndjson
	assert_failure 2
	refute_output
	assert_regex "$stderr" '^fx-consume: --meta: a Kafka option'
	# the environment is not an option: FX_BROKERS set does not change file reading
	FX_BROKERS=127.0.0.1:9 run --separate-stderr fx-consume t.ndjson
	assert_success
	assert_output '{"a":1}'
}

@test "a directory with no record files says so on stderr and reads as empty (status 0)" {
	mkdir empty other
	echo 'notes' >other/README.txt
	echo '{"n":0}' >other/.hidden.ndjson
	echo '{"n":0}' >other/.part-00000.ndjson.tmp-123
	echo '{"n":1}' >t.ndjson
	run --separate-stderr fx-consume empty
	assert_success
	refute_output
	assert_equal "$stderr" 'fx-consume: empty: no record files (*.ndjson, *.jsonl, *.json, *.csv, each optionally .gz)'
	run --separate-stderr fx-consume other/ t.ndjson
	assert_success
	assert_output '{"n":1}'
	assert_equal "$stderr" 'fx-consume: other: no record files (*.ndjson, *.jsonl, *.json, *.csv, each optionally .gz)'
}

@test "directories starting with _ are read: a partition value may start with _; files starting with _ or . and dirs with . are not" {
	# a table whose directory component is the bare value: fx-sink writes
	# plays/_x/ and, for the empty value, plays/__HIVE_DEFAULT_PARTITION__/
	echo '{"name":"plays","partition_by":[{"name":"os","field":"os"}],"files":{"dir":"plays/{os}"}}' >t.json
	printf '%s\n' '{"id":1,"os":"_x"}' '{"id":2,"os":"ios"}' '{"id":3,"os":""}' >in.ndjson
	fx-sink --dir w --table t.json <in.ndjson
	[ -f w/plays/_x/part-00000.ndjson ] || fail "fx-sink wrote: $(find w -type f)"
	[ -f w/plays/__HIVE_DEFAULT_PARTITION__/part-00000.ndjson ] || fail "fx-sink wrote: $(find w -type f)"
	run --separate-stderr fx-consume w
	assert_success
	assert_equal "$stderr" ''
	[ "$(printf '%s\n' "$output" | jq -cS . | sort)" = "$(jq -cS . in.ndjson | sort)" ] ||
		fail "not every record read back: $output"
	# Hive k=v names, markers, hidden names and fx-sink's temporaries
	mkdir -p "d/os=_unknown" "d/os=ios" d/_b/c d/.staging
	echo '{"n":1}' >"d/os=_unknown/part-00000.ndjson"
	echo '{"n":2}' >"d/os=ios/part-00000.ndjson"
	echo '{"n":3}' >d/_b/c/part-00000.ndjson
	echo '{"n":0}' >"d/os=ios/_part-00001.ndjson"
	echo '{"n":0}' >"d/os=ios/.part-00000.ndjson.tmp-123"
	echo '{"n":0}' >"d/os=ios/.hidden.ndjson"
	echo '{"n":0}' >d/.staging/part-00000.ndjson
	: >d/_SUCCESS
	run --separate-stderr fx-consume --partition-fields d
	assert_success
	assert_output $'{"n":3}\n{"n":1,"os":"_unknown"}\n{"n":2,"os":"ios"}'
	assert_equal "$stderr" ''
}
