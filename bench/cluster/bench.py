#!/usr/bin/env python3
"""cloister against Serf on loopback: N real agents of each, one system at a
time, same machine, matched timing (both LAN profiles).  Called by run.sh;
see bench/cluster/README.md.

  bench.py --system cloister|serf --n N --out FILE.json [--idle S] [--runs R]
           [--loss 10,20] [--loss-seconds S] [--pidfile F] [--work DIR]

cloister agents: 127.0.2.1..N (gossip 7946, HTTP 7947).
serf agents:     127.0.3.1..N (bind 7946, RPC 7373).
Every process this starts is written to --pidfile and killed by PID at the
end (run.sh kills them again from the pidfile on any exit).  Every wait is
bounded in time.
"""
import argparse
import base64
import concurrent.futures as cf
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NFT_TABLE = "clbench"
RANGE = {"cloister": "127.0.2", "serf": "127.0.3"}
FAILED = {"cloister": "dead", "serf": "failed"}
HZ = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def nft(cmd, check=True):
    r = subprocess.run(["nft"] + cmd, capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError(f"nft {' '.join(cmd)}: {r.stderr.strip()}")
    return r.stdout


# Every cloister agent of a run takes the same control API token (the API
# requires one); requests send it.
TOKEN = "bench-" + os.urandom(16).hex()


def get(url, timeout):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + TOKEN})
    return urllib.request.urlopen(req, timeout=timeout).read()


