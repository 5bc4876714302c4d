%% @doc The run context of the calling process: which run it owns (the NIF run resource,
%% workflow id, run id, type) and the little state its wake loop keeps. One record under
%% one process-dictionary key, so that workflow code can call `aion_flow' without passing
%% a handle around; `sys:get_state/1' on a run process returns this record
%% (see `aion_workflow').
-module(aion_run_ctx).

-export([new/5, get/0, put/1, erase/0]).
-export([run/0, workflow_id/0, run_id/0, replay_only/0]).
-export([armed/0, set_armed/1, deadline_armed/0, set_deadline_armed/1]).
-export([live/0, set_live/0, debug/0, set_debug/1, parent/0]).

-record(aion_run_ctx, {
    run :: reference(),
    workflow_id :: binary(),
    run_id :: binary(),
    type :: binary() | undefined,
    parent :: pid() | undefined,
    %% A detached replay (`aion_replay'): nothing may be recorded.
    replay_only = false :: boolean(),
    %% The earliest wake armed for this run (Unix ms).
    armed :: integer() | undefined,
    %% The execution deadline armed for the process (it spans a continue-as-new chain).
    deadline_armed :: integer() | undefined,
    %% Whether the code reached its first wait in this incarnation (replay is done).
    live = false :: boolean(),
    %% `sys' debug options.
    debug = [] :: [sys:dbg_opt()]
}).
-opaque ctx() :: #aion_run_ctx{}.
-export_type([ctx/0]).

-define(KEY, aion_run_ctx).

%% @doc A context for run `RunId' of `WorkflowId' (type `Type') held through `Run'; `Parent'
%% is the run process's parent (undefined for a detached replay, which is replay-only).
-spec new(reference(), binary(), binary(), binary() | undefined, pid() | undefined) -> ctx().
new(Run, WorkflowId, RunId, Type, Parent) ->
    #aion_run_ctx{run = Run, workflow_id = WorkflowId, run_id = RunId, type = Type,
                  parent = Parent, replay_only = Parent =:= undefined}.

%% @doc The calling process's context, or `undefined'.
-spec get() -> ctx() | undefined.
get() -> erlang:get(?KEY).

%% @doc Makes `Ctx' the calling process's context.
-spec put(ctx()) -> ok.
put(Ctx) -> erlang:put(?KEY, Ctx), ok.

%% @doc Forgets the calling process's context.
-spec erase() -> ok.
erase() -> _ = erlang:erase(?KEY), ok.

%% @doc The run resource, or `undefined' outside a run.
-spec run() -> reference() | undefined.
run() -> field(#aion_run_ctx.run).

%% @doc The workflow id, or `undefined' outside a run.
-spec workflow_id() -> binary() | undefined.
workflow_id() -> field(#aion_run_ctx.workflow_id).

%% @doc The run id, or `undefined' outside a run.
-spec run_id() -> binary() | undefined.
run_id() -> field(#aion_run_ctx.run_id).

%% @doc Whether this is a detached replay.
-spec replay_only() -> boolean().
replay_only() -> field(#aion_run_ctx.replay_only) =:= true.

%% @doc The earliest wake armed.
-spec armed() -> integer() | undefined.
armed() -> field(#aion_run_ctx.armed).

%% @doc Sets (or, with `undefined', clears) the earliest wake armed.
-spec set_armed(integer() | undefined) -> ok.
set_armed(At) -> update(#aion_run_ctx.armed, At).

%% @doc The execution deadline armed.
-spec deadline_armed() -> integer() | undefined.
deadline_armed() -> field(#aion_run_ctx.deadline_armed).

%% @doc Sets the execution deadline armed.
-spec set_deadline_armed(integer()) -> ok.
set_deadline_armed(At) -> update(#aion_run_ctx.deadline_armed, At).

%% @doc Whether the code reached a wait in this incarnation.
-spec live() -> boolean().
live() -> field(#aion_run_ctx.live) =:= true.

%% @doc Notes that the code reached a wait.
-spec set_live() -> ok.
set_live() -> update(#aion_run_ctx.live, true).

%% @doc The `sys' debug options.
-spec debug() -> [sys:dbg_opt()].
debug() ->
    case field(#aion_run_ctx.debug) of
        undefined -> [];
        Debug -> Debug
    end.

%% @doc Replaces the `sys' debug options.
-spec set_debug([sys:dbg_opt()]) -> ok.
set_debug(Debug) -> update(#aion_run_ctx.debug, Debug).

%% @doc The run process's parent.
-spec parent() -> pid() | undefined.
parent() -> field(#aion_run_ctx.parent).

field(Index) ->
    case erlang:get(?KEY) of
        undefined -> undefined;
        Ctx -> element(Index, Ctx)
    end.

update(Index, Value) ->
    case erlang:get(?KEY) of
        undefined -> ok;
        Ctx -> erlang:put(?KEY, setelement(Index, Ctx, Value)), ok
    end.
