defmodule ArticleApp.Application do
  @moduledoc false
  use Application

  @impl Application
  def start(_type, _args) do
    OtpTest.Record.put({:app_started, Cloister.fsm_state().current, Enum.sort(Node.list())})
    Supervisor.start_link([{OtpTest.Echo, ArticleApp.Echo}], strategy: :one_for_one)
  end
end

defmodule ArticleApp.Listener do
  @moduledoc "The article's listener: work that needs the whole cluster starts on :up."
  @behaviour Cloister.Listener

  @impl Cloister.Listener
  def on_state_change(from, %Cloister.Monitor{status: :up}) do
    # The article rebuilds mnesia's schema here; the test notes who it sees.
    OtpTest.Record.put({:listener, from, :up, Enum.sort(Node.list())})
    :ok
  end

  def on_state_change(from, %Cloister.Monitor{status: status}) do
    OtpTest.Record.put({:listener, from, status, Enum.sort(Node.list())})
    :ok
  end
end
