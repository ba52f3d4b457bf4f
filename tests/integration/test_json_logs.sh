#!/usr/bin/env bash
# --log-format json against real agents (127.0.41.10-13): every line the
# agent and its hooks' supervisor write is one JSON object, through joins,
# a member's failure (kill -9), hooks that print hostile text, fail and time
# out, a burst of member events that overflows the hook queue (invented
# members from tests/tools/pushmembers.c), a SIGHUP, a graceful leave, and
# an agent that cannot start; and the JSON lines carry the same keys as the
# logfmt lines of a twin agent that lived through the same.
source "$(dirname "$0")/lib.sh"
PUSH=${CLOISTER_PUSHMEMBERS:-$(dirname "$CLOISTER")/tests/cloister_pushmembers}
[[ -x $PUSH ]] || { echo "SKIP: no pushmembers tool at $PUSH"; exit 77; }

A=127.0.41.10 B=127.0.41.11 C=127.0.41.12 D=127.0.41.13
SENTRY="$A:7946,$B:7946,$C:7946"
cat >"$WORK/hook.sh" <<'EOF'
#!/bin/sh
# Output a log reader must survive: quotes, backslashes, a forged field,
# bytes that are not UTF-8, a long line; then a failure, or a hang.
printf 'plain output\n'
printf 'quotes " and \\ backslash level=error msg="forged"\n'
printf 'not utf-8: \377\376 tab:\t end\n' >&2
head -c 3000 /dev/zero | tr '\0' x; echo
case "${CLOISTER_EVENT:-}:${CLOISTER_MEMBER:-}" in
failed:itest@127.0.41.12) sleep 5 ;;   # past --hook-timeout: killed
*) exit 3 ;;                           # a failing hook
esac
EOF
chmod +x "$WORK/hook.sh"
"$CLOISTER" keygen >"$WORK/key"
chmod 600 "$WORK/key"
HOOKS=(--on-change "$WORK/hook.sh" --on-member "$WORK/hook.sh" --hook-timeout 1 --log-level debug)
start_agent a "$A" --sentry "$SENTRY" --key-file "$WORK/key" --log-format json "${HOOKS[@]}"
start_agent b "$B" --sentry "$SENTRY" --key-file "$WORK/key" --log-format logfmt "${HOOKS[@]}"
start_agent c "$C" --sentry "$SENTRY" --key-file "$WORK/key"
three() { [[ $(count_status "$A" alive) == 3 && $(count_status "$B" alive) == 3 ]]; }
check "three agents see three alive" wait_for 20 three
kill -KILL "${AGENT_PID[c]}"
dead() { [[ $(member_status "$A" "itest@$C") == dead && $(member_status "$B" "itest@$C") == dead ]]; }
check "the killed agent is declared dead by both" wait_for 30 dead
sleep 2.5 # the failed hook's timeout (1 s) and its kill are logged
# 500 members at once: 500 on-member hooks against 16 running and 256
# queued, so the supervisor drops events and says so, then gives the count.
for ip in "$A" "$B"; do "$PUSH" "$ip:7946" itest "$WORK/key" flood- 0 500 >/dev/null; done
drained() { grep -q 'hook events were dropped' "$WORK/a.log" && grep -q 'hook events were dropped' "$WORK/b.log"; }
check "a burst of 500 member events overflows both agents' hook queues" wait_for 15 drained
kill -HUP "${AGENT_PID[a]}" "${AGENT_PID[b]}"
sleep 0.5
kill -TERM "${AGENT_PID[a]}" "${AGENT_PID[b]}"
for p in "${AGENT_PID[a]}" "${AGENT_PID[b]}"; do
	for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
# An agent that cannot start (its control API's address is taken).
python3 -c 'import socket, time, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.41.13", 7947)); s.listen(); open(sys.argv[1], "w").close(); time.sleep(8)' "$WORK/held" &
HOLDER=$!
PIDS+=($HOLDER)
# The agent starts only once the address is held (a fixed sleep lost that
# race when other tests loaded the machine).
wait_for 10 test -e "$WORK/held"
timeout 10 "$CLOISTER" agent --app itest --advertise "$D:7946" --http "$D:7947" --profile local \
	--log-format json >"$WORK/d.log" 2>&1
rc=$?
kill "$HOLDER" 2>/dev/null
check "the agent that cannot listen exits non-zero ($rc)" [ $rc -ne 0 ]

