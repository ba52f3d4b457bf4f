defmodule Cloister.Application do
  @moduledoc false
  # The :cloister application's callback in the Elixir build.  It maps
  # Elixir Cloister's configuration onto the Erlang half's settings, then
  # runs, under one supervisor:
  #   * Cloister.Monitor: calls the Elixir listener with %Cloister.Monitor{}
  #   * the Erlang application's own start (:cloister_app.start/2): the
  #     agent, distribution, the mesh, and the wait until the cluster is
  #     ready (its start returns only then, like Cloister's warming_up).
  #   * `additional_modules`, as Cloister.Manager started them.
  use Application
  require Logger

  @impl Application
  def start(type, args) do
    Cloister.Config.apply!()

    children =
      [
        Cloister.Monitor,
        %{
          id: :cloister_sup,
          start: {:cloister_app, :start, [type, args]},
          type: :supervisor,
          shutdown: :infinity
        }
      ] ++ Application.get_env(:cloister, :additional_modules, [])

    case Supervisor.start_link(children, strategy: :one_for_one, name: Cloister.Supervisor) do
      {:ok, pid} -> {:ok, pid}
      {:error, {:shutdown, {:failed_to_start_child, :cloister_sup, why}}} -> {:error, why}
      other -> other
    end
  end

  @impl Application
  def stop(state), do: :cloister_app.stop(state)

  @doc false
  def consensus do
    case Application.get_env(:cloister, :consensus, 1) do
      {:majority, n} -> n
      "majority:" <> n -> String.to_integer(n)
      n -> n
    end
  end
end
