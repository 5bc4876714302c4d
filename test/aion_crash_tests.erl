%% kill -9 of the BEAM OS process in the middle of each long-lived primitive: a fresh node
%% on the same data directory finishes the workflow without redoing completed work and
%% without duplicate events.
-module(aion_crash_tests).

-include_lib("eunit/include/eunit.hrl").

crash_test_() ->
    [{timeout, 120, {Name, fun() -> crash(Scenario, Check) end}}
     || {Name, Scenario, Check} <- [
            {"kill -9 mid-activity: A is not run again", "activity", fun mid_activity/2},
            {"kill -9 while sleeping: the timer fires once, on time", "timer", fun sleeping/2},
            {"kill -9 inside a pending with_timeout: the deadline still wins", "scope", fun scoped/2},
            {"kill -9 after a cancel raced a completion: one consistent outcome", "cancel", fun cancel_race/2},
            {"kill -9 while waiting for a signal: buffered and new signals arrive", "signal", fun signalled/2},
            {"kill -9 while a child runs: the child resumes and the parent gets its result", "child", fun child/2},
            {"kill -9 in a fan-out: the finished call is not run again", "fanout", fun fanned_out/2},
            {"kill -9 while an accepted update's handler runs: it completes after the restart", "update", fun updated/2},
            {"kill -9 while 50 pairs signal each other: every signal recorded once", "pairs", fun pairs/2}]].

pairs({pairs, Results, Counts}, _) ->
    _ = [?assertMatch({_, {ok, <<"pair-", _/binary>>}}, R) || R <- Results],
    ?assertEqual(100, length(Results)),
    %% Each workflow got "go" and its peer's ping exactly once, sent once, and recorded
    %% one delivery result.
    _ = [?assertEqual({W, [<<"SignalDelivered">>, <<"SignalReceived">>, <<"SignalReceived">>, <<"SignalSent">>]},
                      {W, lists:sort(Types)}) || {W, Types} <- Counts],
    ok.

