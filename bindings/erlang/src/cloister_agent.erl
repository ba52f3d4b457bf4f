%% cloister_agent: runs the `cloister agent` beside this node as an Erlang
%% port and follows it through its HTTP control API (loopback).
%%
%% Lifetime: the agent runs under a small /bin/sh wrapper that reads the
%% port's stdin; when this node dies (even kill -9) the pipe closes, the
%% wrapper sees EOF and sends the agent SIGTERM (a graceful leave).  On a
%% normal stop terminate/2 also kills the agent by its OS pid.
%%
%% State: status changes and member events come from a long-lived
%% GET /v1/events stream (httpc, {stream, self}).  Each status change calls
%% the listener's on_state_change(From, To, State); each member event
%% connects to alive members' Erlang nodes and disconnects dead/left ones.
-module(cloister_agent).
-behaviour(gen_server).

-export([start_link/0, await_ready/1, status/0, members/0, http/0,
         request/3]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(PROFILE, cloister).
-define(STREAM_PROFILE, cloister_events).
-define(TOPIC, <<"erlang.cloister">>).

-record(st, {port, agent_pid, http, status = down, members = #{},
             listener, stream, buf = <<>>, waiters = [], last_sentry = null}).

start_link() -> gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% ok once the cluster is ready, {error, timeout} after Timeout ms.
await_ready(Timeout) ->
    try gen_server:call(?MODULE, await_ready, Timeout)
    catch exit:{timeout, _} -> {error, timeout}
    end.

status() -> gen_server:call(?MODULE, status).
members() -> gen_server:call(?MODULE, members).
http() -> persistent_term:get({?MODULE, http}).

%% ---------------------------------------------------------------- HTTP

%% {ok, Status, DecodedBody} | {error, Reason}
request(Method, Path, Body) ->
    Url = "http://" ++ http() ++ Path,
    Req = case Method of
              get -> {Url, [{"connection", "close"}]};
              post -> {Url, [{"connection", "close"}], "application/json",
                       cloister_json:encode(Body)}
          end,
    case httpc:request(Method, Req, [{timeout, 65000}, {connect_timeout, 2000}],
                       [{body_format, binary}], ?PROFILE) of
        {ok, {{_, Code, _}, Hdrs, RespBody}} ->
            case proplists:get_value("content-type", Hdrs, "") of
                "application/json" ++ _ ->
                    {ok, Code, cloister_json:decode(RespBody)};
                _ ->
                    {ok, Code, RespBody}
            end;
        {error, _} = E ->
            E
    end.

%% ---------------------------------------------------------------- init

init([]) ->
    process_flag(trap_exit, true),
    _ = inets:start(),
    _ = inets:start(httpc, [{profile, ?PROFILE}]),
    _ = inets:start(httpc, [{profile, ?STREAM_PROFILE}]),
    Http = http_addr(),
    persistent_term:put({?MODULE, http}, Http),
    Bin = agent_path(),
    Args = agent_args(Http),
    logger:notice("cloister: starting agent ~s ~s", [Bin, lists:join(" ", Args)]),
    Log = case application:get_env(cloister, agent_log) of
              {ok, F} -> F;
              undefined -> ""
          end,
    %% $1 = log file or "", $2 = agent binary, rest = its arguments.
    Script = "log=$1; shift; "
             "if [ -n \"$log\" ]; then \"$@\" </dev/null 2>>\"$log\" & "
             "else \"$@\" </dev/null & fi; "
             "p=$!; echo \"agent_pid $p\"; "
             "cat >/dev/null; kill -TERM $p 2>/dev/null; wait $p",
    Port = open_port({spawn_executable, "/bin/sh"},
                     [{args, ["-c", Script, "cloister-agent", Log, Bin | Args]},
                      exit_status, {line, 512}, use_stdio, binary]),
    AgentPid = receive
                   {Port, {data, {eol, <<"agent_pid ", P/binary>>}}} ->
                       binary_to_list(P);
                   {Port, {exit_status, S}} ->
                       exit({agent_exited, S})
               after 5000 -> exit(agent_no_pid)
               end,
    St0 = #st{port = Port, agent_pid = AgentPid,
              listener = application:get_env(cloister, listener, undefined)},
    case wait_api(Port, 100) of
        {ok, Status} ->
            start_distribution(Status),
            St1 = open_stream(St0),
            {ok, St1};
        {error, Why} ->
            os:cmd("kill -TERM " ++ AgentPid),
            {stop, {agent_api, Why}}
    end.

