-module(cloister_app).
-behaviour(application).
-export([start/2, stop/1]).

%% The application's start blocks until the cluster is ready (Cloister's
%% warming_up phase), bounded by the ready_timeout setting (ms).
start(_Type, _Args) ->
    case cloister_sup:start_link() of
        {ok, Sup} ->
            Timeout = application:get_env(cloister, ready_timeout, 60000),
            logger:notice("cloister: waiting up to ~b ms for the cluster to be ready",
                          [Timeout]),
            case cloister_agent:await_ready(Timeout) of
                ok ->
                    logger:notice("cloister: cluster ready as ~s (~s), members ~p",
                                  [node(), cloister:state(), cloister:siblings()]),
                    {ok, Sup};
                {error, Why} ->
                    logger:error("cloister: cluster not ready after ~b ms (~p); "
                                 "giving up", [Timeout, Why]),
                    exit(Sup, shutdown),
                    {error, {not_ready, Why}}
            end;
        Other ->
            Other
    end.

stop(_State) -> ok.
