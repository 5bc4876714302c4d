%% `make bench': durable-step latency and throughput, one JSON line per scenario and store.
%%   seq10:  one workflow of 10 sequential no-op activities, run 100 times one after
%%           another (after 10 warm-up runs); latency is per workflow, start to result.
%%   conc10: 1,000 such workflows with 50 in flight; throughput and per-workflow latency.
%%   fanout1000: one workflow running 1,000 no-op activities with aion_flow:all/1, run 5
%%           times after a warm-up; latency per workflow.
%%   sleep100k: 100,000 workflows sleeping on a 1-hour durable timer (SQLite store): how
%%           long starting them takes, and what one sleeping workflow costs in memory
%%           (BEAM memory and the OS process's resident set, both per workflow).
-module(aion_bench).

-export([main/0, seq10/1, noop/1, sleeper/1, sleepers/1, fanout/1, scenario/2]).

main() ->
    logger:set_primary_config(level, warning),
    Results = [scenario(S, Store) || Store <- [sqlite, memory], S <- [seq10, conc10, fanout1000]],
    [io:format("~s~n", [Line]) || Line <- Results],
    io:format("~s~n", [sleepers(100000)]),
    erlang:halt(0).

fanout(#{<<"n">> := N}) ->
    {ok, Results} = aion_flow:all([{activity, <<"noop">>, I, #{}} || I <- lists:seq(1, N)]),
    {ok, length(Results)}.

sleeper(_) ->
    ok = aion_flow:sleep(3600 * 1000),
    {ok, done}.

sleepers(N) ->
    Dir = bench_dir(sleep100k),
    start(Dir, sqlite),
    ok = aion:register_workflow(<<"sleeper">>, {?MODULE, sleeper}),
    erlang:garbage_collect(),
    {Beam0, Rss0} = {erlang:memory(total), rss()},
    T0 = erlang:monotonic_time(millisecond),
    Next = atomics:new(1, []),
    Self = self(),
    Pids = [spawn_link(fun() -> Self ! {self(), start_sleepers(Next, N)} end) || _ <- lists:seq(1, 50)],
    [receive {P, done} -> ok end || P <- Pids],
    %% Every run has recorded its TimerStarted and waits in receive.
    wait_sleeping(N),
    StartS = (erlang:monotonic_time(millisecond) - T0) / 1000,
    [erlang:garbage_collect(P) || P <- processes()],
    {Beam1, Rss1} = {erlang:memory(total), rss()},
    application:stop(aion),
    _ = os:cmd("rm -rf " ++ Dir),
    {ok, Line} = aion_flow_ffi:json_encode(#{
        <<"scenario">> => <<"sleep100k">>, <<"store">> => <<"sqlite">>, <<"n">> => N,
        <<"start_s">> => round(StartS * 10) / 10,
        <<"starts_per_s">> => round(N / StartS),
        <<"beam_bytes_per_workflow">> => (Beam1 - Beam0) div N,
        <<"rss_bytes_per_workflow">> => (Rss1 - Rss0) div N}),
    Line.

start_sleepers(Next, N) ->
    case atomics:add_get(Next, 1, 1) =< N of
        true ->
            {ok, _} = aion:start_workflow(<<"sleeper">>, null, #{}),
            start_sleepers(Next, N);
        false ->
            done
    end.

wait_sleeping(N) ->
    {ok, Timers} = count_timers(),
    case Timers >= N of
        true -> ok;
        false -> timer:sleep(200), wait_sleeping(N)
    end.

%% Runs whose process is waiting in receive inside sleep (after TimerStarted is durable).
count_timers() ->
    {ok, length([P || {_, P} <- ets:tab2list(aion_runs),
                      element(2, process_info(P, status)) =:= waiting])}.

rss() ->
    {ok, Statm} = file:read_file("/proc/self/statm"),
    [_, Resident | _] = binary:split(Statm, <<" ">>, [global]),
    binary_to_integer(Resident) * 4096.

bench_dir(Name) ->
    filename:join(case os:getenv("TMPDIR") of false -> "/tmp"; T -> T end,
                  "aion_bench_" ++ os:getpid() ++ "_" ++ atom_to_list(Name)).

start(Dir, Store) ->
    application:stop(aion),
    _ = application:load(aion),
    ok = application:set_env(aion, data_dir, Dir),
    ok = application:set_env(aion, store, Store),
    {ok, _} = application:ensure_all_started(aion).

%% The workflow and the activity under test.
seq10(_) ->
    lists:foreach(fun(I) -> {ok, _} = aion_flow:activity(<<"noop">>, I) end, lists:seq(1, 10)),
    {ok, done}.

noop(_) -> {ok, null}.

scenario(Name, Store) ->
    Dir = bench_dir(list_to_atom(atom_to_list(Store) ++ "_" ++ atom_to_list(Name))),
    start(Dir, Store),
    ok = aion:register_activity(<<"noop">>, {?MODULE, noop}),
    ok = aion:register_workflow(<<"seq10">>, {?MODULE, seq10}),
    ok = aion:register_workflow(<<"fanout">>, {?MODULE, fanout}),
    _ = [one() || _ <- lists:seq(1, 10)],
    {N, Latencies, WallUs} = run(Name),
    application:stop(aion),
    _ = os:cmd("rm -rf " ++ Dir),
    Sorted = lists:sort(Latencies),
    Ms = fun(Us) -> round(Us / 10) / 100 end,
    {ok, Line} = aion_flow_ffi:json_encode(#{
        <<"scenario">> => atom_to_binary(Name), <<"store">> => atom_to_binary(Store),
        <<"n">> => N,
        <<"p50_ms">> => Ms(pct(Sorted, 0.50)), <<"p99_ms">> => Ms(pct(Sorted, 0.99)),
        <<"mean_ms">> => Ms(lists:sum(Sorted) / N),
        <<"throughput_wf_s">> => round(N / (WallUs / 1.0e6) * 10) / 10}),
    Line.

run(fanout1000) ->
    _ = fan(100),
    T0 = erlang:monotonic_time(microsecond),
    L = [fan(1000) || _ <- lists:seq(1, 5)],
    {5, L, erlang:monotonic_time(microsecond) - T0};
run(seq10) ->
    T0 = erlang:monotonic_time(microsecond),
    L = [one() || _ <- lists:seq(1, 100)],
    {100, L, erlang:monotonic_time(microsecond) - T0};
run(conc10) ->
    Total = 1000, InFlight = 50,
    Next = atomics:new(1, []),
    Self = self(),
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn_link(fun() -> Self ! {self(), worker(Next, Total, [])} end)
            || _ <- lists:seq(1, InFlight)],
    L = lists:append([receive {P, Ls} -> Ls end || P <- Pids]),
    {Total, L, erlang:monotonic_time(microsecond) - T0}.

worker(Next, Total, Acc) ->
    case atomics:add_get(Next, 1, 1) =< Total of
        true -> worker(Next, Total, [one() | Acc]);
        false -> Acc
    end.

one() ->
    T0 = erlang:monotonic_time(microsecond),
    {ok, Id} = aion:start_workflow(<<"seq10">>, null, #{}),
    {ok, <<"done">>} = aion:await(Id, 60000),
    erlang:monotonic_time(microsecond) - T0.

fan(N) ->
    T0 = erlang:monotonic_time(microsecond),
    {ok, Id} = aion:start_workflow(<<"fanout">>, #{<<"n">> => N}, #{}),
    {ok, N} = aion:await(Id, 120000),
    erlang:monotonic_time(microsecond) - T0.

pct(Sorted, P) ->
    lists:nth(max(1, min(length(Sorted), round(P * length(Sorted)))), Sorted).
