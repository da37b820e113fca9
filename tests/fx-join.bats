#!/usr/bin/env bats
# fx-join: lookup joins checked against sqlite3, --reload through a FIFO, a
# Kafka dimension on fx-devbroker, interval joins against sqlite3, memory
# over a long stream, bad input.

load test_helper

setup() { fx_setup_tmp; }

teardown() {
	[ -n "${JOIN_PID:-}" ] && kill "$JOIN_PID" 2>/dev/null
	fx_teardown_tmp
}

# wait_lines N FILE: until FILE has N lines (5 s at most)
wait_lines() {
	for _ in $(seq 100); do
		[ "$(wc -l <"$2")" -ge "$1" ] && return 0
		sleep 0.05
	done
	echo "timed out waiting for $1 lines in $2 (have $(wc -l <"$2"))"
	return 1
}

# the plays and the songs dimension as sqlite3 tables
load_sqlite() {
	jq -r '[.user_id, .event_time, .song_id] | @tsv' plays.ndjson >plays.tsv
	sqlite3 db <<-'EOF'
		.mode csv
		.import songs.csv songs
		.mode tabs
		CREATE TABLE plays(user_id INTEGER, event_time TEXT, song_id INTEGER);
		.import plays.tsv plays
	EOF
}

# the join's output as the same tab-separated rows, sorted
fx_rows() {
	jq -r '[.user_id, .event_time, .song_id, .title, .genre] | @tsv' | sort
}

@test "--help and --version" {
	run --separate-stderr fx-join --help
	assert_success
	assert_output --partial 'fx-join --dim FILE|kafka:TOPIC --on KEYS'
	assert_output --partial '--left-nulls'
	run --separate-stderr fx-join --version
	assert_success
	assert_output --regexp '^fx-join [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "lookup join of plays with a CSV songs dimension equals sqlite3's join, inner and left" {
	gen 20000 1 --songs 3000 >plays.ndjson
	gen-plays -n 0 -s 1 --songs 2500 --dim-songs songs.csv # misses some
	# some titles need CSV quoting ("a && b" would not fail the test on a)
	grep -q ',"' songs.csv || fail "no quoted field in songs.csv"
	load_sqlite
	sqlite3 -tabs db "SELECT p.user_id, p.event_time, p.song_id, s.title, s.genre
		FROM plays p JOIN songs s ON p.song_id = s.song_id" | sort >want
	# to a file, not into a pipe: fx-join's status must count
	fx-join --dim songs.csv --on song_id --fields title,genre <plays.ndjson >out
	fx_rows <out >got
	[ "$(wc -l <want)" -gt 15000 ]
	diff want got
	sqlite3 -tabs db "SELECT p.user_id, p.event_time, p.song_id,
		coalesce(s.title, ''), coalesce(s.genre, '')
		FROM plays p LEFT JOIN songs s ON p.song_id = s.song_id" | sort >want
	fx-join --dim songs.csv --on song_id --fields title,genre --left \
		<plays.ndjson >out
	fx_rows <out >got
	[ "$(wc -l <want)" -eq 20000 ]
	diff want got
}

@test "the same dimension as NDJSON gives the same bytes as the CSV" {
	gen 5000 3 --songs 600 >plays.ndjson
	gen-plays -n 0 -s 3 --songs 500 --dim-songs songs.csv
	fx-consume songs.csv >songs.ndjson
	fx-join --dim songs.csv --on song_id --prefix s_ --left-nulls \
		<plays.ndjson >csv.out
	fx-join --dim songs.ndjson --on song_id --prefix s_ --left-nulls \
		<plays.ndjson >nd.out
	cmp csv.out nd.out
	gzip -k songs.ndjson
	fx-join --dim songs.ndjson.gz --on song_id --prefix s_ --left-nulls \
		<plays.ndjson >gz.out
	cmp gz.out csv.out
	# the left record's bytes come first, untouched
	head -n 1 plays.ndjson | sed 's/}$//' >want
	head -n 1 csv.out | cut -c "1-$(wc -c <want | awk '{print $1 - 1}')" |
		cmp - want
}

@test "NDJSON dimension: a row without one of --fields adds it as null, in --fields' order; without --fields, what it has" {
	printf '%s\n' '{"id":1,"a":"x"}' '{"id":2,"b":"y"}' >dim.ndjson
	printf '%s\n' '{"id":1}' '{"id":2}' '{"id":3}' >in.ndjson
	run --separate-stderr fx-join --dim dim.ndjson --on id --fields b,a --left-nulls <in.ndjson
	assert_success
	# every row has the shape of the unmatched one
	assert_output - <<-'EOF'
		{"id":1,"b":null,"a":"x"}
		{"id":2,"b":"y","a":null}
		{"id":3,"b":null,"a":null}
	EOF
	run --separate-stderr fx-join --dim dim.ndjson --on id --left <in.ndjson
	assert_success
	assert_output - <<-'EOF'
		{"id":1,"a":"x"}
		{"id":2,"b":"y"}
		{"id":3}
	EOF
}

