#!/usr/bin/env bash
# test_files_security.sh — the agent's files and secrets, against real
# agents (issue 13, "hooks, files, logs"), on 127.0.25.101-104:
#   - a --config file holding a key or a passphrase that group or others
#     can read is refused with a clear message (as ssh does); one others
#     can write is refused too (it could set on-change); 0600 is fine;
#   - a --key-file its group (or anyone else) can read is refused too;
#   - --key on the command line (visible in ps) works, with a warning;
#   - SIGHUP re-reads a --key-file given as a flag (a new key put in the
#     file shows in `cloister keys list`) and keeps a --log-level given as
#     a flag;
#   - symlinks planted in the data directory (at the peers file and at
#     the old fixed temp name) are not followed: their targets stay
#     untouched, the peers file is a regular 0600 file;
#   - with --log-format json, member names holding spaces, '=', quotes
#     and bytes that are not UTF-8 give one valid JSON object a line with
#     the name in its field (announced by tests/tools/pushmembers.c).
source "$(dirname "$0")/lib.sh"

A=127.0.25.101 B=127.0.25.102 C=127.0.25.103 D=127.0.25.104
"$CLOISTER" keygen >"$WORK/k1"
"$CLOISTER" keygen >"$WORK/k2"
chmod 600 "$WORK/k1" "$WORK/k2"
KEY=$(cat "$WORK/k1")

# run_briefly OUT ARGS...: an agent that should refuse to start: its exit
# status (124: still running after 5 s, then stopped), stderr in OUT.
run_briefly() {
	local out=$1; shift
	timeout 5 "$CLOISTER" agent --app itest --profile local --http off "$@" >"$out" 2>&1
	echo $?
}

# ---------------------------------------------------------------- config
printf 'key = %s\nadvertise = %s:7946\n' "$KEY" "$A" >"$WORK/key.conf"
chmod 644 "$WORK/key.conf"
rc=$(run_briefly "$WORK/key.out" --config "$WORK/key.conf")
echo "config with a key, mode 0644: exit $rc: $(head -c 300 "$WORK/key.out" | tr '\n' ' ')"
check "a 0644 config file holding a key is refused (exit $rc)" test "$rc" = 2
check "... saying why and what to do" grep -q "holds a key and is readable by every user.*chmod 600" "$WORK/key.out"
printf 'passphrase = correct horse\nadvertise = %s:7946\n' "$A" >"$WORK/pass.conf"
chmod 640 "$WORK/pass.conf"
rc=$(run_briefly "$WORK/pass.out" --config "$WORK/pass.conf")
check "a 0640 config file holding a passphrase is refused (exit $rc)" test "$rc" = 2
check "... naming the group" grep -q "holds a passphrase and is readable by its group" "$WORK/pass.out"
printf 'advertise = %s:7946\n' "$A" >"$WORK/open.conf"
chmod 666 "$WORK/open.conf"
rc=$(run_briefly "$WORK/open.out" --config "$WORK/open.conf")
check "a config file every user can write is refused (exit $rc)" test "$rc" = 2
check "... saying why" grep -q "writable by every user.*on-change" "$WORK/open.out"
"$CLOISTER" keygen >"$WORK/open.key"
chmod 640 "$WORK/open.key"
rc=$(run_briefly "$WORK/openkey.out" --key-file "$WORK/open.key" --advertise "$A:7946")
check "a --key-file its group can read is refused (exit $rc)" test "$rc" = 2
check "... saying why and what to do" grep -q "permissions 0640 are too open.*chmod 600" "$WORK/openkey.out"
chmod 600 "$WORK/key.conf"
rc=$(run_briefly "$WORK/key600.out" --config "$WORK/key.conf")
check "the same file at 0600 is accepted (the agent runs until stopped: $rc)" test "$rc" = 124

# ---------------------------------------------------------------- --key
rc=$(run_briefly "$WORK/argv.out" --advertise "$A:7946" --key "$KEY")
check "--key on the command line still works ($rc)" test "$rc" = 124
check "... with a warning that ps shows it" grep -q "warning: --key on the command line is visible to every user" "$WORK/argv.out"

# ---------------------------------------------------------------- SIGHUP
cp "$WORK/k1" "$WORK/rotating.key"
chmod 600 "$WORK/rotating.key"
start_agent a "$A" --name a --key-file "$WORK/rotating.key" --log-level warn \
	--sentry "$A:7946,$B:7946"
