#!/usr/bin/env bash
# tcp_only: three agents that never send a datagram form a cluster and
# detect a failure, for networks that block UDP.
source "$(dirname "$0")/lib.sh"

IPS=(127.0.0.41 127.0.0.42 127.0.0.43)
SENTRY=127.0.0.41:7946,127.0.0.42:7946,127.0.0.43:7946
for i in 0 1 2; do
	start_agent "n$i" "${IPS[$i]}" --consensus 3 --sentry "$SENTRY" --tcp-only
done
ready_all() { local ip; for ip in "${IPS[@]}"; do [[ $(http "$ip" /ready) == ready* ]] || return 1; done; }
check "3 tcp-only agents become ready" wait_for 30 ready_all
talking() { http 127.0.0.41 /metrics | awk '/^cloister_streams_received_total/ {s=$2} END {exit !(s > 10)}'; }
check "they exchange packets (probes, acks) over streams" wait_for 15 talking
udp_sockets() { ss -uanp 2>/dev/null | grep -c "pid=${AGENT_PID[n0]}," ; }
check "agent n0 has no UDP socket" [ "$(udp_sockets)" = 0 ]
kill -KILL "${AGENT_PID[n2]}"
dead() { local i; for i in 0 1; do [[ $(member_status "${IPS[$i]}" itest@127.0.0.43) == dead ]] || return 1; done; }
check "a killed tcp-only agent is detected" wait_for 40 dead
finish
