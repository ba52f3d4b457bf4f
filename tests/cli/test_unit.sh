#!/usr/bin/env bash
# test_unit.sh — contrib/cloister.service is a valid, hardened unit.
#   $1: the cloister binary (named by ExecStart= for the checks)
# systemd-analyze verify passes; systemd-analyze security --offline rates
# its exposure at most 2.0 ("OK"; the unit before issue 15, as root without
# a sandbox: 8.9 "EXPOSED"); the settings the agent's readiness and the
# sandbox rely on are there.  Exits 77 (skipped) without systemd-analyze
# (setup-deps.sh --test installs it).
set -euo pipefail
bin=$(cd "$(dirname "${1:?usage: test_unit.sh path/to/cloister}")" && pwd)/$(basename "$1")
src=${CLOISTER_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
unit=$tmp/cloister.service
sed "s|/usr/local/bin/cloister|$bin|" "$src/contrib/cloister.service" >"$unit"

need() { grep -qx -- "$1" "$unit" || fail "the unit lacks '$1'"; }
need "Type=notify"
need "NotifyAccess=main"
need "User=cloister"
need "CapabilityBoundingSet="
need "AmbientCapabilities="
need "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"
need "SystemCallFilter=@system-service"
need "NoNewPrivileges=yes"
need "ProtectSystem=strict"
need "StateDirectory=cloister"
need "WatchdogSec=30"
need "KillSignal=SIGTERM"
need "ExecReload=/bin/kill -HUP \$MAINPID"
grep -q "^ExecStart=$bin agent " "$unit" || fail "ExecStart"
# The agent itself takes what the unit gives it.
env_of() { sed -n "s/^Environment=$1=//p" "$unit"; }
[[ $(env_of CLOISTER_DATA_DIR) == /var/lib/cloister ]] || fail "CLOISTER_DATA_DIR is not the StateDirectory"
[[ $(env_of CLOISTER_CONFIG_DIR) == /etc/cloister ]] || fail "CLOISTER_CONFIG_DIR is not the ConfigurationDirectory"
! grep -qE "^Environment=CLOISTER_(APP|SENTRY|CONSENSUS)=" "$unit" ||
	fail "the unit sets cluster settings in Environment=, which would win over /etc/cloister's files"
grep -q -- "--data-dir" <<<"$("$bin" agent --help)" || fail "agent has no --data-dir"

command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
# --man=no: the page is installed by make install, not necessarily here.
systemd-analyze verify --man=no "$unit" >"$tmp/verify" 2>&1 || { cat "$tmp/verify" >&2; fail "systemd-analyze verify"; }
[[ ! -s $tmp/verify ]] || { cat "$tmp/verify" >&2; fail "systemd-analyze verify complained"; }
systemd-analyze security --offline=yes "$unit" >"$tmp/security" 2>&1 || true
score=$(sed -n 's/.*Overall exposure level for cloister.service: \([0-9.]*\).*/\1/p' "$tmp/security")
[[ -n $score ]] || { cat "$tmp/security" >&2; fail "no exposure level from systemd-analyze security"; }
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 2.0 else 1)" "$score" ||
	{ grep "✗" "$tmp/security" >&2; fail "exposure $score > 2.0"; }
echo "PASS test_unit (systemd-analyze verify clean; exposure $score)"
