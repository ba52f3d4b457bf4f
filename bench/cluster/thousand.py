#!/usr/bin/env python3
"""N (default 1,000) real cloister agents on one machine: start, converge,
idle, one kill -9, stop.  Called by thousand.sh (which raises the limits,
holds the pidfile and kills every agent by PID on any exit); see
bench/cluster/README.md.

  thousand.py --n N --binary B --out FILE.json --pidfile F --work DIR
              [--idle S] [--check S] [--wave W] [--wave-gap S] [--settle S]

Address plan: agent i (0-based) on 127.4.(i // 250).(i % 250 + 1), gossip
7946, HTTP 7947; agent 0 is every agent's sentry (the seed).  Nothing else
may use 127.4.0.0/16.

What is measured, and from where:
- convergence: seconds from the last agent's start until every agent's
  GET /v1/status says `alive` = N (alive + suspect, this node included)
  and its GET /v1/members?status=suspect,dead is empty (both small answers:
  the full member list of 1,000 is ~150 kB, polled 1,000 times a round);
- idle, over --idle seconds with nothing polling but one sparse check every
  --check seconds (GET /v1/members?status=suspect,dead of each agent):
  CPU of all agents (utime+stime from /proc/PID/stat, and the threads'
  schedstat), RSS per agent (VmRSS; median, max), bytes sent per agent per
  second (one nftables counter on the output hook for source 127.4.0.0/16,
  control-API answers excluded, plus one for streams from other sources),
  and the agents' own counters (/metrics) before and after;
- false positives: every agent is alive during the idle window, so each
  death an agent declares (cloister_deaths_declared_total, summed over the
  agents) is a false positive; suspicions and refutations are reported
  beside it, and every (observer, member) pair a sparse check finds
  suspect or dead is listed;
- one kill -9 (agent N-1, not the seed): time until each survivor's
  GET /v1/members?status=dead lists it, polled round by round over the
  survivors that do not yet.
"""
import argparse
import asyncio
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time

NFT_TABLE = "clthousand"
PREFIX = "127.4.0.0/16"
HZ = os.sysconf("SC_CLK_TCK")
TOKEN = os.environ.get("THOUSAND_TOKEN") or "thousand-" + os.urandom(16).hex()
APP = "thousand"


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def ip(i):
    return f"127.4.{i // 250}.{i % 250 + 1}"


def name(i):
    return f"{APP}@{ip(i)}"


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


# ---- HTTP: a minimal asyncio client (one short connection per request) ----

async def http_get(host, path, timeout=5.0):
    """Body of GET http://host:7947/path as bytes, or None."""
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, 7947), timeout)
    except Exception:
        return None
    try:
        w.write((f"GET {path} HTTP/1.1\r\nHost: {host}:7947\r\n"
                 f"Authorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n").encode())
        data = await asyncio.wait_for(r.read(), timeout)
    except Exception:
        return None
    finally:
        w.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return body


async def gather_limited(coros, limit=48):
    sem = asyncio.Semaphore(limit)

    async def one(c):
        async with sem:
            return await c
    return await asyncio.gather(*(one(c) for c in coros))


async def get_json_all(idx, path, timeout=5.0, stamps=None):
    """{i: parsed JSON or None} for agents idx.  stamps, if given, gets
    {i: time.monotonic() when agent i's answer was complete}: a round over
    1,000 loaded agents takes tens of seconds, and the round's end would
    date every answer by its slowest."""
    idx = list(idx)

    async def stamped(i):
        b = await http_get(ip(i), path, timeout)
        if stamps is not None:
            stamps[i] = time.monotonic()
        return b
    bodies = await gather_limited([stamped(i) for i in idx])
    out = {}
    for i, b in zip(idx, bodies):
        try:
            out[i] = json.loads(b) if b is not None else None
        except ValueError:
            out[i] = None
    return out


METRICS = ["cloister_deaths_declared_total", "cloister_suspicions_total",
           "cloister_refutations_total", "cloister_pushpulls_total",
           "cloister_checksum_syncs_total", "cloister_pushpulls_skipped_total",
           "cloister_probes_total", "cloister_probe_failures_total",
           "cloister_indirect_probes_total", "cloister_stream_pings_total",
           "cloister_stream_ping_rescues_total", "cloister_packets_sent_total",
           "cloister_packets_received_total", "cloister_streams_sent_total",
           "cloister_sent_bytes_total", "cloister_send_errors_total",
           'cloister_stream_connections_closed_total{reason="refused"}',
           'cloister_stream_connections_closed_total{reason="evicted"}',
           "cloister_health"]


