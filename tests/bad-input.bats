#!/usr/bin/env bats
# The bad-input battery from tests/cases/bad-input.cases: each case's exit
# status and exact message. All cases run; the failures are listed together.

load test_helper

setup() { fx_setup_tmp; }
teardown() { chmod -R u+rwx "$T" 2>/dev/null; fx_teardown_tmp; }

@test "bad-input battery: every case gives its message and exit status" {
	local name cmd expect want_status want_err bad=0 n=0
	while IFS= read -r name; do
		[[ -z $name || $name == \#* ]] && continue
		IFS= read -r cmd
		IFS= read -r expect
		want_status=${expect%%$'\t'*}
		want_err=${expect#*$'\t'}
		[ "$want_err" = '""' ] && want_err=
		n=$((n + 1))
		run --separate-stderr bash -c "$cmd"
		if [ "$status" != "$want_status" ] || [ "$stderr" != "$want_err" ]; then
			echo "case '$name': want $want_status '$want_err', got $status '$stderr'"
			bad=$((bad + 1))
		fi
	done <"$FX_ROOT/tests/cases/bad-input.cases"
	echo "$n cases, $bad failed"
	[ "$n" -ge 30 ]
	[ "$bad" -eq 0 ]
}
