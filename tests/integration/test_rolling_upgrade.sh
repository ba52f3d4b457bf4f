#!/usr/bin/env bash
# A cluster upgraded node by node from the previous wire version (127.0.60.1-4).
#
# Four keyed agents of the release before sealed packets v2 (commit a8b8815,
# built once per checkout by old_wire_binary.sh) form a cluster.  Each in
# turn is stopped (SIGTERM: a graceful leave, as a service manager does) and
# started again as the new binary with --protocol-min 1, under the same name,
# address and data dir.  Throughout, a monitor polls every agent's members:
# no member is ever dead, and after each step every agent lists all four
# alive.  Mixed, the new nodes talk sealed v1 to the old ones (counted in
# cloister_sealed_v1_packets_total) and v2 to each other (they advertise
# 1-2); a new node without --protocol-min 1 cannot reach the old ones.
source "$(dirname "$0")/lib.sh"

OLD=$(bash "$(dirname "$0")/old_wire_binary.sh") || {
	rc=$?
	[[ $rc -eq 77 ]] && { echo "SKIP: the old commit is not in this clone"; exit 77; }
	echo "FAIL: could not build the previous release"; exit 1
}
NEW=$CLOISTER
IPS=(127.0.60.1 127.0.60.2 127.0.60.3 127.0.60.4)
SENTRY=$(printf '%s:7946,' "${IPS[@]}"); SENTRY=${SENTRY%,}
umask 077
"$NEW" keygen >"$WORK/key"

# run_node I BINARY [ARGS...]: node I (0..3) with its own data dir.
run_node() {
	local i=$1 bin=$2; shift 2
	mkdir -p "$WORK/data$i"
	CLOISTER="$bin" start_agent "n$i" "${IPS[$i]}" --consensus 4 --sentry "$SENTRY" \
		--key-file "$WORK/key" --data-dir "$WORK/data$i" "$@"
}

# members IP: "name status" lines.
members() {
	http "$1" /v1/members | python3 -c '
import json, sys
for m in json.load(sys.stdin): print(m["name"], m["status"])'
}
all_alive_on() { [[ $(members "$1" | awk '$2 == "alive"' | wc -l) -eq 4 ]]; }
all_alive() { local ip; for ip in "${IPS[@]}"; do all_alive_on "$ip" || return 1; done; }

for i in 0 1 2 3; do run_node "$i" "$OLD"; done
t0=$SECONDS
check "four agents of the previous release: all alive everywhere" wait_for 30 all_alive
echo "  (in $((SECONDS - t0)) s)"

# The monitor: every agent's view every 0.3 s, in one process; any member
# dead (failed) is written down.  Bounded: it stops when told, or after
# 300 s.
touch "$WORK/monitor.on"
python3 - "$WORK" "$CLOISTER_TOKEN" "${IPS[@]}" <<'PY' &
import json, os, sys, time, urllib.request
work, token, ips = sys.argv[1], sys.argv[2], sys.argv[3:]
end = time.time() + 300
with open(f"{work}/dead.log", "a") as out:
    while os.path.exists(f"{work}/monitor.on") and time.time() < end:
        for ip in ips:
            try:
                req = urllib.request.Request(f"http://{ip}:7947/v1/members",
                                             headers={"Authorization": "Bearer " + token})
                with urllib.request.urlopen(req, timeout=2) as r:
                    for m in json.load(r):
                        if m["status"] == "dead":
                            print(ip, m["name"], "dead", flush=True, file=out)
            except Exception:
                pass  # an agent being restarted
        time.sleep(0.3)
PY
PIDS+=($!)

for i in 0 1 2 3; do
	kill -TERM "${AGENT_PID[n$i]}"
	gone() { ! kill -0 "${AGENT_PID[n$i]}" 2>/dev/null; }
	t0=$SECONDS
	wait_for 15 gone || fail "old n$i did not stop"
	echo "  (n$i left and exited in $((SECONDS - t0)) s)"
	run_node "$i" "$NEW" --protocol-min 1
	if wait_for 40 all_alive; then
		pass "step $((i + 1)): n$i runs the new binary; all four alive on every agent ($((SECONDS - t0)) s)"
	else
		fail "step $((i + 1)): not all alive; views: $(for ip in "${IPS[@]}"; do echo "$ip: $(members "$ip" | tr '\n' ' ')"; done)"
	fi
	# Old and new agree in both directions: a new node's keyed traffic to
	# old ones is v1 while any old node remains.
	if ((i < 3)); then
		v1_out=$(counter "${IPS[$i]}" sealed_v1_out)
		v1_in=$(counter "${IPS[$i]}" sealed_v1_in)
		check "step $((i + 1)): the new n$i speaks v1 to the old nodes (out $v1_out, in $v1_in)" \
			test "${v1_out:-0}" -gt 0 -a "${v1_in:-0}" -gt 0
	fi
done
rm -f "$WORK/monitor.on"
sleep 1
dead=$(sort -u "$WORK/dead.log" 2>/dev/null | wc -l)
check "no member was ever dead on any agent during the upgrade (views polled every 0.3 s)" test "$dead" -eq 0
[[ $dead -eq 0 ]] || sort -u "$WORK/dead.log" | head

# All new: v2 among themselves.  Every node advertises 1-2, so none seals
# v1 any more: the counters stand still.
v1_total() { local ip s=0 v; for ip in "${IPS[@]}"; do v=$(counter "$ip" sealed_v1_out); s=$((s + ${v:-0})); done; echo "$s"; }
before=$(v1_total)
sleep 3
after=$(v1_total)
check "all new: no v1 sent any more ($before then $after v1 packets in 3 s), v2 between them" test "$before" -eq "$after"
check "all new and still alive everywhere" all_alive

# A new node that does not accept v1 (the default) cannot join an old one.
run_old_alone() {
	mkdir -p "$WORK/dataold"
	CLOISTER="$OLD" start_agent oldx 127.0.60.11 --consensus 1 --key-file "$WORK/key" \
		--sentry 127.0.60.11:7946
	CLOISTER="$NEW" start_agent newx 127.0.60.12 --consensus 1 --key-file "$WORK/key" \
		--sentry 127.0.60.11:7946
}
run_old_alone
sleep 4
lonely() { [[ $(members "$1" | wc -l) -eq 1 ]]; }
check "without --protocol-min 1 a new node does not join an old one (new: alone)" lonely 127.0.60.12
check "  (old: alone)" lonely 127.0.60.11

finish
