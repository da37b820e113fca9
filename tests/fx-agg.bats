#!/usr/bin/env bats
# fx-agg: results checked against sqlite3 and jq, windows, late records,
# shards, sketches, bad input. Kafka stream-batch tests: fx-agg-stream.bats.

load test_helper

setup() { fx_setup_tmp; }
teardown() { fx_teardown_tmp; }

# plays.csv and plays.ndjson (the same N events) and a sqlite table "p" of
# them with the event time in epoch ms as column ms
load_plays() {
	local n=$1 seed=${2:-1}
	shift 2
	gen "$n" "$seed" --csv "$@" >plays.csv
	gen "$n" "$seed" "$@" >plays.ndjson
	sqlite3 plays.db <<'EOF'
.mode csv
.import plays.csv p
ALTER TABLE p ADD COLUMN ms INTEGER;
UPDATE p SET ms = CAST(strftime('%s', substr(event_time, 1, 19)) AS INTEGER) * 1000
	+ CAST(substr(event_time, 21, 3) AS INTEGER);
EOF
}

# fx-agg rows as "start_ms|..." lines: window start in epoch ms, then fields
to_rows() {
	jq -r "[(.window_start | sub(\"\\\\.[0-9]+Z\$\"; \"Z\") | fromdate * 1000 | tostring), $1] | join(\"|\")"
}

# same_rows WANT GOT: the two files hold equal JSON rows (as Python reads
# them: 1e+308 and 1e308 are one number), in the same order
same_rows() {
	run python3 -c '
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
bad = [(w, g) for w, g in zip(want, got) if w != g]
print(len(want), len(got), bad[:2])
sys.exit(1 if bad or len(want) != len(got) else 0)' "$1" "$2"
	assert_success
}

@test "per-minute tumbling count, sum, min, max, avg, distinct by two keys equal sqlite3's" {
	load_plays 30000 31
	fx-agg --time event_time --window tumble:1m --lateness 5s --by artist_id,os \
		--agg count,sum:duration_ms,min:duration_ms,max:duration_ms,avg:duration_ms,distinct:user_id \
		<plays.ndjson >out.ndjson
	to_rows '(.artist_id|tostring), .os, (.count|tostring), (.sum_duration_ms|tostring),
		(.min_duration_ms|tostring), (.max_duration_ms|tostring),
		(.avg_duration_ms*1000|round|tostring), (.distinct_user_id|tostring)' \
		<out.ndjson | sort >fx.txt
	sqlite3 -separator '|' plays.db "SELECT ms / 60000 * 60000, artist_id, os, count(*),
		sum(CAST(duration_ms AS INTEGER)), min(CAST(duration_ms AS INTEGER)),
		max(CAST(duration_ms AS INTEGER)), CAST(round(avg(CAST(duration_ms AS INTEGER)) * 1000) AS INTEGER),
		count(DISTINCT user_id) FROM p GROUP BY 1, 2, 3" | sort >sql.txt
	[ "$(wc -l <sql.txt)" -gt 1000 ]
	diff fx.txt sql.txt
}

@test "rows come sorted by window end, window start, then group key (numbers by value)" {
	load_plays 20000 32
	fx-agg --time event_time --window hop:2m/1m --lateness 5s --by artist_id --agg count <plays.ndjson >out.ndjson
	jq -c '[.window_end, .window_start, .artist_id]' out.ndjson >got
	sort -t, -k1,1 -k2,2 -k3,3n got | cmp - got
	# and the counts are right for a hop window: sqlite counts both windows
	to_rows '(.artist_id|tostring), (.count|tostring)' <out.ndjson | sort >fx.txt
	sqlite3 -separator '|' plays.db "SELECT s, artist_id, count(*) FROM (
		SELECT ms / 60000 * 60000 AS s, artist_id FROM p UNION ALL
		SELECT ms / 60000 * 60000 - 60000, artist_id FROM p) GROUP BY 1, 2" | sort >sql.txt
	diff fx.txt sql.txt
}

@test "group keys of every JSON type sort in the documented order (checked by a Python oracle)" {
	# 42 first keys (-0 and 0, 1 and 1.0, integers past 2^50, strings that
	# share 7 bytes, "a" and "a b") x 7 second keys: one window of 294 groups
	# (the radix path), one of about 130, and the global window
	python3 "$FX_ROOT/tests/key-order-oracle.py" gen >events.ndjson
	fx-agg --time event_time --window tumble:1m --by k1,k2 --agg count <events.ndjson >win.ndjson
	run python3 "$FX_ROOT/tests/key-order-oracle.py" check <win.ndjson
	assert_success
	[ "$output" -gt 400 ]
	fx-agg --by k1,k2 --agg count <events.ndjson >all.ndjson
	run python3 "$FX_ROOT/tests/key-order-oracle.py" check <all.ndjson
	assert_success
	assert_output 294
	# and no group lost: the counts add up to the events
	[ "$(jq -s 'map(.count) | add' all.ndjson)" = "$(wc -l <events.ndjson)" ]
}

@test "without --window: one row per group at end of input, sorted by key, equal to sqlite3's GROUP BY" {
	load_plays 20000 33
	fx-agg --by os,action --agg count,sum:duration_ms <plays.ndjson >out.ndjson
	jq -r '[.os, .action, .count, .sum_duration_ms] | join("|")' out.ndjson >fx.txt
	sqlite3 -separator '|' plays.db "SELECT os, action, count(*), sum(CAST(duration_ms AS INTEGER))
		FROM p GROUP BY 1, 2 ORDER BY 1, 2" >sql.txt
	cmp fx.txt sql.txt
}

@test "cumulate windows are running totals within each max window" {
	load_plays 20000 34
	fx-agg --time event_time --window cumulate:1s/5s --lateness 5s --agg count <plays.ndjson >out.ndjson
	to_rows '(.window_end | sub("\\.[0-9]+Z$"; "Z") | fromdate * 1000 | tostring), (.count|tostring)' \
		<out.ndjson | sort >fx.txt
	sqlite3 -separator '|' plays.db "WITH e(k) AS (VALUES (1),(2),(3),(4),(5))
		SELECT ms / 5000 * 5000, ms / 5000 * 5000 + k * 1000, count(*) FROM p, e
		WHERE ms < ms / 5000 * 5000 + k * 1000 GROUP BY 1, 2" | sort >sql.txt
	diff fx.txt sql.txt
}

