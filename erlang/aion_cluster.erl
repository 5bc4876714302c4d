%% @doc A node's membership of an aion cluster: several nodes of one release sharing one
%% PostgreSQL store (`{store, postgres}'). PostgreSQL is the only judge of who owns what;
%% this process keeps the node's lease and acts on what the database says.
%%
%% <ul>
%% <li>At start the node <em>joins</em>: it writes its name, role and task queues with a
%% lease of `lease_ms' (default 10000) and gets a fresh epoch. It renews the lease every
%% `lease_ms div 4'. A renewal the database refuses (the lease ran out: the node was
%% paused, cut off, or its database connection failed for longer than the lease) means
%% other nodes may have taken its runs: the node lets every run go (their processes are
%% stopped; their appends would be refused anyway, as the database checks the owner and
%% its lease in the same transaction as each append) and joins again with a new epoch.</li>
%% <li>Every `claim_interval_ms' (default 1000) it claims running workflows that no live
%% node owns (their owner's lease ran out, or their owner left) and replays them, wakes
%% its runs whose inbox holds entries (should another node's wake have been lost), reads
%% which nodes are live, and connects to those it is not connected to (Erlang
%% distribution, one cookie): there is no list of peers to configure.</li>
%% <li>When the application stops, the node leaves: its runs are left without an owner
%% and the others take them over at their next claim, without waiting for the lease.</li>
%% </ul>
%%
%% A node with `{role, worker}' runs activities only: it owns no runs and claims none;
%% starts made on it are passed to a node that runs workflows. Activities go to a node that
%% serves their task queue (`{task_queues, [<<"default">>]}' by default): this node if it
%% serves it, else one of the live nodes that do.
-module(aion_cluster).
-behaviour(gen_server).

-include_lib("kernel/include/logger.hrl").

-export([start_link/0]).
-export([enabled/0, role/0, serves/1, claim/1, route/1, owner_of/1]).
-export([activity_node/1, workflow_node/0, live_nodes/0, let_go/0, info/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

-define(KEY, {?MODULE, config}).
-define(NODES, {?MODULE, nodes}).

-type role() :: all | worker.
-export_type([role/0]).

%% @doc Starts the membership process when the store is shared (`{store, postgres}');
%% `ignore' otherwise.
-spec start_link() -> {ok, pid()} | ignore | {error, term()}.
start_link() ->
    case application:get_env(aion, store, sqlite) of
        postgres -> gen_server:start_link({local, ?MODULE}, ?MODULE, [], []);
        _ -> persistent_term:erase(?KEY), ignore
    end.

%% @doc Whether this node is a member of a cluster (the store is shared).
-spec enabled() -> boolean().
enabled() ->
    persistent_term:get(?KEY, undefined) =/= undefined.

%% @doc This node's role: `all' (workflows and activities) or `worker' (activities only).
%% `all' outside a cluster.
-spec role() -> role().
role() ->
    case persistent_term:get(?KEY, undefined) of
        #{role := Role} -> Role;
        undefined -> all
    end.

%% @doc Whether this node runs the activities of task queue `Queue' (every queue outside a
%% cluster).
-spec serves(binary()) -> boolean().
serves(Queue) ->
    case persistent_term:get(?KEY, undefined) of
        #{task_queues := Queues} -> lists:member(Queue, Queues);
        undefined -> true
    end.

%% @doc Takes workflow `WorkflowId' for this node unless a live node owns it (see
%% `aion_core::store::ClusterStore::claim'). `mine' outside a cluster.
-spec claim(binary()) -> mine | closed | unknown | {owner, node()} | {error, term()}.
claim(WorkflowId) ->
    case {enabled(), role()} of
        {false, _} ->
            mine;
        {true, worker} ->
            route_elsewhere(WorkflowId);
        {true, all} ->
            case aion_flow_ffi:nif_cluster_claim(aion_engine:store(), WorkflowId) of
                {ok, {owner, Node}} -> {owner, node_atom(Node)};
                {ok, Claim} -> Claim;
                {error, _} = Error -> Error
            end
    end.

%% A worker node owns nothing: it names the owner, or a node that runs workflows.
route_elsewhere(WorkflowId) ->
    case owner_of(WorkflowId) of
        {ok, Node} when Node =/= node() -> {owner, Node};
        _ ->
            case workflow_node() of
                {ok, Node} -> {owner, Node};
                none -> {error, {not_owner, <<"no node that runs workflows is live">>}}
            end
    end.

%% @doc Where a request about run `WorkflowId' is answered: `local' (this node has its
%% process, owns it, or just took it over; always outside a cluster) or `{remote, Node}'.
-spec route(binary()) -> local | {remote, node()}.
route(WorkflowId) ->
    case enabled() andalso aion_engine:live_run(WorkflowId) =:= none of
        false -> local;
        true ->
            case claim(WorkflowId) of
                {owner, Node} when Node =/= node() -> {remote, Node};
                _ -> local
            end
    end.

%% @doc The node that owns running workflow `WorkflowId', as the store says.
-spec owner_of(binary()) -> {ok, node()} | none.
owner_of(WorkflowId) ->
    case aion_flow_ffi:nif_engine_describe(aion_engine:store(), WorkflowId) of
        {ok, #{status := running, owner := Owner}} -> {ok, node_atom(Owner)};
        _ -> none
    end.

%% @doc Where an attempt on task queue `Queue' runs: `local', `{remote, Node}' (a live
%% node that serves the queue, picked at random), or `none' (no live node serves it now).
-spec activity_node(binary()) -> local | {remote, node()} | none.
activity_node(Queue) ->
    case serves(Queue) of
        true -> local;
        false ->
            case [N || #{node := N, task_queues := Qs} <- live_nodes(), N =/= node(),
                       lists:member(Queue, Qs), lists:member(N, nodes())] of
                [] -> none;
                Servers -> {remote, pick(Servers)}
            end
    end.

%% @doc A live, connected node that runs workflows (for a start made on a worker node).
-spec workflow_node() -> {ok, node()} | none.
workflow_node() ->
    case workflow_nodes() of
        [] ->
            %% The list is read every claim interval: read it now before saying none.
            _ = catch gen_server:call(?MODULE, refresh, 5000),
            case workflow_nodes() of
                [] -> none;
                Nodes -> {ok, pick(Nodes)}
            end;
        Nodes ->
            {ok, pick(Nodes)}
    end.

workflow_nodes() ->
    [N || #{node := N, role := <<"all">>} <- live_nodes(), N =/= node(), lists:member(N, nodes())].

pick(Nodes) ->
    lists:nth(rand:uniform(length(Nodes)), Nodes).

%% @doc The live nodes as last read from the store (every `claim_interval_ms'): maps with
%% `node' (an atom), `epoch', `role' and `task_queues'.
-spec live_nodes() -> [#{node := node(), epoch := integer(), role := binary(),
                         task_queues := [binary()]}].
live_nodes() ->
    persistent_term:get(?NODES, []).

%% @doc This node's membership: `#{node, epoch, role, task_queues, lease_ms,
%% lease_losses}' (`lease_losses': how often the node found its lease gone and let its runs
%% go since it started), or `#{}' outside a cluster.
-spec info() -> map().
info() ->
    case whereis(?MODULE) of
        undefined -> #{};
        Pid -> gen_server:call(Pid, info, 5000)
    end.

%% @doc Stops every run process of this node: its lease ran out, others may own its runs.
%% Their activity attempts stop with them (see `aion_activity_pool').
-spec let_go() -> ok.
let_go() ->
    Children = try supervisor:which_children(aion_workflow_sup) catch exit:_ -> [] end,
    _ = [supervisor:terminate_child(aion_workflow_sup, Pid) || {_, Pid, _, _} <- Children,
                                                               is_pid(Pid)],
    ok.

%% @private
-spec init([]) -> {ok, map()} | {stop, term()}.
init([]) ->
    process_flag(trap_exit, true),
    case config() of
        {ok, Config} -> start(Config);
        {error, Reason} -> {stop, Reason}
    end.

start(Config = #{lease_ms := LeaseMs}) ->
    persistent_term:put(?KEY, Config),
    %% A node restarted under its name within its earlier lease waits for that lease to
    %% run out (the database refuses a name a live member holds).
    case join_within(Config, erlang:monotonic_time(millisecond) + LeaseMs + 1000) of
        {ok, Epoch} ->
            State = Config#{epoch => Epoch, lease_losses => 0,
                            renewed_at => erlang:monotonic_time(millisecond)},
            refresh_nodes(),
            erlang:send_after(LeaseMs div 4, self(), renew),
            self() ! scan,
            {ok, State};
        {error, Reason} ->
            persistent_term:erase(?KEY),
            {stop, {cluster_join_failed, Reason}}
    end.

%% The cluster's settings, checked: `role', `task_queues', `lease_ms',
%% `claim_interval_ms'.
config() ->
    Role = application:get_env(aion, role, all),
    Queues = application:get_env(aion, task_queues, [<<"default">>]),
    Lease = application:get_env(aion, lease_ms, 10000),
    Interval = application:get_env(aion, claim_interval_ms, 1000),
    QueueNames = case is_list(Queues) of
        true -> [to_binary(Q) || Q <- Queues];
        false -> error
    end,
    if
        Role =/= all, Role =/= worker ->
            bad(<<"role must be all or worker">>, Role);
        QueueNames =:= error ->
            bad(<<"task_queues must be a list of names">>, Queues);
        not is_integer(Lease); Lease < 100 ->
            bad(<<"lease_ms must be an integer of at least 100">>, Lease);
        not is_integer(Interval); Interval < 10 ->
            bad(<<"claim_interval_ms must be an integer of at least 10">>, Interval);
        true ->
            case [Q || Q <- QueueNames, not aion:valid_name(Q)] of
                [] ->
                    {ok, #{role => Role, task_queues => QueueNames, lease_ms => Lease,
                           claim_interval_ms => Interval}};
                _ ->
                    bad(<<"task_queues must be a list of names">>, Queues)
            end
    end.

bad(Why, Value) ->
    {error, {invalid_input, <<Why/binary, ", got ", (aion_flow_ffi:printed(Value))/binary>>}}.

join_within(Config, Deadline) ->
    case join(Config) of
        {error, {already_exists, _}} = Refused ->
            case erlang:monotonic_time(millisecond) < Deadline of
                true -> timer:sleep(500), join_within(Config, Deadline);
                false -> Refused
            end;
        Other ->
            Other
    end.

join(#{role := Role, task_queues := Queues, lease_ms := LeaseMs}) ->
    aion_flow_ffi:nif_cluster_join(aion_engine:store(), atom_to_binary(node()),
                                   atom_to_binary(Role), Queues, LeaseMs).

%% @private
-spec handle_call(term(), gen_server:from(), map()) -> {reply, term(), map()}.
handle_call(refresh, _From, State) ->
    {reply, refresh_nodes(), State};
handle_call(info, _From, State) ->
    Info = maps:with([epoch, role, task_queues, lease_ms, lease_losses], State),
    {reply, Info#{node => node()}, State};
handle_call(_Request, _From, State) ->
    {reply, {error, unknown_call}, State}.

%% @private
-spec handle_cast(term(), map()) -> {noreply, map()}.
handle_cast(_Msg, State) ->
    {noreply, State}.

%% @private
-spec handle_info(term(), map()) -> {noreply, map()}.
handle_info(renew, State = #{lease_ms := LeaseMs, renewed_at := RenewedAt}) ->
    erlang:send_after(LeaseMs div 4, self(), renew),
    Now = erlang:monotonic_time(millisecond),
    case aion_flow_ffi:nif_cluster_renew(aion_engine:store(), LeaseMs) of
        {ok, renewed} ->
            {noreply, State#{renewed_at => Now}};
        {error, {not_owner, _}} ->
            {noreply, rejoin(State, lease_lost)};
        {error, Reason} when Now - RenewedAt >= LeaseMs ->
            %% The database cannot be reached for as long as the lease lasts: the lease
            %% has run out there, whatever happens next.
            ?LOG_ERROR(#{what => cluster_lease_unrenewable, reason => Reason}, #{aion => cluster}),
            {noreply, rejoin(State, lease_unrenewable)};
        {error, Reason} ->
            ?LOG_WARNING(#{what => cluster_lease_renewal_failed, reason => Reason},
                         #{aion => cluster}),
            {noreply, State}
    end;
handle_info(scan, State = #{claim_interval_ms := Interval, role := Role}) ->
    erlang:send_after(Interval, self(), scan),
    refresh_nodes(),
    Role =:= all andalso claim_orphans(),
    Role =:= all andalso wake_waiting(),
    {noreply, State};
handle_info(_Info, State) ->
    {noreply, State}.

%% The lease is gone: let every run go, then join again (a new epoch; this node's runs that
%% nobody took yet are orphans it may claim back at its next scan).
rejoin(State, Why) ->
    ?LOG_WARNING(#{what => cluster_lease_lost, reason => Why, node => node()}, #{aion => cluster}),
    let_go(),
    Lost = State#{lease_losses => maps:get(lease_losses, State) + 1},
    %% Until it joins again, everything the node still sends under its old membership is
    %% refused by the database (its lease is gone).
    case join(State) of
        {ok, Epoch} ->
            ?LOG_NOTICE(#{what => cluster_joined_again, epoch => Epoch}, #{aion => cluster}),
            Lost#{epoch => Epoch, renewed_at => erlang:monotonic_time(millisecond)};
        {error, Reason} ->
            ?LOG_ERROR(#{what => cluster_join_failed, reason => Reason}, #{aion => cluster}),
            Lost
    end.

%% Takes the runs nobody live owns and replays them.
claim_orphans() ->
    %% Only runs of types this node has registered: a run it cannot run is left to a node
    %% that can (during a rolling deploy that adds a type, say).
    Types = [Type || [Type] <- ets:match(aion_registry, {{workflow, '$1'}, '_'})],
    case Types =/= [] andalso aion_flow_ffi:nif_cluster_claim_orphans(aion_engine:store(), 1000, Types) of
        false -> ok;
        {ok, []} -> ok;
        {ok, Taken} ->
            ?LOG_NOTICE(#{what => cluster_runs_taken_over, count => length(Taken)},
                        #{aion => cluster}),
            _ = [aion_engine:start_run(Id) || {Id, Type} <- Taken,
                                              aion_engine:lookup(workflow, Type) =/= error],
            ok;
        {error, {not_owner, _}} -> ok;
        {error, Reason} ->
            ?LOG_WARNING(#{what => cluster_claim_failed, reason => Reason}, #{aion => cluster})
    end.

%% Wakes the runs of this node whose inbox holds entries: the wake another node sent may
%% have been lost with its connection (a run already awake takes the extra wake as nothing
%% new).
wake_waiting() ->
    case aion_flow_ffi:nif_cluster_inbox_waiting(aion_engine:store()) of
        {ok, Ids} -> _ = [aion_engine:wake(Id) || Id <- Ids], ok;
        {error, _} -> ok
    end.

%% Reads the live nodes and connects to those this node is not connected to.
refresh_nodes() ->
    case aion_flow_ffi:nif_cluster_nodes(aion_engine:store()) of
        {ok, Nodes} ->
            Live = [N#{node := node_atom(Name)} || N = #{node := Name} <- Nodes],
            Distributed = node() =/= nonode@nohost,
            _ = [net_kernel:connect_node(N) || Distributed, #{node := N} <- Live,
                                               N =/= node(), not lists:member(N, nodes())],
            Old = persistent_term:get(?NODES, []),
            Live =:= Old orelse persistent_term:put(?NODES, Live),
            %% A node whose lease ran out is gone for the cluster even while its
            %% connection lingers (a paused node): attempts passed to it are lost.
            Gone = [N || #{node := N} <- Old] -- [N || #{node := N} <- Live],
            _ = [aion_activity_pool:node_lost(N) || N <- Gone, N =/= node()],
            ok;
        {error, Reason} ->
            ?LOG_WARNING(#{what => cluster_nodes_unreadable, reason => Reason}, #{aion => cluster})
    end.

%% @private Leaves the cluster: the runs of this node (stopped by now: the run supervisor
%% stops before this process) are taken over by the others at once.
-spec terminate(term(), map()) -> ok.
terminate(_Reason, _State) ->
    _ = (catch aion_flow_ffi:nif_cluster_leave(aion_engine:store())),
    persistent_term:erase(?KEY),
    persistent_term:erase(?NODES),
    ok.

node_atom(Node) when is_atom(Node) -> Node;
node_atom(Node) when is_binary(Node) -> binary_to_atom(Node).

to_binary(Q) when is_binary(Q) -> Q;
to_binary(Q) when is_atom(Q) -> atom_to_binary(Q);
to_binary(Q) ->
    case unicode:characters_to_binary(Q) of
        Bin when is_binary(Bin) -> Bin;
        _ -> <<>>
    end.
