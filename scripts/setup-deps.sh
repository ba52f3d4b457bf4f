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
)
if [[ "${1:-}" == "--bench" ]]; then
	packages+=(gnuplot-nox valgrind linux-perf serf)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	exit 0
fi
echo "setup-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