@test "session windows: records closer than the gap form one session per key" {
	printf '%s\n' \
		'{"t":"2026-11-23T00:00:00.000Z","u":1}' '{"t":"2026-11-23T00:00:20.000Z","u":1}' \
		'{"t":"2026-11-23T00:00:05.000Z","u":2}' '{"t":"2026-11-23T00:00:10.000Z","u":1}' \
		'{"t":"2026-11-23T00:00:40.000Z","u":2}' '{"t":"2026-11-23T00:02:00.000Z","u":1}' \
		'{"t":"2026-11-23T00:00:41.000Z","u":3}' >in
	run --separate-stderr fx-agg --time t --window session:30s --lateness 20s --by u --agg count --stats <in
	assert_success
	# u=1: 0, 10, 20 (the 10 bridges 0 and 20) -> [0, 50); 2:00 -> [120, 150)
	# u=2: 5 and 40 are 35 s apart -> two sessions
	# u=3 at 0:41 comes after 2:00 moved the watermark to 1:40: late
	assert_output - <<'EOF'
{"window_start":"2026-11-23T00:00:05.000Z","window_end":"2026-11-23T00:00:35.000Z","u":2,"count":1}
{"window_start":"2026-11-23T00:00:00.000Z","window_end":"2026-11-23T00:00:50.000Z","u":1,"count":3}
{"window_start":"2026-11-23T00:00:40.000Z","window_end":"2026-11-23T00:01:10.000Z","u":2,"count":1}
{"window_start":"2026-11-23T00:02:00.000Z","window_end":"2026-11-23T00:02:30.000Z","u":1,"count":1}
EOF
	assert_regex "$stderr" '1 late records'
}

