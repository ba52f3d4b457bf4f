#!/usr/bin/env bash
# test_sim_cli.sh — `cloister sim` and `cloister sim demo` as a user runs them.
#   $1: the cloister binary
# Checks the JSON report's fields and their sanity, that one seed gives the
# same report twice (wall_s aside) and another seed a different one, that
# the human summary and the demo work, and that bad flags exit 2 with a
# message naming the problem.
set -euo pipefail
bin=${1:?usage: test_sim_cli.sh path/to/cloister}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---------------------------------------------------------------- JSON
"$bin" sim --nodes 200 --duration 60 --kill 2 --loss 0.05 --seed 7 --json >"$tmp/a.json"
"$bin" sim --nodes 200 --duration 60 --kill 2 --loss 0.05 --seed 7 --json >"$tmp/b.json"
"$bin" sim --nodes 200 --duration 60 --kill 2 --loss 0.05 --seed 8 --json >"$tmp/c.json"
"$bin" sim --nodes 50 --duration 20 --json >"$tmp/nokill.json"

python3 - "$tmp" <<'EOF' || fail "JSON checks"
import json, sys
d = sys.argv[1]
a, b, c, nk = (json.load(open(f"{d}/{n}.json")) for n in ("a", "b", "c", "nokill"))

def need(cond, what):
    if not cond:
        print(f"  {what}", file=sys.stderr)
        sys.exit(1)

for k in ("nodes", "seed", "sim_seconds", "converged_s", "detect_all_s",
          "false_positives", "msgs_per_node_s", "bytes_per_node_s", "wall_s",
          "killed", "kill_at_s", "packets", "bytes", "dropped", "core_drops"):
    need(k in a, f"missing field {k}")
need(a["nodes"] == 200 and a["seed"] == 7, "nodes/seed echo")
need(a["sim_seconds"] == 60, "sim_seconds")
need(a["converged_s"] is not None and 0 < a["converged_s"] < 60, "converged_s")
need(a["killed"] == 2, "killed")
# Default kill time: 5 s after convergence.
need(abs(a["kill_at_s"] - (a["converged_s"] + 5)) < 1e-6, "kill_at_s")
need(a["detect_all_s"] is not None and 0 < a["detect_all_s"] < 60 - a["kill_at_s"],
     "detect_all_s")
need(isinstance(a["false_positives"], int) and a["false_positives"] >= 0,
     "false_positives")
need(a["msgs_per_node_s"] > 0 and a["bytes_per_node_s"] > a["msgs_per_node_s"],
     "traffic rates")
need(abs(a["msgs_per_node_s"] - a["packets"] / (200 * 60)) < 1e-6, "msgs rate")
need(a["dropped"]["loss"] > 0, "loss drops at --loss 0.05")
need(a["wall_s"] >= 0, "wall_s")
core = a["core"]
for k in ("probes", "pushpulls", "digests", "delta_syncs", "state_members_sent",
          "state_members_in", "state_news", "gossip_words_in", "state_changes"):
    need(isinstance(core.get(k), int), f"core.{k}")
# Every node joins by push-pull and learns the other 199 members: at least
# 200*199 state changes, some of them from merged states; a merged entry
# that changed something is one of the merged entries.
need(core["state_changes"] >= 200 * 199, "core.state_changes below N*(N-1)")
need(0 < core["state_news"] <= core["state_members_in"], "core.state_news")
need(core["state_members_in"] <= core["state_members_sent"], "core.state_members_in")
need(core["gossip_words_in"] > 0 and core["probes"] > 0, "core gossip/probes")
# Determinism: everything but the wall clock.
strip = lambda j: {k: v for k, v in j.items() if k != "wall_s"}
need(strip(a) == strip(b), "same seed gave different reports")
need(strip(a) != strip(c), "different seeds gave identical reports")
# Without kills there is nothing to detect.
need(nk["detect_all_s"] is None and nk["killed"] == 0 and nk["kill_at_s"] is None,
     "detect_all_s must be null without --kill")