crash(Scenario, Check) ->
    Dir = aion_test_support:tmp_dir("aion_crash_" ++ Scenario),
    First = start_node(Dir, "start", Scenario),
    ok = aion_test_support:wait_for_file(First, filename:join(Dir, "ready"), 30000),
    {ok, Pid} = file:read_file(filename:join(Dir, "pid.start")),
    [] = os:cmd("kill -9 " ++ binary_to_list(Pid)),
    ?assertEqual(137, aion_test_support:wait_exit(First, 30000)),
    Second = start_node(Dir, "resume", Scenario),
    ?assertEqual(0, aion_test_support:wait_exit(Second, 60000)),
    {ok, [Result, History]} = file:consult(filename:join(Dir, "result")),
    %% Common to every scenario: one history, numbered without gaps, each command once.
    ?assertEqual(lists:seq(1, length(History)), [S || #{seq := S} <- History]),
    Ordinals = [O || #{type := <<"ActivityScheduled">>, ordinal := O} <- History],
    ?assertEqual(lists:usort(Ordinals), Ordinals),
    Check(Result, #{dir => Dir, history => History}).

mid_activity(Result, #{dir := Dir, history := History}) ->
    ?assertEqual({ok, #{<<"a">> => <<"a-done">>, <<"b">> => <<"b-done">>}}, Result),
    ?assertEqual(1, runs(Dir, "a_runs")),
    ?assertEqual(2, runs(Dir, "b_runs")),
    ?assertEqual([{1, 1}, {2, 2}],
                 [{O, A} || #{type := <<"ActivityCompleted">>, ordinal := O, attempt := A} <- History]),
    ?assertMatch([#{ordinal := 2, attempt := 1, error := #{<<"type">> := <<"worker_lost">>}}],
                 of_type(<<"ActivityFailed">>, History)).

sleeping(Result, #{dir := Dir, history := History}) ->
    ?assertMatch({ok, #{<<"slept">> := true}}, Result),
    [#{fire_at := FireAt}] = of_type(<<"TimerStarted">>, History),
    [#{recorded_at := FiredAt}] = of_type(<<"TimerFired">>, History),
    ?assert(FiredAt >= FireAt),
    ?assertEqual(1, runs(Dir, "a_runs")).

scoped(Result, #{history := History}) ->
    ?assertEqual({ok, <<"timed_out">>}, Result),
    [#{timer_id := Scope, fire_at := FireAt, scope := true}] = of_type(<<"TimerStarted">>, History),
    ?assertMatch([#{timer_id := Scope, recorded_at := At}] when At >= FireAt, of_type(<<"TimerFired">>, History)),
    ?assertEqual([], of_type(<<"ActivityCompleted">>, History)).

cancel_race(Result, #{dir := Dir, history := History}) ->
    Requests = of_type(<<"WorkflowCancelRequested">>, History),
    case Result of
        {error, {cancelled, #{<<"ok">> := <<"compensated">>}}} ->
            %% The cancellation won: B's late result was ignored, compensation ran to the end.
            ?assertMatch([_], Requests),
            ?assertEqual(<<"WorkflowCancelled">>, maps:get(type, lists:last(History))),
            ?assertMatch([#{ordinal := 1, error := #{<<"type">> := <<"cancelled">>}} | _],
                         of_type(<<"ActivityFailed">>, History)),
            ?assertMatch([#{ordinal := 2}], of_type(<<"ActivityCompleted">>, History)),
            ?assert(runs(Dir, "comp_runs") >= 1);
        {error, {cancelled, #{<<"ok">> := <<"b-done">>}}} ->
            %% B's completion was recorded first, the request before the workflow closed.
            ?assertMatch([_], Requests),
            ?assertMatch([#{ordinal := 1}], of_type(<<"ActivityCompleted">>, History)),
            ?assertEqual(0, runs(Dir, "comp_runs"));
        {ok, <<"b-done">>} ->
            %% The workflow closed before the request reached it: nothing to cancel.
            ?assertEqual([], Requests),
            ?assertEqual(0, runs(Dir, "comp_runs"))
    end.

signalled(Result, #{history := History}) ->
    ?assertEqual({ok, [<<"before-crash">>, <<"after-crash">>]}, Result),
    ?assertMatch([#{payload := <<"before-crash">>}, #{payload := <<"after-crash">>}],
                 of_type(<<"SignalReceived">>, History)).

child(Result, #{dir := Dir, history := History}) ->
    ?assertEqual({ok, <<"b-done">>}, Result),
    ?assertMatch([#{ordinal := 1}], of_type(<<"ChildStarted">>, History)),
    ?assertMatch([#{status := <<"completed">>, value := <<"b-done">>}], of_type(<<"ChildCompleted">>, History)),
    ?assertEqual(2, runs(Dir, "b_runs")).

fanned_out(Result, #{dir := Dir}) ->
    ?assertEqual({ok, [<<"a-done">>, <<"b-done">>]}, Result),
    ?assertEqual(1, runs(Dir, "a_runs")),
    ?assertEqual(2, runs(Dir, "b_runs")).

updated(Result, #{dir := Dir, history := History}) ->
    ?assertEqual({ok, 1}, Result),
    ?assertMatch([#{name := <<"approve">>}], of_type(<<"UpdateAccepted">>, History)),
    ?assertMatch([#{result := #{<<"ok">> := <<"b-done">>}}], of_type(<<"UpdateCompleted">>, History)),
    ?assert(filelib:is_file(filename:join(Dir, "query_answered"))),
    ?assertEqual(2, runs(Dir, "b_runs")).

of_type(Type, History) ->
    [E || E = #{type := T} <- History, T =:= Type].

runs(Dir, File) ->
    case file:read_file(filename:join(Dir, File)) of
        {ok, Bin} -> length(binary:split(Bin, <<"\n">>, [global, trim_all]));
        {error, enoent} -> 0
    end.

start_node(Dir, Phase, Scenario) ->
    aion_test_support:os_node([aion, aion_crash_node, aion_test_support],
                              io_lib:format("aion_crash_node:main(~p, ~p, ~p)", [Dir, Phase, Scenario])).
