#!/usr/bin/env bats
# fx-partition: partition flow tables, for Kafka topics and directories.
# Kafka tests start their own fx-devbroker and stop it by PID; kcat is the
# independent client that counts what landed in each topic.

load test_helper

EX="$BATS_TEST_DIRNAME/../share/examples"

setup() { fx_setup_tmp; }
teardown() {
	[ -z "${PART_PID:-}" ] || kill "$PART_PID" 2>/dev/null || true
	fx_teardown_tmp
}

# kcount TOPIC: the messages in TOPIC, by kcat
kcount() {
	kcat -C -b "$B" -t "$1" -e -q | wc -l
}

# def JSON: writes t.json
def() {
	printf '%s\n' "$1" >t.json
}

# broken JSON MESSAGE: the definition fails with exactly MESSAGE, exit 2
broken() {
	def "$1"
	run --separate-stderr fx-partition --table t.json </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-partition: t.json: $2"
	assert_output ''
}

@test "routes by a static map, then the template: _fx_dest before the closing brace" {
	gen 200 1 | fx-partition --table "$EX/ods_play.table.json" >out
	assert_equal "$(wc -l <out)" 200
	assert_equal "$(jq -c 'select(.os == "ios") | ._fx_dest' out | sort -u)" '"play_apple"'
	assert_equal "$(jq -c 'select(.os == "android") | ._fx_dest' out | sort -u)" '"play_android"'
	assert_equal "$(jq -c 'select(.os == "web") | ._fx_dest' out | sort -u)" '"ods_play_web"'
	# every other byte of the record is kept
	gen 200 1 >in
	assert_equal "$(jq -c 'del(._fx_dest)' out)" "$(jq -c . in)"
	run --separate-stderr fx-partition --table "$EX/ods_play.table.json" <<<'{}  '
	assert_failure 1
	assert_output ''
	assert_equal "$stderr" 'fx-partition: stdin:1: field "event_time": missing: no partition value for "dt"'
}

@test "an empty object and an earlier _fx_dest" {
	def '{"name":"x","partition_by":[{"name":"os"}],"kafka":{"default":"all"}}'
	run fx-partition --table t.json <<<'{"os":"a","_fx_dest":"old","_fx_topic":"t"}'
	assert_success
	assert_output '{"os":"a","_fx_topic":"t","_fx_dest":"all"}'
}

@test "an earlier _fx_dest goes with its comma only: the whitespace between the other members stays" {
	# expected by hand: the record as if the old _fx_dest had never
	# been there, then the new one before the closing brace
	printf '%s\n' \
		'{ "os" : "y" , "event_time" : 1 }' \
		'{ "os" : "y" , "event_time" : 1 , "_fx_dest" : "z" }' \
		'{ "_fx_dest" : "z" , "os" : "y" , "event_time" : 1 }' \
		'{"os":"y",  "_fx_dest":"z",  "event_time":1}' \
		'{"_fx_dest":"a", "os":"y", "_fx_dest":"b", "event_time":1, "_fx_dest":"c"}' \
		$'{\t"_fx_topic" :\t"t",\t"os":"y",\t"_fx_dest":{"_fx_dest":1},\t"event_time":1\t}' \
		>in
	run --separate-stderr fx-partition --table "$EX/ods_play.table.json" in
	assert_success
	assert_equal "$stderr" ''
	assert_line -n 0 '{ "os" : "y" , "event_time" : 1 ,"_fx_dest":"ods_play_y"}'
	assert_line -n 1 '{ "os" : "y" , "event_time" : 1 ,"_fx_dest":"ods_play_y"}'
	assert_line -n 2 '{ "os" : "y" , "event_time" : 1 ,"_fx_dest":"ods_play_y"}'
	assert_line -n 3 '{"os":"y",  "event_time":1,"_fx_dest":"ods_play_y"}'
	assert_line -n 4 '{"os":"y", "event_time":1,"_fx_dest":"ods_play_y"}'
	assert_line -n 5 $'{\t"_fx_topic" :\t"t",\t"os":"y",\t"event_time":1\t,"_fx_dest":"ods_play_y"}'
	[ "${#lines[@]}" -eq 6 ] || fail "${#lines[@]} lines: $output"
}

@test "--files: directories from the template, day of the event time" {
	gen 50 3 | fx-partition --table "$EX/ods_play.table.json" --files >out
	assert_equal "$(jq -r '._fx_dest' out | sort -u | head -n 1)" "ods_play/dt=2026-11-23/os=android"
	assert_equal "$(jq -r 'select(._fx_dest != "ods_play/dt=\(.dt)/os=\(.os)")' out)" ''
}

