%% The benchmark's separate BEAM nodes: the scenarios that kill -9 a node and time how a
%% fresh node on the same data directory takes over (recover10k, replay20k). The
%% benchmark process starts a node with `spawn/3' (an `erl -noshell' OS process, as the
%% crash tests do), reads what the node reports on stdout with `expect/3' and kills it.
%%
%% A node reports one Erlang term per line, `aion_bench_node <term>.'; everything else it
%% prints (logs) is passed through. A node halts when its stdin closes (the benchmark
%% went away) and after 5 minutes in any case, so it never outlives the benchmark.
%% aion_bench_cluster's second node reports and watches the same way (`report/1',
%% `watchdog/0').
%%
%% Node phases (`main(Scenario, Phase, DataDir)'):
%%   recover10k start:  starts N workflows `w-1'..`w-N' that each wait for signal "go",
%%                      reports `{ready, N}' once every run's process waits for it.
%%   recover10k resume: boots (the clock starts before the application does), reports
%%                      `{replayed, Ms}' once every run's process waits again, signals
%%                      each run from 50 clients, awaits them, reports `{completed, ...}'.
%%   replay20k start:   runs one workflow of N sequential no-op activities, which then
%%                      waits for signal "go"; reports `{ready, Head}' once it waits.
%%   replay20k resume:  boots, signals the run at once, reports when its head first grows
%%                      past the recorded one and when it completes.
-module(aion_bench_node).

-export([main/4, waiter/1, chain/1, noop/1]).
-export([spawn/3, expect/3, kill/1, wait_exit/2, waiting_runs/0, report/1, watchdog/0]).

-define(TAG, "aion_bench_node ").

%% --- the node side ---------------------------------------------------------------------

main(Scenario, Phase, Dir, N) ->
    T0 = erlang:monotonic_time(microsecond),
    watchdog(),
    logger:set_primary_config(level, warning),
    report({pid, list_to_integer(os:getpid())}),
    ok = application:load(aion),
    ok = application:set_env(aion, data_dir, Dir),
    ok = application:set_env(aion, store, sqlite),
    {ok, _} = application:ensure_all_started(aion),
    ok = aion:register_activity(<<"noop">>, {?MODULE, noop}),
    phase(Scenario, Phase, T0, N).

