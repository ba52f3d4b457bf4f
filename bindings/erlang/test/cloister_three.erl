%% Three real BEAM nodes on 127.0.6.1-3, each with the cloister
%% application (consensus 3).  This module runs in BEAM 1 (started by
%% bindings/test.sh), which starts BEAMs 2 and 3, then its own application,
%% and checks everything over distributed Erlang.  No epmd: every node
%% listens on its own 127.0.6.N at the same port (-erl_epmd_port), so
%% nothing is shared with other users of the host.  Every wait is bounded; every process is stopped by
%% its OS pid.  Prints "PASS ..." / "FAIL ..." lines and halts 0 or 1.
-module(cloister_three).
-export([main/0]).

-define(NODES, ['app@127.0.6.1', 'app@127.0.6.2', 'app@127.0.6.3']).

main() ->
    Code = try run() of
               ok -> io:format("ALL PASS~n"), 0
           catch C:E:S ->
                   io:format("FAIL ~p:~p~n~p~n", [C, E, S]), 1
           end,
    cleanup(),
    halt(Code).

run() ->
    [start_beam(I) || I <- [2, 3]],
    cloister_test_node:main(),
    %% 1. All three start only once ready.
    Results = [wait_started(N, 60000) || N <- ?NODES],
    %% The port's hello comes before the node starts, so each listener
    %% sees the first transition, down -> assembling, and ready only once
    %% the agent counted consensus (3) live members.
    lists:foreach(
      fun({N, {started, {ok, _}, ready, Ts, Ms}}) ->
              {Before, [_ | _]} = lists:splitwith(fun({_, T}) -> T =/= ready end, Ts),
              check(hd(Ts) =:= {down, assembling} andalso
                        element(2, lists:last(Ts)) =:= ready andalso
                        lists:member({down, assembling}, Before),
                    "~s started (~b ms) only when ready; listener saw ~p", [N, Ms, Ts]),
              As = rpc(N, cloister_test_node, alive, []),
              [{_, ready, AliveAtReady} | _] = [X || {_, ready, _} = X <- As],
              check(AliveAtReady >= 3 andalso
                        lists:all(fun({_, T, A}) -> T =/= ready orelse A >= 3 end, As),
                    "~s listener: never ready below consensus (alive at ready: ~b; ~p)",
                    [N, AliveAtReady, As]);
         ({N, Other}) -> check(false, "~s start result ~p", [N, Other])
      end, lists:zip(?NODES, Results)),
    %% 2. Each sees the other two in nodes().
    [wait_until(fun() -> lists:sort(rpc(N, erlang, nodes, [])) =:= ?NODES -- [N] end,
                20000, io_lib:format("~s nodes() = the other two", [N]))
     || N <- ?NODES],
    [check(rpc(N, cloister, siblings, []) =:= ?NODES, "~s siblings() = all three", [N])
     || N <- ?NODES],
    %% 3. whois: same owner everywhere, and libring's (recomputed here).
    Keys = [<<"user:42">>, <<"order:7">>, <<"a">>, <<"">>, <<"ключ"/utf8>>],
    lists:foreach(
      fun(K) ->
              Owners = [rpc(N, cloister, whois, [K]) || N <- ?NODES],
              Expect = {ok, cloister:libring_whois(?NODES, K)},
              check(lists:usort(Owners) =:= [Expect],
                    "whois(~p) = ~p on all three (libring recomputed: ~p)",
                    [K, hd(Owners), Expect])
      end, Keys),
    AgentOwners = [{K, rpc('app@127.0.6.1', cloister, agent_whois, [default, K])} || K <- Keys],
    check(lists:all(fun({K, O}) -> O =:= {ok, cloister:libring_whois(?NODES, K)} end,
                    AgentOwners),
          "the agent's own ring (--ring libring, whois over the port) agrees: ~p",
          [AgentOwners]),
    TermOwners = [rpc(N, cloister, whois, [{user, 42}]) || N <- ?NODES],
    check(length(lists:usort(TermOwners)) =:= 1, "whois({user,42}) = ~p on all three",
          [hd(TermOwners)]),
    Mine = [rpc(N, cloister, mine, [<<"user:42">>]) || N <- ?NODES],
    check(lists:sort(Mine) =:= [false, false, true], "mine(<<\"user:42\">>) true on exactly one: ~p", [Mine]),
    %% 4. multicall / multicast over the agent.
    {Replies, Bad} = rpc('app@127.0.6.1', cloister, multicall, [ct_echo, ping]),
    check(lists:sort(Replies) =:= [{N, {pong, N}} || N <- ?NODES] andalso Bad =:= [],
          "multicall(ct_echo, ping) = ~p, missing ~p", [Replies, Bad]),
    MC = rpc('app@127.0.6.2', cloister, multicast, [ct_echo, {hello, 2}]),
    [wait_until(fun() -> lists:member({hello, 2}, rpc(N, gen_server, call, [ct_echo, casts])) end,
                5000, io_lib:format("multicast (~p) reached ~s", [MC, N]))
     || N <- ?NODES],
    Sentries = [rpc(N, cloister, sentry, []) || N <- ?NODES],
    check(length(lists:usort(Sentries)) =:= 1 andalso lists:member(hd(Sentries), ?NODES),
          "sentry() = ~p on all three", [hd(Sentries)]),
    %% 5. kill -9 the third BEAM: the others rehash and drop it.
    [_, _, Victim] = ?NODES,
    Before = [{N, length(rpc(N, cloister_test_node, transitions, []))} || N <- ?NODES -- [Victim]],
    os:cmd("kill -9 " ++ os_pid(3)),
    io:format("killed ~s (kill -9 ~s)~n", [Victim, os_pid(3)]),
    lists:foreach(
      fun({N, K}) ->
              wait_until(fun() -> not lists:member(Victim, rpc(N, erlang, nodes, [])) end,
                         15000, io_lib:format("~s nodes() dropped ~s", [N, Victim])),
              wait_until(fun() ->
                                 New = lists:nthtail(K, rpc(N, cloister_test_node, transitions, [])),
                                 lists:member({ready, rehashing}, New)
                         end, 20000, io_lib:format("~s listener saw ready -> rehashing", [N])),
              check(rpc(N, cloister, state, []) =:= rehashing,
                    "~s stays rehashing with 2 of consensus 3", [N])
      end, Before),
    %% Its agent saw end of input on the port: it leaves and exits.
    VictimAgent = get({agent, Victim}),
    wait_until(fun() -> os:cmd("kill -0 " ++ VictimAgent ++ " 2>/dev/null || echo gone")
                            =:= "gone\n"
               end, 15000, io_lib:format("the killed BEAM's agent (pid ~s) saw EOF, left "
                                         "and exited", [VictimAgent])),
    %% 6. restart it: it rejoins under the same name; everyone is ready again.
    start_beam(3),
    [{started, {ok, _}, ready, _, _}] = [wait_started(Victim, 60000)],
    check(true, "~s restarted and was ready again", [Victim]),
    lists:foreach(
      fun({N, K}) ->
              wait_until(fun() ->
                                 New = lists:nthtail(K, rpc(N, cloister_test_node, transitions, [])),
                                 lists:member({rehashing, ready}, New)
                         end, 30000, io_lib:format("~s listener saw rehashing -> ready", [N])),
              wait_until(fun() -> lists:member(Victim, rpc(N, erlang, nodes, [])) end,
                         15000, io_lib:format("~s reconnected to ~s", [N, Victim]))
      end, Before),
    ok.

