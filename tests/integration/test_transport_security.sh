#!/usr/bin/env bash
# Transport security against real agents (issue 13), on 127.0.21.x (agents),
# 127.0.22.x (attackers) and 127.0.23.x (the prober):
#
#   keys       an agent bound or advertised off loopback refuses to start
#              without a cluster key and says why; with --insecure it starts,
#              warns once and shows the "insecure" counter; a loopback agent
#              needs no key, and its plaintext frames get the same bounds
#              (a shared budget, deadlines);
#   streams    256 slow TCP connections sending junk, oversized frame headers
#              and frames that claim 16 MiB, against one agent of a keyed
#              3-node cluster: the others see it alive throughout, a real
#              prober's pings are answered, a new agent joins through it (its
#              inbound push-pull gets a connection), every attacking
#              connection is closed by the agent within its deadline, and its
#              RSS stays under RSS_BOUND_KB;
#   replay     a sealed USER cast and call, captured on lo, replayed to the
#              node they were for and to another node: rejected and counted,
#              the handler ran once; again after 9,000 other valid packets
#              (the old 8,192-slot filter's size) went to the target;
#   plaintext  a clear-text USER cast to a keyed agent: dropped, counted;
#   posing     a key holder's cast that names another member as its sender:
#              dropped, counted (the same cast naming itself is delivered).
source "$(dirname "$0")/lib.sh"

FLOOD=${CLOISTER_FLOOD:-$(dirname "$CLOISTER")/tests/cloister_flood}
if [[ ! -x $FLOOD ]]; then
	echo "SKIP: no flooder at $FLOOD (set CLOISTER_FLOOD)"
	exit 77
fi
# The replays are captured on lo with a packet socket.
if [[ $(id -u) -ne 0 ]]; then
	echo "SKIP: needs root (packet capture for the replay attack)"
	exit 77
fi
# The bound for the attacked agent's RSS.  Before authentication a
# connection holds at most one 64 KiB unit: 256 of them are 16 MiB, on top
# of an idle agent's ~5 MiB.  (Without the bound, the 64 frames below that
# claim 16 MiB took 128 MiB, and 256 x 16 MiB = 4 GiB was reachable.)
RSS_BOUND_KB=${RSS_BOUND_KB:-32768}
# Sanitizer builds start at 20-26 MB; there the bound is on growth, not
# the total: ASan with a small quarantine for freed blocks, TSan with three
# times the bound (its shadow memory is several bytes for each byte used).
SANITIZED=0
if grep -qa "__asan_init" "$CLOISTER"; then
	SANITIZED=1
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
elif grep -qa "__tsan_init" "$CLOISTER"; then
	SANITIZED=1
	RSS_BOUND_KB=$((3 * RSS_BOUND_KB))
fi

# metric IP NAME: the runtime counter NAME as /metrics publishes it ("" if absent).
metric() { counter "$1" "$2"; }
umask 077
"$CLOISTER" keygen >"$WORK/k1"

# ------------------------------------------------------------------ keys
# nokey ARGS...: an agent that must refuse to start; its output in $WORK/nokey.out.
nokey() {
	timeout $((10 * SLOW)) ${CLOISTER_WRAP:-} "$CLOISTER" agent --app tsec --profile local \
		--http 127.0.21.1:7947 "$@" >"$WORK/nokey.out" 2>&1
}
nokey --bind 0.0.0.0:27946
rc=$?
check "--bind 0.0.0.0 without a key: the agent does not start (exit $rc, not 0 or 124)" \
	bash -c "(( $rc != 0 && $rc != 124 ))"
check "... and says why and what to do ($(grep -m1 -io 'level=error.*' "$WORK/nokey.out" | cut -c1-160))" \
	bash -c "grep -qi 'key' '$WORK/nokey.out' && grep -q 'keygen' '$WORK/nokey.out' && grep -q -- '--insecure' '$WORK/nokey.out'"
nokey --advertise 192.0.2.10:27946 --bind 127.0.21.1:27946
rc=$?
check "--advertise 192.0.2.10 (bound on loopback) without a key: does not start (exit $rc)" \
	bash -c "(( $rc != 0 && $rc != 124 ))"

