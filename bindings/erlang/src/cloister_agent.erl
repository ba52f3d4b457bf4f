%% cloister_agent: runs `cloister agent --stdio etf` beside this node as an
%% Erlang port and speaks to it in the external term format, {packet, 4}.
%%
%% Protocol (bindings/README.md has the table): this process sends
%% {Ref, Command, Args}; the agent answers {reply, Ref, Result} or
%% {error, Ref, Why}, and sends on its own {hello, Info} first (status and
%% members as they are before the node starts, so the listener sees the
%% very first transition), then {event, Map} for status, member and
%% sentry changes, {message, ...} and {call, Id, ...} for the topic this
%% node answers.
%%
%% Lifetime: the agent reads the port's stdin; when this node dies (even
%% kill -9) the pipe closes, the agent sees end of input, leaves the
%% cluster gracefully and exits.  Nothing else (no wrapper, no pid file).
%%
%% The cluster key: by default the agent derives it from this node's
%% Erlang cookie (as passphrase, salted with otp_app; Argon2id in the
%% agent), so the members of the cluster are exactly the holders of the
%% cookie, as in distributed Erlang, where a cookie holder can already run
%% any code on any node.  A configured key, key_file or passphrase replaces
%% it.  Secrets go to the agent in its environment (CLOISTER_PASSPHRASE,
%% CLOISTER_KEY), never on its command line, which every local user can
%% read in ps.
%%
%% Calls and casts on the topic erlang.cloister (cloister:multicall/3,
%% multicast/3 from other members) reach only registered names (atoms, no
%% pids), and only those in call_allow when it is a list.
-module(cloister_agent).
-behaviour(gen_server).

