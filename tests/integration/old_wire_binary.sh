#!/usr/bin/env bash
# old_wire_binary.sh — prints the path of a `cloister` binary built from the
# last commit before sealed packets v2 (81d66ca): the previous wire version,
# for the rolling-upgrade test.  Built once per checkout and kept under
# .git/cloister-cache/<commit>/ (keyed by commit, never committed, shared by
# every build directory of the checkout); later calls print the cached path.
#
#   old_wire_binary.sh [REPO]   exit 0 and the path; exit 77 when the commit
#                               is not in the history (a shallow clone)
set -euo pipefail
repo=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
# The parent of "Transport security (issue 13, part B): ... sealed packets v2".
OLD_COMMIT=a8b881564ef4c2eb2fbc204ae0c5d5e96549b879
common=$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir)
cache="$common/cloister-cache/$OLD_COMMIT"
bin="$cache/cloister"
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
if ! git -C "$repo" cat-file -e "$OLD_COMMIT^{commit}" 2>/dev/null; then
	echo "old_wire_binary: commit $OLD_COMMIT is not in this clone's history" >&2
	exit 77
fi
mkdir -p "$common/cloister-cache"
# One builder at a time; a second caller waits and then finds the binary.
exec 9>"$common/cloister-cache/.lock"
flock 9
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
work=$(mktemp -d "$common/cloister-cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
git -C "$repo" archive "$OLD_COMMIT" | tar -x -C "$work"
gen=$(command -v ninja >/dev/null 2>&1 && echo "-G Ninja" || true)
# shellcheck disable=SC2086
cmake -S "$work" -B "$work/build" $gen -DCMAKE_BUILD_TYPE=Release \
	-DCLOISTER_TESTS=OFF >"$work/cmake.log" 2>&1 ||
	{ cat "$work/cmake.log" >&2; exit 1; }
cmake --build "$work/build" -j 2 --target cloister >"$work/build.log" 2>&1 ||
	{ tail -40 "$work/build.log" >&2; exit 1; }
mkdir -p "$cache"
cp "$work/build/cloister" "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "$bin"
