defmodule Cloister.Monitor do
  @moduledoc """
  This node's view of the cloister, shaped like Elixir Cloister's
  `%Cloister.Monitor{}` (the same fields, plus `status`), and the process
  that calls the configured `Cloister.Listener` on every status change.

  `Cloister.state/0` returns the struct.
  """
  use GenServer
  require Logger

  @type status :: :down | :assembling | :rehashing | :ready | :stopping | :stopped
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
          status: status()
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

  @doc false
  def start_link(opts \\ []) do
    name = Keyword.get(opts, :name, __MODULE__)
    GenServer.start_link(__MODULE__, name, name: name)
  end

  @doc "The `%Cloister.Monitor{}` of this node now (`nil` before the application started)."
  @spec state(GenServer.server()) :: t() | nil
  def state(monitor \\ __MODULE__) do
    case Process.whereis(monitor) do
      nil -> nil
      _ -> build(Cloister.Node.status(), monitor)
    end
  end

  @doc false
  def build(status, monitor \\ __MODULE__) do
    env = Application.get_all_env(:cloister)
    alive? = status in [:rehashing, :ready]
    otp_app = Keyword.get(env, :otp_app, :cloister)

    %__MODULE__{
      otp_app: otp_app,
      node: node(),
      consensus: Cloister.Application.consensus(),
      listener: Keyword.get(env, :elixir_listener, Cloister.Listener.Default),
      monitor: monitor,
      started_at: :persistent_term.get({__MODULE__, :started_at}, nil),
      alive?: alive?,
      clustered?: alive? and Node.alive?(),
      sentry?: alive? and Cloister.Node.sentry() == node(),
      ring: Keyword.get(env, :ring_name, otp_app),
      status: status
    }
  end

  @impl GenServer
  def init(name) do
    :persistent_term.put({__MODULE__, :started_at}, DateTime.utc_now())
    {:ok, name}
  end

  @impl GenServer
  def handle_cast({:state_change, from, to}, name) do
    listener = Application.get_env(:cloister, :elixir_listener, Cloister.Listener.Default)
    state = build(to, name)
    Code.ensure_loaded(listener)

    try do
      cond do
        function_exported?(listener, :on_state_change, 3) ->
          listener.on_state_change(from, to, state)

        # Elixir Cloister before 0.18 called on_state_change(from, state).
        function_exported?(listener, :on_state_change, 2) ->
          listener.on_state_change(from, state)

        true ->
          Logger.error("cloister: listener #{inspect(listener)} has no on_state_change/3")
      end
    rescue
      e ->
        Logger.error("cloister: listener #{inspect(listener)} crashed: " <>
                       Exception.format(:error, e, __STACKTRACE__))
    catch
      kind, why ->
        Logger.error("cloister: listener #{inspect(listener)} failed: #{inspect({kind, why})}")
    end

    {:noreply, name}
  end
end
