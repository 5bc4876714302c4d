%% @doc Supervises activity attempts, one `aion_activity_worker' per attempt. `temporary':
%% retrying is the engine's job (recorded, policy-driven), never the supervisor's.
-module(aion_activity_sup).
-behaviour(supervisor).

-export([start_link/0]).
-export([start_attempt/1]).
-export([init/1]).

%% @doc Starts the supervisor.
-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() ->
    supervisor:start_link({local, ?MODULE}, ?MODULE, []).

%% @doc Starts a worker for one attempt.
-spec start_attempt(aion_activity_worker:job()) -> {ok, pid()} | {error, term()}.
start_attempt(Job) ->
    supervisor:start_child(?MODULE, [Job]).

%% @private
-spec init([]) -> {ok, {supervisor:sup_flags(), [supervisor:child_spec()]}}.
init([]) ->
    Child = #{id => aion_activity_worker, start => {aion_activity_worker, start_link, []},
              restart => temporary, shutdown => brutal_kill},
    {ok, {#{strategy => simple_one_for_one, intensity => 0, period => 1}, [Child]}}.
