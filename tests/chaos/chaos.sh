#!/usr/bin/env bash
# chaos.sh path/to/cloister — fault injection on 5 agents in network
# namespaces on one bridge (198.19.0.0/24 only; namespaces "chx<pid>*"),
# found through one DNS name served by dnsmasq; consensus majority:5 (3).
#
# Scenarios (CHAOS_SCENARIOS, space separated, in this order by default):
#   kill       kill -9 a random node, then restart it
#   readdr     kill -9 a random node, restart it at a new address (DNS follows)
#   partition  symmetric partition {2 nodes} | {3 nodes} for 20 s, then heal
#   oneway     one node stops hearing another (one-way drop) for 20 s
#   loss20     20% loss on every link for 30 s
#   loss40     40% loss on every link for 20 s
#   latency    200 ms ± 100 ms (uniform) on every outbound datagram of every
#              node for LATENCY_S (30) s, through the runtime's fault hook
#              (a build with -DCLOISTER_FAULT_INJECTION=ON, as `make chaos`
#              uses: the kernel here has no netem); skipped, and said so,
#              with a binary without the hook
#   freeze     SIGSTOP a random node for 10 s, then SIGCONT
#   dns        DNS answers change: one live address and one dead one; a node
#              killed meanwhile must rejoin through them; then restored
#
# After each: convergence within CONVERGE_S (every agent's alive list is the
# running set, nothing else alive or suspect, all ready); no "failed" event
# for a node the scenario did not fault (where none is expected).  At the
# end, over every agent's log: each status change follows the machine
# (down>assembling>rehashing>ready>rehashing..., stopping>stopped), and
# every on-change hook that saw "ready" had at least 3 members alive.
# Prints a report; exits 1 if anything was lost.  Needs root (exit 77).
source "$(dirname "$0")/../integration/lib.sh"

if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null || ! command -v dnsmasq >/dev/null ||
	! command -v nft >/dev/null; then
	echo "SKIP: needs root, iproute2, dnsmasq and nftables"
	exit 77
fi
SCENARIOS=${CHAOS_SCENARIOS:-kill readdr partition oneway loss20 loss40 latency freeze dns}
CONVERGE_S=${CONVERGE_S:-60}
SEED=${CHAOS_SEED:-$$}
RANDOM=$SEED
TAG=chx$$
HUB=${TAG}h
N=5
NS=() IP=() GEN=()
for i in $(seq 0 $((N - 1))); do NS+=("${TAG}n$i"); IP+=("198.19.0.$((i + 1))"); GEN+=(0); done
DNSNAME=svc.chaos.test
CONSENSUS=3

source "$(dirname "$0")/../netns/netns_lib.sh"
netns_hub "$HUB" 198.19.0
for i in $(seq 0 $((N - 1))); do
	netns_node "${NS[$i]}" "${IP[$i]}"
	ip netns exec "${NS[$i]}" nft -f - <<'NFT'
table inet chx {
	chain input {
		type filter hook input priority 0; policy accept;
	}
}
NFT
done
netns_dns "$DNSNAME" "${IP[@]}"

# Off loopback a node needs a key: the cluster shares one, so chaos runs
# with real encryption (sealing, replay windows, chunked frames).
(umask 077 && "$CLOISTER" keygen >"$WORK/cluster.key")

# start_node I: (re)starts node I's agent; its logs are per process.
declare -A RUNNING=()
start_node() {
	local i=$1 g=$((GEN[$1] + 1))
	GEN[$i]=$g
	local tag="n$i.$g"
	# The fault file (read by test builds only) holds "DELAY JITTER" ms;
	# the latency scenario writes it, every other time it says "0 0".
	[[ -e $WORK/fault-$i ]] || echo "0 0" >"$WORK/fault-$i"
	ip netns exec "${NS[$i]}" env CLOISTER_FAULT_FILE="$WORK/fault-$i" ${CLOISTER_WRAP:-} "$CLOISTER" agent --app chaos --sentry "$DNSNAME" \
		--consensus majority:5 --http "${IP[$i]}:7947" --profile local --discovery-interval 2 \
		--key-file "$WORK/cluster.key" \
		--on-member "echo \"\$CLOISTER_EVENT \$CLOISTER_MEMBER\" >> $WORK/member-$tag.log" \
		--on-change "echo \"\$CLOISTER_FROM \$CLOISTER_TO \$CLOISTER_MEMBERS\" >> $WORK/change-$tag.log" \
		>>"$WORK/agent-$tag.log" 2>&1 &
	AGENT_PID[$i]=$!
	PIDS+=($!)
	RUNNING[$i]=1
}
kill9_node() { kill -KILL "${AGENT_PID[$1]}" 2>/dev/null; wait "${AGENT_PID[$1]}" 2>/dev/null; unset "RUNNING[$1]"; }
name_of() { echo "chaos@${IP[$1]}"; }

