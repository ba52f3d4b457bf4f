#!/usr/bin/env bash
# tests/static_test.sh BINARY BUILD_DIR: `make static-test`.  The release
# binary BINARY (the static musl build) against the integration tests of
# every surface a client or a peer reaches, with the test tools of
# BUILD_DIR.  A skipped test (exit 77) fails here: this run exists to
# exercise that binary.
#
# Three lanes run side by side, as ctest -j runs `make test`: no two lanes
# share an address (test_agent_cli and test_api_security both use
# 127.0.20.0/24, so they are in one lane; tests/CMakeLists.txt has the
# locks).  test_flood runs last and alone: it asserts that an agent answers
# within its probe timeout while one core floods it.
set -u
cd "$(dirname "$0")/.."
BIN=${1:?usage: $0 BINARY BUILD_DIR}
BUILD=${2:?usage: $0 BINARY BUILD_DIR}
export CLOISTER_SOURCE_DIR=$PWD FLOOD_SECONDS=10 \
	CLOISTER_FLOOD=$PWD/$BUILD/tests/cloister_flood \
	CLOISTER_PUSHMEMBERS=$PWD/$BUILD/tests/cloister_pushmembers
LANES=("test_agent_cli test_api_security test_loopback_cluster"
	"test_client_transports test_hooks_security test_keys_and_flood"
	"netns/test_container test_sd_notify")

run() {
	local f=tests/integration/$1.sh s=$SECONDS
	[[ $1 == */* ]] && f=tests/$1.sh
	echo "=== static-test: $1"
	if bash "$f" "$BIN"; then
		echo "=== static-test: $1 passed ($((SECONDS - s)) s)"
	else
		echo "=== static-test: $1 FAILED (exit $?)"
		return 1
	fi
}

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
for i in "${!LANES[@]}"; do
	(for t in ${LANES[$i]}; do run "$t" || exit 1; done) >"$logs/$i.log" 2>&1 &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
cat "$logs"/*.log
run test_flood || rc=1
exit $rc
