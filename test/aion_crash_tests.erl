%% kill -9 of the BEAM OS process in the middle of a workflow: a fresh node on the same data
%% directory finishes the workflow without running the completed activity again.
-module(aion_crash_tests).

-include_lib("eunit/include/eunit.hrl").

kill_9_mid_activity_then_restart_completes_without_rerunning_test_() ->
    {timeout, 120, fun kill_9_mid_activity_then_restart_completes_without_rerunning/0}.

kill_9_mid_activity_then_restart_completes_without_rerunning() ->
    Dir = aion_test_support:tmp_dir("aion_crash"),
    First = start_node(Dir, "start"),
    ok = wait_for_file(First, filename:join(Dir, "b_blocked"), 30000),
    {ok, Pid} = file:read_file(filename:join(Dir, "pid.start")),
    [] = os:cmd("kill -9 " ++ binary_to_list(Pid)),
    ?assertEqual(137, wait_exit(First, 30000)),
    ok = file:write_file(filename:join(Dir, "release"), <<>>),
    Second = start_node(Dir, "resume"),
    ?assertEqual(0, wait_exit(Second, 60000)),
    {ok, [Result, History]} = file:consult(filename:join(Dir, "result")),
    ?assertEqual({ok, #{<<"a">> => <<"a-done">>, <<"b">> => <<"b-done">>}}, Result),
    %% A ran once; B ran twice (the attempt killed with the node, then the retry).
    ?assertEqual({ok, <<"x\n">>}, file:read_file(filename:join(Dir, "a_runs"))),
    ?assertEqual({ok, <<"x\nx\n">>}, file:read_file(filename:join(Dir, "b_runs"))),
    Seqs = [S || #{seq := S} <- History],
    ?assertEqual(lists:seq(1, length(History)), Seqs),
    ?assertEqual([1, 2], [O || #{type := <<"ActivityScheduled">>, ordinal := O} <- History]),
    ?assertEqual([{1, 1}, {2, 2}],
                 [{O, A} || #{type := <<"ActivityCompleted">>, ordinal := O, attempt := A} <- History]),
    ?assertMatch([#{ordinal := 2, attempt := 1, error := #{<<"type">> := <<"worker_lost">>}}],
                 [E || E = #{type := <<"ActivityFailed">>} <- History]),
    ?assertEqual(1, length([T || #{type := T = <<"WorkflowCompleted">>} <- History])).

%% Waits for `File' while the node runs; a node that dies first fails the test with its output.
wait_for_file(_Port, File, Left) when Left =< 0 ->
    erlang:error({timeout_waiting_for, File});
wait_for_file(Port, File, Left) ->
    case filelib:is_file(File) of
        true -> ok;
        false ->
            receive
                {Port, {data, Out}} -> io:format(user, "~s", [Out]), wait_for_file(Port, File, Left);
                {Port, {exit_status, Status}} -> erlang:error({node_exited, Status})
            after 50 -> wait_for_file(Port, File, Left - 50)
            end
    end.

start_node(Dir, Phase) ->
    Erl = os:find_executable("erl"),
    Paths = lists:usort([filename:dirname(code:which(M))
                         || M <- [aion, aion_crash_node, aion_test_support]]),
    Eval = lists:flatten(io_lib:format("aion_crash_node:main(~p, ~p)", [Dir, Phase])),
    Args = ["-noshell"] ++ lists:append([["-pa", P] || P <- Paths]) ++ ["-eval", Eval],
    open_port({spawn_executable, Erl}, [{args, Args}, exit_status, stderr_to_stdout, binary]).

wait_exit(Port, Timeout) ->
    receive
        {Port, {data, Out}} ->
            io:format(user, "~s", [Out]),
            wait_exit(Port, Timeout);
        {Port, {exit_status, Status}} ->
            Status
    after Timeout ->
        erlang:error(node_did_not_exit)
    end.
