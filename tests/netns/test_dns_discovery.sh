# test_dns_discovery.sh — discovery through a real resolver: a network
# namespace whose resolv.conf (/etc/netns/NS/resolv.conf, which
# `ip netns exec` mounts over /etc/resolv.conf) points at a dnsmasq
# serving A and SRV records for cluster.test, with the namespace's lo
# holding 198.18.0.1, one of the answers.
#
#   bash tests/netns/test_dns_discovery.sh BINARY
#
# BINARY is build/tests/test_discovery_local, or any binary in the build
# folder (CTest passes build/cloister): the test binary is found beside it.
# It runs inside the namespace with CLOISTER_NETNS_DNS=1, which turns on
# its checks against these records.  Needs root, ip and dnsmasq; says SKIP
# and exits 77 where it cannot run.  Addresses stay in 127.0.0.0/8 and
# 198.18.0.0/15; everything started is stopped by PID, and the namespace
# and its /etc/netns folder are removed, on every exit.

set -u
BIN=${1:?usage: $0 path/to/test_discovery_local (or build/cloister)}
NS=cltest-$$
DNSMASQ_PID=
MADE_NETNS_DIR=
WORK=$(mktemp -d /tmp/cloister-netns.XXXXXX)

skip() {
	echo "SKIP: $*"
	exit 77
}

cleanup() {
	if [[ -n $DNSMASQ_PID ]]; then
		kill "$DNSMASQ_PID" 2>/dev/null
		wait "$DNSMASQ_PID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	rm -rf "/etc/netns/$NS" "$WORK"
	[[ -n $MADE_NETNS_DIR ]] && rmdir /etc/netns 2>/dev/null
}
trap cleanup EXIT

case $(basename "$BIN") in
test_discovery_local) PROBE=$BIN ;;
*) PROBE=$(dirname "$BIN")/tests/test_discovery_local ;;
esac
[[ -x $PROBE ]] || skip "no test_discovery_local at $PROBE"
[[ $(id -u) -eq 0 ]] || skip "needs root for network namespaces"
command -v ip >/dev/null || skip "no ip(8)"
DNSMASQ=$(command -v dnsmasq) || skip "no dnsmasq"
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"

[[ -d /etc/netns ]] || MADE_NETNS_DIR=1
mkdir -p "/etc/netns/$NS"
echo "nameserver 127.0.0.1" >"/etc/netns/$NS/resolv.conf"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.18.0.1/32 dev lo

# --local makes dnsmasq answer NXDOMAIN for unknown cluster.test names
# rather than REFUSED (it has no upstream), as a real zone would.
ip netns exec "$NS" "$DNSMASQ" --no-daemon --conf-file=/dev/null \
	--pid-file= --no-resolv --no-hosts --listen-address=127.0.0.1 \
	--bind-interfaces --local=/cluster.test/ \
	--host-record=svc.cluster.test,198.18.0.1 \
	--host-record=svc.cluster.test,198.18.0.2 \
	--host-record=other.cluster.test,198.18.0.3 \
	--srv-host=_cloister._udp.cluster.test,svc.cluster.test,7946 \
	--srv-host=_cloister._udp.cluster.test,other.cluster.test,7947 \
	--log-queries >"$WORK/dnsmasq.log" 2>&1 &
DNSMASQ_PID=$!

# dnsmasq logs "started" once its socket is bound.
for _ in $(seq 50); do
	grep -q "started" "$WORK/dnsmasq.log" && break
	kill -0 "$DNSMASQ_PID" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q "started" "$WORK/dnsmasq.log"; then
	echo "FAIL: dnsmasq did not start"
	cat "$WORK/dnsmasq.log"
	exit 1
fi

ip netns exec "$NS" env CLOISTER_NETNS_DNS=1 \
	RES_OPTIONS="timeout:1 attempts:2" timeout 120 "$PROBE"
rc=$?
if [[ $rc -ne 0 ]]; then
	echo "FAIL: $PROBE exited $rc; dnsmasq log:"
	cat "$WORK/dnsmasq.log"
	exit 1
fi
echo "ok: discovery through dnsmasq in namespace $NS"
