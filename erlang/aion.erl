%% @doc The aion client API: register workflow types and activities, start workflows, wait
%% for them, inspect them.
%%
%% Payloads (inputs, results) are JSON-compatible terms: maps with binary (or atom) keys,
%% lists, binaries, numbers, `true', `false', `null' (other atoms become strings). What a
%% workflow or caller reads back is always the JSON-decoded form (maps with binary keys),
%% the same on the first run and on every replay. Ids, types and names are binaries.
-module(aion).

-export([register_workflow/2]).
-export([register_activity/2]).
-export([start_workflow/3]).
-export([await/2]).
-export([describe/1]).
-export([history/1]).
-export([list/1]).

%% Internal: used by the other modules of the app.
-export([encode_payload/1]).

-type workflow_id() :: binary().
-type status() :: running | completed | failed | blocked.
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
    | not_found
    | timeout
    | {store, binary()}.
-export_type([workflow_id/0, status/0, error_reason/0]).

-define(START_TIMEOUT, 30000).

%% @doc Registers workflow type `Type': runs of it call `Module:Function(Input)', which
%% returns `{ok, Result} | {error, Reason}'. Runs of `Type' found in the store (after a
%% restart, or blocked on non-determinism) are resumed as soon as it is registered.
%% Errors: `{bad_argument, type, Type}' when `Type' is not a binary,
%% `{undefined_function, {M, F, 1}}' when the function is not exported.
-spec register_workflow(binary(), {module(), atom()}) -> ok | {error, error_reason()}.
register_workflow(Type, MF) ->
    register_callback(workflow, Type, MF).

%% @doc Registers activity `Name': an attempt calls `Module:Function(Input)', which returns
%% `{ok, Result}', `{error, Reason}' (retried as the policy says) or
%% `{error, {terminal, Reason}}' (never retried). Errors as for `register_workflow/2'.
-spec register_activity(binary(), {module(), atom()}) -> ok | {error, error_reason()}.
register_activity(Name, MF) ->
    register_callback(activity, Name, MF).

register_callback(Kind, Name, {M, F}) when is_binary(Name), is_atom(M), is_atom(F) ->
    _ = code:ensure_loaded(M),
    case erlang:function_exported(M, F, 1) of
        true -> aion_engine:register(Kind, Name, {M, F});
        false -> {error, {undefined_function, {M, F, 1}}}
    end;
register_callback(Kind, Name, _MF) when is_binary(Name) ->
    {error, {bad_argument, callback, Kind}};
register_callback(Kind, Name, _MF) ->
    {error, {bad_argument, name_key(Kind), Name}}.

name_key(workflow) -> type;
name_key(activity) -> name.

