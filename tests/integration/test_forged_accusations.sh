#!/usr/bin/env bash
# test_forged_accusations.sh — a key holder accuses a live member at its
# real incarnation, over and over, then at the highest incarnation the
# receiver's clock takes.
#
# Agents a and b.  Phase 1, ATTACK_S (10 s): a key holder
# (tests/tools/rogue.c accuse) reads b's current incarnation from b
# itself, then tells a that b is suspect and that b is dead, at exactly
# that incarnation, each from three accusers ("rogue-1".."rogue-3", so
# that Lifeguard counts independent confirmations); again every ~100 ms.
# Accusations at the real incarnation are what no check on the packet can
# tell from a member's own.  Phase 2, ATTACK_S: every 10 ms, the same at
# the clock's edge (this host's wall clock in seconds plus 2^24, the
# highest incarnation a takes, INCARNATION_HEADROOM in swim.c), so that
# b's refutation, one above, is dropped by a until a's clock moves on.
#
# Checked: the attack reached the protocol (a started suspicions of b, b
# refuted them; in phase 2 a dropped words past its clock); a never
# declared b failed (a's on-member hook) and holds b alive at the end; in
# phase 1 b's incarnation grew by at most one per round plus a few (it
# refutes each accusation once); in phase 2 it went no further than the
# clock's edge.  A DEAD from another node counts as one more suspicion
# (SECURITY.md): were it a verdict, a would declare b failed in the first
# round.  At the edge, a suspicion ends at a's next second (b's refutation,
# answered again to a's reminders, is then within a's clock), well before
# its timer runs out.
source "$(dirname "$0")/lib.sh"

test_tool ROGUE rogue
A=127.0.43.1 B=127.0.43.2
NAME_A=itest@$A NAME_B=itest@$B
ATTACK_S=10 ACCUSERS=3
HEADROOM=16777216 # 2^24: INCARNATION_HEADROOM in src/core/swim.c

start_watched_pair "$A" "$B"
# own_incarnation IP NAME: the incarnation NAME's agent gives itself.
own_incarnation() {
	http "$1" /v1/members | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if m["name"] == sys.argv[1]:
        print(m["incarnation"]); break' "$2"
}
inc0=$(own_incarnation "$B" "$NAME_B")
susp0=$(counter "$A" suspicions)
ref0=$(counter "$B" refutations)
echo "    b's incarnation before: $inc0"

rounds=0 sent_fail=0
end=$((SECONDS + ATTACK_S))
while ((SECONDS < end && rounds < 1000)); do
	inc=$(own_incarnation "$B" "$NAME_B")
	[[ -n $inc ]] || continue
	for kind in suspect dead; do
		"$ROGUE" accuse "$A:7946" itest "$WORK/key" "$NAME_A" "$NAME_B" "$inc" "$kind" "$ACCUSERS" ||
			sent_fail=$((sent_fail + 1))
	done
	rounds=$((rounds + 1))
	sleep 0.05
done
sleep 3
inc1=$(own_incarnation "$B" "$NAME_B")
susp=$(($(counter "$A" suspicions) - susp0))
ref=$(($(counter "$B" refutations) - ref0))
echo "    $rounds rounds of accusations ($((rounds * 2 * ACCUSERS)) datagrams); a started $susp suspicions, b refuted $ref times; b's incarnation $inc0 -> $inc1"

check "every accusation was sent ($sent_fail failed)" test "$sent_fail" -eq 0
check "the accusations reached a's failure detector ($susp suspicions of b started)" test "$susp" -ge 5
check "b refuted them ($ref refutations)" test "$ref" -ge 5
# Phase 2: accusations at the highest incarnation a's clock takes (its
# wall clock in seconds plus 2^24), every 10 ms, so that b's refutation,
# one above, lies past what a takes until a's clock moves on.
clock0=$(counter "$A" drops_clock)
ROGUE_SECONDS=$ATTACK_S "$ROGUE" accuse "$A:7946" itest "$WORK/key" "$NAME_A" "$NAME_B" edge suspect "$ACCUSERS" &
r1=$!
ROGUE_SECONDS=$ATTACK_S "$ROGUE" accuse "$A:7946" itest "$WORK/key" "$NAME_A" "$NAME_B" edge dead "$ACCUSERS" &
r2=$!
PIDS+=($r1 $r2)
wait $r1 || sent_fail=$((sent_fail + 1))
wait $r2 || sent_fail=$((sent_fail + 1))
sleep 3
inc2=$(own_incarnation "$B" "$NAME_B")
clock=$(($(counter "$A" drops_clock) - clock0))
echo "    at the clock's edge: b's incarnation $inc1 -> $inc2; a dropped $clock words past its clock; a holds b $(member_status "$A" "$NAME_B")"
failed_ab=$(declared a failed "$NAME_B")
check "a never declared b failed ($failed_ab times)" test "$failed_ab" -eq 0
check "a holds b alive" test "$(member_status "$A" "$NAME_B")" == alive
check "b holds itself alive" test "$(member_status "$B" "$NAME_B")" == alive
check "phase 1: b's incarnation grew by at most one per round plus 5 ($((inc1 - inc0)) for $rounds rounds)" \
	test $((inc1 - inc0)) -le $((rounds + 5))
check "phase 2 reached a's clock edge: a dropped words past its clock ($clock)" test "$clock" -gt 0
past=$((inc2 - $(date +%s) - HEADROOM))
check "phase 2: b's incarnation went no further than the clock's edge ($past past it)" test "$past" -le 2
finish
