%% @doc aion's metrics: counters and histograms kept in an ETS table (owned by `aion_sup'),
%% served in Prometheus's text format by `prometheus/0' (the dashboard's `GET /metrics'),
%% and the same points emitted as `telemetry:execute/3' events when the `telemetry'
%% application is on the node (aion does not depend on it).
%%
%% Counters: `aion_workflows_started_total{type}', `aion_workflows_closed_total{status}',
%% `aion_activity_attempts_total{activity}', `aion_activity_failures_total{activity,type}',
%% `aion_activity_retries_total{activity}'; the store's own counters
%% (`aion_store_commits_total', `_appends_total', `_events_total', `_syncs_total',
%% `_wal_bytes_total'). Histograms (seconds): `aion_workflow_duration_seconds{type}' (a
%% workflow started and closed by the same process), `aion_activity_duration_seconds{activity}',
%% `aion_append_duration_seconds' (a run's append, from submit to durable), and from the
%% commit thread `aion_commit_duration_seconds' (one commit: the transaction and its
%% sync) and `aion_commit_writes' (writes per commit). Gauges, read when scraped:
%% `aion_runs{state="running"|"waiting"|"blocked"}', `aion_activity_queue_depth{queue}',
%% `aion_activity_running{queue}'.
%%
%% Telemetry events: `[aion, workflow, start]', `[aion, workflow, stop]' (measurement
%% `duration' in native time units when known, metadata `status'), `[aion, activity,
%% stop]' (`duration'; `activity', `attempt', `outcome'), `[aion, append, stop]'
%% (`duration').
-module(aion_metrics).

-export([new_table/0, count/2, observe/3, prometheus/0, telemetry/3]).
-export([workflow_started/1, workflow_closed/3, activity_attempt/4, append/1]).

-define(TAB, aion_metrics).
%% Histogram bucket bounds, in seconds.
-define(BUCKETS, [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                  5.0, 10.0, 30.0, 60.0, 300.0, 3600.0]).

