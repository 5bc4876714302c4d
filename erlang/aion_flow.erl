%% @doc The workflow-side API: what workflow code calls. Every call here is recorded in
%% the run's history the first time and answered from it on replay, so it must only be
%% called from a workflow process (the one `aion' started for the run); anywhere else it
%% returns `{error, not_in_workflow}'.
-module(aion_flow).

-export([activity/2]).
-export([activity/3]).
-export([sleep/1]).
-export([start_timer/2]).
-export([await_timer/1]).
-export([cancel_timer/1]).
-export([with_timeout/2]).
-export([now/0]).
-export([random/0]).
-export([uuid/0]).
-export([workflow_id/0]).
-export([side_effect/1]).
-export([patched/1]).
-export([continue_as_new/1]).
-export([cancel_requested/0]).
-export([receive_signal/1]).
-export([receive_signal/2]).
-export([signal/3]).
-export([set_query_handler/2]).
-export([set_update_handler/3]).
-export([start_child/3]).
-export([await_child/1]).
-export([child/3]).
-export([all/1]).
-export([race/1]).
-export([settled/1]).
-export([map/3]).

%% Internal: used by the other modules of the app.
-export([wire_reason/1]).
-export([decode_result/1]).

-type activity_error() ::
    {activity_failed, #{activity := binary(), type := binary(), message := binary(),
                        attempts := pos_integer()}}
    | {activity_timeout, #{activity := binary(), type := binary(), message := binary(),
                           attempts := pos_integer()}}
    | {invalid_input, binary()}
    | {payload_too_large, non_neg_integer(), non_neg_integer()}
    | {bad_option, term()}
    | {non_determinism, #{seq := pos_integer(), recorded := binary(), requested := binary()}}
    | cancelled
    | timeout
    | not_in_workflow
    | {store | stale_head | corrupt | internal, binary()}.
-type flow_error() :: activity_error().
-opaque timer_ref() :: {aion_timer, pos_integer()}.
-type retry_opts() :: #{max_attempts => non_neg_integer(), initial_interval_ms => non_neg_integer(),
                        backoff_coefficient => number(), max_interval_ms => non_neg_integer(),
                        non_retryable => [atom() | binary()]}.
-type activity_opts() :: #{retry => retry_opts(), start_to_close_ms => pos_integer(),
                           schedule_to_close_ms => pos_integer(),
                           heartbeat_timeout_ms => pos_integer(), task_queue => binary()}.
-export_type([activity_error/0, flow_error/0, timer_ref/0, activity_opts/0, retry_opts/0]).

