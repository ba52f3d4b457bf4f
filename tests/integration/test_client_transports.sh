#!/usr/bin/env bash
# Every client command over both transports, against real agents
# (127.0.53.1-2, keyed): each command `cloister --help` lists as reaching an
# agent (its --help names --ctl) runs over --http (with the token) and over
# --ctl (the Unix socket, no token in the environment) with the same
# result: status, members, whois, wait ready, join, multicast, multicall
# (every agent answers cloister.ping), monitor, keys list|install|use|remove
# (a rotation whose steps alternate transports), tags set|unset (the peer
# sees them), force-leave (of a killed member: left on the peer), leave
# (peers see "left").
# The agent keeps serving after each: `make static-test` runs this against
# the musl binary, whose first --ctl client used to end it.
source "$(dirname "$0")/lib.sh"
A=127.0.53.1 B=127.0.53.2 C=127.0.53.3 D=127.0.53.4
SENTRY="$A:7946,$B:7946"
SOCK=$WORK/a.sock
"$CLOISTER" keygen >"$WORK/k1"
"$CLOISTER" keygen >"$WORK/k2"
chmod 600 "$WORK/k1" "$WORK/k2"
start_agent a "$A" --sentry "$SENTRY" --consensus 2 --key-file "$WORK/k1" --ctl "$SOCK"
start_agent b "$B" --sentry "$SENTRY" --consensus 2 --key-file "$WORK/k1"
over_http() { "$CLOISTER" "$@" --http "$A:7947"; }
over_ctl() { env -u CLOISTER_TOKEN -u CLOISTER_TOKEN_FILE "$CLOISTER" "$@" --ctl "$SOCK"; }
# c and d are killed, to be force-left: one over each transport.
start_agent c "$C" --sentry "$SENTRY" --key-file "$WORK/k1"
start_agent d "$D" --sentry "$SENTRY" --key-file "$WORK/k1"
four() { [[ $(count_status "$A" alive) == 4 && $(count_status "$B" alive) == 4 ]]; }
check "four keyed agents assemble" wait_for 20 four
kill -KILL "${AGENT_PID[c]}" "${AGENT_PID[d]}"
both_ready() { [[ $(count_status "$A" alive) == 2 && $(count_status "$B" alive) == 2 ]]; }
# Dead, not suspect: suspects still own keys on the ring.
cd_dead() { [[ $(count_status "$A" dead) == 2 && $(count_status "$B" dead) == 2 ]]; }
check "c and d, killed, are dead on a and b" wait_for 30 cd_dead
has_cmd() { grep -qx "$1" "$WORK/commands"; }

# The commands that reach an agent, by their help.
covered=" status members whois wait join multicast multicall monitor keys tags force-leave leave "
"$CLOISTER" --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1}' >"$WORK/commands"
while read -r c; do
	[[ $c == agent ]] && continue # the server, not a client
	if "$CLOISTER" "$c" --help 2>&1 | grep -q -- "--ctl"; then
		check "client command '$c' is exercised over both transports here" \
			bash -c "[[ '$covered' == *' $c '* ]]"
	fi
done <"$WORK/commands"

for t in http ctl; do
	run() { "over_$t" "$@"; }
	check "$t: status --json names the node" bash -c \
		"$(declare -f over_$t); CLOISTER='$CLOISTER' A=$A SOCK='$SOCK'; over_$t status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s[\"node\"]==\"itest@$A\" and s[\"status\"]==\"ready\" else 1)'"
	run members --json >"$WORK/members.$t"
	check "$t: members --json lists two alive" python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if sorted(x["status"] for x in m if x["status"] == "alive") == ["alive", "alive"] else 1)' "$WORK/members.$t"
	run whois user:42 >"$WORK/whois.$t"
	check "$t: whois names a member" grep -qE "^itest@127\.0\.53\.[12]$" "$WORK/whois.$t"
	check "$t: wait ready" run wait ready --timeout 10
	check "$t: join" run join "$B:7946"
	check "$t: multicast" run multicast test.topic "hello over $t"
	run multicall cloister.ping "x" --timeout 3 --json >"$WORK/multicall.$t" 2>&1
	check "$t: multicall: both agents answer cloister.ping" python3 -c '
