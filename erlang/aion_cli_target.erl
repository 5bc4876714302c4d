%% @doc Where the `aion' command's calls go: a running node (the escript starts
%% distribution itself and calls `aion:*' there with `erpc'), or this VM, with the aion
%% application loaded from disk (a data directory opened read-only, or the replayer).
%%
%% The escript carries aion's modules in its archive, but the NIF cannot be loaded from
%% there (`code:priv_dir(aion)' does not name a real directory inside an archive), so the
%% local modes put the `ebin' of an aion lib directory on disk first in the code path:
%% `$AION_LIB', else `../lib/aion' next to the escript (`_build/default/bin/aion'), else
%% `../lib/aion-*' (the escript copied into a release's `bin/').
-module(aion_cli_target).

-export([connect/2]).
-export([open_data_dir/1]).
-export([load_local/1]).
-export([quiet_logger/0]).
-export([call/4]).
-export([call/5]).
-export([name/1]).

-type target() :: {node, node()} | local.
-export_type([target/0]).

%% How long a call to the node may take unless the command says (a start waits up to
%% the node's `start_timeout_ms', 30 s by default).
-define(CALL_MS, 60000).

%% @doc Makes this VM a hidden node that does not listen (named `aion_cli_<pid>_<n>',
%% short or long names as `NodeName' has) and connects it to `NodeName' with `Cookie'
%% (`undefined': `$AION_COOKIE', else what `~/.erlang.cookie' holds).
%% `{error, Message}' when the name is not `NAME@HOST' or the node cannot be reached.
-spec connect(string(), string() | undefined) -> {ok, target()} | {error, {usage | fail, unicode:chardata()}}.
connect(NodeName, Cookie) ->
    case string:split(NodeName, "@") of
        [Name, Host] when Name =/= "", Host =/= "" ->
            Domain = case lists:member($., Host) of
                true -> longnames;
                false -> shortnames
            end,
            case start_distribution(Domain) of
                ok ->
                    Node = list_to_atom(NodeName),
                    set_cookie(Node, Cookie),
                    case net_kernel:connect_node(Node) of
                        true ->
                            {ok, {node, Node}};
                        _ ->
                            {error, {fail, io_lib:format("cannot connect to node ~ts: is it running, and is the "
                                                         "cookie right (--cookie, AION_COOKIE, ~~/.erlang.cookie)?",
                                                         [NodeName])}}
                    end;
                {error, Why} ->
                    {error, {fail, io_lib:format("cannot start distribution (~ts names): ~0tp",
                                                 [Domain, Why])}}
            end;
        _ ->
            {error, {usage, io_lib:format("--node must be NAME@HOST, got ~ts", [NodeName])}}
    end.

start_distribution(Domain) ->
    Name = "aion_cli_" ++ os:getpid() ++ "_" ++ integer_to_list(rand:uniform(1 bsl 30)),
    Full = case Domain of
        shortnames ->
            Name;
        longnames ->
            %% Long names need a host with a dot; the name is only ours (we neither listen
            %% nor register with epmd), so without a fully qualified name 127.0.0.1 does.
            case net_adm:localhost() of
                Host = [_ | _] -> case lists:member($., Host) of
                                      true -> Name ++ "@" ++ Host;
                                      false -> Name ++ "@127.0.0.1"
                                  end;
                _ -> Name ++ "@127.0.0.1"
            end
    end,
    case net_kernel:start(list_to_atom(Full), #{name_domain => Domain, dist_listen => false, hidden => true}) of
        {ok, _} -> ok;
        {error, Why} -> {error, Why}
    end.

set_cookie(Node, undefined) ->
    case os:getenv("AION_COOKIE") of
        false -> ok;
        "" -> ok;
        Cookie -> erlang:set_cookie(Node, list_to_atom(Cookie))
    end;
set_cookie(Node, Cookie) ->
    erlang:set_cookie(Node, list_to_atom(Cookie)).

%% @doc Starts aion in this VM on data directory `Dir', read-only (store
%% `sqlite_readonly': no lock taken, nothing written, no run resumed).
-spec open_data_dir(string()) -> {ok, target()} | {error, {fail, unicode:chardata()}}.
open_data_dir(Dir) ->
    case filelib:is_dir(Dir) of
        false ->
            {error, {fail, io_lib:format("no such data directory: ~ts", [Dir])}};
        true ->
            case load_local([]) of
                ok ->
                    ok = application:set_env(aion, store, sqlite_readonly),
                    ok = application:set_env(aion, data_dir, Dir),
                    case application:ensure_all_started(aion) of
                        {ok, _} ->
                            {ok, local};
                        {error, Why} ->
                            {error, {fail, io_lib:format("cannot open ~ts read-only: ~ts",
                                                         [Dir, start_error(Why)])}}
                    end;
                {error, _} = Error ->
                    Error
            end
    end.

start_error({aion, {{shutdown, {failed_to_start_child, aion_engine, {store_open_failed, Msg}}}, _}}) ->
    aion_cli_out:text(Msg);
start_error(Why) ->
    io_lib:format("~0tp", [Why]).

%% @doc Loads aion from its lib directory on disk (with the NIF) and puts `Paths' (the
%% workflow code's directories) before it in the code path.
-spec load_local([string()]) -> ok | {error, {fail, unicode:chardata()}}.
load_local(Paths) ->
    case lib_dir() of
        {ok, Dir} ->
            true = code:add_patha(filename:join(Dir, "ebin")),
            [code:add_patha(P) || P <- lists:reverse(Paths)],
            case application:load(aion) of
                ok -> ok;
                {error, {already_loaded, aion}} -> ok
            end,
            case code:ensure_loaded(aion_flow_ffi) of
                {module, _} -> ok;
                {error, Why} ->
                    {error, {fail, io_lib:format("cannot load the aion NIF from ~ts/priv: ~0tp", [Dir, Why])}}
            end;
        {error, _} = Error ->
            Error
    end.

%% @doc Sends log events (the engine's own, a crashing workflow's during a replay, the
%% distribution's) to stderr, never into the output a script reads.
-spec quiet_logger() -> ok.
quiet_logger() ->
    _ = logger:remove_handler(default),
    _ = logger:add_handler(aion_cli, logger_std_h,
                           #{config => #{type => standard_error}, level => warning}),
    ok.

lib_dir() ->
    Candidates = case os:getenv("AION_LIB") of
        false -> next_to_script();
        "" -> next_to_script();
        Dir -> [Dir]
    end,
    %% The code server finds an application's priv directory from a lib directory named
    %% after it (`aion' or `aion-VSN') only.
    case [D || D <- Candidates, named_aion(D), filelib:is_regular(filename:join([D, "ebin", "aion.app"])),
               filelib:is_regular(filename:join([D, "priv", "aion_nif.so"]))] of
        [D | _] ->
            {ok, D};
        [] ->
            {error, {fail, io_lib:format("cannot find aion's lib directory (named aion or aion-VSN, with "
                                         "ebin/aion.app and priv/aion_nif.so); looked in: ~ts. Set AION_LIB "
                                         "to it.", [lists:join(", ", Candidates)])}}
    end.

named_aion(Dir) ->
    case filename:basename(Dir) of
        "aion" -> true;
        "aion-" ++ _ -> true;
        _ -> false
    end.

next_to_script() ->
    Script = try escript:script_name() catch _:_ -> "" end,
    case Script of
        "" ->
            [];
        _ ->
            Root = filename:dirname(filename:dirname(resolve(filename:absname(Script), 10))),
            Lib = filename:join(Root, "lib"),
            [filename:join(Lib, "aion") | lists:reverse(lists:sort(filelib:wildcard(filename:join(Lib, "aion-*"))))]
    end.

%% The file a symlink (to a symlink ...) points to.
resolve(Path, 0) ->
    Path;
resolve(Path, Hops) ->
    case file:read_link(Path) of
        {ok, Target} -> resolve(filename:absname(Target, filename:dirname(Path)), Hops - 1);
        {error, _} -> Path
    end.

%% @doc `M:F(A...)' on the target; see `call/5'.
-spec call(target(), module(), atom(), [term()]) -> term().
call(Target, M, F, A) ->
    call(Target, M, F, A, ?CALL_MS).

%% @doc `M:F(A...)' on the target, waiting at most `TimeoutMs' for a node. A failed call
%% throws `{fail, Message}'.
-spec call(target(), module(), atom(), [term()], timeout()) -> term().
call(local, M, F, A, _TimeoutMs) ->
    apply(M, F, A);
call({node, Node}, M, F, A, TimeoutMs) ->
    try
        erpc:call(Node, M, F, A, TimeoutMs)
    catch
        error:{erpc, timeout} ->
            throw({fail, io_lib:format("node ~ts did not answer within ~b ms", [Node, TimeoutMs])});
        error:{erpc, noconnection} ->
            throw({fail, io_lib:format("lost the connection to node ~ts", [Node])});
        error:{exception, undef, [{M, F, _, _} | _]} ->
            throw({fail, io_lib:format("node ~ts has no ~ts:~ts/~b (is aion loaded there?)",
                                       [Node, M, F, length(A)])});
        Class:Reason ->
            throw({fail, io_lib:format("~ts:~ts failed on node ~ts: ~0tp", [M, F, Node, {Class, Reason}])})
    end.

%% @doc The target's name for messages: the node, or `this VM'.
-spec name(target()) -> unicode:chardata().
name({node, Node}) -> atom_to_binary(Node);
name(local) -> <<"the data directory">>.
