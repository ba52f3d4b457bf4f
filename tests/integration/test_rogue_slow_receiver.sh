#!/usr/bin/env bash
# test_rogue_slow_receiver.sh — the push-pull budget against a slow
# receiver: one exchange adds at most max(4096, members known) members even
# when the agent takes more than PUSHPULL_EXCHANGE_IDLE (5 s) to take in
# one frame (src/core/antientropy.c).  Until 8f5cf4e the sender's quiet time
# was counted from the frame's arrival, so an agent slow enough (ASan on a
# loaded machine) read the next frame, queued in its socket all along, as a
# new exchange with a fresh budget.
#
# Two real agents, a and b.  Agent a's threads go into a cgroup (v1 cpu
# controller) of the test's own, held to 5% of a CPU: the first frame of
# the rogue's state (tests/tools/rogue.c: 12,000 invented members, ~1,900
# to a 1 MiB frame) then keeps a busy for well over 5 s (mostly placing its
# members on the rings, after the merge).  Once a member of a later frame
# has joined (or 20 s at most), the throttle is lifted and the rest of the
# state goes in at full speed.  Checked: a took in two of the frames more
# than 6 s apart (the "member joined" lines of its log; without that the
# test proves nothing), and knows no more than 4,096 members (+ a and b).
# The code before 8f5cf4e fails: 6,011 known (the second frame opened a
# second budget).
# Needs the cgroup v1 cpu controller and the right to make a group there
# (root); skipped (77) without.
source "$(dirname "$0")/lib.sh"

ROGUE=${CLOISTER_ROGUE:-$(dirname "$CLOISTER")/tests/cloister_rogue}
[[ -x $ROGUE ]] || { echo "SKIP: no rogue tool at $ROGUE"; exit 77; }
A=127.0.33.1 B=127.0.33.2
N=12000
PERIOD_US=100000 QUOTA_US=5000 # 5% of one CPU

# The group goes under this shell's own cpu cgroup, which the agents
# inherit; they are moved back there at exit, before they are stopped.
CGROOT=/sys/fs/cgroup/cpu
[[ -f $CGROOT/cpu.cfs_quota_us ]] ||
	{ echo "SKIP: no cgroup v1 cpu controller at $CGROOT"; exit 77; }
own=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3; exit}' /proc/$$/cgroup)
HOME_CG=$CGROOT${own%/}
[[ -w $HOME_CG/tasks ]] || HOME_CG=$CGROOT
CG=$HOME_CG/cloister-slow-receiver-$$
mkdir "$CG" 2>/dev/null ||
	{ echo "SKIP: cannot make a cpu cgroup under $HOME_CG (not root?)"; exit 77; }
cg_release() {
	[[ -d $CG ]] || return 0
	echo -1 >"$CG/cpu.cfs_quota_us" 2>/dev/null
	local t pass
	for pass in 1 2 3; do
		[[ -s $CG/tasks ]] || break
		while read -r t; do
			echo "$t" >"$HOME_CG/tasks" 2>/dev/null
		done <"$CG/tasks"
	done
	rmdir "$CG" 2>/dev/null
}
trap 'cg_release; cleanup; rmdir "$CG" 2>/dev/null' EXIT
trap 'exit 143' TERM INT

"$CLOISTER" keygen >"$WORK/key"
chmod 600 "$WORK/key"
common=(--key-file "$WORK/key" --sentry "$A:7946,$B:7946")
start_agent a "$A" --name a "${common[@]}"
start_agent b "$B" --name b "${common[@]}"
two_alive() { [[ $(count_status "$A" alive) == 2 ]] 2>/dev/null; }
check "a and b see each other" wait_for 20 two_alive

pid=${AGENT_PID[a]}
ntasks=0
for t in /proc/"$pid"/task/*; do
	echo "${t##*/}" >"$CG/tasks" && ntasks=$((ntasks + 1))
done
echo "$PERIOD_US" >"$CG/cpu.cfs_period_us"
echo "$QUOTA_US" >"$CG/cpu.cfs_quota_us"
in_group=$(grep -c . "$CG/tasks")
check "a's $ntasks threads are in the throttled group ($in_group there)" \
	test "$ntasks" -gt 0 -a "$in_group" -eq "$ntasks"

t0=$(date +%s%N)
"$ROGUE" pushpull "$A:7946" itest "$WORK/key" b "$N" >"$WORK/rogue.out" 2>&1 &
rogue_pid=$!
PIDS+=("$rogue_pid")
# A member of the first frame joined, then one of the second (the rogue
# names them rogue-NNNNNN in order, ~1,900 to a frame): a's log says when.
joined() { grep -q "msg=\"member joined\" member=\"rogue-$1\"" "$WORK/a.log"; }
check "a took in the rogue's first frame while throttled" wait_for 20 joined 000010
wait_for 20 joined 003000
echo -1 >"$CG/cpu.cfs_quota_us"
throttled_ms=$((($(date +%s%N) - t0) / 1000000))
throttled=$(awk '/^nr_throttled/ {print $2}' "$CG/cpu.stat")

rogue_done() { ! kill -0 "$rogue_pid" 2>/dev/null; }
wait_for 30 rogue_done
wait "$rogue_pid"
rogue_rc=$?
rogue_ms=$((($(date +%s%N) - t0) / 1000000))
# Every member of the state is in a's table or refused (the entries for b,
# already known, are neither).
taken() {
	local m
	m=$(http "$A" /metrics) || return 1
	echo "$m" | awk -v n="$N" '
		/^cloister_members\{/ {k += $2}
		/^cloister_members_refused_total / {r = $2}
		END {exit !(k - 2 + r >= n - 8)}'
}
check "a took in the whole state" wait_for 20 taken
members=$(http "$A" /v1/members | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")
refused=$(counter "$A" members_refused)
# The longest pause between two of the rogue's members joining: the time
# from one frame to the next as the old rule counted it (a frame's members
# join as it is merged; the rings are placed after).
pause=$(python3 - "$WORK/a.log" <<'PY'
import datetime, re, sys
ts = []
for line in open(sys.argv[1]):
    if re.search(r'msg="member joined" member="(rogue-\d+|ancient)"', line):
        t = line.split()[0][len("ts="):]
        ts.append(datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp())
print(int(1000 * max((b - a for a, b in zip(ts, ts[1:])), default=0)))
PY
)
echo "rogue: $(cat "$WORK/rogue.out") (rc $rogue_rc, ${rogue_ms} ms); throttled ${throttled_ms} ms, $throttled periods; longest pause between joins ${pause} ms; $members members known, ${refused:-?} refused"
check "the rogue sent its whole state (rc $rogue_rc)" \
	bash -c "[[ $rogue_rc == 0 && '$(cat "$WORK/rogue.out")' == 'rogue: $N members '* ]]"
check "a was throttled ($throttled periods)" test "${throttled:-0}" -gt 10
check "a took in two frames more than 5 s apart (${pause} ms)" test "$pause" -gt 6000
check "one exchange added at most 4,096 members ($members known)" \
	test "$members" -le $((4096 + 2))
check "the rest was refused (${refused:-0})" test "${refused:-0}" -ge $((N - 4096 - 8))
finish
