%% Shared set-up for the eunit suites: a fresh data directory and a started application.
-module(aion_test_support).

-export([start/0, start/1, stop/1, wait_until/2, tmp_dir/1, ensure_calls_table/0]).

start() -> start(sqlite).

%% Starts aion on a fresh data directory with the given store; returns the directory.
start(Store) ->
    ensure_calls_table(),
    Dir = tmp_dir("aion_eunit"),
    application:stop(aion),
    _ = application:load(aion),
    ok = application:set_env(aion, data_dir, Dir),
    ok = application:set_env(aion, store, Store),
    {ok, _} = application:ensure_all_started(aion),
    ok = aion_test_flows:register_all(),
    Dir.

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
