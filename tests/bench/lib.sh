# tests/bench/lib.sh - helpers for tests/bench/run.sh (sourced, bash)
# shellcheck shell=bash
# shellcheck disable=SC2034 # CHECK_WHY is read by run.sh
#
#   bench_case NAME INPUT_BYTES RECORDS CMD...
#       Times the shell command line CMD... (joined by spaces; may be a
#       pipeline; it should send its output to /dev/null or a file itself)
#       at least RUNS times (hyperfine adds runs to fast cases, up to about
#       3 s of them) and records the median, min and max wall time,
#       MB/s (INPUT_BYTES / median, MB = 10^6 bytes), records/s and the
#       peak RSS of the largest process of the command. A command that
#       fails is recorded as FAILED and the run goes on.
#   bench_self NAME INPUT_BYTES RECORDS CMD...
#       As bench_case for a command that times itself: each of RUNS (at
#       least 5) runs prints "RECORDS SECONDS" (what it counted and the
#       time it measured); the median of those SECONDS is the figure.
#   bench_skip NAME WHY        a row that says why a case did not run
#   ratio FX_CASE COMP_CASE LABEL
#       Adds "LABEL N.Nx" (FX_CASE speed / COMP_CASE speed, i.e. COMP
#       median / FX median) to FX_CASE's ratio column.
#   goal_speed CASE MIN_MBPS TEXT
#   goal_ratio FX_CASE COMP_CASE MIN TEXT      (COMP median / FX median >= MIN)
#   goal_cost CASE BASE_CASE MAX TEXT          (CASE median / BASE median <= MAX)
#   goal_seconds CASE SECONDS TEXT             (median < SECONDS)
#   goal_rss FX_CASE COMP_CASE FACTOR TEXT     (FX RSS * FACTOR <= COMP RSS)
#       Goals from the issues, printed met / MISSED under the table.
#   check_same NAME EXPECTED_FILE ACTUAL_CMD...
#       Before timing an fx case: runs ACTUAL_CMD on a small sample and
#       compares with EXPECTED_FILE; on a difference prints the first lines
#       of the diff, sets CHECK_WHY and returns 1 (the caller skips the
#       timing: a fast wrong answer gets no figure). Commands run with
#       pipefail, here and in bench_case: a failing stage fails the case.
#   print_table                the table, the ratios and the goals
#
# Globals used: RUNS, PIN (taskset prefix or empty), TMP (scratch dir).

declare -a CASES=()
declare -A C_RUNS=() C_MED=() C_MIN=() C_MAX=() C_MBPS=() C_RPS=() C_RSS=() C_NOTE=() C_RATIO=()
declare -a GOALS=()
CHECK_WHY=
FAILURES=0 # cases that failed or failed their check

log() { printf '%s\n' "$*" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }

# awk does the floating point.
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }

# Median, min and max of the numbers on stdin.
_stats() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2;
		printf "%.6f %.6f %.6f\n", m, v[1], v[NR] }'
}

# Runs "$1" (a shell command line) RUNS times; prints "median min max" or
# returns non-zero if any run failed. Peak RSS (KiB, the largest process)
# goes to $TMP/rss, one line a run.
_time_runs() {
	local cmd="$1" wrapped json
	: >"$TMP/rss"
	if have /usr/bin/time; then
		wrapped="/usr/bin/time -f %M -a -o $TMP/rss ${PIN:+$PIN }bash -o pipefail -c $(printf '%q' "$cmd")"
	else
		wrapped="${PIN:+$PIN }bash -o pipefail -c $(printf '%q' "$cmd")"
	fi
	if have hyperfine; then
		json="$TMP/hyperfine.json"
		# at least RUNS runs, more for fast cases (about 3 s worth each)
		hyperfine --min-runs "$RUNS" --shell bash --style none --output null \
			--export-json "$json" "$wrapped" >"$TMP/hyperfine.out" 2>&1 ||
			{ tail -n 5 "$TMP/hyperfine.out" >&2; return 1; }
		jq -r '.results[0].times[]' "$json" | _stats
		jq -r '.results[0].times | length' "$json" >"$TMP/nruns"
	else
		local i t0 t1
		: >"$TMP/times"
		for ((i = 0; i < RUNS; i++)); do
			t0=$(date +%s.%N)
			bash -c "$wrapped" >/dev/null || return 1
			t1=$(date +%s.%N)
			calc "$t1 - $t0" 6 >>"$TMP/times"
			echo >>"$TMP/times"
		done
		_stats <"$TMP/times"
		echo "$RUNS" >"$TMP/nruns"
	fi
}