healthy() { http "$1" /health >/dev/null; }
start_agent insecure 127.0.21.2 --app tsec-plain --bind 0.0.0.0:27946 --insecure
check "with --insecure it starts" wait_for 10 healthy 127.0.21.2
warnings=$(grep -c 'level=warn.*\(insecure\|plaintext\)' "$WORK/insecure.log")
check "... with one warning line about it ($warnings)" [ "$warnings" -eq 1 ]
v=$(metric 127.0.21.2 insecure)
check "... and the insecure counter is 1 (${v:-absent})" [ "${v:-}" == 1 ]
kill -TERM "${AGENT_PID[insecure]}"
start_agent loopback 127.0.21.3 --app tsec-loopback
check "a keyless agent on loopback starts" wait_for 10 healthy 127.0.21.3
v=$(metric 127.0.21.3 insecure)
check "... and is not counted insecure (${v:-absent})" [ "${v:-}" == 0 ]

# Plaintext frames get the same bounds but authentication: 8 connections
# to the keyless agent claim 16 MiB frames and send 12 MiB each at once
# (96 MiB); the frames being assembled share a 64 MiB budget, so some are
# closed, and the agent's RSS stays under 64 MiB + 32 MiB; 8 more send
# 1,000 bytes of a frame and then a byte a second, and are closed by the
# 5 s deadline for a frame's first 64 KiB.
lrss() { awk '/^VmRSS:/ { print $2 }' "/proc/${AGENT_PID[loopback]}/status"; }
lbefore=$(lrss)
python3 - >"$WORK/plain-attack.out" 2>&1 <<'PY' &
import os, socket, time
junk = os.urandom(1 << 20)
big, slow = [], []
for i in range(8):
    s = socket.create_connection(("127.0.21.3", 7946), timeout=5, source_address=(f"127.0.22.{110 + i}", 0))
    big.append(s)
for i in range(8):
    s = socket.create_connection(("127.0.21.3", 7946), timeout=5, source_address=(f"127.0.22.{120 + i}", 0))
    s.sendall((16 << 20).to_bytes(4, "big") + junk[:1000]); s.setblocking(False); slow.append([s, time.time(), None])
cut = 0
for s in big:
    try:
        s.sendall((16 << 20).to_bytes(4, "big"))
        for _ in range(12):
            s.sendall(junk)
    except OSError:
        cut += 1
t0 = time.time()
while time.time() - t0 < 9 and any(c[2] is None for c in slow):
    for c in slow:
        if c[2] is not None:
            continue
        try:
            c[0].send(junk[:1])
            if c[0].recv(1) == b"": c[2] = time.time() - c[1]
        except BlockingIOError:
            pass
        except OSError:
            c[2] = time.time() - c[1]
    time.sleep(1)
closed = [c[2] for c in slow if c[2] is not None]
print(f"big: 8 sent, {cut} cut off by the agent; slow: {len(closed)} of 8 closed, last after {max(closed) if closed else -1:.1f} s")
PY
PLAIN=$!
PIDS+=($PLAIN)
lpeak=$lbefore
while kill -0 "$PLAIN" 2>/dev/null; do r=$(lrss); ((r > lpeak)) && lpeak=$r; sleep 0.2; done
echo "    $(cat "$WORK/plain-attack.out"); RSS ${lbefore} kB before, ${lpeak} kB peak"
ob=$(metric 127.0.21.3 streams_over_budget)
check "plaintext: frames past the shared 64 MiB budget were closed (streams_over_budget=${ob:-absent})" [ "${ob:-0}" -gt 0 ]
check "plaintext: RSS peak ${lpeak} kB under $((RSS_BOUND_KB + 65536)) kB" [ "$lpeak" -lt $((RSS_BOUND_KB + 65536)) ]
check "plaintext: every slow frame closed by its deadline" grep -q "slow: 8 of 8 closed" "$WORK/plain-attack.out"
kill -TERM "${AGENT_PID[loopback]}"

# ------------------------------------------------------------------ a keyed cluster
IPS=(127.0.21.10 127.0.21.11 127.0.21.12)
TARGET=127.0.21.10
SENTRY=127.0.21.10:7946,127.0.21.11:7946,127.0.21.12:7946
for i in 0 1 2; do
	start_agent "n$i" "${IPS[$i]}" --app tsec --consensus 3 --sentry "$SENTRY" \
		--key-file "$WORK/k1"
done
all3() { local ip; for ip in "${IPS[@]}"; do [[ $(count_status "$ip" alive) == 3 ]] || return 1; done; }
check "3 keyed agents see 3 alive" wait_for 30 all3

