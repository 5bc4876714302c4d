%% @doc Where aion's time comes from: the wall clock, or a virtual clock installed by the
%% test harness (`aion_test'). Every timestamp on new events and every wake a workflow
%% arms goes through here, so a virtual clock makes durable timers skip ahead.
-module(aion_clock).

-export([now_ms/0]).
-export([wake_at/2]).
-export([install_virtual/2]).
-export([install_real/0]).

-define(KEY, aion_clock).
%% Longer waits are taken in steps: a wake only says "step again".
-define(MAX_TIMER_MS, 16#7fffffff).

%% @doc Milliseconds since the Unix epoch, real or virtual.
-spec now_ms() -> integer().
now_ms() ->
    case persistent_term:get(?KEY, real) of
        real -> erlang:system_time(millisecond);
        {virtual, Now, _Clock} -> atomics:get(Now, 1)
    end.

%% @doc Sends `Msg' to the calling process at time `At' (or a little before, for waits
%% beyond ~24 days on the real clock: the receiver checks and waits again).
-spec wake_at(integer(), term()) -> ok.
wake_at(At, Msg) ->
    case persistent_term:get(?KEY, real) of
        real ->
            Delay = min(max(0, At - erlang:system_time(millisecond)), ?MAX_TIMER_MS),
            _ = erlang:send_after(Delay, self(), Msg),
            ok;
        {virtual, _Now, Clock} ->
            aion_test_clock:wake_at(Clock, At, self(), Msg)
    end.

%% @doc Makes `Now' (an atomics array whose first element is the time) and `Clock' (an
%% `aion_test_clock') the node's clock.
-spec install_virtual(atomics:atomics_ref(), pid()) -> ok.
install_virtual(Now, Clock) ->
    persistent_term:put(?KEY, {virtual, Now, Clock}).

%% @doc Back to the wall clock.
-spec install_real() -> ok.
install_real() ->
    _ = persistent_term:erase(?KEY),
    ok.
