#!/usr/bin/env bash
# tests/bench/run.sh - fx throughput against cat, jq, mlr (and later sqlite3,
# kcat) on the same generated data, in the same run. See tests/bench/README.md.
#
#   tests/bench/run.sh                       (or: make bench)
#   FX_BENCH_N=200000 tests/bench/run.sh     a quick run
#   FX_BENCH_ONLY=passthrough,csv            a subset of the sections
#   FX_BENCH_RUNS=5                          runs per case (median; at least 3)
#   FX_BENCH_CPUS=0                          run every case under taskset -c 0
#   FX_BENCH_PRODUCE_N=200000                events of the produce section
#
# Sections: passthrough csv agg join kafka produce checkpoint duckdb. A section whose fx program does
# not exist yet prints a line saying it was skipped.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh

N=${FX_BENCH_N:-2000000}
RUNS=${FX_BENCH_RUNS:-3}
ONLY=${FX_BENCH_ONLY:-}
SEED=${FX_BENCH_SEED:-1}
PIN=${FX_BENCH_CPUS:+taskset -c $FX_BENCH_CPUS}
DATA=tests/bench/data
RESULTS=tests/bench/results
GEN=build/gen-plays
BIN=${FX_BENCH_BIN:-bin} # FX_BENCH_BIN: benchmark programs from elsewhere

case "$N" in '' | *[!0-9]*) log "bench: FX_BENCH_N must be a number"; exit 2 ;; esac
case "$RUNS" in '' | *[!0-9]*) log "bench: FX_BENCH_RUNS must be a number"; exit 2 ;; esac
if [ "$RUNS" -lt 3 ]; then
	log "bench: FX_BENCH_RUNS=$RUNS is below 3; the figures are not a median of 3"
