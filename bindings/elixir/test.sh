#!/bin/sh
# The Elixir drop-in's test: builds bindings/elixir (Elixir's Cloister API
# on the Erlang :cloister application) and runs the ExUnit tests of
# test_app/, a consumer written only against Elixir Cloister's public API.
#   bindings/elixir/test.sh /path/to/cloister
# Exit 0 pass, 1 fail, 77 skip (elixir/mix missing).  No hex, no network:
# the node runs alone (nonode mode), its agent's HTTP API on a private
# loopback port.  Everything is built in a temporary directory.
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
timeout 300 mix test >"$WORK/test.log" 2>&1
status=$?
cat "$WORK/test.log"
grep -Eq '^[0-9]+ tests?, 0 failures' "$WORK/test.log" || status=1
[ $status -eq 0 ] && echo "PASS: bindings/elixir" || echo "FAIL: bindings/elixir"
exit $status