phase("recover10k", "start", _T0, N) ->
    %% Registering a type resumes its runs: nothing to resume on a fresh directory.
    ok = aion:register_workflow(<<"waiter">>, {?MODULE, waiter}),
    parallel(50, N, fun(I) -> {ok, _} = aion:start_workflow(<<"waiter">>, I, #{workflow_id => wid(I)}) end),
    wait(fun() -> waiting_runs() >= N end),
    report({ready, N}),
    receive never -> ok end;
phase("recover10k", "resume", T0, N) ->
    %% Registering the type resumes every run found running in the store.
    ok = aion:register_workflow(<<"waiter">>, {?MODULE, waiter}),
    Registered = since(T0),
    wait(fun() -> waiting_runs() >= N end),
    Replayed = since(T0),
    report({replayed, Replayed}),
    T1 = erlang:monotonic_time(microsecond),
    %% 50 clients, each signals its share of the runs, then awaits each of them.
    parallel_chunks(50, N, fun(Is) ->
        _ = [ok = aion:signal(wid(I), <<"go">>, I) || I <- Is],
        _ = [{ok, I} = aion:await(wid(I), 120000) || I <- Is],
        ok
    end),
    Completed = since(T0),
    report({completed, #{registered_ms => Registered, replayed_ms => Replayed,
                         completed_ms => Completed, signal_to_done_ms => since(T1)}}),
    erlang:halt(0);
phase("replay20k", "start", _T0, N) ->
    ok = aion:register_workflow(<<"chain">>, {?MODULE, chain}),
    {ok, Id} = aion:start_workflow(<<"chain">>, #{<<"n">> => N}, #{workflow_id => <<"chain">>}),
    %% Each activity is three events (ActivityScheduled, ActivityStarted,
    %% ActivityCompleted) after WorkflowStarted: wait for them all and for the run to wait
    %% for the signal, then check the history once.
    wait(fun() -> head(Id) >= 3 * N + 1 andalso waiting_runs() >= 1 end, 50),
    N = length(activities_done(Id)),
    report({ready, head(Id)}),
    receive never -> ok end;
phase("replay20k", "resume", T0, Recorded) ->
    %% `Recorded': the head the run had when the first node was killed.
    Id = <<"chain">>,
    ok = aion:register_workflow(<<"chain">>, {?MODULE, chain}),
    ok = aion:signal(Id, <<"go">>, <<"after-crash">>),
    Signalled = since(T0),
    FirstNew = wait_head_above(Id, Recorded, T0),
    {ok, <<"after-crash">>} = aion:await(Id, 120000),
    Completed = since(T0),
    {ok, History} = aion:history(Id),
    NewTypes = [T || #{seq := S, type := T} <- History, S > Recorded],
    report({completed, #{signalled_ms => Signalled, first_new_event_ms => FirstNew,
                         completed_ms => Completed, new_events => NewTypes,
                         head => length(History)}}),
    erlang:halt(0).

%% Polls the run's head every millisecond until it is above `Head'; the time since boot.
wait_head_above(Id, Head, T0) ->
    case aion:describe(Id) of
        {ok, #{head := H}} when H > Head -> since(T0);
        {ok, _} -> timer:sleep(1), wait_head_above(Id, Head, T0)
    end.

activities_done(Id) ->
    {ok, History} = aion:history(Id),
    [O || #{type := <<"ActivityCompleted">>, ordinal := O} <- History].

head(Id) ->
    {ok, #{head := H}} = aion:describe(Id),
    H.

%% The workflows.
waiter(I) ->
    {ok, Payload} = aion_flow:receive_signal(<<"go">>),
    I = Payload,
    {ok, Payload}.

chain(#{<<"n">> := N}) ->
    lists:foreach(fun(I) -> {ok, _} = aion_flow:activity(<<"noop">>, I) end, lists:seq(1, N)),
    {ok, Go} = aion_flow:receive_signal(<<"go">>),
    {ok, Go}.

noop(_) -> {ok, null}.

wid(I) -> <<"w-", (integer_to_binary(I))/binary>>.

since(T0) -> (erlang:monotonic_time(microsecond) - T0) div 1000.

%% Runs whose process waits for a wake (an activity result, a timer, an inbox entry) in
%% `receive', after its replay: what a run waiting for a signal looks like.
waiting_runs() ->
    length([P || {_, P} <- ets:tab2list(aion_runs),
                 process_info(P, [status, current_function]) =:=
                     [{status, waiting}, {current_function, {aion_flow_ffi, wake, 2}}]]).

wait(Fun) -> wait(Fun, 10).
wait(Fun, Ms) ->
    case Fun() of
        true -> ok;
        false -> timer:sleep(Ms), wait(Fun, Ms)
    end.

%% Runs `Fun(I)' for I in 1..N from `Workers' processes taking the next I in turn.
parallel(Workers, N, Fun) ->
    Next = atomics:new(1, []),
    Loop = fun Loop() ->
                   I = atomics:add_get(Next, 1, 1),
                   I =< N andalso begin Fun(I), Loop() end
           end,
    run_all([fun() -> Loop() end || _ <- lists:seq(1, Workers)]).

%% Runs `Fun(Is)' in `Workers' processes, each with every Workers-th I of 1..N.
parallel_chunks(Workers, N, Fun) ->
    run_all([fun() -> Fun(lists:seq(W, N, Workers)) end || W <- lists:seq(1, Workers)]).

run_all(Funs) ->
    Self = self(),
    Refs = [begin
                Ref = make_ref(),
                spawn_link(fun() -> F(), Self ! Ref end),
                Ref
            end || F <- Funs],
    [receive Ref -> ok end || Ref <- Refs],
    ok.

report(Term) ->
    io:format("~s~w.~n", [?TAG, Term]).

%% The node halts when the benchmark that started it goes away (its stdin closes), and
%% after 5 minutes whatever happens.
watchdog() ->
    spawn(fun() -> timer:sleep(300000), erlang:halt(3) end),
    spawn(fun Loop() ->
                  case io:get_line('') of
                      eof -> erlang:halt(2);
                      {error, _} -> erlang:halt(2);
                      _ -> Loop()
                  end
          end).

%% --- the benchmark side ----------------------------------------------------------------

%% Starts `erl -noshell' running `main(Scenario, Phase, DataDir, N)'; returns the port.
spawn(Scenario, Phase, {Dir, N}) ->
    Erl = os:find_executable("erl"),
    Paths = lists:usort([filename:dirname(code:which(M)) || M <- [aion, ?MODULE]]),
    Eval = lists:flatten(io_lib:format("~p:main(~p, ~p, ~p, ~p)", [?MODULE, Scenario, Phase, Dir, N])),
    Args = ["-noshell"] ++ lists:append([["-pa", P] || P <- Paths]) ++ ["-eval", Eval],
    open_port({spawn_executable, Erl},
              [{args, Args}, exit_status, stderr_to_stdout, binary, {line, 65536}]).

%% Waits up to `Timeout' ms for the node to report a term tagged `Tag' (or equal to it);
%% passes other output through. A node that exits first is an error.
expect(Port, Tag, Timeout) ->
    Deadline = erlang:monotonic_time(millisecond) + Timeout,
    expect_until(Port, Tag, Deadline).

expect_until(Port, Tag, Deadline) ->
    Left = max(0, Deadline - erlang:monotonic_time(millisecond)),
    receive
        {Port, {data, {eol, <<?TAG, Text/binary>>}}} ->
            {ok, Tokens, _} = erl_scan:string(binary_to_list(Text)),
            {ok, Term} = erl_parse:parse_term(Tokens),
            case Term of
                Tag -> Term;
                _ when element(1, Term) =:= Tag -> Term;
                _ -> expect_until(Port, Tag, Deadline)
            end;
        {Port, {data, {_, Out}}} ->
            io:format(standard_error, "node: ~s~n", [Out]),
            expect_until(Port, Tag, Deadline);
        {Port, {exit_status, Status}} ->
            erlang:error({node_exited, Status, waiting_for, Tag})
    after Left ->
        kill(Port),
        erlang:error({timeout_waiting_for, Tag})
    end.

%% kill -9 of the node's OS process (the `erl' script execs the emulator: the port's OS
%% process is the node's); returns the exit status the port reports.
kill(Port) ->
    case erlang:port_info(Port, os_pid) of
        {os_pid, OsPid} -> _ = os:cmd("kill -9 " ++ integer_to_list(OsPid)), wait_exit(Port, 30000);
        undefined -> gone
    end.

wait_exit(Port, Timeout) ->
    receive
        {Port, {data, {_, Out}}} -> io:format(standard_error, "node: ~s~n", [Out]), wait_exit(Port, Timeout);
        {Port, {exit_status, Status}} -> Status
    after Timeout ->
        erlang:error(node_did_not_exit)
    end.
