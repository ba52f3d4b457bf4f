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
         request/2, request/3, why_not_ready/0, not_connected/0,
         epmd_name/1, agent_addr_of/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(TOPIC, <<"erlang.cloister">>).
%% The agent answers every request at once except multicall (bounded by
%% its own timeout); this covers a busy node.
-define(REQUEST_TIMEOUT, 10000).

%% agent_pid stays the record's second field (element 3): the bindings'
%% test reads it with sys:get_state/1 to stop a stray agent by pid.
%% status is what this node reports (and its listener sees): the agent's
%% status, except that `ready` also needs every alive BEAM member connected
%% over Erlang distribution (agent_status is the agent's own).
-record(st, {port, agent_pid, status = down, members = #{}, self = <<>>,
             listener, waiters = [], sentry = undefined, alive = 0, next = 1,
             pending = #{}, agent_status = down, epmd = undefined,
             seeds = [], connecting = #{}, failing = #{}}).

start_link() -> gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% ok once the cluster is ready; after Timeout ms (an integer or
%% infinity, Cloister's default: it waits as long as it takes)
%% {error, timeout}, or {error, {not_connected, Nodes}} when the agents
%% agree but distribution does not reach Nodes.  Logs why it still waits
%% every 10 s.
await_ready(Timeout) ->
    Now = erlang:monotonic_time(millisecond),
    Deadline = case Timeout of infinity -> infinity; T -> Now + T end,
    await_ready(Deadline, Now + 10000).

await_ready(Deadline, NextLog) ->
    case why_not_ready() of
        ready -> ok;
        Why ->
            Now = erlang:monotonic_time(millisecond),
            NextLog1 = case Now >= NextLog of
                           true ->
                               logger:warning("cloister: still waiting for the cluster: ~p", [Why]),
                               Now + 10000;
                           false -> NextLog
                       end,
            %% An atom compares greater than any integer: infinity never passes.
            case Now >= Deadline of
                true -> {error, case Why of
                                    {ready, NC} when NC =/= [] -> {not_connected, NC};
                                    _ -> timeout
                                end};
                false -> timer:sleep(100), await_ready(Deadline, NextLog1)
            end
    end.

%% ready, or {AgentStatus, NotConnected}: what keeps this node from ready.
why_not_ready() -> gen_server:call(?MODULE, why_not_ready).

%% Alive BEAM members the agent counts that distribution does not reach.
not_connected() -> gen_server:call(?MODULE, not_connected).

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
    start_agent(3).

%% A free port found for the agent may be taken before the agent binds it
%% (it then exits before its hello): another port, a few times.
start_agent(Tries) ->
    Bin = agent_path(),
    Listen = listen_addr(),
    Args = agent_args(Listen),
    Retry = Tries > 1 andalso application:get_env(cloister, agent_port) =:= undefined
        andalso is_tuple(Listen) andalso element(1, Listen) =:= epmd,
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
                    case start_distribution(Status) of
                        ok -> hello(St0, Status, Members, Listen);
                        {error, Why} ->
                            catch port_close(Port),
                            {stop, Why}
                    end;
                Other ->
                    catch port_close(Port),
                    {stop, {agent_protocol, Other}}
            end;
        {Port, {exit_status, S}} when Retry ->
            logger:warning("cloister: the agent exited (~b) before its hello; another port", [S]),
            start_agent(Tries - 1);
        {Port, {exit_status, S}} ->
            {stop, {agent_exited, S}}
    after 10000 ->
            catch port_close(Port),
            os:cmd("kill -TERM " ++ integer_to_list(OsPid)),
            {stop, agent_no_hello}
    end.

hello(St0, Status, Members, Listen) ->
    case node() of
        nonode@nohost -> ok;
        _ -> ok = net_kernel:monitor_nodes(true)
    end,
    Epmd = case Listen of
               {epmd, _, P} -> epmd_register(P);
               _ -> undefined
           end,
    erlang:send_after(1000, self(), tick),
    St1 = St0#st{self = maps:get(node, Status), epmd = Epmd,
                 seeds = epmd_seeds(Listen),
                 alive = maps:get(alive, Status),
                 sentry = undefined_if_null(maps:get(sentry, Status))},
    St2 = lists:foldl(fun(M, A) -> member(A, M) end, St1, Members),
    St3 = agent_status(St2, maps:get(status, Status)),
    St4 = seed_joins(St3),
    {ok, send(St4, answer, ?TOPIC, ignore)}.

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
%% A node that cannot start distribution does not start at all: left
%% nonode@nohost, every member would map to one node and mine/1 would be
%% true everywhere.
start_distribution(#{address := Addr}) ->
    case {node(), host_of(Addr)} of
        {nonode@nohost, ""} ->
            logger:notice("cloister: no network (nonode): staying nonode@nohost");
        {nonode@nohost, Host0} ->
            {Host, Mode} = case application:get_env(cloister, naming) of
                               {ok, N} when N =:= shortnames; N =:= "shortnames" ->
                                   {ok, H} = inet:gethostname(),
                                   {H, shortnames};
                               _ -> {Host0, longnames}
                           end,
            Name = list_to_atom(otp_app() ++ "@" ++ Host),
            ensure_epmd(),
            case net_kernel:start([Name, Mode]) of
                {ok, _} ->
                    logger:notice("cloister: distribution started as ~s", [Name]),
                    case application:get_env(cloister, cookie) of
                        {ok, C} -> erlang:set_cookie(node(), C);
                        undefined -> ok
                    end;
                {error, E} ->
                    logger:error("cloister: cannot start Erlang distribution as ~s: ~p "
                                 "(name taken, epmd unreachable, or the distribution "
                                 "port in use); the cloister application does not start",
                                 [Name, E]),
                    {error, {distribution, Name, E}}
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
handle_call(why_not_ready, _From, St = #st{status = ready}) -> {reply, ready, St};
handle_call(why_not_ready, _From, St) ->
    {reply, {St#st.agent_status, missing(St)}, St};
handle_call(not_connected, _From, St) -> {reply, missing(St), St};
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
handle_info(tick, St) ->
    erlang:send_after(1000, self(), tick),
    St1 = case St#st.epmd of
              undefined -> St;
              {closed, P} -> St#st{epmd = epmd_register(P, quiet)};
              _ -> St
          end,
    {noreply, recompute(seed_joins(connect_missing(St1)))};
handle_info({nodeup, _}, St) -> {noreply, recompute(St)};
handle_info({nodedown, _}, St) -> {noreply, recompute(St)};
handle_info({connected, Node, R}, St = #st{connecting = C, failing = F}) ->
    St1 = St#st{connecting = maps:remove(Node, C)},
    Now = erlang:monotonic_time(millisecond),
    St2 = case R of
              true -> St1#st{failing = maps:remove(Node, F)};
              _ ->
                  %% monotonic_time may be negative: no entry means log now.
                  case maps:get(Node, F, Now) of
                      Next when Now >= Next ->
                          logger:error("cloister: cannot connect to ~s over Erlang distribution "
                                       "(~p): a different cookie, a blocked distribution port "
                                       "or a host name this node cannot resolve; its agent is "
                                       "alive, so this node is not ready until it connects",
                                       [Node, R]),
                          St1#st{failing = F#{Node => Now + 10000}};
                      _ -> St1
                  end
          end,
    {noreply, recompute(St2)};
handle_info({seed, Addr}, St) ->
    {noreply, send(St, join, [Addr], ignore)};
handle_info({tcp_closed, S}, St = #st{epmd = {S, P}}) ->
    logger:warning("cloister: epmd closed the agent's registration; registering again"),
    {noreply, St#st{epmd = {closed, P}}};
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
    agent_status(St#st{sentry = undefined_if_null(maps:get(sentry, Ev, St#st.sentry)),
                       alive = maps:get(alive, Ev, St#st.alive)}, To);
frame(St, {event, #{type := member} = M}) -> recompute(connect_missing(member(St, M)));
frame(St, {event, #{type := sentry, sentry := S}}) ->
    Old = St#st.sentry,
    New = undefined_if_null(S),
    L = St#st.listener,
    case Old =/= New andalso L =/= undefined andalso
        (code:ensure_loaded(L) =:= {module, L}) andalso
        erlang:function_exported(L, on_sentry_change, 2) of
        true -> catch L:on_sentry_change(Old, New);
        false -> ok
    end,
    St#st{sentry = New};
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

%% The agent's status; ours follows it, with ready held back until the
%% mesh is complete.
agent_status(St, To) -> recompute(St#st{agent_status = To}).

recompute(St = #st{agent_status = ready}) ->
    case {missing(St), enough(St)} of
        {[], true} -> change(St, ready);
        _ when St#st.status =:= ready -> change(St, rehashing);
        _ when St#st.status =:= down; St#st.status =:= assembling -> change(St, rehashing);
        _ -> St
    end;
recompute(St = #st{agent_status = A}) -> change(St, A).

%% A member event can arrive before the agent's status event that follows
%% from it: ready is also held back while our own count of live members
%% (alive or suspect, as the agent counts them) is below the consensus.
enough(#st{members = Ms}) ->
    Alive = length([x || {_, #{status := S}} <- maps:to_list(Ms), S =:= alive orelse S =:= suspect]),
    case application:get_env(cloister, consensus, 1) of
        N when is_integer(N) -> Alive >= N;
        {majority, N} -> Alive > N div 2;
        S ->
            case string:split(atom_to_list_(S), ":") of
                ["majority", N] -> Alive > list_to_integer(N) div 2;
                [N] -> Alive >= list_to_integer(N)
            end
    end.

%% Alive BEAM members (other than this node) not in nodes().
missing(#st{members = Ms}) when node() =:= nonode@nohost -> _ = Ms, [];
missing(#st{members = Ms}) ->
    Connected = nodes(),
    lists:usort([N || {_, #{status := alive, node := N, beam := true}} <- maps:to_list(Ms),
                      N =/= node(), not lists:member(N, Connected)]).

%% One connection attempt at a time per node, in a process of its own
%% (connect_node waits for the handshake).
connect_missing(St = #st{connecting = C}) ->
    Self = self(),
    New = [N || N <- missing(St), not maps:is_key(N, C)],
    [spawn(fun() -> Self ! {connected, N, net_kernel:connect_node(N)} end) || N <- New],
    St#st{connecting = maps:merge(C, maps:from_list([{N, true} || N <- New]))}.

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
    %% Members without these tags are not BEAMs (C services on
    %% libcloister, other agents): ring members, not mesh members.
    Beam = maps:is_key(<<"erlang">>, Tags) orelse maps:is_key(<<"erlang_node">>, Tags),
    Members = (St#st.members)#{Name => #{status => Status, node => Node, tags => Tags,
                                         addr => maps:get(addr, M, <<>>), beam => Beam}},
    case {Status, Node =:= node(), node()} of
        {_, true, _} -> ok;
        {_, _, nonode@nohost} -> ok;
        {S, false, _} when Beam, S =:= dead orelse S =:= left ->
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

%% The agent: the `agent` setting, $CLOISTER_BIN, the one the build put
%% in priv/ (agent.sh), `cloister` on PATH.
agent_path() ->
    Priv = case code:priv_dir(cloister) of
               {error, _} -> false;
               Dir -> filelib:is_regular(filename:join(Dir, "cloister"))
                          andalso filename:absname(filename:join(Dir, "cloister"))
           end,
    case {application:get_env(cloister, agent), os:getenv("CLOISTER_BIN"), Priv} of
        {{ok, P}, _, _} -> P;
        {_, P, _} when P =/= false, P =/= "" -> P;
        {_, _, P} when P =/= false -> P;
        _ ->
            case os:find_executable("cloister") of
                false ->
                    logger:error("cloister: no agent: not in priv/ (the build puts it there: "
                                 "bindings/erlang/agent.sh), CLOISTER_BIN unset, none on PATH"),
                    exit(cloister_agent_not_found);
                P -> P
            end
    end.

agent_args(Listen) ->
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
    Where = case Listen of
                {epmd, IP, AgentPort} ->
                    A = inet:ntoa(IP) ++ ":" ++ integer_to_list(AgentPort),
                    ["--bind", A, "--advertise", A];
                default -> []
            end,
    %% With epmd the binding dials the sentry itself (seed_joins/1): the
    %% agent would dial every node list entry at port 7946.
    Sentry = case {Listen, Get(sentry)} of
                 {{epmd, _, _}, S} when is_atom(S); is_list(S), is_atom(hd(S)) -> [];
                 {_, S} -> sentry(S)
             end,
    ["agent", "--stdio", "etf", "--app", otp_app(), "--http", Http,
     "--ring", atom_to_list_(Get(ring)), "--tag", "erlang=1"]
        ++ Where ++ Sentry ++ consensus(Get(consensus))
        ++ Opt("advertise", Get(advertise)) ++ Opt("bind", Get(bind))
        ++ Opt("naming", Get(naming)) ++ Opt("profile", Get(profile))
        ++ Opt("key-file", Get(key_file))
        ++ Tag
        ++ lists:append([["--tag", K ++ "=" ++ V]
                         || {K, V} <- [{atom_to_list_(K0), atom_to_list_(V0)}
                                       || {K0, V0} <- application:get_env(cloister, tags, [])]])
        ++ application:get_env(cloister, agent_args, []).

%% Where the agent listens.  A node started distributed (`iex --name
%% a@127.0.0.1`) with epmd and no advertise/bind of its own gets a free
%% port on its host's address and publishes it in epmd under
%% "NAME@cloister" (a name no node can have), so several BEAMs share a
%% host and an address without settings: peers find each agent the way
%% they find the node itself.  Otherwise the agent's default, port 7946.
listen_addr() ->
    Get = fun(K) -> application:get_env(cloister, K, undefined) end,
    NoEpmd = init:get_argument(start_epmd) =:= {ok, [["false"]]}
        orelse init:get_argument(erl_epmd_port) =/= error,
    case {node(), Get(advertise), Get(bind), Get(agent_port), NoEpmd} of
        {_, _, _, P, _} when is_integer(P), node() =/= nonode@nohost ->
            {epmd, host_ip(node()), P};
        {nonode@nohost, _, _, _, _} -> default;
        {_, undefined, undefined, _, false} -> {epmd, host_ip(node()), free_port(host_ip(node()), 20)};
        _ -> default
    end.

host_ip(Node) ->
    [_, Host] = string:split(atom_to_list(Node), "@"),
    case inet:parse_address(Host) of
        {ok, IP} -> IP;
        _ ->
            case inet:getaddr(Host, inet) of
                {ok, IP} -> IP;
                {error, E} -> exit({cloister_host_unresolvable, Host, E})
            end
    end.

%% A port free for both UDP and TCP on IP (the agent listens on both).
free_port(IP, 0) -> exit({cloister_no_free_port, IP});
free_port(IP, Tries) ->
    {ok, U} = gen_udp:open(0, [{ip, IP}]),
    {ok, P} = inet:port(U),
    R = gen_tcp:listen(P, [{ip, IP}]),
    gen_udp:close(U),
    case R of
        {ok, L} -> gen_tcp:close(L), P;
        _ -> free_port(IP, Tries - 1)
    end.

%% The epmd name of a node's agent.
epmd_name(Node) -> hd(string:split(atom_to_list(Node), "@")) ++ "@cloister".

epmd_port() ->
    case os:getenv("ERL_EPMD_PORT") of
        false -> 4369;
        P -> list_to_integer(P)
    end.

%% ALIVE2_REQ on a connection of our own: epmd keeps the name while the
%% connection lasts, so it goes when this BEAM goes, as the node's does.
epmd_register(Port) -> epmd_register(Port, loud).

%% quiet: a retry every second, whose failure was already logged.
epmd_register(Port, Mode) ->
    Name = list_to_binary(epmd_name(node())),
    Req = <<$x, Port:16, 77, 0, 6:16, 5:16, (byte_size(Name)):16, Name/binary, 0:16>>,
    case gen_tcp:connect({127, 0, 0, 1}, epmd_port(), [binary, {active, false}], 5000) of
        {ok, S} ->
            ok = gen_tcp:send(S, <<(byte_size(Req)):16, Req/binary>>),
            case gen_tcp:recv(S, 2, 5000) of
                {ok, <<R, 0>>} when R =:= 121; R =:= 118 ->
                    inet:setopts(S, [{active, true}]),
                    logger:notice("cloister: agent ~s registered in epmd as ~s",
                                  [integer_to_list(Port), Name]),
                    {S, Port};
                Other ->
                    gen_tcp:close(S),
                    Mode =:= loud andalso
                        logger:error("cloister: epmd refused the agent's name ~s: ~p "
                                     "(retrying every second)", [Name, Other]),
                    {closed, Port}
            end;
        {error, E} ->
            Mode =:= loud andalso
                logger:error("cloister: cannot reach epmd to register the agent: ~p "
                             "(retrying every second)", [E]),
            {closed, Port}
    end.

%% "HOST:PORT" of Node's agent, from epmd on Node's host.
agent_addr_of(Node) ->
    IP = host_ip(Node),
    case erl_epmd:port_please(epmd_name(Node), IP) of
        {port, P, _} -> {ok, inet:ntoa(IP) ++ ":" ++ integer_to_list(P)};
        Other -> {error, Other}
    end.

%% The nodes an epmd-mode node dials itself: the sentry's nodes.
epmd_seeds({epmd, _, _}) ->
    case application:get_env(cloister, sentry, undefined) of
        [H | _] = L when is_atom(H) -> L -- [node()];
        A when is_atom(A), A =/= undefined ->
            App = otp_app(),
            case inet:getaddrs(atom_to_list(A), inet) of
                {ok, IPs} -> [list_to_atom(App ++ "@" ++ inet:ntoa(I)) || I <- IPs] -- [node()];
                _ -> []
            end;
        _ -> []
    end;
epmd_seeds(_) -> [].

%% Dials the seeds that are not alive members, by their epmd entries
%% (one lookup round at a time).
seed_joins(St = #st{seeds = []}) -> St;
seed_joins(St = #st{seeds = Seeds, members = Ms, connecting = C}) ->
    Alive = [N || {_, #{status := S, node := N}} <- maps:to_list(Ms), S =/= dead, S =/= left],
    case [N || N <- Seeds, not lists:member(N, Alive)] of
        [] -> St;
        _ when is_map_key('$seeding', C) -> St;
        Todo ->
            Self = self(),
            spawn(fun() ->
                          try
                              [case catch agent_addr_of(N) of
                                   {ok, A} -> Self ! {seed, list_to_binary(A)};
                                   _ -> ok
                               end || N <- Todo]
                          after
                              Self ! {connected, '$seeding', true}
                          end
                  end),
            St#st{connecting = C#{'$seeding' => true}}
    end.

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