@test "output: dimension fields before the closing brace, _fx fields and control records pass" {
	printf 'id,name,score\n1,"a, ""b""",7\n2,ü,\n' >d.csv
	printf '%s\n' '{"_fx":"watermark","ts":"2026-11-23T00:00:00Z"}' \
		'{"k":1,"_fx_offset":5}' '{}' '{ "k" : "2" }' \
		'{"_fx":"checkpoint","id":1}' '{"k":3}' >in
	run --separate-stderr fx-join --dim d.csv --on k=id --left <in
	assert_success
	assert_output - <<-'EOF'
		{"_fx":"watermark","ts":"2026-11-23T00:00:00Z"}
		{"k":1,"_fx_offset":5,"name":"a, \"b\"","score":7}
		{}
		{ "k" : "2" ,"name":"ü","score":""}
		{"_fx":"checkpoint","id":1}
		{"k":3}
	EOF
	run --separate-stderr fx-join --dim d.csv --on k=id --fields score \
		--left-nulls <in
	assert_success
	assert_output - <<-'EOF'
		{"_fx":"watermark","ts":"2026-11-23T00:00:00Z"}
		{"k":1,"_fx_offset":5,"score":7}
		{"score":null}
		{ "k" : "2" ,"score":""}
		{"_fx":"checkpoint","id":1}
		{"k":3,"score":null}
	EOF
	run --separate-stderr fx-join --dim d.csv --on k=id --fields score <in
	assert_success
	assert_output - <<-'EOF'
		{"_fx":"watermark","ts":"2026-11-23T00:00:00Z"}
		{"k":1,"_fx_offset":5,"score":7}
		{ "k" : "2" ,"score":""}
		{"_fx":"checkpoint","id":1}
	EOF
}

@test "keys match by value: 42, \"42\", 42.0 and 4.2e1 match; \"042\" and null do not" {
	printf 'id,v\n42,x\n042,y\ntrue,t\n' >d.csv
	printf '%s\n' '{"k":42}' '{"k":"42"}' '{"k":42.0}' '{"k":4.2e1}' \
		'{"k":"042"}' '{"k":null}' '{}' '{"k":true}' '{"k":"\u0034\u0032"}' >in
	run --separate-stderr fx-join --dim d.csv --on k=id --left <in
	assert_success
	assert_output - <<-'EOF'
		{"k":42,"v":"x"}
		{"k":"42","v":"x"}
		{"k":42.0,"v":"x"}
		{"k":4.2e1,"v":"x"}
		{"k":"042","v":"y"}
		{"k":null}
		{}
		{"k":true,"v":"t"}
		{"k":"\u0034\u0032","v":"x"}
	EOF
}

@test "several keys, and a dimension key named differently" {
	printf 'a,b,v\n1,x,one-x\n1,y,one-y\n' >d.csv
	printf '%s\n' '{"p":1,"q":"y"}' '{"p":1,"q":"z"}' >in
	run --separate-stderr fx-join --dim d.csv --on p=a,q=b <in
	assert_success
	assert_output '{"p":1,"q":"y","v":"one-y"}'
}

@test "a field in both the record and the dimension is a usage error without --prefix" {
	gen 3 1 --songs 10 >plays.ndjson
	gen-plays -n 0 -s 1 --songs 10 --dim-songs songs.csv
	run --separate-stderr fx-join --dim songs.csv --on song_id <plays.ndjson
	assert_failure 2
	assert_equal "$stderr" 'fx-join: stdin:1: field "artist_id" is in the record and in the dimension songs.csv: use --fields or --prefix'
	run --separate-stderr fx-join --dim songs.csv --on song_id --prefix song_ <plays.ndjson
	assert_success
	assert_line --index 0 --partial '"song_title":'
	run --separate-stderr fx-join --dim songs.csv --on song_id --fields song_id <plays.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-join: field \"song_id\" is the join key and a dimension field: use --prefix (see 'fx-join --help')"
}

@test "bad dimensions: no key column (2), unreadable (3), duplicate key (1) unless --dim-last-wins" {
	printf 'id,genre\n1,rock\n' >d.csv
	run --separate-stderr fx-join --dim d.csv --on song_id <<<'{"song_id":1}'
	assert_failure 2
	assert_equal "$stderr" 'fx-join: d.csv: no column "song_id"'
	run --separate-stderr fx-join --dim nosuch.csv --on song_id <<<'{"song_id":1}'
	assert_failure 3
	assert_equal "$stderr" 'fx-join: nosuch.csv: No such file or directory'
	printf 'id,genre\n1,rock\n2,pop\n1,jazz\n' >dup.csv
	run --separate-stderr fx-join --dim dup.csv --on song_id=id <<<'{"song_id":1}'
	assert_failure 1
	assert_equal "$stderr" 'fx-join: dup.csv:4: field "id": duplicate key 1 (first on line 2; --dim-last-wins keeps the last)'
	run --separate-stderr fx-join --dim dup.csv --on song_id=id --dim-last-wins <<<'{"song_id":1}'
	assert_success
	assert_output '{"song_id":1,"genre":"jazz"}'
	printf 'id,genre\n1,rock\n2\n' >short.csv
	run --separate-stderr fx-join --dim short.csv --on id <<<'{"id":1}'
	assert_failure 1
	assert_equal "$stderr" 'fx-join: short.csv:3: expected 2 fields, got 1'
	printf '{"id":1,"g":"a"}\n{"g":"b"}\n' >d.ndjson
	run --separate-stderr fx-join --dim d.ndjson --on id <<<'{"id":1}'
	assert_failure 1
	assert_equal "$stderr" 'fx-join: d.ndjson:2: field "id": missing'
	run --separate-stderr fx-join --dim d.csv --on id --fields genre,nosuch <<<'{"id":1}'
	assert_failure 2
	assert_equal "$stderr" 'fx-join: d.csv: no field "nosuch"'
}

