#!/usr/bin/env bats
# --help, the man pages and the completions describe the same options.

load test_helper

setup() { fx_setup_tmp; }
teardown() { fx_teardown_tmp; }

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

# complete SHELL LINE...: what bash or zsh, on a pseudo-terminal with fx's
# completion loaded, offers after each LINE and a TAB ("==" between lines)
complete() {
	python3 "$FX_ROOT/tests/complete.py" "$@"
}

@test "bash completion offers exactly the options of --help" {
	lines=()
	for p in "$FX_ROOT"/bin/fx-*; do lines+=("$(basename "$p") --"); done
	run --separate-stderr complete bash "$FX_ROOT" "${lines[@]}"
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
	command -v zsh >/dev/null || skip "zsh is not installed"
	lines=()
	for p in "$FX_ROOT"/bin/fx-*; do lines+=("$(basename "$p") -"); done
	run --separate-stderr complete zsh "$FX_ROOT" "${lines[@]}"
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
	make_decoys
	run --separate-stderr complete bash "$FX_ROOT" \
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
		== downstream export graph runs upstream == upstream.ndjson)"
}

@test "zsh completion completes values under a real zsh (compinit, TAB on a pseudo-terminal)" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	make_decoys
	run --separate-stderr complete zsh "$FX_ROOT" \
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
		== downstream export graph runs upstream == upstream == --late --lateness \
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
