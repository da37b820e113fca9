#!/usr/bin/env bats
# fx-sink to stdout, files and partitioned directories.

load test_helper

setup() { fx_setup_tmp; }
teardown() {
	[ -n "${SINK_PID:-}" ] && kill -9 "$SINK_PID" 2>/dev/null
	[ -n "${MNT:-}" ] && umount "$MNT" 2>/dev/null
	fx_teardown_tmp
}

# sink_oracle MODE <IN: what fx-sink --dir should write for IN, computed by
# Python from the same input: the files under want/, and the raw lines of
# the bad records, in order, in want.bad. MODE: "partition" (--partition
# os: null is __HIVE_DEFAULT_PARTITION__), "table" (a table whose files dir
# is os={os}: null has no partition value) or "dest" (_fx_dest). The
# partition values in the tests' inputs need no %XX escaping.
sink_oracle() {
	python3 /dev/fd/3 "$1" 3<<'EOF'
import json, os, sys

mode = sys.argv[1]
files, bad = {}, []
for raw in sys.stdin.read().split('\n')[:-1]:
    try:
        rec = json.loads(raw)
    except ValueError:
        rec = None
    d = None
    if isinstance(rec, dict) and mode == 'dest':
        v = rec.get('_fx_dest')
        if (isinstance(v, str) and v and not v.startswith('/')
                and all(c not in ('', '.', '..') for c in v.split('/'))):
            d = v
    elif isinstance(rec, dict) and 'os' in rec:
        v = rec['os']
        if isinstance(v, str) and v:
            d = 'os=' + v
        elif isinstance(v, (bool, int)):
            d = 'os=' + json.dumps(v)
        elif v is None and mode == 'partition':
            d = 'os=__HIVE_DEFAULT_PARTITION__'
    if d is None:
        bad.append(raw)
        continue
    if mode == 'dest':
        raw = json.dumps({k: x for k, x in rec.items()
                          if not k.startswith('_fx')}, separators=(',', ':'))
    files.setdefault(d, []).append(raw)
for d, lines in files.items():
    os.makedirs('want/' + d)
    with open('want/' + d + '/part-00000.ndjson', 'w') as f:
        f.write(''.join(l + '\n' for l in lines))
with open('want.bad', 'w') as f:
    f.write(''.join(l + '\n' for l in bad))
EOF
}

