# An application written from Cloister's introductory article alone: its
# config block and a listener with on_state_change/2 matching
# %Cloister.Monitor{status: :up}.  With the original the dependency was
# {:cloister, "~> 0.2"}.
defmodule ArticleApp.MixProject do
  use Mix.Project

  def project do
    [
      app: :article_app,
      version: "0.1.0",
      elixir: "~> 1.12",
      elixirc_paths: ["lib", Path.expand("../support", __DIR__)],
      deps: [{:cloister, path: "../.."}]
    ]
  end

  def application, do: [mod: {ArticleApp.Application, []}, extra_applications: [:logger]]
end
