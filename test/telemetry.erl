%% A stand-in for the `telemetry' application (not reachable here: hex.pm is not), with
%% its `execute/3': what aion emits is kept for aion_ops_tests to read. aion calls
%% `telemetry:execute/3' only when a module of that name is loaded.
-module(telemetry).

-export([execute/3, attach/1, detach/0]).

%% Sends every event to `Pid' until `detach/0'.
attach(Pid) -> persistent_term:put({?MODULE, sink}, Pid).
detach() -> persistent_term:erase({?MODULE, sink}).

execute(Event, Measurements, Metadata) ->
    case persistent_term:get({?MODULE, sink}, undefined) of
        undefined -> ok;
        Pid -> Pid ! {telemetry, Event, Measurements, Metadata}, ok
    end.
