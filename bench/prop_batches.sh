#!/usr/bin/env bash
# The property checker over a long range of seeds, in batches run two at a
# time (one per core), each batch's summary kept.  Usage:
#   bench/prop_batches.sh FIRST LAST [STEP]      (STEP: 50000)
# Environment: CLOISTER_BIN (default build/cloister), OUT (a directory for
# each batch's full report; default a temporary one, removed at the end).
# Prints each batch's summary line and every violation, then the total.
# Deterministic: the same binary and seeds give the same violations.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CLOISTER_BIN:-./build/cloister}
first=${1:?usage: bench/prop_batches.sh FIRST LAST [STEP]}
last=${2:?usage: bench/prop_batches.sh FIRST LAST [STEP]}
step=${3:-50000}
[[ -x $bin ]] || { echo "prop_batches.sh: $bin is not executable (make build)" >&2; exit 2; }
((first >= 1 && last >= first && step >= 1)) || { echo "prop_batches.sh: bad range" >&2; exit 2; }
out=${OUT:-}
if [[ -z $out ]]; then
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
ranges=()
for ((s = first; s <= last; s += step)); do
	e=$((s + step - 1))
	((e > last)) && e=$last
	ranges+=("$s-$e")
done
for ((i = 0; i < ${#ranges[@]}; i += 2)); do
	pids=()
	for r in "${ranges[i]}" "${ranges[i + 1]:-}"; do
		[[ -n $r ]] || continue
		"$bin" sim --prop --seeds "$r" >"$out/$r.txt" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || true; done
done
total=0
for r in "${ranges[@]}"; do
	grep -E "schedules \(" "$out/$r.txt" | sed -E 's/; slowest.*//'
	grep -E "^VIOLATION" "$out/$r.txt" | sort -u || true
	v=$(grep -oE "schedules \(seeds [0-9-]+\), [0-9]+ violations" "$out/$r.txt" | grep -oE "[0-9]+ violations" | grep -oE "^[0-9]+")
	total=$((total + ${v:-0}))
done
echo "total: $total violations in seeds $first-$last"
