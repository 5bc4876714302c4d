%% "One owner per run": only a run's process writes its history; everyone else writes to
%% its durable inbox and never waits on it; attempts belong to their run; a run that
%% cannot go on is blocked on its own; every error is a tagged term.
-module(aion_owner_tests).

-include_lib("eunit/include/eunit.hrl").

-import(aion_test_support, [wait_until/2, key/0]).

setup(Store) ->
    Dir = aion_test_support:start(Store),
    ok = aion_owner_flows:register_all(),
    Dir.

with(Store, Tests) ->
    {setup, fun() -> setup(Store) end, fun aion_test_support:stop/1,
     [{timeout, 180, T} || T <- Tests]}.

owner_test_() ->
    with(sqlite, [fun pairs_of_workflows_signal_each_other_at_the_same_moment/0,
                  fun an_acknowledged_signal_is_never_lost_when_the_run_closes/0,
                  fun terminate_is_not_starved_by_a_signal_storm/0,
                  fun killing_the_run_never_gives_two_live_attempts/0,
                  fun a_crash_in_workflow_code_blocks_the_run_until_fixed/0,
                  fun on_crash_fail_keeps_fail_fast/0,
                  fun a_gleam_panic_blocks_or_fails_as_registered/0,
                  fun errors_are_tagged_and_names_are_checked/0,
                  fun list_takes_every_status/0,
                  fun workers_report_their_real_exit_and_invent_none/0,
                  fun the_run_process_answers_sys/0,
                  fun registrations_survive_an_engine_crash/0]).

