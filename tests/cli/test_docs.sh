#!/usr/bin/env bash
# test_docs.sh — the man page and the shell completions cover every option
# that --help shows.
#   $1: the cloister binary (its build directory holds the generated
#       cloister.1, cloister.bash and _cloister that `make install` copies)
# For every command `cloister --help` lists, every option its --help names
# must be offered by the bash and zsh completions for that command and
# appear in the man page; the build's files must be what the binary prints
# now; bash must complete commands, options and choices when asked; the
# page must format without a groff warning.
set -euo pipefail
bin=${1:?usage: test_docs.sh path/to/cloister}
dir=$(cd "$(dirname "$bin")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin" manpage >"$tmp/cloister.1"
"$bin" completion bash >"$tmp/cloister.bash"
"$bin" completion zsh >"$tmp/_cloister"
for f in cloister.1 cloister.bash _cloister; do
	if [[ -e "$dir/$f" ]]; then
		cmp -s "$tmp/$f" "$dir/$f" || fail "$dir/$f differs from what the binary prints (stale build?)"
	fi
done

# The commands, as `cloister --help` lists them.
"$bin" --help | awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1}' >"$tmp/commands"
[[ $(wc -l <"$tmp/commands") -ge 15 ]] || fail "cloister --help lists $(wc -l <"$tmp/commands") commands"
while read -r c; do
	"$bin" "$c" --help >"$tmp/help.$c" 2>&1 || fail "cloister $c --help exits $?"
done <"$tmp/commands"

python3 - "$tmp" <<'PY' || fail "completion and man page checks"
import re, sys
d = sys.argv[1]
cmds = open(f"{d}/commands").read().split()
bash = open(f"{d}/cloister.bash").read()
zsh = open(f"{d}/_cloister").read()
man = open(f"{d}/cloister.1").read()
# Options as cmd_docs.c reads them from a help text: a lone --lower-word or
# -x, after a space, '[', '(' or ',' and before a space, ']', ')', ',', '='
# or the end.
opt = re.compile(r"(?<![^\s\[(,])(--[a-z][a-z0-9-]*|-[a-z])(?=[\s\]),=]|$)")
bad = []
total = 0

def bash_opts(c):
    m = re.search(r"^\t" + re.escape(c) + r"\) opts='([^']*)'", bash, re.M)
    return set(m.group(1).split()) if m else None

def zsh_section(c):
    if c == "agent":
        m = re.search(r"^\tagent\)\n(.*?)^\t\t;;", zsh, re.M | re.S)
    else:
        m = re.search(r"^\t" + re.escape(c) + r"\)\n(.*?)^\t\t;;", zsh, re.M | re.S)
    return m.group(1) if m else None

man_text = man.replace("\\-", "-")
for c in cmds:
    flags = set(opt.findall(open(f"{d}/help.{c}").read())) | {"--help"}
    b, z = bash_opts(c), zsh_section(c)
    if b is None:
        bad.append(f"{c}: no bash case"); continue
    if z is None:
        bad.append(f"{c}: no zsh case"); continue
    if not re.search(r"^\.TP\n\.B (" + re.escape(c) + "|" + re.escape(c.replace("-", "\\-")) + ")$", man, re.M):
        bad.append(f"{c}: not in the man page's COMMANDS")
    for f in sorted(flags):
        total += 1
        if f not in b:
            bad.append(f"{c} {f}: not in the bash completion")
        if not re.search(r"(?<![\w-])" + re.escape(f) + r"(?![\w-])", z):
            bad.append(f"{c} {f}: not in the zsh completion")
        if f != "--help" and not re.search(r"(?<![\w-])" + re.escape(f) + r"(?![\w-])", man_text):
            bad.append(f"{c} {f}: not in the man page")
# The agent's settings each have their own entry in AGENT SETTINGS.
agent = set(opt.findall(open(f"{d}/help.agent").read()))
for f in agent:
    if not re.search(r"^\.B \\-\\-" + re.escape(f[2:]).replace("\\-", "-").replace("-", r"\\-") + r"( \\fIVALUE\\fR)?$", man, re.M):
        bad.append(f"agent {f}: no entry of its own in the man page")
if len(agent) < 30:
    bad.append(f"only {len(agent)} agent settings found in agent --help")
for b_ in bad:
    print("  " + b_, file=sys.stderr)
