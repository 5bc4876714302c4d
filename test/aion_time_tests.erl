%% Timers, with_timeout, execution timeouts, cancellation, termination, determinism
%% helpers, versioning and continue-as-new, through the public API.
-module(aion_time_tests).

-include_lib("eunit/include/eunit.hrl").

-define(T(F), {atom_to_list(F), fun F/0}).

time_test_() ->
    {setup,
     fun() ->
         ok = application:set_env(aion, cancel_grace_ms, 200),
         Dir = aion_test_support:start(),
         ok = aion_time_flows:register_all(),
         Dir
     end,
     fun(Dir) -> application:unset_env(aion, cancel_grace_ms), aion_test_support:stop(Dir) end,
     [?T(sleep_is_a_durable_timer_with_recorded_time),
      ?T(named_timers_fire_cancel_idempotently_and_report_cancelled),
      ?T(with_timeout_returns_timeout_when_the_deadline_passes_first),
      ?T(with_timeout_returns_the_value_when_the_block_finishes_in_time),
      ?T(execution_timeout_ends_the_run_as_timed_out),
      ?T(cancel_stops_pending_work_runs_compensation_and_closes_cancelled),
      ?T(cancel_of_a_sleeping_workflow_cancels_its_timer),
      ?T(cancel_and_terminate_report_unknown_and_closed_runs),
      ?T(terminate_ends_at_once_without_compensation),
      ?T(determinism_helpers_return_the_same_values_on_replay),
      ?T(patched_keeps_old_runs_on_the_old_path_and_new_runs_on_the_new),
      ?T(continue_as_new_loops_1000_times_and_keeps_old_histories),
      ?T(bad_arguments_to_time_primitives_are_errors)]}.

key() -> integer_to_binary(erlang:unique_integer([positive])).

