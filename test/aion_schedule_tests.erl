%% Schedules (`aion:create_schedule/2' and friends) on the test harness's virtual clock.
-module(aion_schedule_tests).

-include_lib("eunit/include/eunit.hrl").

%% Shared with aion_review12_tests.
-export([job/1, held/1, setup/0, ids/1, counts/1]).

-define(MIN, 60000).
-define(DAY, 86400000).

%% A scheduled workflow that completes at once with its input.
job(Input) ->
    {ok, Input}.

%% One that runs until signalled `done'.
held(_Input) ->
    case aion_flow:receive_signal(<<"done">>) of
        {ok, _} -> {ok, done};
        {error, _} = Error -> Error
    end.

virtual_test_() ->
    {foreach, fun setup/0, fun aion_test:stop/1,
     [fun(Env) -> {Name, fun() -> Test(Env) end} end
      || {Name, Test} <- [{"every slot of a cron starts one workflow, named by its slot", fun cron_slots/1},
                          {"a year of a five-minute cron: missed slots counted, the window caught up", fun year/1},
                          {"every_ms slots are multiples of the interval", fun every/1},
                          {"overlap skip", fun skip/1},
                          {"overlap buffer_one", fun buffer_one/1},
                          {"overlap cancel_other", fun cancel_other/1},
                          {"pause, unpause, trigger, delete", fun control/1},
                          {"describe and list", fun describe_list/1},
                          {"bad specs are refused with a reason", fun bad_specs/1},
                          {"the schedule's history stays short (continue-as-new)", fun short_history/1},
                          {"a long catch-up is taken in batches, the history short", fun long_catchup/1},
                          {"day fields starting with * restrict together (Vixie cron)", fun vixie_star/1}]]}.

%% A real restart: the node running a schedule is killed (kill -9) and started again on
%% its data directory. Every slot is accounted for once: started (by exactly one
%% workflow, named by the slot) or, when older than the catch-up window at the restart,
%% counted missed.
restart_test_() ->
    {timeout, 120, fun restart/0}.

restart() ->
    Dir = aion_test_support:tmp_dir("aion_schedule_restart"),
    First = start_node(Dir, "start"),
    ok = aion_test_support:wait_for_file(First, filename:join(Dir, "ready"), 30000),
    {ok, Pid} = file:read_file(filename:join(Dir, "pid.start")),
    [] = os:cmd("kill -9 " ++ binary_to_list(Pid)),
    Killed = erlang:system_time(millisecond),
    ?assertEqual(137, aion_test_support:wait_exit(First, 30000)),
    timer:sleep(2500),
    Second = start_node(Dir, "resume"),
    ?assertEqual(0, aion_test_support:wait_exit(Second, 60000)),
    {ok, [#{booted := Booted, info := Info, ticks := Ticks}]} = file:consult(filename:join(Dir, "result")),
    #{counts := Counts, created_at := Created, last_slot := Last} = Info,
    #{started := Started, missed := Missed} = Counts,
    Slots = [S || S <- lists:seq((Created div 400 + 1) * 400, Last, 400)],
    %% Every started workflow is a slot's; none twice; the counts add up to the slots.
    ?assertEqual(Started, length(Ticks)),
    ?assertEqual([], lists:sort(Ticks) -- [aion_schedule:slot_id(<<"every">>, S) || S <- Slots]),
    %% (A slot that came just before the pause and was taken by the loop after it counts
    %% as paused.)
    ?assertEqual(length(Slots), Started + Missed + maps:get(skipped_overlap, Counts) + maps:get(paused, Counts)),
    %% The node was down for more than the catch-up window: some slots were missed, and
    %% the ones within the window before the restart were started after it.
    ?assert(Missed > 0),
    Down = [S || S <- Slots, S > Killed, S < Booted],
    ?assert(lists:any(fun(S) -> lists:member(aion_schedule:slot_id(<<"every">>, S), Ticks) end, Down)),
    ?assert(lists:any(fun(S) -> not lists:member(aion_schedule:slot_id(<<"every">>, S), Ticks) end, Down)),
    %% And it went on after the restart.
    ?assert(lists:any(fun(S) -> S > Booted + 400 andalso
                                lists:member(aion_schedule:slot_id(<<"every">>, S), Ticks) end, Slots)).

start_node(Dir, Phase) ->
    aion_test_support:os_node([aion, aion_schedule_node],
                              io_lib:format("aion_schedule_node:main(~p, ~p)", [Dir, Phase])).

setup() ->
    Env = aion_test:new(),
    ok = aion:register_workflow(<<"job">>, {?MODULE, job}),
    ok = aion:register_workflow(<<"held">>, {?MODULE, held}),
    Env.

%% The ids of the workflows of `Type', sorted.
ids(Type) ->
    {ok, Runs} = aion:list(#{type => Type}),
    lists:sort([Id || #{workflow_id := Id} <- Runs]).

slots(Cron, From, To) ->
    {ok, C} = aion_cron:parse(Cron, 0),
    slots_of(fun(T) -> aion_cron:next(C, T) end, From, To).

slots_of(Next, From, To) ->
    case Next(From) of
        T when T =< To -> [T | slots_of(Next, T, To)];
        _ -> []
    end.

counts(Id) ->
    {ok, #{counts := Counts}} = aion:describe_schedule(Id),
    Counts.

cron_slots(Env) ->
    T0 = aion_test:now(Env),
    ok = aion:create_schedule(<<"five">>, #{workflow => <<"job">>, input => #{<<"n">> => 1},
                                            cron => <<"*/5 * * * *">>, overlap => allow_all}),
    _ = [aion_test:advance(Env, 5 * ?MIN) || _ <- lists:seq(1, 12)],
    Slots = slots(<<"*/5 * * * *">>, T0, aion_test:now(Env)),
    ?assertEqual(12, length(Slots)),
    ?assertEqual(lists:sort([aion_schedule:slot_id(<<"five">>, S) || S <- Slots]), ids(<<"job">>)),
    [First | _] = Slots,
    <<"five@", _/binary>> = Id = aion_schedule:slot_id(<<"five">>, First),
    ?assertEqual({ok, #{<<"n">> => 1}}, aion:await(Id, 1000)),
    ?assertMatch(#{started := 12, missed := 0, skipped_overlap := 0}, counts(<<"five">>)).

year(Env) ->
    T0 = aion_test:now(Env),
    Window = 3600000,
    ok = aion:create_schedule(<<"year">>, #{workflow => <<"job">>, cron => <<"*/5 * * * *">>,
                                            overlap => allow_all, catchup_window_ms => Window}),
    {Us, ok} = timer:tc(fun() -> aion_test:advance(Env, 365 * ?DAY) end),
    T1 = aion_test:now(Env),
    {ok, C} = aion_cron:parse(<<"*/5 * * * *">>, 0),
    All = aion_cron:count(C, T0, T1),
    ?assertEqual(105120, All),
    Started = slots(<<"*/5 * * * *">>, T1 - Window - 1, T1),
    ?assertMatch(#{started := 12}, counts(<<"year">>)),
    ?assertEqual(#{started => length(Started), missed => All - length(Started)},
                 maps:with([started, missed], counts(<<"year">>))),
    ?assertEqual(lists:sort([aion_schedule:slot_id(<<"year">>, S) || S <- Started]), ids(<<"job">>)),
    %% Counted, not visited: a year of slots in a fraction of a second.
    ?debugFmt("a year of a five-minute cron: ~b ms", [Us div 1000]),
    ?assert(Us < 5000000),
    %% And the schedule goes on from there.
    ok = aion_test:advance(Env, 5 * ?MIN),
    ?assertMatch(#{started := 13}, counts(<<"year">>)).

every(Env) ->
    T0 = aion_test:now(Env),
    ok = aion:create_schedule(<<"sec">>, #{workflow => <<"job">>, every_ms => 7000}),
    _ = [aion_test:advance(Env, 10000) || _ <- lists:seq(1, 3)],
    Slots = slots_of(fun(T) -> (T div 7000 + 1) * 7000 end, T0, aion_test:now(Env)),
    ?assertEqual(lists:sort([aion_schedule:slot_id(<<"sec">>, S) || S <- Slots]), ids(<<"job">>)),
    ?assert(length(Slots) >= 4).

%% Starts a schedule of `held' every minute with `Overlap'; after the first slot one run
%% holds.
held_schedule(Env, Id, Overlap) ->
    ok = aion:create_schedule(Id, #{workflow => <<"held">>, every_ms => ?MIN, overlap => Overlap}),
    ok = aion_test:advance(Env, ?MIN),
    [First] = ids(<<"held">>),
    First.

skip(Env) ->
    First = held_schedule(Env, <<"s">>, skip),
    ok = aion_test:advance(Env, ?MIN),
    ok = aion_test:advance(Env, ?MIN),
    ?assertEqual([First], ids(<<"held">>)),
    ?assertMatch(#{started := 1, skipped_overlap := 2}, counts(<<"s">>)),
    ok = aion_test:signal(Env, First, <<"done">>, null),
    ok = aion_test:advance(Env, ?MIN),
    ?assertEqual(2, length(ids(<<"held">>))).

buffer_one(Env) ->
    First = held_schedule(Env, <<"b">>, buffer_one),
    ok = aion_test:advance(Env, ?MIN),
    ok = aion_test:advance(Env, ?MIN),
    ?assertEqual([First], ids(<<"held">>)),
    {ok, #{buffered := Buffered}} = aion:describe_schedule(<<"b">>),
    ?assert(is_integer(Buffered)),
    ?assertMatch(#{started := 1, buffered := 1, skipped_overlap := 1}, counts(<<"b">>)),
    %% The first closes: the buffered slot starts (woken by a watcher, not the next slot).
    ok = aion_test:signal(Env, First, <<"done">>, null),
    Second = aion_schedule:slot_id(<<"b">>, Buffered),
    ok = aion_test_support:wait_until(fun() -> lists:member(Second, ids(<<"held">>)) end, 5000),
    {ok, #{buffered := null, running := Second}} = aion:describe_schedule(<<"b">>).

cancel_other(Env) ->
    First = held_schedule(Env, <<"c">>, cancel_other),
    ok = aion_test:advance(Env, ?MIN),
    ?assertEqual(2, length(ids(<<"held">>))),
    ?assertMatch({error, {cancelled, _}}, aion:await(First, 5000)),
    ?assertMatch(#{started := 2}, counts(<<"c">>)).

control(Env) ->
    ok = aion:create_schedule(<<"ctl">>, #{workflow => <<"job">>, every_ms => ?MIN, paused => true}),
    ok = aion_test:advance(Env, 3 * ?MIN),
    ?assertEqual([], ids(<<"job">>)),
    ?assertMatch(#{paused := 3, started := 0}, counts(<<"ctl">>)),
    %% A trigger starts one now, paused or not.
    {ok, #{outcome := started, workflow_id := W}} = aion:trigger_schedule(<<"ctl">>),
    ?assertEqual({ok, null}, aion:await(W, 5000)),
    ok = aion:unpause_schedule(<<"ctl">>),
    {ok, #{paused := false}} = aion:describe_schedule(<<"ctl">>),
    ok = aion_test:advance(Env, ?MIN),
    ?assertEqual(2, length(ids(<<"job">>))),
    ok = aion:pause_schedule(<<"ctl">>),
    {ok, #{paused := true}} = aion:describe_schedule(<<"ctl">>),
    ok = aion_test:advance(Env, ?MIN),
    ?assertEqual(2, length(ids(<<"job">>))),
    ok = aion:delete_schedule(<<"ctl">>),
    ?assertEqual({error, not_found}, aion:describe_schedule(<<"ctl">>)),
    ?assertEqual({error, not_found}, aion:pause_schedule(<<"ctl">>)),
    ?assertEqual({error, not_found}, aion:trigger_schedule(<<"ctl">>)),
    ?assertEqual({error, not_found}, aion:delete_schedule(<<"ctl">>)),
    ok = aion_test:advance(Env, 3 * ?MIN),
    ?assertEqual(2, length(ids(<<"job">>))),
    %% The id can be used again.
    ok = aion:create_schedule(<<"ctl">>, #{workflow => <<"job">>, every_ms => ?MIN}),
    ?assertMatch(#{started := 0, paused := 0}, counts(<<"ctl">>)).

describe_list(Env) ->
    ok = aion:create_schedule(<<"d1">>, #{<<"workflow">> => <<"job">>, <<"cron">> => <<"0 9 * * mon-fri">>,
                                          <<"utc_offset">> => <<"+02:00">>, <<"overlap">> => <<"buffer_one">>}),
    ok = aion:create_schedule(<<"d2">>, #{workflow => <<"job">>, every_ms => 1000, input => [1, 2]}),
    ?assertEqual({error, {already_exists, <<"d1">>}},
                 aion:create_schedule(<<"d1">>, #{workflow => <<"job">>, every_ms => 1000})),
    {ok, D1} = aion:describe_schedule(<<"d1">>),
    ?assertMatch(#{id := <<"d1">>, workflow := <<"job">>, input := null, cron := <<"0 9 * * mon-fri">>,
                   utc_offset := <<"+02:00">>, overlap := buffer_one, catchup_window_ms := 3600000,
                   paused := false, running := null, buffered := null, recent := []}, D1),
    #{next_runs := Next} = D1,
    ?assertEqual(5, length(Next)),
    _ = [begin
             {{_, _, _}, {H, M, 0}} = calendar:system_time_to_universal_time(T, millisecond),
             ?assertEqual({7, 0}, {H, M}),
             ?assert(T > aion_test:now(Env))
         end || T <- Next],
    {ok, List} = aion:list_schedules(),
    ?assertEqual([<<"d1">>, <<"d2">>], [Id || #{id := Id} <- List]),
    ok = aion_test:advance(Env, 1000),
    {ok, #{recent := [#{outcome := <<"started">>, workflow_id := W, slot := S}]}} =
        aion:describe_schedule(<<"d2">>),
    ?assertEqual(aion_schedule:slot_id(<<"d2">>, S), W),
    ?assertEqual({ok, [1, 2]}, aion:await(W, 5000)).

bad_specs(_Env) ->
    Bad = fun(Spec) -> aion:create_schedule(<<"bad">>, Spec) end,
    ?assertEqual({error, {bad_schedule, {missing_field, workflow}}}, Bad(#{every_ms => 5})),
    ?assertEqual({error, {bad_schedule, {missing_field, cron_or_every_ms}}}, Bad(#{workflow => <<"job">>})),
    ?assertEqual({error, {unknown_workflow_type, <<"nope">>}}, Bad(#{workflow => <<"nope">>, every_ms => 5})),
    ?assertMatch({error, {bad_schedule, {cron, <<"61 * * * *">>, {field, minute, _}}}},
                 Bad(#{workflow => <<"job">>, cron => <<"61 * * * *">>})),
    ?assertEqual({error, {bad_schedule, {cron, <<"0 0 30 2 *">>, never}}},
                 Bad(#{workflow => <<"job">>, cron => <<"0 0 30 2 *">>})),
    ?assertEqual({error, {bad_schedule, {cron, <<"* * *">>, {fields, 3}}}},
                 Bad(#{workflow => <<"job">>, cron => <<"* * *">>})),
    ?assertEqual({error, {bad_schedule, {cron, "* * * * *", not_a_binary}}},
                 Bad(#{workflow => <<"job">>, cron => "* * * * *"})),
    ?assertEqual({error, {bad_schedule, {utc_offset, <<"+25:00">>}}},
                 Bad(#{workflow => <<"job">>, cron => <<"* * * * *">>, utc_offset => <<"+25:00">>})),
    ?assertEqual({error, {bad_schedule, {every_ms, 0}}}, Bad(#{workflow => <<"job">>, every_ms => 0})),
    ?assertEqual({error, {bad_schedule, {cron_and_every_ms, both_given}}},
                 Bad(#{workflow => <<"job">>, every_ms => 5, cron => <<"* * * * *">>})),
    ?assertEqual({error, {bad_schedule, {overlap, sometimes}}},
                 Bad(#{workflow => <<"job">>, every_ms => 5, overlap => sometimes})),
    ?assertEqual({error, {bad_schedule, {catchup_window_ms, -1}}},
                 Bad(#{workflow => <<"job">>, every_ms => 5, catchup_window_ms => -1})),
    ?assertEqual({error, {bad_schedule, {unknown_field, colour}}},
                 Bad(#{workflow => <<"job">>, every_ms => 5, colour => red})),
    ?assertEqual({error, {bad_schedule, {unknown_field, <<"zzz_no_such_atom_here">>}}},
                 Bad(#{workflow => <<"job">>, every_ms => 5, <<"zzz_no_such_atom_here">> => 1})),
    ?assertMatch({error, {invalid_input, _}}, Bad(#{workflow => <<"job">>, every_ms => 5, input => self()})),
    ?assertEqual({error, {bad_schedule, {not_a_map, []}}}, Bad([])),
    ?assertEqual({error, {bad_argument, schedule_id, "x"}},
                 aion:create_schedule("x", #{workflow => <<"job">>, every_ms => 5})),
    ?assertEqual({error, not_found}, aion:describe_schedule(<<"none">>)),
    ?assertEqual({error, not_found}, aion:describe_schedule(42)),
    ?assertEqual({ok, []}, aion:list_schedules()).

short_history(Env) ->
    ok = aion:create_schedule(<<"long">>, #{workflow => <<"job">>, every_ms => ?MIN, overlap => allow_all}),
    _ = [aion_test:advance(Env, ?MIN) || _ <- lists:seq(1, 250)],
    ?assertMatch(#{started := 250}, counts(<<"long">>)),
    {ok, History} = aion:history(<<"aion.schedule/long">>),
    ?assert(length(History) < 1000),
    ?assertEqual(250, length(ids(<<"job">>))).

long_catchup(Env) ->
    T0 = aion_test:now(Env),
    ok = aion:create_schedule(<<"catch">>, #{workflow => <<"job">>, every_ms => 10000, overlap => allow_all,
                                             catchup_window_ms => 3600000}),
    ok = aion_test:advance(Env, ?DAY),
    T1 = aion_test:now(Env),
    InWindow = slots_of(fun(T) -> (T div 10000 + 1) * 10000 end, T1 - 3600000 - 1, T1),
    All = slots_of(fun(T) -> (T div 10000 + 1) * 10000 end, T0, T1),
    ?assertEqual(360, length(InWindow)),
    ?assertEqual(#{started => 360, missed => length(All) - 360},
                 maps:with([started, missed], counts(<<"catch">>))),
    ?assertEqual(lists:sort([aion_schedule:slot_id(<<"catch">>, S) || S <- InWindow]), ids(<<"job">>)),
    %% 360 starts went through several runs of the schedule's workflow.
    {ok, History} = aion:history(<<"aion.schedule/catch">>),
    ?assert(length(History) < 1000),
    #{type := <<"WorkflowStarted">>} = First = hd(History),
    ?assert(maps:is_key(continued_from, First)).

vixie_star(_Env) ->
    %% Both day fields restricted: either matches. One starting with *: both must.
    Next = fun(Expr, From) ->
               {ok, C} = aion_cron:parse(Expr, 0),
               calendar:system_time_to_universal_time(
                   aion_cron:next(C, calendar:datetime_to_gregorian_seconds(From) * 1000 - 62167219200000),
                   millisecond)
           end,
    %% 2026-11-27 is a Friday; the 28th a Saturday; Monday the 30th.
    ?assertEqual({{2026, 11, 28}, {0, 0, 0}}, Next(<<"0 0 28 * mon">>, {{2026, 11, 27}, {12, 0, 0}})),
    ?assertEqual({{2026, 11, 28}, {0, 0, 0}}, Next(<<"0 0 1-29 * mon">>, {{2026, 11, 27}, {12, 0, 0}})),
    %% */2 (odd days) and Monday: the first Monday on an odd day.
    ?assertEqual({{2026, 12, 7}, {0, 0, 0}}, Next(<<"0 0 */2 * mon">>, {{2026, 11, 27}, {12, 0, 0}})),
    ?assertEqual({error, {bad_schedule, {workflow, <<"aion.schedule">>}}},
                 aion:create_schedule(<<"self">>, #{workflow => <<"aion.schedule">>, every_ms => 1000})).
