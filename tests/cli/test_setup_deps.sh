#!/usr/bin/env bash
# test_setup_deps.sh — each make target installs what it needs, no more.
#   $1: the cloister binary (unused; the checks read the source tree)
# scripts/setup-deps.sh --core (what `make`, `make demo`, `make install`
# and `make deb` ask for) names no Erlang, Elixir, clang, Chromium, podman
# or musl; --test names what the tests use; no level means --test --clang
# (CI); every package named is one Debian knows; and the Makefile's
# build, demo, install and deb targets ask for --core only (make -n -B:
# the commands are printed, not run).
set -euo pipefail
src=${CLOISTER_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
fail() { echo "FAIL: $*" >&2; exit 1; }
deps() { bash "$src/scripts/setup-deps.sh" --print "$@"; }

core=$(deps --core)
for p in build-essential cmake pkg-config libevent-dev libsodium-dev libjansson-dev libxxhash-dev; do
	grep -qx "$p" <<<"$core" || fail "--core lacks $p"
done
for p in erlang-nox erlang-dev rebar3 elixir clang llvm libclang-rt-dev chromium podman musl-tools valgrind serf; do
	! grep -qx "$p" <<<"$core" || fail "--core installs $p"
done
test_pkgs=$(deps --test)
for p in python3 curl erlang-nox elixir chromium podman musl-tools systemd dnsmasq-base; do
	grep -qx "$p" <<<"$test_pkgs" || fail "--test lacks $p"
done
! grep -qx clang <<<"$test_pkgs" || fail "--test installs clang (make asan is gcc; clang is --clang)"
[[ $(deps) == "$(deps --test --clang)" ]] || fail "no level is not --test --clang"
grep -qx clang <<<"$(deps --clang)" || fail "--clang lacks clang"
if bash "$src/scripts/setup-deps.sh" --nonsense >/dev/null 2>&1; then fail "an unknown level was accepted"; fi

if command -v apt-cache >/dev/null; then
	unknown=()
	for p in $(deps --test --clang --valgrind --bench); do
		dpkg-query -W "$p" >/dev/null 2>&1 || apt-cache show "$p" >/dev/null 2>&1 || unknown+=("$p")
	done
	((${#unknown[@]} == 0)) || fail "packages Debian does not know (or no apt lists): ${unknown[*]}"
fi

cd "$src"
for target in build demo install deb; do
	levels=$(make -n -B "$target" 2>/dev/null | sed -n 's/.*setup-deps\.sh\( .*\)\?$/\1/p' | sort -u | tr '\n' ' ')
	[[ $levels == " --core " ]] || fail "make $target asks setup-deps for '$levels', not --core alone"
done
levels=$(make -n -B test 2>/dev/null | sed -n 's/.*setup-deps\.sh\( .*\)\?$/\1/p' | sort -u | tr '\n' ' ')
[[ $levels == *--test* ]] || fail "make test does not ask for --test ($levels)"
echo "PASS test_setup_deps (--core: $(wc -l <<<"$core") packages; --test --clang: $(deps | wc -l))"
