%% `make bench': durable-step latency and throughput, one JSON line per scenario and store.
%%   seq10:  one workflow of 10 sequential no-op activities, run 100 times one after
%%           another (after 10 warm-up runs); latency is per workflow, start to result.
%%   conc10: 1,000 such workflows with 50 in flight; throughput and per-workflow latency.
%%   fanout1000: one workflow running 1,000 no-op activities with aion_flow:all/1, run 5
%%           times after a warm-up; latency per workflow.
%%   seq10_pg, conc10_pg: seq10 and conc10 as above (same workflow, warm-up and counts) on
%%           the PostgreSQL store at `AION_PG_URL', a fresh schema per line: one line with
%%           one node (this one), one with two (this node, made distributed, and a second
%%           BEAM node in an OS process of its own, joined through the database); with two,
%%           half of the runs are started on each node and all are awaited from this one.
%%           Their lines say `"store": "postgres"' and `"nodes": 1' or `2' (the scenario
%%           field is seq10 or conc10) and add the store's commits per workflow and appends
%%           per commit; see aion_bench_cluster. `make bench' runs them on a
%%           throw-away PostgreSQL cluster (test/with_pg.sh) when `test/pg.sh available'
%%           finds the server programs; otherwise (or when `AION_PG_URL' is not set) each
%%           prints a line with `"skipped"' and the reason (`AION_PG_SKIP' when set).
%%   sleep100k: 100,000 workflows sleeping on a 1-hour durable timer (SQLite store): how
%%           long starting them takes, and what one sleeping workflow costs in memory
%%           (BEAM memory and the OS process's resident set, both per workflow).
%%   seq10_counts: 100 more seq10 runs (SQLite store) with `strace -f' attached to this
%%           node's OS process: fsync/fdatasync/pwrite64/write calls and bytes written per
%%           run (by file), and the deltas of aion_engine:store_stats/0 per run when the
%%           engine has that function. The seq10 latencies above are taken without strace.
%%   recover10k: 10,000 workflows waiting for a signal in a separate node (SQLite), which
%%           is killed with kill -9; a fresh node on the same data directory is timed from
%%           boot (before the application starts) until every run has replayed and waits
%%           again (its process waits in receive in aion_flow_ffi:wake/2), and until all
%%           have completed after one signal each (50 clients signal, then await).
%%   replay20k: one workflow of 20,000 sequential no-op activities run to the end in a
%%           separate node, which is killed (kill -9) while the workflow waits for a signal;
%%           a fresh node signals it right after boot and is timed until the run's head
%%           first grows (SignalReceived: the inbox is recorded when the run opens, before
%%           its code replays) and until the workflow completes (after the replay).
%%   timerlag: 100,000 workflows sleeping until due times spread evenly over a 20 s window
%%           that opens 25 s after the first start (SQLite store, in this node); each
%%           records wall clock at wake-up minus its due time. Lag p50/p99/max, how many
%%           fired, how many were started after their due time.
%%
%% Run everything: `make bench'. One or some scenarios: `make bench ONLY=timerlag' or
%% `make bench ONLY=seq10,recover10k' (aion_bench:main("timerlag")); seq10, conc10 and
%% fanout1000 run on the SQLite and in-memory stores, seq10_pg and conc10_pg on PostgreSQL.
-module(aion_bench).

-export([main/0, main/1, seq10/1, noop/1, sleeper/1, sleepers/1, fanout/1, scenario/2,
         seq10_counts/1, recover10k/1, replay20k/1, timerlag/1, lag_sleeper/1]).

-define(SCENARIOS, [seq10, conc10, fanout1000, seq10_pg, conc10_pg, sleep100k, seq10_counts,
                    recover10k, replay20k, timerlag]).

main() ->
    main("").

%% `Only': scenario names separated by commas; "" runs them all.
main(Only) ->
    logger:set_primary_config(level, warning),
    Names = [list_to_atom(S) || S <- string:lexemes(Only, ", ")],
    case Names -- ?SCENARIOS of
        [] -> ok;
        Unknown ->
            io:format(standard_error, "unknown scenario(s) ~p; known: ~p~n", [Unknown, ?SCENARIOS]),
            erlang:halt(2)
    end,
    Run = fun(S) -> Names =:= [] orelse lists:member(S, Names) end,
    Print = fun(Line) -> io:format("~s~n", [Line]) end,
    try
        _ = [Print(scenario(S, Store)) || Store <- [sqlite, memory], S <- [seq10, conc10, fanout1000], Run(S)],
        _ = postgres([S || {Pg, S} <- [{seq10_pg, seq10}, {conc10_pg, conc10}], Run(Pg)], Print),
        _ = [Print(F()) || {S, F} <- [{sleep100k, fun() -> sleepers(100000) end},
                                      {seq10_counts, fun() -> seq10_counts(100) end},
                                      {recover10k, fun() -> recover10k(10000) end},
                                      {replay20k, fun() -> replay20k(20000) end},
                                      {timerlag, fun() -> timerlag(100000) end}],
                           Run(S)],
        erlang:halt(0)
    catch Class:Reason:Stack ->
        %% Halting closes the ports: a node started by a scenario halts when its stdin closes.
        io:format(standard_error, "benchmark failed: ~p:~p~n~p~n", [Class, Reason, Stack]),
        erlang:halt(1)
    end.

%% seq10_pg and conc10_pg: one node, then two (aion_bench_cluster).
postgres([], _Print) ->
    ok;
postgres(Names, Print) ->
    case os:getenv("AION_PG_URL", "") of
        "" ->
            Why = os:getenv("AION_PG_SKIP", "AION_PG_URL is not set (make bench sets it when "
                                            "test/pg.sh finds PostgreSQL)"),
            _ = [Print(aion_bench_cluster:skipped(S, Why)) || S <- Names],
            ok;
        Url ->
            Dist = aion_bench_cluster:distribute(),
            try
                _ = [Print(aion_bench_cluster:scenario(S, Nodes, Url)) || S <- Names, Nodes <- [1, 2]],
                ok
            after
                aion_bench_cluster:undistribute(Dist)
            end
    end.

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

json(Map) ->
    {ok, Line} = aion_flow_ffi:json_encode(Map),
    Line.

round2(X) -> round(X * 100) / 100.

%% --- seq10_counts: system calls and store counters per seq10 run ------------------------

seq10_counts(Runs) ->
    Dir = bench_dir(seq10_counts),
    start(Dir, sqlite),
    ok = aion:register_activity(<<"noop">>, {?MODULE, noop}),
    ok = aion:register_workflow(<<"seq10">>, {?MODULE, seq10}),
    _ = [one() || _ <- lists:seq(1, 10)],
    Stats0 = store_stats(),
    Trace = strace_start(filename:join(Dir, "strace.out")),
    _ = [one() || _ <- lists:seq(1, Runs)],
    Counts = strace_stop(Trace, Runs),
    Stats1 = store_stats(),
    application:stop(aion),
    _ = os:cmd("rm -rf " ++ Dir),
    json(#{<<"scenario">> => <<"seq10_counts">>, <<"store">> => <<"sqlite">>, <<"n">> => Runs,
           <<"strace">> => Counts, <<"store_stats">> => stats_delta(Stats0, Stats1, Runs)}).

