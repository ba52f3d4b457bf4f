defmodule TestApp.ClusterTest do
  # Two members (TEST_APP_SENTRY lists both); the other one runs the same
  # application.  Written against Elixir Cloister's public API only.
  use ExUnit.Case
  @moduletag :cluster

  defp other, do: hd(Cloister.siblings() -- [node()])

  test "both members are siblings and distributed" do
    assert length(Cloister.siblings()) == 2
    assert other() in Node.list()
    assert %Cloister.Monitor{alive?: true, clustered?: true, status: :ready} = Cloister.state()
  end

  test "placement agrees on both nodes and splits the keys" do
    keys = for i <- 1..200, do: "order:#{i}"
    here = Enum.map(keys, &Cloister.whois/1)
    there = :rpc.call(other(), Enum, :map, [keys, &Cloister.whois/1])
    assert here == there
    assert Enum.sort(Enum.uniq(here)) == Enum.sort(Cloister.siblings())
    mine = Enum.count(keys, &Cloister.mine?/1)
    assert mine > 0 and mine < 200
  end

  test "one sentry, the same for both" do
    assert {:ok, %Cloister.Monitor{node: s}} = Cloister.sentry()
    assert s in Cloister.siblings()
    assert {:ok, %Cloister.Monitor{node: ^s}} = :rpc.call(other(), Cloister, :sentry, [])
    assert {states, []} = Cloister.states()
    assert Enum.count(states, & &1.sentry?) == 1
  end

  test "multicast and multicall reach both members" do
    assert Cloister.multicast(TestApp.Echo, {:ping, self()}) == :abcast
    assert_receive {:"$gen_cast", {:pong, a}}, 5_000
    assert_receive {:"$gen_cast", {:pong, b}}, 5_000
    assert Enum.sort([a, b]) == Enum.sort(Cloister.siblings())

    replies = Cloister.multicall(TestApp.Echo, {:ping, self()})
    assert Enum.sort(replies) == Enum.sort(for n <- Cloister.siblings(), do: {:pong, n})
    replies = Cloister.multicall(Cloister.siblings(), TestApp.Echo, {:ping, self()})
    assert length(replies) == 2
    assert {[3, 3], []} = Cloister.multiapply(Kernel, :+, [1, 2])
  end
end
