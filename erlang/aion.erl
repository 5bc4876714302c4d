%% @doc The aion client API: register workflow types and activities, start workflows, wait
%% for them, inspect them.
%%
%% Payloads (inputs, results) are JSON-compatible terms: maps with binary (or atom) keys,
%% lists, binaries, numbers, `true', `false', `null' (other atoms become strings). What a
%% workflow or caller reads back is always the JSON-decoded form (maps with binary keys),
%% the same on the first run and on every replay. Ids, types and names are binaries.
-module(aion).

-export([register_workflow/2]).
-export([register_workflow/3]).
-export([register_activity/2]).
-export([start_workflow/3]).
-export([await/2]).
-export([describe/1]).
-export([history/1]).
-export([list/1]).
-export([prune/1]).
-export([count/1]).
-export([history/2]).
-export([cancel/1]).
-export([cancel/2]).
-export([terminate/2]).
-export([signal/3]).
-export([signal_with_start/5]).
-export([query/3]).
-export([query/4]).
-export([update/4]).
-export([export_history/2]).
-export([create_schedule/2]).
-export([pause_schedule/1]).
-export([unpause_schedule/1]).
-export([trigger_schedule/1]).
-export([delete_schedule/1]).
-export([describe_schedule/1]).
-export([list_schedules/0]).

%% Internal: used by the other modules of the app.
-export([encode_payload/1]).
-export([uuid/0]).
-export([deliver_signal/4]).
-export([push/2]).
-export([valid_name/1]).
-export([closing/1]).
-export([closed_result/1]).

-type workflow_id() :: binary().
-type status() :: running | completed | failed | cancelled | terminated | timed_out | blocked.
-type error_reason() ::
    {unknown_workflow_type, term()}
    | {already_started, workflow_id()}
    | {already_exists, workflow_id()}
    | {invalid_input, binary()}
    | {payload_too_large, non_neg_integer(), non_neg_integer()}
    | {bad_option, term()}
    | {bad_argument, atom(), term()}
    | {undefined_function, mfa()}
    | {failed, term()}
    | {cancelled, term()}
    | {terminated, term()}
    | timed_out
    | not_running
    | not_found
    | timeout
    | {not_owner, binary()}
    | {node_unreachable, node(), term()}
    | {store, binary()}.
-export_type([workflow_id/0, status/0, error_reason/0]).

-define(START_TIMEOUT, 30000).
%% How long a call passed to another node of a cluster may take (a start made on a worker
%% node, a termination routed to the owner).
-define(REMOTE_MS, 30000).
%% A timeout `receive ... after' takes: `infinity' or 0 to 2^32 - 1 ms.
-define(IS_TIMEOUT(T), (T =:= infinity orelse (is_integer(T) andalso T >= 0 andalso T =< 4294967295))).

%% @doc Registers workflow type `Type'; see `register_workflow/3'.
-spec register_workflow(binary(), {module(), atom()}) -> ok | {error, error_reason()}.
register_workflow(Type, MF) ->
    register_workflow(Type, MF, #{}).

%% @doc Registers workflow type `Type': runs of it call `Module:Function(Input)', which
%% returns `{ok, Result} | {error, Reason}'. Runs of `Type' found in the store (after a
%% restart, or blocked) are resumed as soon as it is registered. `Opts':
%% `on_crash => block' (default: an exception in the workflow code is a bug; the run is
%% blocked and replayed after a backoff or when the type is registered again) or
%% `on_crash => fail' (the run fails with error type `crash').
%% Errors: `{bad_argument, type, Type}' unless `Type' is a binary of 1 to 255 bytes,
%% `{undefined_function, {M, F, 1}}' when the function is not exported,
%% `{bad_option, Opt}'.
-spec register_workflow(binary(), {module(), atom()}, map()) -> ok | {error, error_reason()}.
register_workflow(Type, MF, Opts) ->
    started(fun() -> do_register_workflow(Type, MF, Opts) end).

do_register_workflow(Type, MF, Opts) when is_map(Opts) ->
    case maps:to_list(Opts) of
        [] -> register_callback(workflow, Type, MF, Opts);
        [{on_crash, C}] when C =:= block; C =:= fail -> register_callback(workflow, Type, MF, Opts);
        [Opt | _] -> {error, {bad_option, Opt}}
    end;
do_register_workflow(_Type, _MF, Opts) ->
    {error, {bad_option, Opts}}.

%% @doc Registers activity `Name': an attempt calls `Module:Function(Input)', which returns
%% `{ok, Result}', `{error, Reason}' (retried as the policy says) or
%% `{error, {terminal, Reason}}' (never retried). Errors as for `register_workflow/2'.
-spec register_activity(binary(), {module(), atom()}) -> ok | {error, error_reason()}.
register_activity(Name, MF) ->
    started(fun() -> do_register_activity(Name, MF) end).