import json, sys
text = open(sys.argv[1]).read()
sys.exit(0 if "itest@127.0.53.1" in text and "itest@127.0.53.2" in text else 1)' "$WORK/multicall.$t"
	timeout 2 bash -c "$(declare -f over_$t); CLOISTER='$CLOISTER' A=$A SOCK='$SOCK'; over_$t monitor --json" >"$WORK/monitor.$t" 2>/dev/null || true
	check "$t: monitor streams the status first" python3 -c '
import json, sys
first = json.loads(open(sys.argv[1]).readline())
sys.exit(0 if first.get("type") == "status" else 1)' "$WORK/monitor.$t"
	if has_cmd tags; then
		check "$t: tags set" run tags set "via=$t"
		tagged() { http "$B" /v1/members | python3 -c 'import json,sys
m=[x for x in json.load(sys.stdin) if x["name"]==sys.argv[1]]
sys.exit(0 if m and m[0]["tags"].get("via")==sys.argv[2] else 1)' "itest@$A" "$1"; }
		check "$t: b sees a's tag via=$t" wait_for 10 tagged "$t"
		check "$t: tags unset" run tags unset via
		untagged() { ! tagged "$t"; }
		check "$t: b sees the tag gone" wait_for 10 untagged
	fi
	if has_cmd force-leave; then
		victim=$([[ $t == http ]] && echo "itest@$C" || echo "itest@$D")
		check "$t: force-leave $victim" run force-leave "$victim"
		gone() { [[ $(member_status "$B" "$1") =~ ^(left|)$ ]]; }
		check "$t: b sees $victim left" wait_for 10 gone "$victim"
	fi
	check "$t: keys list" bash -c "$(declare -f over_$t); CLOISTER='$CLOISTER' A=$A SOCK='$SOCK'; over_$t keys list --json | python3 -c 'import json,sys; json.load(sys.stdin)'"
done
check "whois agrees over both transports" cmp -s "$WORK/whois.http" "$WORK/whois.ctl"

# A rotation whose steps alternate transports (node b over HTTP).
fp() { "$CLOISTER" keys list --http "$1:7947" --json; }
check "keys install over --http" over_http keys install --key-file "$WORK/k2"
check "keys install on b" "$CLOISTER" keys install --key-file "$WORK/k2" --http "$B:7947"
check "keys use over --ctl" over_ctl keys use --key-file "$WORK/k2"
check "keys use on b" "$CLOISTER" keys use --key-file "$WORK/k2" --http "$B:7947"
check "keys remove over --ctl" over_ctl keys remove --key-file "$WORK/k1"
check "keys remove on b" "$CLOISTER" keys remove --key-file "$WORK/k1" --http "$B:7947"
over_ctl keys list --json >"$WORK/keys.ctl"
over_http keys list --json >"$WORK/keys.http"
check "keys list: one key left, the same over both" bash -c \
	"cmp -s '$WORK/keys.ctl' '$WORK/keys.http' && python3 -c 'import json,sys; k=json.load(open(sys.argv[1])); sys.exit(0 if len(k.get(\"keys\", k)) == 1 else 1)' '$WORK/keys.ctl'"
sleep 2
check "still two alive after the rotation" both_ready

# Errors over the socket are clean: no agent there is exit 3.
rc=0
env -u CLOISTER_TOKEN "$CLOISTER" status --ctl "$WORK/nothing.sock" >/dev/null 2>&1 || rc=$?
check "no agent at the socket: exit 3 ($rc)" test "$rc" -eq 3
check "the agent still serves after every --ctl client" kill -0 "${AGENT_PID[a]}"
check "leave over --ctl" over_ctl leave
left() { [[ $(member_status "$B" "itest@$A") == left ]]; }
check "b sees a as left" wait_for 15 left
finish
