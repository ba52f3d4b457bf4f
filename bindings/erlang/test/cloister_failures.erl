%% Where the cloister application must never report ready (issue 14,
%% item 4), each BEAM on its own 127.0.46.N, no epmd:
%%   * wrong cookie: two nodes whose agents agree (a shared passphrase)
%%     but whose cookies differ;
%%   * a blocked distribution port: two nodes that dial each other's
%%     distribution at a port where nothing listens;
%%   * net_kernel unable to start: the node's distribution port taken.
%% The start must fail with a clear reason ({not_ready, {not_connected,
%% [Peer]}} after ready_timeout, {distribution, Name, _}), or, without a
%% ready_timeout, still be waiting with the reason at hand; the listener
%% must never see ready, nodes() stays empty, and the log says why.
%% Runs in a BEAM of its own (bindings/test.sh); every child is stopped
%% by its OS pid.
-module(cloister_failures).
-export([main/0]).

main() ->
    Code = try run() of
               ok -> io:format("ALL PASS (failures)~n"), 0
           catch C:E:S -> io:format("FAIL ~p:~p~n~p~n", [C, E, S]), 1
           end,
    [os:cmd("kill -9 " ++ integer_to_list(P)) || P <- get_pids()],
    halt(Code).

run() ->
    Port = os:getenv("CF_DIST_PORT"),
    Other = integer_to_list(list_to_integer(Port) + 1),
    Children =
        [{wrong_cookie, "1", "cookie_one", Port, "1,2"},
         {wrong_cookie, "2", "cookie_two", Port, "1,2"},
         {blocked, "3", "samecookie", Port, "3,4"},
         {blocked, "4", "samecookie", Other, "3,4"},
         {netkernel, "5", "samecookie", Port, "5"}],
    Ports = [start(C) || C <- Children],
    Results = [collect(P, 60000) || P <- Ports],
    [catch port_close(P) || P <- Ports],
    lists:foreach(fun check/1, lists:zip(Children, Results)).

start({Mode, N, Cookie, DistPort, Peers}) ->
    PeerIPs = ["127.0.46." ++ P || P <- string:split(Peers, ",", all)],
    Erl = os:find_executable("erl"),
    Args = ["-noshell", "-setcookie", Cookie, "-start_epmd", "false",
            "-erl_epmd_port", DistPort,
            "-kernel", "inet_dist_use_interface", "{127,0,46," ++ N ++ "}",
            "-pa", os:getenv("CT_EBIN"), "-pa", os:getenv("CT_TEST_EBIN"),
            "-eval", "cloister_fail_node:main()"],
    %% Even nodes wait without a limit (and are sampled); odd ones give up
    %% after 8 s with an error while their peer still runs.
    Wait = case list_to_integer(N) rem 2 of 0 -> "forever"; 1 -> "8000" end,
    Env = [{"CF_MODE", atom_to_list(Mode)}, {"CF_N", N}, {"CF_DIST_PORT", DistPort},
           {"CF_WAIT", Wait},
           {"CF_PEERS", lists:join(",", PeerIPs)},
           {"CF_LOG", filename:join(os:getenv("CT_LOGDIR"), "agent_fail" ++ N ++ ".log")}],
    P = open_port({spawn_executable, Erl},
                  [{args, Args}, {env, Env}, binary, exit_status, stderr_to_stdout,
                   {line, 4096}]),
    {os_pid, Pid} = erlang:port_info(P, os_pid),
    put(pids, [Pid | get_pids()]),
    P.

get_pids() -> case get(pids) of undefined -> []; L -> L end.

%% {Result, OutputLines} once the child halts.
collect(P, Timeout) ->
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    collect(P, Deadline, [], undefined).

collect(P, Deadline, Lines, Result) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {P, {data, {eol, <<"RESULT ", T/binary>>}}} ->
            {ok, Toks, _} = erl_scan:string(binary_to_list(T)),
            {ok, Term} = erl_parse:parse_term(Toks),
            {Term, lists:reverse(Lines)};
        {P, {data, {_, L}}} -> collect(P, Deadline, [L | Lines], Result);
        {P, {exit_status, S}} -> error({child_exited, S, lists:reverse(Lines)})
    after Left -> error({child_timeout, Lines})
    end.

check({{Mode, N, _, _, Peers}, {{R, Node, Nodes, Seen}, Lines}}) ->
    Log = iolist_to_binary(lists:join("\n", Lines)),
    Name = "failtest@127.0.46." ++ N,
    NeverReady = not lists:member(ready, Seen),
    case Mode of
        netkernel ->
            ok(NeverReady andalso Node =:= nonode@nohost andalso
                   contains(R, fun({distribution, _, _}) -> true; (_) -> false end) andalso
                   binary:match(Log, <<"cannot start Erlang distribution">>) =/= nomatch,
               "~s, net_kernel unable to start: ~0p; listener saw ~p",
               [Name, R, Seen]);
        _ ->
            [Peer] = ["failtest@127.0.46." ++ P || P <- string:split(Peers, ",", all), P =/= N],
            Want = case R of
                       %% Still waiting: the agents agree, distribution does not.
                       {waiting, _, _} -> {ready, [list_to_atom(Peer)]};
                       _ -> {not_connected, [list_to_atom(Peer)]}
                   end,
            ok(NeverReady andalso Nodes =:= [] andalso Node =:= list_to_atom(Name) andalso
                   contains(R, fun(T) -> T =:= Want end) andalso
                   binary:match(Log, <<"cannot connect to ", (list_to_binary(Peer))/binary>>) =/= nomatch,
               "~s, ~s: start ~0p, nodes() ~p, listener saw ~p, the log says why",
               [Name, Mode, R, Nodes, Seen])
    end;
check({C, Other}) -> error({bad_child_result, C, Other}).

contains(T, F) ->
    F(T) orelse case T of
                    L when is_list(L) -> lists:any(fun(X) -> contains(X, F) end, L);
                    Tu when is_tuple(Tu) -> contains(tuple_to_list(Tu), F);
                    _ -> false
                end.

ok(true, Fmt, Args) -> io:format("PASS " ++ Fmt ++ "~n", Args);
ok(false, Fmt, Args) -> io:format("FAIL " ++ Fmt ++ "~n", Args), error(check_failed).
