#!/bin/sh
# Depending on the bindings the way Elixir and Erlang projects depend on
# things (issue 14, item 1), offline, with Debian's packages only:
#   * a fresh mix project (`mix new`) with {:cloister, path: ...}:
#     `mix deps.get && mix compile` puts the agent in the dependency's
#     priv/, the application starts with it (no CLOISTER_BIN, nothing on
#     PATH) and is ready alone; `mix cloister.init` writes its config;
#   * a mix project embedding Cloister.Manager (included_applications)
#     and waiting in its own :warming_up start phase;
#   * a fresh rebar3 project (`rebar3 new app`) with the bindings in
#     _checkouts/ (rebar3's local dependency): `rebar3 compile` likewise.
# The agent is the one given (copied by the compile step, as from
# CLOISTER_BIN); building it from the sources instead is the same step
# without CLOISTER_BIN (bindings/erlang/agent.sh), left out here for time.
#   bindings/deps_test.sh /path/to/cloister
# Exit 0 pass, 1 fail, 77 skip.  No network; nonode mode (no sockets).
set -u
BIN=${1:-${CLOISTER_BIN:-}}
[ -n "$BIN" ] && [ -x "$BIN" ] || { echo "usage: $0 /path/to/cloister" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
for t in erl mix rebar3; do
	command -v $t >/dev/null 2>&1 || { echo "SKIP: $t not found (apt-get install elixir rebar3)"; exit 77; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/cloister-deps.XXXXXX)
trap '[ -n "${KEEP_LOGS:-}" ] || rm -rf "$WORK"' EXIT INT TERM
export HOME="$WORK/home" MIX_HOME="$WORK/mix" HEX_HOME="$WORK/hex" HEX_OFFLINE=1
unset MIX_BUILD_PATH MIX_DEPS_PATH MIX_ENV CLOISTER_BIN
mkdir -p "$HOME" "$MIX_HOME"
status=0
fail() { echo "FAIL $*"; status=1; }
# A PATH without any cloister binary: the agent must come from priv/.
SAFE_PATH=$(dirname "$(command -v erl)"):$(dirname "$(command -v elixir)"):/usr/bin:/bin
PATH=$SAFE_PATH command -v cloister >/dev/null 2>&1 && echo "note: a cloister on PATH ($(PATH=$SAFE_PATH command -v cloister)); the checks below read which agent started"

echo "== mix: a fresh project depending on bindings/elixir by path"
cd "$WORK" && mix new shop >"$WORK/mix-new.log" 2>&1 || { cat "$WORK/mix-new.log"; exit 1; }
cd shop
sed -i "s|# {:dep_from_hexpm, \"~> 0.3.0\"},|{:cloister, path: \"$HERE/elixir\"},|" mix.exs
grep -q ':cloister, path:' mix.exs || { cat mix.exs; exit 1; }
mkdir -p config
cat >config/config.exs <<'CFG'
import Config

config :cloister, otp_app: :shop, sentry: ~w[shop@127.0.0.1]a, consensus: 1, magic?: false
CFG
if (mix deps.get && CLOISTER_BIN="$BIN" mix compile) >"$WORK/mix-compile.log" 2>&1; then
	agent=$WORK/shop/_build/dev/lib/cloister/priv/cloister
	if [ -x "$agent" ] && cmp -s "$agent" "$BIN"; then
		echo "PASS mix deps.get && mix compile: the agent is in the dependency's priv/ ($(grep -c . "$WORK/mix-compile.log") log lines)"
	else
		fail "mix compile left no agent at $agent"; cat "$WORK/mix-compile.log"
	fi
else
	cat "$WORK/mix-compile.log"; fail "mix deps.get && mix compile"
fi
out=$(PATH=$SAFE_PATH timeout 60 mix run -e 'IO.puts("STATE #{Cloister.fsm_state().current} #{inspect(Cloister.siblings())}")' 2>&1)
if echo "$out" | grep -q '^STATE ready \[:nonode@nohost\]' && echo "$out" | grep -q "starting agent $WORK/shop/_build/dev/lib/cloister/priv/cloister "; then
	echo "PASS the application starts the agent from priv/ and is ready alone"
else
	echo "$out" | tail -n 20; fail "mix run: not ready with the agent from priv/"
fi
if timeout 60 mix cloister.init >"$WORK/init.log" 2>&1 &&
	timeout 60 mix run --no-start -e 'IO.inspect(Config.Reader.read!("config/cloister.exs")[:cloister][:sentry])' 2>&1 |
	grep -q 'shop_0@127.0.0.1'; then
	echo "PASS mix cloister.init wrote config/cloister.exs (sentry shop_0@127.0.0.1..)"
else
	cat "$WORK/init.log"; fail "mix cloister.init"
fi

echo "== mix: Cloister.Manager embedded (included_applications), the start phase waiting"
cd "$WORK" && mix new emb --sup >>"$WORK/mix-new.log" 2>&1 || { cat "$WORK/mix-new.log"; exit 1; }
cd emb
sed -i "s|# {:dep_from_hexpm, \"~> 0.3.0\"},|{:cloister, path: \"$HERE/elixir\"},|" mix.exs
sed -i 's|      extra_applications: \[:logger\],|      extra_applications: [:logger],\n      included_applications: [:cloister],\n      start_phases: [warming_up: []],|' mix.exs
sed -i 's|    children = \[|    children = [\n      {Cloister.Manager, state: [otp_app: :emb]},|' lib/emb/application.ex
# The original's recipe: the application's own start phase waits.
sed -i 's|^end$||' lib/emb/application.ex
cat >>lib/emb/application.ex <<'EX'

  @impl true
  def start_phase(:warming_up, type, args) do
    r = Cloister.Application.start_phase(:warming_up, type, args)
    IO.puts("WARMED #{inspect(r)} #{Cloister.fsm_state().current}")
    r
  end
end
EX
mkdir -p config
echo 'import Config
config :cloister, sentry: ~w[emb@127.0.0.1]a, consensus: 1, magic?: false' >config/config.exs
out=$( (mix deps.get && CLOISTER_BIN="$BIN" timeout 120 mix run -e 'apps = for {a, _, _} <- Application.started_applications(), a in [:cloister, :emb], do: a
IO.puts("APPS #{inspect(apps)} #{Cloister.state().status}")') 2>&1)
if echo "$out" | grep -q '^WARMED :ok ready' && echo "$out" | grep -q '^APPS \[:emb\] ready'; then
	echo "PASS Cloister.Manager in the project's tree: cloister not started as an application, ready in the start phase"
else
	echo "$out" | tail -n 20; fail "Cloister.Manager embedded"
fi

echo "== rebar3: a fresh project with the bindings in _checkouts/"
cd "$WORK" && rebar3 new app name=shop_erl >"$WORK/rebar-new.log" 2>&1 || { cat "$WORK/rebar-new.log"; exit 1; }
cd shop_erl
sed -i 's/{deps, \[\]}./{deps, [cloister]}./' rebar.config
mkdir -p _checkouts
# A copy, so the agent lands in the copy's priv/ and not in the source tree.
cp -r "$HERE/erlang" _checkouts/cloister && rm -rf _checkouts/cloister/_build _checkouts/cloister/priv _checkouts/cloister/_build_agent
if CLOISTER_BIN="$BIN" rebar3 compile >"$WORK/rebar-compile.log" 2>&1 &&
	[ -x _checkouts/cloister/priv/cloister ] && cmp -s _checkouts/cloister/priv/cloister "$BIN"; then
	echo "PASS rebar3 compile: cloister and shop_erl compiled, the agent in cloister's priv/"
else
	cat "$WORK/rebar-compile.log"; fail "rebar3 compile"
fi
out=$(PATH=$SAFE_PATH timeout 60 erl -noshell -pa _build/default/checkouts/cloister/ebin -pa _build/default/lib/shop_erl/ebin \
	-eval 'application:load(cloister), application:set_env(cloister, naming, nonode), {ok, _} = application:ensure_all_started(cloister), io:format("STATE ~p~n", [cloister:state()]), halt().' 2>&1)
if echo "$out" | grep -q '^STATE ready' && echo "$out" | grep -q 'starting agent /.*/priv/cloister '; then
	echo "PASS the Erlang application starts the agent from priv/ and is ready alone"
else
	echo "$out" | tail -n 20; fail "erl: not ready with the agent from priv/"
fi
[ $status -eq 0 ] && echo "PASS: bindings deps" || echo "FAIL: bindings deps"
exit $status