print(f"{len(cmds)} commands, {total} options, each in bash, zsh and the man page")
sys.exit(1 if bad else 0)
PY

# bash completes as a user sees it.
# In an empty directory: where completion falls back to file names, the
# files of the directory ctest runs in (cmake_install.cmake, ...) must not
# pass for a command's words.
mkdir -p "$tmp/empty"
complete_words() { # words... -> COMPREPLY, one per line
	(cd "$tmp/empty" && bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cloister; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$tmp/cloister.bash" "$@")
}
[[ $(complete_words cloister sta) == status ]] || fail "bash: 'cloister sta' -> '$(complete_words cloister sta)'"
[[ $(complete_words cloister agent --log-l) == --log-level ]] || fail "bash: agent --log-l"
[[ $(complete_words cloister agent --log-level "" | tr '\n' ' ') == "error warn info debug " ]] ||
	fail "bash: agent --log-level choices: $(complete_words cloister agent --log-level "" | tr '\n' ' ')"
[[ $(complete_words cloister status --to) == --token-file ]] || fail "bash: status --to"
# The words a command takes first, from its usage lines.
[[ $(complete_words cloister wait "") == ready ]] || fail "bash: 'cloister wait ' -> '$(complete_words cloister wait "")'"
[[ $(complete_words cloister keys in) == install ]] || fail "bash: keys in"
[[ $(complete_words cloister completion "" | tr '\n' ' ') == "bash zsh " ]] || fail "bash: completion's shells"
[[ -z $(complete_words cloister keys list "") || $(complete_words cloister keys list "") != *install* ]] ||
	fail "bash: a subcommand's words offered past the first argument"
# (Captured first: grep -q leaving early would fail the pipeline.)
paths=$(complete_words cloister agent --config "$tmp/cloister.")
grep -qx "$tmp/cloister.bash" <<<"$paths" || fail "bash: agent --config completes no path: $paths"
paths=$(complete_words cloister agent --config-dir "$tmp/")
if grep -q -- "--config-dir" <<<"$("$bin" agent --help)"; then
	grep -qx "$tmp/cloister.bash" <<<"$paths" || fail "bash: agent --config-dir completes no path"
fi
if command -v zsh >/dev/null; then
	zsh -n "$tmp/_cloister" || fail "zsh -n _cloister"
	# The completion function run with zsh's completion builtins replaced
	# by ones that print what they were given.
	zcomplete() { # words... (the last one being completed)
		zsh -f -c '
			_describe() { print -r -- "describe: ${(P)2}"; }
			_arguments() { print -rl -- "$@"; }
			compadd() { print -r -- "compadd: $*"; }
			_files() { print -r -- files; }
			source "$1"; shift
			words=("$@"); CURRENT=$#; PREFIX=${words[-1]}
			_cloister' _ "$tmp/_cloister" "$@"
	}
	z=$(zcomplete cloister "")
	[[ $z == *"status:the agent's status"* && $z == *"agent:run a cluster node"* ]] || fail "zsh: commands: $z"
	z=$(zcomplete cloister agent --lo)
	grep -qx -- "--log-level\[[^]]*\]:log-level:(error warn info debug)" <<<"$z" || fail "zsh: agent --log-level: $z"
	grep -qx -- "\*--tag\[[^]]*\]:tag: " <<<"$z" || fail "zsh: agent --tag is not repeatable"
	grep -qx -- "--key-file\[[^]]*\]:key-file:_files" <<<"$z" || fail "zsh: agent --key-file takes no file"
	z=$(zcomplete cloister keys "")
	[[ $z == "compadd: -- list install use remove"* ]] || fail "zsh: keys: $z"
	z=$(zcomplete cloister status --)
	[[ $z == "compadd: -- "*"--token-file"* ]] || fail "zsh: status --: $z"
fi

# The page formats without a warning (groff, as man uses it).
if command -v groff >/dev/null; then
	groff -man -ww -z "$tmp/cloister.1" 2>"$tmp/groff.err" || fail "groff failed"
	[[ ! -s "$tmp/groff.err" ]] || { cat "$tmp/groff.err" >&2; fail "groff warnings"; }
	groff -man -Tutf8 -P-cbou "$tmp/cloister.1" >"$tmp/page.txt" 2>/dev/null
	grep -q "^AGENT SETTINGS$" "$tmp/page.txt" || fail "no AGENT SETTINGS section"
fi
echo "PASS test_docs"
