%% @doc The dashboard's JSON API (under `/api/'), called by `aion_http':
%%
%% - `GET /api/runs' (query: `status', `type', `q' (id contains), `limit' (1..500, default
%%   50), `cursor', `order' (`newest_first', the default, or `oldest_first')):
%%   `{"runs": [Summary], "next": Cursor | null, "counts": {Status: N}}';
%% - `GET /api/runs/ID': `{"run": Summary, "input", "history": [Event], "waiting_on",
%%   "activities", "timers", "signals", "children", "updates", "blocked": Report | null}';
%% - `POST /api/runs/ID/signal' (`{"name": ..., "payload": ...}'),
%%   `POST /api/runs/ID/cancel' (`{"reason": ...}', optional),
%%   `POST /api/runs/ID/terminate' (`{"reason": ...}'): `{"ok": true, "run": Summary}';
%% - `GET /api/schedules': `{"schedules": [Info]}' (every schedule, by id; `Info' as
%%   `aion:describe_schedule/1' answers it, made JSON by `aion_term:jsonable/1');
%% - `GET /api/schedules/ID': `{"schedule": Info}';
%% - `POST /api/schedules/ID/pause', `.../unpause' (body `{}' or empty):
%%   `{"ok": true, "schedule": Info}'; `POST /api/schedules/ID/trigger':
%%   `{"ok": true, "outcome": started | skipped | buffered | failed, "workflow_id": Id |
%%   null, "schedule": Info}'; `POST /api/schedules/ID/delete': `{"ok": true}' once the
%%   schedule has ended.
%%
%% Errors are `{"error": Kind, "message": Text}' with 400 (bad input), 404 (unknown id or
%% path, an unknown or deleted schedule), 405, 409 (the run is not running), 413 (payload
%% too large), 415 (a POST whose body is not `application/json'), 503/504 and 500.
-module(aion_http_api).

-export([handle/5]).
-export([error_response/3]).
-export([summary_json/1]).
-export([blocked_report/1]).

-type response() :: {pos_integer(), [{string(), string()}], string(), iodata()}.
-export_type([response/0]).