# ------------------------------------------------------------------ replay
# A subscriber on the target counts the cast's deliveries to its handler.
python3 - "$TARGET" $((60 * SLOW)) >"$WORK/events.out" 2>&1 <<'PY' &
import sys, time, urllib.request
host, secs = sys.argv[1], int(sys.argv[2])
end = time.time() + secs
with urllib.request.urlopen(f"http://{host}:7947/v1/events?answer=replay.topic", timeout=secs) as r:
    while time.time() < end:
        line = r.readline()
        if not line:
            break
        sys.stdout.write(line.decode()); sys.stdout.flush()
PY
SUB=$!
PIDS+=($SUB)
sleep 1
"$FLOOD" capture 4 "$WORK/to_n0.bin" "$TARGET" 7946 4000 >"$WORK/capture0.out" 2>&1 &
CAP0=$!
"$FLOOD" capture 4 "$WORK/to_n2.bin" 127.0.21.12 7946 4000 >"$WORK/capture2.out" 2>&1 &
CAP2=$!
PIDS+=($CAP0 $CAP2)
sleep 1
MARK=marker-$RANDOM$RANDOM
"$CLOISTER" multicast replay.topic "$MARK" --http 127.0.21.11:7947 >/dev/null ||
	fail "the genuine multicast was not sent"
"$CLOISTER" multicall cloister.ping x --http 127.0.21.11:7947 >"$WORK/call.out" 2>&1 ||
	fail "the genuine multicall went unanswered: $(cat "$WORK/call.out")"
wait "$CAP0" "$CAP2"
echo "    $(cat "$WORK/capture0.out"); $(cat "$WORK/capture2.out")"
captured() { [[ -s $WORK/to_n0.bin && -s $WORK/to_n2.bin ]]; }
check "traffic to the target and to another node was captured" captured
marks() { grep -c "$MARK" "$WORK/events.out"; }
check "the genuine cast reached the target's handler once ($(marks))" wait_for 5 bash -c "[[ \$(grep -c '$MARK' '$WORK/events.out') == 1 ]]"
in0=$(metric "$TARGET" user_in); in2=$(metric 127.0.21.12 user_in)
out0=$(metric "$TARGET" user_out)
echo "    before the replays: target user_in=$in0 user_out=$out0, n2 user_in=$in2"
drops() { http "$1" /metrics | awk -F'[{}" ]+' '$1 == "cloister_packets_dropped_total" && $4 > 0 { printf "%s=%s ", $3, $4 }'; }

FLOOD_SRC=127.0.22.200:0 "$FLOOD" sendeach "$TARGET:7946" "$WORK/to_n0.bin" >/dev/null
FLOOD_SRC=127.0.22.200:0 "$FLOOD" sendeach 127.0.21.12:7946 "$WORK/to_n0.bin" >/dev/null
FLOOD_SRC=127.0.22.200:0 "$FLOOD" sendeach "$TARGET:7946" "$WORK/to_n2.bin" >/dev/null
sleep 1
in0b=$(metric "$TARGET" user_in); in2b=$(metric 127.0.21.12 user_in)
out0b=$(metric "$TARGET" user_out)
echo "    target drops: $(drops "$TARGET")"
echo "    n2 drops: $(drops 127.0.21.12)"
check "replayed to the same node: no message delivered again (user_in $in0 -> $in0b, replies sent $out0 -> $out0b)" \
	[ "$in0b" == "$in0" ] && [ "$out0b" == "$out0" ]
check "replayed to another node: nothing delivered (user_in $in2 -> $in2b)" [ "$in2b" == "$in2" ]
check "the cast's handler ran once ($(marks))" [ "$(marks)" == 1 ]
r=$(metric "$TARGET" drops_replay)
check "replays to the same node were counted (drops_replay=${r:-absent})" [ "${r:-0}" -gt 0 ]
r0=$(metric "$TARGET" drops_recipient); r2=$(metric 127.0.21.12 drops_recipient)
check "packets for another node were counted at both (drops_recipient ${r0:-absent}, ${r2:-absent})" \
	[ "${r0:-0}" -gt 0 ] && [ "${r2:-0}" -gt 0 ]

