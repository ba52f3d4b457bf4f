#!/bin/sh
# Cloister's own way of running a cluster, on the drop-in: three BEAMs of
# one application on this host, `elixir --name a@127.0.0.1 -S mix run`,
# b@, c@ alike, and only the application's `config :cloister` block (no
# addresses, no ports).  Twice: an application written from the article
# (on_state_change/2, %Cloister.Monitor{status: :up}) and one written
# against Cloister 0.18 (on_state_change/3); the second run ends with a C
# service on libcloister joining two of the BEAMs (CLOISTER_MIXED_MEMBER).
#   bindings/elixir/otp_test/run.sh /path/to/cloister
# Exit 0 pass, 1 fail, 77 skip (elixir/epmd missing).  A private epmd on
# port CLOISTER_TEST_EPMD_PORT (24369, below the ephemeral range) keeps the names off the host's
# epmd; agents and distribution use ports the kernel hands out on
# 127.0.0.1 (never 7946).  Every process is stopped by its pid.
set -u
BIN=${1:-${CLOISTER_BIN:-}}
[ -n "$BIN" ] && [ -x "$BIN" ] || { echo "usage: $0 /path/to/cloister" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
for t in erl elixir mix epmd; do
	command -v $t >/dev/null 2>&1 || { echo "SKIP: $t not found (apt-get install elixir erlang-nox)"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/cloister-otp.XXXXXX)
epmd_pid=
cleanup() {
	if [ -f "$WORK/pids" ]; then
		while read -r p; do kill -9 "$p" 2>/dev/null; done <"$WORK/pids"
	fi
	[ -n "$epmd_pid" ] && kill "$epmd_pid" 2>/dev/null && wait "$epmd_pid" 2>/dev/null
	[ -n "${KEEP_LOGS:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

export HOME="$WORK/home" MIX_HOME="$WORK/mix" HEX_HOME="$WORK/hex" HEX_OFFLINE=1 MIX_ENV=dev
export CLOISTER_BIN="$BIN"
mkdir -p "$HOME" "$MIX_HOME"
# The epmd port lies below the kernel's ephemeral range (32768-60999 on
# Debian): a port inside it can be held, at that moment, by the local end
# of any connection the suite's other tests make, and epmd then exits on
# EADDRINUSE (CI saw it once).  If the port is taken anyway, the next one
# is tried; epmd is waited for while it lives, at most 30 s each.
epmd_up=
for ERL_EPMD_PORT in ${CLOISTER_TEST_EPMD_PORT:-24369 24379 24389 24399}; do
	export ERL_EPMD_PORT
	epmd -port "$ERL_EPMD_PORT" >"$WORK/epmd.log" 2>&1 &
	epmd_pid=$!
	i=0
	while [ $i -lt 300 ] && kill -0 "$epmd_pid" 2>/dev/null; do
		if timeout 2 epmd -port "$ERL_EPMD_PORT" -names >/dev/null 2>&1; then epmd_up=1; break; fi
		i=$((i + 1)); sleep 0.1
	done
	[ -n "$epmd_up" ] && break
	echo "epmd on port $ERL_EPMD_PORT did not start:"; cat "$WORK/epmd.log"
	kill "$epmd_pid" 2>/dev/null; wait "$epmd_pid" 2>/dev/null; epmd_pid=
done
[ -n "$epmd_up" ] || { echo "FAIL: epmd did not start"; exit 1; }

MIXED=${CLOISTER_MIXED_MEMBER:-}
[ -n "$MIXED" ] && [ -x "$MIXED" ] || { echo "FAIL: no mixed member program (CLOISTER_MIXED_MEMBER)"; exit 1; }
status=0
for app in article_app v18_app; do
	echo "== $app: three BEAMs a@, b@, c@127.0.0.1"
	export MIX_BUILD_PATH="$WORK/build-$app" OTP_TEST_DIR="$WORK/rec-$app"
	mkdir -p "$OTP_TEST_DIR"
	(cd "$HERE/$app" && timeout 300 mix compile) >"$WORK/compile-$app.log" 2>&1 ||
		{ cat "$WORK/compile-$app.log"; echo "FAIL: $app compile"; status=1; continue; }
	extra=
	[ $app = v18_app ] && extra=$MIXED
	timeout 400 elixir --name driver@127.0.0.1 --cookie cloisterotp --erl "-hidden" \
		"$HERE/three.exs" $app "$HERE/$app" "$WORK" $extra || status=1
	if [ $status -ne 0 ]; then
		for f in "$WORK"/$app-*.log; do echo "=== $f"; tail -n 40 "$f"; done
		for f in "$OTP_TEST_DIR"/*; do echo "=== $f"; cat "$f"; done
		break
	fi
done

# Cloister's mix tasks, from the v18_app project: a cluster of three of
# its nodes started, shown and stopped; its tests run on such a cluster.
if [ $status -eq 0 ]; then
	echo "== mix cloister.run -n 3, mix cloister.test -n 3 (v18_app)"
	export CLOISTER_LOCAL_PIDS="$WORK/pids" OTP_TEST_DIR="$WORK/rec-tasks"
	mkdir -p "$OTP_TEST_DIR"
	(cd "$HERE/v18_app" && MIX_BUILD_PATH="$WORK/build-v18_app" timeout 180 mix cloister.run -n 3 --for 2) \
		>"$WORK/cloister-run.log" 2>&1
	rc=$?
	grep -E '^(\* |v18_app_|node )' "$WORK/cloister-run.log"
	left=$(epmd -port "$ERL_EPMD_PORT" -names | grep -c 'v18_app_')
	if [ $rc -eq 0 ] && grep -q '^\* all 3 ready' "$WORK/cloister-run.log" &&
		grep -q '^\* cloister.run: stopped 3 nodes' "$WORK/cloister-run.log" && [ "$left" -eq 0 ]; then
		echo "PASS mix cloister.run -n 3: three nodes ready, then stopped (none left in epmd)"
	else
		echo "FAIL mix cloister.run -n 3 (exit $rc, $left names left in epmd)"; tail -n 30 "$WORK/cloister-run.log"; status=1
	fi
	(cd "$HERE/v18_app" && MIX_BUILD_PATH="$WORK/build-v18_app-test" timeout 300 mix cloister.test -n 3) \
		>"$WORK/cloister-test.log" 2>&1
	rc=$?
	grep -E '^\* |tests?, ' "$WORK/cloister-test.log"
	if [ $rc -eq 0 ] && grep -Eq '^2 tests, 0 failures' "$WORK/cloister-test.log"; then
		echo "PASS mix cloister.test -n 3: the project's tests passed on a cluster of three"
	else
		echo "FAIL mix cloister.test -n 3 (exit $rc)"; tail -n 30 "$WORK/cloister-test.log"; status=1
	fi
fi
[ $status -eq 0 ] && echo "PASS: bindings/elixir three BEAMs" || echo "FAIL: bindings/elixir three BEAMs"
exit $status
