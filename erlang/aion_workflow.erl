%% @doc One workflow, in its own process: its current run, and the runs it continues as.
%%
%% The process is a `proc_lib' special process: `sys:get_state/1', `sys:trace/2',
%% `sys:suspend/1' and the rest work whenever the workflow waits (which is where a
%% workflow spends its life). Its state is one record (`aion_run_ctx').
%%
%% On start it takes ownership of the run (one process per run on the node), stops every
%% activity attempt left by the run's previous incarnation, loads the history into a run
%% resource (read once per start), records what waits in the run's inbox, and calls the
%% registered `Module:Function(Input)'. Commands the code issues are answered from history
%% while recorded ones remain (replay) and recorded live after that. When the function
%% returns, its outcome is recorded and awaiting callers (and a parent) are told.
%%
%% Outcomes: `{ok, Result}' completes the run; `{error, Reason}' (or any other return
%% value) fails it; after a cancellation request the run closes as cancelled whatever the
%% code returns. `aion_flow:continue_as_new/1' closes the run and starts the next one in
%% the same process. The execution deadline (`execution_timeout_ms') ends the run as timed
%% out at the first wait past it.
%%
%% A run that cannot go on is <em>blocked</em> (see `aion:describe/1'): its code diverged
%% from its history (non-determinism), its code raised (a bug, unless the type was
%% registered with `on_crash => fail'), or its history cannot be read. Nothing more is
%% written; the run is replayed after a backoff and as soon as its type is registered again,
%% so a fixed deploy carries it on. It never stops another run.
-module(aion_workflow).

-include_lib("kernel/include/logger.hrl").

%% How often a run whose close met new inbox entries replays at once.
-define(INBOX_RETRIES, 20).

-export([start_link/1, start_link/2]).
-export([init/2, init/3]).
-export([system/2]).
-export([system_continue/3, system_terminate/4, system_get_state/1, system_replace_state/2,
         system_code_change/4]).

%% @doc Starts the process of workflow `WorkflowId'.
-spec start_link(binary()) -> {ok, pid()}.
start_link(WorkflowId) ->
    proc_lib:start_link(?MODULE, init, [self(), WorkflowId]).

%% @doc Starts the process of a new workflow, whose run `New' (`{Run, Type, InputJson,
%% RunId, Deadline}', see `aion_flow_ffi:nif_run_new/7') is built in memory: the code runs
%% at once and `WorkflowStarted' becomes durable with its first append, after which
%% `Starter' (`{Pid, Ref}') is told `{aion_started, Ref, ok}' — or `{aion_started, Ref,
%% {error, Reason}}' when the store refuses it (the id is taken). Nothing leaves the run
%% before that append is durable.
-spec start_link(binary(), {new, tuple(), {pid(), reference()}}) -> {ok, pid()}.
start_link(WorkflowId, New) ->
    proc_lib:start_link(?MODULE, init, [self(), WorkflowId, New]).

%% @private
-spec init(pid(), binary()) -> ok.
init(Parent, WorkflowId) ->
    init(Parent, WorkflowId, replay).