@test "day, hour and bucket(N) partition values" {
	def '{"name":"x","partition_by":[{"name":"dt","field":"ts","transform":"day"},{"name":"h","field":"ts","transform":"hour"},{"name":"b","field":"k","transform":"bucket(4)"}],"files":{"dir":"x/dt={dt}/h={h}/b={b}"}}'
	run fx-partition --table t.json --files <<-'EOF'
	{"ts":"2026-11-23T10:59:59.999+00:00","k":"a"}
	{"ts":"2026-11-23T23:30:00-02:00","k":"a"}
	{"ts":1795428000,"k":17}
	EOF
	assert_success
	assert_line -n 0 '{"ts":"2026-11-23T10:59:59.999+00:00","k":"a","_fx_dest":"x/dt=2026-11-23/h=10/b=0"}'
	assert_line -n 1 --partial '"_fx_dest":"x/dt=2026-11-24/h=01/b=0"'
	assert_line -n 2 --partial '"_fx_dest":"x/dt=2026-11-23/h=10/b=0"'
}

@test "bucket(N) is the partition Kafka's murmur2 partitioner picks for that key" {
	fx_broker_start
	def '{"name":"x","partition_by":[{"name":"b","field":"user_id","transform":"bucket(4)"}],"kafka":{"topic":"b{b}"}}'
	gen 400 5 | fx-sink -b "$B" -t keyed --key user_id
	fx-consume -t keyed -e --meta >in
	fx-partition --table t.json in >out
	# (an empty out would have no mismatch either)
	assert_equal "$(jq -c 'select(._fx == null and ._fx_dest != null)' out | wc -l)" 400
	assert_equal "$(jq -c 'select(._fx == null and "b\(._fx_partition)" != ._fx_dest)' out)" ''
	assert_equal "$(kcount keyed)" 400
}

@test "--explain: each destination once, first seen first, with its count" {
	gen 1000 1 >in
	run fx-partition --table "$EX/ods_play.table.json" --explain in
	assert_success
	assert_line -n 0 '{"values":{"os":"web"},"route":"dynamic","dest":"ods_play_web","records":101}'
	assert_line -n 1 '{"values":{"os":"android"},"route":"static","dest":"play_android","records":427}'
	total=$(jq -s 'map(.records) | add' <<<"$output")
	assert_equal "$total" 1000
	run fx-partition --table "$EX/cdm_play.table.json" --explain --files in
	assert_line -n 0 '{"values":{"dt":"2026-11-23","hour":"00"},"route":"dir","dest":"cdm_play/dt=2026-11-23/hour=00","records":1000}'
}

@test "--list: static partitions, the default and the template" {
	run fx-partition --table "$EX/ods_play.table.json" --list
	assert_success
	assert_output - <<-'EOF'
	{"route":"static","values":{"os":"ios"},"topic":"play_apple"}
	{"route":"static","values":{"os":"android"},"topic":"play_android"}
	{"route":"template","topic":"ods_play_{os}"}
	EOF
}

@test "--list --files: the directories under DIR; a DIR that is missing or not a directory is an I/O error, as for fx-consume" {
	mkdir -p w/ods_play/dt=2026-11-23/os=ios w/ods_play/dt=2026-11-24/os=web empty
	run --separate-stderr fx-partition --table "$EX/ods_play.table.json" --list --files w
	assert_success
	assert_equal "$stderr" ''
	assert_output '{"route":"dir","values":{"dt":"2026-11-23","os":"ios"},"dir":"ods_play/dt=2026-11-23/os=ios"}
{"route":"dir","values":{"dt":"2026-11-24","os":"web"},"dir":"ods_play/dt=2026-11-24/os=web"}'
	# a directory without partitions: nothing to list, no error
	run --separate-stderr fx-partition --table "$EX/ods_play.table.json" --list --files empty
	assert_success
	assert_equal "$stderr" ''
	assert_output ''
	run --separate-stderr fx-partition --table "$EX/ods_play.table.json" --list --files nonexistent_dir
	assert_failure 3
	assert_output ''
	assert_equal "$stderr" 'fx-partition: nonexistent_dir: No such file or directory'
	touch afile
	run --separate-stderr fx-partition --table "$EX/ods_play.table.json" --list --files afile
	assert_failure 3
	assert_output ''
	assert_equal "$stderr" 'fx-partition: afile: not a directory'
	# the same words as fx-consume's for the same roots
	run --separate-stderr fx-consume --table "$EX/ods_play.table.json" nonexistent_dir
	assert_failure 3
	assert_equal "$stderr" 'fx-consume: nonexistent_dir: No such file or directory'
}

@test "--list and fx-consume --table against a broker that refuses: said at once, naming it, as fx-consume -t says it" {
	# nothing listens on port 9 of loopback: every broker refused, which
	# librdkafka knows at once; --timeout is for silent brokers
	SECONDS=0
	run --separate-stderr timeout 15 fx-partition --table "$EX/ods_play.table.json" --list -b 127.0.0.1:9 --timeout 12s
	assert_failure 3
	assert_output ''
	assert_equal "$stderr" "fx-partition: broker '127.0.0.1:9': connection refused"
	run --separate-stderr timeout 15 fx-consume --table "$EX/ods_play.table.json" -b 127.0.0.1:9 --timeout 12s
	assert_failure 3
	assert_output ''
	assert_equal "$stderr" "fx-consume: broker '127.0.0.1:9': connection refused"
	[ "$SECONDS" -le 6 ] || fail "two refused connections took ${SECONDS}s"
}

