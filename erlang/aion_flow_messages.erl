%% @doc The workflow side of signals, queries and updates. Runs in the workflow process
%% (queries: in a process of their own), called by `aion_flow' and by the wake loop in
%% `aion_flow_ffi'.
-module(aion_flow_messages).

-include_lib("kernel/include/logger.hrl").

-export([receive_signal/1]).
-export([receive_signal/2]).
-export([signal/3]).
-export([set_query_handler/2]).
-export([set_update_handler/3]).

%% Internal: used by aion_flow_ffi, aion_workflow and aion.
-export([answer_query/4]).
-export([accept_update/6]).
-export([run_update/4]).
-export([refuse_pending/0]).
-export([forget_handlers/0]).

-define(QUERIES, aion_query_handlers).
-define(UPDATES, aion_update_handlers).

%% @doc See `aion_flow:receive_signal/1'.
-spec receive_signal(binary()) -> {ok, term()} | {error, aion_flow:flow_error()}.
receive_signal(Name) when is_binary(Name) ->
    case aion_flow_ffi:with_run(fun(Run) ->
             aion_flow_ffi:await_step(Run, fun(Tag) ->
                 aion_flow_ffi:nif_run_signal_step(Run, Name, aion_flow_ffi:now_ms(), Tag)
             end)
         end) of
        {ok, Json} -> aion_flow_ffi:json_decode(Json);
        {error, Reason} -> {error, aion_flow:wire_reason(Reason)}
    end;
receive_signal(Name) ->
    {error, {bad_option, {signal, Name}}}.

%% @doc See `aion_flow:receive_signal/2'.
-spec receive_signal(binary(), non_neg_integer()) -> {ok, term()} | {error, aion_flow:flow_error()}.
receive_signal(Name, TimeoutMs) ->
    case aion_flow:with_timeout(TimeoutMs, fun() -> receive_signal(Name) end) of
        {ok, Result} -> Result;
        {error, _} = Error -> Error
    end.

