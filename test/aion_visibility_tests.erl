%% Visibility and lifecycle: list/1 pages by cursor in both orders and filters by status,
%% type and creation time; prune/1 and retention_ms remove closed workflows only; a data
%% directory opened read-only reads everything and writes nothing.
-module(aion_visibility_tests).

-include_lib("eunit/include/eunit.hrl").

-import(aion_test_support, [start_run/2, wait_until/2]).

visibility_test_() ->
    {setup, fun aion_test_support:start/0, fun aion_test_support:stop/1,
     fun(_) ->
         [{"list pages by cursor, both orders", fun pages/0},
          {"list filters by creation time and rejects bad options", fun filters/0},
          {"prune removes closed workflows only, and frees their ids", fun prune/0},
          {"id_reuse: reject by default, allow_closed replaces a closed workflow", fun id_reuse/0}]
     end}.

%% Runs of a type only this test uses, completed one after another.
runs(Type, N) ->
    ok = aion:register_workflow(Type, {aion_test_flows, single}),
    [begin
         {ok, Id} = aion:start_workflow(Type, #{<<"activity">> => <<"echo">>, <<"input">> => I}, #{}),
         {ok, _} = aion:await(Id, 10000),
         Id
     end || I <- lists:seq(1, N)].

walk(Filter) ->
    case aion:list(Filter) of
        {ok, Runs, done} -> [ids(Runs)];
        {ok, Runs, Next} -> [ids(Runs) | walk(Filter#{cursor => Next})]
    end.

ids(Runs) -> [Id || #{workflow_id := Id} <- Runs].

pages() ->
    Type = <<"paged-", (aion_test_support:key())/binary>>,
    Ids = runs(Type, 5),
    ?assertEqual([lists:sublist(Ids, 2), lists:sublist(Ids, 3, 2), lists:sublist(Ids, 5, 1)],
                 walk(#{type => Type, limit => 2})),
    ?assertEqual([lists:reverse(lists:nthtail(2, Ids)), lists:reverse(lists:sublist(Ids, 2))],
                 walk(#{type => Type, limit => 3, order => newest_first})),
    %% Without a limit: everything, as before.
    ?assertEqual({ok, Ids}, ok_ids(aion:list(#{type => Type}))),
    ?assertMatch({ok, [_, _, _, _, _], done}, aion:list(#{type => Type, status => completed, limit => 10})),
    {ok, Counts} = aion:count(#{type => Type}),
    ?assertEqual(#{completed => 5, running => 0, blocked => 0, failed => 0, cancelled => 0,
                   terminated => 0, timed_out => 0, continued_as_new => 0}, Counts),
    ?assertEqual({error, {bad_option, {type, 7}}}, aion:count(#{type => 7})).

ok_ids({ok, Runs}) -> {ok, ids(Runs)}.

filters() ->
    Type = <<"timed-", (aion_test_support:key())/binary>>,
    [First, Second] = runs(Type, 2),
    {ok, #{created_at := T1}} = aion:describe(First),
    {ok, #{created_at := T2}} = aion:describe(Second),
    Since = [Id || {Id, T} <- [{First, T1}, {Second, T2}], T >= T2],
    ?assertEqual({ok, Since}, ok_ids(aion:list(#{type => Type, since => T2}))),
    AtT1 = [Id || {Id, T} <- [{First, T1}, {Second, T2}], T =:= T1],
    ?assertEqual({ok, AtT1}, ok_ids(aion:list(#{type => Type, until => T1 + 1, since => T1}))),
    _ = [?assertEqual({error, {bad_option, Bad}}, aion:list(maps:from_list([Bad])))
         || Bad <- [{limit, 0}, {limit, x}, {order, sideways}, {since, <<"yesterday">>},
                    {status, sleeping}, {cursor, <<"not-a-cursor">>}]],
    ?assertEqual({error, {bad_option, nope}}, aion:list(#{nope => 1})).

prune() ->
    Type = <<"pruned-", (aion_test_support:key())/binary>>,
    [Old] = runs(Type, 1),
    timer:sleep(5),
    Cut = os:system_time(millisecond),
    timer:sleep(5),
    [New] = runs(Type, 1),
    Waiting = start_run(<<"blocker">>, #{<<"key">> => aion_test_support:key()}),
    {ok, Removed} = aion:prune(#{closed_before => Cut}),
    ?assert(Removed >= 1),
    ?assertEqual({error, not_found}, aion:describe(Old)),
    ?assertEqual({error, not_found}, aion:history(Old)),
    ?assertMatch({ok, #{status := completed}}, aion:describe(New)),
    %% Running workflows stay, whatever their age.
    {ok, _} = aion:prune(#{closed_before => os:system_time(millisecond) + 60000}),
    ?assertMatch({ok, #{status := running}}, aion:describe(Waiting)),
    ?assertEqual({error, not_found}, aion:describe(New)),
    %% A pruned id can be started again.
    ok = aion:register_workflow(Type, {aion_test_flows, single}),
    ?assertEqual({ok, Old}, aion:start_workflow(Type, #{<<"activity">> => <<"echo">>, <<"input">> => 1},
                                                #{workflow_id => Old})),
    ?assertEqual({error, {bad_option, #{closed_before => soon}}}, aion:prune(#{closed_before => soon})),
    ok = aion:cancel(Waiting).

%% retention_ms removes what closed longer ago than it says, on its own.
retention_test_() ->
    {timeout, 60, fun() ->
        Dir = aion_test_support:start(),
        try
            ok = application:stop(aion),
            ok = application:set_env(aion, retention_ms, 300),
            {ok, _} = application:ensure_all_started(aion),
            ok = aion_test_flows:register_all(),
            [Id] = runs(<<"retained-", (aion_test_support:key())/binary>>, 1),
            wait_until(fun() -> aion:describe(Id) =:= {error, not_found} end, 10000)
        after
            application:unset_env(aion, retention_ms),
            aion_test_support:stop(Dir)
        end
    end}.

%% A directory opened read-only (what the command line does when no node runs): reads
%% answer, writes are refused, nothing changes.
read_only_test_() ->
    {timeout, 60, fun() ->
        case os:getenv("AION_TEST_STORE") of
            "postgres" -> ok;  % a SQLite directory is what this reads
            _ -> read_only()
        end
    end}.

read_only() ->
    Dir = aion_test_support:start(),
    Type = <<"ro-", (aion_test_support:key())/binary>>,
    [Id] = runs(Type, 1),
    Waiting = start_run(<<"blocker">>, #{<<"key">> => aion_test_support:key()}),
    {ok, History} = aion:history(Id),
    ok = application:stop(aion),
    try
        ok = application:set_env(aion, store, sqlite_readonly),
        {ok, _} = application:ensure_all_started(aion),
        ?assertEqual({ok, History}, aion:history(Id)),
        ?assertMatch({ok, [_]}, aion:list(#{type => Type})),
        ?assertMatch({ok, #{status := running}}, aion:describe(Waiting)),
        ?assertMatch({error, {read_only, _}}, aion:signal(Waiting, <<"go">>, 1)),
        ?assertMatch({error, {read_only, _}}, aion:prune(#{closed_before => 0})),
        ?assertMatch({error, _}, aion:start_workflow(<<"blocker">>, #{<<"key">> => <<"k">>}, #{}))
    after
        application:set_env(aion, store, sqlite),
        aion_test_support:stop(Dir)
    end.

id_reuse() ->
    Type = <<"reused-", (aion_test_support:key())/binary>>,
    [Id] = runs(Type, 1),
    Input = #{<<"activity">> => <<"echo">>, <<"input">> => 2},
    ?assertEqual({error, {already_exists, Id}}, aion:start_workflow(Type, Input, #{workflow_id => Id})),
    {ok, #{run_id := OldRun}} = aion:describe(Id),
    ?assertEqual({ok, Id}, aion:start_workflow(Type, Input, #{workflow_id => Id, id_reuse => allow_closed})),
    ?assertEqual({ok, 2}, aion:await(Id, 10000)),
    {ok, #{run_id := NewRun}} = aion:describe(Id),
    ?assertNotEqual(OldRun, NewRun),
    %% A running workflow is never replaced.
    Running = start_run(<<"blocker">>, #{<<"key">> => aion_test_support:key()}),
    ?assertEqual({error, {already_started, Running}},
                 aion:start_workflow(<<"blocker">>, #{<<"key">> => <<"x">>},
                                     #{workflow_id => Running, id_reuse => allow_closed})),
    ?assertEqual({error, {bad_option, {id_reuse, sometimes}}},
                 aion:start_workflow(Type, Input, #{id_reuse => sometimes})),
    ok = aion:cancel(Running).