@test "values that need escaping: topic names round-trip, directories too" {
	def '{"name":"x","partition_by":[{"name":"v"}],"kafka":{"topic":"x_{v}"},"files":{"dir":"x/v={v}"}}'
	printf '%s\n' '{"v":"a_b"}' '{"v":"a.b"}' '{"v":"Mac OS/X"}' '{"v":"é"}' '{"v":""}' '{"v":"a-Z9"}' '{"v":12.50}' '{"v":true}' >in
	run fx-partition --table t.json in
	assert_success
	assert_equal "$(jq -r ._fx_dest <<<"$output" | tr '\n' ' ')" \
		"x_a_5fb x_a_2eb x_Mac_20OS_2fX x__c3_a9 x_ x_a-Z9 x_12_2e50 x_true "
	# every name is a legal Kafka topic name
	run bash -c "jq -r ._fx_dest <<<'$output' | grep -vE '^[A-Za-z0-9._-]{1,249}\$'"
	assert_output ''
	run fx-partition --table t.json --files in
	assert_equal "$(jq -r ._fx_dest <<<"$output" | tr '\n' ' ')" \
		"x/v=a_b x/v=a.b x/v=Mac OS%2FX x/v=é x/v=__HIVE_DEFAULT_PARTITION__ x/v=a-Z9 x/v=12.50 x/v=true "
}

@test "escaped topics read back: --list finds the dynamic topics on the broker with their values" {
	fx_broker_start
	def '{"name":"x","partition_by":[{"name":"v"}],"kafka":{"topic":"x_{v}","static":{"s":"fixed"}}}'
	printf '%s\n' '{"v":"a_b"}' '{"v":"Mac OS/X"}' '{"v":"é"}' '{"v":"s"}' |
		fx-partition --table t.json | fx-sink -b "$B"
	# names escaping cannot make: "_41" is "A", "_zz" no hex
	kcat -P -b "$B" -t x_a_41 <<<'{}'
	kcat -P -b "$B" -t x_bad_zz <<<'{}'
	kcat -P -b "$B" -t other <<<'{}'
	run fx-partition --table t.json --list -b "$B"
	assert_success
	assert_line '{"route":"static","values":{"v":"s"},"topic":"fixed"}'
	assert_line '{"route":"dynamic","values":{"v":"a_b"},"topic":"x_a_5fb"}'
	assert_line '{"route":"dynamic","values":{"v":"Mac OS/X"},"topic":"x_Mac_20OS_2fX"}'
	assert_line '{"route":"dynamic","values":{"v":"é"},"topic":"x__c3_a9"}'
	refute_output --partial 'x_a_41'
	refute_output --partial 'x_bad_zz'
	refute_output --partial '"other"'
}

@test "a topic name longer than 249 characters is a bad record" {
	def '{"name":"x","partition_by":[{"name":"v"}],"kafka":{"topic":"x_{v}"}}'
	long=$(printf 'a%.0s' $(seq 248))
	run --separate-stderr fx-partition --table t.json <<<"{\"v\":\"$long\"}"
	assert_failure 1
	assert_equal "$stderr" "fx-partition: stdin:1: topic \"x_$long\": longer than 249 characters"
}

@test "a collision: two value tuples that would share a topic" {
	def '{"name":"x","partition_by":[{"name":"a"},{"name":"b"}],"kafka":{"topic":"p_{a}_{b}"}}'
	run --separate-stderr fx-partition --table t.json <<-'EOF'
	{"a":"a_","b":"10"}
	{"a":"a","b":"5f\u0010"}
	EOF
	assert_failure 1
	assert_output '{"a":"a_","b":"10","_fx_dest":"p_a_5f_10"}'
	assert_equal "$stderr" 'fx-partition: stdin:2: topic "p_a_5f_10" was already the topic of other values: two partitions cannot share a topic'
}

