#!/usr/bin/env bats
# fx-agg -j N: the pieces of a regular file aggregated by threads write the
# bytes one thread writes. Each case compares -j1 with -j2 and -j4 (cmp),
# on plays whose order is hidden (--disorder), with keys spread so that each
# piece has groups of its own; and checks, through strace, that the pieces
# really ran in threads and were not read again by one thread.

load test_helper

setup() { fx_setup_tmp; }
teardown() { fx_kill_stages; }

# same_bytes ARGS...: fx-agg -j1, -j2 and -j4 agree (test_helper.bash)
same_bytes() { fx_jobs_agree fx-agg "$@"; }

# in_threads FILE ARGS...: fx-agg -j2 ARGS started a second thread and read
# FILE about once (not again by one thread after the pieces)
in_threads() {
	local f=$1 size total threads
	shift
	strace -f -qq -e trace=clone,clone3,read -o trace fx-agg -j2 "$@" >/dev/null 2>&1 || true
	threads=$(grep -c CLONE_THREAD trace || true)
	[ "$threads" = 1 ] || fail "-j2 started $threads threads, not 1 beside main"
	size=$(stat -c %s "$f")
	total=$(awk '/ read\(|<\.\.\. read resumed>/ { n = $NF; if (n ~ /^[0-9]+$/) s += n } END { print s + 0 }' trace)
	[ "$total" -lt $((size * 3 / 2)) ] || fail "read $total bytes of a $size-byte input: read again whole"
}

# read_twice FILE ARGS...: fx-agg -j2 ARGS read FILE again by one thread
read_twice() {
	local f=$1 size total
	shift
	strace -f -qq -e trace=read -o trace fx-agg -j2 "$@" >/dev/null 2>&1 || true
	size=$(stat -c %s "$f")
	total=$(awk '/ read\(|<\.\.\. read resumed>/ { n = $NF; if (n ~ /^[0-9]+$/) s += n } END { print s + 0 }' trace)
	[ "$total" -ge $((size * 3 / 2)) ] || fail "read $total bytes of a $size-byte input: not again"
}

ALL=count,count:song_id,sum:duration_ms,min:duration_ms,max:duration_ms,avg:duration_ms,first:song_id,last:song_id,distinct:user_id,approx_distinct:user_id,p50:duration_ms,p99:duration_ms,quantile:duration_ms:0.9,topk:song_id:3

@test "-j: group-by with every aggregate, with and without --time, as -j1" {
	gen 30000 41 --disorder 20000 --users 3000 --songs 500 --artists 400 >plays.ndjson
	same_bytes --by artist_id,os --agg "$ALL" plays.ndjson
	[ "$(wc -l <out.1)" -gt 1000 ] || fail "too few groups: $(wc -l <out.1)"
	same_bytes --time event_time --by os,action --agg "$ALL" plays.ndjson
	# first and last by arrival without --time: the files' order
	same_bytes --by os --agg first:user_id,last:user_id,count plays.ndjson
	# checked by jq: the first and last record's users
	first=$(head -1 plays.ndjson | jq -r .os)
	jq -sc --arg os "$first" '[.[] | select(.os == $os)] | [.[0].user_id, .[-1].user_id]' plays.ndjson >want
	jq -c --arg os "$first" 'select(.os == $os) | [.first_user_id, .last_user_id]' out.4 >got
	cmp want got
	in_threads plays.ndjson --by artist_id,os --agg "$ALL" plays.ndjson
}

@test "-j: distinct of values spread over the pieces, as -j1 and as sort -u counts" {
	gen 40000 42 --users 30000 >plays.ndjson
	same_bytes --by os --agg distinct:user_id plays.ndjson
	jq -r '[.os, .user_id] | @tsv' plays.ndjson | sort -u | cut -f1 | uniq -c |
		awk '{ printf "{\"os\":\"%s\",\"distinct_user_id\":%s}\n", $2, $1 }' >want
	cmp want out.2
	in_threads plays.ndjson --by os --agg distinct:user_id plays.ndjson
}