-define(STATUSES, [running, blocked, completed, failed, cancelled, terminated, timed_out]).
-define(DEFAULT_LIMIT, 50).
-define(MAX_LIMIT, 500).
%% A search (`q') reads at most this many summaries per request, then answers what it
%% found with a cursor to go on from.
-define(SCAN_MAX, 20000).
-define(SCAN_PAGE, 500).
%% The largest page a cursor may ask for (a cursor is the client's to forge).
-define(MAX_PAGE, 500). % max(?MAX_LIMIT, ?SCAN_PAGE)
%% How long cancel waits for the run to close before answering (the page polls after).
-define(CANCEL_WAIT_MS, 2000).

%% @doc Answers one API request. `Path' is the path after `/api/', split and decoded.
-spec handle(string(), [string()], [{binary(), binary()}], [{string(), string()}], string()) -> response().
handle("GET", ["runs"], Query, _Headers, _Body) ->
    list_runs(Query);
handle(Method, ["runs" | Rest], _Query, Headers, Body) when Rest =/= [] ->
    resource(Method, Rest, Headers, Body, ["signal", "cancel", "terminate"], fun with_id/2,
             fun run/1, fun action/3);
handle(_Method, ["runs"], _Query, _Headers, _Body) ->
    error_response(405, method_not_allowed, <<"method not allowed">>);
handle("GET", ["schedules"], _Query, _Headers, _Body) ->
    list_schedules();
handle(Method, ["schedules" | Rest], _Query, Headers, Body) when Rest =/= [] ->
    resource(Method, Rest, Headers, Body, ["pause", "unpause", "trigger", "delete"],
             fun with_schedule_id/2, fun schedule/1, fun(Action, Id, _Args) -> schedule_action(Action, Id) end);
handle(_Method, ["schedules"], _Query, _Headers, _Body) ->
    error_response(405, method_not_allowed, <<"method not allowed">>);
handle(_Method, _Path, _Query, _Headers, _Body) ->
    error_response(404, not_found, <<"no such API path">>).

%% One resource under `/api/KIND/': `GET .../ID' answers `Get(Id)'; `POST .../ID/ACTION'
%% with a JSON body answers `Act(Action, Id, Args)' for the `Actions' it has; `WithId'
%% reads the id from the path parts (answering 404 for one that cannot be).
resource(Method, Rest, Headers, Body, Actions, WithId, Get, Act) ->
    case {Method, lists:last(Rest), lists:droplast(Rest)} of
        {"GET", _, _} ->
            WithId(Rest, Get);
        {"POST", Action, IdParts} when IdParts =/= [] ->
            case lists:member(Action, Actions) of
                true ->
                    case json_body(Headers, Body) of
                        {ok, Args} -> WithId(IdParts, fun(Id) -> Act(Action, Id, Args) end);
                        {error, Response} -> Response
                    end;
                false ->
                    no_action(Actions)
            end;
        {"POST", _, _} ->
            no_action(Actions);
        _ ->
            error_response(405, method_not_allowed, <<"method not allowed">>)
    end.

no_action(Actions) ->
    error_response(404, not_found, iolist_to_binary(["no such action (", lists:join(", ", Actions), ")"])).

with_id(Parts, Fun) ->
    case unicode:characters_to_binary(lists:join("/", Parts)) of
        Id when is_binary(Id) -> Fun(Id);
        _ -> error_response(404, not_found, <<"no run with that id">>)
    end.

%% GET /api/runs

list_runs(Query) ->
    case list_params(Query) of
        {ok, Filter, Q, Limit, Cursor} ->
            case page(Filter, Q, Limit, Cursor) of
                {ok, Runs, Next} ->
                    case counts(maps:with([type], Filter)) of
                        {ok, Counts} ->
                            json(200, #{<<"runs">> => [summary_json(R) || R <- Runs],
                                        <<"next">> => Next, <<"counts">> => Counts});
                        {error, Reason} ->
                            aion_error(Reason)
                    end;
                {error, Reason} ->
                    aion_error(Reason)
            end;
        {error, Message} ->
            error_response(400, bad_request, Message)
    end.

list_params(Query) ->
    Get = fun(K) -> case proplists:get_value(K, Query, <<>>) of <<>> -> undefined; V -> V end end,
    Status = case Get(<<"status">>) of
        undefined -> {ok, #{}};
        <<"all">> -> {ok, #{}};
        S -> case [A || A <- [continued_as_new | ?STATUSES], atom_to_binary(A) =:= S] of
                 [A] -> {ok, #{status => A}};
                 [] -> {error, <<"status: one of running, blocked, completed, failed, cancelled, terminated, timed_out, continued_as_new">>}
             end
    end,
    Type = case Get(<<"type">>) of
        undefined -> {ok, #{}};
        T when byte_size(T) =< 255 -> {ok, #{type => T}};
        _ -> {error, <<"type: at most 255 bytes">>}
    end,
    Order = case Get(<<"order">>) of
        undefined -> {ok, #{order => newest_first}};
        <<"newest_first">> -> {ok, #{order => newest_first}};
        <<"oldest_first">> -> {ok, #{order => oldest_first}};
        _ -> {error, <<"order: newest_first or oldest_first">>}
    end,
    Limit = case Get(<<"limit">>) of
        undefined -> {ok, ?DEFAULT_LIMIT};
        L -> case catch binary_to_integer(L) of
                 N when is_integer(N), N >= 1, N =< ?MAX_LIMIT -> {ok, N};
                 _ -> {error, <<"limit: an integer from 1 to 500">>}
             end
    end,
    Cursor = case Get(<<"cursor">>) of
        undefined -> {ok, start};
        C -> decode_cursor(C)
    end,
    case [M || {error, M} <- [Status, Type, Order, Limit, Cursor]] of
        [] ->
            {ok, F1} = Status, {ok, F2} = Type, {ok, F3} = Order,
            {ok, N1} = Limit, {ok, C1} = Cursor,
            {ok, maps:merge(maps:merge(F1, F2), F3), Get(<<"q">>), N1, C1};
        [Message | _] ->
            {error, Message}
    end.

%% The API's cursor: where the next page starts, as the position `Skip' in the page of
%% `PageSize' runs that `aion:list/1' gives from its cursor `From' (`start' for the first
%% page). Without a search a page is one `aion:list/1' page (`Skip' is 0); a search may
%% stop in the middle of one.
encode_cursor(From, Skip, PageSize) ->
    Bin = case From of
        start -> <<0, Skip:32, PageSize:32>>;
        C -> <<1, Skip:32, PageSize:32, C/binary>>
    end,
    << <<(urlsafe(C))>> || <<C>> <= base64:encode(Bin), C =/= $= >>.

urlsafe($+) -> $-;
urlsafe($/) -> $_;
urlsafe(C) -> C.

unurlsafe($-) -> $+;
unurlsafe($_) -> $/;
unurlsafe(C) -> C.

decode_cursor(Text) ->
    Std = << <<(unurlsafe(C))>> || <<C>> <= Text >>,
    Padded = case byte_size(Std) rem 4 of
        0 -> Std;
        R -> <<Std/binary, (binary:copy(<<"=">>, 4 - R))/binary>>
    end,
    try base64:decode(Padded) of
        <<0, Skip:32, PageSize:32>> when PageSize >= 1, PageSize =< ?MAX_PAGE ->
            {ok, {start, Skip, PageSize}};
        <<1, Skip:32, PageSize:32, C/binary>> when PageSize >= 1, PageSize =< ?MAX_PAGE,
                                                    C =/= <<>> ->
            {ok, {C, Skip, PageSize}};
        _ -> {error, <<"cursor: not a cursor this API gave">>}
    catch _:_ -> {error, <<"cursor: not a cursor this API gave">>}
    end.

page(Filter, Q, Limit, Cursor) ->
    {From, Skip, PageSize} = case Cursor of
        start when Q =:= undefined -> {start, 0, Limit};
        start -> {start, 0, max(Limit, ?SCAN_PAGE)};
        {_, _, _} -> Cursor
    end,
    scan(Filter, match_fun(Q), From, Skip, PageSize, Limit, [], 0).

match_fun(undefined) -> fun(_) -> true end;
match_fun(Q) -> fun(#{workflow_id := Id}) -> binary:match(Id, Q) =/= nomatch end.

scan(Filter, Match, From, Skip, PageSize, Want, Acc, Scanned) ->
    Page = case From of
        start -> Filter#{limit => PageSize};
        _ -> Filter#{limit => PageSize, cursor => From}
    end,
    case aion:list(Page) of
        {ok, Runs, Next} ->
            take(lists:nthtail(min(Skip, length(Runs)), Runs), Skip, Filter, Match, From, Next,
                 PageSize, Want, Acc, Scanned);
        {ok, Runs} ->
            %% An aion without paging answers everything: one page.
            take(lists:nthtail(min(Skip, length(Runs)), Runs), Skip, Filter, Match, From, done,
                 PageSize, Want, Acc, Scanned);
        {error, _} = Error ->
            Error
    end.

take(Runs, _Pos, _Filter, Match, _From, Next, PageSize, 0, Acc, _Scanned) ->
    %% Enough: the rest of this `aion:list/1' page's matches come too, so that the next
    %% page starts at a key of the store (a position within a page would move as runs
    %% start: newest first, the first page grows).
    More = [Run || Run <- Runs, Match(Run)],
    {ok, lists:reverse(Acc) ++ More, case Next of
                                        done -> null;
                                        _ -> encode_cursor(Next, 0, PageSize)
                                    end};
take([], _Pos, _Filter, _Match, _From, done, _PageSize, _Want, Acc, _Scanned) ->
    {ok, lists:reverse(Acc), null};
take([], _Pos, _Filter, _Match, _From, Next, PageSize, _Want, Acc, Scanned) when Scanned >= ?SCAN_MAX ->
    {ok, lists:reverse(Acc), encode_cursor(Next, 0, PageSize)};
take([], _Pos, Filter, Match, _From, Next, PageSize, Want, Acc, Scanned) ->
    scan(Filter, Match, Next, 0, PageSize, Want, Acc, Scanned);
take([Run | Rest], Pos, Filter, Match, From, Next, PageSize, Want, Acc, Scanned) ->
    case Match(Run) of
        true ->
            take(Rest, Pos + 1, Filter, Match, From, Next, PageSize, Want - 1, [Run | Acc], Scanned + 1);
        false ->
            take(Rest, Pos + 1, Filter, Match, From, Next, PageSize, Want, Acc, Scanned + 1)
    end.

counts(TypeFilter) ->
    case aion:count(TypeFilter) of
        {ok, ByStatus} ->
            {ok, maps:from_list([{atom_to_binary(S), maps:get(S, ByStatus, 0)} || S <- ?STATUSES])};
        {error, _} = Error ->
            Error
    end.

%% GET /api/runs/ID

run(Id) ->
    case aion:describe(Id) of
        {ok, Summary = #{status := Status}} ->
            {Events, HistoryError} = case aion:history(Id) of
                {ok, Es} -> {Es, null};
                {error, Reason} -> {[], aion_http_history:json_safe(Reason)}
            end,
            Digest = aion_http_history:digest(Events, Status),
            json(200, Digest#{<<"run">> => summary_json(Summary),
                              <<"history">> => [aion_http_history:json_safe(E) || E <- Events],
                              <<"history_error">> => HistoryError,
                              <<"blocked">> => blocked_report(maps:get(blocked_reason, Summary, null))});
        {error, Reason} ->
            aion_error(Reason)
    end.

%% POST /api/runs/ID/{signal,cancel,terminate}

action("signal", Id, Args) ->
    case Args of
        #{<<"name">> := Name} when is_binary(Name) ->
            after_action(Id, aion:signal(Id, Name, maps:get(<<"payload">>, Args, null)), 0);
        _ ->
            error_response(400, bad_request, <<"body: {\"name\": string, \"payload\": any JSON}">>)
    end;
action("cancel", Id, Args) ->
    after_action(Id, aion:cancel(Id, maps:get(<<"reason">>, Args, null)), ?CANCEL_WAIT_MS);
action("terminate", Id, Args) ->
    after_action(Id, aion:terminate(Id, maps:get(<<"reason">>, Args, null)), 0).

after_action(Id, ok, WaitMs) ->
    _ = WaitMs > 0 andalso aion:await(Id, WaitMs),
    case aion:describe(Id) of
        {ok, Summary} -> json(200, #{<<"ok">> => true, <<"run">> => summary_json(Summary)});
        {error, Reason} -> aion_error(Reason)
    end;
after_action(_Id, {error, Reason}, _WaitMs) ->
    aion_error(Reason).

%% A POST's body: a JSON object (an empty body is `{}'), sent as `application/json' (so
%% that no plain HTML form of another site can post here).
json_body(Headers, Body) ->
    Type = string:lowercase(proplists:get_value("content-type", Headers, "")),
    Bin = iolist_to_binary(case Body of undefined -> []; _ -> Body end),
    case {string:prefix(Type, "application/json"), string:trim(Bin)} of
        {nomatch, _} ->
            {error, error_response(415, unsupported_media_type, <<"send the body as application/json">>)};
        {_, <<>>} ->
            {ok, #{}};
        {_, _} ->
            case aion_flow_ffi:json_decode(Bin) of
                {ok, Map} when is_map(Map) -> {ok, Map};
                {ok, _} -> {error, error_response(400, bad_request, <<"body: a JSON object">>)};
                {error, _} -> {error, error_response(400, bad_request, <<"body: not valid JSON">>)}
            end
    end.

%% GET /api/schedules, GET /api/schedules/ID

list_schedules() ->
    case aion:list_schedules() of
        {ok, Infos} -> json(200, #{<<"schedules">> => [schedule_json(I) || I <- Infos]});
        {error, Reason} -> schedule_error(Reason)
    end.

schedule(Id) ->
    case aion:describe_schedule(Id) of
        {ok, Info} -> json(200, #{<<"schedule">> => schedule_json(Info)});
        {error, Reason} -> schedule_error(Reason)
    end.

with_schedule_id(Parts, Fun) ->
    case unicode:characters_to_binary(lists:join("/", Parts)) of
        Id when is_binary(Id) -> Fun(Id);
        _ -> schedule_error(not_found)
    end.

%% POST /api/schedules/ID/{pause,unpause,trigger,delete}

schedule_action("pause", Id) ->
    after_schedule_action(Id, aion:pause_schedule(Id), #{});
schedule_action("unpause", Id) ->
    after_schedule_action(Id, aion:unpause_schedule(Id), #{});
schedule_action("trigger", Id) ->
    case aion:trigger_schedule(Id) of
        {ok, #{outcome := Outcome, workflow_id := Workflow}} ->
            after_schedule_action(Id, ok, #{<<"outcome">> => aion_term:jsonable(Outcome),
                                            <<"workflow_id">> => aion_term:jsonable(Workflow)});
        {error, _} = Error ->
            after_schedule_action(Id, Error, #{})
    end;
schedule_action("delete", Id) ->
    case aion:delete_schedule(Id) of
        ok -> json(200, #{<<"ok">> => true});
        {error, Reason} -> schedule_error(Reason)
    end.

after_schedule_action(Id, ok, Extra) ->
    case aion:describe_schedule(Id) of
        {ok, Info} -> json(200, Extra#{<<"ok">> => true, <<"schedule">> => schedule_json(Info)});
        {error, Reason} -> schedule_error(Reason)
    end;
after_schedule_action(_Id, {error, Reason}, _Extra) ->
    schedule_error(Reason).

schedule_json(Info) ->
    aion_term:jsonable(Info).

schedule_error(not_found) -> error_response(404, not_found, <<"no schedule with that id">>);
schedule_error(timeout) -> error_response(504, timeout, <<"the schedule's owner did not answer in time">>);
schedule_error(Reason) -> aion_error(Reason).

%% Conversions.

%% @doc A summary (as `aion:describe/1' gives it) with binary keys, JSON-safe values and
%% `blocked_reason' as a report (see `blocked_report/1').
-spec summary_json(map()) -> map().
summary_json(Summary) ->
    Base = aion_http_history:json_safe(maps:without([blocked_reason], Summary)),
    case maps:find(blocked_reason, Summary) of
        {ok, Reason} -> Base#{<<"blocked_reason">> => blocked_report(Reason)};
        error -> Base
    end.

%% @doc A blocked run's reason as JSON: `{"kind": "non_determinism", "seq", "recorded",
%% "requested", ...}', `{"kind": "crashed", "class", "reason", "stacktrace": [line]}',
%% `{"kind": "unreadable", "reason"}'; `null' for `null'.
-spec blocked_report(term()) -> map() | null.
blocked_report(null) ->
    null;
blocked_report({non_determinism, Report}) when is_map(Report) ->
    (aion_http_history:json_safe(Report))#{<<"kind">> => <<"non_determinism">>};
blocked_report({crashed, Crash}) when is_map(Crash) ->
    #{<<"kind">> => <<"crashed">>,
      <<"class">> => aion_http_history:json_safe(maps:get(class, Crash, null)),
      <<"reason">> => text(maps:get(reason, Crash, null)),
      <<"stacktrace">> => frames(maps:get(stacktrace, Crash, []))};
blocked_report({unreadable, Why}) ->
    #{<<"kind">> => <<"unreadable">>, <<"reason">> => text(Why)};
blocked_report(Other) ->
    #{<<"kind">> => <<"other">>, <<"reason">> => printed(Other)}.

frames(Stack) when is_list(Stack) ->
    [frame(F) || F <- Stack];
frames(Printed) when is_binary(Printed) ->
    %% The engine keeps the stack trace printed: one line per frame.
    Lines = binary:replace(aion_http_history:json_safe(Printed), <<"]},{">>, <<"]},\n{">>, [global]),
    binary:split(Lines, <<"\n">>, [global]);
frames(Other) ->
    [printed(Other)].

frame({M, F, A, Loc}) when is_atom(M), is_atom(F) ->
    Arity = if is_list(A) -> length(A); true -> A end,
    Where = case {proplists:get_value(file, Loc), proplists:get_value(line, Loc)} of
        {File, Line} when is_list(File), is_integer(Line) -> io_lib:format(" (~ts:~b)", [File, Line]);
        _ -> ""
    end,
    unicode:characters_to_binary(io_lib:format("~tw:~tw/~w~ts", [M, F, Arity, Where]));
frame(Other) ->
    printed(Other).

text(B) when is_binary(B) -> aion_http_history:json_safe(B);
text(Other) -> printed(Other).

printed(Term) ->
    unicode:characters_to_binary(io_lib:format("~tp", [Term])).

%% Answers.

aion_error(not_found) -> error_response(404, not_found, <<"no run with that id">>);
aion_error(not_running) -> error_response(409, not_running, <<"the run is not running">>);
aion_error({payload_too_large, Size, Limit}) ->
    error_response(413, payload_too_large,
                   iolist_to_binary(io_lib:format("payload of ~b bytes, the limit is ~b", [Size, Limit])));
aion_error({Kind, _, _} = Reason) when Kind =:= bad_argument ->
    error_response(400, bad_argument, printed(Reason));
aion_error({Kind, Why} = Reason) when Kind =:= invalid_input; Kind =:= bad_option ->
    error_response(400, Kind, case is_binary(Why) of true -> text(Why); false -> printed(Reason) end);
aion_error(timeout) -> error_response(504, timeout, <<"the run's owner did not answer in time">>);
aion_error(not_started) -> error_response(503, not_started, <<"aion is not running">>);
aion_error(Reason) -> error_response(500, error_kind(Reason), printed(Reason)).

error_kind(A) when is_atom(A) -> A;
error_kind(T) when is_tuple(T), is_atom(element(1, T)) -> element(1, T);
error_kind(_) -> internal.

%% @doc An error answer: `{"error": Kind, "message": Message}' with HTTP status `Code'.
-spec error_response(pos_integer(), atom(), binary()) -> response().
error_response(Code, Kind, Message) ->
    json(Code, #{<<"error">> => atom_to_binary(Kind), <<"message">> => Message}).

json(Code, Term) ->
    case aion_flow_ffi:json_encode(Term) of
        {ok, Bin} ->
            {Code, [{"cache-control", "no-store"}], "application/json", Bin};
        {error, Reason} ->
            logger:error("aion_http: cannot encode an answer: ~p", [Reason]),
            {500, [], "application/json", <<"{\"error\":\"internal\",\"message\":\"cannot encode the answer\"}">>}
    end.
