#!/usr/bin/env bats
# Changelog output for the ADS layer (issue 14): fx-agg --emit changes
# writes rows with _fx_op (+I, -U, +U, -D: Flink's RowKind names), fx-sink
# --upsert KEYS keeps the latest row of every key, in a compacted topic
# (key = the key fields as a JSON array, -D a tombstone) or in files.

load test_helper

setup() { fx_setup_tmp; }
teardown() { fx_teardown_tmp; }

# at S: 2026-01-01T00:00:S (S < 60), as fx-agg writes times
at() { printf '2026-01-01T00:00:%02d.000Z' "$1"; }

# recs <LINES "S K V": one record per line, t at second S
recs() {
	while read -r s k v; do
		printf '{"t":"%s","k":"%s","v":%s}\n' "$(at "$s")" "$k" "$v"
	done
}

# row OP S E K COUNT SUM: the row fx-agg should write, spelled by hand
row() {
	printf '{"_fx_op":"%s","window_start":"%s","window_end":"%s","k":"%s","count":%s,"sum_v":%s}\n' \
		"$1" "$(at "$2")" "$(at "$3")" "$4" "$5" "$6"
}

@test "tumble, --lateness, --late update, --retain: late records give -U then +U, a new key +I, past --retain nothing" {
	recs >in.ndjson <<'EOF'
1 a 1
4 b 2
13 a 3
9 a 4
8 c 5
11 b 6
30 a 7
2 a 8
15 b 9
EOF
	run --separate-stderr fx-agg --time t --window tumble:10s --lateness 2s \
		--late update --retain 15s --by k --agg count,sum:v --emit changes --stats <in.ndjson
	assert_success
	{
		# 13 a: the watermark is 11, [0,10) closes: its first rows
		row +I 0 10 a 1 1
		row +I 0 10 b 1 2
		# 9 a is late (10 <= 11): the row written for a, then a's new row
		row -U 0 10 a 1 1
		row +U 0 10 a 2 5
		# 8 c is late: c had no row in [0,10): a first one
		row +I 0 10 c 1 5
		# 11 b is on time ([10,20) is open); 30 a: the watermark is 28,
		# [10,20) closes, and [0,10) is past --retain (10 + 15 <= 28)
		row +I 10 20 a 1 3
		row +I 10 20 b 1 6
		# 2 a: [0,10) is forgotten, no row; 15 b: [10,20) is kept
		row -U 10 20 b 1 6
		row +U 10 20 b 2 15
		# end of input: [30,40)
		row +I 30 40 a 1 7
	} >want
	diff want <(printf '%s\n' "$output")
	# 9 a, 8 c, 2 a and 15 b were late
	assert_regex "$stderr" ' 4 late records$'
}

@test "session windows, --late update: a late record that merges sessions deletes their rows (-D), the merged one is +I" {
	recs >in.ndjson <<'EOF'
1 a 1
9 a 2
20 a 3
5 a 4
12 a 5
2 a 6
18 a 7
16 a 8
EOF
	run --separate-stderr fx-agg --time t --window session:5s --late update \
		--by k --agg count,sum:v --emit changes --stats <in.ndjson
	assert_success
	{
		# 9: the watermark is 9, [1,6) closes; 20: [9,14) closes
		row +I 1 6 a 1 1
		row +I 9 14 a 1 2
		# 5 is late (5 < 20): [5,10) reaches [1,6) and [9,14); both
		# rows go, the merged [1,14) ends before 20: closed, written
		row -D 1 6 a 1 1
		row -D 9 14 a 1 2
		row +I 1 14 a 3 7
		# 12: [12,17) grows [1,14) to [1,17): other bounds, another row
		row -D 1 14 a 3 7
		row +I 1 17 a 4 12
		# 2: [2,7) is inside [1,17): same bounds, -U and +U
		row -U 1 17 a 4 12
		row +U 1 17 a 5 18
		# 18: [18,23) reaches only the open [20,25): [18,25), no row yet
		# 16: [16,21) joins the closed [1,17) and the open [18,25): the
		# result [1,25) ends after 20, open: only the -D now
		row -D 1 17 a 5 18
		# end of input: the one session, as a batch would have it
		row +I 1 25 a 8 36
	} >want
	diff want <(printf '%s\n' "$output")
	assert_regex "$stderr" ' 5 late records$'
	# the batch: the records in time order, nothing late, one session
	sort in.ndjson | fx-agg --time t --window session:5s --by k --agg count,sum:v >batch
	diff <(row +I 1 25 a 8 36 | sed 's/^{"_fx_op":"+I",/{/') batch
}

