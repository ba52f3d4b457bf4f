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
end