do_register_activity(Name, MF) ->
    register_callback(activity, Name, MF, #{}).

register_callback(Kind, Name, MF, Opts) ->
    case {valid_name(Name), MF} of
        {false, _} ->
            {error, {bad_argument, name_key(Kind), Name}};
        {true, {M, F}} when is_atom(M), is_atom(F) ->
            _ = code:ensure_loaded(M),
            case erlang:function_exported(M, F, 1) of
                true -> aion_engine:register(Kind, Name, {M, F}, Opts);
                false -> {error, {undefined_function, {M, F, 1}}}
            end;
        {true, _} ->
            {error, {bad_argument, callback, Kind}}
    end.

%% Runs `Fun' if `WorkflowId' can be an id (a UTF-8 binary of 1 to 255 bytes), else
%% answers `{error, not_found}'.
with_id(WorkflowId, Fun) ->
    case valid_name(WorkflowId) of
        true -> Fun();
        false -> {error, not_found}
    end.

%% Runs `Fun' if the application is running, else answers `{error, not_started}'. While
%% the application's tree restarts (after a crash of the engine), waits for it, up to
%% about 5 s, and runs `Fun' again if it found the engine closed (nothing was done then).
started(Fun) ->
    started(Fun, 50).

started(Fun, Tries) ->
    Result = case aion_engine:running() of
        true -> Fun();
        false -> {error, not_started}
    end,
    case Result =:= {error, not_started} andalso Tries > 0 andalso is_pid(whereis(aion_sup)) of
        true -> timer:sleep(100), started(Fun, Tries - 1);
        false -> Result
    end.

%% @private Whether `Name' is a valid id, type or name: a UTF-8 binary of 1 to 255 bytes.
-spec valid_name(term()) -> boolean().
valid_name(Name) when is_binary(Name), byte_size(Name) > 0, byte_size(Name) =< 255 ->
    unicode:characters_to_binary(Name) =:= Name;
valid_name(_Name) ->
    false.

name_key(workflow) -> type;
name_key(activity) -> name.

%% @doc Starts a run of workflow type `Type' with `Input' and returns its id once
%% `WorkflowStarted' is durable. The run's process starts at once and its code runs:
%% `WorkflowStarted' is made durable with the run's first append (its first command, or
%% its close), so a start costs no commit of its own; nothing the code does leaves the run
%% before that. A workflow whose code runs `start_timeout_ms' (default 30 s) without a
%% command is stopped and the start answered `{error, timeout}' (nothing of it is kept).
%% `Opts': `workflow_id => binary()' (default: a fresh UUID),
%% `execution_timeout_ms => pos_integer()' (the whole workflow, across continue-as-new,
%% ends as `timed_out' when it runs longer), `parent_id => binary()' (set by
%% `aion_flow:start_child/3'; shown by `describe/1' and `list/1'), `id_reuse' (`reject',
%% the default: an id that exists is refused; `allow_closed': a closed workflow of that id
%% — its summary and history — is removed and the new one starts in its place; a running
%% one is still refused).
%% Errors: `{unknown_workflow_type, Type}', `{invalid_input, Why}' (not JSON-compatible),
%% `{payload_too_large, Size, Limit}', `{bad_option, Opt}', `{already_started, Id}' (a run
%% with that id is running), `{already_exists, Id}' (a closed run has that id).
-spec start_workflow(binary(), term(), map()) -> {ok, workflow_id()} | {error, error_reason()}.
start_workflow(Type, Input, Opts) ->
    started(fun() ->
        case aion_cluster:role() of
            all -> do_start_workflow(Type, Input, Opts);
            worker -> on_workflow_node(start_workflow, [Type, Input, Opts])
        end
    end).

do_start_workflow(Type, Input, Opts) when is_map(Opts) ->
    maybe_all([
        fun() -> check_type(Type) end,
        fun() -> check_start_opts(Opts) end,
        fun() -> encode_payload(Input) end,
        fun() -> check_timeout_opt(Opts) end
    ], fun([_, Id, InputJson, OptsJson]) ->
           %% `id_reuse => allow_closed': a closed workflow of that id gives way.
           maps:get(id_reuse, Opts, reject) =:= allow_closed andalso
               aion_flow_ffi:nif_engine_forget(aion_engine:store(), Id),
           create(Type, Id, InputJson, OptsJson)
       end);
do_start_workflow(_Type, _Input, Opts) ->
    {error, {bad_option, Opts}}.

maybe_all(Checks, Then) ->
    maybe_all(Checks, [], Then).

maybe_all([], Acc, Then) ->
    Then(lists:reverse(Acc));
maybe_all([Check | Rest], Acc, Then) ->
    case Check() of
        {ok, Value} -> maybe_all(Rest, [Value | Acc], Then);
        {error, _} = Error -> Error
    end.

check_type(Type) when is_binary(Type) ->
    case aion_engine:lookup(workflow, Type) of
        {ok, _} -> {ok, Type};
        error -> {error, {unknown_workflow_type, Type}}
    end;
check_type(Type) ->
    {error, {unknown_workflow_type, Type}}.

%% The optional fields of `WorkflowStarted', as the JSON options of the create NIF.
check_timeout_opt(Opts) ->
    Deadline = case maps:get(execution_timeout_ms, Opts, undefined) of
        undefined -> ok;
        Ms when is_integer(Ms), Ms > 0 -> {ok, aion_flow_ffi:now_ms() + Ms};
        Ms -> {error, {bad_option, {execution_timeout_ms, Ms}}}
    end,
    Parent = case maps:get(parent_id, Opts, undefined) of
        undefined -> ok;
        P ->
            case valid_name(P) of
                true -> {ok, P};
                false -> {error, {bad_option, {parent_id, P}}}
            end
    end,
    case {Deadline, Parent} of
        {{error, _} = E, _} -> E;
        {_, {error, _} = E} -> E;
        _ ->
            Fields = [{<<"execution_deadline">>, D} || {ok, D} <- [Deadline]] ++
                     [{<<"parent_id">>, P} || {ok, P} <- [Parent]],
            aion_flow_ffi:json_encode(maps:from_list(Fields))
    end.

check_start_opts(Opts) ->
    Reuse = maps:get(id_reuse, Opts, reject),
    case maps:keys(maps:without([workflow_id, execution_timeout_ms, parent_id, id_reuse], Opts)) of
        [] when Reuse =/= reject, Reuse =/= allow_closed ->
            {error, {bad_option, {id_reuse, Reuse}}};
        [] ->
            case maps:get(workflow_id, Opts, undefined) of
                undefined -> {ok, uuid()};
                Id ->
                    case valid_name(Id) of
                        true -> {ok, Id};
                        false -> {error, {bad_option, {workflow_id, Id}}}
                    end
            end;
        [Key | _] ->
            {error, {bad_option, Key}}
    end.

%% @private Encodes a payload and checks it against `max_payload_bytes'.
-spec encode_payload(term()) -> {ok, binary()} | {error, error_reason()}.
encode_payload(Term) ->
    Limit = application:get_env(aion, max_payload_bytes, 2097152),
    case aion_flow_ffi:json_encode(Term) of
        {ok, Json} when byte_size(Json) > Limit -> {error, {payload_too_large, byte_size(Json), Limit}};
        {ok, Json} -> {ok, Json};
        {error, _} = Error -> Error
    end.