class Cluster:
    def __init__(self, system, n, work, pidfile, binary, key=None):
        self.system, self.n, self.work, self.pidfile = system, n, work, pidfile
        self.binary = binary
        # A cluster key (32 bytes, base64): cloister seals with it
        # (XChaCha20-Poly1305), Serf encrypts with it (AES-256-GCM).
        self.key = key
        if key and system == "cloister":
            self.keyfile = os.path.join(work, "cluster.key")
            fd = os.open(self.keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, (key + "\n").encode())
            os.close(fd)
        self.pre = RANGE[system]
        self.procs = {}  # i -> Popen
        self.dead = set()
        self.pool = cf.ThreadPoolExecutor(max_workers=8)

    def ip(self, i):
        return f"{self.pre}.{i}"

    def name(self, i):
        return f"bench@{self.ip(i)}" if self.system == "cloister" else f"s{i}"

    def start(self, i):
        ip = self.ip(i)
        if self.system == "cloister":
            cmd = [self.binary, "agent", "--app", "bench", "--advertise", f"{ip}:7946",
                   "--http", f"{ip}:7947", "--sentry", f"{self.pre}.1:7946",
                   "--log-level", "warn"]
            if self.key:
                cmd += ["--key-file", self.keyfile]
        else:
            cmd = ["serf", "agent", f"-node=s{i}", f"-bind={ip}:7946",
                   f"-rpc-addr={ip}:7373", "-profile=lan", "-log-level=warn"]
            if self.key:
                cmd.append(f"-encrypt={self.key}")
            if i != 1:
                cmd.append(f"-join={self.pre}.1:7946")
        out = open(os.path.join(self.work, f"{self.system}-{i}.log"), "ab")
        env = dict(os.environ, CLOISTER_QUIET="1", CLOISTER_TOKEN=TOKEN)
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                             stdin=subprocess.DEVNULL)
        out.close()
        self.procs[i] = p
        with open(self.pidfile, "a") as f:
            f.write(f"{p.pid}\n")
        return p

    def members(self, i):
        """{name: status} as agent i sees it, or None if it did not answer."""
        ip = self.ip(i)
        try:
            if self.system == "cloister":
                body = get(f"http://{ip}:7947/v1/members", 2)
                return {m["name"]: m["status"] for m in json.loads(body)}
            r = subprocess.run(["serf", "members", f"-rpc-addr={ip}:7373", "-format=json"],
                               capture_output=True, text=True, timeout=3)
            if r.returncode != 0:
                return None
            return {m["name"]: m["status"] for m in json.loads(r.stdout)["members"]}
        except Exception:
            return None

    def poll(self, idx):
        """members() of every agent in idx, concurrently: {i: members}."""
        idx = list(idx)
        return dict(zip(idx, self.pool.map(self.members, idx)))

    def live(self):
        return [i for i in sorted(self.procs) if i not in self.dead]

    def wait_up(self, i, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.members(i) is not None:
                return True
            if self.procs[i].poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs.values():
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.pool.shutdown(wait=True)


def until_all(cl, idx, pred, timeout):
    """Polls agents idx until pred(members) holds for each; returns
    {i: monotonic time first seen true} (missing entries: never)."""
    first = {}
    end = time.monotonic() + timeout
    pending = set(idx)
    while pending and time.monotonic() < end:
        got = cl.poll(sorted(pending))
        now = time.monotonic()
        for i, m in got.items():
            if m is not None and pred(m):
                first[i] = now
                pending.discard(i)
        if pending:
            time.sleep(0.05)
    return first


# ---- nftables byte counters: one rule per agent on its source address ----

def nft_setup(system, n):
    pre = RANGE[system]
    nft(["delete", "table", "inet", NFT_TABLE], check=False)
    nft(["add", "table", "inet", NFT_TABLE])
    nft(["add", "chain", "inet", NFT_TABLE, "out",
         "{ type filter hook output priority 0 ; policy accept ; }"])
    # Everything an agent sends, except its control API's answers (HTTP 7947,
    # Serf RPC 7373) that the benchmark itself asks for.
    for i in range(1, n + 1):
        nft(["add", "rule", "inet", NFT_TABLE, "out", "ip", "saddr", f"{pre}.{i}",
             "meta", "l4proto", "{ tcp, udp }", "th", "sport", "!=", "{ 7947, 7373 }",
             "counter", "comment", f'"a{i}"'])
    # Stream connections an agent opens without binding its address leave
    # from 127.0.0.1: counted together, spread over the agents.
    nft(["add", "rule", "inet", NFT_TABLE, "out", "ip", "saddr", "!=", f"{pre}.0/24",
         "ip", "daddr", f"{pre}.0/24", "meta", "l4proto", "{ tcp, udp }",
         "th", "dport", "7946", "counter", "comment", '"unbound"'])


def nft_counters():
    data = json.loads(nft(["-j", "list", "table", "inet", NFT_TABLE]))
    out = {}
    for item in data.get("nftables", []):
        r = item.get("rule")
        if not r or r.get("chain") != "out" or "comment" not in r:
            continue
        for e in r["expr"]:
            if "counter" in e:
                out[r["comment"]] = e["counter"]["bytes"]
    return out


def nft_loss(system, pct):
    pre = RANGE[system]
    nft(["delete", "chain", "inet", NFT_TABLE, "loss"], check=False)
    if pct <= 0:
        return
    nft(["add", "chain", "inet", NFT_TABLE, "loss",
         "{ type filter hook output priority -10 ; policy accept ; }"])
    # Packets to an agent's gossip port (UDP, and stream data to the
    # listener), and the listener's stream answers: each dropped with
    # probability pct%, independently.  Control API traffic is untouched.
    nft(["add", "rule", "inet", NFT_TABLE, "loss", "ip", "daddr", f"{pre}.0/24",
         "meta", "l4proto", "{ tcp, udp }", "th", "dport", "7946",
         "numgen", "random", "mod", "100", "<", str(pct), "drop"])
    nft(["add", "rule", "inet", NFT_TABLE, "loss", "ip", "saddr", f"{pre}.0/24",
         "meta", "l4proto", "{ tcp, udp }", "th", "sport", "7946", "th", "dport", "!=", "7946",
         "numgen", "random", "mod", "100", "<", str(pct), "drop"])


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    return int(st[11]) + int(st[12])  # utime, stime (fields 14, 15)


def sched_ns(pid):
    """Time on CPU in ns summed over the process's threads
    (/proc/PID/task/*/schedstat): finer than utime+stime's 10 ms ticks."""
    total = 0
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
    except OSError:
        pass
    return total


def rss_kb(pid, field="VmRSS"):
    """VmRSS, or RssAnon (private to the process) / RssFile (mapped files:
    the binary and shared libraries, shared between agents)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cloister_metric(ip, name):
    try:
        body = get(f"http://{ip}:7947/metrics", 3).decode()
        return sum(float(l.split()[-1]) for l in body.splitlines() if l.startswith(name + " "))
    except Exception:
        return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--system", required=True, choices=["cloister", "serf"])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--idle", type=float, default=30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--loss", default="10,20")
    ap.add_argument("--loss-seconds", type=float, default=60)
    ap.add_argument("--pidfile", default="/dev/null")
    ap.add_argument("--work", default="/tmp")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "cloister"))
    ap.add_argument("--keyed", action="store_true",
                    help="both systems encrypt with one 32-byte cluster key")
    a = ap.parse_args()
    n, system = a.n, a.system
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below
    res = {"system": system, "n": n, "idle_seconds": a.idle,
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    nft_setup(system, n)
    key = base64.b64encode(os.urandom(32)).decode() if a.keyed else None
    res["keyed"] = bool(a.keyed)
    cl = Cluster(system, n, a.work, a.pidfile, a.binary, key)
    try:
        run(cl, a, res)
    finally:
        cl.stop_all()
        nft(["delete", "table", "inet", NFT_TABLE], check=False)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    log(f"{system} N={n}: {json.dumps(res)}")


def join(cl, work):
    """Join convergence: the seed first, then every other agent at once;
    seconds from the last start until every agent lists N alive, or None
    if some did not within 120 s."""
    n, system = cl.n, cl.system
    busy = [i for i in range(1, n + 1) if cl.members(i) is not None]
    if busy:
        raise SystemExit(f"{system}: something already answers on {cl.ip(busy[0])}: stale agents?")
    cl.start(1)
    if not cl.wait_up(1):
        raise SystemExit(f"{system} agent 1 did not start: see {work}")
    for i in range(2, n + 1):
        cl.start(i)
    t_last = time.monotonic()
    first = until_all(cl, range(1, n + 1),
                      lambda m: sum(s == "alive" for s in m.values()) >= n, 120)
    if len(first) < n:
        log(f"{system}: only {len(first)} of {n} agents saw {n} alive in 120 s")
        return None
    return round(max(first.values()) - t_last, 3)


def run(cl, a, res):
    n, system = cl.n, cl.system
    converge = join(cl, a.work)
    if converge is None:
        raise SystemExit(f"{system}: not every agent saw {n} alive in 120 s")
    res["converge_s"] = converge
    log(f"{system} N={n}: converged in {res['converge_s']} s")

    # --- idle cost: nothing polls the agents during the window ---
    time.sleep(5)
    pids = {i: p.pid for i, p in cl.procs.items()}
    c0 = {i: cpu_ticks(p) for i, p in pids.items()}
    s0 = {i: sched_ns(p) for i, p in pids.items()}
    b0 = nft_counters()
    m0 = ({i: cloister_metric(cl.ip(i), "cloister_sent_bytes_total") for i in pids}
          if system == "cloister" else {})
    t0 = time.monotonic()
    time.sleep(a.idle)
    c1 = {i: cpu_ticks(p) for i, p in pids.items()}
    s1 = {i: sched_ns(p) for i, p in pids.items()}
    b1 = nft_counters()
    dt = time.monotonic() - t0
    rss = [rss_kb(p) for p in pids.values()]
    cpu = [(c1[i] - c0[i]) / HZ * 60 / dt for i in pids]
    sch = [(s1[i] - s0[i]) / 1e9 * 60 / dt for i in pids]
    per = [(b1[f"a{i}"] - b0.get(f"a{i}", 0)) / dt for i in pids]
    unbound = (b1.get("unbound", 0) - b0.get("unbound", 0)) / dt
    total = sum(per) + unbound
    res.update({
        "rss_kb_median": statistics.median(rss), "rss_kb_max": max(rss),
        "rss_anon_kb_median": statistics.median(rss_kb(p, "RssAnon") for p in pids.values()),
        "rss_file_kb_median": statistics.median(rss_kb(p, "RssFile") for p in pids.values()),
        "cpu_s_per_min_median": round(statistics.median(cpu), 4),
        "cpu_s_per_min_max": round(max(cpu), 4),
        "cpu_s_per_min_mean": round(statistics.mean(cpu), 4),
        "cpu_s_per_min_median_schedstat": round(statistics.median(sch), 4),
        "bytes_per_s_per_agent": round(total / n, 1),
        "bytes_per_s_attributed_median": round(statistics.median(per), 1),
        "bytes_per_s_unbound_total": round(unbound, 1),
    })
    if system == "cloister":
        m1 = {i: cloister_metric(cl.ip(i), "cloister_sent_bytes_total") for i in pids}
        res["cloister_metric_bytes_out_per_s_median"] = round(
            statistics.median((m1[i] - m0[i]) / dt for i in pids), 1)
    log(f"{system} N={n}: idle rss {res['rss_kb_median']} kB, cpu "
        f"{res['cpu_s_per_min_median']} s/min (schedstat {res['cpu_s_per_min_median_schedstat']}), {res['bytes_per_s_per_agent']} B/s")

    # --- failure detection: kill -9 a different non-seed agent each run ---
    det, det_first = [], []
    for r in range(a.runs):
        victim = n - r
        if victim <= 1:
            break
        vname = cl.name(victim)
        surv = [i for i in cl.live() if i != victim]
        ok = until_all(cl, surv, lambda m: m.get(vname) == "alive", 30)
        if len(ok) < len(surv):
            log(f"{system}: not every survivor saw {vname} alive before run {r}")
        time.sleep(1)
        os.kill(cl.procs[victim].pid, signal.SIGKILL)
        tk = time.monotonic()
        cl.procs[victim].wait(timeout=5)
        cl.dead.add(victim)
        seen = until_all(cl, surv, lambda m: m.get(vname) == FAILED[system], 90)
        if len(seen) < len(surv):
            log(f"{system}: run {r}: only {len(seen)}/{len(surv)} saw {vname} failed in 90 s")
            det.append(None)
            continue
        det.append(round(max(seen.values()) - tk, 3))
        det_first.append(round(min(seen.values()) - tk, 3))
        log(f"{system} N={n}: run {r}: {vname} failed everywhere after {det[-1]} s "
            f"(first observer {det_first[-1]} s)")
        time.sleep(2)
    good = [d for d in det if d is not None]
    res["detect_runs_s"] = det
    res["detect_first_runs_s"] = det_first
    res["detect_s_median"] = round(statistics.median(good), 3) if good else None

    # --- false positives under loss: agents still alive wrongly declared failed ---
    res["false_positives"] = {}
    for pct in [int(x) for x in a.loss.split(",") if x.strip()]:
        live = cl.live()
        names = {cl.name(i) for i in live}
        d0 = ({i: cloister_metric(cl.ip(i), "cloister_deaths_declared_total") for i in live}
              if system == "cloister" else {})
        nft_loss(system, pct)
        pairs, members = set(), set()
        end = time.monotonic() + a.loss_seconds
        rounds = 0
        while time.monotonic() < end and rounds < 100000:
            rounds += 1
            for i, m in cl.poll(live).items():
                for nm, st in (m or {}).items():
                    if nm in names and st == FAILED[system]:
                        pairs.add((i, nm))
                        members.add(nm)
            time.sleep(0.2)
        nft_loss(system, 0)
        fp = {"pairs": len(pairs), "members": len(members), "polls": rounds,
              "seconds": a.loss_seconds}
        if system == "cloister":
            fp["deaths_declared"] = sum(
                cloister_metric(cl.ip(i), "cloister_deaths_declared_total") - d0[i] for i in live)
        res["false_positives"][str(pct)] = fp
        log(f"{system} N={n}: {pct}% loss: {fp}")
        # let wrongly failed members come back before the next level
        until_all(cl, live, lambda m: sum(m.get(x) == "alive" for x in names) >= len(names), 60)


if __name__ == "__main__":
    main()
