#!/usr/bin/env bash
# cloister against Serf: N real agents of each on loopback, one system after
# the other in the same run, matched timing (cloister's `lan` profile against
# Serf's `-profile=lan`: probe 1 s, timeout 500 ms, suspicion x4, gossip 200 ms).
#   bench/cluster/run.sh [N...]          (default: 10 50)
# Environment: CLOISTER_BIN (default build-static/cloister, built by `make
# static`), IDLE (idle window, s; 60), RUNS (failure-detection runs; 3),
# LOSS (loss levels in %, comma-separated; 10,20), LOSS_SECONDS (60),
# OUT (results directory; bench/cluster/results), KEEP_LOGS=1 (keep the
# agents' logs: the path is printed), KEYED=1 (both systems encrypt with one
# cluster key: cloister's sealed packets, Serf's -encrypt).
# Needs root (nftables counters and loss), serf, nft, gnuplot:
# scripts/setup-deps.sh --bench.  Writes bench/cluster/results/<system>-<N>.json,
# results/summary.json, results/plot.png, and prints the ratio table.
# cloister agents on 127.0.2.1..N, serf agents on 127.0.3.1..N, nothing else.
set -u
cd "$(dirname "$0")/../.."
HERE=bench/cluster
OUT=${OUT:-$HERE/results}
NS=("$@")
((${#NS[@]})) || NS=(10 50)
IDLE=${IDLE:-60}
RUNS=${RUNS:-3}
LOSS=${LOSS:-10,20}
LOSS_SECONDS=${LOSS_SECONDS:-60}

[[ $(id -u) -eq 0 ]] || { echo "run.sh: needs root (nftables)" >&2; exit 2; }
for t in serf nft gnuplot python3; do
	command -v "$t" >/dev/null || { echo "run.sh: $t missing: scripts/setup-deps.sh --bench" >&2; exit 2; }
done
for n in "${NS[@]}"; do
	[[ $n =~ ^[0-9]+$ ]] && ((n >= 4 && n <= 250)) || { echo "run.sh: N must be 4..250" >&2; exit 2; }
done
# The statically linked release binary (make static): what a deployment
# would run, and one file like Serf's.  CLOISTER_BIN overrides it.
BIN=${CLOISTER_BIN:-build-static/cloister}
if [[ -z ${CLOISTER_BIN:-} && ! -x $BIN ]]; then make static >/dev/null || exit 1; fi
[[ -x $BIN ]] || { echo "run.sh: $BIN is not executable" >&2; exit 2; }

WORK=$(mktemp -d /tmp/clbench.XXXXXX)
PIDFILE=$WORK/pids
: >"$PIDFILE"
cleanup() {
	# Every process the benchmark started, by PID; then its nftables table.
	while read -r p; do
		[[ -n $p ]] && kill -KILL "$p" 2>/dev/null
	done <"$PIDFILE"
	nft delete table inet clbench 2>/dev/null
	if [[ ${KEEP_LOGS:-0} == 1 ]]; then echo "logs: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
for n in "${NS[@]}"; do
	for sys in cloister serf; do
		timeout $((IDLE + 600 + LOSS_SECONDS * 4)) python3 $HERE/bench.py --system "$sys" --n "$n" --binary "$BIN" \
			--out "$OUT/$sys-$n.json" --idle "$IDLE" --runs "$RUNS" --loss "$LOSS" \
			--loss-seconds "$LOSS_SECONDS" --pidfile "$PIDFILE" --work "$WORK" \
			${KEYED:+--keyed} ||
			{ echo "run.sh: $sys N=$n failed; logs in $WORK" >&2; trap - EXIT; cleanup; exit 1; }
		sleep 2
	done
done
python3 $HERE/report.py "$OUT" "${NS[@]}"
gnuplot $HERE/plot.gp && echo "plot: $OUT/plot.png"
