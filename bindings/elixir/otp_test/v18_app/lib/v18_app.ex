defmodule V18App.Application do
  @moduledoc false
  use Application

  @impl Application
  def start(_type, _args) do
    OtpTest.Record.put({:app_started, Cloister.fsm_state().current, Enum.sort(Node.list())})
    Supervisor.start_link([{OtpTest.Echo, V18App.Echo}], strategy: :one_for_one)
  end
end

defmodule V18App.Listener do
  @moduledoc "Cloister 0.18's listener: every FSM transition."
  @behaviour Cloister.Listener

  @impl Cloister.Listener
  def on_state_change(from, to, %Cloister.Monitor{}) do
    OtpTest.Record.put({:listener, from, to, Enum.sort(Node.list())})
    :ok
  end
end
