%% @doc The aion OTP application: starts the supervision tree, then resumes every workflow
%% the store says is still running (replay).
-module(aion_app).
-behaviour(application).

-export([start/2]).
-export([stop/1]).

%% @doc Starts `aion_sup' and resumes the running workflows found in the store.
-spec start(application:start_type(), term()) -> {ok, pid()} | {error, term()}.
start(_Type, _Args) ->
    case aion_sup:start_link() of
        {ok, Pid} ->
            ok = aion_engine:resume_all(),
            {ok, Pid};
        Error ->
            Error
    end.

%% @doc Nothing to clean up beyond the supervision tree.
-spec stop(term()) -> ok.
stop(_State) ->
    ok.
