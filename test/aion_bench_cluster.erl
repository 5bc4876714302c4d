%% The PostgreSQL scenarios of `make bench' (see aion_bench): seq10 and conc10 as they are
%% there (the same workflow, activity, warm-up and counts) on the PostgreSQL store, with
%% one node (the benchmark's own) and with two: the benchmark's node and a second BEAM node
%% in an OS process of its own (`erl -sname ... -setcookie ...', started with open_port as
%% aion_bench_node starts its nodes). Both start aion with the same store settings and find
%% each other through the database (aion_cluster).
%%
%% Each line runs on a fresh schema of the database at `AION_PG_URL' (`bench_<os pid>_<n>'),
%% dropped afterwards when `psql' is installed (a throw-away cluster from test/with_pg.sh
%% goes away whole anyway). With two nodes the runs are started half on each node (a start
%% on the other node is an erpc call of aion:start_workflow/3 there: the node that starts a
%% run owns it and runs its code and activities); every run is awaited from the benchmark's
%% node. seq10 alternates the starting node run by run (the warm-up too); conc10 has 50
%% clients in flight, 25 starting on each node. Latency is start call to await's answer,
%% as in aion_bench. The lines add the store's commits per workflow and appends per commit
%% (aion_engine:store_stats/0, summed over the nodes): how much the group commit gathers.
%%
%% The benchmark's node becomes distributed for these scenarios (`distribute/0': epmd
%% started if it is not running, short names, a random cookie) and stops being so after
%% them (`undistribute/1'; an epmd it started is stopped too unless other nodes use it). The
%% second node is stopped at the end of each two-node line; should the benchmark die
%% first, the node halts when its stdin closes (aion_bench_node:watchdog/0).
-module(aion_bench_cluster).

-export([scenario/3, skipped/2, distribute/0, undistribute/1]).
-export([peer/0, peer_start/1]).

%% --- the benchmark side ----------------------------------------------------------------

%% One JSON line: scenario `Name' (seq10 | conc10) on PostgreSQL at `Url' with `Nodes'
%% (1 | 2) nodes.
scenario(Name, Nodes, Url) ->
    Schema = "bench_" ++ os:getpid() ++ "_" ++ integer_to_list(erlang:unique_integer([positive])),
    Env = [{store, postgres}, {postgres_url, Url}, {postgres_schema, Schema}],
    start_local(Env),
    try
        Peers = [start_peer(Env) || Nodes =:= 2],
        try
            Targets = [node() | [P || {P, _Port} <- Peers]],
            _ = [one(nth(I, Targets)) || I <- lists:seq(1, 10)],
            Stats0 = store_stats(Targets),
            {N, Latencies, WallUs} = run(Name, Targets),
            #{commits := Commits, appends := Appends} = store_stats(Targets, Stats0),
            Sorted = lists:sort(Latencies),
            Ms = fun(Us) -> round(Us / 10) / 100 end,
            {ok, Line} = aion_flow_ffi:json_encode(#{
                <<"scenario">> => atom_to_binary(Name), <<"store">> => <<"postgres">>,
                <<"nodes">> => Nodes, <<"n">> => N,
                <<"p50_ms">> => Ms(pct(Sorted, 0.50)), <<"p99_ms">> => Ms(pct(Sorted, 0.99)),
                <<"mean_ms">> => Ms(lists:sum(Sorted) / N),
                <<"throughput_wf_s">> => round(N / (WallUs / 1.0e6) * 10) / 10,
                <<"commits_per_wf">> => round(Commits / N * 100) / 100,
                <<"appends_per_commit">> => round(Appends / max(1, Commits) * 100) / 100}),
            Line
        after
            _ = [stop_peer(P) || P <- Peers]
        end
    after
        application:stop(aion),
        drop_schema(Url, Schema)
    end.

%% The line of a PostgreSQL scenario that did not run, and why.
skipped(Name, Why) ->
    {ok, Line} = aion_flow_ffi:json_encode(#{
        <<"scenario">> => atom_to_binary(Name), <<"store">> => <<"postgres">>,
        <<"skipped">> => unicode:characters_to_binary(Why)}),
    Line.

%% The I-th target, in turn.
nth(I, Targets) ->
    lists:nth(I rem length(Targets) + 1, Targets).

run(seq10, Targets) ->
    T0 = erlang:monotonic_time(microsecond),
    L = [one(nth(I, Targets)) || I <- lists:seq(1, 100)],
    {100, L, erlang:monotonic_time(microsecond) - T0};
run(conc10, Targets) ->
    Total = 1000, InFlight = 50,
    Next = atomics:new(1, []),
    Self = self(),
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn_link(fun() -> Self ! {self(), worker(nth(W, Targets), Next, Total, [])} end)
            || W <- lists:seq(1, InFlight)],
    L = lists:append([receive {P, Ls} -> Ls end || P <- Pids]),
    {Total, L, erlang:monotonic_time(microsecond) - T0}.

worker(Node, Next, Total, Acc) ->
    case atomics:add_get(Next, 1, 1) =< Total of
        true -> worker(Node, Next, Total, [one(Node) | Acc]);
        false -> Acc
    end.

%% One seq10 run started on `Node', awaited here.
one(Node) ->
    T0 = erlang:monotonic_time(microsecond),
    {ok, Id} = start_on(Node),
    {ok, <<"done">>} = aion:await(Id, 60000),
    erlang:monotonic_time(microsecond) - T0.

start_on(Node) when Node =:= node() ->
    aion:start_workflow(<<"seq10">>, null, #{});
start_on(Node) ->
    erpc:call(Node, aion, start_workflow, [<<"seq10">>, null, #{}], 60000).

%% The store's counters (aion_engine:store_stats/0) summed over the nodes; with `Before',
%% what they counted since.
store_stats(Targets) ->
    lists:foldl(fun(T, Acc) ->
                        {ok, S} = erpc:call(T, aion_engine, store_stats, [], 10000),
                        maps:merge_with(fun(_, A, B) -> A + B end, Acc, maps:with([commits, appends], S))
                end, #{commits => 0, appends => 0}, Targets).

store_stats(Targets, Before) ->
    maps:map(fun(K, V) -> V - maps:get(K, Before) end, store_stats(Targets)).

pct(Sorted, P) ->
    lists:nth(max(1, min(length(Sorted), round(P * length(Sorted)))), Sorted).

start_local(Env) ->
    application:stop(aion),
    _ = application:load(aion),
    _ = [ok = application:set_env(aion, K, V) || {K, V} <- Env],
    {ok, _} = application:ensure_all_started(aion),
    register_types().

register_types() ->
    ok = aion:register_activity(<<"noop">>, {aion_bench, noop}),
    ok = aion:register_workflow(<<"seq10">>, {aion_bench, seq10}).

%% Drops the line's schema (its tables, the runs and the cluster's membership rows).
drop_schema(Url, Schema) ->
    case os:find_executable("psql") of
        false ->
            ok;
        Psql ->
            Port = open_port({spawn_executable, Psql},
                             [{args, ["-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", Url, "-c",
                                      "DROP SCHEMA IF EXISTS \"" ++ Schema ++ "\" CASCADE"]},
                              exit_status, stderr_to_stdout, binary]),
            case collect(Port, <<>>) of
                {0, _} -> ok;
                {Status, Out} ->
                    io:format(standard_error, "could not drop schema ~s (psql exited ~p): ~s~n",
                              [Schema, Status, Out])
            end
    end.

collect(Port, Acc) ->
    receive
        {Port, {data, Data}} -> collect(Port, <<Acc/binary, Data/binary>>);
        {Port, {exit_status, Status}} -> {Status, Acc}
    after 60000 ->
        catch port_close(Port),
        {timeout, Acc}
    end.

%% Makes this node distributed (short names, a random cookie), starting epmd first when
%% it does not run. Returns what undistribute/1 undoes.
distribute() ->
    case node() of
        nonode@nohost ->
            EpmdRan = epmd_runs(),
            EpmdRan orelse os:cmd("epmd -daemon"),
            Name = list_to_atom("aion_bench_" ++ os:getpid()),
            ok = net_kernel_start(Name, 50),
            Cookie = list_to_atom("aion_bench_" ++ binary_to_list(binary:encode_hex(rand:bytes(12)))),
            true = erlang:set_cookie(Cookie),
            {started, not EpmdRan};
        _ ->
            already
    end.

epmd_runs() ->
    string:find(os:cmd("epmd -names"), "up and running") =/= nomatch.

%% epmd may take a moment to listen after `epmd -daemon' returns.
net_kernel_start(Name, Tries) ->
    case net_kernel:start([Name, shortnames]) of
        {ok, _} -> ok;
        {error, _} when Tries > 0 -> timer:sleep(100), net_kernel_start(Name, Tries - 1);
        {error, Reason} -> erlang:error({net_kernel_start, Reason})
    end.

undistribute(already) ->
    ok;
undistribute({started, StartedEpmd}) ->
    ok = net_kernel:stop(),
    %% `epmd -kill' stops an epmd without registered nodes only: one that others came to
    %% use meanwhile stays.
    StartedEpmd andalso os:cmd("epmd -kill"),
    ok.

%% Starts the second node (same code paths, cookie and host as this one), connects to it
%% and starts aion there with `Env'; returns `{Node, Port}'.
start_peer(Env) ->
    Name = "aion_bench_peer_" ++ os:getpid() ++ "_" ++ integer_to_list(erlang:unique_integer([positive])),
    [_, Host] = string:split(atom_to_list(node()), "@"),
    Node = list_to_atom(Name ++ "@" ++ Host),
    Erl = os:find_executable("erl"),
    Paths = lists:usort([filename:dirname(code:which(M)) || M <- [aion, aion_bench, ?MODULE, aion_bench_node]]),
    %% Short names unless this node was already distributed with long ones.
    NameFlag = case net_kernel:longnames() of true -> "-name"; _ -> "-sname" end,
    Args = [NameFlag, atom_to_list(Node), "-setcookie", atom_to_list(erlang:get_cookie()), "-noshell"]
           ++ lists:append([["-pa", P] || P <- Paths]) ++ ["-eval", atom_to_list(?MODULE) ++ ":peer()"],
    Port = open_port({spawn_executable, Erl},
                     [{args, Args}, exit_status, stderr_to_stdout, binary, {line, 65536}]),
    try
        {up, Node} = aion_bench_node:expect(Port, up, 60000),
        true = net_kernel:connect_node(Node),
        ok = erpc:call(Node, ?MODULE, peer_start, [Env], 60000),
        {Node, Port}
    catch Class:Reason:Stack ->
        _ = aion_bench_node:kill(Port),
        erlang:raise(Class, Reason, Stack)
    end.

%% Stops aion on the second node (it leaves the cluster), then the node; waits for its
%% OS process to exit.
stop_peer({Node, Port}) ->
    try erpc:call(Node, application, stop, [aion], 60000)
    after
        erpc:cast(Node, erlang, halt, [0]),
        case catch aion_bench_node:wait_exit(Port, 30000) of
            0 -> ok;
            _ -> aion_bench_node:kill(Port)
        end
    end.

%% --- the second node's side -------------------------------------------------------------

%% `-eval' of the second node: halts when the benchmark goes away (stdin closes), reports
%% its name, then waits for the benchmark to start aion on it (peer_start/1).
peer() ->
    aion_bench_node:watchdog(),
    logger:set_primary_config(level, warning),
    aion_bench_node:report({up, node()}).

peer_start(Env) ->
    _ = application:load(aion),
    _ = [ok = application:set_env(aion, K, V) || {K, V} <- Env],
    {ok, _} = application:ensure_all_started(aion),
    register_types().
