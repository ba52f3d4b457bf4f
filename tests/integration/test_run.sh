#!/usr/bin/env bash
# `cloister run [agent settings] -- COMMAND` against a real peer agent
# (127.0.58.1-5): --wait-ready holds the service until the cluster is
# ready; SIGUSR1 and SIGHUP reach the service; orphans it leaves are
# reaped (the agent is their subreaper, as PID 1 is in a container);
# SIGTERM stops the service and the node leaves: the peer sees it *left*
# (not failed) within 2 s and the agent exits with the service's status;
# a service that exits by itself makes the node leave with its status; a
# service that ignores SIGTERM is killed after --stop-grace (137); a
# command that cannot be executed gives 127; a missing command is a usage
# error (2).
source "$(dirname "$0")/lib.sh"
P=127.0.58.1 R=127.0.58.2 S=127.0.58.3 T=127.0.58.4 U=127.0.58.5

# run_agent NAME IP [SETTINGS...] -- COMMAND...: `cloister run` in the
# background, logging to $WORK/NAME.log; its pid in RUN_PID[NAME].
declare -A RUN_PID
run_agent() {
	local name=$1 ip=$2; shift 2
	"$CLOISTER" run --app itest --name "$name" --advertise "$ip:7946" --http "$ip:7947" \
		--profile local "$@" >>"$WORK/$name.log" 2>&1 &
	RUN_PID[$name]=$!
	PIDS+=($!)
}
# exit_status PID SECONDS: waits (bounded) for a child of this shell; its
# status in rc ("still running" if it did not exit in time).
exit_status() {
	local pid=$1 limit=$2 i
	for ((i = 0; i < limit * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then rc="still running"; return; fi
	wait "$pid"; rc=$?
}
has() { grep -q "$1" "$2" 2>/dev/null; }
is() { [[ $(member_status "$1" "$2") == "$3" ]]; }

cat >"$WORK/service.sh" <<'SH'
#!/bin/sh
# A service: says it started, answers USR1 and HUP, leaves an orphan that
# exits at once (a zombie for whoever inherits it), exits 42 on TERM.
out=$1
trap 'echo usr1 >>"$out"' USR1
trap 'echo hup >>"$out"' HUP
trap 'echo term >>"$out"; exit 42' TERM
echo "started $$" >>"$out"
( exec sleep 3.3 & )
i=0
while [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
exit 9
SH
chmod +x "$WORK/service.sh"

# ---------------------------------------------------------------- --wait-ready
run_agent r "$R" --sentry "$P:7946,$R:7946" --consensus 2 --wait-ready -- "$WORK/service.sh" "$WORK/r.out"
sleep 2
check "--wait-ready: no service while the cluster is not ready (1 of 2)" test ! -e "$WORK/r.out"
start_agent p "$P" --name p --sentry "$P:7946,$R:7946"
check "--wait-ready: the service starts once the cluster is ready" wait_for 15 has started "$WORK/r.out"
# children PID: "STATE ARGS" of each child of PID, from /proc (no procps).
children() {
	python3 - "$1" <<'PY'
import os, sys
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        stat = open("/proc/%s/stat" % p).read()
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        if ppid == sys.argv[1]:
            args = open("/proc/%s/cmdline" % p, "rb").read().replace(b"\0", b" ").decode().strip()
            print(state, args)
    except OSError:
        pass
PY
}
# The orphan lives 3.3 s: long enough to be seen on a loaded machine (each
# look at /proc starts an interpreter), short enough to exit before the
# reaping check below.
orphan_here() { children "${RUN_PID[r]}" | grep -q '^[RS] sleep 3.3'; }
check "the service's orphan is handed to the agent (its subreaper, as PID 1)" wait_for 2 orphan_here

# ---------------------------------------------------------------- signals, reaping
kill -USR1 "${RUN_PID[r]}"
check "SIGUSR1 reaches the service" wait_for 3 grep -q usr1 "$WORK/r.out"
kill -HUP "${RUN_PID[r]}"
check "SIGHUP reaches the service" wait_for 3 grep -q hup "$WORK/r.out"
check "... and the agent reloads its settings" wait_for 3 grep -q "SIGHUP: configuration reloaded" "$WORK/r.log"
zombies() { children "${RUN_PID[r]}" | grep -c '^Z'; }
no_zombies() { [[ $(zombies) == 0 ]] && ! orphan_here; }
check "the orphan, once exited, was reaped" wait_for 8 no_zombies
echo "zombies under the agent: $(zombies)"
service_child() { children "${RUN_PID[r]}" | grep -q 'service.sh'; }
check "the service runs as the agent's child" service_child

# ---------------------------------------------------------------- SIGTERM
check "p sees r alive" wait_for 10 is "$P" r alive
t0=$(date +%s.%N)
kill -TERM "${RUN_PID[r]}"
left_within() { is "$P" r left; }
wait_for 2 left_within
t1=$(date +%s.%N)
dt=$(python3 -c "print(round($t1 - $t0, 2))")
check "SIGTERM: p sees r left within 2 s (after $dt s)" python3 -c "import sys; sys.exit(0 if $dt <= 2.0 else 1)"
check "... left, never failed" bash -c "! grep -q 'member failed.*member=\"r\"' '$WORK/p.log'"
exit_status "${RUN_PID[r]}" 15
check "SIGTERM: the service got it and the agent exits with its status (42: $rc)" test "$rc" = 42
check "... the service saw TERM" grep -q term "$WORK/r.out"

# ---------------------------------------------------------------- exits by itself
run_agent s "$S" --sentry "$P:7946" -- sh -c 'sleep 2; exit 3'
check "s joins p" wait_for 10 is "$P" s alive
exit_status "${RUN_PID[s]}" 20
check "a service that exits by itself: the agent exits with its status (3: $rc)" test "$rc" = 3
check "... after leaving: p sees s left" wait_for 5 is "$P" s left

# ---------------------------------------------------------------- grace, exec failure, usage
run_agent t "$T" --sentry "$P:7946" --stop-grace 1 -- sh -c 'trap "" TERM; echo up >"$0"; while :; do sleep 0.1; done' "$WORK/t.out"
check "t's service runs" wait_for 10 has up "$WORK/t.out"
kill -TERM "${RUN_PID[t]}"
exit_status "${RUN_PID[t]}" 15
check "a service that ignores SIGTERM is killed after --stop-grace 1 (137: $rc)" test "$rc" = 137
check "... and t left" wait_for 5 is "$P" t left
run_agent u "$U" -- "$WORK/no-such-command"
exit_status "${RUN_PID[u]}" 15
check "a command that cannot be executed: 127 ($rc)" test "$rc" = 127
check "... said why" grep -q 'cannot run the service.*no-such-command' "$WORK/u.log"
"$CLOISTER" run --app itest --advertise "$U:7946" >"$WORK/usage.out" 2>&1; rc=$?
check "no command after --: usage error (2: $rc)" test "$rc" = 2
finish
