defmodule Cloister do
  @moduledoc """
  Elixir Cloister's public API (am-kantox/cloister 0.18) on the cloister
  agent: SWIM membership, libring-compatible placement, an elected sentry,
  messages through the agents.

  Configure it as the original (`config :cloister, otp_app:, sentry:,
  consensus:, listener:`); the agent-specific settings of the Erlang half
  (`agent`, `http_port`, `naming`, `passphrase`, `tags`, ...) are accepted
  too: see `docs/elixir.md`.

  Placement runs in the BEAM with libring 1.7's algorithm over the alive
  members, so `whois/1` names the node Elixir Cloister (libring) would.
  """

  @typedoc "A ring: `nil` (this cloister's), its `otp_app`, or a `groups` tag value"
  @type group :: atom() | nil

  @doc """
  The node a hash ring assigns `term` to: on this cloister's ring
  (`group` nil or the `otp_app`) or, for another atom, on the ring of the
  members tagged `groups=GROUP`.
  """
  @spec whois(group(), term()) ::
          node() | {:error, {:invalid_ring, :no_nodes}} | {:error, {:not_our_ring, atom()}}
  def whois(group \\ nil, term) do
    nodes =
      if group in [nil, :default, otp_app(), ring()] do
        Cloister.Node.alive_nodes()
      else
        g = to_string(group)

        Cloister.Node.alive_nodes(fn m ->
          g in String.split(Map.get(m.tags, "groups", ""), ",", trim: true)
        end)
      end

    case nodes do
      [] when group in [nil, :default] -> {:error, {:invalid_ring, :no_nodes}}
      [] -> if group in [otp_app(), ring()], do: {:error, {:invalid_ring, :no_nodes}}, else: {:error, {:not_our_ring, group}}
      nodes -> :cloister.libring_whois(nodes, term)
    end
  end

  @doc "`true` when the ring puts `term` on this node."
  @spec mine?(term()) :: boolean()
  def mine?(term), do: whois(term) == node()

  @doc """
  Applies `m.f(a)` on `nodes` (default: `siblings/0`) with `:rpc.multicall/4`;
  on this node alone, `{[apply(m, f, a)], []}`.
  """
  @spec multiapply(nil | [node()], module(), module(), atom(), list()) :: {[term()], [node()]}
  def multiapply(nodes \\ nil, monitor \\ Cloister.Monitor, m, f, a) do
    nodes = if is_nil(nodes), do: siblings(monitor), else: nodes
    this = node()

    case nodes do
      [^this] -> {[apply(m, f, a)], []}
      _ -> :rpc.multicall(nodes, m, f, a)
    end
  end

  @doc "The name of this cloister's ring (the `ring` setting, else `otp_app`)."
  @spec ring() :: atom()
  def ring, do: Application.get_env(:cloister, :ring_name, otp_app())

  @doc "The consensus setting (members needed for ready)."
  @spec consensus() :: pos_integer()
  def consensus, do: Cloister.Application.consensus()

  @doc "The alive members' nodes, this one included (sorted)."
  @spec siblings(module()) :: [node()]
  def siblings(_monitor \\ Cloister.Monitor), do: Cloister.Node.alive_nodes()

  @doc false
  @doc deprecated: "Use siblings/0 instead"
  def siblings!(monitor \\ Cloister.Monitor), do: siblings(monitor)

  defdelegate multicast(name, request), to: Cloister.Node
  defdelegate multicast(nodes, name, request), to: Cloister.Node
  defdelegate multicall(name, request), to: Cloister.Node
  defdelegate multicall(nodes, name, request), to: Cloister.Node

  @doc """
  This node's `%Cloister.Monitor{}` (nil before the application started):

      %Cloister.Monitor{otp_app: :shop, node: :"shop@10.0.3.7", consensus: 3,
        listener: Shop.Listener, monitor: Cloister.Monitor,
        started_at: ~U[...], alive?: true, clustered?: true, sentry?: false,
        ring: :shop, status: :ready}
  """
  @spec state(module()) :: nil | Cloister.Monitor.t()
  def state(monitor \\ Cloister.Monitor), do: Cloister.Monitor.state(monitor)

  @doc "Every sibling's `state/0`: `{states, bad_nodes}` (`multiapply/3`)."
  @spec states(module()) :: {[Cloister.Monitor.t()], [node()]}
  def states(monitor \\ Cloister.Monitor), do: multiapply(Cloister, :state, [monitor])

  @doc """
  `{:ok, node}`: the cloister's one elected sentry (`{:error, []}` while
  there is none, e.g. before the first member is alive).
  """
  @spec sentry(module()) :: {:ok, node()} | {:error, [node()]}
  def sentry(_monitor \\ Cloister.Monitor) do
    case Cloister.Node.sentry() do
      nil -> {:error, []}
      n -> {:ok, n}
    end
  end

  defp otp_app, do: Application.get_env(:cloister, :otp_app, :cloister)
end
