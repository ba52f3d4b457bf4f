#!/usr/bin/env bash
# test_join_storm.sh — 24 agents, each on its own address, join one seed at
# once (bench/cluster's join, at the size where it broke).
#
# Every agent's streams must come from its own address: the seed caps
# inbound connections per address (16) and keeps joined streams open for
# their idle time, so joiners whose connections all left from one source
# address (the kernel's choice for an unbound socket, 127.0.0.1 on
# loopback) were refused past the 16th and waited for the idle streams to
# close: 90 s for 50 agents in bench/cluster.  Checked: the seed refuses no
# connection, it and every joiner list 24 alive, and the seed saw each
# joiner's streams from the joiner's own address.
source "$(dirname "$0")/lib.sh"

N=24
ip() { echo "127.0.72.$1"; }
start_agent a1 "$(ip 1)" --name a1 --sentry "$(ip 1):7946"
seed_up() { [[ $(count_status "$(ip 1)" alive 2>/dev/null) == 1 ]]; }
check "the seed serves" wait_for 10 seed_up
for i in $(seq 2 $N); do
	start_agent "a$i" "$(ip "$i")" --name "a$i" --sentry "$(ip 1):7946"
done
all_alive() {
	local i
	for i in $(seq 1 $N); do
		[[ $(count_status "$(ip "$i")" alive 2>/dev/null) == "$N" ]] || return 1
	done
}
check "every agent lists $N alive" wait_for 20 all_alive
refused=$(counter "$(ip 1)" connections_refused)
check "the seed refused no connection (${refused:-?})" test "${refused:-1}" -eq 0
# The seed's view of where streams came from: its established TCP
# connections on port 7946, by the peer's address.
peers=$(ss -Htn state established "( sport = :7946 )" src "$(ip 1)" 2>/dev/null |
	awk '{print $4}' | sed 's/:[0-9]*$//' | sort -u | tr '\n' ' ')
echo "the seed's stream peers: $peers"
check "no stream reached the seed from 127.0.0.1" bash -c "[[ ' $peers ' != *' 127.0.0.1 '* ]]"
finish