@test "late records: the dropped count in --stats and the dlq file hold exactly the late records" {
	# disorder up to 3 s, lateness 1 s: some records are late
	gen 20000 35 --disorder 3000 >plays.ndjson
	run --separate-stderr fx-agg --time event_time --window tumble:1s --lateness 1s \
		--agg count --stats --late dlq=late.ndjson <plays.ndjson
	assert_success
	# an independent oracle of the watermark rule: late iff its window
	# ended at or before (highest time seen before it) - lateness
	python3 - plays.ndjson >want.ndjson <<'EOF'
import json, sys, datetime
hi = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    d = datetime.datetime.strptime(r["event_time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    t = int((d - datetime.datetime(1970, 1, 1)).total_seconds() * 1000 + 0.5)
    end = t // 1000 * 1000 + 1000
    if hi is not None and end <= hi - 1000:
        sys.stdout.write(line)
    hi = t if hi is None else max(hi, t)
EOF
	[ -s want.ndjson ]
	cmp want.ndjson late.ndjson
	n=$(wc -l <want.ndjson)
	assert_regex "$stderr" "fx-agg: stats: $n late records"
	# every on-time record is counted once
	total=$(jq -s 'map(.count) | add' <<<"$output")
	[ "$total" -eq $((20000 - n)) ]
}

@test "--late update writes a corrected row for a closed window" {
	printf '%s\n' '{"t":"2026-01-01T00:00:01Z","k":"a","v":1}' \
		'{"t":"2026-01-01T00:00:11Z","k":"a","v":3}' \
		'{"t":"2026-01-01T00:00:03Z","k":"a","v":4}' >in
	run --separate-stderr fx-agg --time t --window tumble:10s --by k --agg count,sum:v --late update <in
	assert_output - <<'EOF'
{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:00:10.000Z","k":"a","count":1,"sum_v":1}
{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:00:10.000Z","k":"a","count":2,"sum_v":5}
{"window_start":"2026-01-01T00:00:10.000Z","window_end":"2026-01-01T00:00:20.000Z","k":"a","count":1,"sum_v":3}
EOF
}

@test "watermark control records close windows and are forwarded; checkpoints are forwarded in order" {
	printf '%s\n' '{"t":"2026-01-01T00:00:01Z"}' '{"_fx":"watermark","ts":"2026-01-01T00:00:10Z"}' \
		'{"_fx":"checkpoint","id":7}' '{"t":"2026-01-01T00:00:12Z"}' >in
	run --separate-stderr fx-agg --time t --window tumble:10s --lateness 1m --agg count <in
	assert_output - <<'EOF'
{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:00:10.000Z","count":1}
{"_fx":"watermark","ts":"2026-01-01T00:00:10Z"}
{"_fx":"checkpoint","id":7}
{"window_start":"2026-01-01T00:00:10.000Z","window_end":"2026-01-01T00:00:20.000Z","count":1}
EOF
}

@test "the watermark waits for every assigned partition, and per partition" {
	# partition 1 is behind: its old record must not be late
	printf '%s\n' '{"_fx":"assigned","partitions":["t/0","t/1"]}' \
		'{"ts":"2026-01-01T00:00:01Z","_fx_topic":"t","_fx_partition":0}' \
		'{"ts":"2026-01-01T00:01:00Z","_fx_topic":"t","_fx_partition":0}' \
		'{"ts":"2026-01-01T00:00:02Z","_fx_topic":"t","_fx_partition":1}' \
		'{"_fx":"eof","partition":"t/1"}' \
		'{"ts":"2026-01-01T00:02:00Z","_fx_topic":"t","_fx_partition":0}' >in
	run --separate-stderr fx-agg --time ts --window tumble:1m --agg count --stats <in
	assert_success
	assert_output - <<'EOF'
{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","count":2}
{"window_start":"2026-01-01T00:01:00.000Z","window_end":"2026-01-01T00:02:00.000Z","count":1}
{"window_start":"2026-01-01T00:02:00.000Z","window_end":"2026-01-01T00:03:00.000Z","count":1}
EOF
	assert_regex "$stderr" '0 late records'
	# without the partitions, the same records in that order: one is late
	jq -c 'select(._fx == null) | del(._fx_topic, ._fx_partition)' in |
		fx-agg --time ts --window tumble:1m --agg count --stats 2>err >/dev/null
	grep -q '1 late records' err
}

@test "shards: 4 x --partial then --merge equal the single run" {
	gen 40000 36 >plays.ndjson
	split -n l/4 -d plays.ndjson shard.
	for window in "" "--window tumble:10s" "--window hop:20s/10s" "--window session:2s" "--window cumulate:5s/30s"; do
		args="--time event_time $window --lateness 5s --by os --agg count,sum:duration_ms,avg:duration_ms,min:user_id,max:song_id,first:action,last:action,distinct:artist_id,approx_distinct:user_id,p95:duration_ms,topk:province:3"
		fx-agg $args <plays.ndjson >single
		for s in 0 1 2 3; do fx-agg $args --partial <shard.0$s >part.$s; done
		cat part.0 part.1 part.2 part.3 | fx-agg $args --merge >merged
		[ "$(wc -l <single)" -ge 6 ]
		cmp single merged || { echo "differs with '$window'"; diff single merged | head; return 1; }
	done
}

@test "approximate distinct and quantiles stay within their stated error on 1,000,000 values" {
	gen 1000000 37 --users 300000 | tee plays.ndjson |
		fx-agg --agg distinct:user_id,approx_distinct:user_id,p50:duration_ms,p90:duration_ms,p99:duration_ms >out
	exact=$(jq -r '.user_id' plays.ndjson | sort -u | wc -l)
	jq -e --argjson exact "$exact" '.distinct_user_id == $exact and
		((.approx_distinct_user_id - $exact) | fabs) / $exact <= 0.025' out
	# the exact quantiles, of rank floor(q * (n - 1)), from sort
	jq -r .duration_ms plays.ndjson | sort -n >d.txt
	for q in 50 90 99; do
		want=$(sed -n "$((q * 999999 / 100 + 1))p" d.txt)
		jq -e --argjson w "$want" ".p${q}_duration_ms as \$g | ((\$g - \$w) | fabs) / \$w <= 0.01" out
	done
}

@test "NAME=AGG names columns; dotted fields group and aggregate nested values; missing groups as null" {
	printf '%s\n' '{"d":{"os":"ios"},"m":{"v":2}}' '{"d":{"os":"ios"},"m":{"v":3}}' '{"m":{"v":4}}' >in
	run --separate-stderr fx-agg --by os=d.os --agg n=count,total=sum:m.v,sum:m.v <in
	assert_output - <<'EOF'
{"os":null,"n":1,"total":4,"sum_m_v":4}
{"os":"ios","n":2,"total":5,"sum_m_v":5}
EOF
}

@test "integer sums stay exact integers; a fraction makes a double; overflow is an error" {
	printf '%s\n' '{"v":9007199254740993}' '{"v":1}' >in
	run --separate-stderr fx-agg --agg sum:v <in
	assert_output '{"sum_v":9007199254740994}'
	printf '%s\n' '{"v":1}' '{"v":0.5}' >in
	run --separate-stderr fx-agg --agg sum:v,avg:v <in
	assert_output '{"sum_v":1.5,"avg_v":0.75}'
	printf '%s\n' '{"v":9223372036854775807}' '{"v":1}' >in
	run --separate-stderr fx-agg --agg sum:v <in
	assert_failure 1
	assert_equal "$stderr" 'fx-agg: stdin:2: field "v": sum overflows int64 with: 1'
}

@test "bad input: a non-numeric sum, a missing time, an unparseable time under fail, skip and dlq" {
	printf '%s\n' '{"t":"2026-01-01T00:00:01Z","v":1}' '{"t":"2026-01-01T00:00:02Z","v":"abc"}' \
		'{"v":2}' '{"t":"yesterday","v":3}' '{"t":"2026-01-01T00:00:03Z","v":4}' >in
	run --separate-stderr fx-agg --time t --window tumble:1m --agg sum:v <in
	assert_failure 1
	assert_equal "$stderr" 'fx-agg: stdin:2: field "v": not a number: "abc"'
	run --separate-stderr fx-agg --time t --window tumble:1m --agg sum:v --on-error skip <in
	assert_success
	assert_output '{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","sum_v":5}'
	run --separate-stderr fx-agg --time t --window tumble:1m --agg sum:v --on-error dlq=dead <in
	assert_success
	run jq -c '[._fx_error, .source]' dead
	assert_output - <<'EOF'
["field \"v\": not a number: \"abc\"","stdin:2"]
["field \"t\": missing","stdin:3"]
["field \"t\": not a timestamp: \"yesterday\"","stdin:4"]
EOF
}

@test "usage errors name what is wrong" {
	run --separate-stderr fx-agg --agg count --window tumble:1m
	assert_failure 2
	assert_equal "$stderr" "fx-agg: --window needs --time FIELD (see 'fx-agg --help')"
	run --separate-stderr fx-agg --agg median:x
	assert_failure 2
	assert_regex "$stderr" "unknown aggregate 'median'"
	run --separate-stderr fx-agg --agg count --time t --window tumble:fast
	assert_failure 2
	assert_equal "$stderr" "fx-agg: --window: 'tumble:fast': expected tumble:SIZE, hop:SIZE/SLIDE, cumulate:STEP/MAX or session:GAP (durations like 250ms, 5s, 1m, 2h, 1d) (see 'fx-agg --help')"
	run --separate-stderr fx-agg --agg count,count
	assert_failure 2
	assert_regex "$stderr" "two aggregates named 'count'"
	# the hint names the function, not the NAME= already given
	run --separate-stderr fx-agg --agg x=count,x=sum:v
	assert_failure 2
	assert_equal "$stderr" "fx-agg: --agg: two aggregates named 'x' (name one with NAME=sum:v) (see 'fx-agg --help')"
	run --separate-stderr fx-agg
	assert_failure 2
	assert_equal "$stderr" "fx-agg: --agg: nothing to compute (try --agg count) (see 'fx-agg --help')"
}

@test "64 field paths in all: past them the error names the option's field and fx-agg's own share" {
	# 6 paths are fx-agg's own: 58 group fields fit, the 59th does not
	by58=$(printf -- '--by f%d ' $(seq 1 58))
	run fx-agg $by58 --agg count <<<'{"f1":1,"f58":58}'
	assert_success
	assert_equal "$(jq -c '[.f1, .f58, .f2, .count]' <<<"$output")" '[1,58,null,1]'
	run --separate-stderr fx-agg $by58 --by f59 --agg count <<<'{"f1":1}'
	assert_failure 2
	assert_equal "$stderr" "fx-agg: field 'f59': too many fields (at most 64), 6 of them fields fx-agg reads itself (see 'fx-agg --help')"
	aggs=$(printf -- '--agg sum:f%d ' $(seq 1 59))
	run --separate-stderr fx-agg $aggs <<<'{"f1":1}'
	assert_failure 2
	assert_equal "$stderr" "fx-agg: --agg: 'sum:f59': too many fields (at most 64), 6 of them fields fx-agg reads itself (see 'fx-agg --help')"
}

@test "a group field or an aggregate named as a window's bound or _fx_op of --emit changes is refused, not written twice" {
	printf '{"t":0,"window_start":"x"}\n' >in.ndjson
	run --separate-stderr fx-agg --time t --window tumble:1m --by window_start --agg count in.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-agg: 'window_start' is a group field and the window's bound (name it with NAME=) (see 'fx-agg --help')"
	refute_output
	run --separate-stderr fx-agg --time t --window tumble:1m --agg window_end=count in.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-agg: 'window_end' is an aggregate and the window's bound (name it with NAME=) (see 'fx-agg --help')"
	# renamed, or without a window, the field is a group like any other
	run fx-agg --time t --window tumble:1m --by ws=window_start --agg count in.ndjson
	assert_success
	assert_output '{"window_start":"1970-01-01T00:00:00.000Z","window_end":"1970-01-01T00:01:00.000Z","ws":"x","count":1}'
	run fx-agg --by window_start --agg count in.ndjson
	assert_success
	assert_output '{"window_start":"x","count":1}'
	# a changelog row begins with _fx_op: the same clash
	run --separate-stderr fx-agg --emit changes --by _fx_op --agg count <<<'{"_fx_op":1}'
	assert_failure 2
	assert_equal "$stderr" "fx-agg: '_fx_op' is a group field and the kind of change of --emit changes (name it with NAME=) (see 'fx-agg --help')"
	refute_output
	run --separate-stderr fx-agg --emit changes --agg _fx_op=count <<<'{"k":1}'
	assert_failure 2
	assert_equal "$stderr" "fx-agg: '_fx_op' is an aggregate and the kind of change of --emit changes (name it with NAME=) (see 'fx-agg --help')"
	run fx-agg --emit changes --by op=_fx_op --agg count <<<'{"_fx_op":1}'
	assert_success
	assert_output '{"_fx_op":"+I","op":1,"count":1}'
}

@test "memory: 1,000,000 distinct groups with count and sum stay under 300 MB" {
	gen 1000000 38 --users 100000000 >plays.ndjson
	/usr/bin/time -f '%M' -o rss fx-agg --by user_id --agg count,sum:duration_ms <plays.ndjson >out
	groups=$(wc -l <out)
	echo "groups $groups, peak RSS $(cat rss) KB"
	[ "$groups" -gt 990000 ]
	[ "$(cat rss)" -lt 300000 ]
}

@test "memory: a window costs what its groups hold, not a block of its own: hop:1d/1m (1,440 windows a record) stays small" {
	gen 100 41 >in.ndjson
	/usr/bin/time -f '%M' -o rss fx-agg --time event_time --window hop:1d/1m --by os --agg count in.ndjson >out
	echo "peak RSS: $(cat rss) KB for $(wc -l <out) rows"
	# every record's 1,440 windows are written (100 records, a few os
	# values, spread over minutes: well over 1,440 rows)
	[ "$(wc -l <out)" -gt 1440 ] || fail "too few rows: $(wc -l <out)"
	# it was 1 MiB a window: 1.5 GB
	[ "$(cat rss)" -lt 100000 ] || fail "peak RSS $(cat rss) KB"
}

@test "memory: a long stream with 1-minute windows runs in flat memory" {
	/usr/bin/time -f '%M' -o rss1 bash -c 'gen-plays -n 300000 -s 39 | fx-agg --time event_time --window tumble:1m --lateness 5s --by artist_id --agg count,distinct:user_id >/dev/null'
	/usr/bin/time -f '%M' -o rss2 bash -c 'gen-plays -n 3000000 -s 39 | fx-agg --time event_time --window tumble:1m --lateness 5s --by artist_id --agg count,distinct:user_id >/dev/null'
	echo "peak RSS: $(cat rss1) KB for 300,000 records, $(cat rss2) KB for 3,000,000"
	# ten times the records, not ten times the memory
	[ "$(cat rss2)" -lt $(( $(cat rss1) * 2 )) ]
}

# oracle ARGS...: fx-agg and tests/window-oracle.py over in.ndjson, rows
# compared (the oracle runs in o/: a --late dlq=FILE of its own is o/FILE)
oracle() {
	rm -rf o && mkdir o
	(cd o && python3 "$FX_ROOT/tests/window-oracle.py" "$@" <../in.ndjson >../want.ndjson)
	[ -s want.ndjson ] || fail "the oracle wrote nothing"
	run --separate-stderr fx-agg "$@" <in.ndjson
	assert_success
	printf '%s\n' "$output" >got.ndjson
	run python3 "$FX_ROOT/tests/window-oracle.py" check want.ndjson got.ndjson
	assert_success
}

@test "a late hop or cumulate record is late whole: counted in no window, in the DLQ once (Python oracle)" {
	# hand-checked: hop:10s/5s, lateness 0; 0:12 closes [-5,5) and [0,10);
	# 0:07 belongs to [0,10) (closed) and [5,15) (open): late, in neither
	printf '%s\n' '{"t":"2026-01-01T00:00:03Z"}' '{"t":"2026-01-01T00:00:12Z"}' \
		'{"t":"2026-01-01T00:00:07Z"}' >in.ndjson
	run --separate-stderr fx-agg --time t --window hop:10s/5s --agg count --late dlq=late.ndjson --stats <in.ndjson
	assert_success
	assert_output - <<'EOF2'
{"window_start":"2025-12-31T23:59:55.000Z","window_end":"2026-01-01T00:00:05.000Z","count":1}
{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:00:10.000Z","count":1}
{"window_start":"2026-01-01T00:00:05.000Z","window_end":"2026-01-01T00:00:15.000Z","count":1}
{"window_start":"2026-01-01T00:00:10.000Z","window_end":"2026-01-01T00:00:20.000Z","count":1}
EOF2
	assert_regex "$stderr" ' 1 late records'
	assert_equal "$(cat late.ndjson)" '{"t":"2026-01-01T00:00:07Z"}'
	# and on 5,000 disordered events, hop and cumulate, against the oracle
	rm late.ndjson
	gen 5000 51 --disorder 3000 >in.ndjson
	for w in hop:4s/1s cumulate:1s/4s; do
		oracle --time event_time --window "$w" --lateness 1s --by os \
			--agg count,sum:duration_ms --late dlq=late.ndjson
		[ -s o/late.ndjson ] || fail "no late records with $w"
		cmp o/late.ndjson late.ndjson || fail "the DLQ differs with $w"
		rm late.ndjson
	done
}

@test "a session record is late iff its time is below the watermark, whatever other keys do" {
	# key a at 0:00 and 1:40 (watermark 1:30 with lateness 10s); b at 0:50
	# is below the watermark: late, whether or not a session of a has closed
	printf '%s\n' '{"t":"2026-01-01T00:00:00Z","k":"a"}' '{"t":"2026-01-01T00:01:40Z","k":"a"}' \
		'{"t":"2026-01-01T00:00:50Z","k":"b"}' >in.ndjson
	for gap in 20s 5m; do
		run --separate-stderr fx-agg --time t --window session:$gap --lateness 10s --by k --agg count --stats <in.ndjson
		assert_success
		assert_regex "$stderr" ' 1 late records'
		refute_output --partial '"k":"b"'
	done
	gen 5000 52 --disorder 3000 >in.ndjson
	oracle --time event_time --window session:500ms --lateness 1s --by os --agg count,sum:duration_ms
}

@test "--late update writes a row for a window that had none, also after a watermark record skipped it" {
	# 0:25 closes [0,10) and [10,20); 0:15 is late for [10,20), which had
	# no row: its row comes out now
	printf '%s\n' '{"t":"2026-01-01T00:00:01Z","k":"a"}' '{"t":"2026-01-01T00:00:25Z","k":"a"}' \
		'{"t":"2026-01-01T00:00:15Z","k":"a"}' '{"_fx":"watermark","ts":"2026-01-01T00:01:00Z"}' \
		'{"t":"2026-01-01T00:00:45Z","k":"a"}' >in.ndjson
	run --separate-stderr fx-agg --time t --window tumble:10s --by k --agg count --late update --stats <in.ndjson
	assert_success
	assert_output - <<'EOF2'
{"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:00:10.000Z","k":"a","count":1}
{"window_start":"2026-01-01T00:00:10.000Z","window_end":"2026-01-01T00:00:20.000Z","k":"a","count":1}
{"window_start":"2026-01-01T00:00:20.000Z","window_end":"2026-01-01T00:00:30.000Z","k":"a","count":1}
{"_fx":"watermark","ts":"2026-01-01T00:01:00Z"}
{"window_start":"2026-01-01T00:00:40.000Z","window_end":"2026-01-01T00:00:50.000Z","k":"a","count":1}
EOF2
	assert_regex "$stderr" ' 2 late records'
	# a late hop record: corrected rows for its closed windows, and counted
	# in its open ones (Python oracle)
	gen 5000 53 --disorder 3000 >in.ndjson
	oracle --time event_time --window hop:3s/1s --lateness 1s --by os --agg count,sum:duration_ms --late update
	oracle --time event_time --window tumble:1s --lateness 500ms --by os --agg count --late update
}

@test "sums near a double's edge are exact in every order: 1e308 + 1e308 - 1e308 is 1e308 (Fraction oracle)" {
	# big values that cancel, beside normal, tiny and integer ones; a
	# naive or part-way sum overflows in some orders and not in others
	python3 - >in.ndjson <<'PY'
import json, random
random.seed(67)
big = [1e308, -1e308, 1.7e308, -1.7e308, 2.0**1000, -2.0**1000, 1e300, -1e300, 1e288, -1e288]
rest = [5e-324, -5e-324, 1e-300, 0.1, -2.5, 1e16, 3]
for i in range(6000):
    k = i % 12
    v = random.choice(big if random.random() < 0.4 else rest)
    if k == 11 and v in big:
        v = abs(v)  # one group past a double's range: null
    print(json.dumps({"k": "k%02d" % k, "v": v}))
PY
	python3 - in.ndjson >want.ndjson <<'PY'
import json, sys
from fractions import Fraction
g = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    g.setdefault(r["k"], []).append(r["v"])
for k in sorted(g):
    try:
        s = float(sum(Fraction(x) for x in g[k]))
        a = s / len(g[k])
    except OverflowError:
        s = a = None
    print(json.dumps({"k": k, "sum_v": s, "avg_v": a}))
PY
	args="--by k --agg sum:v,avg:v"
	fx-agg $args in.ndjson >single
	same_rows want.ndjson single
	grep -q '"k":"k11","sum_v":null' single || fail "k11 is not past the range: $(grep k11 single)"
	# the records reversed, two threads, and shards merged: the same bytes
	tac in.ndjson | fx-agg $args >reversed
	cmp single reversed
	fx-agg -j2 $args in.ndjson >threads
	cmp single threads
	split -n l/3 -d in.ndjson shard.
	for s in 0 1 2; do fx-agg $args --partial <shard.0$s >part.$s; done
	cat part.2 part.0 part.1 | fx-agg $args --merge >merged
	cmp single merged
}

@test "double sums and averages are exact: the single run is math.fsum's, and 4 shards merged are the single run" {
	# values of very different magnitudes, so that the order of adding
	# changes a naive sum's last digits
	python3 - >in.ndjson <<'PY'
import json, random
random.seed(61)
for i in range(8000):
    v = random.choice([1, -1]) * random.random() * 10 ** random.randint(-6, 16)
    r = {"t": 1764000000 + i // 100, "k": "k%d" % (i % 7), "v": v}
    if i % 5 == 0:
        r["v"] = random.randint(-1000, 1000)  # integers mixed in
    print(json.dumps(r))
PY
	python3 - in.ndjson >want.ndjson <<'PY'
import json, math, sys
g = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    g.setdefault(r["k"], []).append(r["v"])
for k in sorted(g):
    s = math.fsum(g[k])
    print(json.dumps({"k": k, "sum_v": s, "avg_v": s / len(g[k])}))
PY
	args="--by k --agg sum:v,avg:v"
	fx-agg $args <in.ndjson >single
	same_rows want.ndjson single
	split -n l/4 -d in.ndjson shard.
	for s in 0 1 2 3; do fx-agg $args --partial <shard.0$s >part.$s; done
	# in another order than the input, too
	cat part.3 part.1 part.0 part.2 | fx-agg $args --merge >merged
	cmp single merged
	for window in "--window tumble:10s" "--window session:2s"; do
		fx-agg --time t $window $args <in.ndjson >single
		for s in 0 1 2 3; do fx-agg --time t $window $args --partial <shard.0$s >part.$s; done
		cat part.2 part.0 part.3 part.1 | fx-agg --time t $window $args --merge >merged
		[ "$(wc -l <single)" -ge 7 ] || fail "too few rows with $window"
		cmp single merged || fail "--merge differs from the single run with $window"
	done
	# integers stay integers, also through a merge
	printf '%s\n' '{"v":9007199254740993}' '{"v":1}' >in
	fx-agg --agg sum:v --partial <in | fx-agg --agg sum:v --merge >out
	assert_equal "$(cat out)" '{"sum_v":9007199254740994}'
}

@test "first/last without --time are by arrival, which shards do not share: --partial wants --time" {
	run --separate-stderr fx-agg --agg first:v --partial </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-agg: --partial: first and last without --time are by arrival order within one run, which shards do not share: give --time FIELD (see 'fx-agg --help')"
	run --separate-stderr fx-agg --agg last:v --merge </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-agg: --merge: first and last without --time are by arrival order within one run, which shards do not share: give --time FIELD (see 'fx-agg --help')"
	# with --time, shards merge to the single run
	printf '%s\n' '{"t":3,"v":"c"}' '{"t":1,"v":"a"}' >s0
	printf '%s\n' '{"t":2,"v":"b"}' '{"t":4,"v":"d"}' >s1
	for s in s0 s1; do fx-agg --time t --agg first:v,last:v --partial <$s >$s.p; done
	run --separate-stderr fx-agg --time t --agg first:v,last:v --merge s1.p s0.p
	assert_output '{"first_v":"a","last_v":"d"}'
}

@test "first/last ties of event time go by value, so any order of the records gives the same bytes" {
	# at t=1 three values tie: first takes the least, last the greatest
	printf '%s\n' '{"t":1,"k":"a","v":"b"}' '{"t":1,"k":"a","v":"a"}' '{"t":1,"k":"a","v":"c"}' \
		'{"t":2,"k":"b","v":2}' '{"t":2,"k":"b","v":10}' '{"t":2,"k":"b","v":1.5}' >in
	want='{"k":"a","first_v":"a","last_v":"c"}
{"k":"b","first_v":1.5,"last_v":10}'
	for order in cat tac "sort" "sort -r"; do
		$order in >in.$$
		run --separate-stderr fx-agg --time t --by k --agg first:v,last:v in.$$
		assert_success
		assert_output "$want"
		# and in windows, and through --partial/--merge of two halves
		run --separate-stderr fx-agg --time t --time-unit s --window tumble:1m --by k --agg first:v,last:v in.$$
		assert_output --partial '"k":"a","first_v":"a","last_v":"c"}'
		assert_output --partial '"k":"b","first_v":1.5,"last_v":10}'
		head -3 in.$$ | fx-agg --time t --by k --agg first:v,last:v --partial >p1
		tail -3 in.$$ | fx-agg --time t --by k --agg first:v,last:v --partial >p2
		run --separate-stderr fx-agg --time t --by k --agg first:v,last:v --merge p2 p1
		assert_output "$want"
	done
}

@test "one spelling of a string: topk, distinct, min, max, first and last count \"x\" and \"\\u0078\" as one value" {
	printf '%s\n' '{"t":1,"v":"\u0078"}' '{"t":2,"v":"x"}' '{"t":3,"v":"y"}' '{"t":4,"v":"\u0078"}' \
		'{"t":5,"v":"\u00e9\/"}' >in
	run --separate-stderr fx-agg --time t --agg topk:v:2,distinct:v,approx_distinct:v,min:v,first:v,last:v <in
	assert_success
	assert_output '{"top2_v":[{"value":"x","count":3},{"value":"y","count":1}],"distinct_v":3,"approx_distinct_v":3,"min_v":"x","first_v":"x","last_v":"é/"}'
	# topk through --partial and --merge, the spellings in different shards;
	# numbers keep their spelling (1.0 is not 1)
	printf '%s\n' '{"v":"\u0078"}' '{"v":1.0}' '{"v":1.0}' >s1
	printf '%s\n' '{"v":"x"}' '{"v":"x"}' '{"v":2}' >s2
	for s in s1 s2; do fx-agg --agg topk:v:3 --partial <$s >$s.p; done
	run --separate-stderr fx-agg --agg topk:v:3 --merge s1.p s2.p
	assert_success
	assert_output '{"top3_v":[{"value":"x","count":3},{"value":1.0,"count":2},{"value":2,"count":1}]}'
	run --separate-stderr fx-agg --agg topk:v:3 s1 s2
	assert_output '{"top3_v":[{"value":"x","count":3},{"value":1.0,"count":2},{"value":2,"count":1}]}'
}

@test "p1 .. p99: any whole percentile, within 1% of the value of rank floor(q(n-1)) (Python oracle)" {
	python3 - >in <<'PY'
import random
random.seed(71)
for i in range(20000):
    print('{"k":%d,"v":%r}' % (i % 3, random.lognormvariate(5, 2)))
PY
	run --separate-stderr fx-agg --by k --agg p1:v,p33:v,p75:v,p99:v <in
	assert_success
	printf '%s\n' "$output" >out
	# the rule fx-agg(1) documents: the value of rank floor(q * (n - 1)) in
	# sorted order, within 1% relative error
	run python3 - in out <<'PY'
import json, sys
vals = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    vals.setdefault(r["k"], []).append(r["v"])
rows = [json.loads(l) for l in open(sys.argv[2])]
assert [r["k"] for r in rows] == [0, 1, 2], rows
for r in rows:
    xs = sorted(vals[r["k"]])
    for q in (1, 33, 75, 99):
        want = xs[int(q / 100 * (len(xs) - 1))]
        got = r["p%d_v" % q]
        if abs(got - want) / want > 0.01:
            print("k=%d p%d: %r, want %r" % (r["k"], q, got, want))
            sys.exit(1)
print("ok")
PY
	assert_success
	assert_output ok
	for bad in p0 p100 p075 p7.5 p; do
		run --separate-stderr fx-agg --agg "$bad:v" </dev/null
		assert_failure 2
		assert_regex "$stderr" "unknown aggregate '$bad'|p1 to p99"
	done
}

@test "quantile:F:Q and topk:F:N name their column from the value, not its spelling: one value, one name" {
	local q want
	local -A names=(
		[0]=q0_v [-0]=q0_v [0.0]=q0_v [+0]=q0_v
		[1]=q1_v [1.0]=q1_v [1e0]=q1_v
		[0.1]=q0_1_v [.1]=q0_1_v [0.10]=q0_1_v [1e-1]=q0_1_v [+1e-1]=q0_1_v
		[0.5]=q0_5_v [5e-1]=q0_5_v [0x0.8]=q0_5_v [0.50]=q0_5_v
		[0.999]=q0_999_v [9.99e-1]=q0_999_v
		[1e-5]=q0_00001_v [0.30000000000000004]=q0_30000000000000004_v
	)
	for q in "${!names[@]}"; do
		want=${names[$q]}
		run --separate-stderr fx-agg --agg "quantile:v:$q" <<<'{"v":2}'
		assert_success
		assert_equal "$output" "{\"$want\":2}"
	done
	for q in 3 03 +3; do
		run --separate-stderr fx-agg --agg "topk:v:$q" <<<'{"v":2}'
		assert_success
		assert_equal "$output" '{"top3_v":[{"value":2,"count":1}]}'
	done
	# two spellings of one quantile are one name: the usage error of any
	# two aggregates with one name
	run --separate-stderr fx-agg --agg quantile:v:0.1,quantile:v:1e-1 <<<'{"v":2}'
	assert_failure 2
	assert_equal "$stderr" "fx-agg: --agg: two aggregates named 'q0_1_v' (name one with NAME=quantile:v:1e-1) (see 'fx-agg --help')"
}

@test "fx-agg(1) says what the code does: [start, end), hop and cumulate multiples, quantile's default name" {
	man="$FX_ROOT/share/man/man1/fx-agg.1"
	# windows are half-open
	run grep -c 'Bq start , end' "$man"
	assert_output 0
	run grep -cF '.Li [start, end) ,' "$man"
	assert_output 1
	run grep -cF '.Li [first, last + gap) )' "$man"
	assert_output 1
	# quantile:F:Q's default column name, as the code writes it
	name=$(echo '{"v":1}' | fx-agg --agg quantile:v:0.999 | jq -r 'keys[0]')
	assert_equal "$name" q0_999_v
	run grep -cF 'q0_999_ Ns Ar F' "$man"
	refute_output 0
	run grep -cF 'q0.999_' "$man"
	assert_output 0
	# hop SIZE a multiple of SLIDE, cumulate MAX of STEP: said, and enforced
	run grep -cE 'must be a multiple of' "$man"
	assert_output 2
	run --separate-stderr fx-agg --time t --window hop:10s/3s --agg count </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-agg: --window: 'hop:10s/3s': SIZE (10s) must be a multiple of SLIDE (3s) (see 'fx-agg --help')"
	run --separate-stderr fx-agg --time t --window cumulate:7s/1m --agg count </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-agg: --window: 'cumulate:7s/1m': MAX (1m) must be a multiple of STEP (7s) (see 'fx-agg --help')"
	run fx-agg --help
	assert_output --partial 'p1:F..p99:F'
	assert_output --partial 'hop:SIZE/SLIDE (SIZE a multiple of SLIDE)'
}

@test "--late dlq=FILE that cannot be opened is an I/O error before any record is read" {
	mkfifo in
	# nobody ever writes to "in": only a check made before reading can end this
	run --separate-stderr timeout 5 fx-agg --time t --window tumble:1m --agg count \
		--late dlq=nosuch/late.ndjson in
	assert_equal "$status" 3
	assert_equal "$stderr" "fx-agg: nosuch/late.ndjson: cannot open late-record file: No such file or directory"
	assert_output ""
	# an openable one is created at start-up, empty while nothing is late
	printf '{"t":0}\n' | fx-agg --time t --time-unit s --window tumble:1m --agg count --late dlq=late.ndjson >out.ndjson
	[ -f late.ndjson ] && [ ! -s late.ndjson ] || fail "late.ndjson not created empty"
	assert_equal "$(cat out.ndjson)" '{"window_start":"1970-01-01T00:00:00.000Z","window_end":"1970-01-01T00:01:00.000Z","count":1}'
}

@test "min, max and the row order compare numbers by exact value past int64 and a double's precision, as python3's Decimal" {
	python3 - >in.ndjson <<-'EOF'
	import json, random
	random.seed(7)
	bases = ["9223372036854775807", "9223372036854775808", "-9223372036854775808",
	    "-9223372036854775809", "1e20", "99999999999999999999.9", "100000000000000000000",
	    "9007199254740993", "9007199254740992.5", "1", "1.0", "0.1", "0.10000000000000000001",
	    "1e400", "2e400", "-1e400", "0", "-0", "1e-320", "1E-320"]
	# each group a few of the values, so that close ones meet
	for k in range(200):
	    for b in random.sample(bases, random.randrange(2, 5)):
	        print('{"k":%d,"v":%s}' % (k, b))
	EOF
	run fx-agg --by k --agg min:v,max:v in.ndjson
	assert_success
	echo "$output" >got.ndjson
	python3 - <<-'EOF' || fail "min/max differ from Decimal's"
	import json, re
	from decimal import Decimal
	raw = {}
	for line in open("in.ndjson"):
	    k, v = re.match(r'\{"k":(\d+),"v":(.*)\}$', line.strip()).groups()
	    raw.setdefault(int(k), []).append(v)
	got = {}
	for line in open("got.ndjson"):
	    m = re.match(r'\{"k":(\d+),"min_v":(.*),"max_v":(.*)\}$', line.strip())
	    got[int(m.group(1))] = (m.group(2), m.group(3))
	key = lambda s: (Decimal(s), s.encode())
	want = {k: (min(v, key=key), max(v, key=key)) for k, v in raw.items()}
	assert got == want, (got, want)
	EOF
	# the rows of a number group field in the same order
	run fx-agg --by v --agg count in.ndjson
	assert_success
	python3 -c '
import json, sys
from decimal import Decimal
rows = [l.split(",", 1)[0][len("{\"v\":"):] for l in sys.argv[1].splitlines()]
assert rows == sorted(rows, key=lambda s: (Decimal(s), s.encode())), rows
assert len(rows) == 20, rows' "$output" || fail "rows not in Decimal order"
}

@test "topk: the N most frequent, ties by value, as python3's Counter sorted by count then value" {
	python3 - >in.ndjson <<-'EOF'
	import json, random
	random.seed(11)
	for i in range(60000):
	    r = random.random()
	    v = random.randrange(-30, 30) if r < 0.4 else "s%d" % random.randrange(400 if r < 0.8 else 20000)
	    print(json.dumps({"g": random.randrange(4), "v": v}))
	EOF
	for k in 1 3 7 50; do
		fx-agg --by g --agg top=topk:v:$k in.ndjson >got.$k.ndjson
	done
	python3 - <<-'EOF' || fail "topk differs from Counter's"
	import json, collections
	groups = collections.defaultdict(collections.Counter)
	for line in open("in.ndjson"):
	    r = json.loads(line)
	    groups[r["g"]][json.dumps(r["v"])] += 1
	def order(item):
	    text, n = item
	    v = json.loads(text)
	    # numbers before strings; numbers by value, strings by their bytes
	    return (-n, 0, v, "") if isinstance(v, int) else (-n, 1, 0, text.encode())
	for k in (1, 3, 7, 50):
	    got = {r["g"]: r["top"] for r in map(json.loads, open("got.%d.ndjson" % k))}
	    want = {g: [{"value": json.loads(t), "count": n}
	                for t, n in sorted(c.items(), key=order)[:k]]
	            for g, c in groups.items()}
	    assert got == want, (k, got, want)
	EOF
}

@test "out of memory: exit 3 and 'fx-agg: out of memory', not abort()'s 134" {
	seq 1 300000 | awk '{ printf "{\"k\":\"key%d\"}\n", $1 }' >many.ndjson
	run --separate-stderr bash -c 'ulimit -v 50000; fx-agg --by k --agg n=count many.ndjson'
	assert_failure 3
	assert_equal "$stderr" "fx-agg: out of memory"
	assert_output ""
	# the limit leaves room for a small job
	run bash -c 'ulimit -v 50000; echo "{\"k\":1}" | fx-agg --by k --agg n=count'
	assert_success
	assert_output '{"k":1,"n":1}'
}

@test "a window past 9999-12-31 is written +10000-… and read back: by --merge, and as event time" {
	printf '%s\n' '{"t":"-0001-12-31T23:59:59.999Z","k":"a"}' \
		'{"t":"9999-12-31T23:59:59Z","k":"a"}' \
		'{"t":"+10000-01-01T00:00:00.000Z","k":"a"}' >in.ndjson
	args='--by k --time t --window tumble:1d --agg count'
	fx-agg $args <in.ndjson >single
	run cat single
	assert_output - <<'OUT'
{"window_start":"-0001-12-31T00:00:00.000Z","window_end":"0000-01-01T00:00:00.000Z","k":"a","count":1}
{"window_start":"9999-12-31T00:00:00.000Z","window_end":"+10000-01-01T00:00:00.000Z","k":"a","count":1}
{"window_start":"+10000-01-01T00:00:00.000Z","window_end":"+10000-01-02T00:00:00.000Z","k":"a","count":1}
OUT
	fx-agg $args --partial <in.ndjson >part
	run fx-agg $args --merge <part
	assert_success
	assert_output "$(cat single)"
	# zero padding past four digits, or a sign on 0000-9999, is not read
	run --separate-stderr fx-agg $args <<<'{"t":"+09999-12-31T00:00:00Z","k":"a"}'
	assert_failure 1
	[ "$stderr" = 'fx-agg: stdin:1: field "t": not a timestamp: "+09999-12-31T00:00:00Z"' ] || fail "$stderr"
}
