#!/usr/bin/env bash
# test_hooks_security.sh — what a hook command gets, against real agents
# (issue 13, "hooks, files, logs"), on 127.0.24.1-3:
#   - a hook that lists its descriptors sees 0, 1 and 2 only: no socket
#     (gossip, HTTP, probe, Unix control socket), no Erlang port pipe, no
#     file of the agent's; reading its stdin it gets a JSON document, not
#     the agent's stdin (a secret there, or the Erlang port's frames);
#   - a member's tags arrive exact in that JSON (a value holding ',', '='
#     and a newline, which CLOISTER_MEMBER_TAGS=k=v,k=v could not carry);
#   - what a hook prints reaches the agent's log as a quoted field of a
#     line of the agent's own, so a hook cannot forge log lines;
#   - member names from the network (spaces, '=', quotes, bytes that are
#     not UTF-8) appear quoted and escaped in the agent's log lines;
#   - 10,000 members do not stop the on-change hook: it runs and gets all
#     of them on stdin (the old CLOISTER_MEMBERS environment string made
#     the spawn fail with E2BIG and the hook silently never ran).
# The members are announced by a key-holding push-pull tool
# (tests/tools/pushmembers.c, CLOISTER_PUSHMEMBERS).
source "$(dirname "$0")/lib.sh"

PUSH=${CLOISTER_PUSHMEMBERS:-$(dirname "$CLOISTER")/tests/cloister_pushmembers}
[[ -x $PUSH ]] || { echo "SKIP: no pushmembers tool at $PUSH"; exit 77; }
A=127.0.24.1 B=127.0.24.2 C=127.0.24.3
"$CLOISTER" keygen >"$WORK/key"
chmod 600 "$WORK/key"
mkdir -p "$WORK/hooks" "$WORK/adata"
echo "AGENT-STDIN-SECRET" >"$WORK/secret"

# The hook: records its descriptors, its stdin (3 s at most) and its
# CLOISTER_* environment in hooks/KIND.PID.json, then prints a line to
# stdout and a forged log line to stderr.
cat >"$WORK/hook.py" <<'PY'
import json, os, select, sys, time
kind, outdir = sys.argv[1], sys.argv[2]
fds = {}
for fd in os.listdir("/proc/self/fd"):
    try:
        fds[fd] = os.readlink("/proc/self/fd/" + fd)
    except OSError:
        pass  # the listing's own directory, closed by now
fds = {k: v for k, v in fds.items() if not v.startswith("/proc/")}
data, status, deadline = b"", "eof", time.time() + 3
while True:
    left = deadline - time.time()
    r = select.select([0], [], [], max(left, 0))[0] if left > 0 else []
    if not r:
        status = "timeout"
        break
    chunk = os.read(0, 1 << 20)
    if not chunk:
        break
    data += chunk
rec = {"kind": kind, "fds": fds, "stdin_status": status, "stdin_len": len(data),
       "secret": b"AGENT-STDIN-SECRET" in data,
       "env": {k: v for k, v in os.environ.items() if k.startswith("CLOISTER_")}}
try:
    doc = json.loads(data)
except Exception:
    doc = None
if isinstance(doc, dict) and isinstance(doc.get("members"), list):
    ms = doc.pop("members")
    rec["n_members"] = len(ms)
    rec["member_names"] = [m.get("name") for m in ms] if len(ms) <= 100 else []
    rec["members_ok"] = all(isinstance(m.get("name"), str) and "addr" in m and
                            "status" in m and isinstance(m.get("tags"), dict) for m in ms)
rec["doc"] = doc
tmp = os.path.join(outdir, ".%s.%d" % (kind, os.getpid()))
with open(tmp, "w") as f:
    json.dump(rec, f)
os.rename(tmp, os.path.join(outdir, "%s.%d.json" % (kind, os.getpid())))
print("hook-said: %s ran" % kind, flush=True)
sys.stderr.write("level=error msg=forged-by-hook\n")
PY
HOOK="python3 $WORK/hook.py"

# hooks KIND [N]: the records of that kind's runs (the first N), one JSON
# object a line, oldest first.
hooks() {
	python3 - "$WORK/hooks" "$1" "${2:-0}" <<'PY'
import glob, json, os, sys
paths = sorted(glob.glob(os.path.join(sys.argv[1], sys.argv[2] + ".*.json")), key=os.path.getmtime)
for p in paths[:int(sys.argv[3]) or None]:
    print(json.dumps(json.load(open(p))))
PY
}
have_hook() { [[ -n $(hooks "$1") ]]; }

