#!/usr/bin/env bash
# Five real agents on 127.0.0.11-15, consensus 3: they form a cluster; a
# kill -9 is seen as a failure by every survivor and reaches their
# listeners (the --on-member hook); the victim restarts under the same name
# and rejoins with no ghost; a SIGTERM is seen as "left", never "failed".
source "$(dirname "$0")/lib.sh"

IPS=(127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.14 127.0.0.15)
SENTRY=$(printf '%s:7946,' "${IPS[@]}"); SENTRY=${SENTRY%,}
hook() { echo "echo \"\$CLOISTER_EVENT \$CLOISTER_MEMBER\" >> $WORK/events-$1.log"; }

for i in "${!IPS[@]}"; do
	start_agent "n$i" "${IPS[$i]}" --consensus 3 --sentry "$SENTRY" \
		--on-member "$(hook "$i")"
done

ready_all() {
	local ip
	for ip in "${IPS[@]}"; do
		"$CLOISTER" wait ready --http "$ip:7947" --timeout 1 >/dev/null 2>&1 || return 1
	done
}
check "5 agents with consensus 3 become ready" wait_for 30 ready_all
alive5() { local ip; for ip in "${IPS[@]}"; do [[ $(count_status "$ip" alive) == 5 ]] || return 1; done; }
check "every agent lists 5 alive members" wait_for 20 alive5

# multicall: every agent answers cloister.ping with its name.
replies() { "$CLOISTER" multicall cloister.ping x --http 127.0.0.11:7947 --timeout 2 --json 2>/dev/null |
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["replies"]), " ".join(sorted(d["missing"])))'; }
got=$(replies)
check "multicall over 5 agents gathers 5 replies ($got)" [ "$got" == "5 " ]
kill -STOP "${AGENT_PID[n2]}"
# kill returns once the signal is sent; the multicall waits for the stop
# itself (state T), or a reply could still leave the agent (one CI run
# counted 5 replies here).
stopped() { [[ $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) == T ]]; }
check "the agent is stopped" wait_for 2 stopped "${AGENT_PID[n2]}"
t0=$SECONDS
got=$(replies)
check "with one agent stopped: 4 replies and it is named as missing ($got)" [ "$got" == "4 itest@127.0.0.13" ]
check "... within the timeout (2 s, took $((SECONDS - t0)) s)" [ $((SECONDS - t0)) -le 4 ]
kill -CONT "${AGENT_PID[n2]}"

# kill -9 node 4: within the local profile's detection bound (probe
# interval 1 s, suspicion 3*log10(5)->3 s floor... up to 6x without
# confirmations = 18 s, plus dissemination) every survivor marks it dead.
VICTIM=itest@127.0.0.15
# /v1/status dates the last member event (members_changed_ms, Unix ms).
changed_ms() { http "$1" /v1/status | python3 -c 'import json,sys; print(json.load(sys.stdin)["members_changed_ms"])'; }
stable_before=$(changed_ms 127.0.0.11)
t_kill=$(date +%s%3N)
check "members_changed_ms dates the joins, before now ($stable_before < $t_kill)" \
	bash -c "[[ $stable_before =~ ^[0-9]+$ ]] && (( $stable_before < $t_kill && $stable_before > $t_kill - 120000 ))"
kill -KILL "${AGENT_PID[n4]}"
dead_everywhere() {
	local i
	for i in 0 1 2 3; do [[ $(member_status "${IPS[$i]}" "$VICTIM") == dead ]] || return 1; done
}
check "survivors mark the killed agent dead" wait_for 40 dead_everywhere
changed_after=$(changed_ms 127.0.0.11)
check "members_changed_ms moved to the failure, after the kill ($t_kill <= $changed_after <= now)" \
	bash -c "[[ $changed_after =~ ^[0-9]+$ ]] && (( $changed_after >= $t_kill && $changed_after <= \$(date +%s%3N) ))"
heard_failed() {
	local i
	for i in 0 1 2 3; do grep -q "^failed $VICTIM\$" "$WORK/events-$i.log" 2>/dev/null || return 1; done
}
check "every survivor's listener heard 'failed'" wait_for 5 heard_failed
still_ready() {
	local i
	for i in 0 1 2 3; do [[ $(http "${IPS[$i]}" /ready) == ready* ]] || return 1; done
}
check "4 of 5 still meet consensus 3" still_ready

# Restart it: same name, same address, a new process.
start_agent n4b 127.0.0.15 --consensus 3 --sentry "$SENTRY"
alive_again() {
	local i
	for i in 0 1 2 3; do [[ $(member_status "${IPS[$i]}" "$VICTIM") == alive ]] || return 1; done
}
check "the restarted agent is alive again everywhere" wait_for 30 alive_again
no_ghost() {
	local ip
	for ip in "${IPS[@]}"; do
		http "$ip" /v1/members | python3 -c '
import json, sys
ms = json.load(sys.stdin)
names = [m["name"] for m in ms]
alive = [m for m in ms if m["status"] == "alive"]
sys.exit(0 if len(names) == len(set(names)) == 5 and len(alive) == 5 else 1)' || return 1
	done
}
check "no ghost: 5 distinct names, 5 alive, on every agent" wait_for 10 no_ghost

# Graceful leave: SIGTERM node 3; the others see "left", not "failed".
LEAVER=itest@127.0.0.14
kill -TERM "${AGENT_PID[n3]}"
left_everywhere() {
	local i
	for i in 0 1 2; do [[ $(member_status "${IPS[$i]}" "$LEAVER") == left ]] || return 1; done
}
check "SIGTERM: the others see 'left'" wait_for 15 left_everywhere
never_failed() { ! grep -q "^failed $LEAVER\$" "$WORK"/events-*.log; }
check "... and never 'failed'" never_failed
check "the leaving agent exited by itself" wait_for 15 bash -c "! kill -0 ${AGENT_PID[n3]} 2>/dev/null"

finish