# state: one JSON line from the hub (outside every partition): for each
# running node, its status and the names it lists alive / suspect.
state() {
	local args=() i
	for i in "${!RUNNING[@]}"; do args+=("${IP[$i]}"); done
	ip netns exec "$HUB" python3 - "${args[@]}" <<'PY'
import json, os, sys, urllib.request
# The agents' control APIs are off loopback: the token goes explicitly.
op = urllib.request.build_opener()
op.addheaders = [("Authorization", "Bearer " + os.environ.get("CLOISTER_TOKEN", ""))]
out = {}
for ip in sys.argv[1:]:
    try:
        base = f"http://{ip}:7947"
        st = json.load(op.open(base + "/v1/status", timeout=2))
        ms = json.load(op.open(base + "/v1/members", timeout=2))
        out[ip] = {"status": st.get("status"),
                   "alive": sorted(m["name"] for m in ms if m["status"] == "alive"),
                   "suspect": sorted(m["name"] for m in ms if m["status"] == "suspect")}
    except Exception as e:
        out[ip] = {"error": str(e)}
print(json.dumps(out))
PY
}
# converged: every running agent lists exactly the running set alive,
# nothing suspect, and is ready.
converged() {
	local want=() i
	for i in "${!RUNNING[@]}"; do want+=("$(name_of "$i")"); done
	state | python3 -c '
import json, sys
want = sorted(sys.argv[1:])
st = json.load(sys.stdin)
ok = all(v.get("alive") == want and not v.get("suspect") and v.get("status") == "ready"
         for v in st.values())
sys.exit(0 if ok and len(st) == len(want) else 1)' "${want[@]}"
}
# ghosts: names alive or suspect somewhere that are not running (printed).
ghosts() {
	local want=() i
	for i in "${!RUNNING[@]}"; do want+=("$(name_of "$i")"); done
	state | python3 -c '
import json, sys
want = set(sys.argv[1:])
st = json.load(sys.stdin)
g = sorted({n for v in st.values() for n in v.get("alive", []) + v.get("suspect", []) if n not in want})
print(" ".join(g))' "${want[@]}"
}
# failed_since MARK: "failed" events logged after MARK (a file of counts).
mark_events() { local f; for f in "$WORK"/member-*.log; do [[ -e $f ]] && echo "$f $(wc -l <"$f")"; done >"$WORK/mark"; }
failed_since() {
	local f n
	for f in "$WORK"/member-*.log; do
		[[ -e $f ]] || continue
		n=$(awk -v f="$f" '$1 == f { print $2 }' "$WORK/mark")
		tail -n +$((${n:-0} + 1)) "$f" | awk '$1 == "failed" { print $2 }'
	done | sort | uniq -c | awk '{ print $2 "(x" $1 ")" }' | tr '\n' ' '
}
nft_ns() { ip netns exec "${NS[$1]}" nft "${@:2}"; }
heal_all() { local i; for i in $(seq 0 $((N - 1))); do nft_ns "$i" flush chain inet chx input; done; }

