#!/usr/bin/env python3
"""ui_check.py: the agent's web page in headless Chromium, against real agents.

  ui_check.py URL TOKEN VICTIM_NAME VICTIM_PID SHOTS_DIR [HOSTILE_NAME]

Opens URL/ui#token=TOKEN, then checks that the page lists every member
alive, draws the ring and names the sentry; kills VICTIM_PID with SIGKILL
and measures when the agent's own event stream reports the victim failed
and when the page shows it failed (the page must follow within a second);
screenshots before and after into SHOTS_DIR.  With HOSTILE_NAME, that
member's tags carry markup that must show as text and never run.
Prints "ok: ..." / "FAIL: ..." lines and one "figures: {json}" line.
"""
import json
import os
import signal
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

url, token, victim, victim_pid, shots = sys.argv[1:6]
hostile = sys.argv[6] if len(sys.argv) > 6 else None
fails = 0


def check(what, ok):
    global fails
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    fails += not ok


def api(path):
    req = urllib.request.Request(url + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


# The agent's own view of the failure, from its event stream.
agent_failed = {}


def watch_events():
    req = urllib.request.Request(url + "/v1/events", headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            for line in r:
                ev = json.loads(line)
                if ev.get("type") == "member" and ev.get("name") == victim and ev.get("event") == "failed":
                    agent_failed["t"] = time.time()
                    return
    except Exception as e:  # the test's deadline reports it
        agent_failed["error"] = str(e)


status = api("/v1/status")
members = api("/v1/members")
expect = len(members)

with cdp.Chrome(width=1280, height=1000) as c:
    t0 = time.time()
    c.navigate(url + "/ui#token=" + token)
    ready = c.wait('document.body.dataset.state === "ready" && '
                   f'document.querySelectorAll("#members tr[data-status=alive]").length === {expect}', 15)
    first_paint = c.eval("window.cloisterStats.firstPaintMs")
    check(f"the page lists {expect} alive members ({time.time() - t0:.1f} s after navigation, "
          f"first paint {first_paint} ms)", bool(ready))
    rows = c.eval('[...document.querySelectorAll("#members tbody tr")].map(r => [r.dataset.name, r.dataset.status, r.cells[2].textContent])')
    check(f"every member's name and status is on the page ({rows})",
          sorted(r[0] for r in rows) == sorted(m["name"] for m in members)
          and all(r[1] == "alive" and r[2] == "alive" for r in rows))
    ring = c.eval('({m: +document.getElementById("ring").dataset.members, a: +document.getElementById("ring").dataset.arcs,'
                  ' paths: document.querySelectorAll("#ring path.arc").length})')
    check(f"the ring is drawn with every member's arcs ({ring})",
          ring and ring["m"] == expect and ring["a"] >= expect and ring["paths"] == ring["a"])
    # The page follows the agent's sentry (it may still move while the
    # cluster settles: compare with what the agent says at the time).
    for _ in range(20):
        agent_sentry = api("/v1/status")["sentry"]
        sentry = c.eval('document.getElementById("sentry").textContent')
        star = c.eval('[...document.querySelectorAll("#members tr.sentry")].map(r => r.dataset.name)')
        if sentry == agent_sentry and star == [agent_sentry]:
            break
        time.sleep(0.25)
    check(f"the sentry is shown ({sentry!r}, the agent says {agent_sentry!r}; marked row {star})",
          sentry == agent_sentry and star == [agent_sentry])
    check("the token left the address bar and the page's text",
          c.eval("location.hash") == "" and token not in c.eval("document.documentElement.outerHTML"))
    if hostile:
        shown = c.eval(f'(() => {{ const r = [...document.querySelectorAll("#members tr")].find(r => r.dataset.name === {json.dumps(hostile)});'
                       ' return r ? r.cells[6].textContent : null; })()')
        injected = c.eval('document.querySelectorAll("#members img, #members script, #members b.injected").length')
        check(f"markup in a member's tags shows as text and never runs (shown {shown!r}, "
              f"elements injected {injected}, script ran {c.eval('window.__pwned === 1')})",
              shown is not None and "<img" in shown and injected == 0 and not c.eval("window.__pwned === 1"))
    c.screenshot(os.path.join(shots, "ui-three-alive.png"))

    # Record the moment the page shows the victim failed, from inside it.
    c.eval(f'''(() => {{
      const name = {json.dumps(victim)};
      const seen = () => {{
        const r = [...document.querySelectorAll("#members tr")].find(r => r.dataset.name === name);
        if (r && r.dataset.status === "dead" && !window.__failedAt) window.__failedAt = Date.now();
      }};
      new MutationObserver(seen).observe(document.getElementById("members"),
        {{subtree: true, attributes: true, childList: true}});
      seen();
    }})()''')
    watcher = threading.Thread(target=watch_events, daemon=True)
    watcher.start()
    time.sleep(0.5)  # the stream is open before the kill
    t_kill = time.time()
    os.kill(int(victim_pid), signal.SIGKILL)
    watcher.join(40)
    shown_at = c.wait("window.__failedAt", 5, poll=0.05)
    agent_s = agent_failed["t"] - t_kill if "t" in agent_failed else None
    page_s = shown_at / 1000 - t_kill if shown_at else None
    check(f"the agent declared the killed member failed ({agent_s and round(agent_s, 2)} s after kill -9)",
          agent_s is not None)
    check(f"the page showed it failed within the detection time plus one second "
          f"(page {page_s and round(page_s, 2)} s, agent {agent_s and round(agent_s, 2)} s after the kill)",
          page_s is not None and agent_s is not None and page_s <= agent_s + 1.0)
    text = c.eval('[...document.querySelectorAll("#members tr")].filter(r => r.dataset.name === '
                  f'{json.dumps(victim)}).map(r => r.cells[2].textContent)[0]')
    check(f"its row says failed ({text!r})", text == "failed")
    c.wait('document.querySelector("#events li[data-kind=failed]")', 3)
    check("the events list shows the failure",
          bool(c.eval('[...document.querySelectorAll("#events li[data-kind=failed]")].some(li => li.textContent.includes('
                      f'{json.dumps(victim)}))')))
    c.wait(f'+document.getElementById("ring").dataset.members === {expect - 1}', 8)
    check("the ring is redrawn without it",
          c.eval('+document.getElementById("ring").dataset.members') == expect - 1)
    c.screenshot(os.path.join(shots, "ui-failed.png"))
    print("figures: " + json.dumps({"first_paint_ms": first_paint,
                                    "agent_detect_s": agent_s, "page_shown_s": page_s,
                                    "event_to_paint_ms": c.eval("window.cloisterStats.eventToPaintMs")[-5:]}))

sys.exit(1 if fails else 0)
