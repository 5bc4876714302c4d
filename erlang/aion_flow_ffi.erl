%% @doc The contract between workflow code and the engine.
%%
%% The native functions (`nif_*') live in the Rust library `priv/aion_nif.so'; they take
%% binaries (JSON text for payloads and options) and answer `{ok, _}' or `{error, Reason}'
%% with `Reason' a tuple tagged by the error's kind (one Rust enum, `aion_core::Error'):
%% `{invalid_input, Detail}', `{not_found, Detail}', `{not_running, Detail}',
%% `{already_exists, Detail}', `{stale_head, Detail}', `{store, Detail}',
%% `{corrupt, Detail}', `{internal, Detail}', `{payload_too_large, Size, Limit}' or
%% `{non_determinism, #{seq, recorded, requested}}'. Code decides on the tags, never on
%% the detail text.
%% They never block a scheduler: when events must be written they hand the append to the
%% commit thread and return; the wrappers below then wait in `receive' for the
%% `{aion_durable, Tag, _}' wake before anything is revealed to workflow code.
%%
%% The wrappers in this module hold the wake loops: they run in the workflow process and
%% use the run resource kept in its process dictionary by `aion_workflow'.
-module(aion_flow_ffi).

-export([dispatch_activity/3]).
-export([await_activity_result/1]).
-export([dispatch_activities/1]).
-export([start_timer/2]).
-export([await_timer/1]).
-export([cancel_timer/1]).
-export([json_encode/1]).
-export([json_decode/1]).

%% Internal: used by the other modules of the app.
-export([run/0]).
-export([with_run/1]).
-export([wait_durable/1]).
-export([record/2]).
-export([tag/0]).
-export([flush/1]).
-export([started/1]).
-export([new_run/7]).
-export([now_ms/0]).
-export([printed/1]).
-export([reason_text/1]).
-export([cut_text/1]).
-export([stop_attempts/1]).
-export([apply_stop/2]).
-export([await_step/2]).
-export([step_answer/3]).
-export([wait_event/2]).
-export([take_inbox/1]).
-export([flush_inbox_wakes/0]).
-export([end_run/3]).
-export([run_command/4]).
-export([arm_deadline/1]).

%% Native functions (the Rust library), exported and declared as NIFs from one list.
-define(NIFS, [nif_json_encode/1, nif_json_decode/1, nif_json_encode_dirty/1, nif_json_decode_dirty/1,
       nif_engine_open/2, nif_engine_close/1, nif_run_new/7, nif_run_new_dirty/7, nif_engine_describe/2,
       nif_engine_history/3, nif_engine_list/2, nif_engine_prune/3, nif_engine_forget/2, nif_engine_counts/2, nif_engine_export/3, nif_engine_push/5,
       nif_engine_barrier/2,
       nif_engine_stats/1, nif_engine_commit_stats/1,
       nif_cluster_join/5, nif_cluster_renew/2, nif_cluster_leave/1, nif_cluster_nodes/1,
       nif_cluster_claim/2, nif_cluster_claim_orphans/3, nif_cluster_inbox_waiting/1,
       nif_run_open/2, nif_run_from_history/1, nif_run_take_inbox/3, nif_run_command/4,
       nif_run_command_dirty/4]).
%% One function per run command, each handing its command to `nif_run_command/4' (the
%% command names and arguments are those of `native/aion_nif/src/command.rs').
-export([nif_run_complete/5,
         nif_run_request_cancel/4,
         nif_run_cancel_requested/1,
         nif_run_end/5,
         nif_run_continue_as_new/5,
         nif_run_dispatch_activity/6,
         nif_run_activity_step/4,
         nif_run_timer_start/5,
         nif_run_timer_step/4,
         nif_run_timer_cancel/4,
         nif_run_scope_enter/4,
         nif_run_scope_exit/4,
         nif_run_now/1,
         nif_run_random/1,
         nif_run_uuid/1,
         nif_run_side_effect/1,
         nif_run_side_effect_record/5,
         nif_run_signal_step/4,
         nif_run_send_signal/6,
         nif_run_signal_delivered/5,
         nif_run_accept_update/6,
         nif_run_complete_update/6,
         nif_run_start_child/7,
         nif_run_child_step/4,
         nif_run_child_completed/6,
         nif_run_select/4,
         nif_run_select_settled/4,
         nif_run_cancel_activity/4,
         nif_run_dispatch_activities/4,
         nif_run_activity_results/4,
         nif_run_replay_status/1,
         nif_run_open_children/1,
         nif_run_patched/4,
         nif_run_flush/2,
         nif_run_closing/1,
         nif_run_inbox_waiting/1]).
-export(?NIFS).
-nifs(?NIFS).
-on_load(load_nif/0).

-type json() :: binary().
-type correlation_id() :: pos_integer().
-type wire_error() :: {atom(), term()} | {payload_too_large, non_neg_integer(), non_neg_integer()}
                      | {failed, json()} | cancelled | timeout.
-export_type([json/0, correlation_id/0, wire_error/0]).

%% Waits longer than this collect garbage first, so a sleeping run holds little memory.
-define(GC_BEFORE_WAIT_MS, 1000).
%% How long a run waits for a wake before it counts as idle.
-define(IDLE_MS, 50).
%% Payloads larger than this (bytes) are encoded and decoded on a dirty scheduler: about
%% what a normal scheduler handles in well under a millisecond.
-define(DIRTY_BYTES, 16384).
%% Why a child is terminated or cancelled by its parent-close policy.
-define(PARENT_CLOSED, <<"the parent workflow closed or was cancelled">>).
%% The longest message kept of a printed reason.
-define(MAX_TEXT, 32768).
%% The most attempt results recorded with one append.
-define(RESULT_BATCH, 256).

%% @doc Schedules activity `Name' with JSON `InputJson' and options `ConfigJson'. In replay
%% the answer comes from history; live, `ActivityScheduled' is made durable first and then
%% the first attempt is handed to a worker. Returns the correlation id to await.
-spec dispatch_activity(binary(), json(), json()) -> {ok, correlation_id()} | {error, wire_error()}.
dispatch_activity(Name, InputJson, ConfigJson) ->
    with_run(fun(Run) ->
        Tag = tag(),
        case nif_run_dispatch_activity(Run, Name, InputJson, ConfigJson, now_ms(), Tag) of
            {ok, {replayed, Ordinal}} ->
                {ok, Ordinal};
            {ok, {live, Ordinal, Task}} ->
                ok = wait_durable(Tag),
                Task =:= none orelse run_attempt(Task),
                {ok, Ordinal};
            {error, _} = Error ->
                Error
        end
    end).

%% @doc Dispatches many activities `[{Name, InputJson, ConfigJson}]' with one durable
%% append (fan-out), then hands their first attempts to workers. Returns the correlation
%% ids in order.
-spec dispatch_activities([{binary(), json(), json()}]) -> {ok, [correlation_id()]} | {error, wire_error()}.
dispatch_activities([]) ->
    {ok, []};
dispatch_activities(Calls) ->
    with_run(fun(Run) ->
        case record(Run, fun(Tag) -> nif_run_dispatch_activities(Run, Calls, now_ms(), Tag) end) of
            {ok, Answers} ->
                _ = [run_attempt(Task) || {live, _, Task} <- Answers, Task =/= none],
                {ok, [element(2, A) || A <- Answers]};
            {error, _} = Error ->
                Error
        end
    end).

%% @doc Waits for the outcome of activity `CorrelationId': `{ok, ResultJson}' once it
%% completed, `{error, Reason}' otherwise: `{failed, ErrorJson}' (the final error as JSON:
%% `activity', `type', `message', `attempts'; type `timeout' when the last attempt ran out
%% of time), `cancelled' when the workflow was cancelled, `timeout' when an enclosing
%% `with_timeout' deadline passed first. Retries are
%% run here, as the recorded policy says; the process waits in `receive', costing no
%% scheduler time.
-spec await_activity_result(correlation_id()) -> {ok, json()} | {error, wire_error()}.
await_activity_result(CorrelationId) ->
    with_run(fun(Run) ->
        await_step(Run, fun(Tag) -> nif_run_activity_step(Run, CorrelationId, now_ms(), Tag) end)
    end).

