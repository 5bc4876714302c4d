%% The `aion' command: the escript (`_build/default/bin/aion', built by `rebar3 escriptize'
%% when missing or older than the sources) run as an OS process against this VM made a
%% distributed node running aion, against the data directory of a stopped aion
%% (read-only), and as the offline replayer. What each command did is checked through the
%% aion API; output is read as JSON (`--json') or looked at as a person would.
-module(aion_cli_tests).

-include_lib("eunit/include/eunit.hrl").

-import(aion_test_support, [key/0, events/2, wait_until/2]).

-define(T(F), {atom_to_list(F), {timeout, 120, fun() -> F(Ctx) end}}).

cli_test_() ->
    {setup, fun setup/0, fun cleanup/1,
     fun(Ctx) ->
         [?T(help_and_bad_arguments),
          ?T(list_shows_runs_as_a_table_and_as_json_with_filters),
          ?T(list_pages_with_limit_and_cursor),
          ?T(describe_a_known_and_an_unknown_id),
          ?T(history_lists_the_events),
          ?T(start_and_signal_and_query),
          ?T(update_runs_the_handler_and_rejects),
          ?T(cancel_and_terminate),
          ?T(export_writes_the_history_that_replay_checks),
          ?T(schedules_are_created_listed_and_steered)]
     end}.

read_only_test_() ->
    {setup, fun read_only_setup/0, fun(_) -> ok end,
     fun(Ctx) -> [?T(data_dir_is_read_only)] end}.

%% Set-up.

setup() ->
    Escript = escript(),
    Started = distributed(),
    _ = aion_test_support:start(),
    ok = aion_comm_flows:register_all(),
    ok = aion:register_workflow(<<"sleeper">>, {aion_time_flows, sleeper}),
    #{escript => Escript, started_distribution => Started,
      target => ["--node", atom_to_list(node()), "--cookie", atom_to_list(erlang:get_cookie())]}.

cleanup(#{started_distribution := Started}) ->
    ok = aion_test_support:stop(undefined),
    Started andalso net_kernel:stop(),
    ok.

%% The escript, built first when missing or older than aion's sources (`make test' builds
%% it before the suites run, so this is for `rebar3 eunit' alone).
escript() ->
    Root = root(),
    Escript = filename:join(Root, "_build/default/bin/aion"),
    Sources = filelib:wildcard(filename:join(Root, "erlang/*.{erl,src}")) ++ [filename:join(Root, "rebar.config")],
    Newest = lists:max([filelib:last_modified(S) || S <- Sources]),
    case filelib:last_modified(Escript) of
        Built when Built =/= 0, Built >= Newest ->
            ok;
        _ ->
            Out = os:cmd("cd '" ++ Root ++ "' && rebar3 escriptize 2>&1; echo \"exit=$?\""),
            ?assertMatch({match, _}, re:run(Out, "exit=0\n$"), Out)
    end,
    Escript.

%% The project: `_build/test/lib/aion' is the aion this suite runs.
root() ->
    Root = filename:dirname(filename:dirname(filename:dirname(filename:dirname(code:lib_dir(aion))))),
    true = filelib:is_regular(filename:join(Root, "rebar.config")),
    Root.

%% Makes this VM a node with short names, unless it is one already (returns whether it
%% started distribution).
distributed() ->
    case node() of
        nonode@nohost ->
            _ = os:cmd("epmd -daemon"),
            Name = list_to_atom("aion_cli_test_" ++ os:getpid()),
            ok = start_distribution(Name, 50),
            erlang:set_cookie(node(), list_to_atom("cli_" ++ binary_to_list(key()))),
            true;
        _ ->
            false
    end.

%% epmd may take a moment to listen after `epmd -daemon' returns.
start_distribution(Name, Tries) ->
    case net_kernel:start([Name, shortnames]) of
        {ok, _} -> ok;
        {error, _} when Tries > 0 -> timer:sleep(100), start_distribution(Name, Tries - 1);
        {error, Reason} -> erlang:error({net_kernel_start, Reason})
    end.

%% Running the escript.

%% `aion Args...' against this node: `{ExitStatus, Stdout, Stderr}'.
aion(#{target := Target} = Ctx, Args) ->
    run(Ctx, Target ++ Args).

%% `aion Args...' as given (no node added; AION_NODE and AION_COOKIE unset).
run(#{escript := Escript}, Args) ->
    ErrFile = filename:join(aion_test_support:tmp_dir("aion_cli"), "stderr"),
    Port = open_port({spawn_executable, "/bin/sh"},
                     [{args, ["-c", "exec \"$0\" \"$@\" 2>\"$AION_CLI_TEST_STDERR\"", Escript | Args]},
                      {env, [{"AION_CLI_TEST_STDERR", ErrFile}, {"AION_NODE", false}, {"AION_COOKIE", false},
                             {"AION_LIB", false}]},
                      exit_status, binary, stream, use_stdio, hide]),
    {Status, Out} = collect(Port, []),
    {ok, Err} = file:read_file(ErrFile),
    {Status, Out, Err}.

collect(Port, Acc) ->
    receive
        {Port, {data, Data}} -> collect(Port, [Data | Acc]);
        {Port, {exit_status, Status}} -> {Status, iolist_to_binary(lists:reverse(Acc))}
    after 60000 ->
        erlang:error({escript_timeout, iolist_to_binary(lists:reverse(Acc))})
    end.

%% `aion Args... --json' that succeeds: its one JSON document, decoded.
json(Ctx, Args) ->
    {0, Out, Err} = aion(Ctx, Args ++ ["--json"]),
    ?assertEqual(<<>>, Err),
    {ok, Doc} = aion_flow_ffi:json_decode(Out),
    Doc.

has(Text, Part) ->
    binary:match(Text, Part) =/= nomatch.

%% No Erlang term syntax where a person reads.
readable(Text) ->
    ?assertNot(has(Text, <<"#Bin">>)),
    ?assertNot(has(Text, <<"<<">>)),
    ?assertNot(has(Text, <<"#{">>)).

%% Tests.

help_and_bad_arguments(Ctx) ->
    {0, Help, <<>>} = run(Ctx, ["--help"]),
    [?assert(has(Help, iolist_to_binary(["\n  ", C, " "])))
     || C <- ["list", "describe", "history", "start", "signal", "query", "update", "cancel",
              "terminate", "export", "replay"]],
    ?assert(has(Help, <<"--node NAME@HOST">>)),
    ?assert(has(Help, <<"--data-dir DIR">>)),
    {0, DescribeHelp, _} = run(Ctx, ["describe", "--help"]),
    ?assert(has(DescribeHelp, <<"Usage: aion describe ID">>)),
    {0, ListHelp, _} = run(Ctx, ["list", "-h"]),
    ?assert(has(ListHelp, <<"--since TIME">>)),
    %% Exit status 2 and the usage on stderr, nothing on stdout.
    Bad = [[],
           ["frobnicate"],
           ["describe"],
           ["describe", "a", "b"],
           ["list", "--bogus"],
           ["list", "--limit", "0"],
           ["list", "--limit"],
           ["list", "--status", "sleeping"],
           ["list", "--since", "yesterday"],
           ["start", "three_steps", "{not json"],
           ["replay", "some.json"],
           ["replay", "some.json", "--workflow", "no_colon"],
           ["--json=yes", "list"]],
    [begin
         {Status, Out, Err} = aion(Ctx, Args),
         ?assertEqual({Args, 2}, {Args, Status}),
         ?assertEqual({Args, <<>>}, {Args, Out}),
         ?assert(has(Err, <<"Usage: aion">>))
     end || Args <- Bad],
    %% A command of the right shape without a node to talk to.
    {2, <<>>, NoNode} = run(Ctx, ["describe", "x"]),
    ?assert(has(NoNode, <<"no node given">>)),
    {2, <<>>, Both} = run(Ctx, ["describe", "x", "--node", "a@b", "--data-dir", "/tmp"]),
    ?assert(has(Both, <<"not both">>)),
    %% A node that does not run.
    {1, <<>>, Unreachable} = run(Ctx, ["describe", "x", "--node", "aion_cli_nobody@localhost"]),
    ?assert(has(Unreachable, <<"cannot connect">>)),
    {2, <<>>, _} = run(Ctx, ["describe", "x", "--node", "no_at_sign"]).

list_shows_runs_as_a_table_and_as_json_with_filters(Ctx) ->
    K = key(),
    Done = <<"cli-done-", K/binary>>,
    Running = <<"cli-run-", K/binary>>,
    {ok, Done} = aion:start_workflow(<<"three_steps">>, #{<<"tag">> => K}, #{workflow_id => Done}),
    {ok, _} = aion:await(Done, 5000),
    {ok, Running} = aion:start_workflow(<<"counter">>, #{}, #{workflow_id => Running}),
    %% A table for a person: a header, one line per run, times in ISO 8601.
    {0, Table, <<>>} = aion(Ctx, ["list"]),
    readable(Table),
    [Header | Lines] = binary:split(Table, <<"\n">>, [global, trim]),
    ?assertMatch({match, _}, re:run(Header, "^WORKFLOW ID +TYPE +STATUS +CREATED +UPDATED")),
    [DoneLine] = [L || L <- Lines, has(L, Done)],
    ?assertMatch({match, _}, re:run(DoneLine, "three_steps +completed +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z")),
    ?assert(lists:any(fun(L) -> has(L, Running) end, Lines)),
    %% JSON for a script, filtered by status and type.
    Ids = fun(#{<<"runs">> := Runs}) -> [Id || #{<<"workflow_id">> := Id} <- Runs] end,
    #{<<"runs">> := RunningRuns, <<"next">> := null} = RunningDoc =
        json(Ctx, ["list", "--status", "running", "--type", "counter"]),
    ?assert(lists:member(Running, Ids(RunningDoc))),
    ?assertNot(lists:member(Done, Ids(RunningDoc))),
    ?assertEqual([<<"running">>], lists:usort([S || #{<<"status">> := S} <- RunningRuns])),
    ?assertEqual([<<"counter">>], lists:usort([T || #{<<"type">> := T} <- RunningRuns])),
    Completed = json(Ctx, ["list", "--status", "completed"]),
    ?assert(lists:member(Done, Ids(Completed))),
    ?assertNot(lists:member(Running, Ids(Completed))),
    %% --since: a date alone, a time with an offset; --until.
    {ok, #{created_at := Created}} = aion:describe(Done),
    ?assertEqual([], Ids(json(Ctx, ["list", "--since", "2999-01-01"]))),
    ?assert(lists:member(Done, Ids(json(Ctx, ["list", "--since", "2000-01-01", "--type", "three_steps"])))),
    Just = calendar:system_time_to_rfc3339(Created, [{unit, millisecond}, {offset, "+02:00"}]),
    After = calendar:system_time_to_rfc3339(Created + 1, [{unit, millisecond}, {offset, "Z"}]),
    ?assert(lists:member(Done, Ids(json(Ctx, ["list", "--since", Just])))),
    ?assertNot(lists:member(Done, Ids(json(Ctx, ["list", "--since", After])))),
    ?assert(lists:member(Done, Ids(json(Ctx, ["list", "--until", After])))),
    ?assertNot(lists:member(Done, Ids(json(Ctx, ["list", "--until", Just])))),
    %% Nothing matches: said, exit status 0.
    {0, None, <<>>} = aion(Ctx, ["list", "--type", <<"no-such-type-", K/binary>>]),
    ?assertEqual(<<"no workflows match\n">>, None),
    ok = aion:terminate(Running, <<"test over">>).

list_pages_with_limit_and_cursor(Ctx) ->
    Type = <<"three_steps">>,
    Ids = [begin
               {ok, Id} = aion:start_workflow(Type, #{<<"tag">> => key()}, #{}),
               {ok, _} = aion:await(Id, 5000),
               Id
           end || _ <- [1, 2, 3]],
    {ok, All} = aion:list(#{type => Type}),
    Expected = [Id || #{workflow_id := Id} <- All],
    ?assert(Ids -- Expected =:= []),
    ?assertEqual(Expected, pages(Ctx, ["list", "--type", "three_steps", "--limit", "2"], [])),
    ?assertEqual(lists:reverse(Expected),
                 pages(Ctx, ["list", "--type", "three_steps", "--limit", "2", "--newest-first"], [])),
    %% The table says where the next page starts.
    {0, Table, <<>>} = aion(Ctx, ["list", "--type", "three_steps", "--limit", "1"]),
    ?assertMatch({match, _}, re:run(Table, "\nnext page: --cursor \\S+\n$")).

%% Every id of every page, following the cursors.
pages(Ctx, Args, Acc) ->
    #{<<"runs">> := Runs, <<"next">> := Next} = json(Ctx, Args),
    ?assert(length(Runs) =< 2),
    Got = Acc ++ [Id || #{<<"workflow_id">> := Id} <- Runs],
    case Next of
        null -> Got;
        Cursor -> pages(Ctx, strip_cursor(Args) ++ ["--cursor", Cursor], Got)
    end.

strip_cursor(["--cursor", _ | Rest]) -> Rest;
strip_cursor([A | Rest]) -> [A | strip_cursor(Rest)];
strip_cursor([]) -> [].

describe_a_known_and_an_unknown_id(Ctx) ->
    Id = <<"cli-describe-", (key())/binary>>,
    {ok, Id} = aion:start_workflow(<<"three_steps">>, #{<<"tag">> => <<"d">>}, #{workflow_id => Id}),
    {ok, _} = aion:await(Id, 5000),
    {0, Text, <<>>} = aion(Ctx, ["describe", Id]),
    readable(Text),
    ?assertMatch({match, _}, re:run(Text, <<"^workflow_id +", Id/binary, "\n">>)),
    ?assertMatch({match, _}, re:run(Text, "\nstatus +completed\n")),
    ?assertMatch({match, _}, re:run(Text, "\nresult +\\[10,20,30\\]\n")),
    ?assertMatch({match, _}, re:run(Text, "\ncreated_at +\\d{4}-\\d\\d-\\d\\dT")),
    {ok, Summary} = aion:describe(Id),
    Doc = json(Ctx, ["describe", Id]),
    ?assertMatch(#{<<"workflow_id">> := Id, <<"status">> := <<"completed">>, <<"result">> := [10, 20, 30],
                   <<"type">> := <<"three_steps">>}, Doc),
    %% Every field of the summary (`owner' too, in a cluster), times in Unix ms.
    ?assertEqual(maps:from_list([{atom_to_binary(K), case K of status -> atom_to_binary(V); _ -> V end}
                                 || {K, V} <- maps:to_list(Summary)]),
                 Doc),
    %% An unknown id: exit status 1, said on stderr, nothing on stdout (with --json too).
    Unknown = <<"cli-no-such-", (key())/binary>>,
    {1, <<>>, Err} = aion(Ctx, ["describe", Unknown]),
    ?assert(has(Err, <<"no workflow with id ", Unknown/binary>>)),
    {1, <<>>, _} = aion(Ctx, ["describe", Unknown, "--json"]),
    {1, <<>>, _} = aion(Ctx, ["history", Unknown]),
    {1, <<>>, _} = aion(Ctx, ["signal", Unknown, "go", "1"]).

history_lists_the_events(Ctx) ->
    {ok, Id} = aion:start_workflow(<<"three_steps">>, #{<<"tag">> => <<"h">>}, #{}),
    {ok, _} = aion:await(Id, 5000),
    {ok, Events} = aion:history(Id),
    {0, Table, <<>>} = aion(Ctx, ["history", Id]),
    readable(Table),
    [Header | Lines] = binary:split(Table, <<"\n">>, [global, trim]),
    ?assertMatch({match, _}, re:run(Header, "^SEQ +RECORDED AT +EVENT +DETAILS")),
    ?assertEqual(length(Events), length(Lines)),
    [First | _] = Lines,
    ?assertMatch({match, _}, re:run(First, "^1 +\\S+Z +WorkflowStarted +input=\\{\"tag\":\"h\"\\}")),
    ?assertMatch({match, _}, re:run(lists:last(Lines), "WorkflowCompleted +result=\\[10,20,30\\]$")),
    Doc = json(Ctx, ["history", Id]),
    ?assertEqual([{S, T} || #{seq := S, type := T} <- Events],
                 [{S, T} || #{<<"seq">> := S, <<"type">> := T} <- Doc]),
    ?assertMatch(#{<<"name">> := <<"append">>, <<"input">> := #{<<"step">> := 1, <<"tag">> := <<"h">>}},
                 lists:nth(2, Doc)).

start_and_signal_and_query(Ctx) ->
    Id = <<"cli-counter-", (key())/binary>>,
    {0, Out, <<>>} = aion(Ctx, ["start", "counter", "{}", "--id", Id]),
    ?assertEqual(<<Id/binary, "\n">>, Out),
    ?assertMatch({ok, #{type := <<"counter">>, status := running}}, aion:describe(Id)),
    %% The same id again: refused.
    {1, <<>>, Again} = aion(Ctx, ["start", "counter", "{}", "--id", Id]),
    ?assert(has(Again, <<"already running">>)),
    {1, <<>>, _} = aion(Ctx, ["start", <<"no-such-type">>, "{}"]),
    %% --json: the id of a started workflow (a fresh UUID).
    #{<<"workflow_id">> := Fresh} = json(Ctx, ["start", "three_steps", "{\"tag\":\"fresh\"}"]),
    ?assertEqual({ok, [10, 20, 30]}, aion:await(Fresh, 5000)),
    %% A signal is recorded with its payload; the query sees the count it made.
    {0, _, <<>>} = aion(Ctx, ["signal", Id, "inc", "{\"by\":\"cli\"}"]),
    wait_until(fun() -> aion:query(Id, <<"count">>, #{<<"plus">> => 0}) =:= {ok, 1} end, 5000),
    ?assertMatch([#{name := <<"inc">>, payload := #{<<"by">> := <<"cli">>}}], events(Id, <<"SignalReceived">>)),
    {0, Answer, <<>>} = aion(Ctx, ["query", Id, "count", "{\"plus\":10}"]),
    ?assertEqual(<<"11\n">>, Answer),
    ?assertEqual(#{<<"result">> => 101}, json(Ctx, ["query", Id, "count", "{\"plus\":100}"])),
    {1, <<>>, _} = aion(Ctx, ["query", Id, "no_such_query", "null"]),
    %% A string payload is JSON too; "stop" ends the counter.
    {0, _, <<>>} = aion(Ctx, ["signal", Id, "inc", "\"stop\""]),
    ?assertEqual({ok, 1}, aion:await(Id, 5000)),
    {1, <<>>, Closed} = aion(Ctx, ["signal", Id, "inc", "1"]),
    ?assert(has(Closed, <<"not running">>)).

update_runs_the_handler_and_rejects(Ctx) ->
    {ok, Id} = aion:start_workflow(<<"updatable">>, #{}, #{}),
    {0, Five, <<>>} = aion(Ctx, ["update", Id, "add", "5"]),
    ?assertEqual(<<"5\n">>, Five),
    ?assertEqual(#{<<"result">> => 12}, json(Ctx, ["update", Id, "add", "7", "--timeout", "10000"])),
    {1, <<>>, Rejected} = aion(Ctx, ["update", Id, "add", "-1"]),
    ?assert(has(Rejected, <<"positive integers only">>)),
    ok = aion:signal(Id, <<"done">>, null),
    ?assertEqual({ok, 12}, aion:await(Id, 5000)).

cancel_and_terminate(Ctx) ->
    {ok, Sleeper} = aion:start_workflow(<<"sleeper">>, #{<<"ms">> => 600000}, #{}),
    wait_until(fun() -> events(Sleeper, <<"TimerStarted">>) =/= [] end, 5000),
    {0, _, <<>>} = aion(Ctx, ["cancel", Sleeper]),
    ?assertEqual({error, {cancelled, #{<<"error">> => <<"cancelled">>}}}, aion:await(Sleeper, 5000)),
    {1, <<>>, _} = aion(Ctx, ["cancel", Sleeper]),
    {ok, Counter} = aion:start_workflow(<<"counter">>, #{}, #{}),
    ?assertEqual(#{<<"ok">> => true}, json(Ctx, ["terminate", Counter, "bad deploy"])),
    ?assertMatch({ok, #{status := terminated, reason := <<"bad deploy">>}}, aion:describe(Counter)),
    {1, <<>>, Again} = aion(Ctx, ["terminate", Counter, "again"]),
    ?assert(has(Again, <<"not running">>)).

export_writes_the_history_that_replay_checks(Ctx) ->
    {ok, Id} = aion:start_workflow(<<"three_steps">>, #{<<"tag">> => <<"x">>}, #{}),
    {ok, _} = aion:await(Id, 5000),
    Dir = aion_test_support:tmp_dir("aion_cli_export"),
    File = filename:join(Dir, "history.json"),
    {0, _, <<>>} = aion(Ctx, ["export", Id, File]),
    ok = aion:export_history(Id, filename:join(Dir, "direct.json")),
    {ok, Exported} = file:read_file(File),
    {ok, Direct} = file:read_file(filename:join(Dir, "direct.json")),
    ?assertEqual(aion_flow_ffi:json_decode(Direct), aion_flow_ffi:json_decode(Exported)),
    {1, <<>>, _} = aion(Ctx, ["export", <<"cli-no-such-", (key())/binary>>, filename:join(Dir, "none.json")]),
    ?assertNot(filelib:is_regular(filename:join(Dir, "none.json"))),
    %% The replayer runs in the escript's own VM: the workflow modules come with --pa.
    Pa = filename:dirname(code:which(aion_test_flows)),
    Replay = fun(Path, Workflow, More) -> run(Ctx, ["replay", Path, "--workflow", Workflow, "--pa", Pa | More]) end,
    {0, Ok, <<>>} = Replay(File, "aion_test_flows:three_steps", []),
    ?assertEqual(iolist_to_binary(["ok        ", File, "\n1 histories, 0 diverged\n"]), Ok),
    %% A history that is not what the code does: the first divergence is reported.
    {ok, Tampered} = re:compile("\"name\": *\"append\""),
    Changed = re:replace(Exported, Tampered, "\"name\": \"charge\"", [{return, binary}]),
    ?assertNotEqual(Exported, Changed),
    BadFile = filename:join(Dir, "tampered.json"),
    ok = file:write_file(BadFile, Changed),
    {1, Diverged, _} = Replay(BadFile, "aion_test_flows:three_steps", []),
    ?assert(has(Diverged, <<"DIVERGED  ", (list_to_binary(BadFile))/binary>>)),
    ?assert(has(Diverged, <<"1 histories, 1 diverged">>)),
    {1, Json, _} = Replay(Dir ++ "/history.json," ++ BadFile, "aion_test_flows:three_steps", ["--json"]),
    {ok, #{<<"diverged">> := 1, <<"histories">> := [#{<<"ok">> := true},
                                                     #{<<"ok">> := false, <<"report">> := Report}]}} =
        aion_flow_ffi:json_decode(Json),
    ?assertMatch(#{<<"seq">> := 2, <<"location">> := #{<<"module">> := <<"aion_test_flows">>,
                                                       <<"function">> := <<"three_steps">>}}, Report),
    %% The wrong workflow for the history.
    {1, Wrong, _} = Replay(File, "aion_test_flows:single", []),
    ?assert(has(Wrong, <<"DIVERGED">>)),
    %% Code that cannot be found, a file that does not exist.
    {1, <<>>, NoModule} = run(Ctx, ["replay", File, "--workflow", "aion_cli_no_such_module:run"]),
    ?assert(has(NoModule, <<"--pa">>)),
    {1, _, _} = Replay(filename:join(Dir, "missing.json"), "aion_test_flows:three_steps", []).

%% A stopped aion's data directory, opened read-only by the escript.

read_only_setup() ->
    Escript = escript(),
    Dir = aion_test_support:start(sqlite_file),
    K = key(),
    Done = <<"ro-done-", K/binary>>,
    Open = <<"ro-open-", K/binary>>,
    {ok, Done} = aion:start_workflow(<<"three_steps">>, #{<<"tag">> => K}, #{workflow_id => Done}),
    {ok, _} = aion:await(Done, 5000),
    {ok, Open} = aion:start_workflow(<<"blocker">>, #{<<"key">> => K}, #{workflow_id => Open}),
    _ = aion_test_support:waiting_worker(K),
    {ok, History} = aion:history(Done),
    DirectFile = Dir ++ "_direct.json",
    ok = aion:export_history(Done, DirectFile),
    {ok, Direct} = file:read_file(DirectFile),
    ok = aion_test_support:stop(Dir),
    #{escript => Escript, dir => Dir, done => Done, open => Open, history => History, direct => Direct}.

data_dir_is_read_only(#{dir := Dir, done := Done, open := Open, history := History, direct := Direct} = Ctx) ->
    Files = fun() -> [{F, file:read_file(F)} || F <- lists:sort(filelib:wildcard(filename:join(Dir, "*")))] end,
    Before = Files(),
    ?assert(lists:keymember(filename:join(Dir, "aion.db"), 1, Before)),
    RO = fun(Args) -> run(Ctx, Args ++ ["--data-dir", Dir]) end,
    {0, Table, <<>>} = RO(["list"]),
    readable(Table),
    ?assert(has(Table, Done)),
    ?assert(has(Table, Open)),
    {0, ListJson, <<>>} = RO(["list", "--status", "running", "--json"]),
    {ok, #{<<"runs">> := [#{<<"workflow_id">> := Open, <<"status">> := <<"running">>}]}} =
        aion_flow_ffi:json_decode(ListJson),
    {0, Described, <<>>} = RO(["describe", Done, "--json"]),
    ?assertMatch({ok, #{<<"status">> := <<"completed">>, <<"result">> := [10, 20, 30]}},
                 aion_flow_ffi:json_decode(Described)),
    {1, <<>>, _} = RO(["describe", <<"ro-no-such">>]),
    {0, Events, <<>>} = RO(["history", Done, "--json"]),
    {ok, EventList} = aion_flow_ffi:json_decode(Events),
    ?assertEqual(length(History), length(EventList)),
    File = filename:join(Dir ++ "_export", "h.json"),
    ok = filelib:ensure_dir(File),
    {0, _, <<>>} = RO(["export", Done, File]),
    {ok, Exported} = file:read_file(File),
    ?assertEqual(aion_flow_ffi:json_decode(Direct), aion_flow_ffi:json_decode(Exported)),
    %% Writes need a running node: refused before the directory is opened.
    [begin
         {Status, <<>>, Err} = RO(Args),
         ?assertEqual({Args, 2}, {Args, Status}),
         ?assert(has(Err, <<"needs a running node">>))
     end || Args <- [["signal", Open, "go", "1"], ["cancel", Open], ["terminate", Open, "r"],
                     ["start", "three_steps", "{}"], ["query", Open, "q", "1"], ["update", Open, "u", "1"]]],
    %% The run still open was not resumed, nothing was written: every file the directory
    %% held is as it was.
    After = Files(),
    ?assertEqual(Before, [F || F = {Name, _} <- After, lists:keymember(Name, 1, Before)]),
    {1, <<>>, NoDir} = run(Ctx, ["list", "--data-dir", Dir ++ "_no_such"]),
    ?assert(has(NoDir, <<"no such data directory">>)).

schedules_are_created_listed_and_steered(Ctx) ->
    Id = <<"cli-sched-", (key())/binary>>,
    Spec = <<"{\"workflow\":\"three_steps\",\"input\":{\"tag\":\"sched\"},\"every_ms\":3600000}">>,
    {0, Created, <<>>} = aion(Ctx, ["create-schedule", Id, Spec]),
    ?assert(has(Created, <<"created">>)),
    ?assertMatch({ok, #{workflow := <<"three_steps">>, every_ms := 3600000}}, aion:describe_schedule(Id)),
    {1, <<>>, Again} = aion(Ctx, ["create-schedule", Id, Spec]),
    ?assert(has(Again, <<"already has id">>)),
    {1, <<>>, Bad} = aion(Ctx, ["create-schedule", <<"cli-bad">>, "{\"workflow\":\"three_steps\",\"cron\":\"61 * * * *\"}"]),
    ?assert(has(Bad, <<"bad schedule">>)),
    {2, <<>>, _} = aion(Ctx, ["create-schedule", <<"cli-bad">>, "[1]"]),
    %% The table, and the same as JSON.
    {0, Table, <<>>} = aion(Ctx, ["schedules"]),
    ?assert(has(Table, Id)),
    ?assert(has(Table, <<"every 3600000 ms">>)),
    #{<<"schedules">> := Listed} = json(Ctx, ["schedules"]),
    ?assert(lists:any(fun(#{<<"id">> := I}) -> I =:= Id end, Listed)),
    {0, _, <<>>} = aion(Ctx, ["schedule", "pause", Id]),
    ?assertMatch({ok, #{paused := true}}, aion:describe_schedule(Id)),
    #{<<"outcome">> := <<"started">>, <<"workflow_id">> := W} = json(Ctx, ["schedule", "trigger", Id]),
    ?assertEqual({ok, [10, 20, 30]}, aion:await(W, 5000)),
    {0, Described, <<>>} = aion(Ctx, ["schedule", "describe", Id]),
    ?assert(has(Described, <<"started=1">>)),
    ?assert(has(Described, W)),
    {0, _, <<>>} = aion(Ctx, ["schedule", "unpause", Id]),
    ?assertMatch({ok, #{paused := false}}, aion:describe_schedule(Id)),
    {2, <<>>, _} = aion(Ctx, ["schedule", "explode", Id]),
    {0, _, <<>>} = aion(Ctx, ["schedule", "delete", Id]),
    {1, <<>>, Gone} = aion(Ctx, ["schedule", "describe", Id]),
    ?assert(has(Gone, <<"no schedule with id">>)),
    ?assertEqual({error, not_found}, aion:describe_schedule(Id)).
