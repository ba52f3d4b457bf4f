# Three BEAMs of one application on this host, named as Cloister's docs
# name them (a@127.0.0.1, b@127.0.0.1, c@127.0.0.1), with nothing in their
# config but the application's own `config :cloister` block.  Run by
# run.sh as a hidden node (so it is in nobody's Node.list()):
#
#   elixir --name driver@127.0.0.1 --cookie C --erl -hidden three.exs APP DIR WORK [MIXED]
#
# APP is article_app (on_state_change/2, the article's statuses) or
# v18_app (on_state_change/3, Cloister 0.18's FSM states); MIXED, when
# given, is the C program that joins as a fourth kind of member at the
# end.  Every wait is bounded; every BEAM is stopped by its OS pid.
# Prints PASS/FAIL lines; exits 0 when everything passed.

defmodule Three do
  @nodes [:"a@127.0.0.1", :"b@127.0.0.1", :"c@127.0.0.1"]
  @keys for i <- 1..1000, do: "key-#{i}"

  def main([app, dir, work | rest]) do
    Process.flag(:trap_exit, true)
    st = %{app: app, dir: dir, work: work, pids: %{}, ports: %{}, mixed: List.first(rest)}
    :ets.new(:three, [:named_table, :public])
    :ets.insert(:three, {:st, st})

    code =
      try do
        run(st)
        IO.puts("ALL PASS (#{app})")
        0
      rescue
        e ->
          IO.puts("FAIL #{Exception.format(:error, e, __STACKTRACE__)}")
          1
      end

    cleanup()
    System.halt(code)
  end

  defp run(st) do
    {up, dn} = expected(st.app)
    t0 = now()
    Enum.each(@nodes, &start_beam(st, &1))
    wait(90_000, "all three applications started", fn -> Enum.all?(@nodes, &started?(st, &1)) end)
    pass("three BEAMs started their application in #{now() - t0} ms")

    # 1. Ready only with three connected; the listener's calls in
    # Cloister's order, the :ready one finished before the application's
    # start ran.
    for n <- @nodes do
      others = @nodes -- [n]
      recs = records(st, n)
      {before, [{:app_started, :ready, seen} | _]} = Enum.split_while(recs, &(elem(&1, 0) != :app_started))
      check(seen == others, "#{n}: its application started with Node.list() = #{inspect(seen)}")
      calls = for {:listener, f, t, _} <- before, do: {f, t}
      check(calls == up, "#{n}: listener calls before the app started #{inspect(calls)}")
      {:listener, _, _, at_up} = List.last(before)
      check(at_up == others, "#{n}: at the ready call the other two were connected: #{inspect(at_up)}")
      check(Enum.sort(rpc(n, Node, :list, [])) == others, "#{n}: Node.list() = the other two")
      check(rpc(n, Cloister, :siblings, []) == @nodes, "#{n}: siblings() = all three")
    end

    whois_agree(@nodes, "three")

    # 2. multicast / multicall / multiapply reach all three.
    echo = Module.concat(Macro.camelize(st.app), Echo)
    [a, b, c] = @nodes
    check(rpc(a, Cloister, :multicast, [echo, {:ping, self()}]) == :abcast, "multicast returns :abcast")
    pongs = for _ <- 1..3, do: (receive do {:pong, n} -> n after 5_000 -> :missing end)
    check(Enum.sort(pongs) == @nodes, "multicast from #{a} reached #{inspect(Enum.sort(pongs))}")
    replies = rpc(b, Cloister, :multicall, [echo, :ping])
    check(Enum.sort(replies) == for(n <- @nodes, do: {:pong, n}), "multicall from #{b}: #{inspect(replies)}")
    {nodes, bad} = rpc(c, Cloister, :multiapply, [Kernel, :node, []])
    check(Enum.sort(nodes) == @nodes and bad == [], "multiapply from #{c}: #{inspect({nodes, bad})}")
    {:ok, %{node: s}} = rpc(a, Cloister, :sentry, [])
    check(Enum.all?(@nodes, &match?({:ok, %{node: ^s}}, rpc(&1, Cloister, :sentry, []))),
      "one sentry for all three: #{s}")

    # 3. kill -9 one BEAM: the others see it leave and rehash.
    mark = Map.new([a, b], &{&1, length(records(st, &1))})
    kill(st, c)
    wait(30_000, "#{a} and #{b} see #{c} leave", fn ->
      Enum.all?([a, b], &(rpc(&1, Cloister, :siblings, []) == [a, b]))
    end)

    for n <- [a, b] do
      wait(10_000, "#{n} rehashing", fn -> rpc(n, Cloister, :fsm_state, []).current == :rehashing end)
      after_kill = for {:listener, f, t, _} <- Enum.drop(records(st, n), mark[n]), do: {f, t}
      check(after_kill == [{dn, :rehashing}],
        "#{n}: listener saw #{inspect(after_kill)} after #{c} was killed (nothing more: two are below the consensus)")
    end

    # 4. Restarted: back in, everyone ready again.
    t1 = now()
    start_beam(st, c)
    wait(90_000, "#{c} restarted", fn -> started?(st, c) end)

    for n <- @nodes do
      wait(20_000, "#{n} ready with three", fn ->
        rpc(n, Cloister, :fsm_state, []).current == :ready and rpc(n, Cloister, :siblings, []) == @nodes
      end)
    end

    pass("#{c} restarted and all three ready again in #{now() - t1} ms")

    for n <- [a, b] do
      after_kill = for {:listener, f, t, _} <- Enum.drop(records(st, n), mark[n]), do: {f, t}
      check(after_kill == [{dn, :rehashing}, List.last(up)],
        "#{n}: listener from the kill to the restart: #{inspect(after_kill)}")
    end

    whois_agree(@nodes, "three after the restart")

    # 5. A clean stop delivers :stopping (and the final status) to the
    # listener.
    mark_c = length(records(st, c))
    stop_beam(st, c)
    tail = for {:listener, f, t, _} <- Enum.drop(records(st, c), mark_c), do: {f, t}
    expect_tail = stop_calls(st.app)
    check(tail == expect_tail, "#{c} stopped cleanly; its listener's last calls #{inspect(tail)}")
    wait(30_000, "#{a}, #{b} see #{c} leave", fn -> rpc(a, Cloister, :siblings, []) == [a, b] end)

    if st.mixed, do: mixed(st, a, b)

    for n <- [a, b], do: stop_beam(st, n)
    :ok
  end

  # A C service on libcloister joins the two BEAMs (consensus 3): the
  # BEAMs are ready with it, and the three agree on every key's owner.
  defp mixed(st, a, b) do
    {:ok, agent_a} = rpc(a, :cloister_agent, :agent_addr_of, [a])
    port = free_port(20)
    svc = "svc@127.0.0.1"

    p =
      Port.open({:spawn_executable, st.mixed}, [
        :binary,
        :exit_status,
        {:line, 1024},
        args: [svc, "127.0.0.1:#{port}", to_string(agent_a), st.app, "3"],
        env: [{~c"CLOISTER_PASSPHRASE", Atom.to_charlist(Node.get_cookie())}]
      ])

    {:os_pid, os_pid} = Port.info(p, :os_pid)
    remember(:mixed, os_pid, p)
    check(line(p, 40_000) == "ready", "the C member (#{svc}) is ready")
    members = Enum.sort([a, b, String.to_atom(svc)])

    for n <- [a, b] do
      wait(20_000, "#{n} ready with the C member", fn ->
        rpc(n, Cloister, :siblings, []) == members and rpc(n, Cloister, :fsm_state, []).current == :ready
      end)
    end

    Port.command(p, "whois #{length(@keys)}\n")
    c_owners = for _ <- @keys, do: line(p, 10_000)
    check(line(p, 10_000) == "end", "the C member answered #{length(c_owners)} keys")
    [ea, eb] = for n <- [a, b], do: rpc(n, Enum, :map, [@keys, &Cloister.whois/1]) |> Enum.map(&Atom.to_string/1)
    diff = Enum.count(Enum.zip(c_owners, ea), fn {x, y} -> x != y end)
    check(ea == eb and c_owners == ea,
      "C member, #{a} and #{b} name the same owner for all #{length(@keys)} keys (#{diff} differ)")
    counts = Enum.frequencies(ea)
    check(map_size(counts) == 3, "the keys spread over all three: #{inspect(counts)}")
    Port.close(p)
  end

  # Free for UDP and TCP both (the member listens on both; an ephemeral
  # UDP port may be some outgoing TCP connection's local port).
  defp free_port(0), do: raise("no free port on 127.0.0.1")

  defp free_port(tries) do
    {:ok, u} = :gen_udp.open(0, ip: {127, 0, 0, 1})
    {:ok, port} = :inet.port(u)
    r = :gen_tcp.listen(port, ip: {127, 0, 0, 1})
    :gen_udp.close(u)

    case r do
      {:ok, l} -> :gen_tcp.close(l) && port
      _ -> free_port(tries - 1)
    end
  end

  defp expected("article_app"), do: {[starting: :joined, joined: :rehashing, rehashing: :up], :up}
  defp expected("v18_app"), do: {[down: :assembling, assembling: :rehashing, rehashing: :ready], :ready}

  defp stop_calls("article_app"), do: [up: :stopping, stopping: :down]
  defp stop_calls("v18_app"), do: [ready: :stopping, stopping: :stopped]

  defp whois_agree(nodes, what) do
    owners = for n <- nodes, do: rpc(n, Enum, :map, [@keys, &Cloister.whois/1])
    check(length(Enum.uniq(owners)) == 1, "whois of #{length(@keys)} keys agrees on the #{what} nodes")
    counts = Enum.frequencies(hd(owners))
    check(Enum.sort(Map.keys(counts)) == Enum.sort(nodes), "owners spread: #{inspect(counts)}")
  end

  # -- BEAMs

  defp start_beam(st, n) do
    [name, _] = String.split(Atom.to_string(n), "@")
    log = Path.join(st.work, "#{st.app}-#{name}.log")

    cmd =
      "cd '#{st.dir}' && exec elixir --name #{n} --cookie #{Node.get_cookie()} " <>
        "-S mix run --no-halt --no-compile --no-deps-check >>'#{log}' 2>&1"

    port = Port.open({:spawn_executable, "/bin/sh"}, [:binary, :exit_status, args: ["-c", cmd]])
    {:os_pid, pid} = Port.info(port, :os_pid)
    remember(n, pid, port)
  end

  defp remember(n, pid, port) do
    [{:st, st}] = :ets.lookup(:three, :st)
    :ets.insert(:three, {:st, %{st | pids: Map.put(st.pids, n, pid), ports: Map.put(st.ports, n, port)}})
    File.write!(Path.join(st.work, "pids"), "#{pid}\n", [:append])
  end

  defp started?(st, n) do
    case :rpc.call(n, Application, :started_applications, [], 5_000) do
      l when is_list(l) -> List.keymember?(l, String.to_atom(st.app), 0)
      _ -> false
    end
  end

  defp kill(_st, n) do
    pid = rpc(n, System, :pid, [])
    System.cmd("kill", ["-9", pid])
    wait(10_000, "#{n} gone", fn -> :net_adm.ping(n) == :pang end)
    pass("killed #{n} (pid #{pid}) with SIGKILL")
  end

  defp stop_beam(_st, n) do
    [{:st, st}] = :ets.lookup(:three, :st)
    port = st.ports[n]
    :rpc.call(n, System, :stop, [], 5_000)

    receive do
      {^port, {:exit_status, _}} -> :ok
    after
      30_000 -> raise "#{n} did not stop within 30 s"
    end
  end

  defp cleanup do
    [{:st, st}] = :ets.lookup(:three, :st)

    for {_, pid} <- st.pids do
      System.cmd("kill", ["-9", "#{pid}"], stderr_to_stdout: true)
    end
  end

  defp line(p, timeout) do
    receive do
      {^p, {:data, {:eol, l}}} -> l
      {^p, {:exit_status, s}} -> raise "the C member exited with status #{s}"
    after
      timeout -> raise "no line from the C member within #{timeout} ms"
    end
  end

  # -- records, checks

  defp records(st, n) do
    path = Path.join(System.get_env("OTP_TEST_DIR"), Atom.to_string(n))
    _ = st

    case :file.consult(String.to_charlist(path)) do
      {:ok, terms} -> Enum.map(terms, &elem(&1, 1))
      {:error, :enoent} -> []
    end
  end

  defp rpc(n, m, f, a) do
    case :rpc.call(n, m, f, a, 15_000) do
      {:badrpc, why} -> raise "rpc #{n} #{inspect(m)}.#{f}: #{inspect(why)}"
      r -> r
    end
  end

  defp wait(ms, what, fun), do: wait(now() + ms, ms, what, fun)

  defp wait(deadline, ms, what, fun) do
    cond do
      safe(fun) -> :ok
      now() > deadline -> raise "timeout (#{ms} ms): #{what}"
      true -> Process.sleep(200) && wait(deadline, ms, what, fun)
    end
  end

  defp safe(fun) do
    fun.()
  rescue
    _ -> false
  end

  defp check(true, what), do: pass(what)
  defp check(_, what), do: raise("check failed: #{what}")
  defp pass(what), do: IO.puts("PASS #{what}")
  defp now, do: System.monotonic_time(:millisecond)
end

Three.main(System.argv())
