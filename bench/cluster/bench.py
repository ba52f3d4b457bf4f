#!/usr/bin/env python3
"""cloister against Serf on loopback: N real agents of each, one system at a
time, same machine, matched timing (both LAN profiles).  Called by run.sh;
see bench/cluster/README.md.

  bench.py --system cloister|serf --n N --out FILE.json [--idle S] [--runs R]
           [--joins K] [--loss 10,20] [--loss-seconds S] [--pidfile F] [--work DIR]

Address plan (agent i = 1..N, j = i - 1): 127.2.(j // 250).(j % 250 + 1)
for cloister (gossip 7946, HTTP 7947), 127.3.(j // 250).(j % 250 + 1) for
Serf (bind 7946, RPC 7373): up to 64,000 agents per system, nothing else in
the repository uses 127.2/16 or 127.3/16.

Both systems are polled the same way from this one process: a persistent
connection per agent (cloister: HTTP/1.1 keep-alive, GET /v1/members;
Serf: its msgpack RPC, members-filtered), each request filtered by status
on the agent's side (?status=alive|dead, Status "alive"|"failed"),
reconnecting at most once per request on an error.
Every process this starts is written to --pidfile and killed by PID at the
end (run.sh kills them again from the pidfile on any exit).  Every wait is
bounded in time.
"""
import argparse
import base64
import concurrent.futures as cf
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

try:
    import msgpack
except ImportError:  # Debian: python3-msgpack (scripts/setup-deps.sh --bench)
    msgpack = None

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NFT_TABLE = "clbench"
RANGE = {"cloister": "127.2", "serf": "127.3"}
FAILED = {"cloister": "dead", "serf": "failed"}
HZ = os.sysconf("SC_CLK_TCK")
MAX_N = 64000


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def nft(cmd, check=True):
    r = subprocess.run(["nft"] + cmd, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"nft {' '.join(cmd)}: {r.stderr.strip()}")
    return r.stdout


def agent_ip(system, i):
    j = i - 1
    return f"{RANGE[system]}.{j // 250}.{j % 250 + 1}"


def subnet(system):
    return f"{RANGE[system]}.0.0/16"


# Every cloister agent of a run takes the same control API token (the API
# requires one); requests send it.
TOKEN = "bench-" + os.urandom(16).hex()


class HttpPoll:
    """One keep-alive HTTP/1.1 connection to a cloister agent's API."""

    def __init__(self, ip, port=7947, timeout=2):
        self.ip, self.port, self.timeout = ip, port, timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def get(self, path):
        for attempt in range(2):  # the open connection, then at most one new one
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.ip, self.port, timeout=self.timeout)
            try:
                self.conn.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
                r = self.conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise OSError(f"HTTP {r.status}")
                if r.will_close:
                    self.close()
                return body
            except Exception:
                self.close()
                if attempt == 1:
                    raise
        return None

    def members(self, status=None):
        path = "/v1/members" + (f"?status={status}" if status else "")
        return {m["name"]: m["status"] for m in json.loads(self.get(path))}


