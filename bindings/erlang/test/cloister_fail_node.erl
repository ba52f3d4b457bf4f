%% One BEAM of cloister_failures: starts the cloister application in a
%% setting where it must not become ready (CF_MODE wrong_cookie, blocked,
%% netkernel) and prints "RESULT {StartResult, node(), nodes(), Statuses}."
%% with the statuses its listener saw, then halts.
-module(cloister_fail_node).
-export([main/0, on_state_change/3]).

main() ->
    N = os:getenv("CF_N"),
    IP = "127.0.46." ++ N,
    Peers = string:split(os:getenv("CF_PEERS"), ",", all),
    ets:new(cf_seen, [named_table, public, bag]),
    ok = application:load(cloister),
    Env = [{otp_app, failtest},
           {sentry, lists:join(",", [P ++ ":7946" || P <- Peers])},
           {consensus, length(Peers)},
           {advertise, IP ++ ":7946"}, {profile, local},
           %% The agents share a key whatever the cookies: they agree, and
           %% only distribution stands between them and ready.
           {passphrase, "cloister-failure-test"},
           {listener, ?MODULE}
           | case os:getenv("CF_WAIT") of
                 "forever" -> [];  % the default: no limit, as Cloister
                 _ -> [{ready_timeout, 8000}]
             end] ++
          [{agent_log, os:getenv("CF_LOG")}],
    [application:set_env(cloister, K, V) || {K, V} <- Env],
    Hold = case os:getenv("CF_MODE") of
               "netkernel" ->
                   %% The distribution port of this address, taken first.
                   {ok, IPT} = inet:parse_address(IP),
                   Port = list_to_integer(os:getenv("CF_DIST_PORT")),
                   {ok, L} = gen_tcp:listen(Port, [{ip, IPT}]),
                   L;
               _ -> none
           end,
    R = case os:getenv("CF_WAIT") of
            "forever" ->
                %% Cloister's default: the start waits as long as it takes.
                %% Sampled after 6 s, while the peer still runs.
                spawn(fun() -> application:ensure_all_started(cloister) end),
                timer:sleep(6000),
                {waiting, application:get_application(cloister_agent),
                 catch cloister_agent:why_not_ready()};
            _ -> application:ensure_all_started(cloister)
        end,
    Seen = [T || {_, T} <- lists:sort(ets:tab2list(cf_seen))],
    io:format("RESULT ~0p.~n", [{R, node(), nodes(), Seen}]),
    _ = Hold,
    %% Until the driver closes our stdin: the peer's start must not see
    %% this node leave before its own timeout.
    _ = io:get_line(""),
    halt(0).

on_state_change(_From, To, _) ->
    ets:insert(cf_seen, {erlang:unique_integer([monotonic]), To}),
    ok.