%% The run is built in memory and handed to its new process, which runs the code at once:
%% `WorkflowStarted' becomes durable with the run's first append (its first command, or
%% its close), and the process says so; only then is the start acknowledged.
create(Type, Id, InputJson, OptsJson) ->
    RunId = uuid(),
    case aion_flow_ffi:new_run(aion_engine:store(), Id, Type, InputJson, RunId, OptsJson,
                              aion_flow_ffi:now_ms()) of
        {ok, {Run, Deadline}} ->
            Ref = make_ref(),
            case aion_engine:start_new_run(Id, {Run, Type, InputJson, RunId, Deadline}, {self(), Ref}) of
                {ok, Pid} ->
                    case wait_started(Id, RunId, Pid, Ref) of
                        {ok, _} = Started -> aion_metrics:workflow_started(Type), Started;
                        Refused -> Refused
                    end;
                {error, Reason} -> {error, {store, aion_flow_ffi:printed(Reason)}}
            end;
        {error, Reason} ->
            create_error(Id, Reason)
    end.

wait_started(Id, RunId, Pid, Ref) ->
    Monitor = erlang:monitor(process, Pid),
    receive
        {aion_started, Ref, Result} ->
            erlang:demonitor(Monitor, [flush]),
            case Result of
                ok -> {ok, Id};
                {error, Reason} -> create_error(Id, Reason)
            end;
        {'DOWN', Monitor, process, Pid, _} ->
            started_after_all(Id, RunId, {store, <<"the workflow's process stopped before its start was durable">>})
    after application:get_env(aion, start_timeout_ms, ?START_TIMEOUT) ->
        %% Its code ran this long without a command (or a close): stop it rather than let
        %% a workflow the caller was told did not start appear later.
        exit(Pid, kill),
        receive {'DOWN', Monitor, process, Pid, _} -> ok end,
        started_after_all(Id, RunId, timeout)
    end.

%% A new workflow's process stopped before it said how its start went: the store knows
%% whether the start became durable, once the append it may have handed to the writer
%% just before it stopped has been committed or refused (the writer takes writes in
%% order: a barrier queued now comes after it).
started_after_all(Id, RunId, Error) ->
    Tag = aion_flow_ffi:tag(),
    case aion_flow_ffi:nif_engine_barrier(aion_engine:store(), Tag) of
        {ok, Tag} -> receive {aion_durable, Tag, _} -> ok end;
        {error, _} -> ok
    end,
    case describe(Id) of
        {ok, #{run_id := RunId}} -> {ok, Id};
        _ -> {error, Error}
    end.

create_error(Id, {already_started, _}) ->
    {error, {already_started, Id}};
create_error(Id, {already_exists, _}) ->
    case describe(Id) of
        {ok, #{status := Status}} when Status =:= running; Status =:= blocked ->
            {error, {already_started, Id}};
        _ ->
            {error, {already_exists, Id}}
    end;
create_error(_Id, Reason) ->
    store_error(Reason).

%% @doc Waits up to `TimeoutMs' for workflow `WorkflowId' to close (following
%% continue-as-new to the last run). `{ok, Result}' when it completed; `{error, Reason}'
%% otherwise: `{failed, Error}', `{cancelled, Details}' (`Details' is `#{<<"ok">> => R}' or
%% `#{<<"error">> => E}', what the code returned after the cancellation),
%% `{terminated, Reason}', `timed_out', `timeout' (still running, or blocked, at the
%% deadline), `not_found' (unknown id), `{bad_argument, timeout, T}' unless `TimeoutMs' is
%% a non-negative integer or `infinity'.
-spec await(workflow_id(), timeout()) -> {ok, term()} | {error, error_reason()}.
await(WorkflowId, TimeoutMs) ->
    started(fun() -> with_id(WorkflowId, fun() -> do_await(WorkflowId, TimeoutMs) end) end).

do_await(WorkflowId, TimeoutMs) when ?IS_TIMEOUT(TimeoutMs) ->
    Ref = make_ref(),
    %% Subscribe before looking: a run closing in between still reaches us. A run with a
    %% live process is open (its process stops owning it before it tells waiters), and its
    %% process sends the outcome; otherwise the store says.
    true = ets:insert(aion_waiters, {WorkflowId, self(), Ref}),
    try
        Now = case aion_engine:live_run(WorkflowId) of
            {ok, _Pid} -> running;
            none -> outcome(WorkflowId)
        end,
        case Now of
            running -> wait_done(WorkflowId, Ref, deadline(TimeoutMs));
            Outcome -> Outcome
        end
    after
        ets:delete_object(aion_waiters, {WorkflowId, self(), Ref}),
        receive {aion_done, Ref} -> ok after 0 -> ok end,
        receive {aion_done, Ref, _} -> ok after 0 -> ok end
    end;
do_await(_WorkflowId, TimeoutMs) ->
    {error, {bad_argument, timeout, TimeoutMs}}.

%% Waits for the closing run's message. In a cluster the run may close on another node,
%% which tells this node's waiters too; should that message be lost with a node, the store
%% is read again every second.
wait_done(WorkflowId, Ref, Deadline) ->
    Left = remaining(Deadline),
    Wait = case aion_cluster:enabled() of
        true when Left =:= infinity -> 1000;
        true -> min(Left, 1000);
        false -> Left
    end,
    receive
        {aion_done, Ref, Outcome} -> Outcome;
        {aion_done, Ref} -> closed_outcome(WorkflowId)
    after Wait ->
        case Wait =:= Left orelse outcome(WorkflowId) of
            true -> {error, timeout};
            running -> wait_done(WorkflowId, Ref, Deadline);
            Outcome -> Outcome
        end
    end.

deadline(infinity) -> infinity;
deadline(TimeoutMs) -> erlang:monotonic_time(millisecond) + TimeoutMs.

remaining(infinity) -> infinity;
remaining(Deadline) -> max(Deadline - erlang:monotonic_time(millisecond), 0).

closed_outcome(WorkflowId) ->
    case outcome(WorkflowId) of
        running -> {error, timeout};
        Outcome -> Outcome
    end.

%% The caller-facing outcome of a workflow from its summary, or `running'.
outcome(WorkflowId) ->
    case describe(WorkflowId) of
        {ok, Summary} ->
            case closing(Summary) of
                open -> running;
                Closing -> closed_result(Closing)
            end;
        {error, _} = Error ->
            Error
    end.

