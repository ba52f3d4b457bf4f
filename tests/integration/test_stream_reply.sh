#!/usr/bin/env bash
# test_stream_reply.sh — an agent that answers on a stream while it is
# still reading the packet that asked.
#
# One keyed agent on 127.0.13.1 and a key holder (tests/tools/streampeer.c)
# on its stream port.  A stream packet is read by the core message by
# message, and some messages are answered on the same connection at once:
# a fallback ping's ack comes before the gossip piggybacked after the
# ping.  Checks:
#   - the gossip after a stream ping is read as it was sent: the member it
#     announces is listed under its own name, and no other name appears
#     (a sealed answer written over the packet being read once turned that
#     name into ciphertext, a member nobody could reach, later "failed";
#     CI's chaos test caught one);
#   - a peer that sends stream pings and never reads the acks is cut off
#     once the unread answers pass their bound, the packet being read when
#     that happens is read to its end, and the agent stays well (its
#     memory bounded, its API answering, the next connection served).
# A sanitizer build (make asan) sees any read of freed memory.
source "$(dirname "$0")/lib.sh"
# Under AddressSanitizer (make asan) freed memory stays resident in its
# quarantine, 256 MiB by default: kept small, RSS measures what is live.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=8

PEER=${CLOISTER_STREAMPEER:-$(dirname "$CLOISTER")/tests/cloister_streampeer}
[[ -x $PEER ]] || { echo "SKIP: no streampeer tool at $PEER"; exit 77; }
IP=127.0.13.1
(umask 077 && "$CLOISTER" keygen >"$WORK/cluster.key")
start_agent a "$IP" --name alpha --consensus 1 --key-file "$WORK/cluster.key" \
	--on-member "echo \"\$CLOISTER_EVENT \$CLOISTER_MEMBER\" >> $WORK/events.log"
check "the keyed agent is ready" wait_for 20 http "$IP" /ready

names() { http "$IP" /v1/members | python3 -c '
import json, sys
print(" ".join(sorted(m["name"] for m in json.load(sys.stdin))))'; }

out=$("$PEER" "$IP:7946" itest "$WORK/cluster.key" alpha ping witness-one)
echo "    $out"
check "the stream ping was answered on its connection ($out)" \
	bash -c "[[ '$out' =~ ^answered\ [1-9] ]]"
listed_witness() { [[ $(names) == "alpha witness-one" ]]; }
check "the ALIVE after the ping is listed under its name" wait_for 5 listed_witness
echo "    members: $(names | cat -v)"
check "every member event names alpha or witness-one" \
	bash -c "! grep -qvE '^[a-z]+ (alpha|witness-one)\$' $WORK/events.log"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/${AGENT_PID[a]}/status"; }
rss0=$(rss_kib)
errs0=$(counter "$IP" send_errors)
out=$(timeout 120 "$PEER" "$IP:7946" itest "$WORK/cluster.key" alpha noread 3000 witness-two)
echo "    $out"
sent=${out//[!0-9]/}
check "a peer that does not read its acks is cut off before 3000 frames ($out)" \
	test "${sent:-3000}" -lt 3000
errs=$(counter "$IP" send_errors)
check "the cut is counted as a send error ($errs0 -> $errs)" test "$errs" -gt "$errs0"
check "the agent is alive and answers" http "$IP" /ready
rss=$(rss_kib)
echo "    agent RSS ${rss0} KiB -> ${rss} KiB"
check "its memory stayed bounded (grew by $(((rss - rss0) / 1024)) MiB, bound 96)" \
	test $((rss - rss0)) -lt $((96 * 1024))
only_announced() { # every listed name is one a peer announced; $1 among them
	local n; n=" $(names) "
	[[ $n == *" $1 "* ]] || return 1
	for x in $n; do
		[[ $x =~ ^(alpha|witness-one|witness-two|witness-three)$ ]] || return 1
	done
}
check "witness-two is listed, and no name nobody announced: $(names)" wait_for 5 only_announced witness-two
out=$("$PEER" "$IP:7946" itest "$WORK/cluster.key" alpha ping witness-three)
check "a new connection is served ($out)" bash -c "[[ '$out' =~ ^answered\ [1-9] ]]"
check "every member event names a member that was announced" \
	bash -c "! grep -qvE '^[a-z]+ (alpha|witness-one|witness-two|witness-three)\$' $WORK/events.log"

finish
