#!/usr/bin/env bash
# test_keyless_keys_call.sh — a stranger's key rotation against a node
# without a key.  A node started without a key runs in plaintext (on
# loopback only); its agent still answers the cluster-wide rotation's
# `cloister.keys` calls, and anyone who reaches its gossip port can send
# one in clear text.  Installing a key and making it primary would switch
# that node alone to encryption and cut it off from its cluster, so keys
# start with the node or not at all (src/runtime/node.c, keys_op).
#
# Two keyless agents a and b (127.0.38.1-2).  tests/tools/usercall.c sends
# a, in clear text as member "stranger", the two calls a rotation makes:
# install a fresh key, then use it.  Checked: both calls reached a's
# handlers (its received counter; otherwise the test proves nothing), a
# has no key afterwards and logged no keyring change, and a and b still
# see each other alive (a would have gone silent for b had it switched).
source "$(dirname "$0")/lib.sh"

USERCALL=${CLOISTER_USERCALL:-$(dirname "$CLOISTER")/tests/cloister_usercall}
[[ -x $USERCALL ]] || { echo "SKIP: no usercall tool at $USERCALL"; exit 77; }
A=127.0.38.1 B=127.0.38.2
start_agent a "$A" --name a --sentry "$A:7946,$B:7946"
start_agent b "$B" --name b --sentry "$A:7946,$B:7946"
two_alive() { [[ $(count_status "$1" alive) == 2 ]] 2>/dev/null; }
check "a and b see each other" wait_for 20 two_alive "$A"

key=$("$CLOISTER" keygen)
printf '{"op":"install","key":"%s"}' "$key" >"$WORK/install.json"
printf '{"op":"use","key":"%s"}' "$key" >"$WORK/use.json"
in0=$(counter "$A" user_in)
"$USERCALL" "$A:7946" itest a cloister.keys stranger call "$WORK/install.json"
"$USERCALL" "$A:7946" itest a cloister.keys stranger call "$WORK/use.json"
took_both() { [[ $(($(counter "$A" user_in) - in0)) -ge 2 ]]; }
check "both calls reached a's handlers ($in0 -> $(counter "$A" user_in) received)" \
	wait_for 10 took_both
sleep 1
keys=$("$CLOISTER" keys list --http "$A:7947" 2>&1)
check "a has no key afterwards ($keys)" bash -c "[[ '$keys' == 'no keys'* ]]"
check "... and logged no keyring change" bash -c "! grep -q 'keyring changed' '$WORK/a.log'"
sleep 3
check "a and b still see each other alive" two_alive "$B"
check "... both ways" two_alive "$A"
finish