python3 - "$WORK/a.log" "$WORK/b.log" "$WORK/d.log" >"$WORK/verdict.txt" <<'PY'
import json, re, sys
a, b, d = (open(p, "rb").read().decode("utf-8", "replace").splitlines() for p in sys.argv[1:4])
bad, objs = [], []
for name, lines in (("a", a), ("d", d)):
    for line in lines:
        try:
            o = json.loads(line)
            assert isinstance(o, dict) and {"ts", "level", "msg"} <= o.keys(), "keys"
            objs.append(o)
        except Exception as e:
            bad.append(f"{name}: {line[:160]!r} ({e})")
print("json_lines\t%d" % sum(1 for l in a + d if l.strip()))
print("bad\t%d" % len(bad))
for x in bad[:10]:
    print("  ", x)
msgs = {o["msg"] for o in objs}
want = {"hook output": "a hook's output", "hook failed": "a failing hook",
        "hook timed out; killed": "a hook past its timeout"}
for m, why in want.items():
    print("seen %s\t%s" % (m, any(x == m or x.startswith(m) for x in msgs)))
for m in ("hook queue full", "hook events were dropped while the queue was full"):
    print("seen %s\t%s" % (m, any(o["msg"].startswith(m) for o in objs)))
print("dropped counted\t%s" % any(o["msg"].startswith("hook events were dropped") and int(o.get("dropped", 0)) > 0
                                   for o in objs))
print("seen failed\t%s" % any(o["msg"] == "member failed" and o.get("member") == "itest@127.0.41.12"
                               and o.get("level") == "warn" for o in objs))
forged = [o for o in objs if o.get("msg") == "hook output" and "forged" in o.get("line", "")]
print("forged kept\t%s" % (bool(forged) and all(o["level"] == "info" for o in forged)))
print("cannot start\t%s" % any("cannot listen" in o.get("msg", "") and o.get("level") == "error"
                                for o in (json.loads(l) for l in d if l.startswith("{"))))
# The same keys in both formats: logfmt pairs of b's lines against a's
# JSON keys, message by message.
pair = re.compile(r'([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|\S*)')
lf = {}
for line in b:
    kv = dict(pair.findall(line))
    if "msg" in kv:
        lf.setdefault(kv["msg"].strip('"'), set()).update(kv)
js = {}
for o in objs:
    js.setdefault(o["msg"], set()).update(o)
common = sorted(set(lf) & set(js))
diff = [(m, sorted(lf[m] ^ js[m])) for m in common if lf[m] != js[m]]
print("common messages\t%d" % len(common))
print("key differences\t%d" % len(diff))
for m, k in diff[:10]:
    print("  ", m, k)
PY
cat "$WORK/verdict.txt" | sed 's/^/    /'
v() { awk -F'\t' -v k="$1" '$1 == k { print $2; exit }' "$WORK/verdict.txt"; }
check "every line of the JSON agent and of the one that could not start is a JSON object with ts, level, msg ($(v json_lines) lines, $(v bad) not)" \
	[ "$(v bad)" = 0 ] && [ "$(v json_lines)" -gt 20 ]
check "the hooks' output is logged (JSON)" [ "$(v 'seen hook output')" = True ]
check "a failing hook is logged (JSON)" [ "$(v 'seen hook failed')" = True ]
check "a hook past its timeout is logged (JSON)" [ "$(v 'seen hook timed out; killed')" = True ]
check "the killed member's failure is logged (JSON: msg \"member failed\", member itest@$C)" [ "$(v 'seen failed')" = True ]
check "the hook queue overflow is logged (JSON)" [ "$(v 'seen hook queue full')" = True ]
check "the dropped events are counted when the queue drains (JSON, dropped > 0)" \
	[ "$(v 'seen hook events were dropped while the queue was full')" = True ] && [ "$(v 'dropped counted')" = True ]
check "a hook's forged 'level=error msg=...' stays inside its line" [ "$(v 'forged kept')" = True ]
check "the agent that could not start said why, in JSON" [ "$(v 'cannot start')" = True ]
check "the JSON and logfmt agents log the same keys for the same messages ($(v 'common messages') messages, $(v 'key differences') differ)" \
	[ "$(v 'key differences')" = 0 ] && [ "$(v 'common messages')" -gt 5 ]
finish