store_stats() ->
    _ = code:ensure_loaded(aion_engine),
    case erlang:function_exported(aion_engine, store_stats, 0) of
        true -> {ok, Stats} = aion_engine:store_stats(), Stats;
        false -> undefined
    end.

stats_delta(undefined, _, _) ->
    <<"aion_engine:store_stats/0 not available">>;
stats_delta(Before, After, Runs) ->
    maps:from_list([{atom_to_binary(K), round2((maps:get(K, After) - maps:get(K, Before)) / Runs)}
                    || K <- [commits, appends, events, wal_bytes, syncs],
                       is_map_key(K, Before), is_map_key(K, After)]).

%% strace -f attached to this node's OS process (every thread: schedulers, dirty
%% schedulers, the store's writer thread); started only once every thread is traced.
strace_start(Out) ->
    case os:find_executable("strace") of
        false ->
            not_installed;
        Exe ->
            Args = ["-f", "-qq", "-y", "-s", "0", "-e", "trace=fsync,fdatasync,pwrite64,write",
                    "-o", Out, "-p", os:getpid()],
            Port = open_port({spawn_executable, Exe}, [{args, Args}, exit_status, stderr_to_stdout, binary]),
            case wait_traced(Port, 100) of
                ok -> {Port, Out};
                {error, Why} -> {failed, Why}
            end
    end.

