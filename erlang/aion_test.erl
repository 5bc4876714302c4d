%% @doc The test harness: run workflows in-process on the in-memory store with a virtual
%% clock, mock activities, drive them (signals, queries, updates, cancellation, time) and
%% check their histories replay.
%%
%% ```
%% Env = aion_test:new(),
%% ok = aion_test:mock_activity(Env, <<"charge">>, {sequence, [{error, busy}, {error, busy}, {ok, 42}]}),
%% {ok, Id} = aion_test:start(Env, {orders, order}, #{<<"id">> => 1}),
%% {ok, Result} = aion_test:result(Env, Id),      % skips virtual time while only timers wait
%% [{activity, <<"charge">>, _} | _] = aion_test:calls(Env, Id),
%% ok = aion_test:assert_replay(Env, Id),
%% aion_test:stop(Env).
%% '''
%%
%% The harness owns the node's aion application while it runs (it restarts it on the
%% in-memory store) and its clock: every workflow of the node sees virtual time.
-module(aion_test).

-export([new/0]).
-export([stop/1]).
-export([mock_activity/3]).
-export([register_activity/3]).
-export([start/3]).
-export([start/4]).
-export([advance/2]).
-export([now/1]).
-export([signal/4]).
-export([query/4]).
-export([update/4]).
-export([cancel/2]).
-export([result/2]).
-export([calls/2]).
-export([assert_replay/2]).

-opaque env() :: #{clock := pid(), workflows := ets:tid()}.
-type mock() :: fun((term()) -> {ok, term()} | {error, term()})
              | {result, {ok, term()} | {error, term()}}
              | {sequence, [{ok, term()} | {error, term()}]}.
-type call() :: {activity, binary(), term()} | {timer, binary(), integer()}
              | {timer_cancelled, pos_integer()} | {side_effect, term()} | {patched, binary()}
              | {child, binary(), term()} | {signal, binary(), binary(), term()}
              | {update_completed, binary()} | {continue_as_new, term()} | {close, binary()}.
-export_type([env/0, mock/0, call/0]).

%% How long (wall time) the harness waits for the node to settle before it gives up.
-define(SETTLE_MS, 10000).

%% @doc A fresh environment: aion restarted on the in-memory store, a virtual clock that
%% starts at the current wall-clock time and moves only with `advance/2' and `result/2'.
-spec new() -> env().
new() ->
    _ = application:stop(aion),
    _ = application:load(aion),
    ok = application:set_env(aion, store, memory),
    {ok, Clock} = aion_test_clock:start(erlang:system_time(millisecond)),
    {ok, _} = application:ensure_all_started(aion),
    #{clock => Clock, workflows => ets:new(aion_test_workflows, [public, set])}.

