-module(cloister_sup).
-behaviour(supervisor).
-export([start_link/0, init/1]).

start_link() -> supervisor:start_link({local, ?MODULE}, ?MODULE, []).

init([]) ->
    {ok, {#{strategy => one_for_one, intensity => 3, period => 60},
          [#{id => cloister_agent,
             start => {cloister_agent, start_link, []},
             shutdown => 15000}]}}.
