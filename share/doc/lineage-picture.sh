#!/usr/bin/env bash
# Draws the demo warehouse's lineage graph: runs the ODS -> CDM -> ADS
# pipelines of share/examples/demo.sh (stream and batch) on a little data,
# then renders 'fx-lineage graph --format dot' with Graphviz into
# share/doc/lineage.dot and share/doc/lineage.png. The DOT is deterministic
# (labels are topics and paths relative to the work directory), so the
# committed picture can be checked against a fresh run.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$root/bin:$root/build:$PATH"
out=${1:-$root/share/doc}
work=$(mktemp -d "${TMPDIR:-/tmp}/fx-lineage-picture.XXXXXX")
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
unset FX_JOB FX_RUN_ID
export FX_LINEAGE=file:$work/lineage.ndjson
fx-devbroker --topic ods_play:4 --topic ads_genre_minute:4 \
	--bootstrap-file bootstrap >/dev/null 2>&1 &
broker=$!
for _ in $(seq 100); do [ -s bootstrap ] && break; sleep 0.05; done
export FX_BROKERS=$(cat bootstrap)

gen-plays -n 2000 -s 7 --songs 200 --dim-songs songs.csv >plays.ndjson
FX_LINEAGE=off fx-consume songs.csv >songs.ndjson
FX_JOB=ods_load fx-sink -t ods_play --key user_id <plays.ndjson
FX_JOB=ods_files fx-sink --dir warehouse/ods_play --partition dt <plays.ndjson
cdm_ads() {
	fx-join --dim songs.ndjson --on song_id --fields genre \
	| fx-agg --time event_time --window tumble:1m --lateness 5s \
		--by genre,os --agg plays=count
}
export FX_JOB=ads_stream
fx-consume -t ods_play -e | cdm_ads | fx-sink -t ads_genre_minute --key genre
export FX_JOB=ads_batch
fx-consume warehouse/ods_play/ | cdm_ads | fx-sink --file ads_genre_minute.ndjson
unset FX_JOB
fx-lineage graph --format dot >"$out/lineage.dot"
dot -Tpng -Gdpi=96 "$out/lineage.dot" >"$out/lineage.png"
echo "$out/lineage.dot $out/lineage.png"
