#!/usr/bin/env bash
# bench/spread.sh [path/to/cloister]: the spread curves in docs/spread.md.
#
# For N = 100, 1,000 and 10,000 simulated nodes (LAN profile, 1 ms
# latency, seed 1): one node leaves, or crashes, after the cluster has
# converged, and `cloister sim --spread` prints the fraction of the other
# nodes that know it against the seconds since.  Writes
# bench/spread/n<N>-<leave|fail>.txt and draws docs/img/spread.svg.
# N = 10,000 takes about 7 GB and minutes per run: SPREAD_MAX=1000 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
CLOISTER=${1:-build/cloister}
MAX=${SPREAD_MAX:-10000}
for n in 100 1000 10000; do
	(( n <= MAX )) || continue
	"$CLOISTER" sim --nodes "$n" --spread leave --spread-step-ms 10 --duration 400 \
		>"bench/spread/n$n-leave.txt"
	"$CLOISTER" sim --nodes "$n" --spread fail --spread-step-ms 100 --duration 400 \
		>"bench/spread/n$n-fail.txt"
	grep '^# t50' "bench/spread/n$n-leave.txt" "bench/spread/n$n-fail.txt"
done
gnuplot bench/spread.gp
echo "docs/img/spread.svg"
