%% @doc The engine: owns the store (a NIF resource), the registry of workflow types and
%% activities, and the bookkeeping that connects runs to their callers.
%%
%% Tables (public, owned by this process):
%% <ul>
%% <li>`aion_registry': `{{workflow | activity, Name}, {Module, Function}}';</li>
%% <li>`aion_runs': `{WorkflowId, Pid}' for each live run process (one writer per run);</li>
%% <li>`aion_waiters': `{WorkflowId, Pid, Ref}' for `aion:await/2' callers;</li>
%% <li>`aion_blocked': `{WorkflowId, Type, Reason}' for runs stopped by non-determinism.</li>
%% </ul>
%% Runs whose type is not registered yet wait; registering the type resumes them.
-module(aion_engine).
-behaviour(gen_server).

-include_lib("kernel/include/logger.hrl").

-export([start_link/0]).
-export([store/0]).
-export([register/3]).
-export([lookup/2]).
-export([resume_all/0]).
-export([start_run/1]).
-export([claim_run/1]).
-export([release_run/1]).
-export([blocked/3]).
-export([blocked_reason/1]).
-export([notify/1]).
-export([retry_later/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(STORE_KEY, {?MODULE, store}).

%% @doc Starts the engine: opens the store named by the application env (`store',
%% `data_dir') and registers the types and activities declared there.
-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% @doc The open store resource. Raises `{aion_not_started, Hint}' when the application
%% is not running.
-spec store() -> reference().
store() ->
    case persistent_term:get(?STORE_KEY, undefined) of
        undefined -> erlang:error({aion_not_started, <<"start the aion application first">>});
        Store -> Store
    end.

%% @doc Registers `Name' (a workflow type or an activity) as `{Module, Function}' (or, for
%% the test harness's activity mocks, `{fn, Fun}'). Registering a workflow type resumes
%% its runs that are waiting for it.
-spec register(workflow | activity, binary(), {module(), atom()} | {fn, fun((term()) -> term())}) -> ok.
register(Kind, Name, MF) ->
    gen_server:call(?MODULE, {register, Kind, Name, MF}, infinity).

%% @doc Looks up a registration.
-spec lookup(workflow | activity, binary()) -> {ok, {module(), atom()} | {fn, fun()}} | error.
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
    case ets:lookup(aion_runs, WorkflowId) of
        [{_, Pid}] when is_pid(Pid) ->
            case is_process_alive(Pid) of
                true -> ok;
                false -> start_run_process(WorkflowId)
            end;
        [] ->
            start_run_process(WorkflowId)
    end.

start_run_process(WorkflowId) ->
    ets:delete(aion_blocked, WorkflowId),
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

%% @doc Called by a run process as it ends.
-spec release_run(binary()) -> ok.
release_run(WorkflowId) ->
    ets:delete_object(aion_runs, {WorkflowId, self()}),
    ok.

%% @doc Records that run `WorkflowId' stopped on non-determinism (see `aion:describe/1').
%% Nothing is written to its history; registering its type again (with fixed code) or
%% restarting the node replays it again.
-spec blocked(binary(), binary(), binary()) -> ok.
blocked(WorkflowId, Type, Reason) ->
    ets:insert(aion_blocked, {WorkflowId, Type, Reason}),
    ok.

%% @doc Why run `WorkflowId' is blocked, if it is.
-spec blocked_reason(binary()) -> {ok, binary()} | error.
blocked_reason(WorkflowId) ->
    case ets:lookup(aion_blocked, WorkflowId) of
        [{_, _, Reason}] -> {ok, Reason};
        [] -> error
    end.

%% @doc Replays run `WorkflowId' again after a backoff that doubles with each consecutive
%% failure (100 ms up to 1 min); a run that closes resets it.
-spec retry_later(binary()) -> ok.
retry_later(WorkflowId) ->
    gen_server:cast(?MODULE, {retry_later, WorkflowId}).

%% @doc Tells every `aion:await/2' caller of `WorkflowId' that it closed (they read the
%% outcome from the store, so every caller sees the same).
-spec notify(binary()) -> ok.
notify(WorkflowId) ->
    [Pid ! {aion_done, Ref} || {_, Pid, Ref} <- ets:lookup(aion_waiters, WorkflowId)],
    gen_server:cast(?MODULE, {closed, WorkflowId}).

%% @private
-spec init([]) -> {ok, map()} | {stop, term()}.
init([]) ->
    %% Trap exits so that terminate/2 runs at shutdown and closes the store.
    process_flag(trap_exit, true),
    _ = [ets:new(T, [named_table, public, Type, {read_concurrency, true}])
         || {T, Type} <- [{aion_registry, set}, {aion_runs, set},
                          {aion_waiters, bag}, {aion_blocked, set}]],
    case open_store() of
        {ok, Store} ->
            persistent_term:put(?STORE_KEY, Store),
            Declared = [{workflow, application:get_env(aion, workflows, #{})},
                        {activity, application:get_env(aion, activities, #{})}],
            _ = [ets:insert(aion_registry, {{Kind, to_binary(Name)}, MF})
                 || {Kind, Map} <- Declared, {Name, MF} <- maps:to_list(Map)],
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
            Dir = application:get_env(aion, data_dir, "./aion_data"),
            case unicode:characters_to_binary(Dir) of
                Bin when is_binary(Bin) -> aion_flow_ffi:nif_engine_open(<<"sqlite">>, Bin);
                _ -> {error, <<"invalid: data_dir must be a string or binary path">>}
            end;
        Other ->
            {error, iolist_to_binary(io_lib:format("invalid: unknown store ~p", [Other]))}
    end.

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
    ?LOG_WARNING(#{what => run_retry_scheduled, workflow_id => Id, delay_ms => Delay},
                 #{aion => engine}),
    erlang:send_after(Delay, self(), {retry, Id}),
    {noreply, State#{{failures, Id} => Failures + 1}};
handle_cast({closed, Id}, State) ->
    {noreply, maps:remove({failures, Id}, State)};
handle_cast(_Msg, State) ->
    {noreply, State}.

%% @private
-spec handle_info(term(), map()) -> {noreply, map()}.
handle_info({retry, Id}, State) ->
    case start_run(Id) of
        ok -> ok;
        {error, Reason} ->
            ?LOG_ERROR(#{what => resume_failed, workflow_id => Id, reason => Reason},
                       #{aion => engine})
    end,
    {noreply, State};
handle_info(_Info, State) ->
    {noreply, State}.

%% @private
-spec terminate(term(), map()) -> ok.
terminate(_Reason, _State) ->
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
    case aion_flow_ffi:nif_engine_list(store(), <<"running">>, Type) of
        {ok, Runs} ->
            _ = [resume_run(Id, T) || #{workflow_id := Id, type := T} <- Runs],
            ok;
        {error, Msg} ->
            ?LOG_ERROR(#{what => resume_failed, reason => Msg}, #{aion => engine})
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
