#!/usr/bin/env bash
# test_name_conflict.sh — two live agents started with one name (issue 12,
# defect 2).
#
# zz is started on 127.0.30.1, then a second zz on 127.0.30.2 beside a third
# agent, t, on 127.0.30.3.  Each used to refute the other's ALIVE forever:
# t's view of zz flipped address every few seconds, the incarnation climbed
# and neither process said anything.  Now the process that started later
# keeps the name: the older one checks that it answers, stops claiming the
# name, says so once, and reports state stopped with superseded_by.
# Checked: within 30 s t's view of zz is at .2 and stays there, its
# incarnation grows by at most 3 over the following 20 s, the older agent
# logs one clear line and its /v1/status says what happened.
source "$(dirname "$0")/lib.sh"

A=127.0.30.1 B=127.0.30.2 T=127.0.30.3
SEEDS="$A:7946,$B:7946,$T:7946"

start_agent t "$T" --name t --sentry "$SEEDS"
start_agent zz_old "$A" --name zz --sentry "$SEEDS"
t_knows_zz() { http "$T" /v1/members | grep -q '"zz"'; }
wait_for 15 t_knows_zz || fail "t never saw the first zz"
# The newer process: started a second later, so its start time is later.
sleep 1
start_agent zz_new "$B" --name zz --sentry "$SEEDS"

# t's view of zz: "addr incarnation".
zz_view() {
	http "$T" /v1/members | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if m["name"] == "zz":
        print(m["addr"], m["incarnation"]); break'
}

settled_at_new() { [[ $(zz_view) == "$B:7946 "* ]]; }
check "within 30 s t holds zz at the newer process ($B)" wait_for 30 settled_at_new

first=$(zz_view)
inc0=${first#* }
flips=0 prev_addr=${first%% *} last=$first
# 20 s of polls: at most 100, and no more once 20 s have passed (a loaded
# machine answers slowly; the window is time, not a count).
watch_end=$((SECONDS + 20))
for _ in $(seq 1 100); do
	((SECONDS < watch_end)) || break
	cur=$(zz_view)
	[[ -n $cur ]] && last=$cur
	addr=${last%% *}
	[[ $addr != "$prev_addr" ]] && flips=$((flips + 1))
	prev_addr=$addr
	sleep 0.2
done
inc1=${last#* }
echo "t's view of zz: $first, 20 s later $last ($flips address changes)"
check "t's view of zz kept its address for 20 s" test "$flips" -eq 0
check "its incarnation grew by at most 3 ($inc0 -> $inc1)" \
	test $((inc1 - inc0)) -le 3

old_status=$(http "$A" /v1/status)
echo "older agent's status: $old_status"
check "the older agent reports status stopped" \
	bash -c "echo '$old_status' | grep -q '\"status\": *\"stopped\"'"
check "... and who took its name (superseded_by $B:7946)" \
	bash -c "echo '$old_status' | grep -q '\"superseded_by\": *\"$B:7946\"'"
lines=$(grep -c "another live process holds this node's name" "$WORK/zz_old.log")
echo "older agent logged: $(grep "another live process" "$WORK/zz_old.log" | head -1)"
check "the older agent said so once ($lines line)" test "$lines" -eq 1
check "the newer agent said nothing of the kind" \
	bash -c "! grep -q 'another live process' '$WORK/zz_new.log'"
metric=$(http "$A" /metrics | grep -E '^cloister_superseded(_total)? ' | awk '{print $2}')
check "the older agent's metric shows it (superseded $metric)" test "${metric:-0}" = 1
new_ready() { http "$B" /ready >/dev/null; }
check "the newer agent is ready" new_ready
check "the older agent is still running (a restart would start the fight over)" \
	kill -0 "${AGENT_PID[zz_old]}"
finish
