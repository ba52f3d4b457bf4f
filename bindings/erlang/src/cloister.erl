%% cloister: the public API (Elixir Cloister's, in Erlang).
%%
%% Placement (whois/mine) runs here, with libring 1.7.0's algorithm over
%% the agent's alive members (phash2 of any term, 128 points per node):
%% only the BEAM can phash2 an arbitrary term, and this is exactly what
%% libring computes.  agent_whois/2 asks the agent's own ring instead
%% (binary keys only).
%%
%% multicast/multicall go over the agent (its Erlang port, cloister_agent):
%% a message {Name, Msg} encoded with term_to_binary travels on topic
%% "erlang.cloister" to every alive member's agent, whose BEAM delivers it
%% with gen_server:cast/call to the locally registered Name.
-module(cloister).
-export([whois/1, whois/2, mine/1, siblings/0, state/0, states/0, sentry/0,
         multicast/2, multicast/3, multicall/2, multicall/3,
         status/0, members/0, state_map/1, state_map/3, encode/1, decode/1,
         libring_whois/2, agent_whois/2]).

-define(TOPIC, <<"erlang.cloister">>).

%% The owner's Erlang node of Key on the default ring.
whois(Key) -> whois(default, Key).

agent_whois(Ring, Key) when is_binary(Key) ->
    R = case Ring of default -> default; _ -> list_to_binary(to_list(Ring)) end,
    case cloister_agent:request(whois, {Key, R, 1}) of
        {ok, [Owner | _]} -> {ok, node_of(Owner)};
        {error, _} = E -> E
    end.

whois(default, Key) ->
    case [N || {_, #{status := S, node := N}} <- maps:to_list(members()), live(S)] of
        [] -> {error, no_members};
        Nodes -> {ok, libring_whois(Nodes, Key)}
    end;
whois(_, _) -> {error, badarg}.

mine(Key) -> whois(Key) =:= {ok, node()}.

%% Live (alive or suspect) members' Erlang nodes, this one included
%% (Elixir Cloister's).
siblings() ->
    lists:sort([N || {_, #{status := S, node := N}} <- maps:to_list(members()), live(S)]).

%% As the agent counts and places them: a suspect is still a member until
%% its suspicion ends (the agent's rings hold it, so must ours).
live(alive) -> true;
live(suspect) -> true;
live(_) -> false.

state() -> cloister_agent:status().
status() -> cloister_agent:status().
members() -> cloister_agent:members().

%% Every node's status as this node last saw it (membership view).
states() ->
    [{N, S} || {_, #{status := S, node := N}} <- maps:to_list(members())].

%% The elected sentry node (the agent's status), or undefined.
sentry() ->
    case cloister_agent:request(status, []) of
        {ok, #{sentry := S}} when is_binary(S) -> node_of(S);
        _ -> undefined
    end.

%% Send Msg to the process registered as Name on every alive member
%% (gen_server:cast).  Returns {ok, NQueued} | {error, _}.
multicast(Name, Msg) -> multicast(all, Name, Msg).
multicast(Members, Name, Msg) ->
    Data = encode({cast, Name, Msg}),
    Args = case Members of
               all -> {?TOPIC, Data};
               L -> {?TOPIC, Data, [member_of(N) || N <- L, N =/= node()]}
           end,
    %% The agent sends to the other members; this node delivers its own.
    Self = Members =:= all orelse lists:member(node(), Members),
    Self andalso gen_server:cast(Name, Msg),
    Queued = case Args of
                 {_, _, []} -> {ok, 0};
                 _ -> cloister_agent:request(multicast, Args)
             end,
    case Queued of
        {ok, N} -> {ok, N + if Self -> 1; true -> 0 end};
        E -> E
    end.

%% gen_server:call(Name, Msg) on every alive member; {Replies, BadNodes}
%% like gen_server:multi_call/2.
multicall(Name, Msg) -> multicall(Name, Msg, 2000).
multicall(Name, Msg, Timeout) ->
    Args = {?TOPIC, encode({call, Name, Msg}), Timeout},
    case cloister_agent:request(multicall, Args, Timeout + 5000) of
        {ok, R, M} ->
            {[{node_of(Member), decode(D)} || {Member, D} <- R],
             [node_of(X) || X <- M]};
        E -> E
    end.

%% The listener's third argument: Elixir's %Cloister.Monitor{}-like map.
state_map(Status) ->
    state_map(Status, length([x || {_, #{status := S}} <- maps:to_list(safe_members()), live(S)]),
              undefined).

%% Alive: the agent's count of live members (self included) at the change.
state_map(Status, Alive, Sentry) ->
    #{'__struct__' => 'Elixir.Cloister.Monitor', otp_app => otp_app(),
      status => Status, started_at => undefined, alive => Alive,
      sentry => case Sentry of undefined -> undefined; S -> node_of_name(S) end,
      consensus => application:get_env(cloister, consensus, 1),
      listener => application:get_env(cloister, listener, undefined),
      monitor => cloister_agent}.

safe_members() ->
    case whereis(cloister_agent) =:= self() of
        true -> #{};  % called from inside the agent process
        false -> members()
    end.

otp_app() -> application:get_env(cloister, otp_app, cloister).

%% Payloads: the external term format (the agent carries bytes).
encode(Term) -> term_to_binary(Term).
decode(D) when is_binary(D) -> binary_to_term(D, [safe]).

node_of(Member) ->
    case maps:get(Member, members(), undefined) of
        #{node := N} -> N;
        _ -> binary_to_atom(Member, utf8)
    end.

%% From inside cloister_agent members() would call itself.
node_of_name(Member) ->
    case whereis(cloister_agent) =:= self() of
        true -> binary_to_atom(Member, utf8);
        false -> node_of(Member)
    end.

%% The member name of an Erlang node (they differ when erlang_node says so).
member_of(Node) ->
    case [M || {M, #{node := N}} <- maps:to_list(members()), N =:= Node] of
        [M | _] -> M;
        [] -> atom_to_binary(Node, utf8)
    end.

to_list(A) when is_atom(A) -> atom_to_list(A);
to_list(B) when is_binary(B) -> binary_to_list(B);
to_list(L) -> L.

%% libring 1.7.0 HashRing: each node at phash2({Node, I}, 2^32-1) for
%% I in 1..128 (first insertion wins a collision); a key's owner is the
%% node of the smallest point >= phash2(Key, 2^32-1), wrapping around.
libring_whois(Nodes, Key) ->
    Pts = lists:foldl(
            fun(N, T) ->
                    lists:foldl(fun(I, T1) ->
                                        H = erlang:phash2({N, I}, 4294967295),
                                        case gb_trees:is_defined(H, T1) of
                                            true -> T1;
                                            false -> gb_trees:insert(H, N, T1)
                                        end
                                end, T, lists:seq(1, 128))
            end, gb_trees:empty(), Nodes),
    H = erlang:phash2(Key, 4294967295),
    case gb_trees:iterator_from(H, Pts) of
        It -> case gb_trees:next(It) of
                  {_, N, _} -> N;
                  none -> element(2, gb_trees:smallest(Pts))
              end
    end.
