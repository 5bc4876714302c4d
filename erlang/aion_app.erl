%% @doc The aion OTP application: starts the supervision tree, which resumes every
%% workflow the store says is still running (replay; see `aion_workflow_sup').
-module(aion_app).
-behaviour(application).

-export([start/2]).
-export([stop/1]).

%% @doc Starts `aion_sup'.
-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(_Type, _Args) ->
    aion_sup:start_link().

%% @doc Nothing to clean up beyond the supervision tree.
-spec stop(term()) -> ok.
stop(_State) ->
    ok.