%% @doc Starts durable timer `Name' firing in `Ms' milliseconds; returns its id.
-spec start_timer(binary(), non_neg_integer()) -> {ok, pos_integer()} | {error, wire_error()}.
start_timer(Name, Ms) ->
    with_run(fun(Run) -> record(Run, fun(Tag) -> nif_run_timer_start(Run, Name, Ms, now_ms(), Tag) end) end).

%% @doc Waits for timer `TimerId': `{ok, <<"null">>}' once it fired, or
%% `{error, cancelled}' / `{error, timeout}'.
-spec await_timer(pos_integer()) -> {ok, json()} | {error, wire_error()}.
await_timer(TimerId) ->
    with_run(fun(Run) ->
        await_step(Run, fun(Tag) -> nif_run_timer_step(Run, TimerId, now_ms(), Tag) end)
    end).

%% @doc Cancels timer `TimerId' (idempotent).
-spec cancel_timer(pos_integer()) -> ok | {error, wire_error()}.
cancel_timer(TimerId) ->
    with_run(fun(Run) ->
        Tag = tag(),
        case nif_run_timer_cancel(Run, TimerId, now_ms(), Tag) of
            {ok, done} -> ok;
            {ok, recording} -> wait_durable(Tag);
            {error, _} = Error -> Error
        end
    end).

%% @doc Encodes a JSON-compatible term (maps with binary or atom keys, lists, binaries,
%% numbers, atoms; nested at most 64 levels) as JSON text. A large term is encoded on a
%% dirty scheduler.
-spec json_encode(term()) -> {ok, json()} | {error, wire_error()}.
json_encode(Term) ->
    case erlang:external_size(Term) > ?DIRTY_BYTES of
        true -> nif_json_encode_dirty(Term);
        false -> nif_json_encode(Term)
    end.

%% @doc Decodes JSON text: objects become maps with binary keys, `null' the atom `null'.
%% Large texts are decoded on a dirty scheduler.
-spec json_decode(json()) -> {ok, term()} | {error, wire_error()}.
json_decode(Json) when is_binary(Json), byte_size(Json) > ?DIRTY_BYTES ->
    nif_json_decode_dirty(Json);
json_decode(Json) ->
    nif_json_decode(Json).

%% Internal.

%% @doc The calling workflow process's run resource, or `undefined'.
-spec run() -> reference() | undefined.
run() ->
    aion_run_ctx:run().

%% @doc Calls `Fun(Run)' with the calling process's run, or answers `not_running'.
-spec with_run(fun((reference()) -> T)) -> T | {error, wire_error()}.
with_run(Fun) ->
    case {run(), get(aion_query_context)} of
        {_, true} -> erlang:error(query_handlers_cannot_run_workflow_commands);
        {undefined, _} -> {error, {not_running, <<"not called from a workflow process">>}};
        {Run, _} ->
            case Fun(Run) of
                {error, {non_determinism, _}} = Error ->
                    aion_replay:note_divergence(),
                    Error;
                Result ->
                    Result
            end
    end.