# --- A: HTTP, probe, Unix socket, data dir, key file; stdin holds a secret.
# (Not start_agent: a background job's stdin would be /dev/null.)
"$CLOISTER" agent --app itest --name a --advertise "$A:7946" --http "$A:7947" \
	--profile local --key-file "$WORK/key" --ctl "$WORK/a.ctl" \
	--probe "$A:7948" --data-dir "$WORK/adata" \
	--on-change "$HOOK change $WORK/hooks" \
	--on-member "$HOOK member $WORK/hooks" <"$WORK/secret" >>"$WORK/a.log" 2>&1 &
AGENT_PID[a]=$!
PIDS+=($!)
check "a's on-change hook ran" wait_for 20 have_hook change

# fd_report KIND: "fds=0,1,2 sockets=0 stdin=eof secret=False json=True" for
# the first run of that kind.
fd_report() {
	hooks "$1" 1 | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())
fds = sorted(int(k) for k in r["fds"])
socks = [v for v in r["fds"].values() if v.startswith("socket:")]
print("fds=%s sockets=%d stdin=%s secret=%s json=%s" % (",".join(map(str, fds)),
      len(socks), r["stdin_status"], r["secret"], isinstance(r["doc"], dict)))
for k, v in sorted(r["fds"].items(), key=lambda kv: int(kv[0])):
    print("  fd %s -> %s" % (k, v), file=sys.stderr)'
}
rep=$(fd_report change)
echo "a's on-change hook: $rep"
check "a's hook holds descriptors 0, 1 and 2 only" bash -c "[[ '$rep' == 'fds=0,1,2 '* ]]"
check "a's hook holds no socket (gossip, HTTP, probe, control socket)" bash -c "[[ '$rep' == *' sockets=0 '* ]]"
check "a's hook does not read the agent's stdin" bash -c "[[ '$rep' == *' secret=False '* ]]"
check "a's hook reads a JSON document to its end on stdin" bash -c "[[ '$rep' == *'stdin=eof secret=False json=True' ]]"
doc_ok=$(hooks change | tail -1 | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())
d = r["doc"] or {}
print(d.get("type") == "state" and d.get("node") == "a" and d.get("to") == r["env"].get("CLOISTER_TO")
      and "a" in r.get("member_names", []) and r.get("members_ok") is True
      and r["env"].get("CLOISTER_NODE") == "a" and r["env"].get("CLOISTER_MEMBERS", "").split(",")[0] == "a")')
