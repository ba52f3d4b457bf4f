defmodule Mix.Tasks.Cloister.Init do
  @shortdoc "Writes config/cloister.exs: a local cloister of this project"
  @moduledoc """
  Writes `config/cloister.exs` (Cloister's `mix cloister.init`): the
  settings of a cluster of this project's nodes on one host,
  `APP_0@IP` .. `APP_N@IP`, for `MIX_ENV=cloister` or to import from
  another environment's config (`import_config "cloister.exs"`).

      mix cloister.init [--application APP] [--ip 127.0.0.1] [--consensus 3] [--log debug]
  """
  use Mix.Task

  @config "config/cloister.exs"

  @impl Mix.Task
  def run(args) do
    {opts, [], []} =
      OptionParser.parse(args,
        strict: [application: :string, ip: :string, consensus: :integer, log: :string]
      )

    if File.exists?(@config) do
      Mix.shell().info([:yellow, "* creating #{@config} ", :reset, "file already exists"])
    else
      app = opts[:application] || Atom.to_string(Mix.Project.config()[:app])
      ip = opts[:ip] || "127.0.0.1"
      consensus = opts[:consensus] || 3
      listener = app |> Macro.camelize() |> Module.concat(Cloister.Listener) |> inspect()

      File.mkdir_p!("config")

      File.write!(@config, """
      import Config

      consensus = #{consensus}

      config :cloister,
        otp_app: :#{app},
        # listener: #{listener},
        consensus: consensus,
        loopback?: #{ip == "127.0.0.1"},
        additional_modules: [],
        sentry: Enum.map(0..(consensus - 1), &:"#{app}_\#{&1}@#{ip}")

      # config :logger, level: :#{opts[:log] || "debug"}
      """)

      Mix.shell().info([:green, "* creating #{@config}"])

      Mix.shell().info([
        :green,
        "* config/test.exs ",
        :reset,
        "maybe amend adding ",
        :magenta,
        ~s(import_config "cloister.exs")
      ])
    end
  end
end
