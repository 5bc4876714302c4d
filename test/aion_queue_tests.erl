%% `activity_concurrency' per task queue: `#{Queue => Limit}' bounds each queue on its own
%% (queues it does not name get 100); a bad setting stops the application at boot.
-module(aion_queue_tests).

-include_lib("eunit/include/eunit.hrl").

-export([spread/1]).

%% Runs `n' 80 ms gauge activities on each of the task queues `queues' at once.
spread(#{<<"queues">> := Queues, <<"n">> := N, <<"key">> := K}) ->
    Calls = [{activity, <<"gauge">>, #{<<"key">> => <<K/binary, "/", Q/binary>>, <<"ms">> => 80},
              #{task_queue => Q}} || Q <- Queues, _ <- lists:seq(1, N)],
    {ok, _} = aion_flow:all(Calls),
    {ok, done}.

per_queue_limits_test() ->
    _ = application:load(aion),
    ok = application:set_env(aion, activity_concurrency, #{<<"default">> => 3, <<"emails">> => 1}),
    aion_test_support:start(memory),
    try
        ok = aion:register_workflow(<<"spread">>, {?MODULE, spread}),
        K = integer_to_binary(erlang:unique_integer([positive])),
        {ok, Id} = aion:start_workflow(<<"spread">>, #{<<"queues">> => [<<"default">>, <<"emails">>, <<"other">>],
                                                       <<"n">> => 6, <<"key">> => K}, #{}),
        ?assertEqual({ok, <<"done">>}, aion:await(Id, 10000)),
        Max = fun(Q) -> aion_test_flows:calls({gauge_max, <<K/binary, "/", Q/binary>>}) end,
        ?assertEqual(3, Max(<<"default">>)),
        ?assertEqual(1, Max(<<"emails">>)),
        %% A queue the map does not name gets 100: all six at once.
        ?assertEqual(6, Max(<<"other">>))
    after
        aion_test_support:stop(x),
        application:set_env(aion, activity_concurrency, 100)
    end.

bad_setting_stops_the_boot_test_() ->
    [{lists:flatten(io_lib:format("~p", [Bad])), fun() -> refused(Bad) end}
     || Bad <- [0, -1, many, #{}, #{<<"emails">> => 0}, #{emails => 5}, #{<<>> => 5}]].

refused(Bad) ->
    application:stop(aion),
    _ = application:load(aion),
    ok = application:set_env(aion, activity_concurrency, Bad),
    ok = application:set_env(aion, store, memory),
    Level = maps:get(level, logger:get_primary_config()),
    logger:set_primary_config(level, none),
    try
        {error, Reason} = application:ensure_all_started(aion),
        ?assertMatch({aion, {{shutdown, {failed_to_start_child, aion_engine,
                                         {bad_setting, activity_concurrency, _}}}, _}}, Reason)
    after
        logger:set_primary_config(level, Level),
        application:set_env(aion, activity_concurrency, 100)
    end.