wait_traced(Port, Tries) ->
    receive
        {Port, {data, _Output}} -> wait_traced(Port, Tries);
        {Port, {exit_status, S}} -> {error, iolist_to_binary(io_lib:format("strace exited ~p", [S]))}
    after 50 ->
        Tasks = filelib:wildcard("/proc/self/task/*/status"),
        Traced = [T || T <- Tasks, tracer(T) =/= <<"0">>],
        case length(Traced) =:= length(Tasks) of
            true -> ok;
            false when Tries > 0 -> wait_traced(Port, Tries - 1);
            false -> catch port_close(Port), {error, <<"strace did not attach">>}
        end
    end.

tracer(StatusFile) ->
    case file:read_file(StatusFile) of
        {ok, Bin} ->
            case re:run(Bin, "TracerPid:\\s*(\\d+)", [{capture, all_but_first, binary}]) of
                {match, [Pid]} -> Pid;
                nomatch -> <<"0">>
            end;
        {error, _} -> <<"gone">>   % the thread ended meanwhile
    end.

strace_stop(not_installed, _Runs) ->
    <<"not installed">>;
strace_stop({failed, Why}, _Runs) ->
    Why;
strace_stop({Port, Out}, Runs) ->
    {os_pid, Pid} = erlang:port_info(Port, os_pid),
    _ = os:cmd("kill -INT " ++ integer_to_list(Pid)),
    receive {Port, {exit_status, _}} -> ok after 30000 -> ok end,
    {ok, Bin} = file:read_file(Out),
    Zero = #{<<"fsync">> => 0, <<"fdatasync">> => 0, <<"pwrite64">> => 0, <<"write">> => 0},
    {Calls, Bytes, Files} = lists:foldl(fun count_line/2, {Zero, maps:with([<<"pwrite64">>, <<"write">>], Zero), #{}},
                                        binary:split(Bin, <<"\n">>, [global, trim_all])),
    PerRun = fun(M) -> maps:map(fun(_, V) -> round2(V / Runs) end, M) end,
    #{<<"calls_per_run">> => PerRun(Calls), <<"bytes_per_run">> => PerRun(Bytes),
      <<"bytes_per_run_by_file">> => PerRun(Files)}.

%% One line of `strace -f -y' output: `Pid name(Fd<path>, ...) = Ret', or a call split in
%% `Pid name(Fd<path>, ... <unfinished ...>' and `Pid <... name resumed>...) = Ret'.
count_line(Line, {Calls, Bytes, Files} = Acc) ->
    case re:run(Line, "^\\d+\\s+(\\w+)\\(\\d+<([^>]*)>", [{capture, all_but_first, binary}]) of
        {match, [Name, Path]} ->
            Calls1 = maps:update_with(Name, fun(C) -> C + 1 end, 1, Calls),
            put({strace_fd, pid(Line)}, Path),
            add_bytes(Line, Name, Path, {Calls1, Bytes, Files});
        nomatch ->
            case re:run(Line, "^\\d+\\s+<\\.\\.\\. (\\w+) resumed>", [{capture, all_but_first, binary}]) of
                {match, [Name]} -> add_bytes(Line, Name, get({strace_fd, pid(Line)}), Acc);
                nomatch -> Acc
            end
    end.

pid(Line) -> hd(binary:split(Line, <<" ">>)).

