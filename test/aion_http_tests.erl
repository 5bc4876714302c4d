%% The dashboard's JSON API (aion_http, aion_http_api), through HTTP with httpc: listing,
%% filters and paging, one run, signal/cancel/terminate and their effects as the aion API
%% sees them, error answers, the token, the pages, /metrics; the schedules' API (list,
%% describe, pause/unpause/trigger/delete and their effects, errors, write protection).
-module(aion_http_tests).

-include_lib("eunit/include/eunit.hrl").

-export([done/1, wait_signal/1, wait_activity/1, crash/1, retrying/1, diverging/1]).
-export([echo/1, hang/1, flaky/1]).

-define(T(F), {atom_to_list(F), fun F/0}).

%% Workflows and activities of these tests.

done(In) ->
    {ok, Echo} = aion_flow:activity(<<"http_echo">>, In),
    {ok, #{<<"echo">> => Echo}}.

wait_signal(_) ->
    {ok, V} = aion_flow:receive_signal(<<"go">>),
    {ok, #{<<"got">> => V}}.

wait_activity(In) ->
    case aion_flow:activity(<<"http_hang">>, In) of
        {error, cancelled} -> {ok, <<"compensated">>};
        Other -> Other
    end.

crash(_) ->
    erlang:error(dashboard_test_crash).

%% Takes the path its "deployed version" says: changing it under a recorded history is a
%% non-determinism.
diverging(#{<<"key">> := Key}) ->
    Name = case persistent_term:get({?MODULE, version, Key}, v1) of
        v1 -> <<"http_hang">>;
        v2 -> <<"http_echo">>
    end,
    aion_flow:activity(Name, Key).

retrying(#{<<"key">> := _} = In) ->
    aion_flow:activity(<<"http_flaky">>, In,
                       #{retry => #{max_attempts => 3, initial_interval_ms => 10}}).

echo(X) -> {ok, X}.

hang(_) ->
    receive {aion_cancel, _, _} -> {error, cancelled}
    after 60000 -> {ok, late}
    end.

%% Fails its first attempt, then answers.
flaky(#{<<"key">> := Key}) ->
    case ets:update_counter(aion_test_calls, {http_flaky, Key}, 1, {{http_flaky, Key}, 0}) of
        1 -> {error, first_attempt_fails};
        _ -> {ok, Key}
    end.

register_all() ->
    [ok = aion:register_activity(N, {?MODULE, F})
     || {N, F} <- [{<<"http_echo">>, echo}, {<<"http_hang">>, hang}, {<<"http_flaky">>, flaky}]],
    [ok = aion:register_workflow(T, {?MODULE, F})
     || {T, F} <- [{<<"http_done">>, done}, {<<"http_wait_signal">>, wait_signal},
                   {<<"http_wait_activity">>, wait_activity}, {<<"http_crash">>, crash},
                   {<<"http_retrying">>, retrying}, {<<"http_diverging">>, diverging}]],
    ok.

%% Set-up: aion with the dashboard on a port the system picks.

start(Http) ->
    _ = application:load(aion),
    ok = application:set_env(aion, http, Http),
    Dir = aion_test_support:start(),
    ok = register_all(),
    Dir.

stop(Dir) ->
    aion_test_support:stop(Dir),
    application:unset_env(aion, http).

http_test_() ->
    {setup,
     fun() -> start(#{port => 0}) end,
     fun stop/1,
     [?T(the_service_listens_where_it_says),
      ?T(lists_newest_first_in_pages_with_counts),
      ?T(filters_by_status_type_and_id_search),
      ?T(search_pages_through_everything_it_matches),
      ?T(one_run_has_summary_history_and_activity_attempts),
      ?T(a_run_waiting_says_on_what),
      ?T(a_blocked_run_carries_its_report),
      ?T(a_diverged_run_carries_its_non_determinism_report),
      ?T(signal_is_delivered),
      ?T(cancel_closes_the_run),
      ?T(terminate_ends_the_run_with_its_reason),
      ?T(bad_requests_are_answered_with_their_status),
      ?T(pages_and_assets_are_served),
      ?T(metrics_answer_as_the_build_allows),
      ?T(schedules_are_listed_and_described),
      ?T(schedule_actions_pause_unpause_trigger_delete),
      ?T(schedule_bad_requests_are_answered_with_their_status),
      ?T(schedule_actions_need_a_loopback_host)]}.

token_test_() ->
    {setup,
     fun() -> start(#{port => 0, token => <<"s3cret-token">>}) end,
     fun stop/1,
     [?T(a_token_is_required_when_set),
      ?T(schedule_actions_need_the_token)]}.

bad_setting_test() ->
    _ = application:load(aion),
    Before = application:get_env(aion, http),
    try
        [begin
             ok = application:set_env(aion, http, Bad),
             ?assertEqual({error, {bad_option, {http, Bad}}}, aion_http:start_link())
         end || Bad <- [#{port => -1}, #{port => 70000}, #{}, #{port => 0, token => <<>>},
                        #{port => 0, ip => localhost}, #{port => 0, colour => blue}, 8080]],
        ok = application:unset_env(aion, http),
        ?assertEqual(ignore, aion_http:start_link())
    after
        case Before of
            {ok, V} -> application:set_env(aion, http, V);
            undefined -> application:unset_env(aion, http)
        end
    end.

%% Tests.

the_service_listens_where_it_says() ->
    Port = aion_http:port(),
    ?assert(is_integer(Port) andalso Port > 0),
    ?assertEqual("http://127.0.0.1:" ++ integer_to_list(Port) ++ "/", aion_http:url()),
    %% Bound to the loopback address only.
    ?assertMatch({error, _}, gen_tcp:connect(non_loopback_address(), Port, [], 500)).

lists_newest_first_in_pages_with_counts() ->
    Type = <<"http_done">>,
    Ids = [start_done(N) || N <- lists:seq(1, 5)],
    {ok, All} = aion:list(#{type => Type, order => newest_first}),
    Expected = [Id || #{workflow_id := Id} <- All],
    ?assertEqual([], Ids -- Expected),
    %% Pages of 2, following the cursor to the end.
    Pages = pages("/api/runs?type=http_done&limit=2", []),
    ?assertEqual(Expected, [maps:get(<<"workflow_id">>, R) || P <- Pages, R <- maps:get(<<"runs">>, P)]),
    ?assert(length(Pages) >= 3),
    ?assertEqual(null, maps:get(<<"next">>, lists:last(Pages))),
    [?assert(length(maps:get(<<"runs">>, P)) =< 2) || P <- Pages],
    %% Newest first by creation time, oldest first when asked.
    Created = [maps:get(<<"created_at">>, R) || P <- Pages, R <- maps:get(<<"runs">>, P)],
    ?assertEqual(lists:reverse(lists:sort(Created)), Created),
    {200, Oldest} = get_json("/api/runs?type=http_done&order=oldest_first&limit=500"),
    ?assertEqual(lists:reverse(Expected), ids(Oldest)),
    %% Counts by status, for the type asked.
    #{<<"counts">> := Counts} = hd(Pages),
    ?assertEqual(length(Expected), maps:get(<<"completed">>, Counts)),
    ?assertEqual(0, maps:get(<<"running">>, Counts)),
    %% Summaries as describe/1 gives them.
    {ok, Described} = aion:describe(hd(Expected)),
    [First | _] = maps:get(<<"runs">>, hd(Pages)),
    ?assertEqual(atom_to_binary(maps:get(status, Described)), maps:get(<<"status">>, First)),
    ?assertEqual(maps:get(created_at, Described), maps:get(<<"created_at">>, First)),
    ?assertEqual(maps:get(result, Described), maps:get(<<"result">>, First)).

filters_by_status_type_and_id_search() ->
    Waiting = start(<<"http_wait_signal">>, null, <<"waits-", (key())/binary>>),
    Done = start_done(99),
    {200, Running} = get_json("/api/runs?status=running&type=http_wait_signal"),
    ?assert(lists:member(Waiting, ids(Running))),
    [?assertEqual(<<"running">>, maps:get(<<"status">>, R)) || R <- maps:get(<<"runs">>, Running)],
    {200, Completed} = get_json("/api/runs?status=completed"),
    ?assert(lists:member(Done, ids(Completed))),
    ?assertNot(lists:member(Waiting, ids(Completed))),
    %% q: the ids containing it, whatever their type.
    Part = binary:part(Waiting, 3, byte_size(Waiting) - 3),
    {200, Found} = get_json("/api/runs?q=" ++ binary_to_list(Part)),
    ?assertEqual([Waiting], ids(Found)),
    {200, None} = get_json("/api/runs?q=no-such-id-anywhere"),
    ?assertEqual([], ids(None)),
    ?assertEqual(null, maps:get(<<"next">>, None)).

search_pages_through_everything_it_matches() ->
    Tag = key(),
    Matching = [begin
                    timer:sleep(2),
                    start(<<"http_done">>, N, <<"srch-", Tag/binary, "-", (integer_to_binary(N))/binary>>)
                end || N <- lists:seq(1, 5)],
    _Others = [start_done(N) || N <- lists:seq(1, 3)],
    Pages = pages("/api/runs?limit=2&q=srch-" ++ binary_to_list(Tag), []),
    Seen = [maps:get(<<"workflow_id">>, R) || P <- Pages, R <- maps:get(<<"runs">>, P)],
    ?assertEqual(lists:reverse(Matching), Seen).

one_run_has_summary_history_and_activity_attempts() ->
    Key = key(),
    Id = start(<<"http_retrying">>, #{<<"key">> => Key}, <<"retry-", Key/binary>>),
    {ok, Key} = aion:await(Id, 5000),
    {200, Run} = get_json("/api/runs/" ++ binary_to_list(Id)),
    #{<<"run">> := Summary, <<"history">> := History, <<"activities">> := [Act],
      <<"waiting_on">> := Waiting, <<"input">> := Input, <<"blocked">> := Blocked} = Run,
    ?assertMatch(#{<<"workflow_id">> := Id, <<"status">> := <<"completed">>, <<"result">> := Key,
                   <<"type">> := <<"http_retrying">>}, Summary),
    ?assertEqual(#{<<"key">> => Key}, Input),
    ?assertEqual([], Waiting),
    ?assertEqual(null, Blocked),
    %% The history as aion:history/1 has it, each event named by its type.
    {ok, Events} = aion:history(Id),
    ?assertEqual([T || #{type := T} <- Events], [maps:get(<<"type">>, E) || E <- History]),
    ?assertEqual([S || #{seq := S} <- Events], [maps:get(<<"seq">>, E) || E <- History]),
    ?assertMatch([<<"WorkflowStarted">>, <<"ActivityScheduled">>, <<"ActivityStarted">>,
                  <<"ActivityFailed">>, <<"ActivityStarted">>, <<"ActivityCompleted">>,
                  <<"WorkflowCompleted">>], [maps:get(<<"type">>, E) || E <- History]),
    %% Two attempts: the first failed with its error, each with its duration.
    ?assertMatch(#{<<"name">> := <<"http_flaky">>, <<"status">> := <<"completed">>, <<"result">> := Key,
                   <<"attempts">> := [#{<<"attempt">> := 1, <<"outcome">> := <<"failed">>,
                                        <<"error">> := #{<<"type">> := <<"first_attempt_fails">>}},
                                      #{<<"attempt">> := 2, <<"outcome">> := <<"completed">>,
                                        <<"error">> := null}]}, Act),
    [?assert(is_integer(D) andalso D >= 0) || #{<<"duration_ms">> := D} <- maps:get(<<"attempts">>, Act)],
    ?assert(maps:get(<<"duration_ms">>, Act) >= 10).

a_run_waiting_says_on_what() ->
    OnActivity = start(<<"http_wait_activity">>, 1, <<"act-", (key())/binary>>),
    aion_test_support:wait_until(fun() -> has_event(OnActivity, <<"ActivityStarted">>) end, 5000),
    {200, #{<<"waiting_on">> := W1}} = get_json(run_path(OnActivity)),
    ?assertMatch([#{<<"kind">> := <<"activity">>, <<"name">> := <<"http_hang">>, <<"ordinal">> := 1,
                    <<"state">> := <<"running">>, <<"attempt">> := 1}], W1),
    OnSignal = start(<<"http_wait_signal">>, null, <<"sig-", (key())/binary>>),
    {200, #{<<"waiting_on">> := W2}} = get_json(run_path(OnSignal)),
    ?assertMatch([#{<<"kind">> := <<"signal">>}], W2),
    ok = aion:terminate(OnActivity, <<"test over">>),
    ok = aion:terminate(OnSignal, <<"test over">>).

a_blocked_run_carries_its_report() ->
    Id = start(<<"http_crash">>, null, <<"crash-", (key())/binary>>),
    aion_test_support:wait_until(fun() -> {ok, #{status := S}} = aion:describe(Id), S =:= blocked end, 5000),
    {200, #{<<"run">> := Summary, <<"blocked">> := Report}} = get_json(run_path(Id)),
    ?assertEqual(<<"blocked">>, maps:get(<<"status">>, Summary)),
    ?assertMatch(#{<<"kind">> := <<"crashed">>, <<"class">> := <<"error">>}, Report),
    ?assertNotEqual(nomatch, binary:match(maps:get(<<"reason">>, Report), <<"dashboard_test_crash">>)),
    [Top | _] = maps:get(<<"stacktrace">>, Report),
    ?assertNotEqual(nomatch, binary:match(Top, [<<"aion_http_tests,crash,1">>, <<"aion_http_tests:crash/1">>])),
    {200, Listed} = get_json("/api/runs?status=blocked"),
    ?assert(lists:member(Id, ids(Listed))),
    ok = aion:terminate(Id, <<"test over">>).

a_diverged_run_carries_its_non_determinism_report() ->
    Key = key(),
    Id = start(<<"http_diverging">>, #{<<"key">> => Key}, <<"nd-", Key/binary>>),
    aion_test_support:wait_until(fun() -> has_event(Id, <<"ActivityStarted">>) end, 5000),
    persistent_term:put({?MODULE, version, Key}, v2),
    %% Crash the run so that it replays on the new code.
    [{_, Pid}] = ets:lookup(aion_runs, Id),
    exit(Pid, kill),
    aion_test_support:wait_until(fun() -> {ok, #{status := S}} = aion:describe(Id), S =:= blocked end, 5000),
    {200, #{<<"run">> := Summary, <<"blocked">> := Report, <<"waiting_on">> := Waiting}} = get_json(run_path(Id)),
    ?assertMatch(#{<<"status">> := <<"blocked">>,
                   <<"blocked_reason">> := #{<<"kind">> := <<"non_determinism">>}}, Summary),
    ?assertEqual(#{<<"kind">> => <<"non_determinism">>, <<"seq">> => 2,
                   <<"recorded">> => <<"ActivityScheduled(ordinal 1, name \"http_hang\")">>,
                   <<"requested">> => <<"ActivityScheduled(ordinal 1, name \"http_echo\")">>},
                 maps:without([<<"location">>], Report)),
    %% It still waits on what its history says.
    ?assertMatch([#{<<"kind">> := <<"activity">>, <<"name">> := <<"http_hang">>}], Waiting),
    ok = aion:terminate(Id, <<"test over">>),
    persistent_term:erase({?MODULE, version, Key}).

signal_is_delivered() ->
    Id = start(<<"http_wait_signal">>, null, <<"go/", (key())/binary>>),
    {Code, Answer} = post_json(run_path(Id) ++ "/signal", #{<<"name">> => <<"go">>,
                                                           <<"payload">> => #{<<"n">> => 7}}),
    ?assertEqual(200, Code),
    ?assertMatch(#{<<"ok">> := true, <<"run">> := #{<<"workflow_id">> := Id}}, Answer),
    ?assertEqual({ok, #{<<"got">> => #{<<"n">> => 7}}}, aion:await(Id, 5000)),
    ?assertMatch([#{name := <<"go">>, payload := #{<<"n">> := 7}}],
                 [E || E = #{type := <<"SignalReceived">>} <- element(2, aion:history(Id))]).

cancel_closes_the_run() ->
    Id = start(<<"http_wait_activity">>, 2, <<"cancel-", (key())/binary>>),
    aion_test_support:wait_until(fun() -> has_event(Id, <<"ActivityStarted">>) end, 5000),
    {200, #{<<"run">> := After}} = post_json(run_path(Id) ++ "/cancel", #{<<"reason">> => <<"from the dashboard">>}),
    ?assertEqual(<<"cancelled">>, maps:get(<<"status">>, After)),
    ?assertMatch({ok, #{status := cancelled}}, aion:describe(Id)),
    ?assertEqual({error, {cancelled, #{<<"ok">> => <<"compensated">>}}}, aion:await(Id, 1000)),
    ?assertMatch([#{reason := <<"from the dashboard">>}],
                 [E || E = #{type := <<"WorkflowCancelRequested">>} <- element(2, aion:history(Id))]).

terminate_ends_the_run_with_its_reason() ->
    Id = start(<<"http_wait_signal">>, null, <<"term-", (key())/binary>>),
    {200, #{<<"run">> := After}} = post_json(run_path(Id) ++ "/terminate", #{<<"reason">> => #{<<"why">> => <<"stuck">>}}),
    ?assertMatch(#{<<"status">> := <<"terminated">>, <<"reason">> := #{<<"why">> := <<"stuck">>}}, After),
    ?assertEqual({error, {terminated, #{<<"why">> => <<"stuck">>}}}, aion:await(Id, 1000)),
    %% Closed now: every action is 409.
    ?assertMatch({409, #{<<"error">> := <<"not_running">>}}, post_json(run_path(Id) ++ "/terminate", #{})),
    ?assertMatch({409, #{<<"error">> := <<"not_running">>}}, post_json(run_path(Id) ++ "/cancel", #{})),
    ?assertMatch({409, #{<<"error">> := <<"not_running">>}},
                 post_json(run_path(Id) ++ "/signal", #{<<"name">> => <<"go">>})).

bad_requests_are_answered_with_their_status() ->
    Id = start(<<"http_wait_signal">>, null, <<"bad-", (key())/binary>>),
    P = run_path(Id),
    %% Unknown ids and paths.
    ?assertMatch({404, #{<<"error">> := <<"not_found">>}}, get_json("/api/runs/no-such-run")),
    ?assertMatch({404, #{<<"error">> := <<"not_found">>}}, post_json("/api/runs/no-such-run/cancel", #{})),
    ?assertMatch({404, #{<<"error">> := <<"not_found">>}}, post_json("/api/runs/no-such-run/signal", #{<<"name">> => <<"go">>})),
    ?assertMatch({404, #{<<"error">> := <<"not_found">>}}, get_json("/api/nothing-here")),
    ?assertMatch({404, #{<<"error">> := <<"not_found">>}}, post_json(P ++ "/explode", #{})),
    ?assertMatch({404, #{<<"error">> := <<"not_found">>}},
                 get_json("/api/runs/" ++ lists:duplicate(300, $x))),
    %% Bad input: 400.
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, post_raw(P ++ "/signal", "application/json", "{\"name\": ")),
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, post_raw(P ++ "/signal", "application/json", "[1, 2]")),
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, post_json(P ++ "/signal", #{<<"payload">> => 1})),
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, post_json(P ++ "/signal", #{<<"name">> => 42})),
    ?assertMatch({400, #{<<"error">> := <<"bad_argument">>}}, post_json(P ++ "/signal", #{<<"name">> => <<>>})),
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, get_json("/api/runs?status=sleeping")),
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, get_json("/api/runs?limit=0")),
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, get_json("/api/runs?limit=ten")),
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, get_json("/api/runs?order=sideways")),
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, get_json("/api/runs?cursor=not-a-cursor")),
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, get_json("/api/runs?type=" ++ lists:duplicate(300, $t))),
    %% A cursor of ours wrapping something aion does not take.
    Forged = base64:encode(<<1, 0:32, 2:32, "garbage">>),
    ?assertMatch({400, #{<<"error">> := <<"bad_option">>}}, get_json("/api/runs?cursor=" ++ binary_to_list(Forged))),
    %% Too large a payload: 413.
    Big = binary:copy(<<"x">>, 2100000),
    ?assertMatch({413, #{<<"error">> := <<"payload_too_large">>}},
                 post_json(P ++ "/signal", #{<<"name">> => <<"go">>, <<"payload">> => Big})),
    %% Not JSON: 415; wrong method: 405.
    ?assertMatch({415, _}, post_raw(P ++ "/cancel", "text/plain", "")),
    ?assertMatch({415, _}, post_raw(P ++ "/cancel", "application/x-www-form-urlencoded", "reason=x")),
    ?assertMatch({405, _}, request(delete, P, [])),
    ?assertMatch({405, _}, request(post, "/api/runs", [])),
    %% None of it touched the run.
    ?assertMatch({ok, #{status := running, head := 1}}, aion:describe(Id)),
    ok = aion:terminate(Id, <<"test over">>).

pages_and_assets_are_served() ->
    {200, Headers, Index} = get_raw("/", []),
    ?assertEqual("text/html; charset=utf-8", proplists:get_value("content-type", Headers)),
    ?assertNotEqual(nomatch, binary:match(Index, <<"/static/runs.js">>)),
    {200, _, Run} = get_raw("/runs/some%2Fid", []),
    ?assertNotEqual(nomatch, binary:match(Run, <<"/static/run.js">>)),
    {200, JsHeaders, _} = get_raw("/static/run.js", []),
    ?assertEqual("text/javascript; charset=utf-8", proplists:get_value("content-type", JsHeaders)),
    {200, _, _} = get_raw("/static/dashboard.css", []),
    %% The schedules page, linked from the others' header.
    {200, SchedHeaders, Schedules} = get_raw("/schedules", []),
    ?assertEqual("text/html; charset=utf-8", proplists:get_value("content-type", SchedHeaders)),
    ?assertNotEqual(nomatch, binary:match(Schedules, <<"/static/schedules.js">>)),
    ?assertNotEqual(nomatch, binary:match(Index, <<"href=\"/schedules\"">>)),
    ?assertNotEqual(nomatch, binary:match(Run, <<"href=\"/schedules\"">>)),
    {200, SchedJs, _} = get_raw("/static/schedules.js", []),
    ?assertEqual("text/javascript; charset=utf-8", proplists:get_value("content-type", SchedJs)),
    ?assertMatch({404, _, _}, get_raw("/static/..%2F..%2Fvm.args", [])),
    ?assertMatch({404, _, _}, get_raw("/static/.hidden", [])),
    ?assertMatch({404, _, _}, get_raw("/static/missing.js", [])),
    ?assertMatch({404, _, _}, get_raw("/elsewhere", [])).

metrics_answer_as_the_build_allows() ->
    _ = code:ensure_loaded(aion_metrics),
    case erlang:function_exported(aion_metrics, prometheus, 0) of
        true ->
            {200, Headers, Body} = get_raw("/metrics", []),
            ?assertEqual("text/plain; version=0.0.4; charset=utf-8", proplists:get_value("content-type", Headers)),
            %% The workflows these tests started are counted, by type.
            ?assertMatch({match, _}, re:run(Body, "^# TYPE aion_workflows_started_total counter$", [multiline])),
            ?assertMatch({match, _}, re:run(Body, "^aion_workflows_started_total\\{type=\"http_done\"\\} [1-9]", [multiline]));
        false ->
            ?assertMatch({404, _, _}, get_raw("/metrics", []))
    end.

a_token_is_required_when_set() ->
    Id = start(<<"http_wait_signal">>, null, <<"tok-", (key())/binary>>),
    Bearer = [{"authorization", "Bearer s3cret-token"}],
    %% Without it, or with a wrong one: 401, on every path.
    ?assertMatch({401, _, _}, get_raw("/api/runs", [])),
    ?assertMatch({401, _, _}, get_raw("/", [])),
    ?assertMatch({401, _, _}, get_raw("/metrics", [])),
    ?assertMatch({401, _, _}, get_raw("/static/run.js", [])),
    ?assertMatch({401, _, _}, get_raw("/api/runs", [{"authorization", "Bearer s3cret-tokem"}])),
    ?assertMatch({401, _, _}, get_raw("/api/runs", [{"authorization", "Bearer s3cret"}])),
    ?assertMatch({401, _, _}, get_raw("/api/runs?token=wrong", [])),
    ?assertMatch({401, _, _}, get_raw("/api/runs", [{"cookie", "aion_token=wrong"}])),
    ?assertMatch({401, _}, request(post, run_path(Id) ++ "/terminate", [])),
    ?assertMatch({ok, #{status := running}}, aion:describe(Id)),
    %% The bearer token.
    {200, _, Body} = get_raw("/api/runs", Bearer),
    {ok, #{<<"runs">> := Runs}} = aion_flow_ffi:json_decode(Body),
    ?assert(lists:member(Id, [maps:get(<<"workflow_id">>, R) || R <- Runs])),
    %% ?token= once: the page redirects to itself without it and sets the cookie, which
    %% then carries the token.
    {302, Headers, _} = get_raw("/runs/x?token=s3cret-token&a=b", []),
    ?assertEqual("/runs/x?a=b", proplists:get_value("location", Headers)),
    "aion_token=s3cret-token;" ++ _ = Cookie = proplists:get_value("set-cookie", Headers),
    ?assertNotEqual(nomatch, string:find(Cookie, "HttpOnly")),
    ?assertMatch({200, _, _}, get_raw("/runs/x", [{"cookie", "other=1; aion_token=s3cret-token"}])),
    ?assertMatch({200, _, _}, get_raw("/api/runs?token=s3cret-token", [])),
    ?assertMatch({200, _}, request(post, run_path(Id) ++ "/terminate", Bearer)),
    ?assertMatch({ok, #{status := terminated}}, aion:describe(Id)).

%% Schedules.

schedules_are_listed_and_described() ->
    Key = key(),
    A = <<"sched-a-", Key/binary>>,
    B = <<"sched-b-", Key/binary>>,
    %% Slots far away: none fires while the test runs.
    ok = aion:create_schedule(A, #{workflow => <<"http_done">>, input => #{<<"n">> => 1},
                                   cron => <<"0 0 1 1 *">>, utc_offset => <<"+01:00">>,
                                   overlap => buffer_one}),
    ok = aion:create_schedule(B, #{workflow => <<"http_done">>, every_ms => 3155760000000, paused => true}),
    {200, #{<<"schedules">> := Listed}} = get_json("/api/schedules"),
    Mine = [S || S = #{<<"id">> := Id} <- Listed, lists:member(Id, [A, B])],
    ?assertEqual([A, B], [maps:get(<<"id">>, S) || S <- Mine]),
    %% As describe_schedule/1 answers, made JSON.
    {ok, InfoA} = aion:describe_schedule(A),
    {ok, InfoB} = aion:describe_schedule(B),
    %% (A paused schedule's last_slot is the time it is asked: slots up to then count.)
    Timeless = fun(S) -> maps:without([<<"last_slot">>], S) end,
    ?assertEqual([Timeless(aion_term:jsonable(InfoA)), Timeless(aion_term:jsonable(InfoB))],
                 [Timeless(S) || S <- Mine]),
    {200, #{<<"schedule">> := One}} = get_json(schedule_path(A)),
    ?assertMatch(#{<<"id">> := A, <<"workflow">> := <<"http_done">>, <<"input">> := #{<<"n">> := 1},
                   <<"cron">> := <<"0 0 1 1 *">>, <<"utc_offset">> := <<"+01:00">>,
                   <<"overlap">> := <<"buffer_one">>, <<"paused">> := false, <<"running">> := null,
                   <<"counts">> := #{<<"started">> := 0, <<"missed">> := 0, <<"skipped_overlap">> := 0}},
                 One),
    Next = maps:get(<<"next_runs">>, One),
    ?assertEqual(5, length(Next)),
    ?assertEqual(lists:usort(Next), Next),
    {200, #{<<"schedule">> := Two}} = get_json(schedule_path(B)),
    ?assertMatch(#{<<"every_ms">> := 3155760000000, <<"paused">> := true, <<"overlap">> := <<"skip">>}, Two),
    ?assertNot(maps:is_key(<<"cron">>, Two)),
    %% Unknown ids.
    ?assertMatch({404, #{<<"error">> := <<"not_found">>, <<"message">> := <<"no schedule with that id">>}},
                 get_json("/api/schedules/no-such-schedule")),
    ?assertMatch({404, #{<<"error">> := <<"not_found">>}}, get_json("/api/schedules/" ++ lists:duplicate(300, $x))),
    ok = aion:delete_schedule(A),
    ok = aion:delete_schedule(B).

schedule_actions_pause_unpause_trigger_delete() ->
    Id = <<"sched/act-", (key())/binary>>,
    ok = aion:create_schedule(Id, #{workflow => <<"http_done">>, input => 42, cron => <<"0 0 1 1 *">>}),
    P = schedule_path(Id),
    {200, Paused} = post_json(P ++ "/pause", #{}),
    ?assertMatch(#{<<"ok">> := true, <<"schedule">> := #{<<"id">> := Id, <<"paused">> := true}}, Paused),
    ?assertMatch({ok, #{paused := true}}, aion:describe_schedule(Id)),
    %% An empty body is {}.
    {200, Unpaused} = request(post, P ++ "/unpause", []),
    ?assertMatch(#{<<"ok">> := true, <<"schedule">> := #{<<"paused">> := false}}, Unpaused),
    ?assertMatch({ok, #{paused := false}}, aion:describe_schedule(Id)),
    %% Trigger: a workflow started now, which completes.
    {200, Triggered} = post_json(P ++ "/trigger", #{}),
    #{<<"ok">> := true, <<"outcome">> := <<"started">>, <<"workflow_id">> := Started,
      <<"schedule">> := AfterTrigger} = Triggered,
    ?assertMatch(<<Id:(byte_size(Id))/binary, "@", _/binary>>, Started),
    ?assertEqual({ok, #{<<"echo">> => 42}}, aion:await(Started, 5000)),
    ?assertMatch(#{<<"running">> := Started, <<"counts">> := #{<<"started">> := 1}}, AfterTrigger),
    ?assertMatch({200, #{<<"runs">> := [#{<<"workflow_id">> := Started, <<"status">> := <<"completed">>}]}},
                 get_json("/api/runs?q=" ++ uri_string:quote(binary_to_list(Started)))),
    %% Delete: gone from the API; the workflow it started stays.
    ?assertEqual({200, #{<<"ok">> => true}}, post_json(P ++ "/delete", #{})),
    ?assertEqual({error, not_found}, aion:describe_schedule(Id)),
    ?assertMatch({404, #{<<"error">> := <<"not_found">>}}, get_json(P)),
    [?assertMatch({404, #{<<"error">> := <<"not_found">>}}, post_json(P ++ "/" ++ A, #{}))
     || A <- ["pause", "unpause", "trigger", "delete"]],
    {200, #{<<"schedules">> := Listed}} = get_json("/api/schedules"),
    ?assertNot(lists:member(Id, [maps:get(<<"id">>, S) || S <- Listed])),
    ?assertMatch({ok, #{status := completed}}, aion:describe(Started)).

schedule_bad_requests_are_answered_with_their_status() ->
    Id = <<"sched-bad-", (key())/binary>>,
    ok = aion:create_schedule(Id, #{workflow => <<"http_done">>, cron => <<"0 0 1 1 *">>}),
    P = schedule_path(Id),
    %% Unknown schedules and actions: 404.
    [?assertMatch({404, #{<<"error">> := <<"not_found">>}}, post_json("/api/schedules/no-such-schedule/" ++ A, #{}))
     || A <- ["pause", "unpause", "trigger", "delete"]],
    ?assertMatch({404, #{<<"error">> := <<"not_found">>}}, post_json(P ++ "/explode", #{})),
    ?assertMatch({404, #{<<"error">> := <<"not_found">>}}, post_json("/api/schedules/" ++ lists:duplicate(300, $x) ++ "/pause", #{})),
    %% Wrong method: 405.
    ?assertMatch({405, #{<<"error">> := <<"method_not_allowed">>}}, request(delete, P, [])),
    ?assertMatch({405, #{<<"error">> := <<"method_not_allowed">>}}, request(put, P ++ "/pause", [])),
    ?assertMatch({405, #{<<"error">> := <<"method_not_allowed">>}}, request(post, "/api/schedules", [])),
    %% Not JSON: 415; not an object, or not valid JSON: 400.
    ?assertMatch({415, #{<<"error">> := <<"unsupported_media_type">>}}, post_raw(P ++ "/pause", "text/plain", "")),
    ?assertMatch({415, _}, post_raw(P ++ "/delete", "application/x-www-form-urlencoded", "x=1")),
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, post_raw(P ++ "/pause", "application/json", "[1]")),
    ?assertMatch({400, #{<<"error">> := <<"bad_request">>}}, post_raw(P ++ "/trigger", "application/json", "{\"x\": ")),
    %% None of it touched the schedule.
    ?assertMatch({ok, #{paused := false, running := null, counts := #{started := 0}}}, aion:describe_schedule(Id)),
    ok = aion:delete_schedule(Id).

%% On loopback without a token, a request naming another host (DNS rebinding) is refused,
%% schedule actions as the run actions.
schedule_actions_need_a_loopback_host() ->
    Id = <<"sched-host-", (key())/binary>>,
    ok = aion:create_schedule(Id, #{workflow => <<"http_done">>, cron => <<"0 0 1 1 *">>}),
    P = schedule_path(Id),
    Evil = [{"host", "evil.example:" ++ integer_to_list(aion_http:port())}],
    [?assertMatch({403, #{<<"error">> := <<"forbidden">>}}, request(post, P ++ "/" ++ A, Evil))
     || A <- ["pause", "trigger", "delete"]],
    ?assertMatch({403, _, _}, get_raw("/api/schedules", Evil)),
    ?assertMatch({403, _, _}, get_raw("/schedules", Evil)),
    ?assertMatch({ok, #{paused := false, counts := #{started := 0}}}, aion:describe_schedule(Id)),
    ?assertMatch({200, _}, request(post, P ++ "/pause", [{"host", "localhost:" ++ integer_to_list(aion_http:port())}])),
    ?assertMatch({ok, #{paused := true}}, aion:describe_schedule(Id)),
    ok = aion:delete_schedule(Id).

schedule_actions_need_the_token() ->
    Id = <<"sched-tok-", (key())/binary>>,
    ok = aion:create_schedule(Id, #{workflow => <<"http_done">>, cron => <<"0 0 1 1 *">>}),
    P = schedule_path(Id),
    Bearer = [{"authorization", "Bearer s3cret-token"}],
    ?assertMatch({401, _, _}, get_raw("/api/schedules", [])),
    ?assertMatch({401, _, _}, get_raw(P, [])),
    ?assertMatch({401, _, _}, get_raw("/schedules", [])),
    [?assertMatch({401, #{<<"error">> := <<"unauthorized">>}}, request(post, P ++ "/" ++ A, H))
     || A <- ["pause", "unpause", "trigger", "delete"],
        H <- [[], [{"authorization", "Bearer wrong"}], [{"cookie", "aion_token=wrong"}]]],
    ?assertMatch({ok, #{paused := false, counts := #{started := 0}}}, aion:describe_schedule(Id)),
    {200, _, Listed} = get_raw("/api/schedules", Bearer),
    {ok, #{<<"schedules">> := Schedules}} = aion_flow_ffi:json_decode(Listed),
    ?assert(lists:member(Id, [maps:get(<<"id">>, S) || S <- Schedules])),
    ?assertMatch({200, #{<<"schedule">> := #{<<"paused">> := true}}}, request(post, P ++ "/pause", Bearer)),
    ?assertMatch({200, #{<<"ok">> := true}},
                 request(post, P ++ "/delete", [{"cookie", "aion_token=s3cret-token"}])),
    ?assertEqual({error, not_found}, aion:describe_schedule(Id)).

%% Helpers.

key() -> aion_test_support:key().

start(Type, Input, Id) ->
    {ok, Id} = aion:start_workflow(Type, Input, #{workflow_id => Id}),
    Id.

start_done(N) ->
    Id = start(<<"http_done">>, N, <<"done-", (key())/binary>>),
    {ok, _} = aion:await(Id, 5000),
    %% Distinct creation times, for the order.
    timer:sleep(2),
    Id.

has_event(Id, Type) ->
    {ok, Events} = aion:history(Id),
    lists:any(fun(#{type := T}) -> T =:= Type end, Events).

run_path(Id) ->
    "/api/runs/" ++ uri_string:quote(binary_to_list(Id)).

schedule_path(Id) ->
    "/api/schedules/" ++ uri_string:quote(binary_to_list(Id)).

ids(#{<<"runs">> := Runs}) ->
    [maps:get(<<"workflow_id">>, R) || R <- Runs].

pages(Path, Acc) ->
    {200, Page} = get_json(Path),
    case maps:get(<<"next">>, Page) of
        null -> lists:reverse([Page | Acc]);
        Next ->
            Base = hd(string:split(Path, "&cursor=")),
            pages(Base ++ "&cursor=" ++ binary_to_list(Next), [Page | Acc])
    end.

url(Path) ->
    "http://127.0.0.1:" ++ integer_to_list(aion_http:port()) ++ Path.

get_raw(Path, Headers) ->
    {ok, {{_, Code, _}, RespHeaders, Body}} =
        httpc:request(get, {url(Path), Headers}, [{autoredirect, false}], [{body_format, binary}]),
    {Code, RespHeaders, Body}.

get_json(Path) ->
    {Code, Headers, Body} = get_raw(Path, []),
    ?assertEqual("application/json", proplists:get_value("content-type", Headers)),
    {ok, Json} = aion_flow_ffi:json_decode(Body),
    {Code, Json}.

post_json(Path, Term) ->
    {ok, Body} = aion_flow_ffi:json_encode(Term),
    post_raw(Path, "application/json", Body).

post_raw(Path, Type, Body) ->
    {ok, {{_, Code, _}, _, Resp}} =
        httpc:request(post, {url(Path), [], Type, Body}, [], [{body_format, binary}]),
    {Code, decoded(Resp)}.

request(Method, Path, Headers) ->
    Request = case Method of
        _ when Method =:= post; Method =:= put -> {url(Path), Headers, "application/json", <<>>};
        _ -> {url(Path), Headers}
    end,
    {ok, {{_, Code, _}, _, Resp}} = httpc:request(Method, Request, [], [{body_format, binary}]),
    {Code, decoded(Resp)}.

decoded(Body) ->
    case aion_flow_ffi:json_decode(Body) of
        {ok, Json} -> Json;
        _ -> Body
    end.

%% An address of this machine other than the loopback one (or one nobody listens on).
non_loopback_address() ->
    {ok, Addrs} = inet:getifaddrs(),
    case [A || {_, Opts} <- Addrs, {addr, A} <- Opts, tuple_size(A) =:= 4, element(1, A) =/= 127] of
        [A | _] -> A;
        [] -> {192, 0, 2, 1}
    end.
