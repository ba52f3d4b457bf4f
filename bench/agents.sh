#!/usr/bin/env bash
# Idle cost of real agents on loopback: RSS, CPU seconds per minute and
# bytes sent per second per agent, and time from start to ready.
#   bench/agents.sh N [SECONDS]     (default 60 s of idle measurement)
# Agents listen on 127.0.1.1..N; every one is stopped by PID at the end.
set -u
N=${1:-10}
DUR=${2:-60}
BIN=${CLOISTER:-./build/cloister}
WORK=$(mktemp -d /tmp/cloister-bench.XXXXXX)
# The control API requires a token: one for every agent of the run.
export CLOISTER_TOKEN=bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT

ip_of() { echo "127.0.$((1 + ($1 - 1) / 250)).$((1 + ($1 - 1) % 250))"; }
SEEDS="$(ip_of 1):7946,$(ip_of 2):7946,$(ip_of 3):7946"
t0=$(date +%s.%N)
for i in $(seq 1 "$N"); do
	ip=$(ip_of "$i")
	CLOISTER_QUIET=1 "$BIN" agent --app bench --advertise "$ip:7946" --http "$ip:7947" \
		--sentry "$SEEDS" --consensus "$N" --log-level warn >"$WORK/$i.log" 2>&1 &
	PIDS+=($!)
done
ready() { python3 - "$@" <<'PY'
import os, sys, urllib.request
for ip in sys.argv[1:]:
    try:
        urllib.request.urlopen(urllib.request.Request(f"http://{ip}:7947/ready",
            headers={"Authorization": "Bearer " + os.environ["CLOISTER_TOKEN"]}), timeout=2)
    except Exception:
        sys.exit(1)
PY
}
ALL=()
for i in $(seq 1 "$N"); do ALL+=("$(ip_of "$i")"); done
for _ in $(seq 1 600); do ready "${ALL[@]}" && break; sleep 0.1; done
t1=$(date +%s.%N)
ready "${ALL[@]}" || { echo "not all $N agents became ready" >&2; exit 1; }

metric() { python3 - "$1" "$2" <<'PY'
import os, sys, urllib.request
body = urllib.request.urlopen(urllib.request.Request(f"http://{sys.argv[1]}:7947/metrics",
    headers={"Authorization": "Bearer " + os.environ["CLOISTER_TOKEN"]}), timeout=3).read().decode()
print(sum(float(l.split()[-1]) for l in body.splitlines() if l.startswith(sys.argv[2] + " ")))
PY
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sleep 5 # let the join settle: idle means after it
declare -A c0 b0
for i in "${!PIDS[@]}"; do c0[$i]=$(cpu_ticks "${PIDS[$i]}"); b0[$i]=$(metric "${ALL[$i]}" cloister_sent_bytes_total); done
sleep "$DUR"
HZ=$(getconf CLK_TCK)
python3 - "$N" "$DUR" "$HZ" "$(echo "$t1 - $t0" | bc)" <<PY
import os, statistics, sys, urllib.request
n, dur, hz, ready_s = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
pids = "${PIDS[*]}".split(); ips = "${ALL[*]}".split()
c0 = dict(zip(range(n), [float(x) for x in "${c0[*]}".split()]))
b0 = dict(zip(range(n), [float(x) for x in "${b0[*]}".split()]))
rss, cpu, bps = [], [], []
for i, (pid, ip) in enumerate(zip(pids, ips)):
    st = open(f"/proc/{pid}/stat").read().split()
    cpu.append((int(st[13]) + int(st[14]) - c0[i]) / hz * 60 / dur)
    rss.append(int(next(l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")).split()[1]))
    body = urllib.request.urlopen(urllib.request.Request(f"http://{ip}:7947/metrics",
        headers={"Authorization": "Bearer " + os.environ["CLOISTER_TOKEN"]}), timeout=3).read().decode()
    b = sum(float(l.split()[-1]) for l in body.splitlines() if l.startswith("cloister_sent_bytes_total "))
    bps.append((b - b0[i]) / dur)
import json
print(json.dumps({"agents": n, "ready_s": round(ready_s, 3), "idle_seconds": dur,
                  "rss_kb_median": statistics.median(rss), "rss_kb_max": max(rss),
                  "cpu_s_per_min_median": round(statistics.median(cpu), 4),
                  "bytes_out_per_s_median": round(statistics.median(bps), 1)}))
PY
