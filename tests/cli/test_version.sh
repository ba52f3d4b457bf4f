#!/usr/bin/env bash
# test_version.sh — one version, from include/cloister.h, with the commit.
#   $1: the cloister binary
# `cloister --version` prints the header's version and, for a build from
# a git checkout, a commit that exists in it; cmake/build_info.cmake gives
# no commit for a tree outside git (a release tarball), even one unpacked
# inside some other repository.  LICENSE is MIT; CHANGELOG.md has a
# section for the header's version.
set -euo pipefail
bin=${1:?usage: test_version.sh path/to/cloister}
src=${CLOISTER_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

v() { sed -n "s/^#define CLOISTER_VERSION_$1 \([0-9]*\)$/\1/p" "$src/include/cloister.h"; }
want="$(v MAJOR).$(v MINOR).$(v PATCH)"
[[ $want =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "no version in include/cloister.h ($want)"

out=$("$bin" --version)
re='^cloister ([0-9]+\.[0-9]+\.[0-9]+)( \(commit ([0-9a-f]{12})(-dirty)?\))?$'
[[ $out =~ $re ]] || fail "--version printed '$out'"
[[ ${BASH_REMATCH[1]} == "$want" ]] || fail "--version says ${BASH_REMATCH[1]}, cloister.h $want"
commit=${BASH_REMATCH[3]}
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	[[ -n $commit ]] || fail "built in a git checkout, but --version names no commit: '$out'"
	git -C "$src" cat-file -e "$commit^{commit}" 2>/dev/null || fail "commit $commit is not in $src"
fi
[[ $("$bin" version) == "$out" ]] || fail "'cloister version' differs from --version"

# Outside git, and inside a repository that is not the source tree.
mkdir -p "$tmp/plain" "$tmp/outer/cloister-x"
cmake -DSRC="$tmp/plain" -DOUT="$tmp/plain.c" -P "$src/cmake/build_info.cmake"
grep -q 'cloister_build_commit\[\] = "";' "$tmp/plain.c" || fail "outside git: $(cat "$tmp/plain.c")"
if command -v git >/dev/null; then
	git -C "$tmp/outer" init -q
	git -C "$tmp/outer" -c user.name=t -c user.email=t@t commit -q --allow-empty -m outer
	cmake -DSRC="$tmp/outer/cloister-x" -DOUT="$tmp/outer.c" -P "$src/cmake/build_info.cmake"
	grep -q 'cloister_build_commit\[\] = "";' "$tmp/outer.c" ||
		fail "a tarball inside another repository took its commit: $(cat "$tmp/outer.c")"
	cmake -DSRC="$tmp/outer" -DOUT="$tmp/top.c" -P "$src/cmake/build_info.cmake"
	grep -qE 'cloister_build_commit\[\] = "[0-9a-f]{12}";' "$tmp/top.c" ||
		fail "a repository's own top: $(cat "$tmp/top.c")"
	# The file is rewritten only when its text changes (no rebuild).
	touch -d '2000-01-01' "$tmp/top.c"
	cmake -DSRC="$tmp/outer" -DOUT="$tmp/top.c" -P "$src/cmake/build_info.cmake"
	[[ $(stat -c %Y "$tmp/top.c") -lt 1000000000 ]] || fail "build_info rewrote an unchanged file"
fi

head -1 "$src/LICENSE" | grep -qx "MIT License" || fail "LICENSE is not the MIT license"
grep -q "Permission is hereby granted, free of charge" "$src/LICENSE" || fail "LICENSE text"
grep -qE "^## \[$want\]" "$src/CHANGELOG.md" || fail "CHANGELOG.md has no section for $want"
grep -q "include/cloister.h" "$src/RELEASING.md" || fail "RELEASING.md does not name the version's source"
echo "PASS test_version ($out)"
