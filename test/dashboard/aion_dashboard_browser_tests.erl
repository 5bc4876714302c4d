%% The dashboard in a real headless browser: starts aion with the dashboard and a few
%% workflows (completed orders, one waiting on a signal, one waiting on an activity), runs
%% `node test/dashboard/browser.test.mjs URL ID' (chromium through playwright-core), and
%% checks its exit status and, through the aion API, that the run it cancelled from the
%% page is cancelled; then the schedules page (`SCHEDULE_ID' of the script: paused,
%% unpaused, triggered and deleted from the page), checked here through the aion API too.
%%
%% Without node, chromium or playwright-core the script (or this test, for node) prints why
%% and the test is skipped; with AION_BROWSER_REQUIRED=1 that fails it instead.
-module(aion_dashboard_browser_tests).

-include_lib("eunit/include/eunit.hrl").

-export([order/1, approval/1, payment/1, report/1]).
-export([reserve/1, charge/1, ship/1, settle/1]).

%% Workflows and activities shown in the screenshots.

order(#{<<"order_id">> := Id} = Order) ->
    {ok, _} = aion_flow:activity(<<"reserve_stock">>, Order),
    {ok, Receipt} = aion_flow:activity(<<"charge_card">>, Order,
                                       #{retry => #{max_attempts => 3, initial_interval_ms => 20}}),
    ok = aion_flow:sleep(5),
    {ok, Tracking} = aion_flow:activity(<<"ship">>, Id),
    {ok, #{<<"receipt">> => Receipt, <<"tracking">> => Tracking}}.

approval(Order) ->
    {ok, By} = aion_flow:receive_signal(<<"approved">>),
    {ok, #{<<"order">> => Order, <<"approved_by">> => By}}.

payment(Order) ->
    case aion_flow:activity(<<"settle_payment">>, Order) of
        {error, cancelled} -> {ok, <<"refunded">>};
        Other -> Other
    end.

%% A bug: the run is blocked (and retried after a backoff).
report(_) ->
    erlang:error({badmatch, nothing_to_report}).

reserve(_) -> {ok, <<"reserved">>}.

%% The card gateway is busy on the first attempt of each order.
charge(#{<<"order_id">> := Id, <<"amount">> := Amount}) ->
    case ets:update_counter(aion_test_calls, {charge, Id}, 1, {{charge, Id}, 0}) of
        1 -> {error, gateway_busy};
        _ -> timer:sleep(15), {ok, #{<<"charged">> => Amount}}
    end.

ship(Id) -> {ok, <<"TRK-", Id/binary>>}.

settle(_) ->
    receive {aion_cancel, _, _} -> {error, cancelled}
    after 120000 -> {ok, settled}
    end.

browser_test_() ->
    {setup,
     fun start/0,
     fun stop/1,
     fun(Ids) -> {timeout, 240, fun() -> in_the_browser(Ids) end} end}.

start() ->
    _ = application:load(aion),
    ok = application:set_env(aion, http, #{port => 0}),
    Dir = aion_test_support:start(),
    [ok = aion:register_activity(N, {?MODULE, F})
     || {N, F} <- [{<<"reserve_stock">>, reserve}, {<<"charge_card">>, charge}, {<<"ship">>, ship},
                   {<<"settle_payment">>, settle}]],
    [ok = aion:register_workflow(T, {?MODULE, F})
     || {T, F} <- [{<<"order">>, order}, {<<"approval">>, approval}, {<<"payment">>, payment},
                   {<<"report">>, report}]],
    Key = aion_test_support:key(),
    Orders = [begin
                  Id = <<"order-", N/binary, "-", Key/binary>>,
                  {ok, Id} = aion:start_workflow(<<"order">>,
                      #{<<"order_id">> => N, <<"item">> => <<"aion t-shirt">>, <<"amount">> => 2500},
                      #{workflow_id => Id}),
                  {ok, _} = aion:await(Id, 10000),
                  Id
              end || N <- [<<"1001">>, <<"1002">>]],
    {ok, Report} = aion:start_workflow(<<"report">>, #{<<"day">> => <<"2026-11-27">>},
                                       #{workflow_id => <<"report-", Key/binary>>}),
    aion_test_support:wait_until(fun() -> {ok, #{status := S}} = aion:describe(Report), S =:= blocked end, 5000),
    {ok, Approval} = aion:start_workflow(<<"approval">>, #{<<"order_id">> => <<"1003">>},
                                         #{workflow_id => <<"approval-1003-", Key/binary>>}),
    {ok, Payment} = aion:start_workflow(<<"payment">>, #{<<"order_id">> => <<"1004">>},
                                        #{workflow_id => <<"payment-1004-", Key/binary>>}),
    aion_test_support:wait_until(fun() ->
        {ok, Events} = aion:history(Payment),
        lists:any(fun(#{type := T}) -> T =:= <<"ActivityStarted">> end, Events)
    end, 5000),
    %% Schedules whose slots do not come while the test runs (one yearly, one paused), and
    %% one whose id is markup (the page must show it as text).
    Nightly = <<"nightly-orders-", Key/binary>>,
    ok = aion:create_schedule(Nightly, #{workflow => <<"order">>, cron => <<"0 0 1 1 *">>, utc_offset => <<"+01:00">>,
                                         overlap => buffer_one,
                                         input => #{<<"order_id">> => <<"1005">>, <<"item">> => <<"aion mug">>,
                                                    <<"amount">> => 1200}}),
    Cleanup = <<"cleanup-<b>weekly</b>-", Key/binary>>,
    ok = aion:create_schedule(Cleanup, #{workflow => <<"report">>, cron => <<"0 3 * * sun">>, paused => true}),
    #{dir => Dir, orders => Orders, approval => Approval, payment => Payment, report => Report,
      schedule => Nightly, cleanup => Cleanup}.

stop(#{dir := Dir, report := Report}) ->
    _ = aion:terminate(Report, <<"test over">>),
    aion_test_support:stop(Dir),
    application:unset_env(aion, http).

in_the_browser(#{payment := Payment, approval := Approval, schedule := Schedule, cleanup := Cleanup}) ->
    Required = os:getenv("AION_BROWSER_REQUIRED") =:= "1",
    case os:find_executable("node") of
        false when Required ->
            erlang:error({browser_test_required, node_not_found});
        false ->
            io:format(user, "~nSKIP: the dashboard browser test needs node (not found)~n", []);
        Node ->
            Script = filename:join([root(), "test", "dashboard", "browser.test.mjs"]),
            {Status, Output} = run(Node, [Script, aion_http:url(), binary_to_list(Payment),
                                             binary_to_list(Schedule)]),
            io:format(user, "~n~s~n", [Output]),
            ?assertEqual(0, Status),
            case binary:match(Output, <<"SKIP:">>) of
                nomatch ->
                    %% What the page did, as aion sees it.
                    ?assertMatch({ok, #{status := cancelled}}, aion:describe(Payment)),
                    ?assertEqual({error, {cancelled, #{<<"ok">> => <<"refunded">>}}}, aion:await(Payment, 1000)),
                    ?assertMatch([#{reason := <<"cancelled from the browser test">>}],
                                 [E || E = #{type := <<"WorkflowCancelRequested">>} <- element(2, aion:history(Payment))]),
                    ?assertMatch({ok, #{status := running}}, aion:describe(Approval)),
                    %% The schedule the page triggered, then deleted; the other one stays.
                    ?assertEqual({error, not_found}, aion:describe_schedule(Schedule)),
                    {ok, Started} = aion:list(#{type => <<"order">>}),
                    ?assertMatch([_], [Id || #{workflow_id := Id} <- Started,
                                             binary:match(Id, <<Schedule/binary, "@">>) =/= nomatch]),
                    ?assertMatch({ok, #{paused := true}}, aion:describe_schedule(Cleanup));
                _ ->
                    ok
            end
    end.

run(Executable, Args) ->
    Port = open_port({spawn_executable, Executable},
                     [{args, Args}, {cd, root()}, exit_status, stderr_to_stdout, binary]),
    collect(Port, []).

collect(Port, Acc) ->
    receive
        {Port, {data, Data}} -> collect(Port, [Data | Acc]);
        {Port, {exit_status, Status}} -> {Status, iolist_to_binary(lists:reverse(Acc))}
    after 200000 ->
        catch port_close(Port),
        {timeout, iolist_to_binary(lists:reverse(Acc))}
    end.

%% The repository's root: where rebar3 runs the tests (the test modules' sources are
%% under it).
root() ->
    Source = proplists:get_value(source, ?MODULE:module_info(compile)),
    Root = filename:dirname(filename:dirname(filename:dirname(Source))),
    case filelib:is_regular(filename:join([Root, "test", "dashboard", "browser.test.mjs"])) of
        true -> Root;
        false -> element(2, file:get_cwd())
    end.
