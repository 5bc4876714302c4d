%% Hostile review of activity heartbeats (issue 12): each test is a finding or a claim
%% checked. See test/aion_heartbeat_tests.erl for the basic behaviour.
-module(aion_review12b_tests).

-include_lib("eunit/include/eunit.hrl").

-export([flow/1]).
-export([quick/1, beat_forever/1, spawned_beat/1, fan/1, beat_then_fail/1, trapping/1, lost/1]).

%% An attempt queued behind its task queue's concurrency bound: its schedule_to_close
%% deadline counts from the call, the wait in the queue included ("a running attempt is
%% stopped at it"); the pool counted the time it had left when it was submitted from when
%% it started, so it ran past the deadline by as long as it waited.
queued_schedule_to_close_test_() ->
    {timeout, 30, fun queued_schedule_to_close/0}.

queued_schedule_to_close() ->
    _ = application:load(aion),
    ok = application:set_env(aion, activity_concurrency, #{<<"narrow">> => 1}),
    aion_test_support:start(memory),
    try
        ok = aion:register_workflow(<<"rv12b_flow">>, {?MODULE, flow}),
        ok = aion:register_activity(<<"rv12b_quick">>, {?MODULE, quick}),
        {ok, Id} = aion:start_workflow(<<"rv12b_flow">>, #{<<"mode">> => <<"narrow">>}, #{}),
        {ok, [First, Second]} = aion:await(Id, 10000),
        ?assertEqual(#{<<"ok">> => <<"quick">>}, First),
        ?assertMatch(#{<<"error">> := _}, Second),
        [#{recorded_at := Scheduled}] = [E || E = #{ordinal := 2} <- aion_test_support:events(Id, <<"ActivityScheduled">>)],
        [#{recorded_at := Failed, error := #{<<"type">> := Type}}] =
            [E || E = #{ordinal := 2} <- aion_test_support:events(Id, <<"ActivityFailed">>)],
        ?assertEqual(<<"schedule_to_close_timeout">>, Type),
        ?assert(Failed - Scheduled < 1000)
    after
        aion_test_support:stop(x),
        application:set_env(aion, activity_concurrency, 100)
    end.

review_test_() ->
    {setup, fun setup/0, fun aion_test_support:stop/1,
     fun(_) ->
         [{"the longest heartbeat_timeout_ms (a hundred years, past what one send_after takes) does not crash the pool", fun huge_heartbeat_timeout/0},
          {"the longest start_to_close_ms does not crash the pool", fun huge_start_to_close/0},
          {"the longest schedule_to_close_ms does not crash the pool", fun huge_schedule_to_close/0},
          {"an early deadline or heartbeat check (a long one in steps) re-arms", fun early_timer_rearms/0},
          {"an activity abandoned by with_timeout is not cancelled: heartbeat/1 answers ok", fun with_timeout_not_cancelled/0},
          {"a race loser's heartbeat answers cancelled", fun race_loser_cancelled/0},
          {"fan-out: each retry reads its own activity's details", fun fanout_own_details/0},
          {"heartbeat from a process the attempt spawned", fun spawned_process/0},
          {"the heartbeat table is empty once the attempts are over", fun table_empty/0},
          {"an attempt that traps exits does not outlive a pool restart as a second live attempt",
           fun trapping_outlives_pool/0},
          {"worker_lost records no details; the next attempt reads those recorded before",
           fun lost_keeps_earlier_details/0}]
     end}.

setup() ->
    Dir = aion_test_support:start(),
    ok = aion:register_workflow(<<"rv12b_flow">>, {?MODULE, flow}),
    [ok = aion:register_activity(<<"rv12b_", (atom_to_binary(A))/binary>>, {?MODULE, A})
     || A <- [quick, beat_forever, spawned_beat, fan, beat_then_fail, trapping, lost]],
    Dir.

%% Workflows.

flow(#{<<"mode">> := <<"one">>, <<"activity">> := Name, <<"input">> := Input} = Args) ->
    Opts = maps:from_list([{K, V} || {Key, K} <- [{<<"hb">>, heartbeat_timeout_ms},
                                                  {<<"stc">>, start_to_close_ms},
                                                  {<<"s2c">>, schedule_to_close_ms}],
                                     {ok, V} <- [maps:find(Key, Args)]]),
    {ok, printed(aion_flow:activity(Name, Input, Opts#{retry => #{initial_interval_ms => 10}}))};
flow(#{<<"mode">> := <<"race">>, <<"key">> := K}) ->
    Result = aion_flow:race([{activity, <<"rv12b_quick">>, #{<<"wait">> => 300}, #{}},
                             {activity, <<"rv12b_beat_forever">>, #{<<"key">> => K},
                              #{heartbeat_timeout_ms => 1000}}]),
    %% Open long enough for the loser to see its cancellation (a closed run's attempts
    %% are killed at once).
    ok = aion_flow:sleep(500),
    {ok, printed(Result)};
flow(#{<<"mode">> := <<"with_timeout">>, <<"key">> := K}) ->
    Result = aion_flow:with_timeout(100, fun() ->
        aion_flow:activity(<<"rv12b_beat_forever">>, #{<<"key">> => K}, #{heartbeat_timeout_ms => 1000})
    end),
    ok = aion_flow:sleep(500),
    {ok, printed(Result)};
flow(#{<<"mode">> := <<"narrow">>}) ->
    {ok, [printed(R) || R <- element(2, aion_flow:settled(
        [{activity, <<"rv12b_quick">>, #{<<"wait">> => 1500}, #{task_queue => <<"narrow">>}},
         {activity, <<"rv12b_quick">>, #{<<"wait">> => 1000},
          #{task_queue => <<"narrow">>, schedule_to_close_ms => 500}}]))]};
flow(#{<<"mode">> := <<"fanout">>, <<"keys">> := Keys}) ->
    {ok, printed(aion_flow:all([{activity, <<"rv12b_fan">>, #{<<"key">> => K},
                                 #{heartbeat_timeout_ms => 5000,
                                   retry => #{initial_interval_ms => 10}}}
                                || K <- Keys]))}.

printed({ok, V}) -> #{<<"ok">> => V};
printed({error, E}) -> #{<<"error">> => aion_flow_ffi:printed(E)}.

%% Activities.

quick(#{<<"wait">> := Ms}) -> timer:sleep(Ms), {ok, <<"quick">>};
quick(_) -> {ok, <<"quick">>}.

%% Heartbeats every 20 ms until cancelled (notes what heartbeat/1 answered) or 10 s.
beat_forever(#{<<"key">> := K}) ->
    ets:insert(aion_test_calls, {{beat_pid, K}, self()}),
    beat_loop(K, 0).

beat_loop(K, N) when N > 500 ->
    ets:insert(aion_test_calls, {{beat_forever, K}, gave_up}),
    {ok, N};
beat_loop(K, N) ->
    case aion_activity:heartbeat(#{<<"n">> => N}) of
        ok -> timer:sleep(20), beat_loop(K, N + 1);
        Other -> ets:insert(aion_test_calls, {{beat_forever, K}, Other}), {error, stopped}
    end.

%% Calls heartbeat/1 and last_heartbeat/0 from a process it spawned.
spawned_beat(_) ->
    Self = self(),
    spawn(fun() -> Self ! {seen, aion_activity:heartbeat(#{<<"x">> => 1})} end),
    receive {seen, R} -> {ok, aion_flow_ffi:printed(R)} end.

%% Attempt 1 heartbeats its own key, then fails; attempt 2 answers what it read.
fan(#{<<"key">> := K}) ->
    case aion_test_flows:bump({rv12b_fan, K}) of
        1 ->
            ok = aion_activity:heartbeat(#{<<"key">> => K}),
            timer:sleep(50),
            {error, flaky};
        _ ->
            {ok, Details} = aion_activity:last_heartbeat(),
            {ok, Details}
    end.

%% Traps exits (as activity code may, to clean up), then heartbeats every 20 ms until
%% heartbeat/1 answers something else (noted per attempt) or 5 s.
trapping(#{<<"key">> := K}) ->
    process_flag(trap_exit, true),
    Attempt = aion_test_flows:bump({trapping, K}),
    ets:insert(aion_test_calls, {{trapping_pid, K, Attempt}, self()}),
    trap_loop(K, Attempt, 0).

trap_loop(_K, _Attempt, 250) ->
    {ok, gave_up};
trap_loop(K, Attempt, N) ->
    case aion_activity:heartbeat(#{<<"n">> => N}) of
        ok -> timer:sleep(20), trap_loop(K, Attempt, N + 1);
        Other -> ets:insert(aion_test_calls, {{trapping_saw, K, Attempt}, Other}), {error, stopped}
    end.

%% Attempt 1 heartbeats page 1 and fails; attempt 2 heartbeats page 2 and waits (its run
%% is killed under it); attempt 3 answers what it read.
lost(#{<<"key">> := K}) ->
    Attempt = aion_test_flows:bump({lost, K}),
    ets:insert(aion_test_calls, {{lost_saw, K, Attempt}, aion_activity:last_heartbeat()}),
    case Attempt of
        1 -> ok = aion_activity:heartbeat(#{<<"page">> => 1}), {error, flaky};
        2 -> ok = aion_activity:heartbeat(#{<<"page">> => 2}), timer:sleep(10000), {ok, late};
        _ -> {ok, aion_flow_ffi:printed(aion_activity:last_heartbeat())}
    end.

%% Heartbeats and fails (for the table check).
beat_then_fail(_) ->
    ok = aion_activity:heartbeat(#{<<"a">> => 1}),
    {error, {terminal, no}}.

%% Tests.

run(Args) ->
    {ok, Id} = aion:start_workflow(<<"rv12b_flow">>, Args, #{}),
    {Id, aion:await(Id, 15000)}.

huge_heartbeat_timeout() ->
    Pool = whereis(aion_activity_pool),
    {_, Result} = run(#{<<"mode">> => <<"one">>, <<"activity">> => <<"rv12b_quick">>,
                        <<"input">> => null, <<"hb">> => 3155760000000}),
    ?assertEqual({ok, #{<<"ok">> => <<"quick">>}}, Result),
    ?assertEqual(Pool, whereis(aion_activity_pool)).

huge_start_to_close() ->
    Pool = whereis(aion_activity_pool),
    {_, Result} = run(#{<<"mode">> => <<"one">>, <<"activity">> => <<"rv12b_quick">>,
                        <<"input">> => null, <<"stc">> => 3155760000000}),
    ?assertEqual({ok, #{<<"ok">> => <<"quick">>}}, Result),
    ?assertEqual(Pool, whereis(aion_activity_pool)).

huge_schedule_to_close() ->
    Pool = whereis(aion_activity_pool),
    {_, Result} = run(#{<<"mode">> => <<"one">>, <<"activity">> => <<"rv12b_quick">>,
                        <<"input">> => null, <<"s2c">> => 3155760000000}),
    ?assertEqual({ok, #{<<"ok">> => <<"quick">>}}, Result),
    ?assertEqual(Pool, whereis(aion_activity_pool)).

%% What the pool does when a long deadline's first step runs out: it waits on.
early_timer_rearms() ->
    K = aion_test_support:key(),
    {ok, Id} = aion:start_workflow(<<"rv12b_flow">>, #{<<"mode">> => <<"one">>,
                                                      <<"activity">> => <<"rv12b_beat_forever">>,
                                                      <<"input">> => #{<<"key">> => K},
                                                      <<"hb">> => 10000, <<"stc">> => 10000}, #{}),
    aion_test_support:wait_until(fun() -> ets:lookup(aion_test_calls, {beat_pid, K}) =/= [] end, 5000),
    [{_, Pid}] = ets:lookup(aion_test_calls, {beat_pid, K}),
    aion_activity_pool ! {aion_deadline, Pid},
    aion_activity_pool ! {aion_heartbeat_check, Pid},
    timer:sleep(100),
    ?assert(is_process_alive(Pid)),
    ok = aion:cancel(Id),
    ?assertMatch({error, {cancelled, _}}, aion:await(Id, 5000)).

%% with_timeout does not cancel what it abandons: the attempt runs on (heartbeat/1 says
%% ok) until it ends or the run closes (then it is killed). The README says so.
with_timeout_not_cancelled() ->
    K = aion_test_support:key(),
    {_, Result} = run(#{<<"mode">> => <<"with_timeout">>, <<"key">> => K}),
    ?assertEqual({ok, #{<<"error">> => <<"timeout">>}}, Result),
    ?assertEqual([], ets:lookup(aion_test_calls, {beat_forever, K})).

race_loser_cancelled() ->
    K = aion_test_support:key(),
    {_, Result} = run(#{<<"mode">> => <<"race">>, <<"key">> => K}),
    ?assertEqual({ok, #{<<"ok">> => <<"quick">>}}, Result),
    aion_test_support:wait_until(
      fun() -> ets:lookup(aion_test_calls, {beat_forever, K}) =/= [] end, 5000),
    ?assertEqual([{{beat_forever, K}, {error, cancelled}}],
                 ets:lookup(aion_test_calls, {beat_forever, K})).

fanout_own_details() ->
    Keys = [aion_test_support:key() || _ <- lists:seq(1, 8)],
    {_, Result} = run(#{<<"mode">> => <<"fanout">>, <<"keys">> => Keys}),
    ?assertEqual({ok, #{<<"ok">> => [#{<<"key">> => K} || K <- Keys]}}, Result).

spawned_process() ->
    {_, Result} = run(#{<<"mode">> => <<"one">>, <<"activity">> => <<"rv12b_spawned_beat">>,
                        <<"input">> => null}),
    ?assertEqual({ok, #{<<"ok">> => <<"{error,not_in_activity}">>}}, Result).

table_empty() ->
    {_, _} = run(#{<<"mode">> => <<"one">>, <<"activity">> => <<"rv12b_beat_then_fail">>,
                   <<"input">> => null, <<"hb">> => 1000}),
    aion_test_support:wait_until(fun() -> aion_activity_pool:busy() =:= 0 end, 5000),
    ?assertEqual(0, ets:info(aion_activity_heartbeats, size)).

%% The pool dies (here: killed; a crash is the same to a worker that traps exits): its
%% workers die with it, and the run is replayed by the restarted tree and starts a new
%% attempt. A worker that traps exits survived and went on heartbeating into the new
%% pool's table (an entry nobody forgets) as a second live attempt of the activity.
trapping_outlives_pool() ->
    K = aion_test_support:key(),
    {ok, Id} = aion:start_workflow(<<"rv12b_flow">>, #{<<"mode">> => <<"one">>,
                                                      <<"activity">> => <<"rv12b_trapping">>,
                                                      <<"input">> => #{<<"key">> => K},
                                                      <<"hb">> => 5000}, #{}),
    aion_test_support:wait_until(fun() -> ets:lookup(aion_test_calls, {trapping_pid, K, 1}) =/= [] end, 5000),
    [{_, First}] = ets:lookup(aion_test_calls, {trapping_pid, K, 1}),
    Pool = whereis(aion_activity_pool),
    exit(Pool, kill),
    aion_test_support:wait_until(fun() -> ets:lookup(aion_test_calls, {trapping_pid, K, 2}) =/= [] end, 5000),
    %% The first attempt stops at its next heartbeat (it is told it is cancelled).
    aion_test_support:wait_until(fun() -> not is_process_alive(First) end, 2000),
    ?assertEqual([{{trapping_saw, K, 1}, {error, cancelled}}],
                 ets:lookup(aion_test_calls, {trapping_saw, K, 1})),
    ?assertEqual([], ets:lookup(aion_activity_heartbeats, First)),
    ok = aion:cancel(Id),
    _ = aion:await(Id, 5000).

lost_keeps_earlier_details() ->
    K = aion_test_support:key(),
    {ok, Id} = aion:start_workflow(<<"rv12b_flow">>, #{<<"mode">> => <<"one">>,
                                                      <<"activity">> => <<"rv12b_lost">>,
                                                      <<"input">> => #{<<"key">> => K},
                                                      <<"hb">> => 5000}, #{}),
    aion_test_support:wait_until(fun() -> ets:lookup(aion_test_calls, {lost_saw, K, 2}) =/= [] end, 5000),
    timer:sleep(50),
    aion_test_support:kill_and_replay(Id),
    ?assertEqual({ok, #{<<"ok">> => <<"{ok,#{<<\"page\">> => 1}}">>}}, aion:await(Id, 5000)),
    ?assertMatch([#{attempt := 1, error := #{<<"details">> := #{<<"page">> := 1}}},
                  #{attempt := 2, error := #{<<"type">> := <<"worker_lost">>} = E2}]
                 when not is_map_key(<<"details">>, E2),
                 aion_test_support:events(Id, <<"ActivityFailed">>)).
