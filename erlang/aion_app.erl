%% @doc The aion OTP application: starts the supervision tree, which resumes every
%% workflow the store says is still running (replay; see `aion_workflow_sup').
-module(aion_app).
-behaviour(application).

-export([start/2]).
-export([stop/1]).

%% @doc Starts `aion_sup' and registers the schedule workflow (see `aion_schedule').
-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(_Type, _Args) ->
    ok = aion_log:install(),
    case aion_sup:start_link() of
        {ok, Pid} ->
            %% Schedules are workflows of aion's own (their runs resume here).
            ok = aion_schedule:register(),
            {ok, Pid};
        Error ->
            Error
    end.

%% @doc Removes the log filter (see `aion_log').
-spec stop(term()) -> ok.
stop(_State) ->
    aion_log:uninstall().