EOF

# A large run executes itself again with huge pages (glibc); that changes
# its speed, never its results.  CLOISTER_SIM_REEXECUTED=1 says it already
# has, so the second run keeps 4 KiB pages.
"$bin" sim --nodes 1000 --duration 3 --json >"$tmp/hp.json"
CLOISTER_SIM_REEXECUTED=1 "$bin" sim --nodes 1000 --duration 3 --json >"$tmp/nohp.json"
python3 - "$tmp/hp.json" "$tmp/nohp.json" <<'EOF' || fail "huge-page re-exec changed the results"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
strip = lambda j: {k: v for k, v in j.items() if k != "wall_s"}
sys.exit(0 if strip(a) == strip(b) and a["nodes"] == 1000 else 1)
EOF

# Explicit kill time, and other profiles and network settings.
"$bin" sim --nodes 30 --duration 40 --kill 1 --kill-at 10 --profile local \
	--latency-ms 2 --jitter-ms 1 --join-spread-ms 100 --json >"$tmp/d.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kill_at_s"] == 10 and d["killed"] == 1, d
assert d["profile"] == "local", d
' "$tmp/d.json" || fail "--kill-at / --profile"
# --flag=value works too.
"$bin" sim --nodes=20 --duration=10 --profile=wan --json >/dev/null || fail "--flag=value"

# Timing knobs and faults (bench/detection_curve.py): a 10 s pause outlasts
# the 2x suspicion (2 s minimum at N = 30) and gets the paused node declared
# dead; 1 s pauses and a 600 ms slow node under the lan defaults do not.
"$bin" sim --nodes 30 --duration 120 --pause-s 10 --suspicion-mult 2 \
	--probe-timeout-ms 400 --indirect-checks 2 --json >"$tmp/p10.json"
"$bin" sim --nodes 30 --duration 120 --pause-s 1 --slow-ms 600 --kill 1 \
	--json >"$tmp/p1.json"
python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
t = a["timing"]
assert (t["suspicion_mult"], t["probe_timeout_ms"], t["indirect_checks"]) == (2, 400, 2), t
assert b["timing"]["suspicion_mult"] == 3 and b["timing"]["stream_ping"], b["timing"]
assert a["pauses"] >= 2 and a["false_positives_paused"] > 0, a
assert a["false_positives_paused"] == a["false_positives"], a
assert b["pauses"] >= 2 and b["false_positives_paused"] == 0, b
assert b["false_positives_slow"] == 0 and b["killed"] == 1, b
assert b["detect_all_s"] is not None, b
' "$tmp/p10.json" "$tmp/p1.json" || fail "--pause-s / --slow-ms / timing knobs"

# ---------------------------------------------------------------- summary
"$bin" sim --nodes 50 --duration 30 --kill 1 >"$tmp/sum.txt" || fail "summary run"
grep -q "converged" "$tmp/sum.txt" || fail "summary lacks convergence"
grep -q "killed 1 node" "$tmp/sum.txt" || fail "summary lacks the kill"
"$bin" sim --help >"$tmp/help.txt" || fail "--help exit status"
grep -q -- "--loss P" "$tmp/help.txt" || fail "--help"
grep -q "fraction" "$tmp/help.txt" || fail "--help must say --loss is a fraction"
grep -q -- "--pause-s S" "$tmp/help.txt" || fail "--help lacks --pause-s"

# ---------------------------------------------------------------- demo
timeout 30 "$bin" sim demo >"$tmp/demo.txt" || fail "sim demo exit status"
# --opt=V as everywhere else (before the one parser: "unknown argument").
"$bin" sim demo --seed=2 >"$tmp/demo2.txt" || fail "sim demo --seed=2"
grep -q "crashes" "$tmp/demo2.txt" || fail "sim demo --seed=2 narrates"
"$bin" bench ring --nodes=3 --keys=1000 --json >/dev/null || fail "bench ring --nodes=3"
# `cloister demo` is make demo's real-agent demonstration, not the sim.
"$bin" demo --help | grep -q "real agents on loopback" || fail "cloister demo --help"
grep -q "crashes" "$tmp/demo.txt" || fail "demo narrates the crash"
grep -q "restarts" "$tmp/demo.txt" || fail "demo narrates the restart"
grep -q "summary" "$tmp/demo.txt" || fail "demo prints a summary"