%% @doc See `aion_flow:signal/3'.
-spec signal(binary(), binary(), term()) -> ok | {error, not_found | not_running | aion_flow:flow_error()}.
signal(WorkflowId, Name, Payload) when is_binary(WorkflowId), is_binary(Name) ->
    case aion:encode_payload(Payload) of
        {ok, Json} ->
            Sent = aion_flow_ffi:with_run(fun(Run) ->
                aion_flow_ffi:record(Run, fun(Tag) ->
                    aion_flow_ffi:nif_run_send_signal(Run, WorkflowId, Name, Json, aion_flow_ffi:now_ms(), Tag)
                end)
            end),
            case Sent of
                {ok, {delivered, Result}} ->
                    delivery_result(Result);
                {ok, {deliver, Ordinal, SignalId}} ->
                    Result = case aion:deliver_signal(WorkflowId, Name, Json, SignalId) of
                        ok -> <<"ok">>;
                        {error, not_found} -> <<"not_found">>;
                        {error, not_running} -> <<"not_running">>;
                        {error, Other} -> exit({aion_signal_not_delivered, Other})
                    end,
                    Run = aion_flow_ffi:run(),
                    {ok, _} = aion_flow_ffi:record(Run, fun(Tag) ->
                        case aion_flow_ffi:nif_run_signal_delivered(Run, Ordinal, Result, aion_flow_ffi:now_ms(), Tag) of
                            {ok, State} -> {ok, {State, Result}};
                            Error -> Error
                        end
                    end),
                    delivery_result(Result);
                {error, Reason} ->
                    {error, aion_flow:wire_reason(Reason)}
            end;
        {error, _} = Error ->
            Error
    end;
signal(WorkflowId, Name, _Payload) ->
    {error, {bad_option, {signal, WorkflowId, Name}}}.

delivery_result(<<"ok">>) -> ok;
delivery_result(<<"not_found">>) -> {error, not_found};
delivery_result(<<"not_running">>) -> {error, not_running}.

%% @doc See `aion_flow:set_query_handler/2'.
-spec set_query_handler(binary(), fun((term()) -> term())) -> ok | {error, term()}.
set_query_handler(Name, Fun) when is_binary(Name), is_function(Fun, 1) ->
    in_workflow(fun() -> put(?QUERIES, (handlers(?QUERIES))#{Name => Fun}), ok end);
set_query_handler(Name, _Fun) ->
    {error, {bad_option, {query_handler, Name}}}.

%% @doc See `aion_flow:set_update_handler/3'.
-spec set_update_handler(binary(), fun((term()) -> ok | {error, term()}), fun((term()) -> term())) ->
    ok | {error, term()}.
set_update_handler(Name, Validator, Handler)
        when is_binary(Name), is_function(Validator, 1), is_function(Handler, 1) ->
    in_workflow(fun() -> put(?UPDATES, (handlers(?UPDATES))#{Name => {Validator, Handler}}), ok end);
set_update_handler(Name, _Validator, _Handler) ->
    {error, {bad_option, {update_handler, Name}}}.

in_workflow(Fun) ->
    case aion_flow_ffi:run() of
        undefined -> {error, not_in_workflow};
        _ -> Fun()
    end.

handlers(Key) ->
    case get(Key) of
        undefined -> #{};
        Map -> Map
    end.

%% @doc Answers a query from a process of its own, so that a slow or crashing handler
%% cannot hurt the workflow, and a handler cannot run workflow commands.
-spec answer_query(pid(), reference(), binary(), binary()) -> ok.
answer_query(From, Ref, Name, ArgsJson) ->
    case handlers(?QUERIES) of
        #{Name := Fun} ->
            Metadata = logger:get_process_metadata(),
            _ = spawn(fun() ->
                put(aion_query_context, true),
                Metadata =:= undefined orelse logger:set_process_metadata(Metadata),
                From ! {Ref, run_query(Fun, ArgsJson)}
            end),
            ok;
        _ ->
            From ! {Ref, {error, unknown_query}},
            ok
    end.

run_query(Fun, ArgsJson) ->
    {ok, Args} = aion_flow_ffi:json_decode(ArgsJson),
    try Fun(Args) of
        Result ->
            case aion:encode_payload(Result) of
                {ok, Json} -> aion_flow_ffi:json_decode(Json);
                {error, Reason} -> {error, {handler_failed, Reason}}
            end
    catch
        Class:Reason -> {error, {handler_failed, {Class, Reason}}}
    end.

%% @doc Validates an update and, if accepted, records it; the handler runs at the next
%% step of the await in progress (see `run_update/4'), which replies to `From'.
-spec accept_update(reference(), pid(), reference(), binary(), binary(), binary()) -> ok.
accept_update(Run, From, Ref, UpdateId, Name, ArgsJson) ->
    case handlers(?UPDATES) of
        #{Name := {Validator, _}} ->
            {ok, Args} = aion_flow_ffi:json_decode(ArgsJson),
            case validate(Validator, Args) of
                ok ->
                    Tag = aion_flow_ffi:tag(),
                    case aion_flow_ffi:nif_run_accept_update(Run, UpdateId, Name, ArgsJson, aion_flow_ffi:now_ms(), Tag) of
                        {ok, recording} ->
                            ok = aion_flow_ffi:wait_durable(Tag),
                            put({aion_update_caller, UpdateId}, {From, Ref}),
                            ok;
                        {error, Reason} ->
                            From ! {Ref, {error, Reason}},
                            ok
                    end;
                {error, Reason} ->
                    From ! {Ref, {error, {rejected, Reason}}},
                    ok
            end;
        _ ->
            From ! {Ref, {error, unknown_update}},
            ok
    end.

validate(Validator, Args) ->
    try Validator(Args) of
        ok -> ok;
        true -> ok;
        {error, Reason} -> {error, Reason};
        false -> {error, invalid};
        Other -> {error, {bad_validator_return, Other}}
    catch
        Class:Reason -> {error, {validator_crashed, {Class, Reason}}}
    end.

%% @doc Runs the handler of accepted update `UpdateId' in the workflow (live, or at the
%% same point on replay), records its result and answers the caller if it is waiting.
-spec run_update(reference(), binary(), binary(), binary()) -> ok.
run_update(Run, UpdateId, Name, ArgsJson) ->
    {ok, Args} = aion_flow_ffi:json_decode(ArgsJson),
    {Kind, Value} = case handlers(?UPDATES) of
        #{Name := {_, Handler}} ->
            try Handler(Args) of
                Result ->
                    case aion:encode_payload(Result) of
                        {ok, _} -> {ok, Result};
                        {error, Reason} -> {error, aion_flow_ffi:printed(Reason)}
                    end
            catch
                exit:{aion_durability, _} = Reason -> exit(Reason);
                Class:Reason -> {error, aion_flow_ffi:printed({Class, Reason})}
            end;
        _ ->
            {error, <<"no handler for update ", Name/binary>>}
    end,
    {ok, Json} = aion_flow_ffi:json_encode(Value),
    Tag = aion_flow_ffi:tag(),
    case aion_flow_ffi:nif_run_complete_update(Run, UpdateId, Kind, Json, aion_flow_ffi:now_ms(), Tag) of
        {ok, done} -> ok;
        {ok, recording} -> ok = aion_flow_ffi:wait_durable(Tag);
        {error, Failure} -> exit({aion_update_failed, Failure})
    end,
    case erase({aion_update_caller, UpdateId}) of
        {From, Ref} ->
            {ok, Decoded} = aion_flow_ffi:json_decode(Json),
            From ! {Ref, case Kind of ok -> {ok, Decoded}; error -> {error, {handler_failed, Decoded}} end};
        undefined ->
            ok
    end,
    ok.

%% @doc Forgets the query and update handlers the code set (before the run is replayed in
%% the same process: the replayed code sets them again).
-spec forget_handlers() -> ok.
forget_handlers() ->
    _ = erase(?QUERIES),
    _ = erase(?UPDATES),
    ok.

%% @doc After the run closed: answers queued queries and updates with
%% `not_running' so that no caller waits for a timeout.
-spec refuse_pending() -> ok.
refuse_pending() ->
    receive
        {aion_query, From, Ref, _, _} -> From ! {Ref, {error, not_running}}, refuse_pending();
        {aion_update, From, Ref, _, _, _} -> From ! {Ref, {error, not_running}}, refuse_pending()
    after 0 ->
        ok
    end.

