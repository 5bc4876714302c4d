%% A store written by aion before schema version 3 (test/fixtures/store_v2, made by
%% aion_migrate_flows:make_fixture/1) is migrated at boot, and its runs finish.
-module(aion_migration_tests).

-include_lib("eunit/include/eunit.hrl").

store_from_schema_version_2_is_migrated_and_its_runs_finish_test_() ->
    {timeout, 60, fun migrated/0}.

migrated() ->
    aion_test_support:ensure_calls_table(),
    Dir = aion_test_support:tmp_dir("aion_migration"),
    {ok, _} = file:copy(filename:join(fixtures(), "store_v2/aion.db"), filename:join(Dir, "aion.db")),
    application:stop(aion),
    _ = application:load(aion),
    ok = application:set_env(aion, data_dir, Dir),
    ok = application:set_env(aion, store, sqlite),
    {ok, _} = application:ensure_all_started(aion),
    try
        persistent_term:put({aion_migrate_flows, failing}, false),
        ok = aion_migrate_flows:register_all(),
        ok = aion:signal(<<"mig-signal">>, <<"go">>, <<"after the upgrade">>),
        ?assertEqual({ok, #{<<"a">> => 10, <<"signal">> => <<"after the upgrade">>}},
                     aion:await(<<"mig-signal">>, 10000)),
        ?assertEqual({ok, 20}, aion:await(<<"mig-sleeps">>, 10000)),
        ?assertEqual({ok, 300}, aion:await(<<"mig-retries">>, 10000)),
        ?assertEqual({ok, 40}, aion:await(<<"mig-done">>, 1000)),
        ?assertMatch({error, {cancelled, #{<<"ok">> := <<"compensated">>}}}, aion:await(<<"mig-cancelled">>, 1000)),
        ?assertMatch({error, {cancelled, #{<<"ok">> := 60}}}, aion:await(<<"mig-cancel-activity">>, 1000)),
        %% The cancellation written by version 2 now carries its cause.
        ?assertMatch([#{cause := <<"cancel_request">>, error := #{<<"type">> := <<"cancelled">>}}],
                     aion_test_support:events(<<"mig-cancel-activity">>, <<"ActivityFailed">>)),
        ?assertMatch([#{cause := <<"cancel_request">>}],
                     aion_test_support:events(<<"mig-cancelled">>, <<"TimerCancelled">>)),
        %% Every history replays against the same code.
        _ = [?assertEqual(ok, aion_replay:check(Id, mf(Id)))
             || Id <- [<<"mig-signal">>, <<"mig-sleeps">>, <<"mig-retries">>, <<"mig-done">>,
                       <<"mig-cancelled">>, <<"mig-cancel-activity">>]]
    after
        persistent_term:erase({aion_migrate_flows, failing}),
        aion_test_support:stop(Dir)
    end.

mf(<<"mig-signal">>) -> {aion_migrate_flows, waits_signal};
mf(<<"mig-sleeps">>) -> {aion_migrate_flows, sleeps};
mf(<<"mig-retries">>) -> {aion_migrate_flows, retries};
mf(<<"mig-done">>) -> {aion_migrate_flows, done};
mf(<<"mig-cancelled">>) -> {aion_migrate_flows, cancelled};
mf(<<"mig-cancel-activity">>) -> {aion_migrate_flows, cancel_activity}.

fixtures() ->
    %% The test modules are built into _build/test/lib/aion/test; the fixtures stay in the
    %% source tree next to this file.
    Src = proplists:get_value(source, ?MODULE:module_info(compile)),
    filename:join(filename:dirname(Src), "fixtures").
