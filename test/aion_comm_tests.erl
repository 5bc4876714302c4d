%% Signals, queries, updates, child workflows and fan-out through the public API.
-module(aion_comm_tests).

-include_lib("eunit/include/eunit.hrl").

-import(aion_test_support, [key/0, start_run/2, start_run/3, types/1, events/2, kill_and_replay/1,
                            waiting_in_receive/1, waiting_worker/1]).

-define(T(F), {atom_to_list(F), fun F/0}).

comm_test_() ->
    {setup,
     fun() ->
         Dir = aion_test_support:start(),
         ok = aion_comm_flows:register_all(),
         Dir
     end,
     fun aion_test_support:stop/1,
     [?T(signals_are_durable_buffered_and_consumed_in_order),
      ?T(receive_signal_times_out_and_leaves_late_signals_for_later),
      ?T(signal_errors_for_unknown_and_closed_workflows),
      ?T(signal_with_start_starts_once_and_signals),
      ?T(workflow_to_workflow_signal_is_delivered_and_recorded),
      ?T(queries_see_live_state_and_never_write_history),
      ?T(failing_query_handlers_fail_the_query_not_the_workflow),
      ?T(updates_are_validated_recorded_and_replayed),
      ?T(child_workflows_return_results_and_errors_and_list_their_parent),
      ?T(parent_close_policy_terminates_or_abandons_children),
      ?T(fan_out_all_race_settled_and_map),
      ?T(fan_out_of_children),
      ?T(fan_out_rejects_calls_that_are_not_a_list),
      ?T(fan_out_with_a_malformed_call_fails_with_its_error),
      ?T(thousand_wide_fan_out_completes)]}.

