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

-define(LEASE_MS, 2000).

cluster_test_() ->
    case os:getenv("AION_PG_URL") of
        Url when is_list(Url), Url =/= "" ->
            {setup, fun distributed/0, fun undistributed/1,
             [{timeout, 180, {Name, fun() -> Test(Url) end}}
              || {Name, Test} <- [{"kill -9 of one of three nodes mid-workload", fun node_killed/1},
                                  {"SIGSTOP past the lease, SIGCONT: the paused node lets go", fun node_paused/1},
                                  {"a worker-only node runs its queue's activities", fun worker_node/1}]]};
        _ ->
            case os:getenv("AION_PG_REQUIRED") of
                "1" -> [?_assert(error =:= aion_pg_required_but_AION_PG_URL_unset)];
                _ ->
                    io:format(user, "AION_PG_URL is not set: cluster tests skipped~n", []),
                    []
            end
    end.

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

%% The attempts each step of workflow `Id' started: [{Step, Attempt}].
execs(#{dir := Dir}, Id) ->
    Prefix = aion_cluster_node:file_id(Id) ++ "__",
    [begin
         [_, Step, Attempt | _] = string:split(F, "__", all),
         {list_to_binary(Step), list_to_integer(Attempt)}
     end || F <- filelib:wildcard(Prefix ++ "*", filename:join(Dir, "exec"))].

has(Node, Id, Type) ->
    lists:member(Type, types(Node, Id)).

types(Node, Id) ->
    case erpc:call(Node, aion, history, [Id]) of
        {ok, H} -> [T || #{type := T} <- H];
        _ -> []
    end.

head(Node, Id) ->
    {ok, #{head := Head}} = erpc:call(Node, aion, describe, [Id]),
    Head.

owner(Node, Id) ->
    case erpc:call(Node, aion, describe, [Id]) of
        {ok, Summary} -> maps:get(owner, Summary, null);
        _ -> null
    end.

numbered(Ids) ->
    lists:zip(lists:seq(1, length(Ids)), Ids).

%% --- nodes -------------------------------------------------------------------------------

distributed() ->
    _ = os:cmd("epmd -daemon"),
    Name = list_to_atom("aion_ctl_" ++ os:getpid()),
    {ok, _} = net_kernel:start([Name, shortnames]),
    erlang:set_cookie(node(), aion_cluster_test),
    ok.

undistributed(_) ->
    net_kernel:stop().

%% Starts one OS process per `{Name, Role, Queues}' on a fresh schema; returns once all are
%% up and connected.
cluster(Url, Specs) ->
    Dir = aion_test_support:tmp_dir("aion_cluster"),
    Schema = "cl" ++ integer_to_list(erlang:unique_integer([positive])) ++ "_" ++ os:getpid(),
    Suffix = "_" ++ integer_to_list(erlang:unique_integer([positive])),
    {ok, Host} = inet:gethostname(),
    Nodes = [begin
                 Node = list_to_atom(Name ++ Suffix ++ "@" ++ Host),
                 Port = start_node(Name ++ Suffix, Url, Schema, Dir, Role, Queues),
                 {Node, Port}
             end || {Name, Role, Queues} <- Specs],
    C = #{dir => Dir, nodes => Nodes},
    _ = [wait_for(filename:join(Dir, "ready." ++ atom_to_list(N)), Port, 60000) || {N, Port} <- Nodes],
    _ = [true = net_kernel:connect_node(N) || {N, _} <- Nodes],
    C.

nodes_of(#{nodes := Nodes}) -> [N || {N, _} <- Nodes].

start_node(Name, Url, Schema, Dir, Role, Queues) ->
    Erl = os:find_executable("erl"),
    Paths = lists:usort([filename:dirname(code:which(M)) || M <- [aion, aion_cluster_node]]),
    Args = ["-noshell", "-sname", Name, "-setcookie", "aion_cluster_test"]
        ++ lists:append([["-pa", P] || P <- Paths])
        ++ ["-eval", "aion_cluster_node:main()"],
    Env = [{"AION_PG_URL", Url}, {"AION_PG_SCHEMA", Schema}, {"AION_CLUSTER_DIR", Dir},
           {"AION_ROLE", atom_to_list(Role)}, {"AION_QUEUES", Queues},
           {"AION_LEASE_MS", integer_to_list(?LEASE_MS)}],
    open_port({spawn_executable, Erl},
              [{args, Args}, {env, Env}, exit_status, stderr_to_stdout, binary]).

wait_for(File, Port, Left) when Left =< 0 ->
    erlang:error({timeout_waiting_for, File, Port});
wait_for(File, Port, Left) ->
    case filelib:is_file(File) of
        true -> ok;
        false ->
            receive
                {Port, {exit_status, Status}} -> erlang:error({node_exited, File, Status})
            after 50 -> wait_for(File, Port, Left - 50)
            end
    end.

%% Sends signal `Signal' ("-9", "-STOP", "-CONT") to node `Node''s OS process.
kill(#{dir := Dir}, Node, Signal) ->
    {ok, Pid} = file:read_file(filename:join(Dir, "pid." ++ atom_to_list(Node))),
    [] = os:cmd("kill " ++ Signal ++ " " ++ binary_to_list(Pid)).

stop_cluster(C = #{nodes := Nodes}) ->
    _ = [catch kill(C, N, "-CONT") || {N, _} <- Nodes],
    _ = [catch kill(C, N, "-9") || {N, _} <- Nodes],
    %% What each node printed, for a failure's post-mortem.
    _ = [file:write_file(filename:join(maps:get(dir, C), "log." ++ atom_to_list(N)), output(Port))
         || {N, Port} <- Nodes],
    _ = [catch erlang:port_close(Port) || {_, Port} <- Nodes],
    _ = [erlang:disconnect_node(N) || {N, _} <- Nodes],
    ok.

output(Port) ->
    receive {Port, {data, Out}} -> [Out | output(Port)]
    after 0 -> []
    end.

wait_until(Fun, Timeout) ->
    aion_test_support:wait_until(Fun, Timeout).
