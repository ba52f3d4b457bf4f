#!/usr/bin/env bash
# Three agents in network namespaces on a bridge (198.18.0.0/24, the range
# reserved for network tests), configured with nothing but a DNS name that
# dnsmasq answers with their addresses, and a cluster key:
#   - they become ready with consensus 3, each named by its own address;
#   - one comes back with a new address (and DNS follows): the cluster heals
#     with no ghost;
#   - 10% loss on every link for 60 s (nftables; this kernel has no netem):
#     no member is ever declared failed.
# Needs root and ip netns; exits 77 (CTest: skipped) where it cannot run.
source "$(dirname "$0")/../integration/lib.sh"

if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null || ! command -v dnsmasq >/dev/null ||
	! command -v nft >/dev/null; then
	echo "SKIP: needs root, iproute2, dnsmasq and nftables"
	exit 77
fi
TAG=cl$$
HUB=${TAG}hub
NS=("${TAG}a" "${TAG}b" "${TAG}c")
IPS=(198.18.0.1 198.18.0.2 198.18.0.3)
NAME=svc.cloister.test

source "$(dirname "$0")/netns_lib.sh"
netns_hub "$HUB" 198.18.0
for i in 0 1 2; do netns_node "${NS[$i]}" "${IPS[$i]}"; done
netns_dns "$NAME" "${IPS[@]}"

# Off loopback a node needs a key: the cluster shares one (real
# encryption in the test, as in production).
(umask 077 && "$CLOISTER" keygen >"$WORK/cluster.key")

# agent NODE-INDEX LOGNAME: an agent that knows only the DNS name.
agent() {
	local n=${NS[$1]}
	ip netns exec "$n" "$CLOISTER" agent --app demo --sentry "$NAME" --consensus 3 \
		--key-file "$WORK/cluster.key" \
		--http 127.0.0.1:7947 --profile local --discovery-interval 2 \
		--on-member "echo \"\$CLOISTER_EVENT \$CLOISTER_MEMBER\" >> $WORK/events-$n.log" \
		>>"$WORK/$2.log" 2>&1 &
	AGENT_PID[$2]=$!
	PIDS+=($!)
}
nshttp() { ip netns exec "${NS[$1]}" python3 - "$2" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen("http://127.0.0.1:7947" + sys.argv[1], timeout=3) as r:
        sys.stdout.write(r.read().decode())
except Exception:
    sys.exit(1)
PY
}
ready_all() { local i; for i in 0 1 2; do [[ $(nshttp "$i" /ready) == ready* ]] || return 1; done; }
status_field() { nshttp "$1" /v1/status | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
alive_count() { nshttp "$1" /v1/members | python3 -c 'import json,sys; print(sum(m["status"]=="alive" for m in json.load(sys.stdin)))'; }

sleep 0.5 # dnsmasq binds
for i in 0 1 2; do agent "$i" "a$i"; done
check "3 agents found by one DNS name become ready (consensus 3)" wait_for 45 ready_all
named_by_address() { local i; for i in 0 1 2; do [[ $(status_field "$i" node) == "demo@${IPS[$i]}" ]] || return 1; done; }
check "each named itself by its own address (demo@198.18.0.x)" named_by_address

# Node c comes back at a new address, and DNS follows.
kill -KILL "${AGENT_PID[a2]}"
ip -n "${NS[2]}" addr del 198.18.0.3/24 dev eth0
ip -n "${NS[2]}" addr add 198.18.0.13/24 dev eth0
write_hosts 198.18.0.1 198.18.0.2 198.18.0.13
dns_reload
agent 2 a2b
healed() {
	local i
	for i in 0 1 2; do
		[[ $(alive_count "$i") == 3 ]] || return 1
		nshttp "$i" /v1/members | python3 -c '
import json, sys
ms = json.load(sys.stdin)
sys.exit(1 if any(m["status"] in ("alive", "suspect") and m["addr"].startswith("198.18.0.3:") for m in ms) else 0)' || return 1
	done
	ready_all
}
check "after the move: 3 alive everywhere, the old address dead everywhere" wait_for 60 healed
check "the moved node named itself by its new address" bash -c "[[ \$(ip netns exec ${NS[2]} python3 -c 'import json,urllib.request; print(json.load(urllib.request.urlopen(\"http://127.0.0.1:7947/v1/status\"))[\"node\"])') == demo@198.18.0.13 ]]"

# 10% loss on every link (each namespace drops 10% of what it receives).
for n in "${NS[@]}"; do
	ip netns exec "$n" nft -f - <<'NFT'
table inet chaos {
	chain input {
		type filter hook input priority 0; policy accept;
		iifname "eth0" numgen random mod 100 < 10 drop
	}
}
NFT
done
for n in "${NS[@]}"; do : >"$WORK/events-$n.log"; done
sleep 60
for n in "${NS[@]}"; do ip netns exec "$n" nft delete table inet chaos; done
no_failures() { ! grep -q '^failed ' "$WORK"/events-*.log; }
check "60 s of 10% loss: no member declared failed" no_failures
check "... and the cluster is still ready everywhere" ready_all

finish
