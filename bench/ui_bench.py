#!/usr/bin/env python3
"""ui_bench.py: the web page against an agent that knows 1,000 members.

    python3 bench/ui_bench.py [--n 1000] [--real R] [--cloister build-static/cloister]
                              [--pushmembers build/tests/cloister_pushmembers] [--shot PNG]

Starts R real agents (`cloister agent`, LAN profile, one cluster key) on
loopback, one address each as in a real cluster (127.0.43.1 ..
127.0.43.250, then 127.0.44.x, 127.0.45.x, 127.0.46.x; gossip 7946,
control API 7947).  Agent i joins through agent (i - 1) // 10, a tree of
fan-out 10 rooted at the observed agent 0, as a cluster joined through
several seeds would: an agent takes at most 16 inbound connections from
one address and keeps an idle one 30 s, and before commit 4c93745 every
stream between agents on loopback left from 127.0.0.1 (the kernel's pick
for an unbound socket), so agents all joining through one seed got in 16
per 30 s (the join retry).

With R < N, the other N - R members are invented: tests/tools/pushmembers.c
hands the observed agent a push-pull of N - R alive members at loopback
addresses nobody answers (127.0.25.x), as a key holder with a large view
would.  Nobody answers their probes, so from then on the agents suspect
them and declare them failed, a few a second: the page is measured while
that churn streams in.  `make static`'s binary is the one to give it:
about 2-4 MB of RSS an agent where the glibc build maps several times that.

Once the observed agent knows N members, headless Chromium opens its page
and the benchmark reports:
  - time to first paint: navigation until the page has drawn every row
    and the ring (the page's own performance.now() stamp, and wall time);
  - the cost of one full redraw of the table;
  - update latency: real agents made to leave (SIGTERM) and killed
    (SIGKILL) one at a time; for each, the delay from the observed agent's
    event on /v1/events to the page showing it, and from the signal;
  - event to paint, inside the page, for every event it received.
Prints one JSON object, also when a step fails (its "error").  A
benchmark, not a test: nothing is asserted.  Every process it starts is
stopped by its PID at the end.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
import cdp  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--n", type=int, default=1000, help="members the observed agent knows")
ap.add_argument("--real", type=int, default=None, help="real agents among them (default: all N)")
ap.add_argument("--cloister", default="build/cloister")
ap.add_argument("--pushmembers", default=None, help="tests/tools/pushmembers.c's binary (R < N)")
ap.add_argument("--shot", default=None)
ap.add_argument("--leaves", type=int, default=5)
ap.add_argument("--kills", type=int, default=3)
ap.add_argument("--wait", type=float, default=300, help="seconds to wait for the real agents")
args = ap.parse_args()
real = args.n if args.real is None else args.real
if not 1 <= real <= args.n or real > 1000:
    sys.exit("ui_bench.py: 1 <= --real <= --n, and --real at most 1000 (four /24s of loopback)")
if real < args.n and not args.pushmembers:
    sys.exit("ui_bench.py: --real below --n invents the rest with --pushmembers PATH")
if args.leaves + args.kills >= real:
    sys.exit("ui_bench.py: --leaves + --kills must leave the observed agent among the real ones")


def ip(i):
    return f"127.0.{43 + i // 250}.{1 + i % 250}"


TOKEN = os.urandom(32).hex()
MAIN = ip(0)
URL = f"http://{MAIN}:7947"
env = dict(os.environ, CLOISTER_TOKEN=TOKEN, CLOISTER_QUIET="1")
work = tempfile.mkdtemp(prefix="cloister-uibench.")
KEY = os.path.join(work, "key")
procs = []


def start(i):
    log = open(os.path.join(work, f"a{i}.log"), "wb")
    p = subprocess.Popen([args.cloister, "agent", "--app", "uibench", "--key-file", KEY,
                          "--advertise", f"{ip(i)}:7946", "--http", f"{ip(i)}:7947",
                          "--sentry", f"{ip(max(0, i - 1) // 10)}:7946", "--log-level", "warn"],
                         stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
    log.close()
    procs.append(p)


def api(path, timeout=30):
    r = urllib.request.Request(URL + path, headers={"Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(r, timeout=timeout) as f:
        return f.read()


def members():
    try:
        return json.loads(api("/v1/members"))
    except Exception:
        return []


def count(ms, status=None):
    return sum(status is None or m["status"] == status for m in ms)


events = {}


def watch():
    r = urllib.request.Request(URL + "/v1/events", headers={"Authorization": "Bearer " + TOKEN})
    try:
        with urllib.request.urlopen(r, timeout=3600) as f:
            for line in f:
                ev = json.loads(line)
                if ev.get("type") == "member" and ev.get("event") in ("left", "failed"):
                    events.setdefault(ev["name"], time.time())
    except Exception as e:
        out["events_stream_error"] = repr(e)


def page_counts(c):
    return c.eval('(() => { const n = {}; for (const r of document.querySelectorAll("#members tbody tr"))'
                  ' n[r.dataset.status] = (n[r.dataset.status] || 0) + 1; return n; })()')


out = {"n": args.n, "real": real, "invented": args.n - real}
try:
    with open(KEY, "wb") as f:
        f.write(subprocess.run([args.cloister, "keygen"], check=True, capture_output=True).stdout)
    os.chmod(KEY, 0o600)
    start(0)
    time.sleep(0.5)
    t0 = time.time()
    for i in range(1, real):
        start(i)
        if i % 10 == 0:
            time.sleep(0.3)
    out["agents_launched_s"] = round(time.time() - t0, 1)
    deadline = time.time() + args.wait
    seen, series = 0, []
    while time.time() < deadline:
        seen = count(members(), "alive")
        series.append((round(time.time() - t0, 1), seen))
        if seen >= real:
            break
        time.sleep(2)
    out["alive_series"] = series[::max(1, len(series) // 12)] + series[-1:]
    out["real_alive_s"] = round(time.time() - t0, 1)
    out["real_alive_seen"] = seen
    rss = []
    for p in procs:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                rss += [int(x.split()[1]) for x in f if x.startswith("VmRSS:")]
        except OSError:
            pass
    out["agents_rss_kib"] = {"observed": rss[0], "median": int(statistics.median(rss)),
                             "total_mib": round(sum(rss) / 1024)}
    out["loadavg"] = open("/proc/loadavg").read().split()[:3]
    if real < args.n:
        r = subprocess.run([args.pushmembers, f"{MAIN}:7946", "uibench", KEY, "invented-", "0",
                            str(args.n - real)], capture_output=True, text=True, timeout=60)
        out["pushmembers"] = (r.stdout + r.stderr).strip()
        limit = time.time() + 30
        while time.time() < limit and count(members()) < args.n:
            time.sleep(0.5)
    ms = members()
    out["observed_knows"] = {"members": count(ms), "alive": count(ms, "alive"),
                             "suspect": count(ms, "suspect"), "failed": count(ms, "dead")}
    metrics = api("/metrics").decode()
    out["observed_connections_refused"] = sum(
        float(line.split()[-1]) for line in metrics.splitlines()
        if line.startswith("cloister_stream_connections_closed_total{") and 'reason="refused"' in line)
    out["members_json_bytes"] = len(api("/v1/members"))
    t = time.time()
    for _ in range(5):
        api("/v1/members")
    out["members_request_ms"] = round((time.time() - t) / 5 * 1000, 1)
    out["ring_json_bytes"] = len(api("/v1/ring"))
    threading.Thread(target=watch, daemon=True).start()

    with cdp.Chrome(width=1400, height=1100, timeout=60) as c:
        nav = time.time()
        c.navigate(URL + "/ui#token=" + TOKEN)
        ok = c.wait(f'document.body.dataset.state === "ready" && '
                    f'document.querySelectorAll("#members tbody tr").length >= {out["observed_knows"]["members"]}', 60)
        out["first_paint_wall_ms"] = round((time.time() - nav) * 1000) if ok else None
        out["first_paint_page_ms"] = c.eval("window.cloisterStats.firstPaintMs")
        out["rows"] = c.eval('document.querySelectorAll("#members tbody tr").length')
        out["rows_by_status_at_first_paint"] = page_counts(c)
        out["ring_members"] = c.eval('+document.getElementById("ring").dataset.members')
        out["ring_arcs"] = c.eval('+document.getElementById("ring").dataset.arcs')
        # One full redraw: the filter's input event marks every row dirty.
        out["full_redraw_ms"] = c.eval('''new Promise(res => {
            document.getElementById("filter").value = "";
            document.getElementById("filter").dispatchEvent(new Event("input"));
            requestAnimationFrame(() => requestAnimationFrame(() => res(window.cloisterStats.lastRenderMs)));
        })''')
        if args.shot:
            c.screenshot(args.shot)
        c.eval('''window.__shown = {};
          new MutationObserver(() => {
            for (const r of document.querySelectorAll("#members tr[data-status=left], #members tr[data-status=dead]"))
              if (!window.__shown[r.dataset.name]) window.__shown[r.dataset.name] = Date.now();
          }).observe(document.getElementById("members"), {subtree: true, attributes: true, childList: true});''')
        time.sleep(1)
        updates = []
        for k in range(args.leaves + args.kills):
            i = real - 1 - k
            name = f"uibench@{ip(i)}"
            sig = signal.SIGTERM if k < args.leaves else signal.SIGKILL
            ts = time.time()
            procs[i].send_signal(sig)
            limit = time.time() + (30 if sig == signal.SIGTERM else 90)
            while time.time() < limit and name not in events:
                time.sleep(0.02)
            shown = c.wait(f"window.__shown[{json.dumps(name)}]", 5, poll=0.02)
            u = {"signal": sig.name, "agent_event_s": round(events[name] - ts, 3) if name in events else None}
            if name in events and shown:
                u["page_after_event_ms"] = round(shown - events[name] * 1000, 1)
                u["page_after_signal_s"] = round(shown / 1000 - ts, 3)
            updates.append(u)
        out["updates"] = updates
        lat = [u["page_after_event_ms"] for u in updates if "page_after_event_ms" in u]
        if lat:
            out["update_latency_ms"] = {"count": len(lat), "median": statistics.median(lat), "max": max(lat)}
        e2p = c.eval("window.cloisterStats.eventToPaintMs")
        if e2p:
            s = sorted(e2p)
            out["event_to_paint_ms"] = {"count": len(s), "median": round(statistics.median(s), 1),
                                        "p99": round(s[min(len(s) - 1, int(len(s) * 0.99))], 1),
                                        "max": round(s[-1], 1)}
        out["renders"] = c.eval("window.cloisterStats.renders")
        out["last_render_ms"] = c.eval("window.cloisterStats.lastRenderMs")
        out["rows_by_status_at_end"] = page_counts(c)
except Exception:
    out["error"] = traceback.format_exc(limit=3).strip().splitlines()[-1]
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    shutil.rmtree(work, ignore_errors=True)
print(json.dumps(out, indent=1))
