#!/usr/bin/env bats
# CSV through fx: fx-consume reads it, fx-sink writes it, and a minimally
# quoted CSV (as Python's csv module writes it) comes back byte for byte.

load test_helper

setup() { fx_setup_tmp; }
teardown() { fx_teardown_tmp; }

@test "a CSV field that is a JSON number is a number whatever its size: 1e400 and integers past int64 keep their bytes" {
	printf '%s\n' a,b,c,d,e,f \
		1e400,12345678901234567890,1e308,-9223372036854775809,-1E+400,9223372036854775807 \
		007,+1,1.,1e,0x10,' 1' >in.csv
	run --separate-stderr fx-consume in.csv
	assert_success
	assert_output - <<'EOF'
{"a":1e400,"b":12345678901234567890,"c":1e308,"d":-9223372036854775809,"e":-1E+400,"f":9223372036854775807}
{"a":"007","b":"+1","c":"1.","d":"1e","e":"0x10","f":" 1"}
EOF
	# as the same numbers in NDJSON pass through
	fx-consume in.csv | head -1 | fx-consume >back.ndjson
	assert_equal "$(cat back.ndjson)" "$(fx-consume in.csv | head -1)"
	# --csv-strings keeps them strings
	run --separate-stderr fx-consume --csv-strings in.csv
	assert_success
	assert_line -n 0 '{"a":"1e400","b":"12345678901234567890","c":"1e308","d":"-9223372036854775809","e":"-1E+400","f":"9223372036854775807"}'
}

@test "fx-join: a CSV dimension's big numbers are numbers in the rows, and its keys match as before" {
	printf '%s\n' id,v,w 12345678901234567890,a,1e400 1e400,b,12345678901234567890 42,c,x >dim.csv
	printf '%s\n' '{"id":12345678901234567890}' '{"id":"12345678901234567890"}' \
		'{"id":1e400}' '{"id":"1e400"}' '{"id":42.0}' '{"id":"42"}' \
		'{"id":12345678901234567890.0}' '{"id":"042"}' >s.ndjson
	run --separate-stderr fx-join --dim dim.csv --on id <s.ndjson
	assert_success
	assert_output - <<'EOF'
{"id":12345678901234567890,"v":"a","w":1e400}
{"id":"12345678901234567890","v":"a","w":1e400}
{"id":1e400,"v":"b","w":12345678901234567890}
{"id":"1e400","v":"b","w":12345678901234567890}
{"id":42.0,"v":"c","w":"x"}
{"id":"42","v":"c","w":"x"}
EOF
}

# pycsv SEED ROWS: a minimally quoted CSV from Python's csv module, one
# column named "a": words that need quoting, empty fields, numbers of
# every size, and strings that only look like numbers. (Not leading or
# trailing spaces: fx-sink quotes those, Python does not.)
pycsv() {
	python3 - "$@" <<'EOF'
import csv, random, sys

rnd = random.Random(int(sys.argv[1]))
cells = ['', '', 'x', 'a,b', 'say "hi"', 'two\nlines', 'in side', '1e400', '-1E+400', '12345678901234567890', '-9223372036854775809',
         '9223372036854775807', '1.50', '-0', '007', '+1', '1.', '0x10',
         'NaN', 'Köln', '""']
w = csv.writer(sys.stdout, lineterminator='\n')
w.writerow(['a'])
for _ in range(int(sys.argv[2])):
    w.writerow([rnd.choice(cells)])
EOF
}

@test "CSV -> NDJSON -> CSV: a one-column CSV from Python, empty rows and big numbers included, comes back byte for byte" {
	pycsv 1 2000 >one.csv
	grep -qx '""' one.csv || fail "no empty row in one.csv"
	fx-consume one.csv >one.ndjson
	assert_equal "$(wc -l <one.ndjson)" 2000
	fx-sink --file back.csv <one.ndjson
	cmp back.csv one.csv
	# the values are Python's: strings, and numbers as written
	python3 -c 'import csv, json, sys
want = [r[0] for r in csv.reader(open("one.csv", newline=""))][1:]
got = [json.loads(l, parse_float=str, parse_int=str,
                  parse_constant=str)["a"] for l in open("one.ndjson")]
sys.exit(got != want)'
}

@test "CSV -> NDJSON -> CSV: a header that is one empty name and rows of empty fields" {
	printf '%s\n' '""' '""' 'x' '""' >e.csv
	run --separate-stderr fx-consume e.csv
	assert_success
	assert_output $'{"":""}\n{"":"x"}\n{"":""}'
	fx-consume e.csv | fx-sink --file back.csv
	cmp back.csv e.csv
}
