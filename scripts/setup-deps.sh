#!/usr/bin/env bash
# Installs every Debian package that building and testing cloister needs.
# Idempotent and quiet when everything is present; `make` runs it on demand.
#   scripts/setup-deps.sh           build + test packages
#   scripts/setup-deps.sh --bench   also what the side-by-side benchmarks use
set -euo pipefail

packages=(
	build-essential cmake ninja-build pkg-config
	clang llvm libclang-rt-dev          # libFuzzer, sanitizers, LSan runtime
	libxxhash-dev                       # ring and checksum hashing
	libevent-dev libsodium-dev libjansson-dev
	libmemcached-dev                    # ketama, the ring benchmark's baseline
	musl-tools                          # make static: the musl-linked release binary
	python3 curl                        # test helpers (JSON checks, HTTP)
	iproute2 nftables dnsmasq-base      # namespace tests
	erlang-nox erlang-dev rebar3        # the OTP bindings' tests (bindings/)
	elixir                              # the Elixir drop-in's test (bindings/elixir/)
	chromium fonts-dejavu-core          # the web page's test (integration/test_ui.sh) and its screenshots
	podman runc podman-compose          # the container tests (netns/test_container*.sh): contrib/
	netavark aardvark-dns iptables      # podman's networks and their DNS (--network-alias)
	busybox-static                      # the test image's shell and the service it supervises
)
if [[ "${1:-}" == "--bench" ]]; then
	packages+=(gnuplot-nox valgrind linux-perf serf)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
if ((${#missing[@]} > 0)); then
	echo "setup-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo_cmd[@]}" apt-get update -qq
	"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Containers in tests: podman's default ulimits (nofile 1048576) exceed what
# a sandboxed root may set, and the container would not start; the image's
# own defaults are enough for an agent.
conf=/etc/containers/containers.conf
if command -v podman >/dev/null 2>&1 && ! grep -qs '^default_ulimits *= *\[\]' "$conf"; then
	"${sudo_cmd[@]}" mkdir -p /etc/containers
	if grep -qs '^\[containers\]' "$conf"; then
		"${sudo_cmd[@]}" sed -i 's/^\[containers\]$/[containers]\ndefault_ulimits = []/' "$conf"
	else
		printf '[containers]\ndefault_ulimits = []\n' | "${sudo_cmd[@]}" tee -a "$conf" >/dev/null
	fi
fi
