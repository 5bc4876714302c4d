%% The BEAM node the schedule restart test starts as a separate OS process. Phase "start"
%% creates a schedule every 400 ms, writes `ready' once it has started three workflows,
%% and stays up until the test kills it with kill -9. Phase "resume" boots on the same data
%% directory (the schedule resumes with it), lets it run for two seconds, pauses it and
%% writes what it saw to `result'.
-module(aion_schedule_node).

-export([main/2, tick/1]).

tick(Input) ->
    {ok, Input}.

main(Dir, Phase) ->
    ok = file:write_file(filename:join(Dir, "pid." ++ Phase), os:getpid()),
    ok = application:load(aion),
    ok = application:set_env(aion, data_dir, filename:join(Dir, "data")),
    {ok, _} = application:ensure_all_started(aion),
    ok = aion:register_workflow(<<"tick">>, {?MODULE, tick}),
    case Phase of
        "start" ->
            ok = aion:create_schedule(<<"every">>, #{workflow => <<"tick">>, every_ms => 400,
                                                     overlap => allow_all, catchup_window_ms => 1000}),
            wait_for(fun() -> length(ticks()) >= 3 end),
            ok = file:write_file(filename:join(Dir, "ready"), <<>>),
            receive never -> ok end;
        "resume" ->
            Booted = erlang:system_time(millisecond),
            timer:sleep(2000),
            ok = aion:pause_schedule(<<"every">>),
            {ok, Info} = aion:describe_schedule(<<"every">>),
            ok = file:write_file(filename:join(Dir, "result"),
                                 io_lib:format("~p.~n", [#{booted => Booted, info => Info, ticks => ticks()}])),
            erlang:halt(0)
    end.

ticks() ->
    {ok, Runs} = aion:list(#{type => <<"tick">>}),
    [Id || #{workflow_id := Id} <- Runs].

wait_for(Fun) ->
    case Fun() of
        true -> ok;
        false -> timer:sleep(50), wait_for(Fun)
    end.
