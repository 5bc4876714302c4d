%% The harness of the cluster tests: the test VM made a distributed node, clusters of
%% aion_cluster_node OS processes on a fresh PostgreSQL schema, signals to them, and what
%% their histories and activity attempts show.
-module(aion_cluster_harness).

-export([distributed/0, undistributed/1, cluster/2, start_extra/4, nodes_of/1, kill/3,
         stop_cluster/1, execs/2, has/3, types/2, head/2, owner/2, timed/1, wait_until/2,
         lease_ms/0]).

-define(LEASE_MS, 2000).



%% The lease of the test nodes.
lease_ms() -> ?LEASE_MS.

distributed() ->
    _ = os:cmd("epmd -daemon"),
    Name = list_to_atom("aion_ctl_" ++ os:getpid()),
    {ok, _} = net_kernel:start([Name, shortnames]),
    erlang:set_cookie(node(), aion_cluster_test),
    ok.

undistributed(_) ->
    net_kernel:stop().

%% Starts one OS process per `{Name, Role, Queues}' on a fresh schema; returns once all are
%% up and connected.
cluster(Url, Specs) ->
    Dir = aion_test_support:tmp_dir("aion_cluster"),
    Schema = "cl" ++ integer_to_list(erlang:unique_integer([positive])) ++ "_" ++ os:getpid(),
    C = #{dir => Dir, url => Url, schema => Schema, nodes => []},
    Nodes = [launch(C, Name, Role, Queues) || {Name, Role, Queues} <- Specs],
    _ = [ready(C, N, Port) || {N, Port} <- Nodes],
    C#{nodes := Nodes}.

%% One more node in cluster `C'; returns `{Node, Port}' (add it to `C''s nodes to have it
%% stopped with them).
start_extra(C, Name, Role, Queues) ->
    {Node, Port} = launch(C, Name, Role, Queues),
    ready(C, Node, Port),
    {Node, Port}.

launch(#{dir := Dir, url := Url, schema := Schema}, Name, Role, Queues) ->
    Unique = Name ++ "_" ++ integer_to_list(erlang:unique_integer([positive])),
    {ok, Host} = inet:gethostname(),
    {list_to_atom(Unique ++ "@" ++ Host), start_node(Unique, Url, Schema, Dir, Role, Queues)}.

ready(#{dir := Dir}, Node, Port) ->
    wait_for(filename:join(Dir, "ready." ++ atom_to_list(Node)), Port, 60000),
    true = net_kernel:connect_node(Node).

nodes_of(#{nodes := Nodes}) -> [N || {N, _} <- Nodes].

start_node(Name, Url, Schema, Dir, Role, Queues) ->
    Erl = os:find_executable("erl"),
    Paths = lists:usort([filename:dirname(code:which(M)) || M <- [aion, aion_cluster_node]]),
    Args = ["-noshell", "-sname", Name, "-setcookie", "aion_cluster_test"]
        ++ lists:append([["-pa", P] || P <- Paths])
        ++ ["-eval", "aion_cluster_node:main()"],
    Env = [{"AION_PG_URL", Url}, {"AION_PG_SCHEMA", Schema}, {"AION_CLUSTER_DIR", Dir},
           {"AION_ROLE", atom_to_list(Role)}, {"AION_QUEUES", Queues},
           {"AION_LEASE_MS", integer_to_list(?LEASE_MS)}],
    open_port({spawn_executable, Erl},
              [{args, Args}, {env, Env}, exit_status, stderr_to_stdout, binary]).

wait_for(File, Port, Left) when Left =< 0 ->
    erlang:error({timeout_waiting_for, File, Port});
wait_for(File, Port, Left) ->
    case filelib:is_file(File) of
        true -> ok;
        false ->
            receive
                {Port, {exit_status, Status}} -> erlang:error({node_exited, File, Status})
            after 50 -> wait_for(File, Port, Left - 50)
            end
    end.

%% Sends signal `Signal' ("-9", "-STOP", "-CONT") to node `Node''s OS process.
kill(#{dir := Dir}, Node, Signal) ->
    {ok, Pid} = file:read_file(filename:join(Dir, "pid." ++ atom_to_list(Node))),
    [] = os:cmd("kill " ++ Signal ++ " " ++ binary_to_list(Pid)).

stop_cluster(C = #{nodes := Nodes}) ->
    _ = [catch kill(C, N, "-CONT") || {N, _} <- Nodes],
    _ = [catch kill(C, N, "-9") || {N, _} <- Nodes],
    %% What each node printed, for a failure's post-mortem.
    _ = [file:write_file(filename:join(maps:get(dir, C), "log." ++ atom_to_list(N)), output(Port))
         || {N, Port} <- Nodes],
    _ = [catch erlang:port_close(Port) || {_, Port} <- Nodes],
    _ = [erlang:disconnect_node(N) || {N, _} <- Nodes],
    ok.

output(Port) ->
    receive {Port, {data, Out}} -> [Out | output(Port)]
    after 0 -> []
    end.

%% The attempts each step of workflow `Id' started: [{Step, Attempt}].
execs(#{dir := Dir}, Id) ->
    Prefix = aion_cluster_node:file_id(Id) ++ "__",
    [begin
         [_, Step, Attempt | _] = string:split(F, "__", all),
         {list_to_binary(Step), list_to_integer(Attempt)}
     end || F <- filelib:wildcard(Prefix ++ "*", filename:join(Dir, "exec"))].

has(Node, Id, Type) ->
    lists:member(Type, types(Node, Id)).

types(Node, Id) ->
    case erpc:call(Node, aion, history, [Id]) of
        {ok, H} -> [T || #{type := T} <- H];
        _ -> []
    end.

head(Node, Id) ->
    {ok, #{head := Head}} = erpc:call(Node, aion, describe, [Id]),
    Head.

owner(Node, Id) ->
    case erpc:call(Node, aion, describe, [Id]) of
        {ok, Summary} -> maps:get(owner, Summary, null);
        _ -> null
    end.

timed(Fun) ->
    T0 = erlang:monotonic_time(millisecond),
    R = try Fun() catch Class:Reason -> {Class, Reason} end,
    {erlang:monotonic_time(millisecond) - T0, R}.

wait_until(Fun, Timeout) ->
    aion_test_support:wait_until(Fun, Timeout).
