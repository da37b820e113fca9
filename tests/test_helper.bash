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

# fx_teardown_tmp: stops the brokers the test started (fx_broker_start),
# then removes its directory. Every teardown ends with it, so a broker is
# stopped even when the test or its setup failed.
fx_teardown_tmp() {
	fx_broker_stop_all
	cd / && [ -n "${T:-}" ] && rm -rf "$T"
}

# A throwaway Kafka cluster for the tests that need one. fx-devbroker
# listens on 127.0.0.1 only.
FX_BROKER_PIDS=()

# fx_broker_spawn NAME [ARGS...]: starts fx-devbroker ARGS in the
# background with its bootstrap address written to NAME.bs, stdout to
# NAME.out, stderr to NAME.err, and waits until the address is there
# (FX_BROKER_WAIT seconds, default 60: a loaded machine creating many
# topics takes seconds). Sets BROKER_PID and BROKER_ADDR; the PID is also
# kept for fx_broker_stop_all. A broker that exits first, or is not up in
# time, fails the test with what it said.
fx_broker_spawn() {
	local name=$1 wait=${FX_BROKER_WAIT:-60} rc=0 start=$SECONDS
	shift
	rm -f "$name.bs"
	# fd 3 closed: bats waits for whoever holds it open
	fx-devbroker "$@" --bootstrap-file "$name.bs" >"$name.out" \
		2>"$name.err" 3>&- &
	BROKER_PID=$!
	FX_BROKER_PIDS+=("$BROKER_PID")
	until [ -s "$name.bs" ]; do
		if ! kill -0 "$BROKER_PID" 2>/dev/null; then
			wait "$BROKER_PID" || rc=$?
			fx_broker_forget "$BROKER_PID"
			fail "fx-devbroker $* exited (status $rc) before it was up: $(cat "$name.err")" || return
		fi
		if [ $((SECONDS - start)) -ge "$wait" ]; then
			fail "fx-devbroker $* was not up in $wait s: $(cat "$name.err")" || return
		fi
		sleep 0.05
	done
	BROKER_ADDR=$(cat "$name.bs")
}

# fx_broker_start [ARGS...]: the test's broker (fx_broker_spawn devbroker
# ARGS): sets DEVBROKER (its PID), B and FX_BROKERS (its address).
fx_broker_start() {
	fx_broker_spawn devbroker "$@" || return
	DEVBROKER=$BROKER_PID
	B=$BROKER_ADDR
	export FX_BROKERS=$B
}

# fx_broker_forget PID: PID is no longer one of ours to stop
fx_broker_forget() {
	local i
	for i in "${!FX_BROKER_PIDS[@]}"; do
		[ "${FX_BROKER_PIDS[i]}" = "$1" ] && unset 'FX_BROKER_PIDS[i]'
	done
	[ "${DEVBROKER:-}" = "$1" ] && DEVBROKER=
	return 0
}

# fx_broker_stop [PID]: stops a broker (default the test's, DEVBROKER) by
# its PID: SIGTERM, SIGKILL if it is still there 10 s later. Returns its
# exit status (0 for a broker that stopped cleanly on SIGTERM), 0 if there
# is none.
fx_broker_stop() {
	local pid=${1:-${DEVBROKER:-}} rc=0 i
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	fx_broker_forget "$pid"
	return $rc
}

# fx_broker_stop_all: stops every broker the test started and has not
# stopped (fx_teardown_tmp calls it)
fx_broker_stop_all() {
	local pid
	for pid in "${FX_BROKER_PIDS[@]}"; do
		fx_broker_stop "$pid" || true
	done
	FX_BROKER_PIDS=()
}

