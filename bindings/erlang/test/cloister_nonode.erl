%% One BEAM, not distributed, consensus 1, no sentry and no address: the
%% agent runs without a network (Elixir Cloister's :nonode@nohost mode).
%% Also checks the BEAM's libring placement against the recorded libring
%% 1.7.0 vectors (CT_VECTORS, tests/vectors/libring.json), whose node
%% names a test cluster on 127.0.6.x cannot take.  Started by
%% bindings/test.sh; prints PASS/FAIL lines and halts 0 or 1.
-module(cloister_nonode).
-export([main/0]).

main() ->
    Code = try run() of
               ok -> io:format("ALL PASS (nonode)~n"), 0
           catch C:E:S ->
                   io:format("FAIL ~p:~p~n~p~n", [C, E, S]), 1
           end,
    halt(Code).

run() ->
    vectors(os:getenv("CT_VECTORS")),
    Recorder = spawn(fun() -> recorder([]) end),
    register(ct_recorder, Recorder),
    ok = application:load(cloister),
    [application:set_env(cloister, K, V)
     || {K, V} <- [{otp_app, solo}, {consensus, 1}, {listener, cloister_test_node},
                   {agent_log, os:getenv("CT_LOG")}, {ready_timeout, 20000}]],
    {ok, _} = gen_server:start({local, ct_echo}, cloister_test_node, [], []),
    {ok, _} = application:ensure_all_started(cloister),
    check(node() =:= nonode@nohost, "not distributed: node() = ~p", [node()]),
    check(cloister:state() =:= ready, "state() = ~p", [cloister:state()]),
    Ts = cloister_test_node:transitions(),
    check(hd(Ts) =:= {down, assembling} andalso lists:last(Ts) =:= {rehashing, ready},
          "listener saw ~p", [Ts]),
    Keys = [<<"user:42">>, <<"">>, {user, 42}, 7],
    W = [cloister:whois(K) || K <- Keys],
    check(lists:usort(W) =:= [{ok, nonode@nohost}], "whois(~p) = ~p", [Keys, W]),
    check(cloister:mine(<<"user:42">>) andalso cloister:siblings() =:= [nonode@nohost],
          "mine true, siblings() = ~p", [cloister:siblings()]),
    MC = cloister:multicall(ct_echo, ping),
    check(MC =:= {[{nonode@nohost, {pong, nonode@nohost}}], []},
          "multicall through the port to this node's own answer: ~p", [MC]),
    {ok, 1} = cloister:multicast(ct_echo, {hello, solo}),
    check(wait(fun() -> lists:member({hello, solo}, gen_server:call(ct_echo, casts)) end, 5000),
          "multicast delivered locally", []),
    Bad = cloister_agent:request(whois, {not_a_binary, default, 1}),
    check(element(1, Bad) =:= error, "a malformed request is refused: ~p", [Bad]),
    check(cloister:state() =:= ready, "the agent still serves after it: ~p",
          [cloister:state()]),
    %% Stopping the application closes the port: the agent leaves and exits.
    Pid = element(3, sys:get_state(cloister_agent)),
    ok = application:stop(cloister),
    check(wait(fun() -> os:cmd("kill -0 " ++ Pid ++ " 2>/dev/null || echo gone") =:= "gone\n"
               end, 10000),
          "application:stop closed the port; agent ~s exited", [Pid]),
    ok.

recorder(L) ->
    receive
        {t, F, T, _} -> recorder(L ++ [{F, T}]);
        {get, P} -> P ! {transitions, L}, recorder(L);
        _ -> recorder(L)
    end.

%% key_to_nodes with count 1 (binary and integer keys, rings "three" and
%% "ten"): libring's owner is cloister:libring_whois/2's.
vectors(false) -> error(no_vectors);
vectors(Path) ->
    {ok, Json} = file:read_file(Path),
    V = cloister_json:decode(Json),
    Rings = maps:from_list(
              [{maps:get(<<"name">>, S),
                [binary_to_atom(maps:get(<<"node">>, N), utf8)
                 || N <- maps:get(<<"nodes_added_in_order">>, S)]}
               || S <- maps:get(<<"scenarios">>, V)]),
    Cases = [{maps:get(<<"ring">>, C), key(maps:get(<<"key">>, C)),
              binary_to_atom(hd(maps:get(<<"result">>, C)), utf8)}
             || C = #{<<"count">> := 1, <<"key">> := #{<<"type">> := T}}
                    <- maps:get(<<"key_to_nodes">>, V),
                T =:= <<"binary">> orelse T =:= <<"integer">>],
    Wrong = [{R, K, Want, Got} || {R, K, Want} <- Cases,
                                  (Got = cloister:libring_whois(maps:get(R, Rings), K)) =/= Want],
    check(Cases =/= [] andalso Wrong =:= [],
          "libring vectors: ~b of ~b owners agree (rings ~p); wrong: ~P",
          [length(Cases) - length(Wrong), length(Cases), maps:keys(Rings), Wrong, 10]).

key(#{<<"type">> := <<"binary">>, <<"hex">> := H}) -> binary:decode_hex(H);
key(#{<<"type">> := <<"integer">>, <<"value">> := I}) when is_integer(I) -> I;
key(#{<<"type">> := <<"integer">>, <<"value">> := I}) -> binary_to_integer(I).

wait(F, Timeout) ->
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    wait1(F, Deadline).
wait1(F, Deadline) ->
    case catch F() of
        true -> true;
        _ ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> false;
                false -> timer:sleep(100), wait1(F, Deadline)
            end
    end.

check(true, Fmt, Args) -> io:format("PASS " ++ Fmt ++ "~n", Args);
check(false, Fmt, Args) ->
    io:format("FAIL " ++ Fmt ++ "~n", Args),
    error(check_failed).
