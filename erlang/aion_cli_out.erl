%% @doc What the `aion' command prints: values as text or JSON, tables, times. Pure Erlang
%% (no NIF), so the command can print without loading the engine when it talks to a node.
%%
%% Values are those the client API returns: JSON-decoded terms (binaries, numbers, lists,
%% maps with binary keys, `true', `false', `null') inside maps with atom keys and atom
%% statuses. What is not JSON-compatible (a `{Tag, Detail}' reason, a pid) is shown through
%% `jsonable/1': a tagged pair becomes a one-key object, anything else its printed text.
-module(aion_cli_out).

-export([json/1]).
-export([text/1]).
-export([time/1]).
-export([table/2]).
-export([columns/1]).
-export([fields/1]).

%% @doc The compact JSON text of `Term' (after `jsonable/1'); object keys in sorted order.
-spec json(term()) -> iodata().
json(Term) ->
    encode(aion_term:jsonable(Term)).



encode(null) -> <<"null">>;
encode(true) -> <<"true">>;
encode(false) -> <<"false">>;
encode(B) when is_binary(B) -> string(B);
encode(I) when is_integer(I) -> integer_to_binary(I);
encode(F) when is_float(F) -> float_to_binary(F, [short]);
encode(L) when is_list(L) -> [$[, join([encode(X) || X <- L]), $]];
encode(M) when is_map(M) ->
    [${, join([[string(K), $:, encode(V)] || {K, V} <- lists:sort(maps:to_list(M))]), $}].

join([]) -> [];
join([H | T]) -> [H | [[$,, X] || X <- T]].

string(B) ->
    [$", [escape(C) || C <- unicode:characters_to_list(B)], $"].

escape($") -> <<"\\\"">>;
escape($\\) -> <<"\\\\">>;
escape($\n) -> <<"\\n">>;
escape($\r) -> <<"\\r">>;
escape($\t) -> <<"\\t">>;
escape(C) when C < 16#20 -> io_lib:format("\\u~4.16.0b", [C]);
escape(C) -> <<C/utf8>>.

%% @doc `Value' as one line of text for a person: a binary as its text, an atom as its
%% name, a number as itself, anything else (objects, lists) as compact JSON.
-spec text(term()) -> unicode:chardata().
text(B) when is_binary(B) ->
    case aion_term:jsonable(B) of
        B -> escape_lines(B);
        Printed -> Printed
    end;
text(A) when is_atom(A) -> atom_to_binary(A);
text(I) when is_integer(I) -> integer_to_binary(I);
text(F) when is_float(F) -> float_to_binary(F, [short]);
text(Other) -> json(Other).

%% A cell stays on one line and sends the terminal no control sequence: every control
%% character (C0, DEL, C1) is written as an escape (`\n', `\r', `\t', `\uXXXX').
escape_lines(B) ->
    << <<(escape_char(C))/binary>> || <<C/utf8>> <= B >>.

escape_char($\n) -> <<"\\n">>;
escape_char($\r) -> <<"\\r">>;
escape_char($\t) -> <<"\\t">>;
escape_char(C) when C < 16#20; C =:= 16#7F; C >= 16#80, C =< 16#9F ->
    iolist_to_binary(io_lib:format("\\u~4.16.0B", [C]));
escape_char(C) -> <<C/utf8>>.

%% @doc Unix milliseconds as an ISO 8601 UTC time (`2026-01-31T09:15:02.123Z').
-spec time(integer()) -> binary().
time(Ms) when is_integer(Ms) ->
    list_to_binary(calendar:system_time_to_rfc3339(Ms, [{unit, millisecond}, {offset, "Z"}])).

%% @doc A table: the header, then one line per row, columns padded to their widest cell
%% (the last column is not padded). Cells are chardata.
-spec table([unicode:chardata()], [[unicode:chardata()]]) -> unicode:chardata().
table(Header, Rows) ->
    All = [[unicode:characters_to_binary(C) || C <- Row] || Row <- [Header | Rows]],
    Widths = widths(All),
    [[line(Row, Widths), $\n] || Row <- All].

widths([First | _] = Rows) ->
    [lists:max([string:length(lists:nth(I, R)) || R <- Rows]) || I <- lists:seq(1, length(First))].

%% @doc Rows of cells in aligned columns, without a header.
-spec columns([[unicode:chardata()]]) -> unicode:chardata().
columns(Rows) ->
    All = [[unicode:characters_to_binary(C) || C <- Row] || Row <- Rows],
    Widths = widths(All),
    [[line(Row, Widths), $\n] || Row <- All].

line([Last], [_]) -> Last;
line([Cell | Cells], [W | Ws]) ->
    [string:pad(Cell, W), "  " | line(Cells, Ws)].

%% @doc `Key  value' lines, keys padded to the widest.
-spec fields([{unicode:chardata(), unicode:chardata()}]) -> unicode:chardata().
fields([]) ->
    [];
fields(Pairs) ->
    W = lists:max([string:length(K) || {K, _} <- Pairs]),
    [[string:pad(K, W), "  ", V, $\n] || {K, V} <- Pairs].
