%% @doc Erlang glue for the Gleam SDK (`gleam/src/aion/*.gleam'). Each function adapts one
%% `@external' to the Erlang API and maps errors to the Gleam custom types (a Gleam
%% constructor `Foo(a, b)' is the tuple `{foo, A, B}', a constant one the atom `foo').
-module(aion_flow_gleam_ffi).

-export([identity/1, null/0, object/1, field/2, as_string/1, as_int/1, as_float/1,
         as_bool/1, as_list/1, to_text/1, from_text/1]).
-export([run_activity/3, heartbeat/1, last_heartbeat/0]).
-export([register_workflow/2, register_workflow_with/3, register_activity/2, start/2, start_with_id/3, await/2]).
-export([sleep/1, start_timer/2, await_timer/1, cancel_timer/1, with_timeout/2, side_effect/1]).
-export([start_with/3, cancel/1, terminate/2]).
-export([receive_signal/1, receive_signal_within/2, client_signal/3, workflow_signal/3]).
-export([set_query_handler/2, query/4, set_update_handler/3, update/4]).
-export([start_child/3, await_child/1]).
-export([fan_all/1, fan_race/1, fan_settled/1, fan_map/3]).
-export([testing_new/0, testing_stop/1, testing_register_workflow/3, testing_mock/3, testing_start/3, testing_advance/2,
         testing_signal/4, testing_cancel/2, testing_result/2, testing_calls/2,
         testing_assert_replay/2]).

%% @doc Values that are already JSON terms.
-spec identity(T) -> T.
identity(X) -> X.

%% @doc JSON `null'.
-spec null() -> null.
null() -> null.

%% @doc An object from a list of `{Name, Value}'.
-spec object([{binary(), term()}]) -> map().
object(Fields) -> maps:from_list(Fields).

%% @doc Field `Name' of an object.
-spec field(term(), binary()) -> {ok, term()} | {error, tuple()}.
field(Map, Name) when is_map(Map) ->
    case maps:find(Name, Map) of
        {ok, V} -> {ok, V};
        error -> {error, {decode_error, <<"field ", Name/binary>>, <<"nothing">>, []}}
    end;
field(Other, _Name) ->
    decode_error(<<"object">>, Other).

%% @doc Typed reads.
-spec as_string(term()) -> {ok, binary()} | {error, tuple()}.
as_string(V) when is_binary(V) -> {ok, V};
as_string(V) -> decode_error(<<"string">>, V).
-spec as_int(term()) -> {ok, integer()} | {error, tuple()}.
as_int(V) when is_integer(V) -> {ok, V};
as_int(V) -> decode_error(<<"int">>, V).
-spec as_float(term()) -> {ok, float()} | {error, tuple()}.
as_float(V) when is_number(V) -> {ok, float(V)};
as_float(V) -> decode_error(<<"float">>, V).
-spec as_bool(term()) -> {ok, boolean()} | {error, tuple()}.
as_bool(V) when is_boolean(V) -> {ok, V};
as_bool(V) -> decode_error(<<"bool">>, V).
-spec as_list(term()) -> {ok, list()} | {error, tuple()}.
as_list(V) when is_list(V) -> {ok, V};
as_list(V) -> decode_error(<<"list">>, V).

decode_error(Expected, Found) ->
    {error, {decode_error, Expected, kind(Found), []}}.

kind(V) when is_binary(V) -> <<"string">>;
kind(V) when is_integer(V) -> <<"int">>;
kind(V) when is_float(V) -> <<"float">>;
kind(V) when is_boolean(V) -> <<"bool">>;
kind(null) -> <<"null">>;
kind(V) when is_list(V) -> <<"list">>;
kind(V) when is_map(V) -> <<"object">>;
kind(_) -> <<"unknown">>.

%% @doc JSON text of a value.
-spec to_text(term()) -> binary().
to_text(V) ->
    case aion_flow_ffi:json_encode(V) of
        {ok, Json} -> Json;
        {error, Msg} -> erlang:error({not_json, Msg})
    end.

%% @doc Parses JSON text.
-spec from_text(binary()) -> {ok, term()} | {error, tuple()}.
from_text(Text) ->
    case aion_flow_ffi:json_decode(Text) of
        {ok, V} -> {ok, V};
        {error, Msg} -> {error, {decode_error, <<"JSON text">>, Msg, []}}
    end.

%% @doc `aion/activity.run_with'.
-spec run_activity(binary(), term(), tuple()) -> {ok, term()} | {error, term()}.
run_activity(Name, Input, {options, {retry_policy, Max, Init, Coeff, MaxI, NonRetry}, Timeout,
                           Deadline, Heartbeat, Queue}) ->
    Opts0 = #{retry => #{max_attempts => Max, initial_interval_ms => Init,
                         backoff_coefficient => Coeff, max_interval_ms => MaxI,
                         non_retryable => NonRetry},
              task_queue => Queue},
    %% 0 means none for the deadlines and the heartbeat timeout.
    Opts = maps:merge(Opts0, maps:from_list([{K, V} || {K, V} <- [{start_to_close_ms, Timeout},
                                                                {schedule_to_close_ms, Deadline},
                                                                {heartbeat_timeout_ms, Heartbeat}],
                                                       V =/= 0])),
    case aion_flow:activity(Name, Input, Opts) of
        {ok, V} -> {ok, V};
        {error, Reason} -> {error, flow_error(Reason)}
    end.