start(Type, Input) ->
    start(Type, Input, #{}).
start(Type, Input, Opts) ->
    {ok, Id} = aion:start_workflow(Type, Input, Opts),
    Id.

types(Id) ->
    {ok, H} = aion:history(Id),
    [T || #{type := T} <- H].

events(Id, Type) ->
    {ok, H} = aion:history(Id),
    [E || E = #{type := T} <- H, T =:= Type].

wait_waiting(K) ->
    aion_test_support:wait_until(fun() -> ets:lookup(aion_test_calls, {waiting, K}) =/= [] end, 10000),
    [{_, Pid}] = ets:lookup(aion_test_calls, {waiting, K}),
    Pid.

replay(Id) ->
    [{_, Pid}] = ets:lookup(aion_runs, Id),
    exit(Pid, kill),
    aion_test_support:wait_until(fun() ->
        case ets:lookup(aion_runs, Id) of
            [{_, P}] -> P =/= Pid andalso is_process_alive(P);
            [] -> false
        end
    end, 5000).

sleep_is_a_durable_timer_with_recorded_time() ->
    Id = start(<<"sleeper">>, #{<<"ms">> => 50}),
    {ok, #{<<"slept_from">> := From, <<"woke_at">> := Woke}} = aion:await(Id, 5000),
    [#{fire_at := FireAt, name := <<"sleep">>}] = events(Id, <<"TimerStarted">>),
    [#{recorded_at := FiredAt}] = events(Id, <<"TimerFired">>),
    ?assert(FireAt - From >= 50),
    ?assert(FiredAt >= FireAt),
    ?assertEqual(FiredAt, Woke).

named_timers_fire_cancel_idempotently_and_report_cancelled() ->
    Id = start(<<"named_timers">>, #{}),
    ?assertEqual({ok, <<"done">>}, aion:await(Id, 5000)),
    ?assertMatch([#{timer_id := 2, cause := <<"workflow">>}], events(Id, <<"TimerCancelled">>)),
    ?assertMatch([#{timer_id := 1}], events(Id, <<"TimerFired">>)).

with_timeout_returns_timeout_when_the_deadline_passes_first() ->
    K = key(),
    Id = start(<<"timeout_block">>, #{<<"ms">> => 50, <<"key">> => K, <<"activity_ms">> => 2000}),
    ?assertEqual({ok, <<"timed_out">>}, aion:await(Id, 5000)),
    ?assertMatch([#{name := <<"with_timeout">>, scope := true}], events(Id, <<"TimerStarted">>)),
    ?assertMatch([_], events(Id, <<"TimerFired">>)).

with_timeout_returns_the_value_when_the_block_finishes_in_time() ->
    K = key(),
    Id = start(<<"timeout_block">>, #{<<"ms">> => 5000, <<"key">> => K, <<"activity_ms">> => 1}),
    ?assertEqual({ok, #{<<"inner">> => <<"done">>}}, aion:await(Id, 5000)),
    ?assertEqual([], events(Id, <<"TimerFired">>)),
    ?assertMatch([#{cause := <<"workflow">>}], events(Id, <<"TimerCancelled">>)).

execution_timeout_ends_the_run_as_timed_out() ->
    Id = start(<<"sleep_then_fail">>, #{<<"ms">> => 60000}, #{execution_timeout_ms => 100}),
    ?assertEqual({error, timed_out}, aion:await(Id, 5000)),
    ?assertMatch({ok, #{status := timed_out, deadline := _}}, aion:describe(Id)),
    ?assertEqual(<<"WorkflowTimedOut">>, lists:last(types(Id))),
    ?assertEqual({error, {bad_option, {execution_timeout_ms, 0}}},
                 aion:start_workflow(<<"sleeper">>, #{}, #{execution_timeout_ms => 0})).

cancel_stops_pending_work_runs_compensation_and_closes_cancelled() ->
    K = key(),
    Id = start(<<"cancellable">>, #{<<"key">> => K}),
    Worker = wait_waiting(K),
    ?assertEqual(ok, aion:cancel(Id, #{<<"why">> => <<"customer">>})),
    ?assertEqual({error, {cancelled, #{<<"ok">> => <<"compensated">>}}}, aion:await(Id, 5000)),
    ?assertMatch({ok, #{status := cancelled}}, aion:describe(Id)),
    %% The blocked attempt was told to stop and killed after the grace period.
    aion_test_support:wait_until(fun() -> not is_process_alive(Worker) end, 5000),
    ?assertMatch([#{reason := #{<<"why">> := <<"customer">>}}], events(Id, <<"WorkflowCancelRequested">>)),
    ?assertMatch([#{ordinal := 1, retryable := false, error := #{<<"type">> := <<"cancelled">>}}],
                 events(Id, <<"ActivityFailed">>)),
    [#{seq := RequestSeq}] = events(Id, <<"WorkflowCancelRequested">>),
    ?assertMatch([#{ordinal := 2, name := <<"echo">>, seq := S}] when S > RequestSeq,
                 [E || E = #{ordinal := 2} <- events(Id, <<"ActivityScheduled">>)]),
    ?assertEqual(<<"WorkflowCancelled">>, lists:last(types(Id))),
    ?assertEqual({error, not_running}, aion:cancel(Id)).

cancel_of_a_sleeping_workflow_cancels_its_timer() ->
    Id = start(<<"sleeper">>, #{<<"ms">> => 60000}),
    aion_test_support:wait_until(fun() -> events(Id, <<"TimerStarted">>) =/= [] end, 5000),
    ok = aion:cancel(Id),
    ?assertEqual({error, {cancelled, #{<<"error">> => <<"cancelled">>}}}, aion:await(Id, 5000)),
    ?assertMatch([#{cause := <<"cancel_request">>}], events(Id, <<"TimerCancelled">>)).

cancel_and_terminate_report_unknown_and_closed_runs() ->
    ?assertEqual({error, not_found}, aion:cancel(<<"no-such-workflow">>)),
    ?assertEqual({error, not_found}, aion:terminate(<<"no-such-workflow">>, <<"x">>)),
    ?assertEqual({error, not_found}, aion:cancel(not_a_binary)),
    Id = start(<<"named_timers">>, #{}),
    {ok, _} = aion:await(Id, 5000),
    ?assertEqual({error, not_running}, aion:terminate(Id, <<"late">>)),
    ?assertMatch({error, {invalid_input, _}}, aion:cancel(Id, self())).

terminate_ends_at_once_without_compensation() ->
    K = key(),
    Id = start(<<"cancellable">>, #{<<"key">> => K}),
    Worker = wait_waiting(K),
    ?assertEqual(ok, aion:terminate(Id, <<"ops">>)),
    ?assertEqual({error, {terminated, <<"ops">>}}, aion:await(Id, 1000)),
    ?assertEqual(<<"WorkflowTerminated">>, lists:last(types(Id))),
    ?assertEqual([], [E || E = #{name := <<"echo">>} <- events(Id, <<"ActivityScheduled">>)]),
    aion_test_support:wait_until(fun() -> not is_process_alive(Worker) end, 5000),
    ?assertEqual([], ets:lookup(aion_runs, Id)).

determinism_helpers_return_the_same_values_on_replay() ->
    K = key(),
    Id = start(<<"determinism">>, #{<<"key">> => K}),
    _ = wait_waiting(K),
    [#{input := Recorded}] = [E || E = #{name := <<"echo">>} <- events(Id, <<"ActivityScheduled">>)],
    ets:delete(aion_test_calls, {waiting, K}),
    replay(Id),
    Worker = wait_waiting(K),
    Worker ! release,
    ?assertEqual({ok, Recorded}, aion:await(Id, 5000)),
    ?assertEqual(1, aion_test_flows:calls({side_effect, K})),
    #{<<"random">> := R, <<"uuid">> := U, <<"id">> := WfId} = Recorded,
    ?assert(R >= 0 andalso R < 1),
    ?assertMatch({match, _}, re:run(U, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")),
    ?assertEqual(Id, WfId).

patched_keeps_old_runs_on_the_old_path_and_new_runs_on_the_new() ->
    K1 = key(),
    persistent_term:put({aion_time_flows, version}, v1),
    Old = start(<<"patched_flow">>, #{<<"key">> => K1}),
    _ = wait_waiting(K1),
    %% Deploy v2, then crash the old run so it replays under the new code.
    persistent_term:put({aion_time_flows, version}, v2),
    ets:delete(aion_test_calls, {waiting, K1}),
    replay(Old),
    wait_waiting(K1) ! release,
    ?assertEqual({ok, <<"old">>}, aion:await(Old, 5000)),
    ?assertEqual([], events(Old, <<"MarkerRecorded">>)),
    K2 = key(),
    New = start(<<"patched_flow">>, #{<<"key">> => K2}),
    wait_waiting(K2) ! release,
    ?assertEqual({ok, <<"new">>}, aion:await(New, 5000)),
    ?assertMatch([#{change_id := <<"use-new-step">>}], events(New, <<"MarkerRecorded">>)),
    persistent_term:erase({aion_time_flows, version}).

continue_as_new_loops_1000_times_and_keeps_old_histories() ->
    Id = start(<<"counter">>, #{<<"n">> => 0, <<"limit">> => 1000}),
    ?assertEqual({ok, 1000}, aion:await(Id, 60000)),
    {ok, #{status := completed, run_id := Last, head := 2}} = aion:describe(Id),
    {ok, [#{type := <<"WorkflowStarted">>, continued_from := Prev, input := #{<<"n">> := 1000}} | _]} = aion:history(Id),
    {ok, PrevHistory} = aion:history(Id, Prev),
    ?assertMatch([#{type := <<"WorkflowStarted">>, input := #{<<"n">> := 999}},
                  #{type := <<"WorkflowContinuedAsNew">>, new_run_id := Last}], PrevHistory),
    ?assertEqual({error, not_found}, aion:history(Id, <<"no-such-run">>)).

bad_arguments_to_time_primitives_are_errors() ->
    ?assertEqual({error, {bad_option, {timer, <<"t">>, -1}}}, aion_flow:start_timer(<<"t">>, -1)),
    ?assertEqual({error, {bad_option, {timer, nope}}}, aion_flow:await_timer(nope)),
    ?assertEqual({error, {bad_option, {with_timeout, x}}}, aion_flow:with_timeout(x, fun() -> ok end)),
    ?assertEqual({error, not_in_workflow}, aion_flow:sleep(10)),
    ?assertEqual({error, not_in_workflow}, aion_flow:with_timeout(10, fun() -> ok end)),
    ?assertError(not_in_workflow, aion_flow:now()),
    ?assertError(not_in_workflow, aion_flow:workflow_id()).