add_bytes(Line, Name, Path, {Calls, Bytes, Files}) when Name =:= <<"write">>; Name =:= <<"pwrite64">> ->
    case re:run(Line, "\\)\\s+=\\s+(\\d+)", [{capture, all_but_first, binary}]) of
        {match, [N]} ->
            B = binary_to_integer(N),
            File = file_kind(Path),
            {Calls, maps:update_with(Name, fun(X) -> X + B end, B, Bytes),
             maps:update_with(File, fun(X) -> X + B end, B, Files)};
        nomatch ->
            {Calls, Bytes, Files}
    end;
add_bytes(_Line, _Name, _Path, Acc) ->
    Acc.

file_kind(undefined) -> <<"unknown">>;
file_kind(<<"pipe:", _/binary>>) -> <<"pipe">>;
file_kind(<<"anon_inode:", Rest/binary>>) -> Rest;
file_kind(Path) -> filename:basename(Path).

%% --- recover10k and replay20k: a fresh node takes over after kill -9 --------------------

recover10k(N) ->
    Dir = bench_dir(recover10k),
    Data = filename:join(Dir, "data"),
    First = aion_bench_node:spawn("recover10k", "start", {Data, N}),
    {pid, _} = aion_bench_node:expect(First, pid, 30000),
    {ready, N} = aion_bench_node:expect(First, ready, 120000),
    137 = aion_bench_node:kill(First),
    Spawned = erlang:monotonic_time(millisecond),
    Second = aion_bench_node:spawn("recover10k", "resume", {Data, N}),
    {replayed, _} = aion_bench_node:expect(Second, replayed, 120000),
    SpawnToReplayed = erlang:monotonic_time(millisecond) - Spawned,
    {completed, #{replayed_ms := Replayed, completed_ms := Completed, signal_to_done_ms := Done,
                  registered_ms := Registered}} = aion_bench_node:expect(Second, completed, 120000),
    0 = aion_bench_node:wait_exit(Second, 30000),
    _ = os:cmd("rm -rf " ++ Dir),
    json(#{<<"scenario">> => <<"recover10k">>, <<"store">> => <<"sqlite">>, <<"n">> => N,
           <<"registered_s">> => Registered / 1000,
           <<"replayed_s">> => Replayed / 1000, <<"completed_s">> => Completed / 1000,
           <<"signal_to_done_s">> => Done / 1000,
           <<"replayed_since_os_spawn_s">> => SpawnToReplayed / 1000}).

replay20k(N) ->
    Dir = bench_dir(replay20k),
    Data = filename:join(Dir, "data"),
    T0 = erlang:monotonic_time(millisecond),
    First = aion_bench_node:spawn("replay20k", "start", {Data, N}),
    {pid, _} = aion_bench_node:expect(First, pid, 30000),
    {ready, Head} = aion_bench_node:expect(First, ready, 300000),
    BuildS = (erlang:monotonic_time(millisecond) - T0) / 1000,
    137 = aion_bench_node:kill(First),
    Second = aion_bench_node:spawn("replay20k", "resume", {Data, Head}),
    {completed, #{first_new_event_ms := First1, completed_ms := Completed, new_events := New,
                  head := Head1}} = aion_bench_node:expect(Second, completed, 120000),
    0 = aion_bench_node:wait_exit(Second, 30000),
    _ = os:cmd("rm -rf " ++ Dir),
    json(#{<<"scenario">> => <<"replay20k">>, <<"store">> => <<"sqlite">>, <<"n">> => N,
           <<"events_before_kill">> => Head, <<"events_after">> => Head1,
           <<"new_events">> => New, <<"build_s">> => round(BuildS * 10) / 10,
           <<"first_new_event_s">> => First1 / 1000, <<"completed_s">> => Completed / 1000,
           <<"measured">> => <<"since boot (before application start); signal sent right after "
                               "boot; first_new_event: describe head polled every 1 ms; "
                               "completed: aion:await returned">>}).

%% --- timerlag: how late 100,000 durable timers fire -------------------------------------

-define(LAG_TABLE, aion_bench_lag).

