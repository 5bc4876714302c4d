%% The BEAM node the crash tests start as a separate OS process. Phase "start" starts the
%% scenario's workflow, writes `ready' once the workflow is in the state the test wants to
%% crash in, and stays up until the test kills the node with kill -9. Phase "resume" boots
%% on the same data directory, waits for the workflow and writes what it saw to `result'.
%%
%% Scenarios: "activity" (A done, B running), "timer" (sleeping on a 1.5 s timer),
%% "scope" (inside a pending 1 s with_timeout), "cancel" (a cancellation racing B's
%% completion, compensation running), "signal" (one signal consumed, waiting for the
%% next), "child" (parent waiting on a child whose activity runs), "fanout" (all/1 with
%% A done and B running).
-module(aion_crash_node).

-export([main/3, flow/1, child/1, activity_a/1, activity_b/1, block/1, compensate/1]).

main(Dir, Phase, Scenario) ->
    ok = file:write_file(filename:join(Dir, "pid." ++ Phase), os:getpid()),
    ok = application:load(aion),
    ok = application:set_env(aion, data_dir, filename:join(Dir, "data")),
    ok = application:set_env(aion, cancel_grace_ms, 60000),
    {ok, _} = application:ensure_all_started(aion),
    persistent_term:put({?MODULE, dir}, Dir),
    ok = aion:register_activity(<<"crash_a">>, {?MODULE, activity_a}),
    ok = aion:register_activity(<<"crash_b">>, {?MODULE, activity_b}),
    ok = aion:register_activity(<<"crash_comp">>, {?MODULE, compensate}),
    ok = aion:register_activity(<<"crash_block">>, {?MODULE, block}),
    %% Registering the type resumes its runs found in the store (phase "resume").
    ok = aion:register_workflow(<<"crash_child">>, {?MODULE, child}),
    ok = aion:register_workflow(<<"crash_flow">>, {?MODULE, flow}),
    ok = aion:register_workflow(<<"owner_pair">>, {aion_owner_flows, pair}),
    Id = list_to_binary("crash-" ++ Scenario),
    case {Phase, Scenario} of
        {"start", "pairs"} ->
            %% 50 pairs of workflows told to signal each other at the same moment; the
            %% node is killed while the signals fly (every "go" is durable by then).
            _ = [begin
                     {ok, _} = aion:start_workflow(<<"owner_pair">>, #{<<"peer">> => B, <<"me">> => A}, #{workflow_id => A}),
                     {ok, _} = aion:start_workflow(<<"owner_pair">>, #{<<"peer">> => A, <<"me">> => B}, #{workflow_id => B})
                 end || {A, B} <- pairs()],
            Self = self(),
            _ = [spawn(fun() -> Self ! {sent, aion:signal(W, <<"go">>, 1)} end) || W <- members()],
            _ = [receive {sent, ok} -> ok end || _ <- members()],
            ok = file:write_file(filename:join(Dir, "ready"), <<>>),
            receive never -> ok end;
        {"resume", "pairs"} ->
            Results = [{W, aion:await(W, 30000)} || W <- members()],
            Counts = [{W, [T || #{type := T} <- element(2, aion:history(W)),
                                lists:member(T, [<<"SignalReceived">>, <<"SignalSent">>, <<"SignalDelivered">>])]}
                      || W <- members()],
            {ok, History} = aion:history(hd(members())),
            ok = file:write_file(filename:join(Dir, "result"),
                                 io_lib:format("~p.~n~p.~n", [{pairs, Results, Counts}, History])),
            erlang:halt(0);
        _ ->
            single(Phase, Scenario, Id, Dir)
    end.

pairs() ->
    [{<<"pair-", (integer_to_binary(I))/binary, "-a">>, <<"pair-", (integer_to_binary(I))/binary, "-b">>}
     || I <- lists:seq(1, 50)].

members() ->
    lists:append([[A, B] || {A, B} <- pairs()]).

single(Phase, Scenario, Id, Dir) ->
    case Phase of
        "start" ->
            {ok, _} = aion:start_workflow(<<"crash_flow">>, #{<<"scenario">> => list_to_binary(Scenario)},
                                          #{workflow_id => Id}),
            ready(Scenario, Id, Dir),
            ok = file:write_file(filename:join(Dir, "ready"), <<>>),
            receive never -> ok end;
        "resume" ->
            Scenario =:= "signal" andalso (ok = aion:signal(Id, <<"go">>, <<"after-crash">>)),
            Scenario =:= "update" andalso finish_update(Id, Dir),
            Result = aion:await(Id, 30000),
            {ok, History} = aion:history(Id),
            ok = file:write_file(filename:join(Dir, "result"),
                                 io_lib:format("~p.~n~p.~n", [Result, History])),
            erlang:halt(0)
    end.

ready("signal", Id, _Dir) ->
    ok = aion:signal(Id, <<"go">>, <<"before-crash">>),
    wait(fun() -> has_event(Id, <<"SignalReceived">>) andalso waiting(Id) end);
ready("update", Id, Dir) ->
    wait(fun() -> waiting(Id) end),
    _ = spawn(fun() -> aion:update(Id, <<"approve">>, 1, infinity) end),
    wait(fun() -> filelib:is_file(filename:join(Dir, "b_blocked")) end);
ready("fanout", Id, Dir) ->
    wait(fun() -> filelib:is_file(filename:join(Dir, "b_blocked")) andalso has_event(Id, <<"ActivityCompleted">>) end);
ready("timer", Id, _Dir) ->
    wait(fun() -> has_event(Id, <<"TimerStarted">>) end);
ready("cancel", Id, Dir) ->
    wait(fun() -> filelib:is_file(filename:join(Dir, "b_blocked")) end),
    %% Release B and cancel the workflow at the same moment: either may be recorded first.
    persistent_term:get({?MODULE, b_worker}) ! release,
    %% `not_running' when B's completion closed the workflow before the request came.
    Cancel = aion:cancel(Id, <<"race">>),
    true = lists:member(Cancel, [ok, {error, not_running}]),
    %% Crash once compensation runs, or once the race has been decided and closed the run.
    wait(fun() -> has_event(Id, <<"ActivityScheduled">>, 2) orelse closed(Id) end);