%% ---------------------------------------------------------------- helpers

start_beam(I) ->
    N = integer_to_list(I),
    Erl = os:find_executable("erl"),
    Args = ["-noshell", "-setcookie", "cloistertest", "-start_epmd", "false",
            "-erl_epmd_port", os:getenv("CT_DIST_PORT"),
            "-pa", os:getenv("CT_EBIN"), "-pa", os:getenv("CT_TEST_EBIN"),
            "-kernel", "inet_dist_use_interface", "{127,0,6," ++ N ++ "}",
            "-eval", "cloister_test_node:main()"],
    Log = os:getenv("CT_LOGDIR") ++ "/beam" ++ N ++ ".log",
    Port = open_port({spawn_executable, "/bin/sh"},
                     [{args, ["-c", "exec \"$@\" >>" ++ Log ++ " 2>&1", "beam", Erl | Args]},
                      {env, [{"CT_N", N},
                             {"CT_LOG", os:getenv("CT_LOGDIR") ++ "/agent" ++ N ++ ".log"}]},
                      exit_status]),
    {os_pid, P} = erlang:port_info(Port, os_pid),
    put({os_pid, I}, integer_to_list(P)),
    put(pids, [integer_to_list(P) | get_list(pids)]),
    io:format("started BEAM ~b as OS pid ~b~n", [I, P]).

os_pid(I) -> get({os_pid, I}).
get_list(K) -> case get(K) of undefined -> []; L -> L end.

wait_started(N, Timeout) ->
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    wait_started1(N, Deadline).
wait_started1(N, Deadline) ->
    R = case N =:= node() orelse (node() =/= nonode@nohost andalso net_adm:ping(N) =:= pong) of
            true -> rpc:call(N, cloister_test_node, result, [], 5000);
            false -> undefined
        end,
    case R of
        {started, _, _, _, _} ->
            remember_agent(N), R;
        _ ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> {timeout, R};
                false -> timer:sleep(250), wait_started1(N, Deadline)
            end
    end.

%% The agent's OS pid, so cleanup can stop it by pid if its BEAM did not.
remember_agent(N) ->
    case catch rpc:call(N, sys, get_state, [cloister_agent], 5000) of
        T when is_tuple(T) -> put(pids, [element(3, T) | get_list(pids)]),
                              put({agent, N}, element(3, T));
        _ -> ok
    end.

rpc(N, M, F, A) ->
    case rpc:call(N, M, F, A, 10000) of
        {badrpc, _} = B -> error({rpc, N, M, F, B});
        R -> R
    end.

check(true, Fmt, Args) -> io:format("PASS " ++ Fmt ++ "~n", Args);
check(false, Fmt, Args) ->
    io:format("FAIL " ++ Fmt ++ "~n", Args),
    error(check_failed).

wait_until(F, Timeout, What) ->
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    wait_until1(F, Deadline, What, erlang:monotonic_time(millisecond)).
wait_until1(F, Deadline, What, T0) ->
    case catch F() of
        true -> io:format("PASS ~s (~b ms)~n", [What, erlang:monotonic_time(millisecond) - T0]);
        _ ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> io:format("FAIL ~s (timed out)~n", [What]), error({timeout, What});
                false -> timer:sleep(200), wait_until1(F, Deadline, What, T0)
            end
    end.

%% Stop every node gracefully (init:stop: the application's terminate kills
%% its agent), then kill by pid whatever is left: BEAMs and agents.
cleanup() ->
    [catch rpc:call(N, init, stop, [], 2000) || N <- ?NODES -- [node()]],
    catch application:stop(cloister),
    timer:sleep(2000),
    lists:foreach(fun(P) ->
                          os:cmd("kill -0 " ++ P ++ " 2>/dev/null && kill -9 " ++ P)
                  end, get_list(pids)).
