%% @doc Child workflows and fan-out (`all', `race', `settled', `map') for workflow code.
%% Calls are dispatched as ordinary recorded commands; waiting for "the first of several"
%% uses the run's `select', which picks what settled first in history order, so replay
%% takes the same path.
-module(aion_flow_fanout).

-export([start_child/3]).
-export([await_child/1]).
-export([all/1]).
-export([race/1]).
-export([settled/1]).
-export([map/3]).

-opaque child_ref() :: {aion_child, pos_integer(), binary()}.
-type call() :: {activity, binary(), term(), map()} | {child, binary(), term(), map()}.
-export_type([child_ref/0, call/0]).

-define(POLICIES, [terminate, request_cancel, abandon]).

%% @doc See `aion_flow:start_child/3'.
-spec start_child(binary(), term(), map()) -> {ok, child_ref()} | {error, term()}.
start_child(Type, Input, Opts) when is_binary(Type), is_map(Opts) ->
    case child_opts(Opts) of
        {ok, ChildId, Policy} ->
            case aion:encode_payload(Input) of
                {ok, InputJson} -> record_child(Type, InputJson, ChildId, Policy);
                {error, _} = Error -> Error
            end;
        {error, _} = Error ->
            Error
    end;
start_child(Type, _Input, Opts) ->
    {error, {bad_option, {child, Type, Opts}}}.

child_opts(Opts) ->
    case maps:keys(maps:without([workflow_id, parent_close_policy], Opts)) of
        [] ->
            ChildId = maps:get(workflow_id, Opts, null),
            Policy = maps:get(parent_close_policy, Opts, terminate),
            if
                not (ChildId =:= null orelse (is_binary(ChildId) andalso ChildId =/= <<>>)) ->
                    {error, {bad_option, {workflow_id, ChildId}}};
                is_atom(Policy) ->
                    case lists:member(Policy, ?POLICIES) of
                        true -> {ok, ChildId, atom_to_binary(Policy)};
                        false -> {error, {bad_option, {parent_close_policy, Policy}}}
                    end;
                true ->
                    {error, {bad_option, {parent_close_policy, Policy}}}
            end;
        [Key | _] ->
            {error, {bad_option, Key}}
    end.

record_child(Type, InputJson, ChildId, Policy) ->
    Started = aion_flow_ffi:with_run(fun(Run) ->
        aion_flow_ffi:record(Run, fun(Tag) ->
            aion_flow_ffi:nif_run_start_child(Run, Type, InputJson, ChildId, Policy, aion_flow_ffi:now_ms(), Tag)
        end)
    end),
    case Started of
        {ok, {Ordinal, Id, Create}} ->
            Create andalso create_child(Ordinal, Type, InputJson, Id),
            {ok, {aion_child, Ordinal, Id}};
        {error, Reason} ->
            {error, aion_flow:wire_reason(Reason)}
    end.

%% Creates the child after `ChildStarted' is durable; creating again (after a crash) finds
%% it and leaves it alone.
create_child(Ordinal, Type, InputJson, Id) ->
    {ok, Input} = aion_flow_ffi:json_decode(InputJson),
    case aion:start_workflow(Type, Input, #{workflow_id => Id, parent_id => aion_flow:workflow_id()}) of
        {ok, _} -> ok;
        {error, {already_started, _}} -> ok;
        {error, {already_exists, _}} -> ok;
        {error, Reason} ->
            Run = aion_flow_ffi:run(),
            {ok, Json} = aion_flow_ffi:json_encode(aion_flow_ffi:printed(Reason)),
            Tag = aion_flow_ffi:tag(),
            case aion_flow_ffi:nif_run_child_completed(Run, Ordinal, <<"start_failed">>, Json, aion_flow_ffi:now_ms(), Tag) of
                {ok, recording} -> aion_flow_ffi:wait_durable(Tag);
                _ -> ok
            end
    end.

%% @doc See `aion_flow:await_child/1'.
-spec await_child(child_ref()) -> {ok, term()} | {error, term()}.
await_child({aion_child, Ordinal, Id}) ->
    Result = aion_flow_ffi:with_run(fun(Run) ->
        aion_flow_ffi:await_step(Run, fun(Tag) ->
            aion_flow_ffi:nif_run_child_step(Run, Ordinal, aion_flow_ffi:now_ms(), Tag)
        end)
    end),
    outcome({child, Ordinal, Id}, Result);
await_child(Other) ->
    {error, {bad_option, {child, Other}}}.

%% What the code sees of an outcome: decoded results; typed errors.
outcome(_Item, {ok, Json}) ->
    aion_flow_ffi:json_decode(Json);
outcome({child, _, _}, {error, {failed, Json}} = Error) ->
    case aion_flow_ffi:json_decode(Json) of
        {ok, #{<<"status">> := S, <<"value">> := V}} -> {error, {child_failed, #{status => S, value => V}}};
        _ -> {error, aion_flow:wire_reason(Error)}
    end;
outcome(_Item, {error, Reason}) ->
    {error, aion_flow:wire_reason(Reason)}.

%% @doc See `aion_flow:all/1'.
-spec all([call()]) -> {ok, [term()]} | {error, term()}.
all(Calls) ->
    window(Calls, limit(Calls), fail_fast).

%% @doc See `aion_flow:race/1'.
-spec race([call()]) -> {ok, term()} | {error, term()}.
race([]) ->
    {error, {bad_option, no_calls}};
race(Calls) ->
    window(Calls, limit(Calls), first).

%% @doc See `aion_flow:settled/1'.
-spec settled([call()]) -> {ok, [{ok, term()} | {error, term()}]} | {error, term()}.
settled(Calls) ->
    window(Calls, limit(Calls), every).

%% Every call in flight at once.
limit(Calls) when is_list(Calls) -> max(1, length(Calls));
limit(_) -> 1.

%% @doc See `aion_flow:map/3'.
-spec map(fun((term()) -> call()), [term()], map()) -> {ok, [term()]} | {error, term()}.
map(Fun, Items, Opts) when is_function(Fun, 1), is_list(Items), is_map(Opts) ->
    case maps:get(concurrency, Opts, 10) of
        N when is_integer(N), N > 0 -> window([Fun(I) || I <- Items], N, fail_fast);
        N -> {error, {bad_option, {concurrency, N}}}
    end;
map(_Fun, _Items, Opts) ->
    {error, {bad_option, Opts}}.

%% Runs `Calls' with at most `Limit' in flight. Mode `fail_fast' (all, map): every result
%% in order, or the first error after cancelling the rest; `first' (race): the first
%% outcome after cancelling the rest; `every' (settled): every outcome in order.
window(Calls, Limit, Mode) when is_list(Calls) ->
    case aion_flow_ffi:run() of
        undefined -> {error, not_in_workflow};
        Run -> window(Run, lists:zip(lists:seq(1, length(Calls)), Calls), [], #{}, Limit, Mode)
    end;
window(Calls, _Limit, _Mode) ->
    {error, {bad_option, {calls, Calls}}}.

window(Run, Queue, Pending, Done, Limit, Mode) when length(Pending) < Limit, Queue =/= [] ->
    {Batch, Rest} = lists:split(min(Limit - length(Pending), length(Queue)), Queue),
    case dispatch(Batch) of
        {ok, Items} ->
            window(Run, Rest, Pending ++ Items, Done, Limit, Mode);
        {error, Index, Error, Items} ->
            settle(Run, Rest, Pending ++ Items, Done, Limit, Mode, Index, Error)
    end;
window(_Run, [], [], Done, _Limit, Mode) ->
    Results = [Result || {_, Result} <- lists:keysort(1, maps:to_list(Done))],
    case Mode of
        every -> {ok, Results};
        _ -> {ok, [V || {ok, V} <- Results]}
    end;
window(Run, [], Pending, Done, Limit, Mode) when Mode =/= first ->
    %% Nothing more to dispatch, and every result is taken in turn until the first
    %% failure: take all that have settled at once.
    settle_all(Run, Pending, Done, Limit, Mode, next_settled(Run, Pending));
window(Run, Queue, Pending, Done, Limit, Mode) ->
    {Index, Result} = next(Run, Pending),
    settle(Run, Queue, lists:keydelete(Index, 1, Pending), Done, Limit, Mode, Index, Result).

%% Settles a batch of results in history order (only its last can be a failure).
settle_all(Run, Pending, Done, Limit, Mode, Batch) ->
    Taken = maps:from_list(Batch),
    Rest = [P || {Index, _} = P <- Pending, not is_map_key(Index, Taken)],
    case {Mode, lists:last([{none, ok} | Batch])} of
        {fail_fast, {_, {error, _} = Error}} ->
            cancel_all(Run, Rest),
            Error;
        _ ->
            window(Run, [], Rest, maps:merge(Done, Taken), Limit, Mode)
    end.

settle(Run, Queue, Pending, Done, Limit, Mode, Index, Result) ->
    case {Mode, Result} of
        {first, _} ->
            cancel_all(Run, Pending),
            Result;
        {fail_fast, {error, _}} ->
            cancel_all(Run, Pending),
            Result;
        _ ->
            window(Run, Queue, Pending, Done#{Index => Result}, Limit, Mode)
    end.

%% Dispatches a batch of indexed calls: every activity of the batch with one append,
%% children one by one. `{error, Index, Reason, Dispatched}' for the first call that
%% could not be dispatched (bad input: nothing recorded for it or after it).
dispatch(Batch) ->
    case check_calls(Batch, []) of
        {ok, Checked} ->
            dispatch_checked(Checked);
        {error, Index, Error, Checked} ->
            case dispatch_checked(Checked) of
                {ok, Items} -> {error, Index, Error, Items};
                {error, _, _, _} = Failed -> Failed
            end
    end.

dispatch_checked([]) ->
    {ok, []};
dispatch_checked(Checked) ->
    Activities = [{Name, InputJson, Config} || {_, {activity, Name, InputJson, Config}} <- Checked],
    case aion_flow_ffi:dispatch_activities(Activities) of
        {ok, Ordinals} -> start_children(Checked, Ordinals, []);
        {error, Reason} -> {error, element(1, hd(Checked)), {error, aion_flow:wire_reason(Reason)}, []}
    end.

check_calls([], Acc) ->
    {ok, lists:reverse(Acc)};
check_calls([{Index, Call} | Rest], Acc) ->
    case check_call(Call) of
        {ok, Checked} -> check_calls(Rest, [{Index, Checked} | Acc]);
        {error, _} = Error -> {error, Index, Error, lists:reverse(Acc)}
    end.

check_call({activity, Name, Input, Opts}) when is_binary(Name), is_map(Opts) ->
    case {aion_flow_config:activity_options(Opts), aion:encode_payload(Input)} of
        {{ok, Config}, {ok, InputJson}} -> {ok, {activity, Name, InputJson, Config}};
        {{error, _} = Error, _} -> Error;
        {_, {error, _} = Error} -> Error
    end;
check_call({child, Type, Input, Opts}) when is_binary(Type), is_map(Opts) ->
    {ok, {child, Type, Input, Opts}};
check_call(Other) ->
    {error, {bad_option, {call, Other}}}.

start_children([], [], Acc) ->
    {ok, lists:reverse(Acc)};
start_children([{Index, {activity, _, _, _}} | Rest], [Ordinal | Ordinals], Acc) ->
    start_children(Rest, Ordinals, [{Index, {activity, Ordinal}} | Acc]);
start_children([{Index, {child, Type, Input, Opts}} | Rest], Ordinals, Acc) ->
    case start_child(Type, Input, Opts) of
        {ok, {aion_child, Ordinal, Id}} ->
            start_children(Rest, Ordinals, [{Index, {child, Ordinal, Id}} | Acc]);
        {error, _} = Error ->
            {error, Index, Error, lists:reverse(Acc)}
    end.

%% The first of `Pending' to settle, in history order.
next(Run, Pending) ->
    Items = [select_item(Item) || {_, Item} <- Pending],
    Tag = aion_flow_ffi:tag(),
    case aion_flow_ffi:nif_run_select(Run, Items, aion_flow_ffi:now_ms(), Tag) of
        {ok, {Position, {ok, _} = StepAnswer}} ->
            {Index, Item} = lists:nth(Position + 1, Pending),
            case aion_flow_ffi:step_answer(Run, Tag, StepAnswer) of
                {done, Result} -> {Index, outcome(Item, Result)};
                again -> next(Run, Pending)
            end;
        {ok, {Position, Step}} ->
            {Index, Item} = lists:nth(Position + 1, Pending),
            case aion_flow_ffi:step_answer(Run, Tag, {ok, Step}) of
                {done, Result} -> {Index, outcome(Item, Result)};
                again -> next(Run, Pending)
            end;
        {error, Reason} ->
            exit({aion_select_failed, Reason})
    end.

%% Every one of `Pending' that has settled, in history order, up to the first failure:
%% `[{Index, Result}]' (empty when what the run needed first was done: ask again).
next_settled(Run, Pending) ->
    Items = [select_item(Item) || {_, Item} <- Pending],
    Indexed = list_to_tuple(Pending),
    Tag = aion_flow_ffi:tag(),
    case aion_flow_ffi:nif_run_select_settled(Run, Items, aion_flow_ffi:now_ms(), Tag) of
        {ok, Answers} ->
            case take_settled(Run, Tag, Indexed, Answers) of
                [] -> next_settled(Run, Pending);
                Batch -> Batch
            end;
        {error, Reason} ->
            exit({aion_select_failed, Reason})
    end.

take_settled(_Run, _Tag, _Indexed, []) ->
    [];
take_settled(Run, Tag, Indexed, [{Position, Step} | More]) ->
    {Index, Item} = element(Position + 1, Indexed),
    case aion_flow_ffi:step_answer(Run, Tag, {ok, Step}) of
        {done, Result} -> [{Index, outcome(Item, Result)} | take_settled(Run, Tag, Indexed, More)];
        again -> []
    end.

select_item({activity, Ordinal}) -> {activity, Ordinal};
select_item({child, Ordinal, _}) -> {child, Ordinal}.

%% Cancels calls that lost (race) or are no longer wanted (all after an error).
cancel_all(Run, Pending) ->
    lists:foreach(fun
        ({_, {activity, Ordinal}}) ->
            Tag = aion_flow_ffi:tag(),
            case aion_flow_ffi:nif_run_cancel_activity(Run, Ordinal, aion_flow_ffi:now_ms(), Tag) of
                {ok, {recording, Stop, _}} ->
                    ok = aion_flow_ffi:wait_durable(Tag),
                    aion_flow_ffi:stop_attempts(Stop);
                _ ->
                    ok
            end;
        ({_, {child, _, Id}}) ->
            _ = spawn(fun() -> aion:cancel(Id, <<"cancelled by its parent">>) end),
            ok
    end, Pending).

