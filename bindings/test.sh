#!/bin/sh
# Builds the OTP bindings and runs their tests against a cloister binary.
#   bindings/test.sh /path/to/cloister
# Exit 0 pass, 1 fail, 77 skip (Erlang/rebar3 missing).  Uses only
# 127.0.6.1-3, 127.0.46.1-5, 127.0.24.50 and no epmd; every process is
# stopped by pid.
# The agents run as Erlang ports (--stdio etf), HTTP off.
set -u
BIN=${1:-${CLOISTER_BIN:-}}
[ -n "$BIN" ] && [ -x "$BIN" ] || { echo "usage: $0 /path/to/cloister" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
for t in erl erlc rebar3; do
	command -v $t >/dev/null 2>&1 || { echo "SKIP: $t not found (apt-get install erlang rebar3)"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/cloister-bindings.XXXXXX)
cleanup() {
	[ -n "${KEEP_LOGS:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Build in a copy: the source tree stays clean.  rebar3's hook copies the
# agent given here into the copy's priv/.
cp -r "$HERE/erlang" "$WORK/erlang" && rm -rf "$WORK/erlang/_build" "$WORK/erlang/priv" "$WORK/erlang/_build_agent"
(cd "$WORK/erlang" && CLOISTER_BIN="$BIN" rebar3 compile) >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; echo "FAIL: rebar3 compile"; exit 1; }
EBIN=$WORK/erlang/_build/default/lib/cloister/ebin
mkdir -p "$WORK/test_ebin" "$WORK/logs"
erlc -o "$WORK/test_ebin" "$HERE"/erlang/test/*.erl || { echo "FAIL: erlc tests"; exit 1; }

# No epmd (other engineers' BEAMs may use the default one): every node
# listens on its own 127.0.6.N at this same port.
export CT_DIST_PORT=${CLOISTER_TEST_DIST_PORT:-43706}
export CT_CONSENSUS=3 CLOISTER_BIN="$BIN" CT_EBIN="$EBIN" CT_TEST_EBIN="$WORK/test_ebin" CT_LOGDIR="$WORK/logs"
status=0
# One BEAM alone, not distributed, no network: nonode mode, and the
# libring vectors.
timeout 60 env CT_VECTORS="$HERE/../tests/vectors/libring.json" CT_LOG="$WORK/logs/agent_nonode.log" \
	erl -noshell -pa "$EBIN" -pa "$WORK/test_ebin" -eval 'cloister_nonode:main()' || status=1
timeout 400 env CT_N=1 CT_CONSENSUS=3 CT_LOG="$WORK/logs/agent1.log" \
	erl -noshell -setcookie cloistertest -start_epmd false -erl_epmd_port "$CT_DIST_PORT" \
	-kernel inet_dist_use_interface '{127,0,6,1}' \
	-pa "$EBIN" -pa "$WORK/test_ebin" -eval 'cloister_three:main()' || status=1
# Never ready without distribution (issue 14): a wrong cookie, a blocked
# distribution port, net_kernel unable to start; BEAMs on 127.0.46.1-5.
timeout 120 env CF_DIST_PORT=${CLOISTER_TEST_FAIL_DIST_PORT:-43746} \
	erl -noshell -pa "$EBIN" -pa "$WORK/test_ebin" -eval 'cloister_failures:main()' || status=1
# The attack of issue 13 against one OTP node on 127.0.24.50: a datagram
# asking the binding to gen_server:call kernel_sup (clear text, then
# sealed under a wrong key) runs nothing and is counted as dropped.
USERCALL=${CLOISTER_USERCALL:-$(dirname "$BIN")/tests/cloister_usercall}
if [ -x "$USERCALL" ]; then
	mkdir -p "$WORK/attack"
	timeout 120 env CT_USERCALL="$USERCALL" CT_WORK="$WORK/attack" CT_LOG="$WORK/logs/agent_attack.log" \
		erl -noshell -setcookie cloisterattack -start_epmd false -erl_epmd_port "$CT_DIST_PORT" \
		-kernel inet_dist_use_interface '{127,0,24,50}' \
		-pa "$EBIN" -pa "$WORK/test_ebin" -eval 'cloister_attack:main()' || status=1
else
	echo "FAIL: no usercall tool at $USERCALL (build the tests, or set CLOISTER_USERCALL)"
	status=1
fi
if [ $status -ne 0 ]; then
	for f in "$WORK"/logs/*; do echo "=== $f"; tail -n 40 "$f"; done
fi
exit $status
