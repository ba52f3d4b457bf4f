%% Runs inside each test BEAM: configures and starts the cloister
%% application, records the listener's transitions, and serves an echo
%% gen_server for multicast/multicall.  Driven by cloister_three.
-module(cloister_test_node).
-behaviour(gen_server).
-export([main/0, on_state_change/3, result/0, transitions/0, alive/0]).
-export([init/1, handle_call/3, handle_cast/2]).

main() ->
    N = os:getenv("CT_N"),
    Recorder = spawn(fun() -> recorder([]) end),
    register(ct_recorder, Recorder),
    Sentry = "127.0.6.1:7946,127.0.6.2:7946,127.0.6.3:7946",
    Env = [{otp_app, app}, {sentry, Sentry},
           {consensus, list_to_integer(os:getenv("CT_CONSENSUS"))},
           {listener, ?MODULE}, {advertise, "127.0.6." ++ N ++ ":7946"},
           {profile, local},
           {agent_log, os:getenv("CT_LOG")}, {ready_timeout, 90000}],
    ok = application:load(cloister),
    [application:set_env(cloister, K, V) || {K, V} <- Env],
    {ok, _} = gen_server:start({local, ct_echo}, ?MODULE, [], []),
    T0 = erlang:monotonic_time(millisecond),
    R = application:ensure_all_started(cloister),
    T1 = erlang:monotonic_time(millisecond),
    Recorder ! {started, R, cloister:state(), transitions(), T1 - T0},
    ok.

%% Records {From, To, Alive}: Alive is the live members the agent counted.
on_state_change(From, To, #{alive := Alive}) -> ct_recorder ! {t, From, To, Alive}, ok.

recorder(L) ->
    receive
        {t, F, T, A} -> put(alive, [{F, T, A} | get_list(alive)]),
                        recorder(L ++ [{F, T}]);
        {alive, P} -> P ! {alive, lists:reverse(get_list(alive))}, recorder(L);
        {started, _, _, _, _} = S -> put(started, S), recorder(L);
        {get, P} -> P ! {transitions, L}, recorder(L);
        {result, P} -> P ! {result, get(started)}, recorder(L)
    end.

get_list(K) -> case get(K) of undefined -> []; V -> V end.

%% [{From, To, Alive}] in order.
alive() ->
    ct_recorder ! {alive, self()},
    receive {alive, L} -> L after 5000 -> timeout end.

transitions() ->
    ct_recorder ! {get, self()},
    receive {transitions, L} -> L after 5000 -> timeout end.

result() ->
    ct_recorder ! {result, self()},
    receive {result, R} -> R after 5000 -> timeout end.

init([]) -> {ok, []}.
handle_call(ping, _From, S) -> {reply, {pong, node()}, S};
handle_call(casts, _From, S) -> {reply, S, S}.
handle_cast(Msg, S) -> {noreply, [Msg | S]}.
