%% @doc Validates workflow-side options and turns them into the JSON the engine records.
-module(aion_flow_config).

-export([activity_options/1]).

%% The longest duration an option may give (a hundred years, in ms): far beyond any real
%% deadline, and well inside the 64-bit integers of histories and timers (a larger value
%% would be read as no limit at all).
-define(MAX_MS, 3155760000000).

%% @doc Checks activity options (see `aion_flow:activity/3') and encodes them as JSON.
%% Returns `{error, {bad_option, What}}' naming the first bad key or value.
-spec activity_options(map()) -> {ok, binary()} | {error, {bad_option, term()}}.
activity_options(Opts) when map_size(Opts) =:= 0 ->
    {ok, <<"{}">>};
activity_options(Opts) ->
    try
        Config = maps:fold(fun activity_option/3, #{}, Opts),
        {ok, _} = aion_flow_ffi:json_encode(Config)
    catch
        throw:{bad_option, _} = Bad -> {error, Bad}
    end.

activity_option(retry, Retry, Acc) when is_map(Retry) ->
    Acc#{<<"retry">> => maps:fold(fun retry_option/3, #{}, Retry)};
activity_option(start_to_close_ms, Ms, Acc) when is_integer(Ms), Ms > 0, Ms =< ?MAX_MS ->
    Acc#{<<"start_to_close_ms">> => Ms};
activity_option(schedule_to_close_ms, Ms, Acc) when is_integer(Ms), Ms > 0, Ms =< ?MAX_MS ->
    Acc#{<<"schedule_to_close_ms">> => Ms};
activity_option(heartbeat_timeout_ms, Ms, Acc) when is_integer(Ms), Ms > 0, Ms =< ?MAX_MS ->
    Acc#{<<"heartbeat_timeout_ms">> => Ms};
activity_option(task_queue, Q, Acc) when is_binary(Q), byte_size(Q) > 0 ->
    Acc#{<<"task_queue">> => Q};
activity_option(Key, Value, _Acc) ->
    throw({bad_option, {Key, Value}}).

retry_option(max_attempts, N, Acc) when is_integer(N), N >= 0 ->
    Acc#{<<"max_attempts">> => N};
retry_option(initial_interval_ms, N, Acc) when is_integer(N), N >= 0, N =< ?MAX_MS ->
    Acc#{<<"initial_interval_ms">> => N};
retry_option(max_interval_ms, N, Acc) when is_integer(N), N >= 0, N =< ?MAX_MS ->
    Acc#{<<"max_interval_ms">> => N};
retry_option(backoff_coefficient, C, Acc) when is_number(C), C >= 1 ->
    Acc#{<<"backoff_coefficient">> => float(C)};
retry_option(non_retryable, Types, Acc) when is_list(Types) ->
    Acc#{<<"non_retryable">> => [error_type(T) || T <- Types]};
retry_option(Key, Value, _Acc) ->
    throw({bad_option, {retry, Key, Value}}).

error_type(T) when is_atom(T) -> atom_to_binary(T);
error_type(T) when is_binary(T) -> T;
error_type(T) -> throw({bad_option, {retry, non_retryable, T}}).