%% @doc Runs activity `Name' with `Input' and the default options. See `activity/3'.
-spec activity(binary(), term()) -> {ok, term()} | {error, activity_error()}.
activity(Name, Input) ->
    activity(Name, Input, #{}).

%% @doc Runs activity `Name' with `Input' and returns its result, retrying failed attempts
%% as `Opts' says; every attempt is in the history, and retries carry on after a restart.
%% `Opts': `retry => #{max_attempts (3; 0 = no limit), initial_interval_ms (100),
%% backoff_coefficient (2.0), max_interval_ms (10000), non_retryable => [ErrorType]}',
%% `start_to_close_ms' (per-attempt deadline, default none), `schedule_to_close_ms' (a
%% deadline over all attempts and retry delays together, from the call: no retry starts
%% past it, a running attempt is stopped at it, and the call ends with
%% `{activity_timeout, #{type := <<"schedule_to_close_timeout">>, ...}}'; default none),
%% `heartbeat_timeout_ms' (longest time an attempt may go without calling
%% `aion_activity:heartbeat/1', from its start and from each heartbeat; past it the attempt
%% is stopped and fails with the retryable type `heartbeat_timeout'; default none),
%% `task_queue' (default `<<"default">>').
%%
%% Errors: `cancelled' when the workflow was cancelled while the activity was pending
%% (or before the code saw a cancellation), `timeout' when an enclosing `with_timeout/2'
%% deadline passed first, `{activity_failed, Info}' when the activity failed for good (a terminal error, a
%% non-retryable type, or attempts used up) and `{activity_timeout, Info}' when the last
%% attempt ran out of time (type `timeout', `heartbeat_timeout' or
%% `schedule_to_close_timeout'), with `Info' = `#{activity, type, message, attempts}';
%% `{invalid_input, Why}', `{payload_too_large, Size, Limit}', `{bad_option, Opt}' for bad
%% arguments (nothing is recorded); `{non_determinism, Report}' when the code no longer
%% matches the run's history (the run is then blocked, see `aion:describe/1').
-spec activity(binary(), term(), activity_opts()) -> {ok, term()} | {error, activity_error()}.
activity(Name, Input, Opts) when is_binary(Name), is_map(Opts) ->
    case {aion_flow_config:activity_options(Opts), aion:encode_payload(Input)} of
        {{ok, Config}, {ok, InputJson}} ->
            case aion_flow_ffi:dispatch_activity(Name, InputJson, Config) of
                {ok, Corr} -> decode_result(aion_flow_ffi:await_activity_result(Corr));
                {error, Reason} -> {error, wire_reason(Reason)}
            end;
        {{error, _} = Error, _} -> Error;
        {_, {error, _} = Error} -> Error
    end;
activity(Name, _Input, Opts) when is_binary(Name) ->
    {error, {bad_option, Opts}};
activity(Name, _Input, _Opts) ->
    {error, {bad_option, {name, Name}}}.

%% @doc The result of an activity await as workflow code sees it.
-spec decode_result({ok, binary()} | {error, aion_flow_ffi:wire_error()}) -> {ok, term()} | {error, activity_error()}.
decode_result({ok, Json}) ->
    aion_flow_ffi:json_decode(Json);
decode_result({error, Reason}) ->
    {error, wire_reason(Reason)}.

%% @doc Maps an engine error (a tagged reason, see `aion_flow_ffi') to the reason workflow
%% code sees.
-spec wire_reason(aion_flow_ffi:wire_error()) -> activity_error().
wire_reason({failed, ErrorJson}) ->
    case aion_flow_ffi:json_decode(ErrorJson) of
        {ok, #{<<"activity">> := A, <<"type">> := T, <<"message">> := M, <<"attempts">> := N}} ->
            Tag = case T of
                <<"timeout">> -> activity_timeout;
                <<"schedule_to_close_timeout">> -> activity_timeout;
                <<"heartbeat_timeout">> -> activity_timeout;
                _ -> activity_failed
            end,
            {Tag, #{activity => A, type => T, message => M, attempts => N}};
        _ ->
            {internal, ErrorJson}
    end;
wire_reason(timeout) -> timeout;
wire_reason(cancelled) -> cancelled;
wire_reason({not_running, _}) -> not_in_workflow;
wire_reason({invalid_input, Detail}) -> {bad_option, Detail};
wire_reason(Reason) -> Reason.

%% @doc Sleeps `Ms' milliseconds on a durable timer: the wait survives restarts (a timer
%% that came due while the node was down fires right after boot) and costs no scheduler
%% time. `{error, cancelled}' when the workflow is cancelled meanwhile, `{error, timeout}'
%% when an enclosing `with_timeout/2' deadline passes first.
-spec sleep(non_neg_integer()) -> ok | {error, cancelled | timeout | flow_error()}.
sleep(Ms) ->
    case start_timer(<<"sleep">>, Ms) of
        {error, _} = Error -> Error;
        Ref -> await_timer(Ref)
    end.

%% @doc Starts durable timer `Name' (a binary naming it in the history) firing in `Ms'
%% milliseconds. Returns a reference for `await_timer/1' and `cancel_timer/1'.
-spec start_timer(binary(), non_neg_integer()) -> timer_ref() | {error, flow_error()}.
start_timer(Name, Ms) when is_binary(Name), is_integer(Ms), Ms >= 0 ->
    case aion_flow_ffi:start_timer(Name, Ms) of
        {ok, Id} -> {aion_timer, Id};
        {error, Reason} -> {error, wire_reason(Reason)}
    end;
start_timer(Name, Ms) ->
    {error, {bad_option, {timer, Name, Ms}}}.

%% @doc Waits for a timer: `ok' once it fired, `{error, cancelled}' if it (or the
%% workflow) was cancelled, `{error, timeout}' if an enclosing `with_timeout/2' deadline
%% passed first.
-spec await_timer(timer_ref()) -> ok | {error, cancelled | timeout | flow_error()}.
await_timer({aion_timer, Id}) ->
    case aion_flow_ffi:await_timer(Id) of
        {ok, _} -> ok;
        {error, Reason} -> {error, wire_reason(Reason)}
    end;
