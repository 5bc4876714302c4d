%% @doc The workflow-side API: what workflow code calls. Every call here is recorded in
%% the run's history the first time and answered from it on replay, so it must only be
%% called from a workflow process (the one `aion' started for the run); anywhere else it
%% returns `{error, not_in_workflow}'.
-module(aion_flow).

-export([activity/2]).
-export([activity/3]).

-type activity_error() ::
    {activity_failed, #{activity := binary(), type := binary(), message := binary(),
                        attempts := pos_integer()}}
    | {activity_timeout, #{activity := binary(), type := binary(), message := binary(),
                           attempts := pos_integer()}}
    | {invalid_input, binary()}
    | {payload_too_large, non_neg_integer(), non_neg_integer()}
    | {bad_option, term()}
    | {non_determinism, binary()}
    | not_in_workflow
    | {aion, binary()}.
-type retry_opts() :: #{max_attempts => non_neg_integer(), initial_interval_ms => non_neg_integer(),
                        backoff_coefficient => number(), max_interval_ms => non_neg_integer(),
                        non_retryable => [atom() | binary()]}.
-type activity_opts() :: #{retry => retry_opts(), start_to_close_ms => pos_integer(),
                           task_queue => binary()}.
-export_type([activity_error/0, activity_opts/0, retry_opts/0]).

%% @doc Runs activity `Name' with `Input' and the default options. See `activity/3'.
-spec activity(binary(), term()) -> {ok, term()} | {error, activity_error()}.
activity(Name, Input) ->
    activity(Name, Input, #{}).

%% @doc Runs activity `Name' with `Input' and returns its result, retrying failed attempts
%% as `Opts' says; every attempt is in the history, and retries carry on after a restart.
%% `Opts': `retry => #{max_attempts (3; 0 = no limit), initial_interval_ms (100),
%% backoff_coefficient (2.0), max_interval_ms (10000), non_retryable => [ErrorType]}',
%% `start_to_close_ms' (per-attempt deadline, default none), `task_queue' (default
%% `<<"default">>').
%%
%% Errors: `{activity_failed, Info}' when the activity failed for good (a terminal error, a
%% non-retryable type, or attempts used up) and `{activity_timeout, Info}' when the last
%% attempt ran out of time, with `Info' = `#{activity, type, message, attempts}';
%% `{invalid_input, Why}', `{payload_too_large, Size, Limit}', `{bad_option, Opt}' for bad
%% arguments (nothing is recorded); `{non_determinism, Report}' when the code no longer
%% matches the run's history (the run is then blocked, see `aion:describe/1').
-spec activity(binary(), term(), activity_opts()) -> {ok, term()} | {error, activity_error()}.
activity(Name, Input, Opts) when is_binary(Name), is_map(Opts) ->
    case {aion_flow_config:activity_options(Opts), aion:encode_payload(Input)} of
        {{ok, Config}, {ok, InputJson}} ->
            case aion_flow_ffi:dispatch_activity(Name, InputJson, Config) of
                {ok, Corr} -> decode_result(aion_flow_ffi:await_activity_result(Corr));
                {error, Msg} -> {error, wire_reason(Msg)}
            end;
        {{error, _} = Error, _} -> Error;
        {_, {error, _} = Error} -> Error
    end;
activity(Name, _Input, Opts) when is_binary(Name) ->
    {error, {bad_option, Opts}};
activity(Name, _Input, _Opts) ->
    {error, {bad_option, {name, Name}}}.

decode_result({ok, Json}) ->
    aion_flow_ffi:json_decode(Json);
decode_result({error, Msg}) ->
    {error, wire_reason(Msg)}.

%% Maps a wire error to the reason workflow code sees.
wire_reason(Msg) ->
    case aion_flow_ffi:split_error(Msg) of
        {Prefix, Detail} when Prefix =:= <<"terminal">>; Prefix =:= <<"timeout">> ->
            case aion_flow_ffi:json_decode(Detail) of
                {ok, #{<<"activity">> := A, <<"type">> := T, <<"message">> := M, <<"attempts">> := N}} ->
                    Tag = case Prefix of <<"timeout">> -> activity_timeout; _ -> activity_failed end,
                    {Tag, #{activity => A, type => T, message => M, attempts => N}};
                _ ->
                    {aion, Msg}
            end;
        {<<"non_determinism">>, _} -> {non_determinism, Msg};
        {<<"not_running">>, _} -> not_in_workflow;
        {<<"invalid">>, Detail} -> {bad_option, Detail};
        _ -> {aion, Msg}
    end.
