defmodule Cloister.Listener do
  @moduledoc """
  The behaviour of `Cloister` listeners (the `listener` setting), as in
  Elixir's Cloister: `on_state_change/3` is called on every status change
  of this node, in order, with the status left, the status entered and
  the `%Cloister.Monitor{}` state.

  Statuses: `:down`, `:assembling`, `:rehashing`, `:ready`, `:stopping`,
  `:stopped` (Elixir Cloister also has `:nonode`; here a node without
  network goes `:down → … → :ready` like any other).
  """

  @callback on_state_change(
              from :: Cloister.Monitor.status(),
              to :: Cloister.Monitor.status(),
              state :: Cloister.Monitor.t()
            ) :: :ok
end

defmodule Cloister.Listener.Default do
  @moduledoc "The listener used when none is configured: logs each change."
  @behaviour Cloister.Listener
  require Logger

  @impl Cloister.Listener
  def on_state_change(from, to, state) do
    Logger.debug("[cloister #{node()}] #{from} → #{to}: #{inspect(state)}")
    :ok
  end
end

defmodule Cloister.Listener.Bridge do
  @moduledoc false
  # The Erlang half calls this from inside its agent process; the Elixir
  # listener runs in Cloister.Monitor instead, so it may call any Cloister
  # function without waiting on the process that called it.
  def on_state_change(from, to, _erlang_state) do
    GenServer.cast(Cloister.Monitor, {:state_change, from, to})
  end
end
