%% @doc Erlang glue for the Gleam module `aion/schedule' (see `aion_schedule'): Gleam
%% values to the Erlang API and back.
-module(aion_schedule_gleam_ffi).

-export([create/2, pause/1, unpause/1, trigger/1, delete/1, describe/1, list/0]).

%% @doc `aion/schedule.create'.
-spec create(binary(), tuple()) -> {ok, nil} | {error, term()}.
create(Id, {spec, Workflow, Input, Timing, Overlap, Catchup, Paused}) ->
    Spec = (timing(Timing))#{workflow => Workflow, input => Input, overlap => Overlap,
                             catchup_window_ms => Catchup, paused => Paused},
    nil_result(aion:create_schedule(Id, Spec)).

timing({cron, Expr, Offset}) -> #{cron => Expr, utc_offset => Offset};
timing({every, Ms}) -> #{every_ms => Ms}.

%% @doc `aion/schedule.pause'.
-spec pause(binary()) -> {ok, nil} | {error, term()}.
pause(Id) -> nil_result(aion:pause_schedule(Id)).

%% @doc `aion/schedule.unpause'.
-spec unpause(binary()) -> {ok, nil} | {error, term()}.
unpause(Id) -> nil_result(aion:unpause_schedule(Id)).

%% @doc `aion/schedule.delete'.
-spec delete(binary()) -> {ok, nil} | {error, term()}.
delete(Id) -> nil_result(aion:delete_schedule(Id)).

%% @doc `aion/schedule.trigger'.
-spec trigger(binary()) -> {ok, term()} | {error, term()}.
trigger(Id) ->
    case aion:trigger_schedule(Id) of
        {ok, #{outcome := started, workflow_id := W}} -> {ok, {started, W}};
        {ok, #{outcome := skipped}} -> {ok, skipped};
        {ok, #{outcome := buffered}} -> {ok, buffered};
        {ok, #{outcome := failed}} -> {ok, start_failed};
        Error -> nil_result(Error)
    end.

%% @doc `aion/schedule.describe'.
-spec describe(binary()) -> {ok, tuple()} | {error, term()}.
describe(Id) ->
    case aion:describe_schedule(Id) of
        {ok, Info} -> {ok, info(Info)};
        Error -> nil_result(Error)
    end.

%% @doc `aion/schedule.list'.
-spec list() -> {ok, [tuple()]} | {error, term()}.
list() ->
    case aion:list_schedules() of
        {ok, Infos} -> {ok, [info(I) || I <- Infos]};
        Error -> nil_result(Error)
    end.

info(#{id := Id, workflow := W, paused := P, next_runs := Next, running := R, counts := C}) ->
    Counts = list_to_tuple([counts | [maps:get(K, C, 0) || K <- [started, skipped_overlap, missed,
                                                                  paused, failed, buffered]]]),
    {info, Id, W, P, Next, case R of null -> {error, nil}; _ -> {ok, R} end, Counts}.

nil_result(ok) -> {ok, nil};
nil_result({error, not_found}) -> {error, not_found};
nil_result({error, {already_exists, _}}) -> {error, already_exists};
nil_result({error, {unknown_workflow_type, T}}) -> {error, {unknown_workflow_type, T}};
nil_result({error, {bad_schedule, Why}}) -> {error, {bad_schedule, aion_flow_ffi:printed(Why)}};
nil_result({error, Other}) -> {error, {schedule_failure, aion_flow_ffi:printed(Other)}}.
