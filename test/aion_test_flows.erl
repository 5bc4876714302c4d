%% Workflows and activities used by the eunit suites. Activities count their calls in the
%% `aion_test_calls' table (created by the suite) so tests can check what ran how often.
-module(aion_test_flows).

-export([three_steps/1, single/1, with_opts/1, blocker/1, versioned/1, returns_tuple/1]).
-export([gauge/1, append/1, flaky/1, refuse/1, crash_once/1, slow/1, wait_release/1, echo/1]).
-export([register_all/0, calls/1, bump/1]).

register_all() ->
    Ws = [three_steps, single, with_opts, blocker, versioned, returns_tuple],
    As = [gauge, append, flaky, refuse, crash_once, slow, wait_release, echo],
    [ok = aion:register_workflow(atom_to_binary(W), {?MODULE, W}) || W <- Ws],
    [ok = aion:register_activity(atom_to_binary(A), {?MODULE, A}) || A <- As],
    ok.

bump(Key) -> ets:update_counter(aion_test_calls, Key, 1, {Key, 0}).
calls(Key) -> case ets:lookup(aion_test_calls, Key) of [{_, N}] -> N; [] -> 0 end.

%% Workflows.

three_steps(#{<<"tag">> := Tag}) ->
    {ok, A} = aion_flow:activity(<<"append">>, #{<<"tag">> => Tag, <<"step">> => 1}),
    {ok, B} = aion_flow:activity(<<"append">>, #{<<"tag">> => Tag, <<"step">> => 2}),
    {ok, C} = aion_flow:activity(<<"append">>, #{<<"tag">> => Tag, <<"step">> => 3}),
    {ok, [A, B, C]}.

single(#{<<"activity">> := Name, <<"input">> := Input}) ->
    aion_flow:activity(Name, Input, #{retry => #{initial_interval_ms => 5, max_interval_ms => 50}}).

with_opts(#{<<"activity">> := Name, <<"input">> := Input, <<"max_attempts">> := Max} = In) ->
    Opts0 = #{retry => #{initial_interval_ms => 5, max_interval_ms => 50, max_attempts => Max,
                         non_retryable => [card_declined]}},
    Opts = case In of
        #{<<"timeout">> := T} -> Opts0#{start_to_close_ms => T};
        _ -> Opts0
    end,
    case aion_flow:activity(Name, Input, Opts) of
        {ok, V} -> {ok, V};
        {error, {Kind, Info}} when is_map(Info) ->
            {error, Info#{kind => Kind}};
        {error, Other} ->
            {error, Other}
    end.

blocker(#{<<"key">> := Key}) ->
    aion_flow:activity(<<"wait_release">>, Key).

%% The code path depends on a persistent_term "deploy": v1 runs echo then wait_release;
%% v2 runs wait_release first, which does not match a v1 history.
versioned(#{<<"key">> := Key}) ->
    case persistent_term:get({?MODULE, version}, v1) of
        v1 ->
            {ok, _} = aion_flow:activity(<<"echo">>, <<"first">>),
            aion_flow:activity(<<"wait_release">>, Key);
        v2 ->
            aion_flow:activity(<<"wait_release">>, Key)
    end.

returns_tuple(_) ->
    {ok, {not_json, self()}}.

%% Activities.

%% Tracks how many attempts run at once under `key' (current and highest).
gauge(#{<<"key">> := Key, <<"ms">> := Ms}) ->
    Now = bump({gauge_now, Key}),
    ets:insert(aion_test_calls, {{gauge_max, Key}, max(Now, calls({gauge_max, Key}))}),
    timer:sleep(Ms),
    ets:update_counter(aion_test_calls, {gauge_now, Key}, -1),
    {ok, Now}.

append(#{<<"tag">> := Tag, <<"step">> := Step}) ->
    bump({append, Tag}),
    ets:insert(aion_test_calls, {{order, Tag, bump({seq, Tag})}, Step}),
    {ok, Step * 10}.

%% Fails until it has been called `fail_times' times for `key'.
flaky(#{<<"key">> := Key, <<"fail_times">> := N}) ->
    case bump({flaky, Key}) of
        C when C =< N -> {error, {temporary, C}};
        C -> {ok, #{<<"succeeded_on">> => C}}
    end.

refuse(#{<<"key">> := Key} = In) ->
    bump({refuse, Key}),
    case In of
        #{<<"how">> := <<"declined">>} -> {error, card_declined};
        _ -> {error, {terminal, <<"card refused">>}}
    end.

crash_once(#{<<"key">> := Key}) ->
    case bump({crash_once, Key}) of
        1 -> erlang:error(boom);
        2 -> exit(self(), kill);
        N -> {ok, N}
    end.

slow(#{<<"key">> := Key, <<"ms">> := Ms}) ->
    bump({slow, Key}),
    receive {aion_cancel, _, _} -> {error, cancelled} after Ms -> {ok, done} end.

wait_release(Key) ->
    bump({wait_release, Key}),
    Self = self(),
    ets:insert(aion_test_calls, {{waiting, Key}, Self}),
    receive release -> {ok, <<"released">>} end.

echo(X) ->
    bump({echo, X}),
    {ok, X}.
