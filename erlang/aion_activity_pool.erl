%% @doc Activity attempts: bounded concurrency per task queue, deadlines, and ownership.
%%
%% Workflow processes submit attempts (after the event that decides them is durable); the
%% pool starts at most `activity_concurrency' workers per task queue, queues the rest,
%% enforces each attempt's `start_to_close' deadline (counted from its start) and
%% schedule-to-close deadline (counted from the call: an attempt still queued when it
%% passes is reported failed without running), and turns a worker that dies without
%% reporting (crash, kill, deadline) into a failed attempt reported to the workflow. It
%% never records anything itself: the run is the only writer of its history.
%%
%% Workers are spawned linked and monitored in one step (`spawn_opt' with `link' and
%% `monitor'), so the pool sees every worker's exit with its real reason; a worker never
%% outlives the pool. Attempts belong to their run: `stop_run/1' (called by a run's new
%% owner before it replays) stops every attempt of the workflow's previous incarnation and
%% returns once they are dead, so one activity never has two live attempts; the attempts
%% of a run process that dies are stopped too.
%%
%% In a cluster (see `aion_cluster') an attempt on a task queue this node does not serve is
%% passed to the pool of a live node that does; its worker reports to the run process
%% directly. This pool keeps track of what it passed on: when that node goes down, each of
%% those attempts is reported failed (type `worker_lost', retried under the activity's
%% policy). An attempt no live node serves waits here until one does.
%%
%% Heartbeats (see `aion_activity'): workers write their heartbeats to a public table this
%% pool owns, without a message. For an attempt with a `heartbeat_timeout' the pool arms
%% one check at its start; each check looks at the last heartbeat and either re-arms itself
%% for when the timeout would run out counting from it, or reports the attempt failed with
%% type `heartbeat_timeout' (and its last details) and kills it, as for `start_to_close'.
%% So the pool looks at an attempt at most once per timeout period. Every failure the pool
%% reports for a worker of its own (a crash, `timeout', `heartbeat_timeout') carries the
%% worker's last heartbeat details.
%%
%% `activity_concurrency' bounds the running attempts per task queue on this node: an
%% integer for every queue (default 100), or a map from queue to limit (queues it does not
%% name get 100).
-module(aion_activity_pool).
-behaviour(gen_server).

-include_lib("kernel/include/logger.hrl").

-export([start_link/0]).
-export([submit/2]).
-export([cancel/3]).
-export([stop_run/1]).
-export([busy/0]).
-export([node_lost/1]).
-export([depths/0]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2, terminate/2]).

%% The longest time one timer of the pool waits (about 49 days); a longer deadline waits
%% in steps.
-define(MAX_TIMER_MS, 4294967295).

-record(worker, {job :: aion_activity_worker:job(),
                 queue :: binary(),
                 monitor :: reference(),
                 timer :: reference() | undefined | reported,
                 %% The heartbeat check, and when the attempt started (monotonic ms).
                 beat :: reference() | undefined,
                 started :: integer()}).
-record(state, {limit :: pos_integer() | #{binary() => pos_integer()},
                %% Attempts passed to another node: key => {Node, Job}.
                remote = #{} :: #{{binary(), pos_integer(), non_neg_integer()} => {node(), map()}},
                %% Attempts no live node serves yet.
                parked = [] :: [{binary(), map()}],
                %% Run processes whose attempts run here: pid => monitor.
                runs = #{} :: #{pid() => reference()},
                queues = #{} :: #{binary() => {non_neg_integer(), queue:queue(aion_activity_worker:job())}},
                workers = #{} :: #{pid() => #worker{}},
                %% Callers of stop_run/1 waiting for the workers they stopped to die.
                stopping = [] :: [{gen_server:from(), [pid()]}]}).

%% @doc Starts the pool.
-spec start_link() -> {ok, pid()} | {error, term()}.
start_link() ->
    gen_server:start_link({local, ?MODULE}, ?MODULE, [], []).

%% @doc Queues one attempt on `TaskQueue'. The result reaches the job's workflow process as
%% `{aion_activity_result, RunId, Ordinal, Attempt, OutcomeJson}'.
-spec submit(binary(), aion_activity_worker:job()) -> ok.
submit(TaskQueue, Job) ->
    gen_server:cast(?MODULE, {submit, TaskQueue, Job}).

%% @doc Stops attempt `Attempt' of activity `Ordinal' of workflow `WorkflowId': a queued
%% attempt is dropped; a running one is sent `{aion_cancel, Ordinal, Attempt}' (an activity
%% may `receive' it to stop cleanly) and killed after `cancel_grace_ms' (default 5000).
-spec cancel(binary(), pos_integer(), non_neg_integer()) -> ok.
cancel(WorkflowId, Ordinal, Attempt) ->
    gen_server:cast(?MODULE, {cancel, {WorkflowId, Ordinal, Attempt}}).

%% @doc Stops every attempt of workflow `WorkflowId', queued or running, and returns once
%% the running ones are dead. Their outcomes are not reported: the run's new owner replays
%% and counts them as lost attempts. Returns `ok' at once when the pool is not running.
-spec stop_run(binary()) -> ok.
stop_run(WorkflowId) ->
    try gen_server:call(?MODULE, {stop_run, WorkflowId}, infinity)
    catch exit:{noproc, _} -> ok
    end.

%% @doc In a cluster: node `Node' is gone (its lease ran out, whatever its connection
%% says): the attempts passed to it are reported lost, as on `nodedown'.
-spec node_lost(node()) -> ok.
node_lost(Node) ->
    gen_server:cast(?MODULE, {node_lost, Node}).

%% @doc Per task queue on this node: `{Queue, Running, Queued}'.
-spec depths() -> [{binary(), non_neg_integer(), non_neg_integer()}].
depths() ->
    gen_server:call(?MODULE, depths, 5000).

%% @doc How many attempts are running or queued (the test harness waits for 0).
-spec busy() -> non_neg_integer().
busy() ->
    gen_server:call(?MODULE, busy, infinity).

%% @private
-spec init([]) -> {ok, #state{}}.
init([]) ->
    process_flag(trap_exit, true),
    ok = aion_activity:init_table(),
    Limit = application:get_env(aion, activity_concurrency, 100),
    %% Attempts passed to other nodes are lost with them.
    ok = net_kernel:monitor_nodes(true),
    {ok, #state{limit = Limit}}.

%% @private
-spec handle_call(term(), gen_server:from(), #state{}) -> {reply, term(), #state{}} | {noreply, #state{}}.
handle_call({stop_run, WorkflowId}, From, State) ->
    Queues = maps:map(fun(_, {Running, Pending}) ->
                          {Running, queue:filter(fun(#{workflow_id := Id}) -> Id =/= WorkflowId end, Pending)}
                      end, State#state.queues),
    Victims = [Pid || {Pid, #worker{job = #{workflow_id := Id}}} <- maps:to_list(State#state.workers),
                      Id =:= WorkflowId],
    _ = [exit(Pid, kill) || Pid <- Victims],
    %% Attempts passed to other nodes stop there with the run process they report to.
    Remote = maps:filter(fun(_, {_, #{workflow_id := Id}}) -> Id =/= WorkflowId end,
                         State#state.remote),
    Parked = [P || P = {_, #{workflow_id := Id}} <- State#state.parked, Id =/= WorkflowId],
    State1 = State#state{queues = Queues, remote = Remote, parked = Parked},
    case Victims of
        [] -> {reply, ok, State1};
        _ -> {noreply, State1#state{stopping = [{From, Victims} | State#state.stopping]}}
    end;
handle_call(depths, _From, State) ->
    {reply, [{Q, Running, queue:len(Pending)}
             || {Q, {Running, Pending}} <- maps:to_list(State#state.queues)], State};
handle_call(busy, _From, State) ->
    Queued = lists:sum([queue:len(P) || {_, P} <- maps:values(State#state.queues)]),
    {reply, maps:size(State#state.workers) + Queued, State};
handle_call(_Request, _From, State) ->
    {reply, {error, unknown_call}, State}.

%% @private
-spec handle_cast(term(), #state{}) -> {noreply, #state{}}.
handle_cast({submit, Queue, Job}, State) ->
    {noreply, dispatch(Queue, Job, State)};
handle_cast({run_here, Queue, Job}, State) ->
    %% From another node's pool: this node serves `Queue'.
    {noreply, enqueue(Queue, Job, State)};
handle_cast({node_lost, Node}, State) ->
    {noreply, lost(Node, State)};
handle_cast({remote_done, Key}, State) ->
    {noreply, State#state{remote = maps:remove(Key, State#state.remote)}};
handle_cast({cancel, Key}, State) ->
    case maps:find(Key, State#state.remote) of
        {ok, {Node, _}} -> gen_server:cast({?MODULE, Node}, {cancel, Key});
        error -> ok
    end,
    Parked = [P || P = {_, Job} <- State#state.parked, key(Job) =/= Key],
    Queues = maps:map(fun(_, {Running, Pending}) ->
                          {Running, queue:filter(fun(Job) -> key(Job) =/= Key end, Pending)}
                      end, State#state.queues),
    Grace = application:get_env(aion, cancel_grace_ms, 5000),
    _ = [begin
             Pid ! {aion_cancel, element(2, Key), element(3, Key)},
             erlang:send_after(Grace, self(), {aion_kill, Pid})
         end || {Pid, #worker{job = Job}} <- maps:to_list(State#state.workers), key(Job) =:= Key],
    {noreply, State#state{queues = Queues, parked = Parked}};
handle_cast(_Msg, State) ->
    {noreply, State}.

key(#{workflow_id := Id, ordinal := O, attempt := A}) -> {Id, O, A}.

%% @private
-spec handle_info(term(), #state{}) -> {noreply, #state{}}.
handle_info({'DOWN', _Ref, process, Pid, _Reason}, State) when is_map_key(Pid, State#state.runs) ->
    %% A run process died: its attempts here belong to nobody now (its next owner, on this
    %% node or another, replays and starts its own).
    {noreply, stop_attempts_of(Pid, State#state{runs = maps:remove(Pid, State#state.runs)})};
handle_info({nodedown, Node}, State) ->
    {noreply, lost(Node, State)};
handle_info(retry_parked, State = #state{parked = Parked}) ->
    {noreply, lists:foldl(fun({Queue, Job}, S) -> dispatch(Queue, Job, S) end,
                          State#state{parked = []}, lists:reverse(Parked))};
handle_info({nodeup, _Node}, State) ->
    {noreply, State};
handle_info({'DOWN', _Ref, process, Pid, Reason}, State) ->
    case maps:take(Pid, State#state.workers) of
        {#worker{job = Job, queue = Queue, timer = Timer, beat = Beat}, Workers} ->
            cancel_timer(Timer),
            cancel_timer(Beat),
            {Stopped, Stopping} = forget_stopped(Pid, State#state.stopping),
            Reported = Reason =:= normal orelse Timer =:= reported orelse Stopped,
            Reported orelse
                aion_activity_worker:report(Job, aion_activity_worker:crash_outcome(Reason),
                                            aion_activity:recorded(Pid)),
            aion_activity:forget(Pid),
            tell_origin(Job),
            {Running, Pending} = maps:get(Queue, State#state.queues),
            State1 = put_queue(Queue, {Running - 1, Pending},
                               State#state{workers = Workers, stopping = Stopping}),
            {noreply, drain(Queue, State1)};
        error ->
            {noreply, State}
    end;
handle_info({aion_deadline, Pid}, State) ->
    case maps:find(Pid, State#state.workers) of
        {ok, #worker{timer = reported}} ->
            {noreply, State};
        {ok, W = #worker{job = Job = #{timeout := Ms}, started = Started}} ->
            case Started + Ms - erlang:monotonic_time(millisecond) of
                Left when Left > 0 ->
                    %% A deadline further off than one timer reaches: wait on.
                    Timer = arm(Left, {aion_deadline, Pid}),
                    {noreply, State#state{workers = (State#state.workers)#{Pid => W#worker{timer = Timer}}}};
                _ ->
                    {noreply, stop_worker(Pid, W, aion_activity_worker:timeout_outcome(Job), State)}
            end;
        error ->
            {noreply, State}
    end;
handle_info({aion_heartbeat_check, Pid}, State) ->
    case maps:find(Pid, State#state.workers) of
        {ok, #worker{timer = reported}} ->
            {noreply, State};
        {ok, W = #worker{job = Job = #{heartbeat_timeout := Ms}, started = Started}} ->
            Left = aion_activity:last_beat(Pid, Started) + Ms - erlang:monotonic_time(millisecond),
            case Left > 0 of
                true ->
                    %% It beat since the last look: look again when that beat runs out.
                    Beat = arm(Left, {aion_heartbeat_check, Pid}),
                    {noreply, State#state{workers = (State#state.workers)#{Pid => W#worker{beat = Beat}}}};
                false ->
                    Outcome = aion_activity_worker:heartbeat_timeout_outcome(Job),
                    {noreply, stop_worker(Pid, W#worker{beat = undefined}, Outcome, State)}
            end;
        _ ->
            {noreply, State}
    end;
handle_info({aion_queued_deadline, Queue, Key, At}, State) ->
    case At - erlang:system_time(millisecond) of
        Left when Left > 0 ->
            %% A deadline further off than one timer reaches: wait on.
            arm(Left, {aion_queued_deadline, Queue, Key, At}),
            {noreply, State};
        _ ->
            {noreply, expire_queued(Queue, Key, State)}
    end;
handle_info({aion_kill, Pid}, State) ->
    maps:is_key(Pid, State#state.workers) andalso exit(Pid, kill),
    {noreply, State};
handle_info({'EXIT', _Pid, _Reason}, State) ->
    %% Workers are linked so that none outlives the pool; their exits arrive as 'DOWN'.
    {noreply, State};
handle_info(_Info, State) ->
    {noreply, State}.

%% @private The workers die with the pool, also those whose activity traps exits (they
%% would outlive it as attempts nobody owns; one killed with the pool is told at its next
%% heartbeat, see `aion_activity').
-spec terminate(term(), #state{}) -> ok.
terminate(_Reason, State) ->
    _ = [exit(Pid, kill) || Pid <- maps:keys(State#state.workers)],
    ok.

%% Reports `Outcome' (with the worker's last heartbeat details), then kills the worker; the
%% 'DOWN' that follows reports nothing more.
stop_worker(Pid, W = #worker{job = Job, timer = Timer, beat = Beat}, Outcome, State) ->
    aion_activity_worker:report(Job, Outcome, aion_activity:recorded(Pid)),
    exit(Pid, kill),
    cancel_timer(Timer),
    cancel_timer(Beat),
    W1 = W#worker{timer = reported, beat = undefined},
    State#state{workers = (State#state.workers)#{Pid => W1}}.

%% Takes `Pid' off the stop_run/1 waits; answers the callers whose workers are all gone.
forget_stopped(Pid, Stopping) ->
    lists:foldr(fun({From, Pids}, {Found, Acc}) ->
                    case lists:member(Pid, Pids) of
                        false -> {Found, [{From, Pids} | Acc]};
                        true ->
                            case lists:delete(Pid, Pids) of
                                [] -> gen_server:reply(From, ok), {true, Acc};
                                Rest -> {true, [{From, Rest} | Acc]}
                            end
                    end
                end, {false, []}, Stopping).

put_queue(Queue, Entry, State) ->
    State#state{queues = (State#state.queues)#{Queue => Entry}}.

%% The attempts passed to `Node' are reported lost (retried under their policy).
lost(Node, State) ->
    {Lost, Kept} = maps:fold(fun(_Key, {N, Job}, {L, K}) when N =:= Node -> {[Job | L], K};
                                (Key, Entry, {L, K}) -> {L, K#{Key => Entry}}
                             end, {[], #{}}, State#state.remote),
    _ = [aion_activity_worker:report(Job, {error, <<"worker_lost">>,
                                           <<"the node running the attempt is gone: ",
                                             (atom_to_binary(Node))/binary>>, true})
         || Job <- Lost],
    State#state{remote = Kept}.

%% Runs an attempt here, passes it to a node that serves its queue, or parks it until one
%% does. The run process is watched either way: its attempts end with it.
dispatch(Queue, Job = #{workflow := Run}, State) ->
    case aion_cluster:activity_node(Queue) of
        local ->
            enqueue(Queue, Job, State);
        {remote, Node} ->
            gen_server:cast({?MODULE, Node}, {run_here, Queue, Job#{origin => self()}}),
            watch_run(Run, State#state{remote = (State#state.remote)#{key(Job) => {Node, Job}}});
        none ->
            State#state.parked =:= [] andalso erlang:send_after(500, self(), retry_parked),
            watch_run(Run, State#state{parked = [{Queue, Job} | State#state.parked]})
    end.

enqueue(Queue, Job = #{workflow := Run}, State) ->
    {Running, Pending} = maps:get(Queue, State#state.queues, {0, queue:new()}),
    State1 = put_queue(Queue, {Running, queue:in(Job, Pending)}, watch_run(Run, State)),
    State2 = drain(Queue, State1),
    %% Still waiting for a free slot: its schedule-to-close deadline may pass in the queue.
    case maps:get(deadline, Job, infinity) of
        At when is_integer(At) ->
            %% Drain starts the queue's front first: if anything still waits, so does
            %% this attempt (the last in).
            not queue:is_empty(element(2, maps:get(Queue, State2#state.queues))) andalso
                arm(max(0, At - erlang:system_time(millisecond)), {aion_queued_deadline, Queue, key(Job), At}),
            State2;
        _ ->
            State2
    end.

%% An attempt still queued at its schedule-to-close deadline never runs: it is reported
%% failed (the run records the deadline) and leaves the queue.
expire_queued(Queue, Key, State) ->
    case maps:find(Queue, State#state.queues) of
        {ok, {Running, Pending}} ->
            {Expired, Kept} = lists:partition(fun(Job) -> key(Job) =:= Key end, queue:to_list(Pending)),
            _ = [begin
                     aion_activity_worker:report(Job, aion_activity_worker:expired_outcome()),
                     tell_origin(Job)
                 end || Job <- Expired],
            put_queue(Queue, {Running, queue:from_list(Kept)}, State);
        error ->
            State
    end.

watch_run(Run, State = #state{runs = Runs}) when is_map_key(Run, Runs) -> State;
watch_run(Run, State = #state{runs = Runs}) ->
    State#state{runs = Runs#{Run => erlang:monitor(process, Run)}}.

%% Drops the queued and parked attempts of run process `Run', kills its running ones, and
%% forgets those passed to other nodes (their pools watch the run process too).
stop_attempts_of(Run, State) ->
    Queues = maps:map(fun(_, {Running, Pending}) ->
                          {Running, queue:filter(fun(#{workflow := P}) -> P =/= Run end, Pending)}
                      end, State#state.queues),
    _ = [exit(Pid, kill) || {Pid, #worker{job = #{workflow := P}}} <- maps:to_list(State#state.workers),
                            P =:= Run],
    Parked = [Entry || Entry = {_, #{workflow := P}} <- State#state.parked, P =/= Run],
    Remote = maps:filter(fun(_, {_, #{workflow := P}}) -> P =/= Run end, State#state.remote),
    State#state{queues = Queues, parked = Parked, remote = Remote}.

%% An attempt passed here by another node's pool: tell that pool it is over.
tell_origin(#{origin := Origin} = Job) -> gen_server:cast(Origin, {remote_done, key(Job)});
tell_origin(_Job) -> ok.

limit(Queue, Limit) when is_map(Limit) -> maps:get(Queue, Limit, 100);
limit(_Queue, Limit) -> Limit.

drain(Queue, State = #state{limit = Limits}) ->
    Limit = limit(Queue, Limits),
    {Running, Pending} = maps:get(Queue, State#state.queues),
    case Running < Limit andalso queue:out(Pending) of
        {{value, Job}, Rest} ->
            State1 = put_queue(Queue, {Running, Rest}, State),
            drain(Queue, start(Queue, Job, State1));
        _ ->
            State
    end.

start(Queue, Job0, State) ->
    case timeout_at_start(Job0) of
        expired ->
            %% Its schedule-to-close deadline passed while it waited here: it never runs.
            aion_activity_worker:report(Job0, aion_activity_worker:expired_outcome()),
            tell_origin(Job0),
            State;
        Timeout ->
            start_worker(Queue, Job0#{timeout => Timeout}, State)
    end.

%% The attempt's deadline counted from now: its `start_to_close' (from its start) or, when
%% sooner, its schedule-to-close deadline (which the time in the queue counted against).
timeout_at_start(#{deadline := At, timeout := Timeout}) when is_integer(At) ->
    case At - erlang:system_time(millisecond) of
        Left when Left =< 0 -> expired;
        Left when Timeout =:= infinity -> Left;
        Left -> min(Timeout, Left)
    end;
timeout_at_start(#{timeout := Timeout}) ->
    Timeout.

start_worker(Queue, Job, State) ->
    Started = erlang:monotonic_time(millisecond),
    {Pid, Monitor} = spawn_opt(aion_activity_worker, init, [Job#{pool => self()}], [link, monitor]),
    Timer = case maps:get(timeout, Job) of
        infinity -> undefined;
        Ms -> arm(Ms, {aion_deadline, Pid})
    end,
    Beat = case maps:get(heartbeat_timeout, Job, infinity) of
        infinity -> undefined;
        BeatMs -> arm(BeatMs, {aion_heartbeat_check, Pid})
    end,
    {Running, Pending} = maps:get(Queue, State#state.queues),
    State1 = put_queue(Queue, {Running + 1, Pending}, State),
    Worker = #worker{job = Job, queue = Queue, monitor = Monitor, timer = Timer, beat = Beat,
                     started = Started},
    State1#state{workers = (State1#state.workers)#{Pid => Worker}}.

%% A timer sending `Msg' to the pool in `Ms' ms, or sooner when `Ms' is past what one timer
%% reaches (`send_after' refuses times from about 2^44 ms on): the deadline and the
%% heartbeat check count from the attempt's start and re-arm themselves when early.
arm(Ms, Msg) ->
    erlang:send_after(min(Ms, ?MAX_TIMER_MS), self(), Msg).

cancel_timer(Timer) when not is_reference(Timer) -> ok;
cancel_timer(Timer) -> _ = erlang:cancel_timer(Timer), ok.
