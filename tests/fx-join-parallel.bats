#!/usr/bin/env bats
# fx-join -j N: the lookup join's probe over a regular file's pieces (4 MiB)
# on threads writes the bytes one thread writes. Each case compares -j1
# with -j2 and -j4 (cmp: stdout, stderr, exit status, dead letters), and
# checks through strace that the pieces really ran in a second thread, or
# that the rest of the file was read again by one thread after a piece it
# could not do.

load test_helper

setup() { fx_setup_tmp; }
teardown() { fx_kill_stages; }

# plays N [SEED]: N plays (about 180 bytes each: 25000 a piece) of 3000
# songs, and songs.csv without every seventh song (misses for --left)
plays() {
	gen "$1" "${2:-1}" --songs 3000 --dim-songs all-songs.csv >plays.ndjson
	awk -F, 'NR == 1 || $1 % 7' all-songs.csv >songs.csv
}

# same_bytes ARGS...: fx-join -j1, -j2 and -j4 agree, dead letters too
# (test_helper.bash)
same_bytes() { fx_jobs_agree fx-join "$@"; }

# read_bytes FILE ARGS...: fx-join -j2 ARGS, traced: THREADS (threads
# started beside main) and READ (bytes read, of FILE and the dimension)
read_bytes() {
	strace -f -qq -e trace=clone,clone3,read -o trace fx-join -j2 "$@" >/dev/null 2>&1 || true
	THREADS=$(grep -c CLONE_THREAD trace || true)
	READ=$(awk '/ read\(|<\.\.\. read resumed>/ { n = $NF; if (n ~ /^[0-9]+$/) s += n } END { print s + 0 }' trace)
}

# in_threads FILE ARGS...: a second thread, and FILE read about once
in_threads() {
	local size
	size=$(stat -c %s "$1")
	shift
	read_bytes "$@"
	[ "$THREADS" = 1 ] || fail "-j2 started $THREADS threads, not 1 beside main"
	[ "$READ" -lt $((size * 5 / 4)) ] || fail "read $READ bytes of a $size-byte input: read again"
}

# check_join OUT IN [left]: OUT is IN joined with songs.csv on song_id,
# title and genre added, by python's csv and json (inner, or left)
check_join() {
	python3 - "$@" <<'PY' || fail "not IN joined with songs.csv"
import csv, json, sys
out, inp = sys.argv[1], sys.argv[2]
left = len(sys.argv) > 3
songs = {int(r["song_id"]): r for r in csv.DictReader(open("songs.csv", encoding="utf-8"))}
want = []
for line in open(inp, encoding="utf-8"):
    rec = json.loads(line)
    row = songs.get(rec["song_id"])
    if row:
        rec["title"], rec["genre"] = row["title"], row["genre"]
    elif not left:
        continue
    want.append(list(rec.items()))
got = [list(json.loads(l).items()) for l in open(out, encoding="utf-8")]
if got != want:
    print(len(got), len(want), file=sys.stderr)
    sys.exit(1)
PY
}

J=(--dim songs.csv --on song_id --fields title,genre)

@test "-j: inner, left and left-nulls joins of a file of several pieces, as -j1 and as python's join" {
	plays 100000
	same_bytes "${J[@]}" plays.ndjson
	check_join out.2 plays.ndjson
	n=$(wc -l <out.1)
	[ "$n" -gt 80000 ] && [ "$n" -lt 95000 ] || fail "$n records: the misses are not dropped"
	same_bytes "${J[@]}" --left plays.ndjson
	check_join out.4 plays.ndjson left
	same_bytes "${J[@]}" --left-nulls --stats plays.ndjson
	grep -q ',"title":null,"genre":null}$' out.2 || fail "no nulls"
	grep -q 'fx-join: stats: 100000 records in, 100000 records out, 0 bad' err.2 || fail "stats: $(cat err.2)"
	in_threads plays.ndjson "${J[@]}" plays.ndjson
}

@test "-j: a bad JSON line in a late piece: -j1's records, message, status" {
	plays 100000
	sed -i '90000s/.*/{"song_id":12,"broken"/' plays.ndjson
	same_bytes "${J[@]}" plays.ndjson
	[ "$RC" = 1 ] || fail "exit $RC"
	grep -q '^fx-join: plays.ndjson:90000: invalid JSON' err.2 || fail "$(cat err.2)"
	# every record before it, none after
	head -89999 plays.ndjson >before.ndjson
	check_join out.2 before.ndjson
	# pieces before it by the threads, the rest again by one
	read_bytes "${J[@]}" plays.ndjson
	[ "$THREADS" = 1 ] || fail "-j2 started $THREADS threads"
}

