defmodule Cloister.Node do
  @moduledoc """
  Multicasts and multicalls across the cloister (Elixir Cloister's
  `Cloister.Node`), and this node's view of the members, read from the
  Erlang `:cloister` module (the agent's membership).

  Without distribution (the agent's nonode mode: no network, consensus
  1) the only member is this node, reported as `node()`
  (`:nonode@nohost`), as Elixir Cloister does.
  """

  @doc "Members by agent member name: `%{name => %{status:, node:, tags:}}`."
  @spec members() :: %{binary() => map()}
  def members do
    :cloister.members()
    |> Map.new(fn {name, m} -> {name, %{m | node: local(m.node)}} end)
  end

  @doc "Alive members' Erlang nodes, this one included, sorted."
  @spec alive_nodes((map() -> boolean())) :: [node()]
  def alive_nodes(filter \\ fn _ -> true end) do
    for({_, %{status: :alive} = m} <- members(), filter.(m), do: m.node)
    |> Enum.uniq()
    |> Enum.sort()
  end

  @doc false
  def status do
    :cloister.state()
  catch
    :exit, _ -> :down
  end

  @doc "The elected sentry's Erlang node, or `nil`."
  @spec sentry() :: node() | nil
  def sentry do
    case :cloister.sentry() do
      :undefined -> nil
      n -> local(n)
    end
  catch
    :exit, _ -> nil
  end

  defp local(n), do: if(Node.alive?(), do: n, else: node())

  # An Erlang node -> the atom the Erlang half turns into the agent's
  # member name (they differ only for this node in nonode mode).
  defp member_atom(n) do
    Enum.find_value(:cloister.members(), n, fn {name, m} ->
      if local(m.node) == n, do: String.to_atom(name)
    end)
  end

  @doc """
  Casts `request` to the process registered as `name` on every alive
  member (`nodes` defaults to all of them), through the agents.
  Returns `:abcast`, as `:rpc.eval_everywhere/4` does in Elixir Cloister.
  """
  @spec multicast([node()] | nil, GenServer.name(), term()) :: :abcast
  def multicast(nodes \\ nil, name, request)

  def multicast(nil, name, request) do
    _ = :cloister.multicast(name, request)
    :abcast
  end

  def multicast(nodes, name, request) when is_list(nodes) do
    {here, there} = Enum.split_with(nodes, &(&1 == node()))
    if here != [], do: GenServer.cast(name, request)

    if there != [] do
      _ = :cloister.multicast(Enum.map(there, &member_atom/1), name, request)
    end

    :abcast
  end

  @doc """
  Calls `GenServer.call(name, request)` on every alive member and returns
  the replies (as Elixir Cloister 0.18 does: `:rpc.multicall/4`'s results).

  Without `nodes` the call travels through the agents (each member's
  agent asks its BEAM; at most ~2 s); with a `nodes` list it goes over
  Erlang distribution (the mesh follows the membership), with `timeout`.
  A member that failed to answer gives `{:badrpc, reason}`.
  """
  @spec multicall([node()] | nil, GenServer.name(), term(), timeout()) :: [term()]
  def multicall(nodes \\ nil, name, request, timeout \\ 5_000)

  def multicall(nil, name, request, timeout) do
    case :cloister.multicall(name, request, min(timeout, 2_000)) do
      {replies, bad} when is_list(replies) ->
        Enum.map(replies, &elem(&1, 1)) ++ Enum.map(bad, &{:badrpc, {:nodedown, &1}})

      {:error, why} ->
        [{:badrpc, why}]
    end
  end

  def multicall(nodes, name, request, timeout) when is_list(nodes) do
    {here, there} = Enum.split_with(nodes, &(&1 == node()))

    local =
      if here != [] do
        [
          try do
            GenServer.call(name, request, timeout)
          catch
            kind, why -> {:badrpc, {kind, why}}
          end
        ]
      else
        []
      end

    {remote, bad} =
      if there != [], do: :rpc.multicall(there, GenServer, :call, [name, request, timeout], timeout + 1_000), else: {[], []}

    local ++ remote ++ Enum.map(bad, &{:badrpc, {:nodedown, &1}})
  end
end