%% @private The caller-facing outcome of a run that closed `{Status, Value}'.
-spec closed_result({completed | failed | cancelled | terminated | timed_out, term()}) ->
    {ok, term()} | {error, term()}.
closed_result({completed, Result}) -> {ok, Result};
closed_result({timed_out, _Deadline}) -> {error, timed_out};
closed_result({Status, Value}) -> {error, {Status, Value}}.

%% @private How a summary's run closed, `{Status, Value}' (the result, error, details,
%% reason or deadline), or `open' (running or blocked).
-spec closing(map()) -> {completed | failed | cancelled | terminated | timed_out, term()} | open.
closing(#{status := completed, result := Value}) -> {completed, Value};
closing(#{status := failed, error := Value}) -> {failed, Value};
closing(#{status := cancelled, details := Value}) -> {cancelled, Value};
closing(#{status := terminated, reason := Value}) -> {terminated, Value};
closing(#{status := timed_out, deadline := Value}) -> {timed_out, Value};
closing(#{}) -> open.

%% @doc A workflow's summary (its current run): `workflow_id', `type', `run_id', `status'
%% (`running', `completed', `failed', `cancelled', `terminated', `timed_out', or `blocked'
%% when it cannot go on; then `blocked_reason' says why: `{non_determinism, #{seq,
%% recorded, requested}}', `{crashed, #{class, reason, stacktrace}}' (the workflow code
%% raised) or `{unreadable, Why}' (its history cannot be read)), `head' (events
%% in the current run), `created_at' (first run), `updated_at' (Unix ms), and once closed
%% `result', `error', `details' (cancelled), `reason' (terminated) or `deadline'
%% (timed out). In a cluster (`{store, postgres}') also `owner': the node (a binary) that
%% owns the run, or owned it last.
-spec describe(workflow_id()) -> {ok, map()} | {error, not_found | error_reason()}.
describe(WorkflowId) ->
    started(fun() -> with_id(WorkflowId, fun() -> do_describe(WorkflowId) end) end).

do_describe(WorkflowId) ->
    case aion_flow_ffi:nif_engine_describe(aion_engine:store(), WorkflowId) of
        {ok, Summary} -> {ok, with_blocked(Summary)};
        {error, Reason} -> store_error(Reason)
    end.

%% @doc The run's recorded history, oldest first: one map per event with `seq', `type'
%% (the event name as a binary, e.g. `<<"ActivityCompleted">>'), `recorded_at' and the
%% event's own fields (`ordinal', `name', `input', `attempt', `result', `error', ...).
-spec history(workflow_id()) -> {ok, [map()]} | {error, not_found | {store, binary()}}.
history(WorkflowId) ->
    history(WorkflowId, null).

%% @doc The history of run `RunId' of the workflow (`null': its current run). Runs closed
%% by continue-as-new stay readable; `WorkflowStarted.continued_from' links each run to
%% the one before.
-spec history(workflow_id(), binary() | null) -> {ok, [map()]} | {error, not_found | {store, binary()}}.
history(WorkflowId, RunId) ->
    started(fun() -> with_id(WorkflowId, fun() -> do_history(WorkflowId, RunId) end) end).

do_history(WorkflowId, RunId) when is_binary(RunId); RunId =:= null ->
    case aion_flow_ffi:nif_engine_history(aion_engine:store(), WorkflowId, RunId) of
        {ok, Events} -> {ok, Events};
        {error, Reason} -> store_error(Reason)
    end;
do_history(_WorkflowId, _RunId) ->
    {error, not_found}.

%% @doc Asks workflow `WorkflowId' to cancel; see `cancel/2'.
-spec cancel(workflow_id()) -> ok | {error, error_reason()}.
cancel(WorkflowId) ->
    cancel(WorkflowId, null).

%% @doc Asks workflow `WorkflowId' to cancel, and returns once the request is durable in
%% its inbox (the run records it at its next step; a run with no process — blocked, or its
%% type not registered — when it next runs). Everything the workflow was waiting on is
%% cancelled (its awaits return `{error, cancelled}', running activities are sent
%% `{aion_cancel, Ordinal, Attempt}' and killed after `cancel_grace_ms'); the code may then
%% run compensation, and the run closes as `cancelled' when it returns. A second request
%% records nothing. Errors: `not_found', `not_running' (already closed),
%% `{invalid_input, Why}' (`Reason' is not JSON-compatible),
%% `{payload_too_large, Size, Limit}', `not_started'.
-spec cancel(workflow_id(), term()) -> ok | {error, error_reason()}.
cancel(WorkflowId, Reason) ->
    started(fun() -> with_id(WorkflowId, fun() -> do_cancel(WorkflowId, Reason) end) end).

do_cancel(WorkflowId, Reason) ->
    case encode_payload(Reason) of
        {ok, ReasonJson} -> push(WorkflowId, {cancel, ReasonJson});
        {error, _} = Error -> Error
    end.

%% @doc Sends signal `Name' with `Payload' to workflow `WorkflowId' and returns once it is
%% durable in the workflow's inbox, whether or not the workflow's process is awake (a
%% workflow asleep in a timer, blocked, or whose type is not registered yet, records it
%% when it runs); it never waits on the workflow's process. Every signal acknowledged
%% `ok' ends up in the run's history, once, before the run closes. The workflow reads it
%% with `aion_flow:receive_signal/1,2'. Errors: `not_found', `not_running' (closed),
%% `{invalid_input, Why}', `{payload_too_large, Size, Limit}',
%% `{bad_argument, name, Name}', `not_started'.
-spec signal(workflow_id(), binary(), term()) -> ok | {error, error_reason()}.
signal(WorkflowId, Name, Payload) ->
    started(fun() -> with_id(WorkflowId, fun() -> do_signal(WorkflowId, Name, Payload) end) end).

do_signal(WorkflowId, Name, Payload) ->
    case signal_json(Name, Payload) of
        {ok, Json} -> deliver_signal(WorkflowId, Name, Json, null);
        {error, _} = Error -> Error
    end.

%% A signal's name checked and its payload encoded.
signal_json(Name, Payload) ->
    case valid_name(Name) of
        true -> encode_payload(Payload);
        false -> {error, {bad_argument, name, Name}}
    end.

%% @doc Delivers an encoded signal under `SignalId' (`null', or an id the target records
%% once however often it is delivered). For `aion_flow:signal/3'.
-spec deliver_signal(workflow_id(), binary(), binary(), binary() | null) -> ok | {error, error_reason()}.
deliver_signal(WorkflowId, Name, Json, SignalId) when is_binary(WorkflowId) ->
    case push(WorkflowId, {signal, Name, Json, SignalId}) of
        {error, not_running} when is_binary(SignalId) ->
            %% A redelivery (the sender crashed before it recorded the first delivery's
            %% result) to a target that took the signal and has closed since: it was
            %% delivered.
            case received(WorkflowId, SignalId) of
                true -> ok;
                false -> {error, not_running}
            end;
        Result ->
            Result
    end;
deliver_signal(_WorkflowId, _Name, _Json, _SignalId) ->
    {error, not_found}.

%% Whether the current run of `WorkflowId' recorded the signal sent under `SignalId'.
received(WorkflowId, SignalId) ->
    case history(WorkflowId) of
        {ok, Events} -> lists:any(fun(#{type := <<"SignalReceived">>, signal_id := Id}) -> Id =:= SignalId;
                                     (_) -> false
                                  end, Events);
        {error, _} -> false
    end.

%% @doc Starts workflow `Type' unless the id in `Opts' is already running, then signals
%% it; returns its id. Errors as for `start_workflow/3' (but `already_started') and
%% `signal/3'.
-spec signal_with_start(binary(), term(), binary(), term(), map()) ->
    {ok, workflow_id()} | {error, error_reason()}.
signal_with_start(Type, Input, Name, Payload, Opts) ->
    started(fun() ->
        case aion_cluster:role() of
            all -> do_signal_with_start(Type, Input, Name, Payload, Opts);
            worker -> on_workflow_node(signal_with_start, [Type, Input, Name, Payload, Opts])
        end
    end).

do_signal_with_start(Type, Input, Name, Payload, Opts) ->
    %% The signal is checked first: a bad one must not leave a started workflow behind.
    case signal_json(Name, Payload) of
        {ok, Json} ->
            Started = case start_workflow(Type, Input, Opts) of
                {ok, Id} -> {ok, Id};
                {error, {already_started, Id}} -> {ok, Id};
                Error -> Error
            end,
            case Started of
                {ok, WorkflowId} ->
                    case deliver_signal(WorkflowId, Name, Json, null) of
                        ok -> {ok, WorkflowId};
                        SignalError -> SignalError
                    end;
                StartError ->
                    StartError
            end;
        {error, _} = Error ->
            Error
    end.

%% @doc Asks workflow `WorkflowId' query `Name' with `Args'; see `query/4' (5 s timeout).
-spec query(workflow_id(), binary(), term()) -> {ok, term()} | {error, term()}.
query(WorkflowId, Name, Args) ->
    query(WorkflowId, Name, Args, 5000).

%% @doc Runs the query handler `Name' the workflow set with
%% `aion_flow:set_query_handler/2' on `Args' and returns its (JSON-decoded) result.
%% Queries never write history; they are answered while the workflow waits on anything
%% (activity, timer, signal, child). Errors: `unknown_query', `not_running' (closed, or no
%% process runs it), `not_found', `timeout', `{handler_failed, Reason}' (the handler
%% crashed or tried to run workflow commands; the workflow is not affected).
-spec query(workflow_id(), binary(), term(), timeout()) -> {ok, term()} | {error, term()}.
query(WorkflowId, Name, Args, TimeoutMs) ->
    started(fun() -> with_id(WorkflowId, fun() ->
        on_owner(WorkflowId, query, [WorkflowId, Name, Args, TimeoutMs], TimeoutMs,
                 fun() -> do_query(WorkflowId, Name, Args, TimeoutMs) end)
    end) end).

