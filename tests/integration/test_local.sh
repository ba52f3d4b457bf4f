#!/usr/bin/env bash
# `cloister local` (src/cli/cmd_local.c) with real agents on 127.0.42.1-3:
# the table it ends with (one row per node: status, alive count, ring
# checksum, health, sentry) after a scripted kill, and --open: the browser
# is handed a 0600 file that carries the page's link with the token, never
# the token on its command line, and that token opens every agent's API.
source "$(dirname "$0")/lib.sh"
unset CLOISTER_TOKEN # cloister local makes one for its agents

cat >"$WORK/browser.sh" <<EOF
#!/bin/sh
# A stand-in browser: what it was given, and the file's mode and text then.
echo "\$@" >"$WORK/browser.args"
stat -c %a "\$1" >"$WORK/browser.mode"
cat "\$1" >"$WORK/browser.page"
EOF
chmod +x "$WORK/browser.sh"

BROWSER="$WORK/browser.sh" timeout $((60 * SLOW)) "$CLOISTER" local -n 3 --base-ip 127.0.42.1 \
	--consensus 2 --script "kill 3 at 5" --exit-after 14 --open >"$WORK/local.out" 2>&1 &
LOCAL_PID=$!
PIDS+=($LOCAL_PID)
# While it runs: the token the page got opens node 2's API too.
token_ok() {
	[[ -s $WORK/browser.page ]] || return 1
	local t
	t=$(grep -o 'token=[0-9a-f]*' "$WORK/browser.page" | cut -d= -f2)
	[[ ${#t} -eq 64 ]] && curl -q -s -f --max-time 3 -H "Authorization: Bearer $t" \
		http://127.0.42.2:7947/v1/status >"$WORK/status2.json"
}
check "the link handed to the browser carries a token every agent accepts" wait_for 15 token_ok
wait "$LOCAL_PID"
rc=$?
sed 's/^/    /' "$WORK/local.out"
check "cloister local exits 0: the nodes still running are ready (rc $rc)" [ $rc -eq 0 ]

# The final table: "  N  IP  STATUS  ALIVE  RING  HEALTH  SENTRY".
row() { awk -v n="$1" '$1 == n && $2 ~ /^127\.0\.42\./ { print }' "$WORK/local.out" | tail -1; }
r1=$(row 1); r2=$(row 2); r3=$(row 3)
check "node 1's row: ready, 2 alive, health 0 ($r1)" bash -c "echo '$r1' | awk '{ exit !(\$3 == \"ready\" && \$4 == 2 && \$6 == 0) }'"
check "node 2's row: ready, 2 alive ($r2)" bash -c "echo '$r2' | awk '{ exit !(\$3 == \"ready\" && \$4 == 2) }'"
check "node 3's row: down ($r3)" bash -c "echo '$r3' | awk '{ exit !(\$3 == \"down\") }'"
check "nodes 1 and 2 show one ring checksum and one sentry" \
	bash -c "[ \"\$(echo '$r1' | awk '{ print \$5, \$7 }')\" = \"\$(echo '$r2' | awk '{ print \$5, \$7 }')\" ] && [ -n \"\$(echo '$r1' | awk '{ print \$7 }')\" ]"
check "the log shows the kill and the survivors' new view" \
	bash -c "grep -q 'killing node 3' '$WORK/local.out' && grep -q 'node 1 .* 2 alive' '$WORK/local.out'"

args=$(cat "$WORK/browser.args" 2>/dev/null)
check "the browser got a file, not the token ($args)" \
	bash -c "[ -n '$args' ] && ! grep -q 'token=' '$WORK/browser.args'"
check "that file was 0600 ($(cat "$WORK/browser.mode" 2>/dev/null))" [ "$(cat "$WORK/browser.mode" 2>/dev/null)" = 600 ]
check "it sends the browser to node 1's page with the token in the fragment" \
	grep -q 'url=http://127.0.42.1:7947/ui#token=[0-9a-f]\{64\}"' "$WORK/browser.page"
check "and is gone once cloister local exits" bash -c "[ ! -e '$args' ]"
finish
