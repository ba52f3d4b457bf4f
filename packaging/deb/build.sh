#!/usr/bin/env bash
# Builds the Debian package from a configured, built CMake tree.
#   packaging/deb/build.sh BUILD_DIR OUT_DIR
# Installs BUILD_DIR under prefix /usr into a staging root, adds the
# control files (dependencies from dpkg-shlibdeps, the maintainer scripts
# of this folder) and writes OUT_DIR/cloister_VERSION-1_ARCH.deb, printing
# its path.  One package holds the agent and the commands, libcloister
# (shared and static), cloister.h, cloister.pc and the CMake package, the
# man page, bash and zsh completion and the systemd unit.  Needs dpkg-dev.
set -euo pipefail
build=$(cd "${1:?usage: build.sh BUILD_DIR OUT_DIR}" && pwd)
out=${2:?usage: build.sh BUILD_DIR OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root

DESTDIR=$root cmake --install "$build" --prefix /usr --strip >/dev/null
# Debian's zsh looks for packages' completions in vendor-completions.
if [[ -d $root/usr/share/zsh/site-functions ]]; then
	mkdir -p "$root/usr/share/zsh/vendor-completions"
	mv "$root/usr/share/zsh/site-functions/_cloister" "$root/usr/share/zsh/vendor-completions/"
	rmdir "$root/usr/share/zsh/site-functions"
fi
# Policy: man pages compressed, documentation and copyright in doc/.
gzip -9n "$root/usr/share/man/man1/cloister.1"
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
doc=$root/usr/share/doc/cloister
mkdir -p "$doc"
cp "$src/LICENSE" "$doc/copyright"
gzip -9n <"$src/CHANGELOG.md" >"$doc/changelog.gz"
cp "$src/README.md" "$src/SECURITY.md" "$doc/"

version=$("$build/cloister" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
mkdir -p "$work/debian" "$root/DEBIAN"
printf 'Source: cloister\n\nPackage: cloister\nArchitecture: any\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -xcloister \
	"$root/usr/bin/cloister" "$root/usr/$libdir"/libcloister.so.*.*.* 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[[ -n $depends ]] || { echo "build.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: cloister
Version: $version-1
Architecture: $arch
Maintainer: The cloister authors <cloister@localhost>
Installed-Size: $size
Depends: $depends, passwd
Section: net
Priority: optional
Description: easy cluster management: membership, readiness, hash rings
 cloister finds a service's instances, agrees when the cluster is up and
 splits work deterministically: SWIM gossip with the Lifeguard refinements,
 a consensus that makes the cluster ready, consistent hash rings and named
 messages.  The agent (cloister agent) runs a node beside any service, with
 a control API over HTTP and a Unix socket; libcloister embeds one in C.
CONTROL
for s in postinst postrm; do
	install -m 0755 "$here/$s" "$root/DEBIAN/$s"
done
# libcloister.so.0.N is a shared library: ldconfig runs after install.
printf 'activate-noawait ldconfig\n' >"$root/DEBIAN/triggers"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
	xargs -0 md5sum >DEBIAN/md5sums)
deb=$out/cloister_${version}-1_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
