#!/usr/bin/env python3
"""Ratio tables (cloister / Serf) from RESULTS_DIR/<system>-<N>.json;
writes RESULTS_DIR/summary.json, plot.dat (for plot.gp) and table.md (the
side-by-side table and the raw runs, as BENCHMARKS.md shows them).
  report.py RESULTS_DIR [N...]       (default: every N with both systems)"""
import json
import os
import statistics
import sys

d, ns = sys.argv[1], [int(x) for x in sys.argv[2:]]
if not ns:
    have = lambda s: {int(f.split("-")[1].split(".")[0]) for f in os.listdir(d)
                      if f.startswith(s + "-") and f.endswith(".json")}
    ns = sorted(have("cloister") & have("serf"))
ROWS = [  # (label, key, format)
    ("join convergence, median of the joins (s)", "converge_s", "{:.2f}"),
    ("failure detection, median of the kills (s)", "detect_s_median", "{:.2f}"),
    ("idle RSS per agent, median (KiB)", "rss_kb_median", "{:.0f}"),
    ("  of which anonymous (RssAnon, KiB)", "rss_anon_kb_median", "{:.0f}"),
    ("idle CPU per agent, median (s/min, utime+stime)", "cpu_s_per_min_median", "{:.3f}"),
    ("idle CPU per agent, median (s/min, schedstat)", "cpu_s_per_min_median_schedstat", "{:.4f}"),
    ("idle bytes per agent per s (nftables)", "bytes_per_s_per_agent", "{:.0f}"),
]


def fp(r, pct):
    f = r.get("false_positives", {}).get(str(pct))
    return None if f is None else f["pairs"]


def ratio(c, s):
    return None if c is None or not s else c / s


def fmt(v, f="{:.2f}"):
    return "—" if v is None else f.format(v)


summary, dat, compact, raw = {}, [], [], []
for n in ns:
    try:
        c = json.load(open(os.path.join(d, f"cloister-{n}.json")))
        s = json.load(open(os.path.join(d, f"serf-{n}.json")))
    except OSError as e:
        print(f"N={n}: {e}", file=sys.stderr)
        continue
    print(f"\nN = {n}  (joins: {len(c.get('joins_s', [1]))}, kills: {len(c['detect_runs_s'])})")
    print(f"| {'measure':<50} | {'cloister':>9} | {'Serf':>9} | {'cloister/Serf':>13} |")
    print(f"|{'-' * 52}|{'-' * 10}:|{'-' * 10}:|{'-' * 14}:|")
    rows = {}
    keys = list(ROWS)
    pcts = sorted({int(p) for p in c.get("false_positives", {})})
    for pct in pcts:
        keys.append((f"false positives at {pct}% loss (observer, member) pairs", ("fp", pct), "{:.0f}"))
    for label, key, f in keys:
        cv = fp(c, key[1]) if isinstance(key, tuple) else c.get(key)
        sv = fp(s, key[1]) if isinstance(key, tuple) else s.get(key)
        r = ratio(cv, sv)
        rows[label] = {"cloister": cv, "serf": sv, "ratio": r}
        print(f"| {label:<50} | {fmt(cv, f):>9} | {fmt(sv, f):>9} | {fmt(r):>13} |")
    summary[n] = rows
    dat.append((n, c["rss_kb_median"] / 1024, s["rss_kb_median"] / 1024,
                c["detect_s_median"] or 0, s["detect_s_median"] or 0,
                c["converge_s"], s["converge_s"]))
    g = lambda r, k: r.get(k)
    fps = lambda r: " / ".join(fmt(fp(r, p), "{:.0f}") for p in pcts)
    compact.append(
        f"| {n} | {fmt(g(c, 'converge_s'))} / {fmt(g(s, 'converge_s'))} ({fmt(ratio(g(c, 'converge_s'), g(s, 'converge_s')))}) "
        f"| {fmt(g(c, 'detect_s_median'))} / {fmt(g(s, 'detect_s_median'))} ({fmt(ratio(g(c, 'detect_s_median'), g(s, 'detect_s_median')))}) "
        f"| {fmt(g(c, 'rss_kb_median'), '{:,.0f}')} / {fmt(g(s, 'rss_kb_median'), '{:,.0f}')} ({fmt(ratio(g(c, 'rss_kb_median'), g(s, 'rss_kb_median')))}) "
        f"| {fmt(g(c, 'cpu_s_per_min_median_schedstat'), '{:.4f}')} / {fmt(g(s, 'cpu_s_per_min_median_schedstat'), '{:.4f}')} "
        f"({fmt(ratio(g(c, 'cpu_s_per_min_median_schedstat'), g(s, 'cpu_s_per_min_median_schedstat')))}) "
        f"| {fmt(g(c, 'bytes_per_s_per_agent'), '{:.0f}')} / {fmt(g(s, 'bytes_per_s_per_agent'), '{:.0f}')} "
        f"({fmt(ratio(g(c, 'bytes_per_s_per_agent'), g(s, 'bytes_per_s_per_agent')))}) "
        f"| {fps(c)} | {fps(s)} |")
    for sysname, r in (("cloister", c), ("Serf", s)):
        raw.append(f"- N = {n}, {sysname}: joins {r.get('joins_s')}; kills {r['detect_runs_s']} "
                   f"(first observer {r.get('detect_first_runs_s')}); idle load {r.get('idle_loadavg')}; "
                   f"false positives {json.dumps(r.get('false_positives'))}")
json.dump(summary, open(os.path.join(d, "summary.json"), "w"), indent=1)
with open(os.path.join(d, "plot.dat"), "w") as f:
    f.write("# N cloister_rss_MiB serf_rss_MiB cloister_detect_s serf_detect_s cloister_conv_s serf_conv_s\n")
    for row in dat:
        f.write(" ".join(f"{v:g}" for v in row) + "\n")
head = ("| N | join, median (s): cloister / Serf (ratio) | detection, median (s) | RSS per agent (KiB) "
        "| CPU per agent (s/min, schedstat) | bytes per agent per s | cloister FPs 10% / 20% | Serf FPs 10% / 20% |\n"
        "|---:|---|---|---|---|---|---|---|")
with open(os.path.join(d, "table.md"), "w") as f:
    f.write(head + "\n" + "\n".join(compact) + "\n\nRaw runs (s):\n" + "\n".join(raw) + "\n")
print("\n" + head + "\n" + "\n".join(compact) + "\n\nRaw runs (s):\n" + "\n".join(raw))
