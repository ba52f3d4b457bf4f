-module(cloister_app).
-behaviour(application).
-export([start/2, stop/1]).

%% The application's start blocks until the cluster is ready (Cloister's
%% warming_up phase): the agents agree and every member is connected over
%% distribution.  As in Cloister it waits as long as it takes unless the
%% ready_timeout setting (ms) says otherwise.
start(_Type, _Args) ->
    case cloister_sup:start_link() of
        {ok, Sup} ->
            Timeout = application:get_env(cloister, ready_timeout, infinity),
            logger:notice("cloister: waiting for the cluster to be ready (ready_timeout: ~p)",
                          [Timeout]),
            case cloister_agent:await_ready(Timeout) of
                ok ->
                    logger:notice("cloister: cluster ready as ~s (~s), members ~p",
                                  [node(), cloister:state(), cloister:siblings()]),
                    {ok, Sup};
                {error, Why} ->
                    logger:error("cloister: cluster not ready after ~p ms (~p); "
                                 "giving up", [Timeout, Why]),
                    exit(Sup, shutdown),
                    {error, {not_ready, Why}}
            end;
        Other ->
            Other
    end.

stop(_State) -> ok.
