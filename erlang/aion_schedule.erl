%% @doc Schedules: start a workflow on a cron expression or every N milliseconds.
%%
%% A schedule is itself a durable workflow (type `aion.schedule', id
%% `<<"aion.schedule/", Id/binary>>'), so it survives restarts and crashes, moves to
%% another node with its run in a cluster, and runs on the test harness's virtual clock.
%% Its loop sleeps on a durable timer until the next slot, then starts the slot's workflow
%% from an activity. The started workflow's id is derived from the schedule id and the
%% slot time (`<<"nightly@2026-11-28T02:00:00.000Z">>'), so a slot starts at most one
%% workflow whatever crashes or retries happen between the decision and its record.
%%
%% Slots missed while no node ran the schedule (the node was down) are started when it
%% runs again if they are within `catchup_window_ms' of that time; older ones are skipped
%% and counted (`missed'), without visiting each (see `aion_cron:count/3'). When a slot
%% comes while the workflow the schedule started last is still running, `overlap' says
%% what happens: `skip' (default; counted `skipped_overlap'), `buffer_one' (the slot waits
%% until that run closes, at most one waits; more are skipped), `allow_all' (start anyway)
%% or `cancel_other' (cancel the running one, start the new one).
%%
%% Control goes through workflow updates (pause, unpause, trigger, delete: recorded, so
%% they are durable once they return) and a query (describe). The loop continues as new
%% every 100 steps, so its history stays short however long the schedule lives.
-module(aion_schedule).

-export([create/2]).
-export([pause/1]).
-export([unpause/1]).
-export([trigger/1]).
-export([delete/1]).
-export([describe/1]).
-export([list/0]).
-export([slot_id/2]).

%% Internal: registered by the application, run by the engine.
-export([register/0]).
-export([run/1]).
-export([start_slot/1]).

-export_type([spec/0, info/0]).

-type spec() :: #{workflow := binary(), input => term(), cron => binary(), utc_offset => binary(),
                  every_ms => pos_integer(), overlap => overlap(),
                  catchup_window_ms => non_neg_integer(), paused => boolean()}.
-type overlap() :: skip | buffer_one | allow_all | cancel_other.
-type info() :: #{id := binary(), workflow := binary(), input := term(),
                  cron => binary(), utc_offset => binary(), every_ms => pos_integer(),
                  overlap := overlap(), catchup_window_ms := non_neg_integer(),
                  paused := boolean(), next_runs := [integer()], running := binary() | null,
                  buffered := integer() | null, counts := #{atom() => non_neg_integer()},
                  recent := [map()], created_at := integer(), last_slot := integer()}.

-define(TYPE, <<"aion.schedule">>).
-define(START, <<"aion.schedule.start">>).
-define(PREFIX, "aion.schedule/").
-define(WAKE, <<"aion.schedule.wake">>).
-define(KEY, {?MODULE, state}).
%% Steps of the loop per run before it continues as new.
-define(STEPS_PER_RUN, 100).
%% While a slot waits for a running workflow (`buffer_one'), the loop also looks every
%% this many ms (the usual wake is a watcher's signal when that workflow closes).
-define(BUFFER_POLL_MS, 30000).
-define(RECENT, 10).
%% At most this many starts per step of the loop (a long catch-up takes several steps, and
%% the history continues as new between them).
-define(BATCH, 20).
%% The slot the loop slept for is on time when its wake comes at most this late.
-define(ON_TIME_MS, 10000).
-define(DEFAULT_CATCHUP_MS, 3600000).
-define(CALL_MS, 15000).
%% The largest `every_ms' and `catchup_window_ms' (a hundred years): slot times and timers
%% stay well inside the 64-bit integers that histories and queries carry.
-define(MAX_MS, 3155760000000).
-define(OVERLAPS, [<<"skip">>, <<"buffer_one">>, <<"allow_all">>, <<"cancel_other">>]).
-define(COUNTS, [<<"started">>, <<"skipped_overlap">>, <<"missed">>, <<"paused">>, <<"failed">>,
                 <<"buffered">>]).

%% ---------------------------------------------------------------------------------------
%% The API (exposed as `aion:create_schedule/2' and friends)

%% @doc Creates schedule `Id' (see `aion:create_schedule/2').
-spec create(binary(), spec()) -> ok | {error, term()}.
create(Id, Spec) ->
    case {valid_id(Id), check_spec(Spec)} of
        {false, _} ->
            {error, {bad_argument, schedule_id, Id}};
        {true, {error, _} = Error} ->
            Error;
        {true, {ok, Normal}} ->
            Now = aion_clock:now_ms(),
            State = #{<<"id">> => Id, <<"spec">> => Normal,
                      <<"paused">> => maps:get(paused, norm_keys(Spec), false),
                      <<"last">> => Now, <<"created_at">> => Now, <<"running">> => null,
                      <<"buffered">> => null, <<"recent">> => [], <<"steps">> => 0,
                      <<"counts">> => maps:from_list([{C, 0} || C <- ?COUNTS])},
            Start = fun() -> aion:start_workflow(?TYPE, State, #{workflow_id => workflow_id(Id),
                                                               id_reuse => allow_closed})
                    end,
            case aion:describe(workflow_id(Id)) of
                {ok, #{status := S}} when S =:= running; S =:= blocked -> {error, {already_exists, Id}};
                _ ->
                    case Start() of
                        {ok, _} -> ok;
                        {error, {already_started, _}} -> {error, {already_exists, Id}};
                        {error, _} = Error -> Error
                    end
            end
    end.

%% @doc Pauses schedule `Id': its slots pass without starting anything (counted `paused').
-spec pause(binary()) -> ok | {error, term()}.
pause(Id) ->
    control(Id, <<"pause">>).

%% @doc Unpauses schedule `Id': the next slot starts its workflow again.
-spec unpause(binary()) -> ok | {error, term()}.
unpause(Id) ->
    control(Id, <<"unpause">>).

%% @doc Starts schedule `Id''s workflow now (also when paused), under its overlap policy.
-spec trigger(binary()) -> {ok, #{outcome := started | skipped | buffered | failed,
                                  workflow_id := binary() | null}} | {error, term()}.
trigger(Id) ->
    case call(Id, <<"trigger">>) of
        {ok, #{<<"outcome">> := Outcome, <<"workflow_id">> := W}} ->
            {ok, #{outcome => binary_to_atom(Outcome), workflow_id => W}};
        {error, _} = Error ->
            Error
    end.

%% @doc Deletes schedule `Id': no slot starts anything any more; the workflows it started
%% go on. Returns once the schedule's workflow has closed.
-spec delete(binary()) -> ok | {error, term()}.
delete(Id) ->
    case control(Id, <<"delete">>) of
        ok ->
            case aion:await(workflow_id(Id), ?CALL_MS) of
                {ok, _} -> ok;
                {error, _} = Error -> Error
            end;
        {error, _} = Error ->
            Error
    end.

%% @doc Schedule `Id': its spec, state, next five slot times, counts and recent actions.
-spec describe(binary()) -> {ok, info()} | {error, term()}.
describe(Id) ->
    case valid_id(Id) andalso aion:query(workflow_id(Id), <<"describe">>, null, ?CALL_MS) of
        false -> {error, not_found};
        {ok, View} -> {ok, info(View)};
        {error, _} = Error -> not_found(Id, Error)
    end.

%% @doc Every schedule (as `describe/1'), by id.
-spec list() -> {ok, [info()]} | {error, term()}.
list() ->
    case aion:list(#{type => ?TYPE, status => running}) of
        {ok, Runs} ->
            Ids = lists:sort([Id || #{workflow_id := <<?PREFIX, Id/binary>>} <- Runs]),
            {ok, [Info || Id <- Ids, {ok, Info} <- [describe(Id)]]};
        {error, _} = Error ->
            Error
    end.

control(Id, Name) ->
    case call(Id, Name) of
        {ok, _} -> ok;
        {error, _} = Error -> Error
    end.

call(Id, Name) ->
    case valid_id(Id) andalso aion:update(workflow_id(Id), Name, null, ?CALL_MS) of
        false -> {error, not_found};
        {ok, Result} -> {ok, Result};
        {error, _} = Error -> not_found(Id, Error)
    end.

%% A schedule whose workflow is closed (deleted) is not found.
not_found(_Id, {error, not_running}) -> {error, not_found};
not_found(_Id, Error) -> Error.

workflow_id(Id) -> <<?PREFIX, Id/binary>>.

%% The slot's workflow id leaves room for the time after the schedule id.
valid_id(Id) ->
    aion:valid_name(Id) andalso byte_size(Id) =< 200.

%% ---------------------------------------------------------------------------------------
%% The spec

norm_keys(Spec) ->
    maps:fold(fun(K, V, Acc) when is_binary(K) ->
                      try Acc#{binary_to_existing_atom(K) => V}
                      catch error:badarg -> throw({bad_schedule, {unknown_field, K}})
                      end;
                 (K, V, Acc) -> Acc#{K => V}
              end, #{}, Spec).

%% Checks a spec and returns its recorded (JSON) form.
check_spec(Spec) when is_map(Spec) ->
    try
        S = norm_keys(Spec),
        Known = [workflow, input, cron, utc_offset, every_ms, overlap, catchup_window_ms, paused],
        _ = [throw({bad_schedule, {unknown_field, K}}) || K <- maps:keys(S), not lists:member(K, Known)],
        Type = case maps:find(workflow, S) of
            {ok, T} when is_binary(T) ->
                (aion:valid_name(T) andalso T =/= ?TYPE) orelse throw({bad_schedule, {workflow, T}}),
                aion_engine:lookup(workflow, T) =/= error orelse throw({unknown_workflow_type, T}),
                T;
            {ok, T} -> throw({bad_schedule, {workflow, T}});
            error -> throw({bad_schedule, {missing_field, workflow}})
        end,
        Input = maps:get(input, S, null),
        case aion:encode_payload(Input) of
            {ok, _} -> ok;
            {error, Invalid} -> throw(Invalid)
        end,
        Timing = timing(S),
        Overlap = to_binary(maps:get(overlap, S, skip)),
        lists:member(Overlap, ?OVERLAPS) orelse throw({bad_schedule, {overlap, maps:get(overlap, S)}}),
        Catchup = case maps:get(catchup_window_ms, S, ?DEFAULT_CATCHUP_MS) of
            C when is_integer(C), C >= 0, C =< ?MAX_MS -> C;
            C -> throw({bad_schedule, {catchup_window_ms, C}})
        end,
        is_boolean(maps:get(paused, S, false)) orelse throw({bad_schedule, {paused, maps:get(paused, S)}}),
        {ok, Timing#{<<"workflow">> => Type, <<"input">> => Input, <<"overlap">> => Overlap,
                     <<"catchup_window_ms">> => Catchup}}
    catch
        throw:Why -> {error, Why}
    end;
check_spec(Spec) ->
    {error, {bad_schedule, {not_a_map, Spec}}}.

timing(#{cron := _, every_ms := _}) ->
    throw({bad_schedule, {cron_and_every_ms, both_given}});
timing(S = #{cron := Cron}) ->
    Offset = maps:get(utc_offset, S, <<"Z">>),
    Minutes = case is_binary(Offset) andalso aion_cron:parse_offset(Offset) of
        {ok, M} -> M;
        _ -> throw({bad_schedule, {utc_offset, Offset}})
    end,
    case is_binary(Cron) andalso aion_cron:parse(Cron, Minutes) of
        {ok, _} -> #{<<"cron">> => Cron, <<"utc_offset">> => Offset};
        {error, Why} -> throw({bad_schedule, {cron, Cron, Why}});
        false -> throw({bad_schedule, {cron, Cron, not_a_binary}})
    end;
timing(S = #{every_ms := Ms}) when is_integer(Ms), Ms > 0, Ms =< ?MAX_MS ->
    maps:is_key(utc_offset, S) andalso throw({bad_schedule, {utc_offset, only_with_cron}}),
    #{<<"every_ms">> => Ms};
timing(#{every_ms := Ms}) ->
    throw({bad_schedule, {every_ms, Ms}});
timing(_) ->
    throw({bad_schedule, {missing_field, cron_or_every_ms}}).

to_binary(A) when is_atom(A) -> atom_to_binary(A);
to_binary(B) -> B.

%% The first slot after `After', or `none'.
next_slot(Spec, After) ->
    aion_cron:next(slots(Spec), After).

%% How many slots lie in `(From, To]'.
count_slots(Spec, From, To) ->
    aion_cron:count(slots(Spec), From, To).

%% The spec's slots. A cron expression is parsed once per process (the loop asks for its
%% next slot at every step; describe for five).
slots(#{<<"every_ms">> := Every}) ->
    aion_cron:every(Every);
slots(#{<<"cron">> := Expr, <<"utc_offset">> := Offset}) ->
    Key = {?MODULE, cron, Expr, Offset},
    case get(Key) of
        undefined ->
            {ok, Minutes} = aion_cron:parse_offset(Offset),
            {ok, Cron} = aion_cron:parse(Expr, Minutes),
            put(Key, Cron),
            Cron;
        Cron ->
            Cron
    end.

%% ---------------------------------------------------------------------------------------
%% The schedule's workflow

%% @private Registers the schedule workflow type and its activity.
-spec register() -> ok.
register() ->
    ok = aion:register_workflow(?TYPE, {?MODULE, run}),
    ok = aion:register_activity(?START, {?MODULE, start_slot}).

%% @private The schedule's workflow: `State' as `create/2' (or the last continue-as-new)
%% left it.
-spec run(map()) -> {ok, map()}.
run(State) ->
    put(?KEY, State),
    Always = fun(_) -> ok end,
    ok = aion_flow:set_update_handler(<<"pause">>, Always, fun(_) -> set_paused(true) end),
    ok = aion_flow:set_update_handler(<<"unpause">>, Always, fun(_) -> set_paused(false) end),
    ok = aion_flow:set_update_handler(<<"delete">>, Always, fun(_) ->
        change(fun(S) -> S#{<<"deleted">> => true} end),
        wake()
    end),
    ok = aion_flow:set_update_handler(<<"trigger">>, Always, fun(_) -> fire(aion_flow:now(), trigger) end),
    publish(),
    loop().

loop() ->
    case get(?KEY) of
        #{<<"deleted">> := true} = S ->
            {ok, maps:with([<<"counts">>, <<"last">>], S)};
        #{<<"steps">> := Steps} = S when Steps >= ?STEPS_PER_RUN ->
            aion_flow:continue_as_new(S#{<<"steps">> => 0});
        _ ->
            Now = aion_flow:now(),
            settle_buffered(),
            Taken = take_slots(Now),
            change(fun(S = #{<<"steps">> := N}) -> S#{<<"steps">> => N + 1 + Taken} end),
            case get(?KEY) of
                #{<<"last">> := Last, <<"paused">> := false} when Last < Now ->
                    %% A long catch-up is taken a batch at a time (the history continues
                    %% as new in between): the rest is due at once.
                    loop();
                State ->
                    case wait_ms(State, Now) of
                        infinity -> receive_wake(aion_flow:receive_signal(?WAKE));
                        Ms -> receive_wake(aion_flow:receive_signal(?WAKE, Ms))
                    end
            end
    end.

receive_wake({error, cancelled}) ->
    %% Cancelling the schedule's workflow deletes the schedule.
    change(fun(S) -> S#{<<"deleted">> => true} end),
    loop();
receive_wake(_) ->
    loop().

%% Takes the slots up to `Now' and answers how many it started (at most ?BATCH: the rest
%% stays due, `last' marks how far it got). Slots older than the catch-up window are
%% counted missed — but the slot the loop slept for is started whatever the window when
%% its wake comes less than ?ON_TIME_MS late (a wake always comes a little after its
%% slot). Paused: the slots are counted paused.
take_slots(Now) ->
    #{<<"spec">> := Spec, <<"last">> := Last, <<"paused">> := Paused} = get(?KEY),
    case Paused of
        true ->
            N = count_slots(Spec, Last, Now),
            change(fun(S) -> bump(<<"paused">>, N, S#{<<"last">> => max(Last, Now)}) end),
            0;
        false ->
            Edge = max(Last, Now - maps:get(<<"catchup_window_ms">>, Spec) - 1),
            Taken = case next_slot(Spec, Last) of
                First when is_integer(First), First =< Edge, Now - First =< ?ON_TIME_MS ->
                    fire(First, slot),
                    change(fun(S) -> S#{<<"last">> => First} end),
                    1;
                _ ->
                    0
            end,
            #{<<"last">> := From} = get(?KEY),
            Missed = count_slots(Spec, From, Edge),
            change(fun(S) -> bump(<<"missed">>, Missed, S#{<<"last">> => max(From, Edge)}) end),
            start_due(Spec, max(From, Edge), Now, Taken)
    end.

start_due(_Spec, _After, _Now, Taken) when Taken >= ?BATCH ->
    Taken;
start_due(Spec, After, Now, Taken) ->
    case {next_slot(Spec, After), get(?KEY)} of
        {_, #{<<"paused">> := true}} ->
            %% Paused meanwhile (an update ran at the last start): the rest counts as paused.
            Taken;
        {Slot, _} when is_integer(Slot), Slot =< Now ->
            fire(Slot, slot),
            change(fun(S = #{<<"last">> := L}) -> S#{<<"last">> => max(L, Slot)} end),
            start_due(Spec, Slot, Now, Taken + 1);
        _ ->
            change(fun(S = #{<<"last">> := L}) -> S#{<<"last">> => max(L, Now)} end),
            Taken
    end.

%% A slot that waits for a running workflow (`buffer_one') starts once that one closed.
settle_buffered() ->
    case get(?KEY) of
        #{<<"buffered">> := Slot, <<"paused">> := false} when is_integer(Slot) -> fire(Slot, buffered);
        _ -> ok
    end.

wait_ms(#{<<"paused">> := true}, _Now) ->
    infinity;
wait_ms(#{<<"spec">> := Spec, <<"last">> := Last, <<"buffered">> := Buffered}, Now) ->
    Next = case next_slot(Spec, max(Last, Now)) of
        none -> infinity;
        T -> max(0, T - Now)
    end,
    case Buffered of
        null -> Next;
        _ -> min(Next, ?BUFFER_POLL_MS)
    end.

%% Acts on slot `Slot' (`slot': a scheduled one; `buffered': one waiting for the running
%% workflow; `trigger': asked for now) and answers what it did.
fire(Slot, Why) ->
    #{<<"id">> := Id, <<"spec">> := Spec, <<"running">> := Running} = get(?KEY),
    Input0 = #{<<"schedule">> => Id, <<"slot">> => Slot, <<"running">> => Running,
               <<"policy">> => maps:get(<<"overlap">>, Spec),
               <<"workflow">> => maps:get(<<"workflow">>, Spec),
               <<"input">> => maps:get(<<"input">>, Spec)},
    %% A trigger is no slot: its workflow is named by the time and the trigger's number,
    %% so two triggers at one instant (or one at a slot's time) start two workflows.
    Input = case Why of
        trigger ->
            N = maps:get(<<"triggers">>, get(?KEY), 0) + 1,
            change(fun(S) -> S#{<<"triggers">> => N} end),
            Input0#{<<"workflow_id">> => trigger_id(Id, Slot, N)};
        _ ->
            Input0
    end,
    Opts = #{retry => #{max_attempts => 5, initial_interval_ms => 200, max_interval_ms => 5000},
             start_to_close_ms => 30000},
    Outcome = case aion_flow:activity(?START, Input, Opts) of
        {ok, #{<<"outcome">> := O} = R} -> {O, maps:get(<<"workflow_id">>, R, null), maps:get(<<"reason">>, R, null)};
        {error, Reason} -> {<<"failed">>, null, aion_flow_ffi:printed(Reason)}
    end,
    %% Answer what `record/4' makes of it: a slot that would wait while one waits already
    %% is skipped.
    WaitsAlready = maps:get(<<"buffered">>, get(?KEY)) =/= null andalso Why =/= buffered,
    change(fun(S) -> record(Slot, Why, Outcome, S) end),
    {O1, W1, _} = Outcome,
    Answer = case O1 of
        <<"buffer">> when WaitsAlready -> <<"skipped">>;
        <<"buffer">> -> <<"buffered">>;
        _ -> O1
    end,
    #{<<"outcome">> => Answer, <<"workflow_id">> => W1}.

record(Slot, Why, {<<"started">>, W, _}, S) ->
    S1 = case Why of buffered -> S#{<<"buffered">> => null}; _ -> S end,
    recent(#{<<"slot">> => Slot, <<"workflow_id">> => W, <<"outcome">> => <<"started">>},
           bump(<<"started">>, 1, S1#{<<"running">> => W}));
record(_Slot, buffered, {<<"buffer">>, _, _}, S) ->
    S;
record(Slot, _Why, {<<"buffer">>, _, _}, S = #{<<"buffered">> := null}) ->
    bump(<<"buffered">>, 1, S#{<<"buffered">> => Slot});
record(Slot, Why, {<<"buffer">>, W, R}, S) ->
    %% One slot waits already: this one is skipped.
    record(Slot, Why, {<<"skipped">>, W, R}, S);
record(Slot, _Why, {<<"skipped">>, _, _}, S) ->
    recent(#{<<"slot">> => Slot, <<"outcome">> => <<"skipped">>}, bump(<<"skipped_overlap">>, 1, S));
record(Slot, Why, {<<"failed">>, _, Reason}, S) ->
    S1 = case Why of buffered -> S#{<<"buffered">> => null}; _ -> S end,
    recent(#{<<"slot">> => Slot, <<"outcome">> => <<"failed">>, <<"reason">> => Reason},
           bump(<<"failed">>, 1, S1)).

bump(Count, N, S = #{<<"counts">> := Counts}) ->
    S#{<<"counts">> => Counts#{Count => maps:get(Count, Counts, 0) + N}}.

recent(Entry, S = #{<<"recent">> := Recent}) ->
    S#{<<"recent">> => lists:sublist([Entry | Recent], ?RECENT)}.

set_paused(Paused) ->
    Now = aion_flow:now(),
    change(fun(S = #{<<"paused">> := Was, <<"spec">> := Spec, <<"last">> := Last}) ->
               case {Was, Paused} of
                   {true, false} ->
                       %% The slots that passed while paused are counted, not caught up.
                       bump(<<"paused">>, count_slots(Spec, Last, Now),
                            S#{<<"paused">> => false, <<"last">> => max(Last, Now)});
                   _ ->
                       S#{<<"paused">> => Paused}
               end
           end),
    wake().

%% Tells the loop (waiting for the next slot) to look again.
wake() ->
    #{<<"id">> := Id} = get(?KEY),
    _ = aion_flow:signal(workflow_id(Id), ?WAKE, null),
    ok.

%% Changes the state (never held across an await: update handlers change it too) and
%% what `describe' answers.
change(Fun) ->
    put(?KEY, Fun(get(?KEY))),
    publish().

publish() ->
    State = get(?KEY),
    ok = aion_flow:set_query_handler(<<"describe">>, fun(_) -> view(State) end).

view(S = #{<<"spec">> := Spec, <<"last">> := Last, <<"paused">> := Paused}) ->
    Now = aion_clock:now_ms(),
    From = max(Last, Now),
    %% A paused schedule does not wake for its slots: the ones passed so far are counted here.
    Counts = case Paused of
        true -> maps:get(<<"counts">>, bump(<<"paused">>, count_slots(Spec, Last, Now), S));
        false -> maps:get(<<"counts">>, S)
    end,
    Next = lists:reverse(lists:foldl(fun(_, [none | _] = Acc) -> Acc;
                                        (_, [T | _] = Acc) -> [next_slot(Spec, T) | Acc]
                                     end, [From], lists:seq(1, 5))),
    Spec#{<<"id">> => maps:get(<<"id">>, S),
          <<"paused">> => maps:get(<<"paused">>, S),
          <<"next_runs">> => [T || T <- tl(Next), T =/= none],
          <<"running">> => maps:get(<<"running">>, S),
          <<"buffered">> => maps:get(<<"buffered">>, S),
          <<"counts">> => Counts,
          <<"recent">> => maps:get(<<"recent">>, S),
          <<"created_at">> => maps:get(<<"created_at">>, S),
          %% Paused, the slots up to now are counted (as paused) too.
          <<"last_slot">> => case Paused of true -> From; false -> Last end}.

%% The query's JSON view as the API answers it: atom keys, the overlap policy an atom.
info(View) ->
    Keys = [id, workflow, input, cron, utc_offset, every_ms, overlap, catchup_window_ms, paused,
            next_runs, running, buffered, counts, recent, created_at, last_slot],
    Info = maps:from_list([{K, maps:get(atom_to_binary(K), View)}
                           || K <- Keys, maps:is_key(atom_to_binary(K), View)]),
    Info#{overlap => binary_to_atom(maps:get(overlap, Info)),
          counts => maps:from_list([{binary_to_atom(K), V} || {K, V} <- maps:to_list(maps:get(counts, Info))]),
          recent => [maps:from_list([{binary_to_atom(K), V} || {K, V} <- maps:to_list(E)])
                     || E <- maps:get(recent, Info)]}.

%% ---------------------------------------------------------------------------------------
%% The activity

%% @private Activity `aion.schedule.start': starts the slot's workflow, or not, under the
%% overlap policy. Idempotent: a slot whose workflow exists was started (by an earlier
%% attempt of this activity). Answers `#{outcome => started | skipped | buffer | failed}'.
-spec start_slot(map()) -> {ok, map()}.
start_slot(#{<<"schedule">> := Id, <<"slot">> := Slot, <<"running">> := Running,
             <<"policy">> := Policy, <<"workflow">> := Type, <<"input">> := Input} = Args) ->
    SlotId = maps:get(<<"workflow_id">>, Args, slot_id(Id, Slot)),
    Active = Running =/= null andalso Running =/= SlotId andalso running(Running),
    case aion:describe(SlotId) of
        {ok, _} ->
            {ok, #{outcome => started, workflow_id => SlotId}};
        {error, not_found} when not Active; Policy =:= <<"allow_all">> ->
            start(Type, Input, SlotId);
        {error, not_found} when Policy =:= <<"cancel_other">> ->
            _ = aion:cancel(Running, #{<<"schedule">> => Id, <<"superseded_by">> => SlotId}),
            start(Type, Input, SlotId);
        {error, not_found} when Policy =:= <<"buffer_one">> ->
            watch(Running, Id),
            {ok, #{outcome => buffer}};
        {error, not_found} ->
            {ok, #{outcome => skipped}};
        {error, Reason} ->
            {error, Reason}
    end.

start(Type, Input, SlotId) ->
    case aion:start_workflow(Type, Input, #{workflow_id => SlotId}) of
        {ok, _} -> {ok, #{outcome => started, workflow_id => SlotId}};
        {error, {already_started, _}} -> {ok, #{outcome => started, workflow_id => SlotId}};
        {error, {already_exists, _}} -> {ok, #{outcome => started, workflow_id => SlotId}};
        {error, Reason} -> {ok, #{outcome => failed, reason => aion_flow_ffi:printed(Reason)}}
    end.

running(Id) ->
    case aion:describe(Id) of
        {ok, #{status := Status}} -> Status =:= running orelse Status =:= blocked;
        {error, _} -> false
    end.

%% Wakes the schedule when `Running' closes (a plain process, one per schedule and run on
%% a node: after a restart the loop's poll covers for it).
watch(Running, Id) ->
    _ = spawn(fun() ->
                  Key = {Id, Running},
                  case ets:insert_new(aion_schedule_watchers, {Key, self()}) of
                      true ->
                          try aion:await(Running, infinity)
                          after ets:delete(aion_schedule_watchers, Key)
                          end,
                          aion:signal(workflow_id(Id), ?WAKE, null);
                      false ->
                          ok
                  end
              end),
    ok.

%% The workflow id of the `N'th trigger of schedule `Id', at `Ms'.
trigger_id(Id, Ms, N) ->
    <<(slot_id(Id, Ms))/binary, "/trigger-", (integer_to_binary(N))/binary>>.

%% @doc The workflow id of schedule `Id''s slot at `SlotMs': the id and the slot time in
%% RFC 3339 (UTC, milliseconds), joined by `@'.
-spec slot_id(binary(), integer()) -> binary().
slot_id(Id, SlotMs) ->
    Time = calendar:system_time_to_rfc3339(SlotMs, [{unit, millisecond}, {offset, "Z"}]),
    <<Id/binary, "@", (list_to_binary(Time))/binary>>.
