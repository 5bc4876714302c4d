%% Workflows for the test-harness and replayer suite.
-module(aion_test_flows_v).

-export([thirty_days/1, retrying/1, versioned/1, interactive/1, deadline/1]).

%% A daily report for 30 days.
thirty_days(_) ->
    Reports = [begin
                   ok = aion_flow:sleep(timer:hours(24)),
                   {ok, R} = aion_flow:activity(<<"daily_report">>, Day),
                   R
               end || Day <- lists:seq(1, 30)],
    {ok, length(Reports)}.

retrying(_) ->
    aion_flow:activity(<<"charge">>, 100, #{retry => #{max_attempts => 5, initial_interval_ms => 1000}}).

%% v1: reserve, then ship. v2 (the "deploy" under test): reserve, charge, then ship.
versioned(_) ->
    {ok, _} = aion_flow:activity(<<"reserve">>, 1),
    case persistent_term:get({?MODULE, version}, v1) of
        v1 -> ok;
        v2 -> {ok, _} = aion_flow:activity(<<"charge">>, 1)
    end,
    aion_flow:activity(<<"ship">>, 1).

%% Waits for "approve" signals while a 1-hour reminder timer runs; answers queries and
%% "rename" updates; compensates when cancelled.
interactive(_) ->
    put(name, <<"unnamed">>),
    ok = aion_flow:set_update_handler(<<"rename">>, fun(N) when is_binary(N) -> ok; (_) -> {error, <<"a name is a string">>} end,
                                      fun(N) -> put(name, N), N end),
    Reminder = aion_flow:start_timer(<<"reminder">>, timer:hours(1)),
    ok = aion_flow:set_query_handler(<<"stage">>, fun(_) -> <<"waiting">> end),
    case aion_flow:receive_signal(<<"approve">>) of
        {ok, By} ->
            ok = aion_flow:cancel_timer(Reminder),
            {ok, #{<<"approved_by">> => By, <<"name">> => get(name), <<"at">> => aion_flow:now()}};
        {error, cancelled} ->
            {ok, _} = aion_flow:activity(<<"undo">>, get(name)),
            {ok, <<"undone">>}
    end.

%% Waits an hour at most for a signal that never comes.
deadline(_) ->
    case aion_flow:receive_signal(<<"never">>, timer:hours(1)) of
        {error, timeout} -> {ok, <<"timed_out">>};
        {ok, _} -> {ok, <<"signalled">>}
    end.
