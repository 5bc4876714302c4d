%% @doc The `aion' command (an escript built by `make cli' at `_build/default/bin/aion'):
%% see and steer the workflows of a running node (`--node NAME@HOST'), read a stopped
%% node's data directory (`--data-dir DIR', read-only), and replay exported histories
%% against workflow code (`replay').
%%
%% Output is a readable table or list by default and one JSON document with `--json'.
%% Exit status: 0 when the command did what it says, 1 on any error (an unknown id
%% included; the error goes to stderr), 2 on bad arguments (with the usage on stderr).
-module(aion_cli).

-export([main/1]).

-define(STATUSES, ["running", "blocked", "completed", "failed", "cancelled", "terminated", "timed_out",
                   "continued_as_new"]).
%% The default wait of a query or an update (`--timeout').
-define(REQUEST_MS, 5000).

%% Options: key, flag, whether it takes a value (`value'), may repeat (`multi') or is a
%% switch (`flag'), its value's name, and what it does.
options() ->
    [{node, "--node", value, "NAME@HOST", "the running node to talk to (default: $AION_NODE)"},
     {cookie, "--cookie", value, "COOKIE", "its cookie (default: $AION_COOKIE, else ~/.erlang.cookie)"},
     {data_dir, "--data-dir", value, "DIR", "no node runs: open its data directory read-only"},
     {json, "--json", flag, "", "print one JSON document on stdout (for scripts)"},
     {help, "--help", flag, "", "show help"},
     {status, "--status", value, "STATUS", "only runs with this status: " ++ lists:join(", ", ?STATUSES)},
     {type, "--type", value, "TYPE", "only runs of this workflow type"},
     {since, "--since", value, "TIME", "only runs created at or after TIME (ISO 8601: 2026-01-31, "
                                       "2026-01-31T09:00:00Z or with an offset)"},
     {until, "--until", value, "TIME", "only runs created before TIME"},
     {limit, "--limit", value, "N", "at most N runs; prints the cursor of the next page"},
     {cursor, "--cursor", value, "CURSOR", "the page after a previous --limit"},
     {newest_first, "--newest-first", flag, "", "newest runs first"},
     {id, "--id", value, "ID", "the new workflow's id (default: a fresh UUID)"},
     {timeout, "--timeout", value, "MS", "how long to wait for the workflow (default 5000)"},
     {workflow, "--workflow", value, "MODULE:FUNCTION", "the workflow code to replay against (required)"},
     {pa, "--pa", multi, "DIR", "a directory of workflow modules (.beam) to load (repeatable)"}].

-define(TARGET_OPTS, [node, cookie, data_dir]).

%% Commands: name, positional arguments, own options, whether it reads only (allowed on a
%% data directory), what it does.
commands() ->
    [{"list", [], [status, type, since, until, limit, cursor, newest_first], read,
      "List workflows (their current runs), oldest first."},
     {"describe", ["ID"], [], read, "Show a workflow's summary: status, times, result or error."},
     {"history", ["ID"], [], read, "Show the events of a workflow's current run."},
     {"start", ["TYPE", "JSON"], [id], write, "Start a workflow of TYPE with input JSON; prints its id."},
     {"signal", ["ID", "NAME", "JSON"], [], write, "Send signal NAME with payload JSON."},
     {"query", ["ID", "NAME", "JSON"], [timeout], write,
      "Ask query NAME with arguments JSON; prints its result as JSON."},
     {"update", ["ID", "NAME", "JSON"], [timeout], write,
      "Send update NAME with arguments JSON; prints its result as JSON."},
     {"cancel", ["ID"], [], write, "Ask the workflow to cancel (its code may compensate)."},
     {"terminate", ["ID", "REASON"], [], write, "End the workflow at once; REASON is recorded as text."},
     {"export", ["ID", "FILE"], [], read, "Write the current run's history to FILE (for replay)."},
     {"schedules", [], [], write, "List the schedules: when each fires, its next run, its counts."},
     {"schedule", ["ACTION", "ID"], [], write,
      "ACTION a schedule: describe, pause, unpause, trigger (start its workflow now) or delete."},
     {"create-schedule", ["ID", "JSON"], [], write, "Create schedule ID from the spec JSON."},
     {"replay", ["PATH"], [workflow, pa], offline,
      "Replay exported histories against workflow code, offline."}].

%% More about a command, for its `--help'.
details("replay") ->
    "PATH is a history file (from `aion export'), a directory of *.json files, or a\n"
    "comma-separated list of them. Each is replayed against MODULE:FUNCTION, with no\n"
    "activity run and nothing recorded; the exit status is 1 when any diverges from the\n"
    "code (the first divergence is shown: seq, what the history holds, what the code asked\n"
    "for, and where in the code), 0 when all replay cleanly. Runs in this VM: aion's lib\n"
    "directory is found next to the escript (../lib/aion, ../lib/aion-*) or in $AION_LIB.\n";
details("terminate") ->
    "No compensation runs; REASON is recorded as a string (WorkflowTerminated).\n";
details("create-schedule") ->
    "The spec is a JSON object: \"workflow\" (a registered type, required), \"input\" (default\n"
    "null), \"cron\" (five fields, e.g. \"*/5 * * * *\") with \"utc_offset\" (\"Z\" or \"+05:30\") or\n"
    "\"every_ms\", \"overlap\" (skip, buffer_one, allow_all, cancel_other), \"catchup_window_ms\",\n"
    "\"paused\". Example:\n"
    "  aion create-schedule nightly '{\"workflow\":\"report\",\"cron\":\"0 2 * * *\"}'\n";
details("schedule") ->
    "describe prints the spec, the next five runs, the counts (started, skipped_overlap,\n"
    "missed, paused, failed, buffered) and the last actions; trigger prints what it did.\n";
details("list") ->
    "--since/--until/--limit/--cursor/--newest-first need a node whose aion pages list/1.\n";
details(_) ->
    "".

%% @doc Runs the command line `Args' and halts with its exit status.
-spec main([string()]) -> no_return().
main(Args) ->
    ok = io:setopts(standard_io, [{encoding, unicode}]),
    ok = io:setopts(standard_error, [{encoding, unicode}]),
    ok = aion_cli_target:quiet_logger(),
    Status = try run(Args)
    catch
        throw:{usage, Command, Message} ->
            err(["aion: ", Message, "\n\n", usage(about(Command, Args))]),
            2;
        throw:{fail, Message} ->
            err(["aion: ", Message, "\n"]),
            1
    end,
    erlang:halt(Status).

%% The command a usage error is about: the one named in the arguments, if any.
about(undefined, Args) ->
    case [C || A <- Args, C <- [lists:keyfind(A, 1, commands())], C =/= false] of
        [Command | _] -> Command;
        [] -> undefined
    end;
about(Command, _Args) ->
    Command.

run(Args) ->
    {Positional, Opts} = parse(Args, [], #{}),
    case Positional of
        [] when map_get(help, Opts) =:= true ->
            out(usage(undefined)),
            0;
        [] ->
            throw({usage, undefined, "no command given"});
        [Name | Rest] ->
            case lists:keyfind(Name, 1, commands()) of
                false ->
                    throw({usage, undefined, ["unknown command: ", Name]});
                Command when map_get(help, Opts) =:= true ->
                    out(usage(Command)),
                    0;
                {_, Params, Own, _, _} = Command ->
                    Allowed = [json, help | ?TARGET_OPTS] ++ Own,
                    case [K || K <- maps:keys(Opts), not lists:member(K, Allowed)] of
                        [] -> ok;
                        [Bad | _] -> throw({usage, Command, [flag(Bad), " is not an option of ", Name]})
                    end,
                    length(Rest) =:= length(Params) orelse
                        throw({usage, Command, io_lib:format("~ts takes ~b argument~ts (~ts), got ~b",
                                                             [Name, length(Params), plural(Params),
                                                              lists:join(" ", Params), length(Rest)])}),
                    command(Command, Rest, Opts)
            end
    end.

plural([_]) -> "";
plural(_) -> "s".

%% Splits the arguments into positional ones and options (`--flag', `--flag value',
%% `--flag=value'; `--' ends the options). Only arguments starting with `--' (and `-h')
%% are options, so a JSON argument like `-1' is positional.
parse([], Positional, Opts) ->
    {lists:reverse(Positional), maps:merge(#{help => false, json => false}, Opts)};
parse(["--" | Rest], Positional, Opts) ->
    parse([], lists:reverse(Rest, Positional), Opts);
parse(["-h" | Rest], Positional, Opts) ->
    parse(Rest, Positional, Opts#{help => true});
parse(["--" ++ _ = Arg | Rest], Positional, Opts) ->
    {Flag, Inline} = case string:split(Arg, "=") of
        [F, Given] -> {F, {value, Given}};
        [F] -> {F, none}
    end,
    case lists:keyfind(Flag, 2, options()) of
        false ->
            throw({usage, undefined, ["unknown option: ", Flag]});
        {Key, _, flag, _, _} when Inline =:= none ->
            parse(Rest, Positional, Opts#{Key => true});
        {_, _, flag, _, _} ->
            throw({usage, undefined, [Flag, " takes no value"]});
        {Key, _, Kind, _, _} ->
            {Value, Left} = case {Inline, Rest} of
                {{value, V}, _} -> {V, Rest};
                {none, [Next | R]} -> {Next, R};
                {none, []} -> throw({usage, undefined, [Flag, " needs a value"]})
            end,
            case Kind of
                multi -> parse(Left, Positional, Opts#{Key => maps:get(Key, Opts, []) ++ [Value]});
                value -> parse(Left, Positional, Opts#{Key => Value})
            end
    end;
parse([Arg | Rest], Positional, Opts) ->
    parse(Rest, [Arg | Positional], Opts).

flag(Key) ->
    element(2, lists:keyfind(Key, 1, options())).

%% Commands.

command({"replay", _, _, _, _} = Command, [Path], Opts) ->
    replay(Command, Path, Opts);
command({Name, _, _, Access, _} = Command, Args, Opts) ->
    Target = target(Command, Access, Opts),
    run_command(Name, Command, Target, Args, Opts).

%% The node (`--node', `$AION_NODE') or the data directory (`--data-dir', which wins over
%% `$AION_NODE'), connected.
target({Name, _, _, _, _} = Command, Access, Opts) ->
    Result = case {maps:find(node, Opts), maps:find(data_dir, Opts)} of
        {{ok, _}, {ok, _}} ->
            throw({usage, Command, "give --node or --data-dir, not both"});
        {error, {ok, _}} when Access =/= read ->
            throw({usage, Command, [Name, " needs a running node (--node NAME@HOST): --data-dir opens "
                                    "the data directory read-only (list, describe, history, export)"]});
        {error, {ok, Dir}} ->
            aion_cli_target:open_data_dir(Dir);
        {{ok, Node}, error} ->
            aion_cli_target:connect(Node, maps:get(cookie, Opts, undefined));
        {error, error} ->
            case os:getenv("AION_NODE") of
                Node when Node =/= false, Node =/= "" ->
                    aion_cli_target:connect(Node, maps:get(cookie, Opts, undefined));
                _ ->
                    throw({usage, Command, "no node given: --node NAME@HOST (or $AION_NODE), or "
                                           "--data-dir DIR for a stopped node's data directory"})
            end
    end,
    case Result of
        {ok, Target} -> Target;
        {error, {usage, Message}} -> throw({usage, Command, Message});
        {error, {fail, Message}} -> throw({fail, Message})
    end.

run_command("list", Command, T, [], Opts) ->
    Filter = list_filter(Command, Opts),
    case aion_cli_target:call(T, aion, list, [Filter]) of
        {ok, Runs} -> print_runs(Runs, done, Opts);
        {ok, Runs, Next} -> print_runs(Runs, Next, Opts);
        {error, Reason} -> failed(T, Reason, undefined)
    end;
run_command("describe", _, T, [Id], Opts) ->
    case aion_cli_target:call(T, aion, describe, [bin(Id)]) of
        {ok, Summary} ->
            print(Opts, Summary, fun() -> aion_cli_out:fields(summary_fields(Summary)) end);
        {error, Reason} ->
            failed(T, Reason, Id)
    end;
run_command("history", _, T, [Id], Opts) ->
    case aion_cli_target:call(T, aion, history, [bin(Id)]) of
        {ok, Events} -> print(Opts, Events, fun() -> history_table(Events) end);
        {error, Reason} -> failed(T, Reason, Id)
    end;
run_command("start", Command, T, [Type, Json], Opts) ->
    Input = decode(T, Command, Json),
    StartOpts = case maps:find(id, Opts) of
        {ok, Id} -> #{workflow_id => bin(Id)};
        error -> #{}
    end,
    case aion_cli_target:call(T, aion, start_workflow, [bin(Type), Input, StartOpts]) of
        {ok, Id2} -> print(Opts, #{workflow_id => Id2}, fun() -> [Id2, $\n] end);
        {error, Reason} -> failed(T, Reason, maps:get(id, Opts, undefined))
    end;
run_command("signal", Command, T, [Id, Name, Json], Opts) ->
    Payload = decode(T, Command, Json),
    done(T, aion_cli_target:call(T, aion, signal, [bin(Id), bin(Name), Payload]), Id, Opts,
         ["signal ", Name, " sent to ", Id]);
run_command(Request, Command, T, [Id, Name, Json], Opts) when Request =:= "query"; Request =:= "update" ->
    Args = decode(T, Command, Json),
    Timeout = positive(Command, timeout, maps:get(timeout, Opts, integer_to_list(?REQUEST_MS))),
    Call = [bin(Id), bin(Name), Args, Timeout],
    case aion_cli_target:call(T, aion, list_to_atom(Request), Call, Timeout + 5000) of
        {ok, Result} -> print(Opts, #{result => Result}, fun() -> [aion_cli_out:json(Result), $\n] end);
        {error, Reason} -> failed(T, Reason, Id)
    end;
run_command("cancel", _, T, [Id], Opts) ->
    done(T, aion_cli_target:call(T, aion, cancel, [bin(Id)]), Id, Opts, ["cancel requested for ", Id]);
run_command("terminate", _, T, [Id, Reason], Opts) ->
    done(T, aion_cli_target:call(T, aion, terminate, [bin(Id), bin(Reason)]), Id, Opts,
         ["terminated ", Id]);
run_command("schedules", _, T, [], Opts) ->
    case aion_cli_target:call(T, aion, list_schedules, []) of
        {ok, Schedules} -> print(Opts, #{schedules => Schedules}, fun() -> schedules_table(Schedules) end);
        {error, Reason} -> failed(T, Reason, undefined)
    end;
run_command("schedule", Command, T, [Action, Id], Opts) ->
    Actions = ["describe", "pause", "unpause", "trigger", "delete"],
    lists:member(Action, Actions) orelse
        throw({usage, Command, ["ACTION must be one of ", lists:join(", ", Actions), ", got ", Action]}),
    Function = case Action of
        "describe" -> describe_schedule;
        _ -> list_to_atom(Action ++ "_schedule")
    end,
    case aion_cli_target:call(T, aion, Function, [bin(Id)], 20000) of
        ok ->
            print(Opts, #{ok => true}, fun() -> ["schedule ", Id, " ", past(Action), $\n] end);
        {ok, #{outcome := Outcome, workflow_id := W} = Triggered} ->
            print(Opts, Triggered, fun() -> [atom_to_list(Outcome), [[" ", W] || is_binary(W)], $\n] end);
        {ok, Info} ->
            print(Opts, Info, fun() -> aion_cli_out:fields(schedule_fields(Info)) end);
        {error, not_found} ->
            throw({fail, ["no schedule with id ", Id]});
        {error, Reason} ->
            failed(T, Reason, Id)
    end;
run_command("create-schedule", Command, T, [Id, Json], Opts) ->
    Spec = case decode(T, Command, Json) of
        Map when is_map(Map) -> Map;
        _ -> throw({usage, Command, "the spec must be a JSON object"})
    end,
    case aion_cli_target:call(T, aion, create_schedule, [bin(Id), Spec]) of
        ok -> print(Opts, #{ok => true}, fun() -> ["schedule ", Id, " created\n"] end);
        {error, {already_exists, _}} -> throw({fail, ["a schedule already has id ", Id]});
        {error, {bad_schedule, Why}} -> throw({fail, ["bad schedule: ", aion_cli_out:text(Why)]});
        {error, Reason} -> failed(T, Reason, Id)
    end;
run_command("export", _, T, [Id, File], Opts) ->
    case export(T, bin(Id)) of
        {ok, Document} ->
            case file:write_file(File, Document) of
                ok -> print(Opts, #{file => bin(File)}, fun() -> ["exported ", Id, " to ", File, $\n] end);
                {error, Why} -> throw({fail, io_lib:format("cannot write ~ts: ~ts", [File, file:format_error(Why)])})
            end;
        {error, Reason} ->
            failed(T, Reason, Id)
    end.

%% The history document of the workflow's current run. On a node it is written there (to
%% its temporary directory, with `aion:export_history/2'), read back and removed: the
%% file the user named is written here, wherever the node runs.
export(local, Id) ->
    Tmp = tmp_file(os:getenv("TMPDIR", "/tmp")),
    try
        case aion:export_history(Id, Tmp) of
            ok -> file:read_file(Tmp);
            {error, _} = Error -> Error
        end
    after
        file:delete(Tmp)
    end;
export(T, Id) ->
    Tmp = tmp_file(aion_cli_target:call(T, os, getenv, ["TMPDIR", "/tmp"])),
    try
        case aion_cli_target:call(T, aion, export_history, [Id, Tmp]) of
            ok -> aion_cli_target:call(T, file, read_file, [Tmp]);
            {error, _} = Error -> Error
        end
    after
        aion_cli_target:call(T, file, delete, [Tmp])
    end.

tmp_file(Dir) ->
    filename:join(Dir, io_lib:format("aion-export-~ts-~b.json", [os:getpid(), rand:uniform(1 bsl 30)])).

done(_T, ok, _Id, Opts, Message) ->
    print(Opts, #{ok => true}, fun() -> [Message, $\n] end);
done(T, {error, Reason}, Id, _Opts, _Message) ->
    failed(T, Reason, Id).

%% A JSON argument, decoded where the engine runs (the node's `aion_flow_ffi').
decode(T, Command, Json) ->
    case aion_cli_target:call(T, aion_flow_ffi, json_decode, [bin(Json)]) of
        {ok, Term} -> Term;
        {error, _} -> throw({usage, Command, ["not valid JSON: ", Json, " (a string is written \"...\")"]})
    end.

list_filter(Command, Opts) ->
    maps:from_list(
        [{status, status(Command, S)} || {ok, S} <- [maps:find(status, Opts)]] ++
        [{type, bin(T)} || {ok, T} <- [maps:find(type, Opts)]] ++
        [{since, time(Command, since, S)} || {ok, S} <- [maps:find(since, Opts)]] ++
        [{until, time(Command, until, S)} || {ok, S} <- [maps:find(until, Opts)]] ++
        [{limit, positive(Command, limit, N)} || {ok, N} <- [maps:find(limit, Opts)]] ++
        [{cursor, bin(C)} || {ok, C} <- [maps:find(cursor, Opts)]] ++
        [{order, newest_first} || maps:get(newest_first, Opts, false)]).

status(Command, S) ->
    case lists:member(S, ?STATUSES) of
        true -> list_to_atom(S);
        false -> throw({usage, Command, ["--status must be one of ", lists:join(", ", ?STATUSES), ", got ", S]})
    end.

positive(Command, Key, S) ->
    try list_to_integer(S) of
        N when N > 0 -> N;
        _ -> throw({usage, Command, [flag(Key), " must be a positive integer, got ", S]})
    catch error:badarg -> throw({usage, Command, [flag(Key), " must be a positive integer, got ", S]})
    end.

%% ISO 8601 (RFC 3339) to Unix ms: a date alone is its midnight UTC, a time without an
%% offset is UTC.
time(Command, Key, S) ->
    Full = case S of
        [_, _, _, _, $-, _, _, $-, _, _] -> S ++ "T00:00:00Z";
        _ ->
            case re:run(S, "(Z|z|[+-]\\d\\d:\\d\\d)$", [{capture, none}]) of
                match -> S;
                nomatch -> S ++ "Z"
            end
    end,
    try calendar:rfc3339_to_system_time(Full, [{unit, millisecond}])
    catch _:_ ->
        throw({usage, Command, [flag(Key), " must be an ISO 8601 date or time (2026-01-31, "
                                "2026-01-31T09:00:00Z, 2026-01-31T10:00:00+01:00), got ", S]})
    end.

%% Printing.

print(#{json := true}, Value, _Text) ->
    out([aion_cli_out:json(Value), $\n]),
    0;
print(_Opts, _Value, Text) ->
    out(Text()),
    0.

print_runs(Runs, Next, #{json := true}) ->
    out([aion_cli_out:json(#{runs => Runs, next => next(Next)}), $\n]),
    0;
print_runs([], Next, _Opts) ->
    out("no workflows match\n"),
    print_next(Next);
print_runs(Runs, Next, _Opts) ->
    HasOwner = lists:any(fun(R) -> maps:is_key(owner, R) end, Runs),
    Header = ["WORKFLOW ID", "TYPE", "STATUS", "CREATED", "UPDATED"] ++ ["OWNER" || HasOwner],
    Rows = [[text(workflow_id, R), text(type, R), text(status, R), when_(created_at, R), when_(updated_at, R)]
            ++ [text(owner, R) || HasOwner]
            || R <- Runs],
    out(aion_cli_out:table(Header, Rows)),
    print_next(Next).

print_next(done) -> 0;
print_next(Cursor) -> out(["next page: --cursor ", Cursor, $\n]), 0.

next(done) -> null;
next(Cursor) -> Cursor.

text(Key, Map) ->
    case maps:find(Key, Map) of
        {ok, V} -> aion_cli_out:text(V);
        error -> ""
    end.

when_(Key, Map) ->
    case maps:find(Key, Map) of
        {ok, Ms} when is_integer(Ms) -> aion_cli_out:time(Ms);
        _ -> ""
    end.

%% A summary's fields, the usual ones first, times as ISO 8601.
summary_fields(Summary) ->
    Order = [workflow_id, type, status, run_id, parent_id, owner, created_at, updated_at, head,
             result, error, details, reason, deadline, blocked_reason],
    Times = [created_at, updated_at, deadline],
    Rest = lists:sort([K || K <- maps:keys(Summary), not lists:member(K, Order)]),
    [{atom_to_list(K), case lists:member(K, Times) of
                           true -> when_(K, Summary);
                           false -> aion_cli_out:text(V)
                       end}
     || K <- Order ++ Rest, {ok, V} <- [maps:find(K, Summary)]].

past("pause") -> "paused";
past("unpause") -> "unpaused";
past("delete") -> "deleted".

schedules_table([]) ->
    "no schedules\n";
schedules_table(Schedules) ->
    Rows = [[text(id, S), text(workflow, S), timing(S), text(overlap, S), text(paused, S),
             case maps:get(next_runs, S, []) of [Next | _] -> aion_cli_out:time(Next); [] -> "" end,
             count(started, S), count(missed, S), count(skipped_overlap, S)]
            || S <- Schedules],
    aion_cli_out:table(["SCHEDULE", "WORKFLOW", "WHEN", "OVERLAP", "PAUSED", "NEXT RUN", "STARTED",
                        "MISSED", "SKIPPED"], Rows).

timing(#{cron := Cron, utc_offset := Offset}) -> [Cron, " (", Offset, ")"];
timing(#{every_ms := Ms}) -> ["every ", integer_to_list(Ms), " ms"];
timing(_) -> "".

count(Key, #{counts := Counts}) -> integer_to_list(maps:get(Key, Counts, 0));
count(_, _) -> "".

schedule_fields(Info) ->
    Plain = [{atom_to_list(K), aion_cli_out:text(V)}
             || K <- [id, workflow, input, cron, utc_offset, every_ms, overlap, catchup_window_ms,
                      paused, running, buffered],
                {ok, V} <- [maps:find(K, Info)]],
    Next = [{"next_runs", lists:join(" ", [aion_cli_out:time(T) || T <- maps:get(next_runs, Info, [])])}],
    Counts = [{"counts", lists:join(" ", [[atom_to_list(K), $=, integer_to_list(V)]
                                         || {K, V} <- lists:sort(maps:to_list(maps:get(counts, Info, #{})))])}],
    Recent = [{"recent", lists:join("; ", [recent_text(R) || R <- maps:get(recent, Info, [])])}],
    Plain ++ Next ++ Counts ++ Recent ++ [{"created_at", when_(created_at, Info)}].

recent_text(R = #{slot := Slot, outcome := Outcome}) ->
    [aion_cli_out:time(Slot), " ", aion_cli_out:text(Outcome),
     [[" ", aion_cli_out:text(W)] || {ok, W} <- [maps:find(workflow_id, R)], W =/= null],
     [[" (", aion_cli_out:text(Why), ")"] || {ok, Why} <- [maps:find(reason, R)], Why =/= null]].

history_table(Events) ->
    Rows = [[text(seq, E), when_(recorded_at, E), text(type, E), event_details(E)] || E <- Events],
    aion_cli_out:table(["SEQ", "RECORDED AT", "EVENT", "DETAILS"], Rows).

event_details(Event) ->
    Fields = lists:sort(maps:to_list(maps:without([seq, recorded_at, type], Event))),
    lists:join(" ", [[aion_cli_out:text(K), $=, value_text(V)] || {K, V} <- Fields]).

%% In a `key=value' list a string shows as JSON too, so its spaces stay readable.
value_text(V) when is_binary(V) -> aion_cli_out:json(V);
value_text(V) -> aion_cli_out:text(V).

%% Errors.

failed(T, Reason, Id) ->
    throw({fail, reason_text(T, Reason, Id)}).

reason_text(_, not_found, Id) -> ["no workflow with id ", Id];
reason_text(_, not_running, Id) -> ["workflow ", Id, " is not running (it has closed, or no process runs it)"];
reason_text(T, not_started, _) -> ["aion is not started on ", aion_cli_target:name(T)];
reason_text(_, timeout, _) -> "timed out waiting for the workflow";
reason_text(T, {unknown_workflow_type, Type}, _) ->
    ["unknown workflow type ", aion_cli_out:text(Type), " (not registered on ", aion_cli_target:name(T), ")"];
reason_text(_, {already_started, Id}, _) -> ["workflow ", Id, " is already running"];
reason_text(_, {already_exists, Id}, _) -> ["a closed workflow already has id ", Id];
reason_text(_, {invalid_input, Why}, _) -> ["invalid input: ", aion_cli_out:text(Why)];
reason_text(_, {payload_too_large, Size, Limit}, _) ->
    io_lib:format("payload too large: ~b bytes (the limit is ~b)", [Size, Limit]);
reason_text(_, {bad_option, Opt}, _) -> ["the node's aion refused option ", aion_cli_out:text(Opt)];
reason_text(_, {bad_argument, What, V}, _) -> ["bad ", atom_to_list(What), ": ", aion_cli_out:text(V)];
reason_text(_, unknown_query, Id) -> ["workflow ", Id, " has no handler for that query"];
reason_text(_, unknown_update, Id) -> ["workflow ", Id, " has no handler for that update"];
reason_text(_, {rejected, Why}, _) -> ["update rejected: ", aion_cli_out:text(Why)];
reason_text(_, {handler_failed, Why}, _) -> ["the handler failed: ", aion_cli_out:text(Why)];
reason_text(_, {read_only, Why}, _) -> ["the data directory is open read-only: ", aion_cli_out:text(Why)];
reason_text(_, {file, Why}, _) -> ["file error: ", file:format_error(Why)];
reason_text(_, {not_owner, Why}, _) -> ["no owner: ", aion_cli_out:text(Why)];
reason_text(_, {node_unreachable, Node, Why}, _) ->
    ["node ", atom_to_list(Node), " is unreachable: ", aion_cli_out:text(Why)];
reason_text(_, {Kind, Detail}, _) when is_atom(Kind), is_binary(Detail) ->
    [atom_to_list(Kind), " error: ", Detail];
reason_text(_, Reason, _) ->
    aion_cli_out:text(Reason).

%% Replay.

replay(Command, Path, Opts) ->
    Workflow = case maps:find(workflow, Opts) of
        {ok, W} -> W;
        error -> throw({usage, Command, "replay needs --workflow MODULE:FUNCTION"})
    end,
    {M, F} = case string:split(Workflow, ":") of
        [Ms, Fs] when Ms =/= "", Fs =/= "" -> {list_to_atom(Ms), list_to_atom(Fs)};
        _ -> throw({usage, Command, ["--workflow must be MODULE:FUNCTION, got ", Workflow]})
    end,
    Files = histories(Path),
    Files =:= [] andalso throw({fail, ["no history found at ", Path]}),
    case aion_cli_target:load_local(maps:get(pa, Opts, [])) of
        ok -> ok;
        {error, {fail, Message}} -> throw({fail, Message})
    end,
    case code:ensure_loaded(M) of
        {module, M} -> ok;
        _ -> throw({fail, ["cannot load module ", atom_to_list(M), " (give its directory with --pa DIR)"]})
    end,
    erlang:function_exported(M, F, 1) orelse
        throw({fail, [atom_to_list(M), $:, atom_to_list(F), "/1 is not exported"]}),
    Results = [{File, aion_replay:check(File, {M, F})} || File <- Files],
    Diverged = length([R || {_, {error, _} = R} <- Results]),
    case Opts of
        #{json := true} ->
            out([aion_cli_out:json(#{histories => [replay_json(File, R) || {File, R} <- Results],
                                     diverged => Diverged}), $\n]);
        _ ->
            out([[replay_text(File, R) || {File, R} <- Results],
                 io_lib:format("~b histories, ~b diverged~n", [length(Files), Diverged])])
    end,
    case Diverged of
        0 -> 0;
        _ -> 1
    end.

histories(Spec) ->
    lists:append([case filelib:is_dir(P) of
                      true -> lists:sort(filelib:wildcard(filename:join(P, "*.json")));
                      false -> [P]
                  end || P <- string:lexemes(Spec, ",")]).

replay_json(File, ok) -> #{path => bin(File), ok => true};
replay_json(File, {error, Report}) -> #{path => bin(File), ok => false, report => Report}.

replay_text(File, ok) ->
    ["ok        ", File, $\n];
replay_text(File, {error, Report}) ->
    ["DIVERGED  ", File, $\n,
     [["  ", atom_to_list(K), ": ", report_value(V), $\n] || {K, V} <- lists:sort(maps:to_list(Report))]].

report_value(#{module := M, function := F, arity := A} = L) ->
    [io_lib:format("~ts:~ts/~b", [M, F, A]),
     case L of
         #{file := File, line := Line} -> io_lib:format(" (~ts:~b)", [File, Line]);
         _ -> ""
     end];
report_value(V) ->
    aion_cli_out:text(V).

%% Help.

usage(undefined) ->
    ["aion: see and steer aion workflows\n\n"
     "Usage: aion [--node NAME@HOST [--cookie COOKIE] | --data-dir DIR] [--json] COMMAND ARGS...\n\n"
     "Commands:\n",
     aion_cli_out:columns([["  " ++ Name ++ " " ++ lists:join(" ", Params), Summary]
                                   || {Name, Params, _, _, Summary} <- commands()]),
     "\nWhere the workflows are (every command but replay):\n",
     option_lines(?TARGET_OPTS),
     "\nOutput:\n",
     option_lines([json]),
     "\nExit status: 0 done, 1 an error (said on stderr; an unknown id too), 2 bad arguments.\n"
     "Run `aion COMMAND --help` for a command's options.\n"];
usage({Name, Params, Own, Access, Summary}) ->
    Target = case Access of
        offline -> [];
        read -> ["(--node NAME@HOST | --data-dir DIR)"];
        write -> ["--node NAME@HOST"]
    end,
    ["Usage: aion ", lists:join(" ", [Name] ++ Params ++ Target ++ [["[", flag_usage(K), "]"] || K <- Own] ++ ["[--json]"]),
     "\n\n", Summary, "\n", case details(Name) of "" -> ""; More -> ["\n", More] end,
     case Access of
         write -> "Needs a running node (a data directory opens read-only).\n";
         _ -> ""
     end,
     "\nOptions:\n",
     option_lines(Own ++ case Access of
                             offline -> [];
                             read -> ?TARGET_OPTS;
                             write -> [node, cookie]
                         end ++ [json])].

flag_usage(K) ->
    case lists:keyfind(K, 1, options()) of
        {_, Flag, flag, _, _} -> Flag;
        {_, Flag, _, Meta, _} -> [Flag, " ", Meta]
    end.

option_lines(Keys) ->
    Rows = [begin
                {K, Flag, _, Meta, Help} = lists:keyfind(K, 1, options()),
                ["  " ++ Flag ++ case Meta of "" -> ""; _ -> " " ++ Meta end, Help]
            end || K <- Keys],
    aion_cli_out:columns(Rows).

%% Output.

out(IoData) ->
    io:put_chars(standard_io, IoData).

err(IoData) ->
    io:put_chars(standard_error, IoData).

bin(S) when is_binary(S) -> S;
bin(S) -> unicode:characters_to_binary(S).