REPORT=()
LOST=0
FAULTS=0
# settle SCENARIO ALLOWED-FAILED...: convergence, ghosts, false positives.
settle() {
	local sc=$1; shift
	local t0=$SECONDS res fp=() f name ok=1
	if wait_for "$CONVERGE_S" converged; then
		res="converged in $((SECONDS - t0)) s"
	else
		res="NOT converged in ${CONVERGE_S} s: $(state)"
		ok=0
	fi
	local g; g=$(ghosts)
	[[ -n $g ]] && { res+="; ghosts: $g"; ok=0; }
	for f in $(failed_since); do
		name=${f%%(*}
		[[ " $* " == *" $name "* ]] || fp+=("$f")
	done
	if ((${#fp[@]})); then res+="; false positives: ${fp[*]}"; ok=0; fi
	local all; all=$(failed_since)
	[[ -n $all ]] && res+="; failed events (expected): $all"
	if ((ok)); then
		pass "$sc: $res"
		FAULTS=$((FAULTS + 1))
	else
		fail "$sc: $res"
		LOST=$((LOST + 1))
	fi
	REPORT+=("$sc: $res")
}
# pick: a random node index in PICK (no subshell, so CHAOS_SEED replays a run).
pick() { PICK=$((RANDOM % N)); }
others_of() { local i; for i in "${!RUNNING[@]}"; do [[ $i != "$1" ]] && echo "$i"; done; }
dead_in_others() { # dead_in_others I: every other running agent has dropped I
	local me; me=$(name_of "$1")
	state | python3 -c '
import json, sys
st = json.load(sys.stdin)
me, skip = sys.argv[1], sys.argv[2]
sys.exit(0 if all(me not in v.get("alive", []) + v.get("suspect", []) and "error" not in v
                  for ip, v in st.items() if ip != skip) else 1)' "$me" "${IP[$1]}"
}

# ---------------------------------------------------------------- scenarios
sc_kill() {
	local v; pick; v=$PICK
	mark_events
	kill9_node "$v"
	check "kill: node $v (kill -9) dropped by the others" wait_for 40 dead_in_others "$v"
	start_node "$v"
	settle "kill -9 node $v, restart" "$(name_of "$v")"
}
NEXT_ADDR=20
sc_readdr() {
	local v old new; pick; v=$PICK
	old=$(name_of "$v")
	mark_events
	kill9_node "$v"
	new=198.19.0.$NEXT_ADDR
	NEXT_ADDR=$((NEXT_ADDR + 1))
	ip -n "${NS[$v]}" addr del "${IP[$v]}/24" dev eth0
	ip -n "${NS[$v]}" addr add "$new/24" dev eth0
	IP[$v]=$new
	write_hosts "${IP[@]}"
	dns_reload
	start_node "$v"
	settle "kill -9 node $v, restart at $new (was $old)" "$old"
}
sc_partition() {
	local a=() b=() i j ip
	# a random 2 | 3 split
	local first; pick; first=$PICK
	for i in $(seq 0 $((N - 1))); do
		if [[ $i == "$first" || $i == $(((first + 1) % N)) ]]; then a+=("$i"); else b+=("$i"); fi
	done
	mark_events
	local t0=$SECONDS
	for i in "${a[@]}"; do for j in "${b[@]}"; do
		nft_ns "$i" add rule inet chx input ip saddr "${IP[$j]}" drop
		nft_ns "$j" add rule inet chx input ip saddr "${IP[$i]}" drop
	done; done
	minority_down() {
		local k
		for k in "${a[@]}"; do
			[[ $(ip netns exec "$HUB" python3 -c 'import json,os,sys,urllib.request
op = urllib.request.build_opener(); op.addheaders = [("Authorization", "Bearer " + os.environ.get("CLOISTER_TOKEN", ""))]
print(json.load(op.open(f"http://{sys.argv[1]}:7947/v1/status", timeout=2))["status"])' "${IP[$k]}" 2>/dev/null) != ready ]] || return 1
		done
	}
	check "partition {${a[*]}} | {${b[*]}}: the minority steps down (not ready)" wait_for 40 minority_down
	local left=$((20 - (SECONDS - t0)))
	((left > 0)) && sleep "$left"
	heal_all
	local names=(); for i in "${!RUNNING[@]}"; do names+=("$(name_of "$i")"); done
	settle "symmetric partition {${a[*]}} | {${b[*]}} for $((SECONDS - t0)) s, heal" "${names[@]}"
}
sc_oneway() {
	local x y; pick; x=$PICK; y=$(((x + 1 + RANDOM % (N - 1)) % N))
	mark_events
	nft_ns "$x" add rule inet chx input ip saddr "${IP[$y]}" drop
	sleep 20
	heal_all
	settle "one-way: node $x hears nothing from node $y for 20 s"
}
sc_loss() {
	local pct=$1 secs=$2 i allowed=()
	mark_events
	for i in $(seq 0 $((N - 1))); do
		nft_ns "$i" add rule inet chx input iifname eth0 numgen random mod 100 "<" "$pct" drop
	done
	sleep "$secs"
	heal_all
	if ((pct > 20)); then for i in "${!RUNNING[@]}"; do allowed+=("$(name_of "$i")"); done; fi
	settle "${pct}% loss on every link for $secs s" "${allowed[@]}"
}
# metric_sum NAME: NAME summed over every running agent's /metrics.
metric_sum() {
	local i s=0 v
	for i in "${!RUNNING[@]}"; do
		v=$(ip netns exec "$HUB" python3 -c 'import os,sys,urllib.request
op = urllib.request.build_opener(); op.addheaders = [("Authorization", "Bearer " + os.environ.get("CLOISTER_TOKEN", ""))]
for l in op.open(f"http://{sys.argv[1]}:7947/metrics", timeout=2).read().decode().splitlines():
    if l.split(" ")[0] == sys.argv[2]: print(l.split(" ")[1])' "${IP[$i]}" "$1" 2>/dev/null)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
# The hook is in the binary only in a CLOISTER_FAULT_INJECTION build.
FAULT_HOOK=0
grep -qa CLOISTER_FAULT_FILE "$CLOISTER" && FAULT_HOOK=1
# Latency: with the local profile (probe timeout 200 ms, interval 1 s) a
# round trip is 2 delayed hops, 200-600 ms: past the probe timeout, so the
# prober also asks for indirect probes, but the direct ack still arrives
# before the probe interval ends, and an ack any time in the interval
# counts.  So the protocol should suspect no one, and measured from a clean
# start it does not (0 probe failures in 600 probes of 5 loopback agents
# under the hook; 0 suspicions when this scenario runs first).  After the
# loss scenarios, though, runs saw 1 suspicion in 30-50 s (always refuted,
# never a failure); its cause is not found yet, so suspicions are counted
# and reported, not failed on.  A false death is asserted against: a
# suspicion lasts at least 3 x 1 s (Lifeguard lengthens it) while the
# refutation needs 2 delayed hops plus gossip ticks (< 1 s), so no
# "failed" event is allowed.  TCP is not delayed (fault.h says why): the
# stream fallback ping could rescue a probe the datagrams lost, so rescues
# are reported beside the suspicions.
sc_latency() {
	local secs=${LATENCY_S:-30} i k sus0 sus1 res0 res1 t0 samples=0 whole=0
	if ((!FAULT_HOOK)); then
		echo "latency: SKIPPED: $CLOISTER has no fault hook (build with -DCLOISTER_FAULT_INJECTION=ON)"
		REPORT+=("latency: SKIPPED (binary built without the fault hook)")
		return
	fi
	# A quiet start: the previous scenario's last probes (started before
	# its heal) may still fail and raise a suspicion in the next second or
	# two; that one is not this scenario's.  Wait past them, converged.
	sleep 4
	wait_for "$CONVERGE_S" converged
	mark_events
	sus0=$(metric_sum cloister_suspicions_total)
	# The hook delays datagrams only: a probe rescued by the stream
	# fallback ping (TCP, undelayed) would hide a datagram-path failure,
	# so rescues are counted too (0 if the build has no such counter).
	res0=$(metric_sum cloister_stream_ping_rescues_total)
	for i in $(seq 0 $((N - 1))); do echo "200 100" >"$WORK/fault-$i"; done
	t0=$SECONDS
	# Sampled every ~2 s (bounded in count and time): how often the whole
	# cluster looked converged while the latency was on.
	for ((k = 0; k < secs && SECONDS - t0 < secs; k += 2)); do
		samples=$((samples + 1))
		converged && whole=$((whole + 1))
		sleep 2
	done
	for i in $(seq 0 $((N - 1))); do echo "0 0" >"$WORK/fault-$i"; done
	sus1=$(metric_sum cloister_suspicions_total)
	res1=$(metric_sum cloister_stream_ping_rescues_total)
	echo "latency: $((sus1 - sus0)) suspicions raised while delayed (sum over nodes $sus0 -> $sus1); converged in $whole of $samples samples"
	settle "200 ± 100 ms outbound latency on every node for $((SECONDS - t0)) s ($((sus1 - sus0)) suspicions, $((res1 - res0)) probes rescued over TCP; converged in $whole/$samples samples during)"
}
sc_freeze() {
	local v; pick; v=$PICK
	mark_events
	kill -STOP "${AGENT_PID[$v]}"
	sleep 10
	kill -CONT "${AGENT_PID[$v]}"
	settle "SIGSTOP node $v for 10 s, SIGCONT" "$(name_of "$v")"
}
sc_dns() {
	local keep v
	pick; keep=$PICK; v=$(((keep + 2) % N))
	mark_events
	write_hosts "${IP[$keep]}" 198.19.0.99
	dns_reload
	kill9_node "$v"
	check "dns: node $v dropped by the others" wait_for 40 dead_in_others "$v"
	start_node "$v"
	settle "DNS lists only node $keep and a dead address; node $v killed and restarted" "$(name_of "$v")"
	write_hosts "${IP[@]}"
	dns_reload
	mark_events
	sleep 5
	settle "DNS restored to every address"
}

# ---------------------------------------------------------------- run
sleep 0.5 # dnsmasq binds
for i in $(seq 0 $((N - 1))); do start_node "$i"; done
check "5 agents in namespaces, found by DNS, converge (ready, 5 alive everywhere)" wait_for 60 converged
echo "seed $SEED; scenarios: $SCENARIOS"
for sc in $SCENARIOS; do
	echo "--- $sc ($SECONDS s)"
	case $sc in
	kill) sc_kill ;;
	readdr) sc_readdr ;;
	partition) sc_partition ;;
	oneway) sc_oneway ;;
	loss20) sc_loss 20 30 ;;
	loss40) sc_loss 40 20 ;;
	latency) sc_latency ;;
	freeze) sc_freeze ;;
	dns) sc_dns ;;
	*) fail "unknown scenario $sc" ;;
	esac