do_query(WorkflowId, Name, Args, TimeoutMs) ->
    request(WorkflowId, Name, Args, TimeoutMs,
            fun(From, Ref, ArgsJson) -> {aion_query, From, Ref, Name, ArgsJson} end).

%% @doc Sends update `Name' with `Args' to workflow `WorkflowId': the validator the
%% workflow set with `aion_flow:set_update_handler/3' runs first; an accepted update is
%% recorded, its handler runs in the workflow (and again at the same point on replay), and
%% its result comes back. Errors: `{rejected, Reason}' (the validator said no; nothing is
%% recorded), `unknown_update', `{handler_failed, Reason}', `not_running', `not_found',
%% `timeout'.
-spec update(workflow_id(), binary(), term(), timeout()) -> {ok, term()} | {error, term()}.
update(WorkflowId, Name, Args, TimeoutMs) ->
    started(fun() -> with_id(WorkflowId, fun() ->
        on_owner(WorkflowId, update, [WorkflowId, Name, Args, TimeoutMs], TimeoutMs,
                 fun() -> do_update(WorkflowId, Name, Args, TimeoutMs) end)
    end) end).

do_update(WorkflowId, Name, Args, TimeoutMs) ->
    UpdateId = uuid(),
    request(WorkflowId, Name, Args, TimeoutMs,
            fun(From, Ref, ArgsJson) -> {aion_update, From, Ref, UpdateId, Name, ArgsJson} end).

%% A query or an update: checks the arguments, then asks the live process.
request(_WorkflowId, _Name, _Args, TimeoutMs, _Message) when not ?IS_TIMEOUT(TimeoutMs) ->
    {error, {bad_argument, timeout, TimeoutMs}};
request(WorkflowId, Name, Args, TimeoutMs, Message) ->
    case valid_name(Name) of
        true ->
            case encode_payload(Args) of
                {ok, ArgsJson} -> ask(WorkflowId, fun(From, Ref) -> Message(From, Ref, ArgsJson) end, TimeoutMs);
                {error, _} = Error -> Error
            end;
        false ->
            {error, {bad_argument, name, Name}}
    end.

%% A request only a live workflow process can answer (query, update).
ask(WorkflowId, Request, TimeoutMs) ->
    case aion_engine:live_run(WorkflowId) of
        {ok, Pid} ->
            Ref = erlang:monitor(process, Pid),
            Pid ! Request(self(), Ref),
            receive
                {Ref, Result} -> erlang:demonitor(Ref, [flush]), Result;
                {'DOWN', Ref, process, Pid, _} -> {error, not_running}
            after TimeoutMs ->
                erlang:demonitor(Ref, [flush]),
                {error, timeout}
            end;
        none ->
            case describe(WorkflowId) of
                {ok, _} -> {error, not_running};
                Error -> Error
            end
    end.

%% @private Pushes `Item' to the durable inbox of workflow `WorkflowId' and, once it is
%% durable, wakes the run's owner (or starts it). Nobody waits on the owner: it records
%% the entry in the history, in order, when it next steps.
-spec push(workflow_id(), tuple()) -> ok | {error, error_reason()}.
push(WorkflowId, Item) ->
    case ets:member(aion_ending, WorkflowId) of
        true -> {error, not_running};
        false -> push_durably(WorkflowId, Item)
    end.

push_durably(WorkflowId, Item) ->
    Tag = aion_flow_ffi:tag(),
    case aion_flow_ffi:nif_engine_push(aion_engine:store(), WorkflowId, Item, aion_flow_ffi:now_ms(), Tag) of
        {ok, Tag} ->
            receive
                {aion_durable, Tag, ok} -> aion_engine:wake(WorkflowId);
                {aion_durable, Tag, {error, Reason}} -> store_error(Reason)
            end;
        {error, Reason} ->
            store_error(Reason)
    end.

