%% Operating aion: the Prometheus metrics, the telemetry events, and log events that name
%% their workflow in what the default formatter prints.
-module(aion_ops_tests).

-include_lib("eunit/include/eunit.hrl").

-export([logs_from_inside/1, log/2]).

ops_test_() ->
    {setup, fun aion_test_support:start/0, fun aion_test_support:stop/1,
     fun(_) ->
         [{"metrics count what runs did, in Prometheus's format", fun metrics/0},
          {"telemetry events when the telemetry module is there", fun telemetry_events/0},
          {"log events name their workflow, aion's and the code's own", fun logs/0}]
     end}.

%% `#{MetricWithLabels => Value}' of the scrape; every family typed once.
scrape() ->
    Text = unicode:characters_to_list(iolist_to_binary(aion_metrics:prometheus())),
    Lines = string:lexemes(Text, "\n"),
    Types = [L || "# TYPE " ++ L <- Lines],
    ?assertEqual(length(Types), length(lists:usort([hd(string:lexemes(T, " ")) || T <- Types]))),
    maps:from_list([{Name, list_to_number(Value)}
                    || L <- Lines, hd(L) =/= $#,
                       [Name, Value] <- [string:split(L, " ", trailing)]]).

list_to_number(S) ->
    try list_to_integer(S) catch error:badarg -> list_to_float(S) end.

value(Scrape, Name) -> maps:get(Name, Scrape, 0).

metrics() ->
    K = aion_test_support:key(),
    Before = scrape(),
    Id = aion_test_support:start_run(<<"single">>, #{<<"activity">> => <<"flaky">>,
                                                     <<"input">> => #{<<"key">> => K, <<"fail_times">> => 1}}),
    {ok, _} = aion:await(Id, 10000),
    After = scrape(),
    Delta = fun(Name) -> value(After, Name) - value(Before, Name) end,
    ?assertEqual(1, Delta("aion_workflows_started_total{type=\"single\"}")),
    ?assertEqual(1, Delta("aion_workflows_closed_total{status=\"completed\"}")),
    ?assertEqual(2, Delta("aion_activity_attempts_total{activity=\"flaky\"}")),
    ?assertEqual(1, Delta("aion_activity_retries_total{activity=\"flaky\"}")),
    ?assert(Delta("aion_workflow_duration_seconds_count{type=\"single\"}") >= 1),
    ?assert(Delta("aion_append_duration_seconds_count") >= 2),
    ?assert(Delta("aion_commit_duration_seconds_count") >= 2),
    ?assert(Delta("aion_store_commits_total") >= 2),
    %% Buckets are cumulative and end with +Inf = count.
    ?assertEqual(value(After, "aion_commit_duration_seconds_count"),
                 value(After, "aion_commit_duration_seconds_bucket{le=\"+Inf\"}")),
    ?assert(maps:is_key("aion_runs{state=\"running\"}", After)).

telemetry_events() ->
    telemetry:attach(self()),
    try
        Id = aion_test_support:start_run(<<"single">>, #{<<"activity">> => <<"echo">>, <<"input">> => 1}),
        {ok, _} = aion:await(Id, 10000),
        ?assert(got([aion, workflow, start])),
        ?assert(got([aion, activity, stop])),
        ?assert(got([aion, workflow, stop]))
    after
        telemetry:detach()
    end.

got(Event) ->
    receive {telemetry, Event, #{}, #{}} -> true
    after 2000 -> false
    end.

logs() ->
    Self = self(),
    ok = logger:add_handler(aion_ops_capture, ?MODULE, #{config => #{to => Self},
                                                          formatter => {logger_formatter, #{}}}),
    try
        K = aion_test_support:key(),
        Failing = aion_test_support:start_run(<<"single">>, #{<<"activity">> => <<"flaky">>,
                                                              <<"input">> => #{<<"key">> => K, <<"fail_times">> => 1}}),
        {ok, _} = aion:await(Failing, 10000),
        ?assert(printed_with(Failing, "activity_attempt_failed")),
        ?assert(printed_with(Failing, "activity_retry")),
        ok = aion:register_workflow(<<"logs_from_inside">>, {?MODULE, logs_from_inside}),
        {ok, Inside} = aion:start_workflow(<<"logs_from_inside">>, null, #{}),
        {ok, <<"done">>} = aion:await(Inside, 10000),
        ?assert(printed_with(Inside, "hello from a workflow"))
    after
        logger:remove_handler(aion_ops_capture)
    end.

%% Whether a line naming `Id' and holding `Text' was printed (by the default formatter).
printed_with(Id, Text) ->
    receive
        {printed, Line} ->
            case string:find(Line, Id) =/= nomatch andalso string:find(Line, Text) =/= nomatch of
                true -> true;
                false -> printed_with(Id, Text)
            end
    after 2000 -> false
    end.

%% A workflow whose own code logs with a format string.
logs_from_inside(_) ->
    logger:notice("hello from a workflow: ~p", [42]),
    {ok, done}.

%% The capturing handler: formats each event with the handler's formatter, as a default
%% handler would print it, and sends the text to the test.
log(Event, #{config := #{to := Pid}, formatter := {Formatter, Config}}) ->
    Pid ! {printed, unicode:characters_to_binary(Formatter:format(Event, Config))}.
