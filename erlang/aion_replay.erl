%% @doc The replayer: checks recorded histories against the current workflow code before
%% a deploy. A history (a file written by `aion:export_history/2', or a workflow id in the
%% running engine) is replayed in a process of its own against `Module:Function'; nothing
%% is recorded and no activity runs. Every command the code issues must match the
%% history; the first that does not is reported with its seq, what the history holds, what
%% the code asked for, and where in the workflow code the call was made.
%%
%% Command line: `make replay HISTORY=path[,path...|dir] WORKFLOW=module:function'.
-module(aion_replay).

-export([check/2]).
-export([check_document/2]).
-export([main/2]).

%% Internal: called by aion_flow_ffi when the code diverges.
-export([note_divergence/0]).

-type report() :: #{seq => pos_integer(), recorded => binary(), requested => binary(),
                    message := binary(), location => map(), history => binary()}.
-export_type([report/0]).

%% Modules of aion itself, skipped when looking for the workflow's own call site.
-define(SDK, [aion, aion_flow, aion_flow_ffi, aion_flow_messages, aion_flow_fanout,
              aion_flow_config, aion_flow_gleam_ffi, aion_replay, aion_workflow,
              'aion@activity', 'aion@workflow', 'aion@timer', 'aion@signal', 'aion@query',
              'aion@child', 'aion@fanout', 'aion@error', 'aion@json', lists, erl_eval]).

%% @doc Replays a history file (a path) or a workflow's current run (a workflow id known
%% to the running engine) against `{Module, Function}'. `ok' when the code takes the
%% recorded path (a history of a run still going may end before the code does: that is
%% fine); `{error, Report}' otherwise: a divergence (`seq', `recorded', `requested',
%% `location' when known), a crash of the code, or an unreadable history.
-spec check(file:filename_all() | binary(), {module(), atom()}) -> ok | {error, report()}.
check(Source, MF) ->
    case read(Source) of
        {ok, Document} -> check_document(Document, MF);
        {error, Message} -> {error, #{message => Message}}
    end.

read(Source) ->
    case is_file(Source) of
        true ->
            case file:read_file(Source) of
                {ok, Bin} -> {ok, Bin};
                {error, Reason} -> {error, iolist_to_binary(io_lib:format("cannot read ~ts: ~p", [Source, Reason]))}
            end;
        false when is_binary(Source) ->
            case aion_flow_ffi:nif_engine_export(aion_engine:store(), Source, null) of
                {ok, Document} -> {ok, Document};
                {error, Reason} -> {error, aion_flow_ffi:reason_text(Reason)}
            end;
        false ->
            {error, iolist_to_binary(io_lib:format("no such history file: ~ts", [Source]))}
    end.

is_file(Source) ->
    try filelib:is_regular(Source) catch _:_ -> false end.

%% @doc Replays an `aion-history' JSON document against `{Module, Function}'.
-spec check_document(binary(), {module(), atom()}) -> ok | {error, report()}.
check_document(Document, {M, F}) ->
    Parent = self(),
    {Pid, Ref} = spawn_monitor(fun() -> Parent ! {self(), replay(Document, M, F)} end),
    receive
        {Pid, Result} ->
            erlang:demonitor(Ref, [flush]),
            Result;
        {'DOWN', Ref, process, Pid, Reason} ->
            {error, #{message => aion_flow_ffi:printed({replayer_crashed, Reason})}}
    end.

replay(Document, M, F) ->
    case aion_flow_ffi:nif_run_from_history(Document) of
        {ok, {Run, WorkflowId, _Type, InputJson, RunId}} ->
            ok = aion_run_ctx:put(aion_run_ctx:new(Run, WorkflowId, RunId, undefined, undefined)),
            {ok, Input} = aion_flow_ffi:json_decode(InputJson),
            Outcome = try M:F(Input) of
                Returned -> complete(Run, Returned)
            catch
                exit:aion_replay_frontier -> frontier;
                exit:{aion_continue_as_new, _} -> frontier;
                Class:Reason:Stack -> {crashed, Class, Reason, Stack}
            end,
            verdict(Run, Outcome, WorkflowId);
        {error, Reason} ->
            {error, #{message => aion_flow_ffi:reason_text(Reason)}}
    end.

complete(Run, Returned) ->
    {Kind, Value} = case Returned of
        {ok, V} -> {ok, V};
        {error, E} -> {error, E};
        Other -> {error, aion_flow_ffi:printed(Other)}
    end,
    Json = case aion_flow_ffi:json_encode(Value) of
        {ok, J} -> J;
        {error, _} -> element(2, aion_flow_ffi:json_encode(aion_flow_ffi:printed(Value)))
    end,
    _ = aion_flow_ffi:nif_run_complete(Run, Kind, Json, aion_flow_ffi:now_ms(), aion_flow_ffi:tag()),
    completed.

verdict(Run, Outcome, WorkflowId) ->
    {ok, {Divergence, _Frontier, _Left}} = aion_flow_ffi:nif_run_replay_status(Run),
    case {Divergence, Outcome} of
        {null, {crashed, Class, Reason, Stack}} ->
            {error, #{message => aion_flow_ffi:printed({Class, Reason}), location => location(Stack),
                      history => WorkflowId}};
        {null, _} ->
            ok;
        {{non_determinism, Report}, _} ->
            Base = Report#{message => aion_flow_ffi:reason_text({non_determinism, Report}),
                           history => WorkflowId},
            case get(aion_divergence_location) of
                undefined -> {error, Base};
                Location -> {error, Base#{location => Location}}
            end
    end.

%% @doc Called where a command first comes back as a divergence: remembers the workflow
%% code's call site (the first frame outside aion) for the report.
-spec note_divergence() -> ok.
note_divergence() ->
    case get(aion_divergence_location) of
        undefined ->
            {current_stacktrace, Stack} = erlang:process_info(self(), current_stacktrace),
            put(aion_divergence_location, location(Stack)),
            ok;
        _ ->
            ok
    end.

location(Stack) ->
    case [Frame || Frame = {M, _, _, _} <- Stack, not lists:member(M, ?SDK)] of
        [{M, F, A, Info} | _] ->
            Arity = if is_list(A) -> length(A); true -> A end,
            maps:from_list([{module, M}, {function, F}, {arity, Arity}] ++
                           [{file, list_to_binary(File)} || {file, File} <- Info] ++
                           [{line, Line} || {line, Line} <- Info]);
        [] ->
            #{}
    end.

%% @doc Command-line entry (`make replay'): replays every history in `Histories' (a file,
%% a directory of `*.json' files, or a comma-separated list) against `"module:function"',
%% prints one line per history and each divergence, and halts with status 0 when all
%% replay cleanly, 1 otherwise.
-spec main(string(), string()) -> no_return().
main(Histories, Workflow) ->
    case string:split(Workflow, ":") of
        [M, F] ->
            Files = files(Histories),
            Results = [{File, check(File, {list_to_atom(M), list_to_atom(F)})} || File <- Files],
            [print(File, Result) || {File, Result} <- Results],
            Failed = length([R || {_, {error, _} = R} <- Results]),
            io:format("~b histories, ~b diverged~n", [length(Files), Failed]),
            erlang:halt(if Failed =:= 0, Files =/= [] -> 0; true -> 1 end);
        _ ->
            io:format("WORKFLOW must be module:function, got ~ts~n", [Workflow]),
            erlang:halt(2)
    end.

files(Spec) ->
    lists:append([case filelib:is_dir(P) of
                      true -> lists:sort(filelib:wildcard(filename:join(P, "*.json")));
                      false -> [P]
                  end || P <- string:lexemes(Spec, ",")]).

print(File, ok) ->
    io:format("ok        ~ts~n", [File]);
print(File, {error, Report}) ->
    io:format("DIVERGED  ~ts~n", [File]),
    [io:format("  ~s: ~ts~n", [K, format_value(V)]) || {K, V} <- lists:sort(maps:to_list(Report))],
    ok.

format_value(V) when is_binary(V) -> V;
format_value(#{module := M, function := F, arity := A} = L) ->
    io_lib:format("~s:~s/~b~s", [M, F, A, case L of
                                            #{file := File, line := Line} -> io_lib:format(" (~ts:~b)", [File, Line]);
                                            _ -> ""
                                        end]);
format_value(V) -> io_lib:format("~0tp", [V]).