done

# ---------------------------------------------------------------- invariants
seq_report=$(python3 - "$WORK" "$CONSENSUS" <<'PY'
import glob, os, re, sys
work, consensus = sys.argv[1], int(sys.argv[2])
ok_edges = {("down", "assembling"), ("assembling", "rehashing"), ("rehashing", "ready"),
            ("ready", "rehashing"), ("stopping", "stopped")}
bad, changes, readies = [], 0, 0
for log in sorted(glob.glob(os.path.join(work, "agent-*.log"))):
    prev = None
    for line in open(log, errors="replace"):
        m = re.search(r'msg="status changed" from=(\S+) to=(\S+)', line)
        if not m:
            continue
        f, t = m.groups()
        changes += 1
        if not ((f, t) in ok_edges or t == "stopping"):
            bad.append(f"{os.path.basename(log)}: invalid {f}->{t}")
        if prev is not None and f != prev:
            bad.append(f"{os.path.basename(log)}: {f}->{t} after ->{prev}")
        prev = t
for log in sorted(glob.glob(os.path.join(work, "change-*.log"))):
    for line in open(log, errors="replace"):
        p = line.split()
        if len(p) < 2:
            continue
        if not ((p[0], p[1]) in ok_edges or p[1] == "stopping"):
            bad.append(f"{os.path.basename(log)}: hook saw invalid {p[0]}->{p[1]}")
        if p[1] == "ready":
            readies += 1
            members = [m for m in (p[2].split(",") if len(p) > 2 else []) if m]
            if len(members) < consensus:
                bad.append(f"{os.path.basename(log)}: ready with {len(members)} members ({' '.join(p[2:])})")
print(f"{changes} status changes in agent logs, {readies} 'ready' hooks checked")
for b in bad[:20]:
    print("BAD " + b)
sys.exit(1 if bad else 0)
PY
)
rc=$?
echo "$seq_report"
check "status machine and consensus invariants over every agent's history" [ $rc -eq 0 ]

echo
echo "=== chaos report (seed $SEED)"
for r in "${REPORT[@]}"; do echo "  $r"; done
echo "  scenarios run: $(wc -w <<<"$SCENARIOS"); faults survived: $FAULTS; lost: $LOST"
echo "  $seq_report" | head -1
finish