@test "a CSV dimension with a header and no rows: its columns are checked and added as with rows; a 0-byte file has none" {
	printf 'k,v\n' >ho.csv
	printf 'k,v\n2,x\n' >one.csv # one row that matches nothing
	for d in ho.csv one.csv; do
		run --separate-stderr fx-join --dim $d --on kk --left-nulls <<<'{"kk":1}'
		assert_failure 2
		assert_equal "$stderr" "fx-join: $d: no column \"kk\""
		refute_output
		run --separate-stderr fx-join --dim $d --on k --fields nope --left-nulls <<<'{"k":1}'
		assert_failure 2
		assert_equal "$stderr" "fx-join: $d: no field \"nope\""
		run --separate-stderr fx-join --dim $d --on k --left-nulls <<<'{"k":1}'
		assert_success
		assert_output '{"k":1,"v":null}'
		run --separate-stderr fx-join --dim $d --on kk=v --left-nulls <<<'{"kk":"y"}'
		assert_success
		assert_output '{"kk":"y","k":null}'
	done
	# a byte order mark, blank lines, quoted names with a comma, a quote
	# and a line break, no newline at the end; gzip
	printf '\xef\xbb\xbf\r\n\n"a,b","c""\nd",k' >q.csv
	gzip -c q.csv >q.csv.gz
	for d in q.csv q.csv.gz; do
		run --separate-stderr fx-join --dim $d --on k --left-nulls <<<'{"k":1}'
		assert_success
		assert_output '{"k":1,"a,b":null,"c\"\nd":null}'
		run --separate-stderr fx-join --dim $d --on x --left-nulls <<<'{"k":1}'
		assert_failure 2
		assert_equal "$stderr" "fx-join: $d: no column \"x\""
	done
	# a bad header is still a bad row
	printf 'k,k\n' >dup.csv
	run --separate-stderr fx-join --dim dup.csv --on k --left-nulls <<<'{"k":1}'
	assert_failure 1
	assert_equal "$stderr" 'fx-join: dup.csv:1: duplicate field name "k"'
	# a 0-byte file has no header, so no columns: nothing to check, and
	# only --fields are added (as with an empty NDJSON dimension)
	: >empty.csv
	run --separate-stderr fx-join --dim empty.csv --on k --left-nulls <<<'{"k":1}'
	assert_success
	assert_output '{"k":1}'
	run --separate-stderr fx-join --dim empty.csv --on k --fields v --left-nulls <<<'{"k":1}'
	assert_success
	assert_output '{"k":1,"v":null}'
	run --separate-stderr fx-join --dim empty.csv --on k <<<'{"k":1}'
	assert_success
	refute_output
}

@test "an object as key is a bad record under --on-error" {
	printf 'song_id,genre\n1,rock\n' >d.csv
	printf '%s\n' '{"song_id":1}' '{"song_id":{"a":1}}' '{"song_id":1}' >in
	run --separate-stderr fx-join --dim d.csv --on song_id <in
	assert_failure 1
	assert_output '{"song_id":1,"genre":"rock"}'
	assert_equal "$stderr" 'fx-join: stdin:2: field "song_id": cannot join on an object'
	run --separate-stderr fx-join --dim d.csv --on song_id --on-error skip <in
	assert_success
	assert_equal "${#lines[@]}" 2
	run --separate-stderr fx-join --dim d.csv --on song_id <<<'{"song_id":[1]}'
	assert_failure 1
	assert_equal "$stderr" 'fx-join: stdin:1: field "song_id": cannot join on an array'
}

@test "usage errors" {
	run --separate-stderr fx-join --on a
	assert_failure 2
	assert_equal "$stderr" "fx-join: give --dim FILE or --right SOURCE (see 'fx-join --help')"
	run --separate-stderr fx-join --dim x.csv
	assert_failure 2
	assert_equal "$stderr" "fx-join: --on: give the key fields (see 'fx-join --help')"
	run --separate-stderr fx-join --dim x.csv --right y --on a --within 1s
	assert_failure 2
	assert_equal "$stderr" "fx-join: --dim and --right exclude each other (see 'fx-join --help')"
	run --separate-stderr fx-join --dim x.csv --on a --within 5s
	assert_failure 2
	assert_equal "$stderr" "fx-join: --within needs --right SOURCE, not --dim (see 'fx-join --help')"
	run --separate-stderr fx-join --dim x.csv --on a --right-prefix r_ --time t
	assert_failure 2
	assert_equal "$stderr" "fx-join: --time and --right-prefix need --right SOURCE, not --dim (see 'fx-join --help')"
	run --separate-stderr fx-join --on a --within 5m
	assert_failure 2
	assert_equal "$stderr" "fx-join: --within needs --right SOURCE (see 'fx-join --help')"
	run --separate-stderr fx-join --on a --lateness 1s --time-unit ms --right-time rt
	assert_failure 2
	assert_equal "$stderr" "fx-join: --right-time, --time-unit and --lateness need --right SOURCE (see 'fx-join --help')"
	run --separate-stderr fx-join --right x --on a --time t --within 1s --reload
	assert_failure 2
	assert_equal "$stderr" "fx-join: --reload needs --dim FILE (see 'fx-join --help')"
	run --separate-stderr fx-join --right x --on a --time t --within 1s --dim-last-wins --prefix p_
	assert_failure 2
	assert_equal "$stderr" "fx-join: --dim-last-wins and --prefix need --dim FILE; the interval join has --right-prefix (see 'fx-join --help')"
	run --separate-stderr fx-join --on a --reload
	assert_failure 2
	assert_equal "$stderr" "fx-join: --reload needs --dim FILE (see 'fx-join --help')"
	run --separate-stderr fx-join --right x --on a --time t
	assert_failure 2
	assert_equal "$stderr" "fx-join: --right needs --within DURATION (see 'fx-join --help')"
	run --separate-stderr fx-join --dim x.csv --on a --inner --left
	assert_failure 2
	assert_equal "$stderr" "fx-join: --inner and --left exclude each other (see 'fx-join --help')"
	run --separate-stderr fx-join --dim kafka:t --on a --reload
	assert_failure 2
	assert_equal "$stderr" "fx-join: --reload is for files; a kafka: dimension follows its topic anyway (see 'fx-join --help')"
}

