defmodule Cloister.Listener do
  @moduledoc """
  The behaviour of `Cloister` listeners (the `listener` setting), as in
  Elixir's Cloister: `on_state_change/3` is called on every status change
  of this node, in order, with the status left, the status entered and
  the `%Cloister.Monitor{}` state; the `:ready` call returns before the
  application's start does.

  Statuses: `:down`, `:assembling`, `:rehashing`, `:ready`, `:election`,
  `:nonode`, `:stopping`, `:stopped` (see `Cloister.Monitor`).

  Listeners written for Cloister before 0.18 export `on_state_change/2`
  instead, `(from, %Cloister.Monitor{status: to})` with the statuses of
  that API (`:joined`, `:rehashing`, `:up`, `:stopping`, `:down`); when a
  module exports both, `/2` is called, as Cloister does.
  """

  @callback on_state_change(
              from :: Cloister.Monitor.status(),
              to :: Cloister.Monitor.status(),
              state :: Cloister.Monitor.t()
            ) :: :ok

  @callback on_state_change(
              from :: Cloister.Monitor.article_status(),
              state :: Cloister.Monitor.t()
            ) :: :ok

  @optional_callbacks on_state_change: 2, on_state_change: 3
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
  # listener runs in the monitor instead, so it may call any Cloister
  # function without waiting on the process that called it.
  def on_state_change(from, to, _erlang_state) do
    GenServer.cast(monitor(), {:state_change, from, to})
  end

  def on_sentry_change(old, new), do: GenServer.cast(monitor(), {:sentry_change, old, new})

  defp monitor, do: Application.get_env(:cloister, :monitor_name, Cloister.Monitor)
end
