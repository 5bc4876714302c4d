%% @doc The activity side: what activity code may call from inside an attempt.
%%
%% <b>Heartbeats.</b> A long-running activity calls `heartbeat(Details)' now and then to
%% prove it is alive and to record how far it got. With the activity option
%% `heartbeat_timeout_ms' (see `aion_flow:activity/3'), an attempt that goes longer than
%% that without a heartbeat (counted from its start and from each heartbeat) is stopped and
%% fails with the retryable error type `heartbeat_timeout'. Whenever an attempt fails (an
%% error it returned, a crash, `timeout', `heartbeat_timeout', `schedule_to_close'), the
%% details of its last heartbeat are recorded with the failure (the `details' of the
%% `ActivityFailed' event's error), and the next attempt reads them with `last_heartbeat/0'
%% to resume where the earlier one was.
%%
%% Heartbeats are not history events and send no message. What is throttled is the
%% looking: a call writes the time and the details to a table local to the worker's node
%% (owned by `aion_activity_pool'; the details are JSON-encoded only when they differ from
%% the previous call's), and the pool looks at an attempt's last heartbeat at most once
%% per `heartbeat_timeout_ms': when the timeout would run out counting from the heartbeat
%% it saw last. The details reach the workflow only with the attempt's failure, so the
%% failure always carries the details of the last successful call. Everything stays on the
%% node that runs the attempt (also when the pool passed it to another node).
%%
%% <b>Cancellation.</b> When the workflow cancels the activity (the workflow is cancelled,
%% or the activity lost a race), the pool sends the attempt's process
%% `{aion_cancel, Ordinal, Attempt}' and kills it after `cancel_grace_ms'. `heartbeat/1'
%% notices that message and answers `{error, cancelled}' from then on; the message stays
%% in the mailbox, so code that `receive's it still sees it.
-module(aion_activity).

-export([heartbeat/1]).
-export([last_heartbeat/0]).
-export([init_table/0]).
-export([begin_attempt/3, begin_attempt/4]).
-export([last_beat/2]).
-export([recorded/1]).
-export([forget/1]).

-define(TABLE, aion_activity_heartbeats).
%% The process dictionary of an attempt's process.
-define(ATTEMPT, aion_activity_attempt).
-define(CANCELLED, aion_activity_cancelled).
-define(LAST_SENT, aion_activity_last_details).

%% @doc Records `Details' (any JSON-compatible term: maps with binary or atom keys, lists,
%% binaries, numbers, atoms) as the calling attempt's latest heartbeat and proves that the
%% attempt is alive. `null' proves liveness only and keeps the details recorded before.
%%
%% Answers `ok'; `{error, cancelled}' once the workflow cancelled the activity, or the pool
%% that started the attempt is gone (nothing is recorded: the attempt should stop); `{error,
%% {bad_details, Why}}' when `Details' is not JSON-compatible or larger than
%% `max_payload_bytes' (nothing is recorded, not even the liveness); `{error,
%% not_in_activity}' when the caller is not an activity attempt's own process (a process
%% the attempt spawned is not). An activity an enclosing `with_timeout' gave up on is not
%% cancelled: `ok' until the run closes. Never raises.
-spec heartbeat(term()) -> ok | {error, cancelled | not_in_activity | {bad_details, term()}}.
heartbeat(Details) ->
    case get(?ATTEMPT) of
        #{ordinal := Ordinal, attempt := Attempt} = Current ->
            case orphaned(Current) orelse cancelled(Ordinal, Attempt) of
                true -> {error, cancelled};
                false -> beat(Details)
            end;
        _ ->
            {error, not_in_activity}
    end.

%% @doc The details of the last heartbeat recorded before an earlier attempt of this
%% activity failed (the latest such attempt that heartbeated): `{ok, Details}' (JSON
%% objects read back as maps with binary keys), or `none' in the first attempt, when no
%% earlier attempt heartbeated, and outside an activity attempt's process.
-spec last_heartbeat() -> {ok, term()} | none.
last_heartbeat() ->
    case get(?ATTEMPT) of
        #{last_heartbeat := Json} when is_binary(Json) ->
            case aion_flow_ffi:json_decode(Json) of
                {ok, Details} -> {ok, Details};
                {error, _} -> none
            end;
        _ ->
            none
    end.

%% @private The heartbeat table: `{WorkerPid, LastBeatMonotonicMs, DetailsJson | none}',
%% written by workers, read by `aion_activity_pool' (its owner).
-spec init_table() -> ok.
init_table() ->
    _ = ets:new(?TABLE, [set, public, named_table, {write_concurrency, true}]),
    ok.

%% @private Marks the calling process as attempt `Attempt' of activity `Ordinal';
%% `LastHeartbeat' is what `last_heartbeat/0' answers from (JSON text or `none').
-spec begin_attempt(pos_integer(), pos_integer(), binary() | none) -> ok.
begin_attempt(Ordinal, Attempt, LastHeartbeat) ->
    begin_attempt(Ordinal, Attempt, LastHeartbeat, undefined).

