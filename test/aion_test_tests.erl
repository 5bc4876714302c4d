%% The test harness (aion_test) and the replayer (aion_replay, aion:export_history/2).
-module(aion_test_tests).

-include_lib("eunit/include/eunit.hrl").

-define(DAY, 86400000).

harness_test_() ->
    {foreach, fun aion_test:new/0, fun aion_test:stop/1,
     [fun(Env) -> {Name, fun() -> Test(Env) end} end
      || {Name, Test} <- [
             {"a 30-day workflow with daily timers completes in well under a second", fun thirty_days/1},
             {"a mocked activity fails twice then succeeds", fun fails_twice_then_succeeds/1},
             {"advance/2 moves virtual time and fires due timers only", fun advance_fires_due_timers/1},
             {"signals, queries, updates and cancellation at chosen virtual times", fun interactive/1},
             {"assert_replay passes for unchanged code and names the seq for changed code", fun assert_replay/1},
             {"a history exported, re-imported and replayed", fun exported_history/1},
             {"the replayer command line reports divergences", fun command_line/1},
             {"hour-long deadlines and a day-long execution timeout on virtual time", fun long_deadlines/1}]]}.

thirty_days(Env) ->
    ok = aion_test:mock_activity(Env, <<"daily_report">>, fun(Day) -> {ok, Day} end),
    Start = aion_test:now(Env),
    T0 = erlang:monotonic_time(millisecond),
    {ok, Id} = aion_test:start(Env, {aion_test_flows_v, thirty_days}, null),
    ?assertEqual({ok, 30}, aion_test:result(Env, Id)),
    Wall = erlang:monotonic_time(millisecond) - T0,
    ?assert(aion_test:now(Env) - Start >= 30 * ?DAY),
    %% Typically ~0.1 s; the bound leaves room for a loaded CI machine.
    io:format(user, "~n    30 virtual days took ~b ms of wall time~n", [Wall]),
    ?assert(Wall < 2000),
    ?assertEqual(lists:append([[{timer, <<"sleep">>, ?DAY}, {activity, <<"daily_report">>, D}]
                               || D <- lists:seq(1, 30)]) ++ [{close, <<"WorkflowCompleted">>}],
                 aion_test:calls(Env, Id)).

