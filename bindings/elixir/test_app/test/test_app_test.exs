defmodule TestAppTest do
  # Written against Elixir Cloister's public API only.
  use ExUnit.Case

  defp eventually(fun, tries \\ 50) do
    cond do
      fun.() -> true
      tries == 0 -> false
      true -> Process.sleep(100) && eventually(fun, tries - 1)
    end
  end

  test "the cloister is assembled before the application runs" do
    assert %Cloister.Monitor{otp_app: :test_app, consensus: 1, alive?: true,
                             listener: TestApp.Listener} = Cloister.state()
    assert Cloister.siblings() == [node()]
  end

  test "whois and mine? place every term on this node" do
    for key <- [:a, "order:42", {:user, 7}, 123] do
      assert Cloister.whois(key) == node()
      assert Cloister.mine?(key)
    end
  end

  test "the sentry is this node" do
    assert {:ok, %Cloister.Monitor{node: n, sentry?: true}} = Cloister.sentry()
    assert n == node()
  end

  test "multicast reaches the registered process" do
    assert Cloister.multicast(TestApp.Echo, {:ping, self()}) == :abcast
    assert_receive {:"$gen_cast", {:pong, n}}, 5_000
    assert n == node()
    assert Cloister.multicast([node()], TestApp.Echo, {:ping, self()}) == :abcast
    assert_receive {:"$gen_cast", {:pong, _}}, 5_000
  end

  test "multicall gathers the replies" do
    assert Cloister.multicall(TestApp.Echo, {:ping, self()}) == [{:pong, node()}]
    assert Cloister.multicall([node()], TestApp.Echo, {:ping, self()}) == [{:pong, node()}]
  end

  test "multiapply runs on the siblings" do
    assert Cloister.multiapply(Kernel, :+, [1, 2]) == {[3], []}
    assert Cloister.multiapply([node()], String, :upcase, ["ok"]) == {["OK"], []}
    assert {[%Cloister.Monitor{}], []} = Cloister.states()
  end

  test "the listener saw the cloister become ready" do
    assert eventually(fn ->
             Enum.any?(TestApp.Listener.transitions(), &match?({_, :ready, _}, &1))
           end)

    [{from, _, %Cloister.Monitor{otp_app: :test_app}} | _] = TestApp.Listener.transitions()
    assert from == :down
  end

  test "a sentry change while ready goes through :election, as the original's FSM" do
    Application.put_env(:cloister, :sentry_handler, self())
    before = length(TestApp.Listener.transitions())
    GenServer.cast(Cloister.Monitor, {:sentry_change, "old", "new"})
    assert_receive {:sentry_changed, _}, 5_000

    assert eventually(fn -> length(TestApp.Listener.transitions()) >= before + 2 end)
    calls = for {f, t, _} <- Enum.drop(TestApp.Listener.transitions(), before), do: {f, t}
    assert calls == [ready: :election, election: :ready]
    assert %{current: :ready, history: [:election, :ready | _]} = Cloister.fsm_state()
  after
    Application.delete_env(:cloister, :sentry_handler)
  end

  test "the start phase returned after the listener's :ready call; fsm_state has the history" do
    assert %{current: :ready, history: history, payload: %Cloister.Monitor{status: :ready}} =
             Cloister.fsm_state()

    assert Enum.take(Enum.reverse(history), 3) == [:down, :assembling, :rehashing]
    assert Enum.any?(TestApp.Listener.transitions(), &match?({:rehashing, :ready, _}, &1))
  end

  test "configuration is validated as the original's schema does" do
    assert :ok = Cloister.Config.validate!(otp_app: :a, sentry: ~w[a@h b@h]a, consensus: 2, magic?: :nohost)
    assert_raise ArgumentError, ~r/unknown option :sentri/, fn -> Cloister.Config.validate!(sentri: :x) end
    assert_raise ArgumentError, ~r/:sentry: expected/, fn -> Cloister.Config.validate!(sentry: []) end
    assert_raise ArgumentError, ~r/:consensus/, fn -> Cloister.Config.validate!(consensus: -1) end
    assert_raise ArgumentError, ~r/:magic\?/, fn -> Cloister.Config.validate!(magic?: :yes) end
    assert_raise ArgumentError, ~r/:loopback\?/, fn -> Cloister.Config.validate!(loopback?: 1) end
  end
end
