#!/usr/bin/env bash
# systemd's notifications from real agents (127.0.51.1-2), read from a fake
# NOTIFY_SOCKET (a Unix datagram socket this test binds, with the sender's
# credentials): READY=1 as soon as the agent serves, while its cluster still
# lacks its quorum (consensus 2, one node), so a node started alone never
# holds `systemctl start`; STATUS= following the quorum (assembling, then
# ready when the second node joins, then not ready when it is killed);
# WATCHDOG=1 every half WATCHDOG_USEC, none when WATCHDOG_PID names another
# process; STOPPING=1 on SIGTERM; every datagram from the agent's own PID
# (what NotifyAccess=main accepts).
source "$(dirname "$0")/lib.sh"
A=127.0.51.1 B=127.0.51.2
SENTRY="$A:7946,$B:7946"

# listen SOCKET OUT: every datagram as a JSON line {t, pid, text}.
listen() {
	python3 - "$1" "$2" <<'PY' &
import json, socket, struct, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
open(out + ".bound", "w").close()
end = time.time() + 120
with open(out, "a") as f:
    while time.time() < end:
        s.settimeout(max(0.1, end - time.time()))
        try:
            data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            break
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        f.write(json.dumps({"t": time.time(), "pid": pid, "text": data.decode()}) + "\n")
        f.flush()
PY
	PIDS+=($!)
	local _
	for _ in $(seq 1 50); do [[ -e $2.bound ]] && return 0; sleep 0.1; done
	return 1
}

# texts FILE: the datagrams' texts, one per line (newlines inside as '|').
texts() { python3 -c 'import json,sys
for l in open(sys.argv[1]): print(json.loads(l)["text"].replace("\n","|"))' "$1" 2>/dev/null; }
has() { texts "$1" | grep -qE "$2"; }

check "the fake notify socket is bound" listen "$WORK/notify" "$WORK/a.notify"
NOTIFY_SOCKET="$WORK/notify" WATCHDOG_USEC=400000 \
	start_agent a "$A" --sentry "$SENTRY" --consensus 2
check "READY=1 while alone (consensus 2): STATUS=assembling, 1 of 2" \
	wait_for 10 has "$WORK/a.notify" '^READY=1\|STATUS=assembling: 1 of 2 members alive'
st=$(http "$A" /v1/status | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
check "the agent answers its API, and is not ready ($st)" test "$st" != ready -a -n "$st"
sleep 2
n=$(texts "$WORK/a.notify" | grep -c '^WATCHDOG=1$' || true)
check "WATCHDOG=1 every 200 ms for WATCHDOG_USEC=400000 ($n pings in ~2 s)" test "$n" -ge 6

start_agent b "$B" --sentry "$SENTRY" --consensus 2
check "STATUS=ready once the second node joins" \
	wait_for 20 has "$WORK/a.notify" '^STATUS=ready: 2 of 2 members alive'
kill -KILL "${AGENT_PID[b]}"
check "STATUS leaves ready when the quorum is lost" \
	wait_for 30 bash -c "python3 -c 'import json,sys
t=[json.loads(l)[\"text\"] for l in open(sys.argv[1])]
i=max(k for k,x in enumerate(t) if x.startswith(\"STATUS=ready\"))
sys.exit(0 if any(x.startswith(\"STATUS=\") and not x.startswith(\"STATUS=ready\") for x in t[i+1:]) else 1)' $WORK/a.notify"
kill -TERM "${AGENT_PID[a]}"
check "STOPPING=1 on SIGTERM" wait_for 10 has "$WORK/a.notify" '^STOPPING=1'
for _ in $(seq 1 100); do kill -0 "${AGENT_PID[a]}" 2>/dev/null || break; sleep 0.1; done
check "every datagram came from the agent's own PID ${AGENT_PID[a]}" python3 -c '
import json, sys
pids = {json.loads(l)["pid"] for l in open(sys.argv[1])}
sys.exit(0 if pids == {int(sys.argv[2])} else 1)' "$WORK/a.notify" "${AGENT_PID[a]}"
check "READY=1 was sent once" test "$(texts "$WORK/a.notify" | grep -c 'READY=1')" -eq 1

# A watchdog meant for another process (WATCHDOG_PID) is not ours to ping.
check "a second notify socket is bound" listen "$WORK/notify2" "$WORK/b.notify"
NOTIFY_SOCKET="$WORK/notify2" WATCHDOG_USEC=200000 WATCHDOG_PID=1 \
	start_agent b2 "$B" --sentry "$SENTRY"
check "READY=1 from a lone node with consensus 1" wait_for 10 has "$WORK/b.notify" '^READY=1'
sleep 1
check "no WATCHDOG=1 when WATCHDOG_PID is another process" bash -c "! grep -q WATCHDOG $WORK/b.notify"
finish
