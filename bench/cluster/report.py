#!/usr/bin/env python3
"""Ratio table (cloister / Serf) from results/<system>-<N>.json;
writes results/summary.json and results/plot.dat for plot.gp.
  report.py RESULTS_DIR N..."""
import json
import os
import sys

d, ns = sys.argv[1], [int(x) for x in sys.argv[2:]]
if not ns:
    ns = sorted({int(f.split("-")[1].split(".")[0]) for f in os.listdir(d)
                 if f.startswith("cloister-") and f.endswith(".json")})
ROWS = [  # (label, key, format)
    ("join convergence (s)", "converge_s", "{:.2f}"),
    ("failure detection, median (s)", "detect_s_median", "{:.2f}"),
    ("idle RSS per agent, median (KiB)", "rss_kb_median", "{:.0f}"),
    ("  of which anonymous (RssAnon, KiB)", "rss_anon_kb_median", "{:.0f}"),
    ("idle CPU per agent, median (s/min, utime+stime)", "cpu_s_per_min_median", "{:.3f}"),
    ("idle CPU per agent, median (s/min, schedstat)", "cpu_s_per_min_median_schedstat", "{:.4f}"),
    ("idle bytes per agent per s (nftables)", "bytes_per_s_per_agent", "{:.0f}"),
]


def fp(r, pct):
    f = r.get("false_positives", {}).get(str(pct))
    return None if f is None else f["pairs"]


summary, dat = {}, []
for n in ns:
    try:
        c = json.load(open(os.path.join(d, f"cloister-{n}.json")))
        s = json.load(open(os.path.join(d, f"serf-{n}.json")))
    except OSError as e:
        print(f"N={n}: {e}", file=sys.stderr)
        continue
    print(f"\nN = {n}  (detection runs: cloister {c['detect_runs_s']}, serf {s['detect_runs_s']})")
    print(f"| {'measure':<50} | {'cloister':>9} | {'Serf':>9} | {'cloister/Serf':>13} |")
    print(f"|{'-' * 52}|{'-' * 10}:|{'-' * 10}:|{'-' * 14}:|")
    rows = {}
    keys = [(l, k, f) for l, k, f in ROWS]
    for pct in sorted({int(p) for p in c.get("false_positives", {})}):
        keys.append((f"false positives at {pct}% loss, 60 s (observer, member) pairs", ("fp", pct), "{:.0f}"))
    for label, key, fmt in keys:
        cv = fp(c, key[1]) if isinstance(key, tuple) else c.get(key)
        sv = fp(s, key[1]) if isinstance(key, tuple) else s.get(key)
        ratio = (cv / sv) if (cv is not None and sv) else None
        rows[label] = {"cloister": cv, "serf": sv, "ratio": ratio}
        f = lambda v: "—" if v is None else fmt.format(v)
        print(f"| {label:<50} | {f(cv):>9} | {f(sv):>9} | {'—' if ratio is None else f'{ratio:.2f}':>13} |")
    summary[n] = rows
    dat.append((n, c["rss_kb_median"] / 1024, s["rss_kb_median"] / 1024,
                c["detect_s_median"] or 0, s["detect_s_median"] or 0,
                c["converge_s"], s["converge_s"]))
json.dump(summary, open(os.path.join(d, "summary.json"), "w"), indent=1)
with open(os.path.join(d, "plot.dat"), "w") as f:
    f.write("# N cloister_rss_MiB serf_rss_MiB cloister_detect_s serf_detect_s cloister_conv_s serf_conv_s\n")
    for row in dat:
        f.write(" ".join(f"{v:g}" for v in row) + "\n")