@test "a topic template with a day after a '_': values with '_' and digits read back from the broker, one tuple each" {
	fx_broker_start
	# "_20" of a day is also an escape (a space): only a day's shape tells
	# p_a_5fb_2026-11-23 from the values "a" and "5fb 26-11-23"
	def '{"name":"p","partition_by":[{"name":"os"},{"name":"dt","field":"t","transform":"day"}],"kafka":{"topic":"p_{os}_{dt}"}}'
	printf '%s\n' '{"os":"a_b","t":"2026-11-23T10:00:00Z","n":1}' \
		'{"os":"win_10","t":"2020-01-02T00:00:00Z","n":2}' \
		'{"os":"x_2","t":"2026-11-24T00:00:00Z","n":3}' \
		'{"os":"ios","t":"2026-11-23T23:00:00Z","n":4}' \
		'{"os":"a_b","t":"2026-11-24T01:00:00Z","n":5}' >in
	fx-partition --table t.json in | fx-sink -b "$B"
	run --separate-stderr fx-partition --table t.json --list -b "$B"
	assert_success
	assert_equal "$stderr" ''
	assert_line '{"route":"dynamic","values":{"os":"a_b","dt":"2026-11-23"},"topic":"p_a_5fb_2026-11-23"}'
	assert_line '{"route":"dynamic","values":{"os":"win_10","dt":"2020-01-02"},"topic":"p_win_5f10_2020-01-02"}'
	assert_line '{"route":"dynamic","values":{"os":"x_2","dt":"2026-11-24"},"topic":"p_x_5f2_2026-11-24"}'
	assert_line '{"route":"dynamic","values":{"os":"a_b","dt":"2026-11-24"},"topic":"p_a_5fb_2026-11-24"}'
	# pruning by either partition reads exactly the records jq selects
	run --separate-stderr fx-consume --table t.json --where dt=2026-11-24 -e
	assert_success
	assert_equal "$(jq -c . <<<"$output" | sort)" "$(jq -c 'select(.t | startswith("2026-11-24"))' in | sort)"
	run --separate-stderr fx-consume --table t.json --where os=a_b -e
	assert_success
	assert_equal "$(jq -c . <<<"$output" | sort)" "$(jq -c 'select(.os == "a_b")' in | sort)"
	# a name only a non-day could make is not the table's
	kcat -P -b "$B" -t p_a_5fb_20x6-11-24 <<<'{}'
	run --separate-stderr fx-consume --table t.json --where os=a -e
	assert_success
	assert_output ''
	# two values of any text: a name two tuples make stops the reader
	def '{"name":"q","partition_by":[{"name":"a"},{"name":"b"}],"kafka":{"topic":"q_{a}_{b}"}}'
	kcat -P -b "$B" -t q_a_5f_10 <<<'{}'
	run --separate-stderr fx-consume --table t.json --where a=a_ -e
	assert_failure 2
	assert_output ''
	assert_equal "$stderr" 'fx-consume: t.json: topic "q_a_5f_10" could hold two partitions of the template "q_{a}_{b}"'
	run --separate-stderr fx-partition --table t.json --list -b "$B"
	assert_failure 1
	assert_output '{"route":"template","topic":"q_{a}_{b}"}'
	assert_equal "$stderr" 'fx-partition: t.json: topic "q_a_5f_10" could hold two partitions of the template "q_{a}_{b}"'
}

@test "a value the table rejects is a bad record: fail, skip, dlq" {
	def '{"name":"x","partition_by":[{"name":"os"}],"kafka":{"static":{"ios":"a"}}}'
	printf '%s\n' '{"os":"ios","n":1}' '{"os":"web","n":2}' '{"n":3}' '{"os":"ios","n":4}' >in
	run --separate-stderr fx-partition --table t.json in
	assert_failure 1
	assert_output '{"os":"ios","n":1,"_fx_dest":"a"}'
	assert_equal "$stderr" "fx-partition: in:2: field \"os\": no topic for {\"os\":\"web\"}: not a static partition of table 'x', which is not dynamic and has no default"
	run --separate-stderr fx-partition --table t.json --on-error skip in
	assert_success
	assert_equal "$(jq -c .n <<<"$output" | tr '\n' ' ')" "1 4 "
	run --separate-stderr fx-partition --table t.json --on-error dlq=dlq.ndjson in
	assert_success
	assert_equal "$(jq -r .raw dlq.ndjson | jq -c .n | tr '\n' ' ')" "2 3 "
	assert_equal "$(jq -r ._fx_error dlq.ndjson | tail -n 1)" 'field "os": missing: no partition value for "os"'
}

@test "a value outside the static map goes to the default topic when the table is not dynamic" {
	def '{"name":"x","partition_by":[{"name":"os"}],"kafka":{"topic":"t_{os}","dynamic":false,"static":{"ios":"a"},"default":"rest"}}'
	run fx-partition --table t.json <<<'{"os":"web"}'
	assert_output '{"os":"web","_fx_dest":"rest"}'
}

@test "a definition that is not JSON: the file and the line, exit 2" {
	printf '{"name": "x",\n "partition_by": [}\n' >t.json
	run --separate-stderr fx-partition --table t.json </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-partition: t.json:2: invalid JSON"
}

