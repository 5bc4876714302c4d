%% The BEAM node the crash test starts as a separate OS process. Phase "start" starts the
%% workflow and stays up (activity B blocks until the test kills the node with kill -9);
%% phase "resume" boots on the same data directory, waits for the workflow and writes what
%% it saw to files the test reads.
-module(aion_crash_node).

-export([main/2, flow/1, activity_a/1, activity_b/1]).

main(Dir, Phase) ->
    ok = file:write_file(filename:join(Dir, "pid." ++ Phase), os:getpid()),
    ok = application:load(aion),
    ok = application:set_env(aion, data_dir, filename:join(Dir, "data")),
    {ok, _} = application:ensure_all_started(aion),
    persistent_term:put({?MODULE, dir}, Dir),
    ok = aion:register_activity(<<"crash_a">>, {?MODULE, activity_a}),
    ok = aion:register_activity(<<"crash_b">>, {?MODULE, activity_b}),
    %% Registering the type resumes its runs found in the store (phase "resume").
    ok = aion:register_workflow(<<"crash_flow">>, {?MODULE, flow}),
    case Phase of
        "start" ->
            {ok, _} = aion:start_workflow(<<"crash_flow">>, #{}, #{workflow_id => <<"crash-1">>}),
            receive never -> ok end;
        "resume" ->
            Result = aion:await(<<"crash-1">>, 30000),
            {ok, History} = aion:history(<<"crash-1">>),
            ok = file:write_file(filename:join(Dir, "result"),
                                 io_lib:format("~p.~n~p.~n", [Result, History])),
            erlang:halt(0)
    end.

flow(_Input) ->
    {ok, A} = aion_flow:activity(<<"crash_a">>, #{}),
    {ok, B} = aion_flow:activity(<<"crash_b">>, #{}),
    {ok, #{<<"a">> => A, <<"b">> => B}}.

activity_a(_) ->
    note("a_runs"),
    {ok, <<"a-done">>}.

activity_b(_) ->
    note("b_runs"),
    Dir = persistent_term:get({?MODULE, dir}),
    case filelib:is_file(filename:join(Dir, "release")) of
        true ->
            {ok, <<"b-done">>};
        false ->
            ok = file:write_file(filename:join(Dir, "b_blocked"), <<>>),
            receive never -> ok end
    end.

note(File) ->
    Dir = persistent_term:get({?MODULE, dir}),
    ok = file:write_file(filename:join(Dir, File), <<"x\n">>, [append, sync]).
