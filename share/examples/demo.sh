#!/usr/bin/env bash
# The example warehouse pipeline, run as a stream and as a batch over the
# same play events, and the proof that the two agree (make demo).
#
#   ODS  ods_play (Kafka topic, 4 partitions)  and  warehouse/ods_play/dt=.../ (files)
#   CDM  plays joined with the songs dimension (genre)
#   ADS  plays per genre and OS per minute: count, total duration, listeners
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$root/bin:$root/build:$PATH"
export FX_LINEAGE=${FX_LINEAGE:-file:$root/build/demo/lineage.ndjson}
work=$root/build/demo
rm -rf "$work" && mkdir -p "$work" && cd "$work"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "a throwaway Kafka cluster on loopback"
fx-devbroker --topic ods_play:4 --topic ads_genre_minute:4 --bootstrap-file bootstrap \
	>/dev/null 2>devbroker.log &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s bootstrap ] && break; sleep 0.05; done
export FX_BROKERS=$(cat bootstrap)
echo "fx-devbroker at $FX_BROKERS (in memory, not for production)"

say "ODS: 100,000 play events (event time out of order by up to 3 s) and a songs dimension"
gen-plays -n 100000 -s 7 --rate 250 --disorder 3000 --users 20000 --songs 5000 --dim-songs songs.csv >plays.ndjson
head -n 2 plays.ndjson
FX_JOB=ods_load_stream fx-sink -t ods_play --key user_id <plays.ndjson
FX_JOB=ods_load_batch fx-sink --dir warehouse/ods_play --partition dt <plays.ndjson
find warehouse -type f | sort

# the middle of the chain, the same for both runs
cdm_ads() {
	fx-join --dim songs.csv --on song_id --fields genre \
	| fx-agg --time event_time --window tumble:1m --lateness 5s --by genre,os \
		--agg plays=count,listen_ms=sum:duration_ms,listeners=distinct:user_id
}

say "stream: fx-consume ods_play | fx-join | fx-agg | fx-sink ads_genre_minute"
(
	export FX_JOB=ads_stream
	fx-consume -t ods_play -g demo -e --meta | cdm_ads | tee stream.ndjson \
		| fx-sink -t ads_genre_minute --key genre
)
echo "$(wc -l <stream.ndjson) rows; in the topic: $(FX_LINEAGE=off fx-consume -t ads_genre_minute -e | wc -l)"

say "batch: fx-consume warehouse/ods_play/ | fx-join | fx-agg | fx-sink --file"
(
	export FX_JOB=ads_batch
	fx-consume warehouse/ods_play/ | cdm_ads | fx-sink --file batch.ndjson
)
echo "$(wc -l <batch.ndjson) rows"
head -n 3 batch.ndjson

say "stream and batch agree?"
if cmp stream.ndjson batch.ndjson; then
	echo "yes: $(wc -l <batch.ndjson) rows, byte-identical ($(sha256sum <batch.ndjson | cut -c1-16)...)"
else
	echo "NO: the stream and batch results differ" >&2
	diff stream.ndjson batch.ndjson | head >&2
	exit 1
fi
say "lineage: what feeds the batch ADS table, and the whole graph"
fx-lineage upstream batch.ndjson
fx-lineage graph