-export([start_link/0, await_ready/1, status/0, members/0, sentry/0,
         request/2, request/3]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(TOPIC, <<"erlang.cloister">>).
%% The agent answers every request at once except multicall (bounded by
%% its own timeout); this covers a busy node.
-define(REQUEST_TIMEOUT, 10000).

%% agent_pid stays the record's second field (element 3): the bindings'
%% test reads it with sys:get_state/1 to stop a stray agent by pid.
-record(st, {port, agent_pid, status = down, members = #{}, self = <<>>,
             listener, waiters = [], sentry = undefined, alive = 0, next = 1,
             pending = #{}}).

start_link() -> gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% ok once the cluster is ready, {error, timeout} after Timeout ms.
await_ready(Timeout) ->
    try gen_server:call(?MODULE, await_ready, Timeout)
    catch exit:{timeout, _} -> {error, timeout}
    end.

status() -> gen_server:call(?MODULE, status).
members() -> gen_server:call(?MODULE, members).
sentry() -> gen_server:call(?MODULE, sentry).

%% One request to the agent: its Result ({ok, _}, ok or {error, _}), or
%% {error, {refused, Why}} for a request the agent could not read.
request(Command, Args) -> request(Command, Args, ?REQUEST_TIMEOUT).
request(Command, Args, Timeout) ->
    try gen_server:call(?MODULE, {request, Command, Args}, Timeout)
    catch exit:{timeout, _} -> {error, timeout}
    end.

%% ---------------------------------------------------------------- init

init([]) ->
    process_flag(trap_exit, true),
    _ = atoms(),
    Bin = agent_path(),
    Args = agent_args(),
    logger:notice("cloister: starting agent ~s ~s (cluster key: ~s)",
                  [Bin, lists:join(" ", Args), key_source()]),
    Opts = [{packet, 4}, binary, exit_status, use_stdio, {env, agent_env()}],
    Port = case application:get_env(cloister, agent_log) of
               {ok, Log} when Log =/= false, Log =/= "" ->
                   %% exec: the shell becomes the agent, same pid and pipes.
                   open_port({spawn_executable, "/bin/sh"},
                             [{args, ["-c", "exec \"$@\" 2>>\"$0\"", Log, Bin | Args]}
                              | Opts]);
               _ ->
                   open_port({spawn_executable, Bin}, [{args, Args} | Opts])
           end,
    {os_pid, OsPid} = erlang:port_info(Port, os_pid),
    St0 = #st{port = Port, agent_pid = integer_to_list(OsPid),
              listener = application:get_env(cloister, listener, undefined)},
    receive
        {Port, {data, B}} ->
            case catch binary_to_term(B, [safe]) of
                {hello, #{status := Status, members := Members}} ->
                    start_distribution(Status),
                    St1 = St0#st{self = maps:get(node, Status),
                                 alive = maps:get(alive, Status),
                                 sentry = undefined_if_null(maps:get(sentry, Status))},
                    St2 = lists:foldl(fun(M, A) -> member(A, M) end, St1, Members),
                    St3 = change(St2, maps:get(status, Status)),
                    {ok, send(St3, answer, ?TOPIC, ignore)};
                Other ->
                    catch port_close(Port),
                    {stop, {agent_protocol, Other}}
            end;
        {Port, {exit_status, S}} ->
            {stop, {agent_exited, S}}
    after 10000 ->
            catch port_close(Port),
            os:cmd("kill -TERM " ++ integer_to_list(OsPid)),
            {stop, agent_no_hello}
    end.

%% Every atom the agent may send: binary_to_term(_, [safe]) only accepts
%% atoms that exist, and listing them here makes sure they do.
atoms() ->
    [hello, reply, error, event, message, call, ok, undefined, true, false,
     protocol, frame_max, status, members, node, address, consensus, majority,
     alive, sentry, rings, version, type, state, from, to, member, event,
     name, addr, incarnation, start_ms, tags, dropped, count, keys, primary,
     down, assembling, rehashing, ready, stopping, stopped,
     suspect, dead, left, joined, updated, failed, reaped,
     badarg, enomem, too_large, not_found, limit, bad_state, timeout, exists,
     failed, not_waiting, nonode, no_keyring, full, no_thread].

undefined_if_null(undefined) -> undefined;
undefined_if_null(B) when is_binary(B) -> B.

%% Cloister's naming: app@ADDRESS where ADDRESS is what the agent chose.
start_distribution(#{address := Addr}) ->
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

%% ---------------------------------------------------------------- calls

handle_call(await_ready, _From, St = #st{status = ready}) -> {reply, ok, St};
handle_call(await_ready, From, St) -> {noreply, St#st{waiters = [From | St#st.waiters]}};
handle_call(status, _From, St) -> {reply, St#st.status, St};
handle_call(members, _From, St) -> {reply, St#st.members, St};
handle_call(sentry, _From, St) -> {reply, St#st.sentry, St};
handle_call({request, Command, Args}, From, St) ->
    {noreply, send(St, Command, Args, From)}.

%% A call's answer, computed in a process of its own.
handle_cast({call_reply, Id, Bin}, St) -> {noreply, send(St, reply, {Id, Bin}, ignore)};
handle_cast(_, St) -> {noreply, St}.

handle_info({Port, {data, B}}, St = #st{port = Port}) ->
    case catch binary_to_term(B, [safe]) of
        {'EXIT', _} ->
            logger:warning("cloister: unreadable frame from the agent (~b bytes)",
                           [byte_size(B)]),
            {noreply, St};
        T -> {noreply, frame(St, T)}
    end;
handle_info({Port, {exit_status, S}}, St = #st{port = Port}) ->
    logger:error("cloister: the agent exited with status ~b", [S]),
    {stop, {agent_exited, S}, St#st{port = undefined}};
handle_info({'EXIT', Port, Why}, St = #st{port = Port}) ->
    {stop, {agent_port, Why}, St#st{port = undefined}};
handle_info(_, St) -> {noreply, St}.

%% Closing the port closes the agent's stdin: it leaves and exits.
terminate(_Why, St) ->
    case St#st.port of
        undefined -> ok;
        Port -> catch port_close(Port)
    end,
    ok.

%% ---------------------------------------------------------------- frames

send(St = #st{port = Port, next = Ref, pending = P}, Command, Args, From) ->
    port_command(Port, term_to_binary({Ref, Command, Args})),
    St#st{next = Ref + 1, pending = P#{Ref => From}}.

frame(St, {reply, Ref, Result}) -> answer(St, Ref, Result);
frame(St, {error, undefined, Why}) ->
    logger:error("cloister: the agent refused a frame: ~s", [Why]),
    St;
frame(St, {error, Ref, Why}) -> answer(St, Ref, {error, {refused, Why}});
frame(St, {event, #{type := state, to := To} = Ev}) ->
    change(St#st{sentry = undefined_if_null(maps:get(sentry, Ev, St#st.sentry)),
                 alive = maps:get(alive, Ev, St#st.alive)}, To);
frame(St, {event, #{type := member} = M}) -> member(St, M);
frame(St, {event, #{type := sentry, sentry := S}}) -> St#st{sentry = undefined_if_null(S)};
frame(St, {event, #{type := dropped, count := N}}) ->
    logger:warning("cloister: the agent dropped ~b frames (this node was not reading)", [N]),
    St;
frame(St, {message, ?TOPIC, From, Data}) ->
    catch case binary_to_term(Data, [safe]) of
              {cast, Name, Msg} ->
                  case allowed(Name) of
                      true -> gen_server:cast(Name, Msg);
                      false -> refused(cast, Name, From)
                  end;
              _ -> ok
          end,
    St;
frame(St, {call, Id, ?TOPIC, From, Data}) ->
    spawn(fun() ->
                  Reply = try binary_to_term(Data, [safe]) of
                              {call, Name, Msg} ->
                                  case allowed(Name) of
                                      true -> gen_server:call(Name, Msg, 1800);
                                      false -> refused(call, Name, From),
                                               {badrpc, {not_allowed, Name}}
                                  end;
                              _ -> {badrpc, badarg}
                          catch C:E -> {badrpc, {C, E}}
                          end,
                  gen_server:cast(?MODULE, {call_reply, Id, term_to_binary(Reply)})
          end),
    St;
frame(St, Other) ->
    logger:info("cloister: ignored a frame from the agent: ~P", [Other, 8]),
    St.

%% A remote member may reach a registered name (never a pid: a pid in a
%% message is any process of this node), and with call_allow set to a
%% list, only the names in it.
allowed(Name) when is_atom(Name) ->
    case application:get_env(cloister, call_allow, all) of
        all -> true;
        L when is_list(L) -> lists:member(Name, L);
        _ -> false
    end;
allowed(_) -> false.

refused(Kind, Name, From) ->
    logger:warning("cloister: refused a remote ~s to ~0p from ~0p: not a registered "
                   "name in call_allow", [Kind, Name, From]).

answer(St = #st{pending = P}, Ref, Result) ->
    case maps:take(Ref, P) of
        {ignore, P1} ->
            case Result of
                {error, _} -> logger:warning("cloister: agent request ~p: ~p", [Ref, Result]);
                _ -> ok
            end,
            St#st{pending = P1};
        {From, P1} -> gen_server:reply(From, Result), St#st{pending = P1};
        error -> St
    end.

change(St = #st{status = S}, S) -> St;
change(St = #st{status = From, listener = L}, To) ->
    logger:notice("cloister: status ~s -> ~s", [From, To]),
    case L of
        undefined -> ok;
        _ -> try L:on_state_change(From, To, cloister:state_map(To, St#st.alive,
                                                                 St#st.sentry))
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

%% Members by name; the Erlang mesh follows them.  This node's own entry
%% is node() whatever its member name (nonode@nohost in nonode mode).
member(St, #{name := Name, status := Status} = M) ->
    Tags = maps:get(tags, M, #{}),
    Node = case Name =:= St#st.self of
               true -> node();
               false -> binary_to_atom(maps:get(<<"erlang_node">>, Tags, Name), utf8)
           end,
    Members = (St#st.members)#{Name => #{status => Status, node => Node, tags => Tags,
                                         addr => maps:get(addr, M, <<>>)}},
    case {Status, Node =:= node(), node()} of
        {_, true, _} -> ok;
        {_, _, nonode@nohost} -> ok;
        {alive, false, _} ->
            case lists:member(Node, nodes()) of
                true -> ok;
                false -> spawn(fun() ->
                                       R = net_kernel:connect_node(Node),
                                       logger:notice("cloister: connect ~s: ~p", [Node, R])
                               end)
            end;
        {S, false, _} when S =:= dead; S =:= left ->
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

agent_args() ->
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
    %% The HTTP control API is off unless asked for (`http` or
    %% `http_port`): this node talks to the agent over the port only.
    Http = case {Get(http), Get(http_port)} of
               {undefined, undefined} -> "off";
               {undefined, P} -> "127.0.0.1:" ++ integer_to_list(P);
               {H, _} -> atom_to_list_(H)
           end,
    ["agent", "--stdio", "etf", "--app", otp_app(), "--http", Http,
     "--ring", atom_to_list_(Get(ring))]
        ++ sentry(Get(sentry)) ++ consensus(Get(consensus))
        ++ Opt("advertise", Get(advertise)) ++ Opt("bind", Get(bind))
        ++ Opt("naming", Get(naming)) ++ Opt("profile", Get(profile))
        ++ Opt("key-file", Get(key_file))
        ++ Tag
        ++ lists:append([["--tag", K ++ "=" ++ V]
                         || {K, V} <- [{atom_to_list_(K0), atom_to_list_(V0)}
                                       || {K0, V0} <- application:get_env(cloister, tags, [])]])
        ++ application:get_env(cloister, agent_args, []).

%% The key's source, for the start's log line (never the secret).
key_source() ->
    case key_config() of
        {app, key, _} -> "key";
        {app, key_file, _} -> "key_file";
        {app, passphrase, _} -> "passphrase";
        {os, V} -> V ++ " from the environment";
        {cookie, _} -> "derived from the Erlang cookie and otp_app";
        none -> "none (no cookie known: loopback only)"
    end.

-define(KEY_VARS, ["CLOISTER_KEY", "CLOISTER_KEY_FILE", "CLOISTER_PASSPHRASE"]).

%% Where the key comes from, first found: the application's key,
%% key_file or passphrase (one of them); the BEAM's own CLOISTER_KEY,
%% CLOISTER_KEY_FILE or CLOISTER_PASSPHRASE, left for the agent to read;
%% the cookie.
key_config() ->
    Get = fun(K) -> application:get_env(cloister, K, undefined) end,
    case [{K, V} || {K, V} <- [{K0, Get(K0)} || K0 <- [key, key_file, passphrase]],
                     V =/= undefined] of
        [{K, V}] -> {app, K, atom_to_list_(V)};
        [_, _ | _] = L ->
            exit({cloister_key_config, "give one of key, key_file, passphrase",
                  [K || {K, _} <- L]});
        [] ->
            case [V || V <- ?KEY_VARS, os:getenv(V) =/= false, os:getenv(V) =/= ""] of
                [V | _] -> {os, V};
                [] ->
                    case cookie() of
                        undefined -> none;
                        C -> {cookie, C}
                    end
            end
    end.

%% The agent's environment: the secret (never an argument: every local
%% user reads those in ps), and the BEAM's own key variables unset when
%% they are not the source (the agent would otherwise prefer them).
%% {Name, false} unsets Name in the child.
agent_env() ->
    Unset = fun(Keep) -> [{V, false} || V <- ?KEY_VARS, V =/= Keep] end,
    case key_config() of
        {app, key, K} -> [{"CLOISTER_KEY", K} | Unset("CLOISTER_KEY")];
        {app, key_file, _} -> Unset(none);  % a path, given as --key-file
        {app, passphrase, P} -> [{"CLOISTER_PASSPHRASE", P} | Unset("CLOISTER_PASSPHRASE")];
        {os, _} -> [];
        {cookie, C} -> [{"CLOISTER_PASSPHRASE", C} | Unset("CLOISTER_PASSPHRASE")];
        none -> Unset(none)
    end.

%% The cookie distribution uses or will use: the cloister `cookie`
%% setting, the running node's, -setcookie, else the cookie file
%% ($XDG_CONFIG_HOME/erlang/.erlang.cookie, then ~/.erlang.cookie, as
%% OTP reads them).  undefined when none is known yet (the node is not
%% distributed and no file exists: distribution would invent one).
cookie() ->
    case application:get_env(cloister, cookie) of
        {ok, C} -> atom_to_list_(C);
        undefined ->
            case erlang:get_cookie() of
                nocookie -> cookie_arg();
                C -> atom_to_list(C)
            end
    end.

cookie_arg() ->
    case init:get_argument(setcookie) of
        {ok, [[C] | _]} -> C;
        _ -> cookie_file()
    end.

cookie_file() ->
    Xdg = filename:join(filename:basedir(user_config, "erlang"), ".erlang.cookie"),
    Home = case init:get_argument(home) of
               {ok, [[H] | _]} -> [filename:join(H, ".erlang.cookie")];
               _ -> []
           end,
    first_cookie([Xdg | Home]).

first_cookie([]) -> undefined;
first_cookie([F | Rest]) ->
    case file:read_file(F) of
        {ok, B} ->
            case string:trim(hd(string:split(binary_to_list(B), "\n")), trailing) of
                "" -> first_cookie(Rest);
                C -> C
            end;
        _ -> first_cookie(Rest)
    end.

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