# The old filter remembered the last 8,192 nonces: 9,000 other valid packets
# flushed it (sealed pings made with the key stand in for minutes of other
# captured traffic), and the replay opened again.
"$FLOOD" synth "$WORK/pings.bin" tsec "$WORK/k1" "tsec@$TARGET" 127.0.22.201:7946 9000 >/dev/null
FLOOD_SRC=127.0.22.201:0 "$FLOOD" sendeach "$TARGET:7946" "$WORK/pings.bin" 20 >/dev/null
FLOOD_SRC=127.0.22.200:0 "$FLOOD" sendeach "$TARGET:7946" "$WORK/to_n0.bin" >/dev/null
sleep 1
in0c=$(metric "$TARGET" user_in); out0c=$(metric "$TARGET" user_out)
check "after 9,000 other packets, the replay is still rejected (user_in $in0 -> $in0c, replies $out0 -> $out0c)" \
	[ "$in0c" == "$in0" ] && [ "$out0c" == "$out0" ]
check "... and the cast's handler still ran once ($(marks))" [ "$(marks)" == 1 ]

# ------------------------------------------------------------------ plaintext
"$FLOOD" plaincast "$WORK/plain.bin" tsec replay.topic tsec@127.0.21.11 "plain-$MARK" >/dev/null
p0=$(metric "$TARGET" drops_plaintext)
in0=$(metric "$TARGET" user_in)
FLOOD_SRC=127.0.22.202:0 "$FLOOD" sendeach "$TARGET:7946" "$WORK/plain.bin" >/dev/null
sleep 1
p1=$(metric "$TARGET" drops_plaintext)
in0d=$(metric "$TARGET" user_in)
check "a plaintext cast to a keyed node: not delivered (user_in $in0 -> $in0d, events $(grep -c "plain-$MARK" "$WORK/events.out"))" \
	[ "$in0d" == "$in0" ] && ! grep -q "plain-$MARK" "$WORK/events.out"
check "... and counted (drops_plaintext ${p0:-absent} -> ${p1:-absent})" [ "${p1:-0}" -gt "${p0:-0}" ]

# ------------------------------------------------------------------ posing
# A key holder sealing a cast under its own sender id while naming another
# member as the sender: dropped (the name must hash to the authenticated
# id).  The same cast naming itself is delivered: the path works.
"$FLOOD" sealcast "$WORK/posing.bin" tsec "$WORK/k1" replay.topic tsec@127.0.21.11 "tsec@$TARGET" "posing-$MARK" >/dev/null
"$FLOOD" sealcast "$WORK/honest.bin" tsec "$WORK/k1" replay.topic flood-prober "tsec@$TARGET" "honest-$MARK" >/dev/null
g0=$(metric "$TARGET" user_in_forged)
FLOOD_SRC=127.0.22.203:0 "$FLOOD" sendeach "$TARGET:7946" "$WORK/posing.bin" >/dev/null
FLOOD_SRC=127.0.22.203:0 "$FLOOD" sendeach "$TARGET:7946" "$WORK/honest.bin" >/dev/null
check "a cast naming itself (flood-prober) is delivered" \
	wait_for 5 grep -q "honest-$MARK" "$WORK/events.out"
g1=$(metric "$TARGET" user_in_forged)
check "a key holder's cast posing as another member is not delivered ($(grep -c "posing-$MARK" "$WORK/events.out") events)" \
	bash -c "! grep -q 'posing-$MARK' '$WORK/events.out'"
check "... and counted (user_in_forged ${g0:-absent} -> ${g1:-absent})" [ "${g1:-0}" -gt "${g0:-0}" ]
kill "$SUB" 2>/dev/null

# ------------------------------------------------------------------ streams
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/${AGENT_PID[n0]}/status"; }
f0=$(metric "$TARGET" drops_frame)
before=$(rss_kb)
ATTACK_SECS=$((16 * SLOW))
# 256 slow connections from 16 addresses (16 each):
#   kind 1 (64)   a header claiming 16 MiB, 2 MiB of junk at once, then a byte a second
#   kind 2 (128)  a header claiming 65,500 bytes, 65,000 of junk, then a byte a second
#   kind 3 (64)   a header claiming 65,500 bytes sent a byte a second, then junk
#                 a byte a second
# beside them, 64 oversized frame headers (0xffffffff, kind 0, from
# 127.0.22.50-53) and 40 connections from one address (kind 4, 127.0.22.100)
# that the per-address cap refuses past its bound; and, as an attacker
# would, a new slow connection every 0.25 s (kind 5, 127.0.22.60-75, at
# most 64) to take any slot that frees up.  Each connection's close by the
# agent is timed from its own connect.
python3 - "$TARGET" "$ATTACK_SECS" >"$WORK/attack.out" 2>&1 <<'PY' &
import os, selectors, socket, sys, time
host, secs = sys.argv[1], int(sys.argv[2])
t0 = time.time()
conns = []
def opened(src, kind):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((src, 0))
    try:
        s.connect((host, 7946))
    except OSError:
        s.close(); return
    # Timed from the connection's establishment: under a burst of 360
    # connects the kernel's accept queue makes some wait for a SYN retry.
    at = time.time()
    s.setblocking(False)
    conns.append({"s": s, "kind": kind, "at": at, "closed": None})
