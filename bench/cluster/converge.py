#!/usr/bin/env python3
"""Join convergence, repeated: run.sh measures one join per system and N,
and a single sub-second sample is mostly noise (which gossip round a
joiner's news rides, the poller's own period).  This starts the same
clusters as bench.py K times each, alternating systems, and prints the
median and spread.

  converge.py --n N [--trials K] [--binary PATH] [--work DIR] [--pidfile F]

Same addresses as bench.py (cloister 127.0.2.x, serf 127.0.3.x): do not run
it beside run.sh.  Every agent is killed by PID after each trial.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ROOT, Cluster, join, log  # noqa: E402


def one_join(system, n, binary, work, pidfile):
    cl = Cluster(system, n, work, pidfile, binary)
    try:
        return join(cl, work)
    finally:
        cl.stop_all()
        time.sleep(1)  # ports free again before the next trial


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--trials", type=int, default=7)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build-static", "cloister"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--pidfile", default="/dev/null")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="clconv.")
    out = {"cloister": [], "serf": []}
    for t in range(a.trials):
        for system in ("cloister", "serf"):
            s = one_join(system, a.n, a.binary, work, a.pidfile)
            out[system].append(s)
            log(f"{system} N={a.n} trial {t + 1}: {s} s")
    res = {"n": a.n, "trials": a.trials}
    for system, xs in out.items():
        ok = [x for x in xs if x is not None]
        res[system] = {"runs_s": xs,
                       "median_s": statistics.median(ok) if ok else None,
                       "min_s": min(ok) if ok else None,
                       "max_s": max(ok) if ok else None}
    c, s = res["cloister"]["median_s"], res["serf"]["median_s"]
    res["ratio"] = round(c / s, 2) if c and s else None
    print(json.dumps(res))


if __name__ == "__main__":
    main()