check "the on-change JSON has type, node, to (= CLOISTER_TO) and the members; CLOISTER_MEMBERS kept while small" test "$doc_ok" = True
no_secrets=$(hooks change 1 | python3 -c '
import json, sys
e = json.loads(sys.stdin.readline())["env"]
print(not any(k in e for k in ("CLOISTER_TOKEN", "CLOISTER_KEY", "CLOISTER_KEY_FILE", "CLOISTER_PASSPHRASE")))')
check "no token or key in the hook's environment" test "$no_secrets" = True

# Hook output: in the agent's log as a quoted field of its own line.
out_logged() { grep -q '^ts=.* msg="hook output" .*line="hook-said: change ran"' "$WORK/a.log"; }
check "a hook's stdout is logged as a quoted field of the agent's line" wait_for 5 out_logged
check "a hook cannot forge a log line (no line starts with its text)" \
	bash -c "! grep -q '^level=error msg=forged-by-hook' '$WORK/a.log'"

# Members with hostile names and a tag the old k=v,k=v string mangled.
"$PUSH" "$A:7946" itest "$WORK/key" odd- 0 1 'odd name=x' 'quo"te\\back' 'bad\xff\xfeutf8 k=v'
# A control byte in a name: the decoder refuses the frame (counted), so
# no log line can be split by it.
"$PUSH" "$A:7946" itest "$WORK/key" nl- 0 1 'new\nline level=error msg=forged-name'
member_rec() { hooks member | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["env"].get("CLOISTER_MEMBER") == sys.argv[1] and r["env"].get("CLOISTER_EVENT") == "joined":
        print(l.strip()); break' "$1"; }
odd_seen() { [[ -n $(member_rec 'odd name=x') ]]; }
check "the on-member hook ran for 'odd name=x' (CLOISTER_MEMBER)" wait_for 15 odd_seen
tags_ok=$(member_rec 'odd name=x' | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline() or "{}")
d = r.get("doc") or {}
m = d.get("member") or d
print(d.get("event") == "joined" and m.get("name") == "odd name=x" and
      m.get("tags") == {"note": "a,b=c\nd\"e"} and r["fds"].keys() <= {"0", "1", "2"})')
check "its JSON carries the member and its tag exactly (',', '=', newline, quote)" test "$tags_ok" = True

# Logs: names quoted and escaped, no raw byte that is not UTF-8.
sleep 1
grep -a 'member joined' "$WORK/a.log" | grep -a 'odd\|quo\|bad' | sed 's/^/  log: /' | LC_ALL=C cat -v
check "a name with a space and '=' is quoted in the log" \
	grep -q 'msg="member joined" member="odd name=x" ' "$WORK/a.log"
check "a name with a quote and a backslash is escaped" \
	grep -qF 'member="quo\"te\\back"' "$WORK/a.log"
check "bytes that are not UTF-8 are written \\xNN" \
	grep -qF 'member="bad\xff\xfeutf8 k=v"' "$WORK/a.log"
check "no byte that is not UTF-8 reaches the log" \
	bash -c "! LC_ALL=C grep -qaP '[\x80-\xff]' '$WORK/a.log' || iconv -f UTF-8 -t UTF-8 '$WORK/a.log' >/dev/null 2>&1"
check "the name with a newline forged no line" bash -c "! grep -qa '^line level=error' '$WORK/a.log'"

# --- B: an Erlang port (--stdio etf) whose stdin the test holds open.
if "$CLOISTER" agent --help | grep -q -- '--stdio'; then
	mkfifo "$WORK/port.fifo"
	exec 7<>"$WORK/port.fifo"
	"$CLOISTER" agent --app itest --name b --advertise "$B:7946" --http off \
		--profile local --stdio etf --on-change "$HOOK portchange $WORK/hooks" \
		<&7 7<&- >"$WORK/b.port" 2>>"$WORK/b.log" &
	PIDS+=($!)
	check "b's on-change hook ran" wait_for 20 have_hook portchange
	rep=$(fd_report portchange)
	echo "b's on-change hook: $rep"
	check "b's hook holds descriptors 0, 1 and 2 only (not the port's pipes)" \
		bash -c "[[ '$rep' == 'fds=0,1,2 '* ]]"
	check "b's hook reads its JSON, not the port's stdin" \
		bash -c "[[ '$rep' == *'stdin=eof secret=False json=True' ]]"
	exec 7<&-
fi

# --- C: 10,000 members announced by a key holder, in three exchanges.
start_agent c "$C" --name c --key-file "$WORK/key" --on-change "$HOOK big $WORK/hooks"
check "c's on-change hook ran" wait_for 20 have_hook big
"$PUSH" "$C:7946" itest "$WORK/key" hook-feed-member- 0 4000
"$PUSH" "$C:7946" itest "$WORK/key" hook-feed-member- 4000 4000
"$PUSH" "$C:7946" itest "$WORK/key" hook-feed-member- 8000 2000
known() { http "$C" /v1/members | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
all_known() { [[ $(known) -ge 10001 ]]; }
check "c knows 10,001 members" wait_for 30 all_known
most() { hooks big | python3 -c '
import json, sys
print(max([json.loads(l).get("n_members", 0) for l in sys.stdin] or [0]))'; }
big_hook() { [[ $(most) -ge 10001 ]]; }
check "the on-change hook ran with all 10,001 members on stdin" wait_for 30 big_hook
echo "c: $(known) members known; the largest hook input held $(most) members ($(hooks big | python3 -c '
import json, sys
print(max([json.loads(l)["stdin_len"] for l in sys.stdin] or [0]))') bytes)"
check "no hook failed to start on c" bash -c "! grep -q 'cannot run hook' '$WORK/c.log'"
no_env=$(hooks big | python3 -c '
import json, sys
print(all("CLOISTER_MEMBERS" not in r["env"] for r in map(json.loads, sys.stdin) if r.get("n_members", 0) > 5000))')
check "over its bound CLOISTER_MEMBERS is left out, never cut" test "$no_env" = True
finish