ready(_ActivityOrScope, _Id, Dir) ->
    wait(fun() -> filelib:is_file(filename:join(Dir, "b_blocked")) end).

%% After the restart: the update accepted before the crash completes by replay; the query
%% handler set by the replayed code answers; then the workflow is told to finish.
finish_update(Id, Dir) ->
    wait(fun() -> aion:query(Id, <<"approvals">>, null) =:= {ok, 1} end),
    ok = file:write_file(filename:join(Dir, "query_answered"), <<>>),
    ok = aion:signal(Id, <<"finish">>, true).

waiting(Id) ->
    case ets:lookup(aion_runs, Id) of
        [{_, Pid}] -> element(2, process_info(Pid, status)) =:= waiting;
        [] -> false
    end.

closed(Id) ->
    case aion:describe(Id) of
        {ok, #{status := running}} -> false;
        {ok, _} -> true
    end.

has_event(Id, Type) -> has_event(Id, Type, 1).
has_event(Id, Type, N) ->
    {ok, H} = aion:history(Id),
    length([T || #{type := T} <- H, T =:= Type]) >= N.

wait(Fun) ->
    case Fun() of
        true -> ok;
        false -> timer:sleep(10), wait(Fun)
    end.

flow(#{<<"scenario">> := <<"activity">>}) ->
    {ok, A} = aion_flow:activity(<<"crash_a">>, #{}),
    {ok, B} = aion_flow:activity(<<"crash_b">>, #{}),
    {ok, #{<<"a">> => A, <<"b">> => B}};
flow(#{<<"scenario">> := <<"timer">>}) ->
    ok = aion_flow:sleep(1500),
    {ok, A} = aion_flow:activity(<<"crash_a">>, #{}),
    {ok, #{<<"slept">> => true, <<"a">> => A}};
flow(#{<<"scenario">> := <<"scope">>}) ->
    case aion_flow:with_timeout(1000, fun() -> aion_flow:activity(<<"crash_block">>, #{}) end) of
        {error, timeout} -> {ok, <<"timed_out">>};
        {ok, Inner} -> {ok, #{<<"finished">> => element(2, Inner)}}
    end;
flow(#{<<"scenario">> := <<"cancel">>}) ->
    case aion_flow:activity(<<"crash_b">>, #{}) of
        {error, cancelled} ->
            {ok, C} = aion_flow:activity(<<"crash_comp">>, #{}),
            {ok, C};
        {ok, B} ->
            {ok, B}
    end;
flow(#{<<"scenario">> := <<"signal">>}) ->
    {ok, First} = aion_flow:receive_signal(<<"go">>),
    {ok, Second} = aion_flow:receive_signal(<<"go">>),
    {ok, [First, Second]};
flow(#{<<"scenario">> := <<"child">>}) ->
    aion_flow:child(<<"crash_child">>, #{}, #{});
flow(#{<<"scenario">> := <<"update">>}) ->
    flow_update();
flow(#{<<"scenario">> := <<"fanout">>}) ->
    aion_flow:all([{activity, <<"crash_a">>, #{}, #{}}, {activity, <<"crash_b">>, #{}, #{}}]).

flow_update() ->
    put(approvals, 0),
    ok = aion_flow:set_query_handler(<<"approvals">>, fun(_) -> 0 end),
    ok = aion_flow:set_update_handler(<<"approve">>, fun(_) -> ok end, fun(N) ->
        {ok, B} = aion_flow:activity(<<"crash_b">>, #{}),
        Approvals = get(approvals) + N,
        put(approvals, Approvals),
        %% A query handler runs in a process of its own: it closes over the value.
        ok = aion_flow:set_query_handler(<<"approvals">>, fun(_) -> Approvals end),
        B
    end),
    {ok, _} = aion_flow:receive_signal(<<"finish">>),
    {ok, get(approvals)}.

child(_) ->
    aion_flow:activity(<<"crash_b">>, #{}).

activity_a(_) ->
    note("a_runs"),
    {ok, <<"a-done">>}.

%% Blocks on the first node (until released or killed); returns at once after a restart.
activity_b(_) ->
    note("b_runs"),
    Dir = persistent_term:get({?MODULE, dir}),
    case filelib:is_file(filename:join(Dir, "pid.resume")) of
        true ->
            {ok, <<"b-done">>};
        false ->
            persistent_term:put({?MODULE, b_worker}, self()),
            ok = file:write_file(filename:join(Dir, "b_blocked"), <<>>),
            receive release -> {ok, <<"b-done">>} end
    end.

%% Never finishes, on either node: only the with_timeout deadline can end the wait.
block(_) ->
    Dir = persistent_term:get({?MODULE, dir}),
    ok = file:write_file(filename:join(Dir, "b_blocked"), <<>>),
    receive never -> ok end.

compensate(_) ->
    note("comp_runs"),
    Dir = persistent_term:get({?MODULE, dir}),
    case filelib:is_file(filename:join(Dir, "pid.resume")) of
        true -> {ok, <<"compensated">>};
        false -> receive never -> ok end
    end.

note(File) ->
    Dir = persistent_term:get({?MODULE, dir}),
    ok = file:write_file(filename:join(Dir, File), <<"x\n">>, [append, sync]).
