#!/usr/bin/env bash
# The agent's web page (/ui, docs/ui.md) in headless Chromium against three
# real agents: it lists three alive members, draws the ring and names the
# sentry; after a kill -9 the member turns failed on the page within the
# detection time plus one second (measured against the agent's own event
# stream); screenshots go to $UI_SHOTS (default: the test's log folder,
# kept on failure), docs/img/ holds a copy.  Then the page's own defences:
# the shell is served without the token but carries nothing, the API
# behind it still needs the token, Host/Origin checks hold for /ui, no
# framing, markup in a member's tags is shown as text and never runs.
#
# Needs chromium (scripts/setup-deps.sh installs it); exits 77 (skipped)
# without it.  Labelled "browser": make asan/tsan skip it (ctest -LE
# browser), since a sanitized agent is not what a browser test checks and
# Chromium's start-up is the slow part of it.
source "$(dirname "$0")/lib.sh"
TOOLS=$(cd "$(dirname "$0")/../tools" && pwd)

if ! python3 -c "import sys; sys.path.insert(0, '$TOOLS'); import cdp; sys.exit(0 if cdp.find_chromium() else 1)"; then
	echo "SKIP: chromium is not installed (scripts/setup-deps.sh installs it)"
	exit 77
fi

IPS=(127.0.40.1 127.0.40.2 127.0.40.3)
SENTRY=$(printf '%s:7946,' "${IPS[@]}"); SENTRY=${SENTRY%,}
HOSTILE='<img src=x onerror="window.__pwned=1"><b class="injected">x</b>'
start_agent n1 "${IPS[0]}" --sentry "$SENTRY" --tag groups=web --probe "${IPS[0]}:7948"
start_agent n2 "${IPS[1]}" --sentry "$SENTRY" --tag groups=web --tag "note=$HOSTILE"
start_agent n3 "${IPS[2]}" --sentry "$SENTRY"
# Every agent sees three alive and names the same sentry.
settled() {
	local ip s sentries=""
	for ip in "${IPS[@]}"; do
		[[ $(count_status "$ip" alive) == 3 ]] || return 1
		s=$(http "$ip" /v1/status | python3 -c 'import json,sys; print(json.load(sys.stdin)["sentry"])')
		sentries+="$s "
	done
	[[ $(echo $sentries | tr ' ' '\n' | sort -u | wc -l) == 1 ]]
}
check "three agents see three alive members and one sentry" wait_for 20 settled

# ------------------------------------------------------------------ defences
# raw ARGS...: curl without the test's token (-q skips the .curlrc).
raw() { curl -q -s -o "$WORK/body" -w '%{http_code}' --max-time 5 "$@"; }
code=$(raw -D "$WORK/headers" "http://${IPS[0]}:7947/ui")
check "GET /ui without the token: 200, the page's shell ($code)" [ "$code" = 200 ]
check "... which holds no cluster data (no member name in it)" bash -c "! grep -q 'itest@' '$WORK/body'"
check "... with a Content-Security-Policy of 'self' only and no framing" \
	bash -c "grep -qi \"^content-security-policy: default-src 'none'; script-src 'self'\" '$WORK/headers' &&
		grep -qi \"frame-ancestors 'none'\" '$WORK/headers' && grep -qi '^x-frame-options: DENY' '$WORK/headers'"
code=$(raw "http://${IPS[0]}:7947/v1/members")
check "the API behind it still needs the token: GET /v1/members without it: 401 ($code)" [ "$code" = 401 ]
code=$(raw "http://${IPS[0]}:7947/ui/../v1/members")
check "a path that climbs out of /ui reaches no data without the token ($code, $(head -c 80 "$WORK/body"))" \
	bash -c "[ '$code' != 200 ] && ! grep -q 'itest@' '$WORK/body'"
code=$(raw -H "Origin: http://evil.example" "http://${IPS[0]}:7947/ui")
check "a cross-site request for /ui (Origin): 403 ($code)" [ "$code" = 403 ]
code=$(raw -H "Host: evil.example:7947" "http://${IPS[0]}:7947/ui")
check "a rebound name as Host for /ui: 403 ($code)" [ "$code" = 403 ]
code=$(raw -X POST -H "Content-Type: application/json" -H "Authorization: Bearer $CLOISTER_TOKEN" \
	-d '{}' "http://${IPS[0]}:7947/ui")
check "POST /ui, even with the token: 405 ($code)" [ "$code" = 405 ]
code=$(raw "http://${IPS[0]}:7948/ui")
check "the probe listener serves no page: 404 ($code)" [ "$code" = 404 ]

# ------------------------------------------------------------------ the page
SHOTS=${UI_SHOTS:-$WORK}
mkdir -p "$SHOTS"
python3 "$TOOLS/ui_check.py" "http://${IPS[0]}:7947" "$CLOISTER_TOKEN" "itest@${IPS[2]}" \
	"${AGENT_PID[n3]}" "$SHOTS" "itest@${IPS[1]}" >"$WORK/ui_check.out" 2>&1
cat "$WORK/ui_check.out"
PASSES=$((PASSES + $(grep -c '^ok: ' "$WORK/ui_check.out")))
FAILS=$((FAILS + $(grep -c '^FAIL: ' "$WORK/ui_check.out")))
check "the browser run finished (screenshots in $SHOTS)" [ -s "$SHOTS/ui-failed.png" ]
finish
