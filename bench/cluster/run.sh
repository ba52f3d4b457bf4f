#!/usr/bin/env bash
# cloister against Serf: N real agents of each on loopback, one system after
# the other in the same run, matched timing (cloister's `lan` profile against
# Serf's `-profile=lan`: probe 1 s, timeout 500 ms, gossip 200 ms; suspicion
# x3 for cloister, x4 for Serf), both polled from one Python process over
# persistent connections (cloister HTTP keep-alive, Serf msgpack RPC).
#   bench/cluster/run.sh [N...]          (default: 10 50; 4..1000)
# Environment: CLOISTER_BIN (default build-static/cloister, built by `make
# static`), IDLE (idle window, s; 60), RUNS (failure-detection runs, each a
# kill -9 and a restart; 9), JOINS (joins from scratch; 7), LOSS (loss
# levels in %, comma-separated; 10,20), LOSS_SECONDS (60), SYSTEMS
# ("cloister serf"), OUT (results directory; bench/cluster/results/rpc),
# KEEP_LOGS=1 (keep the agents' logs: the path is printed), KEYED=1 (both
# systems encrypt with one cluster key: cloister's sealed packets, Serf's
# -encrypt), WAVE (joiners started at once, then WAVE_GAP s (2) before the
# next wave; 0: all N-1 at once), JOIN_TIMEOUT (s a join may take before
# it counts as failed; 120), BENCH_LOCK (/tmp/cloister-bench.lock: held for each N, so do
# not wrap run.sh in flock on the same file).
# Needs root (nftables counters and loss), serf, nft, gnuplot, python3-msgpack:
# scripts/setup-deps.sh --bench.  Writes OUT/<system>-<N>.json,
# OUT/summary.json, OUT/plot.png, and prints the ratio table.
# cloister agent i on 127.2.((i-1)/250).((i-1)%250+1), Serf's on 127.3.x.y:
# nothing else uses 127.2/16 and 127.3/16.
set -u
cd "$(dirname "$0")/../.."
HERE=bench/cluster
OUT=${OUT:-$HERE/results/rpc}
NS=("$@")
((${#NS[@]})) || NS=(10 50)
IDLE=${IDLE:-60}
RUNS=${RUNS:-9}
JOINS=${JOINS:-7}
WAVE=${WAVE:-0}
WAVE_GAP=${WAVE_GAP:-2}
JOIN_TIMEOUT=${JOIN_TIMEOUT:-120}
SYSTEMS=${SYSTEMS:-cloister serf}
LOCK=${BENCH_LOCK:-/tmp/cloister-bench.lock}
LOSS=${LOSS:-10,20}
LOSS_SECONDS=${LOSS_SECONDS:-60}

[[ $(id -u) -eq 0 ]] || { echo "run.sh: needs root (nftables)" >&2; exit 2; }
for t in serf nft gnuplot flock; do
	command -v "$t" >/dev/null || { echo "run.sh: $t missing: scripts/setup-deps.sh --bench" >&2; exit 2; }
done
# Debian's python3 has python3-msgpack; a python3 earlier in PATH (pyenv,
# a venv) may not.
PY=${PYTHON:-python3}
"$PY" -c 'import msgpack' 2>/dev/null || PY=/usr/bin/python3
"$PY" -c 'import msgpack' 2>/dev/null || { echo "run.sh: python3-msgpack missing: scripts/setup-deps.sh --bench" >&2; exit 2; }
for n in "${NS[@]}"; do
	[[ $n =~ ^[0-9]+$ ]] && ((n >= 4 && n <= 1000)) || { echo "run.sh: N must be 4..1000" >&2; exit 2; }
done
# The poller keeps a connection to every agent (and the agents inherit the
# limit): the soft descriptor limit goes to the hard one, which must leave
# room for 2 per agent.
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null
for n in "${NS[@]}"; do
	(($(ulimit -Sn) >= 2 * n + 256)) || { echo "run.sh: the descriptor limit ($(ulimit -Sn)) is too low for N=$n" >&2; exit 2; }
done
# The statically linked release binary (make static): what a deployment
# would run, and one file like Serf's.  CLOISTER_BIN overrides it.
BIN=${CLOISTER_BIN:-build-static/cloister}
if [[ -z ${CLOISTER_BIN:-} && ! -x $BIN ]]; then make static >/dev/null || exit 1; fi
[[ -x $BIN ]] || { echo "run.sh: $BIN is not executable" >&2; exit 2; }

SERF_EXE=$(readlink -f "$(command -v serf)")
BIN_EXE=$(readlink -f "$BIN")
WORK=$(mktemp -d /tmp/clbench.XXXXXX)
PIDFILE=$WORK/pids
: >"$PIDFILE"
cleanup() {
	# Every process the benchmark started, by PID; then its nftables table.
	# bench.py keeps the file to the agents still running; an agent is
	# killed only if the PID still runs serf or this cloister binary.
	while read -r p; do
		[[ -n $p ]] || continue
		exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
		[[ $exe == "$SERF_EXE" || $exe == "$BIN_EXE" ]] && kill -KILL "$p" 2>/dev/null
	done <"$PIDFILE"
	nft delete table inet clbench 2>/dev/null
	if [[ ${KEEP_LOGS:-0} == 1 ]]; then echo "logs: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
for n in "${NS[@]}"; do
	# The benchmark lock for one N (both systems), so other measurements on
	# the machine interleave between sizes and never overlap one.
	exec 9>"$LOCK"
	echo "run.sh: N=$n: waiting for $LOCK" >&2
	flock 9
	echo "run.sh: N=$n: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	for sys in $SYSTEMS; do
		timeout $((IDLE + 900 + JOINS * (JOIN_TIMEOUT + 30) + JOIN_TIMEOUT + RUNS * 150 + LOSS_SECONDS * 4)) \
			"$PY" $HERE/bench.py --system "$sys" --n "$n" --binary "$BIN" \
			--out "$OUT/$sys-$n.json" --idle "$IDLE" --runs "$RUNS" --joins "$JOINS" \
			--wave "$WAVE" --wave-gap "$WAVE_GAP" --join-timeout "$JOIN_TIMEOUT" \
			--loss "$LOSS" --loss-seconds "$LOSS_SECONDS" --pidfile "$PIDFILE" --work "$WORK" \
			${KEYED:+--keyed} ||
			{ echo "run.sh: $sys N=$n failed; logs in $WORK" >&2; trap - EXIT; cleanup; exit 1; }
		sleep 2
	done
	exec 9>&-
done
"$PY" $HERE/report.py "$OUT"
gnuplot -e "dir='$OUT'" $HERE/plot.gp && echo "plot: $OUT/plot.png"
