#!/usr/bin/env bash
# test_assembly_hold.sh — a key holder holds the memory set aside for
# stream frames being assembled, so that a member's large push-pull finds
# none.
#
# Stream frames larger than one unit (64 KiB) are assembled in memory that
# all connections share (64 MiB, loop.c's ASSEMBLY_BUDGET); a frame that
# would pass it is refused and its connection closed.  The key holder
# (tests/tools/rogue.c hold) opens four connections from 127.0.44.2, and on
# each starts a sealed frame claiming the largest packet (16 MiB), then:
#   phase 1: sends only its first 128 KiB, and nothing more;
#   phase 2: sends all but its last 64 KiB (about 64 MiB in all);
#   phase 3: the same from four hosts (127.0.44.10-13), one frame each.
# Each phase holds HOLD_S (12 s, under the 30 s frame deadline).  During
# each, a member (rogue.c pushpull, from another address) sends a a state of
# MEMBERS (2,000) members with full tags, about 1.2 MB in two frames.
#
# Checked, in each phase: a learned the pushed members (all but the four
# forgeries the tool adds) while the holds were still open.  Before the fix a charged the whole
# claimed 16 MiB when a frame's head authenticated, so four heads (256 KiB
# sent) held all 64 MiB for 30 s and the push was refused
# (cloister_stream_connections_closed_total{reason="over_budget"});
# phase 2 is held off by each host's share of the budget (one full frame);
# phase 3, where each host stays within its share, by closing the frames
# whose sender has gone quiet for a second when one that is arriving needs
# their room (cloister_stream_connections_closed_total{reason="stalled"}).
source "$(dirname "$0")/lib.sh"

test_tool ROGUE rogue
A=127.0.44.1 HOLDER=127.0.44.2
HOLD_S=12 MEMBERS=2000 UNIT=65536 STREAM_MAX=16777216
# The push carries four forgeries a drops by design (rogue.c: a member
# "started" at time 0, and three claims on a victim at 0xFFFFFFFF).
WANT=$((MEMBERS - 4))

umask 077
"$CLOISTER" keygen >"$WORK/key"
start_agent a "$A" --key-file "$WORK/key"
up() { http "$A" /v1/status >/dev/null; }
check "a is up" wait_for 10 up
known() { http "$A" /v1/members | python3 -c "import json,sys; print(len(json.load(sys.stdin)))"; }

# hold NAME IP CONNS BYTES: CONNS held frames of BYTES each from IP, in the
# background (their pids in HOLDERS); waits until the tool has started
# them.
HOLDERS=()
hold() {
	ROGUE_BIND=$2 timeout $((HOLD_S + 10)) "$ROGUE" hold "$A:7946" itest "$WORK/key" "$3" "$4" "$HOLD_S" \
		>"$WORK/hold-$1-$2.out" 2>&1 &
	HOLDERS+=($!)
	PIDS+=($!)
	_hold_out="$WORK/hold-$1-$2.out"
	holding() { grep -q '^rogue: holding ' "$_hold_out"; }
	wait_for 30 holding
}
# phase_start: a's counts before a phase's holds, for push.
phase_start() {
	BEFORE=$(known)
	OVER0=$(counter "$A" streams_over_budget)
	STALLED0=$(counter "$A" connections_stalled)
}
# push NAME: while the holds are open, a member's push of MEMBERS members
# from another address; sets LEARNED, OVER and STALLED (a's counters moved
# since phase_start), and STILL (holders still running); then ends the
# holds.
push() {
	local deadline p
	sleep 1.5 # the holds quiet past ASSEMBLY_STALL_US (1 s)
	ROGUE_PREFIX=$1 timeout 30 "$ROGUE" pushpull "$A:7946" itest "$WORK/key" nobody "$MEMBERS" \
		>"$WORK/push-$1.out" 2>&1
	deadline=$((SECONDS + 5))
	LEARNED=$(($(known) - BEFORE))
	while ((LEARNED < WANT && SECONDS < deadline)); do
		sleep 0.5
		LEARNED=$(($(known) - BEFORE))
	done
	OVER=$(($(counter "$A" streams_over_budget) - OVER0))
	STALLED=$(($(counter "$A" connections_stalled) - ${STALLED0:-0}))
	STILL=0
	for p in "${HOLDERS[@]}"; do kill -0 "$p" 2>/dev/null && STILL=$((STILL + 1)); done
	cat "$WORK"/hold-"$1"-*.out "$WORK/push-$1.out" | sed 's/^/    /'
	echo "    $1: a learned $LEARNED members of the push; frames refused for the budget $OVER, stalled frames closed $STALLED; holders running $STILL of ${#HOLDERS[@]}"
	for p in "${HOLDERS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	HOLDERS=()
}

phase_start
hold claims "$HOLDER" 4 $((2 * UNIT))
push claims
check "phase 1, four frames claiming 16 MiB with 128 KiB sent: a learned the pushed members ($LEARNED of $MEMBERS)" \
	test "$LEARNED" -ge "$WANT"
check "phase 1: the holds were still open when the push was in" test "$STILL" -eq 1

phase_start
hold sent "$HOLDER" 4 $((STREAM_MAX - UNIT))
push sent
check "phase 2, four frames of 16 MiB with all but 64 KiB sent from one host: a learned the pushed members ($LEARNED of $MEMBERS)" \
	test "$LEARNED" -ge "$WANT"
check "phase 2: the holds were still open when the push was in" test "$STILL" -eq 1
check "phase 2: the host's share let one frame in and refused the other three ($OVER refused)" test "$OVER" -ge 3

# Phase 3: four hosts, one frame each, all but its last 64 KiB sent: each
# within its host's share, together the whole budget.
phase_start
for ip in 127.0.44.10 127.0.44.11 127.0.44.12 127.0.44.13; do
	hold hosts "$ip" 1 $((STREAM_MAX - UNIT))
done
push hosts
check "phase 3, four hosts holding 64 MiB in frames gone quiet: a learned the pushed members ($LEARNED of $MEMBERS)" \
	test "$LEARNED" -ge "$WANT"
check "phase 3: the room came from closing quiet frames ($STALLED closed), counted" test "$STALLED" -ge 1
check "phase 3: the holders were still running when the push was in ($STILL of 4)" test "$STILL" -eq 4
check "a still answers" up
finish