fi
for tool in jq awk; do
	have "$tool" || { log "bench: $tool is required"; exit 2; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fx-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# ---- data -------------------------------------------------------------------

if [ ! -x "$GEN" ] || [ tests/bench/gen-plays.c -nt "$GEN" ]; then
	make -s "$GEN" 2>/dev/null || {
		mkdir -p build
		${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -o "$GEN" tests/bench/gen-plays.c -lm
	}
fi

# the scanner alone (the passthrough section)
if [ ! -x build/bench-validate ] || [ tests/bench/validate.c -nt build/bench-validate ]; then
	make -s build/bench-validate 2>/dev/null || log "bench: build/bench-validate not built"
fi

mkdir -p "$DATA" "$RESULTS"
PLAYS=$DATA/plays-$N-s$SEED.ndjson
PLAYS_CSV=$DATA/plays-$N-s$SEED.csv
SONGS=$DATA/songs-200000.csv # the dimension the events' song_id refers to

# gen FILE GENERATOR-ARGS...: (re)generate FILE if missing or older than the
# generator; written to a temporary name and renamed.
gen() {
	local file="$1"
	shift
	if [ -s "$file" ] && [ ! "$GEN" -nt "$file" ]; then
		return 0
	fi
	log "bench: generating $file"
	"$GEN" "$@" -o "$file.tmp"
	mv "$file.tmp" "$file"
}
gen "$PLAYS" -n "$N" -s "$SEED"
gen "$PLAYS_CSV" -n "$N" -s "$SEED" --csv
if [ ! -s "$SONGS" ] || [ "$GEN" -nt "$SONGS" ]; then
	log "bench: generating $SONGS"
	"$GEN" -n 0 -s "$SEED" --songs 200000 --dim-songs "$SONGS.tmp"
	mv "$SONGS.tmp" "$SONGS"
fi

PLAYS_BYTES=$(stat -c %s "$PLAYS")
CSV_BYTES=$(stat -c %s "$PLAYS_CSV")
# a small sample for the correctness checks that come before timing fx
head -n 1000 "$PLAYS" >"$TMP/sample.ndjson"
head -n 1001 "$PLAYS_CSV" >"$TMP/sample.csv"
# every case reads its input from the page cache, and none runs beside the
# writeback of data just generated (260 MB of dirty pages slowed the first
# section's runs, cat | cat's among them, 2-5x)
sync "$PLAYS" "$PLAYS_CSV" "$SONGS"
cat "$PLAYS" "$PLAYS_CSV" >/dev/null

q() { printf '%q' "$1"; } # quote a path for a command line

# ---- pass-through: cat | cat, fx-consume | fx-sink, jq -c ., mlr cat --------

section_passthrough() {
	local f
	f=$(q "$PLAYS")
	bench_case "cat | cat" "$PLAYS_BYTES" "$N" "cat $f | cat > /dev/null"
	if [ -x "$BIN/fx-consume" ] && [ -x "$BIN/fx-sink" ]; then
		if check_same "fx-consume | fx-sink" "$TMP/sample.ndjson" \
			"$BIN/fx-consume $TMP/sample.ndjson | $BIN/fx-sink"; then
			bench_case "fx-consume | fx-sink" "$PLAYS_BYTES" "$N" \
				"$BIN/fx-consume $f | $BIN/fx-sink > /dev/null"
		else
			bench_skip "fx-consume | fx-sink" "$CHECK_WHY"
		fi
	else
		bench_skip "fx-consume | fx-sink" "bin/fx-consume or bin/fx-sink not built"
	fi
	bench_case "jq -c ." "$PLAYS_BYTES" "$N" "jq -c . $f > /dev/null"
	bench_case "mlr --ijsonl --ojsonl cat" "$PLAYS_BYTES" "$N" \
		"mlr --ijsonl --ojsonl cat $f > /dev/null"

	# one core's validation, from memory (CPU time; see validate.c)
	if [ -x build/bench-validate ]; then
		bench_self "validate, one core" "$PLAYS_BYTES" "$N" "build/bench-validate $f"
		bench_self "validate, portable" "$PLAYS_BYTES" "$N" "FX_SIMD=off build/bench-validate $f"
		ratio "validate, one core" "validate, portable" "portable"
	else
		bench_skip "validate, one core" "build/bench-validate not built"
	fi

	ratio "fx-consume | fx-sink" "cat | cat" "cat"
	ratio "fx-consume | fx-sink" "jq -c ." "jq"
	ratio "fx-consume | fx-sink" "mlr --ijsonl --ojsonl cat" "mlr"
	goal_speed "fx-consume | fx-sink" 1000 "pass-through at least 1 GB/s (issues 2, 15)"
	goal_ratio "fx-consume | fx-sink" "cat | cat" 0.6 "pass-through at least 0.6x cat | cat (issue 15)"
	goal_speed "validate, one core" 2000 "one core validates at least 2 GB/s (issue 15)"
}

# ---- CSV to NDJSON: fx-consume FILE.csv vs mlr --icsv --ojsonl cat -----------

section_csv() {
	local f
	f=$(q "$PLAYS_CSV")
	if [ -x "$BIN/fx-consume" ]; then
		# the CSV holds the same events as the NDJSON: the values must agree
		if check_same "fx-consume CSV" "$TMP/sample.ndjson" \
			"$BIN/fx-consume $TMP/sample.csv | jq -c ."; then
			bench_case "fx-consume CSV" "$CSV_BYTES" "$N" \
				"$BIN/fx-consume $f > /dev/null"
		else
			bench_skip "fx-consume CSV" "$CHECK_WHY"
		fi
	else
		bench_skip "fx-consume CSV" "bin/fx-consume not built"
	fi
	bench_case "mlr --icsv --ojsonl cat" "$CSV_BYTES" "$N" \
		"mlr --icsv --ojsonl cat $f > /dev/null"

	ratio "fx-consume CSV" "mlr --icsv --ojsonl cat" "mlr"
	goal_ratio "fx-consume CSV" "mlr --icsv --ojsonl cat" 10 "CSV to NDJSON at least 10x mlr (issue 2)"
}

# ---- group-by and windows (issue 4) ----------------------------------------

# sqlite3 gets the events loaded into a table once, outside the timing: fx
# reads raw JSON every time and must still be faster.
sqlite_db() {
	local db=$DATA/plays-$N-s$SEED.db
	if [ ! -s "$db" ] || [ "$PLAYS_CSV" -nt "$db" ]; then
		log "bench: loading $db (not timed)"
		rm -f "$db.tmp"
		sqlite3 "$db.tmp" <<EOF
.mode csv
.import $PLAYS_CSV plays_raw
CREATE TABLE plays AS SELECT event_time, CAST(user_id AS INTEGER) AS user_id,
	CAST(song_id AS INTEGER) AS song_id, CAST(artist_id AS INTEGER) AS artist_id,
	os, province, action, CAST(duration_ms AS INTEGER) AS duration_ms, dt FROM plays_raw;
DROP TABLE plays_raw;
EOF
		mv "$db.tmp" "$db"
	fi
	echo "$db"
}

section_agg() {
	local f db jqprog by="--by artist_id,os --agg count,sum:duration_ms,avg:duration_ms"
	if [ ! -x "$BIN/fx-agg" ]; then
		bench_skip "agg (fx-agg vs mlr/jq/sqlite3)" "bin/fx-agg not built"
		return 0
	fi
	f=$(q "$PLAYS")
	if check_same "fx-agg by artist_id,os" \
		<(mlr --ijsonl --ojsonl stats1 -a count,sum -f duration_ms -g artist_id,os \
			then sort -nf artist_id -f os then cut -o -f artist_id,os,duration_ms_count,duration_ms_sum \
			"$TMP/sample.ndjson" | jq -c '[.artist_id,.os,.duration_ms_count,.duration_ms_sum]') \
		"$BIN/fx-agg --by artist_id,os --agg count,sum:duration_ms $TMP/sample.ndjson | jq -c '[.artist_id,.os,.count,.sum_duration_ms]'"; then
		bench_case "fx-agg by artist_id,os" "$PLAYS_BYTES" "$N" "$BIN/fx-agg $by $f > /dev/null"
		bench_case "fx-agg tumble:1m by artist_id,os" "$PLAYS_BYTES" "$N" \
			"$BIN/fx-agg --time event_time --window tumble:1m --lateness 5s $by $f > /dev/null"
		bench_case "fx-agg distinct:user_id by os" "$PLAYS_BYTES" "$N" \
			"$BIN/fx-agg --by os --agg distinct:user_id $f > /dev/null"
	else
		bench_skip "fx-agg" "$CHECK_WHY"
	fi
	bench_case "mlr stats1 by artist_id,os" "$PLAYS_BYTES" "$N" \
		"mlr --ijsonl --ojsonl stats1 -a count,sum,mean -f duration_ms -g artist_id,os $f > /dev/null"
	# jq's reduce into one object with a key per group is quadratic here
	# (3.5 min for 100,000 events); group_by over the slurped input is its
	# fast way
	jqprog='group_by([.artist_id, .os])[] | {artist_id: .[0].artist_id, os: .[0].os, count: length, sum: (map(.duration_ms) | add)} | .avg = .sum / .count'
	bench_case "jq group by artist_id,os" "$PLAYS_BYTES" "$N" "jq -s -c $(q "$jqprog") $f > /dev/null"
	if have sqlite3; then
		db=$(sqlite_db)
		bench_case "sqlite3 GROUP BY (table loaded)" "$PLAYS_BYTES" "$N" \
			"sqlite3 $(q "$db") 'SELECT artist_id, os, count(*), sum(duration_ms), avg(duration_ms) FROM plays GROUP BY artist_id, os' > /dev/null"
	fi
	bench_case "mlr stats1 distinct_count user_id by os" "$PLAYS_BYTES" "$N" \
		"mlr --ijsonl --ojsonl stats1 -a distinct_count -f user_id -g os $f > /dev/null"

	ratio "fx-agg by artist_id,os" "mlr stats1 by artist_id,os" "mlr"
	ratio "fx-agg by artist_id,os" "jq group by artist_id,os" "jq"
	ratio "fx-agg by artist_id,os" "sqlite3 GROUP BY (table loaded)" "sqlite3"
	ratio "fx-agg distinct:user_id by os" "mlr stats1 distinct_count user_id by os" "mlr"
	goal_ratio "fx-agg by artist_id,os" "mlr stats1 by artist_id,os" 20 "group-by at least 20x mlr stats1 (issue 4)"
	goal_ratio "fx-agg by artist_id,os" "jq group by artist_id,os" 20 "group-by at least 20x jq (issue 4)"
	goal_ratio "fx-agg by artist_id,os" "sqlite3 GROUP BY (table loaded)" 1 "group-by faster than sqlite3 on a loaded table (issue 4)"
	goal_ratio "fx-agg distinct:user_id by os" "mlr stats1 distinct_count user_id by os" 20 "exact distinct at least 20x mlr (issue 4)"
	goal_cost "fx-agg tumble:1m by artist_id,os" "fx-agg by artist_id,os" 1.5 "1-minute windows cost at most 1.5x the plain group-by (issue 4)"
}

# ---- lookup join (issue 5) ----------------------------------------------------

section_join() {
	local f songs1m
	if [ ! -x "$BIN/fx-join" ]; then
		bench_skip "join (fx-join vs mlr join)" "bin/fx-join not built"
		return 0
	fi
	f=$(q "$PLAYS")
	bench_case "fx-join songs (200,000 rows)" "$PLAYS_BYTES" "$N" \
		"$BIN/fx-join --dim $(q "$SONGS") --on song_id --fields title,genre $f > /dev/null"
	# the same on one core: what -j (default: every core) gains
	bench_case "fx-join songs -j1" "$PLAYS_BYTES" "$N" \
		"$BIN/fx-join -j1 --dim $(q "$SONGS") --on song_id --fields title,genre $f > /dev/null"
	bench_case "mlr join songs (unsorted)" "$PLAYS_BYTES" "$N" \
		"mlr --ijsonl --ojsonl join -i csv -j song_id -f $(q "$SONGS") $f > /dev/null"
	ratio "fx-join songs (200,000 rows)" "mlr join songs (unsorted)" "mlr"
	ratio "fx-join songs (200,000 rows)" "fx-join songs -j1" "-j1"
	goal_ratio "fx-join songs (200,000 rows)" "mlr join songs (unsorted)" 20 "lookup join at least 20x mlr join (issue 5)"
	goal_rss "fx-join songs (200,000 rows)" "mlr join songs (unsorted)" 10 "lookup join in a tenth of mlr's memory (issue 5)"
	songs1m=$DATA/songs-1000000.csv
	if [ ! -s "$songs1m" ] || [ "$GEN" -nt "$songs1m" ]; then
		"$GEN" -n 0 -s "$SEED" --songs 1000000 --dim-songs "$songs1m.tmp"
		mv "$songs1m.tmp" "$songs1m"
	fi
	head -n 1 "$PLAYS" >"$TMP/one.ndjson"
	bench_case "fx-join load 1,000,000-row dimension" "$(stat -c %s "$songs1m")" 1000000 \
		"$BIN/fx-join --dim $(q "$songs1m") --on song_id --fields title,genre $TMP/one.ndjson > /dev/null"
	goal_seconds "fx-join load 1,000,000-row dimension" 2 "a 1,000,000-row dimension loads in under 2 s (issue 5)"
}

# ---- Kafka: fx-sink vs kcat -P, fx-consume -e vs kcat -C -e (issue 3) --------
# Through fx-devbroker (librdkafka's mock cluster, in this process tree), on
# the first 1,000,000 events and 64-partition topics. The mock keeps only
# ~5 MiB per partition: 1,000,000 events are ~182 MB, ~2.8 MiB a partition,
# so every produce run writes a fresh topic (never one that holds a run
# already). Topics are created at start: the mock cannot create topics of
# 64 partitions later. Both consumers read the same topic, without a group
# (kcat -C has none). The broker is stopped by its pid.

KAFKA_PARTS=64
# produce runs each tool may take: hyperfine adds runs to fast cases
KAFKA_TOPICS=$((RUNS + 16))
DEVBROKER_PID=

kafka_stop() {
	if [ -n "$DEVBROKER_PID" ]; then
		kill "$DEVBROKER_PID" 2>/dev/null || true
		wait "$DEVBROKER_PID" 2>/dev/null || true
		DEVBROKER_PID=
	fi
}

# kafka_start [TOPIC:PARTITIONS...]: fx-devbroker with these topics (by
# default those of every run of the kafka section); sets B
kafka_start() {
	local args=(--topic "bench_src:$KAFKA_PARTS" --topic bench_check:4) i
	for ((i = 1; i <= KAFKA_TOPICS; i++)); do
		args+=(--topic "bench_fx_$i:$KAFKA_PARTS" --topic "bench_kcat_$i:$KAFKA_PARTS")
	done
	if [ $# -gt 0 ]; then
		args=()
		for i in "$@"; do args+=(--topic "$i"); done
	fi
	rm -f "$TMP/bs" # not the last broker's address
	"$BIN/fx-devbroker" "${args[@]}" --bootstrap-file "$TMP/bs" \
		>/dev/null 2>"$TMP/devbroker.err" &
	DEVBROKER_PID=$!
	trap 'kafka_stop; rm -rf "$TMP"' EXIT
	# the kafka section's 40-odd topics of 64 partitions take fx-devbroker
	# about 20 s to create: up to 2 minutes, while it runs
	for ((i = 0; i < 2400; i++)); do
		[ -s "$TMP/bs" ] && break
		kill -0 "$DEVBROKER_PID" 2>/dev/null || break
		sleep 0.05
	done
	B=$(cat "$TMP/bs" 2>/dev/null || true)
	[ -n "$B" ]
}

# produce_cmd PREFIX PRODUCER-COMMAND: a command line that takes the next
# fresh topic PREFIX_i (a counter in $TMP) and runs the producer on it
# ($T in the producer command is the topic); fails when out of topics.
produce_cmd() {
	local seq="$TMP/$1.seq"
	echo 0 >"$seq"
	printf 'i=$(($(cat %s) + 1)); echo $i > %s; [ $i -le %d ] || { echo "out of fresh topics" >&2; exit 1; }; T=%s_$i; %s' \
		"$seq" "$seq" "$KAFKA_TOPICS" "$1" "$2"
}

section_kafka() {
	local f kn kbytes p
	for p in fx-devbroker fx-sink fx-consume; do
		if [ ! -x "$BIN/$p" ]; then
			bench_skip "kafka (fx vs kcat)" "bin/$p not built"
			return 0
		fi
	done
	if ! have kcat; then
		bench_skip "kafka (fx vs kcat)" "kcat not installed"
		return 0
	fi
	kn=$((N < 1000000 ? N : 1000000))
	head -n "$kn" "$PLAYS" >"$TMP/kafka.ndjson"
	kbytes=$(stat -c %s "$TMP/kafka.ndjson")
	f=$(q "$TMP/kafka.ndjson")
	if ! kafka_start; then
		bench_skip "kafka (fx vs kcat)" "fx-devbroker did not start: $(head -c 200 "$TMP/devbroker.err")"
		kafka_stop
		return 0
	fi

	# through the broker and back: the same records (order across
	# partitions differs, so sorted)
	sort "$TMP/sample.ndjson" >"$TMP/sample.sorted"
	if check_same "fx-sink | fx-consume (kafka)" "$TMP/sample.sorted" \
		"$BIN/fx-sink -b $B -t bench_check < $TMP/sample.ndjson && $BIN/fx-consume -b $B -t bench_check -e | sort"; then
		bench_case "fx-sink produce (kafka)" "$kbytes" "$kn" \
			"$(produce_cmd bench_fx "$BIN/fx-sink -b $B -t \$T < $f")"
	else
		bench_skip "fx-sink produce (kafka)" "$CHECK_WHY"
	fi
	bench_case "kcat -P" "$kbytes" "$kn" \
		"$(produce_cmd bench_kcat "kcat -P -b $B -t \$T -X sticky.partitioning.linger.ms=0 -l $f")"

	# one topic both consumers read, checked whole before timing
	"$BIN/fx-sink" -b "$B" -t bench_src <"$TMP/kafka.ndjson"
	echo "$kn" >"$TMP/kafka.count"
	if check_same "fx-consume -e (kafka)" "$TMP/kafka.count" \
		"$BIN/fx-consume -b $B -t bench_src -e | wc -l"; then
		bench_case "fx-consume -e (kafka)" "$kbytes" "$kn" \
			"$BIN/fx-consume -b $B -t bench_src -e > /dev/null"
	else
		bench_skip "fx-consume -e (kafka)" "$CHECK_WHY"
	fi
	bench_case "kcat -C -e" "$kbytes" "$kn" \
		"kcat -C -b $B -t bench_src -o beginning -e -q > /dev/null"
	kafka_stop

	ratio "fx-sink produce (kafka)" "kcat -P" "kcat"
	ratio "fx-consume -e (kafka)" "kcat -C -e" "kcat"
	goal_ratio "fx-sink produce (kafka)" "kcat -P" 1 "produce at least as fast as kcat -P (issue 3)"
	goal_ratio "fx-consume -e (kafka)" "kcat -C -e" 1 "consume at least as fast as kcat -C (issue 3)"
}

# ---- produce: fx-sink -t vs kcat -P side by side, fx-consume -e vs kcat -C -e (issue 15)
# The first 200,000 events (FX_BENCH_PRODUCE_N, at most FX_BENCH_N), to a
# topic of 4 and of 64 partitions, without a key and keyed by user_id
# (kcat -K on the same events with the key in front, cut out of them before
# timing; -X partitioner=murmur2_random, fx-sink's, so both hash the key the
# Java client's way). Each round starts a fresh fx-devbroker (a broker that
# creates tens of 64-partition topics at start takes seconds, and stalls
# for one at a time) with one topic for each tool, and runs the two
# producers one after the other, the order alternating round by round: the
# load of this shared machine drifts, and both medians see the same drift.
# kcat runs with librdkafka's defaults (linger.ms=5, no idempotence) and
# sticky.partitioning.linger.ms=0, as fx-sink spreads keyless records.
# Then the consumers, each reading to the end of one topic of 16 and of 64
# partitions that holds the 200,000 (fx-devbroker keeps only ~5 MiB a
# partition: 4 partitions would not hold them), fx-consume with its own
# defaults (fetch.wait.max.ms: see fx-consume(1)).

PRODUCE_N=${FX_BENCH_PRODUCE_N:-200000}
case "$PRODUCE_N" in '' | *[!0-9]*) log "bench: FX_BENCH_PRODUCE_N must be a number"; exit 2 ;; esac

# timed_run TIMES-FILE CMD: runs CMD (with $B and $T in its environment),
# appends its wall time in seconds; non-zero if CMD failed
timed_run() {
	local t0 t1
	t0=$(date +%s.%N)
	${PIN:+$PIN }bash -o pipefail -c "$2" >/dev/null || return 1
	t1=$(date +%s.%N)
	calc "$t1 - $t0" 6 >>"$1"
	echo >>"$1"
}

# broker_pairs NAME_A NAME_B PARTITIONS BYTES RECORDS CMD_A CMD_B: RUNS
# rounds (at least 11), each on a fresh fx-devbroker with topics bench_a and
# bench_b of PARTITIONS partitions; CMD_A writes $T=bench_a, CMD_B
# $T=bench_b ($B is the broker), in alternating order. A round takes under
# a second, and each run's time spreads over +-30% here (a producer's
# threads and the broker's on two cores): the median of 5 put the same two
# producers 0.87x apart and 1.16x the other way in two runs an hour apart.
broker_pairs() {
	local names=("$1" "$2") parts="$3" bytes="$4" records="$5" cmds=("$6" "$7") i j k
	local rounds=$((RUNS > 11 ? RUNS : 11))
	for k in 0 1; do
		CASES+=("${names[k]}")
		log "bench: ${names[k]}: ${cmds[k]}"
		: >"$TMP/bp$k.times"
	done
	for ((i = 0; i < rounds; i++)); do
		if ! kafka_start "bench_a:$parts" "bench_b:$parts"; then
			kafka_stop
			for k in 0 1; do
				C_NOTE[${names[k]}]="FAILED: fx-devbroker did not start: $(head -c 200 "$TMP/devbroker.err")"
			done
			FAILURES=$((FAILURES + 1))
			return 0
		fi
		for j in 0 1; do
			k=$(((i + j) % 2))
			if ! B=$B T=$([ "$k" = 0 ] && echo bench_a || echo bench_b) \
				timed_run "$TMP/bp$k.times" "${cmds[k]}"; then
				kafka_stop
				C_NOTE[${names[k]}]="FAILED: non-zero exit (the command is in the log on stderr)"
				FAILURES=$((FAILURES + 1))
				log "bench: ${names[k]}: FAILED"
				return 0
			fi
		done
		kafka_stop
	done
	for k in 0 1; do
		record_runs "${names[k]}" "$bytes" "$records" "$TMP/bp$k.times"
	done
}

section_produce() {
	local p n f fk bytes parts a b i
	for p in fx-devbroker fx-sink fx-consume; do
		if [ ! -x "$BIN/$p" ]; then
			bench_skip "produce (fx vs kcat)" "bin/$p not built"
			return 0
		fi
	done
	if ! have kcat; then
		bench_skip "produce (fx vs kcat)" "kcat not installed"
		return 0
	fi
	n=$((N < PRODUCE_N ? N : PRODUCE_N))
	head -n "$n" "$PLAYS" >"$TMP/produce.ndjson"
	# kcat's keyed input: user_id, a tab, the event
	jq -r '"\(.user_id)\t\(tojson)"' "$TMP/produce.ndjson" >"$TMP/produce.keyed"
	bytes=$(stat -c %s "$TMP/produce.ndjson")
	f=$(q "$TMP/produce.ndjson")
	fk=$(q "$TMP/produce.keyed")

	# before timing, on the sample: fx-sink's records come back whole, and
	# keyed ones land on the partition kcat puts the same key on
	if ! kafka_start check:4 check_fx:4 check_kcat:4; then
		bench_skip "produce (fx vs kcat)" "fx-devbroker did not start: $(head -c 200 "$TMP/devbroker.err")"
		kafka_stop
		return 0
	fi
	sort "$TMP/sample.ndjson" >"$TMP/sample.sorted"
	jq -r '"\(.user_id)\t\(tojson)"' "$TMP/sample.ndjson" >"$TMP/sample.keyed"
	kcat -P -b "$B" -t check_kcat -K '\t' -X partitioner=murmur2_random -l "$TMP/sample.keyed"
	kcat -C -b "$B" -t check_kcat -o beginning -e -q -f '%p %k\n' | sort >"$TMP/keyed.expected"
	a=ok
	check_same "fx-sink -t | fx-consume -e" "$TMP/sample.sorted" \
		"$BIN/fx-sink -b $B -t check < $TMP/sample.ndjson && $BIN/fx-consume -b $B -t check -e | sort" || a=$CHECK_WHY
	check_same "fx-sink --key: kcat's partitions" "$TMP/keyed.expected" \
		"$BIN/fx-sink -b $B -t check_fx --key user_id < $TMP/sample.ndjson && kcat -C -b $B -t check_fx -o beginning -e -q -f '%p %k\n' | sort" || a=$CHECK_WHY
	kafka_stop
	if [ "$a" != ok ]; then
		bench_skip "produce (fx vs kcat)" "$a"
		return 0
	fi

	for parts in 4 64; do
		broker_pairs "fx-sink -t, $parts partitions" "kcat -P, $parts partitions" "$parts" "$bytes" "$n" \
			"$BIN/fx-sink -b \$B -t \$T < $f" \
			"kcat -P -b \$B -t \$T -X sticky.partitioning.linger.ms=0 -l $f"
		broker_pairs "fx-sink --key, $parts partitions" "kcat -P -K, $parts partitions" "$parts" "$bytes" "$n" \
			"$BIN/fx-sink -b \$B -t \$T --key user_id < $f" \
			"kcat -P -b \$B -t \$T -K '\\t' -X partitioner=murmur2_random -l $fk"
		ratio "fx-sink -t, $parts partitions" "kcat -P, $parts partitions" "kcat"
		ratio "fx-sink --key, $parts partitions" "kcat -P -K, $parts partitions" "kcat"
		goal_ratio "fx-sink -t, $parts partitions" "kcat -P, $parts partitions" 1 \
			"produce to $parts partitions at least as fast as kcat -P (issue 15)"
		goal_ratio "fx-sink --key, $parts partitions" "kcat -P -K, $parts partitions" 1 \
			"produce keyed to $parts partitions at least as fast as kcat -P -K (issue 15)"
	done

	for parts in 16 64; do
		if ! kafka_start "bench_c:$parts"; then
			bench_skip "fx-consume -e, $parts partitions" "fx-devbroker did not start"
			kafka_stop
			continue
		fi
		"$BIN/fx-sink" -b "$B" -t bench_c <"$TMP/produce.ndjson"
		echo "$n" >"$TMP/produce.count"
		if ! check_same "fx-consume -e, $parts partitions" "$TMP/produce.count" \
			"$BIN/fx-consume -b $B -t bench_c -e | wc -l"; then
			bench_skip "fx-consume -e, $parts partitions" "$CHECK_WHY"
			kafka_stop
			continue
		fi
		a="fx-consume -e, $parts partitions"
		b="kcat -C -e, $parts partitions"
		CASES+=("$a" "$b")
		: >"$TMP/c0.times"
		: >"$TMP/c1.times"
		for ((i = 0; i < RUNS; i++)); do
			if [ $((i % 2)) = 0 ]; then
				timed_run "$TMP/c0.times" "$BIN/fx-consume -b $B -t bench_c -e" || break
				timed_run "$TMP/c1.times" "kcat -C -b $B -t bench_c -o beginning -e -q" || break
			else
				timed_run "$TMP/c1.times" "kcat -C -b $B -t bench_c -o beginning -e -q" || break
				timed_run "$TMP/c0.times" "$BIN/fx-consume -b $B -t bench_c -e" || break
			fi
		done
		kafka_stop
		if [ "$(grep -c . "$TMP/c0.times")" != "$RUNS" ] || [ "$(grep -c . "$TMP/c1.times")" != "$RUNS" ]; then
			C_NOTE[$a]="FAILED: non-zero exit"
			FAILURES=$((FAILURES + 1))
			continue
		fi
		record_runs "$a" "$bytes" "$n" "$TMP/c0.times"
		record_runs "$b" "$bytes" "$n" "$TMP/c1.times"
		ratio "$a" "$b" "kcat"
		goal_ratio "$a" "$b" 1 "consume $parts partitions to the end at least as fast as kcat -C -e (issue 15)"
	done
}

# ---- checkpoints (issue 13) ---------------------------------------------------
# The chain fx-consume -e | fx-agg | fx-sink --dir over a topic on
# fx-devbroker (the first 1,000,000 events, 64 partitions, as the kafka
# section), once as it runs today and once with --checkpoint 1s --state on
# all three: each run starts from an empty state directory (restore 0) and
# an empty output directory, on the same disk as $TMP (fsync is real). The
# group-by has no window, so both give the same bytes whatever the order in
# which the partitions interleave; checked on the sample before timing.
# fx-consume runs with -X fetch.wait.max.ms=10 in both: with librdkafka's
# 500 ms the mock cluster's fetches stall the start of a run by 1 to 6 s in
# most runs (64 partitions), a noise larger than what is measured.
#
# Then fx-agg's snapshot of 1,000,000 open groups (1,000,000 distinct
# user_id, count and sum): written at a checkpoint barrier, loaded at a
# restore. The figures are fx-agg's own --stats ("snapshot X ms": the state
# serialised, written, fsync'ed, renamed; "restore X ms": read, CRC
# checked, loaded), the median over the runs; the whole runs are timed too.

# stat_case NAME BYTES RECORDS FIELD CMD: runs CMD (its stderr holds an
# fx --stats line) RUNS times and records the median of "FIELD X ms" in
# seconds as case NAME; BYTES and RECORDS give its MB/s and records/s.
stat_case() {
	local name="$1" bytes="$2" records="$3" field="$4" cmd="$5" i v
	CASES+=("$name")
	log "bench: $name: $field in the --stats of: $cmd"
	: >"$TMP/field"
	for ((i = 0; i < RUNS; i++)); do
		if ! ${PIN:+$PIN }bash -o pipefail -c "$cmd" 2>"$TMP/stat.err" >/dev/null; then
			C_NOTE[$name]="FAILED: non-zero exit (the command is in the log on stderr)"
			FAILURES=$((FAILURES + 1))
			head -n 5 "$TMP/stat.err" >&2
			return 0
		fi
		v=$(sed -n "s/.*, $field \([0-9.]*\) ms.*/\1/p" "$TMP/stat.err" | tail -n 1)
		if [ -z "$v" ]; then
			C_NOTE[$name]="FAILED: no \"$field X ms\" in its --stats"
			FAILURES=$((FAILURES + 1))
			return 0
		fi
		calc "$v / 1000" 6 >>"$TMP/field"
		echo >>"$TMP/field"
	done
	record_runs "$name" "$bytes" "$records" "$TMP/field"
}

# pair_cases NAME_A NAME_B BYTES RECORDS CMD_A CMD_B: times the two
# commands RUNS times each, interleaved (A B, B A, A B, ...), and records
# both as cases: on a machine whose load drifts (other builds and tests on
# its two cores), runs one after the other would charge the drift to
# whichever case ran in the worse minute.
pair_cases() {
	local names=("$1" "$2") bytes="$3" records="$4" cmds=("$5" "$6") i j k t0 t1 med min max rss
	for k in 0 1; do
		CASES+=("${names[k]}")
		log "bench: ${names[k]}: ${cmds[k]}"
		: >"$TMP/pair$k.times"
		: >"$TMP/pair$k.rss"
	done
	for ((i = 0; i < RUNS; i++)); do
		for j in 0 1; do
			k=$(((i + j) % 2))
			t0=$(date +%s.%N)
			if ! ${PIN:+$PIN }${TIME_RSS:+/usr/bin/time -f %M -a -o $TMP/pair$k.rss }bash -o pipefail -c "${cmds[k]}" >/dev/null; then
				C_NOTE[${names[k]}]="FAILED: non-zero exit (the command is in the log on stderr)"
				FAILURES=$((FAILURES + 1))
				log "bench: ${names[k]}: FAILED"
				return 0
			fi
			t1=$(date +%s.%N)
			calc "$t1 - $t0" 6 >>"$TMP/pair$k.times"
			echo >>"$TMP/pair$k.times"
		done
	done
	for k in 0 1; do
		read -r med min max < <(_stats <"$TMP/pair$k.times")
		C_MED[${names[k]}]=$med
		C_RUNS[${names[k]}]=$RUNS
		C_MIN[${names[k]}]=$min
		C_MAX[${names[k]}]=$max
		C_MBPS[${names[k]}]=$(calc "$bytes / $med / 1e6" 1)
		C_RPS[${names[k]}]=$(calc "$records / $med" 0)
		rss=$(sort -n "$TMP/pair$k.rss" | grep -E '^[0-9]+$' | tail -n 1 || true)
		C_RSS[${names[k]}]=${rss:+$(calc "$rss / 1024" 0)}
		log "$(printf 'bench: %s: median %.3f s' "${names[k]}" "$med")"
	done
}
TIME_RSS=$(have /usr/bin/time && echo 1 || true)

section_checkpoint() {
	local kn p d st ck ckc plain groups snapin snapbytes agg aggst
	for p in fx-devbroker fx-consume fx-agg fx-sink; do
		if [ ! -x "$BIN/$p" ]; then
			bench_skip "checkpoint" "bin/$p not built"
			return 0
		fi
	done
	kn=$((N < 1000000 ? N : 1000000))
	head -n "$kn" "$PLAYS" >"$TMP/ck.ndjson"
	if ! kafka_start "bench_ck:$KAFKA_PARTS" bench_ck_check:4; then
		bench_skip "checkpoint" "fx-devbroker did not start: $(head -c 200 "$TMP/devbroker.err")"
		kafka_stop
		return 0
	fi
	"$BIN/fx-sink" -b "$B" -t bench_ck <"$TMP/ck.ndjson"
	"$BIN/fx-sink" -b "$B" -t bench_ck_check <"$TMP/sample.ndjson"
	d=$(q "$TMP/ck-out")
	st=$(q "$TMP/ck-state")
	agg="--by artist_id,os --agg count,sum:duration_ms"
	# chain TOPIC CHECKPOINT-OPTIONS: the pipeline, from empty directories
	chain() {
		printf 'rm -rf %s %s && %s -b %s -t %s -e -X fetch.wait.max.ms=10 %s | %s %s %s | %s --dir %s --partition os %s' \
			"$d" "$st" "$BIN/fx-consume" "$B" "$1" "$2" "$BIN/fx-agg" "$agg" "$3" \
			"$BIN/fx-sink" "$d" "$3"
	}
	ck="--checkpoint 1s --state $st"
	ckc="--state $st"
	# both give the batch run's files (sorted: one file a partition value)
	"$BIN/fx-agg" $agg "$TMP/sample.ndjson" | "$BIN/fx-sink" --dir "$TMP/ck-batch" --partition os
	find "$TMP/ck-batch" -type f | sort | xargs cat >"$TMP/ck-batch.out"
	plain="fx chain consume|agg|sink --dir"
	if ! check_same "$plain" "$TMP/ck-batch.out" \
		"$(chain bench_ck_check "" "") && find $d -type f | sort | xargs cat"; then
		bench_skip "$plain" "$CHECK_WHY"
	elif ! check_same "$plain, checkpoint 1s" "$TMP/ck-batch.out" \
		"$(chain bench_ck_check "$ck" "$ckc") && find $d -type f | sort | xargs cat"; then
		bench_skip "$plain, checkpoint 1s" "$CHECK_WHY"
	else
		pair_cases "$plain" "$plain, checkpoint 1s" \
			"$(stat -c %s "$TMP/ck.ndjson")" "$kn" \
			"$(chain bench_ck "" "")" "$(chain bench_ck "$ck" "$ckc")"
	fi
	kafka_stop
	rm -rf "$TMP/ck-out" "$TMP/ck-state" "$TMP/ck-batch"
	goal_cost "$plain, checkpoint 1s" "$plain" 1.1 "checkpointing every second costs under 10% (issue 13)"

	# 1,000,000 open groups: restore 0, the events, one barrier
	groups=1000000
	snapin="$TMP/ck-groups.ndjson"
	awk -v n="$groups" 'BEGIN {
		print "{\"_fx\":\"restore\",\"id\":0}"
		for (i = 0; i < n; i++)
			printf "{\"user_id\":%d,\"duration_ms\":%d}\n", i, (i * 7919) % 300000
		print "{\"_fx\":\"checkpoint\",\"id\":1,\"positions\":[[\"plays\",0," n "]]}"
	}' >"$snapin"
	aggst="$BIN/fx-agg --state $st --by user_id --agg count,sum:duration_ms --stats"
	bench_case "fx-agg 1,000,000 groups" "$(stat -c %s "$snapin")" "$groups" \
		"$BIN/fx-agg --by user_id --agg count,sum:duration_ms $(q "$snapin") > /dev/null"
	bench_case "fx-agg 1,000,000 groups, snapshot" "$(stat -c %s "$snapin")" "$groups" \
		"$aggst $(q "$snapin") > /dev/null 2>&1"
	# the state, once more, for its size and for the restores
	rm -rf "$TMP/ck-state"
	bash -c "$aggst $(q "$snapin")" >/dev/null 2>"$TMP/snap.err"
	snapbytes=$(sed -n 's/.*, state \([0-9]*\) bytes.*/\1/p' "$TMP/snap.err")
	stat_case "snapshot write, 1,000,000 groups" "${snapbytes:-0}" "$groups" snapshot \
		"$aggst $(q "$snapin")"
	stat_case "snapshot load, 1,000,000 groups" "${snapbytes:-0}" "$groups" restore \
		"echo '{\"_fx\":\"restore\",\"id\":1}' | $aggst"
	bench_case "fx-agg restore 1,000,000 groups + EOF" "${snapbytes:-0}" "$groups" \
		"echo '{\"_fx\":\"restore\",\"id\":1}' | $aggst > /dev/null 2>&1"
	rm -rf "$TMP/ck-state" "$snapin"
	goal_seconds "snapshot write, 1,000,000 groups" 1 "a snapshot of 1,000,000 groups writes in under 1 s (issue 13)"
	goal_seconds "snapshot load, 1,000,000 groups" 1 "a snapshot of 1,000,000 groups loads in under 1 s (issue 13)"
}

# ---- DuckDB: the engine a user would pick instead (issue 15) ----------------
# Debian has no DuckDB package; npm's @duckdb/node-api ships the engine in the
# package and runs under Debian's nodejs. It is installed once into
# build/duckdb (the registry is reachable here); without node and npm the
# section says it was skipped. Each case runs one statement in a fresh
# node process (about 0.1 s of start-up, which is DuckDB's to pay as fx pays
# its own), reading the same files fx reads, with every core.

DUCKDB_VERSION=1.5.6-r.1
DUCKDB_DIR=build/duckdb

duckdb_ready() {
	have node && have npm || { DUCKDB_WHY="node or npm not installed (apt-get install nodejs npm)"; return 1; }
	if [ ! -d "$DUCKDB_DIR/node_modules/@duckdb/node-api" ]; then
		log "bench: installing @duckdb/node-api@$DUCKDB_VERSION into $DUCKDB_DIR (not timed)"
		mkdir -p "$DUCKDB_DIR"
		npm install --prefix "$DUCKDB_DIR" --no-audit --no-fund --loglevel=error \
			"@duckdb/node-api@$DUCKDB_VERSION" >"$TMP/npm.log" 2>&1 ||
			{ DUCKDB_WHY="npm install failed: $(tail -n 1 "$TMP/npm.log" | cut -c 1-120)"; return 1; }
	fi
	# an ES module resolves its imports from where it lies
	cp tests/bench/duckdb-query.mjs "$DUCKDB_DIR/query.mjs"
}

# duck SQL: the command line that runs SQL in DuckDB
duck() { printf 'node %q %q' "$DUCKDB_DIR/query.mjs" "$1"; }

section_duckdb() {
	local j c s by agg
	if ! duckdb_ready; then
		bench_skip "duckdb" "$DUCKDB_WHY"
		return 0
	fi
	j="read_json('$PLAYS', format='newline_delimited')"
	c="read_csv('$PLAYS_CSV')"
	s="read_csv('$SONGS')"
	by="--by artist_id,os"
	agg="--agg count,sum:duration_ms,avg:duration_ms"
	# the same groups and figures as fx-agg on the sample, before timing
	if check_same "duckdb GROUP BY artist_id,os" \
		<("$BIN/fx-agg" $by --agg count,sum:duration_ms "$TMP/sample.ndjson" |
			jq -c '[.artist_id,.os,.count,.sum_duration_ms]' | sort) \
		"$(duck "SELECT artist_id, os, count(*), sum(duration_ms) FROM read_json('$TMP/sample.ndjson', format='newline_delimited') GROUP BY ALL") | jq -c 'map(tonumber? // .)' | sort"; then
		bench_case "duckdb GROUP BY artist_id,os" "$PLAYS_BYTES" "$N" \
			"$(duck "SELECT artist_id, os, count(*), sum(duration_ms), avg(duration_ms) FROM $j GROUP BY ALL") > /dev/null"
	else
		bench_skip "duckdb GROUP BY artist_id,os" "$CHECK_WHY"
	fi
	bench_case "duckdb count(DISTINCT user_id) by os" "$PLAYS_BYTES" "$N" \
		"$(duck "SELECT os, count(DISTINCT user_id) FROM $j GROUP BY os") > /dev/null"
	bench_case "duckdb time_bucket 1m by artist_id,os" "$PLAYS_BYTES" "$N" \
		"$(duck "SELECT time_bucket(INTERVAL 1 minute, event_time::TIMESTAMP) AS w, artist_id, os, count(*), sum(duration_ms), avg(duration_ms) FROM $j GROUP BY ALL") > /dev/null"
	bench_case "duckdb join songs, JSON out" "$PLAYS_BYTES" "$N" \
		"$(duck "COPY (SELECT p.*, s.title, s.genre FROM $j p LEFT JOIN $s s USING (song_id)) TO '/dev/stdout' (FORMAT json)") > /dev/null"
	bench_case "duckdb CSV to JSON" "$CSV_BYTES" "$N" \
		"$(duck "COPY (SELECT * FROM $c) TO '/dev/stdout' (FORMAT json)") > /dev/null"

	# fx's cases of the same work, when their sections ran in this run
	if [ -x "$BIN/fx-agg" ] && [ -z "${C_MED[fx-agg by artist_id,os]:-}" ]; then
		bench_case "fx-agg by artist_id,os" "$PLAYS_BYTES" "$N" "$BIN/fx-agg $by $agg $(q "$PLAYS") > /dev/null"
	fi
	ratio "fx-agg by artist_id,os" "duckdb GROUP BY artist_id,os" "duckdb"
	ratio "fx-agg distinct:user_id by os" "duckdb count(DISTINCT user_id) by os" "duckdb"
	ratio "fx-agg tumble:1m by artist_id,os" "duckdb time_bucket 1m by artist_id,os" "duckdb"
	ratio "fx-join songs (200,000 rows)" "duckdb join songs, JSON out" "duckdb"
	ratio "fx-consume CSV" "duckdb CSV to JSON" "duckdb"
	goal_ratio "fx-agg by artist_id,os" "duckdb GROUP BY artist_id,os" 1 "group-by faster than DuckDB (issue 15)"
	goal_ratio "fx-agg distinct:user_id by os" "duckdb count(DISTINCT user_id) by os" 1 "distinct faster than DuckDB (issue 15)"
	goal_ratio "fx-agg tumble:1m by artist_id,os" "duckdb time_bucket 1m by artist_id,os" 1 "windows faster than DuckDB (issue 15)"
	goal_ratio "fx-join songs (200,000 rows)" "duckdb join songs, JSON out" 3 "lookup join at least 3x DuckDB (issue 15)"
	goal_ratio "fx-consume CSV" "duckdb CSV to JSON" 3 "CSV to NDJSON at least 3x DuckDB (issue 15)"
}

# ---- run ----------------------------------------------------------------------

header() {
	echo "fx bench $(date -u +%Y-%m-%dT%H:%M:%SZ)  git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- 2>/dev/null || echo '+dirty')"
	echo "data: $N events (seed $SEED); $PLAYS $(calc "$PLAYS_BYTES / 1e6" 1) MB; $PLAYS_CSV $(calc "$CSV_BYTES / 1e6" 1) MB"
	echo "runs: at least $RUNS per case (median); cpus: $(nproc)${PIN:+ (pinned: $PIN)}; load before: $LOAD0"
	echo "tools: $(jq --version), mlr $(mlr --version | awk '{print $2}'), $(hyperfine --version 2>/dev/null || echo 'no hyperfine')"
	echo "MB = 10^6 bytes of input; rss_MB = peak RSS of the largest process; fx speed / competitor = competitor median / fx median"
	echo
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for s in passthrough csv agg join kafka produce checkpoint duckdb; do
	if want "$s"; then
		"section_$s"
	fi
done

{
	header
	print_table
	echo
	echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RESULTS/latest.txt"

# Missed goals are figures to report, not errors; a program that fails or
# gives a wrong answer is.
if [ "$FAILURES" -gt 0 ]; then
	log "bench: $FAILURES case(s) failed or failed their check"
	exit 1
fi
