%% @doc The web dashboard and its JSON API, served by OTP's `inets' httpd when the
%% application env `http' is set: `{http, #{port => P}}' with optional `ip' (default
%% `{127,0,0,1}') and `token' (a binary). Off by default.
%%
%% The service runs under `aion_sup' (`start_link/0' starts a stand-alone httpd
%% supervisor, or answers `ignore' when `http' is not set). This module is also the httpd
%% request module (`do/1'): it checks the token, routes `/api/...' to `aion_http_api',
%% `/metrics' to `aion_metrics:prometheus/0' when that exists, and serves the pages (`/'
%% the runs, `/runs/ID' one run, `/schedules' the schedules) and their assets
%% (`/static/NAME') from `priv/dashboard/'.
%%
%% With a token, every request must carry `Authorization: Bearer TOKEN', or the cookie
%% `aion_token' (set after one request with `?token=TOKEN'); anything else is answered 401.
-module(aion_http).

%% httpd's request record, as inets/include/httpd.hrl defines it (unchanged since OTP R13),
%% with types: the include's untyped fields would warn under `warn_untyped_record'.
-record(mod, {init_data :: term(),
              data = [] :: list(),
              socket_type = ip_comm :: term(),
              socket :: term(),
              config_db :: term(),
              method :: string(),
              absolute_uri = [] :: term(),
              request_uri :: string(),
              http_version :: term(),
              request_line :: term(),
              parsed_header = [] :: [{string(), string()}],
              entity_body :: term(),
              connection :: term()}).

-export([start_link/0]).
-export([port/0]).
-export([url/0]).
-export([do/1]).

-define(TOKEN_KEY, {?MODULE, token}).
%% Whether requests must name a loopback host (`Host:'): listening on loopback without a
%% token, against DNS rebinding (a web page whose name was re-pointed at 127.0.0.1).
-define(LOOPBACK_KEY, {?MODULE, loopback_only}).
-define(COOKIE, "aion_token").
-define(MAX_BODY, 8388608).

%% @doc Starts the httpd service as configured by the application env `http', linked to
%% the caller (the `aion_sup' supervisor); `ignore' when `http' is not set. A setting that
%% is not understood is `{error, {bad_option, {http, Setting}}}'.
-spec start_link() -> {ok, pid()} | ignore | {error, term()}.
start_link() ->
    case application:get_env(aion, http) of
        undefined ->
            persistent_term:erase(?TOKEN_KEY),
            ignore;
        {ok, Setting} ->
            case settings(Setting) of
                {ok, Port, Ip, Token} ->
                    persistent_term:put(?TOKEN_KEY, Token),
                    persistent_term:put(?LOOPBACK_KEY, Token =:= undefined andalso loopback(Ip)),
                    Root = dashboard_dir(),
                    Config = [{port, Port},
                              {bind_address, Ip},
                              {ipfamily, ip_family(Ip)},
                              {server_name, "aion"},
                              {server_root, Root},
                              {document_root, Root},
                              {modules, [?MODULE]},
                              {max_body_size, ?MAX_BODY},
                              {max_uri_size, 16384},
                              {max_header_size, 16384}],
                    inets:start(httpd, Config, stand_alone);
                error ->
                    {error, {bad_option, {http, Setting}}}
            end
    end.

settings(#{port := Port} = Setting) when is_integer(Port), Port >= 0, Port =< 65535 ->
    Ip = maps:get(ip, Setting, {127, 0, 0, 1}),
    Token = maps:get(token, Setting, undefined),
    Known = maps:size(maps:without([port, ip, token], Setting)) =:= 0,
    case {Known, valid_ip(Ip), Token =:= undefined orelse (is_binary(Token) andalso Token =/= <<>>)} of
        {true, true, true} -> {ok, Port, Ip, Token};
        _ -> error
    end;
settings(_) ->
    error.

valid_ip(Ip) when is_tuple(Ip) ->
    case inet:ntoa(Ip) of
        {error, _} -> false;
        _ -> true
    end;
valid_ip(any) -> true;
valid_ip(_) -> false.

loopback({127, _, _, _}) -> true;
loopback({0, 0, 0, 0, 0, 0, 0, 1}) -> true;
loopback(_) -> false.

ip_family(Ip) when tuple_size(Ip) =:= 8 -> inet6;
ip_family(_) -> inet.

dashboard_dir() ->
    Priv = case code:priv_dir(aion) of
        {error, _} -> filename:join(filename:dirname(filename:dirname(code:which(?MODULE))), "priv");
        Dir -> Dir
    end,
    filename:join(Priv, "dashboard").

%% @doc The port the dashboard listens on (the one the system chose for `port => 0'), or
%% `undefined' when it is not running.
-spec port() -> inet:port_number() | undefined.
port() ->
    try supervisor:which_children(aion_sup) of
        Children ->
            case [Pid || {?MODULE, Pid, _, _} <- Children, is_pid(Pid)] of
                [Sup] ->
                    case [P || {{httpd_instance_sup, _, P, _}, _, _, _} <- supervisor:which_children(Sup)] of
                        [Port] -> Port;
                        _ -> undefined
                    end;
                [] ->
                    undefined
            end
    catch exit:_ -> undefined
    end.

%% @doc The dashboard's address, e.g. `"http://127.0.0.1:8080/"', or `undefined'.
-spec url() -> string() | undefined.
url() ->
    case {port(), application:get_env(aion, http)} of
        {undefined, _} -> undefined;
        {Port, {ok, Setting}} ->
            Host = case maps:get(ip, Setting, {127, 0, 0, 1}) of
                any -> "127.0.0.1";
                {0, 0, 0, 0} -> "127.0.0.1";
                Ip when tuple_size(Ip) =:= 8 -> "[" ++ inet:ntoa(Ip) ++ "]";
                Ip -> inet:ntoa(Ip)
            end,
            lists:flatten(io_lib:format("http://~s:~b/", [Host, Port]))
    end.

%% @doc The httpd request callback: answers every request (a crash in a handler becomes a
%% 500 answer; nothing a client sends can take the node down).
-spec do(#mod{}) -> {proceed, list()}.
do(#mod{method = Method, request_uri = Uri, parsed_header = Headers, entity_body = Body}) ->
    Response = try
        {Path, Query} = split_uri(Uri),
        case host_allowed(Headers) andalso authorize(Headers, Query) of
            false ->
                aion_http_api:error_response(403, forbidden,
                                             <<"this dashboard answers requests for localhost only">>);
            ok ->
                route(Method, Path, Query, Headers, Body);
            {ok_set_cookie, Token} ->
                set_cookie(Token, token_accepted(Method, Path, Query, Headers, Body));
            denied ->
                unauthorized(Path)
        end
    catch
        Class:Reason:Stack ->
            logger:error("aion_http: ~p ~s failed: ~p:~p~n~p", [Method, Uri, Class, Reason, Stack]),
            aion_http_api:error_response(500, internal, <<"internal error">>)
    end,
    {proceed, [{response, to_response(Response)}]}.

%% A page asked with `?token=' is redirected to itself without it, now carried by the
%% cookie; an API call is answered directly.
token_accepted("GET", Path, Query, Headers, Body) ->
    case Path of
        ["api" | _] -> route("GET", Path, Query, Headers, Body);
        _ ->
            Rest = [{K, V} || {K, V} <- Query, K =/= <<"token">>],
            Location = ["/", lists:join("/", [uri_string:quote(S) || S <- Path]),
                        case Rest of
                            [] -> "";
                            _ -> ["?", uri_string:compose_query(Rest)]
                        end],
            {302, [{"location", binary_to_list(iolist_to_binary(Location))}], "text/plain", <<"token accepted\n">>}
    end;
token_accepted(Method, Path, Query, Headers, Body) ->
    route(Method, Path, Query, Headers, Body).

%% Routing.

route("GET", [], _Query, _Headers, _Body) ->
    asset("index.html");
route("GET", ["index.html"], _Query, _Headers, _Body) ->
    asset("index.html");
route("GET", ["runs" | Id], _Query, _Headers, _Body) when Id =/= [] ->
    asset("run.html");
route("GET", ["schedules"], _Query, _Headers, _Body) ->
    asset("schedules.html");
route("GET", ["static", Name], _Query, _Headers, _Body) ->
    asset(Name);
route("GET", ["metrics"], _Query, _Headers, _Body) ->
    metrics();
route(Method, ["api" | Rest], Query, Headers, Body) ->
    aion_http_api:handle(Method, Rest, Query, Headers, Body);
route(_Method, _Path, _Query, _Headers, _Body) ->
    {404, [], "text/plain; charset=utf-8", <<"not found\n">>}.

metrics() ->
    _ = code:ensure_loaded(aion_metrics),
    case erlang:function_exported(aion_metrics, prometheus, 0) of
        true ->
            {200, [], "text/plain; version=0.0.4; charset=utf-8",
             iolist_to_binary(aion_metrics:prometheus())};
        false ->
            {404, [], "text/plain; charset=utf-8", <<"no metrics in this build\n">>}
    end.

%% The pages and their assets: files of priv/dashboard/ by name (no path separators).
asset(Name) ->
    Safe = lists:all(fun(C) -> (C >= $a andalso C =< $z) orelse (C >= $A andalso C =< $Z)
                                   orelse (C >= $0 andalso C =< $9) orelse C =:= $- orelse C =:= $_
                                   orelse C =:= $. end, Name)
           andalso hd(Name) =/= $.,
    case Safe andalso file:read_file(filename:join(dashboard_dir(), Name)) of
        {ok, Bin} ->
            {200, [{"cache-control", "no-cache"}, {"x-content-type-options", "nosniff"},
                   {"x-frame-options", "DENY"}],
             content_type(filename:extension(Name)), Bin};
        _ ->
            {404, [], "text/plain; charset=utf-8", <<"not found\n">>}
    end.

content_type(".html") -> "text/html; charset=utf-8";
content_type(".js") -> "text/javascript; charset=utf-8";
content_type(".css") -> "text/css; charset=utf-8";
content_type(".svg") -> "image/svg+xml";
content_type(".png") -> "image/png";
content_type(_) -> "application/octet-stream".

%% Authorization.

%% Without a token on a loopback address, only a request naming a loopback host is
%% answered: a page of another site whose name an attacker re-pointed at 127.0.0.1 (DNS
%% rebinding) names its own host.
host_allowed(Headers) ->
    case persistent_term:get(?LOOPBACK_KEY, false) of
        false -> true;
        true ->
            case proplists:get_value("host", Headers) of
                undefined -> true;
                Host -> lists:member(host_name(string:lowercase(Host)),
                                     ["localhost", "127.0.0.1", "[::1]", "::1"])
            end
    end.

%% The host of a `Host:' value, without its port.
host_name("[" ++ _ = Host) ->
    hd(string:split(Host, "]")) ++ "]";
host_name(Host) ->
    hd(string:split(Host, ":")).

authorize(Headers, Query) ->
    case persistent_term:get(?TOKEN_KEY, undefined) of
        undefined ->
            ok;
        Token ->
            Bearer = case proplists:get_value("authorization", Headers) of
                "Bearer " ++ T -> same(list_to_binary(string:trim(T)), Token);
                "bearer " ++ T -> same(list_to_binary(string:trim(T)), Token);
                _ -> false
            end,
            Cookie = lists:any(fun(C) -> same(C, Token) end, cookies(Headers)),
            Param = case proplists:get_value(<<"token">>, Query) of
                undefined -> false;
                Given -> same(Given, Token)
            end,
            if
                Bearer; Cookie -> ok;
                Param -> {ok_set_cookie, Token};
                true -> denied
            end
    end.

cookies(Headers) ->
    lists:append([[list_to_binary(string:trim(V)) || C <- string:split(Line, ";", all),
                                                      [K, V] <- [string:split(C, "=")],
                                                      string:trim(K) =:= ?COOKIE]
                  || {"cookie", Line} <- Headers]).

%% Compares in time independent of where the two differ.
same(A, B) when is_binary(A), is_binary(B), byte_size(A) =:= byte_size(B) ->
    crypto_free_equal(A, B, 0);
same(_, _) ->
    false.

crypto_free_equal(<<X, A/binary>>, <<Y, B/binary>>, Acc) -> crypto_free_equal(A, B, Acc bor (X bxor Y));
crypto_free_equal(<<>>, <<>>, Acc) -> Acc =:= 0.

set_cookie(Token, {Code, Headers, Type, Body}) ->
    Cookie = ?COOKIE "=" ++ binary_to_list(Token) ++ "; Path=/; HttpOnly; SameSite=Strict",
    {Code, [{"set-cookie", Cookie} | Headers], Type, Body}.

unauthorized(["api" | _]) ->
    aion_http_api:error_response(401, unauthorized, <<"a token is required: Authorization: Bearer TOKEN">>);
unauthorized(_) ->
    {401, [{"www-authenticate", "Bearer"}], "text/html; charset=utf-8",
     <<"<!doctype html><title>aion: token required</title><p>This dashboard needs its token: "
       "open it once with <code>?token=TOKEN</code> added to the address.</p>\n">>}.

%% Request and response plumbing.

%% "/api/runs/a%2Fb?x=1" -> {["api", "runs", "a/b"], [{<<"x">>, <<"1">>}]}. Segments are
%% split before they are decoded, so an id may hold a `/' (encoded as %2F).
split_uri(Uri) ->
    {RawPath, RawQuery} = case string:split(Uri, "?") of
        [P, Q] -> {P, Q};
        [P] -> {P, ""}
    end,
    Segments = [decode(S) || S <- string:lexemes(RawPath, "/")],
    Query = case uri_string:dissect_query(RawQuery) of
        Pairs when is_list(Pairs) ->
            [{to_bin(K), to_bin(V)} || {K, V} <- Pairs];
        _ ->
            []
    end,
    {Segments, Query}.

decode(Segment) ->
    case uri_string:percent_decode(Segment) of
        Decoded when is_list(Decoded) -> unicode_list(Decoded);
        _ -> Segment
    end.

%% Percent-decoded bytes as a list of code points when they are UTF-8, else as they are.
unicode_list(Bytes) ->
    case unicode:characters_to_list(list_to_binary(Bytes)) of
        L when is_list(L) -> L;
        _ -> Bytes
    end.

to_bin(true) -> <<>>;
to_bin(V) when is_binary(V) -> V;
to_bin(V) when is_list(V) ->
    case unicode:characters_to_binary(V) of
        B when is_binary(B) -> B;
        _ -> list_to_binary(V)
    end.

to_response({Code, Headers, Type, Body}) ->
    Bin = iolist_to_binary(Body),
    {response, [{code, Code}, {content_type, Type},
                {content_length, integer_to_list(byte_size(Bin))} | Headers], Bin}.