%% @doc Runs a recording NIF call `Call(Tag)' answering `{ok, {done | recording, Value}}',
%% waits for durability when needed, and returns `{ok, Value}'.
-spec record(reference(), fun((pos_integer()) -> {ok, {done | recording, T}} | {error, wire_error()})) ->
    {ok, T} | {error, wire_error()}.
record(_Run, Call) ->
    Tag = tag(),
    case Call(Tag) of
        {ok, {done, Value}} -> {ok, Value};
        {ok, {recording, Value}} -> ok = wait_durable(Tag), {ok, Value};
        {error, _} = Error -> Error
    end.

%% @doc Waits for the commit thread's answer for `Tag'. A refused or failed append means
%% the in-memory run state is ahead of the store: the process exits so that its supervisor
%% restarts it from the durable history.
-spec wait_durable(non_neg_integer()) -> ok.
wait_durable(Tag) ->
    Submitted = erlang:monotonic_time(),
    receive
        {aion_durable, Tag, ok} ->
            aion_metrics:append(erlang:monotonic_time() - Submitted),
            _ = started(ok),
            ok;
        {aion_durable, Tag, {error, Reason}} ->
            case started({error, Reason}) of
                ok -> exit({aion_durability, Reason});
                told -> exit({aion_start_refused, Reason})
            end
    end.

%% @doc A new workflow's process tells its starter (`aion:start_workflow/3', waiting) how
%% its first append went: that append holds `WorkflowStarted'. Answers `told' when it did
%% so now, `ok' when there was nobody to tell.
-spec started(ok | {error, term()}) -> ok | told.
started(Result) ->
    case erase(aion_starter) of
        undefined ->
            ok;
        {Pid, Ref} ->
            Result =:= ok andalso aion_engine:own_new(aion_run_ctx:workflow_id()),
            Pid ! {aion_started, Ref, Result},
            told
    end.

%% @doc Makes durable what the run has recorded but kept back: attempt results, timers
%% that fired, lost attempts. Those wait for the run's next append, so that one commit
%% covers a step (`ActivityCompleted(i)' with `ActivityScheduled(i + 1)'); the run calls
%% this before it waits for anything and before it runs a side effect, so nothing it acts
%% on outside stays undurable. Exits like `wait_durable/1' when the append fails.
-spec flush(reference()) -> ok.
flush(Run) ->
    Tag = tag(),
    case nif_run_flush(Run, Tag) of
        {ok, done} -> ok;
        {ok, recording} -> wait_durable(Tag);
        {error, Reason} -> exit({aion_durability, Reason})
    end.

%% @doc A fresh tag for one append.
-spec tag() -> pos_integer().
tag() ->
    erlang:unique_integer([positive]).

%% @doc Milliseconds since the epoch, the time stamped on new events (the wall clock, or
%% the test harness's virtual clock).
-spec now_ms() -> integer().
now_ms() ->
    aion_clock:now_ms().

%% @doc The printed form of any term, as a UTF-8 binary: how reasons that are not
%% JSON-compatible are recorded and reported.
-spec printed(term()) -> binary().
printed(Term) ->
    unicode:characters_to_binary(io_lib:format("~0tp", [Term])).

%% @doc A reason as text for people (logs, reports, the Gleam SDK's string errors): the
%% detail of a tagged engine reason, the printed form of anything else.
-spec reason_text(term()) -> binary().
reason_text({non_determinism, #{seq := Seq, recorded := Recorded, requested := Requested}}) ->
    iolist_to_binary(["at seq ", integer_to_binary(Seq), " history holds ", Recorded,
                      " but the workflow code asked for ", Requested]);
reason_text({payload_too_large, Size, Limit}) ->
    iolist_to_binary(io_lib:format("payload of ~b bytes is larger than the limit of ~b bytes", [Size, Limit]));
reason_text({Kind, Detail}) when is_atom(Kind), is_binary(Detail) ->
    Detail;
reason_text(Reason) ->
    printed(Reason).

%% @doc A message (an error's printed reason) cut to at most 32 KiB, at a character
%% boundary, so that a huge reason cannot make a huge event.
-spec cut_text(binary()) -> binary().
cut_text(Text) when byte_size(Text) =< ?MAX_TEXT ->
    Text;
cut_text(Text) ->
    case unicode:characters_to_binary(binary:part(Text, 0, ?MAX_TEXT)) of
        Bin when is_binary(Bin) -> <<Bin/binary, "...">>;
        {_, Valid, _} -> <<Valid/binary, "...">>
    end.

%% @doc Stops the attempts `[{Ordinal, Attempt}]' and applies the parent-close policy to
%% the children `[{ChildId, Policy}]' (`terminate', `request_cancel' or `abandon'). The
%% children are handled from separate processes: this run does not wait for them.
-spec apply_stop([{pos_integer(), non_neg_integer()}], [{binary(), binary()}]) -> ok.
apply_stop(Attempts, Children) ->
    stop_attempts(Attempts),
    Reason = ?PARENT_CLOSED,
    _ = [spawn(fun() -> aion:terminate(Id, Reason) end) || {Id, <<"terminate">>} <- Children],
    _ = [spawn(fun() -> aion:cancel(Id, Reason) end) || {Id, <<"request_cancel">>} <- Children],
    ok.

%% @doc Tells the running attempts `[{Ordinal, Attempt}]' of this run to stop.
-spec stop_attempts([{pos_integer(), non_neg_integer()}]) -> ok.
stop_attempts(Attempts) ->
    Id = aion_run_ctx:workflow_id(),
    _ = [aion_activity_pool:cancel(Id, O, A) || {O, A} <- Attempts],
    ok.

%% @doc One await: calls `Step(Tag)' (a NIF step) until there is an answer, waiting in
%% `receive' between steps.
-spec await_step(reference(), fun((pos_integer()) -> {ok, term()} | {error, wire_error()})) ->
    {ok, json()} | {error, wire_error()}.
await_step(Run, Step) ->
    Tag = tag(),
    case step_answer(Run, Tag, Step(Tag)) of
        {done, Result} -> Result;
        again -> await_step(Run, Step)
    end.

