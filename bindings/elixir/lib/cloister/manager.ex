defmodule Cloister.Manager do
  @moduledoc """
  Cloister's supervision tree, to embed in your own (Elixir Cloister's
  `Cloister.Manager`): put `:cloister` in `included_applications`, add
  `{Cloister.Manager, state: [otp_app: :my_app]}` to a supervisor, and
  wait for the cluster in your application's start phase with
  `Cloister.Application.start_phase(:warming_up, type, [])`.

  Children, `rest_for_one`: the monitor (listener calls), the agent's
  Erlang supervisor (the agent, distribution, the mesh), then
  `additional_modules`.
  """
  use Supervisor

  @doc "Starts the cloister manager process in the supervision tree"
  @spec start_link(keyword()) :: Supervisor.on_start()
  def start_link(opts \\ []) do
    {state, opts} = Keyword.pop(opts, :state, [])
    Supervisor.start_link(__MODULE__, state, Keyword.put_new(opts, :name, __MODULE__))
  end

  @impl Supervisor
  def init(state) do
    for {k, v} <- state, k in [:otp_app, :additional_modules, :monitor_opts],
        do: Application.put_env(:cloister, k, v)

    Cloister.Config.validate!(Application.get_all_env(:cloister))
    Cloister.Config.apply!()
    monitor = Application.get_env(:cloister, :monitor_name, Cloister.Monitor)

    additional =
      Application.get_env(:cloister, :additional_modules, [])
      |> Enum.filter(&match?({:module, _}, Code.ensure_compiled(&1)))

    children =
      [
        {Cloister.Monitor, name: monitor},
        %{id: :cloister_sup, start: {:cloister_sup, :start_link, []}, type: :supervisor}
      ] ++ additional

    Supervisor.init(children, strategy: :rest_for_one)
  end
end