# fx_silent_listener NAME: a TCP listener on 127.0.0.1 that accepts every
# connection and never answers (a broker that hangs, so a wait for it is
# certain to run out). Its address goes to NAME.bs and SILENT_ADDR; its PID
# is stopped with the brokers (fx_broker_stop_all).
fx_silent_listener() {
	local name=$1 start=$SECONDS pid
	rm -f "$name.bs"
	python3 -c '
import socket, sys, os
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("127.0.0.1:%d" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    held.append(s.accept()[0])
' "$name.bs" 3>&- &
	pid=$!
	FX_BROKER_PIDS+=("$pid")
	until [ -s "$name.bs" ]; do
		kill -0 "$pid" 2>/dev/null || fail "the silent listener exited" || return
		[ $((SECONDS - start)) -lt 30 ] || fail "the silent listener is not up in 30 s" || return
		sleep 0.05
	done
	SILENT_ADDR=$(cat "$name.bs")
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

# ---- checkpointed pipelines (issue 13) ----

# committed_id DIR: the checkpoint id in DIR/committed.json, 0 without one
committed_id() {
	if [ -f "$1/committed.json" ]; then
		jq -r .id "$1/committed.json"
	else
		echo 0
	fi
}

# after K <STREAM: what follows checkpoint K (all of it for K = 0)
after() {
	awk -v k="$1" 'BEGIN { f = k == 0 } f { print } index($0, "{\"_fx\":\"checkpoint\",\"id\":" k ",") == 1 { f = 1 }'
}

# upto K <STREAM: the stream up to and with checkpoint K
upto() {
	awk -v k="$1" '{ print } index($0, "{\"_fx\":\"checkpoint\",\"id\":" k ",") == 1 { exit }'
}

# resume K <REST: the input of a restart after checkpoint K
resume() {
	printf '{"_fx":"restore","id":%d}\n' "$1"
	cat
}

# fx_kill_stages: kill -9 every process in STAGE_PIDS, then fx_teardown_tmp
# (the teardown of a file whose tests start pipeline stages by hand).
fx_kill_stages() {
	local p
	for p in "${STAGE_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	fx_teardown_tmp
}

# wait_stream [SECONDS]: waits for every process in STAGE_PIDS (at most
# SECONDS, default 120, then kills what is left: a stage killed before it
# opened its FIFO leaves its neighbour blocked in open()); 0 if all
# exited 0. STAGE_PIDS is emptied.
wait_stream() {
	local p rc=0 limit=$((SECONDS + ${1:-120}))
	while [ "$SECONDS" -lt "$limit" ]; do
		for p in "${STAGE_PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null && { sleep 0.02; continue 2; }
		done
		break
	done
	for p in "${STAGE_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && { kill -9 "$p" 2>/dev/null; rc=1; }
		wait "$p" || rc=1
	done
	STAGE_PIDS=()
	return $rc
}

# fx_jobs_agree PROG ARGS...: PROG -j1, -j2 and -j4 ARGS write the same
# stdout (out.N), stderr (err.N, --stats without its time and rates) and
# exit status (RC: -j1's); with dlq.j1 in ARGS (as dlq.jN), the same dead
# letters
fx_jobs_agree() {
	local prog=$1 j rc1 rc
	shift
	rm -f dlq.j*
	"$prog" -j1 "$@" >out.1 2>err && rc1=0 || rc1=$?
	fx_untimed <err >err.1
	for j in 2 4; do
		"$prog" -j$j "${@//dlq.j1/dlq.j$j}" >out.$j 2>err && rc=0 || rc=$?
		fx_untimed <err >err.$j
		[ "$rc" = "$rc1" ] || fail "-j$j exits $rc, -j1 $rc1"
		cmp out.1 out.$j || fail "-j$j: other output than -j1"
		cmp err.1 err.$j || fail "-j$j: other messages than -j1: $(cat err.$j)"
		if [ -e dlq.j1 ]; then
			cmp dlq.j1 dlq.j$j || fail "-j$j: other dead letters than -j1"
		fi
	done
	RC=$rc1
}

# fx_untimed: --stats lines without the time taken and the rates
fx_untimed() {
	sed -E 's/^(fx-[a-z]+: stats: .* bytes out), [0-9.]+ s, .*$/\1/'
}

# late_of FILE: sets late to the last count of late records a run gave
# (--stats), or to nothing; a builtin loop, with no process
late_of() {
	local l re=' ([0-9]+) late records$'
	late=
	while IFS= read -r l; do
		[[ ! $l =~ $re ]] || late=${BASH_REMATCH[1]}
	done <"$1"
}
