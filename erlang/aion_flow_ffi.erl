%% @doc The contract between workflow code and the engine.
%%
%% The native functions (`nif_*') live in the Rust library `priv/aion_nif.so'; they take
%% binaries (JSON text for payloads and options) and answer `{ok, _}' or
%% `{error, <<"prefix: detail">>}' with a prefix of `retryable', `terminal', `timeout',
%% `cancelled', `non_determinism', `not_running', `durability', `invalid' or `internal'.
%% They never block a scheduler: when events must be written they hand the append to the
%% commit thread and return; the wrappers below then wait in `receive' for the
%% `{aion_durable, Tag, _}' wake before anything is revealed to workflow code.
%%
%% The wrappers in this module hold the wake loops: they run in the workflow process and
%% use the run resource kept in its process dictionary by `aion_workflow'.
-module(aion_flow_ffi).

-export([dispatch_activity/3]).
-export([await_activity_result/1]).
-export([json_encode/1]).
-export([json_decode/1]).

%% Internal: used by the other modules of the app.
-export([wait_durable/1]).
-export([tag/0]).
-export([now_ms/0]).
-export([split_error/1]).

%% Native functions.
-export([nif_json_encode/1, nif_json_decode/1]).
-export([nif_engine_open/2, nif_engine_close/1, nif_engine_create/7, nif_engine_describe/2,
         nif_engine_history/2, nif_engine_list/3]).
-export([nif_run_open/2, nif_run_dispatch_activity/6, nif_run_activity_step/4,
         nif_run_activity_result/6, nif_run_complete/5]).

-nifs([nif_json_encode/1, nif_json_decode/1,
       nif_engine_open/2, nif_engine_close/1, nif_engine_create/7, nif_engine_describe/2,
       nif_engine_history/2, nif_engine_list/3,
       nif_run_open/2, nif_run_dispatch_activity/6, nif_run_activity_step/4,
       nif_run_activity_result/6, nif_run_complete/5]).
-on_load(load_nif/0).

-type json() :: binary().
-type correlation_id() :: pos_integer().
-type wire_error() :: binary().
-export_type([json/0, correlation_id/0, wire_error/0]).

-define(RUN_KEY, aion_run).

%% @doc Schedules activity `Name' with JSON `InputJson' and options `ConfigJson'. In replay
%% the answer comes from history; live, `ActivityScheduled' is made durable first and then
%% the first attempt is handed to a worker. Returns the correlation id to await.
-spec dispatch_activity(binary(), json(), json()) -> {ok, correlation_id()} | {error, wire_error()}.
dispatch_activity(Name, InputJson, ConfigJson) ->
    with_run(fun(Run) ->
        Tag = tag(),
        case nif_run_dispatch_activity(Run, Name, InputJson, ConfigJson, now_ms(), Tag) of
            {ok, {replayed, Ordinal}} ->
                {ok, Ordinal};
            {ok, {live, Ordinal, Task}} ->
                ok = wait_durable(Tag),
                ok = run_attempt(Ordinal, Task),
                {ok, Ordinal};
            {error, _} = Error ->
                Error
        end
    end).

%% @doc Waits for the outcome of activity `CorrelationId': `{ok, ResultJson}' once it
%% completed, `{error, <<"Prefix: ErrorJson">>}' once it failed for good (the prefix is
%% `timeout' when the last attempt ran out of time, `terminal' otherwise). Retries are run here, as the
%% recorded policy says; the process waits in `receive', costing no scheduler time.
-spec await_activity_result(correlation_id()) -> {ok, json()} | {error, wire_error()}.
await_activity_result(CorrelationId) ->
    with_run(fun(Run) -> step_activity(Run, CorrelationId) end).

%% @doc Encodes a JSON-compatible term (maps with binary or atom keys, lists, binaries,
%% numbers, atoms) as JSON text.
-spec json_encode(term()) -> {ok, json()} | {error, wire_error()}.
json_encode(Term) ->
    nif_json_encode(Term).

%% @doc Decodes JSON text: objects become maps with binary keys, `null' the atom `null'.
-spec json_decode(json()) -> {ok, term()} | {error, wire_error()}.
json_decode(Json) ->
    nif_json_decode(Json).

%% Internal.

%% @doc Waits for the commit thread's answer for `Tag'. A refused or failed append means
%% the in-memory run state is ahead of the store: the process exits so that its supervisor
%% restarts it from the durable history.
-spec wait_durable(non_neg_integer()) -> ok.
wait_durable(Tag) ->
    receive
        {aion_durable, Tag, ok} -> ok;
        {aion_durable, Tag, {error, Msg}} -> exit({aion_durability, Msg})
    end.

%% @doc A fresh tag for one append.
-spec tag() -> pos_integer().
tag() ->
    erlang:unique_integer([positive]).

%% @doc Wall-clock milliseconds, the time stamped on new events.
-spec now_ms() -> integer().
now_ms() ->
    erlang:system_time(millisecond).

%% @doc Splits a wire error `<<"prefix: detail">>' into `{Prefix, Detail}'.
-spec split_error(wire_error()) -> {binary(), binary()}.
split_error(Msg) ->
    case binary:split(Msg, <<": ">>) of
        [Prefix, Detail] -> {Prefix, Detail};
        [Detail] -> {<<"internal">>, Detail}
    end.