nkeys() { "$CLOISTER" keys list --http "$A:7947" 2>/dev/null | grep -c '^[0-9a-f]\{16\}'; }
up() { [[ $(nkeys) == 1 ]]; }
check "a runs with one key" wait_for 15 up
# The new key takes the file's place (as a mounted secret is updated).
cp "$WORK/k2" "$WORK/rotating.key.new"
chmod 600 "$WORK/rotating.key.new"
mv "$WORK/rotating.key.new" "$WORK/rotating.key"
kill -HUP "${AGENT_PID[a]}"
two() { [[ $(nkeys) == 2 ]]; }
check "after SIGHUP the new key from --key-file is installed (keys: $(nkeys))" wait_for 5 two
"$CLOISTER" keys list --http "$A:7947" 2>&1 | sed 's/^/  keys list: /'
# --log-level warn was a flag: info lines (a member joining) stay out.
start_agent b "$B" --name b --key-file "$WORK/k1" --sentry "$A:7946,$B:7946"
joined() { [[ $(member_status "$A" b) == alive ]]; }
check "b joins a" wait_for 20 joined
sleep 1
check "a still logs at warn after SIGHUP (no info line about b)" \
	bash -c "! grep -q 'level=info msg=\"member joined\"' '$WORK/a.log'"
check "the reload says which level it kept" grep -q 'SIGHUP: configuration reloaded.*log_level=warn' "$WORK/a.log"
sed -n '/SIGHUP/p' "$WORK/a.log" | sed 's/^/  a.log: /'

# ---------------------------------------------------------------- data dir
mkdir -p "$WORK/ddir"
chmod 700 "$WORK/ddir"
echo "VICTIM-ONE" >"$WORK/victim1"
echo "VICTIM-TWO" >"$WORK/victim2"
ln -s "$WORK/victim1" "$WORK/ddir/peers"
ln -s "$WORK/victim2" "$WORK/ddir/peers.tmp"
start_agent c "$C" --name c --key-file "$WORK/k1" --data-dir "$WORK/ddir" \
	--sentry "$A:7946,$C:7946"
c_joined() { [[ $(member_status "$C" a) == alive ]]; }
check "c joins a" wait_for 20 c_joined
kill -TERM "${AGENT_PID[c]}"   # leaves, and saves its peers on the way out
gone() { ! kill -0 "${AGENT_PID[c]}" 2>/dev/null; }
check "c exits" wait_for 15 gone
check "the symlink at the peers file was not followed (target intact)" \
	test "$(cat "$WORK/victim1")" = VICTIM-ONE
check "the symlink at peers.tmp was not followed (target intact)" \
	test "$(cat "$WORK/victim2")" = VICTIM-TWO
check "peers is now a regular file, not a symlink" \
	bash -c "[[ -f '$WORK/ddir/peers' && ! -L '$WORK/ddir/peers' ]]"
check "peers is mode 0600" test "$(stat -c %a "$WORK/ddir/peers" 2>/dev/null)" = 600
check "peers holds a's address" grep -qx "$A:7946" "$WORK/ddir/peers"
check "no temp file left behind" bash -c "! ls -A '$WORK/ddir' | grep -q '^\.peers\..*\.tmp$'"
check "the planted peers symlink was refused at start, not read" \
	grep -q 'peers file in data-dir is not a regular file' "$WORK/c.log"

# ---------------------------------------------------------------- JSON logs
PUSH=${CLOISTER_PUSHMEMBERS:-$(dirname "$CLOISTER")/tests/cloister_pushmembers}
if [[ -x $PUSH ]]; then
	start_agent d "$D" --name d --key-file "$WORK/k1" --log-format json
	d_up() { [[ $(http "$D" /ready) == ready* ]]; }
	check "d is ready" wait_for 15 d_up
	"$PUSH" "$D:7946" itest "$WORK/k1" j- 0 1 'odd name=x level=error' 'quo"te\\x' 'bad\xffname'
	seen() { grep -q 'odd name=x' "$WORK/d.log"; }
	check "d logged the odd names" wait_for 10 seen
	json_ok=$(python3 - "$WORK/d.log" <<'PY'
import json, sys
names, bad = set(), 0
for raw in open(sys.argv[1], "rb"):
    line = raw.decode("utf-8")      # fails on bytes that are not UTF-8
    if not line.startswith("{"):
        continue
    try:
        o = json.loads(line)
    except ValueError:
        bad += 1
        continue
    if o.get("msg") == "member joined":
        names.add(o.get("member"))
print(bad == 0 and {"odd name=x level=error", 'quo"te\\x', "bad\\xffname"} <= names
      and not any(n and n.startswith("odd") and n != "odd name=x level=error" for n in names))
PY
)
	check "--log-format json: one valid object a line, each name whole in its field" test "$json_ok" = True
	grep 'member joined' "$WORK/d.log" | sed 's/^/  d.log: /'
fi
finish
