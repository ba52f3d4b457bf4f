#!/usr/bin/env bash
# test_install.sh — `make install` as a packager and a user of the library
# see it.
#   $1: the cloister binary; its directory is the build tree to install
# Installs the build tree into a DESTDIR (prefix /usr), checks each file is
# where it belongs, that libcloister.so exports exactly the functions
# cloister.h declares (no cl_*, swim_*, node_* of ours) under a versioned
# soname, then builds and runs one program with pkg-config and one with
# CMake's find_package(cloister) against the installed tree, and checks
# that an internal function does not link.
set -euo pipefail
bin=${1:?usage: test_install.sh path/to/cloister}
build=$(cd "$(dirname "$bin")" && pwd)
src=${CLOISTER_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
[[ -f $build/CMakeCache.txt ]] || fail "$build is not a CMake build tree"
if [[ $(cache CLOISTER_STATIC_BINARY) == ON ]]; then
	echo "SKIP: a static-binary build has no shared library"; exit 77
fi
cc=$(cache CMAKE_C_COMPILER)
san=()
[[ $(cache CLOISTER_SANITIZE) == ON ]] && san=(-fsanitize=address,undefined)
[[ $(cache CLOISTER_TSAN) == ON ]] && san=(-fsanitize=thread)

root=$tmp/root
DESTDIR=$root cmake --install "$build" --prefix /usr >"$tmp/install.log" ||
	{ cat "$tmp/install.log" >&2; fail "cmake --install"; }
libdir=usr/$(cache CMAKE_INSTALL_LIBDIR)
ver=$("$bin" --version | awk '{print $2}')
IFS=. read -r major minor _ <<<"$ver"
soname=libcloister.so.$major.$minor
for f in usr/bin/cloister "$libdir/libcloister.so.$ver" "$libdir/$soname" \
	"$libdir/libcloister.so" "$libdir/libcloister.a" usr/include/cloister.h \
	"$libdir/pkgconfig/cloister.pc" "$libdir/cmake/cloister/cloisterConfig.cmake" \
	"$libdir/cmake/cloister/cloisterConfigVersion.cmake" \
	usr/share/man/man1/cloister.1 usr/share/bash-completion/completions/cloister \
	usr/lib/systemd/system/cloister.service; do
	[[ -e $root/$f ]] || fail "not installed: /$f"
done
# zsh: vendor-completions when configured for /usr, else site-functions.
[[ -e $root/usr/share/zsh/vendor-completions/_cloister || -e $root/usr/share/zsh/site-functions/_cloister ]] ||
	fail "the zsh completion is not installed"
[[ $(readlink "$root/$libdir/libcloister.so") == "$soname" ]] || fail "libcloister.so -> $(readlink "$root/$libdir/libcloister.so")"
grep -q "SONAME.*\[$soname\]" <<<"$(readelf -d "$root/$libdir/libcloister.so.$ver")" || fail "soname is not $soname"
grep -qx "ExecStart=/usr/bin/cloister agent.*" "$root/usr/lib/systemd/system/cloister.service" ||
	fail "the unit's ExecStart does not name /usr/bin/cloister: $(grep ExecStart "$root/usr/lib/systemd/system/cloister.service")"
grep -q "^cloister $ver" <<<"$("$root/usr/bin/cloister" --version)" || fail "installed binary's --version"

# The ABI: exactly the functions cloister.h declares.
nm -D --defined-only "$root/$libdir/libcloister.so.$ver" | awk '{print $3}' | sed 's/@.*//' |
	grep -vE '^(_init|_fini|_edata|_end|__bss_start)$' | grep -vE '^__(asan|ubsan|tsan|odr_asan|sanitizer)' |
	sort -u >"$tmp/exported"
tr '\n' ' ' <"$src/include/cloister.h" | grep -oE 'CLOISTER_API[^;(]*\(' |
	grep -oE 'cloister_[a-z0-9_]+ *\($' | tr -d ' (' | sort -u >"$tmp/declared"
[[ $(wc -l <"$tmp/declared") -ge 30 ]] || fail "found only $(wc -l <"$tmp/declared") declarations in cloister.h"
if ! diff "$tmp/declared" "$tmp/exported" >"$tmp/abi.diff"; then
	cat "$tmp/abi.diff" >&2
	fail "exported symbols (>) differ from cloister.h's functions (<)"
fi
echo "libcloister.so.$ver ($soname): $(wc -l <"$tmp/exported") symbols, all cloister_*, as cloister.h declares"

cat >"$tmp/app.c" <<'C'
#include <cloister.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	cloister_config_t *cfg = cloister_config_new();
	if (!cfg || cloister_config_set(cfg, "app", "installed") != 0)
		return 10;
	int err = 0;
	cloister_t *node = cloister_new(cfg, &err); /* nonode: no network */
	cloister_config_free(cfg);
	if (!node || cloister_start(node) != 0)
		return 11;
	if (cloister_wait_ready(node, 5000) != 0)
		return 12;
	char owner[CLOISTER_NAME_MAX + 1];
	if (cloister_whois(node, NULL, "k", 1, owner) != 0 ||
	    strcmp(owner, cloister_name(node)) != 0)
		return 13;
	printf("%s %s %s\n", cloister_version(),
	       cloister_state_name(cloister_status(node)), owner);
	cloister_free(node);
	return 0;
}
C
export LD_LIBRARY_PATH=$root/$libdir
# pkg-config, from the installed tree as it lies (cloister.pc finds its
# own prefix).
export PKG_CONFIG_PATH=$root/$libdir/pkgconfig
[[ $(pkg-config --modversion cloister) == "$ver" ]] || fail "pkg-config --modversion"
# shellcheck disable=SC2046
"$cc" "${san[@]}" -std=c11 -Wall -Werror -o "$tmp/app_pc" "$tmp/app.c" $(pkg-config --cflags --libs cloister) ||
	fail "building with pkg-config"