def parse_metrics(body):
    vals = {}
    for line in body.decode(errors="replace").splitlines():
        if line.startswith("#"):
            continue
        k, _, v = line.rpartition(" ")
        if k in METRICS:
            vals[k] = float(v)
    return vals


async def metrics_all(idx):
    idx = list(idx)
    bodies = await gather_limited([http_get(ip(i), "/metrics", 10) for i in idx], 24)
    return {i: (parse_metrics(b) if b is not None else None) for i, b in zip(idx, bodies)}


def metric_sums(m0, m1):
    """Sum over agents of each counter's increase (agents answering both)."""
    out = {}
    both = [i for i in m1 if m0.get(i) and m1.get(i)]
    for k in METRICS:
        out[k] = sum(m1[i].get(k, 0) - m0[i].get(k, 0) for i in both)
    out["agents"] = len(both)
    return out


# ---- nftables: no connection tracking for 127.4/16, and byte counters ----

def nft(args, check=True, stdin=None):
    r = subprocess.run(["nft"] + args, capture_output=True, text=True, timeout=20, input=stdin)
    if check and r.returncode != 0:
        raise RuntimeError(f"nft {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def nft_setup(notrack):
    nft(["delete", "table", "inet", NFT_TABLE], check=False)
    rules = f"""table inet {NFT_TABLE} {{
  chain raw_out {{ type filter hook output priority raw ; policy accept ;
    {"ip saddr " + PREFIX + " notrack" if notrack else ""}
    {"ip daddr " + PREFIX + " notrack" if notrack else ""}
  }}
  chain raw_pre {{ type filter hook prerouting priority raw ; policy accept ;
    {"ip daddr " + PREFIX + " notrack" if notrack else ""}
  }}
  chain out {{ type filter hook output priority 0 ; policy accept ;
    ip saddr {PREFIX} udp sport != 7947 counter comment "udp"
    ip saddr {PREFIX} tcp sport != 7947 counter comment "tcp"
    ip saddr != {PREFIX} ip daddr {PREFIX} tcp dport 7946 counter comment "unbound"
  }}
}}
"""
    nft(["-f", "-"], stdin=rules)


def nft_counters():
    data = json.loads(nft(["-j", "list", "table", "inet", NFT_TABLE]))
    out = {}
    for item in data.get("nftables", []):
        r = item.get("rule")
        if not r or r.get("chain") != "out" or "comment" not in r:
            continue
        for e in r["expr"]:
            if "counter" in e:
                out[r["comment"]] = (e["counter"]["bytes"], e["counter"]["packets"])
    return out


# ---- /proc ----

def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read().rsplit(")", 1)[1].split()
        return int(st[11]) + int(st[12])
    except OSError:
        return 0


def sched_ns(pid):
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


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def conntrack_count():
    try:
        with open("/proc/sys/net/netfilter/nf_conntrack_count") as f:
            return int(f.read())
    except OSError:
        return None


class Agents:
    def __init__(self, a):
        self.a = a
        self.procs = {}

    def start(self, i):
        cmd = [self.a.binary, "agent", "--app", APP, "--advertise", f"{ip(i)}:7946",
               "--http", f"{ip(i)}:7947", "--sentry", f"{ip(0)}:7946",
               "--log-level", "warn"] + self.a.agent_args.split()
        if i == 0:
            cmd += self.a.seed_args.split()
        out = open(os.path.join(self.a.work, f"agent-{i}.log"), "ab")
        env = dict(os.environ, CLOISTER_QUIET="1", CLOISTER_TOKEN=TOKEN)
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                             stdin=subprocess.DEVNULL)
        out.close()
        self.procs[i] = p
        with open(self.a.pidfile, "a") as f:
            f.write(f"{p.pid}\n")

    def stop_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


