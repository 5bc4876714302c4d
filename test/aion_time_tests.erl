%% Timers, with_timeout, execution timeouts, cancellation, termination, determinism
%% helpers, versioning and continue-as-new, through the public API.
-module(aion_time_tests).

-include_lib("eunit/include/eunit.hrl").

-import(aion_test_support, [key/0, start_run/2, start_run/3, types/1, events/2, kill_and_replay/1,
                            waiting_in_receive/1, waiting_worker/1]).

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

sleep_is_a_durable_timer_with_recorded_time() ->
    Id = start_run(<<"sleeper">>, #{<<"ms">> => 50}),
    {ok, #{<<"slept_from">> := From, <<"woke_at">> := Woke}} = aion:await(Id, 5000),
    [#{fire_at := FireAt, name := <<"sleep">>}] = events(Id, <<"TimerStarted">>),
    [#{recorded_at := FiredAt}] = events(Id, <<"TimerFired">>),
    ?assert(FireAt - From >= 50),
    ?assert(FiredAt >= FireAt),
    ?assertEqual(FiredAt, Woke).

named_timers_fire_cancel_idempotently_and_report_cancelled() ->
    Id = start_run(<<"named_timers">>, #{}),
    ?assertEqual({ok, <<"done">>}, aion:await(Id, 5000)),
    ?assertMatch([#{timer_id := 2, cause := <<"workflow">>}], events(Id, <<"TimerCancelled">>)),
    ?assertMatch([#{timer_id := 1}], events(Id, <<"TimerFired">>)).

with_timeout_returns_timeout_when_the_deadline_passes_first() ->
    K = key(),
    Id = start_run(<<"timeout_block">>, #{<<"ms">> => 50, <<"key">> => K, <<"activity_ms">> => 2000}),
    ?assertEqual({ok, <<"timed_out">>}, aion:await(Id, 5000)),
    ?assertMatch([#{name := <<"with_timeout">>, scope := true}], events(Id, <<"TimerStarted">>)),
    ?assertMatch([_], events(Id, <<"TimerFired">>)).

with_timeout_returns_the_value_when_the_block_finishes_in_time() ->
    K = key(),
    Id = start_run(<<"timeout_block">>, #{<<"ms">> => 5000, <<"key">> => K, <<"activity_ms">> => 1}),
    ?assertEqual({ok, #{<<"inner">> => <<"done">>}}, aion:await(Id, 5000)),
    ?assertEqual([], events(Id, <<"TimerFired">>)),
    ?assertMatch([#{cause := <<"workflow">>}], events(Id, <<"TimerCancelled">>)).

execution_timeout_ends_the_run_as_timed_out() ->
    Id = start_run(<<"sleep_then_fail">>, #{<<"ms">> => 60000}, #{execution_timeout_ms => 100}),
    ?assertEqual({error, timed_out}, aion:await(Id, 5000)),
    ?assertMatch({ok, #{status := timed_out, deadline := _}}, aion:describe(Id)),
    ?assertEqual(<<"WorkflowTimedOut">>, lists:last(types(Id))),
    ?assertEqual({error, {bad_option, {execution_timeout_ms, 0}}},
                 aion:start_workflow(<<"sleeper">>, #{}, #{execution_timeout_ms => 0})).

cancel_stops_pending_work_runs_compensation_and_closes_cancelled() ->
    K = key(),
    Id = start_run(<<"cancellable">>, #{<<"key">> => K}),
    Worker = waiting_worker(K),
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
    Id = start_run(<<"sleeper">>, #{<<"ms">> => 60000}),
    aion_test_support:wait_until(fun() -> events(Id, <<"TimerStarted">>) =/= [] end, 5000),
    ok = aion:cancel(Id),
    ?assertEqual({error, {cancelled, #{<<"error">> => <<"cancelled">>}}}, aion:await(Id, 5000)),
    ?assertMatch([#{cause := <<"cancel_request">>}], events(Id, <<"TimerCancelled">>)).

cancel_and_terminate_report_unknown_and_closed_runs() ->
    ?assertEqual({error, not_found}, aion:cancel(<<"no-such-workflow">>)),
    ?assertEqual({error, not_found}, aion:terminate(<<"no-such-workflow">>, <<"x">>)),
    ?assertEqual({error, not_found}, aion:cancel(not_a_binary)),
    Id = start_run(<<"named_timers">>, #{}),
    {ok, _} = aion:await(Id, 5000),
    ?assertEqual({error, not_running}, aion:terminate(Id, <<"late">>)),
    ?assertMatch({error, {invalid_input, _}}, aion:cancel(Id, self())).

terminate_ends_at_once_without_compensation() ->
    K = key(),
    Id = start_run(<<"cancellable">>, #{<<"key">> => K}),
    Worker = waiting_worker(K),
    ?assertEqual(ok, aion:terminate(Id, <<"ops">>)),
    ?assertEqual({error, {terminated, <<"ops">>}}, aion:await(Id, 1000)),
    ?assertEqual(<<"WorkflowTerminated">>, lists:last(types(Id))),
    ?assertEqual([], [E || E = #{name := <<"echo">>} <- events(Id, <<"ActivityScheduled">>)]),
    aion_test_support:wait_until(fun() -> not is_process_alive(Worker) end, 5000),
    ?assertEqual([], ets:lookup(aion_runs, Id)).

determinism_helpers_return_the_same_values_on_replay() ->
    K = key(),
    Id = start_run(<<"determinism">>, #{<<"key">> => K}),
    _ = waiting_worker(K),
    [#{input := Recorded}] = [E || E = #{name := <<"echo">>} <- events(Id, <<"ActivityScheduled">>)],
    ets:delete(aion_test_calls, {waiting, K}),
    kill_and_replay(Id),
    Worker = waiting_worker(K),
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
    Old = start_run(<<"patched_flow">>, #{<<"key">> => K1}),
    _ = waiting_worker(K1),
    %% Deploy v2, then crash the old run so it replays under the new code.
    persistent_term:put({aion_time_flows, version}, v2),
    ets:delete(aion_test_calls, {waiting, K1}),
    kill_and_replay(Old),
    waiting_worker(K1) ! release,
    ?assertEqual({ok, <<"old">>}, aion:await(Old, 5000)),
    ?assertEqual([], events(Old, <<"MarkerRecorded">>)),
    K2 = key(),
    New = start_run(<<"patched_flow">>, #{<<"key">> => K2}),
    waiting_worker(K2) ! release,
    ?assertEqual({ok, <<"new">>}, aion:await(New, 5000)),
    ?assertMatch([#{change_id := <<"use-new-step">>}], events(New, <<"MarkerRecorded">>)),
    persistent_term:erase({aion_time_flows, version}).

continue_as_new_loops_1000_times_and_keeps_old_histories() ->
    Id = start_run(<<"counter">>, #{<<"n">> => 0, <<"limit">> => 1000}),
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
