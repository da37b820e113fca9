#!/usr/bin/env bats
# fx-consume --partition-fields: directory names k=v as fields, and the
# names that cannot be fields without changing data (fx-consume(1)).

load test_helper

setup() {
	set -o pipefail
	fx_setup_tmp
}
teardown() { fx_teardown_tmp; }

@test "--partition-fields: a CSV column k keeps its value and gets no second k, as an NDJSON member k does" {
	mkdir -p w/dt=d1/os=ios
	printf 'os,v\nandroid,1\n,2\n' >w/dt=d1/os=ios/a.csv
	printf 'v,dt\n3,own\n' >w/dt=d1/os=ios/b.csv
	printf '{"os":"android","v":4}\n{"v":5}\n' >w/dt=d1/os=ios/c.ndjson
	run --separate-stderr fx-consume --partition-fields w
	assert_success
	assert_equal "$stderr" ""
	assert_output - <<'EOF'
{"os":"android","v":1,"dt":"d1"}
{"os":"","v":2,"dt":"d1"}
{"v":3,"dt":"own","os":"ios"}
{"os":"android","v":4,"dt":"d1"}
{"v":5,"dt":"d1","os":"ios"}
EOF
	# no record has a key twice: jq keeps the last of two
	[ "$(printf '%s\n' "$output" | jq -c .)" = "$output" ] || fail "a duplicate key"
	# below this operand os=ios is the only name
	run --separate-stderr fx-consume --partition-fields --csv-strings w/dt=d1/os=ios/..
	assert_success
	assert_line --index 0 '{"os":"android","v":"1"}'
}

@test "--partition-fields: a dot in k is part of the name, not a path into the record" {
	mkdir -p "w/a.b=x"
	printf '{"a.b":1}\n{"a":{"b":2}}\n' >"w/a.b=x/p.ndjson"
	printf 'a.b,n\n3,4\n' >"w/a.b=x/q.csv"
	printf 'n\n5\n' >"w/a.b=x/r.csv"
	run --separate-stderr fx-consume --partition-fields w
	assert_success
	assert_equal "$stderr" ""
	assert_output - <<'EOF'
{"a.b":1}
{"a":{"b":2},"a.b":"x"}
{"a.b":3,"n":4}
{"n":5,"a.b":"x"}
EOF
}

@test "--partition-fields: a k twice in one path is exit 2 naming the directory, nothing written" {
	mkdir -p w/os=ios/os=android
	echo '{"n":1}' >w/os=ios/os=android/p.ndjson
	run --separate-stderr fx-consume --partition-fields w
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" 'fx-consume: w/os=ios/os=android: --partition-fields: "os" twice in the path'
	# without the option the names are not fields: nothing to refuse
	run --separate-stderr fx-consume w
	assert_success
	assert_output '{"n":1}'
}

@test "--partition-fields: a name that is not UTF-8, spelled or %XX-decoded, is exit 2 naming the directory, nothing written" {
	mkdir -p a/k=%FF b/$'k=\xff' c/$'\xff=1' ok/k=%C3%A9
	echo '{"n":1}' | tee a/k=%FF/p.ndjson b/$'k=\xff'/p.ndjson c/$'\xff=1'/p.ndjson ok/k=%C3%A9/p.ndjson >/dev/null
	echo '{"n":0}' >a/0.ndjson
	# %XX-decoded UTF-8 is a value like any other
	run --separate-stderr fx-consume --partition-fields ok
	assert_success
	assert_output '{"n":1,"k":"é"}'
	# before a record of the operand, the one at the top of it included
	run --separate-stderr fx-consume --partition-fields a
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" 'fx-consume: a/k=%FF: --partition-fields: value of "k" is not UTF-8 once %XX-decoded'
	run --separate-stderr fx-consume --partition-fields b
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" $'fx-consume: b/k=\xff: --partition-fields: value of "k" is not UTF-8'
	run --separate-stderr fx-consume --partition-fields c
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" $'fx-consume: c/\xff=1: --partition-fields: field name is not UTF-8'
	# not bad data that --on-error could skip; with --checkpoint, not even
	# the restore record
	run --separate-stderr fx-consume --partition-fields --on-error skip a
	assert_failure 2
	assert_output ""
	run --separate-stderr fx-consume --partition-fields --checkpoint 1 --state st ok a
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" 'fx-consume: a/k=%FF: --partition-fields: value of "k" is not UTF-8 once %XX-decoded'
	# without the option the names are not fields: nothing to refuse
	run --separate-stderr fx-consume a
	assert_success
	assert_output $'{"n":0}\n{"n":1}'
}
