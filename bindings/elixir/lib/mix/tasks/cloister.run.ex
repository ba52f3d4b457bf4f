defmodule Mix.Tasks.Cloister.Run do
  @shortdoc "Runs N nodes of this project on this host as one cloister"
  @moduledoc """
  Starts a cloister of this project on this host (Cloister's `mix
  cloister.run`): this node as `APP_0@127.0.0.1` and N-1 more,
  `APP_1@127.0.0.1`.., each running the project (`mix run --no-halt`),
  with a live view of every node's status until `q` (or end of input),
  or for `--for SECONDS`; then every node stops cleanly (its listener
  sees `:stopping`, its agent leaves).

      mix cloister.run [-n 3] [--ip 127.0.0.1] [--application APP] [--for SECONDS]

  The nodes' `sentry` and `consensus` are the N node names (whatever the
  project's config says); `iex --name APP_9@127.0.0.1 --cookie COOKIE`
  connects a shell.
  """
  use Mix.Task
  alias Cloister.Mix.LocalCluster, as: L

  @impl Mix.Task
  def run(args) do
    Mix.Task.run("compile")
    {o, _} = L.options(args, for: :integer)
    L.start_this(o)
    spawned = L.spawn_others(o)

    Mix.shell().info([
      :green,
      "* cloister.run: ",
      :reset,
      "#{o.n} nodes of #{o.app}: #{Enum.join(o.nodes, ", ")} (logs in #{Path.dirname(hd(spawned ++ [%{log: "."}]).log)})"
    ])

    try do
      Mix.Task.run("app.start")
      Mix.shell().info("* cloister.run: #{hd(o.nodes)} started; " <> if(o[:for], do: "running #{o[:for]} s", else: "q + Enter stops"))

      stop =
        if secs = o[:for] do
          Process.send_after(self(), :stop, secs * 1_000)
          nil
        else
          parent = self()
          spawn_link(fn -> wait_q(parent) end)
        end

      _ = stop
      loop(o.nodes, nil)
    after
      L.stop_others(spawned)
      Application.stop(o.app)
      Application.stop(:cloister)
      Mix.shell().info("* cloister.run: stopped #{o.n} nodes")
    end
  end

  defp wait_q(parent) do
    case IO.gets("") do
      :eof -> send(parent, :stop)
      {:error, _} -> send(parent, :stop)
      line -> if String.trim(line) == "q", do: send(parent, :stop), else: wait_q(parent)
    end
  end

  defp loop(nodes, last) do
    {text, all_ready?} = L.view(nodes)
    if text != last, do: Mix.shell().info(text <> if(all_ready?, do: "\n* all #{length(nodes)} ready", else: ""))

    receive do
      :stop -> :ok
    after
      1_000 -> loop(nodes, text)
    end
  end
end
