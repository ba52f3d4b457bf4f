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
    case Application.get_env(:cloister, :monitor) do
      m when m in [nil, Cloister.Monitor] -> whois_members(group, term)
      # Cloister's `monitor` setting: a module of its own places terms.
      m -> with {:ok, node} <- m.whois(group, term), do: node
    end
  end

  defp whois_members(group, term) do
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

  @doc "The nodes on the ring: alive members, this one included (sorted)."
  defdelegate siblings, to: Cloister.Monitor
  defdelegate siblings(monitor), to: Cloister.Monitor
  defdelegate siblings!, to: Cloister.Monitor
  defdelegate siblings!(monitor), to: Cloister.Monitor

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
  def state(monitor \\ Cloister.Monitor), do: Cloister.Monitor.struct(monitor)

  @doc """
  The monitor's state machine, shaped like Finitomata's state in Cloister:
  `%{current: status, history: [previous statuses, latest first], payload:
  %Cloister.Monitor{}}`; `nil` when the monitor is not running.
  """
  @spec fsm_state(module()) :: nil | %{current: atom(), history: [atom()], payload: Cloister.Monitor.t()}
  def fsm_state(monitor \\ Cloister.Monitor) do
    case Cloister.Monitor.fsm(monitor) do
      nil -> nil
      {current, history, _} -> %{current: current, history: history, payload: state(monitor)}
    end
  end

  @doc "Every sibling's `state/0`: `{states, bad_nodes}` (`multiapply/3`)."
  @spec states(module()) :: {[Cloister.Monitor.t()], [node()]}
  def states(monitor \\ Cloister.Monitor), do: multiapply(Cloister, :state, [monitor])

  @doc """
  As Cloister's code does: `{:ok, state}` with the `%Cloister.Monitor{}`
  of the one sibling that is the sentry (`states/1` split on `sentry?`),
  `{:error, states}` with those that claim it otherwise (none while the
  cluster has no elected sentry).
  """
  @spec sentry(module()) :: {:ok, Cloister.Monitor.t()} | {:error, [Cloister.Monitor.t()]}
  def sentry(monitor \\ Cloister.Monitor) do
    monitor
    |> states()
    |> elem(0)
    |> Enum.split_with(&match?(%Cloister.Monitor{sentry?: true}, &1))
    |> case do
      {[sentry], _} -> {:ok, sentry}
      {unexpected, _} -> {:error, unexpected}
    end
  end

  defp otp_app, do: Application.get_env(:cloister, :otp_app, :cloister)
end
