%% Review of issue 9 ("one durable point per step"): races around pending events and
%% starts in flight. Each test not named `holds_*' failed on the reviewed code (its comment
%% says how) and passes since the fix; `holds_*' tests check claims that held.
-module(aion_review_tests).

-include_lib("eunit/include/eunit.hrl").

-export([quick/1, slow/1, slow_then_signal/1, act_then_close/1, act_signal/1,
         cas_at_once/1, parent_pending/1, count/1]).

-import(aion_test_support, [wait_until/2, key/0]).

%% Workflows and activities under test.

quick(Input) ->
    {ok, Input}.

%% Computes `Ms' before its first append (its close).
slow(Ms) ->
    timer:sleep(Ms),
    {ok, done}.

%% Computes `Ms', then waits for signal `s' and returns it.
slow_then_signal(Ms) ->
    timer:sleep(Ms),
    aion_flow:receive_signal(<<"s">>, 10000).

%% One activity that may run once only; its result is the workflow's.
act_then_close(#{<<"id">> := Id, <<"key">> := K}) ->
    aion_flow:activity(<<"rv_act_signal">>, #{<<"id">> => Id, <<"key">> => K},
                       #{retry => #{max_attempts => 1}}).

%% Counts its calls, and has a signal sent to its workflow while it returns (a client
%% signalling at about the time the workflow closes).
act_signal(#{<<"id">> := Id, <<"key">> := K}) ->
    N = ets:update_counter(aion_test_calls, {rv_act, K}, 1, {{rv_act, K}, 0}),
    spawn(fun() -> aion:signal(Id, <<"late">>, N) end),
    {ok, N}.

count(#{<<"key">> := K}) ->
    {ok, ets:update_counter(aion_test_calls, {rv_count, K}, 1, {{rv_count, K}, 0})}.

%% Continues as new before any command (its `WorkflowStarted' is still pending then).
cas_at_once(0) -> {ok, finished};
cas_at_once(N) -> aion_flow:continue_as_new(N - 1).

%% A parent whose activity result is pending when it starts a child.
parent_pending(#{<<"key">> := K}) ->
    {ok, 1} = aion_flow:activity(<<"rv_count">>, #{<<"key">> => K}),
    {ok, Child} = aion_flow:start_child(<<"rv_quick">>, K, #{}),
    aion_flow:await_child(Child).

setup() ->
    Dir = aion_test_support:start(sqlite),
    ok = aion:register_activity(<<"rv_act_signal">>, {?MODULE, act_signal}),
    ok = aion:register_activity(<<"rv_count">>, {?MODULE, count}),
    ok = aion:register_workflow(<<"rv_quick">>, {?MODULE, quick}),
    ok = aion:register_workflow(<<"rv_slow">>, {?MODULE, slow}),
    ok = aion:register_workflow(<<"rv_slow_then_signal">>, {?MODULE, slow_then_signal}),
    ok = aion:register_workflow(<<"rv_act_then_close">>, {?MODULE, act_then_close}),
    ok = aion:register_workflow(<<"rv_cas_at_once">>, {?MODULE, cas_at_once}),
    ok = aion:register_workflow(<<"rv_parent_pending">>, {?MODULE, parent_pending}),
    Dir.

review_test_() ->
    {setup, fun setup/0, fun aion_test_support:stop/1,
     [{timeout, 60, T} || T <- [fun await_of_a_closed_workflow_answers_during_a_refused_duplicate_start/0,
                                fun second_start_during_a_start_in_flight_waits_for_it/0,
                                fun signal_with_start_during_a_start_in_flight_signals_it/0,
                                fun a_signal_at_close_never_loses_a_pending_result/0,
                                fun a_start_answered_timeout_never_appears/0,
                                fun holds_continue_as_new_before_any_command/0,
                                fun holds_child_started_while_the_parents_result_is_pending/0]]}.

%% A closed workflow is started again under its id with code that computes before its
%% first append: the new process claims the id (nobody owns a closed run), so `await/2'
%% believes the run is live and waits for `aion_done' — which never comes: the refused
%% process exits with `aion_start_refused' and tells no waiter. The workflow completed
%% long ago; await must answer at once.
await_of_a_closed_workflow_answers_during_a_refused_duplicate_start() ->
    Id = <<"rv-await-", (key())/binary>>,
    {ok, Id} = aion:start_workflow(<<"rv_quick">>, 1, #{workflow_id => Id}),
    ?assertEqual({ok, 1}, aion:await(Id, 5000)),
    Self = self(),
    spawn(fun() -> Self ! {dup, aion:start_workflow(<<"rv_slow">>, 1500, #{workflow_id => Id})} end),
    timer:sleep(200),
    ?assertEqual({ok, 1}, aion:await(Id, 1000)),
    receive {dup, Dup} -> ?assertEqual({error, {already_exists, Id}}, Dup) after 10000 -> ok end,
    ?assertEqual({ok, 1}, aion:await(Id, 1000)).

%% While a first start is in flight (its code computing before its first append), a
%% second start of the same id waits for it to be answered, then answers as the store
%% has it: `already_started' while that workflow runs (here it waits for a signal after
%% its first append), `already_exists' once it has closed (found by review: the second
%% start answered `already_exists' while the first was still in flight).
second_start_during_a_start_in_flight_waits_for_it() ->
    Id = <<"rv-dup-", (key())/binary>>,
    Self = self(),
    spawn(fun() -> Self ! {first, aion:start_workflow(<<"rv_slow_then_signal">>, 500, #{workflow_id => Id})} end),
    timer:sleep(100),
    Second = aion:start_workflow(<<"rv_quick">>, 2, #{workflow_id => Id}),
    receive {first, First} -> ?assertEqual({ok, Id}, First) after 10000 -> ?assert(false) end,
    ?assertEqual({error, {already_started, Id}}, Second),
    ok = aion:signal(Id, <<"s">>, 1),
    ?assertEqual({ok, 1}, aion:await(Id, 5000)),
    ?assertEqual({error, {already_exists, Id}}, aion:start_workflow(<<"rv_quick">>, 2, #{workflow_id => Id})).

%% `signal_with_start/5' while a start of the id is in flight: it must signal the workflow
%% being started; it answers `{error, {already_exists, Id}}' and the signal is dropped, so
%% the workflow (waiting for it) never gets it.
signal_with_start_during_a_start_in_flight_signals_it() ->
    Id = <<"rv-sws-", (key())/binary>>,
    Self = self(),
    spawn(fun() -> Self ! {first, aion:start_workflow(<<"rv_slow_then_signal">>, 500, #{workflow_id => Id})} end),
    timer:sleep(100),
    SWS = aion:signal_with_start(<<"rv_slow_then_signal">>, 0, <<"s">>, hello, #{workflow_id => Id}),
    receive {first, _} -> ok after 10000 -> ok end,
    ?assertEqual({ok, Id}, SWS),
    ?assertEqual({ok, <<"hello">>}, aion:await(Id, 15000)).

%% An activity (max_attempts 1) completes once; its result waits in the run's pending
%% append while the code returns. A signal pushed just before is durable but the run's
%% in-memory inbox map learns of it only after its commit, so the run skips reading its
%% inbox and submits pending result + close; the store refuses the close
%% (`inbox_pending'), the whole append — result included — is dropped, and the replay
%% finds the attempt lost: `worker_lost' with no retry left, so the workflow FAILS (or, with
%% retries, the activity runs twice) although nothing crashed.
a_signal_at_close_never_loses_a_pending_result() ->
    Ids = [begin
               K = key(),
               Id = <<"rv-close-", K/binary>>,
               {ok, Id} = aion:start_workflow(<<"rv_act_then_close">>,
                                              #{<<"id">> => Id, <<"key">> => K},
                                              #{workflow_id => Id}),
               {Id, K}
           end || _ <- lists:seq(1, 150)],
    Results = [{Id, aion:await(Id, 20000),
                element(2, hd(ets:lookup(aion_test_calls, {rv_act, K}) ++ [{x, 0}]))}
               || {Id, K} <- Ids],
    Bad = [{Id, Calls, [maps:get(<<"type">>, E) || #{error := E} <- aion_test_support:events(Id, <<"ActivityFailed">>)]}
           || {Id, Out, Calls} <- Results, Out =/= {ok, 1} orelse Calls =/= 1],
    ?assertEqual({0, []}, {length(Bad), lists:sublist(Bad, 3)}).

%% The code computes about `start_timeout_ms', then makes its first append. The starter
%% kills the process when the time is up and asks the store; an append already handed to
%% the writer is still committed after that read, so the start was answered `timeout'
%% and yet the workflow exists (the engine then replays it, as a run killed from outside).
a_start_answered_timeout_never_appears() ->
    ok = application:set_env(aion, start_timeout_ms, 100),
    Outcomes = try
        [begin
             Id = <<"rv-to-", (key())/binary>>,
             {Id, Ms, aion:start_workflow(<<"rv_slow">>, Ms, #{workflow_id => Id})}
         end || _ <- lists:seq(1, 10), Ms <- [97, 98, 99, 100, 101]]
    after
        application:unset_env(aion, start_timeout_ms)
    end,
    timer:sleep(1000),
    Appeared = [{Id, Ms, maps:get(status, D)} || {Id, Ms, {error, timeout}} <- Outcomes,
                                                 {ok, D} <- [aion:describe(Id)]],
    ?assertEqual([], Appeared).

%% Holds: a new workflow that continues as new before any command: its start rides with
%% the continue-as-new append; the chain ends, the first run's history is intact.
holds_continue_as_new_before_any_command() ->
    Id = <<"rv-cas-", (key())/binary>>,
    ?assertEqual({ok, Id}, aion:start_workflow(<<"rv_cas_at_once">>, 3, #{workflow_id => Id})),
    ?assertEqual({ok, <<"finished">>}, aion:await(Id, 10000)).

%% Holds: a parent's pending activity result is durable before its child is started
%% (ChildStarted's append carries it), and the child's close reaches it.
holds_child_started_while_the_parents_result_is_pending() ->
    K = key(),
    {ok, Id} = aion:start_workflow(<<"rv_parent_pending">>, #{<<"key">> => K}, #{}),
    ?assertEqual({ok, K}, aion:await(Id, 10000)),
    Types = aion_test_support:types(Id),
    ?assert(index(<<"ActivityCompleted">>, Types) < index(<<"ChildStarted">>, Types)),
    ?assertEqual([{{rv_count, K}, 1}], ets:lookup(aion_test_calls, {rv_count, K})).

index(X, L) -> length(lists:takewhile(fun(Y) -> Y =/= X end, L)) + 1.
