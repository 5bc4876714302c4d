%% A node of the cluster tests (aion_cluster_tests), run as a separate OS process:
%% `erl -sname N -setcookie C -eval 'aion_cluster_node:main()''. Its settings come from the
%% environment: AION_PG_URL, AION_PG_SCHEMA, AION_CLUSTER_DIR (where it writes
%% `pid.NODE' and `ready.NODE', and where activities leave a file per attempt they start),
%% AION_ROLE (all | worker), AION_QUEUES (comma-separated task queues), AION_LEASE_MS.
%%
%% Workflows:
%%   c_flow: a flaky activity (its first attempt fails), a 200 ms timer, a "go" signal, a
%%     child (c_child: a 1.5 s activity on task queue "slow"), a fan-out of three
%%     activities; result #{n, go, child, fan} (exact: go = n, child = 2n, fan = [1,2,3]).
%%   c_stop: an activity, a 1.5 s timer, a "go" signal, an activity; result #{n, go}.
%%   c_where: one activity on task queue "gpu"; its result is the node that ran it.
-module(aion_cluster_node).

-export([main/0]).
-export([flow/1, child/1, stop_flow/1, where_flow/1]).
-export([flaky/1, slow/1, echo/1, where/1]).
-export([file_id/1]).

main() ->
    Dir = os:getenv("AION_CLUSTER_DIR"),
    Me = atom_to_list(node()),
    ok = file:write_file(filename:join(Dir, "pid." ++ Me), os:getpid()),
    ok = application:load(aion),
    Env = [{store, postgres},
           {postgres_url, os:getenv("AION_PG_URL")},
           {postgres_schema, os:getenv("AION_PG_SCHEMA")},
           {postgres_pool, 2},
           {role, list_to_atom(os:getenv("AION_ROLE", "all"))},
           {task_queues, [list_to_binary(Q) || Q <- string:lexemes(os:getenv("AION_QUEUES", "default"), ",")]},
           {lease_ms, list_to_integer(os:getenv("AION_LEASE_MS", "2000"))},
           {claim_interval_ms, 300}],
    _ = [ok = application:set_env(aion, K, V) || {K, V} <- Env],
    {ok, _} = application:ensure_all_started(aion),
    persistent_term:put({?MODULE, dir}, Dir),
    _ = [ok = aion:register_activity(N, {?MODULE, F})
         || {N, F} <- [{<<"c_flaky">>, flaky}, {<<"c_slow">>, slow}, {<<"c_echo">>, echo},
                       {<<"c_where">>, where}]],
    _ = [ok = aion:register_workflow(N, {?MODULE, F})
         || {N, F} <- [{<<"c_flow">>, flow}, {<<"c_child">>, child}, {<<"c_stop">>, stop_flow},
                       {<<"c_where">>, where_flow}]],
    ok = file:write_file(filename:join(Dir, "ready." ++ Me), <<>>),
    receive never -> ok end.

-define(RETRY, #{retry => #{initial_interval_ms => 50, max_attempts => 0}}).

flow(#{<<"n">> := N}) ->
    Wf = aion_flow:workflow_id(),
    {ok, <<"flaky">>} = aion_flow:activity(<<"c_flaky">>, step(Wf, <<"flaky">>, #{}), ?RETRY),
    ok = aion_flow:sleep(200),
    {ok, Go} = aion_flow:receive_signal(<<"go">>),
    {ok, Child} = aion_flow:child(<<"c_child">>, #{<<"n">> => N}, #{}),
    {ok, Fan} = aion_flow:all([{activity, <<"c_echo">>,
                                step(Wf, <<"echo", (integer_to_binary(I))/binary>>, #{<<"v">> => I}),
                                ?RETRY}
                               || I <- [1, 2, 3]]),
    {ok, #{<<"n">> => N, <<"go">> => Go, <<"child">> => Child, <<"fan">> => Fan}}.

child(#{<<"n">> := N}) ->
    Wf = aion_flow:workflow_id(),
    {ok, _} = aion_flow:activity(<<"c_slow">>, step(Wf, <<"slow">>, #{<<"ms">> => 1500}),
                                 ?RETRY#{task_queue => <<"slow">>}),
    {ok, N * 2}.

stop_flow(#{<<"n">> := N}) ->
    Wf = aion_flow:workflow_id(),
    {ok, 1} = aion_flow:activity(<<"c_echo">>, step(Wf, <<"first">>, #{<<"v">> => 1}), ?RETRY),
    ok = aion_flow:sleep(1500),
    {ok, Go} = aion_flow:receive_signal(<<"go">>),
    {ok, 2} = aion_flow:activity(<<"c_echo">>, step(Wf, <<"second">>, #{<<"v">> => 2}), ?RETRY),
    {ok, #{<<"n">> => N, <<"go">> => Go}}.

where_flow(_) ->
    aion_flow:activity(<<"c_where">>, null, #{task_queue => <<"gpu">>}).

step(Wf, Step, Extra) ->
    Extra#{<<"wf">> => Wf, <<"step">> => Step}.

%% Every attempt leaves a file `exec/WF__STEP__ATTEMPT__NODE__N' as it starts (`/' in a
%% workflow id, as in a child's, written `+').
file_id(Wf) ->
    binary_to_list(binary:replace(Wf, <<"/">>, <<"+">>, [global])).

started(#{<<"wf">> := Wf, <<"step">> := Step}) ->
    #{attempt := Attempt} = logger:get_process_metadata(),
    Dir = filename:join(persistent_term:get({?MODULE, dir}), "exec"),
    ok = filelib:ensure_dir(filename:join(Dir, "x")),
    Name = lists:join("__", [file_id(Wf), binary_to_list(Step), integer_to_list(Attempt),
                             atom_to_list(node()),
                             integer_to_list(erlang:unique_integer([positive]))]),
    ok = file:write_file(filename:join(Dir, Name), <<>>),
    Attempt.

flaky(Input) ->
    case started(Input) of
        1 -> {error, flaky};
        _ -> {ok, <<"flaky">>}
    end.

slow(Input = #{<<"ms">> := Ms}) ->
    _ = started(Input),
    timer:sleep(Ms),
    {ok, <<"slow">>}.

echo(Input = #{<<"v">> := V}) ->
    _ = started(Input),
    {ok, V}.

where(_) ->
    {ok, atom_to_binary(node())}.
