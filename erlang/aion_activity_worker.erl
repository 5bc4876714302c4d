%% @doc One activity attempt, in its own process (spawned, linked and monitored by
%% `aion_activity_pool').
%%
%% The worker looks the activity up in the registry, decodes its JSON input, calls
%% `Module:Function(Input)' and reports the outcome to the workflow process as
%% `{aion_activity_result, RunId, Ordinal, Attempt, OutcomeJson}'. What the activity returns
%% decides the outcome:
%% <ul>
%% <li>`{ok, Result}': completed (a result that is not JSON-compatible is a terminal failure
%%   of type `bad_result');</li>
%% <li>`{error, {terminal, Reason}}': failed, never retried;</li>
%% <li>`{error, Reason}': failed, retried as the policy says;</li>
%% <li>an exception: failed with type `crash', retried.</li>
%% </ul>
%% The error type that `non_retryable' matches is `Reason' itself when it is an atom, the
%% first element when it is a tuple starting with an atom, else `error'.
%%
%% A failed attempt's outcome carries the details of its last heartbeat (see
%% `aion_activity'), when it sent any: `{"error": {"type", "message", "retryable",
%% "details"}}'.
-module(aion_activity_worker).

-include_lib("kernel/include/logger.hrl").

-export([report/2]).
-export([report/3]).
-export([crash_outcome/1]).
-export([timeout_outcome/1]).
-export([heartbeat_timeout_outcome/1]).
-export([expired_outcome/0]).
-export([init/1]).

-type job() :: #{workflow := pid(), workflow_id := binary() | undefined, run_id := binary() | undefined,
                 ordinal := pos_integer(), attempt := pos_integer(), name := binary(),
                 input := binary(), timeout := pos_integer() | infinity,
                 heartbeat_timeout => pos_integer() | infinity,
                 last_heartbeat => binary() | none,
                 %% The schedule-to-close deadline (system time, ms), if any.
                 deadline => integer() | infinity,
                 %% The pool that started the worker (set by the pool).
                 pool => pid()}.
-type outcome() :: {ok, term()} | {error, binary(), binary(), boolean()}.
-export_type([job/0, outcome/0]).

%% @doc Sends an attempt's outcome to its workflow process.
-spec report(job(), outcome()) -> ok.
report(Job, Outcome) ->
    report(Job, Outcome, none).

