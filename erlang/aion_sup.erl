%% @doc Top supervisor. `rest_for_one': everything after the engine needs it, and the
%% workflow processes need the activity side, so each restart takes down what comes after.
-module(aion_sup).
-behaviour(supervisor).

-export([start_link/0]).
-export([init/1]).

%% @doc Starts the tree.
-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, []).

%% @private
-spec init([]) -> {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init([]) ->
    Children = [
        #{id => aion_engine, start => {aion_engine, start_link, []}},
        #{id => aion_activity_sup, start => {aion_activity_sup, start_link, []}, type => supervisor},
        #{id => aion_activity_pool, start => {aion_activity_pool, start_link, []}},
        #{id => aion_workflow_sup, start => {aion_workflow_sup, start_link, []}, type => supervisor}
    ],
    {ok, {#{strategy => rest_for_one, intensity => 5, period => 10}, Children}}.
