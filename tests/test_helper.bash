# Shared set-up for the bats suites: bats-support and bats-assert from
# Debian, bin/ on PATH, a fresh temporary directory per test.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

FX_ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
export PATH="$FX_ROOT/bin:$FX_ROOT/build:$PATH"
export FX_LINEAGE=off
export LC_ALL=C.UTF-8

fx_setup_tmp() {
	T=$(mktemp -d "${BATS_TMPDIR:-/tmp}/fx-test.XXXXXX")
	cd "$T" || return 1
}

fx_teardown_tmp() {
	cd / && [ -n "${T:-}" ] && rm -rf "$T"
}

# gen N [SEED] [extra gen-plays args]: N play events as NDJSON on stdout
gen() {
	local n=$1 seed=${2:-1}
	shift 2 2>/dev/null || shift $#
	gen-plays -n "$n" -s "$seed" "$@"
}

# fx_need_pty: tests that type into a pseudo-terminal need one. A real machine
# always has /dev/pts; a bare chroot (a debootstrap root with /dev bound but no
# devpts) has none, and only then is the test skipped, saying why.
fx_need_pty() {
	python3 -c 'import os; os.close(os.openpty()[0])' 2>/dev/null ||
		skip "no pseudo-terminal can be opened here (is devpts mounted on /dev/pts?)"
}
