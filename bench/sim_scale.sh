#!/usr/bin/env bash
# The simulator at scale: one process simulating N nodes for 120 s of
# virtual time, every node joining through node 0 within N ms, one random
# node killed 5 s after convergence (or at 30 s).  Usage:
#   bench/sim_scale.sh [N...]            (default: 1000 10000)
# Environment: CLOISTER_BIN (default build/cloister), SEED (1),
# DURATION (120), OUT (a JSON-lines file to append each row to).
# For each N prints one row: wall seconds and peak RSS of the whole process
# (GNU time), the simulator's convergence and detection times, traffic per
# node per second, the bytes that went over streams (push-pull, the join
# storm's bulk), and the storm's work in millions: state entries merged and
# gossip words received.  A run holds /tmp/cloister-bench.lock so it does not
# share the machine with another benchmark.  The virtual figures are
# deterministic (same binary, same seed, same figures); wall and RSS are
# this machine's.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CLOISTER_BIN:-./build/cloister}
seed=${SEED:-1}
duration=${DURATION:-120}
ns=("$@")
((${#ns[@]})) || ns=(1000 10000)
[[ -x $bin ]] || { echo "sim_scale.sh: $bin is not executable (make build)" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "sim_scale.sh: needs GNU time (package time)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%7s %8s %8s %10s %10s %9s %10s %11s %10s %10s\n' N wall_s rss_gb converged_s detect_s msgs/n/s bytes/n/s stream_GB entries_M gossip_M
for n in "${ns[@]}"; do
	flock /tmp/cloister-bench.lock /usr/bin/time -f '%e %M' -o "$tmp/time" \
		"$bin" sim --nodes "$n" --duration "$duration" --kill 1 --seed "$seed" --json >"$tmp/run.json"
	read -r wall rss_kb <"$tmp/time"
	python3 - "$tmp/run.json" "$wall" "$rss_kb" "${OUT:-}" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
wall, rss_kb, out = float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
row = {
    "nodes": d["nodes"], "seed": d["seed"], "sim_seconds": d["sim_seconds"],
    "wall_s": wall, "rss_bytes": rss_kb * 1024,
    "converged_s": d["converged_s"], "detect_all_s": d["detect_all_s"],
    "false_positives": d["false_positives"],
    "msgs_per_node_s": d["msgs_per_node_s"], "bytes_per_node_s": d["bytes_per_node_s"],
    "packets": d["packets"], "bytes": d["bytes"],
    "streams": d["streams"], "stream_bytes": d["stream_bytes"],
    # The join storm's work: state entries merged (push-pull and deltas)
    # and gossip words received (older binaries have no "core").
    "state_members_in": d.get("core", {}).get("state_members_in"),
    "gossip_words_in": d.get("core", {}).get("gossip_words_in"),
    "state_changes": d.get("core", {}).get("state_changes"),
}
mil = lambda v: float("nan") if v is None else v / 1e6
print("%7d %8.1f %8.2f %10.2f %10.2f %9.2f %10.0f %11.2f %10.1f %10.1f" % (
    row["nodes"], wall, row["rss_bytes"] / 2**30, row["converged_s"],
    row["detect_all_s"], row["msgs_per_node_s"], row["bytes_per_node_s"],
    row["stream_bytes"] / 1e9, mil(row["state_members_in"]),
    mil(row["gossip_words_in"])))
if out:
    with open(out, "a") as f:
        f.write(json.dumps(row) + "\n")
EOF
done