bench_case() {
	local name="$1" bytes="$2" records="$3" cmd med min max rss
	shift 3
	cmd="$*"
	CASES+=("$name")
	log "bench: $name: $cmd"
	if ! _time_runs "$cmd" >"$TMP/stats" || ! read -r med min max <"$TMP/stats"; then
		C_NOTE[$name]="FAILED: non-zero exit (the command is in the log on stderr)"
		FAILURES=$((FAILURES + 1))
		log "bench: $name: FAILED"
		return 0
	fi
	C_MED[$name]=$med
	C_RUNS[$name]=$(cat "$TMP/nruns")
	C_MIN[$name]=$min
	C_MAX[$name]=$max
	C_MBPS[$name]=$(calc "$bytes / $med / 1e6" 1)
	C_RPS[$name]=$(calc "$records / $med" 0)
	rss=$(sort -n "$TMP/rss" | grep -E '^[0-9]+$' | tail -n 1 || true)
	C_RSS[$name]=${rss:+$(calc "$rss / 1024" 0)}
	log "$(printf 'bench: %s: median %.3f s, %s MB/s' "$name" "$med" "${C_MBPS[$name]}")"
}

bench_self() {
	local name="$1" bytes="$2" records="$3" cmd i runs=$RUNS got secs
	shift 3
	cmd="$*"
	CASES+=("$name")
	log "bench: $name: $cmd (self-timed)"
	[ "$runs" -ge 5 ] || runs=5
	: >"$TMP/times"
	for ((i = 0; i < runs; i++)); do
		if ! read -r got secs < <(${PIN:+$PIN }bash -o pipefail -c "$cmd") ||
			[ "$got" != "$records" ]; then
			C_NOTE[$name]="FAILED: no \"$records SECONDS\" line (got ${got:-nothing})"
			FAILURES=$((FAILURES + 1))
			log "bench: $name: FAILED"
			return 0
		fi
		echo "$secs" >>"$TMP/times"
	done
	record_runs "$name" "$bytes" "$records" "$TMP/times"
}

# record_runs NAME BYTES RECORDS TIMES-FILE: the median, min and max of the
# seconds in TIMES-FILE (one a line) as case NAME, for a case timed by
# other means than bench_case (bench_self, run.sh's stat_case and pairs)
record_runs() {
	local name="$1" bytes="$2" records="$3" med min max
	read -r med min max < <(_stats <"$4")
	C_MED[$name]=$med
	C_RUNS[$name]=$(grep -c . "$4")
	C_MIN[$name]=$min
	C_MAX[$name]=$max
	C_MBPS[$name]=$(calc "$bytes / $med / 1e6" 1)
	C_RPS[$name]=$(calc "$records / $med" 0)
	log "$(printf 'bench: %s: median %.3f s, %s MB/s' "$name" "$med" "${C_MBPS[$name]}")"
}

bench_skip() {
	CASES+=("$1")
	C_NOTE[$1]="skipped: $2"
	log "bench: $1: skipped: $2"
}

ratio() {
	local fx="$1" comp="$2" label="$3" r
	[ -n "${C_MED[$fx]:-}" ] && [ -n "${C_MED[$comp]:-}" ] || return 0
	r=$(calc "${C_MED[$comp]} / ${C_MED[$fx]}" 1)
	C_RATIO[$fx]="${C_RATIO[$fx]:+${C_RATIO[$fx]}  }$label ${r}x"
}