@test "-j: tumble, hop and cumulate windows with --lateness over hidden order, as -j1" {
	gen 30000 43 --rate 200 --disorder 4000 --users 2000 >plays.ndjson
	same_bytes --time event_time --window tumble:1m --lateness 5s --by artist_id \
		--agg count,sum:duration_ms,distinct:user_id,p95:duration_ms --stats plays.ndjson
	grep -q '0 late records' err.1 || fail "the disorder was beyond --lateness: $(cat err.1)"
	in_threads plays.ndjson --time event_time --window tumble:1m --lateness 5s \
		--by artist_id --agg count plays.ndjson
	same_bytes --time event_time --window hop:2m/30s --lateness 5s --by os \
		--agg count,first:song_id,last:song_id,topk:song_id:2 plays.ndjson
	same_bytes --time event_time --window cumulate:30s/2m --lateness 5s --by os,action \
		--agg count,max:duration_ms plays.ndjson
	# late records dropped within a piece: counted alike
	same_bytes --time event_time --window tumble:10s --lateness 1s --by os \
		--agg count --stats plays.ndjson
	grep -Eq ' [1-9][0-9]* late records' err.1 || fail "no late records: $(cat err.1)"
	in_threads plays.ndjson --time event_time --window tumble:10s --lateness 1s \
		--by os --agg count plays.ndjson
}