@test "-j: --on-error skip and dlq with bad lines in two pieces: -j1's counts and dead letters" {
	plays 100000
	sed -i -e '30000s/.*/[1,2]/' -e '90000s/.*/{"song_id":{"a":1}}/' plays.ndjson
	same_bytes "${J[@]}" --on-error skip --stats plays.ndjson
	grep -q '100000 records in, [0-9]* records out, 2 bad' err.1 || fail "$(cat err.1)"
	same_bytes "${J[@]}" --left --on-error dlq=dlq.j1 plays.ndjson
	[ "$RC" = 0 ] || fail "exit $RC"
	[ "$(jq -r .source dlq.j1 | tr '\n' ' ')" = "plays.ndjson:30000 plays.ndjson:90000 " ] ||
		fail "dead letters: $(cat dlq.j1)"
	[ "$(wc -l <out.2)" = 99998 ] || fail "$(wc -l <out.2) records"
}

@test "-j: a control record and a field clash in a late piece, as -j1" {
	plays 100000
	sed -i '70000s/.*/{"_fx":"checkpoint","id":7}/' plays.ndjson
	same_bytes "${J[@]}" plays.ndjson
	[ "$(grep -n '"_fx":"checkpoint"' out.2 | wc -l)" = 1 ] || fail "the checkpoint is not out once"
	plays 100000
	sed -i '95000s/}$/,"genre":"x"}/' plays.ndjson
	same_bytes "${J[@]}" plays.ndjson
	[ "$RC" = 2 ] || fail "exit $RC"
	grep -q '^fx-join: plays.ndjson:95000: field "genre" is in the record and in the dimension' err.4 ||
		fail "$(cat err.4)"
	[ "$(wc -l <out.4)" -gt 80000 ] || fail "the records before it are not out"
}

@test "-j: several files, one smaller than a piece, blank lines and no last newline, as -j1" {
	plays 60000 3
	mv plays.ndjson a.ndjson
	gen 2000 4 --songs 3000 >b.ndjson
	gen 70000 5 --songs 3000 | awk 'NR % 5000 == 0 { print "" } { print }' >c.ndjson
	printf '%s' "$(cat c.ndjson)" >c2.ndjson
	same_bytes "${J[@]}" --left --stats a.ndjson b.ndjson c2.ndjson
	cat a.ndjson b.ndjson c2.ndjson | grep . >all.ndjson
	check_join out.2 all.ndjson left
	grep -q '132000 records in' err.2 || fail "$(cat err.2)"
	in_threads a.ndjson "${J[@]}" a.ndjson b.ndjson
}

@test "-j: a file that starts with a byte order mark is read by one thread, as -j1" {
	plays 60000
	{ printf '\xef\xbb\xbf'; cat plays.ndjson; } >bom.ndjson
	same_bytes "${J[@]}" --left bom.ndjson
	check_join out.2 plays.ndjson left
}

@test "-j: stdin and a pipe are read by one thread, and still joined" {
	plays 60000
	fx-join -j1 "${J[@]}" plays.ndjson >want
	fx-join -j2 "${J[@]}" <plays.ndjson >got
	cmp want got
	cat plays.ndjson | fx-join -j4 "${J[@]}" >got
	cmp want got
	check_join got plays.ndjson
	strace -f -qq -e trace=clone,clone3 -o trace fx-join -j2 "${J[@]}" <plays.ndjson >/dev/null
	run ! grep -q CLONE_THREAD trace
}

@test "-j: lineage counts every record of the input once, as -j1" {
	plays 100000
	sed -i '90000s/.*/[1]/' plays.ndjson
	for j in 1 2; do
		FX_LINEAGE=file:lineage.$j fx-join -j$j "${J[@]}" --on-error skip plays.ndjson >/dev/null
		tail -1 lineage.$j | jq -c '[.eventType, (.inputs[] | .inputFacets.inputStatistics.rowCount)]' >rows.$j
	done
	cmp rows.1 rows.2
	grep -q '"COMPLETE",.*100000' rows.1 || fail "$(cat rows.1)"
}

@test "-j: a write error: -j1's message and status; a closed pipe: quiet" {
	plays 60000
	for j in 1 2; do
		fx-join -j$j "${J[@]}" plays.ndjson >/dev/full 2>err.$j && rc=0 || rc=$?
		[ "$rc" = 3 ] || fail "-j$j exits $rc"
	done
	cmp err.1 err.2
	grep -q '^fx-join: stdout: write error: No space left on device$' err.2 || fail "$(cat err.2)"
	run bash -c 'fx-join -j2 "$@" | head -c 100 >/dev/null; echo "${PIPESTATUS[0]}"' _ "${J[@]}" plays.ndjson
	assert_output 0
}

