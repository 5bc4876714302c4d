%% "One durable point per step": what only the run has learned (an attempt's result) waits
%% for the run's next append, so a step costs one commit; nothing leaves the run before the
%% append that covers it is durable, and a run that dies before that append replays the
%% step (the activity runs again) without anybody having seen the first try.
-module(aion_durable_tests).

-include_lib("eunit/include/eunit.hrl").

-export([seq/1, count/1, ahead/1, start_crash/1, quick/1, slow_start/1]).

-import(aion_test_support, [wait_until/2, key/0]).

%% Workflows and activities under test.

%% `N' sequential activities, then the number of them.
seq(#{<<"n">> := N}) ->
    lists:foreach(fun(I) -> {ok, _} = aion_flow:activity(<<"durable_count">>, I) end, lists:seq(1, N)),
    {ok, N}.

%% Counts its calls per key (in the shared table) and returns the count.
count(#{<<"key">> := K}) ->
    {ok, ets:update_counter(aion_test_calls, {durable_count, K}, 1, {{durable_count, K}, 0})};
count(_) ->
    {ok, null}.

%% Runs one activity, then holds the process in workflow code (no wait, no append) until
%% the test lets it go: the activity's result is known to the run only.
ahead(#{<<"key">> := K}) ->
    {ok, Count} = aion_flow:activity(<<"durable_count">>, #{<<"key">> => K}),
    ets:insert(aion_test_calls, {{durable_ahead, K}, self(), Count}),
    receive {durable_go, K} -> ok after 30000 -> ok end,
    {ok, Count}.

start_crash(_) ->
    erlang:error(crash_before_any_command).

quick(Input) ->
    {ok, Input}.

%% Computes for a while before its first command (bad workflow code, but possible).
slow_start(Ms) ->
    timer:sleep(Ms),
    {ok, done}.

setup() ->
    Dir = aion_test_support:start(sqlite),
    ok = aion:register_activity(<<"durable_count">>, {?MODULE, count}),
    ok = aion:register_workflow(<<"durable_seq">>, {?MODULE, seq}),
    ok = aion:register_workflow(<<"durable_ahead">>, {?MODULE, ahead}),
    ok = aion:register_workflow(<<"durable_start_crash">>, {?MODULE, start_crash}),
    ok = aion:register_workflow(<<"durable_quick">>, {?MODULE, quick}),
    ok = aion:register_workflow(<<"durable_slow_start">>, {?MODULE, slow_start}),
    Dir.

durable_test_() ->
    {setup, fun setup/0, fun aion_test_support:stop/1,
     [{timeout, 60, T} || T <- [fun a_result_rides_with_the_next_append/0,
                                fun a_run_that_dies_before_its_next_append_replays_the_step/0,
                                fun a_start_is_durable_with_the_first_append/0,
                                fun a_start_that_takes_too_long_is_stopped_and_kept_nowhere/0]]}.

%% Ten sequential activities: the start shares the first command's append, each result
%% the next command's, the last result the close's commit (the close as an append of its
%% own) — 11 commits in all; the
%% history holds every event, numbered without a gap.
a_result_rides_with_the_next_append() ->
    Commits0 = commits(),
    {ok, Id} = aion:start_workflow(<<"durable_seq">>, #{<<"n">> => 10}, #{}),
    ?assertEqual({ok, 10}, aion:await(Id, 10000)),
    ?assertEqual(11, commits() - Commits0),
    {ok, History} = aion:history(Id),
    ?assertEqual(lists:seq(1, length(History)), [S || #{seq := S} <- History]),
    Types = [T || #{type := T} <- History],
    ?assertEqual(10, length([T || T <- Types, T =:= <<"ActivityCompleted">>])),
    ?assertEqual(<<"WorkflowCompleted">>, lists:last(Types)).

%% The result of an attempt is kept back while the code goes on; the run is killed before
%% its next append: the replay finds the attempt lost, runs it again, and the workflow
%% sees the second result. Nobody saw the first (it was never durable).
a_run_that_dies_before_its_next_append_replays_the_step() ->
    K = key(),
    {ok, Id} = aion:start_workflow(<<"durable_ahead">>, #{<<"key">> => K}, #{}),
    wait_until(fun() -> ets:lookup(aion_test_calls, {durable_ahead, K}) =/= [] end, 5000),
    [{_, Pid1, 1}] = ets:lookup(aion_test_calls, {durable_ahead, K}),
    %% The code has the result; the store does not.
    ?assertEqual([], aion_test_support:events(Id, <<"ActivityCompleted">>)),
    ?assertEqual({error, timeout}, aion:await(Id, 0)),
    ets:delete(aion_test_calls, {durable_ahead, K}),
    exit(Pid1, kill),
    wait_until(fun() -> ets:lookup(aion_test_calls, {durable_ahead, K}) =/= [] end, 10000),
    [{_, Pid2, 2}] = ets:lookup(aion_test_calls, {durable_ahead, K}),
    Pid2 ! {durable_go, K},
    ?assertEqual({ok, 2}, aion:await(Id, 10000)),
    [Lost] = aion_test_support:events(Id, <<"ActivityFailed">>),
    ?assertMatch(#{attempt := 1, error := #{<<"type">> := <<"worker_lost">>}}, Lost),
    ?assertMatch([#{attempt := 2, result := 2}], aion_test_support:events(Id, <<"ActivityCompleted">>)).

%% A start is answered once `WorkflowStarted' is durable: with the run's first append, or
%% on its own when the code crashes before any (the run is then blocked, and exists). A
%% taken id is refused as before.
a_start_is_durable_with_the_first_append() ->
    K = key(),
    Quick = <<"quick-", K/binary>>,
    ?assertEqual({ok, Quick}, aion:start_workflow(<<"durable_quick">>, 5, #{workflow_id => Quick})),
    ?assertEqual([<<"WorkflowStarted">>, <<"WorkflowCompleted">>], aion_test_support:types(Quick)),
    ?assertEqual({ok, 5}, aion:await(Quick, 1000)),
    ?assertEqual({error, {already_exists, Quick}},
                 aion:start_workflow(<<"durable_quick">>, 6, #{workflow_id => Quick})),
    ?assertEqual([<<"WorkflowStarted">>, <<"WorkflowCompleted">>], aion_test_support:types(Quick)),
    Crash = <<"crash-", K/binary>>,
    ?assertEqual({ok, Crash}, aion:start_workflow(<<"durable_start_crash">>, null, #{workflow_id => Crash})),
    wait_until(fun() -> element(2, aion:describe(Crash)) =/= #{} andalso
                        maps:get(status, element(2, aion:describe(Crash))) =:= blocked end, 5000),
    ?assertEqual([<<"WorkflowStarted">>], aion_test_support:types(Crash)),
    ?assertEqual({error, {already_started, Crash}},
                 aion:start_workflow(<<"durable_start_crash">>, null, #{workflow_id => Crash})).

%% The code runs longer than `start_timeout_ms' before its first command: the start is
%% answered `timeout' and the workflow never appears (its process was stopped before
%% anything was durable).
a_start_that_takes_too_long_is_stopped_and_kept_nowhere() ->
    Id = <<"slow-", (key())/binary>>,
    ok = application:set_env(aion, start_timeout_ms, 200),
    try
        ?assertEqual({error, timeout},
                     aion:start_workflow(<<"durable_slow_start">>, 600, #{workflow_id => Id}))
    after
        application:unset_env(aion, start_timeout_ms)
    end,
    timer:sleep(800),
    ?assertEqual({error, not_found}, aion:describe(Id)),
    %% Not blocked or retried either: there is nothing of it.
    ?assertEqual([], ets:lookup(aion_blocked, Id)),
    ?assertEqual({ok, Id}, aion:start_workflow(<<"durable_slow_start">>, 0, #{workflow_id => Id})),
    ?assertEqual({ok, <<"done">>}, aion:await(Id, 5000)).

commits() ->
    {ok, #{commits := N}} = aion_engine:store_stats(),
    N.
