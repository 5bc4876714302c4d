%% Activity heartbeats: `aion_activity:heartbeat/1', `last_heartbeat/0' and the activity
%% option `heartbeat_timeout_ms', through the public API.
-module(aion_heartbeat_tests).

-include_lib("eunit/include/eunit.hrl").

-export([flow/1, beating/1, resumable/1, cancellable/1, bad_details/1, null_beat/1]).

heartbeat_test_() ->
    {setup, fun setup/0, fun aion_test_support:stop/1,
     fun(_) ->
         [{"a heartbeating activity outlives its heartbeat timeout", fun keeps_alive/0},
          {"a missed heartbeat fails the attempt; the retry resumes from its details",
           fun missed_heartbeat_resumes/0},
          {"details travel with a returned error, a crash and a start_to_close timeout too", fun other_failures/0},
          {"attempts used up on missed heartbeats: activity_timeout", fun out_of_attempts/0},
          {"heartbeat/1 answers cancelled once the workflow is cancelled", fun cancelled/0},
          {"outside an activity", fun outside/0},
          {"bad details are refused without raising", fun refused_details/0},
          {"heartbeat(null) keeps the details recorded before", fun null_keeps_details/0},
          {"bad heartbeat_timeout_ms values", fun bad_option/0}]
     end}.

setup() ->
    Dir = aion_test_support:start(),
    ok = aion:register_workflow(<<"hb_flow">>, {?MODULE, flow}),
    [ok = aion:register_activity(atom_to_binary(A), {?MODULE, A})
     || A <- [beating, resumable, cancellable, bad_details, null_beat]],
    Dir.

%% Runs activity `activity' with `input' under `heartbeat_timeout_ms' = `hb' (passed as it
%% is, to try bad values too), `max_attempts' (default 3) and `start_to_close_ms' (if
%% given), retrying after 10 ms.
flow(#{<<"activity">> := Name, <<"input">> := Input, <<"hb">> := Hb} = Args) ->
    Max = maps:get(<<"max_attempts">>, Args, 3),
    Opts0 = #{heartbeat_timeout_ms => Hb,
              retry => #{max_attempts => Max, initial_interval_ms => 10, max_interval_ms => 10}},
    Opts = case Args of
        #{<<"start_to_close_ms">> := Stc} -> Opts0#{start_to_close_ms => Stc};
        _ -> Opts0
    end,
    {ok, case aion_flow:activity(Name, Input, Opts) of
             {ok, V} -> #{<<"ok">> => V};
             {error, {bad_option, What}} -> #{<<"bad_option">> => aion_flow_ffi:printed(What)};
             {error, {Tag, #{type := T, attempts := N}}} ->
                 #{<<"tag">> => Tag, <<"type">> => T, <<"attempts">> => N};
             {error, cancelled} ->
                 %% Compensation that waits until the activity noticed the cancellation
                 %% (a closed run's attempts are killed at once, without a grace period).
                 #{<<"key">> := Key} = Input,
                 aion_test_support:wait_until(
                   fun() -> ets:lookup(aion_test_calls, {cancellable_saw, Key}) =/= [] end, 5000),
                 #{<<"cancelled">> => true};
             {error, Other} -> #{<<"other">> => aion_flow_ffi:printed(Other)}
         end}.

%% Activities.

%% Heartbeats `steps' times, `ms' apart.
beating(#{<<"steps">> := Steps, <<"ms">> := Ms}) ->
    lists:foreach(fun(I) -> ok = aion_activity:heartbeat(#{<<"step">> => I}), timer:sleep(Ms) end,
                  lists:seq(1, Steps)),
    {ok, Steps}.

%% Works through pages 1..`pages', heartbeating each, from where the last attempt got to.
%% Its first attempt stops at page 3 and then, as `fail' says, hangs without heartbeats,
%% returns an error or crashes. Notes what `last_heartbeat/0' said in each attempt.
resumable(#{<<"key">> := Key, <<"pages">> := Pages, <<"fail">> := Fail}) ->
    Attempt = aion_test_flows:bump({resumable, Key}),
    Last = aion_activity:last_heartbeat(),
    ets:insert(aion_test_calls, {{resumable_saw, Key, Attempt}, Last}),
    From = case Last of {ok, #{<<"page">> := P}} -> P + 1; none -> 1 end,
    Stop = case Attempt of 1 -> 3; _ -> Pages end,
    lists:foreach(fun(P) -> ok = aion_activity:heartbeat(#{<<"page">> => P}) end,
                  lists:seq(From, Stop)),
    case {Attempt, Fail} of
        {1, <<"hang">>} -> timer:sleep(10000), {ok, too_late};
        {1, <<"always_hang">>} -> timer:sleep(10000), {ok, too_late};
        {_, <<"always_hang">>} -> timer:sleep(10000), {ok, too_late};
        {1, <<"error">>} -> {error, {flaky, <<"stopped at page 3">>}};
        {1, <<"crash">>} -> erlang:error(boom);
        _ -> {ok, #{<<"from">> => From, <<"to">> => Stop}}
    end.

%% Heartbeats until told it is cancelled; notes whether the cancel message is still there
%% for code that receives it.
cancellable(#{<<"key">> := Key}) ->
    ets:insert(aion_test_calls, {{cancellable_running, Key}, self()}),
    beat_until_cancelled(Key, 0).

beat_until_cancelled(Key, N) ->
    case aion_activity:heartbeat(#{<<"n">> => N}) of
        ok ->
            timer:sleep(10),
            beat_until_cancelled(Key, N + 1);
        {error, cancelled} = Cancelled ->
            Again = aion_activity:heartbeat(#{<<"n">> => N}),
            Kept = receive {aion_cancel, _, _} -> true after 0 -> false end,
            ets:insert(aion_test_calls, {{cancellable_saw, Key}, {Cancelled, Again, Kept}}),
            Cancelled
    end.

%% Tries details that cannot be recorded; answers what `heartbeat/1' said.
bad_details(_) ->
    NotJson = aion_activity:heartbeat(#{<<"pid">> => self()}),
    Huge = aion_activity:heartbeat(binary:copy(<<"x">>, 3000000)),
    Fine = aion_activity:heartbeat(#{<<"fine">> => true}),
    {ok, [kind(NotJson), kind(Huge), kind(Fine)]}.

%% Attempt 1 heartbeats page 1, then `null', and fails; attempt 2 answers what it read.
null_beat(#{<<"key">> := Key}) ->
    case aion_test_flows:bump({null_beat, Key}) of
        1 ->
            ok = aion_activity:heartbeat(#{<<"page">> => 1}),
            ok = aion_activity:heartbeat(null),
            {error, flaky};
        _ ->
            {ok, #{} = Details} = aion_activity:last_heartbeat(),
            {ok, Details}
    end.

kind(ok) -> <<"ok">>;
kind({error, {bad_details, _}}) -> <<"bad_details">>;
kind(Other) -> aion_flow_ffi:printed(Other).

%% Tests.

run(Args) ->
    {ok, Id} = aion:start_workflow(<<"hb_flow">>, Args, #{}),
    {Took, Result} = timer:tc(fun() -> aion:await(Id, 15000) end),
    {Id, Took div 1000, Result}.

failures(Id) ->
    [E || E <- aion_test_support:events(Id, <<"ActivityFailed">>)].

keeps_alive() ->
    %% Twelve beats 40 ms apart: about 480 ms, far past a 150 ms heartbeat timeout.
    {Id, Ms, Result} = run(#{<<"activity">> => <<"beating">>, <<"hb">> => 150,
                             <<"input">> => #{<<"steps">> => 12, <<"ms">> => 40}}),
    ?assertEqual({ok, #{<<"ok">> => 12}}, Result),
    ?assert(Ms >= 400),
    ?assertEqual([], failures(Id)),
    %% The option is recorded with the activity; heartbeats themselves are not events.
    [#{config := Config}] = aion_test_support:events(Id, <<"ActivityScheduled">>),
    ?assertMatch(#{<<"heartbeat_timeout_ms">> := 150}, Config),
    ?assertEqual([<<"WorkflowStarted">>, <<"ActivityScheduled">>, <<"ActivityStarted">>,
                  <<"ActivityCompleted">>, <<"WorkflowCompleted">>],
                 aion_test_support:types(Id)).

missed_heartbeat_resumes() ->
    K = aion_test_support:key(),
    {Id, Ms, Result} = run(#{<<"activity">> => <<"resumable">>, <<"hb">> => 150,
                             <<"input">> => #{<<"key">> => K, <<"pages">> => 6,
                                              <<"fail">> => <<"hang">>}}),
    %% The second attempt started after page 3 and finished the rest.
    ?assertEqual({ok, #{<<"ok">> => #{<<"from">> => 4, <<"to">> => 6}}}, Result),
    ?assert(Ms < 5000),
    ?assertEqual(2, aion_test_flows:calls({resumable, K})),
    ?assertEqual([{{resumable_saw, K, 1}, none}],
                 ets:lookup(aion_test_calls, {resumable_saw, K, 1})),
    ?assertEqual([{{resumable_saw, K, 2}, {ok, #{<<"page">> => 3}}}],
                 ets:lookup(aion_test_calls, {resumable_saw, K, 2})),
    ?assertMatch([#{attempt := 1, retryable := true,
                    error := #{<<"type">> := <<"heartbeat_timeout">>,
                               <<"details">> := #{<<"page">> := 3}}}],
                 failures(Id)).

other_failures() ->
    lists:foreach(
      fun({Fail, Type}) ->
          K = aion_test_support:key(),
          {Id, _, Result} = run(#{<<"activity">> => <<"resumable">>, <<"hb">> => 5000,
                                  <<"start_to_close_ms">> => 300,
                                  <<"input">> => #{<<"key">> => K, <<"pages">> => 5,
                                                   <<"fail">> => Fail}}),
          ?assertEqual({ok, #{<<"ok">> => #{<<"from">> => 4, <<"to">> => 5}}}, Result),
          ?assertMatch([#{error := #{<<"type">> := Type, <<"details">> := #{<<"page">> := 3}}}],
                       failures(Id))
      end, [{<<"error">>, <<"flaky">>}, {<<"crash">>, <<"crash">>},
            {<<"hang">>, <<"timeout">>}]).

out_of_attempts() ->
    K = aion_test_support:key(),
    {Id, _, Result} = run(#{<<"activity">> => <<"resumable">>, <<"hb">> => 100,
                            <<"max_attempts">> => 2,
                            <<"input">> => #{<<"key">> => K, <<"pages">> => 5,
                                             <<"fail">> => <<"always_hang">>}}),
    ?assertEqual({ok, #{<<"tag">> => <<"activity_timeout">>, <<"type">> => <<"heartbeat_timeout">>,
                        <<"attempts">> => 2}}, Result),
    %% Attempt 2 went on from page 3 to page 5 before it hung: its failure says so.
    ?assertMatch([#{attempt := 1, error := #{<<"details">> := #{<<"page">> := 3}}},
                  #{attempt := 2, retryable := false,
                    error := #{<<"type">> := <<"heartbeat_timeout">>,
                               <<"details">> := #{<<"page">> := 5}}}],
                 failures(Id)).

cancelled() ->
    K = aion_test_support:key(),
    {ok, Id} = aion:start_workflow(<<"hb_flow">>, #{<<"activity">> => <<"cancellable">>,
                                                   <<"hb">> => 1000,
                                                   <<"input">> => #{<<"key">> => K}}, #{}),
    aion_test_support:wait_until(
      fun() -> ets:lookup(aion_test_calls, {cancellable_running, K}) =/= [] end, 5000),
    ok = aion:cancel(Id),
    aion_test_support:wait_until(
      fun() -> ets:lookup(aion_test_calls, {cancellable_saw, K}) =/= [] end, 5000),
    %% Cancelled, again on a second call, and the message is still there to receive.
    ?assertEqual([{{cancellable_saw, K}, {{error, cancelled}, {error, cancelled}, true}}],
                 ets:lookup(aion_test_calls, {cancellable_saw, K})),
    ?assertMatch({error, {cancelled, #{<<"ok">> := #{<<"cancelled">> := true}}}}, aion:await(Id, 5000)).

outside() ->
    ?assertEqual({error, not_in_activity}, aion_activity:heartbeat(#{<<"a">> => 1})),
    ?assertEqual(none, aion_activity:last_heartbeat()).

refused_details() ->
    {_, _, Result} = run(#{<<"activity">> => <<"bad_details">>, <<"hb">> => 5000,
                           <<"input">> => null}),
    ?assertEqual({ok, #{<<"ok">> => [<<"bad_details">>, <<"bad_details">>, <<"ok">>]}}, Result).

null_keeps_details() ->
    {_, _, Result} = run(#{<<"activity">> => <<"null_beat">>, <<"hb">> => 5000,
                           <<"input">> => #{<<"key">> => aion_test_support:key()}}),
    ?assertEqual({ok, #{<<"ok">> => #{<<"page">> => 1}}}, Result).

bad_option() ->
    lists:foreach(
      fun(Bad) ->
          {Id, _, Result} = run(#{<<"activity">> => <<"beating">>, <<"hb">> => Bad,
                                  <<"input">> => #{<<"steps">> => 1, <<"ms">> => 1}}),
          ?assertMatch({ok, #{<<"bad_option">> := _}}, Result),
          {ok, #{<<"bad_option">> := Text}} = Result,
          ?assertNotEqual(nomatch, binary:match(Text, <<"heartbeat_timeout_ms">>)),
          %% Nothing was scheduled.
          ?assertEqual([], aion_test_support:events(Id, <<"ActivityScheduled">>))
      end, [0, -1, <<"soon">>, 1.5, 3155760000001, 1 bsl 63]).