%% @doc Ends workflow `WorkflowId' at once: its process is stopped, `WorkflowTerminated'
%% with `Reason' is recorded, running activities are told to stop; no compensation runs.
%% Errors: `not_found', `not_running' (already closed), `{invalid_input, Why}'.
-spec terminate(workflow_id(), term()) -> ok | {error, error_reason()}.
terminate(WorkflowId, Reason) ->
    started(fun() -> with_id(WorkflowId, fun() ->
        on_owner(WorkflowId, terminate, [WorkflowId, Reason], ?REMOTE_MS,
                 fun() -> do_terminate(WorkflowId, Reason) end)
    end) end).

do_terminate(WorkflowId, Reason) ->
    case encode_payload(Reason) of
        {ok, ReasonJson} ->
            Result = terminate_run(WorkflowId, ReasonJson, 500),
            Result =:= ok andalso aion_metrics:workflow_closed(undefined, terminated, undefined),
            Result =:= ok andalso aion_engine:notify(WorkflowId),
            Result;
        {error, _} = Error ->
            Error
    end.

%% Stops the run's process, then records the termination as the run's only writer; a
%% process that starts in between (a resume), or another caller terminating it at the same
%% moment, is waited for in turn (up to about 5 s).
terminate_run(_WorkflowId, _ReasonJson, 0) ->
    {error, timeout};
terminate_run(WorkflowId, ReasonJson, Tries) ->
    case aion_engine:live_run(WorkflowId) of
        {ok, Pid} -> _ = supervisor:terminate_child(aion_workflow_sup, Pid);
        none -> ok
    end,
    case with_claimed_run(WorkflowId, fun(Run) -> end_run(Run, ReasonJson) end) of
        {error, Busy} when Busy =:= claimed; Busy =:= stale ->
            timer:sleep(10),
            terminate_run(WorkflowId, ReasonJson, Tries - 1);
        Result ->
            Result
    end.

end_run(Run, ReasonJson) ->
    case aion_flow_ffi:end_run(Run, terminated, ReasonJson) of
        ok -> ok;
        {error, {Busy, _} = Stale} when Busy =:= stale_head; Busy =:= inbox_pending ->
            exit({aion_durability, Stale});
        {error, Reason} -> store_error(Reason)
    end.

%% Runs `Fun(Run)' on the workflow's current run as its only writer, while no process
%% runs it (the caller takes the process's place in `aion_runs'). `{error, stale}' when an
%% append of the process that ran it before was still on its way to the store: read again.
with_claimed_run(WorkflowId, Fun) ->
    try claimed_run(WorkflowId, Fun)
    catch exit:{aion_durability, {Busy, _}} when Busy =:= stale_head; Busy =:= inbox_pending ->
        {error, stale}
    end.

claimed_run(WorkflowId, Fun) ->
    case aion_engine:claim_run(WorkflowId) of
        false ->
            {error, claimed};
        true ->
            try
                owned(WorkflowId, Fun, 100)
            after
                aion_run_ctx:erase(),
                aion_engine:release_run(WorkflowId),
                %% A push meanwhile woke us as the run's owner: the run's process reads
                %% the inbox itself; this caller's mailbox keeps nothing of it.
                aion_flow_ffi:flush_inbox_wakes()
            end
    end.

%% `Fun(Run)' on the run read afresh, again while the store refuses it as stale (an append
%% of the process that ran it before was still on its way) or because its inbox received
%% something meanwhile — all while holding the claim, so no process starts in between.
owned(WorkflowId, Fun, Tries) ->
    case aion_flow_ffi:nif_run_open(aion_engine:store(), WorkflowId) of
        {ok, {Run, Type, _Input, RunId, _Deadline}} ->
            ok = aion_run_ctx:put(aion_run_ctx:new(Run, WorkflowId, RunId, Type, self())),
            try
                Fun(Run)
            catch
                exit:{aion_durability, {Busy, _}}
                        when (Busy =:= stale_head orelse Busy =:= inbox_pending) andalso Tries > 0 ->
                    owned(WorkflowId, Fun, Tries - 1)
            end;
        {error, Reason} ->
            store_error(Reason)
    end.

%% @doc Writes the current run's history of workflow `WorkflowId' to `Path' as an
%% `aion-history' JSON document (format version 1: `format', `version', `workflow_id',
%% `run_id', `workflow_type', and `events', each event exactly as stored: `seq',
%% `recorded_at', `type' and its fields). `aion_replay:check/2' and `make replay' read it.
%% Errors: `not_found', `{file, Reason}'.
-spec export_history(workflow_id(), file:filename_all()) -> ok | {error, not_found | {file, term()} | {store, binary()}}.
export_history(WorkflowId, Path) ->
    started(fun() -> with_id(WorkflowId, fun() -> do_export_history(WorkflowId, Path) end) end).

do_export_history(WorkflowId, Path) ->
    case aion_flow_ffi:nif_engine_export(aion_engine:store(), WorkflowId, null) of
        {ok, Document} ->
            case file:write_file(Path, Document) of
                ok -> ok;
                {error, Reason} -> {error, {file, Reason}}
            end;
        {error, Reason} ->
            store_error(Reason)
    end.