%% Sleeps until the input's due time (Unix ms), then records how late it woke.
lag_sleeper(#{<<"due">> := Due}) ->
    Slack = Due - aion_flow:now(),
    ok = aion_flow:sleep(max(0, Slack)),
    %% Bench-only side channel: the host clock and an ETS table of the benchmark.
    ets:insert(?LAG_TABLE, {aion_flow:workflow_id(), erlang:system_time(millisecond) - Due, Slack}),
    {ok, null}.

timerlag(N) ->
    Dir = bench_dir(timerlag),
    start(Dir, sqlite),
    ok = aion:register_workflow(<<"lag_sleeper">>, {?MODULE, lag_sleeper}),
    ets:new(?LAG_TABLE, [named_table, public, set, {write_concurrency, true}]),
    %% Starting 100,000 takes ~17 s on the idle 2-core machine (more when it is busy: the
    %% line says whether all were started before the window opened). 5,000 timers a second
    %% then come due; at 6,700 a second (a 15 s window) the lag grew to seconds there.
    MarginMs = 25000, WindowMs = 20000,
    T0 = erlang:system_time(millisecond),
    Open = T0 + MarginMs,
    Due = fun(I) -> Open + (I - 1) * WindowMs div N end,
    Next = atomics:new(1, []),
    Self = self(),
    Pids = [spawn_link(fun() -> Self ! {self(), start_lag(Next, N, Due)} end) || _ <- lists:seq(1, 50)],
    [receive {P, done} -> ok end || P <- Pids],
    StartS = (erlang:system_time(millisecond) - T0) / 1000,
    %% Every timer due, plus 15 s for the late ones; then their completions.
    wait_fired(N, Open + WindowMs + 15000),
    Running = wait_closed(erlang:monotonic_time(millisecond) + 10000),
    Lags = lists:sort([L || {_, L, _} <- ets:tab2list(?LAG_TABLE)]),
    StartedLate = length([S || {_, _, S} <- ets:tab2list(?LAG_TABLE), S < 0]),
    ets:delete(?LAG_TABLE),
    application:stop(aion),
    _ = os:cmd("rm -rf " ++ Dir),
    Fired = length(Lags),
    json(#{<<"scenario">> => <<"timerlag">>, <<"store">> => <<"sqlite">>, <<"n">> => N,
           <<"start_s">> => round(StartS * 10) / 10,
           <<"window_s">> => [MarginMs div 1000, (MarginMs + WindowMs) div 1000],
           <<"all_started_before_first_due">> => StartS * 1000 < MarginMs,
           <<"fired">> => Fired, <<"started_after_due">> => StartedLate,
           <<"still_running_at_end">> => Running,
           <<"lag_p50_ms">> => pct_or_null(Lags, 0.50), <<"lag_p99_ms">> => pct_or_null(Lags, 0.99),
           <<"lag_max_ms">> => pct_or_null(Lags, 1.0),
           <<"lag_min_ms">> => case Lags of [] -> null; [Min | _] -> Min end}).

pct_or_null([], _) -> null;
pct_or_null(Sorted, P) -> pct(Sorted, P).

start_lag(Next, N, Due) ->
    case atomics:add_get(Next, 1, 1) of
        I when I =< N ->
            {ok, _} = aion:start_workflow(<<"lag_sleeper">>, #{<<"due">> => Due(I)}, #{}),
            start_lag(Next, N, Due);
        _ ->
            done
    end.

%% How many runs are still running (0 once all closed, or at `Until').
wait_closed(Until) ->
    {ok, Running} = aion:list(#{status => running}),
    case Running =:= [] orelse erlang:monotonic_time(millisecond) > Until of
        true -> length(Running);
        false -> timer:sleep(100), wait_closed(Until)
    end.

wait_fired(N, Until) ->
    case ets:info(?LAG_TABLE, size) >= N orelse erlang:system_time(millisecond) > Until of
        true -> ok;
        false -> timer:sleep(100), wait_fired(N, Until)
    end.
