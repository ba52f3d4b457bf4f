# netns_lib.sh — network namespaces on one bridge, with a DNS server, for
# tests that source it after integration/lib.sh.
#
#   netns_hub HUB PREFIX      namespace HUB holding bridge br0 at PREFIX.254/24
#                             (PREFIX: three octets inside 198.18.0.0/15);
#                             exits 77 (skipped) where namespaces cannot be made
#   netns_node NS IP          namespace NS, eth0 at IP/24 on the bridge, its
#                             resolv.conf pointing at the hub's dnsmasq
#   netns_dns NAME IP...      dnsmasq in the hub answering NAME with each IP
#                             (sets DNSMASQ, its pid, stopped by lib.sh)
#   write_hosts IP...         NAME's answers from now on (then dns_reload)
#   dns_reload                dnsmasq re-reads them
#
# Every namespace made here (and its /etc/netns entry) is removed at exit.

NETNS_ALL=()
NETNS_HOSTS=$WORK/hosts

netns_cleanup() {
	local n
	for n in "${NETNS_ALL[@]}"; do
		ip netns del "$n" 2>/dev/null
		rm -rf "/etc/netns/$n"
	done
	rmdir /etc/netns 2>/dev/null
}
trap 'cleanup; netns_cleanup' EXIT

netns_hub() {
	NETNS_HUB=$1 NETNS_PREFIX=$2
	if ! ip netns add "$NETNS_HUB" 2>/dev/null; then
		echo "SKIP: cannot create network namespaces here"
		exit 77
	fi
	NETNS_ALL+=("$NETNS_HUB")
	ip -n "$NETNS_HUB" link add br0 type bridge
	ip -n "$NETNS_HUB" addr add "$NETNS_PREFIX.254/24" dev br0
	ip -n "$NETNS_HUB" link set br0 up
	ip -n "$NETNS_HUB" link set lo up
}

netns_node() {
	local n=$1 ip=$2
	ip netns add "$n"
	NETNS_ALL+=("$n")
	ip link add "${n}v" type veth peer name "${n}p"
	ip link set "${n}v" netns "$n"
	ip link set "${n}p" netns "$NETNS_HUB"
	ip -n "$NETNS_HUB" link set "${n}p" master br0 up
	ip -n "$n" link set lo up
	ip -n "$n" link set "${n}v" name eth0
	ip -n "$n" addr add "$ip/24" dev eth0
	ip -n "$n" link set eth0 up
	mkdir -p "/etc/netns/$n"
	echo "nameserver $NETNS_PREFIX.254" >"/etc/netns/$n/resolv.conf"
}

write_hosts() {
	local ip
	: >"$NETNS_HOSTS"
	for ip in "$@"; do echo "$ip $NETNS_DNSNAME" >>"$NETNS_HOSTS"; done
}

netns_dns() {
	NETNS_DNSNAME=$1
	shift
	write_hosts "$@"
	# Authoritative for the name's domain (everything after its first label).
	ip netns exec "$NETNS_HUB" dnsmasq --no-daemon --no-resolv --no-hosts \
		--addn-hosts="$NETNS_HOSTS" --listen-address="$NETNS_PREFIX.254" \
		--bind-interfaces --local-ttl=1 --local="/${NETNS_DNSNAME#*.}/" \
		--log-facility="$WORK/dnsmasq.log" &
	DNSMASQ=$!
	PIDS+=($DNSMASQ)
}

dns_reload() { kill -HUP "$DNSMASQ"; }
