#!/usr/bin/env bash
# Encryption on real agents (127.0.0.21-24):
#   - three agents sharing a key form a cluster; one with the wrong key
#     never joins, and its packets are counted as authentication drops;
#   - the key rotates across the running cluster (install everywhere, use
#     everywhere, remove the old one) with no member ever marked failed;
#   - a bounded flood of garbage datagrams leaves the target answering
#     (no failure anywhere) with bounded memory.
source "$(dirname "$0")/lib.sh"

IPS=(127.0.0.21 127.0.0.22 127.0.0.23)
SENTRY=127.0.0.21:7946,127.0.0.22:7946,127.0.0.23:7946
K1=$("$CLOISTER" keygen)
K2=$("$CLOISTER" keygen)
K3=$("$CLOISTER" keygen)
umask 077
echo "$K1" >"$WORK/k1"
echo "$K2" >"$WORK/k2"

for i in 0 1 2; do
	start_agent "n$i" "${IPS[$i]}" --consensus 3 --sentry "$SENTRY" --key-file "$WORK/k1" \
		--on-member "echo \"\$CLOISTER_EVENT \$CLOISTER_MEMBER\" >> $WORK/events.log"
done
ready_all() { local ip; for ip in "${IPS[@]}"; do [[ $(http "$ip" /ready) == ready* ]] || return 1; done; }
check "3 agents with the same key become ready" wait_for 30 ready_all

start_agent intruder 127.0.0.24 --consensus 3 --sentry "$SENTRY" --key-file "$WORK/k2"
sleep 8
check "the wrong-key agent is not ready" bash -c "[[ \$(python3 -c 'import urllib.request
try: urllib.request.urlopen(\"http://127.0.0.24:7947/ready\", timeout=3); print(\"ready\")
except Exception as e: print(\"not\")') == not ]]"
three_only() { local ip; for ip in "${IPS[@]}"; do [[ $(http "$ip" /v1/members | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') == 3 ]] || return 1; done; }
check "no member ever learned of it" three_only
auth_drops() { http 127.0.0.21 /metrics | awk -F'[{}" ]+' '$1 == "cloister_packets_dropped_total" && $3 == "auth" {s += $4} END {exit !(s > 0)}'; }
check "its packets were dropped as unauthenticated" auth_drops
kill -KILL "${AGENT_PID[intruder]}"

# Rotation with no downtime.
for ip in "${IPS[@]}"; do "$CLOISTER" keys install "$K3" --http "$ip:7947" >/dev/null || fail "install on $ip"; done
sleep 2
for ip in "${IPS[@]}"; do "$CLOISTER" keys use "$K3" --http "$ip:7947" >/dev/null || fail "use on $ip"; done
sleep 2
for ip in "${IPS[@]}"; do "$CLOISTER" keys remove "$K1" --http "$ip:7947" >/dev/null || fail "remove on $ip"; done
sleep 6
check "after rotation: still ready everywhere" ready_all
one_key() { "$CLOISTER" keys list --http 127.0.0.22:7947 2>/dev/null | grep -c . | grep -qx 1; }
check "one key left installed" one_key
check "no member marked failed during rotation" bash -c "! grep -q '^failed ' $WORK/events.log"

# A flood of garbage at node 0: 200,000 datagrams as fast as one core sends.
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/${AGENT_PID[n0]}/status"; }
before=$(rss_kb)
python3 - <<'PY' &
import os, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 20
for i in range(200000):
    if time.time() > end:
        break
    s.sendto(os.urandom(1 + i % 1400), ("127.0.0.21", 7946))
PY
FLOOD=$!
PIDS+=($FLOOD)
peak=$before
while kill -0 "$FLOOD" 2>/dev/null; do
	r=$(rss_kb); ((r > peak)) && peak=$r
	sleep 0.2
done
sleep 3
check "flooded agent still ready, and its peers too" ready_all
check "no member marked failed during the flood" bash -c "! grep -q '^failed ' $WORK/events.log"
echo "    RSS before ${before} kB, peak during flood ${peak} kB"
check "RSS stayed under 64 MB" [ "$peak" -lt 65536 ]
# Random bytes are mostly not version 2 at all (drops_version), some too
# short for a header (drops_truncated), a few begin like a clear-text
# packet (drops_plaintext); the rest fail authentication.
garbage() { http 127.0.0.21 /metrics | awk -F'[{}" ]+' '$1 == "cloister_packets_dropped_total" && $3 ~ /^(auth|version|truncated|plaintext)$/ {s += $4} END {exit !(s > 1000)}'; }
check "the garbage was counted (drops_auth, _version, _truncated, _plaintext)" garbage

finish
