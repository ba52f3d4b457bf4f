#!/usr/bin/env bash
# Resource bounds: each is hit on purpose, gives a clear error (or counts
# what it refused) and costs nothing else.  Agents on 127.0.4.1-5 (50 for
# the one that must refuse to start):
#   - tags past tags_max: a clear error, exit 2;
#   - --max-members 3 among 5 agents: the limited agent refuses the extra
#     members and counts them; the others still see all 5;
#   - --max-connections 4 and 10 TCP connections held to its port: refused
#     and evicted ones are counted, membership is unaffected;
#   - --user-queue-max: a burst of multicasts gets 429 (user_queue_max);
#   - --max-calls 1: a second multicall while one is pending gets 429;
#   - the HTTP API's 64 connections: the 65th request gets 503, and once
#     they close it answers again;
#   - an --on-member hook that sleeps 30 s with --hook-timeout 2: killed,
#     logged "hook timed out", the agent stays responsive.
source "$(dirname "$0")/lib.sh"

IPS=(127.0.4.1 127.0.4.2 127.0.4.3 127.0.4.4 127.0.4.5)
SENTRY=$(printf '%s:7946,' "${IPS[@]}"); SENTRY=${SENTRY%,}

# metric IP NAME: the runtime counter NAME as /metrics publishes it (empty if absent).
metric() { counter "$1" "$2"; }

# ---------------------------------------------------------------- tags
big=$(printf 'x%.0s' $(seq 1 600))
timeout $((10 * SLOW)) ${CLOISTER_WRAP:-} "$CLOISTER" agent --app itest --advertise 127.0.4.50:7946 \
	--http 127.0.4.50:7947 --profile local --tag "big=$big" >/dev/null 2>&1
rc=$?
check "one tag past tags_max (512): exit 2 (got $rc)" [ $rc -eq 2 ]
tags=()
for k in $(seq 1 40); do tags+=(--tag "k$k=$(printf 'v%.0s' $(seq 1 12))"); done
out=$(timeout $((10 * SLOW)) ${CLOISTER_WRAP:-} "$CLOISTER" agent --app itest --advertise 127.0.4.50:7946 \
	--http 127.0.4.50:7947 --profile local "${tags[@]}" 2>&1)
rc=$?
check "40 tags together past tags_max: exit 2 (got $rc)" [ $rc -eq 2 ]
check "... with a clear error naming the bound ($(grep -v '^==' <<<"$out" | head -1))" \
	grep -q "tags_max" <<<"$out"

# ---------------------------------------------------------------- a cluster
# n0: --max-members 3; n1: --max-connections 4; n2: --user-queue-max 4;
# n3: --max-calls 1; n4: a hook that outlives its timeout.
start_agent n0 "${IPS[0]}" --sentry "$SENTRY" --max-members 3
start_agent n1 "${IPS[1]}" --sentry "$SENTRY" --max-connections 4
start_agent n2 "${IPS[2]}" --sentry "$SENTRY" --user-queue-max 4
start_agent n3 "${IPS[3]}" --sentry "$SENTRY" --max-calls 1
start_agent n4 "${IPS[4]}" --sentry "$SENTRY" --on-member "sleep 30" --hook-timeout 2