@test "usage: --idle-timeout, --reload-interval and -j are of one kind of join, even given at their defaults" {
	printf 'a,v\n1,x\n' >d.csv
	printf '%s\n' '{"a":1,"t":0}' >r.ndjson
	run --separate-stderr fx-join --dim d.csv --on a --idle-timeout=5s <r.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-join: --idle-timeout needs --right SOURCE, not --dim (see 'fx-join --help')"
	run --separate-stderr fx-join --dim d.csv --on a --idle-timeout=10s --lateness 1s <r.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-join: --lateness and --idle-timeout need --right SOURCE, not --dim (see 'fx-join --help')"
	run --separate-stderr fx-join --right r.ndjson --on a --time t --within 1s --reload-interval=1s <r.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-join: --reload-interval needs --dim FILE (see 'fx-join --help')"
	run --separate-stderr fx-join --right r.ndjson --on a --time t --within 1s --reload-interval=100ms <r.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-join: --reload-interval needs --dim FILE (see 'fx-join --help')"
	for j in '-j 2' '-j1' '--jobs=0'; do
		# shellcheck disable=SC2086
		run --separate-stderr fx-join --right r.ndjson --on a --time t --within 1s $j <r.ndjson
		assert_failure 2
		assert_equal "$stderr" "fx-join: --jobs needs --dim FILE (see 'fx-join --help')"
	done
	run --separate-stderr fx-join --right r.ndjson --on a --time t --within 1s \
		--reload --reload-interval 1s -j 2 --prefix p_ <r.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-join: --reload, --prefix, --reload-interval and --jobs need --dim FILE; the interval join has --right-prefix (see 'fx-join --help')"
	run --separate-stderr fx-join --on a --idle-timeout 1s
	assert_failure 2
	assert_equal "$stderr" "fx-join: --idle-timeout needs --right SOURCE (see 'fx-join --help')"
	run --separate-stderr fx-join --on a -j 2
	assert_failure 2
	assert_equal "$stderr" "fx-join: --jobs needs --dim FILE (see 'fx-join --help')"
	run --separate-stderr fx-join --dim d.csv --on a --reload-interval 0 <r.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-join: --reload-interval: must be more than 0 (see 'fx-join --help')"
	run --separate-stderr fx-join --dim d.csv --on a -j x <r.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-join: --jobs: not an integer: 'x' (see 'fx-join --help')"
	# each in its own join, and neither given
	run --separate-stderr fx-join --dim d.csv --on a -j 2 --reload-interval 1s <r.ndjson
	assert_success
	assert_output '{"a":1,"t":0,"v":"x"}'
	run --separate-stderr fx-join --right r.ndjson --on a --time t --within 1s \
		--idle-timeout 0 <r.ndjson
	assert_success
	assert_output '{"a":1,"t":0,"right_t":0}'
	run --separate-stderr fx-join --right r.ndjson --on a --time t --within 1s <r.ndjson
	assert_success
	assert_output '{"a":1,"t":0,"right_t":0}'
}

# kafka_opt_name OPTION: the name fx-join's messages give a Kafka option
kafka_opt_name() {
	case $1 in
	-b* | --brokers*) echo --brokers ;;
	-X*) echo -X ;;
	-F* | --kafka-config*) echo --kafka-config ;;
	*) echo --timeout ;;
	esac
}

@test "usage: the Kafka options are a kafka: dimension's; the interval join, which reads no topic, refuses them" {
	printf '%s\n' '{"a":1,"t":0}' >r.ndjson
	printf 'linger.ms=5\n' >k.properties
	for k in '-b 127.0.0.1:1' '--brokers=127.0.0.1:1' '-X linger.ms=5' \
		'-F k.properties' '--kafka-config=k.properties' '--timeout 10s' '--timeout=1s'; do
		# shellcheck disable=SC2086
		run --separate-stderr fx-join --right r.ndjson --on a --time t --within 1s $k <r.ndjson
		assert_failure 2
		assert_output ''
		name=$(kafka_opt_name "$k")
		assert_equal "$stderr" "fx-join: $name needs --dim kafka:TOPIC; the interval join reads no topic (see 'fx-join --help')"
	done
	run --separate-stderr fx-join --right r.ndjson --on a --time t --within 1s \
		--timeout 1s -X linger.ms=5 -b 127.0.0.1:1 -F k.properties <r.ndjson
	assert_failure 2
	assert_equal "$stderr" "fx-join: --brokers, -X, --kafka-config and --timeout need --dim kafka:TOPIC; the interval join reads no topic (see 'fx-join --help')"
	# with neither join named, they say a kafka: dimension was meant
	run --separate-stderr fx-join --on a -b 127.0.0.1:1
	assert_failure 2
	assert_equal "$stderr" "fx-join: --brokers needs --dim kafka:TOPIC (see 'fx-join --help')"
	# and without them the interval join runs
	run --separate-stderr fx-join --right r.ndjson --on a --time t --within 1s <r.ndjson
	assert_success
	assert_output '{"a":1,"t":0,"right_t":0}'
}

@test "usage: a file dimension, which reads no topic, refuses the Kafka options as the interval join does; a kafka: dimension takes them" {
	printf 'id,g\n1,rock\n' >d.csv
	printf 'linger.ms=5\n' >k.properties
	for k in '-b 127.0.0.1:1' '--brokers=127.0.0.1:1' '-X linger.ms=5' \
		'-F k.properties' '--kafka-config=k.properties' '--timeout 10s' '--timeout=1s'; do
		# shellcheck disable=SC2086
		run --separate-stderr fx-join --dim d.csv --on id $k <<<'{"id":1}'
		assert_failure 2
		assert_output ''
		name=$(kafka_opt_name "$k")
		assert_equal "$stderr" "fx-join: $name needs --dim kafka:TOPIC; a file dimension reads no topic (see 'fx-join --help')"
	done
	run --separate-stderr fx-join --dim d.csv --on id \
		--timeout 1s -X linger.ms=5 -b 127.0.0.1:1 -F k.properties <<<'{"id":1}'
	assert_failure 2
	assert_equal "$stderr" "fx-join: --brokers, -X, --kafka-config and --timeout need --dim kafka:TOPIC; a file dimension reads no topic (see 'fx-join --help')"
	# a kafka: dimension takes them: the next check is what stops it
	run --separate-stderr fx-join --dim kafka:t --on id,g \
		--timeout 1s -X linger.ms=5 -b 127.0.0.1:1 -F k.properties </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-join: --dim kafka:TOPIC joins on one field (the message key) (see 'fx-join --help')"
	# and without them the file dimension joins
	run --separate-stderr fx-join --dim d.csv --on id <<<'{"id":1}'
	assert_success
	assert_output '{"id":1,"g":"rock"}'
}

