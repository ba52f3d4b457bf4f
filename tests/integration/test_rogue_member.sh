#!/usr/bin/env bash
# test_rogue_member.sh — a key holder that lies (issue 13): it pushes a
# full state of 60,000 invented members with the largest tags (31 groups,
# weight 64), one claiming to have started at time 0, one taking over a real
# member's name at incarnation 0xFFFFFFFF, and a verdict of that member's
# death at 0xFFFFFFFF.
#
# Two real agents run with consensus majority:5 (a minority: never ready).
# Checked: the attacked agent answers its API within 5 s throughout (the
# node thread is not stalled), stays assembling (invented members do not
# make quorum), keeps its sentry (the "ancient" member is neither believed
# nor heard from), still holds b alive at b's address (no takeover, no
# eviction), grows by a bounded amount of memory, and counts what it
# refused.
source "$(dirname "$0")/lib.sh"

ROGUE=${CLOISTER_ROGUE:-$(dirname "$CLOISTER")/tests/cloister_rogue}
[[ -x $ROGUE ]] || { echo "SKIP: no rogue tool at $ROGUE"; exit 77; }
A=127.0.31.1 B=127.0.31.2
# Bounds for a release build; a sanitizer build is several times slower
# and heavier (its allocator quarantines freed memory).
LAT_MS=5000 MEM_MB=200
# gcc links the ASan runtime dynamically: its name is not in the binary,
# the instrumentation's entry points are.
if grep -qa "AddressSanitizer\|ThreadSanitizer\|__asan_init\|__tsan_init" "$CLOISTER"; then
	LAT_MS=15000 MEM_MB=900
fi
"$CLOISTER" keygen >"$WORK/key"
chmod 600 "$WORK/key"
common=(--key-file "$WORK/key" --consensus majority:5 --sentry "$A:7946,$B:7946")
start_agent a "$A" --name a "${common[@]}"
start_agent b "$B" --name b "${common[@]}"

field() { http "$A" /v1/status | python3 -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }
two_alive() { [[ $(count_status "$A" alive) == 2 ]]; }
check "a and b see each other" wait_for 20 two_alive
# The sentry is the oldest member heard from directly: until a has heard
# b's pings it names itself, so the baseline is taken once it names the
# older of the two.
oldest() { http "$A" /v1/members | python3 -c "
import json, sys
print(min(json.load(sys.stdin), key=lambda m: (m['start_ms'], m['name']))['name'])"; }
sentry_settled() { [[ $(field sentry) == "$(oldest)" ]]; }
check "a's sentry is the older member" wait_for 20 sentry_settled
sentry0=$(field sentry)
status0=$(field status)
rss() { awk '/VmRSS/ {print $2}' "/proc/${AGENT_PID[a]}/status"; }
rss0=$(rss)
echo "before: status $status0, sentry $sentry0, RSS ${rss0} kB"
check "a is not ready with 2 of majority:5" test "$status0" != ready

"$ROGUE" pushpull "$A:7946" itest "$WORK/key" b 60000 &
rogue_pid=$!
PIDS+=("$rogue_pid")

# Each poll waits up to the latency bound (http's timeout is 3 s times
# SLOW); one that gets no answer is counted as unanswered, not read as a
# status: an empty answer once passed for a moved sentry ("None").
poll_slow=$(( (LAT_MS + 2999) / 3000 ))
slowest=0 ready_seen=0 sentry_moved=0 polls=0 unanswered=0
for _ in $(seq 1 40); do
	t0=$(date +%s%N)
	st=$(SLOW=$poll_slow http "$A" /v1/status) || st=''
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	((ms > slowest)) && slowest=$ms
	polls=$((polls + 1))
	if [[ -z $st ]]; then
		unanswered=$((unanswered + 1))
		sleep 0.5
		continue
	fi
	s=$(echo "$st" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d.get('status'), d.get('sentry'))" 2>/dev/null)
	[[ $s == ready* ]] && ready_seen=$((ready_seen + 1))
	[[ -n $s && ${s#* } != "$sentry0" ]] && sentry_moved=$((sentry_moved + 1))
	sleep 0.5
done
wait "$rogue_pid"
rss1=$(rss)
members=$(http "$A" /v1/members | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")
b_view=$(http "$A" /v1/members | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if m["name"] == "b":
        print(m["status"], m["addr"], m["incarnation"])')
metrics=$(http "$A" /metrics)
refused=$(echo "$metrics" | awk '/^cloister_members_refused(_total)? / {print $2}')
clock=$(echo "$metrics" | grep -E '^cloister_packets_dropped_total\{reason="clock"\} ' | awk '{print $2}')
rings=$(echo "$metrics" | awk '/^cloister_ring_refusals_total / {print $2}')
echo "after: $members members known, b: $b_view; RSS ${rss1} kB (+$(( (rss1 - rss0) / 1024 )) MB); slowest status answer ${slowest} ms over $polls polls, $unanswered unanswered; refused ${refused:-?}, clock drops ${clock:-?}, ring refusals ${rings:-?}"
check "the API answered within $LAT_MS ms throughout (slowest ${slowest} ms, $unanswered unanswered)" \
	test "$slowest" -lt "$LAT_MS" -a "$unanswered" -eq 0
check "a never became ready on invented members" test "$ready_seen" -eq 0
check "a's sentry stayed $sentry0" test "$sentry_moved" -eq 0
check "b is alive at its own address in a's view ($b_view)" \
	bash -c "[[ '$b_view' == 'alive $B:7946 '* ]]"
b_inc=${b_view##* }
check "b's incarnation is not the forged one ($b_inc)" test "$b_inc" -lt 4294967294
check "memory grew by less than $MEM_MB MB" test $((rss1 - rss0)) -lt $((MEM_MB * 1024))
check "one exchange added at most 4,096 members ($members known)" test "$members" -le $((4096 + 4))
check "the refusals are counted (${refused:-0})" test "${refused:-0}" -gt 0
check "the member claiming to have started at time 0 (decades past) is dropped as a forgery and counted (clock drops: ${clock:-0})" \
	test "${clock:-0}" -gt 0
check "members past the rings' point budget (weight 64, 8 groups honoured) were left off and counted (${rings:-0})" \
	test "${rings:-0}" -gt 0
sleep 5
still=$(http "$A" /v1/members | python3 -c '
import json, sys
print(next((m["status"] for m in json.load(sys.stdin) if m["name"] == "b"), "absent"))')
check "b still alive in a's view ($still)" test "$still" = alive
finish
