#!/usr/bin/env bash
# Reproduces the figures of bench/README.md on this machine.
#   bench/run.sh            the simulation scale table and the ring benchmark
# Prints one JSON object per run; the README tables were made from them.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/cloister
[[ -x $bin ]] || { echo "build first: make" >&2; exit 1; }

echo "== membership at scale (cloister sim, LAN profile, 1 kill, seed 1)"
for n in 10 100 1000 10000; do
	$bin sim --nodes "$n" --duration 120 --kill 1 --seed 1 --json |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({k: d[k] for k in ("nodes","converged_s","detect_all_s","false_positives","msgs_per_node_s","bytes_per_node_s","wall_s")}))'
done

echo "== hash ring (cloister bench ring)"
for v in 128 256; do
	for n in 10 100 1000; do
		$bin bench ring --nodes "$n" --vnodes "$v" --json
	done
done
