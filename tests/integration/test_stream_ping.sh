#!/usr/bin/env bash
# test_stream_ping.sh — the TCP fallback ping on real agents.
#
# Three agents on 127.0.11.1-3.  An nftables rule (its own table, matching
# only 127.0.11.2's gossip port) then drops every datagram to agent 2 for
# 30 s: its direct pings and ping-reqs, and the acks to its own probes.
# Only the fallback ping over TCP, sent beside the indirect probes, still
# reaches it and carries the answer back.  Checks:
#   - nobody declares anyone failed, and all three stay ready;
#   - the fallback was used and answered (stream_ping_rescues counters);
#   - without the rule, the fallback stays idle (it costs nothing when
#     datagrams get through).
# Needs root and nft (exit 77 = skipped otherwise).
source "$(dirname "$0")/lib.sh"

if [[ $(id -u) -ne 0 ]] || ! command -v nft >/dev/null; then
	echo "SKIP: needs root and nft"
	exit 77
fi
TABLE=clst$$
IPS=(127.0.11.1 127.0.11.2 127.0.11.3)
SENTRY=$(printf '%s:7946,' "${IPS[@]}"); SENTRY=${SENTRY%,}
nft_cleanup() { nft delete table inet "$TABLE" 2>/dev/null; }
trap 'nft_cleanup; cleanup' EXIT

for i in 0 1 2; do
	start_agent "n$i" "${IPS[$i]}" --sentry "$SENTRY" --consensus 3 --profile lan \
		--on-member "echo \"\$CLOISTER_EVENT \$CLOISTER_MEMBER\" >> $WORK/events.log"
done
ready_all() { local ip; for ip in "${IPS[@]}"; do http "$ip" /ready >/dev/null || return 1; done; }
check "three agents ready" wait_for 20 ready_all

counter() { # counter IP NAME: that agent's NAME_total
	http "$1" /metrics | awk -v n="cloister_$2_total" '$1 == n {print $2}'
}
rescues() { local ip s=0; for ip in "${IPS[@]}"; do s=$((s + $(counter "$ip" stream_ping_rescues))); done; echo $s; }

sleep 5
quiet=$(rescues)
check "no fallback needed while datagrams get through (rescues: $quiet)" [ "$quiet" -eq 0 ]

nft add table inet "$TABLE"
nft add chain inet "$TABLE" in '{ type filter hook input priority 0; }'
nft add rule inet "$TABLE" in ip daddr 127.0.11.2 udp dport 7946 counter drop
sleep 30
dropped=$(nft list table inet "$TABLE" | awk '/counter packets/ {for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)}')
nft_cleanup
after=$(rescues)
echo "    datagrams dropped: ${dropped:-0}; probes answered only over TCP: $after"
check "datagrams to agent 2 were dropped" [ "${dropped:-0}" -gt 20 ]
check "the fallback answered probes" [ "$after" -gt 10 ]
check "agent 2 answered its own probes through it too" [ "$(counter 127.0.11.2 stream_ping_rescues)" -gt 0 ]
check "no member was declared failed" bash -c "! grep -q '^failed ' $WORK/events.log 2>/dev/null"
check "still ready everywhere" ready_all
alive3() { local ip; for ip in "${IPS[@]}"; do [[ $(count_status "$ip" alive) == 3 ]] || return 1; done; }
check "every agent lists three alive" alive3

finish
