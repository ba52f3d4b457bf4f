# A consumer written only against Elixir Cloister's public API (hex
# package :cloister, am-kantox/cloister 0.18), with cloister's drop-in
# in its place: only the dependency line differs.
defmodule TestApp.MixProject do
  use Mix.Project

  def project do
    [
      app: :test_app,
      version: "0.1.0",
      elixir: "~> 1.12",
      start_permanent: Mix.env() == :prod,
      deps: deps()
    ]
  end

  def application do
    [mod: {TestApp.Application, []}, extra_applications: [:logger]]
  end

  # With the original: {:cloister, "~> 0.18"}
  defp deps, do: [{:cloister, path: ".."}]
end