%% @doc Acts on one answer of a NIF step taken with `Tag': `{done, Result}' when the await
%% has its outcome, `again' once what the step asked for is done (wait for durability,
%% start an attempt, run an update handler, wait for a wake) and it must be taken again.
-spec step_answer(reference(), pos_integer(), {ok, term()} | {error, wire_error()}) ->
    {done, {ok, json()} | {error, wire_error()}} | again.
step_answer(Run, Tag, Answer) ->
    ReplayOnly = aion_run_ctx:replay_only(),
    case Answer of
        {ok, {completed, Json}} ->
            {done, {ok, Json}};
        {ok, {failed, ErrorJson}} ->
            {done, {error, {failed, ErrorJson}}};
        {ok, cancelled} ->
            {done, {error, cancelled}};
        {ok, timeout} ->
            {done, {error, timeout}};
        %% The replayer: reaching a wait means the code went past the recorded history.
        {ok, {wait, _}} when ReplayOnly ->
            exit(aion_replay_frontier);
        {ok, {retry_in, _}} when ReplayOnly ->
            exit(aion_replay_frontier);
        {ok, {wait, Until}} ->
            arm(Until),
            ok = wait_event(Run, Until),
            again;
        {ok, {retry_in, Ms}} ->
            arm(now_ms() + Ms),
            ok = wait_event(Run, now_ms() + Ms),
            again;
        {ok, again} ->
            again;
        {ok, {start, Task}} ->
            ok = wait_durable(Tag),
            ok = run_attempt(Task),
            again;
        {ok, {update, UpdateId, Name, ArgsJson}} ->
            ok = aion_flow_messages:run_update(Run, UpdateId, Name, ArgsJson),
            again;
        {error, _} = Error ->
            {done, Error}
    end.

%% A wake at `Until' (Unix ms); one pending wake per deadline is enough, as a wake only
%% says "step again".
arm(infinity) ->
    ok;
arm(Until) ->
    case aion_run_ctx:armed() of
        Armed when is_integer(Armed), Armed =< Until -> ok;
        _ ->
            ok = aion_run_ctx:set_armed(Until),
            aion_clock:wake_at(Until, {aion_wake, Until})
    end.

%% @doc One wake: an attempt's result, a timer coming due, something pushed to the run's
%% inbox (a signal, a cancellation request, a child closing), a query or update, or the
%% execution deadline. Results for other
%% activities of this run are recorded too, whichever await they arrive in.
-spec wait_event(reference(), integer() | infinity) -> ok.
wait_event(Run, Until) ->
    %% What the run learned and kept back (see flush/1) becomes durable before it sleeps.
    ok = flush(Run),
    %% A run that stays idle for a while (a long sleep, a slow activity) collects its
    %% garbage once, so that a sleeping workflow holds little memory; a busy one (a wake
    %% comes quickly) does not pay for it.
    case Until =:= infinity orelse Until - now_ms() > ?GC_BEFORE_WAIT_MS of
        true ->
            case wake(Run, ?IDLE_MS) of
                idle -> erlang:garbage_collect(), wake(Run, infinity);
                ok -> ok
            end;
        false ->
            wake(Run, infinity)
    end.

wake(Run, Timeout) ->
    CurrentRun = aion_run_ctx:run_id(),
    live(),
    receive
        {aion_activity_result, CurrentRun, Ordinal, Attempt, OutcomeJson} ->
            trace({activity_result, Ordinal, Attempt}),
            %% Record every result already waiting with this one: one append, one wait.
            Results = [{Ordinal, Attempt, OutcomeJson} | more_results(CurrentRun, ?RESULT_BATCH)],
            %% Kept back: they become durable with the run's next append (flush/1).
            case nif_run_activity_results(Run, Results, now_ms(), tag()) of
                {ok, done} -> ok;
                {error, Reason} -> exit({aion_bad_result, Reason})
            end;
        {aion_activity_result, _OtherRun, _, _, _} ->
            %% Sent to an earlier run of this workflow (before continue-as-new).
            ok;
        {aion_wake, At} ->
            trace({wake, At}),
            case aion_run_ctx:armed() of
                At -> aion_run_ctx:set_armed(undefined);
                _ -> ok
            end,
            ok;
        aion_inbox ->
            trace(inbox),
            take_inbox(Run);
        {system, From, Request} ->
            aion_workflow:system(From, Request);
        {aion_query, From, Ref, Name, ArgsJson} ->
            trace({query, Name}),
            aion_flow_messages:answer_query(From, Ref, Name, ArgsJson);
        {aion_update, From, Ref, UpdateId, Name, ArgsJson} ->
            trace({update, Name}),
            aion_flow_messages:accept_update(Run, From, Ref, UpdateId, Name, ArgsJson);
        {aion_done, _ChildRef} ->
            ok;
        {aion_execution_deadline, Deadline} ->
            case now_ms() >= Deadline of
                true -> time_out(Run, Deadline);
                false -> arm_deadline(Deadline)
            end
    after Timeout ->
        idle
    end.

%% The first wait of an incarnation: replay is done and the run is live, so it is not
%% blocked any more.
live() ->
    case aion_run_ctx:live() of
        true -> ok;
        false ->
            ok = aion_run_ctx:set_live(),
            case aion_run_ctx:workflow_id() of
                undefined -> ok;
                Id -> aion_engine:unblocked(Id)
            end
    end.

%% `sys:trace/2' and the other `sys' debug options see what wakes the run.
trace(Event) ->
    case aion_run_ctx:debug() of
        [] -> ok;
        Debug ->
            aion_run_ctx:set_debug(sys:handle_debug(Debug, fun print_event/3,
                                                    aion_run_ctx:workflow_id(), Event))
    end.

