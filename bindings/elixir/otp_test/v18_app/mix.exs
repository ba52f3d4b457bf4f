# An application written against Cloister 0.18's API: a listener with
# on_state_change/3 and the FSM states.  With the original the dependency
# was {:cloister, "~> 0.18"}.
defmodule V18App.MixProject do
  use Mix.Project

  def project do
    [
      app: :v18_app,
      version: "0.1.0",
      elixir: "~> 1.12",
      elixirc_paths: ["lib", Path.expand("../support", __DIR__)],
      deps: [{:cloister, path: "../.."}]
    ]
  end

  def application, do: [mod: {V18App.Application, []}, extra_applications: [:logger]]
end
