#!/usr/bin/env bash
# docs/deploy.md, "Two machines by hand", followed to the letter: every
# block marked `<!-- deploy-test: WHO -->` runs as written, on machine A
# (namespace at 198.18.60.1), B (198.18.60.2), both, or in the background
# (the agents); `copy-key` (scp) is done by copying the file.  Each
# machine has its own /etc/cloister, /var/lib/cloister and /run/cloister
# (bind mounts in a private mount namespace).  Then: the doc's check
# block shows both alive and ready, tags from the files, the same ring
# checksum on both, the doc's firewall lets B reach 7946 and keeps C
# (198.18.60.3, outside the cluster) out, and SIGTERM makes B *left*.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/netns_lib.sh"
SRC=${CLOISTER_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DOC=$SRC/docs/deploy.md
command -v nft >/dev/null || { echo "SKIP: nft not installed"; exit 77; }
command -v unshare >/dev/null || { echo "SKIP: unshare not installed"; exit 77; }

netns_hub dephub 198.18.60
netns_node depa 198.18.60.1
netns_node depb 198.18.60.2
netns_node depc 198.18.60.3
declare -A NS=([a]=depa [b]=depb [c]=depc)

# `cloister` on the PATH is the binary under test.
mkdir -p "$WORK/bin"
ln -s "$(readlink -f "$CLOISTER")" "$WORK/bin/cloister"
# Mount points on this machine's own tree, removed at exit if made here.
MADE=()
for d in /etc/cloister /var/lib/cloister /run/cloister; do
	[[ -d $d ]] || { mkdir -p "$d" && MADE+=("$d"); }
done
trap 'cleanup; netns_cleanup; for d in "${MADE[@]}"; do rmdir "$d" 2>/dev/null; done' EXIT
for m in a b; do mkdir -p "$WORK/$m/etc" "$WORK/$m/var" "$WORK/$m/run"; chmod 700 "$WORK/$m/run" "$WORK/$m/var"; done

# on MACHINE SCRIPT: runs SCRIPT with bash -e on that machine; exec'd so
# a background agent's pid is the one started here.
on() {
	local m=$1 script=$2
	ip netns exec "${NS[$m]}" unshare -m --propagation private env -u CLOISTER_TOKEN \
		PATH="$WORK/bin:$PATH" bash -ec "
mount --bind '$WORK/$m/etc' /etc/cloister
mount --bind '$WORK/$m/var' /var/lib/cloister
mount --bind '$WORK/$m/run' /run/cloister
$script"
}

# The marked blocks, in order: WHO<TAB>index, bodies in $WORK/block.N.
python3 - "$DOC" "$WORK" >"$WORK/blocks" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for i, m in enumerate(re.finditer(r'<!-- deploy-test: (\S+) -->\n```sh\n(.*?)```', text, re.S)):
    open("%s/block.%d" % (sys.argv[2], i), "w").write(m.group(2))
    print("%s\t%d" % (m.group(1), i))
PY
check "docs/deploy.md has marked blocks for both machines ($(wc -l <"$WORK/blocks") blocks)" \
	bash -c "grep -q '^a-background' '$WORK/blocks' && grep -q '^b-background' '$WORK/blocks'"
declare -A AGENT
CHECK_OUT=
while IFS=$'\t' read -r who i; do
	body=$(cat "$WORK/block.$i")
	case $who in
	a | b)
		if on "$who" "$body" >"$WORK/out.$i" 2>&1; then
			pass "doc block $i on $who ran: $(head -1 "$WORK/block.$i")"
		else
			fail "doc block $i on $who: $(tail -3 "$WORK/out.$i")"
		fi
		[[ $body == *"cloister members"* ]] && CHECK_OUT=$WORK/out.$i
		;;
	both)
		for m in a b; do
			if on "$m" "$body" >"$WORK/out.$i.$m" 2>&1; then
				pass "doc block $i on $m ran: $(head -1 "$WORK/block.$i")"
			else
				fail "doc block $i on $m: $(tail -3 "$WORK/out.$i.$m")"
			fi
		done
		;;
	copy-key)
		grep -q "scp -p /etc/cloister/key" "$WORK/block.$i" || fail "the copy block is not the scp of the key"
		cp -p "$WORK/a/etc/key" "$WORK/b/etc/key"
		;;
	a-background | b-background)
		# ip netns exec forks: the agent's own pid comes from its shell,
		# which it replaces.
		m=${who%-background}
		on "$m" "echo \$\$ >'$WORK/agent-$m.pid'; exec $body" >>"$WORK/agent-$m.log" 2>&1 &
		PIDS+=($!)
		for _ in $(seq 1 50); do [[ -s $WORK/agent-$m.pid ]] && break; sleep 0.1; done
		AGENT[$m]=$(cat "$WORK/agent-$m.pid")
		PIDS+=("${AGENT[$m]}")
		;;
	*) fail "unknown marker deploy-test: $who" ;;
	esac
done <"$WORK/blocks"

check "the key is private on both (mode 600)" bash -c "[[ \$(stat -c %a '$WORK/a/etc/key') == 600 && \$(stat -c %a '$WORK/b/etc/key') == 600 ]]"
check "the doc's check: both members alive" bash -c "[[ \$(grep -c ' alive ' '${CHECK_OUT:-/dev/null}') == 2 ]]"
check "... with the tags of their files" grep -q "groups=web,api" "${CHECK_OUT:-/dev/null}"
sed 's/^/    /' "${CHECK_OUT:-/dev/null}"
ring_of() { on "$1" "cloister status --json" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d["rings"])'; }
ra=$(ring_of a) rb=$(ring_of b)
check "ready, and the same rings on both (A: $ra)" bash -c "[[ '$ra' == ready* && '$ra' == '$rb' ]]"
check "the agents encrypt (no plaintext warning)" bash -c "! grep -q 'plaintext\|insecure' '$WORK/agent-a.log' '$WORK/agent-b.log'"
# The doc's firewall: B reaches A's 7946/tcp, C (not a member) does not.
tcp_to() { ip netns exec "${NS[$1]}" timeout 3 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }
check "firewall: B reaches A:7946/tcp" tcp_to b 198.18.60.1 7946
c_kept_out() { ! tcp_to c 198.18.60.1 7946; }
check "firewall: C (outside the cluster) does not" c_kept_out
check "firewall: A's rules are loaded (nft)" bash -c "ip netns exec depa nft list table inet cloister | grep -q 'dport 7946 drop'"
# Stop B as the doc says (SIGTERM): A sees it left.
kill -TERM "${AGENT[b]}"
b_left() { on a "cloister members" 2>/dev/null | grep -q "198.18.60.2:7946 *left"; }
check "SIGTERM on B: A sees B left" wait_for 5 b_left
check "B remembered A in its data-dir" grep -q "198.18.60.1:7946" "$WORK/b/var/peers"
finish
