%% The attack of issue 13 against a real OTP node (this BEAM and its
%% agent, on 127.0.24.50): one UDP datagram of the cluster's label with a
%% USER call on topic erlang.cloister asking the binding to
%% gen_server:call kernel_sup with a start_child whose start function is
%% os:cmd("touch MARKER").  Sent in clear text, then sealed under a wrong
%% key (tests/tools/usercall.c, CT_USERCALL): nothing may run (no marker
%% file), and each must be dropped and counted in the agent's /metrics
%% (its probe listener).  A datagram sealed with the key derived from
%% this node's cookie, as a cookie holder would send it, does arrive (the
%% attack datagrams were well formed); with call_allow set, even a key
%% holder reaches only the names listed.  The cookie never appears on the
%% agent's command line.  Started by bindings/test.sh; prints PASS/FAIL
%% lines and halts 0 or 1.
-module(cloister_attack).
-export([main/0]).

-define(IP, "127.0.24.50").

main() ->
    put(fails, 0),
    Code = try run() of
               ok ->
                   case get(fails) of
                       0 -> io:format("ALL PASS (attack)~n"), 0;
                       N -> io:format("FAILED (attack): ~b checks~n", [N]), 1
                   end
           catch C:E:S ->
                   io:format("FAIL ~p:~p~n~p~n", [C, E, S]), 1
           end,
    halt(Code).

run() ->
    Work = os:getenv("CT_WORK"),
    Tool = os:getenv("CT_USERCALL"),
    Bin = os:getenv("CLOISTER_BIN"),
    check(Tool =/= false andalso filelib:is_regular(Tool), "usercall tool at ~p", [Tool]),
    ok = application:load(cloister),
    [application:set_env(cloister, K, V)
     || {K, V} <- [{otp_app, attack}, {advertise, ?IP ++ ":7946"}, {consensus, 1},
                   {profile, local}, {agent_log, os:getenv("CT_LOG")},
                   {agent_args, ["--probe", ?IP ++ ":7948"]},
                   {ready_timeout, 30000}]],
    {ok, _} = gen_server:start({local, ct_echo}, cloister_test_node, [], []),
    {ok, _} = gen_server:start({local, ct_other}, cloister_test_node, [], []),
    {ok, _} = application:ensure_all_started(cloister),
    Self = atom_to_list(node()),
    check(Self =:= "attack@" ++ ?IP, "distributed as ~s", [Self]),
    Cookie = atom_to_list(erlang:get_cookie()),
    AgentPid = element(3, sys:get_state(cloister_agent)),
    {ok, Cmdline} = file:read_file("/proc/" ++ AgentPid ++ "/cmdline"),
    check(binary:match(Cmdline, list_to_binary(Cookie)) =:= nomatch,
          "the cookie is not on the agent's command line (ps)", []),

    Marker = filename:join(Work, "pwned"),
    Attack = write(Work, "attack.etf",
                   {call, kernel_sup,
                    {start_child, #{id => pwned,
                                    start => {os, cmd, ["touch " ++ Marker]}}}}),
    Send = fun(Kind, File, Key) ->
                   Args = [?IP ++ ":7946", "attack", Self, "erlang.cloister", "mallory",
                           Kind, File | Key],
                   Out = run_tool(Tool, Args),
                   io:format("  ~s", [Out])
           end,
    M0 = metrics(),
    io:format("  before: drops plaintext ~p, auth ~p~n", [drops("plaintext", M0), drops("auth", M0)]),

    %% 1. The datagram in clear text.
    Send("call", Attack, []),
    timer:sleep(1500),
    check(not filelib:is_file(Marker),
          "plaintext call to kernel_sup (start_child os:cmd): nothing ran", []),
    M1 = metrics(),
    check(drops("plaintext", M1) > drops("plaintext", M0),
          "... dropped and counted: plaintext drops ~p -> ~p",
          [drops("plaintext", M0), drops("plaintext", M1)]),

    %% 2. The same, sealed under a key that is not the cluster's.
    Wrong = filename:join(Work, "wrong.key"),
    os:cmd(Bin ++ " keygen > " ++ Wrong ++ " && chmod 600 " ++ Wrong),
    Send("call", Attack, ["keyfile:" ++ Wrong]),
    timer:sleep(1500),
    check(not filelib:is_file(Marker), "wrong-key call: nothing ran", []),
    M2 = metrics(),
    check(drops("auth", M2) > drops("auth", M1),
          "... dropped and counted: authentication drops ~p -> ~p",
          [drops("auth", M1), drops("auth", M2)]),

    %% 3. Control: a cookie holder's sealed cast arrives, so the datagrams
    %% above were well formed and refused for their key alone.
    Hello = write(Work, "hello.etf", {cast, ct_echo, {hello, cookie_holder}}),
    Send("cast", Hello, ["pass:" ++ Cookie]),
    check(wait(fun() -> lists:member({hello, cookie_holder}, gen_server:call(ct_echo, casts)) end,
               5000),
          "a cast sealed with the key derived from the cookie is delivered", []),

    %% 4. call_allow: even a key holder reaches only the listed names.
    application:set_env(cloister, call_allow, [ct_echo]),
    Other = write(Work, "other.etf", {cast, ct_other, {hello, not_listed}}),
    Send("cast", Other, ["pass:" ++ Cookie]),
    Send("call", Attack, ["pass:" ++ Cookie]),
    Pid = write(Work, "pid.etf", {cast, whereis(ct_other), {hello, by_pid}}),
    Send("cast", Pid, ["pass:" ++ Cookie]),
    Again = write(Work, "again.etf", {cast, ct_echo, {hello, listed}}),
    Send("cast", Again, ["pass:" ++ Cookie]),
    check(wait(fun() -> lists:member({hello, listed}, gen_server:call(ct_echo, casts)) end,
               5000),
          "with call_allow [ct_echo]: a cast to ct_echo is delivered", []),
    timer:sleep(1000),
    check(gen_server:call(ct_other, casts) =:= [],
          "... casts to ct_other (by name, by pid) are not: ~p",
          [gen_server:call(ct_other, casts)]),
    check(not filelib:is_file(Marker),
          "... and the key holder's call to kernel_sup ran nothing", []),
    application:unset_env(cloister, call_allow),
    ok = application:stop(cloister),
    ok.

