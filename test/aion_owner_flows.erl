%% Workflows and activities of the "one owner per run" suite (aion_owner_tests).
-module(aion_owner_flows).

-export([register_all/0]).
-export([pair/1, waiter/1, returns/1, deep_activity/1, interleave/1, crashes/1]).
-export([tracked/1, echo/1, deep/1, parked/1, many/1, once/1, long_names/1]).

register_all() ->
    ok = aion:register_activity(<<"owner_tracked">>, {?MODULE, tracked}),
    ok = aion:register_activity(<<"owner_echo">>, {?MODULE, echo}),
    ok = aion:register_activity(<<"owner_deep">>, {?MODULE, deep}),
    ok = aion:register_activity(<<"owner_parked">>, {?MODULE, parked}),
    [ok = aion:register_workflow(T, {?MODULE, F})
     || {T, F} <- [{<<"owner_pair">>, pair}, {<<"owner_waiter">>, waiter},
                   {<<"owner_returns">>, returns}, {<<"owner_deep_activity">>, deep_activity},
                   {<<"owner_interleave">>, interleave}, {<<"owner_crashes">>, crashes},
                   {<<"owner_many">>, many}, {<<"owner_once">>, once},
                   {<<"owner_long_names">>, long_names}]],
    ok = aion:register_workflow(<<"owner_crashes_fail">>, {?MODULE, crashes}, #{on_crash => fail}),
    ok.

%% Waits for "go", signals its peer, and returns what the peer signalled it.
pair(#{<<"peer">> := Peer, <<"me">> := Me}) ->
    {ok, _} = aion_flow:receive_signal(<<"go">>),
    ok = aion_flow:signal(Peer, <<"ping">>, Me),
    {ok, From} = aion_flow:receive_signal(<<"ping">>),
    {ok, From}.

%% Waits for one signal and returns its payload.
waiter(_) ->
    aion_flow:receive_signal(<<"go">>).

%% Returns its input as its result.
returns(#{<<"value">> := V}) ->
    {ok, V}.

%% Returns what activity owner_deep returns (a list nested N deep).
deep_activity(#{<<"levels">> := N}) ->
    case aion_flow:activity(<<"owner_deep">>, N, #{retry => #{max_attempts => 1}}) of
        {ok, V} -> {ok, V};
        {error, {activity_failed, #{type := T}}} -> {error, T}
    end.

deep(N) -> {ok, nested(N)}.

nested(0) -> <<"bottom">>;
nested(N) -> [nested(N - 1)].

%% Takes signals, updates, queries and a cancellation in any order; returns the number of
%% signals seen when it gets "stop", or says it was cancelled.
interleave(_) ->
    ok = aion_flow:set_update_handler(<<"add">>, fun(_) -> ok end, fun(X) -> X end),
    interleave_loop(0).

interleave_loop(N) ->
    ok = aion_flow:set_query_handler(<<"count">>, fun(_) -> N end),
    case aion_flow:receive_signal(<<"s">>) of
        {ok, <<"stop">>} -> {ok, N};
        {ok, _} -> interleave_loop(N + 1);
        {error, cancelled} -> {ok, <<"cancelled">>}
    end.

%% Crashes while the persistent term says so.
crashes(#{<<"key">> := K}) ->
    {ok, _} = aion_flow:activity(<<"owner_echo">>, 1),
    case persistent_term:get({?MODULE, crash, K}, true) of
        true -> erlang:error({deliberate, K});
        false -> {ok, <<"fixed">>}
    end.

echo(X) -> {ok, X}.

%% Asks for commands with names of 256 bytes and of 0 bytes; returns what it got.
long_names(_) ->
    Results = [[aion_flow:activity(Name, 1),
                aion_flow:start_timer(Name, 10),
                aion_flow:receive_signal(Name),
                aion_flow:signal(Name, <<"s">>, 1),
                aion_flow:start_child(Name, 1, #{})]
               || Name <- [binary:copy(<<"n">>, 256), <<>>]],
    {ok, [element(1, R) =:= error andalso element(1, element(2, R)) =:= bad_option
          || R <- lists:append(Results)]}.

%% N fast activities in a row.
many(#{<<"n">> := N}) ->
    _ = [{ok, I} = aion_flow:activity(<<"owner_echo">>, I) || I <- lists:seq(1, N)],
    {ok, N}.

%% One attempt of owner_parked, whatever happens to it.
once(Input) ->
    case aion_flow:activity(<<"owner_parked">>, Input, #{retry => #{max_attempts => 1}}) of
        {ok, V} -> {ok, V};
        {error, {activity_failed, #{type := T, message := M}}} -> {error, #{<<"type">> => T, <<"message">> => M}}
    end.

%% Parks until killed (its pid under {parked, Key}).
parked(#{<<"key">> := K}) ->
    ets:insert(aion_test_calls, {{parked, K}, self()}),
    receive never -> {ok, never} end.

%% An attempt that notes whether another attempt of the same activity is alive when it
%% starts, then waits to be released.
tracked(#{<<"key">> := K}) ->
    Key = {owner_tracked, K},
    Others = [P || {_, P} <- ets:lookup(aion_test_calls, Key), is_process_alive(P)],
    Others =:= [] orelse ets:update_counter(aion_test_calls, {overlap, K}, 1, {{overlap, K}, 0}),
    ets:insert(aion_test_calls, {Key, self()}),
    ets:update_counter(aion_test_calls, {attempts, K}, 1, {{attempts, K}, 0}),
    receive
        release -> ok
    after 60000 -> ok
    end,
    ets:delete(aion_test_calls, Key),
    {ok, <<"done">>}.
