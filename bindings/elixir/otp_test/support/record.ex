defmodule OtpTest.Record do
  @moduledoc false
  # What a test node saw, appended to $OTP_TEST_DIR/NODE as Erlang terms
  # ({Seq, Term}), so the driver reads it even after the node is gone
  # (:stopping is delivered while the node shuts down).
  def put(term) do
    case System.get_env("OTP_TEST_DIR") do
      nil ->
        :ok

      dir ->
        seq = :erlang.unique_integer([:monotonic, :positive])
        line = :io_lib.format("~0p.~n", [{seq, term}])
        File.write!(Path.join(dir, Atom.to_string(node())), line, [:append])
    end
  end
end

defmodule OtpTest.Echo do
  @moduledoc false
  # The target of Cloister.multicast/multicall in the three-node runs.
  use GenServer
  def start_link(name), do: GenServer.start_link(__MODULE__, nil, name: name)
  @impl GenServer
  def init(nil), do: {:ok, nil}
  @impl GenServer
  def handle_cast({:ping, pid}, s), do: send(pid, {:pong, node()}) && {:noreply, s}
  @impl GenServer
  def handle_call(:ping, _from, s), do: {:reply, {:pong, node()}, s}
end