@test "--reload: a dimension replaced by rename, then rewritten slowly in place, through a FIFO" {
	printf 'id,g\n1,rock\n2,rock\n' >d.csv
	mkfifo in
	fx-join --dim d.csv --on id --reload --reload-interval 20ms <in >out &
	JOIN_PID=$!
	exec 5>in
	echo '{"id":1,"n":1}' >&5
	wait_lines 1 out
	printf 'id,g\n1,jazz\n2,jazz\n' >d.tmp && mv d.tmp d.csv
	sleep 0.2
	echo '{"id":1,"n":2}' >&5
	wait_lines 2 out
	# in place, in two halves: never the half with row 1 alone
	{
		printf 'id,g\n1,pop\n'
		sleep 0.6
		printf '2,pop\n'
	} >d.csv &
	writer=$!
	for n in 3 4 5 6; do
		sleep 0.1
		echo "{\"id\":2,\"n\":$n}" >&5
	done
	wait "$writer"
	sleep 1.3 # the file left alone for a second
	echo '{"id":1,"n":7}' >&5
	echo '{"id":2,"n":8}' >&5
	# joined before the next file comes (a file replaced while it is being
	# read is read again next time: the bad one, if it came too soon)
	wait_lines 8 out
	# a bad file keeps the table, with one warning
	printf 'x,g\n1,bad\n' >d.tmp && mv d.tmp d.csv
	sleep 0.2
	echo '{"id":1,"n":9}' >&5
	echo '{"id":1,"n":10}' >&5
	exec 5>&-
	wait "$JOIN_PID"
	JOIN_PID=
	run cat out
	assert_output - <<-'EOF'
		{"id":1,"n":1,"g":"rock"}
		{"id":1,"n":2,"g":"jazz"}
		{"id":2,"n":3,"g":"jazz"}
		{"id":2,"n":4,"g":"jazz"}
		{"id":2,"n":5,"g":"jazz"}
		{"id":2,"n":6,"g":"jazz"}
		{"id":1,"n":7,"g":"pop"}
		{"id":2,"n":8,"g":"pop"}
		{"id":1,"n":9,"g":"pop"}
		{"id":1,"n":10,"g":"pop"}
	EOF
}

@test "--reload: a file that does not end in a newline is not used" {
	printf 'id,g\n1,rock\n' >d.csv
	mkfifo in
	fx-join --dim d.csv --on id --reload --reload-interval 20ms <in >out 2>err &
	JOIN_PID=$!
	exec 5>in
	# the first table is in use once the first record has come out
	echo '{"id":1}' >&5
	for _ in $(seq 100); do [ -s out ] && break; sleep 0.05; done
	printf 'id,g\n1,half' >d.tmp && mv d.tmp d.csv
	sleep 0.2
	echo '{"id":1}' >&5
	exec 5>&-
	wait "$JOIN_PID"
	JOIN_PID=
	run cat out
	assert_output - <<-'EOF'
		{"id":1,"g":"rock"}
		{"id":1,"g":"rock"}
	EOF
	run cat err
	assert_output - <<-'EOF'
		fx-join: d.csv: incomplete (empty, or no newline at the end)
		fx-join: d.csv: not reloaded, keeping the previous table (1 rows)
	EOF
}

@test "Kafka dimension: loaded to its end, then updates and deletions reach later records" {
	fx_broker_start --topic songs:2
	printf '%s\n' '1:{"title":"a","genre":"rock"}' '2:{"title":"b","genre":"pop"}' \
		'1:{"title":"a2","genre":"rock"}' '3:{"title":"c","genre":"folk"}' |
		kcat -P -b "$B" -t songs -K:
	mkfifo in
	fx-join -b "$B" --dim kafka:songs --on song_id --left --reload-interval 20ms \
		<in >out &
	JOIN_PID=$!
	exec 5>in
	printf '%s\n' '{"song_id":1}' '{"song_id":"2"}' '{"song_id":3}' >&5
	wait_lines 3 out
	printf '%s\n' '2:{"title":"b2","genre":"jazz"}' '3:' |
		kcat -P -Z -b "$B" -t songs -K:
	sleep 1.5
	printf '%s\n' '{"song_id":1}' '{"song_id":2}' '{"song_id":3}' >&5
	exec 5>&-
	wait "$JOIN_PID"
	JOIN_PID=
	run cat out
	assert_output - <<-'EOF'
		{"song_id":1,"title":"a2","genre":"rock"}
		{"song_id":"2","title":"b","genre":"pop"}
		{"song_id":3,"title":"c","genre":"folk"}
		{"song_id":1,"title":"a2","genre":"rock"}
		{"song_id":2,"title":"b2","genre":"jazz"}
		{"song_id":3}
	EOF
}