# with_bad_records N: stdin's lines with every Nth replaced by a bad record
# of one of many shapes in turn (invalid JSON, not an object, a missing or
# unusable partition field or _fx_dest).
with_bad_records() {
	python3 -c '
import sys
shapes = ["broken", "{\"id\":", "[1,2]", "{\"id\":-1}",
          "{\"id\":-2,\"os\":{\"x\":1}}", "{\"id\":-3,\"os\":[\"a\"]}",
          "{\"id\":-4,\"_fx_dest\":7}", "{\"id\":-5,\"_fx_dest\":\"/abs\"}",
          "{\"id\":-6,\"_fx_dest\":\"a/../b\"}", "{\"id\":-7,\"_fx_dest\":\"\"}",
          "{\"id\":-8,\"_fx_dest\":\"a//b\"}", "\"str\"", "{\"id\":-9,\"os\":null}",
          "{\"id\":-10,\"_fx_dest\":\"t/web/\"}", "{\"id\":-11,\"_fx_dest\":\"./t/web\"}",
          "{\"id\":-12,\"_fx_dest\":\"t/./ios\"}"]
n = int(sys.argv[1])
for i, line in enumerate(sys.stdin):
    if i % n == n - 1:
        line = shapes[(i // n) % len(shapes)] + "\n"
    sys.stdout.write(line)
' "$1"
}

# dlq_raw FILE: the raw bytes of each dead letter, one a line
dlq_raw() { jq -r .raw "$1"; }

@test "fx-consume | fx-sink returns every record byte-identical" {
	gen 50000 11 >plays.ndjson
	fx-consume plays.ndjson | fx-sink >out.ndjson
	cmp out.ndjson plays.ndjson
}

@test "_fx fields are dropped, other members keep their bytes and order; --keep-meta keeps them" {
	printf '%s\n' '{"_fx_topic":"t","a": 1,"_fx_offset":5,"b":{"_fx_x":1}}' >in
	run --separate-stderr fx-sink <in
	assert_output '{"a": 1,"b":{"_fx_x":1}}'
	run --separate-stderr fx-sink --keep-meta <in
	assert_output "$(cat in)"
}

@test "control records are not written" {
	printf '%s\n' '{"a":1}' '{"_fx":"watermark","ts":"2026-11-23T00:00:00.000Z"}' '{"a":2}' >in
	run --separate-stderr fx-sink <in
	assert_output $'{"a":1}\n{"a":2}'
}

@test "--file writes the file atomically and leaves no temporary file" {
	gen 20000 12 >plays.ndjson
	# the directory must exist: fx-sink does not invent it for --file
	run --separate-stderr fx-sink --file out/x.ndjson <plays.ndjson
	assert_failure 3
	assert_equal "$stderr" 'fx-sink: out/x.ndjson: cannot create: No such file or directory'
	[ ! -e out ] || fail "out was created"
	mkdir out
	fx-sink --file out/x.ndjson <plays.ndjson
	cmp out/x.ndjson plays.ndjson
	[ "$(ls -A out)" = x.ndjson ]
}

@test "--file: a run that fails on a bad record leaves the old file intact" {
	echo '{"old":true}' >t.ndjson
	printf '%s\n' '{"a":1}' 'broken' >in
	run --separate-stderr fx-sink --file t.ndjson <in
	assert_failure 1
	assert_equal "$stderr" 'fx-sink: stdin:2: invalid JSON: unexpected character at byte 1'
	[ "$(cat t.ndjson)" = '{"old":true}' ]
	[ "$(ls -A)" = "$(printf 'in\nt.ndjson')" ]
}

@test "--file: a run killed mid-stream leaves the old file intact" {
	echo '{"old":true}' >t.ndjson
	mkfifo in
	fx-sink --file t.ndjson <in &
	SINK_PID=$!
	exec 5>in
	gen 5000 13 >&5
	# killed mid-stream: once it has written part of its temporary file
	tmp=".t.ndjson.tmp-$SINK_PID"
	for i in $(seq 50); do [ -s "$tmp" ] && break; sleep 0.1; done
	[ -s "$tmp" ] || fail "no data in $tmp: not killed mid-stream"
	kill -9 $SINK_PID
	wait $SINK_PID || true
	exec 5>&-
	[ "$(cat t.ndjson)" = '{"old":true}' ]
}

@test "--file: SIGTERM commits the complete records read so far" {
	mkfifo in
	fx-sink --file t.ndjson <in &
	SINK_PID=$!
	exec 5>in
	printf '{"a":1}\n{"a":2}\n' >&5
	sleep 0.5
	kill -TERM $SINK_PID
	rc=0
	wait $SINK_PID || rc=$?
	exec 5>&-
	[ $rc -eq 0 ]
	[ "$(cat t.ndjson)" = $'{"a":1}\n{"a":2}' ]
}

@test "a full disk is an I/O error, and the old file stays" {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"
	MNT=$T/small
	mkdir "$MNT"
	mount -t tmpfs -o size=256k tmpfs "$MNT"
	echo '{"old":true}' >"$MNT/t.ndjson"
	gen 5000 14 >plays.ndjson
	run --separate-stderr fx-sink --file "$MNT/t.ndjson" <plays.ndjson
	assert_failure 3
	assert_regex "$stderr" "^fx-sink: $MNT/t.ndjson: write error: No space left on device$"
	[ "$(cat "$MNT/t.ndjson")" = '{"old":true}' ]
	[ "$(ls -A "$MNT")" = t.ndjson ]
}

@test "/dev/full on stdout is an I/O error" {
	echo '{"a":1}' >in
	run --separate-stderr bash -c 'fx-sink <in >/dev/full'
	assert_failure 3
	assert_equal "$stderr" 'fx-sink: stdout: write error: No space left on device'
}

@test "--file on a FIFO or a device writes to it, as '>' does, and leaves it in place" {
	mkfifo fifo
	timeout 10 cat fifo >got.ndjson &
	reader=$!
	printf '{"a":1}\n{"b":2}\n' | fx-sink --file fifo
	wait "$reader"
	assert_equal "$(cat got.ndjson)" $'{"a":1}\n{"b":2}'
	[ -p fifo ] || fail "the FIFO was replaced: $(stat -c %F fifo)"
	# through a link to a pipe: stdout's
	ln -s /proc/self/fd/1 out
	run bash -c 'printf "{\"c\":3}\n" | fx-sink --file out | cat'
	assert_success
	assert_output '{"c":3}'
	# a device of our own (root can make one; /dev/full itself is not
	# risked): a full disk, exit 3, the node kept
	if mknod -m 666 full c 1 7 2>/dev/null; then
		run --separate-stderr fx-sink --file full <<<'{"a":1}'
		assert_failure 3
		assert_equal "$stderr" "fx-sink: full: write error: No space left on device"
		[ -c full ] || fail "the device was replaced: $(stat -c %F full)"
	fi
}

@test "--file with a gzip name is a usage error: fx-sink writes uncompressed files, which fx-consume would refuse" {
	run --separate-stderr fx-sink --file x.ndjson.gz <<<'{"a":1}'
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --file: 'x.ndjson.gz' is a gzip file name; fx-sink writes uncompressed files (fx-consume would refuse it) (see 'fx-sink --help')"
	[ ! -e x.ndjson.gz ] || fail "x.ndjson.gz written"
}

@test "an unwritable output directory is an I/O error naming the file" {
	mkdir ro
	chmod 555 ro
	if [ "$(id -u)" = 0 ]; then
		# root writes anywhere: use a path under a regular file instead
		touch plain
		run --separate-stderr fx-sink --file plain/x.ndjson <<<'{"a":1}'
		assert_failure 3
		assert_equal "$stderr" 'fx-sink: plain/x.ndjson: cannot create: Not a directory'
		run --separate-stderr fx-sink --dir plain/w --partition a <<<'{"a":1}'
		assert_failure 3
		assert_equal "$stderr" 'fx-sink: plain/w: cannot create directory: Not a directory'
	else
		run --separate-stderr fx-sink --file ro/x.ndjson <<<'{"a":1}'
		assert_failure 3
		assert_equal "$stderr" 'fx-sink: ro/x.ndjson: cannot create: Permission denied'
	fi
}

@test "--dir --partition writes Hive-style partitions holding exactly their records" {
	gen 20000 15 >plays.ndjson
	fx-sink --dir w --partition dt,os <plays.ndjson
	# the partitions are exactly the (dt, os) pairs jq finds
	jq -r '"./dt=\(.dt)/os=\(.os)/part-00000.ndjson"' plays.ndjson | sort -u >want-files
	(cd w && find . -type f | sort) >got-files
	cmp want-files got-files
	[ "$(wc -l <got-files)" -ge 3 ]
	for os in $(jq -r .os plays.ndjson | sort -u); do
		jq -c "select(.os == \"$os\")" plays.ndjson >want
		cmp want "w/dt=2026-11-23/os=$os/part-00000.ndjson"
	done
	# read back with the partition walk: the same multiset of records
	fx-consume w | sort >back
	sort plays.ndjson | cmp - back
}

@test "partition values are escaped in directory names and read back; null goes to the default partition" {
	printf '%s\n' '{"k":"a/b=c%","n":1}' '{"k":null,"n":2}' '{"k":7,"n":3}' '{"k":".hid","n":4}' >in
	fx-sink --dir w --partition k <in
	run bash -c 'cd w && ls -A | sort'
	assert_output - <<'EOF'
k=%2Ehid
k=7
k=__HIVE_DEFAULT_PARTITION__
k=a%2Fb%3Dc%25
EOF
	mkdir -p "x/k=a%2Fb%3Dc%25" "x/k=__HIVE_DEFAULT_PARTITION__"
	echo '{"n":1}' >"x/k=a%2Fb%3Dc%25/p.ndjson"
	echo '{"n":2}' >"x/k=__HIVE_DEFAULT_PARTITION__/p.ndjson"
	run --separate-stderr fx-consume --partition-fields x
	assert_output $'{"n":2,"k":null}\n{"n":1,"k":"a/b=c%"}'
}

@test "a record without a partition field is a bad record under --on-error" {
	printf '%s\n' '{"os":"ios"}' '{"n":1}' '{"os":{"x":1}}' >in
	run --separate-stderr fx-sink --dir w --partition os <in
	assert_failure 1
	assert_equal "$stderr" 'fx-sink: stdin:2: field "os": missing (a partition field)'
	# a failed run leaves nothing behind, not even the directories it made
	[ ! -e w ] || fail "$(find w)"
	run --separate-stderr fx-sink --dir w --partition os --on-error dlq=dead <in
	assert_success
	[ "$(cat w/os=ios/part-00000.ndjson)" = '{"os":"ios"}' ]
	run jq -r ._fx_error dead
	assert_output $'field "os": missing (a partition field)\nfield "os": cannot partition by an object'
}

@test "--on-error skip: a skipped record leaves no trace, the records after it go where they belong" {
	printf '%s\n' '{"id":1,"os":"a"}' '{"id":2}' '{"id":3,"os":"b"}' 'broken' \
		'{"id":4,"os":{"x":1}}' '{"id":5,"os":"a"}' >in
	run --separate-stderr fx-sink --dir w --partition os --on-error skip <in
	assert_success
	run bash -c 'cd w && find . | sort'
	assert_output - <<'EOF'
.
./os=a
./os=a/part-00000.ndjson
./os=b
./os=b/part-00000.ndjson
EOF
	assert_equal "$(cat w/os=a/part-00000.ndjson)" $'{"id":1,"os":"a"}\n{"id":5,"os":"a"}'
	assert_equal "$(cat w/os=b/part-00000.ndjson)" '{"id":3,"os":"b"}'
	# routed by _fx_dest: the bad record after "a" went to "a" (twice
	# opened, bytes of two records in one file, "cannot rename into place")
	printf '%s\n' '{"id":1,"_fx_dest":"a"}' '{"id":2}' '{"id":3,"_fx_dest":"b"}' \
		'{"id":4,"_fx_dest":"../x"}' '{"id":5,"_fx_dest":"a"}' >in
	run --separate-stderr fx-sink --dir r --on-error skip <in
	assert_success
	assert_equal "$stderr" ''
	run bash -c 'cd r && find . -type f | sort'
	assert_output $'./a/part-00000.ndjson\n./b/part-00000.ndjson'
	assert_equal "$(cat r/a/part-00000.ndjson)" $'{"id":1}\n{"id":5}'
	assert_equal "$(cat r/b/part-00000.ndjson)" '{"id":3}'
}

@test "--dir --format csv: a record dropped as not fitting the columns creates no partition" {
	printf '%s\n' '{"os":"a","n":1}' '{"os":"c","n":2,"x":3}' '{"os":"a","n":4}' >in
	run --separate-stderr fx-sink --dir w --partition os --format csv --on-error dlq=dead <in
	assert_success
	run bash -c 'cd w && find . -type f | sort'
	assert_output './os=a/part-00000.csv'
	assert_equal "$(cat w/os=a/part-00000.csv)" $'os,n\na,1\na,4'
	assert_equal "$(jq -c '[._fx_error, .raw]' dead)" '["field \"x\": not a CSV column (columns come from the first record; use --columns)","{\"os\":\"c\",\"n\":2,\"x\":3}"]'
}

@test "--dir --partition with bad records of every shape: the files are exactly the good records (Python oracle), skip and dlq" {
	gen 20000 21 | with_bad_records 7 >in
	sink_oracle partition <in
	[ "$(wc -l <want.bad)" -gt 2000 ] || fail "too few bad records: $(wc -l <want.bad)"
	run --separate-stderr fx-sink --dir w --partition os --on-error skip <in
	assert_success
	diff -r want w
	run --separate-stderr fx-sink --dir d --partition os --on-error dlq=dead <in
	assert_success
	diff -r want d
	dlq_raw dead | cmp - want.bad
	# a bad record every second line, and as the very first one
	rm -rf want w
	gen 3000 22 | with_bad_records 2 | sed '1s/.*/{"no":"os"}/' >in
	sink_oracle partition <in
	fx-sink --dir w --partition os --on-error skip <in
	diff -r want w
}

@test "--dir routed by _fx_dest with bad records of every shape: the files are exactly the good records (Python oracle)" {
	gen 20000 23 | jq -c '. + {_fx_dest: ("t/" + .os)}' | with_bad_records 5 >in
	sink_oracle dest <in
	run --separate-stderr fx-sink --dir w --on-error dlq=dead <in
	assert_success
	diff -r want w
	dlq_raw dead | cmp - want.bad
	rm -rf w
	fx-sink --dir w --on-error skip <in
	diff -r want w
}

@test "--dir --table with bad records of every shape: the files are exactly the good records (Python oracle)" {
	echo '{"name":"t","partition_by":[{"name":"os","field":"os"}],"files":{"dir":"os={os}"}}' >t.json
	gen 20000 24 | with_bad_records 3 >in
	sink_oracle table <in
	run --separate-stderr fx-sink --table t.json --dir w --on-error dlq=dead <in
	assert_success
	diff -r want w
	dlq_raw dead | cmp - want.bad
	rm -rf w
	fx-sink --table t.json --dir w --on-error skip <in
	diff -r want w
}

# old_partitions DIR: partitions os=a and os=b holding "old a", "old b"
old_partitions() {
	mkdir -p "$1/os=a" "$1/os=b"
	echo '{"old":"a"}' >"$1/os=a/part-00000.ndjson"
	echo '{"old":"b"}' >"$1/os=b/part-00000.ndjson"
}

@test "--dir: a disk full in the second partition replaces nothing, creates nothing, leaves no temporary file" {
	MNT=$T/small
	mkdir "$MNT"
	mount -t tmpfs -o size=256k tmpfs "$MNT"
	old_partitions "$MNT/w"
	{ echo '{"os":"a","n":1}'; gen 5000 25 | jq -c '.os = "b"'; echo '{"os":"c","n":2}'; } >in
	[ "$(wc -c <in)" -gt 600000 ] || fail "input too small to fill the disk"
	run --separate-stderr fx-sink --dir "$MNT/w" --partition os <in
	assert_failure 3
	assert_equal "$stderr" "fx-sink: $MNT/w/os=b/part-00000.ndjson: write error: No space left on device"
	assert_equal "$(cat "$MNT/w/os=a/part-00000.ndjson")" '{"old":"a"}'
	assert_equal "$(cat "$MNT/w/os=b/part-00000.ndjson")" '{"old":"b"}'
	run bash -c "cd '$MNT/w' && find . | sort"
	assert_output $'.\n./os=a\n./os=a/part-00000.ndjson\n./os=b\n./os=b/part-00000.ndjson'
}

@test "--dir: a rename that fails puts back the partitions renamed before it, and exits 3" {
	old_partitions w
	# the second partition's file cannot be replaced: a directory is there
	rm w/os=b/part-00000.ndjson
	mkdir -p w/os=b/part-00000.ndjson/x
	printf '%s\n' '{"os":"a","n":1}' '{"os":"b","n":2}' '{"os":"c","n":3}' >in
	run --separate-stderr fx-sink --dir w --partition os <in
	assert_failure 3
	assert_equal "$stderr" 'fx-sink: w/os=b/part-00000.ndjson: cannot rename into place: Is a directory'
	assert_equal "$(cat w/os=a/part-00000.ndjson)" '{"old":"a"}'
	run bash -c 'cd w && find . | sort'
	assert_output $'.\n./os=a\n./os=a/part-00000.ndjson\n./os=b\n./os=b/part-00000.ndjson\n./os=b/part-00000.ndjson/x'
	# and a partition that was new before the failure is gone again
	rm -r w/os=b/part-00000.ndjson
	mkdir -p w/os=c/part-00000.ndjson/x
	run --separate-stderr fx-sink --dir w --partition os <in
	assert_failure 3
	assert_equal "$stderr" 'fx-sink: w/os=c/part-00000.ndjson: cannot rename into place: Is a directory'
	assert_equal "$(cat w/os=a/part-00000.ndjson)" '{"old":"a"}'
	run bash -c 'cd w && find . | sort'
	assert_output $'.\n./os=a\n./os=a/part-00000.ndjson\n./os=b\n./os=c\n./os=c/part-00000.ndjson\n./os=c/part-00000.ndjson/x'
}

@test "a rerun replaces a partition's file" {
	printf '%s\n' '{"os":"ios","n":1}' >in1
	printf '%s\n' '{"os":"ios","n":2}' >in2
	fx-sink --dir w --partition os <in1
	fx-sink --dir w --partition os <in2
	[ "$(cat w/os=ios/part-00000.ndjson)" = '{"os":"ios","n":2}' ]
	fx-sink --dir w --partition os --part-name shard-1 <in1
	[ "$(cat w/os=ios/shard-1.ndjson)" = '{"os":"ios","n":1}' ]
}

@test "CSV output: header from the first record, values unescaped and quoted as needed" {
	printf '%s\n' '{"a":1,"s":"x, \"y\"","n":null,"o":{"k":[1,2]},"b":true}' \
		'{"a":2.50,"s":"line\nbreak","n":"","o":[],"b":false}' >in
	run --separate-stderr fx-sink --format csv <in
	assert_output - <<'EOF'
a,s,n,o,b
1,"x, ""y""",,"{""k"":[1,2]}",true
2.50,"line
break",,[],false
EOF
	# mlr reads it back to the same values
	fx-sink --file t.csv <in
	mlr --icsv --ojsonl cat t.csv | jq -c '[.a,.s,.b]' >got
	printf '%s\n' '[1,"x, \"y\"","true"]' '[2.50,"line\nbreak","false"]' | jq -c . >want
	cmp got want
}

@test "CSV output: a one-column row that is empty, null or missing is \"\" as Python writes it, and reads back as a row" {
	printf '%s\n' '{"a":"x"}' '{"a":""}' '{"a":null}' '{"b":1}' '{"a":"y"}' >in
	fx-sink --file one.csv --columns a <in
	python3 -c 'import csv, sys
w = csv.writer(sys.stdout, lineterminator="\n")
w.writerows([["a"], ["x"], [""], [None], [None], ["y"]])' >want.csv
	cmp one.csv want.csv
	assert_equal "$(cat one.csv)" $'a\nx\n""\n""\n""\ny'
	run --separate-stderr fx-consume one.csv
	assert_success
	assert_output - <<'EOF'
{"a":"x"}
{"a":""}
{"a":""}
{"a":""}
{"a":"y"}
EOF
	# and back to the same bytes
	fx-consume one.csv | fx-sink --file back.csv
	cmp back.csv one.csv
	# in partitions too
	printf '%s\n' '{"p":"q","a":null}' | fx-sink --dir w --partition p --format csv --columns a
	assert_equal "$(cat w/p=q/part-00000.csv)" $'a\n""'
	# more than one column: empty fields stay unquoted
	printf '%s\n' '{"a":"","b":null}' | fx-sink --format csv >two.csv
	assert_equal "$(cat two.csv)" $'a,b\n,'
}

@test "CSV output: a header of one empty column name is \"\", and reads back" {
	printf '%s\n' '{"":"x"}' '{"":""}' >in
	fx-sink --file e.csv <in
	assert_equal "$(cat e.csv)" $'""\nx\n""'
	run --separate-stderr fx-consume e.csv
	assert_success
	assert_output $'{"":"x"}\n{"":""}'
}

@test "CSV output: a key that is not a column fails unless --columns chose the columns" {
	printf '%s\n' '{"a":1}' '{"a":2,"extra":3}' >in
	run --separate-stderr fx-sink --format csv <in
	assert_failure 1
	assert_equal "$stderr" 'fx-sink: stdin:2: field "extra": not a CSV column (columns come from the first record; use --columns)'
	run --separate-stderr fx-sink --format csv --columns extra,a <in
	assert_success
	assert_output $'extra,a\n,1\n3,2'
}

@test "CSV -> NDJSON -> CSV through files round-trips generated data byte for byte" {
	gen 5000 16 --csv >plays.csv
	fx-consume plays.csv | fx-sink --file back.csv
	cmp back.csv plays.csv
}

@test "--part-name with the format's extension is the whole file name" {
	printf '%s\n' '{"os":"a","n":1}' >in
	fx-sink --dir w --partition os --part-name run2.ndjson <in
	fx-sink --dir w --partition os --part-name run3 <in
	fx-sink --dir w --partition os --part-name run4.jsonl <in
	fx-sink --dir w --partition os --part-name run5.csv --format csv <in
	fx-sink --dir w --partition os --part-name run6.x --format csv <in
	run bash -c 'cd w/os=a && ls -A'
	assert_output $'run2.ndjson\nrun3.ndjson\nrun4.jsonl\nrun5.csv\nrun6.x.csv'
	assert_equal "$(cat w/os=a/run2.ndjson)" '{"os":"a","n":1}'
	# a name that says the other format would be read back wrong
	run --separate-stderr fx-sink --dir v --partition os --part-name run7.csv <in
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --part-name: 'run7.csv' is a CSV file name, the output is NDJSON (--format csv, or another name) (see 'fx-sink --help')"
	[ ! -e v ] || fail "a usage error created v"
}

@test "--part-name that fx-consume would pass over (empty, hidden, '_') is a usage error" {
	printf '%s\n' '{"p":"a"}' >in
	run --separate-stderr fx-sink --dir pn --partition p --part-name '' <in
	assert_failure 2
	refute_output
	assert_equal "$stderr" "fx-sink: --part-name: must not be empty; the file would be the hidden '.ndjson', which fx-consume passes over (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir pn --partition p --part-name '' --format csv <in
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --part-name: must not be empty; the file would be the hidden '.csv', which fx-consume passes over (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir pn --partition p --part-name _run2 <in
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --part-name: '_run2' starts with '_'; fx-consume passes over such files (markers like _SUCCESS) (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir pn --partition p --part-name .run2.ndjson <in
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --part-name: '.run2.ndjson' starts with '.'; fx-consume passes over hidden files (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir pn --partition p --part-name .. <in
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --part-name: '..' starts with '.'; fx-consume passes over hidden files (see 'fx-sink --help')"
	[ ! -e pn ] || fail "a usage error created pn"
	# a '.' or '_' inside the name is fine, and fx-consume reads the file
	fx-sink --dir pn --partition p --part-name run_2.x <in
	assert_equal "$(ls -A pn/p=a)" run_2.x.ndjson
	run --separate-stderr fx-consume pn
	assert_success
	assert_output '{"p":"a"}'
}

@test "a partition value too long for a directory name is a bad record, not the end of the run" {
	long=$(printf 'x%.0s' $(seq 300))
	printf '%s\n' '{"os":"a","n":1}' "{\"os\":\"$long\",\"n\":2}" '{"os":"b","n":3}' >in
	run --separate-stderr fx-sink --dir w --partition os --on-error skip <in
	assert_success
	run bash -c 'cd w && find . -type f | sort'
	assert_output $'./os=a/part-00000.ndjson\n./os=b/part-00000.ndjson'
	assert_equal "$(cat w/os=b/part-00000.ndjson)" '{"os":"b","n":3}'
	rm -rf w
	run --separate-stderr fx-sink --dir w --partition os <in
	assert_failure 1
	assert_equal "$stderr" 'fx-sink: stdin:2: field "os": too long for a directory name: "os=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." is 303 bytes, at most 255'
	[ ! -e w ] || fail "a failed run left $(find w)"
	# routed by _fx_dest, and by a table: the same
	printf '%s\n' '{"_fx_dest":"a","n":1}' "{\"_fx_dest\":\"t/$long\",\"n\":2}" '{"_fx_dest":"b","n":3}' >in2
	run --separate-stderr fx-sink --dir r --on-error dlq=dead <in2
	assert_success
	run bash -c 'cd r && find . -type f | sort'
	assert_output $'./a/part-00000.ndjson\n./b/part-00000.ndjson'
	assert_equal "$(jq -r ._fx_error dead)" 'field "_fx_dest": too long for a directory name: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." is 300 bytes, at most 255'
	echo '{"name":"t","partition_by":[{"name":"os","field":"os"}],"files":{"dir":"t/os={os}"}}' >t.json
	run --separate-stderr fx-sink --table t.json --dir tw --on-error dlq=dead2 <in
	assert_success
	run bash -c 'cd tw && find . -type f | sort'
	assert_output $'./t/os=a/part-00000.ndjson\n./t/os=b/part-00000.ndjson'
	assert_equal "$(jq -r ._fx_error dead2)" 'field "os": too long for a directory name: "os=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." is 303 bytes, at most 255'
}

@test "--file keeps the replaced file's mode and owner, and writes through a symbolic link" {
	echo '{"old":1}' >t.ndjson
	chmod 600 t.ndjson
	chown 1234:2345 t.ndjson
	fx-sink --file t.ndjson <<<'{"a":1}'
	assert_equal "$(cat t.ndjson)" '{"a":1}'
	assert_equal "$(stat -c '%a %u:%g' t.ndjson)" '600 1234:2345'
	# a new file: 0666 less the umask
	(umask 027 && fx-sink --file new.ndjson <<<'{"a":1}')
	assert_equal "$(stat -c %a new.ndjson)" 640
	# a link (relative, to a link) is followed: the target is replaced in
	# its own directory, the links stay
	mkdir real
	echo '{"old":1}' >real/t.ndjson
	chmod 640 real/t.ndjson
	ln -s real/t.ndjson link1
	ln -s link1 link2.ndjson
	fx-sink --file link2.ndjson <<<'{"a":2}'
	assert_equal "$(readlink link2.ndjson) $(readlink link1)" 'link1 real/t.ndjson'
	assert_equal "$(cat real/t.ndjson)" '{"a":2}'
	assert_equal "$(stat -c %a real/t.ndjson)" 640
	assert_equal "$(ls -A real)" t.ndjson
	# a dangling link: its target is created
	ln -s real/u.ndjson dangling
	fx-sink --file dangling <<<'{"a":3}'
	[ -L dangling ] || fail "dangling is no longer a link"
	assert_equal "$(cat real/u.ndjson)" '{"a":3}'
	# partition files keep their mode too
	mkdir -p w/os=a
	echo '{"old":1}' >w/os=a/part-00000.ndjson
	chmod 604 w/os=a/part-00000.ndjson
	fx-sink --dir w --partition os <<<'{"os":"a"}'
	assert_equal "$(stat -c %a w/os=a/part-00000.ndjson)" 604
}

@test "a later run removes the temporary files a killed run left, and only those of dead processes" {
	echo '{"old":true}' >t.ndjson
	mkfifo in
	fx-sink --file t.ndjson <in &
	SINK_PID=$!
	exec 5>in
	gen 3000 26 >&5
	# wait until it has its temporary file
	for i in $(seq 50); do [ -e ".t.ndjson.tmp-$SINK_PID" ] && break; sleep 0.1; done
	[ -e ".t.ndjson.tmp-$SINK_PID" ] || fail "no temporary file .t.ndjson.tmp-$SINK_PID"
	kill -9 $SINK_PID
	wait $SINK_PID || true
	exec 5>&-
	SINK_PID=
	# a live process's temporary file (this shell's), another file's, and
	# names not of the scheme stay
	touch ".t.ndjson.tmp-$$" .t.ndjson.old-999999999 .u.ndjson.tmp-999999999 \
		.t.ndjson.tmp-12x .t.ndjson.tmp-
	fx-sink --file t.ndjson <<<'{"a":1}'
	assert_equal "$(cat t.ndjson)" '{"a":1}'
	run bash -c 'ls -A | sort'
	assert_output "$(printf '%s\n' .t.ndjson.tmp- ".t.ndjson.tmp-$$" .t.ndjson.tmp-12x \
		.u.ndjson.tmp-999999999 in t.ndjson | sort)"
	# the same in a partition directory
	mkdir -p w/os=a
	touch w/os=a/.part-00000.ndjson.tmp-999999999
	fx-sink --dir w --partition os <<<'{"os":"a"}'
	assert_equal "$(ls -A w/os=a)" part-00000.ndjson
}

@test "usage errors exit 2" {
	run --separate-stderr fx-sink --partition os
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --partition needs --dir (see 'fx-sink --help')"
	run --separate-stderr fx-sink --format parquet </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --format: expected ndjson or csv, got 'parquet' (see 'fx-sink --help')"
	run --separate-stderr fx-sink --file a --dir b --partition x </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --file and --dir go separately (see 'fx-sink --help')"
	run --separate-stderr fx-sink --dir b --part-name x/y </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-sink: --part-name: must not contain '/' (see 'fx-sink --help')"
	# nothing was created
	run ls -A
	assert_output ''
}
