%% Review of issue 11 (CLI, dashboard, metrics, logs, visibility and lifecycle): each test
%% below failed on the reviewed code; its comment says what it shows.
-module(aion_review11_tests).

-include_lib("eunit/include/eunit.hrl").

-export([cas_then_wait/1, echo/1, abandoning_parent/1, waiter/1]).

-define(T(F), {atom_to_list(F), fun F/0}).

%% Workflows of these tests.

%% Continues as new once, then waits for signal `go'.
cas_then_wait(#{<<"n">> := 0}) ->
    aion_flow:continue_as_new(#{<<"n">> => 1});
cas_then_wait(#{<<"n">> := 1}) ->
    aion_flow:receive_signal(<<"go">>).

echo(X) -> {ok, X}.

%% First version: starts an abandoned child (fixed id) and closes at once. Later version
%% (input `wait'): waits for signal `go'.
abandoning_parent(#{<<"child">> := ChildId}) ->
    {ok, _} = aion_flow:start_child(<<"r11_waiter">>, 1, #{workflow_id => ChildId,
                                                          parent_close_policy => abandon}),
    {ok, started_child};
abandoning_parent(<<"wait">>) ->
    aion_flow:receive_signal(<<"go">>).

waiter(_) ->
    aion_flow:receive_signal(<<"go">>).

