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

@test "bash completion offers exactly the options of --help" {
	source "$FX_ROOT/completions/fx.bash"
	for p in "$FX_ROOT"/bin/fx-*; do
		name=$(basename "$p")
		COMP_WORDS=("$name" --)
		COMP_CWORD=1
		_fx
		printf '%s\n' "${COMPREPLY[@]}" | grep -- '^--' | sort -u >comp.txt
		help_options "$p" >help.txt
		comm -23 help.txt comp.txt >missing.txt
		[ ! -s missing.txt ] || { echo "$name: completion misses:"; cat missing.txt; return 1; }
	done
}

@test "bash completion completes values of --format and --on-error" {
	source "$FX_ROOT/completions/fx.bash"
	COMP_WORDS=(fx-consume --format c)
	COMP_CWORD=2
	_fx
	assert_equal "${COMPREPLY[*]}" "csv csv+gz"
	COMP_WORDS=(fx-sink --on-error s)
	COMP_CWORD=2
	_fx
	assert_equal "${COMPREPLY[*]}" "skip"
	COMP_WORDS=(fx-lineage graph --format m)
	COMP_CWORD=3
	_fx
	assert_equal "${COMPREPLY[*]}" "mermaid"
	COMP_WORDS=(fx-lineage up)
	COMP_CWORD=1
	_fx
	assert_equal "${COMPREPLY[*]}" "upstream"
	COMP_WORDS=(fx-agg --window s)
	COMP_CWORD=2
	_fx
	assert_equal "${COMPREPLY[*]}" "session:"
}

@test "zsh completion is valid zsh" {
	if ! command -v zsh >/dev/null; then
		# zsh is not a dependency: check the file is the _arguments form
		grep -q '^#compdef fx-consume fx-sink' "$FX_ROOT/completions/_fx"
		return
	fi
	zsh -n "$FX_ROOT/completions/_fx"
}
