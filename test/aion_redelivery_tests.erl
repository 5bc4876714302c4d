%% A signal sent by a workflow is delivered under a signal id, and delivered again when the
%% sender crashed before it recorded the first delivery's result. When the target took it
%% and closed in between, the redelivery is `ok' (it was delivered), not `not_running'
%% (which the sender would record, and its code would take as a failure).
-module(aion_redelivery_tests).

-include_lib("eunit/include/eunit.hrl").

redelivery_to_a_closed_target_test() ->
    Dir = aion_test_support:start(),
    try
        ok = aion:register_workflow(<<"redeliver_waiter">>, {aion_owner_flows, waiter}),
        {ok, Id} = aion:start_workflow(<<"redeliver_waiter">>, null, #{}),
        ok = aion:deliver_signal(Id, <<"go">>, <<"1">>, <<"sender/run/signal-1">>),
        ?assertEqual({ok, 1}, aion:await(Id, 5000)),
        %% The same signal again: the target has it.
        ?assertEqual(ok, aion:deliver_signal(Id, <<"go">>, <<"1">>, <<"sender/run/signal-1">>)),
        %% Another one, or one without an id: the target is closed.
        ?assertEqual({error, not_running}, aion:deliver_signal(Id, <<"go">>, <<"1">>, <<"sender/run/signal-2">>)),
        ?assertEqual({error, not_running}, aion:deliver_signal(Id, <<"go">>, <<"1">>, null)),
        ?assertEqual({error, not_found}, aion:deliver_signal(<<"nobody">>, <<"go">>, <<"1">>, <<"x">>))
    after
        aion_test_support:stop(Dir)
    end.