alive5_others() {
	local i
	for i in 1 2 3 4; do [[ $(count_status "${IPS[$i]}" alive) == 5 ]] || return 1; done
}
check "the 4 unlimited agents see all 5 alive" wait_for 30 alive5_others
n0_members() { http "${IPS[0]}" /v1/members | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
got=$(n0_members)
check "the agent with --max-members 3 holds at most 3 members ($got)" [ -n "$got" ] && [ "$got" -le 3 ]
refused() { local v; v=$(metric "${IPS[0]}" members_refused); [[ -n $v && $v -gt 0 ]]; }
check "... and counts the refused ones (cloister_members_refused_total=$(metric "${IPS[0]}" members_refused))" \
	wait_for 10 refused
check "... it is still healthy" bash -c "[[ \$(python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://${IPS[0]}:7947/health\", timeout=3).status)') == 200 ]]"

# ---------------------------------------------------------------- max connections
# A full inbound pool closes its oldest connection that never
# authenticated (evicted) before it refuses: both count.
held_off() { echo $(( $(metric "$1" connections_refused) + $(metric "$1" connections_evicted) )); }
c0=$(held_off "${IPS[1]}")
python3 - "${IPS[1]}" $((6 * SLOW)) <<'PY' &
import socket, sys, time
held = []
for _ in range(10):
    try:
        s = socket.create_connection((sys.argv[1], 7946), timeout=2)
        held.append(s)
    except OSError:
        pass
time.sleep(int(sys.argv[2]))
PY
HOLDER=$!
PIDS+=($HOLDER)
sleep 2
c1=$(held_off "${IPS[1]}")
check "10 TCP connections to --max-connections 4: refusals and evictions counted (connections_refused + connections_evicted $c0 -> $c1)" \
	[ "${c1:-0}" -gt "${c0:-0}" ]
alive5_all_but_n0() {
	local i
	for i in 1 2 3 4; do [[ $(count_status "${IPS[$i]}" alive) == 5 ]] || return 1; done
}
check "... membership unaffected: 5 alive on the 4 unlimited agents" alive5_all_but_n0
wait "$HOLDER" 2>/dev/null
check "... and still so once the connections closed" wait_for 10 alive5_all_but_n0

# ---------------------------------------------------------------- user queue
burst=$(python3 - "${IPS[2]}" <<'PY'
import json, sys, threading, urllib.request, urllib.error
codes, msg = {}, ""
lock = threading.Lock()
def count(k):
    with lock:
        codes[k] = codes.get(k, 0) + 1
def client():
  global msg
  for _ in range(50):
    req = urllib.request.Request(f"http://{sys.argv[1]}:7947/v1/multicast",
        data=json.dumps({"topic": "t", "data": "x" * 100}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            count(r.status)
    except urllib.error.HTTPError as e:
        count(e.code)
        if e.code == 429:
            msg = json.loads(e.read().decode()).get("error", "")
    except Exception as e:
        count("exc")
ts = [threading.Thread(target=client) for _ in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps({"codes": codes, "msg": msg}))
PY
)
check "a burst of 400 multicasts (8 clients) to --user-queue-max 4: some queued, some 429 ($burst)" \
	grep -q '"200".*"429"\|"429".*"200"' <<<"$burst"
check "... naming the bound" grep -q 'user_queue_max' <<<"$burst"
uo=$(metric "${IPS[2]}" user_out_refused)
check "... counted (cloister_messages_refused_total=$uo)" [ "${uo:-0}" -gt 0 ]
check "... and the agent still lists 5 alive" wait_for 5 bash -c "[[ \$(python3 -c 'import json,urllib.request; print(sum(m[\"status\"]==\"alive\" for m in json.load(urllib.request.urlopen(\"http://${IPS[2]}:7947/v1/members\", timeout=3))))') == 5 ]]"

# ---------------------------------------------------------------- max calls
calls=$(python3 - "${IPS[3]}" <<'PY'
import json, sys, threading, urllib.request, urllib.error
res = []
def call(timeout_ms):
    req = urllib.request.Request(f"http://{sys.argv[1]}:7947/v1/multicall",
        data=json.dumps({"topic": "nobody.answers", "data": "x", "timeout_ms": timeout_ms}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            res.append(r.status)
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        res.append(e.code if "max_calls" in body or e.code != 429 else "429-unnamed")
    except Exception:
        res.append("exc")
t = threading.Thread(target=call, args=(3000,)); t.start()
import time; time.sleep(0.5)
call(1000)
t.join()
print(" ".join(map(str, res)))
PY
)
check "--max-calls 1: a second multicall while one is pending gets 429 naming max_calls ($calls)" \
	[ "$calls" == "429 200" ]

# ---------------------------------------------------------------- API connections
api=$(python3 - "${IPS[3]}" <<'PY'
import http.client, sys
host = sys.argv[1]
held, codes = [], []
for _ in range(70):
    c = http.client.HTTPConnection(host, 7947, timeout=5)
    try:
        c.request("GET", "/health")
        r = c.getresponse(); r.read()
        codes.append(r.status)
    except Exception:
        codes.append(0)
    held.append(c)
ok, full = codes.count(200), codes.count(503)
for c in held:
    c.close()
import time; time.sleep(0.5)
c = http.client.HTTPConnection(host, 7947, timeout=5)
c.request("GET", "/health"); r = c.getresponse(); r.read()
print(ok, full, r.status)
PY
)
check "HTTP API: 70 kept-alive connections: 64 served, the rest 503, then 200 again ($api)" \
	[ "$api" == "64 6 200" ]

# ---------------------------------------------------------------- hooks
timed_out() { grep -q 'hook timed out' "$WORK/n4.log"; }
check "a 30 s hook with --hook-timeout 2 is killed and logged 'hook timed out'" wait_for 15 timed_out
t0=$(date +%s%N)
http "${IPS[4]}" /health >/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
check "... the agent answers /health meanwhile (${ms} ms)" [ "$ms" -lt $((2000 * SLOW)) ]
# no_sleepers: no "sleep 30" among the agent's descendants.
no_sleepers() {
	python3 - "${AGENT_PID[n4]}" <<'PY'
import os, sys
root, procs = int(sys.argv[1]), {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            stat = open(f"/proc/{p}/stat").read()
            cmd = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        procs[int(p)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmd)
def under(pid):
    for _ in range(64):
        if pid == root: return True
        if pid not in procs or pid <= 1: return False
        pid = procs[pid][0]
    return False
sys.exit(1 if any(c.startswith("sleep 30") and under(p) for p, (_, c) in procs.items()) else 0)
PY
}
check "... and no hook outlives its timeout for long" wait_for 10 no_sleepers
check "... and it still lists 5 alive" wait_for 5 bash -c "[[ \$(python3 -c 'import json,urllib.request; print(sum(m[\"status\"]==\"alive\" for m in json.load(urllib.request.urlopen(\"http://${IPS[4]}:7947/v1/members\", timeout=3))))') == 5 ]]"

# Descriptors: an agent with only 128 of them, and 130 clients holding
# idle control connections.  accept() fails; the agent must back off, not
# spin and flood its log, and serve again once they close.
if command -v prlimit >/dev/null; then
	prlimit --nofile=128:128 ${CLOISTER_WRAP:-} "$CLOISTER" agent --app lim --advertise 127.0.4.41:7946 \
		--http 127.0.4.41:7947 --profile local >>"$WORK/fd.log" 2>&1 &
	FDPID=$!
	PIDS+=($FDPID)
	wait_for 10 bash -c "curl -s 127.0.4.41:7947/health >/dev/null" || true
	python3 - <<'PY' &
import socket, time
held = []
for _ in range(130):
    try:
        held.append(socket.create_connection(("127.0.4.41", 7947), timeout=1))
    except OSError:
        pass
time.sleep(5)
PY
	HOLDER=$!
	PIDS+=($HOLDER)
	sleep 2
	t0=$(awk '{print $14 + $15}' "/proc/$FDPID/stat")
	sleep 2
	t1=$(awk '{print $14 + $15}' "/proc/$FDPID/stat")
	check "descriptors exhausted: the agent idles (CPU ticks in 2 s: $((t1 - t0)))" [ $((t1 - t0)) -lt 50 ]
	logsize=$(stat -c %s "$WORK/fd.log")
	check "... and does not flood its log (${logsize} bytes)" [ "$logsize" -lt 100000 ]
	wait "$HOLDER" 2>/dev/null
	check "... and serves again once the clients close" wait_for 10 bash -c "curl -s -m 2 127.0.4.41:7947/health | grep -q ok"
	kill -TERM "$FDPID"
fi

finish
