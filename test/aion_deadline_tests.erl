%% `schedule_to_close_ms': one deadline over an activity's attempts and retry delays.
-module(aion_deadline_tests).

-include_lib("eunit/include/eunit.hrl").

-export([flow/1]).

deadline_test_() ->
    {setup, fun aion_test_support:start/0, fun aion_test_support:stop/1,
     fun(_) ->
         [{"retries stop at the deadline", fun retries_stop/0},
          {"a running attempt is stopped at the deadline", fun attempt_stopped/0}]
     end}.

%% Runs activity `Name' with `Input' under a 400 ms schedule-to-close deadline and unlimited
%% retries every 50 ms; answers what the code saw.
flow(#{<<"activity">> := Name, <<"input">> := Input}) ->
    R = aion_flow:activity(Name, Input, #{schedule_to_close_ms => 400,
                                          retry => #{max_attempts => 0, initial_interval_ms => 50,
                                                     backoff_coefficient => 1.0,
                                                     max_interval_ms => 50}}),
    {ok, case R of
             {ok, V} -> #{<<"ok">> => V};
             {error, {Tag, #{type := T, attempts := N}}} ->
                 #{<<"tag">> => Tag, <<"type">> => T, <<"attempts">> => N}
         end}.

run(Name, Input) ->
    ok = aion:register_workflow(<<"deadline_flow">>, {?MODULE, flow}),
    {ok, Id} = aion:start_workflow(<<"deadline_flow">>, #{<<"activity">> => Name, <<"input">> => Input}, #{}),
    {Took, Result} = timer:tc(fun() -> aion:await(Id, 10000) end),
    {Took div 1000, Result}.

retries_stop() ->
    K = aion_test_support:key(),
    {Ms, {ok, Seen}} = run(<<"flaky">>, #{<<"key">> => K, <<"fail_times">> => 1000}),
    ?assertMatch(#{<<"tag">> := <<"activity_timeout">>, <<"type">> := <<"schedule_to_close_timeout">>}, Seen),
    %% About 400 ms of 50 ms retries: several attempts, far fewer than 1,000.
    #{<<"attempts">> := Attempts} = Seen,
    ?assert(Attempts >= 3 andalso Attempts =< 12),
    ?assert(Ms < 3000).

attempt_stopped() ->
    K = aion_test_support:key(),
    {Ms, {ok, Seen}} = run(<<"slow">>, #{<<"key">> => K, <<"ms">> => 5000}),
    ?assertMatch(#{<<"tag">> := <<"activity_timeout">>, <<"type">> := <<"schedule_to_close_timeout">>,
                   <<"attempts">> := 1}, Seen),
    ?assert(Ms < 3000),
    ?assertEqual(1, aion_test_flows:calls({slow, K})).