@test "Kafka dimension: a pretty-printed row joins on one line" {
	fx_broker_start --topic songs:1
	printf '1:{"title":"a",\n "tags":{"x":\r\n  1}}|2:{"title":"b"}|' |
		kcat -P -b "$B" -t songs -K: -D '|'
	printf '%s\n' '{"song_id":1}' '{"song_id":2}' >in.ndjson
	run --separate-stderr fx-join -b "$B" --dim kafka:songs --on song_id <in.ndjson
	assert_success
	assert_output - <<-'EOF'
		{"song_id":1,"title":"a","tags":{"x":    1}}
		{"song_id":2,"title":"b"}
	EOF
}

@test "Kafka dimension without brokers is a usage error" {
	unset FX_BROKERS
	run --separate-stderr fx-join --dim kafka:songs --on id </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-join: no brokers: use -b HOST:PORT or set FX_BROKERS (see 'fx-join --help')"
}

# sqlite3's interval join of l.ndjson and r.ndjson on user_id within D ms
sqlite_interval() {
	local join=$1 d=$2
	jq -r '[.user_id, .event_time, .action] | @tsv' l.ndjson >l.tsv
	jq -r '[.user_id, .event_time, .action] | @tsv' r.ndjson >r.tsv
	sqlite3 <<-EOF
		.mode tabs
		CREATE TABLE l(k INTEGER, t TEXT, a TEXT);
		CREATE TABLE r(k INTEGER, t TEXT, a TEXT);
		.import l.tsv l
		.import r.tsv r
		CREATE VIEW lm AS SELECT *, CAST(strftime('%s', substr(t, 1, 19)) AS INTEGER) * 1000 + CAST(substr(t, 21, 3) AS INTEGER) AS ms FROM l;
		CREATE VIEW rm AS SELECT *, CAST(strftime('%s', substr(t, 1, 19)) AS INTEGER) * 1000 + CAST(substr(t, 21, 3) AS INTEGER) AS ms FROM r;
		SELECT lm.k, lm.t, lm.a, coalesce(rm.t, ''), coalesce(rm.a, '') FROM lm $join JOIN rm
			ON lm.k = rm.k AND abs(lm.ms - rm.ms) <= $d;
	EOF
}

@test "interval join equals sqlite3's ON l.k = r.k AND abs(l.t - r.t) <= D, inner and left" {
	gen 20000 1 --users 300 --disorder 2000 >l.ndjson
	gen 5000 2 --users 300 --rate 250 --disorder 2000 >r.ndjson
	sqlite_interval "" 5000 | sort >want
	fx-join --right r.ndjson --on user_id --time event_time --within 5s \
		--lateness 2s <l.ndjson >out
	jq -r '[.user_id, .event_time, .action, .right_event_time, .right_action] | @tsv' \
		out | sort >got
	[ "$(wc -l <want)" -gt 100000 ]
	diff want got
	sqlite_interval LEFT 5000 | sort >want
	fx-join --right <(cat r.ndjson) --on user_id --time event_time --within 5s \
		--lateness 2s --left <l.ndjson >out2
	jq -r '[.user_id, .event_time, .action, .right_event_time // "", .right_action // ""] | @tsv' \
		out2 | sort >got
	diff want got
	# the same bytes whatever the sources are
	mkfifo rf
	cat r.ndjson >rf &
	fx-join --right rf --on user_id --time event_time --within 5s \
		--lateness 2s --left l.ndjson >out3
	cmp out2 out3
}

@test "interval join: right fields prefixed, keys and _fx fields left out, --right-time, epoch times" {
	printf '%s\n' '{"k":1,"t":100,"a":"x"}' '{"k":2,"t":101}' '{"k":1,"t":200}' >l
	printf '%s\n' '{"id":1,"ts":99,"b":"y","_fx_offset":3}' '{"id":1,"ts":300,"b":"z"}' >r
	run --separate-stderr fx-join --right r --on k=id --time t --right-time ts \
		--within 2s --right-prefix r. --left-nulls --fields b,ts l
	assert_success
	assert_output - <<-'EOF'
		{"k":1,"t":100,"a":"x","r.b":"y","r.ts":99}
		{"k":2,"t":101,"r.b":null,"r.ts":null}
		{"k":1,"t":200,"r.b":null,"r.ts":null}
	EOF
	run --separate-stderr fx-join --right r --on k=id --time t --right-time ts \
		--within 100s l
	assert_success
	assert_output - <<-'EOF'
		{"k":1,"t":100,"a":"x","right_ts":99,"right_b":"y"}
		{"k":1,"t":200,"right_ts":300,"right_b":"z"}
	EOF
	run --separate-stderr fx-join --right r --on k=id --time t --right-time ts \
		--within 1s <<<'{"k":1,"t":"soon"}'
	assert_failure 1
	assert_equal "$stderr" 'fx-join: stdin:1: field "t": not a timestamp: "soon"'
}

@test "interval join: --fields come in their order, null when a right record lacks one, as --left-nulls writes them" {
	printf '%s\n' '{"k":1,"t":0,"a":1,"b":2,"c":3}' '{"k":3,"t":0,"\u0061":"esc"}' >r
	printf '%s\n' '{"k":1,"t":0}' '{"k":2,"t":0}' '{"k":3,"t":0}' >l
	run --separate-stderr fx-join --right r --on k --time t --within 1s \
		--fields c,a --left-nulls l
	assert_success
	assert_output - <<-'EOF'
		{"k":1,"t":0,"right_c":3,"right_a":1}
		{"k":2,"t":0,"right_c":null,"right_a":null}
		{"k":3,"t":0,"right_c":null,"right_a":"esc"}
	EOF
	# every record the same fields, in the same order
	run jq -c keys_unsorted <<<"$output"
	assert_equal "$(sort -u <<<"$output")" '["k","t","right_c","right_a"]'
	run --separate-stderr fx-join --right r --on k --time t --within 1s \
		--fields c,nope --left-nulls l
	assert_success
	assert_output - <<-'EOF'
		{"k":1,"t":0,"right_c":3,"right_nope":null}
		{"k":2,"t":0,"right_c":null,"right_nope":null}
		{"k":3,"t":0,"right_c":null,"right_nope":null}
	EOF
	run --separate-stderr fx-join --right r --on k --time t --within 1s \
		--fields nope,b l
	assert_success
	assert_output - <<-'EOF'
		{"k":1,"t":0,"right_nope":null,"right_b":2}
		{"k":3,"t":0,"right_nope":null,"right_b":null}
	EOF
}