await_timer(Other) ->
    {error, {bad_option, {timer, Other}}}.

%% @doc Cancels a timer; idempotent (a fired or cancelled timer is left alone).
-spec cancel_timer(timer_ref()) -> ok | {error, flow_error()}.
cancel_timer({aion_timer, Id}) ->
    case aion_flow_ffi:cancel_timer(Id) of
        ok -> ok;
        {error, Reason} -> {error, wire_reason(Reason)}
    end;
cancel_timer(Other) ->
    {error, {bad_option, {timer, Other}}}.

%% @doc Runs `Fun()' under a durable deadline of `Ms' milliseconds. Awaits inside it that
%% are still pending at the deadline return `{error, timeout}'; `Fun' then returns as it
%% sees fit and `with_timeout' returns `{error, timeout}'. Otherwise `{ok, Fun()}'. The
%% outcome is recorded: on replay the same branch is taken even if an inner result
%% arrived after the deadline.
-spec with_timeout(non_neg_integer(), fun(() -> T)) -> {ok, T} | {error, timeout | flow_error()}.
with_timeout(Ms, Fun) when is_integer(Ms), Ms >= 0, is_function(Fun, 0) ->
    case run_call(fun(Run, Tag) -> aion_flow_ffi:nif_run_scope_enter(Run, Ms, aion_flow_ffi:now_ms(), Tag) end) of
        {ok, Scope} ->
            Value = Fun(),
            case run_call(fun(Run, Tag) -> aion_flow_ffi:nif_run_scope_exit(Run, Scope, aion_flow_ffi:now_ms(), Tag) end) of
                {ok, true} -> {error, timeout};
                {ok, false} -> {ok, Value};
                {error, _} = Error -> Error
            end;
        {error, _} = Error ->
            Error
    end;
with_timeout(Ms, _Fun) ->
    {error, {bad_option, {with_timeout, Ms}}}.

%% @doc Workflow time in Unix milliseconds: the time recorded for the current position in
%% the history (the start, or the latest result the code received), the same on every
%% replay. Use it instead of the host clock.
-spec now() -> integer().
now() ->
    value(aion_flow_ffi:with_run(fun aion_flow_ffi:nif_run_now/1)).

%% @doc A float in `[0, 1)' from a generator seeded by the run: the same sequence on
%% every replay.
-spec random() -> float().
random() ->
    value(aion_flow_ffi:with_run(fun aion_flow_ffi:nif_run_random/1)).

%% @doc A v4 UUID from the run's seeded generator: the same sequence on every replay.
-spec uuid() -> binary().
uuid() ->
    value(aion_flow_ffi:with_run(fun aion_flow_ffi:nif_run_uuid/1)).

%% @doc The id of the running workflow.
-spec workflow_id() -> binary().
workflow_id() ->
    case aion_run_ctx:workflow_id() of
        undefined -> erlang:error(not_in_workflow);
        Id -> Id
    end.

%% @doc Runs `Fun()' once, live, and records its (JSON-compatible) result; on replay the
%% recorded value is returned and `Fun' is not called. For reading the clock, generating
%% ids, or any other non-deterministic step that needs no retries.
%% `{error, {invalid_input, Why}}' when the result is not JSON-compatible (nothing is
%% recorded).
-spec side_effect(fun(() -> term())) -> {ok, term()} | {error, flow_error()}.
side_effect(Fun) when is_function(Fun, 0) ->
    case aion_flow_ffi:with_run(fun aion_flow_ffi:nif_run_side_effect/1) of
        {ok, {replayed, Json}} ->
            aion_flow_ffi:json_decode(Json);
        {ok, {live, Ordinal}} ->
            %% The side effect acts outside the run: what the run knows must be durable.
            ok = aion_flow_ffi:flush(aion_flow_ffi:run()),
            case aion:encode_payload(Fun()) of
                {ok, Json} ->
                    Run = aion_flow_ffi:run(),
                    Tag = aion_flow_ffi:tag(),
                    case aion_flow_ffi:nif_run_side_effect_record(Run, Ordinal, Json, aion_flow_ffi:now_ms(), Tag) of
                        {ok, recording} ->
                            ok = aion_flow_ffi:wait_durable(Tag),
                            aion_flow_ffi:json_decode(Json);
                        {error, Reason} ->
                            {error, wire_reason(Reason)}
                    end;
                {error, _} = Error ->
                    Error
            end;
        {error, Reason} ->
            {error, wire_reason(Reason)}
    end;
