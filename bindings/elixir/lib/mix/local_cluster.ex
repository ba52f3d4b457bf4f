defmodule Cloister.Mix.LocalCluster do
  @moduledoc false
  # What mix cloister.run and cloister.test share (Cloister's
  # Cloister.Mix.Commons): N nodes of the current project on this host,
  # APP_0@IP (this one) to APP_{N-1}@IP, the others started as
  # `elixir --name APP_i@IP -S mix run --no-halt` in the same MIX_ENV.
  # Their cluster settings come from CLOISTER_LOCAL_CLUSTER (the node list,
  # read by Cloister.Config when the application starts), so the project's
  # config needs nothing; the project's own listener and otp_app stay.

  @default_n 3

  def options(args, extra \\ []) do
    {opts, rest, invalid} =
      OptionParser.parse(args,
        strict: [nodes: :integer, application: :string, ip: :string] ++ extra,
        aliases: [n: :nodes]
      )

    if invalid != [], do: Mix.raise("cloister: unknown options #{inspect(invalid)}")

    app =
      (opts[:application] && String.to_atom(opts[:application])) ||
        Application.get_env(:cloister, :otp_app) || Mix.Project.config()[:app]

    n = opts[:nodes] || @default_n
    if n < 1, do: Mix.raise("cloister: -n must be at least 1")
    ip = opts[:ip] || "127.0.0.1"
    nodes = for i <- 0..(n - 1), do: :"#{app}_#{i}@#{ip}"
    {Map.merge(Map.new(opts), %{app: app, n: n, ip: ip, nodes: nodes}), rest}
  end

  # Distribution for this node, epmd first (as `erl -name` would start it).
  def start_this(%{nodes: [this | _] = nodes}) do
    System.put_env("CLOISTER_LOCAL_CLUSTER", Enum.join(nodes, ","))
    logs = Path.join(Mix.Project.build_path(), "cloister_local")
    File.mkdir_p!(logs)

    # The agent's own lines would run through the live view.
    if is_nil(Application.get_env(:cloister, :agent_log)),
      do: Application.put_env(:cloister, :agent_log, Path.join(logs, "#{this}.agent.log"))

    unless Node.alive?() do
      epmd = System.find_executable("epmd") || Mix.raise("cloister: epmd not found")
      System.cmd(epmd, ["-daemon"])

      case Node.start(this, :longnames) do
        {:ok, _} -> :ok
        {:error, why} -> Mix.raise("cloister: cannot start distribution as #{this}: #{inspect(why)}")
      end
    end

    :ok
  end

  def spawn_others(%{nodes: [_ | others]} = o) do
    elixir = System.find_executable("elixir") || Mix.raise("cloister: elixir not found")
    logs = Path.join(Mix.Project.build_path(), "cloister_local")
    File.mkdir_p!(logs)
    cookie = Atom.to_string(Node.get_cookie())

    for node <- others do
      log = Path.join(logs, "#{node}.log")
      File.write!(log, "")

      port =
        Port.open({:spawn_executable, "/bin/sh"}, [
          :binary,
          :exit_status,
          args: [
            "-c",
            ~s(exec "$0" --name "$1" --cookie "$2" -S mix run --no-halt --no-compile >>"$3" 2>&1),
            elixir,
            Atom.to_string(node),
            cookie,
            log
          ],
          env: [
            {~c"MIX_ENV", String.to_charlist(Atom.to_string(Mix.env()))},
            {~c"CLOISTER_LOCAL_CLUSTER", String.to_charlist(Enum.join(o.nodes, ","))}
          ]
        ])

      {:os_pid, pid} = Port.info(port, :os_pid)

      # For a supervisor of this task (a test harness) that must be able to
      # stop the nodes by pid if this task itself is killed.
      if f = System.get_env("CLOISTER_LOCAL_PIDS"), do: File.write!(f, "#{pid}\n", [:append])

      %{node: node, port: port, pid: pid, log: log}
    end
  end

  # Each spawned node stopped as a release would be (init:stop: the
  # applications stop, the listener gets :stopping, the agent leaves),
  # then SIGKILL by pid for any still there after 30 s.
  def stop_others(spawned) do
    for %{node: node} <- spawned, do: :rpc.call(node, :init, :stop, [], 5_000)
    deadline = System.monotonic_time(:millisecond) + 30_000

    for %{port: port, pid: pid, node: node} <- spawned do
      left = max(0, deadline - System.monotonic_time(:millisecond))

      receive do
        {^port, {:exit_status, _}} -> :ok
      after
        left ->
          Mix.shell().error("cloister: #{node} did not stop in time; killing pid #{pid}")
          System.cmd("kill", ["-9", Integer.to_string(pid)])
      end
    end

    :ok
  end

  # One line per node: status, alive members, sentry, connected nodes.
  def view(nodes) do
    rows =
      for n <- nodes do
        case :rpc.call(n, Cloister, :fsm_state, [], 2_000) do
          %{current: current} ->
            sib = :rpc.call(n, Cloister, :siblings, [], 2_000)
            conn = :rpc.call(n, Node, :list, [], 2_000)
            sentry = :rpc.call(n, :cloister, :sentry, [], 2_000)

            {n, current, if(is_list(sib), do: length(sib), else: 0),
             if(is_list(conn), do: length(conn), else: 0), sentry}

          _ ->
            {n, :starting, 0, 0, :undefined}
        end
      end

    text =
      [
        String.pad_trailing("node", 28) <> String.pad_trailing("status", 12) <>
          String.pad_trailing("alive", 7) <> String.pad_trailing("connected", 11) <> "sentry"
        | for {n, s, a, c, sentry} <- rows do
            String.pad_trailing(Atom.to_string(n), 28) <>
              String.pad_trailing(Atom.to_string(s), 12) <>
              String.pad_trailing(Integer.to_string(a), 7) <>
              String.pad_trailing(Integer.to_string(c), 11) <> inspect(sentry)
          end
      ]
      |> Enum.join("\n")

    {text, Enum.all?(rows, &(elem(&1, 1) == :ready))}
  end
end