for i in range(256):
    opened(f"127.0.22.{1 + i // 16}", 1 if i < 64 else 2 if i < 192 else 3)
junk = os.urandom(1 << 20)
def send(c, data):
    try:
        c["s"].send(data)
    except BlockingIOError:
        pass
    except OSError:
        if c["closed"] is None: c["closed"] = time.time() - c["at"]
def start(c):
    k = c["kind"]
    if k == 0: send(c, b"\xff\xff\xff\xff" + junk[:1000])
    elif k in (1, 2):
        # All of it, blocking (bounded): the agent must take it or close.
        c["s"].settimeout(3)
        try:
            if k == 1:
                c["s"].sendall((16 << 20).to_bytes(4, "big") + junk + junk)
            else:
                c["s"].sendall((65500).to_bytes(4, "big") + junk[:65000])
        except socket.timeout:
            pass
        except OSError:
            if c["closed"] is None: c["closed"] = time.time() - c["at"]
        c["s"].setblocking(False)
    elif k == 3:
        c["slow"] = (65500).to_bytes(4, "big")
        send(c, c["slow"][:1]); c["slow"] = c["slow"][1:]
for c in conns:
    start(c)
for i in range(64):
    opened(f"127.0.22.{50 + i // 16}", 0); start(conns[-1])
for i in range(40):
    opened("127.0.22.100", 4)
sel = selectors.DefaultSelector()
for c in conns:
    sel.register(c["s"], selectors.EVENT_READ, c)
last_tick = last_refill = time.time()
refills = 0
while time.time() - t0 < secs:
    # A real attacker reconnects: a new slow connection every 0.25 s keeps
    # taking whatever slot frees up.
    # (Not in the last 7 s: each must meet its deadline before the end.)
    if time.time() - last_refill >= 0.25 and refills < 64 and time.time() - t0 < secs - 7:
        last_refill = time.time()
        opened(f"127.0.22.{60 + refills % 16}", 5)
        refills += 1
        if conns[-1]["kind"] == 5 and "slow" not in conns[-1]:
            c = conns[-1]
            c["slow"] = (65500).to_bytes(4, "big")
            send(c, c["slow"][:1]); c["slow"] = c["slow"][1:]
            sel.register(c["s"], selectors.EVENT_READ, c)
    for key, _ in sel.select(timeout=0.2):
        c = key.data
        try:
            data = c["s"].recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if not data and c["closed"] is None:
            c["closed"] = time.time() - c["at"]
        if not data:
            sel.unregister(c["s"])
    if time.time() - last_tick >= 1:
        last_tick = time.time()
        for c in conns:
            if c["closed"] is None and c["kind"] in (1, 2, 3, 5):
                if c.get("slow"):
                    send(c, c["slow"][:1]); c["slow"] = c["slow"][1:]
                else:
                    send(c, junk[:1])
names = ["oversized header", "claims 16 MiB", "claims 65,500 bytes, slow", "slow header", "one address", "reconnecting, slow header"]
for k in range(6):
    mine = [c for c in conns if c["kind"] == k]
    closed = sorted(c["closed"] for c in mine if c["closed"] is not None)
    fast = sum(1 for t in closed if t < 2.5)
    late = max(closed) if closed else -1
    print(f"kind {k} opened={len(mine)} closed={len(closed)} fast={fast} last={late:.1f} open={len(mine) - len(closed)} ({names[k]})")
PY
ATTACK=$!
PIDS+=($ATTACK)
"$FLOOD" probe 127.0.23.1:7000 "$TARGET:7946" tsec "$WORK/k1" "tsec@$TARGET" $((ATTACK_SECS - 2)) 100 200 \
	>"$WORK/probe.out" 2>&1 &
