#!/usr/bin/env bash
# derive.sh CASE: writes CASE/expected/cdm_play.ndjson and
# CASE/expected/ads_genre_minute.ndjson from CASE/input/ods_play.ndjson and
# ../music/songs.csv with sqlite3, as SQL says they should be: no fx program
# takes part, so the golden rows are an independent oracle for
# `fx-run music.pipeline.json --test tests` (both modes).
#
#   cdm_play          every play of a song in the dimension (an inner join),
#                     with the song's "genre" added last, in input order
#   ads_genre_minute  per minute of event time (tumble:1m), genre and os:
#                     plays=count, listen_ms=sum(duration_ms),
#                     listeners=count(distinct user_id); rows in fx-agg's
#                     order: window end, window start, genre, os (bytes)
#
# The SQL has no lateness: it equals fx-agg's rows when no record is later
# than --lateness (gen-plays --disorder 3000 < the pipeline's 5s).
# Rows are all in one file per table: fx-run --test puts them in their
# partitions (the table's directories), keeping their order.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case=${1:?usage: derive.sh CASE}
cd "$here/$case"
mkdir -p expected
sqlite3 -batch <<SQL
.mode ascii
.separator "\t" "\n"
-- (a raw tab cannot be in a JSON line: each line is one column)
CREATE TABLE plays(line TEXT);
.import input/ods_play.ndjson plays
.mode csv
.import "$here/../music/songs.csv" songs
CREATE VIEW cdm AS
  SELECT p.rowid AS n, json_set(p.line, '\$.genre', s.genre) AS line,
         json_extract(p.line, '\$.event_time') AS et, s.genre AS genre,
         json_extract(p.line, '\$.os') AS os,
         json_extract(p.line, '\$.user_id') AS user_id,
         json_extract(p.line, '\$.duration_ms') AS duration_ms
  FROM plays p JOIN songs s
    ON json_extract(p.line, '\$.song_id') = CAST(s.song_id AS INTEGER);
.mode list
.headers off
.output expected/cdm_play.ndjson
SELECT line FROM cdm ORDER BY n;
.output expected/ads_genre_minute.ndjson
SELECT json_object('window_start', ws, 'window_end', we, 'genre', genre,
                   'os', os, 'plays', count(*),
                   'listen_ms', sum(duration_ms),
                   'listeners', count(DISTINCT user_id))
FROM (SELECT strftime('%Y-%m-%dT%H:%M:00.000Z', et) AS ws,
             strftime('%Y-%m-%dT%H:%M:00.000Z', et, '+1 minute') AS we,
             genre, os, duration_ms, user_id FROM cdm)
GROUP BY ws, we, genre, os
ORDER BY we, ws, genre, os;
SQL