%% The agent's API comes up within moments; it exits at once on bad flags.
wait_api(Port, 0) -> receive {Port, {exit_status, S}} -> {error, {exit_status, S}}
                     after 0 -> {error, no_api} end;
wait_api(Port, N) ->
    receive
        {Port, {exit_status, S}} -> {error, {exit_status, S}}
    after 0 ->
        case catch request(get, "/v1/status", undefined) of
            {ok, 200, #{} = Status} -> {ok, Status};
            _ -> timer:sleep(100), wait_api(Port, N - 1)
        end
    end.

%% Cloister's naming: app@ADDRESS where ADDRESS is what the agent chose.
start_distribution(#{<<"address">> := Addr}) ->
    case {node(), host_of(Addr)} of
        {nonode@nohost, ""} ->
            logger:notice("cloister: no network (nonode): staying nonode@nohost");
        {nonode@nohost, Host} ->
            Name = list_to_atom(otp_app() ++ "@" ++ Host),
            ensure_epmd(),
            case net_kernel:start([Name, longnames]) of
                {ok, _} -> logger:notice("cloister: distribution started as ~s", [Name]);
                {error, E} -> logger:error("cloister: cannot start distribution as ~s: ~p",
                                           [Name, E])
            end,
            case application:get_env(cloister, cookie) of
                {ok, C} -> erlang:set_cookie(node(), C);
                undefined -> ok
            end;
        {N, _} ->
            logger:notice("cloister: node already distributed as ~s", [N])
    end.

%% Unless the node runs without epmd (-start_epmd false, e.g. with
%% -erl_epmd_port), make sure one is there.
ensure_epmd() ->
    case init:get_argument(start_epmd) =:= {ok, [["false"]]} orelse erl_epmd:names() of
        true -> ok;
        {ok, _} -> ok;
        _ ->
            Epmd = case os:find_executable("epmd") of
                       false -> filename:join([code:root_dir(), "bin", "epmd"]);
                       E -> E
                   end,
            os:cmd(Epmd ++ " -daemon"), ok
    end.

open_stream(St) ->
    Url = "http://" ++ http() ++ "/v1/events?answer=" ++ binary_to_list(?TOPIC),
    {ok, Ref} = httpc:request(get, {Url, []}, [{connect_timeout, 2000}],
                              [{sync, false}, {stream, self}], ?STREAM_PROFILE),
    %% Events before this subscription are not replayed: catch up from
    %% /v1/status and /v1/members (a status change seen twice is ignored).
    St1 = St#st{stream = Ref, buf = <<>>},
    St2 = case request(get, "/v1/status", undefined) of
              {ok, 200, #{<<"status">> := S}} -> change(St1, binary_to_atom(S, utf8));
              _ -> St1
          end,
    case request(get, "/v1/members", undefined) of
        {ok, 200, L} when is_list(L) ->
            lists:foldl(fun(M, A) -> member(A, M) end, St2, L);
        _ -> St2
    end.

%% ---------------------------------------------------------------- calls

handle_call(await_ready, _From, St = #st{status = ready}) -> {reply, ok, St};
handle_call(await_ready, From, St) -> {noreply, St#st{waiters = [From | St#st.waiters]}};
handle_call(status, _From, St) -> {reply, St#st.status, St};
handle_call(members, _From, St) -> {reply, St#st.members, St}.

handle_cast(_, St) -> {noreply, St}.

handle_info({http, {Ref, stream_start, _}}, St = #st{stream = Ref}) -> {noreply, St};
handle_info({http, {Ref, stream, Part}}, St = #st{stream = Ref}) ->
    {noreply, lines(St#st{buf = <<(St#st.buf)/binary, Part/binary>>})};
handle_info({http, {Ref, Other}}, St = #st{stream = Ref}) ->
    %% stream_end or an error: the agent closed the stream; reopen it.
    logger:warning("cloister: event stream ended (~p); reopening", [Other]),
    timer:sleep(200),
    {noreply, open_stream(St)};
handle_info({http, {Ref, stream_end, _}}, St = #st{stream = Ref}) ->
    {noreply, open_stream(St)};
handle_info({Port, {exit_status, S}}, St = #st{port = Port}) ->
    logger:error("cloister: the agent exited with status ~b", [S]),
    {stop, {agent_exited, S}, St#st{port = undefined}};
handle_info({Port, {data, Line}}, St = #st{port = Port}) ->
    logger:info("cloister agent: ~s", [element(2, Line)]),
    {noreply, St};
handle_info(_, St) -> {noreply, St}.

terminate(_Why, St) ->
    catch httpc:cancel_request(St#st.stream, ?STREAM_PROFILE),
    case St#st.port of
        undefined -> ok;
        Port -> catch port_close(Port)
    end,
    os:cmd("kill -TERM " ++ St#st.agent_pid ++ " 2>/dev/null"),
    ok.

%% ---------------------------------------------------------------- events

lines(St = #st{buf = Buf}) ->
    case binary:split(Buf, <<"\n">>) of
        [Line, Rest] ->
            St1 = case catch cloister_json:decode(Line) of
                      #{} = Ev -> event(St#st{buf = Rest}, Ev);
                      _ -> St#st{buf = Rest}
                  end,
            lines(St1);
        [_] -> St
    end.

event(St, #{<<"type">> := <<"state">>, <<"to">> := To} = Ev) ->
    St1 = St#st{last_sentry = maps:get(<<"sentry">>, Ev, St#st.last_sentry)},
    change(St1, binary_to_atom(To, utf8));
event(St, #{<<"type">> := <<"member">>} = M) -> member(St, M);
event(St, #{<<"type">> := <<"message">>, <<"topic">> := ?TOPIC} = M) ->
    catch case cloister:decode(M) of
              {cast, Name, Msg} -> gen_server:cast(Name, Msg);
              _ -> ok
          end,
    St;
event(St, #{<<"type">> := <<"call">>, <<"topic">> := ?TOPIC, <<"id">> := Id} = M) ->
    spawn(fun() ->
                  Reply = try cloister:decode(M) of
                              {call, Name, Msg} -> gen_server:call(Name, Msg, 1800)
                          catch C:E -> {badrpc, {C, E}}
                          end,
                  request(post, "/v1/reply", #{id => Id, data => cloister:encode(Reply)})
          end),
    St;
event(St, _) -> St.

change(St = #st{status = S}, S) -> St;
change(St = #st{status = From, listener = L}, To) ->
    logger:notice("cloister: status ~s -> ~s", [From, To]),
    case L of
        undefined -> ok;
        _ -> try L:on_state_change(From, To, cloister:state_map(To))
             catch C:E:Stk -> logger:error("cloister: listener ~p crashed: ~p:~p ~p",
                                           [L, C, E, Stk])
             end
    end,
    St1 = St#st{status = To},
    case To of
        ready ->
            [gen_server:reply(W, ok) || W <- St#st.waiters],
            St1#st{waiters = []};
        _ -> St1
    end.

%% Members by name; the Erlang mesh follows them.
member(St, #{<<"name">> := Name, <<"status">> := Status} = M) ->
    Tags = maps:get(<<"tags">>, M, #{}),
    Node = binary_to_atom(maps:get(<<"erlang_node">>, Tags, Name), utf8),
    Members = (St#st.members)#{Name => #{status => binary_to_atom(Status, utf8),
                                         node => Node, tags => Tags,
                                         addr => maps:get(<<"addr">>, M, <<>>)}},
    case {Status, Node =:= node(), node()} of
        {_, true, _} -> ok;
        {_, _, nonode@nohost} -> ok;
        {<<"alive">>, false, _} ->
            case lists:member(Node, nodes()) of
                true -> ok;
                false -> spawn(fun() ->
                                       R = net_kernel:connect_node(Node),
                                       logger:notice("cloister: connect ~s: ~p", [Node, R])
                               end)
            end;
        {S, false, _} when S =:= <<"dead">>; S =:= <<"left">> ->
            logger:notice("cloister: member ~s ~s: disconnecting", [Node, S]),
            erlang:disconnect_node(Node);
        _ -> ok
    end,
    St#st{members = Members}.

%% ---------------------------------------------------------------- config

otp_app() ->
    atom_to_list_(application:get_env(cloister, otp_app, cloister)).

atom_to_list_(A) when is_atom(A) -> atom_to_list(A);
atom_to_list_(L) when is_list(L) -> L;
atom_to_list_(B) when is_binary(B) -> binary_to_list(B).

host_of(<<>>) -> "";
host_of(Addr) ->
    S = binary_to_list(Addr),
    case S of
        "[" ++ R -> hd(string:split(R, "]"));
        _ -> hd(string:split(S, ":", trailing))
    end.

http_addr() ->
    case application:get_env(cloister, http) of
        {ok, H} -> atom_to_list_(H);
        undefined -> "127.0.0.1:" ++ integer_to_list(application:get_env(cloister, http_port, 7947))
    end.

agent_path() ->
    case application:get_env(cloister, agent) of
        {ok, P} -> P;
        undefined ->
            case os:getenv("CLOISTER_BIN") of
                false ->
                    case os:find_executable("cloister") of
                        false -> exit(cloister_agent_not_found);
                        P -> P
                    end;
                P -> P
            end
    end.

agent_args(Http) ->
    Get = fun(K) -> application:get_env(cloister, K, undefined) end,
    Opt = fun(_, undefined) -> [];
             (Flag, V) -> ["--" ++ Flag, atom_to_list_(V)]
          end,
    Tag = case {node(), Get(advertise)} of
              {nonode@nohost, undefined} -> [];
              {nonode@nohost, Adv} ->
                  ["--tag", "erlang_node=" ++ otp_app() ++ "@" ++
                       host_of(list_to_binary(atom_to_list_(Adv)))];
              {N, _} -> ["--tag", "erlang_node=" ++ atom_to_list(N),
                         "--name", atom_to_list(N)]
          end,
    ["agent", "--app", otp_app(), "--http", Http,
     "--ring", atom_to_list_(Get(ring))]
        ++ sentry(Get(sentry)) ++ consensus(Get(consensus))
        ++ Opt("advertise", Get(advertise)) ++ Opt("bind", Get(bind))
        ++ Opt("naming", Get(naming)) ++ Opt("profile", Get(profile))
        ++ Opt("passphrase", Get(passphrase)) ++ Opt("key-file", Get(key_file))
        ++ Tag
        ++ lists:append([["--tag", K ++ "=" ++ V]
                         || {K, V} <- [{atom_to_list_(K0), atom_to_list_(V0)}
                                       || {K0, V0} <- application:get_env(cloister, tags, [])]])
        ++ application:get_env(cloister, agent_args, []).

%% Elixir Cloister: sentry is a service name (atom: a DNS name) or a list
%% of nodes (app@host).  A string is passed to the agent as it is.
sentry(undefined) -> [];
sentry(A) when is_atom(A) -> ["--sentry", "dns:" ++ atom_to_list(A)];
sentry([H | _] = L) when is_atom(H) ->
    ["--sentry", lists:flatten(lists:join(",", [atom_to_list(N) || N <- L]))];
sentry(S) -> ["--sentry", atom_to_list_(S)].

consensus(undefined) -> [];
consensus(N) when is_integer(N) -> ["--consensus", integer_to_list(N)];
consensus({majority, N}) -> ["--consensus", "majority:" ++ integer_to_list(N)];
consensus(S) -> ["--consensus", atom_to_list_(S)].