print_event(Device, Event, WorkflowId) ->
    io:format(Device, "*DBG* aion run ~ts: ~tp~n", [WorkflowId, Event]).

more_results(_RunId, 0) ->
    [];
more_results(RunId, Left) ->
    receive
        {aion_activity_result, RunId, Ordinal, Attempt, OutcomeJson} ->
            [{Ordinal, Attempt, OutcomeJson} | more_results(RunId, Left - 1)]
    after 0 ->
        []
    end.

%% @doc Sends `{aion_execution_deadline, Deadline}' to the calling process at `Deadline'.
-spec arm_deadline(integer()) -> ok.
arm_deadline(Deadline) ->
    aion_clock:wake_at(Deadline, {aion_execution_deadline, Deadline}).

%% @doc Records what waits in the run's durable inbox (signals, cancellation requests,
%% children's closes) with one append, and stops what a cancellation among them cancelled.
%% Every `aion_inbox' wake already in the mailbox is covered by this read.
-spec take_inbox(reference()) -> ok.
take_inbox(Run) ->
    flush_inbox_wakes(),
    %% Known from memory, without a store read, in the common case: nothing waits.
    case nif_run_inbox_waiting(Run) of
        {ok, false} -> ok;
        _ ->
            Tag = tag(),
            case nif_run_take_inbox(Run, now_ms(), Tag) of
                {ok, {done, _, _}} -> ok;
                {ok, {recording, Stop, Children}} -> ok = wait_durable(Tag), apply_stop(Stop, Children);
                {error, Reason} -> exit({aion_durability, Reason})
            end
    end.

%% @doc Drops the `aion_inbox' wakes in the caller's mailbox: they only say "read the
%% inbox", which the caller does (or, not being the run's process, leaves to it).
-spec flush_inbox_wakes() -> ok.
flush_inbox_wakes() ->
    receive aion_inbox -> flush_inbox_wakes() after 0 -> ok end.

%% The execution deadline passed: record the time-out and leave the workflow code.
time_out(Run, Deadline) ->
    case end_run(Run, timed_out, integer_to_binary(Deadline)) of
        ok -> exit({aion_stop, timed_out});
        {error, Reason} -> exit({aion_durability, Reason})
    end.

%% @doc Ends the run at once (`terminated' with the reason, or `timed_out' with the
%% deadline): first records what waits in its inbox — so every signal acknowledged before
%% the end is in the history — then the end, and stops what the end stops.
-spec end_run(reference(), terminated | timed_out, json()) -> ok | {error, wire_error()}.
end_run(Run, Kind, Json) ->
    %% While it ends, the run takes no new inbox entries (`aion:push/2' answers
    %% `not_running'): a stream of signals cannot keep it from ending.
    Id = aion_run_ctx:workflow_id(),
    true = ets:insert(aion_ending, {Id}),
    try take_inbox(Run) of
        ok ->
            Tag = tag(),
            case nif_run_end(Run, Kind, Json, now_ms(), Tag) of
                {ok, {recording, Stop, Children}} -> ok = wait_durable(Tag), apply_stop(Stop, Children);
                {error, _} = Error -> Error
            end
    catch
        exit:{aion_durability, Reason} -> {error, Reason}
    after
        ets:delete(aion_ending, Id)
    end.

run_attempt({Ordinal, Attempt, Name, InputJson, Timeout, TaskQueue, HeartbeatTimeout, LastHeartbeat,
             DeadlineLeft}) ->
    aion_activity_pool:submit(TaskQueue, #{
        workflow => self(),
        workflow_id => aion_run_ctx:workflow_id(),
        run_id => aion_run_ctx:run_id(),
        ordinal => Ordinal,
        attempt => Attempt,
        name => Name,
        input => InputJson,
        timeout => Timeout,
        heartbeat_timeout => HeartbeatTimeout,
        last_heartbeat => LastHeartbeat,
        %% The schedule-to-close deadline (wall clock, ms: the job may go to another node),
        %% which the time the attempt waits in its task queue counts against.
        deadline => case DeadlineLeft of
                        infinity -> infinity;
                        Left -> erlang:system_time(millisecond) + Left
                    end
    }).

load_nif() ->
    Dir = case code:priv_dir(aion) of
        {error, bad_name} ->
            filename:join(filename:dirname(filename:dirname(code:which(?MODULE))), "priv");
        PrivDir ->
            PrivDir
    end,
    erlang:load_nif(filename:join(Dir, "aion_nif"), 0).