%% @doc Starts a run of workflow type `Type' with `Input' and returns its id once
%% `WorkflowStarted' is durable. `Opts': `workflow_id => binary()' (default: a fresh UUID).
%% Errors: `{unknown_workflow_type, Type}', `{invalid_input, Why}' (not JSON-compatible),
%% `{payload_too_large, Size, Limit}', `{bad_option, Opt}', `{already_started, Id}' (a run
%% with that id is running), `{already_exists, Id}' (a closed run has that id).
-spec start_workflow(binary(), term(), map()) -> {ok, workflow_id()} | {error, error_reason()}.
start_workflow(Type, Input, Opts) when is_map(Opts) ->
    maybe_all([
        fun() -> check_type(Type) end,
        fun() -> check_start_opts(Opts) end,
        fun() -> encode_payload(Input) end
    ], fun([_, Id, InputJson]) -> create(Type, Id, InputJson) end);
start_workflow(_Type, _Input, Opts) ->
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

check_start_opts(Opts) ->
    case maps:keys(maps:without([workflow_id], Opts)) of
        [] ->
            case maps:get(workflow_id, Opts, undefined) of
                undefined -> {ok, uuid()};
                Id when is_binary(Id), byte_size(Id) > 0, byte_size(Id) =< 255 -> {ok, Id};
                Id -> {error, {bad_option, {workflow_id, Id}}}
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
        {error, Msg} -> {error, {invalid_input, element(2, aion_flow_ffi:split_error(Msg))}}
    end.

create(Type, Id, InputJson) ->
    Tag = aion_flow_ffi:tag(),
    Now = aion_flow_ffi:now_ms(),
    case aion_flow_ffi:nif_engine_create(aion_engine:store(), Id, Type, InputJson, uuid(), Now, Tag) of
        {ok, Tag} ->
            receive
                {aion_durable, Tag, ok} ->
                    case aion_engine:start_run(Id) of
                        ok -> {ok, Id};
                        {error, Reason} -> {error, {store, iolist_to_binary(io_lib:format("~0p", [Reason]))}}
                    end;
                {aion_durable, Tag, {error, Msg}} ->
                    create_error(Id, Msg)
            after ?START_TIMEOUT ->
                {error, timeout}
            end;
        {error, Msg} ->
            create_error(Id, Msg)
    end.

create_error(Id, Msg) ->
    case aion_flow_ffi:split_error(Msg) of
        {<<"already_exists">>, _} ->
            case describe(Id) of
                {ok, #{status := Status}} when Status =:= running; Status =:= blocked ->
                    {error, {already_started, Id}};
                _ ->
                    {error, {already_exists, Id}}
            end;
        _ ->
            {error, {store, Msg}}
    end.

%% @doc Waits up to `TimeoutMs' for run `WorkflowId' to close. `{ok, Result}' when it
%% completed, `{error, {failed, Reason}}' when it failed, `{error, timeout}' when it is still
%% running (or blocked) at the deadline, `{error, not_found}' for an unknown id,
%% `{error, {bad_argument, timeout, T}}' unless `TimeoutMs' is a non-negative integer or
%% `infinity'.
-spec await(workflow_id(), timeout()) -> {ok, term()} | {error, error_reason()}.
await(WorkflowId, TimeoutMs) when is_binary(WorkflowId),
        (TimeoutMs =:= infinity orelse (is_integer(TimeoutMs) andalso TimeoutMs >= 0)) ->
    Ref = make_ref(),
    %% Subscribe before reading the status: a run closing in between still reaches us.
    true = ets:insert(aion_waiters, {WorkflowId, self(), Ref}),
    try
        case describe(WorkflowId) of
            {ok, #{status := completed, result := Result}} -> {ok, Result};
            {ok, #{status := failed, error := Error}} -> {error, {failed, Error}};
            {ok, _Running} ->
                receive {aion_done, Ref, Outcome} -> Outcome
                after TimeoutMs -> {error, timeout}
                end;
            {error, _} = Error ->
                Error
        end
    after
        ets:delete_object(aion_waiters, {WorkflowId, self(), Ref}),
        receive {aion_done, Ref, _} -> ok after 0 -> ok end
    end;
await(WorkflowId, TimeoutMs) when is_binary(WorkflowId) ->
    {error, {bad_argument, timeout, TimeoutMs}};
await(_WorkflowId, _TimeoutMs) ->
    {error, not_found}.

%% @doc A run's summary: `workflow_id', `type', `run_id', `status' (`running',
%% `completed', `failed', or `blocked' when its code diverged from its history; then
%% `blocked_reason' says how), `head' (events so far), `created_at', `updated_at' (Unix
%% ms), and `result' or `error' once closed.
-spec describe(workflow_id()) -> {ok, map()} | {error, not_found | {store, binary()}}.
describe(WorkflowId) when is_binary(WorkflowId) ->
    case aion_flow_ffi:nif_engine_describe(aion_engine:store(), WorkflowId) of
        {ok, Summary = #{status := running}} ->
            case aion_engine:blocked_reason(WorkflowId) of
                {ok, Reason} -> {ok, Summary#{status => blocked, blocked_reason => Reason}};
                error -> {ok, Summary}
            end;
        {ok, Summary} -> {ok, Summary};
        {error, Msg} -> store_error(Msg)
    end;
describe(_WorkflowId) ->
    {error, not_found}.

%% @doc The run's recorded history, oldest first: one map per event with `seq', `type'
%% (the event name as a binary, e.g. `<<"ActivityCompleted">>'), `recorded_at' and the
%% event's own fields (`ordinal', `name', `input', `attempt', `result', `error', ...).
-spec history(workflow_id()) -> {ok, [map()]} | {error, not_found | {store, binary()}}.
history(WorkflowId) when is_binary(WorkflowId) ->
    case aion_flow_ffi:nif_engine_history(aion_engine:store(), WorkflowId) of
        {ok, Events} -> {ok, Events};
        {error, Msg} -> store_error(Msg)
    end;
history(_WorkflowId) ->
    {error, not_found}.

%% @doc Summaries (as `describe/1') of the runs matching `Filter', oldest first.
%% `Filter' may hold `status => running | completed | failed' and `type => binary()'.
-spec list(map()) -> {ok, [map()]} | {error, error_reason()}.
list(Filter) when is_map(Filter) ->
    case maps:keys(maps:without([status, type], Filter)) of
        [] ->
            Status = maps:get(status, Filter, null),
            Type = maps:get(type, Filter, null),
            case {lists:member(Status, [null, running, completed, failed]), is_binary(Type) orelse Type =:= null} of
                {true, true} ->
                    StatusBin = case Status of null -> null; _ -> atom_to_binary(Status) end,
                    case aion_flow_ffi:nif_engine_list(aion_engine:store(), StatusBin, Type) of
                        {ok, Runs} -> {ok, Runs};
                        {error, Msg} -> store_error(Msg)
                    end;
                {false, _} -> {error, {bad_option, {status, Status}}};
                {_, false} -> {error, {bad_option, {type, Type}}}
            end;
        [Key | _] ->
            {error, {bad_option, Key}}
    end;
list(Filter) ->
    {error, {bad_option, Filter}}.

store_error(Msg) ->
    case aion_flow_ffi:split_error(Msg) of
        {<<"not_found">>, _} -> {error, not_found};
        _ -> {error, {store, Msg}}
    end.

uuid() ->
    <<A:32, B:16, _:4, C:12, _:2, D:14, E:48>> = rand:bytes(16),
    iolist_to_binary(io_lib:format("~8.16.0b-~4.16.0b-4~3.16.0b-~4.16.0b-~12.16.0b",
                                   [A, B, C, D bor 16#8000, E])).
