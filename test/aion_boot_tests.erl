%% Boot-time behaviour: types declared in the application env, resumption when a type is
%% registered after start, the in-memory store, and the activity concurrency bound.
-module(aion_boot_tests).

-include_lib("eunit/include/eunit.hrl").

declared_types_are_registered_at_boot_test() ->
    aion_test_support:ensure_calls_table(),
    application:stop(aion),
    _ = application:load(aion),
    ok = application:set_env(aion, store, memory),
    ok = application:set_env(aion, workflows, #{<<"declared">> => {aion_test_flows, single}}),
    ok = application:set_env(aion, activities, #{echo => {aion_test_flows, echo}}),
    try
        {ok, _} = application:ensure_all_started(aion),
        {ok, Id} = aion:start_workflow(<<"declared">>, #{<<"activity">> => <<"echo">>, <<"input">> => 7}, #{}),
        ?assertEqual({ok, 7}, aion:await(Id, 5000))
    after
        application:stop(aion),
        application:set_env(aion, workflows, #{}),
        application:set_env(aion, activities, #{})
    end.

memory_store_runs_workflows_test() ->
    aion_test_support:start(memory),
    try
        Tag = <<"mem">>,
        {ok, Id} = aion:start_workflow(<<"three_steps">>, #{<<"tag">> => Tag}, #{}),
        ?assertEqual({ok, [10, 20, 30]}, aion:await(Id, 5000)),
        ?assertMatch({ok, [_ | _]}, aion:history(Id))
    after
        aion_test_support:stop(x)
    end.

runs_wait_for_their_type_and_resume_when_it_is_registered_test() ->
    Dir = aion_test_support:start(sqlite),
    K = integer_to_binary(erlang:unique_integer([positive])),
    {ok, Id} = aion:start_workflow(<<"blocker">>, #{<<"key">> => K}, #{}),
    aion_test_support:wait_until(fun() -> aion_test_flows:calls({wait_release, K}) =:= 1 end, 5000),
    ok = application:stop(aion),
    %% Boot again on the same store, registering only the activity.
    ets:delete(aion_test_calls, {waiting, K}),
    {ok, _} = application:ensure_all_started(aion),
    try
        ok = aion:register_activity(<<"wait_release">>, {aion_test_flows, wait_release}),
        timer:sleep(100),
        ?assertMatch({ok, #{status := running}}, aion:describe(Id)),
        ?assertEqual([], ets:lookup(aion_runs, Id)),
        ?assertEqual(1, aion_test_flows:calls({wait_release, K})),
        ok = aion:register_workflow(<<"blocker">>, {aion_test_flows, blocker}),
        aion_test_support:wait_until(fun() -> ets:lookup(aion_test_calls, {waiting, K}) =/= [] end, 5000),
        [{_, Pid}] = ets:lookup(aion_test_calls, {waiting, K}),
        Pid ! release,
        ?assertEqual({ok, <<"released">>}, aion:await(Id, 5000)),
        ?assertEqual(2, aion_test_flows:calls({wait_release, K}))
    after
        aion_test_support:stop(Dir)
    end.

activity_concurrency_is_bounded_per_task_queue_test() ->
    ok = application:set_env(aion, activity_concurrency, 2),
    aion_test_support:start(memory),
    try
        K = <<"bounded">>,
        Ids = [begin
                   {ok, Id} = aion:start_workflow(<<"single">>, #{<<"activity">> => <<"gauge">>,
                       <<"input">> => #{<<"key">> => K, <<"ms">> => 60}}, #{}),
                   Id
               end || _ <- lists:seq(1, 6)],
        [?assertMatch({ok, _}, aion:await(Id, 5000)) || Id <- Ids],
        ?assertEqual(2, aion_test_flows:calls({gauge_max, K}))
    after
        aion_test_support:stop(x),
        application:set_env(aion, activity_concurrency, 100)
    end.

signal_to_a_workflow_without_a_process_is_recorded_and_read_when_it_runs_test() ->
    Dir = aion_test_support:start(sqlite),
    ok = aion_comm_flows:register_all(),
    {ok, Id} = aion:start_workflow(<<"signal_waiter">>, #{}, #{}),
    aion_test_support:wait_until(fun() -> ets:lookup(aion_runs, Id) =/= [] end, 5000),
    ok = application:stop(aion),
    {ok, _} = application:ensure_all_started(aion),
    try
        %% The type is not registered: no process runs the workflow, the signals still land
        %% (durable in its inbox; the run records them when it runs).
        ?assertEqual([], ets:lookup(aion_runs, Id)),
        ok = aion:signal(Id, <<"go">>, 1),
        ok = aion:signal(Id, <<"go">>, 2),
        {ok, Before} = aion:history(Id),
        ?assertEqual(0, length([E || E = #{type := <<"SignalReceived">>} <- Before])),
        %% ... across a restart too.
        ok = application:stop(aion),
        {ok, _} = application:ensure_all_started(aion),
        ok = aion:register_workflow(<<"signal_waiter">>, {aion_comm_flows, signal_waiter}),
        ?assertEqual({ok, [1, 2]}, aion:await(Id, 5000)),
        {ok, After} = aion:history(Id),
        ?assertEqual(2, length([E || E = #{type := <<"SignalReceived">>} <- After]))
    after
        aion_test_support:stop(Dir)
    end.

run_whose_append_is_refused_stops_and_is_replayed_after_a_backoff_test() ->
    Dir = aion_test_support:start(sqlite),
    ok = aion_time_flows:register_all(),
    try
        {ok, Id} = aion:start_workflow(<<"sleeper">>, #{<<"ms">> => 300}, #{}),
        aion_test_support:wait_until(fun() ->
            {ok, H} = aion:history(Id),
            lists:any(fun(#{type := T}) -> T =:= <<"TimerStarted">> end, H)
        end, 5000),
        [{_, Pid}] = ets:lookup(aion_runs, Id),
        %% A second writer appends behind the run process's back: its next append (the
        %% timer firing) carries a stale head and is refused.
        {ok, {Other, _, _, _, _}} = aion_flow_ffi:nif_run_open(aion_engine:store(), Id),
        Tag = aion_flow_ffi:tag(),
        {ok, {recording, _, _}} = aion_flow_ffi:nif_run_request_cancel(Other, <<"null">>, aion_flow_ffi:now_ms(), Tag),
        receive {aion_durable, Tag, ok} -> ok end,
        aion_test_support:wait_until(fun() -> not is_process_alive(Pid) end, 5000),
        %% Replayed after the backoff, the run sees the cancellation and closes.
        ?assertEqual({error, {cancelled, #{<<"error">> => <<"cancelled">>}}}, aion:await(Id, 5000)),
        {ok, H} = aion:history(Id),
        ?assertEqual(lists:seq(1, length(H)), [S || #{seq := S} <- H])
    after
        aion_test_support:stop(Dir)
    end.

%% In a release (relx sets RELEASE_NAME) the SQLite store needs data_dir set: the default
%% would be inside the release directory, which a deploy replaces.
release_needs_a_data_dir_test() ->
    application:stop(aion),
    _ = application:load(aion),
    Saved = application:get_env(aion, data_dir),
    application:unset_env(aion, data_dir),
    ok = application:set_env(aion, store, sqlite),
    os:putenv("RELEASE_NAME", "someapp"),
    Level = maps:get(level, logger:get_primary_config()),
    logger:set_primary_config(level, none),
    try
        {error, Reason} = application:ensure_all_started(aion),
        ?assertMatch({aion, {{shutdown, {failed_to_start_child, aion_engine,
                                         {store_open_failed, {invalid_input, _}}}}, _}},
                     Reason)
    after
        logger:set_primary_config(level, Level),
        os:unsetenv("RELEASE_NAME"),
        case Saved of
            {ok, Dir} -> application:set_env(aion, data_dir, Dir);
            undefined -> ok
        end
    end.