async def converge(ag, a, res):
    n = a.n
    # Refuse to run over stale agents.
    probe = await get_json_all([0, n - 1], "/v1/status", 1)
    if any(v is not None for v in probe.values()):
        raise SystemExit("something already answers on 127.4: stale agents?")
    t_first = time.monotonic()
    ag.start(0)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        if (await get_json_all([0], "/v1/status", 1))[0] is not None:
            break
        await asyncio.sleep(0.05)
    else:
        raise SystemExit("the seed did not start")
    # Waves: --wave agents at once, --wave-gap seconds apart.
    i = 1
    while i < n:
        for j in range(i, min(n, i + a.wave)):
            ag.start(j)
        i = min(n, i + a.wave)
        if i < n:
            await asyncio.sleep(a.wave_gap)
    t_last = time.monotonic()
    t_last_wall = time.time()
    res["start_s"] = round(t_last - t_first, 2)
    log(f"started {n} agents in {res['start_s']} s (waves of {a.wave}, {a.wave_gap} s apart); load {loadavg()}")
    pending = set(range(n))
    first = {}
    # What each agent's /v1/status says: the wall-clock time of its last
    # member event (members_changed_ms), read once it lists n alive and no
    # suspect: when its view became complete, whatever the poll's delay.
    view = {}
    timeline = []
    deadline = t_last + a.converge_timeout
    rounds = 0
    while pending and time.monotonic() < deadline:
        rounds += 1
        st = await get_json_all(sorted(pending), "/v1/status", 5)
        full = [i for i, s in st.items() if s is not None and s.get("alive", 0) >= n]
        if full:
            stamps = {}
            bad = await get_json_all(full, "/v1/members?status=suspect,dead", 5, stamps)
            for i in full:
                if bad[i] == []:
                    first[i] = stamps[i]
                    pending.discard(i)
                    ms = st[i].get("members_changed_ms")
                    if ms:
                        view[i] = ms / 1000.0
        alive = [s.get("alive", 0) for s in st.values() if s is not None]
        point = {"t": round(time.monotonic() - t_last, 2), "converged": len(first),
                 "answered": len(alive),
                 "alive_min": min(alive) if alive else None,
                 "alive_median": statistics.median(alive) if alive else None,
                 "load": loadavg()}
        low = sorted((s.get("alive", 0), i) for i, s in st.items() if s is not None)[:3]
        point["lowest"] = [[i, al] for al, i in low]
        point["silent"] = sum(1 for s in st.values() if s is None)
        timeline.append(point)
        if rounds % 5 == 1 or not pending:
            log(f"t+{point['t']} s: {len(first)}/{n} converged; pending alive min "
                f"{point['alive_min']} median {point['alive_median']}; lowest {point['lowest']}; "
                f"silent {point['silent']}; load {point['load']}")
        if pending:
            await asyncio.sleep(a.poll_gap)
    res["converge_timeline"] = timeline
    res["seed_metrics_after_converge"] = (await metrics_all([0]))[0]
    log(f"seed: {res['seed_metrics_after_converge']}")
    res["converge_poll_rounds"] = rounds
    if pending:
        res["converge_s"] = None
        res["not_converged"] = len(pending)
        log(f"{len(pending)} agents not converged {a.converge_timeout} s after the last start")
        return False
    res["converge_s"] = round(max(first.values()) - t_last, 2)
    res["converge_first_s"] = round(min(first.values()) - t_last, 2)
    res["converge_median_s"] = round(statistics.median(first.values()) - t_last, 2)
    if len(view) == n:
        res["converge_view_s"] = round(max(view.values()) - t_last_wall, 2)
        res["converge_view_median_s"] = round(statistics.median(view.values()) - t_last_wall, 2)
    log(f"all {n} converged {res['converge_s']} s after the last start (as polled); "
        f"by members_changed_ms: all {res.get('converge_view_s')} s, median "
        f"{res.get('converge_view_median_s')} s")
    return True


async def sparse_check(n):
    """(observer, member, status) for every member an agent lists suspect or
    dead, and the agents that did not answer."""
    got = await get_json_all(range(n), "/v1/members?status=suspect,dead", 10)
    found, silent = [], 0
    for i, m in got.items():
        if m is None:
            silent += 1
            continue
        for e in m:
            found.append((i, e["name"], e["status"]))
    return found, silent


