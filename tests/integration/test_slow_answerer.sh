#!/usr/bin/env bash
# test_slow_answerer.sh — calls answered by a slow client, many at once.
#
# a's HTTP client answers topic "slow" (GET /v1/events?answer=slow) and
# takes ANSWER_MS (300 ms) over each call, answering several at a time (a
# thread per call, as a service that asks a database would).  b's client
# answers "slow" at once, so a multicall from b ends when a's answer is in.
# From b, ROUNDS rounds of CALLS (20) multicalls at once (POST
# /v1/multicall, timeout 3 s): each must come back with a's answer to it
# ("re:" and its own data).  Meanwhile a prober (tests/tools/flood.c,
# 127.0.39.9) pings a every 100 ms with real sealed pings.
#
# Checked: every call of every round answered by a with its own payload;
# >= 90 % of the pings acked within 100 ms while the calls run; a's
# cloister_calls_deferred_total counted the calls; b never declared a
# failed.  A handler that waits on the node's thread for its client
# (before calls were kept, cloister_call_defer) takes the calls one after
# another, 300 ms each, within a waiting budget of a tenth of the node's
# time: of the first round's 20, about 6 were answered in 3 s, and the
# pings went unanswered while it waited.
source "$(dirname "$0")/lib.sh"

test_tool FLOOD flood
A=127.0.39.1 B=127.0.39.2 PROBER=127.0.39.9
NAME_A=itest@$A NAME_B=itest@$B
CALLS=20 ROUNDS=3 ANSWER_MS=300 TIMEOUT_MS=3000
PING_MS=100 ACK_MS=100 PROBE_S=6

start_watched_pair "$A" "$B"

# answerer HOST DELAY_MS: answers every call on "slow" with "re:" and its
# data, DELAY_MS after it came, in a thread of its own.  Ends by itself
# after 120 s.
cat >"$WORK/answerer.py" <<'PY'
import json, sys, threading, time, urllib.request
host, delay = sys.argv[1], int(sys.argv[2]) / 1000.0
url = f"http://{host}:7947"
secret = None
def reply(call):
    time.sleep(delay)
    body = json.dumps({"id": call["id"], "subscriber": secret,
                       "data": "re:" + call.get("data", "")}).encode()
    req = urllib.request.Request(url + "/v1/reply", body,
                                 {"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=5).read()
    except Exception as e:
        print("reply failed:", e, flush=True)
end = time.time() + 120
with urllib.request.urlopen(url + "/v1/events?answer=slow", timeout=120) as r:
    for line in r:
        ev = json.loads(line)
        if ev.get("type") == "answering":
            secret = ev["subscriber"]
            print("answering", flush=True)
        elif ev.get("type") == "call":
            threading.Thread(target=reply, args=(ev,), daemon=True).start()
        if time.time() > end:
            break
PY
python3 "$WORK/answerer.py" "$A" "$ANSWER_MS" >"$WORK/answer-a.out" 2>&1 &
PIDS+=($!)
python3 "$WORK/answerer.py" "$B" 0 >"$WORK/answer-b.out" 2>&1 &
PIDS+=($!)
answering() { grep -q '^answering' "$WORK/answer-a.out" && grep -q '^answering' "$WORK/answer-b.out"; }
check "clients on a and b answer topic slow" wait_for 10 answering

# calls ROUND: CALLS multicalls from b at once; prints one line per call,
# "ok" when a answered it with its own payload.
cat >"$WORK/calls.py" <<'PY'
import json, sys, threading, time, urllib.request
host, n, rnd, timeout_ms, a = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
out = [None] * n
def call(i):
    data = f"r{rnd}-q{i}"
    body = json.dumps({"topic": "slow", "data": data, "timeout_ms": timeout_ms}).encode()
    req = urllib.request.Request(f"http://{host}:7947/v1/multicall", body,
                                 {"Content-Type": "application/json"})
    t0 = time.time()
    try:
        res = json.load(urllib.request.urlopen(req, timeout=timeout_ms / 1000 + 5))
        got = [r.get("data") for r in res["replies"] if r["member"] == a]
        ok = got == ["re:" + data]
        out[i] = f"{'ok' if ok else 'bad'} {data} {time.time() - t0:.2f}s a={got} missing={res['missing']}"
    except Exception as e:
        out[i] = f"bad {data} {e}"
threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print("\n".join(out))
PY
probe() {
	"$FLOOD" probe "$PROBER:7000" "$A:7946" itest "$WORK/key" "$NAME_A" "$1" "$PING_MS" "$ACK_MS" \
		>"$WORK/probe.out" 2>&1
}
deferred0=$(counter "$A" cloister_calls_deferred_total)
probe "$PROBE_S" &
prober=$!
PIDS+=($prober)
total_ok=0
for r in $(seq 1 $ROUNDS); do
	timeout 30 python3 "$WORK/calls.py" "$B" "$CALLS" "$r" "$TIMEOUT_MS" "$NAME_A" >"$WORK/calls-$r.out" 2>&1
	ok=$(grep -c '^ok ' "$WORK/calls-$r.out")
	slowest=$(awk '$1 == "ok" { sub("s", "", $3); if ($3 > m) m = $3 } END { print m + 0 }' "$WORK/calls-$r.out")
	echo "    round $r: $ok of $CALLS calls answered by a with their own payload (slowest ${slowest} s)"
	grep -v '^ok ' "$WORK/calls-$r.out" | head -3
	total_ok=$((total_ok + ok))
done
wait "$prober"
out=$(cat "$WORK/probe.out")
echo "    prober: $out"
PINGS=$(sed -n 's/.*probe: \([0-9]*\) pings.*/\1/p' <<<"$out")
ACKED=$(sed -n 's/.* \([0-9]*\) acked within.*/\1/p' <<<"$out")
PINGS=${PINGS:-0} ACKED=${ACKED:-0}
deferred=$(($(counter "$A" cloister_calls_deferred_total) - ${deferred0:-0}))
echo "    a kept $deferred calls for its client (cloister_calls_deferred_total)"

check "all $((CALLS * ROUNDS)) calls answered by a's slow client, each with its own payload ($total_ok)" \
	test "$total_ok" -eq $((CALLS * ROUNDS))
check ">= 90% of $PINGS pings acked within $ACK_MS ms while a's client answered ($ACKED)" \
	bash -c "(( $PINGS > 0 && $ACKED * 100 >= $PINGS * 90 ))"
check "a counted the calls it kept ($deferred >= $((CALLS * ROUNDS)))" test "$deferred" -ge $((CALLS * ROUNDS))
failed=$(declared b failed "$NAME_A")
check "b never declared a failed ($failed times)" test "$failed" -eq 0
finish
