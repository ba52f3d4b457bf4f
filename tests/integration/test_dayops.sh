#!/usr/bin/env bash
# Serf's day-two commands against five keyed agents (127.0.61.1-6):
#   - cloister tags set/unset at run time: every agent sees the new tags and
#     the named ring of a groups tag appears, then goes;
#   - cloister members --status / --tag filters;
#   - cloister keys rotate: five agents end with only the new key, no member
#     failed meanwhile, a node holding only the old key cannot join;
#   - cloister force-leave of a killed member: left on every agent, and still
#     left after push-pulls; refused for a live member.
source "$(dirname "$0")/lib.sh"

IPS=(127.0.61.1 127.0.61.2 127.0.61.3 127.0.61.4 127.0.61.5)
SENTRY=$(printf '%s:7946,' "${IPS[@]}"); SENTRY=${SENTRY%,}
umask 077
"$CLOISTER" keygen >"$WORK/old.key"
"$CLOISTER" keygen >"$WORK/new.key"
for i in 0 1 2 3 4; do
	start_agent "n$i" "${IPS[$i]}" --consensus 5 --sentry "$SENTRY" --key-file "$WORK/old.key" \
		--on-member "cat >/dev/null; echo \"\$CLOISTER_EVENT \$CLOISTER_MEMBER\" >> $WORK/events.log"
done
cli() { local ip=$1; shift; "$CLOISTER" "$@" --http "$ip:7947"; }
name_of() { echo "itest@$1"; }
N0=$(name_of "${IPS[0]}")
alive_n() { [[ $(count_status "$1" alive) -eq $2 ]]; }
all_alive() { local ip; for ip in "${IPS[@]}"; do alive_n "$ip" 5 || return 1; done; }
check "five keyed agents: all alive everywhere" wait_for 30 all_alive

# --- tags at run time -----------------------------------------------------
tag_of() { # IP MEMBER KEY: the member's tag as that agent lists it
	http "$1" /v1/members | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if m["name"] == sys.argv[1]: print(m["tags"].get(sys.argv[2], ""))' "$2" "$3"
}
has_ring() { http "$1" /v1/status | python3 -c 'import json,sys; sys.exit(0 if sys.argv[1] in json.load(sys.stdin)["rings"] else 1)' "$2"; }
ring_x_holds_n0() { http "$1" '/v1/whois?key=k1&ring=x' | grep -q "\"$N0\""; }
everywhere() { local ip; for ip in "${IPS[@]}"; do "$@" "$ip" || return 1; done; }
tagged() { [[ $(tag_of "$1" "$N0" groups) == x ]]; }
untagged() { [[ -z $(tag_of "$1" "$N0" groups) ]]; }
ring_x() { has_ring "$1" x && ring_x_holds_n0 "$1"; }
no_ring_x() { ! has_ring "$1" x; }
inc_before=$(http "${IPS[0]}" /v1/members | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["incarnation"])')
out=$(cli "${IPS[0]}" tags set groups=x role=db)
check "tags set: prints the node's tags ($(echo $out))" grep -q "groups=x" <<<"$out"
t0=$SECONDS
check "tags set groups=x on n0: every agent lists the tag" wait_for 10 everywhere tagged
echo "  (on all five in $((SECONDS - t0)) s)"
check "  and every agent has the named ring x, owned by n0" wait_for 10 everywhere ring_x
inc_after=$(http "${IPS[0]}" /v1/members | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["incarnation"])')
check "  announced with a higher incarnation ($inc_before -> $inc_after)" test "$inc_after" -gt "$inc_before"
check "  the protocol tag is not among the member's tags" bash -c "! http_out=\$(true); ! grep -q cloister.proto <<<'$(http "${IPS[1]}" /v1/members)'"