@test "broken definitions name the key" {
	P='"partition_by":[{"name":"os"}]'
	broken "{\"name\":\"x\",$P}" '(top): neither "kafka" nor "files"'
	broken '{"name":"x","partition_by":[],"files":{"dir":"a"}}' 'partition_by: empty: name one partition or more'
	broken '{"partition_by":[]}' 'name: missing'
	broken '{"name":"x","partition_by":[{"name":"a b"}],"files":{"dir":"a"}}' "partition_by[0].name: \"a b\": use letters, digits and '_'"
	broken "{\"name\":\"x\",$P,\"kafka\":{\"topic\":\"a_{oss}\"}}" 'kafka.topic: unknown partition "oss" in "a_{oss}"'
	broken "{\"name\":\"x\",$P,\"kafka\":{\"topic\":\"a {os}\"}}" "kafka.topic: ' ' cannot be in a topic name (only A-Z a-z 0-9 . _ -)"
	broken "{\"name\":\"x\",$P,\"kafka\":{\"static\":{\"ios\":\"t\",\"android\":\"t\"}}}" 'kafka.static."android": topic "t" is also the topic of "ios": two partitions cannot share a topic'
	broken "{\"name\":\"x\",$P,\"kafka\":{\"topic\":\"p_{os}\",\"static\":{\"ios\":\"p_android\"}}}" 'kafka.static."ios": topic "p_android" is also the template'"'"'s topic for {"os":"android"}: two partitions cannot share a topic'
	broken "{\"name\":\"x\",$P,\"kafka\":{\"topic\":\"p_{os}\",\"default\":\"d\"}}" 'kafka.default: never used: every value has a topic from the template (set "dynamic": false)'
	broken "{\"name\":\"x\",$P,\"kafka\":{\"static\":{\"ios\":1}}}" 'kafka.static."ios": not a string'
	broken "{\"name\":\"x\",$P,\"kafka\":{\"topic\":\"p_{os}\",\"partitons\":3}}" 'kafka.partitons: unknown key'
	broken "{\"name\":\"x\",$P,\"kafka\":{\"topic\":\"p_{os}\",\"partitions\":0}}" 'kafka.partitions: not an integer from 1 to 1000000'
	broken '{"name":"x","partition_by":[{"name":"os","transform":"bucket(0)"}],"files":{"dir":"{os}"}}' 'partition_by[0].transform: bucket(N) needs N from 1 to 1000000: "bucket(0)"'
	broken '{"name":"x","partition_by":[{"name":"os","transform":"week"}],"files":{"dir":"{os}"}}' 'partition_by[0].transform: unknown transform "week" (identity, day, hour, bucket(N))'
	broken '{"name":"x","partition_by":[{"name":"os"},{"name":"dt"}],"kafka":{"topic":"p_{os}"}}' 'kafka.topic: "p_{os}" does not use partition "dt": values differing only in it would share a topic'
	broken "{\"name\":\"x\",$P,\"files\":{\"dir\":\"a/{os}{os}\"}}" 'files.dir: two placeholders in one directory name: "a/{os}{os}"'
	broken "{\"name\":\"x\",$P,\"files\":{\"dir\":\"../{os}\"}}" 'files.dir: "../{os}": no . or .. in it'
	broken "{\"name\":\"x\",$P,\"files\":{\"dir\":\"/abs/{os}\"}}" 'files.dir: "/abs/{os}": a relative path of non-empty names'
	broken '{"name":"x","partition_by":[{"name":"a"},{"name":"b"}],"kafka":{"static":{"a=1":"t"}}}' 'kafka.static."a=1": with several partitions a key is NAME=VALUE/NAME=VALUE naming each once'
}

@test "an unreadable definition is a usage error too" {
	run --separate-stderr fx-partition --table nope.json </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-partition: nope.json: No such file or directory"
	run --separate-stderr fx-partition </dev/null
	assert_failure 2
	assert_equal "$stderr" "fx-partition: --table T.json is required (see 'fx-partition --help')"
}

# Integration: fx-partition | fx-sink routes, fx-consume --table prunes.

# tables T1 (static + dynamic) and T2 (static + default), by os
two_tables() {
	def '{"name":"dyn","partition_by":[{"name":"os"}],"kafka":{"topic":"d_{os}","static":{"ios":"apple_plays","android":"android_plays"},"partitions":2}}'
	mv t.json dyn.json
	def '{"name":"def","partition_by":[{"name":"os"}],"kafka":{"topic":"f_{os}","dynamic":false,"static":{"ios":"f_apple","android":"f_android"},"default":"f_other"}}'
	mv t.json def.json
}

# same FILE TOPIC JQ-FILTER: TOPIC holds exactly the records of FILE
# that JQ-FILTER selects (as multisets of records)
same() {
	kcat -C -b "$B" -t "$2" -e -q | jq -cS . | sort >got
	jq -cS "select($3)" "$1" | sort >want
	assert_equal "$(wc -l <got)" "$(wc -l <want)"
	cmp got want
}