side_effect(Other) ->
    {error, {bad_option, {side_effect, Other}}}.

%% @doc The versioning primitive. `true' on new runs and once past the recorded history
%% (the answer is recorded), `false' when replaying history recorded before the change
%% `ChangeId' was deployed. Branch on it to keep old runs on the old code path:
%% `case aion_flow:patched(<<"add-fraud-check">>) of true -> new; false -> old end'.
-spec patched(binary()) -> boolean().
patched(ChangeId) when is_binary(ChangeId) ->
    case run_call(fun(Run, Tag) -> aion_flow_ffi:nif_run_patched(Run, ChangeId, aion_flow_ffi:now_ms(), Tag) end) of
        {ok, Answer} -> Answer;
        {error, Reason} -> erlang:error(Reason)
    end.

%% @doc Ends this run and starts a new run of the same workflow id with `Input' and a
%% fresh history (the old run's history stays readable with `aion:history/2'). Does not
%% return. `aion:describe/1' and `aion:await/2' follow the chain.
-spec continue_as_new(term()) -> no_return().
continue_as_new(Input) ->
    case aion:encode_payload(Input) of
        {ok, Json} -> exit({aion_continue_as_new, Json});
        {error, Reason} -> erlang:error(Reason)
    end.

%% @doc Whether a cancellation of this workflow has been requested.
-spec cancel_requested() -> boolean().
cancel_requested() ->
    value(aion_flow_ffi:with_run(fun aion_flow_ffi:nif_run_cancel_requested/1)).

%% A recording call `Call(Run, Tag)' answering `{ok, {done | recording, Value}}'.
run_call(Call) ->
    case aion_flow_ffi:with_run(fun(Run) -> aion_flow_ffi:record(Run, fun(Tag) -> Call(Run, Tag) end) end) of
        {ok, Value} -> {ok, Value};
        {error, Reason} -> {error, wire_reason(Reason)}
    end.

value({ok, Value}) -> Value;
value({error, Reason}) -> erlang:error(wire_reason(Reason)).

%% @doc Waits for the next signal named `Name' (signals of one name are consumed in
%% arrival order; one sent before the code asks waits in the history). `{error,
%% cancelled}' if the workflow is cancelled while waiting, `{error, timeout}' if an
%% enclosing `with_timeout/2' deadline passes first.
-spec receive_signal(binary()) -> {ok, term()} | {error, flow_error()}.
receive_signal(Name) ->
    aion_flow_messages:receive_signal(Name).

%% @doc As `receive_signal/1', giving up after `TimeoutMs' with `{error, timeout}' (a
%% durable deadline: replay takes the same branch).
-spec receive_signal(binary(), non_neg_integer()) -> {ok, term()} | {error, flow_error()}.
receive_signal(Name, TimeoutMs) ->
    aion_flow_messages:receive_signal(Name, TimeoutMs).

%% @doc Signals workflow `WorkflowId' from this workflow: recorded, delivered exactly once
%% (a redelivery after a crash is recognised by the target), and its result recorded, so
%% replay returns the same `ok | {error, not_found | not_running}'.
-spec signal(binary(), binary(), term()) -> ok | {error, not_found | not_running | flow_error()}.
signal(WorkflowId, Name, Payload) ->
    aion_flow_messages:signal(WorkflowId, Name, Payload).

%% @doc Sets (or replaces) the handler of query `Name': `Fun(Args)' returns a
%% JSON-compatible result and may close over the workflow's state. It runs in a process of
%% its own while the workflow waits; it must not run workflow commands (that fails the
%% query, not the workflow). Queries never write history.
-spec set_query_handler(binary(), fun((term()) -> term())) -> ok | {error, term()}.
set_query_handler(Name, Fun) ->
    aion_flow_messages:set_query_handler(Name, Fun).

