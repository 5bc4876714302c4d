%% Property tests (PropEr) through the public API: the JSON codec round-trips every
%% JSON-compatible term, and any interleaving of signal, cancel, terminate, update and
%% query on one run ends with exactly one close event and contiguous seq numbers.
-module(aion_prop_tests).

-include_lib("eunit/include/eunit.hrl").

%% Debian's erlang-proper ships PropEr's modules without proper.hrl, so the few macros used
%% here are spelt out over PropEr's public API (the same expansions as proper.hrl).
-define(FORALL(X, Gen, Prop), proper:forall(Gen, fun(X) -> Prop end)).
-undef(LET).
-define(LET(X, Gen, In), proper_types:bind(Gen, fun(X) -> In end, false)).
-define(SUCHTHAT(X, Gen, Cond), proper_types:add_constraint(Gen, fun(X) -> Cond end, true)).
-define(LAZY(Gen), proper_types:lazy(fun() -> Gen end)).
-define(WHENFAIL(Action, Prop), proper:whenfail(fun() -> Action end, fun() -> Prop end)).
-import(proper_types, [oneof/1, frequency/1, list/1, non_empty/1, range/2, integer/0,
                       integer/2, float/0]).

-define(CLOSES, [<<"WorkflowCompleted">>, <<"WorkflowFailed">>, <<"WorkflowCancelled">>,
                 <<"WorkflowTerminated">>, <<"WorkflowTimedOut">>, <<"WorkflowContinuedAsNew">>]).

check(Prop, NumTests) ->
    ?assert(proper:quickcheck(Prop, [{numtests, NumTests}, {to_file, user}, noshrink])).

%% Term -> JSON -> term.

json_round_trip_test_() ->
    {timeout, 120, fun() -> check(prop_json_round_trip(), 500) end}.

prop_json_round_trip() ->
    ?FORALL(Term, json_term(4),
            begin
                {ok, Json} = aion_flow_ffi:json_encode(Term),
                {ok, Back} = aion_flow_ffi:json_decode(Json),
                Back =:= Term
            end).

%% Terms that are their own decoded form: maps with binary keys, lists, UTF-8 binaries,
%% 64-bit integers, finite floats, true, false, null.
json_term(0) ->
    scalar();
json_term(Depth) ->
    ?LAZY(frequency([{4, scalar()},
                     {1, list(json_term(Depth - 1))},
                     {1, ?LET(Pairs, list({utf8(), json_term(Depth - 1)}), maps:from_list(Pairs))}])).

%% UTF-8 text with control characters, quotes, backslashes, accents, CJK and emoji.
utf8() ->
    ?LET(Chars, list(oneof([range(0, 127), range(128, 2047), range(16#4E00, 16#4E80),
                            range(16#1F600, 16#1F64F)])),
         unicode:characters_to_binary(Chars)).

scalar() ->
    oneof([null, true, false, utf8(),
           integer(-(1 bsl 63), (1 bsl 63) - 1), integer(),
           ?SUCHTHAT(F, float(), F =/= 0.0), 1.0e300, -2.5e-300]).

%% Refused terms come back as a tagged error, and the codec stays usable.
refused_terms_test() ->
    _ = [?assertMatch({error, {invalid_input, _}}, aion_flow_ffi:json_encode(T))
         || T <- [{a, b}, self(), make_ref(), <<255>>, [1 | 2], #{{k} => 1}, fun() -> ok end]],
    ?assertEqual({ok, <<"[\"atom\"]">>}, aion_flow_ffi:json_encode([atom])).

%% Interleavings of client requests on one run.

interleavings_test_() ->
    {setup,
     fun() ->
         Dir = aion_test_support:start(memory),
         ok = aion_owner_flows:register_all(),
         Dir
     end,
     fun aion_test_support:stop/1,
     {timeout, 300, fun() -> check(prop_interleavings(), 60) end}}.

prop_interleavings() ->
    ?FORALL(Ops, non_empty(list({op(), range(0, 3)})),
            begin
                {ok, Id} = aion:start_workflow(<<"owner_interleave">>, #{}, #{}),
                Self = self(),
                Pids = [spawn_link(fun() -> timer:sleep(Delay), Self ! {done, self(), apply_op(Id, Op)} end)
                        || {Op, Delay} <- Ops],
                Answers = [receive {done, P, A} -> A end || P <- Pids],
                _ = aion:signal(Id, <<"s">>, <<"stop">>),
                Outcome = aion:await(Id, 10000),
                {ok, History} = aion:history(Id),
                Seqs = [S || #{seq := S} <- History],
                Closes = [T || #{type := T} <- History, lists:member(T, ?CLOSES)],
                ?WHENFAIL(io:format(user, "ops ~p~nanswers ~p~noutcome ~p~nhistory ~p~n",
                                    [Ops, Answers, Outcome, History]),
                          Outcome =/= {error, timeout}
                          andalso Seqs =:= lists:seq(1, length(History))
                          andalso length(Closes) =:= 1
                          andalso lists:member(maps:get(type, lists:last(History)), ?CLOSES)
                          andalso lists:all(fun expected_answer/1, Answers))
            end).

op() ->
    oneof([{signal, range(1, 9)}, cancel, terminate, {update, range(1, 9)}, query]).

apply_op(Id, {signal, N}) -> {signal, aion:signal(Id, <<"s">>, N)};
apply_op(Id, cancel) -> {cancel, aion:cancel(Id, <<"prop">>)};
apply_op(Id, terminate) -> {terminate, aion:terminate(Id, <<"prop">>)};
apply_op(Id, {update, N}) -> {update, aion:update(Id, <<"add">>, N, 5000)};
apply_op(Id, query) -> {query, aion:query(Id, <<"count">>, null, 5000)}.

%% What a client may hear back while the run may close at any moment.
expected_answer({signal, ok}) -> true;
expected_answer({cancel, ok}) -> true;
expected_answer({terminate, ok}) -> true;
expected_answer({update, {ok, N}}) -> is_integer(N);
expected_answer({query, {ok, N}}) -> is_integer(N);
expected_answer({_, {error, not_running}}) -> true;
expected_answer({query, {error, unknown_query}}) -> true;
expected_answer({update, {error, unknown_update}}) -> true;
expected_answer(_) -> false.
