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

teardown() {
	local p
	for p in "${STAGE_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	fx_teardown_tmp
}

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
