%% @doc Top supervisor. `rest_for_one': everything after the engine needs it, and the
%% workflow processes need the activity pool, so each restart takes down what comes after.
%%
%% The supervisor owns the engine's tables (the registry of workflow types and activities,
%% live runs, starts in flight, await subscriptions, blocked runs): they outlive a crash of the engine
%% process, so registrations survive it.
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
    _ = [ets:new(T, [named_table, public, Type, {read_concurrency, true}])
         || {T, Type} <- [{aion_registry, set}, {aion_runs, set},
                          {aion_waiters, bag}, {aion_blocked, set}, {aion_ending, set},
                          {aion_starting, set}, {aion_schedule_watchers, set}]],
    ok = aion_metrics:new_table(),
    Children = [
        #{id => aion_engine, start => {aion_engine, start_link, []}},
        %% Only with a shared store (`ignore' otherwise). Before the runs: it joins before
        %% they resume, and leaves after they stopped.
        #{id => aion_cluster, start => {aion_cluster, start_link, []}},
        #{id => aion_activity_pool, start => {aion_activity_pool, start_link, []}},
        #{id => aion_workflow_sup, start => {aion_workflow_sup, start_link, []}, type => supervisor},
        %% The dashboard and its API, only with the `http' setting (`ignore' otherwise).
        #{id => aion_http, start => {aion_http, start_link, []}, type => supervisor}
    ],
    {ok, {#{strategy => rest_for_one, intensity => 5, period => 10}, Children}}.
