#!/usr/bin/env python3
"""plot_tables.py: BENCHMARKS.md's picture, drawn from the figures its tables report.

Reads the "| N = 10 |", "| N = 50 |", "| N = 100 |" tables of BENCHMARKS.md
(join convergence and failure detection: the medians of the repeats; idle
RSS, CPU and bytes per agent), writes bench/cluster/results/tables.dat and
draws bench/cluster/results/tables.svg with bench/cluster/tables.gp: each
figure against N, cloister and Serf side by side.  The picture can then
never disagree with the tables.

    python3 bench/cluster/plot_tables.py        # from the repository's root
"""
import os
import re
import subprocess
import sys

ROWS = {  # column in tables.dat: the row's label in BENCHMARKS.md
    "conv": "join convergence, median of 7 (s)",
    "detect": "failure detection, median of 9 (s)",
    "rss": "idle RSS per agent, median (KiB)",
    "cpu": "idle CPU per agent, median (s/min, schedstat)",
    "bytes": "idle bytes per agent per s",
}

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
text = open(os.path.join(root, "BENCHMARKS.md")).read()
figures = {}
for m in re.finditer(r"^\| N = (\d+) \|.*?\n((?:\|.*\n)+)", text, re.M):
    n = int(m.group(1))
    for line in m.group(2).splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        for key, label in ROWS.items():
            if cells[0] == label:
                figures[(n, key)] = tuple(float(c.replace(",", "")) for c in cells[1:3])
ns = sorted({n for n, _ in figures})
missing = [(n, k) for n in ns for k in ROWS if (n, k) not in figures]
if not ns or missing:
    sys.exit(f"plot_tables.py: rows not found in BENCHMARKS.md: {missing or 'no N = tables'}")
out = os.path.join(root, "bench/cluster/results/tables.dat")
with open(out, "w") as f:
    f.write("# from BENCHMARKS.md's tables (plot_tables.py); per agent, medians\n")
    f.write("# N " + " ".join(f"cloister_{k} serf_{k}" for k in ROWS) + "\n")
    for n in ns:
        f.write(f"{n} " + " ".join(f"{figures[(n, k)][0]:g} {figures[(n, k)][1]:g}" for k in ROWS) + "\n")
print(open(out).read(), end="")
subprocess.run(["gnuplot", os.path.join(root, "bench/cluster/tables.gp")], cwd=root, check=True)
print("bench/cluster/results/tables.svg")