with_run(Fun) ->
    case get(?RUN_KEY) of
        undefined -> {error, <<"not_running: not called from a workflow process">>};
        Run -> Fun(Run)
    end.

step_activity(Run, Ordinal) ->
    Tag = tag(),
    case nif_run_activity_step(Run, Ordinal, now_ms(), Tag) of
        {ok, {completed, ResultJson}} ->
            {ok, ResultJson};
        {ok, {failed, ErrorJson}} ->
            {error, failure_wire(ErrorJson)};
        {ok, wait} ->
            ok = wait_event(Run),
            step_activity(Run, Ordinal);
        {ok, {retry_in, Ms}} ->
            erlang:send_after(Ms, self(), {aion_retry_due, Ordinal}),
            ok = wait_event(Run),
            step_activity(Run, Ordinal);
        {ok, recording} ->
            ok = wait_durable(Tag),
            step_activity(Run, Ordinal);
        {ok, {start, Task}} ->
            ok = wait_durable(Tag),
            ok = run_attempt(Ordinal, Task),
            step_activity(Run, Ordinal);
        {error, _} = Error ->
            Error
    end.

failure_wire(ErrorJson) ->
    Prefix = case json_decode(ErrorJson) of
        {ok, #{<<"type">> := <<"timeout">>}} -> <<"timeout">>;
        _ -> <<"terminal">>
    end,
    <<Prefix/binary, ": ", ErrorJson/binary>>.

%% One wake: an attempt's result, or a retry coming due. Results for other activities of
%% this run are recorded too, whichever await they arrive in.
wait_event(Run) ->
    receive
        {aion_activity_result, Ordinal, Attempt, OutcomeJson} ->
            Tag = tag(),
            case nif_run_activity_result(Run, Ordinal, Attempt, OutcomeJson, now_ms(), Tag) of
                {ok, recording} -> wait_durable(Tag);
                {ok, stale} -> ok;
                {error, Msg} -> exit({aion_bad_result, Msg})
            end;
        {aion_retry_due, _Ordinal} ->
            ok
    end.

run_attempt(Ordinal, {Attempt, Name, InputJson, Timeout, TaskQueue}) ->
    aion_activity_pool:submit(TaskQueue, #{
        workflow => self(),
        workflow_id => get(aion_workflow_id),
        ordinal => Ordinal,
        attempt => Attempt,
        name => Name,
        input => InputJson,
        timeout => Timeout
    }).

load_nif() ->
    Dir = case code:priv_dir(aion) of
        {error, bad_name} ->
            filename:join(filename:dirname(filename:dirname(code:which(?MODULE))), "priv");
        PrivDir ->
            PrivDir
    end,
    erlang:load_nif(filename:join(Dir, "aion_nif"), 0).

%% Native stubs: replaced when the library loads.

%% @private
-spec nif_json_encode(term()) -> {ok, json()} | {error, wire_error()}.
nif_json_encode(_Term) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_json_decode(json()) -> {ok, term()} | {error, wire_error()}.
nif_json_decode(_Json) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_engine_open(binary(), binary()) -> {ok, reference()} | {error, wire_error()}.
nif_engine_open(_Kind, _Dir) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_engine_close(reference()) -> {ok, closed} | {error, wire_error()}.
nif_engine_close(_Engine) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_engine_create(reference(), binary(), binary(), json(), binary(), integer(), pos_integer()) ->
    {ok, pos_integer()} | {error, wire_error()}.
nif_engine_create(_Engine, _Id, _Type, _Input, _RunId, _Now, _Tag) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_engine_describe(reference(), binary()) -> {ok, map()} | {error, wire_error()}.
nif_engine_describe(_Engine, _Id) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_engine_history(reference(), binary()) -> {ok, [map()]} | {error, wire_error()}.
nif_engine_history(_Engine, _Id) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_engine_list(reference(), binary() | null, binary() | null) -> {ok, [map()]} | {error, wire_error()}.
nif_engine_list(_Engine, _Status, _Type) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_run_open(reference(), binary()) -> {ok, {reference(), binary(), json()}} | {error, wire_error()}.
nif_run_open(_Engine, _Id) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_run_dispatch_activity(reference(), binary(), json(), json(), integer(), pos_integer()) ->
    {ok, term()} | {error, wire_error()}.
nif_run_dispatch_activity(_Run, _Name, _Input, _Config, _Now, _Tag) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_run_activity_step(reference(), correlation_id(), integer(), pos_integer()) ->
    {ok, term()} | {error, wire_error()}.
nif_run_activity_step(_Run, _Ordinal, _Now, _Tag) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_run_activity_result(reference(), correlation_id(), pos_integer(), json(), integer(), pos_integer()) ->
    {ok, recording | stale} | {error, wire_error()}.
nif_run_activity_result(_Run, _Ordinal, _Attempt, _Outcome, _Now, _Tag) -> erlang:nif_error(nif_not_loaded).
%% @private
-spec nif_run_complete(reference(), ok | error, json(), integer(), pos_integer()) ->
    {ok, replayed | recording} | {error, wire_error()}.
nif_run_complete(_Run, _Kind, _Json, _Now, _Tag) -> erlang:nif_error(nif_not_loaded).
