#!/usr/bin/env bats
# Consumer-group faults on fx-devbroker: members killed (SIGKILL), stopped
# (SIGTERM) and joining while the group reads, ten times over. Every record
# must come out at least once (compared with kcat's read of the topic), and
# every member must exit within its documented bound: no stall.
#
# The bounds scale with the group settings given here (fx-consume(1),
# "Consumer groups"): a member that gets SIGTERM exits within --timeout; a
# dead member's partitions are taken over after session.timeout.ms; with -e
# a member waits for the rest of the group at most session.timeout.ms plus
# --timeout without progress, then exits 3.

load test_helper

REPS=${FX_GROUP_REPS:-10}
N=20000
# short sessions so that a dead member is noticed in 3 s, not 45 (the mock broker does not
# take less)
GX="-X session.timeout.ms=3000 -X heartbeat.interval.ms=300 --timeout 3s"

setup() {
	fx_setup_tmp
	# 160 topics on a loaded machine can take seconds to create: the
	# helper waits up to 60 s
	fx_broker_start $(for i in $(seq $REPS); do echo --topic t$i:8 --topic t$i-e:8; done)
	PIDS=()
	READERS=()
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	fx_teardown_tmp
}

# member NAME TOPIC GROUP [ARGS]: an fx-consume group member writing to a
# reader that takes about 2,000 records a second, so that the member is
# mid-stream when it is killed. Sets MEMBER (fx-consume's PID).
member() {
	local name=$1 topic=$2 group=$3
	shift 3
	mkfifo "$name.pipe"
	perl -ne 'BEGIN { $| = 1 } print; select(undef, undef, undef, 0.05) unless $. % 100' <"$name.pipe" >"$name.out" &
	PIDS+=($!)
	READERS+=($!)
	fx-consume -t "$topic" -g "$group" $GX "$@" >"$name.pipe" 2>"$name.err" &
	MEMBER=$!
	PIDS+=($MEMBER)
}

# exits_within PID SECONDS: waits for PID; fails (and kills it) if it is
# still running after SECONDS. Sets RC to its exit status.
exits_within() {
	local pid=$1 limit=$2 i
	for ((i = 0; i < limit * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		fail "member $pid still running after ${limit}s: stalled"
	fi
	RC=0
	wait "$pid" || RC=$?
}

# ids FILES...: the distinct record ids in the files, sorted. A member
# killed by SIGKILL in the middle of a write leaves its last line torn (no
# newline): that is not a record, and is left out.
ids() {
	local f
	for f in "$@"; do
		if [ -n "$(tail -c 1 "$f")" ]; then head -n -1 "$f"; else cat "$f"; fi
	done | jq -r '.id' | sort -u
}

# one_run REP [-e]: the fault scenario once, on a topic of its own
one_run() {
	local rep=$1 e=${2:-} id=$1${2:-} t=t$1${2:-} g=g$1${2:-} a b c d r
	SECONDS=0

	member a$id "$t" "$g" $e
	a=$MEMBER
	member b$id "$t" "$g" $e
	b=$MEMBER
	member c$id "$t" "$g" $e
	c=$MEMBER
	# all three are reading (the mock broker's rebalances can leave one
	# waiting for its share for a while: then it dies or leaves early)
	for _ in $(seq 150); do
		[ -s a$id.out ] && [ -s b$id.out ] && [ -s c$id.out ] && break
		sleep 0.1
	done
	echo "# rep $id: kill at ${SECONDS}s: $(wc -l ?$id.out | tr '\n' ' ')" >&3
	kill -9 $a
	kill -TERM $b
	exits_within $b 6 # --timeout 3s, and a margin
	[ "$RC" -eq 0 ] || fail "rep $id: SIGTERM'd member exited $RC: $(cat b$id.err)"
	sleep 0.5
	member d$id "$t" "$g" $e
	d=$MEMBER

	if [ -z "$e" ]; then
		# the survivors take a's and b's partitions over: every record
		# within session.timeout.ms (3 s), a rebalance, and the reading
		for _ in $(seq 300); do
			# (a cheap look: the id is the first member)
			[ "$(cut -d, -f1 ?$id.out | grep '^{"id":[0-9]*$' | sort -u | wc -l)" -ge $N ] && break
			sleep 0.1
		done
		kill -TERM $c $d
		exits_within $c 6
		[ "$RC" -eq 0 ] || fail "rep $id: member c exited $RC: $(cat c$id.err)"
		exits_within $d 6
		[ "$RC" -eq 0 ] || fail "rep $id: member d exited $RC: $(cat d$id.err)"
	else
		# -e: each survivor exits when the whole topic is read (0), or
		# after session.timeout.ms + --timeout without progress (3)
		exits_within $c 60
		local rc_c=$RC
		exits_within $d 60
		local rc_d=$RC
		[ $rc_c -eq 0 ] || [ $rc_c -eq 3 ] || fail "rep $id: c exited $rc_c"
		[ $rc_d -eq 0 ] || [ $rc_d -eq 3 ] || fail "rep $id: d exited $rc_d"
		if [ $rc_c -ne 0 ] || [ $rc_d -ne 0 ]; then
			echo "# rep $id: -e run failed as documented: $(cat c$id.err d$id.err)" >&3
			return 0
		fi
	fi
	# the readers drain their pipes and end
	for r in "${READERS[@]}"; do exits_within $r 10; done
	READERS=()
	kcat -b "$B" -C -t "$t" -e -q | jq -r '.id' | sort -u >want.$id
	[ "$(wc -l <want.$id)" -eq $N ] || fail "kcat reads $(wc -l <want.$id) records"
	ids ?$id.out >got.$id
	run comm -23 want.$id got.$id
	[ -z "$output" ] || fail "rep $id ${e:-without -e}: $(echo "$output" | wc -l) records never output, first: $(echo "$output" | head -3 | tr '\n' ' ')"
	run comm -13 want.$id got.$id
	assert_output ''
	echo "# rep $id ${e:-}: $(cat ?$id.out | wc -l) lines for $N records, ${SECONDS}s" >&3
}

# lane REP [-e]: one_run in a subshell of its own, its output in
# lane.REP.-e, its processes killed when it ends, whatever the outcome
lane() {
	(
		PIDS=()
		READERS=()
		trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done' EXIT
		one_run "$@"
		echo "# rep $1${2:-}: ok"
	) >"lane.$1${2:-}" 2>&1
}

@test "group faults x$REPS, with and without -e: kill -9, SIGTERM, a late joiner; every record out at least once, no stall" {
	# two repetitions at a time, each with and without -e: four groups
	# on four topics at once
	local rep l failed=0
	jq -nc --argjson n $N 'range(1; $n + 1) | {id: ., k: "key\(. % 97)", pad: ("x" * 200)}' >in.ndjson
	for rep in $(seq $REPS); do
		fx-sink -t t$rep --key k <in.ndjson
		fx-sink -t t$rep-e --key k <in.ndjson
	done
	SECONDS=0
	for ((rep = 1; rep <= REPS; rep += 2)); do
		local lanes=()
		for r in $rep $((rep + 1)); do
			[ $r -le $REPS ] || continue
			lane $r &
			lanes+=($!)
			lane $r -e &
			lanes+=($!)
		done
		for l in "${lanes[@]}"; do
			wait $l || { echo "# lane $l exited $?" >&3; failed=1; }
		done
	done
	for l in lane.*; do sed 's/^/# /' "$l" >&3; done
	echo "# all repetitions: ${SECONDS}s" >&3
	[ $failed -eq 0 ] || fail "a repetition failed: see above"
}
