%% @doc What a run's history says, for the dashboard: its activities with their attempts
%% (start, end, duration, error), its timers, signals, children and updates, and what the
%% run waits on now — all derived from the recorded events (as `aion:history/1' gives
%% them), so it is the same on every node and after a restart.
%%
%% Everything returned is JSON-safe (binary keys), ready for `aion_flow_ffi:json_encode/1'.
-module(aion_http_history).

-export([digest/2]).
-export([json_safe/1]).

%% @doc Reads `Events' (oldest first) of a run whose summary status is `Status':
%% `#{<<"activities">>, <<"timers">>, <<"signals">>, <<"children">>, <<"updates">>,
%% <<"waiting_on">>, <<"input">>}'. `waiting_on' lists what is pending (activities scheduled
%% or started without a final result, timers neither fired nor cancelled, children not
%% closed, updates accepted and not completed); for a run that waits and has nothing
%% pending in its history it names a signal or update wait (which one is not recorded).
%% It is empty for a closed run.
-spec digest([map()], atom()) -> map().
digest(Events, Status) ->
    S = lists:foldl(fun step/2, #{activities => #{}, timers => #{}, children => #{},
                                  received => [], sent => #{}, updates => #{},
                                  input => null, closed => false}, Events),
    Activities = ordered(maps:get(activities, S)),
    Timers = ordered(maps:get(timers, S)),
    Children = ordered(maps:get(children, S)),
    Updates = [U || {_, U} <- lists:keysort(1, [{maps:get(<<"accepted_seq">>, U), U}
                                               || U <- maps:values(maps:get(updates, S))])],
    Open = not maps:get(closed, S) andalso (Status =:= running orelse Status =:= blocked),
    Waiting = case Open of
        false -> [];
        true -> waiting_on(Activities, Timers, Children, Updates)
    end,
    #{<<"input">> => maps:get(input, S),
      <<"activities">> => [finish_activity(A) || A <- Activities],
      <<"timers">> => Timers,
      <<"children">> => Children,
      <<"updates">> => Updates,
      <<"signals">> => #{<<"received">> => lists:reverse(maps:get(received, S)),
                         <<"sent">> => ordered(maps:get(sent, S))},
      <<"waiting_on">> => Waiting}.

waiting_on(Activities, Timers, Children, Updates) ->
    Pending =
        [#{<<"kind">> => <<"activity">>, <<"ordinal">> => O, <<"name">> => N, <<"state">> => St,
           <<"attempt">> => length(As), <<"since">> => At}
         || #{<<"ordinal">> := O, <<"name">> := N, <<"status">> := St, <<"attempts">> := As,
              <<"scheduled_at">> := At} <- Activities,
            St =:= <<"scheduled">> orelse St =:= <<"running">> orelse St =:= <<"retrying">>] ++
        [#{<<"kind">> => <<"timer">>, <<"timer_id">> => T, <<"name">> => N, <<"fire_at">> => F,
           <<"scope">> => Scope, <<"since">> => At}
         || #{<<"timer_id">> := T, <<"name">> := N, <<"fire_at">> := F, <<"scope">> := Scope,
              <<"status">> := <<"pending">>, <<"started_at">> := At} <- Timers] ++
        [#{<<"kind">> => <<"child">>, <<"ordinal">> => O, <<"workflow_id">> => W,
           <<"workflow_type">> => Ty, <<"since">> => At}
         || #{<<"ordinal">> := O, <<"workflow_id">> := W, <<"workflow_type">> := Ty,
              <<"status">> := <<"running">>, <<"started_at">> := At} <- Children] ++
        [#{<<"kind">> => <<"update">>, <<"update_id">> => U, <<"name">> => N, <<"since">> => At}
         || #{<<"update_id">> := U, <<"name">> := N, <<"status">> := <<"running">>,
              <<"accepted_at">> := At} <- Updates],
    case Pending of
        [] ->
            [#{<<"kind">> => <<"signal">>,
               <<"detail">> => <<"nothing is pending in the history: the code waits on a signal "
                                 "(or an update); which name is not recorded">>}];
        _ ->
            Pending
    end.

