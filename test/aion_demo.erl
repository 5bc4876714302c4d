%% @doc `make demo': runs the Gleam order workflow (`gleam/test/aion_demo/order.gleam') on
%% the embedded durable store, then prints its recorded history as a table and the runs
%% the store holds. The dashboard is on while it runs (port 8080, or `AION_DASHBOARD_PORT',
%% or any free port when that one is taken): the demo prints its address and keeps
%% serving until Enter is pressed (at once when standard input is not a terminal's, e.g.
%% `make demo < /dev/null').
-module(aion_demo).

-export([main/0]).
-export([say/1]).

%% @doc Runs the demo and halts the node (exit status 0 on success).
-spec main() -> no_return().
main() ->
    Status = try run() of
        ok -> 0
    catch
        Class:Reason:Stack ->
            io:format("demo failed: ~p:~p~n~p~n", [Class, Reason, Stack]),
            1
    end,
    erlang:halt(Status).

%% @doc Prints one line (used by the Gleam activities).
-spec say(binary()) -> nil.
say(Line) ->
    io:put_chars([Line, $\n]),
    nil.

run() ->
    ok = dashboard_on(),
    {ok, _} = application:ensure_all_started(aion),
    [ok = aion:register_activity(N, {'aion_demo@order', binary_to_atom(N)})
     || N <- [<<"reserve_stock">>, <<"charge_card">>, <<"ship">>]],
    ok = aion:register_workflow(<<"order">>, {'aion_demo@order', run}),
    Order = #{<<"order_id">> => integer_to_binary(erlang:system_time(millisecond) rem 1000000),
              <<"item">> => <<"aion t-shirt">>, <<"amount">> => 2500},
    {ok, Id} = aion:start_workflow(<<"order">>, Order, #{}),
    io:format("started order workflow ~s~n", [Id]),
    {ok, Result} = aion:await(Id, 30000),
    io:format("result: ~s~n~n", [element(2, aion_flow_ffi:json_encode(Result))]),
    {ok, History} = aion:history(Id),
    io:format("history of ~s~n", [Id]),
    io:format("~4s  ~-18s  ~s~n", ["seq", "event", "details"]),
    [io:format("~4b  ~-18s  ~s~n", [Seq, Type, details(Event)])
     || Event = #{seq := Seq, type := Type} <- History],
    {ok, Runs} = aion:list(#{type => <<"order">>}),
    io:format("~nthe store holds ~b order workflow(s):~n", [length(Runs)]),
    [io:format("  ~s  ~s~n", [W, S]) || #{workflow_id := W, status := S} <- Runs],
    io:format("~ndashboard: ~s~n", [aion_http:url()]),
    io:format("open it in a browser; press Enter to stop~n"),
    _ = io:get_line(""),
    ok.

%% The dashboard on the port asked (AION_DASHBOARD_PORT, default 8080), or on a free one
%% when that is taken.
dashboard_on() ->
    Wanted = case os:getenv("AION_DASHBOARD_PORT") of
        false -> 8080;
        Text -> list_to_integer(Text)
    end,
    Port = case gen_tcp:listen(Wanted, [{ip, {127, 0, 0, 1}}, {reuseaddr, true}]) of
        {ok, Socket} -> ok = gen_tcp:close(Socket), Wanted;
        {error, _} -> 0
    end,
    _ = application:load(aion),
    application:set_env(aion, http, #{port => Port}).

details(Event) ->
    Fields = maps:without([seq, type, recorded_at, config], Event),
    string:join([io_lib:format("~s=~s", [K, element(2, aion_flow_ffi:json_encode(V))])
                 || {K, V} <- lists:sort(maps:to_list(Fields))], " ").
