%% Behaviour of the client API (`aion') and the workflow API (`aion_flow') through a running
%% application on the durable SQLite store.
-module(aion_tests).

-include_lib("eunit/include/eunit.hrl").

-import(aion_test_support, [key/0, start_run/2, start_run/3, types/1, events/2, kill_and_replay/1,
                            waiting_in_receive/1, waiting_worker/1]).

-define(T(F), {atom_to_list(F), fun F/0}).

aion_test_() ->
    {setup, fun aion_test_support:start/0, fun aion_test_support:stop/1,
     [?T(three_activities_run_in_order_and_are_recorded),
      ?T(store_stats_count_what_a_workflow_writes),
      ?T(retry_then_success_records_every_attempt),
      ?T(terminal_error_is_not_retried),
      ?T(non_retryable_error_type_is_not_retried),
      ?T(retries_stop_at_max_attempts),
      ?T(activity_crash_and_kill_are_failed_attempts),
      ?T(attempt_past_start_to_close_is_killed_and_retried),
      ?T(unknown_workflow_type_is_an_error),
      ?T(non_json_input_is_an_error_and_node_stays_up),
      ?T(non_binary_names_are_errors),
      ?T(bad_options_are_errors),
      ?T(oversized_payload_is_refused),
      ?T(duplicate_workflow_id_is_refused),
      ?T(describe_list_and_history_report_runs),
      ?T(non_json_workflow_result_fails_the_run),
      ?T(non_determinism_blocks_the_run_until_fixed_code_is_registered),
      ?T(workflow_api_outside_a_workflow_is_an_error),
      ?T(nif_rejects_bad_arguments_with_errors),
      ?T(gleam_workflow_runs_typed_activities),
      ?T(gleam_registration_takes_module_functions_only),
      ?T(gleam_workflow_uses_timers_deadlines_and_determinism_helpers),
      ?T(gleam_workflow_uses_typed_signals_queries_children_and_fan_out)]}.

run(Type, Input) ->
    aion:await(start_run(Type, Input), 10000).

three_activities_run_in_order_and_are_recorded() ->
    Tag = key(),
    Id = start_run(<<"three_steps">>, #{<<"tag">> => Tag}),
    ?assertEqual({ok, [10, 20, 30]}, aion:await(Id, 10000)),
    ?assertEqual(3, aion_test_flows:calls({append, Tag})),
    ?assertEqual([1, 2, 3], [S || I <- [1, 2, 3],
                                  [{_, S}] <- [ets:lookup(aion_test_calls, {order, Tag, I})]]),
    ?assertEqual([<<"WorkflowStarted">>,
                  <<"ActivityScheduled">>, <<"ActivityStarted">>, <<"ActivityCompleted">>,
                  <<"ActivityScheduled">>, <<"ActivityStarted">>, <<"ActivityCompleted">>,
                  <<"ActivityScheduled">>, <<"ActivityStarted">>, <<"ActivityCompleted">>,
                  <<"WorkflowCompleted">>], types(Id)),
    {ok, H} = aion:history(Id),
    ?assertEqual(lists:seq(1, 11), [S || #{seq := S} <- H]),
    ?assertEqual([1, 2, 3], [O || #{type := <<"ActivityScheduled">>, ordinal := O} <- H]).

store_stats_count_what_a_workflow_writes() ->
    {ok, #{commits := C0, appends := A0, events := E0, wal_bytes := W0, syncs := S0}} =
        aion_engine:store_stats(),
    Id = start_run(<<"three_steps">>, #{<<"tag">> => key()}),
    ?assertEqual({ok, [10, 20, 30]}, aion:await(Id, 10000)),
    {ok, #{commits := C1, appends := A1, events := E1, wal_bytes := W1, syncs := S1}} =
        aion_engine:store_stats(),
    %% Other tests' runs may commit meanwhile: this run's writes are a lower bound.
    ?assert(E1 - E0 >= 11),
    ?assert(A1 - A0 >= 4),
    ?assert(C1 > C0),
    %% PostgreSQL's WAL is the server's: the store counts no bytes of it.
    ?assert(W1 > W0 orelse application:get_env(aion, store) =:= {ok, postgres}),
    ?assertEqual(C1 - C0, S1 - S0).

retry_then_success_records_every_attempt() ->
    K = key(),
    Id = start_run(<<"single">>, #{<<"activity">> => <<"flaky">>,
                               <<"input">> => #{<<"key">> => K, <<"fail_times">> => 2}}),
    ?assertEqual({ok, #{<<"succeeded_on">> => 3}}, aion:await(Id, 10000)),
    {ok, H} = aion:history(Id),
    ?assertEqual([1, 2, 3], [A || #{type := <<"ActivityStarted">>, attempt := A} <- H]),
    Failed = [E || E = #{type := <<"ActivityFailed">>} <- H],
    ?assertMatch([#{attempt := 1, retryable := true, error := #{<<"type">> := <<"temporary">>}},
                  #{attempt := 2, retryable := true}], Failed),
    ?assertMatch([#{attempt := 3}], [E || E = #{type := <<"ActivityCompleted">>} <- H]).

terminal_error_is_not_retried() ->
    K = key(),
    Res = run(<<"with_opts">>, #{<<"activity">> => <<"refuse">>, <<"max_attempts">> => 5,
                                 <<"input">> => #{<<"key">> => K}}),
    ?assertMatch({error, {failed, #{<<"kind">> := <<"activity_failed">>, <<"attempts">> := 1,
                                    <<"message">> := <<"card refused">>,
                                    <<"activity">> := <<"refuse">>}}}, Res),
    ?assertEqual(1, aion_test_flows:calls({refuse, K})).

non_retryable_error_type_is_not_retried() ->
    K = key(),
    Res = run(<<"with_opts">>, #{<<"activity">> => <<"refuse">>, <<"max_attempts">> => 5,
                                 <<"input">> => #{<<"key">> => K, <<"how">> => <<"declined">>}}),
    ?assertMatch({error, {failed, #{<<"type">> := <<"card_declined">>, <<"attempts">> := 1}}}, Res),
    ?assertEqual(1, aion_test_flows:calls({refuse, K})).

retries_stop_at_max_attempts() ->
    K = key(),
    Id = start_run(<<"with_opts">>, #{<<"activity">> => <<"flaky">>, <<"max_attempts">> => 2,
                                  <<"input">> => #{<<"key">> => K, <<"fail_times">> => 10}}),
    ?assertMatch({error, {failed, #{<<"attempts">> := 2, <<"type">> := <<"temporary">>}}},
                 aion:await(Id, 10000)),
    ?assertEqual(2, aion_test_flows:calls({flaky, K})),
    {ok, H} = aion:history(Id),
    ?assertMatch([#{retryable := true}, #{retryable := false}],
                 [E || E = #{type := <<"ActivityFailed">>} <- H]).

activity_crash_and_kill_are_failed_attempts() ->
    K = key(),
    Engine = whereis(aion_engine),
    Id = start_run(<<"single">>, #{<<"activity">> => <<"crash_once">>, <<"input">> => #{<<"key">> => K}}),
    ?assertEqual({ok, 3}, aion:await(Id, 10000)),
    {ok, H} = aion:history(Id),
    ?assertMatch([#{attempt := 1, error := #{<<"type">> := <<"crash">>}},
                  #{attempt := 2, error := #{<<"type">> := <<"crash">>}}],
                 [E || E = #{type := <<"ActivityFailed">>} <- H]),
    ?assertEqual(Engine, whereis(aion_engine)).

attempt_past_start_to_close_is_killed_and_retried() ->
    K = key(),
    Res = run(<<"with_opts">>, #{<<"activity">> => <<"slow">>, <<"max_attempts">> => 2,
                                 <<"timeout">> => 50,
                                 <<"input">> => #{<<"key">> => K, <<"ms">> => 5000}}),
    ?assertMatch({error, {failed, #{<<"kind">> := <<"activity_timeout">>, <<"attempts">> := 2,
                                    <<"type">> := <<"timeout">>}}}, Res),
    ?assertEqual(2, aion_test_flows:calls({slow, K})).

unknown_workflow_type_is_an_error() ->
    ?assertEqual({error, {unknown_workflow_type, <<"nope">>}},
                 aion:start_workflow(<<"nope">>, #{}, #{})).

non_json_input_is_an_error_and_node_stays_up() ->
    Engine = whereis(aion_engine),
    ?assertMatch({error, {invalid_input, <<"not JSON-compatible: a pid">>}},
                 aion:start_workflow(<<"single">>, self(), #{})),
    ?assertMatch({error, {invalid_input, <<"not JSON-compatible: a tuple">>}},
                 aion:start_workflow(<<"single">>, #{<<"a">> => {1, 2}}, #{})),
    ?assertMatch({error, {invalid_input, _}},
                 aion:start_workflow(<<"single">>, [make_ref()], #{})),
    ?assertMatch({error, {invalid_input, _}},
                 aion:start_workflow(<<"single">>, <<255, 0>>, #{})),
    ?assertMatch({error, {invalid_input, _}},
                 aion:start_workflow(<<"single">>, [1 | 2], #{})),
    ?assertMatch({error, {invalid_input, _}},
                 aion:start_workflow(<<"single">>, #{1 => 2}, #{})),
    ?assertEqual(Engine, whereis(aion_engine)),
    ?assertEqual({ok, []}, aion:list(#{type => <<"single-never-started">>})).

non_binary_names_are_errors() ->
    ?assertEqual({error, {unknown_workflow_type, "single"}}, aion:start_workflow("single", #{}, #{})),
    ?assertEqual({error, {unknown_workflow_type, single}}, aion:start_workflow(single, #{}, #{})),
    ?assertEqual({error, {bad_argument, type, "x"}}, aion:register_workflow("x", {aion_test_flows, single})),
    ?assertEqual({error, {bad_argument, name, x}}, aion:register_activity(x, {aion_test_flows, echo})),
    ?assertEqual({error, {undefined_function, {aion_test_flows, missing, 1}}},
                 aion:register_activity(<<"x">>, {aion_test_flows, missing})),
    ?assertEqual({error, not_found}, aion:describe("abc")),
    ?assertEqual({error, not_found}, aion:await(abc, 10)),
    ?assertEqual({error, not_found}, aion:history(<<"missing-id">>)),
    ?assertEqual({error, not_found}, aion:describe(<<"missing-id">>)),
    ?assertEqual({error, not_found}, aion:await(<<"missing-id">>, 10)).

bad_options_are_errors() ->
    ?assertEqual({error, {bad_option, colour}}, aion:start_workflow(<<"single">>, #{}, #{colour => red})),
    ?assertEqual({error, {bad_option, {workflow_id, "abc"}}},
                 aion:start_workflow(<<"single">>, #{}, #{workflow_id => "abc"})),
    ?assertEqual({error, {bad_option, {status, sleeping}}}, aion:list(#{status => sleeping})),
    Res = run(<<"single">>, #{<<"activity">> => <<"echo">>, <<"input">> => 1}),
    ?assertEqual({ok, 1}, Res),
    ?assertEqual({error, {bad_option, {retry, max_attempts, -1}}},
                 aion_flow_config:activity_options(#{retry => #{max_attempts => -1}})).

oversized_payload_is_refused() ->
    Big = binary:copy(<<"x">>, 3 * 1024 * 1024),
    ?assertMatch({error, {payload_too_large, _, 2097152}}, aion:start_workflow(<<"single">>, Big, #{})).

duplicate_workflow_id_is_refused() ->
    K = key(),
    Id = <<"dup-", K/binary>>,
    ?assertEqual({ok, Id}, aion:start_workflow(<<"blocker">>, #{<<"key">> => K}, #{workflow_id => Id})),
    ?assertEqual({error, {already_started, Id}},
                 aion:start_workflow(<<"blocker">>, #{<<"key">> => K}, #{workflow_id => Id})),
    release(K),
    ?assertEqual({ok, <<"released">>}, aion:await(Id, 10000)),
    ?assertEqual({error, {already_exists, Id}},
                 aion:start_workflow(<<"blocker">>, #{<<"key">> => K}, #{workflow_id => Id})).

release(K) ->
    waiting_worker(K) ! release.

describe_list_and_history_report_runs() ->
    K = key(),
    Id = start_run(<<"blocker">>, #{<<"key">> => K}),
    ?assertMatch({ok, #{status := running, type := <<"blocker">>, workflow_id := Id}}, aion:describe(Id)),
    ?assertEqual({error, timeout}, aion:await(Id, 50)),
    {ok, Running} = aion:list(#{status => running, type => <<"blocker">>}),
    ?assert(lists:member(Id, [W || #{workflow_id := W} <- Running])),
    release(K),
    {ok, _} = aion:await(Id, 10000),
    ?assertMatch({ok, #{status := completed, result := <<"released">>}}, aion:describe(Id)),
    {ok, Done} = aion:list(#{status => completed}),
    ?assert(lists:member(Id, [W || #{workflow_id := W} <- Done])),
    {ok, Running2} = aion:list(#{status => running, type => <<"blocker">>}),
    ?assertNot(lists:member(Id, [W || #{workflow_id := W} <- Running2])).

non_json_workflow_result_fails_the_run() ->
    ?assertMatch({error, {failed, #{<<"type">> := <<"bad_result">>}}},
                 run(<<"returns_tuple">>, #{})).

non_determinism_blocks_the_run_until_fixed_code_is_registered() ->
    K = key(),
    persistent_term:put({aion_test_flows, version}, v1),
    Id = start_run(<<"versioned">>, #{<<"key">> => K}),
    aion_test_support:wait_until(fun() -> aion_test_flows:calls({wait_release, K}) =:= 1 end, 10000),
    {ok, Before} = aion:history(Id),
    %% "Deploy" code that takes another path, then crash the run so it replays.
    persistent_term:put({aion_test_flows, version}, v2),
    [{_, Pid}] = ets:lookup(aion_runs, Id),
    exit(Pid, kill),
    aion_test_support:wait_until(fun() ->
        element(2, aion:describe(Id)) =:= blocked orelse
            maps:get(status, element(2, aion:describe(Id))) =:= blocked end, 10000),
    {ok, #{status := blocked, blocked_reason := Reason}} = aion:describe(Id),
    ?assertEqual({non_determinism, #{seq => 2,
                                     recorded => <<"ActivityScheduled(ordinal 1, name \"echo\")">>,
                                     requested => <<"ActivityScheduled(ordinal 1, name \"wait_release\")">>}},
                 Reason),
    ?assertEqual({ok, Before}, aion:history(Id)),
    %% Roll back to the code that made the history; registering resumes the run.
    persistent_term:put({aion_test_flows, version}, v1),
    ok = aion:register_workflow(<<"versioned">>, {aion_test_flows, versioned}),
    aion_test_support:wait_until(fun() -> aion_test_flows:calls({wait_release, K}) =:= 2 end, 10000),
    release(K),
    ?assertEqual({ok, <<"released">>}, aion:await(Id, 10000)),
    ?assertEqual([1], [O || #{type := <<"ActivityScheduled">>, name := <<"echo">>, ordinal := O} <- element(2, aion:history(Id))]),
    ?assertMatch([#{attempt := 1, error := #{<<"type">> := <<"worker_lost">>}}],
                 [E || E = #{type := <<"ActivityFailed">>} <- element(2, aion:history(Id))]).

workflow_api_outside_a_workflow_is_an_error() ->
    ?assertEqual({error, not_in_workflow}, aion_flow:activity(<<"echo">>, 1)),
    ?assertMatch({error, {not_running, _}},
                 aion_flow_ffi:dispatch_activity(<<"echo">>, <<"1">>, <<"{}">>)).

nif_rejects_bad_arguments_with_errors() ->
    Store = aion_engine:store(),
    ?assertMatch({error, {invalid_input, <<"workflow id must be a binary">>}},
                 aion_flow_ffi:nif_engine_describe(Store, "charlist")),
    ?assertMatch({error, {invalid_input, <<"JSON text is not JSON", _/binary>>}},
                 aion_flow_ffi:json_decode(<<"{bad">>)),
    ?assertMatch({error, {invalid_input, _}},
                 aion_flow_ffi:nif_run_new(Store, <<"x">>, <<"t">>, <<"not json">>, <<"r">>, <<"{}">>, 1)),
    ?assertMatch({error, {invalid_input, _}},
                 aion_flow_ffi:nif_run_new(Store, <<"x">>, <<"t">>, <<"null">>, <<"r">>, <<"{}">>, not_a_time)),
    ?assertMatch({error, {invalid_input, <<"unknown store kind", _/binary>>}},
                 aion_flow_ffi:nif_engine_open(<<"mongo">>, <<>>)),
    ?assertEqual({ok, #{<<"a">> => [1, 2.5, true, null, <<"x">>]}},
                 aion_flow_ffi:json_decode(element(2, aion_flow_ffi:json_encode(#{a => [1, 2.5, true, null, x]})))).

gleam_workflow_runs_typed_activities() ->
    ok = aion:register_activity(<<"add">>, {aion_flow_fixture, add}),
    ok = aion:register_activity(<<"double">>, {aion_flow_fixture, double}),
    ok = aion:register_workflow(<<"gleam_arith">>, {aion_flow_fixture, arithmetic}),
    ok = aion:register_workflow(<<"gleam_refused">>, {aion_flow_fixture, refused}),
    ?assertEqual({ok, #{<<"sum">> => 5, <<"doubled">> => 10}},
                 run(<<"gleam_arith">>, #{<<"a">> => 2, <<"b">> => 3})),
    ?assertEqual({error, {failed, <<"add failed">>}},
                 run(<<"gleam_arith">>, #{<<"a">> => <<"two">>, <<"b">> => 3})),
    ?assertEqual({ok, #{<<"activity">> => <<"refuse">>, <<"message">> => <<"card refused">>,
                        <<"attempts">> => 1}},
                 run(<<"gleam_refused">>, #{<<"key">> => key()})),
    %% The schedule-to-close option from Gleam: a 5 s attempt is stopped at 300 ms.
    ok = aion:register_workflow(<<"gleam_deadlined">>, {aion_flow_fixture, deadlined}),
    ?assertEqual({ok, #{<<"type">> => <<"schedule_to_close_timeout">>, <<"attempts">> => 1}},
                 run(<<"gleam_deadlined">>, #{<<"key">> => key(), <<"ms">> => 5000})),
    %% Heartbeats from Gleam: the first attempt heartbeats page 3 and hangs, is stopped by
    %% its 150 ms heartbeat timeout, and the retry reads page 3 back.
    ok = aion:register_activity(<<"resume_pages">>, {aion_flow_fixture, resume_pages}),
    ok = aion:register_workflow(<<"gleam_heartbeating">>, {aion_flow_fixture, heartbeating}),
    {ok, Beating} = aion:start_workflow(<<"gleam_heartbeating">>, null, #{}),
    ?assertEqual({ok, #{<<"result">> => #{<<"resumed_after">> => 3},
                        <<"outside">> => <<"not_in_activity">>}},
                 aion:await(Beating, 10000)),
    ?assertMatch([#{error := #{<<"type">> := <<"heartbeat_timeout">>,
                               <<"details">> := #{<<"page">> := 3}}}],
                 aion_test_support:events(Beating, <<"ActivityFailed">>)).

gleam_registration_takes_module_functions_only() ->
    ?assertEqual({ok, nil}, 'aion@workflow':register(<<"gleam_arith2">>, fun aion_flow_fixture:arithmetic/1)),
    ?assertEqual({ok, nil}, 'aion@workflow':register_activity(<<"add">>, fun aion_flow_fixture:add/1)),
    ?assertEqual({ok, nil}, 'aion@workflow':register_activity(<<"double">>, fun aion_flow_fixture:double/1)),
    {ok, Id} = 'aion@workflow':start(<<"gleam_arith2">>, #{<<"a">> => 1, <<"b">> => 1}),
    ?assertEqual({ok, #{<<"sum">> => 2, <<"doubled">> => 4}}, 'aion@workflow':await(Id, 10000)),
    ?assertEqual({error, not_a_module_function},
                 'aion@workflow':register(<<"anon">>, fun(X) -> {ok, X} end)),
    ?assertEqual({error, {unknown_workflow_type, <<"nope">>}}, 'aion@workflow':start(<<"nope">>, null)).

gleam_workflow_uses_timers_deadlines_and_determinism_helpers() ->
    ok = aion:register_workflow(<<"gleam_timed">>, {aion_flow_fixture, timed}),
    K = key(),
    {ok, Id} = aion:start_workflow(<<"gleam_timed">>, #{<<"key">> => K, <<"ms">> => 2000}, #{}),
    ?assertEqual({ok, #{<<"outcome">> => <<"timed_out">>, <<"slept">> => true, <<"id">> => Id,
                        <<"patched">> => true}}, aion:await(Id, 5000)),
    ?assertEqual({error, not_running}, 'aion@workflow':cancel(Id)),
    {ok, Id2} = 'aion@workflow':start_with(<<"blocker">>, #{<<"key">> => K},
                                           {start_options, <<>>, 60000}),
    ?assertEqual({ok, nil}, 'aion@workflow':terminate(Id2, <<"done with it">>)),
    ?assertEqual({error, {terminated, <<"done with it">>}}, 'aion@workflow':await(Id2, 1000)).

gleam_workflow_uses_typed_signals_queries_children_and_fan_out() ->
    ok = aion:register_workflow(<<"gleam_arith">>, {aion_flow_fixture, arithmetic}),
    ok = aion:register_workflow(<<"gleam_messaging">>, {aion_flow_fixture, messaging}),
    {ok, Id} = aion:start_workflow(<<"gleam_messaging">>, null, #{}),
    aion_test_support:wait_until(fun() ->
        'aion@query':ask(Id, <<"stage">>, <<"now ">>, 1000) =:= {ok, <<"now waiting">>}
    end, 5000),
    ?assertEqual({error, unknown_handler}, 'aion@query':ask(Id, <<"nope">>, null, 1000)),
    ?assertMatch({error, {handler_failed, _}}, 'aion@query':ask(Id, <<"stage">>, 42, 1000)),
    ?assertEqual({ok, 2}, 'aion@query':update(Id, <<"bump">>, 1, 1000)),
    ?assertEqual({error, {rejected, <<"only positive numbers">>}}, 'aion@query':update(Id, <<"bump">>, 0, 1000)),
    Add = 'aion@signal':new(<<"add">>, fun 'aion@json':int/1, fun 'aion@json':as_int/1),
    ?assertEqual({ok, nil}, 'aion@signal':send(Add, Id, 4)),
    ?assertEqual({ok, #{<<"sum">> => 5, <<"doubled">> => [10, 8]}}, aion:await(Id, 5000)),
    ?assertEqual({error, not_running}, 'aion@signal':send(Add, Id, 1)).
