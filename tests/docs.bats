#!/usr/bin/env bats
# --help, the man pages and the completions describe the same options.

load test_helper

setup() { fx_setup_tmp; }
teardown() {
	# a broker a --detach test started and left running (it failed before
	# stopping it): by the PID in its pid file
	stop_detached "$T/p"
	stop_detached "$T/broker.pid"
	fx_teardown_tmp
}

# stop_detached PIDFILE: stops the detached fx-devbroker whose PID is in
# PIDFILE, if the file is there (the broker removes it when it exits)
stop_detached() {
	[ -s "$1" ] && kill "$(cat "$1")" 2>/dev/null
	true
}

# long options a program's --help lists
help_options() {
	"$1" --help | grep -oE '^ +(-[A-Za-z], )?--[a-z][-a-z0-9]*' | grep -oE -- '--[a-z][-a-z0-9]*' | sort -u
}

# long options a man page documents (.It Fl \-name)
man_options() {
	grep -E '^\.It Fl ' "$1" | grep -oE -- 'Fl \\-[a-z][-a-z0-9\\]*' | sed 's/^Fl /-/; s/\\//g' | sort -u
}

@test "every program's --help and man page list the same long options" {
	for p in "$FX_ROOT"/bin/fx-*; do
		name=$(basename "$p")
		man="$FX_ROOT/share/man/man1/$name.1"
		[ -f "$man" ] || { echo "no man page for $name"; return 1; }
		help_options "$p" >help.txt
		man_options "$man" >man.txt
		diff -u help.txt man.txt || { echo "^ $name: --help vs $name.1"; return 1; }
	done
}