@test "20,000 events by os: two static topics, a default topic, a dynamic topic created for a new value" {
	fx_broker_start
	two_tables
	gen 20000 7 >in
	# a value never seen before: its dynamic topic is created on first use
	printf '%s\n' '{"os":"linux","n":1}' '{"os":"linux","n":2}' >>in
	fx-partition --table def.json in | fx-sink --table def.json
	same in f_apple '.os == "ios"'
	same in f_android '.os == "android"'
	same in f_other '.os != "ios" and .os != "android"'
	assert_equal "$(kcount f_other)" "$(jq -c 'select(.os != "ios" and .os != "android")' in | wc -l)"
	# (kcat -L -t would create it: list them all)
	run kcat -L -b "$B"
	refute_output --partial 'topic "d_linux"'
	fx-partition --table dyn.json in | fx-sink --table dyn.json 2>err
	# fx-devbroker cannot CreateTopics: said once, auto-creation relied on
	assert_equal "$(grep -c 'does not support CreateTopics' err)" 1
	same in apple_plays '.os == "ios"'
	same in android_plays '.os == "android"'
	same in d_web '.os == "web"'
	same in d_linux '.os == "linux"'
	assert_equal "$(kcount d_linux)" 2
	total=0
	for t in apple_plays android_plays $(kcat -L -b "$B" | sed -n 's/.*topic "\(d_[^"]*\)".*/\1/p'); do
		total=$((total + $(kcount "$t")))
	done
	assert_equal "$total" 20002
}

@test "fx-consume --table --where reads only the selected partitions' topics" {
	fx_broker_start
	two_tables
	gen 20000 7 >in
	fx-partition --table dyn.json in | fx-sink --table dyn.json 2>/dev/null
	fx-partition --table def.json in | fx-sink --table def.json
	# a static partition: its topic alone, every record of it
	fx-consume --table dyn.json --where os=ios -e --meta >out
	assert_equal "$(jq -c 'select(._fx == "assigned")' out | sort -u)" \
		'{"_fx":"assigned","partitions":["apple_plays/0","apple_plays/1","apple_plays/2","apple_plays/3"]}'
	assert_equal "$(jq -r 'select(._fx == null) | ._fx_topic' out | sort -u)" apple_plays
	jq -cS 'select(._fx == null) | with_entries(select(.key | startswith("_fx") | not))' out | sort >got
	jq -cS 'select(.os == "ios")' in | sort >want
	assert_equal "$(wc -l <got)" 7625
	cmp got want
	# dynamic partitions, found on the broker
	fx-consume --table dyn.json --where os=web,macos -e --meta >out
	assert_equal "$(jq -r 'select(._fx == null) | ._fx_topic' out | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')" \
		"d_macos:$(jq -c 'select(.os == "macos")' in | wc -l) d_web:$(jq -c 'select(.os == "web")' in | wc -l) "
	assert_equal "$(jq -r 'select(._fx == "assigned") | .partitions[]' out | sed 's,/.*,,' | sort -u | tr '\n' ' ')" 'd_macos d_web '
	# the default topic: read, and its other values dropped
	fx-consume --table def.json --where os=web -e --meta --stats >out 2>err
	assert_equal "$(jq -r 'select(._fx == "assigned") | .partitions[]' out | sed 's,/.*,,' | sort -u)" f_other
	jq -cS 'select(._fx == null) | with_entries(select(.key | startswith("_fx") | not))' out | sort >got
	jq -cS 'select(.os == "web")' in | sort >want
	cmp got want
	# a group subscribes to the same topics
	fx-consume --table def.json --where os=android -g g1 -e >out
	assert_equal "$(wc -l <out)" "$(jq -c 'select(.os == "android")' in | wc -l)"
	# nothing selected: nothing read
	run --separate-stderr fx-consume --table dyn.json --where os=beos -e
	assert_success
	assert_output ''
	assert_equal "$stderr" "fx-consume: table 'dyn': no topic on the broker holds the selected partitions: nothing to read"
}

@test "the same table on files: fx-sink --dir writes dt=/os= directories, fx-consume --table --where reads only those" {
	# two days of events
	gen 20000 7 --start 2026-11-23T23:59:57.000Z | jq -c 'del(.dt)' >in
	fx-partition --table "$EX/ods_play.table.json" --files in | fx-sink --dir W
	run bash -c 'cd W && find . -name "*.ndjson" | sort'
	assert_line './ods_play/dt=2026-11-23/os=ios/part-00000.ndjson'
	assert_line './ods_play/dt=2026-11-24/os=web/part-00000.ndjson'
	# the routed records, without _fx_dest, each in its directory
	assert_equal "$(cat W/ods_play/*/*/*.ndjson | wc -l)" 20000
	# (jq on no file prints nothing to stdout either)
	assert [ -s W/ods_play/dt=2026-11-24/os=ios/part-00000.ndjson ]
	assert_equal "$(jq -c 'select(.os != "ios")' W/ods_play/dt=2026-11-24/os=ios/*.ndjson)" ''
	run grep -rl _fx_dest W
	assert_output ''
	# a directory that is not selected is not read: a broken file there
	# would fail the run
	echo 'not json' >W/ods_play/dt=2026-11-23/os=android/part-00001.ndjson
	fx-consume --table "$EX/ods_play.table.json" --where os=ios --partition-fields W >out
	jq -cS . out | sort >got
	jq -cS 'select(.os == "ios") | .dt = (.event_time | .[0:10])' in | sort >want
	assert_equal "$(wc -l <got)" "$(jq -c 'select(.os == "ios")' in | wc -l)"
	cmp got want
	fx-consume --table "$EX/ods_play.table.json" --where os=ios,web --where dt=2026-11-24 W >out
	assert_equal "$(wc -l <out)" "$(jq -c 'select((.os == "ios" or .os == "web") and (.event_time | startswith("2026-11-24")))' in | wc -l)"
	# the table's directory template without fx-partition: the same files
	fx-sink --table "$EX/ods_play.table.json" --dir W2 <in
	rm W/ods_play/dt=2026-11-23/os=android/part-00001.ndjson
	diff -r W W2
	run fx-consume --table "$EX/ods_play.table.json" --where os=android W
	assert_success
	[ "${#lines[@]}" -gt 0 ] || fail "no android records"
	assert_equal "$(printf '%s\n' "${lines[@]}" | jq -r .os | sort -u)" android
	assert_equal "${#lines[@]}" "$(cat W/ods_play/dt=*/os=android/*.ndjson | wc -l)"
	run --separate-stderr fx-consume --table "$EX/ods_play.table.json" --where oss=x W
	assert_failure 2
	assert_equal "$stderr" "fx-consume: --where: 'oss' is not a partition of table 'ods_play' (dt, os) (see 'fx-consume --help')"
}