class SerfRpc:
    """One persistent connection to a Serf agent's RPC (msgpack over TCP):
    a request is a header {Command, Seq} and, for some commands, a body;
    the answer a header {Error, Seq} and, for some, a body.  The first
    request on a connection is a handshake {Version: 1}."""

    def __init__(self, ip, port=7373, timeout=2):
        self.ip, self.port, self.timeout = ip, port, timeout
        self.sock, self.unp, self.seq = None, None, 0

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except Exception:
                pass
        self.sock = None

    def _read(self):
        while True:
            for obj in self.unp:
                return obj
            d = self.sock.recv(1 << 16)
            if not d:
                raise EOFError("serf rpc: connection closed")
            self.unp.feed(d)

    def _call(self, command, body=None, answer=True):
        self.seq += 1
        seq = self.seq
        msg = msgpack.packb({"Command": command, "Seq": seq})
        if body is not None:
            msg += msgpack.packb(body)
        self.sock.sendall(msg)
        hdr = self._read()
        if hdr.get("Seq") != seq or hdr.get("Error"):
            raise OSError(f"serf rpc {command}: {hdr}")
        return self._read() if answer else None

    def _connect(self):
        self.sock = socket.create_connection((self.ip, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.unp = msgpack.Unpacker(raw=False)
        self._call("handshake", {"Version": 1}, answer=False)

    def request(self, command, body=None):
        for attempt in range(2):
            try:
                if self.sock is None:
                    self._connect()
                return self._call(command, body)
            except Exception:
                self.close()
                if attempt == 1:
                    raise
        return None

    def members(self, status=None):
        if status:  # Status is a regular expression, anchored by Serf
            r = self.request("members-filtered", {"Status": status})
        else:
            r = self.request("members")
        return {m["Name"]: m["Status"] for m in r["Members"]}


class Cluster:
    def __init__(self, system, n, work, pidfile, binary, key=None):
        if system == "serf" and msgpack is None:
            raise SystemExit("bench.py: python3-msgpack missing (scripts/setup-deps.sh --bench)")
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
        self.procs = {}  # i -> Popen
        self.dead = set()
        cls = HttpPoll if system == "cloister" else SerfRpc
        self.conns = {i: cls(self.ip(i)) for i in range(1, n + 1)}
        self.pool = cf.ThreadPoolExecutor(max_workers=8)

    def ip(self, i):
        return agent_ip(self.system, i)

    def name(self, i):
        return f"bench@{self.ip(i)}" if self.system == "cloister" else f"s{i}"

    def start(self, i):
        ip = self.ip(i)
        seed = self.ip(1)
        if self.system == "cloister":
            cmd = [self.binary, "agent", "--app", "bench", "--advertise", f"{ip}:7946",
                   "--http", f"{ip}:7947", "--sentry", f"{seed}:7946",
                   "--log-level", "warn"]
            if self.key:
                cmd += ["--key-file", self.keyfile]
        else:
            cmd = ["serf", "agent", f"-node=s{i}", f"-bind={ip}:7946",
                   f"-rpc-addr={ip}:7373", "-profile=lan", "-log-level=warn"]
            if self.key:
                cmd.append(f"-encrypt={self.key}")
            if i != 1:
                cmd.append(f"-join={seed}:7946")
        out = open(os.path.join(self.work, f"{self.system}-{i}.log"), "ab")
        env = dict(os.environ, CLOISTER_QUIET="1", CLOISTER_TOKEN=TOKEN)
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                             stdin=subprocess.DEVNULL)
        out.close()
        self.procs[i] = p
        self.dead.discard(i)
        with open(self.pidfile, "a") as f:
            f.write(f"{p.pid}\n")
        return p

    def write_pidfile(self):
        """The pidfile again, with only the agents still running: a reaped
        agent's PID may be reused by someone else's process."""
        if self.pidfile == "/dev/null":
            return
        with open(self.pidfile, "w") as f:
            for p in self.procs.values():
                if p.returncode is None:
                    f.write(f"{p.pid}\n")

    def members(self, i, status=None):
        """{name: status} as agent i sees it (only members in `status`,
        "alive" or "failed", filtered by the agent), or None if it did not
        answer."""
        if status == "failed":
            status = FAILED[self.system]
        try:
            return self.conns[i].members(status)
        except Exception:
            return None

    def poll(self, idx, status=None):
        """members() of every agent in idx, concurrently: {i: members}."""
        idx = list(idx)
        return dict(zip(idx, self.pool.map(lambda i: self.members(i, status), idx)))

    def metric(self, i, name):
        """A cloister counter from /metrics (over the agent's connection)."""
        try:
            body = self.conns[i].get("/metrics").decode()
            return sum(float(l.split()[-1]) for l in body.splitlines()
                       if l.startswith(name + " "))
        except Exception:
            return float("nan")

    def live(self):
        return [i for i in sorted(self.procs) if i not in self.dead]

    def wait_up(self, i, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.members(i, "alive") is not None:
                return True
            if self.procs[i].poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def kill_all(self):
        """Every agent killed (SIGKILL) and reaped; the poller's connections
        closed; the Cluster can start again."""
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
        for c in self.conns.values():
            c.close()
        self.procs, self.dead = {}, set()
        self.write_pidfile()

    def stop_all(self):
        self.kill_all()
        self.pool.shutdown(wait=True)


def until_all(cl, idx, pred, timeout, status=None):
    """Polls agents idx (members filtered by status) until pred(members)
    holds for each; returns {i: monotonic time first seen true} (missing
    entries: never)."""
    first = {}
    end = time.monotonic() + timeout
    pending = set(idx)
    while pending and time.monotonic() < end:
        got = cl.poll(sorted(pending), status)
        now = time.monotonic()
        for i, m in got.items():
            if m is not None and pred(m):
                first[i] = now
                pending.discard(i)
        if pending:
            time.sleep(0.05)
    return first


# ---- nftables byte counters: one set of the agents' addresses, a counter
# per element (a hash lookup per packet, whatever N) ----

def nft_setup(system, n):
    net = subnet(system)
    nft(["delete", "table", "inet", NFT_TABLE], check=False)
    nft(["add", "table", "inet", NFT_TABLE])
    # No connection tracking between the agents: the machine's NAT table
    # (podman's) loads conntrack, whose table (nf_conntrack_max 262,144)
    # N = 500 agents' UDP pairs would come close to filling, dropping what
    # does not fit.  Both systems alike.
    nft(["add", "chain", "inet", NFT_TABLE, "raw_out",
         "{ type filter hook output priority raw ; policy accept ; }"])
    nft(["add", "rule", "inet", NFT_TABLE, "raw_out", "ip", "saddr", net, "notrack"])
    nft(["add", "rule", "inet", NFT_TABLE, "raw_out", "ip", "daddr", net, "notrack"])
    nft(["add", "chain", "inet", NFT_TABLE, "raw_pre",
         "{ type filter hook prerouting priority raw ; policy accept ; }"])
    nft(["add", "rule", "inet", NFT_TABLE, "raw_pre", "ip", "daddr", net, "notrack"])
    nft(["add", "chain", "inet", NFT_TABLE, "out",
         "{ type filter hook output priority 0 ; policy accept ; }"])
    nft(["add", "set", "inet", NFT_TABLE, "agents",
         f"{{ type ipv4_addr ; size {max(n, 16) * 2} ; counter ; }}"])
    for k in range(0, n, 500):
        addrs = ", ".join(agent_ip(system, i) for i in range(k + 1, min(n, k + 500) + 1))
        nft(["add", "element", "inet", NFT_TABLE, "agents", f"{{ {addrs} }}"])
    # Everything an agent sends, except its control API's answers (HTTP 7947,
    # Serf RPC 7373) that the benchmark itself asks for: the source port is
    # tested first, so only the counted packets reach the set's lookup.
    nft(["add", "rule", "inet", NFT_TABLE, "out", "meta", "l4proto", "{ tcp, udp }",
         "th", "sport", "!=", "{ 7947, 7373 }", "ip", "saddr", "@agents"])
    # Stream connections an agent opens without binding its address leave
    # from 127.0.0.1: counted together, spread over the agents.
    nft(["add", "rule", "inet", NFT_TABLE, "out", "ip", "saddr", "!=", net,
         "ip", "daddr", net, "meta", "l4proto", "{ tcp, udp }",
         "th", "dport", "7946", "counter", "comment", '"unbound"'])


def nft_counters(system):
    """{agent ip: bytes, "unbound": bytes}"""
    out = {}
    data = json.loads(nft(["-j", "list", "set", "inet", NFT_TABLE, "agents"]))
    for item in data.get("nftables", []):
        for e in (item.get("set") or {}).get("elem", []):
            e = e.get("elem", e)
            if isinstance(e, dict) and "counter" in e:
                out[e["val"]] = e["counter"]["bytes"]
    data = json.loads(nft(["-j", "list", "chain", "inet", NFT_TABLE, "out"]))
    for item in data.get("nftables", []):
        r = item.get("rule")
        if r and r.get("comment") == "unbound":
            for e in r["expr"]:
                if "counter" in e:
                    out["unbound"] = e["counter"]["bytes"]
    return out


def nft_loss(system, pct):
    net = subnet(system)
    nft(["delete", "chain", "inet", NFT_TABLE, "loss"], check=False)
    if pct <= 0:
        return
    nft(["add", "chain", "inet", NFT_TABLE, "loss",
         "{ type filter hook output priority -10 ; policy accept ; }"])
    # Packets to an agent's gossip port (UDP, and stream data to the
    # listener), and the listener's stream answers: each dropped with
    # probability pct%, independently.  Control API traffic is untouched.
    nft(["add", "rule", "inet", NFT_TABLE, "loss", "ip", "daddr", net,
         "meta", "l4proto", "{ tcp, udp }", "th", "dport", "7946",
         "numgen", "random", "mod", "100", "<", str(pct), "drop"])
    nft(["add", "rule", "inet", NFT_TABLE, "loss", "ip", "saddr", net,
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


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--system", required=True, choices=["cloister", "serf"])
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--idle", type=float, default=30)
    ap.add_argument("--runs", type=int, default=9, help="kill -9 runs (detection)")
    ap.add_argument("--joins", type=int, default=1,
                    help="joins from scratch; the last one's cluster is measured further")
    ap.add_argument("--wave", type=int, default=0,
                    help="joiners started at once (0: all N-1)")
    ap.add_argument("--wave-gap", type=float, default=2.0, help="s between waves")
    ap.add_argument("--join-timeout", type=float, default=120,
                    help="s a join may take before it counts as failed")
    ap.add_argument("--loss", default="10,20")
    ap.add_argument("--loss-seconds", type=float, default=60)
    ap.add_argument("--pidfile", default="/dev/null")
    ap.add_argument("--work", default="/tmp")
    ap.add_argument("--binary", default=os.path.join(ROOT, "build-static", "cloister"))
    ap.add_argument("--keyed", action="store_true",
                    help="both systems encrypt with one 32-byte cluster key")
    a = ap.parse_args()
    n, system = a.n, a.system
    if not 4 <= n <= MAX_N:
        raise SystemExit(f"bench.py: N must be 4..{MAX_N}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below
    res = {"system": system, "n": n, "idle_seconds": a.idle,
           "poller": "persistent connections from one process: "
                     + ("HTTP/1.1 keep-alive GET /v1/members?status=..." if system == "cloister"
                        else "msgpack RPC members-filtered {Status}"),
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    nft_setup(system, n)
    key = base64.b64encode(os.urandom(32)).decode() if a.keyed else None
    res["keyed"] = bool(a.keyed)
    res["join_wave"], res["join_wave_gap_s"] = a.wave, (a.wave_gap if a.wave else 0)
    cl = Cluster(system, n, a.work, a.pidfile, a.binary, key)
    try:
        run(cl, a, res)
    finally:
        cl.stop_all()
        nft(["delete", "table", "inet", NFT_TABLE], check=False)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    log(f"{system} N={n}: {json.dumps(res)}")


def join(cl, work, wave=0, gap=0.0, timeout=120):
    """Join convergence: the seed first, then every other agent, all at
    once or (wave > 0) `wave` at a time with `gap` seconds between waves;
    seconds from the last start until every agent lists N alive, or None
    if some did not within `timeout` s."""
    n, system = cl.n, cl.system
    busy = [i for i in (1, 2, n) if cl.members(i) is not None]
    if busy:
        raise SystemExit(f"{system}: something already answers on {cl.ip(busy[0])}: stale agents?")
    cl.start(1)
    if not cl.wait_up(1):
        raise SystemExit(f"{system} agent 1 did not start: see {work}")
    for i in range(2, n + 1):
        if wave > 0 and i > 2 and (i - 2) % wave == 0:
            time.sleep(gap)
        cl.start(i)
    t_last = time.monotonic()
    first = until_all(cl, range(1, n + 1), lambda m: len(m) >= n, timeout, "alive")
    if len(first) < n:
        log(f"{system}: only {len(first)} of {n} agents saw {n} alive in {timeout:g} s")
        return None
    return round(max(first.values()) - t_last, 3)


def all_alive(cl, timeout):
    """Waits until every live agent lists every live agent alive."""
    live = cl.live()
    names = {cl.name(i) for i in live}
    ok = until_all(cl, live, lambda m: names <= m.keys(), timeout, "alive")
    return len(ok) == len(live)


def run(cl, a, res):
    n, system = cl.n, cl.system
    # --- join convergence, from scratch `joins` times; the last cluster stays ---
    joins = []
    for k in range(max(1, a.joins)):
        if k:
            cl.kill_all()
            time.sleep(1)  # ports free again before the next join
        joins.append(join(cl, a.work, a.wave, a.wave_gap, a.join_timeout))
        log(f"{system} N={n}: join {k + 1}/{a.joins}: {joins[-1]} s (load {loadavg()})")
    if joins[-1] is None and not all_alive(cl, a.join_timeout):
        raise SystemExit(f"{system}: not every agent saw {n} alive in {2 * a.join_timeout:g} s")
    good = [j for j in joins if j is not None]
    res["joins_s"] = joins
    res["converge_s"] = round(statistics.median(good), 3)
    res["converge_failed"] = len(joins) - len(good)

    # --- idle cost: nothing polls the agents during the window ---
    time.sleep(5)
    pids = {i: p.pid for i, p in cl.procs.items()}
    c0 = {i: cpu_ticks(p) for i, p in pids.items()}
    s0 = {i: sched_ns(p) for i, p in pids.items()}
    m0 = ({i: cl.metric(i, "cloister_sent_bytes_total") for i in pids}
          if system == "cloister" else {})
    b0 = nft_counters(system)
    t0 = time.monotonic()
    time.sleep(a.idle)
    b1 = nft_counters(system)
    dt = time.monotonic() - t0
    c1 = {i: cpu_ticks(p) for i, p in pids.items()}
    s1 = {i: sched_ns(p) for i, p in pids.items()}
    res["idle_loadavg"] = loadavg()
    rss = [rss_kb(p) for p in pids.values()]
    cpu = [(c1[i] - c0[i]) / HZ * 60 / dt for i in pids]
    sch = [(s1[i] - s0[i]) / 1e9 * 60 / dt for i in pids]
    per = [(b1.get(cl.ip(i), 0) - b0.get(cl.ip(i), 0)) / dt for i in pids]
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
        "cpu_s_per_min_total_schedstat": round(sum(sch), 3),
        "bytes_per_s_per_agent": round(total / n, 1),
        "bytes_per_s_attributed_median": round(statistics.median(per), 1),
        "bytes_per_s_unbound_total": round(unbound, 1),
    })
    if system == "cloister":
        m1 = {i: cl.metric(i, "cloister_sent_bytes_total") for i in pids}
        res["cloister_metric_bytes_out_per_s_median"] = round(
            statistics.median((m1[i] - m0[i]) / dt for i in pids), 1)
    log(f"{system} N={n}: idle rss {res['rss_kb_median']} kB, cpu "
        f"{res['cpu_s_per_min_median']} s/min (schedstat {res['cpu_s_per_min_median_schedstat']}), "
        f"{res['bytes_per_s_per_agent']} B/s, load {res['idle_loadavg']}")

    # --- failure detection: kill -9 a non-seed agent, then start it again
    # (same name and address) so every run has N agents ---
    det, det_first = [], []
    for r in range(a.runs):
        victim = n - (r % (n - 1))
        vname = cl.name(victim)
        surv = [i for i in cl.live() if i != victim]
        if not all_alive(cl, 60):
            log(f"{system}: not every agent saw every other alive before run {r}")
        time.sleep(1)
        os.kill(cl.procs[victim].pid, signal.SIGKILL)
        tk = time.monotonic()
        cl.procs[victim].wait(timeout=5)
        cl.dead.add(victim)
        cl.write_pidfile()
        seen = until_all(cl, surv, lambda m: vname in m, 90, "failed")
        if len(seen) < len(surv):
            log(f"{system}: run {r}: only {len(seen)}/{len(surv)} saw {vname} failed in 90 s")
            det.append(None)
        else:
            det.append(round(max(seen.values()) - tk, 3))
            det_first.append(round(min(seen.values()) - tk, 3))
            log(f"{system} N={n}: run {r}: {vname} failed everywhere after {det[-1]} s "
                f"(first observer {det_first[-1]} s)")
        cl.conns[victim].close()
        cl.start(victim)
        cl.wait_up(victim)
    good = [d for d in det if d is not None]
    res["detect_runs_s"] = det
    res["detect_first_runs_s"] = det_first
    res["detect_s_median"] = round(statistics.median(good), 3) if good else None
    res["detect_restart"] = True
    if not all_alive(cl, 90):
        log(f"{system}: not every agent saw every other alive after the detection runs")

    # --- false positives under loss: agents still alive wrongly declared failed ---
    res["false_positives"] = {}
    for pct in [int(x) for x in a.loss.split(",") if x.strip()]:
        live = cl.live()
        names = {cl.name(i) for i in live}
        d0 = ({i: cl.metric(i, "cloister_deaths_declared_total") for i in live}
              if system == "cloister" else {})
        nft_loss(system, pct)
        pairs, members = set(), set()
        end = time.monotonic() + a.loss_seconds
        rounds = 0
        while time.monotonic() < end and rounds < 100000:
            rounds += 1
            for i, m in cl.poll(live, "failed").items():
                for nm in (m or {}):
                    if nm in names:
                        pairs.add((i, nm))
                        members.add(nm)
            time.sleep(0.2)
        nft_loss(system, 0)
        fp = {"pairs": len(pairs), "members": len(members), "polls": rounds,
              "seconds": a.loss_seconds}
        if system == "cloister":
            fp["deaths_declared"] = sum(
                cl.metric(i, "cloister_deaths_declared_total") - d0[i] for i in live)
        res["false_positives"][str(pct)] = fp
        log(f"{system} N={n}: {pct}% loss: {fp}")
        # let wrongly failed members come back before the next level
        all_alive(cl, 60)


if __name__ == "__main__":
    main()
