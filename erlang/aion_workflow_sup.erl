%% @doc One `aion_workflow' process per running run. `temporary': a run process never
%% takes its siblings down. A run process catches what goes wrong inside it (the run is
%% then blocked or retried with backoff by `aion_engine'); the engine watches every run
%% process and replays, after a backoff, one that was killed from outside.
-module(aion_workflow_sup).
-behaviour(supervisor).

-export([start_link/0]).
-export([start_run/1, start_run/2]).
-export([init/1]).

%% @doc Starts the supervisor, then resumes every running workflow the store holds whose
%% type is registered: at boot, and again whenever the tree restarts this supervisor (a
%% crash of the engine or the activity pool takes the run processes down with it).
-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() ->
    case supervisor:start_link({local, ?MODULE}, ?MODULE, []) of
        {ok, Pid} ->
            ok = aion_engine:resume_all(),
            {ok, Pid};
        Other ->
            Other
    end.

%% @doc Starts the process of run `WorkflowId'; it loads its history and replays.
-spec start_run(binary()) -> {ok, pid()} | {error, term()}.
start_run(WorkflowId) ->
    start_child(WorkflowId, [WorkflowId]).

%% @doc Starts the process of a new workflow's run, built in memory (see
%% `aion_engine:start_new_run/3').
-spec start_run(binary(), tuple()) -> {ok, pid()} | {error, term()}.
start_run(WorkflowId, New) ->
    start_child(WorkflowId, [WorkflowId, New]).

start_child(WorkflowId, Args) ->
    try supervisor:start_child(?MODULE, Args) of
        {ok, Pid} -> aion_engine:watch(WorkflowId, Pid), {ok, Pid};
        Other -> Other
    catch
        %% The tree is restarting or stopping (the supervisor is gone, or went while we
        %% asked): it resumes every run when it is back.
        exit:{Reason, _} when Reason =:= noproc; Reason =:= shutdown; Reason =:= normal;
                              element(1, Reason) =:= shutdown ->
            {error, not_started}
    end.

%% @private
-spec init([]) -> {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init([]) ->
    Child = #{id => aion_workflow, start => {aion_workflow, start_link, []},
              restart => temporary, shutdown => 5000},
    {ok, {#{strategy => simple_one_for_one, intensity => 0, period => 1}, [Child]}}.
