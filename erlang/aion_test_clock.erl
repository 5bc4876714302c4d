%% @doc The virtual clock of the test harness: time moves only when told to, and the
%% wakes workflows arm are delivered when virtual time reaches them.
-module(aion_test_clock).
-behaviour(gen_server).

-export([start/1]).
-export([stop/1]).
-export([wake_at/4]).
-export([advance_to/2]).
-export([next_wake/1]).
-export([init/1, handle_call/3, handle_cast/2]).

-record(clock, {now :: atomics:atomics_ref(), wakes = [] :: [{integer(), integer(), pid(), term()}],
                seq = 0 :: integer()}).

%% @doc Starts a clock at `StartMs' and installs it as the node's clock.
-spec start(integer()) -> {ok, pid()}.
start(StartMs) ->
    Now = atomics:new(1, [{signed, true}]),
    atomics:put(Now, 1, StartMs),
    {ok, Pid} = gen_server:start(?MODULE, Now, []),
    ok = aion_clock:install_virtual(Now, Pid),
    {ok, Pid}.

%% @doc Stops the clock and puts the wall clock back.
-spec stop(pid()) -> ok.
stop(Clock) ->
    ok = aion_clock:install_real(),
    gen_server:stop(Clock).

%% @doc Delivers `Msg' to `Pid' when virtual time reaches `At' (at once if it has).
-spec wake_at(pid(), integer(), pid(), term()) -> ok.
wake_at(Clock, At, Pid, Msg) ->
    gen_server:cast(Clock, {wake_at, At, Pid, Msg}).

%% @doc Moves virtual time to `At' (never backwards), delivering every wake due by then in
%% time order.
-spec advance_to(pid(), integer()) -> ok.
advance_to(Clock, At) ->
    gen_server:call(Clock, {advance_to, At}, infinity).

%% @doc The earliest pending wake, if any.
-spec next_wake(pid()) -> {ok, integer()} | none.
next_wake(Clock) ->
    gen_server:call(Clock, next_wake, infinity).

%% @private
-spec init(atomics:atomics_ref()) -> {ok, #clock{}}.
init(Now) ->
    {ok, #clock{now = Now}}.

%% @private
-spec handle_call(term(), gen_server:from(), #clock{}) -> {reply, term(), #clock{}}.
handle_call({advance_to, At}, _From, State = #clock{now = Now, wakes = Wakes}) ->
    Target = max(At, atomics:get(Now, 1)),
    {Due, Later} = lists:partition(fun({T, _, _, _}) -> T =< Target end, Wakes),
    atomics:put(Now, 1, Target),
    _ = [Pid ! Msg || {_, _, Pid, Msg} <- Due],
    {reply, ok, State#clock{wakes = Later}};
handle_call(next_wake, _From, State = #clock{wakes = []}) ->
    {reply, none, State};
handle_call(next_wake, _From, State = #clock{wakes = [{T, _, _, _} | _]}) ->
    {reply, {ok, T}, State}.

%% @private
-spec handle_cast(term(), #clock{}) -> {noreply, #clock{}}.
handle_cast({wake_at, At, Pid, Msg}, State = #clock{now = Now, wakes = Wakes, seq = Seq}) ->
    case At =< atomics:get(Now, 1) of
        true ->
            Pid ! Msg,
            {noreply, State};
        false ->
            {noreply, State#clock{wakes = lists:sort([{At, Seq, Pid, Msg} | Wakes]), seq = Seq + 1}}
    end.
