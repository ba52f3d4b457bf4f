#!/bin/sh
# The Elixir drop-in's test: builds bindings/elixir (Elixir's Cloister API
# on the Erlang :cloister application) and runs the ExUnit tests of
# test_app/, a consumer written only against Elixir Cloister's public API.
#   bindings/elixir/test.sh /path/to/cloister
# Exit 0 pass, 1 fail, 77 skip (elixir/mix missing).  No hex.  First the
# node runs alone (nonode mode), then two members on 127.0.8.1-2 run the
# :cluster tests.  Everything is built in a temporary directory; every
# process is stopped by pid.
set -u
BIN=${1:-${CLOISTER_BIN:-}}
[ -n "$BIN" ] && [ -x "$BIN" ] || { echo "usage: $0 /path/to/cloister" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
for t in erl elixir mix; do
	command -v $t >/dev/null 2>&1 || { echo "SKIP: $t not found (apt-get install elixir)"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/cloister-elixir.XXXXXX)
cleanup() {
	[ -n "${KEEP_LOGS:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# mix writes under MIX_HOME and HOME; neither need be set or writable.
export HOME="$WORK/home" MIX_HOME="$WORK/mix" HEX_HOME="$WORK/hex" HEX_OFFLINE=1
export MIX_ENV=test MIX_BUILD_PATH="$WORK/_build" MIX_DEPS_PATH="$WORK/deps"
export CLOISTER_BIN="$BIN"
mkdir -p "$HOME" "$MIX_HOME"
PORT=${CLOISTER_TEST_HTTP_PORT:-47951}
export ERL_FLAGS="-cloister http_port $PORT"

cd "$HERE/test_app" || exit 1
echo "== one node alone (nonode)"
timeout 300 mix test >"$WORK/test.log" 2>&1
status=$?
cat "$WORK/test.log"
grep -Eq '^[0-9]+ tests?, 0 failures' "$WORK/test.log" || status=1
[ $status -eq 0 ] || { echo "FAIL: bindings/elixir (alone)"; exit 1; }

# Two members on 127.0.8.1-2 (agents on :7946, HTTP APIs on private ports,
# Erlang distribution without epmd on port 43708 of each address): the
# second runs the application (`mix run`), the first the :cluster tests.
echo "== two members on 127.0.8.1-2"
export TEST_APP_SENTRY=test_app@127.0.8.1,test_app@127.0.8.2 TEST_APP_CONSENSUS=2
for n in 1 2; do
	cat >"$WORK/n$n.config" <<CFG
[{kernel, [{inet_dist_use_interface, {127,0,8,$n}}]},
 {cloister, [{advertise, "127.0.8.$n:7946"}, {http_port, $((PORT + n))},
             {profile, local}, {ready_timeout, 90000},
             {agent_log, "$WORK/agent$n.log"}]}].
CFG
done
DIST="-setcookie cloisterex -start_epmd false -erl_epmd_port ${CLOISTER_TEST_DIST_PORT:-43708}"
ERL_FLAGS="$DIST -config $WORK/n2.config" timeout 300 mix run --no-halt >"$WORK/member2.log" 2>&1 &
member2=$!
ERL_FLAGS="$DIST -config $WORK/n1.config" timeout 200 mix test --only cluster >"$WORK/cluster.log" 2>&1
status=$?
kill $member2 2>/dev/null
wait $member2 2>/dev/null
cat "$WORK/cluster.log"
grep -Eq '^[0-9]+ tests?, 0 failures' "$WORK/cluster.log" || status=1
if [ $status -ne 0 ]; then
	for f in "$WORK"/member2.log "$WORK"/agent*.log; do echo "=== $f"; tail -n 30 "$f"; done
fi
[ $status -eq 0 ] && echo "PASS: bindings/elixir" || echo "FAIL: bindings/elixir"
exit $status
