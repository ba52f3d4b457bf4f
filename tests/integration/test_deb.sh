#!/usr/bin/env bash
# The Debian package (packaging/deb/build.sh, what `make deb` runs), built
# from this build tree and installed with dpkg into a private root
# (--root, maintainer scripts run chrootless with DPKG_ROOT): dpkg records
# it installed, the postinst creates the user cloister there, every file is
# in place, and the installed agent starts (127.0.52.1) and answers over
# HTTP and its Unix socket; purging removes it.  Needs root (dpkg, useradd
# --prefix): skipped (77) otherwise.
source "$(dirname "$0")/lib.sh"
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (dpkg --root, useradd --prefix)"; exit 77; }
for t in dpkg-deb dpkg-shlibdeps useradd; do
	command -v "$t" >/dev/null || { echo "SKIP: no $t (dpkg-dev, passwd)"; exit 77; }
done
SRC=${CLOISTER_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=$(cd "$(dirname "$CLOISTER")" && pwd)
[[ $(sed -n 's/^CLOISTER_STATIC_BINARY:BOOL=//p' "$BUILD/CMakeCache.txt") != ON ]] ||
	{ echo "SKIP: a static-binary build tree has no library to package"; exit 77; }

deb=$(bash "$SRC/packaging/deb/build.sh" "$BUILD" "$WORK/out" 2>"$WORK/build.err")
check "the package builds" test -f "$deb"
[[ -f $deb ]] || { cat "$WORK/build.err"; finish; exit 1; }
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/contents"
for f in /usr/bin/cloister /usr/include/cloister.h /usr/share/man/man1/cloister.1.gz \
	/usr/share/bash-completion/completions/cloister /usr/share/zsh/vendor-completions/_cloister \
	/usr/lib/systemd/system/cloister.service /usr/share/doc/cloister/copyright; do
	check "the package holds $f" grep -qx "$f" "$WORK/contents"
done
check "the package holds libcloister.so.X.Y and its .pc and CMake package" bash -c \
	"grep -q '/libcloister\.so\.[0-9]*\.[0-9]*$' $WORK/contents && grep -q '/pkgconfig/cloister.pc$' $WORK/contents && grep -q '/cmake/cloister/cloisterConfig.cmake$' $WORK/contents"
check "its dependencies come from dpkg-shlibdeps (libevent, libsodium)" bash -c \
	"dpkg-deb -f '$deb' Depends | grep -q libevent-core && dpkg-deb -f '$deb' Depends | grep -q libsodium"

# A private root with a dpkg database and the accounts files useradd edits.
R=$WORK/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" "$R/etc"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
printf 'root:*:19000:0:99999:7:::\n' >"$R/etc/shadow"
printf 'root:*::\n' >"$R/etc/gshadow"
chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"
DPKG=(dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null)
real_users=$(grep -c '^cloister:' /etc/passwd || true)
"${DPKG[@]}" -i "$deb" >"$WORK/dpkg-i.log" 2>&1
check "dpkg -i into the private root" grep -q "^Status: install ok installed" <(dpkg --root="$R" -s cloister 2>/dev/null)
check "the postinst created the system user cloister" grep -q "^cloister:x:[0-9]*:[0-9]*:cloister agent:/var/lib/cloister:/usr/sbin/nologin$" "$R/etc/passwd"
check "the real /etc/passwd untouched" test "$(grep -c '^cloister:' /etc/passwd || true)" = "$real_users"
check "the unit names the installed binary" grep -qx "ExecStart=/usr/bin/cloister agent --ctl /run/cloister/ctl.sock" "$R/usr/lib/systemd/system/cloister.service"
check "the man page reads" bash -c "zcat '$R/usr/share/man/man1/cloister.1.gz' | groff -man -Tutf8 -P-cbou 2>/dev/null | grep -q '^AGENT SETTINGS$'"

# The installed agent starts and answers.
CLOISTER=$R/usr/bin/cloister
A=127.0.52.1
start_agent pkg "$A" --ctl "$WORK/ctl.sock"
up() { "$CLOISTER" status --http "$A:7947" --json >"$WORK/status.json" 2>/dev/null; }
check "the installed agent answers over HTTP" wait_for 10 up
check "... as itest@$A, ready" python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["node"]=="itest@127.0.52.1" and s["status"]=="ready" else 1)' "$WORK/status.json"
check "... and over its Unix socket" bash -c "'$CLOISTER' members --ctl '$WORK/ctl.sock' | grep -q 'itest@$A'"
check "the installed binary prints its version" bash -c "'$CLOISTER' --version | grep -q '^cloister [0-9]'"
kill -TERM "${AGENT_PID[pkg]}"
for _ in $(seq 1 100); do kill -0 "${AGENT_PID[pkg]}" 2>/dev/null || break; sleep 0.1; done

"${DPKG[@]}" -P cloister >"$WORK/dpkg-P.log" 2>&1
check "dpkg -P removes it" bash -c "! dpkg --root='$R' -s cloister 2>/dev/null | grep -q '^Status: install ok'"
check "... with its files" test ! -e "$R/usr/bin/cloister"
finish