async def idle(ag, a, res):
    n = a.n
    pids = {i: p.pid for i, p in ag.procs.items()}
    log(f"settling {a.settle} s")
    await asyncio.sleep(a.settle)
    m0 = await metrics_all(range(n))
    c0 = {i: cpu_ticks(p) for i, p in pids.items()}
    s0 = {i: sched_ns(p) for i, p in pids.items()}
    b0 = nft_counters()
    t0 = time.monotonic()
    checks, loads, minutes = [], [], []
    next_check = t0 + a.check
    end = t0 + a.idle
    prev_ticks, prev_t = sum(c0.values()), t0
    while time.monotonic() < end:
        await asyncio.sleep(max(0.0, min(next_check, end) - time.monotonic()))
        now = time.monotonic()
        loads.append(loadavg())
        ticks = sum(cpu_ticks(p) for p in pids.values())
        minutes.append(round((ticks - prev_ticks) / HZ / (now - prev_t) * 60, 2))
        prev_ticks, prev_t = ticks, now
        if now >= next_check and now < end - 1:
            tc = time.monotonic()
            found, silent = await sparse_check(n)
            checks.append({"t": round(tc - t0, 1), "pairs": len(found), "silent": silent,
                           "took_s": round(time.monotonic() - tc, 2), "sample": found[:10]})
            log(f"idle t+{round(tc - t0)} s: check: {len(found)} suspect/dead pairs, "
                f"{silent} silent, took {checks[-1]['took_s']} s; agents' CPU "
                f"{minutes[-1]} s/min; load {loads[-1]}")
            next_check += a.check
    t1 = time.monotonic()
    c1 = {i: cpu_ticks(p) for i, p in pids.items()}
    s1 = {i: sched_ns(p) for i, p in pids.items()}
    b1 = nft_counters()
    dt = t1 - t0
    m1 = await metrics_all(range(n))
    rss = sorted(status_kb(p, "VmRSS") for p in pids.values())
    anon = sorted(status_kb(p, "RssAnon") for p in pids.values())
    threads = sorted(status_kb(p, "Threads") for p in pids.values())
    cpu = [(c1[i] - c0[i]) / HZ * 60 / dt for i in pids]
    sch = [(s1[i] - s0[i]) / 1e9 * 60 / dt for i in pids]
    byt = {k: (b1[k][0] - b0.get(k, (0, 0))[0]) / dt for k in b1}
    pkt = {k: (b1[k][1] - b0.get(k, (0, 0))[1]) / dt for k in b1}
    sums = metric_sums(m0, m1)
    res["idle"] = {
        "seconds": round(dt, 1),
        "cpu_s_per_min_all_agents": round(sum(cpu), 2),
        "cpu_cores_all_agents": round(sum(cpu) / 60, 3),
        "cpu_s_per_min_all_agents_schedstat": round(sum(sch), 2),
        "cpu_s_per_min_per_agent_median": round(statistics.median(cpu), 4),
        "cpu_s_per_min_per_agent_max": round(max(cpu), 4),
        "cpu_s_per_min_per_agent_median_schedstat": round(statistics.median(sch), 4),
        "cpu_s_per_min_seed": round(cpu[0], 4) if 0 in pids else None,
        "cpu_s_per_min_by_minute": minutes,
        "rss_kb_median": statistics.median(rss), "rss_kb_max": max(rss),
        "rss_anon_kb_median": statistics.median(anon),
        "rss_kb_total": sum(rss),
        "threads_per_agent": [threads[0], threads[-1]],
        "bytes_per_s_per_agent": round(sum(byt.values()) / n, 1),
        "bytes_per_s_per_agent_udp": round(byt.get("udp", 0) / n, 1),
        "bytes_per_s_per_agent_tcp": round((byt.get("tcp", 0) + byt.get("unbound", 0)) / n, 1),
        "packets_per_s_per_agent": round(sum(pkt.values()) / n, 2),
        "metric_sums": sums,
        "per_agent_per_s": {k: round(v / max(1, sums["agents"]) / dt, 4)
                            for k, v in sums.items() if k != "agents"},
        "load_samples": loads,
        "checks": checks,
        "conntrack_count": conntrack_count(),
    }
    fp = {
        "deaths_declared": sums["cloister_deaths_declared_total"],
        "suspicions": sums["cloister_suspicions_total"],
        "refutations": sums["cloister_refutations_total"],
        "pairs_seen_in_checks": sum(c["pairs"] for c in checks),
        "agents_answering_metrics_both_times": sums["agents"],
    }
    res["false_positives"] = fp
    log(f"idle {round(dt)} s: all agents {res['idle']['cpu_s_per_min_all_agents']} CPU-s/min, "
        f"RSS median {res['idle']['rss_kb_median']} kB max {res['idle']['rss_kb_max']} kB, "
        f"{res['idle']['bytes_per_s_per_agent']} B/s per agent; false positives {fp}")