@test "interval join: times at the ends of int64 are compared without overflow" {
	# 2^63 ms apart, and more: abs(l.t - r.t) <= D holds for no pair
	printf '%s\n' '{"k":1,"t":9223372036854775,"r":"far"}' >far
	run --separate-stderr fx-join --right far --on k --time t --within 2s \
		<<<'{"k":1,"t":-9223372036854775}'
	assert_success
	refute_output
	run --separate-stderr fx-join --right far --on k --time t --within 2s --left \
		<<<'{"k":1,"t":-9223372036854775}'
	assert_success
	assert_output '{"k":1,"t":-9223372036854775}'
	# the longest --within (106751991167 days, just under 2^63 ms) is less
	printf '%s\n' '{"k":1,"t":-9223372036854775.808}' '{"k":1,"t":9223372036854775}' >l
	run --separate-stderr fx-join --right far --on k --time t \
		--within 106751991167d l
	assert_success
	assert_output '{"k":1,"t":9223372036854775,"right_t":9223372036854775,"right_r":"far"}'
	# a watermark at the last millisecond is a time, not the end of the
	# input: the records at that millisecond still come and pair
	printf '%s\n' '{"k":1,"t":9223372036854775.806}' >l
	printf '%s\n' '{"k":1,"t":9223372036854775.807,"n":1}' \
		'{"_fx":"watermark","ts":9223372036854775.807}' \
		'{"k":1,"t":9223372036854775.807,"n":2}' >r
	run --separate-stderr fx-join --right r --on k --time t --within 2s l
	assert_success
	assert_output - <<-'EOF'
		{"k":1,"t":9223372036854775.806,"right_t":9223372036854775.807,"right_n":1}
		{"k":1,"t":9223372036854775.806,"right_t":9223372036854775.807,"right_n":2}
	EOF
	printf '%s\n' '{"k":1,"t":9223372036854775.806,"n":1}' \
		'{"_fx":"watermark","ts":9223372036854775.807}' \
		'{"k":1,"t":9223372036854775.807,"n":2}' >l
	printf '%s\n' '{"k":1,"t":9223372036854775.807,"r":1}' >r
	run --separate-stderr fx-join --right r --on k --time t --within 2s l
	assert_success
	assert_output - <<-'EOF'
		{"k":1,"t":9223372036854775.806,"n":1,"right_t":9223372036854775.807,"right_r":1}
		{"k":1,"t":9223372036854775.807,"n":2,"right_t":9223372036854775.807,"right_r":1}
	EOF
}

@test "interval join: memory stays flat from 500,000 to 5,000,000 left records" {
	rss() {
		/usr/bin/time -f %M -o rss.$1 fx-join --right <(gen-plays -n "$1" -s 2) \
			--on user_id --time event_time --within 2s --lateness 3s --left \
			< <(gen-plays -n "$1" -s 1) | wc -l >count.$1
		cat rss.$1
	}
	small=$(rss 500000)
	big=$(rss 5000000)
	echo "max RSS: $small KB at 500k, $big KB at 5M"
	[ "$(cat count.5000000)" -ge 5000000 ]
	[ "$big" -le $((small + small / 5 + 2048)) ]
}

# interval_oracle LEFT RIGHT KEY D_MS: python3's interval join of two NDJSON
# files of flat records (as gen-plays writes them): every pair with equal
# KEY and |t_l - t_r| <= D, written as fx-join(1) documents it (the left
# line without its _fx* members, then the right members but the key and
# _fx*, named right_*), in its documented order: left event time, left
# bytes, right event time, right bytes
interval_oracle() {
	python3 - "$@" <<-'EOF'
		import json, sys
		from datetime import datetime
		lpath, rpath, key, d = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
		def ms(s):
		    return round(datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp() * 1000)
		def enc(v):
		    return json.dumps(v, ensure_ascii=False, separators=(',', ':'))
		def read(path):
		    for line in open(path, encoding='utf-8'):
		        rec = json.loads(line)
		        yield rec, {k: v for k, v in rec.items() if not k.startswith('_fx')}
		lefts = [(ms(r['event_time']), '{' + ','.join(enc(k) + ':' + enc(v) for k, v in c.items()) + '}', r[key])
		         for r, c in read(lpath)]
		rights = {}
		for r, c in read(rpath):
		    members = ''.join(',' + enc('right_' + k) + ':' + enc(v) for k, v in c.items() if k != key)
		    rights.setdefault(r[key], []).append((ms(r['event_time']), members))
		for tl, line, k in sorted(lefts):
		    for tr, members in sorted(x for x in rights.get(k, []) if abs(x[0] - tl) <= d):
		        sys.stdout.write(line[:-1] + members + '}\n')
	EOF
}