# ahead ARGS...: bytes the second thread of fx-agg -j2 ARGS wrote into its
# piece's memfd (rows written as its windows closed, not held to the end)
ahead() {
	local main f
	strace -ff -qq -e trace=memfd_create,write -o trace fx-agg -j2 "$@" >/dev/null 2>&1 || true
	main=$(grep -l 'memfd_create("fx-agg-piece"' trace.*) || fail "no memfd"
	for f in trace.*; do
		[ "$f" = "$main" ] && continue
		awk -v main="$main" '
			FILENAME == main && /memfd_create\("fx-agg-piece"/ { memfd[$NF] = 1 }
			FILENAME != main && /^write\(/ {
				fd = substr($1, 7); sub(/,.*/, "", fd)
				if (fd in memfd && $NF ~ /^[0-9]+$/) s += $NF
			}
			END { print s + 0 }' "$main" "$f"
	done
}

@test "-j: windows that close in a later piece are written there, as -j1" {
	gen 40000 55 --rate 20 --disorder 4000 --users 2000 >plays.ndjson
	same_bytes --time event_time --window tumble:1m --lateness 5s --by artist_id \
		--agg count,sum:duration_ms plays.ndjson
	mv out.1 tumble.1
	# most of the second half's rows are written by its thread, ahead
	n=$(ahead --time event_time --window tumble:1m --lateness 5s \
		--by artist_id --agg count,sum:duration_ms plays.ndjson)
	size=$(stat -c %s tumble.1)
	[ "$n" -gt $((size / 4)) ] || fail "the second piece wrote $n bytes ahead of $size"
	[ "$n" -lt "$size" ] || fail "the second piece wrote $n bytes ahead of $size"
	# a lateness over several windows: more of them held for the merge
	same_bytes --time event_time --window tumble:1m --lateness 3m --by os \
		--agg count,sum:duration_ms --stats plays.ndjson
	same_bytes --time event_time --window hop:3m/1m --lateness 30s --by os,action \
		--agg count plays.ndjson
	same_bytes --time event_time --window cumulate:1m/4m --lateness 10s --by os \
		--agg count plays.ndjson
	# checked by jq: every record on time, each counted in its minute
	jq -r '[.event_time[0:16], .artist_id] | @tsv' plays.ndjson | sort | uniq -c |
		awk '{ print $2 "\t" $3 "\t" $1 }' | sort >want
	jq -r '[.window_start[0:16], .artist_id, .count] | @tsv' tumble.1 | sort >got
	cmp want got
}

@test "-j: --emit changes writes -j1's changelog" {
	gen 30000 56 --rate 200 --disorder 4000 --users 2000 >plays.ndjson
	same_bytes --emit changes --time event_time --window tumble:1m --lateness 5s \
		--by artist_id --agg count,sum:duration_ms --stats plays.ndjson
	# every row an insert: without _fx_op, the rows of --emit rows
	run jq -r ._fx_op out.2
	[ "$(printf '%s\n' "$output" | sort -u)" = "+I" ] || fail "other kinds than +I"
	fx-agg -j1 --time event_time --window tumble:1m --lateness 5s \
		--by artist_id --agg count,sum:duration_ms plays.ndjson | jq -c . >want
	jq -c 'del(._fx_op)' out.2 >got
	cmp want got
	same_bytes --emit changes --time event_time --window hop:2m/30s --lateness 5s \
		--by os --agg count,last:song_id plays.ndjson
	same_bytes --emit changes --by os,action --agg count,distinct:user_id plays.ndjson
	in_threads plays.ndjson --emit changes --time event_time --window tumble:1m \
		--lateness 5s --by artist_id --agg count plays.ndjson
}

@test "-j: session windows, as -j1" {
	gen 20000 44 --rate 50 --disorder 3000 --users 300 >plays.ndjson
	same_bytes --time event_time --window session:30s --lateness 5s --by user_id \
		--agg count,sum:duration_ms,first:song_id --stats plays.ndjson
	in_threads plays.ndjson --time event_time --window session:30s --lateness 5s \
		--by user_id --agg count plays.ndjson
}

@test "-j: sessions that close in a later piece are written there once none before it is open, as -j1" {
	# users seldom back within the gap: sessions end as the pieces go
	gen 40000 57 --rate 20 --disorder 3000 --users 20000 >plays.ndjson
	same_bytes --time event_time --window session:30s --lateness 5s --by user_id \
		--agg count,sum:duration_ms,last:song_id plays.ndjson
	mv out.1 session.1
	n=$(ahead --time event_time --window session:30s --lateness 5s --by user_id \
		--agg count,sum:duration_ms,last:song_id plays.ndjson)
	size=$(stat -c %s session.1)
	[ "$n" -gt $((size / 4)) ] || fail "the second piece wrote $n bytes ahead of $size"
	[ "$n" -lt "$size" ] || fail "the second piece wrote $n bytes ahead of $size"
	# checked by jq: each user's records, by time, cut where 30s pass
	jq -r '[.user_id, .event_time] | @tsv' plays.ndjson | sort |
		awk -F'\t' '
			function ms(s) { return (substr(s, 12, 2) * 3600 + substr(s, 15, 2) * 60 + substr(s, 18, 6)) * 1000 }
			$1 != u || ms($2) >= last + 30000 { if (u != "") print u "\t" n; u = $1; n = 0 }
			{ n++; last = ms($2) }
			END { print u "\t" n }' | sort >want
	jq -r '[.user_id, .count] | @tsv' session.1 | sort >got
	cmp want got
	# keys always back within the gap: a session open from a piece's start
	# to its end, nothing written ahead, the same rows
	same_bytes --time event_time --window session:30s --lateness 5s --by os \
		--agg count plays.ndjson
}

@test "-j: a record late only after the cut's earlier piece is late, as with -j1" {
	# old records in the middle: in -j1 they are late (the first half
	# raised the watermark); the second piece starts among them
	gen 6000 45 --start 2026-11-23T12:00:00.000Z --disorder 0 >a.ndjson
	gen 400 46 --start 2026-11-23T10:00:00.000Z --disorder 0 >b.ndjson
	gen 6000 47 --start 2026-11-23T12:05:00.000Z --disorder 0 >c.ndjson
	cat a.ndjson b.ndjson c.ndjson >plays.ndjson
	same_bytes --time event_time --window tumble:1m --lateness 5s --by os \
		--agg count --stats plays.ndjson
	grep -q ' 400 late records' err.1 || fail "$(cat err.1)"
	# no 10:xx window has a row
	run jq -r 'select(.window_start < "2026-11-23T11") | .window_start' out.2
	assert_output ''
	read_twice plays.ndjson --time event_time --window tumble:1m --lateness 5s \
		--by os --agg count plays.ndjson
}

@test "-j: a bad record in the second half: the same message, exit status and rows" {
	gen 20000 48 --rate 100 >plays.ndjson
	sed -i '15000s/.*/{"event_time":"yesterday","os":"ios"}/' plays.ndjson
	same_bytes --time event_time --window tumble:1m --by os --agg count plays.ndjson
	[ "$(cat err.1)" = 'fx-agg: plays.ndjson:15000: field "event_time": not a timestamp: "yesterday"' ] ||
		fail "$(cat err.1)"
	[ -s out.1 ] || fail "no rows before the bad record"
	sed -i '15000s/.*/{"event_time": not json/' plays.ndjson
	same_bytes --by os --agg count plays.ndjson
	grep -q '^fx-agg: plays.ndjson:15000: invalid JSON' err.1 || fail "$(cat err.1)"
	[ ! -s out.1 ] || fail "rows after a bad record under fail"
}

@test "-j: --on-error skip and dlq: the same counts, the same dead letters in file order" {
	gen 20000 49 >plays.ndjson
	for l in 3 9000 14000 19999; do
		sed -i "${l}s/.*/{\"event_time\":\"bad $l\",\"os\":\"x\"}/" plays.ndjson
	done
	sed -i '12000s/.*/not json at all/' plays.ndjson
	same_bytes --on-error skip --stats --time event_time --window tumble:1m \
		--by os --agg count,sum:duration_ms plays.ndjson
	grep -q ', 5 bad,' err.1 || fail "$(cat err.1)"
	in_threads plays.ndjson --on-error skip --time event_time --window tumble:1m \
		--by os --agg count plays.ndjson
	for j in 1 2 4; do
		fx-agg -j$j --on-error dlq=dlq.$j --by os --agg count --time event_time \
			plays.ndjson >out.$j
	done
	cmp out.1 out.2 && cmp out.1 out.4
	cmp dlq.1 dlq.2 && cmp dlq.1 dlq.4
	run jq -r .source dlq.4
	assert_output "$(printf 'plays.ndjson:%s\n' 3 9000 12000 14000 19999)"
}

@test "-j: several files, blank lines and a last line without a newline, as -j1" {
	gen 9000 50 --disorder 5000 >a.ndjson
	gen 9000 51 --disorder 5000 --start 2026-11-23T01:00:00.000Z |
		awk 'NR % 100 == 0 { print "" } NR % 333 == 0 { print "   \r" } { print }' >b.ndjson
	gen 9000 52 --disorder 5000 --start 2026-11-23T02:00:00.000Z | head -c -1 >c.ndjson
	same_bytes --time event_time --window tumble:5m --lateness 6s --by os,artist_id \
		--agg count,distinct:user_id --stats a.ndjson b.ndjson c.ndjson
	grep -q '27000 records in' err.1 || fail "$(cat err.1)"
	# stdin and pipes: one thread, the same rows
	fx-agg -j4 --time event_time --window tumble:5m --lateness 6s --by os,artist_id \
		--agg count,distinct:user_id a.ndjson - c.ndjson <b.ndjson >out.pipe
	cmp out.1 out.pipe
}

@test "-j: a usage error as -j1; --jobs takes a count" {
	gen 2000 53 >plays.ndjson
	same_bytes --window tumble:1m --agg count plays.ndjson
	run -2 fx-agg -j -1 --agg count plays.ndjson
	assert_output --partial "--jobs"
}

@test "-j: lineage counts every record of the input once, as -j1" {
	gen 8000 54 >plays.ndjson
	for j in 1 2; do
		FX_LINEAGE=file:lineage.$j fx-agg -j$j --by os --agg count plays.ndjson >/dev/null
		tail -1 lineage.$j | jq -c '[.eventType, (.inputs[] | .inputFacets.inputStatistics.rowCount)]' >rows.$j
	done
	run cat rows.2
	assert_output '["COMPLETE",8000]'
	cmp rows.1 rows.2
}

# ovf_plays head|tail: plays.ndjson, 20000 plays with int64 sums of
# duration_ms near the limits, whose running sums pass them only in the
# last quarter (every piece of -j2 and -j4 alone fits): os zz, MAX - 1000
# then +2000 -5000; nn, MIN + 1000 then -2000 +5000; ok and okn come as
# near and stay within. 2000 keys of one record each at the head or the
# tail: the earlier or the later piece has more groups (agg.c's
# absorb_table() keeps the larger table: merged after, or before).
ovf_plays() {
	local l
	gen 20000 60 >plays.ndjson
	{
		set_os 2 zz 9223372036854774807
		set_os 3 nn -9223372036854774808
		set_os 4 ok 9223372036854774807
		set_os 5 okn -9223372036854774808
		set_os 17000 zz 2000
		set_os 17500 zz -5000
		set_os 17100 nn -2000
		set_os 17600 nn 5000
		set_os 17200 ok 999
		set_os 17300 ok -5000
		set_os 17400 ok 4000
		set_os 17700 okn -999
		set_os 17800 okn 5000
		set_os 17900 okn -4000
		if [ "$1" = head ]; then
			for l in $(seq 6 2005); do echo "${l}s/\"os\":\"[^\"]*\"/\"os\":\"u$l\"/"; done
		else
			for l in $(seq 18001 20000); do echo "${l}s/\"os\":\"[^\"]*\"/\"os\":\"u$l\"/"; done
		fi
	} >ovf.sed
	sed -i -E -f ovf.sed plays.ndjson
}

# set_os LINE OS MS: a sed script line giving LINE that os and duration_ms
set_os() {
	echo "$1s/\"os\":\"[^\"]*\"/\"os\":\"$2\"/; $1s/\"duration_ms\":[0-9]+/\"duration_ms\":$3/"
}

# one_run fail FILE...: by python3, the message of one run over FILE... by
# os that sums duration_ms: the first record whose running sum of its os
# passes an int64. one_run skip OUT FILE...: every row of OUT has its os's
# count, sum and avg of the records one run takes (it refuses those, and
# only those), and every os has a row.
one_run() {
	python3 - "$@" <<'PY'
import json, sys
mode = sys.argv[1]
out = sys.argv[2] if mode == "skip" else None
files = sys.argv[3:] if out else sys.argv[2:]
MAX, MIN = 2**63 - 1, -2**63
g, first = {}, None
for path in files:
    for ln, line in enumerate(open(path), 1):
        r = json.loads(line)
        c, s = g.get(r["os"], (0, 0))
        if not MIN <= s + r["duration_ms"] <= MAX:
            if first is None:
                first = (path, ln, r["duration_ms"])
            continue
        g[r["os"]] = (c + 1, s + r["duration_ms"])
if not out:
    print('fx-agg: %s:%d: field "duration_ms": sum overflows int64 with: %d' % first)
    sys.exit(0)
seen, bad = set(), 0
for row in map(json.loads, open(out)):
    c, s = g[row["os"]]
    seen.add(row["os"])
    want = {"count": c, "sum_duration_ms": s, "avg_duration_ms": float(s) / float(c)}
    for k in want:
        if k in row and row[k] != want[k]:
            print("%s: %s %r, one run %r" % (row["os"], k, row[k], want[k]))
            bad = 1
if seen != set(g):
    print("os without a row: %s" % sorted(set(g) - seen))
    bad = 1
sys.exit(bad)
PY
}

@test "-j: an int64 sum that passes its range only across the cut: -j1's refusal, whatever comes after" {
	local at w aggs=count,sum:duration_ms,avg:duration_ms
	for at in head tail; do
		ovf_plays $at
		# one run stops at zz's +2000 (line 17000); no piece meets it
		same_bytes --by os --agg $aggs plays.ndjson
		[ "$(cat err.1)" = "$(one_run fail plays.ndjson)" ] || fail "$at: $(cat err.1)"
		[ ! -s out.1 ] || fail "$at: rows under fail"
		# skipped: zz's +2000 and nn's -2000 refused, their -5000 and
		# +5000 taken (the sums come back within range)
		same_bytes --on-error skip --stats --by os --agg $aggs plays.ndjson
		grep -q ', 2 bad,' err.1 || fail "$at: $(cat err.1)"
		one_run skip out.1 plays.ndjson || fail "$at: not one run's sums"
		grep -q '"os":"zz","count":2,"sum_duration_ms":9223372036854769807,' out.1 ||
			fail "$at: $(grep '"zz"' out.1)"
		# every record in one minute and one session per os (the u keys
		# one record each): every row one run's sums
		for w in tumble:1m session:30s hop:2m/30s; do
			same_bytes --on-error skip --time event_time --window $w --lateness 5s \
				--by os --agg $aggs plays.ndjson
			one_run skip out.1 plays.ndjson || fail "$at $w: not one run's sums"
			same_bytes --time event_time --window $w --lateness 5s --by os \
				--agg $aggs plays.ndjson
			[ "$(cat err.1)" = "$(one_run fail plays.ndjson)" ] || fail "$at $w: $(cat err.1)"
		done
	done
	# the pieces were dropped and the input read again by one thread
	read_twice plays.ndjson --on-error skip --by os --agg sum:duration_ms plays.ndjson
}

@test "-j: sums near the int64 limits that never pass them: in threads, as -j1" {
	local at aggs=count,sum:duration_ms,avg:duration_ms
	for at in head tail; do
		ovf_plays $at
		grep -v '"os":"zz"\|"os":"nn"' plays.ndjson >near.ndjson
		same_bytes --by os --agg $aggs near.ndjson
		one_run skip out.1 near.ndjson || fail "$at: not one run's sums"
		grep -q '"os":"ok","count":4,"sum_duration_ms":9223372036854774806,' out.1 ||
			fail "$at: $(grep '"ok"' out.1)"
		in_threads near.ndjson --by os --agg $aggs near.ndjson
		same_bytes --time event_time --window session:30s --lateness 5s --by os \
			--agg $aggs near.ndjson
		one_run skip out.1 near.ndjson || fail "$at: sessions: not one run's sums"
		in_threads near.ndjson --time event_time --window session:30s --lateness 5s \
			--by os --agg $aggs near.ndjson
	done
}

@test "--merge of --partial rows: what one run over the shards in that order refuses, whatever comes after" {
	local aggs=count,sum:duration_ms,avg:duration_ms
	ovf_plays tail
	head -n 10000 plays.ndjson >a.ndjson
	tail -n +10001 plays.ndjson >b.ndjson
	fx-agg --partial --by os --agg $aggs a.ndjson >a.part
	fx-agg --partial --by os --agg $aggs b.ndjson >b.part
	# b's running sums: zz's passed 2000 above its total -3000, nn's -2000
	# below 3000 (by hand), and say so
	grep -q '"os":"zz",.*"sum_duration_ms":{"i":-3000,"d":\[\],"n":2,"hi":2000}' b.part ||
		fail "$(grep '"zz"' b.part)"
	grep -q '"os":"nn",.*"sum_duration_ms":{"i":3000,"d":\[\],"n":2,"lo":-2000}' b.part ||
		fail "$(grep '"nn"' b.part)"
	# a then b: one run refuses zz's +2000, after MAX - 1000; so does the
	# merge, with no rows
	run --separate-stderr fx-agg -j1 --by os --agg $aggs a.ndjson b.ndjson
	assert_failure 1
	assert_output ''
	[ "$stderr" = "$(one_run fail a.ndjson b.ndjson)" ] || fail "$stderr"
	run --separate-stderr fx-agg --merge --by os --agg $aggs a.part b.part
	assert_failure 1
	assert_output ''
	[[ $stderr == 'fx-agg: b.part:'*': field "sum_duration_ms": sum overflows int64 part way: '* ]] ||
		fail "$stderr"
	# b then a: one run takes every record, and the merge writes its bytes
	fx-agg -j1 --by os --agg $aggs b.ndjson a.ndjson >want
	one_run skip want b.ndjson a.ndjson || fail "not one run's sums"
	fx-agg --merge --by os --agg $aggs b.part a.part >got
	cmp want got
	# a partial of b and a in one: merged after a, refused as well
	fx-agg --partial --by os --agg $aggs b.ndjson a.ndjson >ba.part
	run --separate-stderr fx-agg --merge --by os --agg $aggs a.part ba.part
	assert_failure 1
	run --separate-stderr fx-agg --merge --by os --agg $aggs ba.part
	assert_success
	cmp want <(printf '%s\n' "$output")
}

@test "-j: a file replaced while its pieces run: one run over it all reads the file opened, not its name" {
	# long enough (about a second) to be stopped while it runs
	gen 300000 50 >plays.ndjson
	# under fail, a bad record makes one thread read it all again
	sed -i '290000s/.*/{"os": not json/' plays.ndjson
	fx-agg -j1 --by os --agg count plays.ndjson >want 2>want.err && rc=0 || rc=$?
	[ "$rc" = 1 ] || fail "-j1 exits $rc"
	gen 1000 51 >other.ndjson
	fx-agg -j2 --by os --agg count plays.ndjson >got 2>err &
	STAGE_PIDS=($!)
	# stopped once it holds the file open, while the name is given to another
	for _ in $(seq 400); do
		ls -l "/proc/${STAGE_PIDS[0]}/fd" 2>/dev/null | grep -q plays.ndjson && break
		sleep 0.01
	done
	kill -STOP "${STAGE_PIDS[0]}" || fail "fx-agg ended before it was stopped: $(cat err)"
	ls -l "/proc/${STAGE_PIDS[0]}/fd" | grep -q plays.ndjson || fail "fx-agg did not open plays.ndjson"
	mv plays.ndjson moved.ndjson
	mv other.ndjson plays.ndjson
	kill -CONT "${STAGE_PIDS[0]}"
	wait "${STAGE_PIDS[0]}" && rc=0 || rc=$?
	STAGE_PIDS=()
	[ "$rc" = 1 ] || fail "exit $rc: $(cat err)"
	cmp want.err err || fail "$(cat err)"
	cmp want got || fail "other rows: $(cat got)"
}

@test "-j: more file operands than descriptors allowed: read one at a time, the rows of -j1, exit 0" {
	mkdir many
	for i in $(seq 0 599); do
		printf '{"os":"a","v":%d}\n{"os":"b","v":1}\n' "$i" >"many/f$(printf %03d "$i").ndjson"
	done
	fx-agg -j1 --by os --agg count,sum:v many/f*.ndjson >want
	# a hard limit below the operands: all of them cannot be open at once
	run --separate-stderr bash -c 'ulimit -n 256 && exec fx-agg -j2 --by os --agg count,sum:v many/f*.ndjson'
	assert_success
	assert_output "$(cat want)"
	assert_output $'{"os":"a","count":600,"sum_v":179700}\n{"os":"b","count":600,"sum_v":600}'
}