fails_twice_then_succeeds(Env) ->
    ok = aion_test:mock_activity(Env, <<"charge">>,
                                 {sequence, [{error, gateway_down}, {error, gateway_down}, {ok, <<"paid">>}]}),
    {ok, Id} = aion_test:start(Env, {aion_test_flows_v, retrying}, null),
    ?assertEqual({ok, <<"paid">>}, aion_test:result(Env, Id)),
    ?assertEqual([{activity, <<"charge">>, 100}, {close, <<"WorkflowCompleted">>}], aion_test:calls(Env, Id)),
    {ok, History} = aion:history(Id),
    ?assertEqual([1, 2, 3], [A || #{type := <<"ActivityStarted">>, attempt := A} <- History]),
    ?assertEqual({error, {bad_mock, nope}}, aion_test:mock_activity(Env, <<"x">>, nope)).

advance_fires_due_timers(Env) ->
    ok = aion_test:mock_activity(Env, <<"daily_report">>, fun(Day) -> {ok, Day} end),
    {ok, Id} = aion_test:start(Env, {aion_test_flows_v, thirty_days}, null),
    ok = aion_test:advance(Env, ?DAY - 1),
    ?assertEqual([{timer, <<"sleep">>, ?DAY}], aion_test:calls(Env, Id)),
    ok = aion_test:advance(Env, 1),
    ?assertMatch([{timer, _, _}, {activity, <<"daily_report">>, 1}, {timer, _, _}], aion_test:calls(Env, Id)).

interactive(Env) ->
    ok = aion_test:mock_activity(Env, <<"undo">>, {result, {ok, done}}),
    {ok, A} = aion_test:start(Env, {aion_test_flows_v, interactive}, null),
    ?assertEqual({ok, <<"waiting">>}, aion_test:query(Env, A, <<"stage">>, null)),
    ?assertEqual({ok, <<"ann's order">>}, aion_test:update(Env, A, <<"rename">>, <<"ann's order">>)),
    ?assertEqual({error, {rejected, <<"a name is a string">>}}, aion_test:update(Env, A, <<"rename">>, 7)),
    ok = aion_test:advance(Env, 30 * 60000),
    SignalledAt = aion_test:now(Env),
    ok = aion_test:signal(Env, A, <<"approve">>, <<"ann">>),
    ?assertEqual({ok, #{<<"approved_by">> => <<"ann">>, <<"name">> => <<"ann's order">>, <<"at">> => SignalledAt}},
                 aion_test:result(Env, A)),
    {ok, B} = aion_test:start(Env, {aion_test_flows_v, interactive}, null),
    ok = aion_test:cancel(Env, B),
    ?assertEqual({error, {cancelled, #{<<"ok">> => <<"undone">>}}}, aion_test:result(Env, B)),
    ?assertEqual(ok, aion_test:assert_replay(Env, A)),
    ?assertEqual(ok, aion_test:assert_replay(Env, B)),
    %% Nothing but a signal can move a waiting workflow on: time alone does not.
    {ok, C} = aion_test:start(Env, {aion_test_flows_v, interactive}, null),
    ok = aion_test:advance(Env, 2 * 3600000),
    ?assertEqual(running, aion_test:result(Env, C)).

assert_replay(Env) ->
    [ok = aion_test:mock_activity(Env, N, {result, {ok, N}}) || N <- [<<"reserve">>, <<"charge">>, <<"ship">>]],
    persistent_term:put({aion_test_flows_v, version}, v1),
    {ok, Id} = aion_test:start(Env, {aion_test_flows_v, versioned}, null),
    {ok, <<"ship">>} = aion_test:result(Env, Id),
    ?assertEqual(ok, aion_test:assert_replay(Env, Id)),
    persistent_term:put({aion_test_flows_v, version}, v2),
    try
        {error, Report} = aion_test:assert_replay(Env, Id),
        ?assertMatch(#{seq := 5, recorded := <<"ActivityScheduled(ordinal 2, name \"ship\")">>,
                       requested := <<"ActivityScheduled(ordinal 2, name \"charge\")">>,
                       location := #{module := aion_test_flows_v, function := versioned, line := _}}, Report)
    after
        persistent_term:erase({aion_test_flows_v, version})
    end.

exported_history(Env) ->
    [ok = aion_test:mock_activity(Env, N, {result, {ok, N}}) || N <- [<<"reserve">>, <<"charge">>, <<"ship">>]],
    {ok, Id} = aion_test:start(Env, {aion_test_flows_v, versioned}, null),
    {ok, _} = aion_test:result(Env, Id),
    Path = filename:join(aion_test_support:tmp_dir("aion_export"), "order.json"),
    ok = aion:export_history(Id, Path),
    {ok, Text} = file:read_file(Path),
    {ok, #{<<"format">> := <<"aion-history">>, <<"version">> := 1, <<"workflow_id">> := Id,
           <<"events">> := Events}} = aion_flow_ffi:json_decode(Text),
    {ok, History} = aion:history(Id),
    ?assertEqual(length(History), length(Events)),
    ?assertEqual(ok, aion_replay:check(Path, {aion_test_flows_v, versioned})),
    persistent_term:put({aion_test_flows_v, version}, v2),
    try
        ?assertMatch({error, #{seq := 5}}, aion_replay:check(list_to_binary(Path), {aion_test_flows_v, versioned}))
    after
        persistent_term:erase({aion_test_flows_v, version})
    end,
    ?assertEqual({error, not_found}, aion:export_history(<<"no-such-workflow">>, Path)),
    ?assertMatch({error, #{message := _}}, aion_replay:check("/no/such/file.json", {aion_test_flows_v, versioned})),
    ok = file:write_file(Path, <<"{\"format\": \"something else\"}">>),
    ?assertMatch({error, #{message := <<_/binary>>}}, aion_replay:check(Path, {aion_test_flows_v, versioned})).

command_line(Env) ->
    [ok = aion_test:mock_activity(Env, N, {result, {ok, N}}) || N <- [<<"reserve">>, <<"charge">>, <<"ship">>]],
    {ok, Id} = aion_test:start(Env, {aion_test_flows_v, versioned}, null),
    {ok, _} = aion_test:result(Env, Id),
    Dir = aion_test_support:tmp_dir("aion_replay_cli"),
    ok = aion:export_history(Id, filename:join(Dir, "a.json")),
    Erl = os:find_executable("erl"),
    Paths = lists:usort([filename:dirname(code:which(M)) || M <- [aion, aion_test_flows_v]]),
    Run = fun(Eval) ->
        os:cmd(lists:flatten([Erl, " -noshell", [[" -pa ", P] || P <- Paths], " -eval '", Eval, "'"]))
    end,
    Ok = Run(io_lib:format("aion_replay:main(\"~s\", \"aion_test_flows_v:versioned\")", [Dir])),
    ?assertMatch({match, _}, re:run(Ok, "1 histories, 0 diverged")),
    Diverged = Run(io_lib:format("persistent_term:put({aion_test_flows_v, version}, v2), "
                                 "aion_replay:main(\"~s\", \"aion_test_flows_v:versioned\")", [Dir])),
    ?assertMatch({match, _}, re:run(Diverged, "DIVERGED")),
    ?assertMatch({match, _}, re:run(Diverged, "seq: 5")),
    ?assertMatch({match, _}, re:run(Diverged, "location: aion_test_flows_v:versioned/1")).

long_deadlines(Env) ->
    {ok, A} = aion_test:start(Env, {aion_test_flows_v, deadline}, null),
    HourFrom = aion_test:now(Env),
    ?assertEqual({ok, <<"timed_out">>}, aion_test:result(Env, A)),
    ?assertEqual(HourFrom + 3600000, aion_test:now(Env)),
    {ok, B} = aion_test:start(Env, {aion_time_flows, sleep_then_fail}, #{<<"ms">> => 7 * ?DAY},
                              #{execution_timeout_ms => ?DAY}),
    Started = aion_test:now(Env),
    ?assertEqual({error, timed_out}, aion_test:result(Env, B)),
    ?assertEqual(Started + ?DAY, aion_test:now(Env)).
