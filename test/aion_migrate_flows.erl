%% Workflows of the schema-migration fixture (`test/fixtures/store_v1'): the fixture was
%% written by aion before schema version 2, with these workflows in every state an
%% upgrade must carry on (waiting for a signal, sleeping on a timer, waiting on a retry,
%% closed, cancelled). `make_fixture/1' is how it was made.
-module(aion_migrate_flows).

-export([register_all/0, make_fixture/1]).
-export([waits_signal/1, sleeps/1, retries/1, done/1, cancelled/1, cancel_activity/1,
         step/1, flaky/1, blocks/1]).

register_all() ->
    ok = aion:register_activity(<<"mig_step">>, {?MODULE, step}),
    ok = aion:register_activity(<<"mig_flaky">>, {?MODULE, flaky}),
    ok = aion:register_activity(<<"mig_blocks">>, {?MODULE, blocks}),
    [ok = aion:register_workflow(T, {?MODULE, F})
     || {T, F} <- [{<<"mig_waits_signal">>, waits_signal}, {<<"mig_sleeps">>, sleeps},
                   {<<"mig_retries">>, retries}, {<<"mig_done">>, done},
                   {<<"mig_cancelled">>, cancelled},
                   {<<"mig_cancel_activity">>, cancel_activity}]],
    ok.

waits_signal(_) ->
    {ok, A} = aion_flow:activity(<<"mig_step">>, 1),
    {ok, P} = aion_flow:receive_signal(<<"go">>),
    {ok, #{<<"a">> => A, <<"signal">> => P}}.

sleeps(#{<<"ms">> := Ms}) ->
    ok = aion_flow:sleep(Ms),
    {ok, A} = aion_flow:activity(<<"mig_step">>, 2),
    {ok, A}.

%% Fails while the node that wrote the fixture runs (persistent_term flag), succeeds after.
retries(_) ->
    {ok, R} = aion_flow:activity(<<"mig_flaky">>, 3,
                                 #{retry => #{max_attempts => 0, initial_interval_ms => 100,
                                              max_interval_ms => 200}}),
    {ok, R}.

done(_) ->
    {ok, A} = aion_flow:activity(<<"mig_step">>, 4),
    {ok, A}.

cancelled(_) ->
    case aion_flow:sleep(3600000) of
        {error, cancelled} -> {ok, <<"compensated">>};
        ok -> {ok, <<"slept">>}
    end.

%% Cancelled while its activity runs: the activity's cancellation is on disk.
cancel_activity(_) ->
    case aion_flow:activity(<<"mig_blocks">>, 5) of
        {error, cancelled} ->
            {ok, C} = aion_flow:activity(<<"mig_step">>, 6),
            {ok, C};
        Other -> {error, aion_flow_ffi:printed(Other)}
    end.

step(N) -> {ok, N * 10}.

blocks(_) ->
    receive {aion_cancel, _, _} -> {error, cancelled} end.

flaky(N) ->
    case persistent_term:get({?MODULE, failing}, false) of
        true -> {error, busy};
        false -> {ok, N * 100}
    end.

%% Writes the fixture store into `Dir' with the running code (run once, by hand).
make_fixture(Dir) ->
    ok = application:load(aion),
    ok = application:set_env(aion, data_dir, Dir),
    {ok, _} = application:ensure_all_started(aion),
    persistent_term:put({?MODULE, failing}, true),
    ok = register_all(),
    {ok, _} = aion:start_workflow(<<"mig_done">>, null, #{workflow_id => <<"mig-done">>}),
    {ok, 40} = aion:await(<<"mig-done">>, 5000),
    {ok, _} = aion:start_workflow(<<"mig_cancelled">>, null, #{workflow_id => <<"mig-cancelled">>}),
    timer:sleep(200),
    ok = aion:cancel(<<"mig-cancelled">>, <<"by the fixture">>),
    {error, {cancelled, _}} = aion:await(<<"mig-cancelled">>, 5000),
    {ok, _} = aion:start_workflow(<<"mig_cancel_activity">>, null, #{workflow_id => <<"mig-cancel-activity">>}),
    timer:sleep(200),
    ok = aion:cancel(<<"mig-cancel-activity">>),
    {error, {cancelled, #{<<"ok">> := 60}}} = aion:await(<<"mig-cancel-activity">>, 5000),
    {ok, _} = aion:start_workflow(<<"mig_waits_signal">>, null, #{workflow_id => <<"mig-signal">>}),
    {ok, _} = aion:start_workflow(<<"mig_sleeps">>, #{<<"ms">> => 1000}, #{workflow_id => <<"mig-sleeps">>}),
    {ok, _} = aion:start_workflow(<<"mig_retries">>, null, #{workflow_id => <<"mig-retries">>}),
    timer:sleep(500),
    ok = application:stop(aion).