async def kill_one(ag, a, res):
    n = a.n
    v = n - 1
    vname = name(v)
    surv = [i for i in range(n) if i != v]
    await asyncio.sleep(2)
    os.kill(ag.procs[v].pid, signal.SIGKILL)
    tk = time.monotonic()
    tk_wall = time.time()
    ag.procs[v].wait(timeout=5)
    pending, first = set(surv), {}
    suspect_first = None
    rounds = 0
    end = tk + a.detect_timeout
    while pending and time.monotonic() < end:
        rounds += 1
        stamps = {}
        got = await get_json_all(sorted(pending), "/v1/members?status=suspect,dead", 5, stamps)
        for i, m in got.items():
            if not m:
                continue
            for e in m:
                if e["name"] == vname:
                    if suspect_first is None or stamps[i] < suspect_first:
                        suspect_first = stamps[i]
                    if e["status"] == "dead":
                        first[i] = stamps[i]
                        pending.discard(i)
        if pending:
            await asyncio.sleep(a.poll_gap)
    # The failure is each survivor's last member event: its
    # members_changed_ms dates the verdict without the poll's delay.
    changed = {}
    if len(first) == len(surv):
        st = await get_json_all(surv, "/v1/status", 10)
        changed = {i: s["members_changed_ms"] / 1000.0 - tk_wall for i, s in st.items()
                   if s and s.get("members_changed_ms")}
    lg = math.log10(n) if n > 10 else 1.0
    smin = 3 * lg * 1.0
    spread = 0.2 * math.ceil(math.log(n, 3))
    res["kill"] = {
        "victim": vname, "survivors": len(surv), "detected_by": len(first),
        "poll_rounds": rounds,
        "first_suspect_seen_s": round(suspect_first - tk, 2) if suspect_first else None,
        "all_dead_s": round(max(first.values()) - tk, 2) if len(first) == len(surv) else None,
        "first_dead_s": round(min(first.values()) - tk, 2) if first else None,
        "median_dead_s": round(statistics.median(first.values()) - tk, 2) if first else None,
        "all_dead_view_s": round(max(changed.values()), 2) if len(changed) == len(surv) else None,
        "first_dead_view_s": round(min(changed.values()), 2) if changed else None,
        "median_dead_view_s": round(statistics.median(changed.values()), 2) if changed else None,
        "bound": {"probe_s": 2.0, "suspicion_min_s": round(smin, 2),
                  "suspicion_max_s": round(6 * smin, 2), "spread_s": round(2 * spread, 2),
                  "confirmed_s": round(2.0 + smin + 2 * spread, 2),
                  "unconfirmed_s": round(2.0 + 6 * smin + 2 * spread, 2)},
    }
    log(f"kill -9 {vname}: {json.dumps(res['kill'])}")


async def amain(a, res):
    ag = Agents(a)
    try:
        ok = await converge(ag, a, res)
        if not ok and not a.keep_going:
            return
        if a.idle > 0:
            await idle(ag, a, res)
        if a.kill:
            await kill_one(ag, a, res)
    finally:
        ag.stop_all()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--idle", type=float, default=600)
    ap.add_argument("--check", type=float, default=60)
    ap.add_argument("--settle", type=float, default=30)
    ap.add_argument("--wave", type=int, default=100)
    ap.add_argument("--wave-gap", type=float, default=2.0)
    ap.add_argument("--poll-gap", type=float, default=0.3)
    ap.add_argument("--converge-timeout", type=float, default=300)
    ap.add_argument("--detect-timeout", type=float, default=120)
    ap.add_argument("--agent-args", default="", help="more flags for every agent")
    ap.add_argument("--seed-args", default="", help="more flags for agent 0")
    ap.add_argument("--no-kill", dest="kill", action="store_false")
    ap.add_argument("--no-notrack", dest="notrack", action="store_false")
    ap.add_argument("--keep-going", action="store_true",
                    help="measure idle and kill even if not every agent converged")
    a = ap.parse_args()
    if not 2 <= a.n <= 250 * 256:
        raise SystemExit("--n must be 2..64000")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    res = {"n": a.n, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "binary": a.binary, "wave": a.wave, "wave_gap_s": a.wave_gap,
           "notrack": a.notrack, "idle_seconds": a.idle,
           "agent_args": a.agent_args, "seed_args": a.seed_args,
           "conntrack_count_before": conntrack_count()}
    nft_setup(a.notrack)
    try:
        asyncio.run(amain(a, res))
    finally:
        nft(["delete", "table", "inet", NFT_TABLE], check=False)
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
        log(f"results: {a.out}")


if __name__ == "__main__":
    main()