@test "--emit changes without --late update: every row is +I, otherwise the rows of --emit rows" {
	gen 400 5 --rate 20 --disorder 3000 --users 40 >in.ndjson
	args=(--time event_time --window tumble:2s --lateness 1s --idle-timeout 0 --by os --agg count,distinct:user_id)
	fx-agg "${args[@]}" <in.ndjson >rows
	fx-agg "${args[@]}" --emit changes <in.ndjson >changes
	[ -s rows ] || fail "no rows"
	run grep -vc '^{"_fx_op":"+I",' changes
	assert_output 0
	sed 's/^{"_fx_op":"+I",/{/' changes | cmp - rows
	fx-agg "${args[@]}" --emit rows <in.ndjson | cmp - rows
}

@test "usage errors: --emit diff, --emit changes --partial, sessions --late update without --emit changes, --upsert with --state files or --key" {
	echo '{"k":1}' >in
	run --separate-stderr fx-agg --agg count --emit diff <in
	assert_failure 2
	assert_regex "$stderr" "--emit: expected rows or changes, got 'diff'"
	run --separate-stderr fx-agg --agg count --emit changes --partial <in
	assert_failure 2
	assert_regex "$stderr" "--emit changes and --partial"
	run --separate-stderr fx-agg --time k --window session:5s --late update --agg count <in
	assert_failure 2
	assert_regex "$stderr" "--late update with session windows needs --emit changes"
	run --separate-stderr fx-sink --upsert k --file out.ndjson --state st <in
	assert_failure 2
	assert_regex "$stderr" "--upsert writes files at the end of the input only: not with --state"
	run --separate-stderr fx-sink --upsert k --key k -t x -b 127.0.0.1:1 <in
	assert_failure 2
	assert_regex "$stderr" "--upsert makes the message key: not with --key"
	run --separate-stderr fx-sink --upsert k,k <in
	assert_failure 2
	assert_regex "$stderr" "--upsert: 'k' twice"
}

@test "fx-sink --upsert: plain rows are +I, a missing key field or an unknown _fx_op is a bad record" {
	printf '%s\n' '{"k":1,"v":"a"}' '{"_fx_op":"+U","k":1,"v":"b"}' '{"k":2,"v":"c"}' \
		'{"_fx_op":"-D","k":1}' '{"_fx_op":"+I","k":1,"v":"d"}' '{"k":null,"v":"e"}' >in
	run --separate-stderr fx-sink --upsert k <in
	assert_success
	assert_output - <<'EOF'
{"k":2,"v":"c"}
{"k":1,"v":"d"}
{"k":null,"v":"e"}
EOF
	printf '%s\n' '{"k":1}' '{"v":2}' >in2
	run --separate-stderr fx-sink --upsert k --file out.ndjson <in2
	assert_failure 1
	assert_regex "$stderr" 'stdin:2: field "k": missing: an upsert key field'
	[ ! -e out.ndjson ] || fail "a failed run wrote its file"
	run --separate-stderr fx-sink --upsert k --on-error skip --file out.ndjson <in2
	assert_success
	assert_equal "$(cat out.ndjson)" '{"k":1}'
	echo '{"_fx_op":"+X","k":1}' >in3
	run --separate-stderr fx-sink --upsert k <in3
	assert_failure 1
	assert_regex "$stderr" 'stdin:1: field "_fx_op": not \+I, -U, \+U or -D'
}

