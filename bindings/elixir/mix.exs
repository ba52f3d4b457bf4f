defmodule Cloister.MixProject do
  # The Elixir drop-in for Elixir's Cloister (am-kantox/cloister on hex),
  # on top of the OTP application in ../erlang: this project compiles the
  # Erlang sources itself, so there is one application, :cloister, and
  # `config :cloister, ...` reaches both halves.  No hex dependencies.
  use Mix.Project

  @erlang_src Path.expand("../erlang/src", __DIR__)

  def project do
    [
      app: :cloister,
      version: app_src()[:vsn] |> to_string(),
      elixir: "~> 1.12",
      erlc_paths: [@erlang_src],
      erlc_options: [:debug_info],
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