# ---------------------------------------------------------------- trace
# --trace prints node 1's packets on stderr, decoded, and changes nothing:
# stdout is the untraced run's, wall time aside.
"$bin" sim --nodes 5 --duration 10 --seed 3 --json >"$tmp/plain.json"
"$bin" sim --nodes 5 --duration 10 --seed 3 --json --trace 1 \
	>"$tmp/traced.json" 2>"$tmp/trace"
python3 - "$tmp/plain.json" "$tmp/traced.json" <<'EOF' || fail "--trace changed the run"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for d in (a, b):
    d.pop("wall_s", None)
sys.exit(0 if a == b else 1)
EOF
grep -q ' n1\[1\] 10\.0\.0\.2:7946 > n0\[0\] 10\.0\.0\.1:7946 tcp .* | state join of 1: n1 alive@1' "$tmp/trace" \
	|| fail "--trace: no join of node 1: $(head -3 "$tmp/trace")"
grep -q '| ping seq=[0-9]* target=n1 ' "$tmp/trace" || fail "--trace: no ping to node 1"
grep -q ' < n1\[1\] .* fed$' "$tmp/trace" || fail "--trace: no arrival of node 1's packets"
# Only node 1's packets: every line names it.
if grep -v 'n1\[1\]' "$tmp/trace" | grep -q .; then
	fail "--trace 1 printed another node's packet: $(grep -v 'n1\[1\]' "$tmp/trace" | head -1)"
fi
# With --prop, one seed: the schedule, then the traced packets.
"$bin" sim --prop --seeds 9 --trace 0 >/dev/null 2>"$tmp/ptrace" || true
grep -q '^schedule: seed 9' "$tmp/ptrace" || fail "--prop --trace: no schedule"
grep -q ' n0\[0\] 10\.0\.0\.1:7946 > ' "$tmp/ptrace" || fail "--prop --trace: no packets of node 0"

# ---------------------------------------------------------------- bad flags
bad() {
	local want=$1; shift
	set +e
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	set -e
	[ "$rc" -eq 2 ] || fail "'$*' exited $rc, want 2"
	grep -q -- "$want" "$tmp/err" || fail "'$*': stderr does not mention $want: $(cat "$tmp/err")"
}
bad --nodes sim --nodes 0
bad --nodes sim --nodes abc
bad --nodes sim --nodes
bad --loss sim --loss 1.5
bad --loss sim --loss -0.1
bad --duration sim --duration 0
bad --profile sim --profile lann
bad --bogus sim --bogus
bad --kill sim --nodes 5 --kill 5
bad --jitter-ms sim --latency-ms 1 --jitter-ms 2
bad --seed sim --seed -3
bad --suspicion-mult sim --suspicion-mult 0
bad --pause-s sim --pause-s 40 --pause-every-s 30
bad --slow-ms sim --slow-ms -1
bad stray sim stray
bad --trace sim --nodes 3 --trace 3
bad --trace sim --trace 1,,2
bad --trace sim --trace x
bad --trace sim --prop --seeds 1-2 --trace 0
bad --trace sim --prop --seeds 4 --trace 64
bad --seed sim demo --seed x
bad --frobnicate sim demo --frobnicate
bad --seed sim demo --seed
bad "needs a value" local --app
bad "unknown option '--bogus'" local --bogus 1
bad "takes no value" ring --json=1 --nodes a k
bad "unknown option '--nodez'" bench ring --nodez=3

echo "ok test_sim_cli"
