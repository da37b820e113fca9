#!/usr/bin/env bash
# The example warehouse, share/examples/music.pipeline.json, run by fx-run
# as a stream and as a batch over the same play events, the proof that the
# two agree, and the pipeline's golden cases in both modes (make demo).
#
#   ODS  ods_play          play events: a Kafka topic (8 partitions), and
#                          files by day and hour of event time
#   CDM  cdm_play          job cdm_play: plays of known songs, with their
#                          genre (fx-join with the songs dimension)
#   ADS  ads_genre_minute  job ads_genre_minute: plays per genre and OS per
#                          minute: count, total duration, listeners (fx-agg)
#
# The last line is the verdict; the exit status is 0 only if the stream and
# the batch agree and the golden cases pass. Headings are bold only on a
# terminal. For trying variations (and the tests): FX_DEMO_EVENTS (default
# 100000), FX_DEMO_LATENESS (the pipeline's lateness parameter, fx-agg
# --lateness, default 5s: the events are out of order by up to 3 s),
# FX_DEMO_DIR (default build/demo; emptied first).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$root/bin:$root/build:$PATH"
events=${FX_DEMO_EVENTS:-100000}
lateness=${FX_DEMO_LATENESS:-5s}
work=$(realpath -m "${FX_DEMO_DIR:-$root/build/demo}")
examples=$root/share/examples
pipeline=$examples/music.pipeline.json
# its own lineage store, which it queries at the end (whatever FX_LINEAGE says)
export FX_LINEAGE=file:$work/lineage.ndjson
unset FX_JOB FX_RUN_ID
rm -rf "$work" && mkdir -p "$work" && cd "$work"

if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi

say "a throwaway Kafka cluster on loopback"
stop_broker() {
	local pid
	pid=$(cat broker.pid 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
}
trap stop_broker EXIT
export FX_BROKERS=$(fx-devbroker --topic ods_play:8 --topic cdm_play:8 \
	--topic ads_genre_minute:4 --detach --pid-file broker.pid 2>devbroker.log)
echo "fx-devbroker at $FX_BROKERS (in memory, not for production)"

say "the pipeline: share/examples/music.pipeline.json"
fx-run "$pipeline" --check
echo "checked: $(jq -r '[.tables | keys[]] | join(", ")' "$pipeline") (tables);" \
	"$(jq -r '[.jobs | keys[]] | join(", ")' "$pipeline") (jobs)"
# the same parameters for every run: the generated songs, the lateness
params=(-p "songs=$work/songs.csv" -p "lateness=$lateness")
fx-run "$pipeline" ads_genre_minute --stream "${params[@]}" --explain

say "ODS: $events play events (event time out of order by up to 3 s) and a songs dimension"
gen-plays -n "$events" -s 7 --rate 250 --disorder 3000 --users 20000 --songs 5000 --dim-songs songs.csv >plays.ndjson
head -n 2 plays.ndjson
ods=$examples/music/ods_play.table.json
FX_JOB=ods_load_stream fx-partition --table "$ods" <plays.ndjson \
	| FX_JOB=ods_load_stream fx-sink --table "$ods"
FX_JOB=ods_load_batch fx-sink --dir warehouse --table "$ods" <plays.ndjson
find warehouse -type f | sort

say "stream: fx-run music.pipeline.json JOB --stream -e, for each job"
for job in cdm_play ads_genre_minute; do
	fx-run "$pipeline" "$job" --stream -e "${params[@]}" --warehouse stream
done
# the sink topics read to their end, rows sorted: Kafka keeps the order of
# each partition only, and fx-consume interleaves the partitions
for t in cdm_play ads_genre_minute; do
	FX_LINEAGE=off fx-consume --table "$examples/music/$t.table.json" -e \
		| LC_ALL=C sort >"stream-$t.ndjson"
done
cp stream-ads_genre_minute.ndjson stream.ndjson
echo "$(wc -l <stream-cdm_play.ndjson) cdm_play rows, $(wc -l <stream.ndjson) ads_genre_minute rows in the topics"

say "batch: fx-run music.pipeline.json JOB --batch all, for each job"
for job in cdm_play ads_genre_minute; do
	fx-run "$pipeline" "$job" --batch all "${params[@]}" --warehouse warehouse
done
find warehouse/cdm_play warehouse/ads_genre_minute -type f | sort
for t in cdm_play ads_genre_minute; do
	find "warehouse/$t" -type f -name '*.ndjson' -print0 | sort -z \
		| xargs -0 cat | LC_ALL=C sort >"batch-$t.ndjson"
done
cp batch-ads_genre_minute.ndjson batch.ndjson
head -n 3 "$(find warehouse/ads_genre_minute -type f | sort | head -n 1)"

say "lineage: what feeds the ADS topic and the ADS table, and the whole graph"
fx-lineage upstream "kafka://$FX_BROKERS/ads_genre_minute"
fx-lineage upstream warehouse/ads_genre_minute
fx-lineage graph

say "golden cases: fx-run music.pipeline.json --test share/examples/tests"
tests=0
fx-run "$pipeline" --test "$examples/tests" || tests=$?

say "stream and batch agree?"
if [ "$tests" != 0 ]; then
	echo "NO: the golden cases failed (fx-run --test: status $tests)"
	exit 1
elif cmp -s stream.ndjson batch.ndjson && cmp -s stream-cdm_play.ndjson batch-cdm_play.ndjson; then
	echo "yes: stream and batch are byte-identical: $(wc -l <batch.ndjson) rows, sha256 $(sha256sum <batch.ndjson | cut -c1-16)..." \
		"(ads_genre_minute, rows sorted; cdm_play: $(wc -l <batch-cdm_play.ndjson) rows too), and the golden cases pass in both modes"
else
	diff stream.ndjson batch.ndjson | head >&2 || true
	diff stream-cdm_play.ndjson batch-cdm_play.ndjson | head >&2 || true
	echo "NO: stream and batch differ: $(wc -l <stream.ndjson) rows against $(wc -l <batch.ndjson) (diff on stderr)"
	exit 1
fi
