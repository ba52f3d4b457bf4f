#!/usr/bin/env bash
# bench/spread.sh [path/to/cloister]: the spread curves in docs/spread.md.
#
# For N = 100, 1,000 and 10,000 simulated nodes (LAN profile, 1 ms
# latency, seed 1): one node leaves, or crashes, 5 s after the cluster has
# converged, and `cloister sim --spread` prints the fraction of the other
# nodes that know it against the seconds since.  Writes
# bench/spread/n<N>-<leave|fail>.txt, plus n1000-leave-quiet.txt (the same
# leave at 22 s, once the joins' gossip has drained), and draws
# docs/img/spread.svg.
# N = 10,000 takes 2.7 GB of RSS and 3-4 min of CPU per curve (commit
# d55c3f1): SPREAD_MAX=1000 skips it.
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
"$CLOISTER" sim --nodes 1000 --spread leave --spread-step-ms 10 --duration 400 --kill-at 22 \
	>bench/spread/n1000-leave-quiet.txt
grep '^# t50' bench/spread/n1000-leave-quiet.txt
gnuplot bench/spread.gp
echo "docs/img/spread.svg"