pairs_of_workflows_signal_each_other_at_the_same_moment() ->
    K = key(),
    Pairs = 500,
    Id = fun(I, Side) -> <<"pair-", K/binary, "-", (integer_to_binary(I))/binary, "-", Side/binary>> end,
    Ids = lists:append([begin
        A = Id(I, <<"a">>), B = Id(I, <<"b">>),
        {ok, A} = aion:start_workflow(<<"owner_pair">>, #{<<"peer">> => B, <<"me">> => A}, #{workflow_id => A}),
        {ok, B} = aion:start_workflow(<<"owner_pair">>, #{<<"peer">> => A, <<"me">> => B}, #{workflow_id => B}),
        [{A, B}, {B, A}]
    end || I <- lists:seq(1, Pairs)]),
    %% Every workflow is told to go at the same moment: each signals its peer while the
    %% peer signals it.
    Self = self(),
    _ = [spawn(fun() -> Self ! {sent, aion:signal(W, <<"go">>, 1)} end) || {W, _} <- Ids],
    [receive {sent, R} -> ?assertEqual(ok, R) end || _ <- Ids],
    _ = [?assertEqual({ok, Peer}, aion:await(W, 60000)) || {W, Peer} <- Ids],
    {W0, _} = hd(Ids),
    Types = aion_test_support:types(W0),
    ?assertEqual(2, length([T || T <- Types, T =:= <<"SignalReceived">>])),
    ?assertEqual([<<"SignalDelivered">>], [T || T <- Types, T =:= <<"SignalDelivered">>]).

%% Runs close (on their own, or terminated) while signals pour in: every signal answered
%% `ok' is in the history, once; the others are answered `not_running'.
an_acknowledged_signal_is_never_lost_when_the_run_closes() ->
    Ids = [aion_test_support:start_run(<<"owner_waiter">>, #{}) || _ <- lists:seq(1, 40)],
    _ = [aion_test_support:waiting_in_receive(Id) || Id <- Ids],
    {Terminated, _} = lists:split(20, Ids),
    Self = self(),
    Senders = [spawn_link(fun() ->
                   Acks = [aion:signal(Id, <<"go">>, N) || N <- lists:seq(1, 15)],
                   Self ! {self(), Id, Acks}
               end) || Id <- Ids, _ <- [1, 2]],
    Enders = [spawn_link(fun() -> Self ! {self(), ended, aion:terminate(Id, <<"enough">>)} end)
              || Id <- Terminated],
    _ = [receive {E, ended, R} -> ?assert(R =:= ok orelse R =:= {error, not_running}) end || E <- Enders],
    Answers = [receive {S, Id, Acks} -> {Id, Acks} end || S <- Senders],
    _ = [begin
             ?assertMatch({_, _}, aion:await(Id, 20000)),
             ?assertNotEqual({error, timeout}, aion:await(Id, 20000)),
             Ok = lists:sum([length([A || A <- Acks, A =:= ok]) || {I, Acks} <- Answers, I =:= Id]),
             Other = [A || {I, Acks} <- Answers, I =:= Id, A <- Acks, A =/= ok],
             ?assertEqual([], [A || A <- Other, A =/= {error, not_running}]),
             ?assertEqual(Ok, length(aion_test_support:events(Id, <<"SignalReceived">>)))
         end || Id <- Ids].

%% Clients signalling as fast as they can do not keep a terminate from ending the run: it
%% holds the run while it records what came and then the end.
terminate_is_not_starved_by_a_signal_storm() ->
    Id = aion_test_support:start_run(<<"owner_interleave">>, #{}),
    aion_test_support:waiting_in_receive(Id),
    Self = self(),
    Blast = fun Loop(N) ->
        case aion:signal(Id, <<"s">>, N) of
            ok -> Loop(N + 1);
            {error, not_running} -> Self ! {blasted, N}
        end
    end,
    _ = [spawn_link(fun() -> Blast(0) end) || _ <- [1, 2, 3, 4]],
    timer:sleep(200),
    {Micros, Result} = timer:tc(fun() -> aion:terminate(Id, <<"enough">>) end),
    ?assertEqual(ok, Result),
    Acked = lists:sum([receive {blasted, N} -> N end || _ <- [1, 2, 3, 4]]),
    ?assert(Micros < 5000000),
    %% Every acknowledged signal was recorded before the end.
    ?assertEqual(Acked, length(aion_test_support:events(Id, <<"SignalReceived">>))),
    ?assertMatch([_], aion_test_support:events(Id, <<"WorkflowTerminated">>)).

killing_the_run_never_gives_two_live_attempts() ->
    K = key(),
    ok = aion:register_workflow(<<"owner_tracked_flow">>, {aion_test_flows, with_opts}),
    Id = aion_test_support:start_run(<<"owner_tracked_flow">>,
        #{<<"activity">> => <<"owner_tracked">>, <<"input">> => #{<<"key">> => K},
          <<"max_attempts">> => 10}),
    Attempts = fun() -> case ets:lookup(aion_test_calls, {attempts, K}) of [{_, N}] -> N; [] -> 0 end end,
    wait_until(fun() -> Attempts() =:= 1 end, 10000),
    _ = [begin
             [{_, Pid}] = ets:lookup(aion_runs, Id),
             exit(Pid, kill),
             wait_until(fun() -> Attempts() =:= N end, 10000)
         end || N <- [2, 3, 4]],
    [{_, Worker}] = ets:lookup(aion_test_calls, {owner_tracked, K}),
    Worker ! release,
    ?assertEqual({ok, <<"done">>}, aion:await(Id, 10000)),
    ?assertEqual([], ets:lookup(aion_test_calls, {overlap, K})),
    %% The stopped attempts are in the history as lost, the last one completed.
    Failed = aion_test_support:events(Id, <<"ActivityFailed">>),
    ?assertEqual([1, 2, 3], [A || #{attempt := A} <- Failed]),
    ?assertMatch([#{attempt := 4}], aion_test_support:events(Id, <<"ActivityCompleted">>)).

a_crash_in_workflow_code_blocks_the_run_until_fixed() ->
    K = key(),
    Id = aion_test_support:start_run(<<"owner_crashes">>, #{<<"key">> => K}),
    wait_until(fun() -> status(Id) =:= blocked end, 10000),
    {ok, #{blocked_reason := Reason}} = aion:describe(Id),
    ?assertMatch({crashed, #{class := error, reason := <<"{deliberate,", _/binary>>}}, Reason),
    ?assertEqual(0, length(aion_test_support:events(Id, <<"WorkflowFailed">>))),
    ?assertEqual({error, timeout}, aion:await(Id, 100)),
    %% Deploy the fix: registering the type again replays the run, which now completes.
    persistent_term:put({aion_owner_flows, crash, K}, false),
    ok = aion:register_workflow(<<"owner_crashes">>, {aion_owner_flows, crashes}),
    ?assertEqual({ok, <<"fixed">>}, aion:await(Id, 10000)),
    %% The activity before the crash ran once: replay answered it from history.
    ?assertEqual(1, length(aion_test_support:events(Id, <<"ActivityCompleted">>))),
    persistent_term:erase({aion_owner_flows, crash, K}).

on_crash_fail_keeps_fail_fast() ->
    Id = aion_test_support:start_run(<<"owner_crashes_fail">>, #{<<"key">> => key()}),
    ?assertMatch({error, {failed, #{<<"type">> := <<"crash">>}}}, aion:await(Id, 10000)),
    ?assertEqual({error, {bad_option, {on_crash, maybe}}},
                 aion:register_workflow(<<"x">>, {aion_owner_flows, crashes}, #{on_crash => maybe})).

a_gleam_panic_blocks_or_fails_as_registered() ->
    {ok, nil} = aion_flow_fixture:register_panicking(),
    Failed = aion_test_support:start_run(<<"gleam_panics_failed">>, null),
    ?assertMatch({error, {failed, #{<<"type">> := <<"crash">>}}}, aion:await(Failed, 10000)),
    Blocked = aion_test_support:start_run(<<"gleam_panics_blocked">>, null),
    wait_until(fun() -> status(Blocked) =:= blocked end, 10000),
    ?assertMatch({ok, #{blocked_reason := {crashed, #{class := error}}}}, aion:describe(Blocked)).

errors_are_tagged_and_names_are_checked() ->
    Long = binary:copy(<<"n">>, 256),
    Id = aion_test_support:start_run(<<"owner_waiter">>, #{}),
    ?assertEqual({error, not_found}, aion:signal(<<"no-such-run">>, <<"go">>, 1)),
    ?assertEqual({error, not_found}, aion:cancel(<<"no-such-run">>)),
    ?assertEqual({error, {bad_argument, name, <<>>}}, aion:signal(Id, <<>>, 1)),
    ?assertEqual({error, {bad_argument, name, Long}}, aion:signal(Id, Long, 1)),
    ?assertEqual({error, {bad_argument, name, "go"}}, aion:signal(Id, "go", 1)),
    ?assertEqual({error, {bad_argument, type, <<>>}}, aion:register_workflow(<<>>, {aion_owner_flows, waiter})),
    ?assertEqual({error, {bad_argument, name, Long}}, aion:register_activity(Long, {aion_owner_flows, echo})),
    ?assertMatch({error, {bad_option, {workflow_id, _}}},
                 aion:start_workflow(<<"owner_waiter">>, 1, #{workflow_id => Long})),
    ?assertEqual({error, {bad_argument, timeout, -1}}, aion:query(Id, <<"q">>, 1, -1)),
    %% Inside a workflow too: every command with a name of 256 or 0 bytes is refused and
    %% nothing is recorded for it.
    Named = aion_test_support:start_run(<<"owner_long_names">>, null),
    ?assertEqual({ok, lists:duplicate(10, true)}, aion:await(Named, 10000)),
    ?assertEqual([<<"WorkflowStarted">>, <<"WorkflowCompleted">>], aion_test_support:types(Named)),
    ?assertEqual({error, {bad_argument, timeout, soon}}, aion:update(Id, <<"u">>, 1, soon)),
    ?assertEqual({error, {bad_argument, name, <<>>}}, aion:query(Id, <<>>, 1, 100)),
    ?assertEqual({error, {bad_argument, name, "u"}}, aion:update(Id, "u", 1, 100)),
    ?assertEqual({error, {bad_argument, timeout, 1 bsl 32}}, aion:await(Id, 1 bsl 32)),
    ?assertEqual({error, {bad_argument, timeout, 1 bsl 32}}, aion:query(Id, <<"q">>, 1, 1 bsl 32)),
    ?assertEqual({error, not_found}, aion:describe(<<255, 0>>)),
    ?assertEqual({error, not_found}, aion:signal(Long, <<"go">>, 1)),
    ?assertMatch({error, {bad_option, {parent_id, <<>>}}},
                 aion:start_workflow(<<"owner_waiter">>, 1, #{parent_id => <<>>})),
    %% signal_with_start checks the signal before it starts anything.
    SwsId = <<"sws-", (key())/binary>>,
    ?assertEqual({error, {bad_argument, name, "go"}},
                 aion:signal_with_start(<<"owner_waiter">>, 1, "go", 1, #{workflow_id => SwsId})),
    ?assertMatch({error, {invalid_input, _}},
                 aion:signal_with_start(<<"owner_waiter">>, 1, <<"go">>, {bad}, #{workflow_id => SwsId})),
    ?assertEqual({error, not_found}, aion:describe(SwsId)),
    ?assertMatch({error, {invalid_input, _}}, aion:signal(Id, <<"go">>, {tuple})),
    ?assertMatch({error, {payload_too_large, _, _}},
                 aion:signal(Id, <<"go">>, binary:copy(<<"x">>, 3 * 1024 * 1024))),
    ok = aion:signal(Id, <<"go">>, <<"done">>),
    ?assertEqual({ok, <<"done">>}, aion:await(Id, 10000)),
    ?assertEqual({error, not_running}, aion:signal(Id, <<"go">>, 1)),
    ?assertEqual({error, not_running}, aion:cancel(Id)).

%% Without the application every call answers `{error, not_started}'.
not_started_test() ->
    _ = application:stop(aion),
    Id = <<"x">>,
    _ = [?assertEqual({error, not_started}, Call())
         || Call <- [fun() -> aion:start_workflow(<<"t">>, 1, #{}) end,
                     fun() -> aion:await(Id, 10) end,
                     fun() -> aion:describe(Id) end,
                     fun() -> aion:history(Id) end,
                     fun() -> aion:list(#{}) end,
                     fun() -> aion:cancel(Id) end,
                     fun() -> aion:terminate(Id, r) end,
                     fun() -> aion:signal(Id, <<"s">>, 1) end,
                     fun() -> aion:signal_with_start(<<"t">>, 1, <<"s">>, 1, #{}) end,
                     fun() -> aion:query(Id, <<"q">>, 1) end,
                     fun() -> aion:update(Id, <<"u">>, 1, 10) end,
                     fun() -> aion:export_history(Id, "/tmp/x") end,
                     fun() -> aion:register_workflow(<<"t">>, {aion_owner_flows, waiter}) end,
                     fun() -> aion:register_activity(<<"a">>, {aion_owner_flows, echo}) end]].

%% The run command boundary answers anything that is not a command with an error.
run_commands_are_typed_test() ->
    Doc = <<"{\"format\":\"aion-history\",\"version\":1,\"workflow_id\":\"w\",\"run_id\":\"r\",",
            "\"workflow_type\":\"t\",\"events\":[{\"seq\":1,\"recorded_at\":1,\"type\":\"WorkflowStarted\",",
            "\"workflow_type\":\"t\",\"input\":null,\"run_id\":\"r\"}]}">>,
    {ok, {Run, <<"w">>, <<"t">>, <<"null">>, <<"r">>}} = aion_flow_ffi:nif_run_from_history(Doc),
    _ = [?assertMatch({error, {invalid_input, _}}, aion_flow_ffi:nif_run_command(Run, C, 0, 0))
         || C <- [bogus, {bogus, 1}, {activity_step}, {dispatch_activity, 1, 2}, {timer_start, "x", 1},
                  {activity_step, <<"1">>}, {activity_results, [{1, 2}]}, 42, "now"]],
    ?assertMatch({error, {invalid_input, _}}, aion_flow_ffi:nif_run_command(Run, {timer_start, <<"t">>, 10}, bad, 0)),
    ?assertMatch({ok, T} when is_integer(T), aion_flow_ffi:nif_run_command(Run, now, 0, 0)),
    ?assertMatch({ok, {null, false, false}}, aion_flow_ffi:nif_run_command(Run, replay_status, 0, 0)).

workers_report_their_real_exit_and_invent_none() ->
    %% 300 fast activities: not one attempt is reported as a crash.
    Many = aion_test_support:start_run(<<"owner_many">>, #{<<"n">> => 300}),
    ?assertEqual({ok, 300}, aion:await(Many, 30000)),
    ?assertEqual([], aion_test_support:events(Many, <<"ActivityFailed">>)),
    %% A worker killed from outside: its real exit reason is the failure's message.
    K = key(),
    Id = aion_test_support:start_run(<<"owner_once">>, #{<<"key">> => K}),
    wait_until(fun() -> ets:lookup(aion_test_calls, {parked, K}) =/= [] end, 10000),
    [{_, Worker}] = ets:lookup(aion_test_calls, {parked, K}),
    exit(Worker, {custom_reason, 42}),
    {error, {failed, #{<<"type">> := <<"crash">>, <<"message">> := Message}}} = aion:await(Id, 10000),
    ?assertNotEqual(nomatch, binary:match(Message, <<"custom_reason">>)).

list_takes_every_status() ->
    _ = [?assertMatch({ok, _}, aion:list(#{status => S}))
         || S <- [running, blocked, completed, failed, cancelled, terminated, timed_out]],
    ?assertEqual({error, {bad_option, {status, nope}}}, aion:list(#{status => nope})),
    Id = aion_test_support:start_run(<<"owner_waiter">>, #{}),
    ok = aion:cancel(Id, <<"why">>),
    ?assertMatch({error, {cancelled, _}}, aion:await(Id, 10000)),
    {ok, Cancelled} = aion:list(#{status => cancelled}),
    ?assert(lists:member(Id, [W || #{workflow_id := W} <- Cancelled])).

the_run_process_answers_sys() ->
    Id = aion_test_support:start_run(<<"owner_waiter">>, #{}),
    aion_test_support:waiting_in_receive(Id),
    [{_, Pid}] = ets:lookup(aion_runs, Id),
    State = sys:get_state(Pid),
    ?assertEqual(aion_run_ctx, element(1, State)),
    ?assertEqual(ok, sys:suspend(Pid)),
    ?assertEqual(ok, sys:resume(Pid)),
    ?assertEqual(ok, sys:trace(Pid, true)),
    ok = aion:signal(Id, <<"go">>, 7),
    ?assertEqual({ok, 7}, aion:await(Id, 10000)).

registrations_survive_an_engine_crash() ->
    _ = [begin
             Id = aion_test_support:start_run(<<"owner_waiter">>, #{}),
             aion_test_support:waiting_in_receive(Id),
             [{_, Before}] = ets:lookup(aion_runs, Id),
             Victim = whereis(Name),
             exit(Victim, kill),
             %% Calls made while the tree restarts wait for it: nothing is refused as
             %% `not_running' and no caller gets an exception.
             ?assertMatch({ok, #{status := running}}, aion:describe(Id)),
             ?assertEqual(ok, aion:signal(Id, <<"early">>, 1)),
             wait_until(fun() -> is_pid(whereis(Name)) andalso whereis(Name) =/= Victim
                                     andalso is_pid(whereis(aion_workflow_sup)) end, 10000),
             ?assertMatch({ok, _}, aion_engine:lookup(workflow, <<"owner_waiter">>)),
             %% The restarted tree resumed the run on its own (a new live process).
             wait_until(fun() ->
                 case ets:lookup(aion_runs, Id) of
                     [{_, P}] -> P =/= Before andalso is_process_alive(P);
                     [] -> false
                 end
             end, 10000),
             aion_test_support:waiting_in_receive(Id),
             ok = aion:signal(Id, <<"go">>, 8),
             ?assertEqual({ok, 8}, aion:await(Id, 10000)),
             ?assertEqual(1, length(aion_test_support:events(Id, <<"SignalReceived">>)) - 1)
         end || Name <- [aion_engine, aion_activity_pool, aion_workflow_sup]],
    %% A run process shut down from outside is replayed too.
    Id2 = aion_test_support:start_run(<<"owner_waiter">>, #{}),
    aion_test_support:waiting_in_receive(Id2),
    [{_, P2}] = ets:lookup(aion_runs, Id2),
    exit(P2, shutdown),
    wait_until(fun() -> case ets:lookup(aion_runs, Id2) of
                            [{_, P}] -> P =/= P2 andalso is_process_alive(P);
                            [] -> false
                        end end, 10000),
    ok = aion:signal(Id2, <<"go">>, 9),
    ?assertEqual({ok, 9}, aion:await(Id2, 10000)).

status(Id) ->
    {ok, #{status := S}} = aion:describe(Id),
    S.

%% Payloads nested deeper than the limit are refused where they enter, or end the run
%% with a clear error; every history stays readable and a healthy run survives a restart.
deep_payloads_test_() ->
    {timeout, 120, fun deep_payloads/0}.

deep_payloads() ->
    Dir = setup(sqlite),
    try
        Victim = aion_test_support:start_run(<<"owner_waiter">>, #{}),
        aion_test_support:waiting_in_receive(Victim),
        _ = [begin
                 Deep = nested(Levels),
                 ?assertMatch({error, {invalid_input, _}}, aion:start_workflow(<<"owner_returns">>, Deep, #{})),
                 ?assertMatch({error, {invalid_input, _}}, aion:signal(Victim, <<"go">>, Deep)),
                 ?assertMatch({error, {invalid_input, _}}, aion:cancel(Victim, Deep)),
                 ?assertMatch({error, {invalid_input, _}}, aion:terminate(Victim, Deep)),
                 ?assertMatch({error, {invalid_input, _}}, aion:update(Victim, <<"u">>, Deep, 100)),
                 ?assertMatch({error, {invalid_input, _}}, aion:query(Victim, <<"q">>, Deep, 100)),
                 %% A workflow returning it fails with a readable error.
                 R = aion_test_support:start_run(<<"owner_returns">>, #{<<"value">> => nested(60)}),
                 ?assertEqual({ok, nested(60)}, aion:await(R, 10000)),
                 D = aion_test_support:start_run(<<"owner_deep_activity">>, #{<<"levels">> => Levels}),
                 ?assertEqual({error, {failed, <<"bad_result">>}}, aion:await(D, 10000))
             end || Levels <- [65, 127, 129, 300, 5000]],
        %% Through the JSON contract too.
        DeepText = iolist_to_binary([lists:duplicate(127, $[), lists:duplicate(127, $])]),
        ?assertMatch({error, {invalid_input, _}}, aion_flow_ffi:json_decode(DeepText)),
        ok = application:stop(aion),
        {ok, _} = application:ensure_all_started(aion),
        ok = aion_owner_flows:register_all(),
        {ok, Runs} = aion:list(#{}),
        _ = [?assertMatch({ok, [_ | _]}, aion:history(W)) || #{workflow_id := W} <- Runs],
        ok = aion:signal(Victim, <<"go">>, <<"alive">>),
        ?assertEqual({ok, <<"alive">>}, aion:await(Victim, 10000))
    after
        aion_test_support:stop(Dir)
    end.

nested(0) -> <<"bottom">>;
nested(N) -> [nested(N - 1)].

%% One run's stored event is corrupted on disk: that run is blocked with its reason, the
%% others complete.
corrupted_history_blocks_only_its_run_test_() ->
    {timeout, 120, fun corrupted_history_blocks_only_its_run/0}.

corrupted_history_blocks_only_its_run() ->
    %% It corrupts the SQLite file itself: SQLite whatever the suite's store.
    Dir = setup(sqlite_file),
    try
        Marker = <<"corrupt-me-", (key())/binary>>,
        Victim = aion_test_support:start_run(<<"owner_waiter">>, #{<<"marker">> => Marker}),
        Others = [aion_test_support:start_run(<<"owner_waiter">>, #{<<"n">> => N}) || N <- lists:seq(1, 100)],
        _ = [aion_test_support:waiting_in_receive(W) || W <- [Victim | Others]],
        ok = application:stop(aion),
        %% Flip one character of the victim's WorkflowStarted event in the database file
        %% (same length, so SQLite's own structure stays intact): its body no longer parses.
        Db = filename:join(Dir, "aion.db"),
        {ok, Bytes} = file:read_file(Db),
        Needle = <<Marker/binary, "\"}">>,
        ?assertNotEqual(nomatch, binary:match(Bytes, Needle)),
        ok = file:write_file(Db, binary:replace(Bytes, Needle, <<Marker/binary, "\"]">>, [global])),
        {ok, _} = application:ensure_all_started(aion),
        ok = aion_owner_flows:register_all(),
        _ = [ok = aion:signal(W, <<"go">>, W) || W <- Others],
        _ = [?assertEqual({ok, W}, aion:await(W, 20000)) || W <- Others],
        wait_until(fun() -> status(Victim) =:= blocked end, 10000),
        {ok, #{blocked_reason := Reason}} = aion:describe(Victim),
        ?assertMatch({unreadable, {corrupt, _}}, Reason),
        {ok, Blocked} = aion:list(#{status => blocked}),
        ?assertEqual([Victim], [W || #{workflow_id := W} <- Blocked]),
        ?assertMatch({error, {corrupt, _}}, aion:history(Victim)),
        %% The node and the engine are fine.
        ?assertMatch({ok, _}, aion:describe(hd(Others)))
    after
        aion_test_support:stop(Dir)
    end.
