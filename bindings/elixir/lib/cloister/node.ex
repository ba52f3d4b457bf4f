defmodule Cloister.Node do
  @moduledoc """
  Multicasts and multicalls across the cloister (Elixir Cloister's
  `Cloister.Node`: over Erlang distribution, to the connected nodes), and
  this node's view of the members, read from the Erlang `:cloister`
  module (the agent's membership).

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

  @doc "Live (alive or suspect) members' Erlang nodes, this one included, sorted."
  @spec alive_nodes((map() -> boolean())) :: [node()]
  def alive_nodes(filter \\ fn _ -> true end) do
    # Suspects too: the agent keeps them on its rings until the suspicion
    # ends, so placement agrees with it (and with C members).
    for({_, %{status: s} = m} <- members(), s in [:alive, :suspect], filter.(m), do: m.node)
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

  @doc """
  Casts `request` to `name` on `nodes` (default: this node and every node
  it is connected to), with `:rpc.eval_everywhere/4`, as Cloister does.
  """
  @spec multicast([node()], GenServer.name(), term()) :: :abcast
  def multicast(nodes \\ [node() | Node.list()], name, request),
    do: :rpc.eval_everywhere(nodes, GenServer, :cast, [name, request])

  @doc """
  `GenServer.call(name, request)` on `nodes` (default: this node and every
  node it is connected to) with `:rpc.multicall/4`: the replies (a call
  that failed gives its `{:badrpc, reason}`; nodes that did not answer
  are left out), as Cloister does.
  """
  @spec multicall([node()], GenServer.name(), term()) :: [term()]
  def multicall(nodes \\ [node() | Node.list()], name, request) do
    with {replies, _} <- :rpc.multicall(nodes, GenServer, :call, [name, request]), do: replies
  end
end
