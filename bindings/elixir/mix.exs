defmodule Cloister.MixProject do
  # The Elixir drop-in for Elixir's Cloister (am-kantox/cloister on hex),
  # on top of the OTP application in ../erlang: this project compiles the
  # Erlang sources itself, so there is one application, :cloister, and
  # `config :cloister, ...` reaches both halves.  No hex dependencies.
  use Mix.Project

  @erlang_src Path.expand("../erlang/src", __DIR__)

  def project do
    unless File.dir?(@erlang_src) do
      Mix.raise(
        "cloister: #{@erlang_src} is missing: this project compiles the Erlang half beside it. " <>
          "Depend on the repository with `git: ..., subdir: \"bindings/elixir\"` (not `sparse:`) " <>
          "or `path:` to a checkout"
      )
    end

    [
      app: :cloister,
      version: app_src()[:vsn] |> to_string(),
      elixir: "~> 1.12",
      erlc_paths: [@erlang_src],
      erlc_options: [:debug_info],
      # The agent into this application's priv/ (../erlang/agent.sh).
      compilers: Mix.compilers() ++ [:cloister_agent],
      start_permanent: Mix.env() == :prod,
      deps: []
    ]
  end

  # The Erlang half's cloister.app.src is the source of truth for its
  # environment defaults and the applications it needs; only the start
  # module differs (Cloister.Application maps the Elixir config, then
  # starts the Erlang application callback).
  def application do
    src = app_src()

    [
      mod: {Cloister.Application, []},
      # As Cloister: the application's start returns once these ran, and
      # :warming_up waits for the cluster.
      start_phases: [warming_up: [], rehash_on_up: []],
      extra_applications: Enum.uniq([:logger | Keyword.get(src, :applications, [])] -- [:kernel, :stdlib]),
      registered: Keyword.get(src, :registered, []),
      env: Keyword.get(src, :env, [])
    ]
  end

  defp app_src do
    {:ok, [{:application, :cloister, props}]} =
      :file.consult(String.to_charlist(Path.join(@erlang_src, "cloister.app.src")))

    props
  end
end

defmodule Mix.Tasks.Compile.CloisterAgent do
  @moduledoc false
  # Puts the cloister agent in priv/ of the built application, through
  # ../erlang/agent.sh (CLOISTER_BIN, the repository's build, a CMake build
  # of the repository's sources, or cloister on PATH).
  use Mix.Task.Compiler

  @script Path.expand("../erlang/agent.sh", __DIR__)

  @impl Mix.Task.Compiler
  def run(_args) do
    dest = Path.join(Mix.Project.app_path(), "priv/cloister")
    build = Path.join(Mix.Project.build_path(), "cloister_agent")

    case System.cmd("sh", [@script, dest, build], stderr_to_stdout: true) do
      {"", 0} -> {:noop, []}
      {out, 0} -> Mix.shell().info(String.trim_trailing(out)) && {:ok, []}
      {out, _} -> Mix.raise(String.trim_trailing(out))
    end
  end
end
