%% Workflows for the signals, queries, updates, children and fan-out suite.
-module(aion_comm_flows).

-export([register_all/0]).
-export([bad_fan/1, signal_waiter/1, signal_timeout/1, counter/1, updatable/1, parent/1,
         child_double/1, sender/1, fan/1]).

register_all() ->
    Ws = [bad_fan, signal_waiter, signal_timeout, counter, updatable, parent, child_double, sender, fan],
    [ok = aion:register_workflow(atom_to_binary(W), {?MODULE, W}) || W <- Ws],
    ok.

signal_waiter(_) ->
    {ok, A} = aion_flow:receive_signal(<<"go">>),
    {ok, B} = aion_flow:receive_signal(<<"go">>),
    {ok, [A, B]}.

signal_timeout(#{<<"ms">> := Ms}) ->
    {error, timeout} = aion_flow:receive_signal(<<"go">>, Ms),
    {ok, X} = aion_flow:receive_signal(<<"go">>),
    {ok, [<<"timed_out">>, X]}.

%% Counts "inc" signals until one carries "stop"; queries see the count so far.
counter(_) ->
    ok = aion_flow:set_query_handler(<<"boom">>, fun(_) -> erlang:error(boom) end),
    ok = aion_flow:set_query_handler(<<"sneaky">>, fun(X) -> aion_flow:activity(<<"echo">>, X) end),
    count(0).

count(N) ->
    ok = aion_flow:set_query_handler(<<"count">>, fun(#{<<"plus">> := P}) -> N + P end),
    case aion_flow:receive_signal(<<"inc">>) of
        {ok, <<"stop">>} -> {ok, N};
        {ok, _} -> count(N + 1)
    end.

%% Updates add positive numbers (through an activity) until the "done" signal.
updatable(_) ->
    put(total, 0),
    ok = aion_flow:set_update_handler(<<"add">>,
        fun(X) when is_integer(X), X > 0 -> ok;
           (_) -> {error, <<"positive integers only">>}
        end,
        fun(X) ->
            {ok, Y} = aion_flow:activity(<<"echo">>, X),
            put(total, get(total) + Y),
            get(total)
        end),
    {ok, _} = aion_flow:receive_signal(<<"done">>),
    {ok, get(total)}.

parent(#{<<"mode">> := <<"await">>, <<"n">> := N}) ->
    aion_flow:child(<<"child_double">>, N, #{});
parent(#{<<"mode">> := <<"leave">>, <<"key">> := K, <<"policy">> := P}) ->
    {ok, _Ref} = aion_flow:start_child(<<"blocker">>, #{<<"key">> => K},
                                       #{parent_close_policy => binary_to_atom(P)}),
    {ok, <<"left">>};
parent(#{<<"mode">> := <<"failing">>}) ->
    aion_flow:child(<<"child_double">>, <<"not a number">>, #{}).

child_double(N) when is_integer(N) -> {ok, N * 2};
child_double(_) -> {error, <<"not a number">>}.

sender(#{<<"target">> := Target}) ->
    First = aion_flow:signal(Target, <<"go">>, <<"from-sender">>),
    Missing = aion_flow:signal(<<"no-such-workflow">>, <<"go">>, 1),
    {ok, [atom_to_binary(First), atom_to_binary(element(2, Missing))]}.

fan(#{<<"mode">> := <<"all">>, <<"n">> := N}) ->
    aion_flow:all([{activity, <<"echo">>, I, #{}} || I <- lists:seq(1, N)]);
fan(#{<<"mode">> := <<"race">>, <<"key">> := K}) ->
    aion_flow:race([{activity, <<"slow">>, #{<<"key">> => K, <<"ms">> => 5000}, #{}},
                    {activity, <<"echo">>, <<"fast">>, #{}}]);
fan(#{<<"mode">> := <<"all_fail">>, <<"key">> := K}) ->
    case aion_flow:all([{activity, <<"slow">>, #{<<"key">> => K, <<"ms">> => 5000}, #{}},
                        {activity, <<"refuse">>, #{<<"key">> => K}, #{}}]) of
        {error, {activity_failed, #{activity := A}}} -> {ok, <<"failed on ", A/binary>>};
        Other -> {error, iolist_to_binary(io_lib:format("~p", [Other]))}
    end;
fan(#{<<"mode">> := <<"settled">>, <<"key">> := K}) ->
    {ok, [{ok, 1}, {error, {activity_failed, _}}]} =
        aion_flow:settled([{activity, <<"echo">>, 1, #{}},
                           {activity, <<"refuse">>, #{<<"key">> => K}, #{}}]),
    {ok, <<"settled">>};
fan(#{<<"mode">> := <<"map">>, <<"key">> := K}) ->
    aion_flow:map(fun(_) -> {activity, <<"gauge">>, #{<<"key">> => K, <<"ms">> => 30}, #{}} end,
                  lists:seq(1, 6), #{concurrency => 2});
fan(#{<<"mode">> := <<"children">>}) ->
    aion_flow:all([{child, <<"child_double">>, I, #{}} || I <- [1, 2, 3]]).

%% A fan-out whose third call is malformed: the calls before it run and are cancelled.
bad_fan(_) ->
    aion_flow:all([{activity, <<"echo">>, 1, #{}}, {activity, <<"echo">>, 2, #{}},
                   {activity, <<"echo">>, self(), #{}}]).
