defmodule Cloister.Config do
  @moduledoc false
  # Elixir Cloister's `config :cloister` keys: validated at start (the
  # original validates them with NimbleOptions when it is compiled; an
  # unknown key or a wrong type is an error there and here), then mapped
  # onto the Erlang half's application environment:
  #
  #   sentry     atom (a DNS/service name) or a node list: as they are;
  #              nil, [] or [node()] on a node without distribution: none
  #              (the agent's nonode mode: no network, ready alone)
  #   magic?     false/:nohost on a node without distribution: nonode
  #              mode too; :shortnames: distribution as app@HOSTNAME
  #   loopback?  true on a node without distribution: app@127.0.0.1
  #   listener   kept as :elixir_listener; the Erlang half calls
  #              Cloister.Listener.Bridge, which hands the change to
  #              the monitor (serially, outside the agent process)
  #   monitor    a module with whois/2 (and ring/0) replacing placement
  #   monitor_opts[:name]  the monitor's registered name
  #   ring       Elixir Cloister's is a ring *name*; the Erlang half's
  #              `ring` is the placement algorithm (default | libring):
  #              any other value is kept as :ring_name, the algorithm
  #              stays libring
  #   otp_app, consensus: understood by the Erlang half as they are.

  @bridge Cloister.Listener.Bridge

  # Elixir Cloister 0.18's keys, then the agent's (docs/elixir.md), then
  # the ones this mapping writes itself.
  @upstream ~w[otp_app sentry consensus listener monitor monitor_opts additional_modules
               ring manager loopback? magic?]a
  @agent ~w[agent advertise bind naming profile key key_file passphrase call_allow tags
            ready_timeout cookie http http_port agent_log agent_args agent_port]a
  # sentry_handler: read by the original's code though not in its schema.
  @internal ~w[elixir_listener ring_name monitor_name sentry_handler]a

  def validate!(env) do
    errors =
      Enum.flat_map(env, fn {k, v} ->
        cond do
          k not in @upstream ++ @agent ++ @internal -> ["unknown option #{inspect(k)}"]
          msg = check(k, v) -> ["#{inspect(k)}: #{msg}, got: #{inspect(v)}"]
          true -> []
        end
      end)

    if errors != [] do
      raise ArgumentError,
            "invalid config :cloister (known options: " <>
              Enum.map_join(@upstream ++ @agent, ", ", &inspect/1) <>
              "):\n  " <> Enum.join(errors, "\n  ")
    end

    :ok
  end

  defp check(:otp_app, v) when is_atom(v), do: nil
  defp check(:otp_app, _), do: "expected an atom"
  defp check(:sentry, v) when is_atom(v) or is_binary(v), do: nil
  defp check(:sentry, [_ | _] = v) do
    if Enum.all?(v, &is_atom/1), do: nil, else: "expected a list of nodes or a service name"
  end
  defp check(:sentry, _), do: "expected a list of nodes or an atom (a service name)"
  defp check(:consensus, v) when is_integer(v) and v >= 0, do: nil
  defp check(:consensus, {:majority, n}) when is_integer(n) and n > 0, do: nil
  defp check(:consensus, "majority:" <> _), do: nil
  defp check(:consensus, _), do: "expected a non-negative integer or {:majority, n}"
  defp check(k, v) when k in [:listener, :monitor, :ring] and is_atom(v), do: nil
  defp check(k, _) when k in [:listener, :monitor, :ring], do: "expected a module/atom"
  defp check(:loopback?, v) when is_boolean(v), do: nil
  defp check(:loopback?, _), do: "expected a boolean"
  defp check(:magic?, v) when v in [true, false, :longnames, :shortnames, :nohost], do: nil
  defp check(:magic?, _), do: "expected one of true, false, :longnames, :shortnames, :nohost"
  defp check(:additional_modules, v) when is_list(v) do
    if Enum.all?(v, &(is_atom(&1) or is_tuple(&1))), do: nil, else: "expected a list of modules"
  end
  defp check(:additional_modules, _), do: "expected a list of modules"
  defp check(:monitor_opts, v) when is_list(v) do
    if is_atom(Keyword.get(v, :name)), do: nil, else: "expected [name: atom]"
  end
  defp check(:monitor_opts, _), do: "expected a keyword list"
  defp check(:manager, v) when is_list(v), do: nil
  defp check(:manager, _), do: "expected a keyword list"
  defp check(:ready_timeout, v) when v == :infinity or (is_integer(v) and v > 0), do: nil
  defp check(:ready_timeout, _), do: "expected a positive integer (ms) or :infinity"
  defp check(:agent_port, v) when is_integer(v) and v > 0 and v < 65536, do: nil
  defp check(:agent_port, _), do: "expected a port number"
  defp check(_, _), do: nil

  def apply! do
    local_cluster!()
    env = Application.get_all_env(:cloister)

    case Keyword.get(env, :listener) do
      @bridge -> :ok
      nil -> put(:elixir_listener, Cloister.Listener.Default)
      :undefined -> put(:elixir_listener, Cloister.Listener.Default)
      mod -> put(:elixir_listener, mod)
    end

    put(:listener, @bridge)

    case env[:monitor_opts] do
      [_ | _] = o -> put(:monitor_name, Keyword.fetch!(o, :name))
      _ -> :ok
    end

    case Keyword.get(env, :ring) do
      r when r in [nil, :default, :libring, "default", "libring", 'default', 'libring'] ->
        if is_nil(r), do: put(:ring, :libring)

      name ->
        put(:ring_name, name)
        put(:ring, :libring)
    end

    alone? = not Node.alive?()
    magic = Keyword.get(env, :magic?, :longnames)
    nomagic? = alone? and magic in [false, :nohost]

    sentry =
      case Keyword.get(env, :sentry) do
        _ when nomagic? -> :undefined
        nil -> :undefined
        [] -> :undefined
        [n] when alone? and n in [node(), :nonode@nohost] -> :undefined
        other -> other
      end

    put(:sentry, sentry)

    cond do
      env[:naming] -> :ok
      nomagic? -> put(:naming, :nonode)
      alone? and magic == :shortnames -> put(:naming, :shortnames)
      true -> :ok
    end

    if alone? and env[:loopback?] == true and is_nil(env[:advertise]) and not nomagic?,
      do: put(:advertise, "127.0.0.1:7946")

    if is_nil(env[:consensus]), do: put(:consensus, 1)
    :ok
  end

  # mix cloister.run / cloister.test: the nodes they start are the
  # cluster, whatever the project's config says.
  defp local_cluster! do
    case System.get_env("CLOISTER_LOCAL_CLUSTER") do
      nodes when is_binary(nodes) and nodes != "" ->
        list = nodes |> String.split(",", trim: true) |> Enum.map(&String.to_atom/1)
        put(:sentry, list)
        put(:consensus, length(list))
        put(:magic?, true)

      _ ->
        :ok
    end
  end

  defp put(k, v), do: Application.put_env(:cloister, k, v)
end