write(Dir, Name, Term) ->
    F = filename:join(Dir, Name),
    ok = file:write_file(F, term_to_binary(Term)),
    F.

run_tool(Tool, Args) ->
    Port = open_port({spawn_executable, Tool},
                     [{args, Args}, exit_status, stderr_to_stdout, binary]),
    collect(Port, <<>>).

collect(Port, Acc) ->
    receive
        {Port, {data, D}} -> collect(Port, <<Acc/binary, D/binary>>);
        {Port, {exit_status, 0}} -> binary_to_list(Acc);
        {Port, {exit_status, S}} -> error({usercall_failed, S, Acc})
    after 10000 -> error(usercall_timeout)
    end.

%% The agent's /metrics from its probe listener (no token needed).
metrics() ->
    {ok, S} = gen_tcp:connect(?IP, 7948, [binary, {active, false}], 3000),
    ok = gen_tcp:send(S, "GET /metrics HTTP/1.1\r\nHost: " ++ ?IP ++
                         "\r\nConnection: close\r\n\r\n"),
    Body = recv_all(S, <<>>),
    gen_tcp:close(S),
    Body.

recv_all(S, Acc) ->
    case gen_tcp:recv(S, 0, 3000) of
        {ok, D} -> recv_all(S, <<Acc/binary, D/binary>>);
        {error, closed} -> Acc
    end.

%% Drops of one reason, whichever way the metrics name them
%% (cloister_drops_REASON_total, or a reason label).
drops(Reason, Text) ->
    Re = "^cloister_(drops_" ++ Reason ++ "(_total)?|[a-z_]*dropped_total\\{reason=\""
        ++ Reason ++ "\"\\}) ([0-9]+)",
    lists:sum([list_to_integer(binary_to_list(V))
               || L <- binary:split(Text, <<"\n">>, [global]),
                  {match, [V]} <- [re:run(L, Re, [{capture, [3], binary}])]]).

wait(F, Ms) when Ms =< 0 -> F();
wait(F, Ms) ->
    case F() of
        true -> true;
        false -> timer:sleep(100), wait(F, Ms - 100)
    end.

check(true, Fmt, Args) -> io:format("PASS " ++ Fmt ++ "~n", Args);
%% A failed check is counted and the test goes on: every attack is tried.
check(false, Fmt, Args) ->
    io:format("FAIL " ++ Fmt ++ "~n", Args),
    put(fails, get(fails) + 1).