%% @doc `aion/activity.heartbeat'.
-spec heartbeat(term()) -> {ok, nil} | {error, cancelled | not_in_activity | {bad_details, binary()}}.
heartbeat(Details) ->
    case aion_activity:heartbeat(Details) of
        ok -> {ok, nil};
        {error, {bad_details, Why}} -> {error, {bad_details, aion_flow_ffi:reason_text(Why)}};
        {error, Reason} -> {error, Reason}
    end.

%% @doc `aion/activity.last_heartbeat'.
-spec last_heartbeat() -> {ok, term()} | {error, nil}.
last_heartbeat() ->
    case aion_activity:last_heartbeat() of
        {ok, Details} -> {ok, Details};
        none -> {error, nil}
    end.

flow_error({activity_failed, #{activity := A, type := T, message := M, attempts := N}}) ->
    {activity_failed, A, T, M, N};
flow_error({activity_timeout, #{activity := A, type := T, message := M, attempts := N}}) ->
    {activity_timeout, A, T, M, N};
flow_error({invalid_input, Msg}) -> {invalid_input, Msg};
flow_error({payload_too_large, Size, Limit}) ->
    {invalid_input, iolist_to_binary(io_lib:format("payload of ~p bytes is over the ~p byte limit", [Size, Limit]))};
flow_error({bad_option, What}) -> {bad_option, aion_flow_ffi:printed(What)};
flow_error({non_determinism, _} = Reason) -> {non_determinism, aion_flow_ffi:reason_text(Reason)};
flow_error(not_in_workflow) -> not_in_workflow;
flow_error({child_failed, #{status := S, value := V}}) -> {child_failed, S, V};
flow_error(cancelled) -> cancelled;
flow_error(timeout) -> timeout;
flow_error(Other) -> {engine_error, aion_flow_ffi:printed(Other)}.

%% @doc `aion/workflow.register'.
-spec register_workflow(binary(), fun()) -> {ok, nil} | {error, term()}.
register_workflow(Name, Fun) ->
    register_fun(fun aion:register_workflow/2, Name, Fun).

%% @doc `aion/workflow.register_with': `OnCrash' is `block_on_crash' or `fail_on_crash'.
-spec register_workflow_with(binary(), fun(), block_on_crash | fail_on_crash) -> {ok, nil} | {error, term()}.
register_workflow_with(Name, Fun, OnCrash) ->
    Opts = #{on_crash => case OnCrash of fail_on_crash -> fail; block_on_crash -> block end},
    register_fun(fun(N, MF) -> aion:register_workflow(N, MF, Opts) end, Name, Fun).

%% @doc `aion/workflow.register_activity'.
-spec register_activity(binary(), fun()) -> {ok, nil} | {error, term()}.
register_activity(Name, Fun) ->
    register_fun(fun aion:register_activity/2, Name, Fun).

register_fun(Register, Name, Fun) ->
    case module_function(Fun) of
        {ok, MF} -> client_result(Register(Name, MF), nil);
        error -> {error, not_a_module_function}
    end.

%% `{Module, Function}' of a reference to an exported one-argument function (a Gleam
%% `module.function' or a same-module `function'); `error' for a closure, which could
%% not be found again after a restart.
module_function(Fun) when is_function(Fun, 1) ->
    {module, M} = erlang:fun_info(Fun, module),
    {name, F} = erlang:fun_info(Fun, name),
    _ = code:ensure_loaded(M),
    case erlang:function_exported(M, F, 1) of
        true -> {ok, {M, F}};
        false -> error
    end;
module_function(_) ->
    error.

%% @doc `aion/workflow.start'.
-spec start(binary(), term()) -> {ok, binary()} | {error, term()}.
start(Type, Input) ->
    client_result(aion:start_workflow(Type, Input, #{})).

%% @doc `aion/workflow.start_with_id'.
-spec start_with_id(binary(), term(), binary()) -> {ok, binary()} | {error, term()}.
start_with_id(Type, Input, Id) ->
    client_result(aion:start_workflow(Type, Input, #{workflow_id => Id})).

%% @doc `aion/workflow.await'.
-spec await(binary(), integer()) -> {ok, term()} | {error, term()}.
await(Id, Timeout) ->
    client_result(aion:await(Id, Timeout)).

client_result(ok, Value) -> {ok, Value};
client_result(Other, _) -> client_result(Other).

client_result({ok, V}) -> {ok, V};
client_result({error, {unknown_workflow_type, T}}) -> {error, {unknown_workflow_type, T}};
client_result({error, {already_started, Id}}) -> {error, {already_started, Id}};
client_result({error, {failed, E}}) -> {error, {failed, E}};
client_result({error, {cancelled, D}}) -> {error, {cancelled, D}};
client_result({error, {terminated, R}}) -> {error, {terminated, R}};
client_result({error, timed_out}) -> {error, timed_out};
client_result({error, not_running}) -> {error, not_running};
client_result({error, timeout}) -> {error, timeout};
client_result({error, not_found}) -> {error, not_found};
client_result({error, Other}) -> {error, {client_failure, aion_flow_ffi:printed(Other)}}.


%% @doc `aion/timer.sleep'.
-spec sleep(integer()) -> {ok, nil} | {error, term()}.
sleep(Ms) -> nil_result(aion_flow:sleep(Ms)).

%% @doc `aion/timer.start'.
-spec start_timer(binary(), integer()) -> {ok, term()} | {error, term()}.
start_timer(Name, Ms) ->
    case aion_flow:start_timer(Name, Ms) of
        {error, Reason} -> {error, flow_error(Reason)};
        Ref -> {ok, Ref}
    end.

%% @doc `aion/timer.wait'.
-spec await_timer(term()) -> {ok, nil} | {error, term()}.
await_timer(Ref) -> nil_result(aion_flow:await_timer(Ref)).

%% @doc `aion/timer.cancel'.
-spec cancel_timer(term()) -> {ok, nil} | {error, term()}.
cancel_timer(Ref) -> nil_result(aion_flow:cancel_timer(Ref)).

nil_result(ok) -> {ok, nil};
nil_result({error, Reason}) -> {error, flow_error(Reason)}.

%% @doc `aion/workflow.with_timeout'.
-spec with_timeout(integer(), fun(() -> T)) -> {ok, T} | {error, term()}.
with_timeout(Ms, Fun) ->
    case aion_flow:with_timeout(Ms, Fun) of
        {ok, V} -> {ok, V};
        {error, Reason} -> {error, flow_error(Reason)}
    end.

%% @doc `aion/workflow.side_effect'.
-spec side_effect(fun(() -> term())) -> {ok, term()} | {error, term()}.
side_effect(Fun) ->
    case aion_flow:side_effect(Fun) of
        {ok, V} -> {ok, V};
        {error, Reason} -> {error, flow_error(Reason)}
    end.

%% @doc `aion/workflow.start_with'.
-spec start_with(binary(), term(), tuple()) -> {ok, binary()} | {error, term()}.
start_with(Type, Input, {start_options, Id, Timeout}) ->
    Opts = maps:from_list([{workflow_id, Id} || Id =/= <<>>] ++
                          [{execution_timeout_ms, Timeout} || Timeout =/= 0]),
    client_result(aion:start_workflow(Type, Input, Opts)).

%% @doc `aion/workflow.cancel'.
-spec cancel(binary()) -> {ok, nil} | {error, term()}.
cancel(Id) -> client_result(aion:cancel(Id), nil).

%% @doc `aion/workflow.terminate'.
-spec terminate(binary(), binary()) -> {ok, nil} | {error, term()}.
terminate(Id, Reason) -> client_result(aion:terminate(Id, Reason), nil).

%% @doc `aion/signal.receive'.
-spec receive_signal(binary()) -> {ok, term()} | {error, term()}.
receive_signal(Name) -> flow_result(aion_flow:receive_signal(Name)).

%% @doc `aion/signal.receive_within'.
-spec receive_signal_within(binary(), integer()) -> {ok, term()} | {error, term()}.
receive_signal_within(Name, Ms) -> flow_result(aion_flow:receive_signal(Name, Ms)).

%% @doc `aion/signal.send'.
-spec client_signal(binary(), binary(), term()) -> {ok, nil} | {error, term()}.
client_signal(Id, Name, Payload) -> client_result(aion:signal(Id, Name, Payload), nil).

%% @doc `aion/signal.send_from_workflow'.
-spec workflow_signal(binary(), binary(), term()) -> {ok, nil} | {error, term()}.
workflow_signal(Id, Name, Payload) ->
    case aion_flow:signal(Id, Name, Payload) of
        ok -> {ok, nil};
        {error, not_found} -> {error, target_not_found};
        {error, not_running} -> {error, target_not_running};
        {error, Reason} -> {error, {delivery_failed, flow_error(Reason)}}
    end.

%% @doc `aion/query.set_handler'.
-spec set_query_handler(binary(), fun((term()) -> term())) -> {ok, nil} | {error, term()}.
set_query_handler(Name, Fun) -> nil_result(aion_flow:set_query_handler(Name, Fun)).

%% @doc `aion/query.set_update_handler': the Gleam validator answers `Ok(Nil)' or
%% `Error(Reason)'.
-spec set_update_handler(binary(), fun((term()) -> {ok, nil} | {error, term()}), fun((term()) -> term())) ->
    {ok, nil} | {error, term()}.
set_update_handler(Name, Validate, Handler) ->
    Validator = fun(Args) ->
        case Validate(Args) of
            {ok, nil} -> ok;
            {error, Reason} -> {error, Reason}
        end
    end,
    nil_result(aion_flow:set_update_handler(Name, Validator, Handler)).

%% @doc `aion/query.ask'.
-spec query(binary(), binary(), term(), integer()) -> {ok, term()} | {error, term()}.
query(Id, Name, Args, Timeout) -> request_result(aion:query(Id, Name, Args, Timeout)).

%% @doc `aion/query.update'.
-spec update(binary(), binary(), term(), integer()) -> {ok, term()} | {error, term()}.
update(Id, Name, Args, Timeout) -> request_result(aion:update(Id, Name, Args, Timeout)).

request_result({ok, V}) -> {ok, V};
request_result({error, unknown_query}) -> {error, unknown_handler};
request_result({error, unknown_update}) -> {error, unknown_handler};
request_result({error, {rejected, R}}) -> {error, {rejected, R}};
request_result({error, {handler_failed, R}}) -> {error, {handler_failed, aion_flow_ffi:printed(R)}};
request_result({error, not_running}) -> {error, not_running};
request_result({error, not_found}) -> {error, not_found};
request_result({error, timeout}) -> {error, timeout};
request_result({error, Other}) -> {error, {request_failed, aion_flow_ffi:printed(Other)}}.

%% @doc `aion/child.start_with'.
-spec start_child(binary(), term(), tuple()) -> {ok, term()} | {error, term()}.
start_child(Type, Input, {child_options, Id, Policy}) ->
    Opts = maps:from_list([{workflow_id, Id} || Id =/= <<>>] ++ [{parent_close_policy, Policy}]),
    flow_result(aion_flow:start_child(Type, Input, Opts)).

%% @doc `aion/child.wait'.
-spec await_child(term()) -> {ok, term()} | {error, term()}.
await_child(Ref) -> flow_result(aion_flow:await_child(Ref)).

%% @doc `aion/fanout.all'.
-spec fan_all([tuple()]) -> {ok, [term()]} | {error, term()}.
fan_all(Calls) -> flow_result(aion_flow:all([call(C) || C <- Calls])).

%% @doc `aion/fanout.race'.
-spec fan_race([tuple()]) -> {ok, term()} | {error, term()}.
fan_race(Calls) -> flow_result(aion_flow:race([call(C) || C <- Calls])).

%% @doc `aion/fanout.settled'.
-spec fan_settled([tuple()]) -> [{ok, term()} | {error, term()}].
fan_settled(Calls) ->
    case aion_flow:settled([call(C) || C <- Calls]) of
        {ok, Results} -> [flow_result(R) || R <- Results];
        {error, Reason} -> [{error, flow_error(Reason)} || _ <- Calls]
    end.

%% @doc `aion/fanout.map'.
-spec fan_map(list(), fun((term()) -> tuple()), integer()) -> {ok, [term()]} | {error, term()}.
fan_map(Items, ToCall, Concurrency) ->
    flow_result(aion_flow:map(fun(I) -> call(ToCall(I)) end, Items, #{concurrency => Concurrency})).

call({activity, Name, Input}) -> {activity, Name, Input, #{}};
call({child, Type, Input}) -> {child, Type, Input, #{}}.

flow_result({ok, V}) -> {ok, V};
flow_result({error, Reason}) -> {error, flow_error(Reason)}.

%% @doc `aion/testing.new'.
-spec testing_new() -> aion_test:env().
testing_new() -> aion_test:new().

%% @doc `aion/testing.stop'.
-spec testing_stop(aion_test:env()) -> nil.
testing_stop(Env) -> ok = aion_test:stop(Env), nil.

%% @doc `aion/testing.mock_activity'.
-spec testing_mock(aion_test:env(), binary(), tuple()) -> nil.
testing_mock(Env, Name, {returns, Result}) -> ok = aion_test:mock_activity(Env, Name, {result, Result}), nil;
testing_mock(Env, Name, {sequence, Results}) -> ok = aion_test:mock_activity(Env, Name, {sequence, Results}), nil;
testing_mock(Env, Name, {calls, Fun}) -> ok = aion_test:mock_activity(Env, Name, Fun), nil.

%% @doc `aion/testing.start'.
-spec testing_start(aion_test:env(), fun(), term()) -> {ok, binary()} | {error, binary()}.
testing_start(Env, Fun, Input) ->
    case module_function(Fun) of
        {ok, MF} ->
            case aion_test:start(Env, MF, Input) of
                {ok, Id} -> {ok, Id};
                {error, Reason} -> {error, aion_flow_ffi:printed(Reason)}
            end;
        error ->
            {error, <<"the workflow must be a public top-level function">>}
    end.

%% @doc `aion/testing.register_workflow'.
-spec testing_register_workflow(aion_test:env(), binary(), fun()) -> nil.
testing_register_workflow(_Env, Name, Fun) ->
    {ok, nil} = register_workflow(Name, Fun),
    nil.

%% @doc `aion/testing.advance'.
-spec testing_advance(aion_test:env(), integer()) -> nil.
testing_advance(Env, Ms) -> ok = aion_test:advance(Env, Ms), nil.

%% @doc `aion/testing.signal'.
-spec testing_signal(aion_test:env(), binary(), binary(), term()) -> {ok, nil} | {error, binary()}.
testing_signal(Env, Id, Name, Payload) -> printed_result(aion_test:signal(Env, Id, Name, Payload)).

%% @doc `aion/testing.cancel'.
-spec testing_cancel(aion_test:env(), binary()) -> {ok, nil} | {error, binary()}.
testing_cancel(Env, Id) -> printed_result(aion_test:cancel(Env, Id)).

printed_result(ok) -> {ok, nil};
printed_result({error, Reason}) -> {error, aion_flow_ffi:printed(Reason)}.

%% @doc `aion/testing.result'.
-spec testing_result(aion_test:env(), binary()) -> term().
testing_result(Env, Id) ->
    case aion_test:result(Env, Id) of
        {ok, V} -> {completed, V};
        {error, {failed, E}} -> {failed, E};
        {error, {cancelled, D}} -> {cancelled, D};
        running -> still_running;
        Other -> {other_outcome, aion_flow_ffi:printed(Other)}
    end.

%% @doc `aion/testing.calls'.
-spec testing_calls(aion_test:env(), binary()) -> [tuple()].
testing_calls(Env, Id) ->
    [case Call of
         {activity, N, I} -> {activity_call, N, I};
         {timer, N, Ms} -> {timer_call, N, Ms};
         Other -> {other_call, aion_flow_ffi:printed(Other)}
     end || Call <- aion_test:calls(Env, Id)].

%% @doc `aion/testing.assert_replay'.
-spec testing_assert_replay(aion_test:env(), binary()) -> {ok, nil} | {error, binary()}.
testing_assert_replay(Env, Id) -> printed_result(aion_test:assert_replay(Env, Id)).