# The README's interval join: plays and likes in multi-partition topics,
# keyed by user (so that each partition has its share of every second, and
# fx-consume hands them over partition by partition, far out of time order),
# each within 3 s of disorder; the Kafka run is the file run, byte for byte,
# and both are python3's join
@test "interval join on Kafka input (--meta, 4 and 3 partitions) is the file run's bytes and python3's pairs" {
	fx_broker_start --topic plays:4 --topic likes:3
	gen 4000 7 --users 300 --rate 10 --disorder 3000 >plays.ndjson
	gen 1500 8 --users 300 --rate 4 --disorder 3000 | sed 's/"action":"[a-z]*"/"action":"like"/' >likes.ndjson
	fx-sink -t plays --key user_id <plays.ndjson
	fx-sink -t likes --key user_id <likes.ndjson
	# every partition has records, and they come far out of time order
	fx-consume -t plays -e --meta | jq -r 'select(._fx == null) | ._fx_partition' | sort -u >parts
	assert_equal "$(cat parts | tr '\n' ' ')" "0 1 2 3 "
	interval_oracle plays.ndjson likes.ndjson user_id 60000 >want
	[ "$(wc -l <want)" -gt 5000 ] || fail "only $(wc -l <want) pairs in the oracle"
	fx-consume plays.ndjson |
		fx-join --right <(fx-consume likes.ndjson) --on user_id \
			--time event_time --within 1m --lateness 5s --stats >file.out 2>file.err
	cmp want file.out
	run cat file.err
	assert_line --partial ' 0 late records'
	# the README's command, with -e to end at the end of the topics
	fx-consume -t plays -e --meta |
		fx-join --right <(fx-consume -t likes -e --meta) --on user_id \
			--time event_time --within 1m --lateness 5s --stats >kafka.out 2>kafka.err
	run cat kafka.err
	assert_line --partial ' 0 late records'
	cmp want kafka.out
}

# Item 12: `| head` closing the pipe is not an error; a full disk is
@test "a closed stdout (| head -1) ends quietly with 0, /dev/full with 3 and a message: lookup and interval join" {
	gen 100000 1 --songs 100 --dim-songs songs.csv >plays.ndjson
	gen 3000 2 --users 50 --rate 20 >l.ndjson
	gen 3000 3 --users 50 --rate 20 >r.ndjson
	lookup() { fx-join --dim songs.csv --on song_id --prefix s_ <plays.ndjson; }
	interval() { fx-join --right r.ndjson --on user_id --time event_time --within 10s --lateness 3s l.ndjson; }
	# more than the pipe and the writer's buffer hold: the write must fail
	lookup | wc -c >bytes
	[ "$(cat bytes)" -gt 4000000 ] || fail "lookup output only $(cat bytes) bytes"
	interval | wc -c >bytes
	[ "$(cat bytes)" -gt 4000000 ] || fail "interval output only $(cat bytes) bytes"

	lookup 2>err | head -n 1 >first
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(cat err)" ""
	# the first play, with its song's fields appended
	want=$(head -n 1 plays.ndjson | sed 's/}$/,"s_title":/')
	got=$(cat first)
	assert_equal "${got:0:${#want}}" "$want"

	interval 2>err | head -n 1 >first
	assert_equal "${PIPESTATUS[*]}" "0 0"
	assert_equal "$(cat err)" ""
	run jq -r '.right_event_time' first
	assert_output --regexp '^2026-11-23T'

	st=0
	lookup >/dev/full 2>err || st=$?
	assert_equal "$st" 3
	assert_equal "$(cat err)" "fx-join: stdout: write error: No space left on device"
	st=0
	interval >/dev/full 2>err || st=$?
	assert_equal "$st" 3
	assert_equal "$(cat err)" "fx-join: stdout: write error: No space left on device"
}

# Partition p0 comes whole before p1, as fx-consume hands over a topic: one
# watermark per input would make p1's records late; one per partition,
# held back by "assigned" until p1 has shown up, keeps them
@test "interval join: a watermark per --meta partition, pairs in event-time order, _fx members and assigned/eof records used up" {
	printf '%s\n' '{"_fx":"assigned","partitions":["l/0","l/1"]}' \
		'{"k":1,"t":10,"_fx_topic":"l","_fx_partition":0,"_fx_offset":0}' \
		'{"k":1,"t":20,"_fx_topic":"l","_fx_partition":0,"_fx_offset":1}' \
		'{ "k":1,"t":30 ,"_fx_topic":"l","_fx_partition":0,"_fx_offset":2}' \
		'{"_fx_topic":"l","_fx_partition":1,"k":1,"t":11}' \
		'{"_fx":"checkpoint","id":1}' \
		'{"k":1,"_fx_topic":"l","t":21,"_fx_partition":1}' \
		'{"_fx":"eof","partition":"l/0"}' '{"_fx":"eof","partition":"l/1"}' >l
	printf '%s\n' '{"k":1,"t":12,"x":"a"}' '{"k":1,"t":29,"x":"b","_fx_offset":7}' >r
	run --separate-stderr fx-join --right r --on k --time t --within 2s --left --stats l
	assert_success
	# |10-12|, |11-12|, |30-29| <= 2; 20 and 21 alone; ordered by left time
	assert_output - <<-'EOF'
		{"_fx":"checkpoint","id":1}
		{"k":1,"t":10,"right_t":12,"right_x":"a"}
		{"k":1,"t":11,"right_t":12,"right_x":"a"}
		{"k":1,"t":20}
		{"k":1,"t":21}
		{ "k":1,"t":30 ,"right_t":29,"right_x":"b"}
	EOF
	assert_equal "$(grep -c ' 0 late records' <<<"$stderr")" 1
	# without "assigned", p1's 11 and 21 come after p0's 30: late
	sed 1d l >l2
	run --separate-stderr fx-join --right r --on k --time t --within 2s --left --stats l2
	assert_success
	assert_output - <<-'EOF'
		{"k":1,"t":10,"right_t":12,"right_x":"a"}
		{"k":1,"t":20}
		{"_fx":"checkpoint","id":1}
		{ "k":1,"t":30 ,"right_t":29,"right_x":"b"}
	EOF
	assert_equal "$(grep -c ' 2 late records' <<<"$stderr")" 1
}