%% @doc Stops the application and puts the wall clock back.
-spec stop(env()) -> ok.
stop(#{clock := Clock, workflows := Workflows}) ->
    _ = application:stop(aion),
    ok = application:unset_env(aion, store),
    ets:delete(Workflows),
    aion_test_clock:stop(Clock).

%% @doc Replaces activity `Name' with a mock: a fun of the input, a fixed result
%% (`{result, {ok, R}}'), or a sequence of results, one per call, the last repeating
%% (`{sequence, [{error, down}, {error, down}, {ok, R}]}'). Errors are retried as the
%% workflow's retry policy says (retry delays run on virtual time).
-spec mock_activity(env(), binary(), mock()) -> ok | {error, {bad_mock, term()}}.
mock_activity(_Env, Name, Fun) when is_binary(Name), is_function(Fun, 1) ->
    aion_engine:register(activity, Name, {fn, Fun});
mock_activity(_Env, Name, {result, Result}) when is_binary(Name) ->
    aion_engine:register(activity, Name, {fn, fun(_) -> Result end});
mock_activity(_Env, Name, {sequence, [_ | _] = Results}) when is_binary(Name) ->
    Counter = counters:new(1, []),
    Next = fun(_) ->
        counters:add(Counter, 1, 1),
        lists:nth(min(counters:get(Counter, 1), length(Results)), Results)
    end,
    aion_engine:register(activity, Name, {fn, Next});
mock_activity(_Env, _Name, Mock) ->
    {error, {bad_mock, Mock}}.

%% @doc Runs activity `Name' for real: `Module:Function(Input)'.
-spec register_activity(env(), binary(), {module(), atom()}) -> ok | {error, term()}.
register_activity(_Env, Name, MF) ->
    aion:register_activity(Name, MF).

%% @doc Starts workflow `{Module, Function}' with `Input' (registered under the type
%% `<<"Module:Function">>').
-spec start(env(), {module(), atom()}, term()) -> {ok, binary()} | {error, term()}.
start(Env, MF, Input) ->
    start(Env, MF, Input, #{}).

%% @doc As `start/3' with `aion:start_workflow/3' options.
-spec start(env(), {module(), atom()}, term(), map()) -> {ok, binary()} | {error, term()}.
start(#{workflows := Workflows}, {M, F} = MF, Input, Opts) ->
    Type = iolist_to_binary([atom_to_binary(M), ":", atom_to_binary(F)]),
    case aion:register_workflow(Type, MF) of
        ok ->
            case aion:start_workflow(Type, Input, Opts) of
                {ok, Id} ->
                    ets:insert(Workflows, {Id, MF}),
                    settle(),
                    {ok, Id};
                Error ->
                    Error
            end;
        Error ->
            Error
    end.

%% @doc Moves virtual time forward by `Ms', firing the timers due, and waits for the
%% workflows to settle.
-spec advance(env(), non_neg_integer()) -> ok.
advance(#{clock := Clock}, Ms) when is_integer(Ms), Ms >= 0 ->
    settle(),
    ok = aion_test_clock:advance_to(Clock, aion_clock:now_ms() + Ms),
    settle().

%% @doc Virtual time now, Unix ms.
-spec now(env()) -> integer().
now(_Env) ->
    aion_clock:now_ms().

%% @doc `aion:signal/3', then waits for the workflow to settle.
-spec signal(env(), binary(), binary(), term()) -> ok | {error, term()}.
signal(_Env, Id, Name, Payload) ->
    settled(aion:signal(Id, Name, Payload)).

%% @doc `aion:query/3' once the workflow has settled.
-spec query(env(), binary(), binary(), term()) -> {ok, term()} | {error, term()}.
query(_Env, Id, Name, Args) ->
    settle(),
    aion:query(Id, Name, Args).

%% @doc `aion:update/4' once the workflow has settled; waits for it to settle again.
-spec update(env(), binary(), binary(), term()) -> {ok, term()} | {error, term()}.
update(_Env, Id, Name, Args) ->
    settle(),
    settled(aion:update(Id, Name, Args, ?SETTLE_MS)).

%% @doc `aion:cancel/1', then waits for the workflow to settle.
-spec cancel(env(), binary()) -> ok | {error, term()}.
cancel(_Env, Id) ->
    settle(),
    settled(aion:cancel(Id)).

%% @doc The workflow's outcome as `aion:await/2' gives it. While the workflow waits only
%% on timers, virtual time skips to the next one; `running' when it waits on something
%% that time cannot bring (a signal, say).
-spec result(env(), binary()) -> {ok, term()} | {error, term()} | running.
result(#{clock := Clock} = Env, Id) ->
    settle(),
    case aion:await(Id, 0) of
        {error, timeout} ->
            case aion_test_clock:next_wake(Clock) of
                {ok, At} ->
                    ok = aion_test_clock:advance_to(Clock, At),
                    settle(),
                    result(Env, Id);
                none ->
                    running
            end;
        Outcome ->
            Outcome
    end.

%% @doc The commands the workflow issued, in order, read from its history: activities
%% (`{activity, Name, Input}'), timers (`{timer, Name, Ms}'), `{timer_cancelled, Id}',
%% `{side_effect, Value}', `{patched, ChangeId}', `{child, Type, Input}',
%% `{signal, Target, Name, Payload}', `{update_completed, UpdateId}',
%% `{continue_as_new, Input}' and the closing `{close, EventType}'.
-spec calls(env(), binary()) -> [call()].
calls(_Env, Id) ->
    {ok, History} = aion:history(Id),
    lists:filtermap(fun call_of/1, History).

call_of(#{type := <<"ActivityScheduled">>, name := N, input := I}) -> {true, {activity, N, I}};
call_of(#{type := <<"TimerStarted">>, scope := true}) -> false;
call_of(#{type := <<"TimerStarted">>, name := N, fire_at := At, recorded_at := R}) -> {true, {timer, N, At - R}};
call_of(#{type := <<"TimerCancelled">>, cause := <<"workflow">>, timer_id := T}) -> {true, {timer_cancelled, T}};
call_of(#{type := <<"SideEffectRecorded">>, value := V}) -> {true, {side_effect, V}};
call_of(#{type := <<"MarkerRecorded">>, change_id := C}) -> {true, {patched, C}};
call_of(#{type := <<"ChildStarted">>, workflow_type := T, input := I}) -> {true, {child, T, I}};
call_of(#{type := <<"SignalSent">>, target := T, name := N, payload := P}) -> {true, {signal, T, N, P}};
call_of(#{type := <<"UpdateCompleted">>, update_id := U}) -> {true, {update_completed, U}};
call_of(#{type := <<"WorkflowContinuedAsNew">>, input := I}) -> {true, {continue_as_new, I}};
call_of(#{type := T}) when T =:= <<"WorkflowCompleted">>; T =:= <<"WorkflowFailed">>;
                          T =:= <<"WorkflowCancelled">> -> {true, {close, T}};
call_of(_) -> false.

%% @doc Replays the workflow's recorded history against its code (as `aion_replay:check/2'
%% does for deploys): `ok', or `{error, Report}' naming the first divergence.
-spec assert_replay(env(), binary()) -> ok | {error, aion_replay:report()}.
assert_replay(#{workflows := Workflows}, Id) ->
    settle(),
    case ets:lookup(Workflows, Id) of
        [{_, MF}] -> aion_replay:check(Id, MF);
        [] -> {error, #{message => <<"not started by this environment">>}}
    end.

settled(Result) ->
    settle(),
    Result.

%% Waits until every workflow process waits for a wake with an empty mailbox and no
%% activity attempt runs: nothing will happen until time moves or a message comes.
settle() ->
    settle(erlang:monotonic_time(millisecond) + ?SETTLE_MS, 0).

settle(Deadline, Calm) when Calm >= 3 ->
    %% Each run looks idle. A message sent to one (an attempt's result: the worker sends it,
    %% then exits) may not show in its queue yet when another process looks: make every run
    %% take a system message — it takes what came before it first — and look again.
    Runs = [Pid || {_, Pid, _, _} <- supervisor:which_children(aion_workflow_sup), is_pid(Pid)],
    _ = [catch sys:get_state(Pid, 1000) || Pid <- Runs],
    case quiet() of
        true -> ok;
        false -> settle(Deadline, 0)
    end;
settle(Deadline, Calm) ->
    case quiet() of
        true ->
            %% Look again a moment later: a message may be on its way between two processes.
            timer:sleep(1),
            settle(Deadline, Calm + 1);
        false ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> erlang:error({aion_test, workflows_did_not_settle});
                false -> timer:sleep(1), settle(Deadline, 0)
            end
    end.

quiet() ->
    Runs = [Pid || {_, Pid, _, _} <- supervisor:which_children(aion_workflow_sup), is_pid(Pid)],
    aion_activity_pool:busy() =:= 0 andalso idle(whereis(aion_activity_pool))
        andalso lists:all(fun waiting_for_wake/1, Runs).

%% A gen_server with nothing to do (an attempt submitted to the pool is in its mailbox).
idle(Pid) ->
    case erlang:process_info(Pid, [message_queue_len, status]) of
        [{message_queue_len, 0}, {status, waiting}] -> true;
        _ -> false
    end.

waiting_for_wake(Pid) ->
    case erlang:process_info(Pid, [current_function, message_queue_len]) of
        [{current_function, {aion_flow_ffi, wake, 2}}, {message_queue_len, 0}] -> true;
        undefined -> true;
        _ -> false
    end.
