%% @doc One workflow, in its own process: its current run, and the runs it continues as.
%%
%% The process loads the run's history into a run resource (read once per start), keeps the
%% resource in its process dictionary for `aion_flow_ffi', and calls the registered
%% `Module:Function(Input)'. Commands the code issues are answered from history while
%% recorded ones remain (replay) and recorded live after that. When the function returns,
%% its outcome is recorded and awaiting callers are told.
%%
%% Outcomes: `{ok, Result}' completes the run; `{error, Reason}', any other return value, or
%% an exception fails it; after a cancellation request the run closes as cancelled whatever
%% the code returns. `aion_flow:continue_as_new/1' closes the run and starts the next one in
%% the same process. The execution deadline (`execution_timeout_ms') ends the run as
%% timed out at the first wait past it.
%%
%% A run whose code diverges from its history (non-determinism) is <em>blocked</em>:
%% nothing more is written, the reason is shown by `aion:describe/1', and the run is
%% replayed again when its type is registered again or the node restarts, so a fixed
%% deploy can carry it on.
-module(aion_workflow).

-include_lib("kernel/include/logger.hrl").

-export([start_link/1]).
-export([init/2]).

%% @doc Starts the process of workflow `WorkflowId'.
-spec start_link(binary()) -> {ok, pid()}.
start_link(WorkflowId) ->
    proc_lib:start_link(?MODULE, init, [self(), WorkflowId]).

