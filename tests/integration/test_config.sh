#!/usr/bin/env bash
# Configuration as the README describes it, against real agents
# (127.0.57.1-6): --config in both formats (`key = value` and JSON), a
# --config-dir read in lexical order (Serf's layout), one environment
# variable per setting (CLOISTER_TAG=groups=a,b is one tag; several are
# one per line), flags over environment over files, SIGHUP re-reading the
# directory (a key added there is installed, a flag's log level kept),
# --log-format json set in a JSON file (every line JSON), --data-dir
# rejoining after a restart with no sentry, and files the agent refuses.
source "$(dirname "$0")/lib.sh"

A=127.0.57.1 B=127.0.57.2 C=127.0.57.3 D=127.0.57.4 E=127.0.57.5 F=127.0.57.6

# tags IP NAME: that agent's view of NAME's tags, as sorted k=v lines.
tags() {
	http "$1" /v1/members | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if m["name"] == sys.argv[1]:
        for k in sorted(m.get("tags", {})):
            if not k.startswith("cloister."):
                print("%s=%s" % (k, m["tags"][k]))' "$2"
}
has_tags() { [[ "$(tags "$1" "$2" | tr '\n' ' ')" == "$3" ]]; }
# is IP NAME STATUS: that agent sees NAME with STATUS.
is() { [[ $(member_status "$1" "$2") == "$3" ]]; }
alive_count() { [[ $(count_status "$1" alive) == "$2" ]]; }
# run_bad OUT ARGS...: an agent that must refuse to start (exit 2).
run_bad() {
	local out=$1; shift
	timeout 10 "$CLOISTER" agent --profile local "$@" >"$out" 2>&1
}

# ------------------------------------------------- --config, key = value
cat >"$WORK/a.conf" <<CONF
# comments and blank lines

app = itest
tag = groups=a,b
tag=zone=one
hook-timeout 7
log-level = debug
CONF
chmod 644 "$WORK/a.conf"
start_agent a "$A" --name a --config "$WORK/a.conf"
check "key = value file: tags groups=a,b (comma kept) and zone=one" wait_for 15 has_tags "$A" a "groups=a,b zone=one "
kill -HUP "${AGENT_PID[a]}"
check "key = value file: log-level debug applied (as SIGHUP reports)" \
	wait_for 5 grep -q 'SIGHUP: configuration reloaded.*log_level=debug' "$WORK/a.log"

# ------------------------------------------------- one name for the API's address
# The agent reads CLOISTER_HTTP; the client commands read the same (before:
# only CLOISTER_HTTP_ADDR, so they went to 127.0.0.1:7947).
check "the client finds the agent by CLOISTER_HTTP" env CLOISTER_HTTP="$A:7947" "$CLOISTER" status
CLOISTER_HTTP_ADDR="$A:7947" "$CLOISTER" status >"$WORK/addr.out" 2>&1; rc=$?
check "CLOISTER_HTTP_ADDR still works ($rc), with a deprecation warning" \
	bash -c "[ $rc -eq 0 ] && grep -q 'CLOISTER_HTTP_ADDR is deprecated' '$WORK/addr.out'"

# ------------------------------------------------- --config, JSON
cat >"$WORK/b.json" <<'JSON'
{
  "app": "itest",
  "tags": {"groups": "a,b", "weight": 2},
  "tag": ["zone=two"],
  "tcp-ping": false,
  "hook-timeout": 5,
  "log-format": "json"
}
JSON
chmod 600 "$WORK/b.json"
start_agent b "$B" --name b --config="$WORK/b.json" --sentry "$A:7946"
check "JSON file: tags from an object and an array" wait_for 15 has_tags "$A" b "groups=a,b weight=2 zone=two "
check "JSON file: b joined a (2 alive)" wait_for 15 alive_count "$B" 2

