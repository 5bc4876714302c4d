%% Workflows for the time, cancellation and determinism suites.
-module(aion_time_flows).

-export([register_all/0]).
-export([sleeper/1, named_timers/1, timeout_block/1, cancellable/1, determinism/1,
         counter/1, patched_flow/1, sleep_then_fail/1]).

register_all() ->
    Ws = [sleeper, named_timers, timeout_block, cancellable, determinism, counter,
          patched_flow, sleep_then_fail],
    [ok = aion:register_workflow(atom_to_binary(W), {?MODULE, W}) || W <- Ws],
    ok.

sleeper(#{<<"ms">> := Ms}) ->
    Before = aion_flow:now(),
    case aion_flow:sleep(Ms) of
        ok -> {ok, #{<<"slept_from">> => Before, <<"woke_at">> => aion_flow:now()}};
        {error, Reason} -> {error, Reason}
    end.

sleep_then_fail(#{<<"ms">> := Ms}) ->
    ok = aion_flow:sleep(Ms),
    {error, <<"should have timed out">>}.

named_timers(_) ->
    Short = aion_flow:start_timer(<<"short">>, 20),
    Long = aion_flow:start_timer(<<"long">>, 60000),
    ok = aion_flow:await_timer(Short),
    ok = aion_flow:cancel_timer(Long),
    ok = aion_flow:cancel_timer(Long),
    ok = aion_flow:cancel_timer(Short),
    {error, cancelled} = aion_flow:await_timer(Long),
    {ok, <<"done">>}.

%% `{"ms": Deadline, "activity_ms": Duration}': a slow activity inside with_timeout.
timeout_block(#{<<"ms">> := Ms, <<"key">> := Key, <<"activity_ms">> := ActMs}) ->
    Res = aion_flow:with_timeout(Ms, fun() ->
        aion_flow:activity(<<"slow">>, #{<<"key">> => Key, <<"ms">> => ActMs})
    end),
    case Res of
        {ok, {ok, V}} -> {ok, #{<<"inner">> => V}};
        {error, timeout} -> {ok, <<"timed_out">>};
        Other -> {error, iolist_to_binary(io_lib:format("~p", [Other]))}
    end.

%% Waits on an activity; when cancelled, compensates with another activity.
cancellable(#{<<"key">> := Key}) ->
    case aion_flow:activity(<<"wait_release">>, Key) of
        {error, cancelled} ->
            true = aion_flow:cancel_requested(),
            {ok, _} = aion_flow:activity(<<"echo">>, <<"compensate-", Key/binary>>),
            {ok, <<"compensated">>};
        {ok, V} ->
            {ok, V}
    end.

%% Captures every determinism helper, records them through an activity, waits, and
%% returns them: a replay in between must produce the same values.
determinism(#{<<"key">> := Key}) ->
    {ok, Side} = aion_flow:side_effect(fun() ->
        aion_test_flows:bump({side_effect, Key}),
        erlang:unique_integer([positive])
    end),
    Values = #{<<"now">> => aion_flow:now(), <<"random">> => aion_flow:random(),
               <<"uuid">> => aion_flow:uuid(), <<"id">> => aion_flow:workflow_id(),
               <<"side">> => Side},
    {ok, _} = aion_flow:activity(<<"echo">>, Values),
    {ok, _} = aion_flow:activity(<<"wait_release">>, Key),
    {ok, Values}.

counter(#{<<"n">> := N, <<"limit">> := Limit}) when N < Limit ->
    aion_flow:continue_as_new(#{<<"n">> => N + 1, <<"limit">> => Limit});
counter(#{<<"n">> := N}) ->
    {ok, N}.

%% v1 called echo("old"); v2 guards the new call with patched/1.
patched_flow(#{<<"key">> := Key}) ->
    Step = case persistent_term:get({?MODULE, version}, v1) of
        v1 -> <<"old">>;
        v2 ->
            case aion_flow:patched(<<"use-new-step">>) of
                true -> <<"new">>;
                false -> <<"old">>
            end
    end,
    {ok, _} = aion_flow:activity(<<"echo">>, Step),
    {ok, _} = aion_flow:activity(<<"wait_release">>, Key),
    {ok, Step}.