@test "fx-sink --dir routes by _fx_dest: relative paths under --dir only" {
	printf '%s\n' '{"a":1,"_fx_dest":"x/y=1"}' '{"a":2,"_fx_dest":"x/y=2"}' '{"a":3,"_fx_dest":"x/y=1"}' |
		fx-sink --dir W --part-name p
	assert_equal "$(cat W/x/y=1/p.ndjson)" $'{"a":1}\n{"a":3}'
	assert_equal "$(cat W/x/y=2/p.ndjson)" '{"a":2}'
	for d in '../x' 'a/../../x' "$PWD/abs" '' 'a//b'; do
		run --separate-stderr fx-sink --dir V <<<"{\"_fx_dest\":\"$d\"}"
		assert_failure 1
		assert_equal "${stderr%%:*}" 'fx-sink'
		assert_regex "$stderr" '^fx-sink: stdin:1: field "_fx_dest": '
	done
	# ([ ] && [ ] fails a test only by its last command: one at a time)
	assert [ ! -e V/x ]
	assert [ ! -e x ]
	assert [ ! -e abs ]
	run --separate-stderr fx-sink --dir V <<<'{"a":1}'
	assert_failure 1
	assert_equal "$stderr" 'fx-sink: stdin:1: field "_fx_dest": missing: --dir without --partition routes by _fx_dest (fx-partition --files)'
	run --separate-stderr fx-sink --dir V --on-error skip --stats <<<'{"_fx_dest":"../x"}'
	assert_success
	assert_regex "$stderr" '^fx-sink: stats: 1 records in, 0 records out, 1 bad, '
	assert [ ! -e x ]
	assert [ ! -e V/x ]
}

@test "fx-consume --where on a partition topics do not separate: each topic's records filtered" {
	fx_broker_start
	# topics per os; a day selected by --where is in every topic
	gen 4000 3 --start 2026-11-23T23:59:59.000Z >in
	fx-partition --table "$EX/ods_play.table.json" in |
		fx-sink --table "$EX/ods_play.table.json" 2>/dev/null
	fx-consume --table "$EX/ods_play.table.json" --where dt=2026-11-24 --where os=ios,android -e --meta >out
	assert_equal "$(jq -r 'select(._fx == "assigned") | .partitions[]' out | sed 's,/.*,,' | sort -u | tr '\n' ' ')" 'play_android play_apple '
	jq -cS 'select(._fx == null) | with_entries(select(.key | startswith("_fx") | not))' out | sort >got
	jq -cS 'select((.os == "ios" or .os == "android") and (.event_time | startswith("2026-11-24")))' in | sort >want
	[ -s want ]
	cmp got want
}

@test "a checkpoint barrier goes through at once, not when the output buffer fills: the commit after it does not wait" {
	mkfifo in
	fx-partition --table "$EX/ods_play.table.json" <in >out &
	PART_PID=$!
	exec 5>in
	printf '%s\n' '{"_fx":"restore","id":0}' \
		'{"os":"ios","event_time":"2026-11-23T10:00:00.000Z","user_id":1}' \
		'{"_fx":"checkpoint","id":1,"positions":[]}' >&5
	# the input stays open: only a flush at the barrier shows it
	for _ in $(seq 100); do
		[ "$(wc -l <out)" -ge 3 ] && break
		sleep 0.1
	done
	seen=$(wc -l <out)
	exec 5>&-
	wait "$PART_PID"
	PART_PID=
	[ "$seen" -eq 3 ] || fail "$seen lines out before the input closed"
	run jq -c '[._fx, .id, ._fx_dest]' out
	assert_output - <<-'EOF'
		["restore",0,null]
		[null,null,"play_apple"]
		["checkpoint",1,null]
	EOF
}