# ------------------------------------------------- --config-dir
mkdir -p "$WORK/conf.d"
chmod 755 "$WORK/conf.d"
"$CLOISTER" keygen >"$WORK/k1"; "$CLOISTER" keygen >"$WORK/k2"
chmod 600 "$WORK/k1" "$WORK/k2"
printf 'tag = zone=first\ntag = rack=r1\nlog-level = debug\nkey-file = %s\n' "$WORK/k1" >"$WORK/conf.d/10-base.conf"
printf '{"tag": ["zone=second"], "consensus": 1}\n' >"$WORK/conf.d/20-zone.json"
printf 'tag = zone=ignored\n' >"$WORK/conf.d/30-notes.txt"   # not .conf/.json
printf 'tag = zone=hidden\n' >"$WORK/conf.d/.40-hidden.conf"   # dot file
chmod 644 "$WORK/conf.d"/*
chmod 644 "$WORK/conf.d"/.40-hidden.conf
# CLOISTER_TAG: one variable for the setting; values one per line, so a
# value may hold commas.  Flags win over both (--log-level warn).
CLOISTER_TAG=$'groups=x,y\nrole=web' start_agent c "$C" --name c --config-dir "$WORK/conf.d" \
	--log-level warn --tag extra=flag
check "config-dir in lexical order, env one per line with commas, flags added" \
	wait_for 15 has_tags "$C" c "extra=flag groups=x,y rack=r1 role=web zone=second "
check "the flag's --log-level warn beats the directory's debug (no info or debug line)" \
	bash -c "! grep -q 'level=\\(info\\|debug\\)' '$WORK/c.log'"

# SIGHUP: a file added to the directory is read (its key-file, later in
# lexical order, names a second key, installed beside the first);
# --log-level warn still wins.
nkeys() { "$CLOISTER" keys list --http "$C:7947" 2>/dev/null | grep -c '^[0-9a-f]\{16\}'; }
one_key() { [[ $(nkeys) == 1 ]]; }
check "c runs with one key" wait_for 10 one_key
printf 'key-file = %s\nlog-level = debug\n' "$WORK/k2" >"$WORK/conf.d/50-newkey.conf"
chmod 644 "$WORK/conf.d/50-newkey.conf"
kill -HUP "${AGENT_PID[c]}"
two_keys() { [[ $(nkeys) == 2 ]]; }
check "SIGHUP re-reads the config-dir: the key it names is installed (keys: $(nkeys))" wait_for 5 two_keys
check "... and the flag's log level is kept" wait_for 5 grep -q 'SIGHUP: configuration reloaded.*log_level=warn' "$WORK/c.log"

# ------------------------------------------------- one setting in the environment
# Before: CLOISTER_TAG=groups=a,b was split on the comma and the agent
# refused to start ('tag "b": expected KEY=VALUE').
CLOISTER_TAG=groups=a,b start_agent d "$D" --name d
check "CLOISTER_TAG=groups=a,b is one tag" wait_for 15 has_tags "$D" d "groups=a,b "

# ------------------------------------------------- --data-dir
# e learns of a through its sentry, leaves (SIGTERM saves the peers), and
# comes back with no sentry at all: the data dir brings it back to a.
mkdir -p "$WORK/edata"; chmod 700 "$WORK/edata"
start_agent e "$E" --name e --sentry "$A:7946" --data-dir "$WORK/edata"
check "e joined through its sentry" wait_for 15 is "$A" e alive
kill -TERM "${AGENT_PID[e]}"
for _ in $(seq 1 100); do kill -0 "${AGENT_PID[e]}" 2>/dev/null || break; sleep 0.1; done
check "e's peers file names a" grep -q "^$A:7946\$" "$WORK/edata/peers"
check "a saw e leave" wait_for 10 is "$A" e left
start_agent e2 "$E" --name e --data-dir "$WORK/edata"
check "restarted with no sentry, e rejoins a from its data dir" wait_for 15 is "$A" e alive
check "... and sees the cluster (b alive)" wait_for 10 is "$E" b alive
check "e said it rejoined remembered peers" grep -q "rejoining peers remembered in data-dir" "$WORK/e2.log"

# ------------------------------------------------- refused
printf '{"app": "itest",}\n' >"$WORK/bad1.json"; chmod 600 "$WORK/bad1.json"
run_bad "$WORK/bad1.out" --advertise "$F:7946" --http "$F:7947" --config "$WORK/bad1.json"
check "a JSON file with a syntax error: exit 2 ($?), line and column given" \
	grep -q "bad1.json:1:[0-9]*: not valid JSON" "$WORK/bad1.out"
printf '{"app": ["a", "b"]}\n' >"$WORK/bad2.json"; chmod 600 "$WORK/bad2.json"
run_bad "$WORK/bad2.out" --advertise "$F:7946" --http "$F:7947" --config "$WORK/bad2.json"; rc=$?
check "an array for a setting that is not repeatable: exit 2 ($rc)" [ $rc -eq 2 ]
printf '{"bogus": 1}\n' >"$WORK/bad3.json"; chmod 600 "$WORK/bad3.json"
run_bad "$WORK/bad3.out" --advertise "$F:7946" --http "$F:7947" --config "$WORK/bad3.json"; rc=$?
check "an unknown setting in JSON: exit 2 ($rc), named" bash -c "[ $rc -eq 2 ] && grep -q 'unknown setting \"bogus\"' '$WORK/bad3.out'"
printf '["app", "x"]\n' >"$WORK/bad4.json"; chmod 600 "$WORK/bad4.json"
run_bad "$WORK/bad4.out" --advertise "$F:7946" --http "$F:7947" --config "$WORK/bad4.json"; rc=$?
check "a JSON file that is not an object: exit 2 ($rc)" [ $rc -eq 2 ]
printf '{"passphrase": "open sesame"}\n' >"$WORK/bad5.json"; chmod 644 "$WORK/bad5.json"
run_bad "$WORK/bad5.out" --advertise "$F:7946" --http "$F:7947" --config "$WORK/bad5.json"; rc=$?
check "a JSON file others can read holding a passphrase: refused ($rc)" bash -c "[ $rc -eq 2 ] && grep -q 'holds a passphrase' '$WORK/bad5.out'"
mkdir -p "$WORK/open.d"; chmod 777 "$WORK/open.d"
run_bad "$WORK/bad6.out" --advertise "$F:7946" --http "$F:7947" --config-dir "$WORK/open.d"; rc=$?
check "a config-dir everyone may write: refused ($rc)" bash -c "[ $rc -eq 2 ] && grep -q 'writable by other users' '$WORK/bad6.out'"
run_bad "$WORK/bad7.out" --advertise "$F:7946" --http "$F:7947" --config-dir "$WORK/none.d"; rc=$?
check "a config-dir that does not exist: exit 2 ($rc)" [ $rc -eq 2 ]
CLOISTER_TAG=$'ok=1\nnot-a-tag' run_bad "$WORK/bad8.out" --advertise "$F:7946" --http "$F:7947"; rc=$?
check "a bad line in CLOISTER_TAG: exit 2 ($rc), the line named" bash -c "[ $rc -eq 2 ] && grep -q 'not-a-tag' '$WORK/bad8.out'"

# ------------------------------------------------- --log-format json from a file
# (tests/integration/test_json_logs.sh covers the format itself; here: set
# in a JSON config file, every line b wrote is a JSON object.)
check "b (log-format json from its JSON file): every line is a JSON object" python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8", errors="replace") if l.strip()]
assert len(lines) >= 3, len(lines)
for l in lines:
    o = json.loads(l)
    assert isinstance(o, dict) and "msg" in o and "level" in o, l
' "$WORK/b.log"
finish