signals_are_durable_buffered_and_consumed_in_order() ->
    Id = start_run(<<"signal_waiter">>, #{}),
    %% Sent before the workflow asks: buffered in the history.
    ok = aion:signal(Id, <<"go">>, <<"first">>),
    ok = aion:signal(Id, <<"other">>, <<"ignored">>),
    ok = aion:signal(Id, <<"go">>, #{<<"n">> => 2}),
    ?assertEqual({ok, [<<"first">>, #{<<"n">> => 2}]}, aion:await(Id, 5000)),
    ?assertMatch([#{name := <<"go">>}, #{name := <<"other">>}, #{name := <<"go">>}],
                 events(Id, <<"SignalReceived">>)).

receive_signal_times_out_and_leaves_late_signals_for_later() ->
    Id = start_run(<<"signal_timeout">>, #{<<"ms">> => 30}),
    aion_test_support:wait_until(fun() -> events(Id, <<"TimerFired">>) =/= [] end, 5000),
    ok = aion:signal(Id, <<"go">>, <<"late">>),
    ?assertEqual({ok, [<<"timed_out">>, <<"late">>]}, aion:await(Id, 5000)).

signal_errors_for_unknown_and_closed_workflows() ->
    ?assertEqual({error, not_found}, aion:signal(<<"no-such-workflow">>, <<"go">>, 1)),
    Id = start_run(<<"child_double">>, 2),
    {ok, 4} = aion:await(Id, 5000),
    ?assertEqual({error, not_running}, aion:signal(Id, <<"go">>, 1)),
    ?assertMatch({error, {invalid_input, _}}, aion:signal(Id, <<"go">>, self())),
    ?assertEqual({error, {bad_argument, name, "go"}}, aion:signal(Id, "go", 1)).

signal_with_start_starts_once_and_signals() ->
    Id = <<"sws-", (key())/binary>>,
    ?assertEqual({ok, Id}, aion:signal_with_start(<<"signal_waiter">>, #{}, <<"go">>, 1, #{workflow_id => Id})),
    ?assertEqual({ok, Id}, aion:signal_with_start(<<"signal_waiter">>, #{}, <<"go">>, 2, #{workflow_id => Id})),
    ?assertEqual({ok, [1, 2]}, aion:await(Id, 5000)),
    ?assertMatch([_], events(Id, <<"WorkflowStarted">>)).

workflow_to_workflow_signal_is_delivered_and_recorded() ->
    Target = start_run(<<"signal_waiter">>, #{}),
    ok = aion:signal(Target, <<"go">>, <<"from-client">>),
    Sender = start_run(<<"sender">>, #{<<"target">> => Target}),
    ?assertEqual({ok, [<<"ok">>, <<"not_found">>]}, aion:await(Sender, 5000)),
    ?assertEqual({ok, [<<"from-client">>, <<"from-sender">>]}, aion:await(Target, 5000)),
    ?assertMatch([#{result := <<"ok">>}, #{result := <<"not_found">>}], events(Sender, <<"SignalDelivered">>)),
    [#{signal_id := SignalId}] = [E || E = #{payload := <<"from-sender">>} <- events(Target, <<"SignalReceived">>)],
    ?assertMatch({match, _}, re:run(SignalId, <<"^", Sender/binary, "/">>)).

queries_see_live_state_and_never_write_history() ->
    Id = start_run(<<"counter">>, #{}),
    waiting_in_receive(Id),
    ?assertEqual({ok, 10}, aion:query(Id, <<"count">>, #{<<"plus">> => 10})),
    ok = aion:signal(Id, <<"inc">>, 1),
    ok = aion:signal(Id, <<"inc">>, 1),
    aion_test_support:wait_until(fun() -> aion:query(Id, <<"count">>, #{<<"plus">> => 0}) =:= {ok, 2} end, 5000),
    {ok, Before} = aion:history(Id),
    {ok, 2} = aion:query(Id, <<"count">>, #{<<"plus">> => 0}),
    ?assertEqual({ok, Before}, aion:history(Id)),
    ?assertEqual({error, unknown_query}, aion:query(Id, <<"nope">>, null)),
    ok = aion:signal(Id, <<"inc">>, <<"stop">>),
    ?assertEqual({ok, 2}, aion:await(Id, 5000)),
    ?assertEqual({error, not_running}, aion:query(Id, <<"count">>, #{<<"plus">> => 0})),
    ?assertEqual({error, not_found}, aion:query(<<"no-such-workflow">>, <<"count">>, null)).

failing_query_handlers_fail_the_query_not_the_workflow() ->
    Id = start_run(<<"counter">>, #{}),
    waiting_in_receive(Id),
    ?assertMatch({error, {handler_failed, {error, boom}}}, aion:query(Id, <<"boom">>, null)),
    ?assertMatch({error, {handler_failed, {error, query_handlers_cannot_run_workflow_commands}}},
                 aion:query(Id, <<"sneaky">>, 1)),
    ?assertEqual([], events(Id, <<"ActivityScheduled">>)),
    ok = aion:signal(Id, <<"inc">>, <<"stop">>),
    ?assertEqual({ok, 0}, aion:await(Id, 5000)).

updates_are_validated_recorded_and_replayed() ->
    Id = start_run(<<"updatable">>, #{}),
    waiting_in_receive(Id),
    ?assertEqual({ok, 5}, aion:update(Id, <<"add">>, 5, 5000)),
    ?assertEqual({error, {rejected, <<"positive integers only">>}}, aion:update(Id, <<"add">>, -1, 5000)),
    ?assertEqual({error, unknown_update}, aion:update(Id, <<"nope">>, 1, 5000)),
    ?assertMatch([#{name := <<"add">>, args := 5}], events(Id, <<"UpdateAccepted">>)),
    %% A replay runs the handler again at the same point: the total survives.
    kill_and_replay(Id),
    waiting_in_receive(Id),
    ?assertEqual({ok, 7}, aion:update(Id, <<"add">>, 2, 5000)),
    ok = aion:signal(Id, <<"done">>, true),
    ?assertEqual({ok, 7}, aion:await(Id, 5000)),
    ?assertMatch([#{result := #{<<"ok">> := 5}}, #{result := #{<<"ok">> := 7}}],
                 events(Id, <<"UpdateCompleted">>)).

child_workflows_return_results_and_errors_and_list_their_parent() ->
    Parent = start_run(<<"parent">>, #{<<"mode">> => <<"await">>, <<"n">> => 21}),
    ?assertEqual({ok, 42}, aion:await(Parent, 5000)),
    [#{workflow_id := ChildId}] = events(Parent, <<"ChildStarted">>),
    ?assertMatch({ok, #{parent_id := Parent, status := completed}}, aion:describe(ChildId)),
    {ok, Children} = aion:list(#{type => <<"child_double">>}),
    ?assert(lists:member(Parent, [P || #{parent_id := P} <- Children])),
    Failing = start_run(<<"parent">>, #{<<"mode">> => <<"failing">>}),
    ?assertMatch({error, {failed, _}}, aion:await(Failing, 5000)),
    ?assertMatch([#{status := <<"failed">>, value := <<"not a number">>}], events(Failing, <<"ChildCompleted">>)).

parent_close_policy_terminates_or_abandons_children() ->
    K1 = key(),
    P1 = start_run(<<"parent">>, #{<<"mode">> => <<"leave">>, <<"key">> => K1, <<"policy">> => <<"terminate">>}),
    {ok, <<"left">>} = aion:await(P1, 5000),
    [#{workflow_id := C1}] = events(P1, <<"ChildStarted">>),
    ?assertMatch({error, {terminated, _}}, aion:await(C1, 5000)),
    K2 = key(),
    P2 = start_run(<<"parent">>, #{<<"mode">> => <<"leave">>, <<"key">> => K2, <<"policy">> => <<"abandon">>}),
    {ok, <<"left">>} = aion:await(P2, 5000),
    [#{workflow_id := C2}] = events(P2, <<"ChildStarted">>),
    ?assertEqual({error, timeout}, aion:await(C2, 200)),
    ok = aion:terminate(C2, <<"test cleanup">>),
    K3 = key(),
    P3 = start_run(<<"parent">>, #{<<"mode">> => <<"leave">>, <<"key">> => K3, <<"policy">> => <<"request_cancel">>}),
    {ok, <<"left">>} = aion:await(P3, 5000),
    [#{workflow_id := C3}] = events(P3, <<"ChildStarted">>),
    ?assertMatch({error, {cancelled, _}}, aion:await(C3, 5000)).

fan_out_all_race_settled_and_map() ->
    ?assertEqual({ok, [1, 2, 3]}, aion:await(start_run(<<"fan">>, #{<<"mode">> => <<"all">>, <<"n">> => 3}), 5000)),
    K = key(),
    Race = start_run(<<"fan">>, #{<<"mode">> => <<"race">>, <<"key">> => K}),
    ?assertEqual({ok, <<"fast">>}, aion:await(Race, 5000)),
    ?assertMatch([#{ordinal := 1, error := #{<<"type">> := <<"cancelled">>}}], events(Race, <<"ActivityFailed">>)),
    Fail = start_run(<<"fan">>, #{<<"mode">> => <<"all_fail">>, <<"key">> => key()}),
    ?assertEqual({ok, <<"failed on refuse">>}, aion:await(Fail, 5000)),
    %% Fan-outs take the results that have settled in batches: their histories replay.
    ?assertEqual(ok, aion_replay:check(Fail, {aion_comm_flows, fan})),
    ?assertEqual(ok, aion_replay:check(Race, {aion_comm_flows, fan})),
    ?assertMatch([#{error := #{<<"type">> := <<"cancelled">>}}],
                 [E || E = #{ordinal := 1} <- events(Fail, <<"ActivityFailed">>)]),
    ?assertEqual({ok, <<"settled">>}, aion:await(start_run(<<"fan">>, #{<<"mode">> => <<"settled">>, <<"key">> => key()}), 5000)),
    MK = key(),
    {ok, Gauges} = aion:await(start_run(<<"fan">>, #{<<"mode">> => <<"map">>, <<"key">> => MK}), 5000),
    ?assertEqual(6, length(Gauges)),
    ?assertEqual(2, aion_test_flows:calls({gauge_max, MK})).

fan_out_with_a_malformed_call_fails_with_its_error() ->
    Id = start_run(<<"bad_fan">>, #{}),
    ?assertMatch({error, {failed, #{<<"type">> := <<"error">>}}}, aion:await(Id, 5000)),
    ?assertEqual(2, length(events(Id, <<"ActivityScheduled">>))).

fan_out_rejects_calls_that_are_not_a_list() ->
    ?assertEqual({error, not_in_workflow}, aion_flow:all([{activity, <<"echo">>, 1, #{}}])),
    ?assertEqual({error, {bad_option, {calls, nope}}}, aion_flow:all(nope)),
    ?assertEqual({error, {bad_option, {calls, nope}}}, aion_flow:settled(nope)).

fan_out_of_children() ->
    ?assertEqual({ok, [2, 4, 6]}, aion:await(start_run(<<"fan">>, #{<<"mode">> => <<"children">>}), 5000)).

thousand_wide_fan_out_completes() ->
    Id = start_run(<<"fan">>, #{<<"mode">> => <<"all">>, <<"n">> => 1000}),
    ?assertEqual({ok, lists:seq(1, 1000)}, aion:await(Id, 60000)),
    ?assertEqual(1000, length(events(Id, <<"ActivityCompleted">>))),
    ?assertEqual(ok, aion_replay:check(Id, {aion_comm_flows, fan})).
