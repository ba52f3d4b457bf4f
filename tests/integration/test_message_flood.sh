#!/usr/bin/env bash
# test_message_flood.sh — a key holder floods an agent with application
# messages while its local clients do not keep up.
#
# a has two HTTP clients: one streams /v1/events and never reads a byte
# (its socket buffers fill, then its queue in the agent), one answers
# topic "stall" and never replies.  Member b's key (tests/tools/usercall.c,
# sealed as b for a, 1 KiB payloads) sends CASTS casts and CALLS calls on
# "stall" (a cast on an answered topic is an event for every stream) as
# fast as one process can seal them, each from its own process, while a
# prober (tests/tools/flood.c, 127.0.41.9) pings a every 100 ms.
#
# Checked: a's resident memory grows by less than 64 MiB (the bounds:
# user_queue_max messages of at most 1 MiB queued inbound, but each
# datagram here is 1 KiB; 1,024 events or 8 MiB per event stream; at most
# user_queue_max calls kept, each given up after 2 s); the overflow is
# counted (events dropped for the stalled stream, or messages dropped at
# the queue, or calls refused); >= 90 % of the pings acked within 100 ms
# during the flood; a still answers /v1/status; b never declared a failed.
# Unbounded, the 1 KiB events alone would take over 100 MiB.
source "$(dirname "$0")/lib.sh"

test_tool USERCALL usercall
test_tool FLOOD flood
A=127.0.41.1 B=127.0.41.2 PROBER=127.0.41.9
NAME_A=itest@$A NAME_B=itest@$B
CASTS=${FLOOD_CASTS:-120000} CALLS=${FLOOD_CALLS:-20000}
PING_MS=100 ACK_MS=100 PROBE_S=8

start_watched_pair "$A" "$B"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/${AGENT_PID[a]}/status"; }

# The stalled reader: connects, sends its request, then sleeps.
python3 - "$A" >"$WORK/stalled.out" 2>&1 <<'PY' &
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], 7947))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
token = os.environ["CLOISTER_TOKEN"]
s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: {sys.argv[1]}:7947\r\n"
          f"Authorization: Bearer {token}\r\n\r\n".encode())
print("connected", flush=True)
time.sleep(120)
PY
PIDS+=($!)
curl -sN --noproxy '*' --max-time 120 "http://$A:7947/v1/events?answer=stall" >"$WORK/stall.out" 2>/dev/null &
PIDS+=($!)
ready() { grep -q connected "$WORK/stalled.out" && head -1 "$WORK/stall.out" 2>/dev/null | grep -q '"answering"'; }
check "a stalled event stream and a hung answerer of stall on a" wait_for 10 ready

head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$WORK/payload"
sleep 1
rss0=$(rss_kb)
dropped0=$(counter "$A" cloister_api_events_dropped_total)
qfull0=$(counter "$A" user_in_dropped)
refused0=$(counter "$A" calls_defer_refused)
in0=$(counter "$A" user_in)

"$FLOOD" probe "$PROBER:7000" "$A:7946" itest "$WORK/key" "$NAME_A" "$PROBE_S" "$PING_MS" "$ACK_MS" \
	>"$WORK/probe.out" 2>&1 &
prober=$!
PIDS+=($prober)
USERCALL_COUNT=$CASTS timeout 60 "$USERCALL" "$A:7946" itest "$NAME_A" stall "$NAME_B" cast \
	"$WORK/payload" "keyfile:$WORK/key" >"$WORK/casts.out" 2>&1 &
casts=$!
PIDS+=($casts)
USERCALL_COUNT=$CALLS timeout 60 "$USERCALL" "$A:7946" itest "$NAME_A" stall "$NAME_B" call \
	"$WORK/payload" "keyfile:$WORK/key" >"$WORK/calls.out" 2>&1 &
calls=$!
PIDS+=($calls)
wait "$casts"; casts_rc=$?
wait "$calls"; calls_rc=$?
cat "$WORK/casts.out" "$WORK/calls.out"
wait "$prober"
sleep 1
rss1=$(rss_kb)
out=$(cat "$WORK/probe.out")
echo "    prober: $out"
PINGS=$(sed -n 's/.*probe: \([0-9]*\) pings.*/\1/p' <<<"$out")
ACKED=$(sed -n 's/.* \([0-9]*\) acked within.*/\1/p' <<<"$out")
PINGS=${PINGS:-0} ACKED=${ACKED:-0}
received=$(($(counter "$A" user_in) - in0))
dropped=$(($(counter "$A" cloister_api_events_dropped_total) - dropped0))
qfull=$(($(counter "$A" user_in_dropped) - qfull0))
refused=$(($(counter "$A" calls_defer_refused) - refused0))
grew=$(((rss1 - rss0) / 1024))
echo "    a: RSS ${rss0} -> ${rss1} kB (+${grew} MiB); messages queued $received, dropped at the queue $qfull; events dropped for the stalled stream $dropped; calls refused (user_queue_max kept) $refused"

check "b sent its $CASTS casts and $CALLS calls, sealed" test "$casts_rc" -eq 0 -a "$calls_rc" -eq 0
check "a received a good share of them ($received >= $(((CASTS + CALLS) / 10)))" test "$received" -ge $(((CASTS + CALLS) / 10))
check "a's RSS grew by under 64 MiB (+$grew MiB)" test "$grew" -lt 64
check "the stalled stream's overflow was dropped and counted ($dropped events)" test "$dropped" -gt 0
check "calls past user_queue_max kept were refused and counted ($refused)" test "$refused" -gt 0
check ">= 90% of $PINGS pings acked within $ACK_MS ms during the flood ($ACKED)" \
	bash -c "(( $PINGS > 0 && $ACKED * 100 >= $PINGS * 90 ))"
check "a still answers /v1/status" http "$A" /v1/status >/dev/null
failed=$(declared b failed "$NAME_A")
check "b never declared a failed ($failed times)" test "$failed" -eq 0
finish
