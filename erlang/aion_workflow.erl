%% @doc One workflow run, in its own process.
%%
%% The process loads the run's history into a run resource (read once per start), keeps the
%% resource in its process dictionary for `aion_flow_ffi', and calls the registered
%% `Module:Function(Input)'. Commands the code issues are answered from history while
%% recorded ones remain (replay) and recorded live after that. When the function returns,
%% its outcome is recorded (`WorkflowCompleted' / `WorkflowFailed') and awaiting callers are
%% told.
%%
%% Outcomes: `{ok, Result}' completes the run; `{error, Reason}', any other return value, or
%% an exception fails it. A run whose code diverges from its history (non-determinism) is
%% <em>blocked</em>: nothing more is written, the reason is shown by `aion:describe/1', and
%% the run is replayed again when its type is registered again or the node restarts, so a
%% fixed deploy can carry it on.
-module(aion_workflow).

-include_lib("kernel/include/logger.hrl").

-export([start_link/1]).
-export([init/2]).

%% @doc Starts the process of run `WorkflowId'.
-spec start_link(binary()) -> {ok, pid()}.
start_link(WorkflowId) ->
    proc_lib:start_link(?MODULE, init, [self(), WorkflowId]).

%% @private
-spec init(pid(), binary()) -> ok.
init(Parent, WorkflowId) ->
    proc_lib:init_ack(Parent, {ok, self()}),
    case aion_engine:claim_run(WorkflowId) of
        true ->
            try run(WorkflowId) after aion_engine:release_run(WorkflowId) end;
        false ->
            ok
    end.

run(WorkflowId) ->
    case aion_flow_ffi:nif_run_open(aion_engine:store(), WorkflowId) of
        {ok, {Run, Type, InputJson}} ->
            logger:set_process_metadata(#{workflow_id => WorkflowId, type => Type,
                                          domain => [aion, workflow]}),
            case aion_engine:lookup(workflow, Type) of
                {ok, MF} ->
                    put(aion_run, Run),
                    put(aion_workflow_id, WorkflowId),
                    {ok, Input} = aion_flow_ffi:json_decode(InputJson),
                    finish(Run, WorkflowId, Type, execute(MF, Input));
                error ->
                    ?LOG_INFO(#{what => run_waits_for_type})
            end;
        {error, Msg} ->
            exit({aion_run_open_failed, WorkflowId, Msg})
    end.

execute({M, F}, Input) ->
    try M:F(Input) of
        {ok, Result} -> {ok, Result};
        {error, Reason} -> {error, Reason};
        Other -> {error, #{<<"type">> => <<"bad_return">>, <<"message">> => format(Other)}}
    catch
        exit:{aion_durability, _} = Reason:_ ->
            exit(Reason);
        Class:Reason:Stack ->
            ?LOG_ERROR(#{what => workflow_crashed, class => Class, reason => Reason, stacktrace => Stack}),
            {error, #{<<"type">> => <<"crash">>, <<"message">> => format({Class, Reason})}}
    end.

finish(Run, WorkflowId, Type, Outcome) ->
    {Kind1, Json} = outcome_json(Outcome),
    Tag = aion_flow_ffi:tag(),
    case aion_flow_ffi:nif_run_complete(Run, Kind1, Json, aion_flow_ffi:now_ms(), Tag) of
        {ok, recording} ->
            ok = aion_flow_ffi:wait_durable(Tag),
            {ok, Decoded} = aion_flow_ffi:json_decode(Json),
            ?LOG_INFO(#{what => workflow_closed, outcome => Kind1}),
            aion_engine:notify(WorkflowId, outcome(Kind1, Decoded));
        {ok, replayed} ->
            ok;
        {error, Msg} ->
            case aion_flow_ffi:split_error(Msg) of
                {<<"non_determinism">>, _} ->
                    ?LOG_ERROR(#{what => workflow_blocked, reason => Msg}),
                    aion_engine:blocked(WorkflowId, Type, Msg);
                _ ->
                    exit({aion_complete_failed, Msg})
            end
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
            {ok, Json} = aion_flow_ffi:json_encode(#{<<"type">> => <<"error">>, <<"message">> => format(Reason)}),
            {error, Json}
    end.

outcome(ok, Value) -> {ok, Value};
outcome(error, Value) -> {error, {failed, Value}}.

format(Term) ->
    unicode:characters_to_binary(io_lib:format("~0tp", [Term])).
