%% A cluster of BEAM nodes sharing one PostgreSQL store, each node a real OS process
%% (aion_cluster_node) on this machine; the test VM becomes a distributed node to drive
%% them. Needs AION_PG_URL (see test/with_pg.sh; `make test' sets it): without it the
%% tests say so and pass, unless AION_PG_REQUIRED=1.
%%
%% - three nodes, a mixed workload (retries, timers, signals, children, fan-out, a task
%%   queue only one node serves), kill -9 of one node part-way: every acknowledged run
%%   completes with its exact result; histories have no gap and no duplicate; no activity
%%   runs again after its completion was recorded;
%% - SIGSTOP of a node past its lease: another takes its runs over; after SIGCONT the
%%   paused node's appends are refused, it lets the runs go, nothing is recorded twice;
%% - a worker-only node runs the activities of a queue the workflow node does not serve,
%%   and passes starts made on it to a node that runs workflows.
-module(aion_cluster_tests).

-include_lib("eunit/include/eunit.hrl").

-import(aion_cluster_harness, [cluster/2, nodes_of/1, kill/3, stop_cluster/1, execs/2, has/3,
                               types/2, head/2, owner/2, timed/1, wait_until/2, start_extra/4]).

-define(LEASE_MS, (aion_cluster_harness:lease_ms())).

cluster_test_() ->
    case os:getenv("AION_PG_URL") of
        Url when is_list(Url), Url =/= "" ->
            {setup, fun aion_cluster_harness:distributed/0, fun aion_cluster_harness:undistributed/1,
             [{timeout, 180, {Name, fun() -> Test(Url) end}}
              || {Name, Test} <- [{"kill -9 of one of three nodes mid-workload", fun node_killed/1},
                                  {"SIGSTOP past the lease, SIGCONT: the paused node lets go", fun node_paused/1},
                                  {"a worker-only node runs its queue's activities", fun worker_node/1},
                                  {"one id started on two nodes at once: one start", fun concurrent_starts/1},
                                  {"query, terminate and list with the owner paused keep their time", fun paused_owner/1},
                                  {"an attempt parked by a run let go does not run later", fun parked_attempt/1}]]};
        _ ->
            case os:getenv("AION_PG_REQUIRED") of
                "1" -> [?_assert(error =:= aion_pg_required_but_AION_PG_URL_unset)];
                _ ->
                    io:format(user, "AION_PG_URL is not set: cluster tests skipped~n", []),
                    []
            end
    end.

%% Configuration mistakes stop the application with `{invalid_input, Why}' naming the
%% setting, never a crash deep inside.
config_test_() ->
    case os:getenv("AION_PG_URL") of
        Url when is_list(Url), Url =/= "" ->
            [{Name, fun() -> ?assert(invalid_input(start_with(Url, Env))) end}
             || {Name, Env} <- [{"postgres_schema as an atom", [{postgres_schema, my_schema}]},
                                {"postgres_url as an atom", [{postgres_url, nope}]},
                                {"a role that does not exist", [{role, workers}]},
                                {"a lease that is not an integer", [{lease_ms, "10s"}]},
                                {"task queues that are not names", [{task_queues, [<<>>]}]}]];
        _ ->
            []
    end.

start_with(Url, Extra) ->
    application:stop(aion),
    _ = application:load(aion),
    Keys = [store, postgres_url, postgres_schema, postgres_pool, role, lease_ms, task_queues],
    _ = [ok = application:set_env(aion, K, V)
         || {K, V} <- [{store, postgres}, {postgres_url, Url}, {postgres_pool, 1},
                       {postgres_schema, "cfg" ++ os:getpid()}] ++ Extra],
    Level = maps:get(level, logger:get_primary_config()),
    logger:set_primary_config(level, none),
    R = application:ensure_all_started(aion),
    logger:set_primary_config(level, Level),
    _ = application:stop(aion),
    _ = [application:unset_env(aion, K) || K <- Keys],
    R.

%% Whether `Term' holds `{invalid_input, Why}' and no `badarg'.
invalid_input(Term) ->
    Found = fun Find(T) when is_tuple(T) -> Find(tuple_to_list(T));
                Find([{invalid_input, Why} | _]) when is_binary(Why) -> true;
                Find([H | Rest]) -> Find(H) orelse Find(Rest);
                Find(badarg) -> badarg;
                Find(_) -> false
            end,
    {error, _} = Term,
    Found(Term) =:= true.

%% --- kill -9 ---------------------------------------------------------------------------

node_killed(Url) ->
    C = cluster(Url, [{"n1", all, "default"}, {"n2", all, "default"}, {"n3", all, "default,slow"}]),
    try
        [N1, N2, N3] = Nodes = nodes_of(C),
        Ids = [<<"mixed-", (integer_to_binary(I))/binary>> || I <- lists:seq(1, 30)],
        %% Started round-robin on the three nodes; each signalled from another node.
        _ = [{ok, Id} = erpc:call(lists:nth(1 + I rem 3, Nodes), aion, start_workflow,
                                  [<<"c_flow">>, #{<<"n">> => I}, #{workflow_id => Id}])
             || {I, Id} <- numbered(Ids)],
        _ = [ok = erpc:call(lists:nth(1 + (I + 1) rem 3, Nodes), aion, signal, [Id, <<"go">>, I])
             || {I, Id} <- numbered(Ids)],
        %% Let the children's slow activities (on n3) start, then kill n2.
        timer:sleep(1200),
        {ok, Before} = erpc:call(N1, aion, list, [#{}]),
        OnN2 = [Id || #{workflow_id := Id, owner := O, status := running} <- Before,
                      O =:= atom_to_binary(N2)],
        ?assert(length(OnN2) >= 10),
        kill(C, N2, "-9"),
        Results = [{Id, erpc:call(N1, aion, await, [Id, 60000])} || Id <- Ids],
        _ = [?assertEqual({Id, {ok, #{<<"n">> => I, <<"go">> => I, <<"child">> => 2 * I,
                                      <<"fan">> => [1, 2, 3]}}},
                          lists:keyfind(Id, 1, Results))
             || {I, Id} <- numbered(Ids)],
        %% Every history (parents and children) is numbered without a gap or a repeat, and
        %% no activity ran again once its completion was recorded.
        {ok, All} = erpc:call(N3, aion, list, [#{}]),
        ?assertEqual(60, length(All)),
        _ = [check_history(C, N3, Id) || #{workflow_id := Id} <- All],
        %% The runs n2 owned were taken over and closed by the survivors.
        ?assert(lists:all(fun(#{status := S}) -> S =:= completed end, All)),
        _ = [?assertNotEqual({Id, atom_to_binary(N2)}, {Id, owner(N1, Id)}) || Id <- OnN2],
        ?assertMatch(#{lease_losses := 0}, erpc:call(N1, aion_cluster, info, [])),
        ?assertNot(lists:member(N2, [N || #{node := N} <- erpc:call(N1, aion_cluster, live_nodes, [])]))
    after
        stop_cluster(C)
    end.

%% --- SIGSTOP / SIGCONT -----------------------------------------------------------------

node_paused(Url) ->
    C = cluster(Url, [{"p1", all, "default"}, {"p2", all, "default"}]),
    try
        [P1, P2] = nodes_of(C),
        Ids = [<<"paused-", (integer_to_binary(I))/binary>> || I <- lists:seq(1, 10)],
        _ = [{ok, Id} = erpc:call(P1, aion, start_workflow, [<<"c_stop">>, #{<<"n">> => I}, #{workflow_id => Id}])
             || {I, Id} <- numbered(Ids)],
        %% Each has recorded its first activity and sleeps (1.5 s) on P1.
        wait_until(fun() -> lists:all(fun(Id) -> has(P2, Id, <<"TimerStarted">>) end, Ids) end, 20000),
        #{epoch := Epoch} = erpc:call(P1, aion_cluster, info, []),
        kill(C, P1, "-STOP"),
        %% P2 takes every run over once P1's lease has run out, and runs them on: their
        %% timers fire there, the signals reach them there.
        wait_until(fun() -> lists:all(fun(Id) -> owner(P2, Id) =:= atom_to_binary(P2) end, Ids) end,
                   ?LEASE_MS + 8000),
        _ = [ok = erpc:call(P2, aion, signal, [Id, <<"go">>, I]) || {I, Id} <- numbered(Ids)],
        _ = [?assertEqual({ok, #{<<"n">> => I, <<"go">> => I}}, erpc:call(P2, aion, await, [Id, 30000]))
             || {I, Id} <- numbered(Ids)],
        Heads = [{Id, head(P2, Id)} || Id <- Ids],
        %% P1 wakes up: its timers are due, its lease is gone. Whatever it tries is refused;
        %% it lets the runs go and joins again with a new epoch.
        kill(C, P1, "-CONT"),
        wait_until(fun() ->
                       case erpc:call(P1, aion_cluster, info, []) of
                           #{lease_losses := L, epoch := E} -> L >= 1 andalso E > Epoch;
                           _ -> false
                       end
                   end, 10000),
        _ = [?assertEqual(none, erpc:call(P1, aion_engine, live_run, [Id])) || Id <- Ids],
        timer:sleep(500),
        ?assertEqual(Heads, [{Id, head(P2, Id)} || Id <- Ids]),
        _ = [begin
                 check_history(C, P2, Id),
                 ?assertEqual([<<"TimerFired">>], [T || T <- types(P2, Id), T =:= <<"TimerFired">>])
             end || Id <- Ids]
    after
        stop_cluster(C)
    end.

%% --- worker-only node --------------------------------------------------------------------

worker_node(Url) ->
    C = cluster(Url, [{"w1", all, "default"}, {"w2", worker, "gpu"}]),
    try
        [W1, W2] = nodes_of(C),
        %% w1 learns of w2 within a claim interval.
        wait_until(fun() -> lists:member(W2, [N || #{node := N} <- erpc:call(W1, aion_cluster, live_nodes, [])]) end, 5000),
        {ok, Id} = erpc:call(W1, aion, start_workflow, [<<"c_where">>, null, #{}]),
        ?assertEqual({ok, atom_to_binary(W2)}, erpc:call(W1, aion, await, [Id, 20000])),
        %% A start on the worker runs on w1; w2 owns nothing.
        {ok, Id2} = erpc:call(W2, aion, start_workflow, [<<"c_where">>, null, #{}]),
        ?assertEqual({ok, atom_to_binary(W2)}, erpc:call(W2, aion, await, [Id2, 20000])),
        {ok, H} = erpc:call(W2, aion, history, [Id2]),
        ?assertMatch([#{type := <<"WorkflowStarted">>} | _], H),
        ?assertEqual([], [R || R = #{owner := O} <- element(2, erpc:call(W1, aion, list, [#{}])),
                               O =:= atom_to_binary(W2)]),
        %% A signal whose wake never reaches the owner (pushed to the store alone, as when
        %% the connection to the owner drops) is still recorded: the owner looks.
        {ok, Id3} = erpc:call(W1, aion, start_workflow, [<<"c_stop">>, #{<<"n">> => 3}, #{}]),
        wait_until(fun() -> has(W1, Id3, <<"TimerFired">>) end, 10000),
        ?assertMatch({ok, _}, erpc:call(W2, aion_flow_ffi, nif_engine_push,
                                        [erpc:call(W2, aion_engine, store, []), Id3,
                                         {signal, <<"go">>, <<"7">>, null}, 0, 1])),
        ?assertEqual({ok, #{<<"n">> => 3, <<"go">> => 7}}, erpc:call(W2, aion, await, [Id3, 10000]))
    after
        stop_cluster(C)
    end.

%% --- found in review ---------------------------------------------------------------------

%% Two clients start a workflow with the same id at the same moment on two nodes (a client
%% retrying its start elsewhere): one start, the other refused.
concurrent_starts(Url) ->
    C = cluster(Url, [{"s1", all, "default"}, {"s2", all, "default"}]),
    try
        [S1, S2] = nodes_of(C),
        Self = self(),
        Outcomes = [begin
                        Id = <<"dup-", (integer_to_binary(I))/binary>>,
                        _ = [spawn(fun() ->
                                       R = erpc:call(N, aion, start_workflow,
                                                     [<<"c_stop">>, #{<<"n">> => I}, #{workflow_id => Id}]),
                                       Self ! {Id, N, R}
                                   end) || N <- [S1, S2]],
                        {Id, lists:sort([receive {Id, N, R} -> R after 20000 -> timeout end
                                         || N <- [S1, S2]])}
                    end || I <- lists:seq(1, 10)],
        _ = [?assertMatch({Id, [{error, {Refused, Id}}, {ok, Id}]} when
                              Refused =:= already_exists; Refused =:= already_started,
                          {Id, Rs})
             || {Id, Rs} <- Outcomes]
    after
        stop_cluster(C)
    end.

%% The owner of runs is paused (SIGSTOP, a long GC, a VM migration): a query with a 500 ms
%% timeout made on another node answers about then, list/1 does not wait on the paused
%% node run by run, and a terminate answers within the lease (it takes the run over).
paused_owner(Url) ->
    C = cluster(Url, [{"q1", all, "default"}, {"q2", all, "default"}]),
    try
        [Q1, Q2] = nodes_of(C),
        Ids = [begin
                   {ok, Id} = erpc:call(Q1, aion, start_workflow, [<<"c_stop">>, #{<<"n">> => I}, #{}]),
                   Id
               end || I <- lists:seq(1, 8)],
        wait_until(fun() -> lists:all(fun(Id) -> has(Q2, Id, <<"TimerStarted">>) end, Ids) end, 10000),
        kill(C, Q1, "-STOP"),
        {QueryMs, Query} = timed(fun() -> erpc:call(Q2, aion, query, [hd(Ids), <<"q">>, null, 500], 20000) end),
        ?assertEqual({error, timeout}, Query),
        ?assert(QueryMs < 3000),
        {ListMs, {ok, Runs}} = timed(fun() -> erpc:call(Q2, aion, list, [#{}], 60000) end),
        ?assertEqual(8, length(Runs)),
        ?assert(ListMs < 3000),
        {TermMs, Term} = timed(fun() -> erpc:call(Q2, aion, terminate, [lists:last(Ids), <<"stop">>], 60000) end),
        ?assertEqual(ok, Term),
        ?assert(TermMs < ?LEASE_MS + 5000)
    after
        stop_cluster(C)
    end.

%% A run waits for an attempt on a task queue no live node serves (parked on its owner).
%% The owner is paused past its lease: another node takes the run over (and parks its own
%% attempt); the paused node resumes, loses its lease and lets its run processes go. Then a
%% node serving the queue joins: the activity runs once, not once per node that parked it.
parked_attempt(Url) ->
    C = cluster(Url, [{"k1", all, "default"}, {"k2", all, "default"}]),
    Extra = make_ref(),
    try
        [K1, K2] = nodes_of(C),
        {ok, Id} = erpc:call(K1, aion, start_workflow, [<<"c_child">>, #{<<"n">> => 4}, #{}]),
        wait_until(fun() -> has(K2, Id, <<"ActivityScheduled">>) end, 10000),
        #{epoch := Epoch} = erpc:call(K1, aion_cluster, info, []),
        kill(C, K1, "-STOP"),
        wait_until(fun() -> owner(K2, Id) =:= atom_to_binary(K2) end, ?LEASE_MS + 8000),
        timer:sleep(500),
        kill(C, K1, "-CONT"),
        wait_until(fun() ->
                       case erpc:call(K1, aion_cluster, info, []) of
                           #{lease_losses := L, epoch := E} -> L >= 1 andalso E > Epoch;
                           _ -> false
                       end
                   end, 10000),
        ?assertEqual(none, erpc:call(K1, aion_engine, live_run, [Id])),
        {K3, Port3} = start_extra(C, "k3", all, "default,slow"),
        put(Extra, {K3, Port3}),
        ?assertEqual({ok, 8}, erpc:call(K2, aion, await, [Id, 20000])),
        timer:sleep(2000),
        ?assertMatch([{<<"slow">>, _}], execs(C, Id))
    after
        More = case get(Extra) of
            {K, P} -> [{K, P}];
            _ -> []
        end,
        stop_cluster(C#{nodes := maps:get(nodes, C) ++ More})
    end.

%% --- checks ------------------------------------------------------------------------------

check_history(C, Node, Id) ->
    {ok, H} = erpc:call(Node, aion, history, [Id]),
    ?assertEqual({Id, lists:seq(1, length(H))}, {Id, [S || #{seq := S} <- H]}),
    Scheduled = [O || #{type := <<"ActivityScheduled">>, ordinal := O} <- H],
    ?assertEqual(lists:usort(Scheduled), lists:sort(Scheduled)),
    Completed = [{O, A} || #{type := <<"ActivityCompleted">>, ordinal := O, attempt := A} <- H],
    ?assertEqual(length(Completed), length(lists:ukeysort(1, Completed))),
    Steps = maps:from_list([{O, maps:get(<<"step">>, In)}
                            || #{type := <<"ActivityScheduled">>, ordinal := O, input := In} <- H,
                               is_map(In), is_map_key(<<"step">>, In)]),
    Execs = execs(C, Id),
    _ = [?assertEqual({Id, Step, []},
                      {Id, Step, [A || {S, A} <- Execs, S =:= Step, A > Done]})
         || {O, Done} <- Completed, Step <- [maps:get(O, Steps, none)], Step =/= none],
    ok.

numbered(Ids) ->
    lists:zip(lists:seq(1, length(Ids)), Ids).