%% @private
-spec init(pid(), binary(), replay | {new, tuple(), {pid(), reference()}}) -> ok.
init(Parent, WorkflowId, How) ->
    proc_lib:init_ack(Parent, {ok, self()}),
    Claimed = case How of
        replay -> aion_engine:claim_run(WorkflowId);
        {new, _, _} -> aion_engine:claim_new(WorkflowId) =:= ok
    end,
    case Claimed of
        true ->
            try
                case How of
                    replay ->
                        own(Parent, WorkflowId, ?INBOX_RETRIES);
                    {new, New, Starter} ->
                        put(aion_starter, Starter),
                        begin_run(Parent, WorkflowId, New, new)
                end
            catch
                %% A new workflow whose start the store refused (its id is taken): the
                %% starter has been told; nothing of it exists.
                exit:{aion_start_refused, _} ->
                    ok;
                %% In a cluster: another node took the run over (this node's lease ran
                %% out). Its appends are refused; it lets the run go.
                exit:{aion_durability, {not_owner, _} = Reason} ->
                    ?LOG_WARNING(#{what => run_taken_over, reason => Reason});
                %% The store refused or failed an append: the in-memory state is ahead of
                %% the history. Stop here and let the engine replay the run after a
                %% backoff, rather than restart at once (a failing disk would spin).
                exit:{aion_durability, Reason} ->
                    ?LOG_WARNING(#{what => run_retry, reason => Reason}),
                    aion_engine:retry_later(WorkflowId);
                exit:{aion_blocked, Type, Why} ->
                    blocked(WorkflowId, Type, Why)
            after
                aion_run_ctx:erase(),
                aion_engine:release_run(WorkflowId)
            end;
        false ->
            case How of
                {new, _, {Pid, Ref}} -> Pid ! {aion_started, Ref, {error, {already_started, WorkflowId}}};
                replay -> ok
            end,
            ok
    end.

%% A new workflow blocked before its first append (its code crashed at once): its start
%% (and what it kept back) is made durable first, so that there is a run to retry.
blocked(WorkflowId, Type, Why) ->
    try
        get(aion_starter) =/= undefined andalso aion_flow_ffi:flush(aion_run_ctx:run()),
        aion_engine:blocked(WorkflowId, Type, Why)
    catch
        exit:{aion_start_refused, _} -> ok;
        exit:{aion_durability, Reason} ->
            ?LOG_WARNING(#{what => run_retry, reason => Reason}),
            aion_engine:retry_later(WorkflowId)
    end.

%% Runs the run as its owner. Attempts belong to their run: none of the previous
%% incarnation's may still run when this one replays and starts attempts of its own. A
%% close refused because the inbox received something meanwhile is replayed at once (the
%% replay records what came), a few times, before it counts as a store error.
own(Parent, WorkflowId, Tries) ->
    ok = aion_activity_pool:stop_run(WorkflowId),
    try
        run(Parent, WorkflowId)
    catch
        exit:{aion_durability, {inbox_pending, _}} when Tries > 0 ->
            ?LOG_INFO(#{what => close_met_new_inbox_entries}),
            aion_flow_messages:forget_handlers(),
            own(Parent, WorkflowId, Tries - 1)
    end.

run(Parent, WorkflowId) ->
    case aion_cluster:claim(WorkflowId) of
        {owner, Node} ->
            %% In a cluster, another live node owns the run: it runs it (and records what
            %% waits in its inbox, which may be why this process was started).
            ?LOG_INFO(#{what => run_owned_elsewhere, owner => Node}),
            gen_server:cast({aion_engine, Node}, {wake, WorkflowId});
        {error, {not_owner, _}} ->
            %% This node's lease ran out: it joins again and claims what nobody owns.
            ok;
        {error, Reason} ->
            exit({aion_durability, Reason});
        _MineClosedOrUnknown ->
            replay(Parent, WorkflowId)
    end.

replay(Parent, WorkflowId) ->
    case aion_flow_ffi:nif_run_open(aion_engine:store(), WorkflowId) of
        {ok, Loaded} ->
            begin_run(Parent, WorkflowId, Loaded, replay);
        {error, {not_found, _}} ->
            %% Nothing of it is durable: a new workflow whose process stopped before its
            %% first append (its starter was told). Nothing to run.
            ok;
        {error, {Kind, _} = Reason} when Kind =:= store; Kind =:= stale_head ->
            exit({aion_durability, Reason});
        {error, Reason} ->
            %% Logged once, as `workflow_blocked', by the engine.
            exit({aion_blocked, null, {unreadable, Reason}})
    end.

%% Runs the code of run `Run': replaying its history (`replay'), or a new workflow's run
%% that nothing has been recorded of yet (`new').
begin_run(Parent, WorkflowId, {Run, Type, InputJson, RunId, Deadline}, How) ->
    logger:set_process_metadata(#{workflow_id => WorkflowId, run_id => RunId,
                                  type => Type, aion => workflow}),
    case aion_engine:lookup(workflow, Type) of
        {ok, Callback} ->
            %% The execution deadline spans a continue-as-new chain: keep it armed.
            DeadlineArmed = aion_run_ctx:deadline_armed(),
            ok = aion_run_ctx:put(aion_run_ctx:new(Run, WorkflowId, RunId, Type, Parent)),
            DeadlineArmed =:= undefined orelse
                aion_run_ctx:set_deadline_armed(DeadlineArmed),
            case How of
                new ->
                    %% Its duration is measured from here (a replayed run's is not).
                    put(aion_started_at, erlang:monotonic_time()),
                    %% No history, no children, no inbox yet.
                    go(Parent, Run, WorkflowId, Type, Callback, InputJson, Deadline);
                replay ->
                    {ok, {Closing, ParentId}} = aion_flow_ffi:nif_run_closing(Run),
                    case Closing of
                        {_Status, _ValueJson} ->
                            %% Closed by an earlier incarnation that stopped before it told
                            %% anyone: carry out what the close causes (again; each effect
                            %% is idempotent) instead of running the code.
                            close_children(Run),
                            aion_engine:notify(WorkflowId, Closing, ParentId);
                        open ->
                            ok = parent_close_policy(WorkflowId, ParentId),
                            ok = reconcile_children(Run, WorkflowId),
                            ok = aion_flow_ffi:take_inbox(Run),
                            go(Parent, Run, WorkflowId, Type, Callback, InputJson, Deadline)
                    end
            end;
        error when How =:= new ->
            %% Unregistered since the start was checked: nothing is recorded.
            exit({aion_start_refused, aion_flow_ffi:started({error, {unknown_workflow_type, Type}})});
        error ->
            ?LOG_INFO(#{what => run_waits_for_type})
    end.

go(Parent, Run, WorkflowId, Type, Callback, InputJson, Deadline) ->
    {ok, Input} = aion_flow_ffi:json_decode(InputJson),
    case arm_deadline(Deadline) of
        due -> end_timed_out(Run, WorkflowId, Deadline);
        armed -> step(Parent, Run, WorkflowId, Type, execute(Run, Type, Callback, Input))
    end.

summary(WorkflowId) ->
    case aion:describe(WorkflowId) of
        {ok, Summary} -> Summary;
        {error, _} -> #{}
    end.

closed(Summary) ->
    aion:closing(Summary) =/= open.

%% A child whose parent closed while the policy for it was not carried out yet (the node
%% stopped in between): carry it out now, from the parent's recorded `ChildStarted'.
parent_close_policy(WorkflowId, ParentId) when is_binary(ParentId) ->
    case closed(summary(ParentId)) of
        true -> aion_flow_ffi:apply_stop([], [{WorkflowId, recorded_policy(ParentId, WorkflowId)}]);
        false -> ok
    end;
parent_close_policy(_WorkflowId, null) ->
    ok.

recorded_policy(ParentId, ChildId) ->
    case aion:history(ParentId) of
        {ok, Events} ->
            case [P || #{type := <<"ChildStarted">>, workflow_id := Id, parent_close_policy := P} <- Events,
                       Id =:= ChildId] of
                [Policy | _] -> Policy;
                [] -> <<"abandon">>
            end;
        {error, _} ->
            <<"abandon">>
    end.

%% A child that closed while this run had no process (its push to our inbox may not have
%% happened): record its close from the store, once, at start.
reconcile_children(Run, WorkflowId) ->
    case aion_flow_ffi:nif_run_open_children(Run) of
        {ok, Children} ->
            _ = [case aion_engine:closed_child(ChildId) of
                     {ok, _Parent, Item} -> aion:push(WorkflowId, Item);
                     none -> ok
                 end || {ChildId, _Policy} <- Children],
            ok;
        {error, _} ->
            ok
    end.

step(Parent, Run, WorkflowId, Type, {continue_as_new, InputJson}) ->
    Tag = aion_flow_ffi:tag(),
    case aion_flow_ffi:nif_run_continue_as_new(Run, InputJson, aion:uuid(), aion_flow_ffi:now_ms(), Tag) of
        {ok, {recording, Stop, Children}} ->
            ok = aion_flow_ffi:wait_durable(Tag),
            aion_flow_ffi:apply_stop(Stop, Children),
            ?LOG_INFO(#{what => workflow_continued_as_new}),
            run(Parent, WorkflowId);
        {error, Reason} ->
            settle_error(Type, Reason)
    end;
step(_Parent, _Run, WorkflowId, Type, timed_out) ->
    aion_metrics:workflow_closed(Type, timed_out, get(aion_started_at)),
    aion_engine:notify(WorkflowId);
step(_Parent, _Run, _WorkflowId, Type, {blocked, Why}) ->
    exit({aion_blocked, Type, Why});
step(_Parent, Run, WorkflowId, Type, Outcome) ->
    %% What came to the inbox while the code ran is recorded before the outcome, so the
    %% run closes as cancelled (or keeps the signal in its history). The store refuses the
    %% close if more comes in between; the run is then replayed and sees it.
    ok = aion_flow_ffi:take_inbox(Run),
    {Kind, Json} = outcome_json(Outcome),
    Tag = aion_flow_ffi:tag(),
    case aion_flow_ffi:nif_run_complete(Run, Kind, Json, aion_flow_ffi:now_ms(), Tag) of
        {ok, recording} ->
            ok = aion_flow_ffi:wait_durable(Tag),
            ?LOG_INFO(#{what => workflow_closed, outcome => Kind}),
            close_children(Run),
            {ok, {Closing, ParentId}} = aion_flow_ffi:nif_run_closing(Run),
            aion_metrics:workflow_closed(Type, element(1, Closing), get(aion_started_at)),
            aion_engine:notify(WorkflowId, Closing, ParentId),
            aion_flow_messages:refuse_pending();
        {ok, replayed} ->
            ok;
        {error, Reason} ->
            settle_error(Type, Reason)
    end.

settle_error(Type, {non_determinism, _} = Reason) ->
    exit({aion_blocked, Type, Reason});
settle_error(_Type, Reason) ->
    exit({aion_durability, Reason}).

%% Arms the execution deadline (once per process: it spans every run of the chain).
arm_deadline(null) ->
    armed;
arm_deadline(Deadline) ->
    case Deadline =< aion_flow_ffi:now_ms() of
        true -> due;
        false ->
            aion_run_ctx:deadline_armed() =:= Deadline orelse
                aion_flow_ffi:arm_deadline(Deadline),
            ok = aion_run_ctx:set_deadline_armed(Deadline),
            armed
    end.

end_timed_out(Run, WorkflowId, Deadline) ->
    case aion_flow_ffi:end_run(Run, timed_out, integer_to_binary(Deadline)) of
        ok ->
            ?LOG_INFO(#{what => workflow_closed, outcome => timed_out}),
            aion_metrics:workflow_closed(undefined, timed_out, get(aion_started_at)),
            aion_engine:notify(WorkflowId);
        {error, Reason} ->
            exit({aion_durability, Reason})
    end.

%% The parent-close policy of the children still open when the run closes.
close_children(Run) ->
    case aion_flow_ffi:nif_run_open_children(Run) of
        {ok, []} -> ok;
        {ok, Children} -> aion_flow_ffi:apply_stop([], Children);
        {error, _} -> ok
    end.

%% Runs the workflow code. An exception in it is a bug: the run is blocked (the code is
%% fixed by a deploy) unless the type was registered with `on_crash => fail'.
execute(Run, Type, {Callback, Opts}, Input) ->
    try aion_engine:call(Callback, Input) of
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
        %% A new workflow whose start the store refused (its id is taken) while its code
        %% ran: not a crash of the code, and not the other workflow's business.
        exit:{aion_start_refused, _} = Reason:_ ->
            exit(Reason);
        Class:Reason:Stack ->
            case {divergence(Run), maps:get(on_crash, Opts, block)} of
                {{non_determinism, _} = Diverged, _} ->
                    %% The code crashed on the answer to a diverging command: that is
                    %% the non-determinism, not a crash.
                    {blocked, Diverged};
                {none, fail} ->
                    ?LOG_ERROR(#{what => workflow_crashed, class => Class, reason => Reason,
                                 stacktrace => Stack, type => Type}),
                    {error, #{<<"type">> => <<"crash">>,
                              <<"message">> => aion_flow_ffi:printed({Class, Reason})}};
                {none, block} ->
                    {blocked, {crashed, #{class => Class,
                                          reason => aion_flow_ffi:cut_text(aion_flow_ffi:printed(Reason)),
                                          stacktrace => aion_flow_ffi:cut_text(aion_flow_ffi:printed(Stack))}}}
            end
    end.

divergence(Run) ->
    case aion_flow_ffi:nif_run_replay_status(Run) of
        {ok, {{non_determinism, _} = Reason, _, _}} -> Reason;
        _ -> none
    end.

%% A result that is not JSON-compatible (or too large) fails the run (it could not be
%% replayed); an error reason that is not is recorded as its printed form.
outcome_json({ok, Value}) ->
    case aion:encode_payload(Value) of
        {ok, Json} -> {ok, Json};
        {error, Reason} ->
            outcome_json({error, #{<<"type">> => <<"bad_result">>,
                                   <<"message">> => aion_flow_ffi:reason_text(Reason)}})
    end;
outcome_json({error, Reason}) ->
    case aion:encode_payload(Reason) of
        {ok, Json} -> {error, Json};
        {error, _} ->
            Message = aion_flow_ffi:cut_text(aion_flow_ffi:printed(Reason)),
            {ok, Json} = aion_flow_ffi:json_encode(#{<<"type">> => <<"error">>, <<"message">> => Message}),
            {error, Json}
    end.

%% sys support: the wake loop (`aion_flow_ffi') hands `{system, From, Request}' messages
%% here; `sys:handle_system_msg/6' calls back `system_continue/3', which returns to the
%% wait.

%% @private Handles one system message while the run waits.
-spec system(gen_server:from(), term()) -> ok.
system(From, Request) ->
    Ctx = aion_run_ctx:get(),
    sys:handle_system_msg(Request, From, aion_run_ctx:parent(), ?MODULE, aion_run_ctx:debug(), Ctx).

%% @private
-spec system_continue(pid(), [sys:dbg_opt()], aion_run_ctx:ctx()) -> ok.
system_continue(_Parent, Debug, Ctx) ->
    ok = aion_run_ctx:put(Ctx),
    aion_run_ctx:set_debug(Debug).

%% @private
-spec system_terminate(term(), pid(), [sys:dbg_opt()], aion_run_ctx:ctx()) -> no_return().
system_terminate(Reason, _Parent, _Debug, _Ctx) ->
    exit(Reason).

%% @private
-spec system_get_state(aion_run_ctx:ctx()) -> {ok, aion_run_ctx:ctx()}.
system_get_state(Ctx) ->
    {ok, Ctx}.

%% @private
-spec system_replace_state(fun((aion_run_ctx:ctx()) -> aion_run_ctx:ctx()), aion_run_ctx:ctx()) ->
    {ok, aion_run_ctx:ctx(), aion_run_ctx:ctx()}.
system_replace_state(StateFun, Ctx) ->
    New = StateFun(Ctx),
    {ok, New, New}.

%% @private
-spec system_code_change(aion_run_ctx:ctx(), module(), term(), term()) -> {ok, aion_run_ctx:ctx()}.
system_code_change(Ctx, _Module, _OldVsn, _Extra) ->
    {ok, Ctx}.
