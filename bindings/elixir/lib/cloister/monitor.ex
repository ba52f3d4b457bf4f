defmodule Cloister.Monitor do
  @moduledoc """
  This node's view of the cloister, shaped like Elixir Cloister's
  `%Cloister.Monitor{}` (the same fields, plus `status`), and the process
  that calls the configured `Cloister.Listener` on every status change, in
  the order Cloister's own state machine goes through them.

  Statuses (Cloister 0.18's FSM states): `:down → :assembling →
  :rehashing → :ready`, back to `:rehashing` when a member comes or goes,
  `:ready → :election → :ready` when the sentry changes, `:nonode` while
  distribution is stopped under a running cloister, `:stopping →
  :stopped` at shutdown.  `:ready` means the agents agree *and* every
  member is connected over Erlang distribution.

  A listener exporting `on_state_change/2` (Cloister before 0.12, the
  article's API; called instead of `/3` when both are exported, as
  Cloister does) gets that era's statuses: `(:starting, %{status:
  :joined})`, `(:joined, %{status: :rehashing})`, `(:rehashing, %{status:
  :up})`, `(:up, %{status: :rehashing})` while members come and go, and
  `(:up, %{status: :stopping})`, `(:stopping, %{status: :down})` at
  shutdown.
  """
  use GenServer
  require Logger

  @type status ::
          :down | :assembling | :rehashing | :ready | :election | :nonode | :stopping | :stopped
  @type article_status :: :starting | :joined | :up | :rehashing | :stopping | :down
  @type node_type :: :longnames | :shortnames | :nonode

  @type t :: %__MODULE__{
          otp_app: atom(),
          node: node(),
          consensus: pos_integer(),
          listener: module(),
          monitor: module(),
          started_at: DateTime.t() | nil,
          alive?: boolean(),
          clustered?: boolean(),
          sentry?: boolean(),
          ring: atom(),
          status: status() | article_status()
        }

  defstruct otp_app: :cloister,
            node: nil,
            consensus: 1,
            listener: nil,
            monitor: nil,
            started_at: nil,
            alive?: false,
            clustered?: false,
            sentry?: false,
            ring: nil,
            status: :down

  @table :cloister_monitor_fsm
  @order [:down, :assembling, :rehashing, :ready]

  @doc false
  def start_link(opts \\ []) do
    name = Keyword.get(opts, :name, __MODULE__)
    GenServer.start_link(__MODULE__, name, name: name)
  end

  @doc """
  The monitor's internal state, as Cloister's: `%{fsm: name, ring: ring,
  groups: [ring: nodes, cluster: connected nodes]}` (`nil` when the
  monitor is not running).
  """
  @spec state(GenServer.server()) :: nil | map()
  def state(name \\ __MODULE__) do
    case fsm(name) do
      nil ->
        nil

      _ ->
        %{fsm: fsm_name(name), ring: Cloister.ring(), groups: groups()}
    end
  end

  @doc false
  def fsm_name(name), do: "monitor_#{inspect(name)}"

  @doc "The nodes on this cloister's ring (alive members), this one included, sorted."
  @spec siblings(GenServer.server()) :: [node()]
  def siblings(_name \\ __MODULE__), do: Cloister.Node.alive_nodes()

  @doc false
  @doc deprecated: "Use siblings/1 instead"
  def siblings!(name \\ __MODULE__), do: siblings(name)

  @doc "`[ring: nodes, cluster: [node() | Node.list()]]`, as Cloister's `nodes!/1`."
  @doc deprecated: "Use siblings/0 instead"
  def nodes!(_timeout \\ 1_000), do: groups()

  defp groups, do: [ring: Cloister.Node.alive_nodes(), cluster: [node() | Node.list()]]

  @doc false
  # {current, history, delivered}: delivered is the last status whose
  # listener call has returned.
  def fsm(name \\ __MODULE__) do
    case :ets.whereis(@table) do
      :undefined ->
        nil

      _ ->
        case :ets.lookup(@table, name) do
          [{^name, current, history, delivered}] -> {current, history, delivered}
          [] -> nil
        end
    end
  end

  @doc "The `%Cloister.Monitor{}` of this node now (`nil` before the application started)."
  @spec struct(GenServer.server()) :: t() | nil
  def struct(name \\ __MODULE__) do
    case fsm(name) do
      nil -> nil
      {current, _, _} -> build(current, name)
    end
  end

  @doc false
  def build(status, monitor \\ __MODULE__) do
    env = Application.get_all_env(:cloister)
    alive? = status in [:rehashing, :ready, :election]
    otp_app = Keyword.get(env, :otp_app, :cloister)

    %__MODULE__{
      otp_app: otp_app,
      node: node(),
      consensus: Cloister.Application.consensus(),
      listener: Keyword.get(env, :elixir_listener, Cloister.Listener.Default),
      monitor: monitor,
      started_at: :persistent_term.get({__MODULE__, monitor, :started_at}, nil),
      alive?: alive?,
      clustered?: alive? and Node.alive?(),
      sentry?: alive? and Cloister.Node.sentry() == node(),
      ring: Keyword.get(env, :ring_name, otp_app),
      status: status
    }
  end

  @doc false
  # Delivers :stopping to the listener before the application stops
  # (Cloister's prep_stop).
  def stopping(name \\ __MODULE__) do
    GenServer.call(name, :stopping, 30_000)
  catch
    :exit, _ -> :ok
  end

  @impl GenServer
  def init(name) do
    Process.flag(:trap_exit, true)

    if :ets.whereis(@table) == :undefined,
      do: :ets.new(@table, [:named_table, :public, :set, read_concurrency: true])

    :persistent_term.put({__MODULE__, name, :started_at}, DateTime.utc_now())
    :ets.insert(@table, {name, :down, [], :down})
    :timer.send_interval(1_000, :check_distribution)

    {:ok,
     %{
       name: name,
       fsm: :down,
       history: [],
       article: :starting,
       distributed?: Node.alive?()
     }}
  end

  @impl GenServer
  def handle_cast({:state_change, _from, to}, st), do: {:noreply, advance(st, to)}

  def handle_cast({:sentry_change, _old, new}, st) do
    notify_sentry_handler(new)
    if st.fsm == :ready, do: {:noreply, st |> step(:election) |> step(:ready)}, else: {:noreply, st}
  end

  @impl GenServer
  def handle_call(:stopping, _from, st), do: {:reply, :ok, advance(st, :stopping)}

  @impl GenServer
  # Distribution stopped under a running cloister: :nonode until it is
  # back, then assembling again (Cloister's `nonode` and `rehash!`).
  def handle_info(:check_distribution, %{distributed?: true, fsm: fsm} = st)
      when fsm in [:rehashing, :ready] do
    if Node.alive?(), do: {:noreply, st}, else: {:noreply, step(st, :nonode)}
  end

  def handle_info(:check_distribution, %{fsm: :nonode} = st) do
    if Node.alive?(),
      do: {:noreply, st |> step(:assembling) |> advance(Cloister.Node.status())},
      else: {:noreply, st}
  end

  def handle_info(:check_distribution, st),
    do: {:noreply, %{st | distributed?: st.distributed? or Node.alive?()}}

  def handle_info(_, st), do: {:noreply, st}

  @impl GenServer
  def terminate(_reason, st) do
    st = advance(st, :stopped)
    :ets.delete(@table, st.name)
    :ok
  end

  # The original's `sentry_handler` (a pid, a name or {name, node}) gets
  # {:sentry_changed, node} when the cluster's sentry changes.
  defp notify_sentry_handler(new) do
    case Application.get_env(:cloister, :sentry_handler) do
      nil ->
        :ok

      dest when is_pid(dest) or is_atom(dest) or is_tuple(dest) ->
        node = if is_binary(new), do: Cloister.Node.sentry() || String.to_atom(new), else: nil
        send(dest, {:sentry_changed, node})

      _ ->
        :ok
    end
  rescue
    _ -> :ok
  end

  # Every status between the current one and `to`, in the FSM's order: a
  # listener never misses a step even when the agent reported two at once.
  defp advance(%{fsm: from} = st, to), do: Enum.reduce(path(from, to), st, &step(&2, &1))

  defp path(same, same), do: []
  defp path(:stopped, _), do: []
  defp path(:stopping, :stopped), do: [:stopped]
  defp path(:stopping, _), do: []
  defp path(_, :stopped), do: [:stopping, :stopped]
  defp path(_, :stopping), do: [:stopping]
  defp path(:nonode, _), do: []
  defp path(:election, to), do: path(:ready, to)

  defp path(from, to) do
    fi = Enum.find_index(@order, &(&1 == from))
    ti = Enum.find_index(@order, &(&1 == to))

    if fi && ti && ti > fi, do: Enum.slice(@order, (fi + 1)..ti), else: [to]
  end

  defp step(%{fsm: from, name: name} = st, to) do
    history = [from | st.history] |> Enum.take(32)
    :ets.update_element(@table, name, [{2, to}, {3, history}])
    st = %{st | fsm: to, history: history} |> notify(from, to)
    :ets.update_element(@table, name, {4, to})
    st
  end

  # Cloister 0.11's statuses, for listeners with on_state_change/2.
  defp article(:assembling), do: :joined
  defp article(:rehashing), do: :rehashing
  defp article(:ready), do: :up
  defp article(:stopping), do: :stopping
  defp article(:stopped), do: :down
  defp article(_), do: nil

  defp notify(st, from, to) do
    listener = Application.get_env(:cloister, :elixir_listener, Cloister.Listener.Default)
    Code.ensure_loaded(listener)

    cond do
      function_exported?(listener, :on_state_change, 2) ->
        case article(to) do
          art when is_nil(art) or art == st.article ->
            st

          art ->
            safely(listener, fn ->
              listener.on_state_change(st.article, %{build(to, st.name) | status: art})
            end)

            %{st | article: art}
        end

      function_exported?(listener, :on_state_change, 3) ->
        safely(listener, fn -> listener.on_state_change(from, to, build(to, st.name)) end)
        st

      true ->
        Logger.error("cloister: listener #{inspect(listener)} has no on_state_change/2,3")
        st
    end
  end

  defp safely(listener, fun) do
    fun.()
  rescue
    e ->
      Logger.error(
        "cloister: listener #{inspect(listener)} crashed: " <>
          Exception.format(:error, e, __STACKTRACE__)
      )
  catch
    kind, why ->
      Logger.error("cloister: listener #{inspect(listener)} failed: #{inspect({kind, why})}")
  end
end
