#!/usr/bin/env bash
# test_sim_spread.sh — `cloister sim --spread` (docs/spread.md).
#   $1: the cloister binary
# The time series of who knows of a leave or a crash: every other node
# learns, the fraction climbs from 0 to 1 and never falls, the quantiles are
# ordered, a crash is known no sooner than the minimum suspicion timeout
# allows (4·log10(N) probe periods), a leave much sooner, one seed gives
# the same series twice; bad combinations exit 2.
set -euo pipefail
bin=${1:?usage: test_sim_spread.sh path/to/cloister}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin" sim --nodes 60 --spread leave --spread-step-ms 5 --json >"$tmp/leave.json"
"$bin" sim --nodes 60 --spread leave --spread-step-ms 5 --json >"$tmp/leave2.json"
"$bin" sim --nodes 60 --spread fail --spread-step-ms 50 --json >"$tmp/fail.json"
"$bin" sim --nodes 60 --spread fail --spread-step-ms 50 --loss 0.1 --seed 3 --json >"$tmp/lossy.json"
"$bin" sim --nodes 60 --spread fail >"$tmp/fail.txt"

python3 - "$tmp" <<'PY' || fail "spread checks"
import json, math, sys
d = sys.argv[1]
leave, leave2, crash, lossy = (json.load(open(f"{d}/{n}.json")) for n in ("leave", "leave2", "fail", "lossy"))
bad = 0
def need(cond, what):
    global bad
    print(("ok: " if cond else "FAIL: ") + what)
    bad += not cond
for name, r in (("leave", leave), ("fail", crash), ("fail at 10% loss", lossy)):
    s = r["series"]
    need(r["knowing"] == r["of"] == 59, f"{name}: all 59 other nodes learned ({r['knowing']} of {r['of']})")
    need(s[0][1] == 0 and abs(s[-1][1] - 1) < 1e-9, f"{name}: the series runs from 0 to 1")
    need(all(b[1] >= a[1] and b[0] > a[0] for a, b in zip(s, s[1:])), f"{name}: and never falls")
    need(r["t50_s"] <= r["t90_s"] <= r["t99_s"] <= r["t100_s"], f"{name}: t50 <= t90 <= t99 <= t100 ({r['t50_s']}, {r['t90_s']}, {r['t99_s']}, {r['t100_s']})")
floor = 3 * math.log10(60) * 1.0  # LAN: suspicion >= 3 log10(N) probe periods of 1 s
need(crash["t50_s"] >= floor - 0.01, f"a crash is declared no sooner than the minimum suspicion ({crash['t50_s']} s >= {floor:.2f} s)")
need(leave["t100_s"] < 2, f"a leave reaches everyone by gossip alone, within 2 s ({leave['t100_s']} s)")
leave.pop("wall_s"); leave2.pop("wall_s")
need(leave == leave2, "the same seed gives the same series")
sys.exit(1 if bad else 0)
PY
grep -q '^# seconds_since fraction_knowing$' "$tmp/fail.txt" || fail "text output has its header"
[[ $(tail -1 "$tmp/fail.txt" | awk '{print $2}') == 1.000000 ]] || fail "text output ends at 1"
set +e
"$bin" sim --nodes 60 --spread fail --kill 2 >/dev/null 2>&1; [[ $? == 2 ]] || fail "--spread with --kill: exit 2"
"$bin" sim --nodes 60 --spread nope >/dev/null 2>&1; [[ $? == 2 ]] || fail "--spread nope: exit 2"
"$bin" sim --nodes 2 --spread leave >/dev/null 2>&1; [[ $? == 2 ]] || fail "--spread with 2 nodes: exit 2"
echo "1 passed, 0 failed"
