#!/usr/bin/env bash
# The agent and its command line, end to end (127.0.0.61-64, 127.0.20.65):
# /ready turns 503 -> 200 at consensus; every client command with its exit
# codes; the JSON schema of members and status; /metrics against the
# Prometheus text format's rules; hooks with the right variables; malformed
# requests get a clear 4xx; the event stream; SIGTERM is seen as "left";
# keys read from a file or stdin, and a warning for one on the command line.
# Requests carry the token lib.sh exports (CLOISTER_TOKEN).
source "$(dirname "$0")/lib.sh"

IPS=(127.0.0.61 127.0.0.62 127.0.0.63)
SENTRY=127.0.0.61:7946,127.0.0.62:7946,127.0.0.63:7946
C() { "$CLOISTER" "$@" --http 127.0.0.61:7947; }
code() { python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
method, url = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
headers = {"Content-Type": "application/json"} if data is not None else {}
req = urllib.request.Request(url, data=data, method=method, headers=headers)
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        print(r.status, r.read().decode().replace("\n", " ")[:300])
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode().replace("\n", " ")[:300])
PY
}

start_agent a 127.0.0.61 --consensus 3 --sentry "$SENTRY" --ctl "$WORK/ctl.sock" \
	--on-change "env | grep ^CLOISTER_ | sort > $WORK/change-\$CLOISTER_TO.env" \
	--on-member "echo \"\$CLOISTER_EVENT \$CLOISTER_MEMBER \$CLOISTER_MEMBER_STATUS\" >> $WORK/members.log"