%% @doc Creates the table (called by `aion_sup', which owns it).
-spec new_table() -> ok.
new_table() ->
    _ = ets:new(?TAB, [named_table, public, set, {write_concurrency, true}]),
    ok.

%% @doc Adds one to counter `Name' with `Labels' (a sorted list of `{Label, Value}').
-spec count(atom(), [{atom(), term()}]) -> ok.
count(Name, Labels) ->
    Key = {counter, Name, Labels},
    try ets:update_counter(?TAB, Key, 1, {Key, 0}), ok
    catch error:badarg -> ok
    end.

%% @doc Records `Seconds' in histogram `Name' with `Labels'.
-spec observe(atom(), [{atom(), term()}], number()) -> ok.
observe(Name, Labels, Seconds) ->
    Key = {histogram, Name, Labels},
    Bucket = bucket(Seconds, ?BUCKETS, 1),
    Default = list_to_tuple([Key, 0, 0 | [0 || _ <- ?BUCKETS]]),
    try
        ets:update_counter(?TAB, Key, [{2, 1}, {3, round(Seconds * 1000000)}]
                                       ++ [{3 + Bucket, 1} || Bucket =< length(?BUCKETS)],
                           Default),
        ok
    catch error:badarg -> ok
    end.

bucket(_Seconds, [], N) -> N;
bucket(Seconds, [Bound | _], N) when Seconds =< Bound -> N;
bucket(Seconds, [_ | Rest], N) -> bucket(Seconds, Rest, N + 1).

%% @doc Emits `telemetry:execute([aion | Event], Measurements, Metadata)' when the
%% `telemetry' module is loaded on the node; nothing otherwise.
-spec telemetry([atom()], map(), map()) -> ok.
telemetry(Event, Measurements, Metadata) ->
    case erlang:function_exported(telemetry, execute, 3) of
        true ->
            try apply(telemetry, execute, [[aion | Event], Measurements, Metadata])
            catch _:_ -> ok
            end,
            ok;
        false ->
            ok
    end.

%% @doc A workflow of `Type' started (its start is durable).
-spec workflow_started(binary()) -> ok.
workflow_started(Type) ->
    count(aion_workflows_started_total, [{type, Type}]),
    telemetry([workflow, start], #{system_time => erlang:system_time()}, #{type => Type}).

%% @doc A workflow of `Type' closed with `Status'; `Started' is when its process started
%% it (`erlang:monotonic_time()'), or `undefined' when not known (a replayed run).
-spec workflow_closed(binary() | undefined, atom(), integer() | undefined) -> ok.
workflow_closed(Type, Status, Started) ->
    count(aion_workflows_closed_total, [{status, Status}]),
    Measurements = case Started of
        undefined -> #{};
        _ ->
            Duration = erlang:monotonic_time() - Started,
            is_binary(Type) andalso
                observe(aion_workflow_duration_seconds, [{type, Type}], seconds(Duration)),
            #{duration => Duration}
    end,
    telemetry([workflow, stop], Measurements, #{type => Type, status => Status}).

%% @doc An attempt of activity `Name' ended with `Outcome' (`ok', or `{error, Type,
%% Retryable}') after `Duration' (native units).
-spec activity_attempt(binary(), pos_integer(), ok | {error, binary(), boolean()}, integer()) -> ok.
activity_attempt(Name, Attempt, Outcome, Duration) ->
    count(aion_activity_attempts_total, [{activity, Name}]),
    Attempt > 1 andalso count(aion_activity_retries_total, [{activity, Name}]),
    case Outcome of
        ok -> ok;
        {error, Type, _} -> count(aion_activity_failures_total, [{activity, Name}, {type, Type}])
    end,
    observe(aion_activity_duration_seconds, [{activity, Name}], seconds(Duration)),
    telemetry([activity, stop], #{duration => Duration},
              #{activity => Name, attempt => Attempt,
                outcome => case Outcome of ok -> ok; {error, _, _} -> error end}).

%% @doc A run's append became durable `Duration' (native units) after it was submitted.
-spec append(integer()) -> ok.
append(Duration) ->
    observe(aion_append_duration_seconds, [], seconds(Duration)),
    telemetry([append, stop], #{duration => Duration}, #{}).

seconds(Native) ->
    erlang:convert_time_unit(Native, native, microsecond) / 1000000.

%% @doc Every metric in Prometheus's text exposition format (version 0.0.4).
-spec prometheus() -> iodata().
prometheus() ->
    Rows = try ets:tab2list(?TAB) catch error:badarg -> [] end,
    Counters = lists:sort([{Name, Labels, N} || {{counter, Name, Labels}, N} <- Rows]),
    Histograms = lists:sort([{Name, Labels, Values}
                             || Row <- Rows, {histogram, Name, Labels} <- [element(1, Row)],
                                Values <- [tl(tuple_to_list(Row))]]),
    [families(counter, [{N, L, V} || {N, L, V} <- Counters ++ store_counters()]),
     [[type_line(Name, histogram),
       [histogram(Name, Labels, Values) || {N, Labels, Values} <- Histograms, N =:= Name]]
      || Name <- lists:usort([Name || {Name, _, _} <- Histograms])],
     commit_histograms(),
     families(gauge, gauges())].

families(Kind, Samples) ->
    Names = lists:usort([Name || {Name, _, _} <- Samples]),
    [[type_line(Name, Kind),
      [[atom_to_list(Name), labels(Labels), " ", number(V), "\n"]
       || {N, Labels, V} <- Samples, N =:= Name]]
     || Name <- Names].

type_line(Name, Kind) ->
    ["# TYPE ", atom_to_list(Name), " ", atom_to_list(Kind), "\n"].

histogram(Name, Labels, [Count, SumMicros | Buckets]) ->
    Cumulative = tl(lists:reverse(lists:foldl(fun(B, [Acc | _] = All) -> [Acc + B | All] end,
                                              [0], Buckets))),
    Base = atom_to_list(Name),
    [[[Base, "_bucket", labels(Labels ++ [{le, float_text(Le)}]), " ", number(C), "\n"]
      || {Le, C} <- lists:zip(?BUCKETS, Cumulative)],
     [Base, "_bucket", labels(Labels ++ [{le, "+Inf"}]), " ", number(Count), "\n"],
     [Base, "_sum", labels(Labels), " ", float_text(SumMicros / 1000000), "\n"],
     [Base, "_count", labels(Labels), " ", number(Count), "\n"]].

labels([]) -> "";
labels(Labels) ->
    ["{", lists:join(",", [[atom_to_list(K), "=\"", escape(V), "\""] || {K, V} <- Labels]), "}"].

escape(V) when is_atom(V) -> escape(atom_to_binary(V));
escape(V) when is_list(V) -> escape(unicode:characters_to_binary(V));
escape(V) when is_binary(V) ->
    binary:replace(binary:replace(binary:replace(V, <<"\\">>, <<"\\\\">>, [global]),
                                  <<"\"">>, <<"\\\"">>, [global]),
                   <<"\n">>, <<"\\n">>, [global]).

number(N) when is_integer(N) -> integer_to_list(N);
number(N) -> float_text(N).

float_text(F) when is_float(F) -> float_to_list(F, [short]);
float_text(N) when is_integer(N) -> integer_to_list(N).

%% The store's own counters (see `aion_engine:store_stats/0').
store_counters() ->
    case aion_engine:store_stats() of
        {ok, Stats} ->
            [{list_to_atom("aion_store_" ++ atom_to_list(K) ++ "_total"), [], V}
             || {K, V} <- maps:to_list(Stats), is_integer(V)];
        {error, _} ->
            []
    end.

%% The commit thread's histograms, from the engine (`aion_engine:commit_stats/0').
commit_histograms() ->
    case aion_engine:commit_stats() of
        {ok, #{duration_us := Durations, writes := Writes}} ->
            [native_histogram(aion_commit_duration_seconds, Durations, 1000000),
             native_histogram(aion_commit_writes, Writes, 1)];
        {error, _} ->
            []
    end.

%% A histogram kept by the engine: `{Bounds, Counts, Sum, Count}', bounds in `Scale'
%% units of the metric (microseconds for seconds).
native_histogram(Name, {Bounds, Counts, Sum, Count}, Scale) ->
    Cumulative = tl(lists:reverse(lists:foldl(fun(B, [Acc | _] = All) -> [Acc + B | All] end,
                                              [0], Counts))),
    Base = atom_to_list(Name),
    [type_line(Name, histogram),
     [[Base, "_bucket", labels([{le, float_text(Le / Scale)}]), " ", number(C), "\n"]
      || {Le, C} <- lists:zip(Bounds, lists:sublist(Cumulative, length(Bounds)))],
     [Base, "_bucket", labels([{le, "+Inf"}]), " ", number(Count), "\n"],
     [Base, "_sum", " ", float_text(Sum / Scale), "\n"],
     [Base, "_count", " ", number(Count), "\n"]].

gauges() ->
    Runs = try ets:tab2list(aion_runs) catch error:badarg -> [] end,
    Waiting = length([P || {_, P} <- Runs,
                           process_info(P, status) =:= {status, waiting}]),
    Blocked = try ets:info(aion_blocked, size) catch error:badarg -> 0 end,
    Queues = try aion_activity_pool:depths() catch exit:_ -> [] end,
    [{aion_runs, [{state, running}], length(Runs)},
     {aion_runs, [{state, waiting}], Waiting},
     {aion_runs, [{state, blocked}], case Blocked of undefined -> 0; N -> N end}]
        ++ [{aion_activity_queue_depth, [{queue, Q}], Pending} || {Q, _, Pending} <- Queues]
        ++ [{aion_activity_running, [{queue, Q}], Running} || {Q, Running, _} <- Queues].