step(#{type := <<"WorkflowStarted">>} = E, S) ->
    S#{input := json_safe(maps:get(input, E, null))};
step(#{type := <<"ActivityScheduled">>, ordinal := O, recorded_at := At} = E, S) ->
    A = #{<<"ordinal">> => O, <<"name">> => json_safe(maps:get(name, E, null)),
          <<"input">> => json_safe(maps:get(input, E, null)),
          <<"config">> => json_safe(maps:get(config, E, null)),
          <<"scheduled_at">> => At, <<"status">> => <<"scheduled">>, <<"attempts">> => [],
          <<"result">> => null, <<"error">> => null},
    put_in(activities, O, A, S);
step(#{type := <<"ActivityStarted">>, ordinal := O, attempt := N, recorded_at := At}, S) ->
    update(activities, O, S, fun(A = #{<<"attempts">> := As}) ->
        A#{<<"status">> := <<"running">>,
           <<"attempts">> := As ++ [#{<<"attempt">> => N, <<"started_at">> => At,
                                      <<"ended_at">> => null, <<"duration_ms">> => null,
                                      <<"outcome">> => <<"running">>, <<"error">> => null}]}
    end);
step(#{type := <<"ActivityCompleted">>, ordinal := O, recorded_at := At} = E, S) ->
    N = maps:get(attempt, E, null),
    update(activities, O, S, fun(A = #{<<"attempts">> := As}) ->
        A#{<<"status">> := <<"completed">>, <<"result">> := json_safe(maps:get(result, E, null)),
           <<"completed_at">> => At,
           <<"attempts">> := end_attempt(As, N, At, <<"completed">>, null)}
    end);
step(#{type := <<"ActivityFailed">>, ordinal := O, recorded_at := At} = E, S) ->
    N = maps:get(attempt, E, 0),
    Error = json_safe(maps:get(error, E, null)),
    Retryable = maps:get(retryable, E, false) =:= true,
    Cancelled = is_map(Error) andalso maps:get(<<"type">>, Error, null) =:= <<"cancelled">>,
    update(activities, O, S, fun(A = #{<<"attempts">> := As}) ->
        Status = if Retryable -> <<"retrying">>;
                    Cancelled -> <<"cancelled">>;
                    true -> <<"failed">>
                 end,
        Outcome = if Cancelled -> <<"cancelled">>; true -> <<"failed">> end,
        A1 = A#{<<"status">> := Status, <<"error">> := Error,
                <<"attempts">> := end_attempt(As, N, At, Outcome, Error)},
        case Retryable of
            true -> A1;
            false -> A1#{<<"completed_at">> => At}
        end
    end);
step(#{type := <<"TimerStarted">>, timer_id := T, recorded_at := At} = E, S) ->
    put_in(timers, T, #{<<"timer_id">> => T, <<"name">> => json_safe(maps:get(name, E, null)),
                        <<"fire_at">> => maps:get(fire_at, E, null),
                        <<"scope">> => maps:get(scope, E, false) =:= true,
                        <<"started_at">> => At, <<"status">> => <<"pending">>,
                        <<"ended_at">> => null, <<"cause">> => null}, S);
step(#{type := <<"TimerFired">>, timer_id := T, recorded_at := At}, S) ->
    update(timers, T, S, fun(Ti) -> Ti#{<<"status">> := <<"fired">>, <<"ended_at">> := At} end);
step(#{type := <<"TimerCancelled">>, timer_id := T, recorded_at := At} = E, S) ->
    update(timers, T, S, fun(Ti) ->
        Ti#{<<"status">> := <<"cancelled">>, <<"ended_at">> := At,
            <<"cause">> := json_safe(maps:get(cause, E, null))}
    end);
step(#{type := <<"SignalReceived">>, seq := Seq, recorded_at := At} = E, S = #{received := R}) ->
    S#{received := [#{<<"seq">> => Seq, <<"name">> => json_safe(maps:get(name, E, null)),
                      <<"payload">> => json_safe(maps:get(payload, E, null)),
                      <<"received_at">> => At} | R]};
step(#{type := <<"SignalSent">>, ordinal := O, recorded_at := At} = E, S) ->
    put_in(sent, O, #{<<"ordinal">> => O, <<"target">> => json_safe(maps:get(target, E, null)),
                      <<"name">> => json_safe(maps:get(name, E, null)),
                      <<"payload">> => json_safe(maps:get(payload, E, null)),
                      <<"sent_at">> => At, <<"result">> => null}, S);
step(#{type := <<"SignalDelivered">>, ordinal := O} = E, S) ->
    update(sent, O, S, fun(Sig) -> Sig#{<<"result">> := json_safe(maps:get(result, E, null))} end);
step(#{type := <<"ChildStarted">>, ordinal := O, recorded_at := At} = E, S) ->
    put_in(children, O, #{<<"ordinal">> => O,
                          <<"workflow_id">> => json_safe(maps:get(workflow_id, E, null)),
                          <<"workflow_type">> => json_safe(maps:get(workflow_type, E, null)),
                          <<"input">> => json_safe(maps:get(input, E, null)),
                          <<"parent_close_policy">> => json_safe(maps:get(parent_close_policy, E, null)),
                          <<"started_at">> => At, <<"status">> => <<"running">>,
                          <<"value">> => null, <<"closed_at">> => null}, S);
step(#{type := <<"ChildCompleted">>, ordinal := O, recorded_at := At} = E, S) ->
    update(children, O, S, fun(C) ->
        C#{<<"status">> := json_safe(maps:get(status, E, null)),
           <<"value">> := json_safe(maps:get(value, E, null)), <<"closed_at">> := At}
    end);
step(#{type := <<"UpdateAccepted">>, update_id := U, seq := Seq, recorded_at := At} = E, S) ->
    put_in(updates, U, #{<<"update_id">> => json_safe(U), <<"name">> => json_safe(maps:get(name, E, null)),
                         <<"args">> => json_safe(maps:get(args, E, null)),
                         <<"accepted_seq">> => Seq, <<"accepted_at">> => At,
                         <<"status">> => <<"running">>, <<"result">> => null}, S);
step(#{type := <<"UpdateCompleted">>, update_id := U, recorded_at := At} = E, S) ->
    update(updates, U, S, fun(Up) ->
        Up#{<<"status">> := <<"completed">>, <<"result">> := json_safe(maps:get(result, E, null)),
            <<"completed_at">> => At}
    end);
step(#{type := Type}, S) when Type =:= <<"WorkflowCompleted">>; Type =:= <<"WorkflowFailed">>;
                              Type =:= <<"WorkflowCancelled">>; Type =:= <<"WorkflowTerminated">>;
                              Type =:= <<"WorkflowTimedOut">>; Type =:= <<"WorkflowContinuedAsNew">> ->
    S#{closed := true};
step(_Event, S) ->
    S.

end_attempt(As, N, At, Outcome, Error) ->
    case lists:splitwith(fun(#{<<"attempt">> := M}) -> M =/= N end, As) of
        {Before, [Open = #{<<"started_at">> := Started} | After]} ->
            Before ++ [Open#{<<"ended_at">> := At, <<"duration_ms">> := At - Started,
                             <<"outcome">> := Outcome, <<"error">> := Error} | After];
        {_, []} ->
            %% Never started (cancelled before its first attempt, or no attempt number).
            As ++ [#{<<"attempt">> => N, <<"started_at">> => null, <<"ended_at">> => At,
                     <<"duration_ms">> => null, <<"outcome">> => Outcome, <<"error">> => Error}]
    end.

%% An activity's total time: from scheduling to its final result.
finish_activity(A = #{<<"scheduled_at">> := From}) ->
    case maps:get(<<"completed_at">>, A, null) of
        null -> A#{<<"completed_at">> => null, <<"duration_ms">> => null};
        To -> A#{<<"duration_ms">> => To - From}
    end.

put_in(Key, Id, Value, S) ->
    S#{Key := (maps:get(Key, S))#{Id => Value}}.

update(Key, Id, S, Fun) ->
    case maps:get(Key, S) of
        #{Id := V} = M -> S#{Key := M#{Id := Fun(V)}};
        _ -> S
    end.

ordered(Map) ->
    [V || {_, V} <- lists:keysort(1, maps:to_list(Map))].

%% @doc `Term' made encodable as JSON (see `aion_term:jsonable/1').
-spec json_safe(term()) -> term().
json_safe(Term) ->
    aion_term:jsonable(Term).

