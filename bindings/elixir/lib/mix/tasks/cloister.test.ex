defmodule Mix.Tasks.Cloister.Test do
  @shortdoc "Runs the project's tests on a local cloister of N nodes"
  @moduledoc """
  Runs `mix test` on this node as `APP_0@127.0.0.1` of a cloister of N
  nodes of this project on this host (Cloister's `mix cloister.test`):
  the others, `APP_1@127.0.0.1`.., run the project (`mix run --no-halt`,
  `MIX_ENV=test`) and stop cleanly when the tests end.

      mix cloister.test [-n 3] [--ip 127.0.0.1] [mix test arguments]
  """
  use Mix.Task
  alias Cloister.Mix.LocalCluster, as: L

  @preferred_cli_env :test

  @impl Mix.Task
  def run(args) do
    # A dependency's task cannot choose the environment mix starts in
    # (its @preferred_cli_env is read before deps are loaded): run again
    # in the test environment.
    if Mix.env() != :test do
      mix = System.find_executable("mix") || Mix.raise("cloister: mix not found")
      {_, status} =
        System.cmd(mix, ["cloister.test" | args], env: [{"MIX_ENV", "test"}], into: IO.stream(:stdio, :line))

      if status != 0, do: exit({:shutdown, status})
    else
      run_test(args)
    end
  end

  defp run_test(args) do
    {opts, test_args} = split(args)
    Mix.Task.run("compile")
    {o, _} = L.options(opts)
    L.start_this(o)
    spawned = L.spawn_others(o)
    Mix.shell().info("* cloister.test: #{o.n} nodes: #{Enum.join(o.nodes, ", ")}")

    try do
      Mix.Tasks.Test.run(test_args)
    after
      L.stop_others(spawned)
    end
  end

  # Our options (-n/--nodes, --ip, --application) and the rest for mix test.
  defp split(args), do: split(args, [], [])
  defp split([f, v | rest], ours, theirs) when f in ["-n", "--nodes", "--ip", "--application"],
    do: split(rest, ours ++ [f, v], theirs)
  defp split([a | rest], ours, theirs), do: split(rest, ours, theirs ++ [a])
  defp split([], ours, theirs), do: {ours, theirs}
end