%% @doc Summaries (as `describe/1') of the workflows matching `Filter', answered from the
%% store's indexes. `Filter' may hold `status => S' (any status `describe/1' reports:
%% `running', `blocked', `completed', `failed', `cancelled', `terminated', `timed_out',
%% `continued_as_new'; `running' lists the runs that are not blocked), `type => binary()',
%% `since' / `until' (Unix ms: created at or after / before), `order' (`oldest_first', the
%% default, or `newest_first'), `limit => pos_integer()' and `cursor' (a previous page's).
%% Without `limit': `{ok, Runs}', every match. With `limit': `{ok, Runs, Next}', one page,
%% `Next' the cursor of the next page (a binary) or `done' (a page of `blocked' runs is
%% cut from a page of running ones, so it may hold fewer). Errors: `{bad_option, Opt}'.
-spec list(map()) -> {ok, [map()]} | {ok, [map()], binary() | done} | {error, error_reason()}.
list(Filter) ->
    started(fun() -> do_list(Filter) end).

do_list(Filter) when is_map(Filter) ->
    Known = [status, type, since, until, limit, cursor, order],
    case maps:keys(maps:without(Known, Filter)) of
        [] ->
            case list_filter(Filter) of
                {ok, StoreFilter} -> list_page(Filter, StoreFilter);
                {error, _} = Error -> Error
            end;
        [Key | _] ->
            {error, {bad_option, Key}}
    end;
do_list(Filter) ->
    {error, {bad_option, Filter}}.

-define(STATUSES, [running, blocked, completed, failed, cancelled, terminated, timed_out,
                   continued_as_new]).

%% The store's filter for `list/1''s, each option checked.
list_filter(Filter) ->
    Status = maps:get(status, Filter, null),
    Type = maps:get(type, Filter, null),
    Int = fun(Key) -> maps:get(Key, Filter, null) end,
    Checks = [{status, Status, Status =:= null orelse lists:member(Status, ?STATUSES)},
              {type, Type, Type =:= null orelse valid_name(Type)},
              {since, Int(since), Int(since) =:= null orelse is_integer(Int(since))},
              {until, Int(until), Int(until) =:= null orelse is_integer(Int(until))},
              {limit, Int(limit), Int(limit) =:= null orelse (is_integer(Int(limit)) andalso Int(limit) > 0)},
              {order, maps:get(order, Filter, oldest_first),
               lists:member(maps:get(order, Filter, oldest_first), [oldest_first, newest_first])}],
    case [{Key, Value} || {Key, Value, false} <- Checks] of
        [Bad | _] ->
            {error, {bad_option, Bad}};
        [] ->
            case cursor(maps:get(cursor, Filter, null)) of
                {ok, After} ->
                    {ok, #{status => case Status of
                                         null -> null;
                                         blocked -> <<"running">>;
                                         _ -> atom_to_binary(Status)
                                     end,
                           type => Type, since => Int(since), until => Int(until),
                           limit => Int(limit), 'after' => After,
                           newest_first => maps:get(order, Filter, oldest_first) =:= newest_first}};
                error ->
                    {error, {bad_option, {cursor, maps:get(cursor, Filter)}}}
            end
    end.

cursor(null) -> {ok, null};
cursor(Cursor) when is_binary(Cursor) ->
    try binary_to_integer(Cursor) of
        N when N >= 0 -> {ok, N};
        _ -> error
    catch error:badarg -> error
    end;
cursor(_) -> error.

list_page(Filter, StoreFilter) ->
    Status = maps:get(status, Filter, null),
    case aion_flow_ffi:nif_engine_list(aion_engine:store(), StoreFilter) of
        {ok, {Runs, Next}} ->
            Page = [R || R = #{status := S} <- with_blocked_all(Runs),
                         Status =:= null orelse S =:= Status],
            case maps:is_key(limit, Filter) of
                false -> {ok, Page};
                true when Next =:= null -> {ok, Page, done};
                true -> {ok, Page, integer_to_binary(Next)}
            end;
        {error, Reason} ->
            store_error(Reason)
    end.

%% @doc How many workflows are in each status (`Filter' may name a `type'):
%% `{ok, #{running => N, blocked => N, completed => N, ...}}', every status present
%% (zeros included). Counted from the store's status index, not by reading summaries;
%% `blocked' counts the runs this node knows blocked (in a cluster, each node its own)
%% and `running' the others. Errors: `{bad_option, Opt}'.
-spec count(#{type => binary()}) -> {ok, #{status() => non_neg_integer()}} | {error, error_reason()}.
count(Filter) ->
    started(fun() -> do_count(Filter) end).

do_count(Filter) when is_map(Filter) ->
    Type = maps:get(type, Filter, null),
    case {maps:keys(maps:without([type], Filter)), Type =:= null orelse valid_name(Type)} of
        {[], true} ->
            case aion_flow_ffi:nif_engine_counts(aion_engine:store(), Type) of
                {ok, Counts} ->
                    Blocked = length([Id || {Id, T, _} <- ets:tab2list(aion_blocked),
                                            Type =:= null orelse T =:= Type]),
                    Zero = maps:from_list([{S, 0} || S <- ?STATUSES]),
                    ByStatus = maps:merge(Zero, maps:from_list([{binary_to_atom(S), N}
                                                                || {S, N} <- Counts])),
                    Running = maps:get(running, ByStatus),
                    {ok, ByStatus#{running := max(Running - Blocked, 0),
                                   blocked := min(Blocked, Running)}};
                {error, Reason} ->
                    store_error(Reason)
            end;
        {[Key | _], _} -> {error, {bad_option, Key}};
        {[], false} -> {error, {bad_option, {type, Type}}}
    end;
do_count(Filter) ->
    {error, {bad_option, Filter}}.

%% @doc Removes the workflows that closed before `closed_before' (Unix ms) — their
%% summaries and every run's history; running workflows are never removed. Returns how
%% many were removed. Their ids can be used again. The application env `retention_ms'
%% does this on its own (every minute, for workflows closed longer ago than it says).
%% Errors: `{bad_option, Opt}', `{read_only, Why}' (a read-only store).
-spec prune(#{closed_before := integer()}) -> {ok, non_neg_integer()} | {error, error_reason()}.
prune(Opts) ->
    started(fun() -> do_prune(Opts) end).

do_prune(#{closed_before := Before} = Opts) when is_integer(Before), map_size(Opts) =:= 1 ->
    prune_batches(Before, 0);
do_prune(Opts) ->
    {error, {bad_option, Opts}}.

prune_batches(Before, Done) ->
    case aion_flow_ffi:nif_engine_prune(aion_engine:store(), Before, 1000) of
        {ok, 0} -> {ok, Done};
        {ok, N} -> prune_batches(Before, Done + N);
        {error, Reason} -> store_error(Reason)
    end.

%% A running summary shows as blocked when the run cannot go on (as its owner knows, in a
%% cluster).
with_blocked(Summary) ->
    hd(with_blocked_all([Summary])).

%% `with_blocked/1' of many summaries: each other owner node is asked once, all at once,
%% with one deadline (an owner that does not answer in time leaves its runs as running).
with_blocked_all(Summaries) ->
    Here = atom_to_binary(node()),
    Remote = lists:usort([O || #{status := running, owner := O} <- Summaries, O =/= Here]),
    Asked = [{O, erpc:send_request(binary_to_atom(O), aion_engine, blocked_reasons,
                                   [[Id || #{status := running, owner := Ow, workflow_id := Id} <- Summaries,
                                           Ow =:= O]])}
             || O <- Remote],
    Deadline = erlang:monotonic_time(millisecond) + 1000,
    Known = maps:from_list(lists:append([answer(Request, Deadline) || {_, Request} <- Asked])),
    [blocked_as(S, Here, Known) || S <- Summaries].

answer(Request, Deadline) ->
    Left = max(Deadline - erlang:monotonic_time(millisecond), 0),
    try erpc:receive_response(Request, Left) of
        Reasons when is_list(Reasons) -> Reasons;
        _ -> []
    catch _:_ -> []
    end.

blocked_as(Summary = #{status := running, workflow_id := Id}, Here, Known) ->
    Blocked = case maps:get(owner, Summary, Here) of
        Here -> aion_engine:blocked_reason(Id);
        _ -> maps:find(Id, Known)
    end,
    case Blocked of
        {ok, Reason} -> Summary#{status => blocked, blocked_reason => Reason};
        error -> Summary
    end;
blocked_as(Summary, _Here, _Known) ->
    Summary.

%% Runs `Local()' where run `WorkflowId' lives: on this node, or — in a cluster, when
%% another live node owns the run — `aion:Function(Args...)' on that node, waiting at most
%% `TimeoutMs' (and a second for the hop).
on_owner(WorkflowId, Function, Args, TimeoutMs, Local) ->
    case aion_cluster:route(WorkflowId) of
        local -> Local();
        {remote, Node} -> call_node(Node, Function, Args, hop(TimeoutMs))
    end.

hop(infinity) -> infinity;
hop(TimeoutMs) -> TimeoutMs + 1000.

%% A start made on a worker node (it runs no workflows) is made on a node that does.
on_workflow_node(Function, Args) ->
    case aion_cluster:workflow_node() of
        {ok, Node} -> call_node(Node, Function, Args, ?REMOTE_MS);
        none -> {error, {not_owner, <<"no node that runs workflows is live">>}}
    end.

%% `aion:Function(Args...)' on `Node'. A node that does not answer in time is
%% `{error, timeout}'; one that cannot be reached, or fails, `{error, {node_unreachable,
%% Node, Why}}'.
call_node(Node, Function, Args, TimeoutMs) ->
    try erpc:call(Node, ?MODULE, Function, Args, TimeoutMs)
    catch
        error:{erpc, timeout} -> {error, timeout};
        error:{erpc, Reason} -> {error, {node_unreachable, Node, Reason}};
        Class:Reason -> {error, {node_unreachable, Node, {Class, Reason}}}
    end.

%% The engine's tagged reasons as the client API reports them: `not_found' and
%% `not_running' bare, every other reason (`{store, Detail}', `{corrupt, Detail}',
%% `{stale_head, Detail}', `{internal, Detail}', ...) as it is.
store_error({not_found, _}) -> {error, not_found};
store_error({not_running, _}) -> {error, not_running};
store_error({not_started, _}) -> {error, not_started};
store_error(Reason) -> {error, Reason}.

%% @doc A fresh random (v4) UUID.
-spec uuid() -> binary().
uuid() ->
    <<A:48, _:4, B:12, _:2, C:62>> = rand:bytes(16),
    <<S1:8/binary, S2:4/binary, S3:4/binary, S4:4/binary, S5:12/binary>> =
        << <<(hex_digit(N))>> || <<N:4>> <= <<A:48, 4:4, B:12, 2:2, C:62>> >>,
    <<S1/binary, $-, S2/binary, $-, S3/binary, $-, S4/binary, $-, S5/binary>>.

hex_digit(N) when N < 10 -> $0 + N;
hex_digit(N) -> $a + N - 10.

%% @doc Creates schedule `Id': workflow `workflow' (a registered type) started with
%% `input' (default `null') at every slot of `cron => <<"*/5 * * * *">>' (five fields,
%% see `aion_cron'; read in UTC, or at `utc_offset => <<"+05:30">>') or of
%% `every_ms => N' (the multiples of N since the Unix epoch). Optional: `overlap' — what a
%% slot does while the workflow the schedule started last still runs: `skip' (default),
%% `buffer_one' (start it when that one closes; at most one waits), `allow_all',
%% `cancel_other' (cancel that one, start this one) —; `catchup_window_ms' (default one
%% hour): slots missed while no node ran the schedule are started if they are at most
%% this old, the older ones are counted `missed'; `paused' (default `false'). Keys may be
%% atoms or binaries. Each slot starts at most one workflow, whose id is the schedule id
%% and the slot time (`aion_schedule:slot_id/2'), across restarts and crashes. The
%% schedule is a durable workflow of its own (type `aion.schedule', id
%% `<<"aion.schedule/", Id/binary>>'). Errors: `{bad_argument, schedule_id, Id}' (not a
%% UTF-8 binary of 1 to 200 bytes), `{bad_schedule, Why}' (`{missing_field, F}',
%% `{unknown_field, F}', `{cron, Expr, Why}', `{utc_offset, V}', `{every_ms, V}',
%% `{overlap, V}', `{catchup_window_ms, V}', `{paused, V}', `{cron_and_every_ms, both_given}'),
%% `{unknown_workflow_type, T}', `{invalid_input, Why}', `{already_exists, Id}'.
-spec create_schedule(binary(), aion_schedule:spec()) -> ok | {error, term()}.
create_schedule(Id, Spec) ->
    aion_schedule:create(Id, Spec).

%% @doc Pauses schedule `Id': its slots pass without starting anything (counted as
%% `paused'; they are not caught up later). Errors: `not_found'.
-spec pause_schedule(binary()) -> ok | {error, term()}.
pause_schedule(Id) ->
    aion_schedule:pause(Id).

%% @doc Unpauses schedule `Id'. Errors: `not_found'.
-spec unpause_schedule(binary()) -> ok | {error, term()}.
unpause_schedule(Id) ->
    aion_schedule:unpause(Id).

%% @doc Starts schedule `Id''s workflow now (paused or not), under its overlap policy:
%% `{ok, #{outcome => started | skipped | buffered | failed, workflow_id => Id | null}}'.
%% Errors: `not_found'.
-spec trigger_schedule(binary()) -> {ok, map()} | {error, term()}.
trigger_schedule(Id) ->
    aion_schedule:trigger(Id).

%% @doc Deletes schedule `Id' (the workflows it started go on); returns once its workflow
%% closed. The id can be used again. Errors: `not_found'.
-spec delete_schedule(binary()) -> ok | {error, term()}.
delete_schedule(Id) ->
    aion_schedule:delete(Id).

%% @doc Schedule `Id': its spec (`workflow', `input', `cron' and `utc_offset' or
%% `every_ms', `overlap', `catchup_window_ms'), `paused', `next_runs' (the next five slot
%% times, Unix ms), `running' (the workflow it started last), `buffered' (a slot waiting
%% for it), `counts' (`started', `skipped_overlap', `missed', `paused', `failed',
%% `buffered'), `recent' (the last ten actions: `slot', `outcome', `workflow_id' or
%% `reason'), `created_at' and `last_slot' (slots up to this time are taken).
%% Errors: `not_found'.
-spec describe_schedule(binary()) -> {ok, aion_schedule:info()} | {error, term()}.
describe_schedule(Id) ->
    aion_schedule:describe(Id).

%% @doc Every schedule, as `describe_schedule/1', by id.
-spec list_schedules() -> {ok, [aion_schedule:info()]} | {error, term()}.
list_schedules() ->
    aion_schedule:list().
