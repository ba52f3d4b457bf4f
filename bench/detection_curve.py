#!/usr/bin/env python3
"""detection_curve.py: failure detection against false positives, from the
simulator, over the knobs that trade one for the other.

    python3 bench/detection_curve.py [--cloister build/cloister] [--nodes 100]
                                     [--seeds 3] [--duration 600] [--out DIR]

Every setting runs the same scenarios (`cloister sim`, deterministic, so the
same binary prints the same table):
  - loss 0, 5, 10, 20, 30 % of datagrams, one kill (seeds 1..S);
  - one slow node (everything to it handled 600 ms late, past the 500 ms
    probe timeout) at 5 % loss, one kill (seeds 1..S);
  - pauses of 1, 2, 5 and 10 s, a random node every 30 s (seeds 1..2).
Detection is the time from the kill until every survivor declared the node
dead (median over the loss runs; the 0 % figure alone too).  False
positives are observer/node pairs where a running node was declared dead
(pairs, so 99 means one node declared dead by the whole cluster once): a
paused node past its suspicion timeout is counted, since nothing but the
timing tells it from a crash.

Writes DIR/curve.json (every run), DIR/curve.dat and DIR/curve.svg
(gnuplot), and prints a Markdown table.  A benchmark, nothing asserted.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (label, flags).  The first is memberlist's DefaultLANConfig timing, which
# is also the `lan` profile; the others move one or two knobs from it.
SETTINGS = [
    ("lan = memberlist LAN (x4, max x6)", []),
    ("suspicion x5", ["--suspicion-mult", "5"]),
    ("suspicion x3", ["--suspicion-mult", "3"]),
    ("suspicion x3, max x4", ["--suspicion-mult", "3", "--suspicion-max-mult", "4"]),
    ("suspicion x2", ["--suspicion-mult", "2"]),
    ("suspicion x2, max x4", ["--suspicion-mult", "2", "--suspicion-max-mult", "4"]),
    ("timeout 300 ms", ["--probe-timeout-ms", "300"]),
    ("timeout 300 ms, x3", ["--probe-timeout-ms", "300", "--suspicion-mult", "3"]),
    ("indirect 2", ["--indirect-checks", "2"]),
    ("indirect 5", ["--indirect-checks", "5"]),
    ("indirect 5, x3", ["--indirect-checks", "5", "--suspicion-mult", "3"]),
    ("no stream ping", ["--no-stream-ping"]),
]
LOSSES = [0, 0.05, 0.10, 0.20, 0.30]
PAUSES = [1, 2, 5, 10]


def sim(binary, nodes, duration, seed, extra):
    cmd = [binary, "sim", "--nodes", str(nodes), "--duration", str(duration),
           "--seed", str(seed), "--json"] + extra
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cloister", default=os.path.join(ROOT, "build", "cloister"))
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=600)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "curve"))
    ap.add_argument("--only", type=int, default=None, help="run setting number I only")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    runs, rows = [], []
    for i, (label, flags) in enumerate(SETTINGS):
        if args.only is not None and i != args.only:
            continue
        row = {"label": label, "flags": " ".join(flags)}
        det, fp_loss = [], {}
        for loss in LOSSES:
            fp_loss[loss] = 0
            for seed in range(1, args.seeds + 1):
                d = sim(args.cloister, args.nodes, args.duration, seed,
                        flags + ["--kill", "1", "--loss", str(loss)])
                runs.append({"setting": label, "scenario": f"loss {loss}", **d})
                if d["detect_all_s"] is not None:
                    det.append(d["detect_all_s"])
                    if loss == 0:
                        row.setdefault("detect_0", []).append(d["detect_all_s"])
                fp_loss[loss] += d["false_positives"]
        row["detect_median"] = statistics.median(det) if det else None
        row["detect_0"] = statistics.median(row["detect_0"]) if row.get("detect_0") else None
        row["fp_loss"] = fp_loss
        fp_slow = 0
        for seed in range(1, args.seeds + 1):
            d = sim(args.cloister, args.nodes, args.duration, seed,
                    flags + ["--kill", "1", "--loss", "0.05", "--slow-ms", "600"])
            runs.append({"setting": label, "scenario": "slow 600 ms", **d})
            fp_slow += d["false_positives"]
        row["fp_slow"] = fp_slow
        fp_pause = {}
        for p in PAUSES:
            fp_pause[p] = 0
            for seed in (1, 2):
                d = sim(args.cloister, args.nodes, args.duration, seed,
                        flags + ["--pause-s", str(p)])
                runs.append({"setting": label, "scenario": f"pause {p} s", **d})
                fp_pause[p] += d["false_positives"]
        row["fp_pause"] = fp_pause
        rows.append(row)
        print(f"# {label}: detection {row['detect_median']:.2f} s, "
              f"fp loss {fp_loss}, slow {fp_slow}, pauses {fp_pause}",
              file=sys.stderr, flush=True)
    with open(os.path.join(args.out, "curve.json"), "w") as f:
        json.dump({"nodes": args.nodes, "seeds": args.seeds, "duration": args.duration,
                   "rows": rows, "runs": runs}, f, indent=1)
    # Detection (x) against the false positives of the lossy and slow-node
    # scenarios (y): the trade-off, one point per setting.
    with open(os.path.join(args.out, "curve.dat"), "w") as f:
        f.write("# detect_median_s fp_loss_and_slow fp_pauses_le_5s label\n")
        for r in rows:
            fpl = sum(r["fp_loss"].values()) + r["fp_slow"]
            fpp = sum(v for k, v in r["fp_pause"].items() if k <= 5)
            f.write(f"{r['detect_median']:.3f} {fpl} {fpp} \"{r['label']}\"\n")
    gp = f"""set terminal svg size 900,520 dynamic font 'sans,12'
set output '{args.out}/curve.svg'
set title 'Failure detection against false positives (simulator, N = {args.nodes}, {args.duration} s runs)'
set xlabel 'detection, median over loss 0-30 %, one kill (s)'
set ylabel 'false-positive pairs'
set key top right
set grid
plot '{args.out}/curve.dat' using 1:($2+0.5):4 with labels left offset 0.6,0.2 font 'sans,9' notitle, \\
     '' using 1:($2+0.5) with points pt 7 ps 1.2 title 'loss 0-30 % and a slow node (+0.5 to show 0 on a log scale)', \\
     '' using 1:($3+0.5) with points pt 5 ps 1.0 title 'pauses of 1, 2 and 5 s (+0.5)'
"""
    gp = gp.replace("set grid", "set grid\nset logscale y")
    subprocess.run(["gnuplot"], input=gp, text=True, check=False)
    print(f"| setting | detection, median (s) | at 0 % loss (s) | FP pairs at loss "
          + ", ".join(f"{int(l * 100)}%" for l in LOSSES)
          + " | slow node | pauses " + ", ".join(f"{p} s" for p in PAUSES) + " |")
    print("|---|---:|---:|---|---:|---|")
    for r in rows:
        print(f"| {r['label']} | {r['detect_median']:.2f} | {r['detect_0']:.2f} | "
              + " / ".join(str(r["fp_loss"][l]) for l in LOSSES)
              + f" | {r['fp_slow']} | "
              + " / ".join(str(r["fp_pause"][p]) for p in PAUSES) + " |")


if __name__ == "__main__":
    main()