out=$("$tmp/app_pc") || fail "the pkg-config program exited $?"
[[ $out == "$ver ready "* ]] || fail "the pkg-config program printed '$out'"
grep -q "NEEDED.*\[$soname\]" <<<"$(readelf -d "$tmp/app_pc")" || fail "the program does not need $soname"
echo "pkg-config program: $out"

# An internal function is not there to link against.
cat >"$tmp/internal.c" <<'C'
int cl_key_generate(unsigned char *key);
int main(void) { unsigned char k[32]; return cl_key_generate(k); }
C
# shellcheck disable=SC2046
if "$cc" "${san[@]}" -o "$tmp/internal" "$tmp/internal.c" $(pkg-config --libs cloister) 2>"$tmp/internal.err"; then
	fail "a program linked cl_key_generate from libcloister.so"
fi
grep -q "cl_key_generate" "$tmp/internal.err" || fail "linking the internal failed for another reason: $(cat "$tmp/internal.err")"

# CMake's find_package.
mkdir -p "$tmp/proj"
cp "$tmp/app.c" "$tmp/proj/"
cat >"$tmp/proj/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(uses_cloister C)
find_package(cloister $major.$minor REQUIRED)
add_executable(app app.c)
target_compile_options(app PRIVATE ${san[*]})
target_link_options(app PRIVATE ${san[*]})
target_link_libraries(app PRIVATE cloister::cloister)
CM
cmake -S "$tmp/proj" -B "$tmp/proj/b" -DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_PREFIX_PATH="$root/usr" >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log" >&2; fail "find_package(cloister)"; }
cmake --build "$tmp/proj/b" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log" >&2; fail "building with find_package"; }
out=$("$tmp/proj/b/app") || fail "the find_package program exited $?"
[[ $out == "$ver ready "* ]] || fail "the find_package program printed '$out'"
echo "find_package program: $out"
# A version the package does not satisfy is refused.
sed -i "s/find_package(cloister $major.$minor REQUIRED)/find_package(cloister $((major + 1)).0 REQUIRED)/" "$tmp/proj/CMakeLists.txt"
if cmake -S "$tmp/proj" -B "$tmp/proj/b2" -DCMAKE_PREFIX_PATH="$root/usr" >/dev/null 2>&1; then
	fail "find_package(cloister $((major + 1)).0) accepted $ver"
fi
echo "PASS test_install"
