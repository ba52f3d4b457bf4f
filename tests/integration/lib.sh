# lib.sh — helpers for tests that run real agents.
#
# Every process a test starts is recorded and stopped by PID at exit; every
# wait is bounded.  Agents listen on 127.0.0.x (one address per node) so
# their ports never collide with anything else on the machine.

#
# CLOISTER_WRAP: a command put before every agent (e.g. "valgrind
# --error-exitcode=99 --leak-check=full"); CLOISTER_SLOW: a factor (integer)
# on every wait_for bound and HTTP timeout, for slow wrappers.

set -u
SLOW=${CLOISTER_SLOW:-1}
CLOISTER=${1:?usage: $0 path/to/cloister}
WORK=$(mktemp -d /tmp/cloister-test.XXXXXX)
PIDS=()
FAILS=0
PASSES=0

# Python for the helpers is Debian's /usr/bin/python3 (the standard library
# and python3-yaml, which scripts/setup-deps.sh installs), ahead of any
# version manager's shim on PATH: pyenv's costs ~0.35 s a start against
# ~0.05 s, and a test starts Python hundreds of times.
if [[ -x /usr/bin/python3 ]]; then
	mkdir -p "$WORK/bin"
	ln -s /usr/bin/python3 "$WORK/bin/python3"
	PATH="$WORK/bin:$PATH"
fi

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [[ $FAILS -ne 0 ]]; then
		echo "--- logs kept in $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

# The control API obeys only holders of its token.  Every test shares one,
# through the environment: agents take CLOISTER_TOKEN as their token, the
# cloister client commands send it, and so do curl (a .curlrc under
# CURL_HOME) and Python's http.client/urllib (a sitecustomize on
# PYTHONPATH).  Tests talk only to the agents they start (on loopback or
# in namespaces they create), and the token is made for this run.  A test that needs a
# request without the token sends it raw (curl -q, or a socket).
export CLOISTER_TOKEN=${CLOISTER_TOKEN:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}
mkdir -p "$WORK/auth"
printf 'header = "Authorization: Bearer %s"\n' "$CLOISTER_TOKEN" >"$WORK/auth/.curlrc"
export CURL_HOME="$WORK/auth"
cat >"$WORK/auth/sitecustomize.py" <<'PY'
import http.client, os
_token = os.environ.get("CLOISTER_TOKEN")
_send = http.client.HTTPConnection.request
def _request(self, method, url, body=None, headers={}, **kw):
    if _token and not any(k.lower() == "authorization" for k in headers):
        headers = dict(headers, Authorization="Bearer " + _token)
    return _send(self, method, url, body, headers, **kw)
http.client.HTTPConnection.request = _request
PY
export PYTHONPATH="$WORK/auth${PYTHONPATH:+:$PYTHONPATH}"