# --- member filters ---------------------------------------------------------
only_n0=$(cli "${IPS[2]}" members --tag groups=x --json | python3 -c 'import json,sys; print(" ".join(m["name"] for m in json.load(sys.stdin)))')
check "members --tag groups=x: only n0 ($only_n0)" test "$only_n0" = "$N0"
n_alive=$(cli "${IPS[2]}" members --status alive --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
check "members --status alive: five ($n_alive)" test "$n_alive" -eq 5
n_none=$(cli "${IPS[2]}" members --status dead,left --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
check "members --status dead,left: none ($n_none)" test "$n_none" -eq 0
both=$(cli "${IPS[2]}" members --status alive --tag role=db | awk 'NR > 1 {print $1}')
check "members --status alive --tag role=db (table): n0 ($both)" test "$both" = "$N0"
cli "${IPS[2]}" members --status bogus >/dev/null 2>&1
check "members --status bogus: refused (exit 1)" test $? -eq 1

cli "${IPS[0]}" tags unset groups >/dev/null
check "tags unset groups: the tag is gone everywhere" wait_for 10 everywhere untagged
check "  and so is ring x" wait_for 10 everywhere no_ring_x
cli "${IPS[0]}" tags set cloister.proto=9-9 >/dev/null 2>&1
check "tags set of the reserved key cloister.proto: refused" test $? -eq 1

# --- keys rotate --------------------------------------------------------------
: >"$WORK/events.log"
old_fp=$(cli "${IPS[0]}" keys list | awk 'NR == 1 {print $1}')
out=$(cli "${IPS[3]}" keys rotate --key-file "$WORK/new.key")
rc=$?
echo "$out" | sed 's/^/  | /'
check "keys rotate on five agents: exit 0" test $rc -eq 0
oks=$(grep -c ": ok$" <<<"$out")
check "  per member and phase, ok: 15 lines ($oks)" test "$oks" -eq 15
sleep 3
one_new_key() { local ip; for ip in "${IPS[@]}"; do
	[[ $(cli "$ip" keys list | wc -l) -eq 1 ]] || return 1
	[[ $(cli "$ip" keys list | awk '{print $1}') != "$old_fp" ]] || return 1
done; }
check "every agent holds only the new key (not $old_fp)" one_new_key
check "  and all five are alive everywhere" all_alive
failed=$(grep -c "^failed " "$WORK/events.log")
check "no member failed during the rotation ($failed failed events)" test "$failed" -eq 0
start_agent stale 127.0.61.6 --consensus 1 --sentry "${IPS[0]}:7946" --key-file "$WORK/old.key"
sleep 5
stale_out() { local ip; for ip in "${IPS[@]}"; do [[ -z $(member_status "$ip" itest@127.0.61.6) ]] || return 1; done; }
check "a node with only the old key cannot join: no agent lists it" stale_out
check "  and it sees nobody" alive_n 127.0.61.6 1
kill -KILL "${AGENT_PID[stale]}"

# --- force-leave --------------------------------------------------------------
N4=$(name_of "${IPS[4]}")
cli "${IPS[0]}" force-leave "$N4" >/dev/null 2>&1
check "force-leave of a live member: refused (exit 1)" test $? -eq 1
kill -KILL "${AGENT_PID[n4]}"
dead_on() { [[ $(member_status "$1" "$N4") == dead ]]; }
first4() { local ip; for ip in "${IPS[@]:0:4}"; do "$@" "$ip" || return 1; done; }
check "n4 killed: dead on the four others" wait_for 30 first4 dead_on
out=$(cli "${IPS[1]}" force-leave "$N4")
check "force-leave n4 through n1: $out" test $? -eq 0
left_on() { [[ $(member_status "$1" "$N4") == left ]]; }
t0=$SECONDS
check "n4 is left on all four" wait_for 10 first4 left_on
echo "  (in $((SECONDS - t0)) s)"
pp_total() { local ip s=0 v; for ip in "${IPS[@]:0:4}"; do v=$(counter "$ip" pushpulls); s=$((s + ${v:-0})); done; echo "$s"; }
pp0=$(pp_total)
push_pulled() { [[ $(pp_total) -gt $((pp0 + 1)) ]]; }
wait_for 40 push_pulled
pp1=$(pp_total)
check "still left on all four after push-pulls ($pp0 -> $pp1 push-pulls): not resurrected" first4 left_on

finish
