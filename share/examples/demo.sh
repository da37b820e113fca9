#!/usr/bin/env bash
# The example warehouse pipeline, run as a stream and as a batch over the
# same play events, and the proof that the two agree (make demo).
#
#   ODS  ods_play (Kafka topic, 4 partitions)  and  warehouse/ods_play/dt=.../ (files)
#   CDM  plays joined with the songs dimension (genre)
#   ADS  plays per genre and OS per minute: count, total duration, listeners
#
# The last line is the verdict; the exit status is 0 only if the two agree.
# Headings are bold only on a terminal. For trying variations (and the
# tests): FX_DEMO_EVENTS (default 100000), FX_DEMO_LATENESS (fx-agg
# --lateness, default 5s: the events are out of order by up to 3 s),
# FX_DEMO_DIR (default build/demo; emptied first).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$root/bin:$root/build:$PATH"
events=${FX_DEMO_EVENTS:-100000}
lateness=${FX_DEMO_LATENESS:-5s}
work=$(realpath -m "${FX_DEMO_DIR:-$root/build/demo}")
# its own lineage store, which it queries at the end (whatever FX_LINEAGE says)
export FX_LINEAGE=file:$work/lineage.ndjson
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
export FX_BROKERS=$(fx-devbroker --topic ods_play:4 --topic ads_genre_minute:4 \
	--detach --pid-file broker.pid 2>devbroker.log)
echo "fx-devbroker at $FX_BROKERS (in memory, not for production)"

say "ODS: $events play events (event time out of order by up to 3 s) and a songs dimension"
gen-plays -n "$events" -s 7 --rate 250 --disorder 3000 --users 20000 --songs 5000 --dim-songs songs.csv >plays.ndjson
head -n 2 plays.ndjson
FX_JOB=ods_load_stream fx-sink -t ods_play --key user_id <plays.ndjson
FX_JOB=ods_load_batch fx-sink --dir warehouse/ods_play --partition dt <plays.ndjson
find warehouse -type f | sort

# the middle of the chain, the same for both runs
cdm_ads() {
	fx-join --dim songs.csv --on song_id --fields genre \
	| fx-agg --time event_time --window tumble:1m --lateness "$lateness" --by genre,os \
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

say "lineage: what feeds the batch ADS table, and the whole graph"
fx-lineage upstream batch.ndjson
fx-lineage graph

say "stream and batch agree?"
if cmp -s stream.ndjson batch.ndjson; then
	echo "yes: stream and batch are byte-identical: $(wc -l <batch.ndjson) rows, sha256 $(sha256sum <batch.ndjson | cut -c1-16)..."
else
	diff stream.ndjson batch.ndjson | head >&2 || true
	echo "NO: stream and batch differ: $(wc -l <stream.ndjson) rows against $(wc -l <batch.ndjson) (diff on stderr)"
	exit 1
fi
