#!/usr/bin/env bash
# The simulator's figures for convergence, detection and false positives,
# the ones a protocol change must not make worse.  Usage:
#   bench/sim_figures.sh [BINARY]      (default build/cloister)
# Prints one line per run: the scale rows (N = 10, 100, 1000; one kill),
# then N = 100 under 10%, 20% and 30% uniform loss for 600 s with one kill,
# seeds 1-3.  Deterministic: the same binary prints the same figures.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-./build/cloister}
pick='import json,sys
d=json.load(sys.stdin)
print("nodes=%d loss=%s seed=%d converged_s=%s detect_all_s=%s false_positives=%d msgs_per_node_s=%.2f bytes_per_node_s=%.0f wall_s=%.2f" % (
  d["nodes"], sys.argv[1], d["seed"], d["converged_s"], d["detect_all_s"], d["false_positives"],
  d["msgs_per_node_s"], d["bytes_per_node_s"], d["wall_s"]))'
for n in 10 100 1000; do
	"$bin" sim --nodes "$n" --duration 120 --kill 1 --seed 1 --json | python3 -c "$pick" 0
done
for loss in 0.1 0.2 0.3; do
	for seed in 1 2 3; do
		"$bin" sim --nodes 100 --duration 600 --loss "$loss" --kill 1 --seed "$seed" --json |
			python3 -c "$pick" "$loss"
	done
done