setup() ->
    _ = application:load(aion),
    ok = application:set_env(aion, http, #{port => 0}),
    Dir = aion_test_support:start(),
    ok = aion:register_workflow(<<"r11_cas_then_wait">>, {?MODULE, cas_then_wait}),
    ok = aion:register_workflow(<<"r11_echo">>, {?MODULE, echo}),
    ok = aion:register_workflow(<<"r11_parent">>, {?MODULE, abandoning_parent}),
    ok = aion:register_workflow(<<"r11_waiter">>, {?MODULE, waiter}),
    persistent_term:put({?MODULE, dir}, Dir),
    Dir.

cleanup(Dir) ->
    aion_test_support:stop(Dir),
    application:unset_env(aion, http).

review11_test_() ->
    {setup, fun setup/0, fun cleanup/1,
     [?T(prune_keeps_a_running_workflow_that_continued_as_new),
      ?T(search_paging_does_not_repeat_a_run_when_a_new_one_starts),
      ?T(dashboard_refuses_a_foreign_host_header),
      ?T(api_cursor_cannot_raise_the_page_size_past_the_limit),
      ?T(cli_table_does_not_print_terminal_escapes),
      ?T(holds_an_id_that_is_not_utf8_does_not_name_another_workflow),
      ?T(holds_id_reuse_does_not_hand_an_old_child_to_the_new_workflow)]}.

key() -> aion_test_support:key().

%% SQLite keeps a `closed' row for a workflow whose run continued as new (its status was
%% `continued_as_new' for a moment) and never removes it when the next run starts; prune
%% selects from `closed' without looking at the workflow's status now, so it deletes a
%% RUNNING workflow with every history (PostgreSQL checks `status <> running').
prune_keeps_a_running_workflow_that_continued_as_new() ->
    Id = <<"r11-cas-", (key())/binary>>,
    {ok, Id} = aion:start_workflow(<<"r11_cas_then_wait">>, #{<<"n">> => 0}, #{workflow_id => Id}),
    %% Its first run continued as new; the second waits for `go'.
    timer:sleep(300),
    {ok, [#{type := <<"WorkflowStarted">>} = Started | _]} = aion:history(Id),
    ?debugFmt("second run starts with ~p", [Started]),
    ?assertMatch({ok, #{status := running}}, aion:describe(Id)),
    timer:sleep(20),
    {ok, _Removed} = aion:prune(#{closed_before => os:system_time(millisecond) + 60000}),
    ?assertMatch({ok, #{status := running}}, aion:describe(Id)),
    ?assertEqual(ok, aion:signal(Id, <<"go">>, 1)),
    ?assertMatch({ok, _}, aion:await(Id, 5000)).

%% The dashboard's search (`q') stops in the middle of a page of `aion:list/1' and its
%% cursor says "position N of the page from the start". With the default order
%% (newest_first) the page from the start shifts when any workflow starts, so the next page
%% shows again a run the previous one showed.
search_paging_does_not_repeat_a_run_when_a_new_one_starts() ->
    K = key(),
    Ids = [begin
               Id = <<"r11-q-", K/binary, "-", (integer_to_binary(I))/binary>>,
               {ok, Id} = aion:start_workflow(<<"r11_echo">>, I, #{workflow_id => Id}),
               {ok, _} = aion:await(Id, 5000),
               timer:sleep(2),
               Id
           end || I <- [1, 2, 3]],
    Base = "/api/runs?limit=1&q=" ++ binary_to_list(K),
    {200, P1} = get_json(Base),
    %% Someone starts an unrelated workflow between two page loads.
    {ok, _} = aion:start_workflow(<<"r11_echo">>, 0, #{}),
    Seen = ids(P1) ++ rest_pages(Base, maps:get(<<"next">>, P1)),
    ?assertEqual(lists:reverse(Ids), Seen).

rest_pages(_Base, null) -> [];
rest_pages(Base, Cursor) ->
    {200, P} = get_json(Base ++ "&cursor=" ++ binary_to_list(Cursor)),
    ids(P) ++ rest_pages(Base, maps:get(<<"next">>, P)).

%% With the default settings (no token, 127.0.0.1) any web page the operator opens can
%% reach the dashboard through DNS rebinding (its own host name resolving to 127.0.0.1):
%% the server answers whatever Host the request names, so such a page may list runs and
%% POST terminate. A loopback dashboard without a token must refuse a Host that is not
%% its own (localhost, 127.0.0.1, [::1]).
dashboard_refuses_a_foreign_host_header() ->
    {Code, _} = raw_get("/api/runs", "attacker.example:" ++ integer_to_list(aion_http:port())),
    ?assert(Code >= 400 andalso Code < 500).

%% `limit' is checked (1..500), but the cursor carries the page size the next request
%% reads with, unchecked: a hand-made cursor makes one request read every summary of the
%% store (aion:list/1 with limit 2^32-1, and a blocked check of each running one), and the
%% server hands the same size back in its `next'.
api_cursor_cannot_raise_the_page_size_past_the_limit() ->
    _ = [begin {ok, Id} = aion:start_workflow(<<"r11_echo">>, I, #{}), {ok, _} = aion:await(Id, 5000) end
         || I <- [1, 2]],
    Crafted = urlsafe(base64:encode(<<0, 0:32, 4294967295:32>>)),
    {Code, Page} = get_json("/api/runs?limit=1&cursor=" ++ binary_to_list(Crafted)),
    case Code of
        400 -> ok;
        200 ->
            Next = maps:get(<<"next">>, Page),
            <<_, _:32, PageSize:32, _/binary>> = base64:decode(pad(unurlsafe(Next))),
            ?assert(PageSize =< 500)
    end.

urlsafe(B) -> << <<(case C of $+ -> $-; $/ -> $_; _ -> C end)>> || <<C>> <= B, C =/= $= >>.
unurlsafe(B) -> << <<(case C of $- -> $+; $_ -> $/; _ -> C end)>> || <<C>> <= B >>.
pad(B) when byte_size(B) rem 4 =:= 0 -> B;
pad(B) -> pad(<<B/binary, "=">>).

%% Table cells escape only \n and \r: an ESC (or any other control character) in a
%% workflow id, type, result or error goes raw to the operator's terminal (`aion list',
%% `describe', `history'): terminal escape injection (retitle, hide lines, OSC 52 writes
%% to the clipboard) by whoever chose the id or the payload.
cli_table_does_not_print_terminal_escapes() ->
    %% It reads the suite's SQLite directory with --data-dir: SQLite runs only.
    case os:getenv("AION_TEST_STORE") of
        "postgres" -> ok;
        _ -> terminal_escapes()
    end.

terminal_escapes() ->
    Id = <<"r11-esc-", (key())/binary, 27, "]0;pwned", 7, 27, "[2J">>,
    {ok, Id} = aion:start_workflow(<<"r11_echo">>, <<27, "[31mred">>, #{workflow_id => Id}),
    {ok, _} = aion:await(Id, 5000),
    Dir = persistent_term:get({?MODULE, dir}),
    Out = os:cmd(aion_cli_tests_escript() ++ " list --data-dir '" ++ Dir ++ "'; echo exit=$?"),
    ?assertNotEqual(nomatch, string:find(Out, "r11-esc-")),
    ?assertEqual(false, lists:member(27, Out)),
    Out2 = os:cmd(aion_cli_tests_escript() ++ " describe --data-dir '" ++ Dir ++ "' -- '" ++
                  binary_to_list(Id) ++ "'"),
    ?assertEqual(false, lists:member(27, Out2)).

aion_cli_tests_escript() ->
    Root = filename:dirname(filename:dirname(filename:dirname(filename:dirname(code:lib_dir(aion))))),
    filename:join(Root, "_build/default/bin/aion").

%% HOLDS (passes): `id_reuse => allow_closed' forgets a closed parent but not its abandoned child, which
%% still names it as parent: when that child closes, its close is pushed into the inbox of
%% the NEW workflow of the same id, which never started it.
holds_id_reuse_does_not_hand_an_old_child_to_the_new_workflow() ->
    P = <<"r11-parent-", (key())/binary>>,
    C = <<"r11-child-", (key())/binary>>,
    {ok, P} = aion:start_workflow(<<"r11_parent">>, #{<<"child">> => C}, #{workflow_id => P}),
    {ok, _} = aion:await(P, 5000),
    {ok, P} = aion:start_workflow(<<"r11_parent">>, <<"wait">>, #{workflow_id => P, id_reuse => allow_closed}),
    ok = aion:signal(C, <<"go">>, 1),
    {ok, _} = aion:await(C, 5000),
    timer:sleep(300),
    ok = aion:signal(P, <<"go">>, 2),
    ?assertEqual({ok, 2}, aion:await(P, 5000)),
    {ok, Events} = aion:history(P),
    ?assertEqual([], [T || #{type := T} <- Events, binary:match(T, <<"Child">>) =/= nomatch]).

%% HOLDS (passes): a path segment whose percent-decoded bytes are not UTF-8 could be taken as
%% Latin-1 code points: `/api/runs/%C3' (the single byte C3) names the workflow "Ã"
%% (bytes C3 83), so a request reads, signals or terminates a workflow it did not name.
holds_an_id_that_is_not_utf8_does_not_name_another_workflow() ->
    Id = <<"r11-", (key())/binary, "-", 16#C3/utf8>>,
    {ok, Id} = aion:start_workflow(<<"r11_echo">>, 1, #{workflow_id => Id}),
    {ok, _} = aion:await(Id, 5000),
    Prefix = binary:part(Id, 0, byte_size(Id) - 2),
    {Code, Body} = get_json("/api/runs/" ++ binary_to_list(Prefix) ++ "%C3"),
    ?assertNotEqual({200, Id}, {Code, maps:get(<<"workflow_id">>, maps:get(<<"run">>, Body, #{}), none)}).

%% HTTP plumbing.

url(Path) ->
    "http://127.0.0.1:" ++ integer_to_list(aion_http:port()) ++ Path.

get_json(Path) ->
    {ok, {{_, Code, _}, _, Body}} =
        httpc:request(get, {url(Path), []}, [{autoredirect, false}], [{body_format, binary}]),
    {ok, Json} = aion_flow_ffi:json_decode(Body),
    {Code, Json}.

ids(#{<<"runs">> := Runs}) ->
    [maps:get(<<"workflow_id">>, R) || R <- Runs].

raw_get(Path, Host) ->
    {ok, S} = gen_tcp:connect({127, 0, 0, 1}, aion_http:port(), [binary, {active, false}]),
    ok = gen_tcp:send(S, ["GET ", Path, " HTTP/1.1\r\nHost: ", Host,
                          "\r\nConnection: close\r\n\r\n"]),
    Data = recv_all(S, <<>>),
    gen_tcp:close(S),
    [<<"HTTP/1.1 ", CodeBin:3/binary, _/binary>> | _] = binary:split(Data, <<"\r\n">>),
    {binary_to_integer(CodeBin), Data}.

recv_all(S, Acc) ->
    case gen_tcp:recv(S, 0, 5000) of
        {ok, B} -> recv_all(S, <<Acc/binary, B/binary>>);
        {error, _} -> Acc
    end.

%% `--data-dir' (and `{store, sqlite_readonly}') is documented to write nothing, but the
%% read-only SQLite connection on a WAL database creates `aion.db-shm' and `aion.db-wal'
%% in the node's data directory. Run as another user (`sudo aion list --data-dir ...'),
%% it leaves files the node's own user cannot open or write; on a read-only copy of the
%% directory (a mounted snapshot or backup) the open fails.
cli_data_dir_creates_no_files_test() ->
    %% A SQLite directory, whatever store the suite runs on.
    Dir = aion_test_support:start(sqlite_file),
    ok = aion:register_workflow(<<"r11_echo">>, {?MODULE, echo}),
    {ok, Id} = aion:start_workflow(<<"r11_echo">>, 1, #{}),
    {ok, _} = aion:await(Id, 5000),
    aion_test_support:stop(Dir),
    Before = lists:sort(filelib:wildcard("*", Dir)),
    Out = os:cmd(aion_cli_tests_escript() ++ " list --data-dir '" ++ Dir ++ "'; echo exit=$?"),
    ?assertNotEqual(nomatch, string:find(Out, "exit=0")),
    ?assertEqual(Before, lists:sort(filelib:wildcard("*", Dir))).

%% The logger filter (no application needed).

%% The filter turns every event of a process whose logger metadata holds `workflow_id'
%% into "[workflow_id=~ts] ...", whatever that metadata is: an application that uses the
%% key `workflow_id' for its own (integer) ids gets its log lines replaced by FORMAT ERROR
%% while aion runs.
log_filter_leaves_a_foreign_workflow_id_printable_test() ->
    Event = #{level => info, msg => {"order ~p shipped", [42]},
              meta => #{workflow_id => 1234, time => logger:timestamp()}},
    Filtered = aion_log:filter(Event, []),
    Text = lists:flatten(io_lib:format("~ts", [logger_formatter:format(Filtered, #{single_line => true})])),
    ?assertEqual(nomatch, string:find(Text, "FORMAT ERROR")),
    ?assertNotEqual(nomatch, string:find(Text, "order 42 shipped")).