%% @doc Sets (or replaces) the handler of update `Name'. `Validator(Args)' returns `ok'
%% (or `true') to accept, `{error, Reason}' (or `false') to reject; nothing is recorded
%% for a rejected update. An accepted update is recorded and `Handler(Args)' runs in the
%% workflow process at its next await (and at the same point on every replay; it may run
%% activities); its JSON-compatible result goes back to the caller and is recorded.
-spec set_update_handler(binary(), fun((term()) -> ok | {error, term()}), fun((term()) -> term())) ->
    ok | {error, term()}.
set_update_handler(Name, Validator, Handler) ->
    aion_flow_messages:set_update_handler(Name, Validator, Handler).

%% @doc Starts child workflow `Type' with `Input': a durable workflow of its own (visible
%% in `aion:list/1' with `parent_id'). `Opts': `workflow_id' (default
%% `<<"ParentId/RunId/child-N">>'), `parent_close_policy' (`terminate' (default),
%% `request_cancel' or `abandon': what happens to the child when this workflow closes or
%% is cancelled while the child runs).
-spec start_child(binary(), term(), map()) -> {ok, aion_flow_fanout:child_ref()} | {error, flow_error()}.
start_child(Type, Input, Opts) ->
    aion_flow_fanout:start_child(Type, Input, Opts).

%% @doc Waits for a child: `{ok, Result}' when it completed, `{error, {child_failed,
%% #{status, value}}}' when it closed otherwise (`status': `failed', `cancelled',
%% `terminated', `timed_out' or `start_failed'), `{error, cancelled | timeout}' as for
%% activities.
-spec await_child(aion_flow_fanout:child_ref()) -> {ok, term()} | {error, flow_error()}.
await_child(Ref) ->
    aion_flow_fanout:await_child(Ref).

%% @doc `start_child/3' then `await_child/1'.
-spec child(binary(), term(), map()) -> {ok, term()} | {error, flow_error()}.
child(Type, Input, Opts) ->
    case start_child(Type, Input, Opts) of
        {ok, Ref} -> await_child(Ref);
        {error, _} = Error -> Error
    end.

%% @doc Runs every call concurrently (`{activity, Name, Input, Opts}' or `{child, Type,
%% Input, Opts}') and returns `{ok, [Result]}' in call order, or the first error (in
%% history order) after cancelling the calls still running.
-spec all([aion_flow_fanout:call()]) -> {ok, [term()]} | {error, term()}.
all(Calls) ->
    aion_flow_fanout:all(Calls).

%% @doc Runs every call concurrently and returns the outcome (`{ok, R}' or `{error, E}')
%% of the first to settle, after cancelling the rest.
-spec race([aion_flow_fanout:call()]) -> {ok, term()} | {error, term()}.
race(Calls) ->
    aion_flow_fanout:race(Calls).

%% @doc Runs every call concurrently and returns every outcome, `{ok, R}' or `{error, E}',
%% in call order.
-spec settled([aion_flow_fanout:call()]) -> {ok, [{ok, term()} | {error, term()}]} | {error, term()}.
settled(Calls) ->
    aion_flow_fanout:settled(Calls).

%% @doc Maps `Fun(Item)' (which returns a call) over `Items' with at most
%% `concurrency' (default 10) calls in flight; returns `{ok, [Result]}' in item order or
%% the first error after cancelling the calls still running.
-spec map(fun((term()) -> aion_flow_fanout:call()), [term()], map()) -> {ok, [term()]} | {error, term()}.
map(Fun, Items, Opts) ->
    aion_flow_fanout:map(Fun, Items, Opts).
