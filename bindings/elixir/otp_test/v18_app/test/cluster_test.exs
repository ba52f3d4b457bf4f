defmodule V18App.ClusterTest do
  # Runs on v18_app_0@127.0.0.1 under `mix cloister.test -n 3`.
  use ExUnit.Case

  test "the cloister of three is assembled and connected before the tests run" do
    assert %{current: :ready} = Cloister.fsm_state()
    assert [_, _, _] = siblings = Cloister.siblings()
    assert Enum.sort(Node.list()) == siblings -- [node()]
    assert length(Cloister.multicall(V18App.Echo, :ping)) == 3
  end

  test "whois agrees on every node" do
    keys = for i <- 1..200, do: "t-#{i}"
    here = Enum.map(keys, &Cloister.whois/1)

    for n <- Node.list() do
      assert :rpc.call(n, Enum, :map, [keys, &Cloister.whois/1]) == here
    end
  end
end
