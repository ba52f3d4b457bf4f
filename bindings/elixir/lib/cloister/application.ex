defmodule Cloister.Application do
  @moduledoc """
  The `:cloister` application, as Elixir Cloister's: `start/2` starts
  `Cloister.Manager`; the start phase `:warming_up` waits until the
  cluster is ready (the agents agree, every member is connected over
  distribution, and the listener's `:ready` call has returned);
  `prep_stop/1` delivers `:stopping` to the listener.

  It waits as long as it takes, like Cloister; `config :cloister,
  ready_timeout: ms` bounds it (the start then fails with
  `{:not_ready, :timeout}` or `{:not_ready, {:not_connected, nodes}}`).
  """
  use Application
  require Logger

  @impl Application
  def start(_type, _args) do
    Supervisor.start_link([{Cloister.Manager, []}], strategy: :one_for_all, name: Cloister.Supervisor)
    |> case do
      {:ok, pid} -> {:ok, pid}
      {:error, {:shutdown, {:failed_to_start_child, Cloister.Manager, why}}} -> {:error, unwrap(why)}
      other -> other
    end
  end

  defp unwrap({:shutdown, {:failed_to_start_child, :cloister_sup, why}}), do: unwrap(why)
  defp unwrap({:shutdown, {:failed_to_start_child, :cloister_agent, why}}), do: why
  defp unwrap(why), do: why

  @doc """
  `:warming_up` waits for the cluster (the consensus may be given as
  `consensus:` in the phase's arguments); `:rehash_on_up` is a no-op kept
  for applications that list it.  Call it from your own application's
  start phase when `Cloister.Manager` is embedded.
  """
  @impl Application
  def start_phase(:warming_up, _type, phase_args) do
    if c = Keyword.get(List.wrap(phase_args), :consensus),
      do: Application.put_env(:cloister, :consensus, c)

    monitor = Application.get_env(:cloister, :monitor_name, Cloister.Monitor)
    timeout = Application.get_env(:cloister, :ready_timeout, :infinity)
    consensus = consensus()
    Logger.info("[cloister #{node()}] warming up, waiting for consensus [#{consensus}]")
    now = System.monotonic_time(:millisecond)
    deadline = if timeout == :infinity, do: :infinity, else: now + timeout
    wait_ready(monitor, deadline, now + 10_000)
  end

  def start_phase(:rehash_on_up, _type, _args), do: :ok

  @impl Application
  def prep_stop(state) do
    Cloister.Monitor.stopping(Application.get_env(:cloister, :monitor_name, Cloister.Monitor))
    state
  end

  defp wait_ready(monitor, deadline, next_log) do
    case Cloister.Monitor.fsm(monitor) do
      {_, _, :ready} ->
        Logger.info("[cloister #{node()}] ready: #{inspect(Cloister.siblings())}")
        :ok

      nil ->
        {:error, {:not_ready, :cloister_not_running}}

      {current, _, _} ->
        now = System.monotonic_time(:millisecond)
        why = why_not_ready()

        next_log =
          if now >= next_log do
            Logger.warning(
              "[cloister #{node()}] still #{current}, waiting: #{inspect(why)}, " <>
                "members #{inspect(Cloister.siblings())}, connected #{inspect(Node.list())}"
            )

            now + 10_000
          else
            next_log
          end

        if now >= deadline do
          Logger.error("[cloister #{node()}] not ready in time: #{inspect(why)}")

          case why do
            {_, [_ | _] = nc} -> {:error, {:not_ready, {:not_connected, nc}}}
            _ -> {:error, {:not_ready, :timeout}}
          end
        else
          Process.sleep(100)
          wait_ready(monitor, deadline, next_log)
        end
    end
  end

  defp why_not_ready do
    :cloister_agent.why_not_ready()
  catch
    :exit, _ -> :agent_down
  end

  @doc false
  def consensus do
    case Application.get_env(:cloister, :consensus, 1) do
      {:majority, n} -> n
      "majority:" <> n -> String.to_integer(n)
      n -> n
    end
  end
end
