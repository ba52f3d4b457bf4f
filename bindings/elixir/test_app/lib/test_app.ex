defmodule TestApp.Application do
  @moduledoc false
  use Application

  @impl Application
  def start(_type, _args) do
    Supervisor.start_link([TestApp.Echo], strategy: :one_for_one, name: TestApp.Supervisor)
  end
end

defmodule TestApp.Echo do
  @moduledoc "Answers pings: the target of Cloister.multicast/multicall."
  use GenServer

  def start_link(_), do: GenServer.start_link(__MODULE__, nil, name: __MODULE__)

  @impl GenServer
  def init(nil), do: {:ok, nil}

  @impl GenServer
  def handle_cast({:ping, from}, state) do
    GenServer.cast(from, {:pong, node()})
    {:noreply, state}
  end

  @impl GenServer
  def handle_call({:ping, _from}, _caller, state), do: {:reply, {:pong, node()}, state}
end

defmodule TestApp.Listener do
  @moduledoc "Records every cloister status change it is told about."
  @behaviour Cloister.Listener

  @impl Cloister.Listener
  def on_state_change(from, to, %Cloister.Monitor{} = state) do
    seen = Application.get_env(:test_app, :transitions, [])
    Application.put_env(:test_app, :transitions, seen ++ [{from, to, state}])
    :ok
  end

  def transitions, do: Application.get_env(:test_app, :transitions, [])
end