%% Native stubs: replaced when the library loads. Their contracts are documented on the
%% Rust side (native/aion_nif/src/*.rs).

-define(STUB, erlang:nif_error(nif_not_loaded)).
%% @private
-spec nif_json_encode(term()) -> {ok, json()} | {error, wire_error()}.
nif_json_encode(_) -> ?STUB.
%% @private
-spec nif_json_decode(json()) -> {ok, term()} | {error, wire_error()}.
nif_json_decode(_) -> ?STUB.
%% @private
-spec nif_json_encode_dirty(term()) -> {ok, json()} | {error, wire_error()}.
nif_json_encode_dirty(_) -> ?STUB.
%% @private
-spec nif_json_decode_dirty(json()) -> {ok, term()} | {error, wire_error()}.
nif_json_decode_dirty(_) -> ?STUB.
%% @private
-spec nif_engine_open(binary(), binary() | map()) -> {ok, reference()} | {error, wire_error()}.
nif_engine_open(_, _) -> ?STUB.
%% @private
-spec nif_engine_commit_stats(reference()) -> {ok, map()} | {error, wire_error()}.
nif_engine_commit_stats(_) -> ?STUB.
%% @private
-spec nif_cluster_join(reference(), binary(), binary(), [binary()], pos_integer()) ->
    {ok, integer()} | {error, wire_error()}.
nif_cluster_join(_, _, _, _, _) -> ?STUB.
%% @private
-spec nif_cluster_renew(reference(), pos_integer()) -> {ok, renewed} | {error, wire_error()}.
nif_cluster_renew(_, _) -> ?STUB.
%% @private
-spec nif_cluster_leave(reference()) -> {ok, left} | {error, wire_error()}.
nif_cluster_leave(_) -> ?STUB.
%% @private
-spec nif_cluster_nodes(reference()) -> {ok, [map()]} | {error, wire_error()}.
nif_cluster_nodes(_) -> ?STUB.
%% @private
-spec nif_cluster_claim(reference(), binary()) ->
    {ok, mine | closed | unknown | {owner, binary()}} | {error, wire_error()}.
nif_cluster_claim(_, _) -> ?STUB.
%% @private
-spec nif_cluster_claim_orphans(reference(), pos_integer(), [binary()]) ->
    {ok, [{binary(), binary()}]} | {error, wire_error()}.
nif_cluster_claim_orphans(_, _, _) -> ?STUB.
%% @private
-spec nif_cluster_inbox_waiting(reference()) -> {ok, [binary()]} | {error, wire_error()}.
nif_cluster_inbox_waiting(_) -> ?STUB.
%% @private
-spec nif_engine_close(reference()) -> {ok, closed} | {error, wire_error()}.
nif_engine_close(_) -> ?STUB.
%% @private
-spec nif_run_new(reference(), binary(), binary(), json(), binary(), json(), integer()) ->
    {ok, {reference(), integer() | null}} | {error, wire_error()}.
nif_run_new(_, _, _, _, _, _, _) -> ?STUB.
%% @private
-spec nif_run_new_dirty(reference(), binary(), binary(), json(), binary(), json(), integer()) ->
    {ok, {reference(), integer() | null}} | {error, wire_error()}.
nif_run_new_dirty(_, _, _, _, _, _, _) -> ?STUB.

%% @doc A new workflow's run (see `nif_run_new/7'), built on a dirty scheduler when its
%% input is large.
-spec new_run(reference(), binary(), binary(), json(), binary(), json(), integer()) ->
    {ok, {reference(), integer() | null}} | {error, wire_error()}.
new_run(Store, Id, Type, InputJson, RunId, OptsJson, Now)
  when is_binary(InputJson), byte_size(InputJson) > ?DIRTY_BYTES ->
    nif_run_new_dirty(Store, Id, Type, InputJson, RunId, OptsJson, Now);
new_run(Store, Id, Type, InputJson, RunId, OptsJson, Now) ->
    nif_run_new(Store, Id, Type, InputJson, RunId, OptsJson, Now).
%% @private
-spec nif_engine_barrier(reference(), pos_integer()) -> {ok, pos_integer()} | {error, wire_error()}.
nif_engine_barrier(_, _) -> ?STUB.
%% @private
-spec nif_engine_describe(reference(), binary()) -> {ok, map()} | {error, wire_error()}.
nif_engine_describe(_, _) -> ?STUB.
%% @private
-spec nif_engine_history(reference(), binary(), binary() | null) -> {ok, [map()]} | {error, wire_error()}.
nif_engine_history(_, _, _) -> ?STUB.
%% @private
-spec nif_engine_list(reference(), map()) -> {ok, {[map()], non_neg_integer() | null}} | {error, wire_error()}.
nif_engine_list(_, _) -> ?STUB.
%% @private
-spec nif_engine_prune(reference(), integer(), pos_integer()) -> {ok, non_neg_integer()} | {error, wire_error()}.
nif_engine_prune(_, _, _) -> ?STUB.
%% @private
-spec nif_engine_forget(reference(), binary()) -> {ok, boolean()} | {error, wire_error()}.
nif_engine_forget(_, _) -> ?STUB.
%% @private
-spec nif_engine_counts(reference(), binary() | null) -> {ok, [{binary(), non_neg_integer()}]} | {error, wire_error()}.
nif_engine_counts(_, _) -> ?STUB.
%% @private
-spec nif_engine_stats(reference()) -> {ok, #{atom() => non_neg_integer()}} | {error, wire_error()}.
nif_engine_stats(_) -> ?STUB.
%% @private
-spec nif_run_open(reference(), binary()) ->
    {ok, {reference(), binary(), json(), binary(), integer() | null}} | {error, wire_error()}.
nif_run_open(_, _) -> ?STUB.
%% @private
-spec nif_run_complete(reference(), ok | error, json(), integer(), pos_integer()) ->
    {ok, replayed | recording} | {error, wire_error()}.
nif_run_complete(Run, Kind, Json, Now, Tag) -> run_command(Run, {complete, Kind, Json}, Now, Tag).
%% @private
-spec nif_run_request_cancel(reference(), json(), integer(), pos_integer()) -> {ok, tuple()} | {error, wire_error()}.
nif_run_request_cancel(Run, ReasonJson, Now, Tag) -> run_command(Run, {request_cancel, ReasonJson}, Now, Tag).
%% @private
-spec nif_run_cancel_requested(reference()) -> {ok, boolean()} | {error, wire_error()}.
nif_run_cancel_requested(Run) -> run_command(Run, cancel_requested, 0, 0).
%% @private
-spec nif_run_end(reference(), terminated | timed_out, json(), integer(), pos_integer()) ->
    {ok, tuple()} | {error, wire_error()}.
nif_run_end(Run, Kind, Json, Now, Tag) -> run_command(Run, {'end', Kind, Json}, Now, Tag).
%% @private
-spec nif_run_continue_as_new(reference(), json(), binary(), integer(), pos_integer()) ->
    {ok, tuple()} | {error, wire_error()}.
nif_run_continue_as_new(Run, InputJson, RunId, Now, Tag) -> run_command(Run, {continue_as_new, InputJson, RunId}, Now, Tag).
%% @private
-spec nif_run_dispatch_activity(reference(), binary(), json(), json(), integer(), pos_integer()) ->
    {ok, tuple()} | {error, wire_error()}.
nif_run_dispatch_activity(Run, Name, InputJson, ConfigJson, Now, Tag) -> run_command(Run, {dispatch_activity, Name, InputJson, ConfigJson}, Now, Tag).
%% @private
-spec nif_run_activity_step(reference(), correlation_id(), integer(), pos_integer()) ->
    {ok, term()} | {error, wire_error()}.
nif_run_activity_step(Run, Ordinal, Now, Tag) -> run_command(Run, {activity_step, Ordinal}, Now, Tag).
%% @private
-spec nif_run_timer_start(reference(), binary(), non_neg_integer(), integer(), pos_integer()) ->
    {ok, {done | recording, pos_integer()}} | {error, wire_error()}.
nif_run_timer_start(Run, Name, Ms, Now, Tag) -> run_command(Run, {timer_start, Name, Ms}, Now, Tag).
%% @private
-spec nif_run_timer_step(reference(), pos_integer(), integer(), pos_integer()) -> {ok, term()} | {error, wire_error()}.
nif_run_timer_step(Run, TimerId, Now, Tag) -> run_command(Run, {timer_step, TimerId}, Now, Tag).
%% @private
-spec nif_run_timer_cancel(reference(), pos_integer(), integer(), pos_integer()) ->
    {ok, done | recording} | {error, wire_error()}.
nif_run_timer_cancel(Run, TimerId, Now, Tag) -> run_command(Run, {timer_cancel, TimerId}, Now, Tag).
%% @private
-spec nif_run_scope_enter(reference(), non_neg_integer(), integer(), pos_integer()) ->
    {ok, {done | recording, pos_integer()}} | {error, wire_error()}.
nif_run_scope_enter(Run, Ms, Now, Tag) -> run_command(Run, {scope_enter, Ms}, Now, Tag).
%% @private
-spec nif_run_scope_exit(reference(), pos_integer(), integer(), pos_integer()) ->
    {ok, {done | recording, boolean()}} | {error, wire_error()}.
nif_run_scope_exit(Run, ScopeId, Now, Tag) -> run_command(Run, {scope_exit, ScopeId}, Now, Tag).
%% @private
-spec nif_run_now(reference()) -> {ok, integer()} | {error, wire_error()}.
nif_run_now(Run) -> run_command(Run, now, 0, 0).
%% @private
-spec nif_run_random(reference()) -> {ok, float()} | {error, wire_error()}.
nif_run_random(Run) -> run_command(Run, random, 0, 0).
%% @private
-spec nif_run_uuid(reference()) -> {ok, binary()} | {error, wire_error()}.
nif_run_uuid(Run) -> run_command(Run, uuid, 0, 0).
%% @private
-spec nif_run_side_effect(reference()) -> {ok, {replayed, json()} | {live, pos_integer()}} | {error, wire_error()}.
nif_run_side_effect(Run) -> run_command(Run, side_effect, 0, 0).
%% @private
-spec nif_run_side_effect_record(reference(), pos_integer(), json(), integer(), pos_integer()) ->
    {ok, recording} | {error, wire_error()}.
nif_run_side_effect_record(Run, Ordinal, Json, Now, Tag) -> run_command(Run, {side_effect_record, Ordinal, Json}, Now, Tag).
%% @private
-spec nif_run_signal_step(reference(), binary(), integer(), pos_integer()) -> {ok, term()} | {error, wire_error()}.
nif_run_signal_step(Run, Name, Now, Tag) -> run_command(Run, {signal_step, Name}, Now, Tag).
%% @private
-spec nif_run_send_signal(reference(), binary(), binary(), json(), integer(), pos_integer()) ->
    {ok, {done | recording, tuple()}} | {error, wire_error()}.
nif_run_send_signal(Run, Target, Name, PayloadJson, Now, Tag) -> run_command(Run, {send_signal, Target, Name, PayloadJson}, Now, Tag).
%% @private
-spec nif_run_signal_delivered(reference(), pos_integer(), binary(), integer(), pos_integer()) ->
    {ok, done | recording} | {error, wire_error()}.
nif_run_signal_delivered(Run, Ordinal, Result, Now, Tag) -> run_command(Run, {signal_delivered, Ordinal, Result}, Now, Tag).
%% @private
-spec nif_run_accept_update(reference(), binary(), binary(), json(), integer(), pos_integer()) ->
    {ok, recording} | {error, wire_error()}.
nif_run_accept_update(Run, UpdateId, Name, ArgsJson, Now, Tag) -> run_command(Run, {accept_update, UpdateId, Name, ArgsJson}, Now, Tag).
%% @private
-spec nif_run_complete_update(reference(), binary(), ok | error, json(), integer(), pos_integer()) ->
    {ok, done | recording} | {error, wire_error()}.
nif_run_complete_update(Run, UpdateId, Kind, Json, Now, Tag) -> run_command(Run, {complete_update, UpdateId, Kind, Json}, Now, Tag).
%% @private
-spec nif_run_start_child(reference(), binary(), json(), binary() | null, binary(), integer(), pos_integer()) ->
    {ok, {done | recording, {pos_integer(), binary(), boolean()}}} | {error, wire_error()}.
nif_run_start_child(Run, Type, InputJson, ChildId, Policy, Now, Tag) -> run_command(Run, {start_child, Type, InputJson, ChildId, Policy}, Now, Tag).
%% @private
-spec nif_run_child_step(reference(), pos_integer(), integer(), pos_integer()) -> {ok, term()} | {error, wire_error()}.
nif_run_child_step(Run, Ordinal, Now, Tag) -> run_command(Run, {child_step, Ordinal}, Now, Tag).
%% @private
-spec nif_run_child_completed(reference(), pos_integer(), binary(), json(), integer(), pos_integer()) ->
    {ok, done | recording} | {error, wire_error()}.
nif_run_child_completed(Run, Ordinal, Status, ValueJson, Now, Tag) -> run_command(Run, {child_completed, Ordinal, Status, ValueJson}, Now, Tag).
%% @private
-spec nif_run_select(reference(), [{activity | child, pos_integer()}], integer(), pos_integer()) ->
    {ok, {non_neg_integer(), term()}} | {error, wire_error()}.
nif_run_select(Run, Items, Now, Tag) -> run_command(Run, {select, Items}, Now, Tag).
%% @private
-spec nif_run_select_settled(reference(), [{activity | child, pos_integer()}], integer(), pos_integer()) ->
    {ok, [{non_neg_integer(), term()}]} | {error, wire_error()}.
nif_run_select_settled(Run, Items, Now, Tag) -> run_command(Run, {select_settled, Items}, Now, Tag).
%% @private
-spec nif_run_cancel_activity(reference(), pos_integer(), integer(), pos_integer()) ->
    {ok, tuple()} | {error, wire_error()}.
nif_run_cancel_activity(Run, Ordinal, Now, Tag) -> run_command(Run, {cancel_activity, Ordinal}, Now, Tag).
%% @private
-spec nif_run_dispatch_activities(reference(), [{binary(), json(), json()}], integer(), pos_integer()) ->
    {ok, {done | recording, [tuple()]}} | {error, wire_error()}.
nif_run_dispatch_activities(Run, Calls, Now, Tag) -> run_command(Run, {dispatch_activities, Calls}, Now, Tag).
%% @private
-spec nif_run_activity_results(reference(), [{pos_integer(), non_neg_integer(), json()}], integer(), pos_integer()) ->
    {ok, done} | {error, wire_error()}.
nif_run_activity_results(Run, Results, Now, Tag) -> run_command(Run, {activity_results, Results}, Now, Tag).
%% @private
-spec nif_run_from_history(binary()) -> {ok, {reference(), binary(), binary(), json(), binary()}} | {error, wire_error()}.
nif_run_from_history(_) -> ?STUB.
%% @private
-spec nif_run_replay_status(reference()) -> {ok, {binary() | null, boolean(), boolean()}} | {error, wire_error()}.
nif_run_replay_status(Run) -> run_command(Run, replay_status, 0, 0).
%% @private
-spec nif_run_flush(reference(), non_neg_integer()) -> {ok, done | recording} | {error, wire_error()}.
nif_run_flush(Run, Tag) -> run_command(Run, flush, 0, Tag).
%% @private
-spec nif_run_closing(reference()) ->
    {ok, {open | {atom(), binary()}, binary() | null}} | {error, wire_error()}.
nif_run_closing(Run) -> run_command(Run, closing, 0, 0).
%% @private
-spec nif_run_inbox_waiting(reference()) -> {ok, boolean()} | {error, wire_error()}.
nif_run_inbox_waiting(Run) -> run_command(Run, inbox_waiting, 0, 0).
%% @private
-spec nif_engine_export(reference(), binary(), binary() | null) -> {ok, binary()} | {error, wire_error()}.
nif_engine_export(_, _, _) -> ?STUB.
%% @private
-spec nif_run_open_children(reference()) -> {ok, [{binary(), binary()}]} | {error, wire_error()}.
nif_run_open_children(Run) -> run_command(Run, open_children, 0, 0).
%% @private
-spec nif_run_patched(reference(), binary(), integer(), pos_integer()) ->
    {ok, {done | recording, boolean()}} | {error, wire_error()}.
nif_run_patched(Run, ChangeId, Now, Tag) -> run_command(Run, {patched, ChangeId}, Now, Tag).
%% @private
-spec nif_engine_push(reference(), binary(), tuple(), integer(), pos_integer()) ->
    {ok, pos_integer()} | {error, wire_error()}.
nif_engine_push(_, _, _, _, _) -> ?STUB.
%% @private
-spec nif_run_take_inbox(reference(), integer(), pos_integer()) ->
    {ok, {done | recording, [{pos_integer(), non_neg_integer()}], [{binary(), binary()}]}} | {error, wire_error()}.
nif_run_take_inbox(_, _, _) -> ?STUB.
%% @private The one NIF for run commands: `Command' is an atom or `{Name, Arg, ...}' (see
%% `native/aion_nif/src/command.rs').
-spec nif_run_command(reference(), atom() | tuple(), integer(), non_neg_integer()) -> {ok, term()} | {error, wire_error()}.
nif_run_command(_, _, _, _) -> ?STUB.
%% @private `nif_run_command/4' on a dirty CPU scheduler (large commands).
-spec nif_run_command_dirty(reference(), atom() | tuple(), integer(), non_neg_integer()) -> {ok, term()} | {error, wire_error()}.
nif_run_command_dirty(_, _, _, _) -> ?STUB.

%% @doc Hands `Command' to the run; a command carrying a large payload goes to a dirty
%% scheduler, so that parsing it never holds a normal one.
-spec run_command(reference(), atom() | tuple(), integer(), non_neg_integer()) -> {ok, term()} | {error, wire_error()}.
run_command(Run, Command, Now, Tag) when is_atom(Command) ->
    nif_run_command(Run, Command, Now, Tag);
run_command(Run, Command, Now, Tag) ->
    case erlang:external_size(Command) > ?DIRTY_BYTES of
        true -> nif_run_command_dirty(Run, Command, Now, Tag);
        false -> nif_run_command(Run, Command, Now, Tag)
    end.