pass() { PASSES=$((PASSES + 1)); echo "ok: $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# start_agent NAME IP [ARGS...]: runs an agent in the background, logging to
# $WORK/NAME.log; sets AGENT_PID[NAME].
declare -A AGENT_PID
start_agent() {
	local name=$1 ip=$2; shift 2
	${CLOISTER_WRAP:-} "$CLOISTER" agent --app itest --advertise "$ip:7946" --http "$ip:7947" \
		--profile local "$@" >>"$WORK/$name.log" 2>&1 &
	AGENT_PID[$name]=$!
	PIDS+=($!)
}

# test_tool VAR NAME: sets VAR to the test tool NAME (tests/tools/NAME.c):
# $CLOISTER_VAR when set (CMake sets it), else the build's
# tests/cloister_NAME next to the agent; skips the test (77) when it is
# not there.
test_tool() {
	local env="CLOISTER_$1" path
	path=${!env:-$(dirname "$CLOISTER")/tests/cloister_$2}
	[[ -x $path ]] || { echo "SKIP: no test tool at $path (set $env)"; exit 77; }
	printf -v "$1" '%s' "$path"
}

# start_watched_pair IP_A IP_B [ARGS...]: a fresh cluster key in
# $WORK/key (0600) and agents a and b on it (ARGS added to both), each the
# other's sentry; each one's on-member hook writes "EVENT MEMBER" lines to
# $WORK/NODE-events.log, which `declared` counts.  Checks that the two see
# each other (20 s).
start_watched_pair() {
	local ip_a=$1 ip_b=$2 node; shift 2
	(umask 077; "$CLOISTER" keygen >"$WORK/key")
	local common=(--key-file "$WORK/key" --sentry "$ip_a:7946,$ip_b:7946" "$@")
	for node in a b; do
		start_agent $node "$([[ $node == a ]] && echo "$ip_a" || echo "$ip_b")" "${common[@]}" \
			--on-member "echo \"\$CLOISTER_EVENT \$CLOISTER_MEMBER\" >> $WORK/$node-events.log"
	done
	_pair=("$ip_a" "$ip_b")
	_pair_alive() { [[ $(count_status "${_pair[0]}" alive) == 2 && $(count_status "${_pair[1]}" alive) == 2 ]]; }
	check "a and b see each other" wait_for 20 _pair_alive
}
# declared NODE EVENT NAME: how many times NODE's hook saw EVENT for NAME.
declared() { cat "$WORK/$1-events.log" 2>/dev/null | grep -c "^$2 $3\$"; }

# http IP PATH: GET from the agent's control API (body on stdout); fails on
# no answer within 3 s (times CLOISTER_SLOW) or an HTTP error status.  curl,
# not Python: a poll loop calls it hundreds of times, and an interpreter's
# start (~0.35 s, more on a loaded CI machine) stretched a 20 s watch to 60.
http() {
	curl -sf --noproxy '*' --max-time $((3 * SLOW)) "http://$1:7947$2"
}

# counter IP NAME: a runtime counter by its cloister_counters() name
# (drops_auth, bytes_out, user_in, ...) or a series as /metrics publishes it
# (cloister_probes_total); "" when absent.  tests/tools/prom.py knows which
# Prometheus family each counter went to (docs/metrics.md).
PROM_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)/prom.py"
counter() { http "$1" /metrics | python3 "$PROM_PY" value "$2"; }

# wait_for SECONDS COMMAND...: polls every 0.2 s; true if COMMAND succeeded.
# The bound is multiplied by CLOISTER_SLOW.
wait_for() {
	local limit=$(($1 * SLOW)); shift
	local deadline=$((SECONDS + limit))
	while ((SECONDS < deadline)); do
		"$@" && return 0
		sleep 0.2
	done
	"$@"
}

# member_status IP NAME: that agent's view of NAME's status ("" if absent).
member_status() {
	http "$1" /v1/members | python3 -c '
import json, sys
name = sys.argv[1]
for m in json.load(sys.stdin):
    if m["name"] == name:
        print(m["status"]); break' "$2"
}

# count_status IP STATUS: how many members that agent lists with STATUS.
count_status() {
	http "$1" /v1/members | python3 -c '
import json, sys
print(sum(1 for m in json.load(sys.stdin) if m["status"] == sys.argv[1]))' "$2"
}

# stop_agents_gracefully: SIGTERM to every process still running, then a
# bounded wait, so wrapped agents (valgrind) exit by themselves and print
# their summaries.
stop_agents_gracefully() {
	local pid deadline=$((SECONDS + 30 * SLOW))
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
	done
}

finish() {
	[[ -n ${CLOISTER_WRAP:-} ]] && stop_agents_gracefully
	# A sanitizer build's agents report errors and leaks in their logs
	# (those that exit by themselves): any report fails the test.
	if grep -l "ERROR: \(Address\|Leak\|UndefinedBehavior\)Sanitizer\|runtime error:\|WARNING: ThreadSanitizer" \
		"$WORK"/*.log >/dev/null 2>&1; then
		fail "sanitizer reports in: $(grep -l "Sanitizer\|runtime error:" "$WORK"/*.log | tr '\n' ' ')"
	fi
	# Valgrind (CLOISTER_WRAP): any memcheck error or definite leak fails.
	if [[ -n ${CLOISTER_WRAP:-} ]]; then
		grep -H "ERROR SUMMARY:\|definitely lost:\|indirectly lost:" "$WORK"/*.log 2>/dev/null |
			sed "s|^$WORK/||"
	fi
	if grep -l "ERROR SUMMARY: [1-9]" "$WORK"/*.log >/dev/null 2>&1; then
		fail "valgrind errors in: $(grep -l "ERROR SUMMARY: [1-9]" "$WORK"/*.log | tr '\n' ' ')"
	fi
	echo "$PASSES passed, $FAILS failed"
	[[ $FAILS -eq 0 ]]
}
