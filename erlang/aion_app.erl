%% @doc The aion OTP application: starts the supervision tree, which resumes every
%% workflow the store says is still running (replay; see `aion_workflow_sup').
-module(aion_app).
-behaviour(application).

-export([start/2]).
-export([stop/1]).

%% @doc Starts `aion_sup'.
-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(_Type, _Args) ->
    ok = aion_log:install(),
    aion_sup:start_link().

%% @doc Removes the log filter (see `aion_log').
-spec stop(term()) -> ok.
stop(_State) ->
    aion_log:uninstall().