%% @private As `begin_attempt/3', for a worker of pool process `Pool' (its heartbeats
%% answer `{error, cancelled}' once that pool is gone).
-spec begin_attempt(pos_integer(), pos_integer(), binary() | none, pid() | undefined) -> ok.
begin_attempt(Ordinal, Attempt, LastHeartbeat, Pool) ->
    put(?ATTEMPT, #{ordinal => Ordinal, attempt => Attempt, last_heartbeat => LastHeartbeat,
                    pool => Pool}),
    ok.

%% @private When worker `Pid' last heartbeated (monotonic ms), or `Default' if it never did.
-spec last_beat(pid(), integer()) -> integer().
last_beat(Pid, Default) ->
    try ets:lookup_element(?TABLE, Pid, 2)
    catch error:badarg -> Default
    end.

%% @private The details of worker `Pid''s last heartbeat (JSON text), or `none'.
-spec recorded(pid()) -> binary() | none.
recorded(Pid) ->
    try ets:lookup_element(?TABLE, Pid, 3)
    catch error:badarg -> none
    end.

%% @private Drops what worker `Pid' recorded (it is gone).
-spec forget(pid()) -> ok.
forget(Pid) ->
    try ets:delete(?TABLE, Pid), ok
    catch error:badarg -> ok
    end.

%% Whether the pool that started this attempt is gone: its workers die with it, unless
%% they trap exits; such a survivor belongs to nobody (the run's next incarnation starts
%% its own attempt), so it is told it is cancelled and writes nothing to the new pool's
%% table (nothing would ever remove it).
orphaned(#{pool := Pool}) when is_pid(Pool) ->
    case is_process_alive(Pool) of
        true -> false;
        false -> put(?CANCELLED, true), true
    end;
orphaned(_) ->
    false.

%% Whether the workflow cancelled this attempt: seen before, or waiting in the mailbox (it
%% is put back, at the end of the mailbox, for activity code that receives it).
cancelled(Ordinal, Attempt) ->
    case get(?CANCELLED) of
        true ->
            true;
        _ ->
            receive
                {aion_cancel, Ordinal, Attempt} = Cancel ->
                    put(?CANCELLED, true),
                    self() ! Cancel,
                    true
            after 0 ->
                false
            end
    end.

beat(Details) ->
    Now = erlang:monotonic_time(millisecond),
    case get(?LAST_SENT) of
        {sent, Same} when Same =:= Details ->
            touch(Now);
        _ when Details =:= null ->
            touch(Now);
        _ ->
            case aion:encode_payload(Details) of
                {ok, Json} ->
                    put(?LAST_SENT, {sent, Details}),
                    write({self(), Now, Json});
                {error, Why} ->
                    {error, {bad_details, Why}}
            end
    end.

%% A heartbeat that keeps the details recorded before.
touch(Now) ->
    try ets:update_element(?TABLE, self(), {2, Now}) of
        true -> ok;
        false -> write({self(), Now, none})
    catch error:badarg -> ok
    end.

write(Entry) ->
    try ets:insert(?TABLE, Entry), ok
    catch error:badarg -> ok
    end.
