%% @doc One `aion_workflow' process per running run. `transient': a run that crashes is
%% restarted, which replays it from its history; a run that ends normally is not.
-module(aion_workflow_sup).
-behaviour(supervisor).

-export([start_link/0]).
-export([start_run/1]).
-export([init/1]).

%% @doc Starts the supervisor.
-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, []).

%% @doc Starts the process of run `WorkflowId'; it loads its history and replays.
-spec start_run(binary()) -> {ok, pid()} | {error, term()}.
start_run(WorkflowId) ->
    supervisor:start_child(?MODULE, [WorkflowId]).

%% @private
-spec init([]) -> {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init([]) ->
    Child = #{id => aion_workflow, start => {aion_workflow, start_link, []},
              restart => transient, shutdown => 5000},
    {ok, {#{strategy => simple_one_for_one, intensity => 20, period => 10}, [Child]}}.