# changelog WINDOW: late play events through fx-agg --late update --emit
# changes (sessions per os and province, else windows per os) into
# changes.ndjson, and the batch over the same records in time order
# (nothing late) into batch.ndjson, its rows sorted. Sets KEYS.
changelog() {
	local by=os
	case $1 in session:*) by=os,province ;; esac
	KEYS=window_start,window_end,$by
	gen 1500 3 --rate 20 --disorder 4000 --users 60 >in.ndjson
	args=(--time event_time --window "$1" --lateness 1s --idle-timeout 0
		--by "$by" --agg count,sum:duration_ms,distinct:user_id)
	fx-agg "${args[@]}" --late update --retain 1d --emit changes --stats \
		<in.ndjson >changes.ndjson 2>stats
	jq -c -s 'sort_by(.event_time)[]' in.ndjson | fx-agg "${args[@]}" --stats 2>batch.stats |
		sort >batch.ndjson
	grep -q ' 0 late records$' batch.stats || fail "the batch had late records: $(cat batch.stats)"
	grep -q '"_fx_op":"+U"' changes.ndjson || fail "no update in the changelog"
}

# fold: the changelog on stdin folded by KEYS with jq, in the order each
# key was first inserted (a -D removes it): the raw rows without _fx_op
fold() {
	jq -R -r -n --arg keys "$KEYS" '
		($keys | split(",")) as $ks
		| reduce (inputs | . as $raw | fromjson | {k: ([.[$ks[]]] | tojson), op: ._fx_op,
			row: ($raw | sub("^\\{\"_fx_op\":\"[-+][IUD]\","; "{"))}) as $r ({};
			if $r.op == "-D" then del(.[$r.k])
			elif $r.op == "-U" then .
			else .[$r.k] = $r.row end)
		| .[]'
}

# topic_fold TOPIC: TOPIC read to its end with kcat, folded by message key
# (last value wins, a tombstone deletes), the values sorted
topic_fold() {
	kcat -b "$B" -C -t "$1" -e -q -Z -f '%k\t%s\n' >topic.tsv
	jq -R -r -n 'reduce (inputs | split("\t")) as [$k, $v] ({};
		if $v == "NULL" then del(.[$k]) else .[$k] = $v end) | .[]' <topic.tsv | sort
}

@test "must show: fx-agg --late update --emit changes | fx-sink -t T --upsert KEYS: the topic folded by key is the batch result (tumble)" {
	fx_broker_start --topic tum:4
	changelog tumble:2s
	fx-sink -t tum --upsert "$KEYS" <changes.ndjson
	topic_fold tum >folded
	[ -s batch.ndjson ] || fail "no batch rows"
	diff batch.ndjson folded
	# one message per +I and +U, none for -U; the key is the JSON array
	[ "$(wc -l <topic.tsv)" -eq "$(grep -c '"_fx_op":"+[IU]"' changes.ndjson)" ]
	run grep -c '"_fx_op":"-U"' changes.ndjson
	[ "$output" -gt 0 ]
	head -n 1 topic.tsv | grep -q '^\["2026-11-23T[0-9:.]*Z","2026-11-23T[0-9:.]*Z","[a-z]*"\]	{"window_start"' ||
		fail "not a key and a value without _fx_op: $(head -n 1 topic.tsv)"
}

@test "must show: sessions merged by late records become tombstones; the topic folded by key is the batch result" {
	fx_broker_start --topic ses:4
	changelog session:1500ms
	grep -q '"_fx_op":"-D"' changes.ndjson || fail "no session merged"
	fx-sink -t ses --upsert "$KEYS" <changes.ndjson
	topic_fold ses >folded
	diff batch.ndjson folded
	# a tombstone for every -D
	[ "$(grep -c '	NULL$' topic.tsv)" -eq "$(grep -c '"_fx_op":"-D"' changes.ndjson)" ]
}

@test "fx-sink --upsert --file: the fold in first-insertion order, the batch result; --dir: one file per partition" {
	changelog session:1500ms
	fold <changes.ndjson >want
	fx-sink --upsert "$KEYS" --file out.ndjson <changes.ndjson
	cmp want out.ndjson
	sort out.ndjson | diff batch.ndjson -
	fx-sink --upsert "$KEYS" --dir d --partition os <changes.ndjson
	n=0
	for os in $(jq -r .os want | sort -u); do
		jq -c --arg os "$os" 'select(.os == $os)' want >want.os
		# jq re-spelled the rows: compare values, in order
		jq -c . "d/os=$os/part-00000.ndjson" | cmp want.os -
		n=$((n + 1))
	done
	[ "$n" -ge 3 ]
	[ "$(find d -type f | wc -l)" -eq "$n" ]
}