@test "a lone surrogate (\"\\ud800\") and U+FFFD are two directories, and each reads back as written" {
	printf '%s\n' '{"os":"\ud800","n":1}' '{"os":"\ufffd","n":2}' \
		'{"os":"a\udfff/\ud800","n":3}' '{"os":"é","n":4}' |
		fx-sink --dir w --partition os
	run env LC_ALL=C ls w
	assert_output "$(printf '%s\n' 'os=%ED%A0%80' 'os=a%ED%BF%BF%2F%ED%A0%80' 'os=é' $'os=\xef\xbf\xbd' | LC_ALL=C sort)"
	# the directory's value, not the record's own: records without "os"
	for f in w/*/part-00000.ndjson; do
		sed -E 's/^\{"os":"([^"\\]|\\.)*",/{/' "$f" >"$f.tmp" && mv "$f.tmp" "$f"
	done
	run --separate-stderr fx-consume --partition-fields w
	assert_success
	run env LC_ALL=C sort <<<"$output"
	assert_output - <<'OUT'
{"n":1,"os":"\ud800"}
{"n":2,"os":"�"}
{"n":3,"os":"a\udfff/\ud800"}
{"n":4,"os":"é"}
OUT
}

@test "a table's directories: a lone surrogate (\"\\ud800\") and U+FFFD are two, --list, --where and fx-consume read both back; topics stay as they were" {
	def '{"name":"x","partition_by":[{"name":"os"},{"name":"b","field":"os","transform":"bucket(4)"}],"kafka":{"topic":"x_{os}_{b}"},"files":{"dir":"x/os={os}/b={b}"}}'
	printf '%s\n' '{"os":"\ud800","n":1}' '{"os":"\ufffd","n":2}' '{"os":"a\udfff/\ud800","n":3}' >in
	run --separate-stderr fx-partition --table t.json --files in
	assert_success
	# bucket(N) hashes the bytes fx-sink --key sends: U+FFFD for both
	assert_output - <<-'EOF'
	{"os":"\ud800","n":1,"_fx_dest":"x/os=%ED%A0%80/b=3"}
	{"os":"\ufffd","n":2,"_fx_dest":"x/os=�/b=3"}
	{"os":"a\udfff/\ud800","n":3,"_fx_dest":"x/os=a%ED%BF%BF%2F%ED%A0%80/b=1"}
	EOF
	run fx-partition --table t.json --explain --files in
	assert_line -n 0 '{"values":{"os":"\ud800","b":"3"},"route":"dir","dest":"x/os=%ED%A0%80/b=3","records":1}'
	# a topic name reads back as UTF-8 only: "\ud800" keeps the topic of
	# "\ufffd" it always had
	# (jq reads no lone surrogate)
	run fx-partition --table t.json in
	assert_success
	assert_equal "$(sed -E 's/.*"_fx_dest":"([^"]*)"}$/\1/' <<<"$output" | tr '\n' ' ')" \
		"x__ef_bf_bd_3 x__ef_bf_bd_3 x_a_ef_bf_bd_2f_ef_bf_bd_1 "
	fx-partition --table t.json --files in | fx-sink --dir W
	fx-sink --table t.json --dir W2 <in
	diff -r W W2
	run --separate-stderr fx-partition --table t.json --list --files W
	assert_success
	assert_equal "$stderr" ''
	assert_output - <<-'EOF'
	{"route":"dir","values":{"os":"\ud800","b":"3"},"dir":"x/os=%ED%A0%80/b=3"}
	{"route":"dir","values":{"os":"a\udfff/\ud800","b":"1"},"dir":"x/os=a%ED%BF%BF%2F%ED%A0%80/b=1"}
	{"route":"dir","values":{"os":"�","b":"3"},"dir":"x/os=�/b=3"}
	EOF
	# the directory's value, not the record's own: records without "os"
	for f in W/x/*/*/part-00000.ndjson; do
		sed -E 's/^\{"os":"([^"\\]|\\.)*",/{/' "$f" >"$f.tmp" && mv "$f.tmp" "$f"
	done
	run --separate-stderr fx-consume --table t.json --partition-fields W
	assert_success
	assert_equal "$stderr" ''
	run env LC_ALL=C sort <<<"$output"
	assert_output - <<-'EOF'
	{"n":1,"os":"\ud800","b":"3"}
	{"n":2,"os":"�","b":"3"}
	{"n":3,"os":"a\udfff/\ud800","b":"1"}
	EOF
	run --separate-stderr fx-consume --table t.json --where os=$'\xef\xbf\xbd' --partition-fields W
	assert_success
	assert_output '{"n":2,"os":"�","b":"3"}'
	run --separate-stderr fx-consume --table t.json --where b=3 W
	assert_success
	assert_equal "$(sort <<<"$output" | tr '\n' ' ')" '{"n":1} {"n":2} '
}