# goal_record TEXT VALUE CONDITION SHOWN: "TEXT: met (SHOWN)" when the awk
# CONDITION holds, "MISSED (SHOWN)" when not, "not measured" without VALUE.
goal_record() {
	local text="$1" value="$2" cond="$3" shown="$4" verdict
	if [ -z "$value" ]; then verdict="not measured"
	elif awk "BEGIN { exit !($cond) }"; then verdict="met ($shown)"
	else verdict="MISSED ($shown)"; fi
	GOALS+=("$text: $verdict")
}

# the competitor's median over fx's, or nothing if either is missing; to
# DIGITS decimals (default 2)
median_ratio() {
	[ -n "${C_MED[$1]:-}" ] && [ -n "${C_MED[$2]:-}" ] || return 0
	calc "${C_MED[$2]} / ${C_MED[$1]}" "${3:-2}"
}

goal_speed() {
	local v=${C_MBPS[$1]:-}
	goal_record "$3" "$v" "$v >= $2" "$v MB/s"
}

# The verdict is taken on four decimals, the figure shown on three: on
# two, 0.494 s against 0.496 s (0.996x) was shown 1.00x and "met".
goal_ratio() {
	local r
	r=$(median_ratio "$1" "$2" 4)
	goal_record "$4" "$r" "$r >= $3" "$(calc "$r" 3)x"
}

# goal_cost CASE BASE_CASE MAX TEXT: CASE's median at most MAX times BASE's.
goal_cost() {
	local r
	r=$(median_ratio "$2" "$1" 4)
	goal_record "$4" "$r" "$r <= $3" "$(calc "$r" 3)x the cost"
}

# goal_seconds CASE SECONDS TEXT: the median must be under SECONDS.
goal_seconds() {
	local v=${C_MED[$1]:-}
	goal_record "$3" "$v" "$v < $2" "$v s"
}

# goal_rss FX COMPETITOR FACTOR TEXT: fx's peak RSS times FACTOR at most the
# competitor's.
goal_rss() {
	local a=${C_RSS[$1]:-} b=${C_RSS[$2]:-}
	[ -n "$b" ] || a=
	goal_record "$4" "$a" "$a * $3 <= $b" "$a MB vs $b MB"
}

check_same() {
	local name="$1" expected="$2" actual="$TMP/check.out"
	shift 2
	CHECK_WHY=
	FAILURES=$((FAILURES + 1))
	if ! bash -o pipefail -c "$*" >"$actual" 2>"$TMP/check.err"; then
		CHECK_WHY="exited non-zero on a 1000-record sample"
		log "bench: $name: check failed: $*: exited non-zero:"
		head -n 5 "$TMP/check.err" | cut -c 1-200 >&2
		return 1
	fi
	if ! cmp -s "$expected" "$actual"; then
		CHECK_WHY="wrong output on a 1000-record sample"
		log "bench: $name: check failed: $*: output differs from the expected sample:"
		diff "$expected" "$actual" | head -n 6 | cut -c 1-200 >&2 || true
		return 1
	fi
	FAILURES=$((FAILURES - 1))
}

print_table() {
	local name
	printf '%-32s %4s %9s %17s %9s %11s %8s  %s\n' \
		case runs median_s "min-max_s" MB/s records/s rss_MB "fx speed / competitor"
	for name in "${CASES[@]}"; do
		if [ -n "${C_MED[$name]:-}" ]; then
			printf '%-32s %4s %9.3f %8.3f-%-8.3f %9s %11s %8s  %s\n' "$name" \
				"${C_RUNS[$name]}" "${C_MED[$name]}" "${C_MIN[$name]}" "${C_MAX[$name]}" \
				"${C_MBPS[$name]}" "${C_RPS[$name]}" "${C_RSS[$name]:--}" \
				"${C_RATIO[$name]:-}"
		else
			printf '%-32s %s\n' "$name" "${C_NOTE[$name]:-no result}"
		fi
	done
	if [ "${#GOALS[@]}" -gt 0 ]; then
		echo
		echo "Goals (from the issues):"
		for name in "${GOALS[@]}"; do
			echo "  $name"
		done
	fi
}