wait_for 10 bash -c "curl -s 127.0.0.61:7947/health >/dev/null" || true
r=$(code GET http://127.0.0.61:7947/ready)
check "/ready is 503 while alone with consensus 3 ($r)" [ "${r%% *}" = 503 ]
"$CLOISTER" wait ready --http 127.0.0.61:7947 --timeout 1 >/dev/null 2>&1
check "wait ready --timeout 1 exits 1 before consensus" [ $? -eq 1 ]
start_agent b 127.0.0.62 --consensus 3 --sentry "$SENTRY"
start_agent c 127.0.0.63 --consensus 3 --sentry "$SENTRY"
C wait ready --timeout 30 >/dev/null
check "wait ready exits 0 at consensus" [ $? -eq 0 ]
r=$(code GET http://127.0.0.61:7947/ready)
check "/ready is 200 at consensus ($r)" [ "${r%% *}" = 200 ]

# Schemas.
schema_members() { C members --json | python3 -c '
import json, sys
ms = json.load(sys.stdin)
assert isinstance(ms, list) and len(ms) == 3, ms
for m in ms:
    assert isinstance(m["name"], str) and isinstance(m["addr"], str)
    assert m["status"] in ("alive", "suspect", "dead", "left")
    assert isinstance(m["incarnation"], int) and isinstance(m["tags"], dict)
assert ms[0]["name"] == "itest@127.0.0.61"'; }
check "members --json: the schema (name, addr, status, incarnation, tags), self first" schema_members
schema_status() { C status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["node"] == "itest@127.0.0.61" and s["status"] == "ready"
assert s["consensus"] == 3 and s["alive"] == 3 and s["sentry"].startswith("itest@")
assert isinstance(s["rings"], dict) and "" in s["rings"]
assert s["insecure"] is False'; }
check "status --json: the schema (node, status, consensus, alive, sentry, rings, insecure)" schema_status
# The Unix socket serves its owner without a token (and a musl build's
# agent must survive a client there: libevent names each peer).
"$CLOISTER" status --json --ctl "$WORK/ctl.sock" | grep -q '"status":"ready"'
check "status over --ctl (the Unix socket), no token needed" [ $? -eq 0 ]
check "... and the agent is still there after it" bash -c "$CLOISTER status --ctl $WORK/ctl.sock >/dev/null"
check "members prints a table" bash -c "$CLOISTER members --http 127.0.0.61:7947 | head -1 | grep -q NAME"
check "status prints a summary" bash -c "$CLOISTER status --http 127.0.0.61:7947 | grep -q ready"

# whois agrees across agents and with --json.
owner_a=$(C whois order-17)
owner_b=$("$CLOISTER" whois order-17 --http 127.0.0.62:7947)
check "whois: the same owner from two agents ($owner_a)" [ -n "$owner_a" ] && [ "$owner_a" = "$owner_b" ]
two() { C whois order-17 -n 2 --json | python3 -c '
import json, sys; d = json.load(sys.stdin); o = d["owners"]
assert len(o) == 2 and len(set(o)) == 2'; }
check "whois -n 2: two distinct owners" two

# Exit codes.
"$CLOISTER" status --http 127.0.0.69:7947 >/dev/null 2>&1
check "an unreachable agent: exit 3" [ $? -eq 3 ]
"$CLOISTER" whois >/dev/null 2>&1
check "a usage error: exit 2" [ $? -eq 2 ]
"$CLOISTER" wait >/dev/null 2>&1
check "wait without 'ready': exit 2" [ $? -eq 2 ]

# Messages.
queued=$(C multicast news hello 2>/dev/null)
check "multicast queues one message per other member ($queued)" [ "$queued" = "queued for 2 members" ]
C multicall cloister.ping x --timeout 2 >/dev/null
check "multicall: every member answers, exit 0" [ $? -eq 0 ]
check "keys list works without a key (nothing installed)" bash -c "$CLOISTER keys list --http 127.0.0.61:7947 >/dev/null"
KX=$("$CLOISTER" keygen)
check "keys install on a node started without a key is refused (it would turn encryption on)" \
	bash -c "! $CLOISTER keys install $KX --http 127.0.0.61:7947 >/dev/null 2>&1"

# Malformed requests.
r=$(code POST http://127.0.0.61:7947/v1/join '{"addrs": 5')
check "bad JSON: 400 with a message ($r)" bash -c "[[ '$r' == 400*error* ]]"
r=$(code POST http://127.0.0.61:7947/v1/join '{"addrs": "x"}')
check "wrong type: 400 ($r)" bash -c "[[ '$r' == 400* ]]"
r=$(code GET http://127.0.0.61:7947/v1/nothing)
check "unknown path: 404 ($r)" [ "${r%% *}" = 404 ]
r=$(code DELETE http://127.0.0.61:7947/v1/members)
check "wrong method: 405 ($r)" [ "${r%% *}" = 405 ]
r=$(code GET "http://127.0.0.61:7947/v1/whois?key=%zz")
check "bad escape in a query: 400 ($r)" [ "${r%% *}" = 400 ]

# /metrics against the text format's rules.
prom() { python3 - <<'PY'
import re, urllib.request
r = urllib.request.urlopen("http://127.0.0.61:7947/metrics", timeout=3)
assert r.headers["Content-Type"].startswith("text/plain"), r.headers["Content-Type"]
text = r.read().decode()
assert text.endswith("\n")
name_re = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
sample_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)?\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$')
typed, helped, seen = {}, set(), set()
for line in text.splitlines():
    if line.startswith("# HELP "):
        name = line.split()[2]; assert name_re.match(name); assert name not in helped; helped.add(name)
    elif line.startswith("# TYPE "):
        _, _, name, kind = line.split()
        assert kind in ("counter", "gauge", "histogram", "summary", "untyped"); assert name not in typed
        typed[name] = kind
    elif line.startswith("#") or not line:
        continue
    else:
        m = sample_re.match(line); assert m, line
        name = m.group(1)
        if name not in typed:  # a histogram's _bucket, _sum, _count
            name = re.sub(r"_(bucket|sum|count)$", "", name); assert typed.get(name) == "histogram", "sample before TYPE: " + name
        if typed[name] == "counter": assert name.endswith("_total"), name
        series = line.rsplit(" ", 1)[0]; assert series not in seen, "duplicate " + series; seen.add(series)
for must in ("cloister_members", "cloister_status", "cloister_probes_total", "cloister_suspicions_total",
             "cloister_refutations_total", "cloister_packets_received_total", "cloister_sent_bytes_total",
             "cloister_ring_checksum"):
    assert must in typed, "missing " + must
assert 'cloister_status{status="ready"} 1' in text
assert 'cloister_members{status="alive"} 3' in text
PY
}
check "/metrics follows the Prometheus text format (HELP/TYPE, names, labels, counters *_total)" prom

# Hooks.
hook_env() { [[ -f $WORK/change-ready.env ]] && python3 - "$WORK/change-ready.env" <<'PY'
import sys
env = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[1]))
assert env["CLOISTER_TO"] == "ready" and env["CLOISTER_FROM"] == "rehashing", env
assert env["CLOISTER_NODE"] == "itest@127.0.0.61", env
assert set(env["CLOISTER_MEMBERS"].split(",")) <= {"itest@127.0.0.61", "itest@127.0.0.62", "itest@127.0.0.63"}
assert len(env["CLOISTER_MEMBERS"].split(",")) == 3, env
assert env["CLOISTER_SENTRY"].startswith("itest@"), env
PY
}
check "--on-change ran with CLOISTER_FROM/TO/NODE/MEMBERS/SENTRY" wait_for 5 hook_env
joined_hook() { grep -q "^joined itest@127.0.0.62 alive$" "$WORK/members.log" 2>/dev/null; }
check "--on-member ran with CLOISTER_EVENT/MEMBER/MEMBER_STATUS" wait_for 5 joined_hook

# The event stream, while node c leaves by SIGTERM.
timeout 6 "$CLOISTER" monitor --json --http 127.0.0.61:7947 >"$WORK/events.json" 2>/dev/null &
PIDS+=($!)
sleep 1
kill -TERM "${AGENT_PID[c]}"
left() { [[ $(member_status 127.0.0.61 itest@127.0.0.63) == left ]]; }
check "SIGTERM: the others see 'left'" wait_for 10 left
sleep 5
stream_left() { python3 - "$WORK/events.json" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert any(e.get("type") == "member" and e.get("event") == "left" and e.get("name") == "itest@127.0.0.63" for e in evs), evs
assert any(e.get("type") == "state" and e.get("to") == "rehashing" for e in evs), evs
# The stream opens with the status as of then (ready, 3 alive), and each
# state event continues from the status before it.
assert evs[0] == {"type": "status", "status": "ready", "alive": 3,
                  "sentry": evs[0]["sentry"]} and evs[0]["sentry"], evs[0]
cur = evs[0]["status"]
for e in evs[1:]:
    if e.get("type") == "state":
        assert e["from"] == cur, (cur, e)
        cur = e["to"]
PY
}
check "monitor streamed the current status, then the leave and the rehash" stream_left
check "never 'failed'" bash -c "! grep -q '^failed itest@127.0.0.63' $WORK/members.log"
# cloister join: a fourth agent with no sentry joins through a.
start_agent d 127.0.0.64
wait_for 10 bash -c "curl -s 127.0.0.64:7947/health >/dev/null" || true
"$CLOISTER" join 127.0.0.61:7946 --http 127.0.0.64:7947 >/dev/null
check "cloister join: exit 0" [ $? -eq 0 ]
joined() { [[ $(count_status 127.0.0.64 alive) == 3 ]]; }
check "... and the joiner sees a, b and itself alive" wait_for 10 joined
# Keys: from a file, from stdin, and from the command line with a warning.
K1=$("$CLOISTER" keygen); K2=$("$CLOISTER" keygen)
(umask 077; echo "$K1" >"$WORK/k1"; echo "$K2" >"$WORK/k2")
start_agent k 127.0.20.65 --key-file "$WORK/k1"
K() { "$CLOISTER" keys "$@" --http 127.0.20.65:7947; }
wait_for 10 bash -c "$CLOISTER status --http 127.0.20.65:7947 >/dev/null 2>&1" || true
K install --key-file "$WORK/k2" >"$WORK/keys.out" 2>"$WORK/keys.err"
check "keys install --key-file: installed, nothing said about ps ($(wc -l <"$WORK/keys.out") keys)" \
	bash -c "[[ \$(wc -l <'$WORK/keys.out') == 2 && ! -s '$WORK/keys.err' ]]"
fp1=$(grep primary "$WORK/keys.out" | cut -d' ' -f1)
K use - <"$WORK/k2" >"$WORK/keys.out" 2>"$WORK/keys.err"
fp2=$(grep primary "$WORK/keys.out" | cut -d' ' -f1)
check "keys use - (stdin): the new key is primary ($fp1 -> $fp2)" \
	bash -c "[[ -n '$fp1' && -n '$fp2' && '$fp1' != '$fp2' && ! -s '$WORK/keys.err' ]]"
K remove "$K1" >"$WORK/keys.out" 2>"$WORK/keys.err"
check "keys remove KEY on the command line still works ($(wc -l <"$WORK/keys.out") key left)" \
	bash -c "[[ \$(wc -l <'$WORK/keys.out') == 1 ]] && grep -q '$fp2' '$WORK/keys.out'"
check "... with a warning that ps shows it" grep -q "visible to every user in .ps." "$WORK/keys.err"
K install --key-file "$WORK/nowhere" >/dev/null 2>"$WORK/keys.err"
check "keys install --key-file with a missing file: exit 1, saying so" \
	bash -c "(( $? == 1 )) && grep -q nowhere '$WORK/keys.err'"

C leave >/dev/null
check "cloister leave: exit 0" [ $? -eq 0 ]
left_a() { [[ $(member_status 127.0.0.62 itest@127.0.0.61) == left ]]; }
check "... and b sees a leave" wait_for 10 left_a

finish
