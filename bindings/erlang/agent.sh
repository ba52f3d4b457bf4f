#!/bin/sh
# Puts the cloister agent where the OTP application finds it (its priv
# directory), for rebar3 (a pre-compile hook) and mix (the cloister_agent
# compiler of bindings/elixir/mix.exs):
#   agent.sh [DEST [BUILD_DIR]]   default priv/cloister, _build_agent
# First found: $CLOISTER_BIN (copied); the repository's own build
# (../../build/cloister, `make`); an agent already at DEST; a build from
# the repository's sources with CMake (Debian packages only:
# scripts/setup-deps.sh --core); `cloister` on PATH (used at run time).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-$here/priv/cloister}
build=${2:-$here/_build_agent}
repo=$(cd "$here/../.." && pwd)

install_agent() {
	mkdir -p "$(dirname "$dest")"
	if [ ! -x "$dest" ] || [ "$1" -nt "$dest" ] || ! cmp -s "$1" "$dest"; then
		cp "$1" "$dest.tmp.$$" && chmod 0755 "$dest.tmp.$$" && mv -f "$dest.tmp.$$" "$dest"
		echo "cloister: agent $1 -> $dest"
	fi
}

if [ -n "${CLOISTER_BIN:-}" ]; then
	[ -x "$CLOISTER_BIN" ] || { echo "cloister: CLOISTER_BIN=$CLOISTER_BIN is not an executable" >&2; exit 1; }
	install_agent "$CLOISTER_BIN"
elif [ -x "$repo/build/cloister" ]; then
	install_agent "$repo/build/cloister"
elif [ -x "$dest" ]; then
	exit 0
elif [ -f "$repo/CMakeLists.txt" ] && grep -q '^project(cloister' "$repo/CMakeLists.txt"; then
	for t in cmake cc pkg-config; do
		command -v $t >/dev/null 2>&1 || {
			echo "cloister: building the agent needs $t: run $repo/scripts/setup-deps.sh --core (Debian), or set CLOISTER_BIN" >&2
			exit 1
		}
	done
	echo "cloister: building the agent from $repo in $build"
	gen=
	command -v ninja >/dev/null 2>&1 && gen="-G Ninja"
	# shellcheck disable=SC2086
	cmake -S "$repo" -B "$build" $gen -DCMAKE_BUILD_TYPE=Release -DCLOISTER_TESTS=OFF >"$build.log" 2>&1 &&
		cmake --build "$build" --target cloister -j 2 >>"$build.log" 2>&1 || {
		tail -n 30 "$build.log" >&2
		echo "cloister: building the agent failed (log: $build.log); missing libraries? run $repo/scripts/setup-deps.sh --core" >&2
		exit 1
	}
	install_agent "$build/cloister"
elif command -v cloister >/dev/null 2>&1; then
	echo "cloister: no agent to install; the one on PATH ($(command -v cloister)) will be used"
else
	echo "cloister: no agent: set CLOISTER_BIN=/path/to/cloister, or depend on a checkout of the" \
		"repository (mix: path: or git: with subdir:; rebar3: _checkouts) so it can be built" >&2
	exit 1
fi