@test "man pages are clean under mandoc -Tlint" {
	run mandoc -Tlint -Wwarning "$FX_ROOT"/share/man/man*/*
	assert_success
	assert_output ''
}

# shell_complete SHELL LINE...: what bash or zsh, on a pseudo-terminal with fx's
# completion loaded, offers after each LINE and a TAB ("==" between lines)
shell_complete() {
	python3 "$FX_ROOT/tests/complete.py" "$@"
}

@test "bash completion offers exactly the options of --help" {
	fx_need_pty
	lines=()
	for p in "$FX_ROOT"/bin/fx-*; do lines+=("$(basename "$p") --"); done
	run --separate-stderr shell_complete bash "$FX_ROOT" "${lines[@]}"
	assert_success
	i=0
	for p in "$FX_ROOT"/bin/fx-*; do
		name=$(basename "$p")
		i=$((i + 1))
		printf '%s\n' "$output" | awk -v n=$i '/^==$/ { k++; next } k == n - 1' |
			grep -- '^--' | sort -u >comp.txt
		help_options "$p" >help.txt
		[ -s help.txt ] || fail "$name: no options in --help"
		comm -23 help.txt comp.txt >missing.txt
		[ ! -s missing.txt ] || fail "$name: completion misses: $(cat missing.txt)"
	done
}

@test "zsh completion offers exactly the options of --help" {
	fx_need_pty
	command -v zsh >/dev/null || skip "zsh is not installed"
	lines=()
	for p in "$FX_ROOT"/bin/fx-*; do lines+=("$(basename "$p") -"); done
	run --separate-stderr shell_complete zsh "$FX_ROOT" "${lines[@]}"
	assert_success
	assert_equal "$stderr" ""
	i=0
	for p in "$FX_ROOT"/bin/fx-*; do
		name=$(basename "$p")
		i=$((i + 1))
		printf '%s\n' "$output" | awk -v n=$i '/^==$/ { k++; next } k == n - 1' |
			grep -- '^--' | sort -u >comp.txt
		help_options "$p" >help.txt
		[ -s help.txt ] || fail "$name: no options in --help"
		diff -u help.txt comp.txt || fail "$name: zsh completion vs --help"
	done
}

# The file names here start like the values, so completing a file name
# where a value belongs shows.
make_decoys() {
	touch hop.txt skip.ndjson dead.ndjson mermaid.dot upstream.ndjson
}

@test "bash completion completes values, after --opt VALUE and --opt=VALUE" {
	fx_need_pty
	make_decoys
	run --separate-stderr shell_complete bash "$FX_ROOT" \
		'fx-agg --window=' 'fx-agg --window=h' 'fx-agg --window s' \
		'fx-sink --on-error=s' 'fx-sink --on-error ' 'fx-sink --on-error=dlq=de' \
		'fx-agg --late=' 'fx-consume --format c' 'fx-consume --format=c' \
		'fx-lineage --format=m' 'fx-lineage graph --format ' \
		'fx-lineage up' 'fx-lineage --store x ' 'fx-lineage upstream up'
	assert_success
	assert_equal "$stderr" ""
	assert_output "$(printf '%s\n' cumulate: hop: session: tumble: == hop: == session: \
		== skip == dlq= fail skip == dead.ndjson == dlq= drop update == csv csv+gz \
		== csv csv+gz == mermaid == dot json mermaid text == upstream \
		== downstream export graph pipeline runs upstream == upstream.ndjson)"
}

@test "zsh completion completes values under a real zsh (compinit, TAB on a pseudo-terminal)" {
	fx_need_pty
	command -v zsh >/dev/null || skip "zsh is not installed"
	make_decoys
	run --separate-stderr shell_complete zsh "$FX_ROOT" \
		'fx-agg --window=' 'fx-agg --window=h' 'fx-agg --window s' \
		'fx-sink --on-error=s' 'fx-sink --on-error=dlq=de' 'fx-agg --late=' \
		'fx-consume --format=c' 'fx-lineage --format=' 'fx-lineage graph --format m' \
		'fx-lineage ' 'fx-lineage --store x up' 'fx-agg --la' 'fx-agg --stats --la' \
		'fx-consume skip.ndjson --me'
	assert_success
	assert_equal "$stderr" ""
	assert_output "$(printf '%s\n' --window=cumulate: --window=hop: --window=session: --window=tumble: \
		== --window=hop: == session: == --on-error=skip == --on-error=dlq=dead.ndjson \
		== --late=dlq= --late=drop --late=update == --format=csv --format=csv+gz \
		== --format=dot --format=json --format=mermaid --format=text == mermaid \
		== downstream export graph pipeline runs upstream == upstream == --late --lateness \
		== --late --lateness == --meta)"
}

@test "zsh completion is valid zsh" {
	if ! command -v zsh >/dev/null; then
		# zsh is not a dependency: check the file is the _arguments form
		grep -q '^#compdef fx-consume fx-sink' "$FX_ROOT/completions/_fx"
		return
	fi
	zsh -n "$FX_ROOT/completions/_fx"
}

# readme_block HEADING: the first ```sh block after the line "HEADING"
readme_block() {
	awk -v h="$1" '$0 == h { found = 1; next }
		found && /^```sh$/ { inblock = 1; next }
		inblock && /^```$/ { exit }
		inblock' "$FX_ROOT/README.md"
}

@test "README: every sh snippet is valid shell and sets every variable it uses" {
	awk '/^```sh$/ { n++; f = sprintf("block%02d.sh", n); next }
		/^```$/ { f = ""; next }
		f { print > f }' "$FX_ROOT/README.md"
	ls block*.sh >/dev/null || fail "no sh snippets in README.md"
	for b in block*.sh; do
		bash -n "$b" || fail "$b is not valid shell: $(cat "$b")"
		# $NAME and ${NAME} used, but never assigned (NAME=) in the snippet
		for v in $(grep -oE '\$\{?[A-Za-z_][A-Za-z0-9_]*' "$b" | tr -d '${' | sort -u); do
			grep -qE "(^|[ ;(])$v=" "$b" ||
				fail "README.md snippet uses \$$v without setting it: $(cat "$b")"
		done
	done
}

@test "README: the Streams snippet runs as written (fx-devbroker --detach, --meta | head -3)" {
	readme_block '## Streams' >streams.sh
	grep -q 'fx-devbroker' streams.sh || fail "no fx-devbroker in the Streams snippet"
	gen 1000 31 >plays.ndjson
	# in a process group of its own, so that whatever it leaves running
	# (a broker started with &) is stopped, and into files, so that such a
	# process cannot hold the test's pipe open
	setsid bash -eu streams.sh >out.txt 2>err.txt &
	spid=$!
	for _ in $(seq 1200); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
	kill -- -"$spid" 2>/dev/null || true
	status=0
	wait "$spid" || status=$?
	stop_detached "$T/broker.pid"
	[ "$status" -eq 0 ] || fail "the snippet failed ($status): $(cat err.txt)"
	mapfile -t lines <out.txt
	# wc -l: every record; -o -10: 10 of each of 8 partitions; from a
	# timestamp before the run: every record; the group with -e: every record
	assert_equal "${lines[0]}" "$(wc -l <plays.ndjson)"
	assert_equal "${#lines[@]}" $((1 + 80 + 1000 + 1000 + 3))
	strip() { jq -c 'del(._fx_topic, ._fx_partition, ._fx_offset, ._fx_key, ._fx_ts)' | sort; }
	jq -c . plays.ndjson | sort >all.ndjson
	printf '%s\n' "${lines[@]:1:80}" | strip >last10.ndjson
	printf '%s\n' "${lines[@]:81:1000}" | strip >from_ts.ndjson
	printf '%s\n' "${lines[@]:1081:1000}" | strip >group.ndjson
	cmp from_ts.ndjson all.ndjson || fail "-o s@MS -e: not every record once"
	cmp group.ndjson all.ndjson || fail "-g -e: not every record once"
	[ "$(comm -12 last10.ndjson all.ndjson | wc -l)" -eq 80 ] ||
		fail "-o -10: not 80 distinct produced records"
	# head -3 shows records with their metadata, not control records
	for l in "${lines[@]: -3}"; do
		assert_equal "$(jq -r '[has("_fx"), ._fx_topic, (._fx_partition|type), (._fx_offset|type)] | @tsv' <<<"$l")" \
			"$(printf 'false\tplays\tnumber\tnumber')"
	done
	# the background broker stopped and took its pid file with it
	[ ! -e broker.pid ] || { sleep 1; [ ! -e broker.pid ]; } || fail "broker.pid is still there"
}

@test "fx-devbroker --detach: returns once the cluster is up, with the address, the pid file and the bootstrap file" {
	run --separate-stderr bash -c 'addr=$(fx-devbroker --detach --pid-file p --bootstrap-file bs --topic t:3) && echo "$addr"'
	assert_success
	assert_output --regexp '^127\.0\.0\.1:[0-9]+$'
	[ "$(cat bs)" = "$output" ] || fail "bootstrap file: '$(cat bs)', address: '$output'"
	[[ $stderr == *"not for production"* ]] || fail "no warning line on stderr: $stderr"
	pid=$(cat p)
	[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] || fail "not in its own session"
	# usable at once: kcat, an independent client, sees the topic's 3 partitions
	run kcat -b "$output" -L -t t
	assert_success
	assert_output --partial 'topic "t" with 3 partitions'
	kill "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	run kill -0 "$pid"
	assert_failure
	[ ! -e p ] || fail "the pid file outlived the process"
}

@test "fx-devbroker --detach: a cluster that cannot start says why and exits 3; --pid-file alone is a usage error" {
	run --separate-stderr fx-devbroker --detach --pid-file p --topic t:0
	assert_failure 2
	assert_equal "$stderr" "fx-devbroker: --topic: partitions must be 1 to 100000: 't:0' (see 'fx-devbroker --help')"
	[ ! -e p ] || fail "a pid file for a broker that did not start"
	run --separate-stderr fx-devbroker --pid-file p
	assert_failure 2
	assert_equal "$stderr" "fx-devbroker: --pid-file: only with --detach (see 'fx-devbroker --help')"
	mkdir bsdir
	run --separate-stderr timeout 60 fx-devbroker --detach --pid-file p --bootstrap-file bsdir
	assert_failure 3
	[[ $stderr == *"bsdir"* ]] || fail "the message does not name the file: $stderr"
	[ ! -e p ] || fail "a pid file for a broker that did not start"
}

@test "make demo: plain text into a file, and its last line is the verdict (byte-identical)" {
	FX_DEMO_EVENTS=20000 FX_DEMO_DIR="$T/demo" "$FX_ROOT/share/examples/demo.sh" >out.txt 2>err.txt ||
		fail "demo failed: $(tail -5 err.txt)"
	run grep -c $'\033' out.txt
	assert_output 0
	# the verdict, checked against cmp of the two results
	cmp "$T/demo/stream.ndjson" "$T/demo/batch.ndjson"
	rows=$(wc -l <"$T/demo/batch.ndjson")
	[ "$rows" -gt 0 ] || fail "no rows"
	assert_equal "$(tail -n 1 out.txt | cut -d, -f1)" "yes: stream and batch are byte-identical: $rows rows"
	[ ! -e "$T/demo/broker.pid" ] || fail "the demo's broker is still running"
}

@test "make demo: when stream and batch differ, it ends with NO and exits 1" {
	# with no allowed lateness, the 3 s disorder drops different records in
	# the stream (4 partitions) and the batch
	run --separate-stderr env FX_DEMO_LATENESS=0s FX_DEMO_EVENTS=20000 FX_DEMO_DIR="$T/demo" \
		"$FX_ROOT/share/examples/demo.sh"
	assert_failure 1
	assert_equal "$(printf '%s\n' "${lines[@]}" | tail -n 1 | cut -d: -f1)" "NO"
	run cmp -s "$T/demo/stream.ndjson" "$T/demo/batch.ndjson"
	assert_failure
}