%% @private
-spec init(pid(), binary()) -> ok.
init(Parent, WorkflowId) ->
    proc_lib:init_ack(Parent, {ok, self()}),
    case aion_engine:claim_run(WorkflowId) of
        true ->
            try
                run(WorkflowId)
            catch
                %% The store refused or failed an append: the in-memory state is ahead of
                %% the history. Stop here and let the engine replay the run after a
                %% backoff, rather than restart at once (a failing disk would spin).
                exit:{aion_durability, Msg} ->
                    ?LOG_ERROR(#{what => durability_error, reason => Msg}),
                    aion_engine:retry_later(WorkflowId)
            after
                aion_engine:release_run(WorkflowId)
            end;
        false ->
            ok
    end.

run(WorkflowId) ->
    case aion_flow_ffi:nif_run_open(aion_engine:store(), WorkflowId) of
        {ok, {Run, Type, InputJson, RunId, Deadline}} ->
            logger:set_process_metadata(#{workflow_id => WorkflowId, run_id => RunId,
                                          type => Type, aion => workflow}),
            case aion_engine:lookup(workflow, Type) of
                {ok, MF} ->
                    put(aion_run, Run),
                    put(aion_workflow_id, WorkflowId),
                    put(aion_run_id, RunId),
                    {ok, Input} = aion_flow_ffi:json_decode(InputJson),
                    case arm_deadline(Deadline) of
                        due -> end_timed_out(Run, WorkflowId, Deadline);
                        armed -> step(Run, WorkflowId, Type, execute(MF, Input))
                    end;
                error ->
                    ?LOG_INFO(#{what => run_waits_for_type})
            end;
        {error, Msg} ->
            exit({aion_run_open_failed, WorkflowId, Msg})
    end.

step(Run, WorkflowId, _Type, {continue_as_new, InputJson}) ->
    Tag = aion_flow_ffi:tag(),
    case aion_flow_ffi:nif_run_continue_as_new(Run, InputJson, aion:uuid(), aion_flow_ffi:now_ms(), Tag) of
        {ok, {recording, Stop, Children}} ->
            ok = aion_flow_ffi:wait_durable(Tag),
            aion_flow_ffi:apply_stop(Stop, Children),
            _ = [erase(K) || K <- [aion_run, aion_run_id, aion_armed]],
            run(WorkflowId);
        {error, Msg} ->
            settle_error(WorkflowId, _Type, Msg)
    end;
step(_Run, WorkflowId, _Type, timed_out) ->
    aion_engine:notify(WorkflowId);
step(Run, WorkflowId, Type, Outcome) ->
    ok = drain_cancel_requests(Run),
    {Kind, Json} = outcome_json(Outcome),
    Tag = aion_flow_ffi:tag(),
    case aion_flow_ffi:nif_run_complete(Run, Kind, Json, aion_flow_ffi:now_ms(), Tag) of
        {ok, recording} ->
            ok = aion_flow_ffi:wait_durable(Tag),
            ?LOG_INFO(#{what => workflow_closed, outcome => Kind}),
            close_children(Run),
            aion_engine:notify(WorkflowId),
            aion_flow_messages:refuse_pending();
        {ok, replayed} ->
            ok;
        {error, Msg} ->
            settle_error(WorkflowId, Type, Msg)
    end.

settle_error(WorkflowId, Type, Msg) ->
    case aion_flow_ffi:split_error(Msg) of
        {<<"non_determinism">>, _} ->
            ?LOG_ERROR(#{what => workflow_blocked, reason => Msg}),
            aion_engine:blocked(WorkflowId, Type, Msg);
        _ ->
            exit({aion_complete_failed, Msg})
    end.

%% Arms the execution deadline (once per process: it spans every run of the chain).
arm_deadline(null) ->
    armed;
arm_deadline(Deadline) ->
    case Deadline =< aion_flow_ffi:now_ms() of
        true -> due;
        false ->
            get(aion_deadline_armed) =:= Deadline orelse
                aion_flow_ffi:arm_deadline(Deadline),
            put(aion_deadline_armed, Deadline),
            armed
    end.

end_timed_out(Run, WorkflowId, Deadline) ->
    Tag = aion_flow_ffi:tag(),
    case aion_flow_ffi:nif_run_end(Run, timed_out, integer_to_binary(Deadline), aion_flow_ffi:now_ms(), Tag) of
        {ok, {recording, Stop, Children}} ->
            ok = aion_flow_ffi:wait_durable(Tag),
            aion_flow_ffi:apply_stop(Stop, Children),
            aion_engine:notify(WorkflowId);
        {error, _} ->
            ok
    end.

%% A cancellation request or a signal that came while the code ran (not waiting) is
%% recorded before the outcome, so the run closes as cancelled (or keeps the signal in its
%% history) and the caller hears back.
drain_cancel_requests(Run) ->
    receive
        {aion_cancel_request, From, Ref, ReasonJson} ->
            From ! {Ref, aion_flow_ffi:record_cancel(Run, ReasonJson)},
            drain_cancel_requests(Run);
        {aion_signal, From, Ref, Name, PayloadJson, SignalId} ->
            From ! {Ref, aion_flow_messages:record_signal(Run, Name, PayloadJson, SignalId)},
            drain_cancel_requests(Run)
    after 0 ->
        ok
    end.

%% The parent-close policy of the children still open when the run closes.
close_children(Run) ->
    case aion_flow_ffi:nif_run_open_children(Run) of
        {ok, []} -> ok;
        {ok, Children} -> aion_flow_ffi:apply_stop([], Children);
        {error, _} -> ok
    end.

execute({M, F}, Input) ->
    try M:F(Input) of
        {ok, Result} -> {ok, Result};
        {error, Reason} -> {error, Reason};
        Other -> {error, #{<<"type">> => <<"bad_return">>, <<"message">> => aion_flow_ffi:printed(Other)}}
    catch
        exit:{aion_continue_as_new, InputJson} ->
            {continue_as_new, InputJson};
        exit:{aion_stop, timed_out} ->
            timed_out;
        exit:{aion_durability, _} = Reason:_ ->
            exit(Reason);
        Class:Reason:Stack ->
            ?LOG_ERROR(#{what => workflow_crashed, class => Class, reason => Reason, stacktrace => Stack}),
            {error, #{<<"type">> => <<"crash">>, <<"message">> => aion_flow_ffi:printed({Class, Reason})}}
    end.

%% A result that is not JSON-compatible fails the run (it could not be replayed); an error
%% reason that is not is recorded as its printed form.
outcome_json({ok, Value}) ->
    case aion_flow_ffi:json_encode(Value) of
        {ok, Json} -> {ok, Json};
        {error, Msg} -> outcome_json({error, #{<<"type">> => <<"bad_result">>, <<"message">> => Msg}})
    end;
outcome_json({error, Reason}) ->
    case aion_flow_ffi:json_encode(Reason) of
        {ok, Json} -> {error, Json};
        {error, _} ->
            {ok, Json} = aion_flow_ffi:json_encode(#{<<"type">> => <<"error">>, <<"message">> => aion_flow_ffi:printed(Reason)}),
            {error, Json}
    end.
