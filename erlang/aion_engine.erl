%% @doc The engine: owns the store (a NIF resource), the registry of workflow types and
%% activities, and the bookkeeping that connects runs to their callers.
%%
%% Tables (public, owned by `aion_sup' so that they survive a crash of this process):
%% <ul>
%% <li>`aion_registry': `{{workflow, Type}, {Callback, Opts}}' and
%%   `{{activity, Name}, Callback}';</li>
%% <li>`aion_runs': `{WorkflowId, Pid}' for each live run process (one writer per run);</li>
%% <li>`aion_waiters': `{WorkflowId, Pid, Ref}' for `aion:await/2' callers;</li>
%% <li>`aion_blocked': `{WorkflowId, Type, Reason}' for runs that cannot go on (see
%%   `aion_workflow').</li>
%% </ul>
%% Runs whose type is not registered yet wait; registering the type resumes them. The
%% engine watches every run process: one killed from outside, or one that stopped on a
%% store error or blocked, is replayed after a backoff (100 ms doubling to 1 min).
-module(aion_engine).
-behaviour(gen_server).

-include_lib("kernel/include/logger.hrl").

-export([start_link/0]).
-export([store/0]).
-export([store_stats/0, commit_stats/0]).
-export([running/0]).
-export([register/3]).
-export([register/4]).
-export([watch/2]).
-export([lookup/2]).
-export([resume_all/0]).
-export([start_run/1]).
-export([start_new_run/3]).
-export([live_run/1]).
-export([call/2]).
-export([claim_run/1]).
-export([release_run/1]).
-export([claim_new/1, own_new/1]).
-export([blocked/3]).
-export([blocked_reason/1, blocked_reasons/1]).
-export([unblocked/1]).
-export([notify/1]).
-export([notify/3]).
-export([wake/1]).
-export([closed_child/1]).
-export([retry_later/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(STORE_KEY, {?MODULE, store}).

-type callback() :: {module(), atom()} | {fn, fun((term()) -> term())}.
-export_type([callback/0]).

%% @doc Starts the engine: opens the store named by the application env (`store',
%% `data_dir') and registers the types and activities declared there.
-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% @doc Whether the engine runs (the application is started).
-spec running() -> boolean().
running() ->
    persistent_term:get(?STORE_KEY, undefined) =/= undefined andalso is_pid(whereis(?MODULE)).

%% @doc The open store resource. Raises `{aion_not_started, Hint}' when the application
%% is not running.
-spec store() -> reference().
store() ->
    case persistent_term:get(?STORE_KEY, undefined) of
        undefined -> erlang:error({aion_not_started, <<"start the aion application first">>});
        Store -> Store
    end.

%% @doc What the store has written since the engine opened it: `#{commits, appends,
%% events, wal_bytes, syncs}' (commits that wrote something, append requests accepted,
%% events written, bytes written to SQLite's write-ahead log, fsyncs the commits waited
%% for; the memory store counts no WAL bytes and no syncs). `{error, not_started}' when the
%% application is not running or its engine is closed.
-spec store_stats() -> {ok, #{commits := non_neg_integer(), appends := non_neg_integer(),
                              events := non_neg_integer(), wal_bytes := non_neg_integer(),
                              syncs := non_neg_integer()}} | {error, term()}.
store_stats() ->
    case persistent_term:get(?STORE_KEY, undefined) of
        undefined -> {error, not_started};
        Store ->
            case aion_flow_ffi:nif_engine_stats(Store) of
                {error, {not_started, _}} -> {error, not_started};
                Result -> Result
            end
    end.

