#!/usr/bin/env bash
# Installs the Debian packages a make target needs, and no more: building
# the core and the demo needs no Erlang, Elixir, clang, Chromium or podman.
# Idempotent and quiet when everything is present; the Makefile runs it
# with the level each target needs.
#   scripts/setup-deps.sh --core      build the library, the agent, the demo,
#                                     make install, make deb
#   scripts/setup-deps.sh --static    + musl (make static)
#   scripts/setup-deps.sh --test      + what make test runs: test helpers,
#                                     namespaces, OTP, Chromium, podman,
#                                     systemd-analyze (and --static)
#   scripts/setup-deps.sh --clang     + clang and its sanitizer and libFuzzer
#                                     runtimes (make clang, tsan, fuzz)
#   scripts/setup-deps.sh --valgrind  + valgrind (make valgrind)
#   scripts/setup-deps.sh --bench     + the side-by-side benchmarks' tools
#   scripts/setup-deps.sh             --test --clang: what CI (.ci/run) runs
# Levels combine: scripts/setup-deps.sh --test --clang.  --print lists the
# levels' packages instead of installing them.
set -euo pipefail

core=(
	build-essential cmake ninja-build pkg-config   # dpkg-dev (make deb) comes with build-essential
	libxxhash-dev                       # ring and checksum hashing
	libevent-dev libsodium-dev libjansson-dev
	libmemcached-dev                    # ketama, the ring benchmark's baseline (a header cmd_bench.c includes)
)
static=(
	musl-tools                          # make static: the musl-linked release binary
)
test=(
	python3 python3-yaml curl           # test helpers (JSON checks, HTTP; yaml: the compose file)
	iproute2 nftables dnsmasq-base      # namespace tests
	erlang-nox erlang-dev rebar3        # the OTP bindings' tests (bindings/)
	elixir                              # the Elixir drop-in's test (bindings/elixir/)
	chromium fonts-dejavu-core          # the web page's test (integration/test_ui.sh) and its screenshots
	podman runc podman-compose          # the container tests (netns/test_container*.sh): contrib/
	netavark aardvark-dns iptables      # podman's networks and their DNS (--network-alias)
	busybox-static                      # the test image's shell and the service it supervises
	systemd groff-base zsh              # systemd-analyze (cli/test_unit.sh); groff, zsh -n (cli/test_docs.sh)
	git                                 # cli/test_version.sh: the commit --version names
)
clang=(
	clang llvm libclang-rt-dev          # libFuzzer, sanitizers, LSan runtime
)
valgrind=(valgrind)
bench=(gnuplot-nox valgrind linux-perf serf python3-msgpack)   # python3-msgpack: bench/cluster polls Serf over its RPC

packages=("${core[@]}")
want_test=0 print=0
levels=()
for a in "$@"; do
	if [[ $a == --print ]]; then print=1; else levels+=("$a"); fi
done
((${#levels[@]} > 0)) || levels=(--test --clang)
for level in "${levels[@]}"; do
	case $level in
	--core) ;;
	--static) packages+=("${static[@]}") ;;
	--test) packages+=("${static[@]}" "${test[@]}"); want_test=1 ;;
	--clang) packages+=("${clang[@]}") ;;
	--valgrind) packages+=("${valgrind[@]}") ;;
	--bench) packages+=("${bench[@]}") ;;
	*) echo "setup-deps: unknown level '$level' (--core, --static, --test, --clang, --valgrind, --bench)" >&2; exit 2 ;;
	esac
done

if ((print)); then
	printf '%s\n' "${packages[@]}" | sort -u
	exit 0
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
((want_test)) || exit 0

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
