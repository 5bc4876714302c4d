%% Shared set-up for the eunit suites: a fresh data directory and a started application.
-module(aion_test_support).

-export([os_node/2, wait_for_file/3, wait_exit/2]).
-export([start/0, start/1, stop/1, wait_until/2, tmp_dir/1, ensure_calls_table/0]).
-export([key/0, start_run/2, start_run/3, types/1, events/2, kill_and_replay/1,
         waiting_in_receive/1, waiting_worker/1]).

start() -> start(sqlite).

%% Starts aion on a fresh data directory with the given store; returns the directory. With
%% `AION_TEST_STORE=postgres' (and `AION_PG_URL', see test/with_pg.sh) the durable store of
%% the suites is PostgreSQL instead of SQLite: each start gets a fresh schema, kept across
%% restarts of the application within the test.
start(Store) ->
    ensure_calls_table(),
    Dir = tmp_dir("aion_eunit"),
    application:stop(aion),
    _ = application:load(aion),
    ok = application:set_env(aion, data_dir, Dir),
    ok = set_store(Store),
    {ok, _} = application:ensure_all_started(aion),
    ok = aion_test_flows:register_all(),
    Dir.

set_store(sqlite) ->
    case os:getenv("AION_TEST_STORE") of
        "postgres" ->
            Url = case os:getenv("AION_PG_URL") of
                false -> erlang:error(aion_test_store_postgres_needs_AION_PG_URL);
                U -> U
            end,
            ok = application:set_env(aion, store, postgres),
            ok = application:set_env(aion, postgres_url, Url),
            ok = application:set_env(aion, postgres_pool, 2),
            application:set_env(aion, postgres_schema, "t" ++ key_list());
        _ ->
            application:set_env(aion, store, sqlite)
    end;
set_store(sqlite_file) ->
    application:set_env(aion, store, sqlite);
set_store(Store) ->
    application:set_env(aion, store, Store).

key_list() ->
    integer_to_list(erlang:unique_integer([positive])) ++ "_" ++ os:getpid().

stop(_Dir) ->
    ok = application:stop(aion).

tmp_dir(Prefix) ->
    Base = case os:getenv("TMPDIR") of false -> "/tmp"; T -> T end,
    Dir = filename:join(Base, Prefix ++ "_" ++ integer_to_list(erlang:unique_integer([positive]))
                              ++ "_" ++ os:getpid()),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    Dir.

%% The call-count table outlives every test process.
ensure_calls_table() ->
    case ets:whereis(aion_test_calls) of
        undefined ->
            Parent = self(),
            spawn(fun() ->
                ets:new(aion_test_calls, [named_table, public, set]),
                Parent ! table_ready,
                receive never -> ok end
            end),
            receive table_ready -> ok end;
        _ ->
            ok
    end.

%% Polls `Fun' until it returns true; fails the test after `TimeoutMs'.
wait_until(Fun, TimeoutMs) when TimeoutMs =< 0 ->
    erlang:error({timeout_waiting_for, Fun()});
wait_until(Fun, TimeoutMs) ->
    case Fun() of
        true -> ok;
        _ -> timer:sleep(20), wait_until(Fun, TimeoutMs - 20)
    end.

%% A fresh unique key for a test's data.
key() -> integer_to_binary(erlang:unique_integer([positive])).

%% Starts a workflow and returns its id.
start_run(Type, Input) ->
    start_run(Type, Input, #{}).
start_run(Type, Input, Opts) ->
    {ok, Id} = aion:start_workflow(Type, Input, Opts),
    Id.

%% The event types of a workflow's history, in order.
types(Id) ->
    {ok, H} = aion:history(Id),
    [T || #{type := T} <- H].

%% The events of one type in a workflow's history.
events(Id, Type) ->
    {ok, H} = aion:history(Id),
    [E || E = #{type := T} <- H, T =:= Type].

%% Kills a workflow's process and waits until its supervisor has replayed it.
kill_and_replay(Id) ->
    [{_, Pid}] = ets:lookup(aion_runs, Id),
    exit(Pid, kill),
    wait_until(fun() ->
        case ets:lookup(aion_runs, Id) of
            [{_, P}] -> P =/= Pid andalso is_process_alive(P);
            [] -> false
        end
    end, 5000).

%% Waits until a workflow's process waits in receive.
waiting_in_receive(Id) ->
    wait_until(fun() ->
        case ets:lookup(aion_runs, Id) of
            [{_, P}] -> element(2, process_info(P, status)) =:= waiting;
            [] -> false
        end
    end, 5000).

%% The `wait_release' activity worker blocked on key `K' (waits for it).
waiting_worker(K) ->
    wait_until(fun() -> ets:lookup(aion_test_calls, {waiting, K}) =/= [] end, 10000),
    [{_, Pid}] = ets:lookup(aion_test_calls, {waiting, K}),
    Pid.

%% A BEAM node as a separate OS process (for kill -9 tests): `erl -noshell' with the code
%% paths of `Modules', evaluating `Eval'. Returns its port (output and exit status).
os_node(Modules, Eval) ->
    Erl = os:find_executable("erl"),
    Paths = lists:usort([filename:dirname(code:which(M)) || M <- Modules]),
    Args = ["-noshell"] ++ lists:append([["-pa", P] || P <- Paths]) ++ ["-eval", lists:flatten(Eval)],
    open_port({spawn_executable, Erl}, [{args, Args}, exit_status, stderr_to_stdout, binary]).

%% Waits for `File' while the node of `Port' runs; a node that dies first fails the test
%% (its output is printed as it comes).
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

%% The exit status of the node of `Port' (its output printed as it comes).
wait_exit(Port, Timeout) ->
    receive
        {Port, {data, Out}} -> io:format(user, "~s", [Out]), wait_exit(Port, Timeout);
        {Port, {exit_status, Status}} -> Status
    after Timeout -> erlang:error(node_did_not_exit)
    end.
