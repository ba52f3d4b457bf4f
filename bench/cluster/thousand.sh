#!/usr/bin/env bash
# N real cloister agents on this machine (default 1,000): start them in
# waves, measure convergence, 10 idle minutes (CPU, RSS, bytes, false
# positives) and one kill -9, then stop them.  See bench/cluster/README.md.
#   bench/cluster/thousand.sh [N]
# Environment: CLOISTER_BIN (default build-static/cloister, built by `make
# static`), IDLE (idle window, s; 600), CHECK (s between sparse checks; 60),
# WAVE (agents started at once; 100), WAVE_GAP (s between waves; 2),
# NOTRACK (1: no connection tracking for 127.4/16; 0 keeps it),
# AGENT_ARGS / SEED_ARGS (more flags for every agent / for agent 0, the seed),
# OUT (results file; bench/cluster/results/thousand-N.json), KEEP_LOGS=1.
# Address plan: agent i on 127.4.(i / 250).(i % 250 + 1), gossip 7946, HTTP
# 7947, nothing else on 127.4.0.0/16.  Needs root (nftables, limits).
# Publishable runs hold the benchmark lock:
#   flock /tmp/cloister-bench.lock bench/cluster/thousand.sh 1000
set -u
cd "$(dirname "$0")/../.."
HERE=bench/cluster
N=${1:-1000}
[[ $N =~ ^[0-9]+$ ]] && ((N >= 2 && N <= 64000)) || { echo "thousand.sh: N must be 2..64000" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "thousand.sh: needs root (nftables)" >&2; exit 2; }
for t in nft python3; do
	command -v "$t" >/dev/null || { echo "thousand.sh: $t missing: scripts/setup-deps.sh --bench" >&2; exit 2; }
done
BIN=${CLOISTER_BIN:-build-static/cloister}
if [[ -z ${CLOISTER_BIN:-} && ! -x $BIN ]]; then make static >/dev/null || exit 1; fi
[[ -x $BIN ]] || { echo "thousand.sh: $BIN is not executable" >&2; exit 2; }
OUT=${OUT:-$HERE/results/thousand-$N.json}
mkdir -p "$(dirname "$OUT")"

# Limits.  Each agent holds ~10 descriptors (UDP and TCP gossip sockets,
# HTTP listener, epoll, eventfds, its log) plus up to 256 streams; its own
# limit is inherited from here.  The measurer holds up to 48 HTTP
# connections at once.  Every agent is a process with 3 threads.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
need_pids=$((N * 4 + 1000))
pid_max=$(cat /proc/sys/kernel/pid_max)
if ((pid_max < need_pids)); then
	echo "thousand.sh: kernel.pid_max $pid_max < $need_pids (N*4 threads + margin): sysctl -w kernel.pid_max=$need_pids" >&2
	exit 2
fi
# Each agent's HTTP and gossip listeners take the kernel's accept queue:
# somaxconn caps it (the seed gets N joins); report what is set.
echo "thousand.sh: N=$N, ulimit -n $(ulimit -n), somaxconn $(sysctl -n net.core.somaxconn)," \
	"ports $(sysctl -n net.ipv4.ip_local_port_range | tr '\t' -)," \
	"conntrack_max $(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null || echo none)" >&2

WORK=$(mktemp -d /tmp/clthousand.XXXXXX)
PIDFILE=$WORK/pids
: >"$PIDFILE"
cleanup() {
	# Every agent this run started, by PID; then the nftables table.
	while read -r p; do
		[[ -n $p ]] && kill -KILL "$p" 2>/dev/null
	done <"$PIDFILE"
	nft delete table inet clthousand 2>/dev/null
	if [[ ${KEEP_LOGS:-0} == 1 ]]; then echo "logs: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

notrack=()
[[ ${NOTRACK:-1} == 0 ]] && notrack=(--no-notrack)
timeout $((${IDLE:-600} + 1200)) python3 $HERE/thousand.py --n "$N" --binary "$BIN" --out "$OUT" \
	--pidfile "$PIDFILE" --work "$WORK" --idle "${IDLE:-600}" --check "${CHECK:-60}" \
	--wave "${WAVE:-100}" --wave-gap "${WAVE_GAP:-2}" "${notrack[@]}" \
	--agent-args "${AGENT_ARGS:-}" --seed-args "${SEED_ARGS:-}" ${EXTRA:-}
rc=$?
echo "results: $OUT" >&2
exit $rc