%% @doc Sends an attempt's outcome to its workflow process; a failure carries `Details'
%% (the JSON text of the attempt's last heartbeat details, or `none').
-spec report(job(), outcome(), binary() | none) -> ok.
report(#{workflow := Pid, run_id := RunId, ordinal := Ordinal, attempt := Attempt}, Outcome, Details) ->
    Pid ! {aion_activity_result, RunId, Ordinal, Attempt, outcome_json(Outcome, Details)},
    ok.

%% @doc The outcome of an attempt whose process died with `Reason'.
-spec crash_outcome(term()) -> outcome().
crash_outcome(Reason) ->
    {error, <<"crash">>, format(Reason), true}.

%% @doc The outcome of an attempt that ran past its `start_to_close' deadline.
-spec timeout_outcome(job()) -> outcome().
timeout_outcome(#{timeout := Ms}) ->
    {error, <<"timeout">>, iolist_to_binary(io_lib:format("attempt ran longer than ~p ms", [Ms])), true}.

%% @doc The outcome of an attempt whose schedule-to-close deadline passed while it waited in
%% its task queue (it never started).
-spec expired_outcome() -> outcome().
expired_outcome() ->
    {error, <<"timeout">>, <<"the schedule_to_close deadline passed while the attempt waited in its task queue">>, true}.

%% @doc The outcome of an attempt that went longer than its `heartbeat_timeout' without a
%% heartbeat.
-spec heartbeat_timeout_outcome(job()) -> outcome().
heartbeat_timeout_outcome(#{heartbeat_timeout := Ms}) ->
    {error, <<"heartbeat_timeout">>,
     iolist_to_binary(io_lib:format("no heartbeat for ~p ms", [Ms])), true}.

%% @private The attempt's process body.
-spec init(job()) -> ok.
init(Job = #{workflow_id := Id, ordinal := Ordinal, name := Name, attempt := Attempt,
             input := InputJson}) ->
    ok = aion_activity:begin_attempt(Ordinal, Attempt, maps:get(last_heartbeat, Job, none),
                                     maps:get(pool, Job, undefined)),
    logger:set_process_metadata(#{workflow_id => Id, activity => Name, attempt => Attempt,
                                  aion => activity}),
    Attempt > 1 andalso
        ?LOG_NOTICE(#{what => activity_retry, workflow_id => Id, activity => Name,
                      attempt => Attempt}),
    Started = erlang:monotonic_time(),
    Outcome = run(Name, InputJson),
    Took = erlang:monotonic_time() - Started,
    case Outcome of
        {ok, _} ->
            aion_metrics:activity_attempt(Name, Attempt, ok, Took);
        {error, Type, Message, Retryable} ->
            %% A failed attempt the policy may retry is news an operator wants to see.
            ?LOG_NOTICE(#{what => activity_attempt_failed, workflow_id => Id, activity => Name,
                          attempt => Attempt, type => Type, reason => Message,
                          retryable => Retryable}),
            aion_metrics:activity_attempt(Name, Attempt, {error, Type, Retryable}, Took)
    end,
    report(Job, Outcome, aion_activity:recorded(self())).

run(Name, InputJson) ->
    case aion_engine:lookup(activity, Name) of
        {ok, Callback} ->
            {ok, Input} = aion_flow_ffi:json_decode(InputJson),
            try aion_engine:call(Callback, Input) of
                {ok, Result} -> {ok, Result};
                {error, {terminal, Reason}} -> {error, error_type(Reason), format(Reason), false};
                {error, Reason} -> {error, error_type(Reason), format(Reason), true};
                Other -> {error, <<"bad_return">>,
                          format({expected_ok_or_error_tuple, Other}), false}
            catch
                Class:Reason:Stack ->
                    ?LOG_WARNING(#{what => activity_crashed, class => Class, reason => Reason,
                                   stacktrace => Stack}),
                    {error, <<"crash">>, format({Class, Reason}), true}
            end;
        error ->
            {error, <<"unknown_activity">>, <<"no activity registered as ", Name/binary>>, true}
    end.

%% A result that is not JSON-compatible, nests too deep or is larger than
%% `max_payload_bytes' is a terminal failure of type `bad_result' (it could not be
%% recorded); an error's message is cut (see `aion_flow_ffi:cut_text/1').
outcome_json({ok, Result}, _Details) ->
    case aion:encode_payload(Result) of
        {ok, Json} -> <<"{\"ok\":", Json/binary, "}">>;
        {error, Reason} -> outcome_json({error, <<"bad_result">>, aion_flow_ffi:reason_text(Reason), false}, none)
    end;
outcome_json({error, Type, Message, Retryable}, Details) ->
    {ok, Json} = aion_flow_ffi:json_encode(#{<<"error">> => #{
        <<"type">> => Type, <<"message">> => aion_flow_ffi:cut_text(Message), <<"retryable">> => Retryable}}),
    case Details of
        none ->
            Json;
        _ ->
            %% The details are JSON text already (checked when recorded): they go in as
            %% they are, after the error's other fields (`...}}' loses its last two bytes).
            Head = binary:part(Json, 0, byte_size(Json) - 2),
            <<Head/binary, ",\"details\":", Details/binary, "}}">>
    end.

error_type(Reason) when is_atom(Reason) -> atom_to_binary(Reason);
error_type(Reason) when is_tuple(Reason), tuple_size(Reason) > 0, is_atom(element(1, Reason)) ->
    atom_to_binary(element(1, Reason));
error_type(_) -> <<"error">>.

format(Reason) when is_binary(Reason) ->
    case unicode:characters_to_binary(Reason) of
        Bin when is_binary(Bin) -> Bin;
        _ -> iolist_to_binary(io_lib:format("~0p", [Reason]))
    end;
format(Reason) ->
    aion_flow_ffi:printed(Reason).