@test "-j: memory does not grow with the input (a piece's output a thread)" {
	plays 120000
	cat plays.ndjson plays.ndjson plays.ndjson plays.ndjson >big.ndjson
	/usr/bin/time -f %M -o rss.1 fx-join -j2 "${J[@]}" plays.ndjson >/dev/null
	/usr/bin/time -f %M -o rss.4 fx-join -j2 "${J[@]}" big.ndjson >/dev/null
	# 21 MB, then 85 MB of input, 25 and 100 MB of output: a few MB more
	[ "$(tail -1 rss.4)" -lt $(($(tail -1 rss.1) + 8000)) ] ||
		fail "RSS $(tail -1 rss.1) KB, then $(tail -1 rss.4) KB"
}

@test "-j: --progress prints the counts of the pieces written" {
	plays 120000
	# the pipe fills and waits 3 s: a piece written after that says so
	fx-join -j2 --progress "${J[@]}" plays.ndjson 2>err | { sleep 3; cat >out; }
	[ "$(wc -l <out)" -gt 90000 ] || fail "$(wc -l <out) records out"
	n=$(sed -n 's/^fx-join: progress: \([0-9]*\) records in, .*/\1/p' err | head -1)
	[ -n "$n" ] || fail "no progress line: $(cat err)"
	[ "$n" -gt 0 ] && [ "$n" -lt 120000 ] || fail "progress: $n records in"
	in_threads plays.ndjson --progress "${J[@]}" plays.ndjson
}

@test "-j: --jobs takes a count" {
	plays 10
	run -2 fx-join -j -1 "${J[@]}" plays.ndjson
	assert_output --partial "--jobs: expected a count"
}

@test "-j: a file replaced while it is read: the rest is read from the file opened, not from its name" {
	plays 100000
	# a late piece the threads leave to one (read after theirs are out)
	sed -i '90000s/.*/{"song_id":12,"broken"/' plays.ndjson
	fx-join -j1 "${J[@]}" plays.ndjson >want 2>want.err && rc=0 || rc=$?
	[ "$rc" = 1 ] || fail "-j1 exits $rc"
	gen 100000 2 --songs 3000 >other.ndjson
	mkfifo out.fifo
	fx-join -j2 "${J[@]}" plays.ndjson >out.fifo 2>err &
	STAGE_PIDS=($!)
	exec 7<out.fifo
	# the output waits in a full pipe while the name is given to another file
	for _ in $(seq 200); do
		ls -l "/proc/${STAGE_PIDS[0]}/fd" 2>/dev/null | grep -q plays.ndjson && break
		sleep 0.05
	done
	ls -l "/proc/${STAGE_PIDS[0]}/fd" | grep -q plays.ndjson || fail "fx-join did not open plays.ndjson"
	mv plays.ndjson moved.ndjson
	mv other.ndjson plays.ndjson
	cat <&7 >got
	exec 7<&-
	wait "${STAGE_PIDS[0]}" && rc=0 || rc=$?
	STAGE_PIDS=()
	cmp want got || fail "$(wc -l <got) records, not the $(wc -l <want) of the file opened"
	[ "$rc" = 1 ] || fail "exit $rc: $(cat err)"
	cmp want.err err || fail "$(cat err)"
}

@test "-j: a record longer than many pieces is scanned to its end once, not by every piece inside it; as -j1" {
	# one 40 MB record (10 pieces) between small ones
	python3 -c '
import json
print(json.dumps({"song_id": 1}))
print(json.dumps({"song_id": 2, "pad": "x" * 40000000}))
print(json.dumps({"song_id": 3}))' >big.ndjson
	printf 'song_id,title\n1,a\n2,b\n3,c\n' >d.csv
	fx_jobs_agree fx-join --max-record 64M --dim d.csv --on song_id big.ndjson
	size=$(stat -c %s big.ndjson)
	strace -f -qq -e trace=read,pread64 -o trace fx-join -j2 --max-record 64M --dim d.csv --on song_id big.ndjson >/dev/null
	read=$(awk '/ (pread64|read)\(|<\.\.\. (pread64|read) resumed>/ { n = $NF; if (n ~ /^[0-9]+$/) s += n } END { print s + 0 }' trace)
	# the cuts once and the join once: about twice the file; every piece
	# scanning to the record's end read it five times over
	[ "$read" -lt $((size * 3)) ] || fail "read $read bytes of a $size-byte input"
}