PROBER=$!
PIDS+=($PROBER)
sleep 2
# A fourth agent joins through the target alone: its push-pull needs an
# inbound connection there while the attack holds 256.
start_agent n3 127.0.21.13 --app tsec --consensus 3 --sentry "$TARGET:7946" --key-file "$WORK/k1"
peak=$before; seen_dead=0; samples=0; joined=""
t0=$SECONDS
while kill -0 "$ATTACK" 2>/dev/null && ((SECONDS - t0 < ATTACK_SECS + 10)); do
	r=$(rss_kb); ((r > peak)) && peak=$r
	for ip in 127.0.21.11 127.0.21.12; do
		s=$(member_status "$ip" "tsec@$TARGET")
		[[ $s == alive ]] || { seen_dead=$((seen_dead + 1)); echo "    $ip saw the target as '${s:-unreachable}'"; }
	done
	[[ -z $joined && $(member_status 127.0.21.11 tsec@127.0.21.13) == alive ]] && joined=$((SECONDS - t0))
	samples=$((samples + 1))
	sleep 0.5
done
wait "$ATTACK"; wait "$PROBER"
after=$(rss_kb)
cat "$WORK/attack.out" | sed 's/^/    /'
echo "    $(cat "$WORK/probe.out")"
echo "    target RSS: ${before} kB before, ${peak} kB peak, ${after} kB after (bound ${RSS_BOUND_KB} kB)"
echo "    target drops: $(drops "$TARGET")"
f1=$(metric "$TARGET" drops_frame)
check "the others saw the target alive at all $samples samples ($seen_dead not alive)" [ "$seen_dead" -eq 0 ]
pings=$(sed -n 's/.*probe: \([0-9]*\) pings.*/\1/p' "$WORK/probe.out")
acked=$(sed -n 's/.* \([0-9]*\) acked within.*/\1/p' "$WORK/probe.out")
check "its probes answered: >= 90% of ${pings:-0} pings acked within 200 ms (${acked:-0})" \
	bash -c "(( ${pings:-0} > 0 && ${acked:-0} * 100 >= ${pings:-0} * 90 ))"
check "a new agent joined through it during the attack (after ${joined:-never} s)" [ -n "$joined" ]
if ((SANITIZED)); then
	check "RSS grew ${before} -> ${peak} kB: by less than ${RSS_BOUND_KB} kB (sanitizer build)" \
		[ $((peak - before)) -lt "$RSS_BOUND_KB" ]
else
	check "RSS peak ${peak} kB under ${RSS_BOUND_KB} kB" [ "$peak" -lt "$RSS_BOUND_KB" ]
fi
# field KIND NAME: a number from the attacker's line for KIND.
field() { sed -n "s/^kind $1 .*$2=\([-0-9.]*\).*/\1/p" "$WORK/attack.out"; }
kind_ok() { # kind_ok KIND MAX_SECONDS: every connection of KIND closed within MAX_SECONDS
	local o c l
	o=$(field "$1" opened); c=$(field "$1" closed); l=$(field "$1" last)
	[[ -n $o && $o -gt 0 && $c == "$o" ]] && python3 -c "import sys; sys.exit(not float('$l') <= $2)"
}
check "oversized frame headers: every connection closed at once (< 2.5 s)" kind_ok 0 2.5
check "frames claiming 16 MiB: every connection closed at once (< 2.5 s)" kind_ok 1 2.5
check "slow frames: every connection closed by its deadline (< 10 s), though each sent a byte a second" kind_ok 2 10
check "slow headers: every connection closed by its deadline (< 10 s)" kind_ok 3 10
check "reconnecting slow headers: every connection closed by its deadline (< 10 s)" kind_ok 5 10
# Refused ones close at once; the 16 taken are closed later, by the 5 s
# deadline for a first authenticated frame.
n41=$(field 4 fast)
check "40 more from one address: the 24 past the per-address cap (16) refused at once (${n41:-0})" [ "${n41:-0}" -eq 24 ]
ev=$(metric "$TARGET" connections_evicted)
# A connection evicted for a newcomer before its header was read is
# counted there instead.
check "the 128 oversized headers were counted (drops_frame ${f0:-absent} -> ${f1:-absent}, connections_evicted ${ev:-absent})" \
	[ $((${f1:-0} - ${f0:-0} + ${ev:-0})) -ge 128 ]
check "after the attack: 4 alive everywhere" wait_for 15 bash -c '
	for ip in 127.0.21.10 127.0.21.11 127.0.21.12 127.0.21.13; do
		[[ $(python3 -c "import json,urllib.request; print(sum(m[\"status\"]==\"alive\" for m in json.load(urllib.request.urlopen(\"http://$ip:7947/v1/members\", timeout=3))))") == 4 ]] || exit 1
	done'

finish
