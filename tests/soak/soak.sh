#!/usr/bin/env bash
# soak.sh path/to/cloister — 20 agents on 127.0.5.1-20 for SOAK_MINUTES
# (default 30) of random, bounded churn, watching for leaks.
#
#   - agents 1-5 are never touched: their trends cover the whole run;
#   - agents 6-20 churn: every CHURN_S (default 8) one of them, at random,
#     is killed (-9) or stopped (SIGTERM, a graceful leave) and restarted
#     after 1-3 s; at most one is down at a time;
#   - every SAMPLE_S (10) each agent's RSS (/proc/PID/status VmRSS) and open
#     fds (/proc/PID/fd) are sampled;
#   - at the end, a least-squares line per agent process (python3) gives its
#     RSS and fd trend; the run fails if a process that lived at least
#     5 samples grew (fitted over its life, after a 30 s warm-up) by more
#     than SOAK_RSS_MAX_KB (default 4096 KiB) or SOAK_FD_MAX (default 8)
#     fds, or if the stable agents do not list all 20 alive at the end.
source "$(dirname "$0")/../integration/lib.sh"

MINUTES=${SOAK_MINUTES:-30}
CHURN_S=${CHURN_S:-8}
SAMPLE_S=${SAMPLE_S:-10}
RSS_MAX_KB=${SOAK_RSS_MAX_KB:-4096}
FD_MAX=${SOAK_FD_MAX:-8}
SEED=${SOAK_SEED:-$$}
RANDOM=$SEED
N=20
IPS=()
for i in $(seq 1 $N); do IPS+=("127.0.5.$i"); done
SENTRY=$(printf '%s:7946,' "${IPS[@]}"); SENTRY=${SENTRY%,}
SAMPLES=$WORK/samples.csv
echo "t,agent,pid,rss_kb,fds" >"$SAMPLES"

declare -A GEN=()
start() { # start I (0-based)
	local i=$1
	GEN[$i]=$((${GEN[$i]:-0} + 1))
	start_agent "a$i.${GEN[$i]}" "${IPS[$i]}" --sentry "$SENTRY" --consensus 3
	CUR[$i]=${AGENT_PID[a$i.${GEN[$i]}]}
}
declare -A CUR=()
for i in $(seq 0 $((N - 1))); do start "$i"; done

alive_all() {
	local i
	for i in 0 1 2 3 4; do [[ $(count_status "${IPS[$i]}" alive) == "$N" ]] || return 1; done
}
check "20 agents: the stable five list 20 alive" wait_for 60 alive_all

sample() {
	local t=$1 i pid rss fds
	for i in $(seq 0 $((N - 1))); do
		pid=${CUR[$i]:-}
		[[ -n $pid && -d /proc/$pid ]] || continue
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
		fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
		[[ -n $rss ]] && echo "$t,$i,$pid,$rss,$fds" >>"$SAMPLES"
	done
}

T0=$SECONDS
END=$((T0 + MINUTES * 60))
next_sample=$SECONDS
next_churn=$((SECONDS + CHURN_S))
kills=0 terms=0 restarts=0
down="" down_until=0 down_kind=""
echo "soak: $MINUTES min, seed $SEED, churn every $CHURN_S s, sample every $SAMPLE_S s"
# One bounded loop: at most MINUTES*60*2 half-second steps.
for ((step = 0; step < MINUTES * 120 + 10 && SECONDS < END; step++)); do
	if ((SECONDS >= next_sample)); then
		sample $((SECONDS - T0))
		next_sample=$((next_sample + SAMPLE_S))
	fi
	if [[ -n $down ]] && ((SECONDS >= down_until)); then
		if [[ $down_kind == term ]]; then
			# a graceful leave: give it up to 10 s to exit, then -9
			pid=${CUR[$down]}
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "${CUR[$down]}" 2>/dev/null
		start "$down"
		restarts=$((restarts + 1))
		down=""
	fi
	if [[ -z $down ]] && ((SECONDS >= next_churn)); then
		down=$((5 + RANDOM % (N - 5)))
		if ((RANDOM % 2)); then
			kill -KILL "${CUR[$down]}"; down_kind=kill; kills=$((kills + 1))
		else
			kill -TERM "${CUR[$down]}"; down_kind=term; terms=$((terms + 1))
		fi
		unset "CUR[$down]"
		CUR[$down]=${AGENT_PID[a$down.${GEN[$down]}]}
		down_until=$((SECONDS + 1 + RANDOM % 3))
		next_churn=$((SECONDS + CHURN_S))
	fi
	sleep 0.5
done
if [[ -n $down ]]; then
	kill -KILL "${CUR[$down]}" 2>/dev/null; wait "${CUR[$down]}" 2>/dev/null
	start "$down"; restarts=$((restarts + 1))
fi
sample $((SECONDS - T0))
check "after the churn the stable five list 20 alive again" wait_for 60 alive_all

echo "churn: $kills kill -9, $terms SIGTERM, $restarts restarts over $(((SECONDS - T0) / 60)) min"
python3 - "$SAMPLES" "$RSS_MAX_KB" "$FD_MAX" <<'PY'
import csv, sys
path, rss_max, fd_max = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
procs = {}
for r in csv.DictReader(open(path)):
    procs.setdefault((int(r["agent"]), int(r["pid"])), []).append(
        (int(r["t"]), int(r["rss_kb"]), int(r["fds"])))
def fit(xs, ys):
    n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return 0.0 if sxx == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
bad = []
print("agent   pid      samples  life_s  rss_first  rss_last  rss_max  rss_slope_KB/min  rss_fit_growth_KB  fds_first  fds_last  fd_slope/min")
for (agent, pid), s in sorted(procs.items()):
    s.sort()
    start = s[0][0]
    w = [x for x in s if x[0] - start >= 30] or s   # past a 30 s warm-up
    if len(s) < 2:
        continue
    life = s[-1][0] - s[0][0]
    ts = [x[0] for x in w]
    rs = fit(ts, [x[1] for x in w]) if len(w) >= 2 else 0.0
    fs = fit(ts, [x[2] for x in w]) if len(w) >= 2 else 0.0
    span = (ts[-1] - ts[0]) if len(w) >= 2 else 0
    growth, fgrowth = rs * span, fs * span
    stable = agent < 5
    if stable or len(w) >= 5:
        print(f"{agent + 1:>5}{'*' if stable else ' '} {pid:<8} {len(s):>7}  {life:>6}  {s[0][1]:>9}  {s[-1][1]:>8}  {max(x[1] for x in s):>7}"
              f"  {rs * 60:>16.1f}  {growth:>17.0f}  {s[0][2]:>9}  {s[-1][2]:>8}  {fs * 60:>12.2f}")
    if len(w) >= 5 and (growth > rss_max or fgrowth > fd_max):
        bad.append(f"agent {agent + 1} (pid {pid}): RSS fitted growth {growth:.0f} KiB, fds {fgrowth:.1f}")
print("(* = never restarted; growth fitted after a 30 s warm-up)")
print(f"bounds: RSS growth <= {rss_max:.0f} KiB, fd growth <= {fd_max:.0f} per process")
for b in bad:
    print("OVER BOUND: " + b)
sys.exit(1 if bad else 0)
PY
check "no agent's RSS or fd count grows past its bound" [ $? -eq 0 ]
cp "$SAMPLES" "/tmp/cloister-soak-samples.$$.csv" && echo "samples: /tmp/cloister-soak-samples.$$.csv"
finish