%% @doc What the commit thread has counted since the engine opened the store:
%% `#{duration_us => H, writes => H}', `H' = `{Bounds, Counts, Sum, Count}' (per commit:
%% microseconds taken, writes carried; `Counts' per bound, one more for above the last).
-spec commit_stats() -> {ok, map()} | {error, term()}.
commit_stats() ->
    case persistent_term:get(?STORE_KEY, undefined) of
        undefined -> {error, not_started};
        Store -> aion_flow_ffi:nif_engine_commit_stats(Store)
    end.

%% @doc Registers `Name' (a workflow type or an activity) as `{Module, Function}' (or, for
%% the test harness's activity mocks, `{fn, Fun}'). Registering a workflow type resumes
%% its runs that are waiting for it.
-spec register(workflow | activity, binary(), callback()) -> ok.
register(Kind, Name, MF) ->
    register(Kind, Name, MF, #{}).

%% @doc As `register/3', with options for a workflow type (`on_crash => block | fail').
-spec register(workflow | activity, binary(), callback(), map()) -> ok.
register(workflow, Name, MF, Opts) ->
    gen_server:call(?MODULE, {register, workflow, Name, {MF, Opts}}, infinity);
register(activity, Name, MF, _Opts) ->
    gen_server:call(?MODULE, {register, activity, Name, MF}, infinity).

%% @doc Looks up a registration: `{Callback, Opts}' for a workflow type, the callback for
%% an activity.
-spec lookup(workflow | activity, binary()) -> {ok, callback() | {callback(), map()}} | error.
lookup(Kind, Name) ->
    case ets:lookup(aion_registry, {Kind, Name}) of
        [{_, MF}] -> {ok, MF};
        [] -> error
    end.

%% @doc Resumes every running workflow in the store whose type is registered (at boot).
-spec resume_all() -> ok.
resume_all() ->
    gen_server:call(?MODULE, {resume, null}, infinity).

%% @doc Starts the process of run `WorkflowId' unless one is alive already.
-spec start_run(binary()) -> ok | {error, term()}.
start_run(WorkflowId) ->
    case live_run(WorkflowId) of
        {ok, _Pid} -> ok;
        none -> start_run_process(WorkflowId)
    end.

%% @doc The live process that owns run `WorkflowId' on this node, if any.
-spec live_run(binary()) -> {ok, pid()} | none.
live_run(WorkflowId) ->
    case ets:lookup(aion_runs, WorkflowId) of
        [{_, Pid}] ->
            case is_process_alive(Pid) of
                true -> {ok, Pid};
                false -> none
            end;
        [] ->
            none
    end.

%% @doc Calls a registered callback (`{Module, Function}', or a test mock's `{fn, Fun}')
%% with `Input'.
-spec call(callback(), term()) -> term().
call({fn, Fun}, Input) -> Fun(Input);
call({M, F}, Input) -> M:F(Input).

%% @doc Starts the process of a new workflow's run (see `aion_workflow:start_link/2'):
%% `New' is what `aion_flow_ffi:nif_run_new/7' built, `Starter' `{Pid, Ref}' is told
%% `{aion_started, Ref, ok | {error, Reason}}' once `WorkflowStarted' is durable or refused.
-spec start_new_run(binary(), tuple(), {pid(), reference()}) -> {ok, pid()} | {error, term()}.
start_new_run(WorkflowId, New, Starter) ->
    aion_workflow_sup:start_run(WorkflowId, {new, New, Starter}).

start_run_process(WorkflowId) ->
    case aion_workflow_sup:start_run(WorkflowId) of
        {ok, _Pid} -> ok;
        {error, _} = Error -> Error
    end.

%% @doc Called by a run process as it starts: makes it the run's only process on this node.
%% Returns `false' when another live process already owns the run.
-spec claim_run(binary()) -> boolean().
claim_run(WorkflowId) ->
    Self = self(),
    case ets:insert_new(aion_runs, {WorkflowId, Self}) of
        true ->
            true;
        false ->
            case ets:lookup(aion_runs, WorkflowId) of
                [{_, Self}] -> true;
                [{_, Other}] ->
                    case is_process_alive(Other) of
                        true -> false;
                        false -> ets:insert(aion_runs, {WorkflowId, Self}), true
                    end;
                [] -> claim_run(WorkflowId)
            end
    end.

%% @doc Called by a new workflow's process as it starts (see `aion_workflow:start_link/2'):
%% `ok' once it is the only start of `WorkflowId' in flight — it waits for one already in
%% flight to be answered, so that a second start gets the right answer —, or
%% `already_started' when a live process owns the run. It owns the run only once its
%% first append is durable (`own_new/1'): until then `aion:await/2', `query' and the rest
%% do not take it for the run (a refused start never was one).
-spec claim_new(binary()) -> ok | already_started.
claim_new(WorkflowId) ->
    Self = self(),
    case live_run(WorkflowId) =:= none andalso ets:insert_new(aion_starting, {WorkflowId, Self}) of
        true ->
            ok;
        false ->
            case {live_run(WorkflowId), ets:lookup(aion_starting, WorkflowId)} of
                {{ok, _}, _} ->
                    already_started;
                {none, [{_, Other}]} ->
                    Monitor = erlang:monitor(process, Other),
                    receive
                        {'DOWN', Monitor, process, Other, _} ->
                            ets:delete_object(aion_starting, {WorkflowId, Other})
                    after 10 ->
                        erlang:demonitor(Monitor, [flush])
                    end,
                    claim_new(WorkflowId);
                {none, []} ->
                    claim_new(WorkflowId)
            end
    end.

%% @doc Called by a new workflow's process once its first append (holding
%% `WorkflowStarted') is durable: from now on it owns the run.
-spec own_new(binary()) -> ok.
own_new(WorkflowId) ->
    Self = self(),
    true = ets:insert(aion_runs, {WorkflowId, Self}),
    true = ets:delete_object(aion_starting, {WorkflowId, Self}),
    ok.

%% @doc Called by a run process as it ends.
-spec release_run(binary()) -> ok.
release_run(WorkflowId) ->
    ets:delete_object(aion_runs, {WorkflowId, self()}),
    ets:delete_object(aion_starting, {WorkflowId, self()}),
    ok.

%% @doc Records that run `WorkflowId' cannot go on (see `aion:describe/1'): `Reason' is
%% `{non_determinism, Report}', `{crashed, #{class, reason, stacktrace}}' or
%% `{unreadable, Why}'. Nothing is written to its history; it is replayed after a backoff,
%% and at once when its type is registered again (with fixed code).
-spec blocked(binary(), binary() | null, term()) -> ok.
blocked(WorkflowId, Type, Reason) ->
    ?LOG_ERROR(#{what => workflow_blocked, workflow_id => WorkflowId, reason => Reason},
               #{aion => engine}),
    ets:insert(aion_blocked, {WorkflowId, Type, Reason}),
    retry_later(WorkflowId).

%% @doc Called by a run once its replay is done and it waits live: it is not blocked any
%% more.
-spec unblocked(binary()) -> ok.
unblocked(WorkflowId) ->
    ets:delete(aion_blocked, WorkflowId),
    ok.

%% @doc Watches run process `Pid' of `WorkflowId': if it is killed from outside (not a
%% normal end), the run is replayed after a backoff.
-spec watch(binary(), pid()) -> ok.
watch(WorkflowId, Pid) ->
    gen_server:cast(?MODULE, {watch, WorkflowId, Pid}).

%% @doc Why run `WorkflowId' is blocked, if it is.
-spec blocked_reason(binary()) -> {ok, term()} | error.
blocked_reason(WorkflowId) ->
    case ets:lookup(aion_blocked, WorkflowId) of
        [{_, _, Reason}] -> {ok, Reason};
        [] -> error
    end.

%% @doc `[{WorkflowId, Reason}]' for those of `WorkflowIds' that are blocked on this node
%% (asked by other nodes of a cluster, for `aion:list/1').
-spec blocked_reasons([binary()]) -> [{binary(), term()}].
blocked_reasons(WorkflowIds) ->
    [{Id, Reason} || Id <- WorkflowIds, {ok, Reason} <- [blocked_reason(Id)]].

%% @doc Replays run `WorkflowId' again after a backoff that doubles with each consecutive
%% failure (100 ms up to 1 min); a run that closes resets it.
-spec retry_later(binary()) -> ok.
retry_later(WorkflowId) ->
    gen_server:cast(?MODULE, {retry_later, WorkflowId}).

%% @doc Called once run `WorkflowId' has closed durably: tells every `aion:await/2' caller
%% (they read the outcome from the store, so every caller sees the same) and, for a child
%% workflow, pushes its close to its parent's inbox (the parent records it).
-spec notify(binary()) -> ok.
notify(WorkflowId) ->
    release_run(WorkflowId),
    [Pid ! {aion_done, Ref} || {_, Pid, Ref} <- ets:lookup(aion_waiters, WorkflowId)],
    aion_cluster:enabled() andalso
        gen_server:abcast(nodes(), ?MODULE, {closed_elsewhere, WorkflowId, read_store}),
    notify_parent(WorkflowId),
    gen_server:cast(?MODULE, {closed, WorkflowId}).

%% @doc `notify/1' from the run's own process, which knows how the run closed: `Closing' is
%% `{Status, ValueJson}' (see `aion_flow_ffi:nif_run_closing/1'), `ParentId' its parent's
%% id or `null'. Waiters get the outcome with the message and the parent's inbox gets the
%% close, without reading the store. The process stops owning the run first, so that an
%% `aion:await/2' that still finds it live is sure to be told.
-spec notify(binary(), {atom(), binary()}, binary() | null) -> ok.
notify(WorkflowId, {Status, ValueJson}, ParentId) ->
    release_run(WorkflowId),
    Cluster = aion_cluster:enabled() andalso nodes() =/= [],
    case {ets:lookup(aion_waiters, WorkflowId), Cluster} of
        {[], false} -> ok;
        {Waiters, _} ->
            {ok, Value} = aion_flow_ffi:json_decode(ValueJson),
            Outcome = aion:closed_result({Status, Value}),
            [Pid ! {aion_done, Ref, Outcome} || {_, Pid, Ref} <- Waiters],
            %% Callers may wait on other nodes of the cluster (they also look again
            %% every second, should this message be lost with a node).
            Cluster andalso
                gen_server:abcast(nodes(), ?MODULE, {closed_elsewhere, WorkflowId, Outcome})
    end,
    is_binary(ParentId) andalso
        tell_parent(WorkflowId, ParentId, {child_closed, WorkflowId, Status, ValueJson}),
    gen_server:cast(?MODULE, {closed, WorkflowId}).

notify_parent(WorkflowId) ->
    case closed_child(WorkflowId) of
        {ok, ParentId, Item} -> tell_parent(WorkflowId, ParentId, Item);
        none -> ok
    end.

tell_parent(WorkflowId, ParentId, Item) ->
    case aion:push(ParentId, Item) of
        ok -> ok;
        {error, Reason} when Reason =:= not_found; Reason =:= not_running -> ok;
        {error, Reason} ->
            ?LOG_WARNING(#{what => child_close_not_delivered, workflow_id => WorkflowId,
                           parent_id => ParentId, reason => Reason}, #{aion => engine})
    end.

%% @doc `{ok, ParentId, Item}' when `WorkflowId' is a closed child workflow: the inbox item
%% that tells its parent how it closed.
-spec closed_child(binary()) -> {ok, binary(), tuple()} | none.
closed_child(WorkflowId) ->
    case aion:describe(WorkflowId) of
        {ok, #{parent_id := ParentId} = Summary} when is_binary(ParentId) ->
            case aion:closing(Summary) of
                {Status, Value} ->
                    {ok, Json} = aion_flow_ffi:json_encode(Value),
                    {ok, ParentId, {child_closed, WorkflowId, Status, Json}};
                open ->
                    none
            end;
        _ ->
            none
    end.

%% @doc Something was pushed to the inbox of `WorkflowId': wakes its live process, or
%% starts one (unless the run is blocked, or no process can run it yet: the entry waits in
%% the inbox, durable, until one does).
-spec wake(binary()) -> ok.
wake(WorkflowId) ->
    case live_run(WorkflowId) of
        {ok, Pid} ->
            Pid ! aion_inbox,
            ok;
        none ->
            case aion_cluster:route(WorkflowId) of
                local ->
                    ets:member(aion_blocked, WorkflowId) orelse start_run_process(WorkflowId),
                    ok;
                {remote, Node} ->
                    %% In a cluster, another node owns the run: it records the entry.
                    gen_server:cast({?MODULE, Node}, {wake, WorkflowId})
            end
    end.

%% @private
-spec init([]) -> {ok, map()} | {stop, term()}.
init([]) ->
    %% Trap exits so that terminate/2 runs at shutdown and closes the store.
    process_flag(trap_exit, true),
    %% After a crash of this process its store may still be open: release it (and its
    %% directory lock) before opening again.
    _ = close_store(),
    Opened = case check_concurrency(application:get_env(aion, activity_concurrency, 100)) of
        true -> open_store();
        Bad -> Bad
    end,
    case Opened of
        {error, {bad_setting, _, _}} = Refused ->
            ?LOG_ERROR(#{what => bad_setting, reason => Refused}, #{aion => engine}),
            {stop, element(2, Refused)};
        {ok, Store} ->
            persistent_term:put(?STORE_KEY, Store),
            Declared = [{workflow, application:get_env(aion, workflows, #{})},
                        {activity, application:get_env(aion, activities, #{})}],
            _ = [ets:insert(aion_registry, {{Kind, to_binary(Name)}, registered(Kind, MF)})
                 || {Kind, Map} <- Declared, {Name, MF} <- maps:to_list(Map)],
            retention_ms() =/= none andalso (self() ! retention),
            {ok, #{}};
        {error, Msg} ->
            ?LOG_ERROR(#{what => store_open_failed, reason => Msg}, #{aion => engine}),
            {stop, {store_open_failed, Msg}}
    end.

open_store() ->
    case application:get_env(aion, store, sqlite) of
        memory ->
            aion_flow_ffi:nif_engine_open(<<"memory">>, <<>>);
        sqlite ->
            case {application:get_env(aion, data_dir), os:getenv("RELEASE_NAME")} of
                {undefined, Release} when is_list(Release) ->
                    %% In a release the default would land inside the release directory,
                    %% which the next deploy replaces: aion does not guess there.
                    {error, {invalid_input, <<"set aion's data_dir in a release (sys.config): "
                                              "the default ./aion_data would be inside the "
                                              "release directory, which a deploy replaces">>}};
                {Set, _} ->
                    Dir = case Set of {ok, D} -> D; undefined -> "./aion_data" end,
                    case text(Dir) of
                        Bin when is_binary(Bin) -> aion_flow_ffi:nif_engine_open(<<"sqlite">>, Bin);
                        error -> {error, {invalid_input, <<"data_dir must be a string or binary path">>}}
                    end
            end;
        sqlite_readonly ->
            Dir = application:get_env(aion, data_dir, "./aion_data"),
            case text(Dir) of
                Bin when is_binary(Bin) -> aion_flow_ffi:nif_engine_open(<<"sqlite_readonly">>, Bin);
                error -> {error, {invalid_input, <<"data_dir must be a string or binary path">>}}
            end;
        postgres ->
            case postgres_config() of
                {ok, Config} -> aion_flow_ffi:nif_engine_open(<<"postgres">>, Config);
                {error, _} = Error -> Error
            end;
        Other ->
            {error, {invalid_input, aion_flow_ffi:printed({unknown_store, Other})}}
    end.

%% `activity_concurrency': a positive integer (every task queue) or a map from task queue
%% (a binary) to a positive integer. Checked before anything starts, so a typo is an error
%% at boot rather than a queue that never runs.
check_concurrency(N) when is_integer(N), N > 0 ->
    true;
check_concurrency(Limits) when is_map(Limits), map_size(Limits) > 0 ->
    maps:fold(fun(Queue, N, true) when is_binary(Queue), byte_size(Queue) > 0, is_integer(N), N > 0 -> true;
                 (Queue, N, true) -> {error, {bad_setting, activity_concurrency, #{Queue => N}}};
                 (_, _, Bad) -> Bad
              end, true, Limits);
check_concurrency(Other) ->
    {error, {bad_setting, activity_concurrency, Other}}.

%% `postgres_url' (required), `postgres_pool' (default 4), `postgres_schema' (default
%% `aion').
postgres_config() ->
    Url = text(application:get_env(aion, postgres_url, "")),
    Schema = text(application:get_env(aion, postgres_schema, "aion")),
    Pool = application:get_env(aion, postgres_pool, 4),
    if
        not is_binary(Url); Url =:= <<>> ->
            {error, {invalid_input, <<"{store, postgres} needs {postgres_url, \"postgresql://USER@HOST:PORT/DB\"} (a string)">>}};
        not is_binary(Schema) ->
            {error, {invalid_input, <<"postgres_schema must be a string">>}};
        not is_integer(Pool); Pool < 1 ->
            {error, {invalid_input, <<"postgres_pool must be a positive integer">>}};
        true ->
            {ok, #{url => Url, pool => Pool, schema => Schema}}
    end.

%% A setting given as a string or a binary, as a binary; `error' for anything else.
text(Value) when is_binary(Value); is_list(Value) ->
    case unicode:characters_to_binary(Value) of
        Bin when is_binary(Bin) -> Bin;
        _ -> error
    end;
text(_Value) ->
    error.

%% `retention_ms' (closed workflows are removed that long after they closed), or `none'.
retention_ms() ->
    case {application:get_env(aion, retention_ms, none), read_only()} of
        {Ms, false} when is_integer(Ms), Ms > 0 -> Ms;
        _ -> none
    end.

read_only() ->
    application:get_env(aion, store, sqlite) =:= sqlite_readonly.

registered(workflow, MF) -> {MF, #{}};
registered(activity, MF) -> MF.

to_binary(Name) when is_atom(Name) -> atom_to_binary(Name);
to_binary(Name) when is_list(Name) -> list_to_binary(Name);
to_binary(Name) when is_binary(Name) -> Name.

%% @private
-spec handle_call(term(), gen_server:from(), map()) -> {reply, term(), map()}.
handle_call({register, Kind, Name, MF}, _From, State) ->
    ets:insert(aion_registry, {{Kind, Name}, MF}),
    Kind =:= workflow andalso resume(Name),
    {reply, ok, State};
handle_call({resume, Type}, _From, State) ->
    resume(Type),
    {reply, ok, State};
handle_call(_Request, _From, State) ->
    {reply, {error, unknown_call}, State}.

%% @private
-spec handle_cast(term(), map()) -> {noreply, map()}.
handle_cast({retry_later, Id}, State) ->
    Failures = maps:get({failures, Id}, State, 0),
    Delay = min(100 bsl min(Failures, 10), 60000),
    %% The first replay is routine (what caused it was logged); repeated ones are news.
    Failures > 0 andalso
        ?LOG_WARNING(#{what => run_retry_scheduled, workflow_id => Id, delay_ms => Delay,
                       attempt => Failures + 1}, #{aion => engine}),
    erlang:send_after(Delay, self(), {retry, Id}),
    {noreply, State#{{failures, Id} => Failures + 1}};
handle_cast({wake, Id}, State) ->
    %% From another node of the cluster: from a separate process, as the route may read
    %% the store.
    _ = spawn(fun() -> wake(Id) end),
    {noreply, State};
handle_cast({closed_elsewhere, Id, Outcome}, State) ->
    %% A run owned by another node of the cluster closed: tell the callers waiting here.
    _ = [case Outcome of
             read_store -> Pid ! {aion_done, Ref};
             _ -> Pid ! {aion_done, Ref, Outcome}
         end || {_, Pid, Ref} <- ets:lookup(aion_waiters, Id)],
    {noreply, State};
handle_cast({closed, Id}, State) ->
    ets:delete(aion_blocked, Id),
    {noreply, maps:remove({failures, Id}, State)};
handle_cast({watch, Id, Pid}, State) ->
    Ref = erlang:monitor(process, Pid),
    {noreply, State#{Ref => Id}};
handle_cast(_Msg, State) ->
    {noreply, State}.

%% @private
-spec handle_info(term(), map()) -> {noreply, map()}.
handle_info({'DOWN', Ref, process, _Pid, Reason}, State) when is_map_key(Ref, State) ->
    {Id, State1} = maps:take(Ref, State),
    case Reason of
        normal -> ok;
        noproc ->
            %% It ended before it was watched: replay it only if it left its run open and
            %% no other process runs it (a second start of a running id ends at once).
            case live_run(Id) =:= none andalso aion:describe(Id) of
                {ok, #{status := running}} -> gen_server:cast(self(), {retry_later, Id});
                _ -> ok
            end;
        _ ->
            %% Killed or shut down from outside (a terminate shuts it down too: the
            %% replay then finds the run closed and only tells whom it concerns).
            Reason =:= shutdown orelse
                ?LOG_WARNING(#{what => run_process_died, workflow_id => Id, reason => Reason},
                             #{aion => engine}),
            gen_server:cast(self(), {retry_later, Id})
    end,
    {noreply, State1};
handle_info(retention, State) ->
    %% Closed workflows older than `retention_ms' go, a batch at a time, every minute (or
    %% every `retention_ms' when shorter); from a separate process, as it writes.
    case retention_ms() of
        none -> ok;
        Ms ->
            erlang:send_after(min(Ms, 60000), self(), retention),
            _ = spawn(fun() ->
                case aion:prune(#{closed_before => os:system_time(millisecond) - Ms}) of
                    {ok, 0} -> ok;
                    {ok, N} -> ?LOG_NOTICE(#{what => workflows_pruned, count => N,
                                             retention_ms => Ms}, #{aion => engine});
                    {error, Reason} -> ?LOG_WARNING(#{what => prune_failed, reason => Reason},
                                                    #{aion => engine})
                end
            end)
    end,
    {noreply, State};
handle_info({retry, Id}, State) ->
    %% From a separate process: the engine never waits on the run supervisor (which may be
    %% busy shutting thousands of runs down when the application stops).
    _ = spawn(fun() ->
        case start_run(Id) of
            ok -> ok;
            {error, not_started} -> ok;
            {error, Reason} ->
                ?LOG_ERROR(#{what => resume_failed, workflow_id => Id, reason => Reason},
                           #{aion => engine})
        end
    end),
    {noreply, State};
handle_info(_Info, State) ->
    {noreply, State}.

%% @private
-spec terminate(term(), map()) -> ok.
terminate(_Reason, _State) ->
    close_store().

close_store() ->
    case persistent_term:get(?STORE_KEY, undefined) of
        undefined -> ok;
        Store ->
            _ = aion_flow_ffi:nif_engine_close(Store),
            _ = persistent_term:erase(?STORE_KEY),
            ok
    end.

%% Starts the runs of `Type' (null: every type) that are running in the store, registered,
%% and have no live process.
resume(Type) ->
    Running = #{status => <<"running">>, type => Type},
    case read_only() orelse aion_flow_ffi:nif_engine_list(store(), Running) of
        true ->
            %% A read-only store resumes nothing.
            ok;
        {ok, {Runs, _}} ->
            _ = [resume_run(Id, T) || Run = #{workflow_id := Id, type := T} <- Runs, ours(Run)],
            ok;
        {error, Msg} ->
            ?LOG_ERROR(#{what => resume_failed, reason => Msg}, #{aion => engine})
    end.

%% Whether this node resumes a running workflow: always, outside a cluster; in one, when
%% it owns the run or nobody live does (its process claims it first), never on a worker.
ours(Run) ->
    case {aion_cluster:enabled(), aion_cluster:role()} of
        {false, _} -> true;
        {true, worker} -> false;
        {true, all} ->
            Live = [atom_to_binary(N) || #{node := N} <- aion_cluster:live_nodes(), N =/= node()],
            not lists:member(maps:get(owner, Run, null), Live)
    end.

resume_run(Id, Type) ->
    case lookup(workflow, Type) of
        {ok, _} ->
            case start_run(Id) of
                ok -> ok;
                {error, Reason} ->
                    ?LOG_ERROR(#{what => resume_failed, workflow_id => Id, reason => Reason},
                               #{aion => engine})
            end;
        error ->
            ?LOG_INFO(#{what => run_waits_for_type, workflow_id => Id, type => Type},
                      #{aion => engine})
    end.
