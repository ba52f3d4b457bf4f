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

ROGUE=${CLOISTER_ROGUE:-$(dirname "$CLOISTER")/tests/cloister_rogue}
[[ -x $ROGUE ]] || { echo "SKIP: no test tool at $ROGUE (set CLOISTER_ROGUE)"; exit 77; }
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

# phase NAME BYTES: four held frames of BYTES each from the holder, then
# the push; sets LEARNED and OVER (frames a refused for the budget).
phase() {
	local name=$1 bytes=$2 before over0
	before=$(known)
	over0=$(counter "$A" streams_over_budget)
	ROGUE_BIND=$HOLDER timeout $((HOLD_S + 10)) "$ROGUE" hold "$A:7946" itest "$WORK/key" 4 "$bytes" "$HOLD_S" \
		>"$WORK/hold-$name.out" 2>&1 &
	local holder=$!
	PIDS+=($holder)
	holding() { grep -q '^rogue: holding ' "$WORK/hold-$name.out"; }
	wait_for 20 holding
	sleep 1
	# The push goes out while the holds are open, from its own address.
	ROGUE_PREFIX=$name timeout 30 "$ROGUE" pushpull "$A:7946" itest "$WORK/key" nobody "$MEMBERS" \
		>"$WORK/push-$name.out" 2>&1
	local deadline=$((SECONDS + 5))
	LEARNED=$(($(known) - before))
	while ((LEARNED < WANT && SECONDS < deadline)); do
		sleep 0.5
		LEARNED=$(($(known) - before))
	done
	OVER=$(($(counter "$A" streams_over_budget) - over0))
	local still
	kill -0 "$holder" 2>/dev/null && still=open || still=closed
	echo "    $name: $(cat "$WORK/hold-$name.out"); $(cat "$WORK/push-$name.out")"
	echo "    $name: a learned $LEARNED members of the push (holds $still); frames refused for the budget: $OVER"
	HOLDS=$still
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
}

phase claims $((2 * UNIT))
check "phase 1, four frames claiming 16 MiB with 128 KiB sent: a learned the pushed members ($LEARNED of $MEMBERS)" \
	test "$LEARNED" -ge "$WANT"
check "phase 1: the holds were still open when the push was in ($HOLDS)" test "$HOLDS" = open
phase sent $((STREAM_MAX - UNIT))
check "phase 2, four frames of 16 MiB with all but 64 KiB sent from one host: a learned the pushed members ($LEARNED of $MEMBERS)" \
	test "$LEARNED" -ge "$WANT"
check "phase 2: the holds were still open when the push was in ($HOLDS)" test "$HOLDS" = open
check "phase 2: the host's share let one frame in and refused the other three ($OVER refused)" test "$OVER" -ge 3
# Phase 3: four hosts, one frame each, all but its last 64 KiB sent: each
# within its host's share, together the whole budget.
ips=(127.0.44.10 127.0.44.11 127.0.44.12 127.0.44.13)
before=$(known)
over0=$(counter "$A" streams_over_budget)
stalled0=$(counter "$A" connections_stalled)
holders=()
for ip in "${ips[@]}"; do
	ROGUE_BIND=$ip timeout $((HOLD_S + 10)) "$ROGUE" hold "$A:7946" itest "$WORK/key" 1 $((STREAM_MAX - UNIT)) "$HOLD_S" \
		>"$WORK/hold-hosts-$ip.out" 2>&1 &
	holders+=($!)
	PIDS+=($!)
done
all_holding() { [[ $(cat "$WORK"/hold-hosts-*.out 2>/dev/null | grep -c '^rogue: holding 1 ') == 4 ]]; }
check "phase 3: four hosts each hold one frame of 16 MiB, all but 64 KiB sent" wait_for 30 all_holding
sleep 1.5 # quiet past ASSEMBLY_STALL_US (1 s)
ROGUE_PREFIX=hosts timeout 30 "$ROGUE" pushpull "$A:7946" itest "$WORK/key" nobody "$MEMBERS" >"$WORK/push-hosts.out" 2>&1
deadline=$((SECONDS + 5))
LEARNED=$(($(known) - before))
while ((LEARNED < WANT && SECONDS < deadline)); do
	sleep 0.5
	LEARNED=$(($(known) - before))
done
OVER=$(($(counter "$A" streams_over_budget) - over0))
STALLED=$(($(counter "$A" connections_stalled) - stalled0))
still=0
for p in "${holders[@]}"; do kill -0 "$p" 2>/dev/null && still=$((still + 1)); done
echo "    hosts: a learned $LEARNED members of the push; frames refused for the budget: $OVER; stalled frames closed for room: $STALLED; holders still running: $still"
check "phase 3, four hosts holding 64 MiB in frames gone quiet: a learned the pushed members ($LEARNED of $MEMBERS)" \
	test "$LEARNED" -ge "$WANT"
check "phase 3: the room came from closing quiet frames ($STALLED closed), counted" test "$STALLED" -ge 1
check "phase 3: the holders were still running when the push was in ($still of 4)" test "$still" -eq 4
for p in "${holders[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
check "a still answers" up
finish
